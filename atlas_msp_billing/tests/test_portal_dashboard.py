from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import MspBillingCase

FEB_15 = "2026-02-15"


@tagged("post_install", "-at_install")
class TestRevenueKpis(MspBillingCase):
    """Key figures of the Revenue dashboard and the rows of the analysis, on
    three retainers (monthly, quarterly, annual) seen on Feb 15, 2026."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer_q, cls.customer_a = cls.env["res.partner"].create(
            [
                {
                    "name": "Quarterly Customer",
                    "is_company": True,
                    "user_id": cls.user_account_manager.id,
                },
                {"name": "Annual Customer", "is_company": True},
            ]
        )
        cls.project_q = cls.env["project.project"].create(
            {"name": "Managed IT – Quarterly", "partner_id": cls.customer_q.id}
        )
        cls.task_q = cls.env["project.task"].create(
            {"name": "Firewall", "project_id": cls.project_q.id}
        )
        # Monthly: 10 h included at 120/h, 13 h used in January (3 h over, ended).
        cls.monthly = cls.create_retainer()
        # Quarterly: 30 h at 100/h, 32 h used so far this quarter (2 h over, current).
        cls.quarterly = cls.create_retainer(
            partner_id=cls.customer_q.id,
            amount=3000.0,
            billing_cycle="quarterly",
            included_hours=30.0,
            overage_rate=100.0,
        )
        cls.annual = cls.create_retainer(
            partner_id=cls.customer_a.id,
            amount=12000.0,
            billing_cycle="annual",
            included_hours=0.0,
        )
        cls.retainers = cls.monthly | cls.quarterly | cls.annual
        cls.log_time(13.0, "2026-01-20")
        # A time entry holds one day's work at most.
        cls.log_time(16.0, "2026-02-10", task=cls.task_q)
        cls.log_time(16.0, "2026-02-11", task=cls.task_q)
        cls.Report = cls.env["msp.revenue.report"].with_context(msp_date=FEB_15)

    def kpis(self, report=None):
        return (report or self.Report)._get_revenue_kpis()

    def rows(self):
        return {
            row.retainer_id: row
            for row in self.Report.search([("retainer_id", "in", self.retainers.ids)])
        }

    def test_recurring_revenue(self):
        kpis = self.kpis()
        self.assertEqual(kpis["mrr"], 3000.0)
        self.assertEqual(kpis["arr"], 36000.0)
        self.assertEqual(kpis["active_retainers"], 3)
        self.assertEqual(
            set(kpis),
            {
                "mrr",
                "arr",
                "active_retainers",
                "overage_retainer_ids",
                "overage_amount",
                "draft_invoice_count",
                "pipeline_mrr_by_stage",
            },
        )
        # Same figures through the retainer model (the public name).
        self.assertEqual(
            self.env["msp.retainer"].with_context(msp_date=FEB_15)._get_revenue_kpis()["mrr"],
            3000.0,
        )
        self.annual.write({"state": "closed"})
        kpis = self.kpis()
        self.assertEqual(kpis["mrr"], 2000.0)
        self.assertEqual(kpis["arr"], 24000.0)
        self.assertEqual(kpis["active_retainers"], 2)

    def test_overage_not_yet_billed(self):
        kpis = self.kpis()
        self.assertEqual(kpis["overage_retainer_ids"], self.monthly | self.quarterly)
        self.assertEqual(kpis["overage_amount"], 3 * 120.0 + 2 * 100.0)

        # The February invoice bills January's overage: only the quarterly's is left.
        before = kpis["draft_invoice_count"]
        self.retainers.with_context(msp_date="2026-02-01").action_invoice_now()
        invoices = self.env["account.move"].search([("msp_retainer_id", "in", self.retainers.ids)])
        # Monthly: January and February fees; quarterly and annual: their first fee.
        self.assertEqual(len(invoices), 4)
        kpis = self.kpis()
        self.assertEqual(kpis["overage_retainer_ids"], self.quarterly)
        self.assertEqual(kpis["overage_amount"], 200.0)
        self.assertEqual(kpis["draft_invoice_count"], before + 4)

        # A cancelled invoice bills nothing: January's overage waits again.
        overage_invoice = self.monthly.period_ids.overage_invoice_id
        self.assertTrue(overage_invoice)
        overage_invoice.button_cancel()
        kpis = self.kpis()
        self.assertEqual(kpis["overage_retainer_ids"], self.monthly | self.quarterly)
        self.assertEqual(kpis["overage_amount"], 560.0)
        self.assertEqual(kpis["draft_invoice_count"], before + 3)

        (invoices - overage_invoice)[:1].action_post()
        self.assertEqual(self.kpis()["draft_invoice_count"], before + 2)

    def test_report_rows(self):
        rows = self.rows()
        monthly, quarterly, annual = rows[self.monthly], rows[self.quarterly], rows[self.annual]
        self.assertEqual(
            (quarterly.amount, quarterly.monthly_fee, annual.monthly_fee), (3000.0, 1000.0, 1000.0)
        )
        self.assertEqual(quarterly.billing_cycle, "quarterly")
        self.assertEqual(quarterly.user_id, self.user_account_manager)
        self.assertEqual(quarterly.partner_id, self.customer_q)
        # Current quarter: 32 h of 30.
        self.assertEqual(str(quarterly.period_start), "2026-01-01")
        self.assertEqual(str(quarterly.period_end), "2026-03-31")
        self.assertEqual((quarterly.included_hours, quarterly.hours_used), (30.0, 32.0))
        self.assertAlmostEqual(quarterly.usage_percent, 106.67, places=2)
        self.assertEqual((quarterly.overage_hours, quarterly.overage_amount), (2.0, 200.0))
        self.assertTrue(quarterly.is_overage)
        self.assertEqual(quarterly.hours_remaining, 0.0)
        # February has no time yet (its period is not recorded): 10 h to use,
        # and January's 3 h over still to bill.
        self.assertEqual((monthly.included_hours, monthly.hours_used), (10.0, 0.0))
        self.assertEqual((monthly.usage_percent, monthly.hours_remaining), (0.0, 10.0))
        self.assertEqual((monthly.overage_hours, monthly.overage_amount), (3.0, 360.0))
        self.assertFalse(monthly.is_overage)
        self.assertEqual((annual.included_hours, annual.usage_percent), (0.0, 0.0))

        # In January, the monthly retainer is in overage too. The rows depend
        # on the date: drop those cached for Feb 15.
        self.env.invalidate_all()
        january = self.Report.with_context(msp_date="2026-01-25")
        row = january.search([("retainer_id", "=", self.monthly.id)])
        self.assertTrue(row.is_overage)
        self.assertEqual((row.hours_used, row.usage_percent), (13.0, 130.0))
        self.assertEqual(
            january.search(
                [("retainer_id", "in", self.retainers.ids), ("is_overage", "=", True)]
            ).retainer_id,
            self.monthly | self.quarterly,
        )

        # As the pivot reads it.
        groups = self.Report.read_group(
            [("retainer_id", "in", self.retainers.ids)],
            ["monthly_fee:sum", "overage_amount:sum"],
            ["billing_cycle"],
        )
        by_cycle = {g["billing_cycle"]: (g["monthly_fee"], g["overage_amount"]) for g in groups}
        self.assertEqual(
            by_cycle,
            {"monthly": (1000.0, 360.0), "quarterly": (1000.0, 200.0), "annual": (1000.0, 0.0)},
        )

    def test_other_currency_converted(self):
        company_currency = self.env.company.currency_id
        other = self.env["res.currency"].search(
            [("id", "!=", company_currency.id), ("active", "in", (True, False))], limit=1
        )
        other.active = True
        self.env["res.currency.rate"].search(
            [("currency_id", "in", (other | company_currency).ids)]
        ).unlink()
        # 2 units of the other currency per unit of the company's.
        self.env["res.currency.rate"].create(
            {"currency_id": other.id, "rate": 2.0, "name": "2026-01-01"}
        )
        self.annual.write({"currency_id": other.id})
        row = self.rows()[self.annual]
        self.assertEqual((row.amount, row.monthly_fee), (6000.0, 500.0))
        self.assertEqual(self.kpis()["mrr"], 2500.0)

    def test_pipeline_by_stage(self):
        Stage = self.env["crm.stage"]
        open_stage, won_stage = Stage.create(
            [{"name": "MSP Test Proposal"}, {"name": "MSP Test Won", "is_won": True}]
        )
        Lead = self.env["crm.lead"]
        leads = Lead.create(
            [
                {
                    "name": "A",
                    "type": "opportunity",
                    "stage_id": open_stage.id,
                    "msp_estimated_mrr": 500,
                },
                {
                    "name": "B",
                    "type": "opportunity",
                    "stage_id": open_stage.id,
                    "msp_estimated_mrr": 250,
                },
                {
                    "name": "Won",
                    "type": "opportunity",
                    "stage_id": won_stage.id,
                    "msp_estimated_mrr": 900,
                },
                {
                    "name": "Lost",
                    "type": "opportunity",
                    "stage_id": open_stage.id,
                    "msp_estimated_mrr": 70,
                },
            ]
        )
        leads[3].action_set_lost()
        leads[:2].user_id = self.user_account_manager
        pipeline = self.kpis()["pipeline_mrr_by_stage"]
        self.assertEqual(pipeline["MSP Test Proposal"], 750.0)
        # A billing manager sees the whole pipeline, not only their own leads.
        as_billing = self.kpis(self.Report.with_user(self.user_billing_manager))
        self.assertEqual(as_billing["pipeline_mrr_by_stage"]["MSP Test Proposal"], 750.0)
        self.assertNotIn("MSP Test Won", pipeline)
        # Stages in pipeline order.
        stages = Stage.search([("name", "in", list(pipeline))])
        self.assertEqual(list(pipeline), list(dict.fromkeys(stages.mapped("name"))))

    def test_query_count_does_not_grow(self):
        def count_queries():
            self.env.flush_all()
            self.env.invalidate_all()
            start = self.env.cr.sql_log_count
            self.kpis()
            return self.env.cr.sql_log_count - start

        count_queries()  # warm the caches (rules, currencies)
        for _i in range(9):
            self.log_time(0.5, "2026-02-03")
        small = count_queries()
        day = fields.Date.to_date("2026-02-04")
        self.env["account.analytic.line"].create(
            [
                {
                    "name": f"Entry {i}",
                    "project_id": self.project.id,
                    "task_id": self.task_a.id,
                    "employee_id": self.employee.id,
                    "unit_amount": 0.25,
                    "date": day + timedelta(days=i % 20),
                    "msp_billing_category": "retainer",
                }
                for i in range(190)
            ]
        )
        self.assertEqual(count_queries(), small)
        # Nor with the number of retainers.
        partners = self.env["res.partner"].create(
            [{"name": f"Extra Customer {i}", "is_company": True} for i in range(20)]
        )
        for partner in partners:
            self.create_retainer(partner_id=partner.id)
        self.assertEqual(count_queries(), small)
        self.assertLessEqual(small, 10)

    def test_dashboard_access_and_data(self):
        report = self.env["msp.revenue.report"].with_user(self.user_account_manager)
        data = report.with_context(msp_date=FEB_15).get_dashboard_data()
        self.assertEqual(
            sorted(data["overage_retainer_ids"]), sorted((self.monthly | self.quarterly).ids)
        )
        self.assertEqual(data["currency_id"], self.env.company.currency_id.id)
        self.assertEqual(data["overage"][0]["retainer_id"][0], self.monthly.id)
        self.assertEqual(data["overage"][0]["overage_amount"], 360.0)
        self.assertEqual(data["usage"][0]["retainer_id"][0], self.quarterly.id)
        action = report.action_open_draft_invoices()
        self.assertEqual(action["res_model"], "account.move")
        with self.assertRaises(AccessError):
            self.env["msp.revenue.report"].with_user(self.user_technician).get_dashboard_data()
        dashboard = self.env.ref("atlas_msp_billing.menu_msp_dashboard")
        self.assertEqual(dashboard.parent_id, self.env.ref("atlas_msp_billing.menu_msp_root"))
        self.assertEqual(
            dashboard.action, self.env.ref("atlas_msp_billing.msp_revenue_dashboard_action")
        )
        menus = self.env["ir.ui.menu"].with_user(self.user_technician)._visible_menu_ids()
        self.assertNotIn(dashboard.id, menus)
