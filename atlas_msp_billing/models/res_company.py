from odoo import api, fields, models
from odoo.exceptions import ValidationError


class ResCompany(models.Model):
    _inherit = "res.company"

    msp_timer_rounding = fields.Integer(
        string="Timer Rounding (minutes)",
        default=1,
        help="A stopped timer's time is rounded up to a multiple of this many minutes.",
    )
    msp_timer_minimum = fields.Integer(
        string="Timer Minimum (minutes)",
        default=0,
        help="A stopped timer logs at least this many minutes (0: no minimum).",
    )
    msp_timer_stale_hours = fields.Float(
        string="Stale Timer After (hours)",
        default=10.0,
        help="A timer running longer than this is flagged as stale: its time is only logged "
        "once the technician confirms it.",
    )
    msp_sla_policy_id = fields.Many2one(
        "msp.sla.policy",
        string="Default SLA Policy",
        check_company=True,
        help="SLA policy of tickets whose customer has none of its own.",
    )

    @api.constrains("msp_timer_rounding", "msp_timer_minimum", "msp_timer_stale_hours")
    def _check_msp_timer_settings(self):
        for company in self:
            if company.msp_timer_rounding < 1:
                raise ValidationError(self.env._("The timer rounding must be at least 1 minute."))
            if company.msp_timer_minimum < 0:
                raise ValidationError(self.env._("The timer minimum cannot be negative."))
            if company.msp_timer_stale_hours <= 0:
                raise ValidationError(
                    self.env._("The stale timer limit must be a positive number of hours.")
                )
