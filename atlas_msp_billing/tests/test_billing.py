from datetime import date
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from odoo.addons.atlas_msp_billing.models.msp_billing_invoice import MspBillingInvoice

from .common import MspBillingCase


@tagged("post_install", "-at_install")
class TestBillingRun(MspBillingCase):
    def test_first_run_and_second_run_same_day(self):
        retainer = self.create_retainer()
        invoices = self.run_billing("2026-01-01")
        self.assertEqual(len(invoices), 1)
        self.assertEqual(invoices.state, "draft")
        self.assertEqual(invoices.move_type, "out_invoice")
        self.assertEqual(invoices.invoice_date, date(2026, 1, 1))
        self.assertEqual(invoices.partner_id, self.customer)
        self.assertEqual(invoices.invoice_user_id, self.user_account_manager)
        self.assertEqual(invoices.invoice_payment_term_id, self.customer.property_payment_term_id)
        self.assertIn(retainer.name, invoices.invoice_origin)
        self.assertTrue(invoices.msp_generated)
        fee = self.lines_of(invoices, self.product_fee)
        self.assertEqual((fee.quantity, fee.price_unit), (1.0, 1000.0))
        self.assertEqual(invoices.amount_untaxed, 1000.0)
        period = retainer.period_ids
        self.assertEqual(invoices.msp_period_ids, period)
        self.assertEqual(period.invoice_id, invoices)
        self.assertEqual(retainer.next_invoice_date, date(2026, 2, 1))

        self.assertFalse(self.run_billing("2026-01-01"), "a second run bills nothing again")
        self.assertFalse(self.run_billing("2026-01-20"), "nothing is due mid-period")

    def test_catch_up_three_missed_months(self):
        retainer = self.create_retainer()
        invoices = self.run_billing("2026-03-15")
        self.assertEqual(
            invoices.sorted("invoice_date").mapped("invoice_date"),
            [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)],
        )
        self.assertEqual(len(retainer.period_ids), 3)
        self.assertTrue(all(p.invoice_id for p in retainer.period_ids))
        self.assertEqual(len(retainer.period_ids.invoice_id), 3, "one invoice per period")
        self.assertFalse(self.run_billing("2026-03-15"))

    def test_overage_billed_once_with_snapshot_rate(self):
        retainer = self.create_retainer()
        self.run_billing("2026-01-01")
        self.log_time(8.0, "2026-01-10")
        self.log_time(4.5, "2026-01-20", task=self.task_b)
        january = retainer.period_ids
        self.assertEqual(january.hours_used, 12.5)
        self.assertEqual(january.overage_hours, 2.5)
        # A rate change affects periods created later, not January.
        retainer.overage_rate = 200.0
        invoice = self.run_billing("2026-02-01")
        overage = self.lines_of(invoice, self.product_overage)
        self.assertEqual((overage.quantity, overage.price_unit), (2.5, 120.0))
        self.assertIn("12.50 h used", overage.name)
        self.assertEqual(invoice.amount_untaxed, 1000.0 + 300.0)
        self.assertEqual(january.overage_invoice_id, invoice)
        self.assertEqual(invoice.msp_period_ids, retainer.period_ids)
        february = retainer.period_ids - january
        self.assertEqual(february.overage_rate, 200.0)
        march = self.run_billing("2026-03-01")
        self.assertFalse(self.lines_of(march, self.product_overage))

    def test_adhoc_time_and_charges_billed_once(self):
        retainer = self.create_retainer()
        self.run_billing("2026-01-01")
        self.log_time(3.0, "2026-01-05", category="adhoc")
        self.log_time(1.25, "2026-01-25", category="adhoc")
        self.log_time(2.0, "2026-01-06", category="adhoc", task=self.task_b)
        later = self.log_time(1.0, "2026-02-03", category="adhoc")
        self.log_time(4.0, "2026-01-07", category="non_billable")
        charge = self.env["msp.charge"].create(
            {
                "partner_id": self.customer.id,
                "product_id": self.product_fee.id,
                "name": "Firewall appliance",
                "quantity": 2,
                "price_unit": 450.0,
                "date": "2026-01-12",
            }
        )
        self.assertEqual(charge.state, "pending")
        invoice = self.run_billing("2026-02-01")
        adhoc = self.lines_of(invoice, self.product_adhoc)
        self.assertEqual(sorted(adhoc.mapped("quantity")), [2.0, 4.25])
        self.assertEqual(set(adhoc.mapped("price_unit")), {retainer.adhoc_rate})
        self.assertTrue(any("Mail server migration" in name for name in adhoc.mapped("name")))
        charge_line = invoice.invoice_line_ids.filtered(
            lambda line: line.name == "Firewall appliance"
        )
        self.assertEqual((charge_line.quantity, charge_line.price_unit), (2.0, 450.0))
        self.assertEqual(charge.invoice_line_id, charge_line)
        self.assertEqual(charge.state, "invoiced")
        self.assertFalse(later.msp_invoice_line_id, "time after the period start waits")
        self.assertEqual(invoice.amount_untaxed, 1000.0 + 6.25 * 150.0 + 900.0)

        march = self.run_billing("2026-03-01")
        adhoc_march = self.lines_of(march, self.product_adhoc)
        self.assertEqual(adhoc_march.quantity, 1.0)
        self.assertEqual(later.msp_invoice_line_id, adhoc_march)
        self.assertNotIn("Firewall appliance", march.invoice_line_ids.mapped("name"))

    def test_time_on_sale_order_line_is_not_billed_here(self):
        self.create_retainer()
        order = self.env["sale.order"].create(
            {
                "partner_id": self.customer.id,
                "order_line": [(0, 0, {"product_id": self.product_adhoc.id, "product_uom_qty": 5})],
            }
        )
        order.action_confirm()
        entry = self.log_time(2.0, "2026-01-05", category="adhoc", so_line=order.order_line.id)
        self.assertEqual(entry.so_line, order.order_line)
        invoices = self.run_billing("2026-02-01")
        self.assertFalse(self.lines_of(invoices, self.product_adhoc))
        self.assertFalse(entry.msp_invoice_line_id)

    def test_partial_period_and_closing_invoice(self):
        retainer = self.create_retainer(date_end="2026-03-10")
        self.log_time(12.0, "2026-03-05")
        invoices = self.run_billing("2026-03-01")
        self.assertEqual(len(invoices), 3, "January, February, and March prorated")
        march = retainer.period_ids.filtered(lambda p: p.date_start == date(2026, 3, 1))
        self.assertTrue(march.is_partial)
        self.assertEqual(march.amount, 322.58)  # 1000 * 10 / 31, rounded half-up
        self.assertEqual(march.included_hours, 3.23)
        self.assertEqual(retainer.state, "active")
        self.assertFalse(self.run_billing("2026-03-10"), "its last day is not yet over")
        closing = self.run_billing("2026-03-11")
        self.assertEqual(len(closing), 1)
        overage = self.lines_of(closing, self.product_overage)
        self.assertAlmostEqual(overage.quantity, 12.0 - 3.23)
        self.assertFalse(self.lines_of(closing, self.product_fee))
        self.assertEqual(retainer.state, "closed")
        self.assertFalse(self.run_billing("2026-05-01"))

    def test_customer_without_retainer_monthly_invoice(self):
        self.log_time(2.5, "2026-01-20", category="adhoc")
        self.assertFalse(self.run_billing("2026-02-02"), "only on the first day of the month")
        invoice = self.run_billing("2026-03-01")
        self.assertEqual(len(invoice), 1)
        line = self.lines_of(invoice, self.product_adhoc)
        self.assertEqual((line.quantity, line.price_unit), (2.5, self.product_adhoc.lst_price))
        self.assertFalse(self.run_billing("2026-04-01"), "nothing unbilled, no invoice")

    def test_failing_retainer_does_not_stop_the_others(self):
        good = self.create_retainer()
        other_customer = self.env["res.partner"].create({"name": "Broken Ltd", "is_company": True})
        bad = self.create_retainer(partner_id=other_customer.id)
        original = MspBillingInvoice._prepare_retainer_invoice

        def prepare(billing, retainer, *args, **kwargs):
            if retainer == bad:
                raise ValidationError(retainer.env._("Broken Ltd has no invoice address"))
            return original(billing, retainer, *args, **kwargs)

        with patch.object(MspBillingInvoice, "_prepare_retainer_invoice", prepare):
            invoices = self.run_billing("2026-01-01")
        self.assertEqual(invoices.msp_retainer_id, good)
        self.assertFalse(bad.period_ids.invoice_id)
        self.assertIn("Broken Ltd has no invoice address", bad.message_ids[0].body)
        self.assertTrue(bad.activity_ids)
        # Fixed, the next run bills it.
        self.assertEqual(self.run_billing("2026-01-01").msp_retainer_id, bad)


@tagged("post_install", "-at_install")
class TestReleaseAndLock(MspBillingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.retainer = cls.create_retainer()
        cls.env["msp.retainer"]._run_billing(run_date=date(2026, 1, 1))
        cls.log_time(11.0, "2026-01-10")
        cls.adhoc = cls.log_time(2.0, "2026-01-11", category="adhoc")

    def test_deleting_a_draft_releases_all_but_the_fee(self):
        february = self.run_billing("2026-02-01")
        period_feb = february.msp_fee_period_ids
        january = self.retainer.period_ids.filtered(lambda p: p.date_start == date(2026, 1, 1))
        self.assertEqual(january.overage_invoice_id, february)
        february.unlink()
        self.assertFalse(january.overage_invoice_id)
        self.assertFalse(self.adhoc.msp_invoice_line_id)
        self.assertTrue(period_feb.fee_billed)
        self.assertFalse(period_feb.invoice_id)
        self.assertFalse(self.run_billing("2026-02-01"), "a deletion never triggers an invoice")
        march = self.run_billing("2026-03-01")
        self.assertEqual(self.lines_of(march, self.product_overage).quantity, 1.0)
        self.assertEqual(self.lines_of(march, self.product_adhoc).quantity, 2.0)
        self.assertEqual(len(self.lines_of(march, self.product_fee)), 1, "March fee only")

        period_feb.action_regenerate_invoice()
        regenerated = period_feb.invoice_id
        self.assertTrue(regenerated)
        self.assertEqual(regenerated.invoice_line_ids.product_id, self.product_fee)
        with self.assertRaises(UserError):
            period_feb.action_regenerate_invoice()

    def test_cancel_releases(self):
        february = self.run_billing("2026-02-01")
        february.button_cancel()
        self.assertFalse(self.adhoc.msp_invoice_line_id)
        with self.assertRaises(UserError):
            february.button_draft()
        march = self.run_billing("2026-03-01")
        self.assertEqual(self.adhoc.msp_invoice_line_id.move_id, march)

    def test_posted_invoice_locks_what_it_billed(self):
        february = self.run_billing("2026-02-01")
        february.action_post()
        with self.assertRaisesText(UserError, february.name):
            self.adhoc.unit_amount = 3.0
        with self.assertRaisesText(UserError, february.name):
            self.adhoc.unlink()
        retainer_time = self.retainer.period_ids[0].timesheet_ids
        with self.assertRaisesText(UserError, february.name):
            retainer_time.write({"unit_amount": 1.0})
        with self.assertRaises(UserError):
            self.retainer.period_ids[0].unlink()
        # Odoo's timesheet screens show it read-only (sale_timesheet's hooks).
        self.assertTrue(self.adhoc.readonly_timesheet)
        self.assertFalse(self.adhoc._is_not_billed())
        february.button_draft()
        self.adhoc.invalidate_recordset(["readonly_timesheet"])
        self.assertFalse(self.adhoc.readonly_timesheet)
        self.adhoc.unit_amount = 3.0
        self.assertEqual(self.adhoc.unit_amount, 3.0)


@tagged("post_install", "-at_install")
class TestBadInput(MspBillingCase):
    def test_negative_values_and_dates(self):
        for field_name in ("amount", "included_hours", "overage_rate", "adhoc_rate"):
            with self.subTest(field=field_name), self.assertRaises(ValidationError):
                self.create_retainer(activate=False, **{field_name: -1})
        with self.assertRaisesText(ValidationError, "end date"):
            self.create_retainer(activate=False, date_end="2025-12-31")
        with self.assertRaisesText(ValidationError, "billing cycle"):
            self.create_retainer(activate=False, billing_cycle="weekly")
        self.assertFalse(self.Retainer.search([("partner_id", "=", self.customer.id)]))

    def test_overlapping_active_retainers(self):
        self.create_retainer(date_end="2026-06-30")
        second = self.create_retainer(activate=False, date_start="2026-06-01")
        with self.assertRaisesText(ValidationError, "already has active retainer"):
            second.with_context(msp_date="2026-06-01").action_activate()
        self.assertEqual(second.state, "draft")
        third = self.create_retainer(activate=False, date_start="2026-07-01")
        third.with_context(msp_date="2026-07-01").action_activate()
        self.assertEqual(third.state, "active")

    def test_retainer_time_needs_a_covering_retainer(self):
        with self.assertRaisesText(ValidationError, "no active retainer"):
            self.log_time(1.0, "2026-01-05")
        self.create_retainer()
        with self.assertRaisesText(ValidationError, "no active retainer"):
            self.log_time(1.0, "2025-12-31")
        entry = self.log_time(1.0, "2026-03-05")
        self.assertEqual(entry.msp_period_id.date_start, date(2026, 3, 1))

    def test_invoiced_schedule_cannot_change(self):
        retainer = self.create_retainer()
        self.run_billing("2026-02-01")
        with self.assertRaisesText(UserError, "invoiced periods"):
            retainer.billing_cycle = "quarterly"
        with self.assertRaisesText(UserError, "invoiced up to"):
            retainer.date_end = "2026-02-10"
        with self.assertRaises(UserError):
            retainer.action_reset_draft()
        # Terms for future periods may change.
        retainer.amount = 1100.0
        self.assertEqual(self.run_billing("2026-03-01").amount_untaxed, 1100.0)
        self.assertEqual(fields.Date.to_string(retainer.next_invoice_date), "2026-04-01")


@tagged("post_install", "-at_install")
class TestGenerateInvoicesNow(MspBillingCase):
    def test_wizard_generates_and_shows_invoices(self):
        retainer = self.create_retainer()
        wizard = (
            self.env["msp.billing.run"]
            .with_user(self.user_billing_manager)
            .create({"run_date": "2026-02-01"})
        )
        action = wizard.action_generate()
        invoices = self.env["account.move"].search(
            action.get("domain") or [("id", "=", action["res_id"])]
        )
        self.assertEqual(invoices.msp_retainer_id, retainer)
        self.assertEqual(len(invoices), 2)
        again = wizard.action_generate()
        self.assertEqual(again["tag"], "display_notification")

    def test_wizard_refuses_future_dates(self):
        with self.assertRaisesText(UserError, "future date"):
            self.env["msp.billing.run"].create({"run_date": "2999-01-01"})

    def test_invoice_now_on_one_retainer(self):
        retainer = self.create_retainer()
        other = self.create_retainer(
            partner_id=self.env["res.partner"].create({"name": "Other Co", "is_company": True}).id
        )
        action = retainer.with_context(msp_date="2026-01-15").action_invoice_now()
        self.assertEqual(action["res_model"], "account.move")
        self.assertTrue(retainer.invoice_ids)
        self.assertFalse(other.invoice_ids)


@tagged("post_install", "-at_install")
class TestRetainerEdits(MspBillingCase):
    def test_end_date_reshapes_open_periods_only(self):
        retainer = self.create_retainer()
        self.run_billing("2026-01-01")
        self.log_time(1.0, "2026-02-10")
        february = retainer.period_ids.filtered(lambda p: p.date_start == date(2026, 2, 1))
        retainer.date_end = "2026-02-14"
        self.assertTrue(february.is_partial)
        self.assertEqual(february.amount, 500.0)  # 14 of 28 days
        self.assertEqual(february.included_hours, 5.0)
        # Writing the same start date or cycle again is not a change.
        retainer.write({"date_start": "2026-01-01", "billing_cycle": "monthly"})
        with self.assertRaisesText(UserError, "Time is logged"):
            retainer.date_end = "2026-01-31"

    def test_activation_creates_the_current_period(self):
        retainer = self.create_retainer(activate=False, date_start="2026-01-15")
        retainer.with_context(msp_date="2026-03-20").action_activate()
        self.assertEqual(retainer.period_ids.date_start, date(2026, 3, 15))
        later = self.create_retainer(
            activate=False,
            date_start="2026-05-01",
            partner_id=self.env["res.partner"].create({"name": "Later Co"}).id,
        )
        later.with_context(msp_date="2026-03-20").action_activate()
        self.assertEqual(later.period_ids.date_start, date(2026, 5, 1), "its first period")

    def test_counters_of_the_current_period(self):
        retainer = self.create_retainer()
        self.log_time(8.5, "2026-01-05")
        self.log_time(3.0, "2026-01-06", category="adhoc")
        retainer = retainer.with_context(msp_date="2026-01-20")
        self.assertEqual(retainer.hours_used, 8.5)
        self.assertEqual(retainer.hours_remaining, 1.5)
        self.assertAlmostEqual(retainer.usage_percent, 85.0)
        self.assertFalse(retainer.is_overage)
        self.log_time(2.0, "2026-01-07")
        retainer.invalidate_recordset()
        self.assertTrue(retainer.is_overage)
        self.assertEqual(retainer.current_period_id.overage_hours, 0.5)

    def test_close_ends_after_the_invoiced_period(self):
        retainer = self.create_retainer()
        self.run_billing("2026-01-01")
        self.log_time(11.0, "2026-01-05")
        retainer.with_context(msp_date="2026-01-20").action_close()
        self.assertEqual(retainer.date_end, date(2026, 1, 31), "January is paid in advance")
        self.assertEqual(retainer.state, "active")
        closing = self.run_billing("2026-02-01")
        self.assertEqual(self.lines_of(closing, self.product_overage).quantity, 1.0)
        self.assertFalse(self.lines_of(closing, self.product_fee))
        self.assertEqual(retainer.state, "closed")

    def test_close_with_an_end_date_passed_bills_and_closes_now(self):
        retainer = self.create_retainer(date_end="2026-01-31")
        self.run_billing("2026-01-01")
        self.log_time(12.0, "2026-01-05")
        retainer.with_context(msp_date="2026-02-03").action_close()
        self.assertEqual(retainer.state, "closed")
        self.assertEqual(
            retainer.invoice_ids[:1].invoice_line_ids.filtered("product_id").quantity, 2.0
        )
