from odoo import http
from odoo.exceptions import AccessError, MissingError, UserError
from odoo.http import request
from odoo.osv.expression import AND
from odoo.tools import plaintext2html

from odoo.addons.portal.controllers.portal import pager as portal_pager
from odoo.addons.project.controllers.portal import ProjectCustomerPortal

from ..models.msp_sla_policy_line import TICKET_PRIORITIES

TICKET_DOMAIN = [("msp_is_ticket", "=", True)]
# Open tickets first (open states sort before the closed "1_…" ones), newest first.
TICKET_ORDER = "state, create_date desc, id desc"
TITLE_MAX_LENGTH = 200


class MspTicketPortal(ProjectCustomerPortal):
    """/my/tickets: a customer's contacts follow their company's service tickets
    with their service level, and open new ones. Which tickets they see is
    decided by Odoo's portal rule on tasks (tickets their company follows);
    only tickets that passed it are read with sudo (portal users may not read
    the SLA fields of tasks)."""

    def _msp_ticket_count(self):
        Task = request.env["project.task"]
        return Task.search_count(TICKET_DOMAIN) if Task.has_access("read") else 0

    def _prepare_home_portal_values(self, counters):
        values = super()._prepare_home_portal_values(counters)
        if "msp_ticket_count" in counters:
            values["msp_ticket_count"] = self._msp_ticket_count()
        if values.get("task_count"):
            # Tickets are listed under Tickets, not among the tasks: Odoo's count
            # (the tasks the user follows in shared projects) without them.
            values["task_count"] = (
                request.env["project.task"]
                .sudo()
                .search_count(
                    [
                        ("project_id", "!=", False),
                        ("message_partner_ids", "in", request.env.user.partner_id.ids),
                        ("project_privacy_visibility", "=", "portal"),
                        ("msp_is_ticket", "=", False),
                    ]
                )
            )
        return values

    def _get_my_tasks_searchbar_filters(self, project_domain=None, task_domain=None):
        filters = super()._get_my_tasks_searchbar_filters(project_domain, task_domain)
        if project_domain is None and task_domain is None:
            # /my/tasks: tickets are listed under Tickets, not among the tasks.
            not_ticket = [("msp_is_ticket", "=", False)]
            Project = request.env["project.project"].sudo()
            desk_keys = {
                str(desk.id) for desk in Project.search([("msp_is_service_desk", "=", True)])
            }
            filters = {
                key: {**entry, "domain": AND([entry["domain"], not_ticket])}
                for key, entry in filters.items()
                if key not in desk_keys
            }
        return filters

    @http.route(
        ["/my/tickets", "/my/tickets/page/<int:page>"], type="http", auth="user", website=True
    )
    def portal_my_tickets(self, page=1, **kw):
        Task = request.env["project.task"]
        values = self._prepare_portal_layout_values()
        pager = portal_pager(
            url="/my/tickets", total=self._msp_ticket_count(), page=page, step=self._items_per_page
        )
        tickets = Task.browse()
        if Task.has_access("read"):
            tickets = Task.search(
                TICKET_DOMAIN,
                order=TICKET_ORDER,
                limit=self._items_per_page,
                offset=pager["offset"],
            )
        request.session["my_tickets_history"] = tickets.ids[:100]
        values.update(
            {
                "tickets": tickets.sudo(),
                "page_name": "msp_ticket",
                "pager": pager,
                "default_url": "/my/tickets",
                "may_open_ticket": self._msp_may_open_ticket(),
            }
        )
        return request.render("atlas_msp_billing.portal_my_tickets", values)

    @http.route(["/my/tickets/<int:ticket_id>"], type="http", auth="user", website=True)
    def portal_my_ticket(self, ticket_id, **kw):
        """Odoo's task page, under the Tickets breadcrumb."""
        try:
            ticket_sudo = self._document_check_access("project.task", ticket_id)
        except (AccessError, MissingError):
            return request.redirect("/my/tickets")
        if not ticket_sudo.msp_is_ticket:
            return request.redirect(f"/my/tasks/{ticket_id}")
        for attachment in ticket_sudo.attachment_ids:
            attachment.generate_access_token()
        values = self._task_get_page_view_values(ticket_sudo, None)
        values["page_name"] = "msp_ticket"
        history = request.session.get("my_tickets_history", [])
        if ticket_id in history:
            index = history.index(ticket_id)
            values["prev_record"] = index and f"/my/tickets/{history[index - 1]}"
            values["next_record"] = index < len(history) - 1 and f"/my/tickets/{history[index + 1]}"
        return request.render("project.portal_my_task", values)

    # ------------------------------------------------------------------
    # Opening a ticket
    # ------------------------------------------------------------------
    def _msp_may_open_ticket(self):
        """Portal users open tickets for their company; the MSP's own users open
        them in the service desk."""
        user = request.env.user
        return user._is_portal() and bool(
            request.env["project.project"]._msp_service_desk_for(user.partner_id)
        )

    def _msp_ticket_errors(self, post):
        errors = {}
        if not (post.get("name") or "").strip():
            errors["name"] = request.env._("Give your ticket a title.")
        elif len(post["name"].strip()) > TITLE_MAX_LENGTH:
            errors["name"] = request.env._(
                "Keep the title under %(count)s characters; put the details in the description.",
                count=TITLE_MAX_LENGTH,
            )
        if post.get("priority") not in dict(TICKET_PRIORITIES):
            errors["priority"] = request.env._("Choose one of the priorities offered.")
        return errors

    @http.route("/my/tickets/new", type="http", auth="user", methods=["GET", "POST"], website=True)
    def portal_my_ticket_new(self, **post):
        if not self._msp_may_open_ticket():
            return request.redirect("/my/tickets")
        errors = {}
        if request.httprequest.method == "POST":
            errors = self._msp_ticket_errors(post)
            if not errors:
                try:
                    ticket = request.env["project.task"]._msp_open_portal_ticket(
                        request.env.user.partner_id,
                        post["name"].strip(),
                        post["priority"],
                        plaintext2html(post.get("description") or ""),
                    )
                except UserError as error:
                    errors["form"] = error.args[0]
                else:
                    return request.redirect(f"/my/tickets/{ticket.id}")
        values = self._prepare_portal_layout_values()
        values.update(
            {
                "page_name": "msp_ticket_new",
                "priorities": TICKET_PRIORITIES,
                "errors": errors,
                "post": {"priority": "normal", **post},
            }
        )
        return request.render(
            "atlas_msp_billing.portal_my_ticket_new", values, status=400 if errors else 200
        )
