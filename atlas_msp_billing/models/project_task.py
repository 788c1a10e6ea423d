from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.osv import expression

from odoo.addons.project.models.project_task import CLOSED_STATES

from .msp_sla_policy_line import check_priority
from .project_project import MSP_BILLED_TIME

PORTAL_READABLE_SLA_FIELDS = {
    "msp_is_ticket",
    "msp_priority",
    "msp_sla_status",
    "msp_response_deadline",
    "msp_resolution_deadline",
    "msp_first_response_date",
    "msp_resolved_date",
}


class ProjectTask(models.Model):
    _name = "project.task"
    _inherit = ["project.task", "msp.timer.mixin", "msp.sla.mixin"]

    msp_is_ticket = fields.Boolean(
        string="Is a Ticket", related="project_id.msp_is_service_desk", store=True
    )

    # ------------------------------------------------------------------
    # Chatter
    # ------------------------------------------------------------------
    def _creation_subtype(self):
        if self.msp_is_ticket:
            return self.env.ref("atlas_msp_billing.mt_ticket_new")
        return super()._creation_subtype()

    def _creation_message(self):
        self.ensure_one()
        if self.msp_is_ticket:
            return self.env._(
                'A new ticket has been opened in the "%(desk)s" service desk.',
                desk=self.project_id.display_name,
            )
        return super()._creation_message()

    def _message_post_after_hook(self, message, msg_vals):
        if self.msp_is_ticket and self._msp_is_reply_to_customer(message):
            self._msp_register_first_response(message.date)
        return super()._message_post_after_hook(message, msg_vals)

    # ------------------------------------------------------------------
    # Customers and the portal
    # ------------------------------------------------------------------
    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            check_priority(self.env, vals.get("msp_priority"))
        tasks = super().create(vals_list)
        tasks._msp_sync_customer_followers()
        return tasks

    def write(self, vals):
        check_priority(self.env, vals.get("msp_priority"))
        state_changes = self._msp_tickets_to_toggle(vals)
        previous = {}
        if {"partner_id", "project_id"} & set(vals):
            previous = {task: task.partner_id.commercial_partner_id for task in self}
        result = super().write(vals)
        for state, tickets in state_changes.items():
            tickets.write({"state": state})
        if previous:
            self._msp_sync_customer_followers(previous)
        return result

    def _msp_tickets_to_toggle(self, vals):
        """{state: tickets} the stage change in ``vals`` closes or reopens.

        On the service desk a ticket's column tells whether it is solved:
        dropping it in a folded column (Done) resolves it, taking it out of
        there reopens it, so the SLA clock follows the board."""
        if not vals.get("stage_id") or "state" in vals:
            return {}
        folded = self.env["project.task.type"].browse(vals["stage_id"]).fold
        tickets = self.filtered(
            lambda task: task.msp_is_ticket and (task.state in CLOSED_STATES) != folded
        )
        if not tickets:
            return {}
        return {"1_done" if folded else "01_in_progress": tickets}

    def _msp_sync_customer_followers(self, previous=None):
        """Odoo's portal rule shows a task to the contacts of the companies that follow
        it: a ticket's customer follows it, and a former customer no longer does."""
        previous = previous or {}
        for task in self.filtered("msp_is_ticket"):
            customer = task.partner_id.commercial_partner_id
            former = previous.get(task)
            if former and former != customer:
                task.message_unsubscribe(
                    task.message_partner_ids.filtered(
                        lambda partner, former=former: partner.commercial_partner_id == former
                    ).ids
                )
            if task.partner_id and task.partner_id not in task.message_partner_ids:
                task.message_subscribe(task.partner_id.ids)

    @property
    def SELF_READABLE_FIELDS(self):
        # Customers read the service level of the tickets they see on the portal.
        return super().SELF_READABLE_FIELDS | PORTAL_READABLE_SLA_FIELDS

    @api.model
    def _msp_open_portal_ticket(self, partner, name, priority, description):
        """Open a ticket for the portal contact ``partner`` in its company's service
        desk (see ``project.project._msp_service_desk_for``), where the customer's
        SLA policy applies. Created as superuser: portal users create no tasks. The
        contact follows the ticket (``_msp_sync_customer_followers``), so sees it."""
        desk = self.env["project.project"]._msp_service_desk_for(partner)
        if not desk:
            raise UserError(
                self.env._("No service desk takes tickets from the portal yet: call or email us.")
            )
        # Like Odoo's mail gateway: the customer who opens a ticket is not its assignee.
        return (
            self.sudo()
            .with_company(desk.company_id or self.env.company)
            .with_context(default_user_ids=False)
            .create(
                {
                    "name": name,
                    "project_id": desk.id,
                    "partner_id": partner.id,
                    "msp_priority": priority,
                    "description": description,
                }
            )
        )

    @api.model
    def _get_projects_to_make_billable_domain(self, additional_domain=None):
        # As for projects: tickets and tasks of projects the add-on bills stay so.
        return expression.AND(
            [
                super()._get_projects_to_make_billable_domain(additional_domain),
                [
                    ("project_id.msp_is_service_desk", "=", False),
                    ("project_id.timesheet_ids", "not any", MSP_BILLED_TIME),
                ],
            ]
        )
