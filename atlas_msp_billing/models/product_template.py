from odoo import Command, api, fields, models
from odoo.exceptions import ValidationError

from ..utils.constants import BILLING_CYCLES, HOURS_DIGITS
from .msp_billing_invoice import BILLING_PRODUCTS

# Every product the add-on ships that ends up on invoices: the retainer
# invoices' products and the quote line products (sale_data.xml).
INVOICED_PRODUCTS = (
    *BILLING_PRODUCTS.values(),
    "atlas_msp_billing.product_msp_fixed_deliverable",
    "atlas_msp_billing.product_msp_hourly_estimate",
    "atlas_msp_billing.product_msp_product_costs",
    "atlas_msp_billing.product_msp_retainer_plan",
)


class ProductTemplate(models.Model):
    _inherit = "product.template"

    msp_is_retainer = fields.Boolean(
        string="Starts a Retainer",
        help="A quote line with this product starts the customer's retainer when the quote is "
        "confirmed; the retainer's billing run invoices it every cycle, never the sale order.",
    )
    msp_is_recurring_service = fields.Boolean(
        string="Recurring Service",
        help="On a quote that starts a retainer, a line with this product becomes a recurring "
        "service of that retainer (per seat, per device), billed with its fee every cycle, never "
        "by the sale order.",
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

    @api.constrains("msp_is_retainer", "msp_is_recurring_service")
    def _check_msp_recurring_service(self):
        for product in self.filtered(lambda p: p.msp_is_retainer and p.msp_is_recurring_service):
            raise ValidationError(
                self.env._(
                    "%(product)s cannot both start a retainer and be a recurring service of one: "
                    "untick one of the two.",
                    product=product.display_name,
                )
            )

    @api.model
    def _msp_complete_sale_taxes(self, companies):
        """Give the add-on's invoiced products the default sales tax of each of
        ``companies`` that has one, where they have no sales tax of that company
        yet: taxes already there, chosen by a user or not, are kept."""
        Data = self.env["ir.model.data"]
        variant_ids = [
            Data._xmlid_to_res_id(x, raise_if_not_found=False) for x in INVOICED_PRODUCTS
        ]
        # sudo: the products and taxes of every company, whatever the caller's.
        variants = self.env["product.product"].sudo().browse([i for i in variant_ids if i])
        templates = variants.exists().product_tmpl_id
        for company in companies.filtered("account_sale_tax_id"):
            untaxed = templates.filtered_domain(self._check_company_domain(company)).filtered(
                lambda t, c=company: (
                    not t.taxes_id.filtered_domain(t.taxes_id._check_company_domain(c))
                )
            )
            untaxed.write({"taxes_id": [Command.link(company.account_sale_tax_id.id)]})
