from odoo import fields, models


class ProjectProject(models.Model):
    _inherit = "project.project"

    msp_is_service_desk = fields.Boolean(
        string="Service Desk",
        help="Tasks of this project are service tickets with priorities and SLA targets.",
    )
