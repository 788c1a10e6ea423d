from datetime import date

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import MspBillingCase


@tagged("post_install", "-at_install")
class TestLateTime(MspBillingCase):
    """Rule 10: time logged after its period's overage was invoiced (Friday's
    work logged on Monday) is accepted and billed once, as an adjustment."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.retainer = cls.create_retainer(included_hours=10.0, overage_rate=120.0)
        cls.january = cls.retainer.period_ids
        # January's fee, billed in advance.
        cls.env["msp.retainer"]._run_billing(run_date=date(2026, 1, 1))

    def overage_lines(self, invoice):
        return self.lines_of(invoice, self.product_overage)

    def test_late_time_after_a_posted_overage_is_billed_once_as_adjustment(self):
        counted = self.log_time(12.0, "2026-01-20")  # 2 h over
        february = self.run_billing("2026-02-01")
        self.assertEqual(self.overage_lines(february).quantity, 2.0)
        february.action_post()
        self.assertEqual(self.january.overage_billed_hours, 2.0)
        # Friday's work, logged after the run: accepted although the overage is posted.
        late = self.log_time(1.5, "2026-01-30", name="Friday's server patching")
        self.assertEqual(late.msp_period_id, self.january)
        self.assertEqual(self.january.overage_hours, 3.5)
        march = self.run_billing("2026-03-01")
        adjustment = self.overage_lines(march)
        self.assertEqual((adjustment.quantity, adjustment.price_unit), (1.5, 120.0))
        self.assertIn("adjustment", adjustment.name)
        self.assertIn("01/01/2026", adjustment.name)
        self.assertEqual(self.january.overage_billed_hours, self.january.overage_hours)
        self.assertEqual(self.january.overage_invoice_id, february, "the first one stays")
        self.assertIn(self.january, march.msp_period_ids)
        # The time schedule of the adjustment invoice lists the late entry.
        schedule = march._msp_time_schedule()[march.id]
        entries = [e for c in schedule["categories"] for e in c["entries"]]
        self.assertIn(late, entries)
        # Billed once: nothing more on the next invoice.
        self.assertFalse(self.overage_lines(self.run_billing("2026-04-01")))
        # What the posted invoice counted stays locked; lowering it is refused.
        with self.assertRaisesText(UserError, february.name):
            counted.unit_amount = 8.0
        march.action_post()
        with self.assertRaisesText(UserError, march.name):
            late.unlink()

    def test_late_time_within_the_included_hours_bills_nothing_extra(self):
        self.log_time(6.0, "2026-01-20")
        february = self.run_billing("2026-02-01")
        february.action_post()
        late = self.log_time(3.0, "2026-01-31")
        self.assertEqual(late.msp_period_id, self.january)
        self.assertFalse(self.january.overage_hours)
        self.assertFalse(self.overage_lines(self.run_billing("2026-03-01")))

    def test_released_adjustment_is_billed_again(self):
        self.log_time(12.0, "2026-01-20")
        self.run_billing("2026-02-01").action_post()
        self.log_time(1.0, "2026-01-30")
        march = self.run_billing("2026-03-01")
        self.assertEqual(self.overage_lines(march).quantity, 1.0)
        march.button_cancel()
        self.assertEqual(self.january.overage_billed_hours, 2.0)
        april = self.run_billing("2026-04-01")
        self.assertEqual(self.overage_lines(april).quantity, 1.0)
