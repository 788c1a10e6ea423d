"""Rule 12: a batch of the run is prepared together. The periods it needs are
created in one batch, and its customers' unbilled ad-hoc time and charges are
read once, so preparing 6 retainers costs the queries of preparing 2. Each
invoice still takes only its own customer's work, once."""

from datetime import date

from odoo.tests import tagged

from .common import MspBillingCase

JANUARY, FEBRUARY = date(2026, 1, 1), date(2026, 2, 1)


@tagged("post_install", "-at_install")
class TestBillingBatch(MspBillingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.retainers = cls.env["msp.retainer"]
        for number in range(8):
            cls.retainers |= cls.create_customer_with_work(number)

    @classmethod
    def create_customer_with_work(cls, number):
        """A customer billed for January, with 12 h of retainer time (2 h over),
        ad-hoc time on two tasks over two days, and a charge."""
        customer = cls.env["res.partner"].create(
            {"name": f"Batch Customer {number}", "is_company": True}
        )
        project = cls.env["project.project"].create(
            {"name": f"Desk {number}", "partner_id": customer.id}
        )
        tasks = cls.env["project.task"].create(
            [{"name": f"Task {number} {n}", "project_id": project.id} for n in range(2)]
        )
        retainer = cls.create_retainer(partner_id=customer.id)
        cls.env["msp.billing"]._invoice_retainers(retainer, JANUARY)
        cls.log_time(12.0, "2026-01-12", task=tasks[0])
        for task in tasks:
            for day in ("2026-01-20", "2026-01-21"):
                cls.log_time(0.75, day, category="adhoc", task=task)
        cls.env["msp.charge"].create(
            {
                "partner_id": customer.id,
                "product_id": cls.product_fee.id,
                "name": f"Switch {number}",
                "quantity": 1,
                "price_unit": 300.0,
                "date": "2026-01-25",
            }
        )
        return retainer

    def prepare_counting_queries(self, retainers):
        """Queries to prepare the February invoices of ``retainers`` (their
        periods written), from a cold cache; nothing is kept."""
        self.env.flush_all()
        self.env.invalidate_all()
        before = self.env.cr.sql_log_count
        with self.env.cr.savepoint():
            prepared = self.env["msp.billing.invoice"]._prepare_retainers_invoices(
                retainers, FEBRUARY
            )
            self.env.flush_all()
            queries = self.env.cr.sql_log_count - before
            self.assertEqual(len(prepared), len(retainers))
            self.assertTrue(all(len(invoices) == 1 for invoices in prepared.values()))
        self.env.invalidate_all()
        return queries

    def test_preparing_a_batch_costs_the_same_queries_for_2_or_6_retainers(self):
        self.prepare_counting_queries(self.retainers)  # the registry's caches, as in a run
        two = self.prepare_counting_queries(self.retainers[:2])
        six = self.prepare_counting_queries(self.retainers[2:])
        self.assertEqual(six, two)
        self.assertLess(two, 40)

    def test_each_invoice_of_a_batch_takes_its_own_customer_work_once(self):
        invoices = self.env["msp.billing"]._invoice_retainers(self.retainers, FEBRUARY)
        self.assertEqual(len(invoices), 8)
        for retainer in self.retainers:
            invoice = invoices.filtered(lambda m, r=retainer: m.msp_retainer_id == r)
            self.assertEqual(invoice.partner_id, retainer.partner_id)
            adhoc = self.lines_of(invoice, self.product_adhoc)
            self.assertEqual(adhoc.mapped("quantity"), [1.5, 1.5])
            self.assertIn("01/20/2026 to 01/21/2026", adhoc[0].name)
            self.assertEqual(len(adhoc.msp_timesheet_ids), 4)
            self.assertEqual(adhoc.msp_timesheet_ids.partner_id, retainer.partner_id)
            self.assertEqual(self.lines_of(invoice, self.product_overage).quantity, 2.0)
            charge = invoice.invoice_line_ids.msp_charge_ids
            self.assertEqual(charge.partner_id, retainer.partner_id)
            self.assertEqual(charge.invoice_line_id.move_id, invoice)
        self.assertEqual(len(invoices.invoice_line_ids.msp_timesheet_ids), 32)
        self.assertFalse(self.env["msp.billing"]._invoice_retainers(self.retainers, FEBRUARY))

    def test_time_of_a_contact_is_billed_to_its_customer(self):
        retainer = self.retainers[0]
        contact = self.env["res.partner"].create(
            {"name": "Site Manager", "parent_id": retainer.partner_id.id}
        )
        task = self.env["project.task"].create(
            {"name": "Site visit", "project_id": self.project.id, "partner_id": contact.id}
        )
        entry = self.log_time(2.0, "2026-01-28", category="adhoc", task=task)
        self.assertEqual(entry.partner_id, contact)
        invoices = self.env["msp.billing"]._invoice_retainers(self.retainers[:3], FEBRUARY)
        self.assertEqual(entry.msp_invoice_line_id.move_id.msp_retainer_id, retainer)
        self.assertEqual(len(invoices.invoice_line_ids.msp_timesheet_ids), 3 * 4 + 1)
