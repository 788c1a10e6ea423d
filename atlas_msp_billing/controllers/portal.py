from urllib.parse import urlencode

from werkzeug.exceptions import Forbidden, NotFound

from odoo import http
from odoo.exceptions import AccessError, MissingError
from odoo.http import request

from odoo.addons.portal.controllers.portal import CustomerPortal
from odoo.addons.portal.controllers.portal import pager as portal_pager

from ..utils.constants import USAGE_WARNING_PERCENT

# Drafts are the MSP's work in progress: customers see their retainers once started.
PORTAL_STATES = ("active", "closed")
RETAINERS_HISTORY = "my_retainers_history"


class MspRetainerPortal(CustomerPortal):
    """/my/retainers: a customer's contacts follow the usage of their
    company's retainers, and what the hours of each period were spent on.

    Which retainers they see is decided by the portal record rules (their
    commercial partner's) or by a retainer's access token, through
    ``_document_check_access``; only what passed that check is read as
    superuser (the time entries of a period, and the MSP company's time
    zone, which decides the current period)."""

    def _prepare_portal_layout_values(self):
        # The usage bars turn amber where the usage alert does (rule 8).
        values = super()._prepare_portal_layout_values()
        values["msp_usage_warning_percent"] = USAGE_WARNING_PERCENT
        return values

    # ------------------------------------------------------------------
    # List
    # ------------------------------------------------------------------
    def _prepare_home_portal_values(self, counters):
        values = super()._prepare_home_portal_values(counters)
        if "msp_retainer_count" in counters:
            values["msp_retainer_count"] = self._msp_retainer_count()
        return values

    def _prepare_msp_retainers_domain(self):
        return [("state", "in", PORTAL_STATES)]

    def _msp_retainer_count(self):
        Retainer = request.env["msp.retainer"]
        if not Retainer.has_access("read"):
            return 0
        return Retainer.search_count(self._prepare_msp_retainers_domain())

    def _prepare_msp_retainers_portal_rendering_values(self, page=1):
        Retainer = request.env["msp.retainer"]
        pager = portal_pager(
            url="/my/retainers",
            total=self._msp_retainer_count(),
            page=page,
            step=self._items_per_page,
        )
        retainers = Retainer.browse()
        if Retainer.has_access("read"):
            retainers = Retainer.search(
                self._prepare_msp_retainers_domain(),
                order="state, date_start desc, id desc",
                limit=self._items_per_page,
                offset=pager["offset"],
            )
        values = self._prepare_portal_layout_values()
        values.update(
            {
                "retainers": retainers.sudo(),
                "page_name": "msp_retainer",
                "pager": pager,
                "default_url": "/my/retainers",
            }
        )
        return values

    @http.route(
        ["/my/retainers", "/my/retainers/page/<int:page>"],
        type="http",
        auth="user",
        website=True,
    )
    def portal_my_retainers(self, page=1, **kw):
        values = self._prepare_msp_retainers_portal_rendering_values(page=page)
        request.session[RETAINERS_HISTORY] = values["retainers"].ids[:100]
        return request.render("atlas_msp_billing.portal_my_retainers", values)

    # ------------------------------------------------------------------
    # One retainer and its ledger
    # ------------------------------------------------------------------
    def _msp_retainer_check_access(self, retainer_id, access_token=None):
        """The retainer, as superuser, if the visitor may see it; NotFound for
        a missing or draft one, AccessError for one that is not theirs."""
        try:
            retainer_sudo = self._document_check_access("msp.retainer", retainer_id, access_token)
        except MissingError as error:
            raise NotFound() from error
        if retainer_sudo.state not in PORTAL_STATES:
            raise NotFound()
        return retainer_sudo

    def _msp_refuse_access(self):
        """Someone else's retainer: a visitor who is not logged in is asked to
        log in (as ``auth="user"`` routes do), a logged-in one is refused."""
        if request.env.user._is_public():
            query = urlencode({"redirect": request.httprequest.full_path})
            return request.redirect(f"/web/login?{query}")
        raise Forbidden()

    def _msp_ledger_periods(self, retainer_sudo):
        """The periods a customer sees: those started by today, newest first."""
        today = retainer_sudo.company_id._msp_today()
        return retainer_sudo.period_ids.filtered(lambda p: p.date_start <= today).sorted(
            "date_start", reverse=True
        )

    @staticmethod
    def _msp_with_token(url, access_token=None):
        """A link that keeps the visitor's access token, for those who came with one."""
        return f"{url}?{urlencode({'access_token': access_token})}" if access_token else url

    def _msp_period_url(self, retainer_sudo, period, access_token=None):
        return self._msp_with_token(f"{retainer_sudo.access_url}/periods/{period.id}", access_token)

    def _msp_retainer_get_page_view_values(self, retainer_sudo, access_token, **kwargs):
        periods = self._msp_ledger_periods(retainer_sudo)
        invoices = periods.invoice_id | periods.overage_invoice_id
        # Links only to the invoices the customer may open: Odoo's own portal
        # rules (posted, theirs) decide, not this page. A visitor with the
        # retainer's token alone opens none.
        Move = request.env["account.move"]
        visible = Move.search([("id", "in", invoices.ids)]) if Move.has_access("read") else Move
        values = {
            "page_name": "msp_retainer",
            "retainer": retainer_sudo,
            "current": retainer_sudo.current_period_id,
            "periods": periods,
            "visible_invoice_ids": set(visible.ids),
            "period_url": lambda period: self._msp_period_url(retainer_sudo, period, access_token),
        }
        return self._get_page_view_values(
            retainer_sudo, access_token, values, RETAINERS_HISTORY, False, **kwargs
        )

    @http.route(["/my/retainers/<int:retainer_id>"], type="http", auth="public", website=True)
    def portal_my_retainer(self, retainer_id, access_token=None, **kw):
        try:
            retainer_sudo = self._msp_retainer_check_access(retainer_id, access_token)
        except AccessError:
            return self._msp_refuse_access()
        values = self._prepare_portal_layout_values()
        values.update(self._msp_retainer_get_page_view_values(retainer_sudo, access_token, **kw))
        return request.render("atlas_msp_billing.portal_my_retainer", values)

    # ------------------------------------------------------------------
    # One period: what its hours were spent on
    # ------------------------------------------------------------------
    def _prepare_msp_period_entries_domain(self, period):
        # The entries the period counts against its included hours (its
        # hours_used), as the time schedule PDF lists them.
        return [("msp_period_id", "=", period.id), ("msp_billing_category", "=", "retainer")]

    def _msp_period_page_values(self, retainer_sudo, period, access_token, page=1):
        # Technicians' timesheets are not readable by portal users: read as
        # superuser, limited to the period the visitor was allowed to open.
        Entry = request.env["account.analytic.line"].sudo()
        domain = self._prepare_msp_period_entries_domain(period)
        pager = portal_pager(
            url=self._msp_period_url(retainer_sudo, period),
            total=Entry.search_count(domain),
            page=page,
            step=self._items_per_page,
            url_args={"access_token": access_token} if access_token else None,
        )
        entries = Entry.search(
            domain, order="date, id", limit=self._items_per_page, offset=pager["offset"]
        )
        return {
            "page_name": "msp_retainer",
            "retainer": retainer_sudo,
            "retainer_period": period,
            "entries": entries,
            "pager": pager,
            "retainer_url": self._msp_with_token(retainer_sudo.access_url, access_token),
            "access_token": access_token,
        }

    @http.route(
        [
            "/my/retainers/<int:retainer_id>/periods/<int:period_id>",
            "/my/retainers/<int:retainer_id>/periods/<int:period_id>/page/<int:page>",
        ],
        type="http",
        auth="public",
        website=True,
    )
    def portal_my_retainer_period(self, retainer_id, period_id, page=1, access_token=None, **kw):
        try:
            retainer_sudo = self._msp_retainer_check_access(retainer_id, access_token)
        except AccessError:
            return self._msp_refuse_access()
        period = self._msp_ledger_periods(retainer_sudo).filtered(lambda p: p.id == period_id)
        if not period:
            raise NotFound()
        values = self._prepare_portal_layout_values()
        values.update(self._msp_period_page_values(retainer_sudo, period, access_token, page))
        return request.render("atlas_msp_billing.portal_my_retainer_period", values)
