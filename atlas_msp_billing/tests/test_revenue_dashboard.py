from datetime import date, timedelta

from odoo import Command
from odoo.tests import tagged

from .common import MspBillingCase

# The dashboard's "today": the timeline runs from January to December 2025.
TODAY = "2025-12-15"
MONTHS = [date(2025, month, 1).isoformat() for month in range(1, 13)]


def records_of(env, action):
    """The records a window action opens."""
    model = env[action["res_model"]]
    if action.get("res_id"):
        return model.browse(action["res_id"])
    return model.search(action.get("domain") or [])


@tagged("post_install", "-at_install")
class TestMrrTimeline(MspBillingCase):
    """A year of retainer history: an annual retainer that ends, a quarterly
    one whose fee goes down for the periods not created yet, and a monthly one
    upgraded to a new retainer at a higher fee."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer_b, cls.customer_c = cls.env["res.partner"].create(
            [
                {"name": "Quarterly Co", "is_company": True},
                {"name": "Annual Co", "is_company": True},
            ]
        )
        # Annual, Jan 10 to Sep 30: one partial period, still 1000 a month; churns in October.
        cls.annual = cls.create_retainer(
            partner_id=cls.customer_c.id,
            amount=12000.0,
            billing_cycle="annual",
            date_start="2025-01-10",
            date_end="2025-09-30",
        )
        cls.annual.state = "closed"
        # Quarterly from Feb 15 at 3000 (1000 a month); its two first periods are
        # recorded, then the fee goes down to 2400 (800 a month) from the third.
        cls.quarterly = cls.create_retainer(
            partner_id=cls.customer_b.id,
            amount=3000.0,
            billing_cycle="quarterly",
            date_start="2025-02-15",
        )
        project_b = cls.env["project.project"].create(
            {"name": "Managed IT – Quarterly Co", "partner_id": cls.customer_b.id}
        )
        task_b = cls.env["project.task"].create({"name": "Backups", "project_id": project_b.id})
        cls.log_time(1.0, "2025-06-02", task=task_b)
        cls.quarterly.amount = 2400.0
        # Monthly at 1000 from March, upgraded in June to a new retainer at 1500.
        cls.monthly = cls.create_retainer(date_start="2025-03-01", date_end="2025-05-31")
        cls.monthly.state = "closed"
        cls.upgrade = cls.create_retainer(date_start="2025-06-01", amount=1500.0)
        # Never active: counts nowhere.
        cls.create_retainer(activate=False, partner_id=cls.customer_b.id, date_start="2026-03-01")
        cls.Report = cls.env["msp.revenue.report"].with_context(msp_date=TODAY)

    def timeline(self):
        return {month.pop("month"): month for month in self.Report._get_mrr_timeline()}

    def test_mrr_per_month(self):
        self.assertEqual(len(self.quarterly.period_ids), 2)
        timeline = self.timeline()
        self.assertEqual(list(timeline), MONTHS)
        mrr = [month["mrr"] for month in timeline.values()]
        self.assertEqual(
            mrr,
            [1000.0, 2000.0]
            + [3000.0] * 3  # March to May: annual, quarterly, monthly
            + [3500.0] * 2  # June, July: the upgrade
            + [3300.0] * 2  # August, September: the quarterly's lower fee
            + [2300.0] * 3,  # October to December: the annual has ended
        )
        # The current month is the MRR of the key figures.
        self.assertEqual(mrr[-1], self.Report._get_revenue_kpis()["mrr"])

    def test_movements(self):
        timeline = self.timeline()
        movements = {
            month: {kind: amount for kind, amount in figures.items() if kind != "mrr" and amount}
            for month, figures in timeline.items()
        }
        self.assertEqual(
            {month: moves for month, moves in movements.items() if moves},
            {
                "2025-01-01": {"new": 1000.0},
                "2025-02-01": {"new": 1000.0},
                "2025-03-01": {"new": 1000.0},
                # A new retainer at a higher fee is the customer's expansion.
                "2025-06-01": {"expansion": 500.0},
                "2025-08-01": {"contraction": -200.0},
                "2025-10-01": {"churn": -1000.0},
            },
        )
        # The movements of a month explain its change of MRR.
        previous = 0.0
        for figures in timeline.values():
            moved = sum(amount for kind, amount in figures.items() if kind != "mrr")
            self.assertAlmostEqual(figures["mrr"] - previous, moved)
            previous = figures["mrr"]

    def test_each_figure_opens_its_retainers(self):
        def behind(month, movement):
            return records_of(self.env, self.Report.action_open_mrr_movement(month, movement))

        self.assertEqual(behind("2025-12-01", "mrr"), self.quarterly | self.upgrade)
        self.assertEqual(behind("2025-05-20", "mrr"), self.annual | self.quarterly | self.monthly)
        self.assertEqual(behind("2025-01-01", "new"), self.annual)
        self.assertEqual(behind("2025-06-01", "expansion"), self.monthly | self.upgrade)
        self.assertEqual(behind("2025-08-01", "contraction"), self.quarterly)
        self.assertEqual(behind("2025-10-01", "churn"), self.annual)
        self.assertFalse(behind("2025-11-01", "churn"))
        action = self.Report.action_open_mrr_movement("2025-10-01", "churn")
        self.assertEqual(action["display_name"], "Churn – October 2025")
        with self.assertRaises(ValueError):
            self.Report.action_open_mrr_movement("2025-10-01", "refund")

    def test_one_query_whatever_the_history(self):
        def count_queries():
            self.env.flush_all()
            self.env.invalidate_all()
            start = self.env.cr.sql_log_count
            self.Report._get_mrr_timeline()
            return self.env.cr.sql_log_count - start

        count_queries()  # warm the caches
        small = count_queries()
        # More retainers, with years of periods and time entries.
        partners = self.env["res.partner"].create(
            [{"name": f"Long Customer {i}", "is_company": True} for i in range(10)]
        )
        for partner in partners:
            self.create_retainer(partner_id=partner.id, date_start="2020-01-01")
        self.env["account.analytic.line"].create(
            [
                {
                    "name": f"Entry {i}",
                    "task_id": self.task_a.id,
                    "project_id": self.project.id,
                    "employee_id": self.employee.id,
                    "unit_amount": 0.5,
                    "date": date(2025, 6, 1) + timedelta(days=i),
                    "msp_billing_category": "retainer",
                }
                for i in range(150)
            ]
        )
        self.assertEqual(count_queries(), small)
        self.assertLessEqual(small, 6)
        self.assertEqual(self.timeline()["2025-12-01"]["mrr"], 2300.0 + 10 * 1000.0)


@tagged("post_install", "-at_install")
class TestUnbilledWork(MspBillingCase):
    """Ad-hoc time and charges waiting for the next invoices, beside overage."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The database may hold demo work waiting to be billed: these tests
        # count only theirs.
        Report = cls.env["msp.revenue.report"]
        cls.env["account.analytic.line"].search(Report._msp_unbilled_time_domain()).write(
            {"msp_billing_category": "non_billable"}
        )
        cls.env["msp.charge"].search(Report._msp_pending_charge_domain()).unlink()
        cls.retainer = cls.create_retainer(date_start="2026-01-01")  # ad hoc at 150/h
        pricelist = cls.env["product.pricelist"].create(
            {
                "name": "MSP Test Prices",
                "currency_id": cls.env.company.currency_id.id,
                "item_ids": [
                    Command.create(
                        {
                            "applied_on": "0_product_variant",
                            "product_id": cls.product_adhoc.product_variant_id.id,
                            "fixed_price": 90.0,
                        }
                    )
                ],
            }
        )
        cls.walk_in = cls.env["res.partner"].create(
            {"name": "Walk-in Co", "is_company": True, "property_product_pricelist": pricelist.id}
        )
        cls.walk_in_contact = cls.env["res.partner"].create(
            {"name": "Wanda Walk-in", "parent_id": cls.walk_in.id}
        )
        project = cls.env["project.project"].create(
            {"name": "Walk-in Jobs", "partner_id": cls.walk_in_contact.id}
        )
        cls.task_walk_in = cls.env["project.task"].create(
            {"name": "Laptop repair", "project_id": project.id}
        )
        cls.Report = cls.env["msp.revenue.report"].with_context(msp_date="2026-03-15")

    def test_unbilled_adhoc_time(self):
        Report = self.Report.with_user(self.user_account_manager)
        before = Report._msp_unbilled_time()
        entries = (
            self.log_time(2.0, "2026-02-10", category="adhoc")  # 300 at the retainer's rate
            | self.log_time(3.0, "2026-02-11", category="adhoc", task=self.task_walk_in)  # 270
        )
        self.log_time(4.0, "2026-02-12", category="non_billable")
        self.log_time(5.0, "2026-02-13", category="retainer")
        after = Report._msp_unbilled_time()
        self.assertEqual(after["hours"] - before["hours"], 5.0)
        self.assertAlmostEqual(after["amount"] - before["amount"], 570.0)

        # The figure opens exactly its time entries.
        behind = records_of(Report.env, Report.action_open_unbilled_time())
        self.assertLessEqual(entries, behind)
        self.assertAlmostEqual(sum(behind.mapped("unit_amount")), after["hours"])
        self.assertEqual(set(behind.mapped("msp_billing_category")), {"adhoc"})

        # Time before "Bill time from" is never billed: not unbilled either.
        self.env.company.msp_billing_start_date = "2026-02-11"
        self.assertEqual(Report._msp_unbilled_time()["hours"], 3.0)
        self.assertEqual(records_of(Report.env, Report.action_open_unbilled_time()), entries[1])

        # Billed time is no longer waiting.
        self.run_billing("2026-03-01")
        self.assertEqual(Report._msp_unbilled_time(), {"hours": 0.0, "amount": 0.0})
        self.assertFalse(records_of(Report.env, Report.action_open_unbilled_time()))

    def test_unbilled_time_queries_do_not_grow_with_entries(self):
        def count_queries():
            self.env.flush_all()
            self.env.invalidate_all()
            start = self.env.cr.sql_log_count
            self.Report._msp_unbilled_time()
            return self.env.cr.sql_log_count - start

        self.log_time(1.0, "2026-02-10", category="adhoc")
        self.log_time(1.0, "2026-02-10", category="adhoc", task=self.task_walk_in)
        count_queries()  # warm the caches
        small = count_queries()
        for task in (self.task_a, self.task_walk_in):
            self.env["account.analytic.line"].create(
                [
                    {
                        "name": f"Entry {i}",
                        "task_id": task.id,
                        "project_id": task.project_id.id,
                        "employee_id": self.employee.id,
                        "unit_amount": 0.25,
                        "date": date(2026, 2, 1) + timedelta(days=i % 28),
                        "msp_billing_category": "adhoc",
                    }
                    for i in range(100)
                ]
            )
        self.assertEqual(count_queries(), small)
        self.assertEqual(self.Report._msp_unbilled_time()["hours"], 52.0)

    def test_pending_charges(self):
        Report = self.Report.with_user(self.user_account_manager)
        Charge = self.env["msp.charge"]
        product = self.env["product.product"].create({"name": "Switch", "list_price": 10.0})
        old, *recent = Charge.create(
            [
                {
                    "partner_id": self.walk_in.id,
                    "product_id": product.id,
                    "date": day,
                    "quantity": quantity,
                    "price_unit": price,
                }
                for day, quantity, price in (
                    ("2025-12-20", 1.0, 500.0),
                    ("2026-02-01", 3.0, 33.33),
                    ("2026-02-02", 1.0, 899.0),
                )
            ]
        )
        self.assertEqual(Report._msp_pending_charges(), {"count": 3, "amount": 1498.99})
        self.env.company.msp_billing_start_date = "2026-01-01"
        figures = Report._msp_pending_charges()
        self.assertEqual(figures, {"count": 2, "amount": 998.99})
        behind = records_of(Report.env, Report.action_open_pending_charges())
        self.assertEqual(behind, Charge.browse([charge.id for charge in recent]))
        self.assertNotIn(old, behind)

        self.run_billing("2026-03-01")
        self.assertEqual(Report._msp_pending_charges(), {"count": 0, "amount": 0.0})

    def test_dashboard_data(self):
        self.log_time(2.0, "2026-02-10", category="adhoc")
        data = self.Report.with_user(self.user_account_manager).get_dashboard_data()
        self.assertEqual(data["usage_thresholds"], {"warning": 80.0, "overage": 100.0})
        self.assertGreaterEqual(data["unbilled_time"]["hours"], 2.0)
        self.assertIn("count", data["pending_charges"])
        self.assertEqual(len(data["mrr_timeline"]), 12)
        self.assertEqual(data["mrr_timeline"][-1]["month"], "2026-03-01")


@tagged("post_install", "-at_install")
class TestFiguresOpenTheirRecords(MspBillingCase):
    """Each key figure of the dashboard opens exactly the records it counts."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.retainer = cls.create_retainer(date_start="2026-01-01")
        cls.log_time(12.0, "2026-01-20")  # 2 h over
        cls.Report = cls.env["msp.revenue.report"].with_context(msp_date="2026-02-15")

    def test_key_figures(self):
        Report = self.Report.with_user(self.user_account_manager)
        kpis = Report._get_revenue_kpis()
        active = records_of(Report.env, Report.action_open_active_retainers())
        self.assertEqual(len(active), kpis["active_retainers"])
        self.assertIn(self.retainer, active)
        overage = records_of(Report.env, Report.action_open_overage_retainers())
        self.assertEqual(overage, kpis["overage_retainer_ids"])
        self.assertIn(self.retainer, overage)
        rows = records_of(Report.env, Report.action_open_recurring_revenue())
        self.assertEqual(rows.retainer_id, active)
        self.assertAlmostEqual(sum(rows.mapped("monthly_fee")), kpis["mrr"])
        drafts = records_of(Report.env, Report.action_open_draft_invoices())
        self.assertEqual(len(drafts), kpis["draft_invoice_count"])

    def test_pipeline_stage(self):
        stage = self.env["crm.stage"].create({"name": "MSP Test Proposal"})
        leads = self.env["crm.lead"].create(
            [
                {
                    "name": name,
                    "type": "opportunity",
                    "stage_id": stage.id,
                    "msp_estimated_mrr": mrr,
                    "user_id": self.user_account_manager.id,
                }
                for name, mrr in (("A", 500.0), ("B", 250.0))
            ]
        )
        Report = self.Report.with_user(self.user_account_manager)
        figure = Report._get_revenue_kpis()["pipeline_mrr_by_stage"]["MSP Test Proposal"]
        behind = records_of(Report.env, Report.action_open_pipeline_stage("MSP Test Proposal"))
        self.assertEqual(behind, leads)
        self.assertEqual(sum(behind.mapped("msp_estimated_mrr")), figure)
