from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import MspBillingCase


@tagged("post_install", "-at_install")
class TestInvoicesToPost(MspBillingCase):
    """Given the drafts of a billing run, when the billing manager selects some
    in Revenue > Invoicing > To Post and clicks "Post and Send", then those
    are posted and Odoo's Send dialog opens for them, and the others wait."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other = cls.env["res.partner"].create({"name": "Other Customer", "is_company": True})
        cls.create_retainer()
        cls.create_retainer(partner_id=cls.other.id)
        cls.action = cls.env.ref("atlas_msp_billing.action_msp_post_and_send")

    def post_and_send(self, invoices, user):
        return (
            self.action.with_user(user)
            .with_context(active_model="account.move", active_ids=invoices.ids)
            .run()
        )

    def test_post_and_send_a_selection(self):
        invoices = self.run_billing("2026-01-01")
        self.assertEqual(len(invoices), 2)
        selected = invoices.filtered(lambda m: m.partner_id == self.customer)
        action = self.post_and_send(selected, self.user_billing_manager)
        self.assertEqual(selected.state, "posted")
        self.assertEqual((invoices - selected).state, "draft")
        self.assertEqual(action["res_model"], "account.move.send.wizard")
        self.assertEqual(action["context"]["active_ids"], selected.ids)

        action = self.post_and_send(invoices, self.user_billing_manager)
        self.assertEqual(set(invoices.mapped("state")), {"posted"})
        self.assertEqual(action["res_model"], "account.move.send.batch.wizard")

    def test_only_billing_managers_run_it(self):
        invoices = self.run_billing("2026-01-01")
        with self.assertRaises(AccessError):
            self.post_and_send(invoices, self.user_account_manager)
        self.assertEqual(set(invoices.mapped("state")), {"draft"})

    def test_list_shows_customer_period_total_and_due_date(self):
        view = self.env.ref("atlas_msp_billing.account_move_view_list_msp_to_post")
        Move = self.env["account.move"].with_user(self.user_billing_manager)
        arch = Move.get_views([(view.id, "list")])["views"]["list"]["arch"]
        for name in ("msp_period_ids", "amount_total_in_currency_signed", "invoice_date_due"):
            self.assertIn(f'name="{name}"', arch)
        self.assertIn("Post and Send", arch)
