from odoo import api, fields, models
from odoo.osv import expression

# Time this add-on bills: a project holding some is billed by retainers or ad hoc.
MSP_BILLED_TIME = [("msp_billing_category", "in", ("retainer", "adhoc"))]


class ProjectProject(models.Model):
    _inherit = "project.project"

    msp_is_service_desk = fields.Boolean(
        string="Service Desk",
        help="Tasks of this project are service tickets with priorities and SLA targets.",
    )
    msp_schedule_count = fields.Integer(
        string="Billing Schedule Steps", compute="_compute_msp_schedule_count"
    )

    def _compute_msp_schedule_count(self):
        counts = dict(
            self.env["msp.billing.schedule"]._read_group(
                [("project_id", "in", self.ids)], ["project_id"], ["__count"]
            )
        )
        for project in self:
            project.msp_schedule_count = counts.get(project, 0)

    @api.model
    def _msp_service_desk_for(self, partner):
        """The service desk where ``partner``'s company opens tickets from the portal:
        a desk dedicated to that customer, else the first desk shared with customers
        that is dedicated to no one (read as superuser: portal users read no projects)."""
        customer = partner.commercial_partner_id
        desks = self.sudo().search(
            [
                ("msp_is_service_desk", "=", True),
                ("privacy_visibility", "=", "portal"),
                ("partner_id", "in", [customer.id, False]),
            ],
            order="sequence, id",
        )
        return desks.filtered(lambda desk: desk.partner_id == customer)[:1] or desks[:1]

    def _get_projects_to_make_billable_domain(self):
        # Service desks and projects whose time this add-on already bills stay as
        # they are: made billable, sale_project would bill their time by a sale
        # order instead of the retainer.
        return expression.AND(
            [
                super()._get_projects_to_make_billable_domain(),
                [
                    ("msp_is_service_desk", "=", False),
                    ("timesheet_ids", "not any", MSP_BILLED_TIME),
                ],
            ]
        )
