from datetime import date

from odoo import Command
from odoo.exceptions import ValidationError
from odoo.tests import HttpCase, new_test_user, tagged

from .common import MspBillingCase


@tagged("post_install", "-at_install")
class TestRecurringServices(MspBillingCase):
    """Rule 11: per-seat and per-device services billed in advance with the fee."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.product_endpoint, cls.product_licence = cls.env["product.product"].create(
            [
                {
                    "name": "Managed endpoint",
                    "type": "service",
                    "list_price": 35.0,
                    "msp_is_recurring_service": True,
                },
                {
                    "name": "Microsoft 365 licence",
                    "type": "service",
                    "list_price": 22.0,
                    "msp_is_recurring_service": True,
                },
            ]
        )

    def add_services(self, retainer, *services):
        """``services``: (product, quantity) pairs, at the product's price."""
        return self.env["msp.retainer.line"].create(
            [
                {"retainer_id": retainer.id, "product_id": product.id, "quantity": quantity}
                for product, quantity in services
            ]
        )

    def section_layout(self, invoice):
        """The invoice's lines in order: section titles, product names of the others."""
        return [
            line.name if line.display_type == "line_section" else line.product_id.name
            for line in invoice.invoice_line_ids.sorted("sequence")
        ]

    def assertBilled(self, invoice, product, quantity, price_unit):
        line = self.lines_of(invoice, product)
        self.assertEqual((line.quantity, line.price_unit), (quantity, price_unit), product.name)
        return line

    # ------------------------------------------------------------------
    # Billing
    # ------------------------------------------------------------------
    def test_three_periods_with_a_change_and_a_partial_last_period(self):
        """Given a monthly retainer of 1,000 ending on March 15 with 25 managed
        endpoints and 10 licences, when the seats change between invoices, then
        each invoice bills the seats in force when it is drafted, and March's
        prices are prorated with the fee (15 of 31 days)."""
        retainer = self.create_retainer(date_end="2026-03-15")
        endpoints, licences = self.add_services(
            retainer, (self.product_endpoint, 25), (self.product_licence, 10)
        )
        self.assertEqual(endpoints.price_unit, 35.0, "the product's price by default")
        self.assertEqual(endpoints.price_subtotal, 875.0)

        january = self.run_billing("2026-01-01")
        self.assertEqual(
            self.section_layout(january),
            [
                "Retainer fee",
                self.product_fee.name,
                "Recurring services",
                "Managed endpoint",
                "Microsoft 365 licence",
            ],
        )
        line = self.assertBilled(january, self.product_endpoint, 25.0, 35.0)
        self.assertIn("Managed endpoint", line.name)
        self.assertIn("01/01/2026 to 01/31/2026", line.name)
        self.assertEqual(january.amount_untaxed, 1000.0 + 875.0 + 220.0)

        # Five more devices onboarded after January's invoice: from February on.
        endpoints.quantity = 30
        self.assertBilled(january, self.product_endpoint, 25.0, 35.0)
        february = self.run_billing("2026-02-01")
        self.assertBilled(february, self.product_endpoint, 30.0, 35.0)
        self.assertBilled(february, self.product_licence, 10.0, 22.0)
        self.assertEqual(february.amount_untaxed, 1000.0 + 1050.0 + 220.0)

        licences.price_unit = 24.0
        march = self.run_billing("2026-03-01")
        self.assertTrue(retainer.period_ids[-1].is_partial)
        self.assertEqual(self.lines_of(march, self.product_fee).price_unit, 483.87)
        # 35 * 15/31 = 16.935… and 24 * 15/31 = 11.612…, rounded to the cent.
        line = self.assertBilled(march, self.product_endpoint, 30.0, 16.94)
        self.assertIn("(prorated)", line.name)
        self.assertBilled(march, self.product_licence, 10.0, 11.61)
        self.assertEqual(march.amount_untaxed, 1108.17)  # 483.87 + 508.20 + 116.10

        # Billed in advance: the closing run has nothing more to bill.
        self.assertFalse(self.run_billing("2026-03-16"))

    def test_catch_up_bills_the_services_on_every_period(self):
        retainer = self.create_retainer()
        self.add_services(retainer, (self.product_licence, 3))
        invoices = self.run_billing("2026-03-10")
        self.assertEqual(len(invoices), 3)
        for invoice in invoices:
            self.assertBilled(invoice, self.product_licence, 3.0, 22.0)

    def test_no_services_no_section(self):
        self.create_retainer()
        invoice = self.run_billing("2026-01-01")
        self.assertNotIn("Recurring services", self.section_layout(invoice))

    def test_changes_are_posted_on_the_retainer(self):
        retainer = self.create_retainer().with_context(tracking_disable=False)
        Line = self.env["msp.retainer.line"].with_context(tracking_disable=False)
        line = Line.create(
            {"retainer_id": retainer.id, "product_id": self.product_endpoint.id, "quantity": 25}
        )
        line.write({"quantity": 30, "price_unit": 36.0})
        line.unlink()
        bodies = [str(body) for body in retainer.message_ids.sorted("id").mapped("body")]
        added, changed, removed = bodies[-3:]
        self.assertIn("Recurring service added: Managed endpoint, quantity 25.00 at", added)
        self.assertIn("quantity 25.00 → 30.00", changed)
        self.assertRegex(changed, r"unit price \$(&nbsp;|\s)35\.00 → \$(&nbsp;|\s)36\.00")
        self.assertIn("from the next invoice", changed)
        self.assertIn("Recurring service removed: Managed endpoint, quantity 30.00 at", removed)

    # ------------------------------------------------------------------
    # Recurring revenue
    # ------------------------------------------------------------------
    def test_mrr_of_a_quarterly_retainer_with_services(self):
        """Given a quarterly retainer of 3,000 with 10 endpoints at 30 and 5
        licences at 12, its MRR is (3,000 + 300 + 60) ÷ 3 = 1,120."""
        retainer = self.create_retainer(amount=3000.0, billing_cycle="quarterly")
        endpoints, _licences = self.add_services(
            retainer, (self.product_endpoint, 10), (self.product_licence, 5)
        )
        endpoints.price_unit = 30.0
        retainer.line_ids.filtered(lambda s: s.product_id == self.product_licence).price_unit = 12
        Report = self.env["msp.revenue.report"].with_context(msp_date="2026-02-15")
        kpis = Report._get_revenue_kpis()
        self.assertEqual(kpis["mrr"], 1120.0)
        self.assertEqual(kpis["arr"], 13440.0)
        row = Report.search([("retainer_id", "=", retainer.id)])
        self.assertEqual(row.monthly_fee, 1120.0)
        self.assertEqual(row.amount, 3000.0, "the fee per cycle stays the fee")
        # The dashboard's timeline counts them too: this month is the key figure.
        self.assertEqual(Report._get_mrr_timeline()[-1]["mrr"], kpis["mrr"])

    # ------------------------------------------------------------------
    # Quotes
    # ------------------------------------------------------------------
    def test_quote_lines_become_services_of_the_retainer_it_starts(self):
        plan = self.env.ref("atlas_msp_billing.product_msp_retainer_plan")
        order = self.env["sale.order"].create(
            {
                "partner_id": self.customer.id,
                "msp_retainer_start_date": "2026-03-01",
                "order_line": [
                    Command.create({"product_id": plan.id, "price_unit": 1500.0}),
                    Command.create(
                        {
                            "product_id": self.product_endpoint.id,
                            "product_uom_qty": 20,
                            "price_unit": 40.0,
                            "discount": 10.0,
                        }
                    ),
                ],
            }
        )
        service_line = order.order_line.filtered(lambda s: s.product_id == self.product_endpoint)
        self.assertIn("Recurring service", service_line.msp_invoicing_note)
        order.action_confirm()
        retainer = order.msp_retainer_ids
        self.assertEqual(retainer.state, "active")
        self.assertRecordValues(
            retainer.line_ids,
            [
                {
                    "product_id": self.product_endpoint.id,
                    "quantity": 20.0,
                    "price_unit": 36.0,
                    "price_subtotal": 720.0,
                    "sale_line_id": service_line.id,
                }
            ],
        )
        # The retainer bills it every cycle, never the order.
        self.assertEqual(service_line.msp_retainer_id, retainer)
        self.assertEqual(service_line.qty_to_invoice, 0.0)
        self.assertEqual(service_line.untaxed_amount_to_invoice, 0.0)
        self.assertEqual(service_line.invoice_status, "invoiced")
        self.assertFalse(order.msp_schedule_ids.filtered(lambda s: s.sale_line_id == service_line))
        invoice = self.run_billing("2026-03-01")
        self.assertBilled(invoice, self.product_endpoint, 20.0, 36.0)

    # ------------------------------------------------------------------
    # Bad input
    # ------------------------------------------------------------------
    def test_negative_quantity_or_price_is_refused(self):
        retainer = self.create_retainer()
        (line,) = self.add_services(retainer, (self.product_endpoint, 25))
        Line = self.env["msp.retainer.line"]
        with self.assertRaisesText(ValidationError, "the quantity cannot be negative"):
            self.add_services(retainer, (self.product_licence, -1))
        with self.assertRaisesText(ValidationError, "the unit price cannot be negative"):
            Line.create(
                {
                    "retainer_id": retainer.id,
                    "product_id": self.product_licence.id,
                    "price_unit": -22.0,
                }
            )
        with self.assertRaises(ValidationError) as catcher:
            line.quantity = -5
        message = str(catcher.exception)
        self.assertIn("Managed endpoint", message)
        self.assertIn(self.customer.name, message)
        self.assertIn("enter 0 or more", message)
        self.assertEqual(line.quantity, 25.0)
        self.assertEqual(retainer.line_ids, line, "nothing was added")

    def test_refused_new_retainer_is_not_named(self):
        """A retainer created with a bad service is refused as a whole, and the
        message names its customer, not a reference that never existed."""
        count = self.Retainer.search_count([])
        with self.assertRaises(ValidationError) as catcher:
            self.Retainer.create(
                {
                    "partner_id": self.customer.id,
                    "amount": 500.0,
                    "line_ids": [
                        Command.create({"product_id": self.product_licence.id, "price_unit": -1.0})
                    ],
                }
            )
        message = str(catcher.exception)
        self.assertIn(self.customer.name, message)
        self.assertNotIn("RET/", message)
        self.assertEqual(self.Retainer.search_count([]), count)


@tagged("post_install", "-at_install")
class TestRecurringServicesPortal(MspBillingCase, HttpCase):
    """A customer's contact sees the recurring services on the retainer's page."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        contact = cls.env["res.partner"].create(
            {"name": "Pat Portal", "parent_id": cls.customer.id, "email": "pat@example.com"}
        )
        cls.portal_user = new_test_user(
            cls.env, login="msp_portal_rec", groups="base.group_portal", partner_id=contact.id
        )
        cls.retainer = cls.create_retainer(date_start=date(2026, 1, 1))
        cls.line = cls.env["msp.retainer.line"].create(
            {
                "retainer_id": cls.retainer.id,
                "product_id": cls.env["product.product"]
                .create({"name": "Backup storage (per 100 GB)", "type": "service"})
                .id,
                "quantity": 12,
                "price_unit": 9.5,
            }
        )

    def test_portal_lists_the_services(self):
        self.authenticate("msp_portal_rec", "msp_portal_rec")
        page = self.url_open(f"/my/retainers/{self.retainer.id}").text
        self.assertIn("Recurring Services", page)
        self.assertIn("Backup storage (per 100 GB)", page)
        self.assertIn("12.00", page)
        self.assertIn("114.00", page)
        # The portal user reads the services of its company only, read-only.
        Line = self.env["msp.retainer.line"].with_user(self.portal_user)
        self.assertEqual(Line.search([]), self.line)
