from datetime import date

from odoo.tests import tagged

from .common import MspBillingCase


@tagged("post_install", "-at_install")
class TestGeneratedInvoices(MspBillingCase):
    """What a generated invoice says about itself: what made it, when it is
    due, and one invoice per customer and date."""

    def test_chatter_says_what_generated_it(self):
        retainer = self.create_retainer()
        invoice = self.run_billing("2026-01-01")
        note = invoice.message_ids.filtered(lambda m: "Drafted by the billing run" in m.body)
        self.assertEqual(len(note), 1)
        self.assertIn(retainer.name, note.body)
        self.assertIn("01/01/2026", note.body)
        self.assertIn(retainer.period_ids.display_name, note.body)

    def test_due_date_follows_invoice_date_and_terms(self):
        self.create_retainer()
        with_terms = self.run_billing("2026-01-01")
        self.assertEqual(with_terms.invoice_date_due, date(2026, 1, 31), "30 days")
        self.customer.property_payment_term_id = False
        self.env.company.msp_invoice_payment_term_id = False
        without_terms = self.run_billing("2026-02-01")
        self.assertEqual(without_terms.invoice_date_due, date(2026, 2, 1))

    def test_one_invoice_per_customer_and_date(self):
        # The last period is one day long: its fee invoice and the closing
        # invoice fall on the same date and are one invoice.
        self.create_retainer(date_end="2026-03-01")
        last_day = self.log_time(2.0, "2026-03-01", category="adhoc")
        invoices = self.run_billing("2026-03-05")
        self.assertEqual(len(invoices), 3)
        march = invoices.filtered(lambda m: m.invoice_date == date(2026, 3, 1))
        self.assertEqual(len(march), 1)
        self.assertEqual(last_day.msp_invoice_line_id.move_id, march)
        self.assertTrue(self.lines_of(march, self.product_fee))
        self.assertEqual(len(march.msp_fee_period_ids), 1)

    def test_nothing_to_invoice_closes_the_dialog(self):
        wizard = (
            self.env["msp.billing.run"]
            .with_user(self.user_billing_manager)
            .create({"run_date": "2026-01-01"})
        )
        action = wizard.action_generate()
        self.assertEqual(action["tag"], "display_notification")
        self.assertEqual(action["params"]["next"], {"type": "ir.actions.act_window_close"})
