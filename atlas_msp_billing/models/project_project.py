from odoo import api, fields, models


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
