from datetime import date

from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, tagged

from .common import MspBillingCase


@tagged("post_install", "-at_install")
class TestBillingPreview(MspBillingCase):
    """The billing preview shows what the run will draft, writing nothing; the
    run on the same date then drafts exactly those invoices."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Partner = cls.env["res.partner"]
        # A retainer customer with overage, ad-hoc time and a charge.
        cls.retainer = cls.create_retainer(date_start="2026-03-01")
        cls.log_time(12.5, "2026-03-10")
        cls.log_time(2.0, "2026-03-12", category="adhoc")
        cls.env["msp.charge"].create(
            {
                "partner_id": cls.customer.id,
                "product_id": cls.product_adhoc.id,
                "name": "On-site visit",
                "quantity": 1,
                "price_unit": 95.0,
                "date": "2026-03-20",
            }
        )
        cls.env["msp.retainer"]._run_billing(run_date=date(2026, 3, 1))
        # A customer without a retainer: its ad-hoc time on the 1st of the month.
        cls.walk_in = Partner.create({"name": "Walk-in Dental", "is_company": True})
        walk_in_project = cls.env["project.project"].create(
            {"name": "Walk-in Dental – Support", "partner_id": cls.walk_in.id}
        )
        cls.walk_in_task = cls.env["project.task"].create(
            {"name": "Printer", "project_id": walk_in_project.id}
        )
        cls.log_time(1.5, "2026-03-18", category=None, task=cls.walk_in_task)
        # A catch-up: a quarterly retainer started in the past, never billed.
        cls.late_customer = Partner.create({"name": "Catch-up Legal", "is_company": True})
        cls.late_retainer = cls.create_retainer(
            partner_id=cls.late_customer.id,
            date_start="2025-10-01",
            billing_cycle="quarterly",
            amount=3000.0,
        )

    def own(self, rows):
        return [row for row in rows if row["partner_id"] not in self.partners_before]

    def invoice_rows(self, invoices):
        rows = []
        for invoice in invoices.sorted(lambda m: (m.invoice_date, m.partner_id.id, m.id)):
            section, lines = None, []
            for line in invoice.invoice_line_ids.sorted("sequence"):
                if line.display_type == "line_section":
                    section = line.name
                    continue
                lines.append(
                    (section, line.name, line.quantity, line.price_unit, line.price_subtotal)
                )
            rows.append(
                (
                    invoice.partner_id.id,
                    invoice.msp_retainer_id.id,
                    invoice.invoice_date,
                    invoice.amount_untaxed,
                    lines,
                )
            )
        return rows

    def preview_rows(self, previews):
        rows = [
            (
                p["partner_id"],
                p["retainer_id"] or 0,
                p["invoice_date"],
                p["amount_untaxed"],
                [
                    (
                        li["section"],
                        li["name"],
                        li["quantity"],
                        li["price_unit"],
                        li["price_subtotal"],
                    )
                    for li in p["lines"]
                ],
            )
            for p in previews
        ]
        return sorted(rows, key=lambda r: (r[2], r[0]))

    def counts(self):
        models = (
            "account.move",
            "account.move.line",
            "msp.retainer.period",
            "mail.message",
            "mail.activity",
            "account.analytic.line",
        )
        counts = {name: self.env[name].sudo().search_count([]) for name in models}
        counts["sequence"] = self.env["ir.sequence"].search_read(
            [("code", "=", "msp.retainer")], ["number_next_actual"]
        )
        return counts

    def test_preview_equals_run(self):
        day = date(2026, 4, 1)
        before = self.counts()
        previews = self.own(self.Retainer._get_billing_preview(run_date=day))
        self.env.flush_all()
        self.assertEqual(self.counts(), before, "the preview writes nothing")
        partners = {p["partner_id"] for p in previews}
        self.assertEqual(partners, {self.customer.id, self.walk_in.id, self.late_customer.id})
        self.assertEqual(
            len([p for p in previews if p["retainer_id"] == self.late_retainer.id]),
            3,
            "October, January and April, caught up",
        )
        invoices = self.run_billing(day)
        self.assertEqual(self.preview_rows(previews), self.invoice_rows(invoices))
        retainer_invoice = next(p for p in previews if p["retainer_id"] == self.retainer.id)
        sections = {line["section"] for line in retainer_invoice["lines"]}
        self.assertEqual(sections, {"Retainer fee", "Overage", "Ad-hoc time", "Charges"})
        self.assertEqual(retainer_invoice["amount_untaxed"], 1000.0 + 300.0 + 300.0 + 95.0)
        # Once billed, nothing is left to preview.
        self.assertFalse(self.own(self.Retainer._get_billing_preview(run_date=day)))

    def test_preview_screen_and_generate(self):
        preview = Form(self.env["msp.billing.preview"].with_user(self.user_billing_manager))
        preview.run_date = date(2026, 4, 1)
        record = preview.save()
        own_lines = record.line_ids.filtered(
            lambda row: row.partner_id.id not in self.partners_before
        )
        self.assertEqual(len(own_lines), 5)
        ours = own_lines.filtered(lambda row: row.retainer_id == self.retainer)
        self.assertEqual(
            (ours.amount_fee, ours.amount_overage, ours.amount_adhoc, ours.amount_charge),
            (1000.0, 300.0, 300.0, 95.0),
        )
        self.assertIn("On-site visit", ours.detail)
        action = record.action_generate()
        invoices = self.env["account.move"].search(
            action.get("domain") or [("id", "=", action["res_id"])]
        )
        mine = invoices.filtered(
            lambda m: m.partner_id.commercial_partner_id.id not in self.partners_before
        )
        self.assertEqual(
            sorted(mine.mapped("amount_untaxed")), sorted(own_lines.mapped("amount_untaxed"))
        )

    def test_only_billing_managers_preview(self):
        preview = self.env["msp.billing.preview"].create({"run_date": "2026-04-01"})
        for user in (self.user_technician, self.user_account_manager):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                preview.with_user(user).action_preview()

    def test_refresh_stays_on_the_same_preview(self):
        preview = self.env["msp.billing.preview"].create({"run_date": "2026-04-01"})
        self.assertEqual(preview.display_name, "Billing Preview of 04/01/2026")
        rows = preview.line_ids
        # True: the form reloads in place, no new breadcrumb.
        self.assertIs(preview.with_user(self.user_billing_manager).action_preview(), True)
        self.assertEqual(len(preview.line_ids), len(rows))
        self.assertFalse(rows.exists(), "the rows are prepared again")

    def test_a_future_date_is_previewed_not_billed(self):
        preview = self.env["msp.billing.preview"].create({"run_date": "2999-01-01"})
        self.assertTrue(preview.line_ids)
        with self.assertRaisesText(UserError, "future date"):
            preview.action_generate()
