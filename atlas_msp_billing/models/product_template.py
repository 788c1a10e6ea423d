from odoo import api, fields, models
from odoo.exceptions import ValidationError

from .msp_retainer import BILLING_CYCLES
from .msp_retainer_period import HOURS_DIGITS


class ProductTemplate(models.Model):
    _inherit = "product.template"

    msp_is_retainer = fields.Boolean(
        string="Starts a Retainer",
        help="A quote line with this product starts the customer's retainer when the quote is "
        "confirmed; the retainer's billing run invoices it every cycle, never the sale order.",
    )
    msp_billing_cycle = fields.Selection(BILLING_CYCLES, string="Billing Cycle", default="monthly")
    msp_included_hours = fields.Float(
        string="Included Hours", digits=(16, HOURS_DIGITS), help="Support hours included per cycle."
    )
    msp_overage_rate = fields.Monetary(
        string="Overage Rate",
        currency_field="currency_id",
        help="Hourly rate for retainer time above the included hours.",
    )

    @api.constrains("msp_is_retainer", "msp_included_hours", "msp_overage_rate", "type")
    def _check_msp_retainer_terms(self):
        for product in self.filtered("msp_is_retainer"):
            if product.msp_included_hours < 0 or product.msp_overage_rate < 0:
                raise ValidationError(
                    self.env._(
                        "%(product)s: the included hours and the overage rate of a retainer "
                        "plan cannot be negative.",
                        product=product.display_name,
                    )
                )
            if product.type != "service" or not product.msp_billing_cycle:
                raise ValidationError(
                    self.env._(
                        "%(product)s starts a retainer: make it a service with a billing cycle.",
                        product=product.display_name,
                    )
                )
