from odoo.tests import tagged

from .common import MspBillingCase


@tagged("post_install", "-at_install")
class TestUsageAlertsFollowUsage(MspBillingCase):
    """Rule 8 on real transactions: alerts never break the transaction that
    brings the hours, and follow usage back down."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.retainer = cls.create_retainer(date_start="2026-11-01", included_hours=10.0)
        cls.alert_type = cls.env.ref("atlas_msp_billing.mail_activity_type_msp_usage_alert")

    def commit_hooks(self):
        """What the transaction runs just before it commits."""
        self.env.flush_all()
        self.env.cr.precommit.run()

    def alerts(self):
        self.commit_hooks()
        return self.retainer.activity_ids.filtered(lambda a: a.activity_type_id == self.alert_type)

    def period(self, month):
        return self.retainer.period_ids.filtered(lambda p: p.date_start.month == month)

    def notes(self, text):
        return self.retainer.message_ids.filtered(lambda m: text in (m.body or ""))

    def import_three_periods(self):
        """One ``create`` of 11 h in each of three periods: 80 % and 100 % of each."""
        self.retainer.message_unsubscribe(partner_ids=self.user_account_manager.partner_id.ids)
        self.assertNotIn(self.user_account_manager.partner_id, self.retainer.message_partner_ids)
        return self.env["account.analytic.line"].create(
            [
                {
                    "name": "Migrated from the previous PSA",
                    "project_id": self.project.id,
                    "task_id": self.task_a.id,
                    "employee_id": self.employee.id,
                    "unit_amount": 11.0,
                    "date": day,
                }
                for day in ("2026-11-20", "2026-12-20", "2027-01-20")
            ]
        )

    # ------------------------------------------------------------------
    # Alerts never break the transaction
    # ------------------------------------------------------------------
    def test_import_spanning_three_periods(self):
        self.import_three_periods()
        alerts = self.alerts()
        self.assertEqual(len(alerts), 6)
        self.assertEqual(alerts.user_id, self.user_account_manager)
        self.assertIn(self.user_account_manager.partner_id, self.retainer.message_partner_ids)
        for month in (11, 12, 1):
            period = self.period(month)
            self.assertTrue(period.alert_80_sent and period.alert_100_sent)
            own = period.alert_80_activity_id | period.alert_100_activity_id
            self.assertEqual(len(own), 2)
            self.assertLessEqual(own, alerts)
        self.assertEqual(len(self.notes("included in")), 6)

    def test_import_and_billing_run_in_one_transaction(self):
        self.import_three_periods()
        invoices = self.run_billing("2027-02-01")
        self.assertEqual(len(invoices), 4, "November to February, caught up")
        self.assertEqual(len(self.alerts()), 6)
        overage = self.lines_of(invoices, self.product_overage)
        self.assertEqual(sorted(overage.mapped("quantity")), [1.0, 1.0, 1.0])

    # ------------------------------------------------------------------
    # Alerts follow usage down
    # ------------------------------------------------------------------
    def test_deleted_time_withdraws_the_alert_and_it_fires_again(self):
        entry = self.log_time(9.0, "2026-11-10")
        [first] = self.alerts()
        november = self.period(11)
        self.assertEqual(november.alert_80_activity_id, first)
        entry.unlink()
        self.assertFalse(self.alerts())
        self.assertFalse(first.exists())
        self.assertFalse(november.alert_80_sent)
        self.assertEqual(len(self.notes("the alert is withdrawn")), 1)
        self.log_time(8.0, "2026-11-11")
        [again] = self.alerts()
        self.assertNotEqual(again, first)
        self.assertTrue(november.alert_80_sent)

    def test_shortened_time_withdraws_only_the_threshold_it_falls_below(self):
        entry = self.log_time(11.0, "2026-11-10")
        self.assertEqual(len(self.alerts()), 2)
        entry.unit_amount = 9.0
        [remaining] = self.alerts()
        self.assertIn("used 80 %", remaining.summary)
        november = self.period(11)
        self.assertTrue(november.alert_80_sent)
        self.assertFalse(november.alert_100_sent)
        self.assertIn("below 100 %", self.notes("the alert is withdrawn").body)
        entry.unit_amount = 10.5
        self.assertEqual(len(self.alerts()), 2)

    def test_time_moved_to_another_period_or_category(self):
        entry = self.log_time(9.0, "2026-11-10")
        self.assertEqual(len(self.alerts()), 1)
        entry.date = "2026-12-10"
        [december_alert] = self.alerts()
        self.assertFalse(self.period(11).alert_80_sent)
        self.assertEqual(self.period(12).alert_80_activity_id, december_alert)
        entry.msp_billing_category = "non_billable"
        self.assertFalse(self.alerts())
        self.assertFalse(self.period(12).alert_80_sent)

    def test_done_activity_then_usage_falls(self):
        entry = self.log_time(9.0, "2026-11-10")
        self.alerts().action_feedback(feedback="Called the customer")
        self.assertFalse(self.period(11).alert_80_activity_id)
        entry.unit_amount = 2.0
        self.assertFalse(self.alerts())
        self.assertFalse(self.period(11).alert_80_sent)

    def test_edits_within_one_transaction_count_once(self):
        entry = self.log_time(9.0, "2026-11-10")
        self.assertEqual(len(self.alerts()), 1)
        entry.unit_amount = 2.0
        entry.unit_amount = 9.5
        self.assertEqual(len(self.alerts()), 1, "usage is checked as the transaction ends")
        self.assertFalse(self.notes("the alert is withdrawn"))
