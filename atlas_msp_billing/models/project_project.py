from odoo import fields, models


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
