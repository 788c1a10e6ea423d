from odoo.tests import Form, tagged

from .common import MspBillingCase


@tagged("post_install", "-at_install")
class TestChargeStatus(MspBillingCase):
    """Given a charge, when billing drafts its invoice and the invoice is posted,
    then its status reads Pending, On Draft Invoice, then Invoiced, while its
    ``state`` (what billing relies on) is invoiced from the draft on."""

    def create_charge(self, day="2026-01-12"):
        return self.env["msp.charge"].create(
            {
                "partner_id": self.customer.id,
                "product_id": self.product_fee.id,
                "name": "Firewall appliance",
                "price_unit": 450.0,
                "date": day,
            }
        )

    def test_status_follows_the_invoice(self):
        charge = self.create_charge()
        self.assertEqual((charge.state, charge.billing_status), ("pending", "pending"))
        invoice = self.run_billing("2026-02-01")
        self.assertEqual(charge.invoice_id, invoice)
        self.assertEqual((charge.state, charge.billing_status), ("invoiced", "draft"))
        invoice.action_post()
        self.assertEqual((charge.state, charge.billing_status), ("invoiced", "invoiced"))

    def test_cancelled_invoice_makes_it_pending_again(self):
        charge = self.create_charge()
        invoice = self.run_billing("2026-02-01")
        invoice.button_cancel()
        self.assertEqual((charge.state, charge.billing_status), ("pending", "pending"))

    def test_new_charge_shows_pending(self):
        form = Form(self.env["msp.charge"].with_user(self.user_account_manager))
        self.assertEqual(form.billing_status, "pending", "the status bar highlights Pending")

    def test_first_visit_shows_every_charge(self):
        action = self.env.ref("atlas_msp_billing.msp_charge_action")
        self.assertNotIn("search_default", action.context or "")
        customer = self.customer.with_user(self.user_account_manager)
        self.assertEqual(customer.action_view_msp_charges()["context"]["search_default_pending"], 1)

    def test_add_charge_from_the_customer(self):
        contact = self.env["res.partner"].create({"name": "Ann", "parent_id": self.customer.id})
        Charge = self.env["msp.charge"].with_user(self.user_account_manager)
        form = Form(Charge.with_context(default_partner_id=contact.id))
        form.product_id = self.product_fee.product_variant_id
        form.price_unit = 99.0
        charge = form.save()
        self.assertEqual(charge.partner_id, self.customer, "charged to the company")
