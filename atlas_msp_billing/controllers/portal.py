from werkzeug.exceptions import Forbidden, NotFound

from odoo import http
from odoo.exceptions import AccessError, MissingError
from odoo.http import request

from odoo.addons.portal.controllers.portal import CustomerPortal
from odoo.addons.portal.controllers.portal import pager as portal_pager

# Drafts are the MSP's work in progress: customers see their retainers once started.
PORTAL_STATES = ("active", "closed")


class MspRetainerPortal(CustomerPortal):
    """/my/retainers: a customer's contacts follow the usage of their
    company's retainers. Which retainers and periods they read is decided by
    the portal record rules (their commercial partner's); only records that
    passed them are read with sudo (the MSP company's time zone, which
    portal users may not read, decides the current period)."""

    def _msp_retainer_domain(self):
        return [("state", "in", PORTAL_STATES)]

    def _msp_retainer_count(self):
        Retainer = request.env["msp.retainer"]
        if not Retainer.has_access("read"):
            return 0
        return Retainer.search_count(self._msp_retainer_domain())

    def _prepare_home_portal_values(self, counters):
        values = super()._prepare_home_portal_values(counters)
        if "msp_retainer_count" in counters:
            values["msp_retainer_count"] = self._msp_retainer_count()
        return values

    @http.route(
        ["/my/retainers", "/my/retainers/page/<int:page>"],
        type="http",
        auth="user",
        website=True,
    )
    def portal_my_retainers(self, page=1, **kw):
        Retainer = request.env["msp.retainer"]
        values = self._prepare_portal_layout_values()
        allowed = Retainer.has_access("read")
        domain = self._msp_retainer_domain()
        pager = portal_pager(
            url="/my/retainers",
            total=self._msp_retainer_count(),
            page=page,
            step=self._items_per_page,
        )
        retainers = Retainer.browse()
        if allowed:
            retainers = Retainer.search(
                domain,
                order="state, date_start desc, id desc",
                limit=self._items_per_page,
                offset=pager["offset"],
            )
        request.session["my_retainers_history"] = retainers.ids[:100]
        values.update(
            {
                "retainers": retainers.sudo(),
                "page_name": "msp_retainer",
                "pager": pager,
                "default_url": "/my/retainers",
            }
        )
        return request.render("atlas_msp_billing.portal_my_retainers", values)

    @http.route(["/my/retainers/<int:retainer_id>"], type="http", auth="user", website=True)
    def portal_my_retainer(self, retainer_id, **kw):
        try:
            retainer_sudo = self._document_check_access("msp.retainer", retainer_id)
        except MissingError as error:
            raise NotFound() from error
        except AccessError as error:
            raise Forbidden() from error
        if retainer_sudo.state not in PORTAL_STATES:
            raise NotFound()
        values = self._prepare_portal_layout_values()
        values.update(self._msp_retainer_page_values(retainer_sudo))
        return request.render("atlas_msp_billing.portal_my_retainer", values)

    def _msp_retainer_page_values(self, retainer_sudo):
        today = retainer_sudo.company_id._msp_today()
        periods = retainer_sudo.period_ids.filtered(lambda p: p.date_start <= today).sorted(
            "date_start", reverse=True
        )
        invoices = periods.invoice_id | periods.overage_invoice_id
        # Links only to the invoices the customer may open: Odoo's own portal
        # rules (posted, theirs) decide, not this page.
        visible = request.env["account.move"].search([("id", "in", invoices.ids)])
        history = request.session.get("my_retainers_history", [])
        values = {
            "page_name": "msp_retainer",
            "retainer": retainer_sudo,
            "current": retainer_sudo.current_period_id,
            "periods": periods,
            "visible_invoice_ids": set(visible.ids),
            "today": today,
        }
        if retainer_sudo.id in history:
            index = history.index(retainer_sudo.id)
            values["prev_record"] = index and f"/my/retainers/{history[index - 1]}"
            values["next_record"] = (
                index < len(history) - 1 and f"/my/retainers/{history[index + 1]}"
            )
        return values
