from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    msp_timer_rounding = fields.Integer(related="company_id.msp_timer_rounding", readonly=False)
    msp_timer_minimum = fields.Integer(related="company_id.msp_timer_minimum", readonly=False)
    msp_timer_stale_hours = fields.Float(related="company_id.msp_timer_stale_hours", readonly=False)
    msp_sla_policy_id = fields.Many2one(related="company_id.msp_sla_policy_id", readonly=False)
