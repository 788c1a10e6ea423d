from datetime import date

from odoo.tests import Form, tagged

from .common import MspBillingCase


@tagged("post_install", "-at_install")
class TestBillingStartDate(MspBillingCase):
    """ "Bill time from": history before it is never invoiced, by any path."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.product_hardware = cls.env["product.product"].create(
            {"name": "Switch, 24 ports", "list_price": 300.0, "type": "consu"}
        )

    def set_start(self, day):
        self.env.company.msp_billing_start_date = day

    def charge(self, day, partner=None):
        return self.env["msp.charge"].create(
            {
                "partner_id": (partner or self.customer).id,
                "product_id": self.product_hardware.id,
                "quantity": 1,
                "price_unit": 300.0,
                "date": day,
            }
        )

    def adhoc_hours(self, invoices):
        return sum(self.lines_of(invoices, self.product_adhoc).mapped("quantity"))

    def test_retainer_invoice_skips_history(self):
        self.create_retainer()
        self.set_start("2026-01-20")
        old_time = self.log_time(3.0, "2026-01-10", category="adhoc")
        new_time = self.log_time(2.0, "2026-01-25", category="adhoc")
        old_charge, new_charge = self.charge("2026-01-05"), self.charge("2026-01-21")
        invoices = self.run_billing("2026-02-01")
        self.assertEqual(self.adhoc_hours(invoices), 2.0)
        self.assertTrue(new_time.msp_invoice_line_id)
        self.assertTrue(new_charge.invoice_line_id)
        self.assertFalse(old_time.msp_invoice_line_id)
        self.assertFalse(old_charge.invoice_line_id)
        # Never later either.
        self.assertFalse(self.adhoc_hours(self.run_billing("2026-03-01")))
        self.assertFalse(old_time.msp_invoice_line_id or old_charge.invoice_line_id)

    def test_no_overage_for_periods_ended_before_it(self):
        retainer = self.create_retainer()
        self.log_time(12.0, "2026-01-10")  # January: 2 h over
        self.log_time(13.0, "2026-02-10")  # February: 3 h over
        self.set_start("2026-02-01")
        invoices = self.run_billing("2026-03-01")
        overage = self.lines_of(invoices, self.product_overage)
        self.assertEqual(overage.quantity, 3.0, "February only")
        january = retainer.period_ids.filtered(lambda p: p.date_start == date(2026, 1, 1))
        self.assertFalse(january.overage_invoice_id)
        kpis = self.Retainer.with_context(msp_date="2026-03-15")._get_revenue_kpis()
        self.assertNotIn(retainer, kpis["overage_retainer_ids"])

    def test_closing_invoice_skips_history(self):
        self.create_retainer(date_end="2026-01-31")
        self.set_start("2026-01-15")
        self.log_time(1.0, "2026-01-10", category="adhoc")
        self.log_time(1.5, "2026-01-20", category="adhoc")
        invoices = self.run_billing("2026-02-01")
        closing = invoices.filtered(lambda m: "closing" in (m.invoice_origin or ""))
        self.assertEqual(self.adhoc_hours(closing), 1.5)

    def test_monthly_invoice_without_retainer(self):
        self.set_start("2026-01-15")
        old = self.log_time(4.0, "2026-01-10", category="adhoc")
        self.charge("2026-01-02")
        # Only history: no invoice at all.
        self.assertFalse(self.run_billing("2026-02-01"))
        new = self.log_time(1.0, "2026-02-03", category="adhoc")
        invoice = self.run_billing("2026-03-01")
        self.assertEqual(len(invoice), 1)
        self.assertEqual(self.adhoc_hours(invoice), 1.0)
        self.assertTrue(new.msp_invoice_line_id)
        self.assertFalse(old.msp_invoice_line_id)

    def test_invoice_now_skips_history(self):
        retainer = self.create_retainer(date_start="2026-01-01")
        self.run_billing("2026-01-01")
        self.set_start("2026-01-20")
        self.log_time(3.0, "2026-01-10", category="adhoc")
        self.log_time(0.5, "2026-01-22", category="adhoc")
        action = retainer.with_context(msp_date="2026-02-02").action_invoice_now()
        invoice = self.env["account.move"].search(
            action.get("domain") or [("id", "=", action["res_id"])]
        )
        self.assertEqual(self.adhoc_hours(invoice), 0.5)

    def test_install_on_a_database_with_history(self):
        Company = self.env["res.company"]
        with_history = Company.create({"name": "MSP with history"})
        without_history = Company.create({"name": "New MSP"})
        already_set = Company.create(
            {"name": "MSP that chose", "msp_billing_start_date": "2020-01-01"}
        )
        for company in with_history | already_set:
            customer = self.env["res.partner"].create(
                {"name": f"Customer of {company.name}", "company_id": company.id}
            )
            project = (
                self.env["project.project"]
                .with_company(company)
                .create(
                    {"name": "Old project", "partner_id": customer.id, "company_id": company.id}
                )
            )
            self.env["account.analytic.line"].with_company(company).create(
                {
                    "name": "Work from 2019",
                    "project_id": project.id,
                    "employee_id": self.env["hr.employee"]
                    .create({"name": f"Tech of {company.name}", "company_id": company.id})
                    .id,
                    "unit_amount": 5.0,
                    "date": "2019-06-01",
                    "company_id": company.id,
                }
            )
        Company.with_context(msp_date="2026-12-02")._msp_init_billing_start_date()
        self.assertEqual(with_history.msp_billing_start_date, date(2026, 12, 2))
        self.assertFalse(without_history.msp_billing_start_date)
        self.assertEqual(already_set.msp_billing_start_date, date(2020, 1, 1))

    def test_revenue_setting(self):
        company = self.env.company.with_user(self.user_billing_manager)
        action = company._msp_action_settings()
        settings = Form(company, view=action["views"][0][0])
        settings.msp_billing_start_date = date(2026, 4, 1)
        settings.save()
        self.assertEqual(self.env.company.msp_billing_start_date, date(2026, 4, 1))
