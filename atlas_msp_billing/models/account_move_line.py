from odoo import fields, models


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    msp_timesheet_ids = fields.One2many(
        "account.analytic.line", "msp_invoice_line_id", string="Billed Time", readonly=True
    )
    msp_charge_ids = fields.One2many(
        "msp.charge", "invoice_line_id", string="Billed Charges", readonly=True
    )
    # The retainer period whose overage (or overage adjustment) this line bills.
    msp_overage_period_id = fields.Many2one(
        "msp.retainer.period", readonly=True, copy=False, index="btree_not_null"
    )
