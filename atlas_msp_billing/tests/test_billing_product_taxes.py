from odoo import Command
from odoo.tests import tagged

from odoo.addons.atlas_msp_billing import _post_init_hook
from odoo.addons.atlas_msp_billing.models.product_template import INVOICED_PRODUCTS

from .common import MspBillingCase


@tagged("post_install", "-at_install")
class TestBillingProductTaxes(MspBillingCase):
    """The products the add-on ships carry each company's default sales tax,
    whether the chart of accounts was there before the add-on or came after;
    a tax a user chose is never replaced."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.products = cls.env["product.template"].browse(
            [cls.env.ref(xmlid).product_tmpl_id.id for xmlid in INVOICED_PRODUCTS]
        )

    def sale_taxes_of(self, product, company):
        taxes = product.sudo().taxes_id
        return taxes.filtered_domain(taxes._check_company_domain(company))

    def create_company(self, name):
        """A new company without country, whose chart is not loaded yet."""
        return self.env["res.company"].create({"name": name})

    def load_chart(self, company):
        self.env["account.chart.template"].try_loading("generic_coa", company, install_demo=False)

    def test_fee_invoice_carries_the_company_sales_tax(self):
        sale_tax = self.env.company.account_sale_tax_id
        self.assertTrue(sale_tax, "the test database's company has a default sales tax")
        for product in self.products:
            self.assertEqual(self.sale_taxes_of(product, self.env.company), sale_tax, product.name)

        self.create_retainer()
        invoice = self.run_billing("2026-01-01")
        fee = self.lines_of(invoice, self.product_fee)
        self.assertEqual(fee.tax_ids, sale_tax)
        self.assertEqual(invoice.amount_untaxed, 1000.0)
        self.assertGreater(invoice.amount_tax, 0.0)

    def test_chart_loaded_after_the_products_completes_them(self):
        # As on a new database: the products were created before any chart,
        # hence without a sales tax; one of them has a tax a user chose.
        self.products.taxes_id = False
        chosen = self.env["account.tax"].create(
            {"name": "Chosen 5 %", "amount": 5.0, "type_tax_use": "sale"}
        )
        self.product_adhoc.taxes_id = chosen
        company = self.create_company("Chart After Products Ltd")

        self.load_chart(company)

        sale_tax = company.account_sale_tax_id
        self.assertEqual(sale_tax.amount, 15.0, "the generic chart's default sales tax")
        for product in self.products:
            self.assertEqual(self.sale_taxes_of(product, company), sale_tax, product.name)
        self.assertEqual(
            self.sale_taxes_of(self.product_adhoc, self.env.company),
            chosen,
            "the tax chosen for the first company is kept",
        )
        self.assertFalse(
            self.sale_taxes_of(self.product_fee, self.env.company),
            "only the company whose chart is loaded is completed",
        )

    def test_reloading_a_chart_keeps_the_taxes_users_chose(self):
        company = self.create_company("Reloaded Chart Ltd")
        self.load_chart(company)
        chosen = self.env["account.tax"].create(
            {"name": "Exempt", "amount": 0.0, "type_tax_use": "sale", "company_id": company.id}
        )
        self.product_adhoc.taxes_id = [
            Command.unlink(company.account_sale_tax_id.id),
            Command.link(chosen.id),
        ]
        # Odoo itself puts a company's default back on products taxed in
        # another company; a product a user left without any tax stays so.
        self.product_overage.taxes_id = False

        self.load_chart(company)

        self.assertEqual(self.sale_taxes_of(self.product_adhoc, company), chosen)
        self.assertFalse(
            self.sale_taxes_of(self.product_overage, company),
            "a sales tax a user removed stays removed",
        )

    def test_install_completes_companies_with_a_chart(self):
        # Products created by the install take the default taxes of the
        # installing user's companies only: the others are completed after.
        company = self.create_company("Other Company Ltd")
        self.load_chart(company)
        sale_tax = company.account_sale_tax_id
        chosen = self.env["account.tax"].create(
            {"name": "Exempt", "amount": 0.0, "type_tax_use": "sale", "company_id": company.id}
        )
        self.products.taxes_id = [Command.unlink(sale_tax.id)]
        self.product_adhoc.taxes_id = [Command.link(chosen.id)]

        _post_init_hook(self.env)

        for product in self.products - self.product_adhoc.product_tmpl_id:
            self.assertEqual(self.sale_taxes_of(product, company), sale_tax, product.name)
        self.assertEqual(self.sale_taxes_of(self.product_adhoc, company), chosen)
        self.assertEqual(
            self.sale_taxes_of(self.product_fee, self.env.company),
            self.env.company.account_sale_tax_id,
        )
