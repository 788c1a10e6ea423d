from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    msp_timer_rounding = fields.Integer(related="company_id.msp_timer_rounding", readonly=False)
    msp_timer_minimum = fields.Integer(related="company_id.msp_timer_minimum", readonly=False)
    msp_timer_stale_hours = fields.Float(related="company_id.msp_timer_stale_hours", readonly=False)
    msp_sla_policy_id = fields.Many2one(related="company_id.msp_sla_policy_id", readonly=False)
    msp_billing_start_date = fields.Date(
        related="company_id.msp_billing_start_date", readonly=False
    )
    msp_invoice_payment_term_id = fields.Many2one(
        related="company_id.msp_invoice_payment_term_id",
        readonly=False,
        domain="[('company_id', 'in', [company_id, False])]",
    )
    msp_invoice_bank_id = fields.Many2one(
        related="company_id.msp_invoice_bank_id",
        readonly=False,
        domain="[('partner_id.ref_company_ids', 'in', [company_id])]",
    )
    msp_invoice_payment_note = fields.Html(
        related="company_id.msp_invoice_payment_note", readonly=False
    )
    msp_invoice_sla_summary = fields.Boolean(
        related="company_id.msp_invoice_sla_summary", readonly=False
    )
    msp_attach_time_schedule = fields.Boolean(
        related="company_id.msp_attach_time_schedule", readonly=False
    )
