import base64
from datetime import timedelta

from odoo import Command, fields
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from .common import MspBillingCommon

# A 1x1 PNG: the portal stores the drawn signature as an image.
SIGNATURE = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000105fe02fea70000000049454e44ae426082"
    )
).decode()


class QuoteMixin:
    @classmethod
    def setup_products(cls):
        cls.product_deliverable = cls.env.ref("atlas_msp_billing.product_msp_fixed_deliverable")
        cls.product_hourly = cls.env.ref("atlas_msp_billing.product_msp_hourly_estimate")
        cls.product_costs = cls.env.ref("atlas_msp_billing.product_msp_product_costs")
        cls.product_plan = cls.env.ref("atlas_msp_billing.product_msp_retainer_plan")

    @classmethod
    def quote_values(cls, partner, retainer=True, **values):
        lines = [
            Command.create(
                {
                    "product_id": cls.product_deliverable.id,
                    "name": "Network design",
                    "price_unit": 2000.0,
                }
            ),
            Command.create(
                {"product_id": cls.product_deliverable.id, "name": "Rollout", "price_unit": 3000.0}
            ),
            Command.create(
                {"product_id": cls.product_hourly.id, "product_uom_qty": 10, "price_unit": 150.0}
            ),
            Command.create(
                {"product_id": cls.product_costs.id, "product_uom_qty": 2, "price_unit": 250.0}
            ),
        ]
        if retainer:
            lines.append(Command.create({"product_id": cls.product_plan.id, "price_unit": 1500.0}))
        return {"partner_id": partner.id, "order_line": lines, **values}


@tagged("post_install", "-at_install")
class TestQuotes(QuoteMixin, MspBillingCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_products()
        cls.employee = cls.env["hr.employee"].create(
            {"name": "Quote Technician", "user_id": cls.user_technician.id}
        )

    def create_quote(self, retainer=True, **values):
        return (
            self.env["sale.order"]
            .with_user(self.user_account_manager)
            .create(self.quote_values(self.customer, retainer=retainer, **values))
        )

    def lines_by_product(self, order, product):
        return order.order_line.filtered(lambda line: line.product_id == product)

    def test_quote_explains_each_kind_of_line(self):
        order = self.create_quote()
        notes = {line.product_id: line.msp_invoicing_note for line in order.order_line}
        self.assertIn("milestone", notes[self.product_deliverable])
        self.assertIn("hours actually logged", notes[self.product_hourly])
        self.assertIn("on order", notes[self.product_costs])
        self.assertIn("retainer", notes[self.product_plan])
        self.assertTrue(order.msp_has_retainer_line)
        self.assertEqual(self.product_deliverable.service_policy, "delivered_milestones")
        self.assertEqual(self.product_hourly.service_policy, "delivered_timesheet")
        self.assertEqual(self.product_costs.type, "consu")

    def test_confirmation_creates_project_schedule_and_retainer(self):
        order = self.create_quote(msp_retainer_start_date="2026-03-01")
        order.with_user(self.user_account_manager).action_confirm()
        self.assertEqual(order.state, "sale")

        project = order.project_id
        self.assertTrue(project, "the quote's project is created on confirmation")
        self.assertEqual(project.partner_id, self.customer)
        milestones = project.milestone_ids
        self.assertEqual(sorted(milestones.mapped("name")), ["Network design", "Rollout"])
        self.assertEqual(
            milestones.sale_line_id, self.lines_by_product(order, self.product_deliverable)
        )
        hourly = self.lines_by_product(order, self.product_hourly)
        self.assertEqual(hourly.task_id.project_id, project)
        self.assertEqual(hourly.task_id.allocated_hours, 10.0)

        schedule = order.msp_schedule_ids
        by_milestone = schedule.filtered(lambda s: s.trigger == "milestone")
        self.assertEqual(by_milestone.milestone_id, milestones)
        self.assertEqual(sorted(by_milestone.mapped("amount")), [2000.0, 3000.0])
        self.assertEqual(set(by_milestone.mapped("state")), {"planned"})
        by_date = schedule - by_milestone
        self.assertEqual(by_date.sale_line_id, self.lines_by_product(order, self.product_costs))
        self.assertEqual(by_date.amount, 500.0)
        self.assertEqual(by_date.state, "to_invoice")
        self.assertEqual(schedule.project_id, project)
        self.assertEqual(order.msp_schedule_count, 3)

        plan_line = self.lines_by_product(order, self.product_plan)
        retainer = plan_line.msp_retainer_id
        self.assertEqual(order.msp_retainer_ids, retainer)
        self.assertRecordValues(
            retainer,
            [
                {
                    "partner_id": self.customer.id,
                    "state": "active",
                    "amount": 1500.0,
                    "billing_cycle": "monthly",
                    "included_hours": 10.0,
                    "overage_rate": 135.0,
                    "date_start": fields.Date.to_date("2026-03-01"),
                    "user_id": self.user_account_manager.id,
                }
            ],
        )
        # The retainer's billing run bills the plan, never the order.
        self.assertEqual(plan_line.qty_to_invoice, 0.0)
        self.assertEqual(plan_line.untaxed_amount_to_invoice, 0.0)
        self.assertEqual(plan_line.invoice_status, "invoiced")
        invoice = order._create_invoices()
        self.assertNotIn(self.product_plan, invoice.invoice_line_ids.product_id)

    def test_retainer_start_defaults_to_confirmation_date(self):
        order = self.create_quote()
        order.action_confirm()
        retainer = order.msp_retainer_ids
        # The day of the confirmation in the company's time zone.
        confirmed = order.company_id._msp_local_date(order.date_order)
        self.assertEqual(retainer.date_start, confirmed)

    def test_confirmation_activates_the_draft_retainer(self):
        draft = self.env["msp.retainer"].create(
            {"partner_id": self.customer.id, "amount": 10.0, "billing_cycle": "annual"}
        )
        order = self.create_quote()
        order.action_confirm()
        self.assertEqual(order.msp_retainer_ids, draft)
        self.assertEqual(draft.state, "active")
        self.assertEqual((draft.amount, draft.billing_cycle), (1500.0, "monthly"))

    def test_overlapping_retainer_refuses_confirmation(self):
        existing = self.env["msp.retainer"].create(
            {"partner_id": self.customer.id, "amount": 800.0, "date_start": "2026-01-01"}
        )
        existing.action_activate()
        order = self.create_quote(msp_retainer_start_date="2026-03-01")
        with self.assertRaisesText(ValidationError, "already has active retainer"):
            order.action_confirm()
        self.assertEqual(order.state, "draft")
        self.assertFalse(
            self.env["project.project"].search([("reinvoiced_sale_order_id", "=", order.id)])
        )

    def test_milestone_reached_is_invoiced_once(self):
        order = self.create_quote(retainer=False)
        order.action_confirm()
        deliverables = self.lines_by_product(order, self.product_deliverable)
        design = deliverables.filtered(lambda line: line.name == "Network design")
        self.assertEqual(design.qty_to_invoice, 0.0, "not invoiceable before its milestone")

        first = order._create_invoices()
        self.assertEqual(first.invoice_line_ids.product_id, self.product_costs)
        first.action_post()

        milestone = order.project_id.milestone_ids.filtered(lambda m: m.sale_line_id == design)
        milestone.is_reached = True
        step = order.msp_schedule_ids.filtered(lambda s: s.milestone_id == milestone)
        self.assertTrue(step.is_due)
        self.assertEqual(step.state, "to_invoice")
        self.assertEqual(design.qty_to_invoice, 1.0)

        second = order._create_invoices()
        milestone_lines = second.invoice_line_ids.filtered(
            lambda line: design in line.sale_line_ids
        )
        self.assertEqual(len(milestone_lines), 1)
        self.assertEqual(milestone_lines.price_subtotal, 2000.0)
        second.action_post()
        self.assertEqual(step.state, "invoiced")
        self.assertEqual(design.qty_to_invoice, 0.0)

        hourly = self.lines_by_product(order, self.product_hourly)
        self.env["account.analytic.line"].create(
            {
                "name": "Switch configuration",
                "project_id": hourly.task_id.project_id.id,
                "task_id": hourly.task_id.id,
                "employee_id": self.employee.id,
                "unit_amount": 3.0,
            }
        )
        third = order._create_invoices()
        self.assertEqual(third.invoice_line_ids.sale_line_ids, hourly)
        self.assertEqual(third.invoice_line_ids.quantity, 3.0)
        self.assertFalse(third.invoice_line_ids.filtered(lambda line: design in line.sale_line_ids))

    def test_date_steps_release_their_share(self):
        order = self.create_quote(retainer=False)
        order.action_confirm()
        costs = self.lines_by_product(order, self.product_costs)
        today = order.company_id._msp_today()
        step = costs.msp_schedule_ids
        step.amount = 200.0
        later = self.env["msp.billing.schedule"].create(
            {
                "sale_line_id": costs.id,
                "trigger": "date",
                "date": today + timedelta(days=30),
                "amount": 300.0,
            }
        )
        self.assertFalse(later.is_due)
        self.assertAlmostEqual(costs.qty_to_invoice, 0.8)
        # The day comes: the daily cron releases it.
        self.env.cr.execute(
            "UPDATE msp_billing_schedule SET date = %s WHERE id = %s",
            [today - timedelta(days=1), later.id],
        )
        later.invalidate_recordset()
        self.env["msp.billing.schedule"]._cron_release_due_dates()
        self.assertTrue(later.is_due)
        self.assertAlmostEqual(costs.qty_to_invoice, 2.0)

    def test_schedule_refuses_bad_steps(self):
        order = self.create_quote(retainer=False)
        order.action_confirm()
        costs = self.lines_by_product(order, self.product_costs)
        deliverable = self.lines_by_product(order, self.product_deliverable)[0]
        Schedule = self.env["msp.billing.schedule"]
        with self.assertRaisesText(ValidationError, "only lines invoiced on order"):
            Schedule.create(
                {"sale_line_id": deliverable.id, "trigger": "date", "date": "2026-05-01"}
            )
        with self.assertRaisesText(ValidationError, "more than the line's"):
            Schedule.create(
                {"sale_line_id": costs.id, "trigger": "date", "date": "2026-05-01", "amount": 1.0}
            )
        with self.assertRaisesText(ValidationError, "cannot be negative"):
            costs.msp_schedule_ids.amount = -5.0

    def test_technician_cannot_sell(self):
        with self.assertRaises(AccessError):
            self.env["sale.order"].with_user(self.user_technician).create(
                self.quote_values(self.customer)
            )


@tagged("post_install", "-at_install")
class TestQuotePortal(QuoteMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_products()
        cls.portal_user = new_test_user(
            cls.env, login="msp_portal_owner", groups="base.group_portal", name="Olive Owner"
        )
        cls.other_portal_user = new_test_user(
            cls.env, login="msp_portal_other", groups="base.group_portal", name="Oscar Other"
        )
        cls.customer = cls.env["res.partner"].create(
            {"name": "Portal Customer Ltd", "is_company": True}
        )
        cls.portal_user.partner_id.parent_id = cls.customer
        cls.order = cls.env["sale.order"].create(
            cls.quote_values(
                cls.portal_user.partner_id, require_signature=True, require_payment=False
            )
        )
        cls.order.action_quotation_sent()

    def test_portal_user_accepts_own_quote(self):
        self.order.with_user(self.portal_user).check_access("read")
        token = self.order._portal_ensure_token()
        self.authenticate(self.portal_user.login, self.portal_user.login)
        page = self.url_open(f"/my/orders/{self.order.id}")
        self.assertIn(self.order.name, page.text)
        self.assertIn("Retainer Starts", page.text)
        result = self.make_jsonrpc_request(
            f"/my/orders/{self.order.id}/accept",
            {"access_token": token, "name": "Olive Owner", "signature": SIGNATURE},
        )
        self.assertNotIn("error", result)
        self.env.invalidate_all()
        self.assertEqual(self.order.state, "sale")
        self.assertEqual(self.order.signed_by, "Olive Owner")
        self.assertTrue(self.order.project_id)
        self.assertEqual(len(self.order.project_id.milestone_ids), 2)
        self.assertEqual(len(self.order.msp_schedule_ids), 3)
        retainer = self.order.msp_retainer_ids
        self.assertEqual(retainer.state, "active")
        self.assertEqual(retainer.partner_id, self.customer)

    @mute_logger("odoo.http")
    def test_other_portal_user_cannot_see_or_accept(self):
        with self.assertRaises(AccessError):
            self.order.with_user(self.other_portal_user).check_access("read")
        self.authenticate(self.other_portal_user.login, self.other_portal_user.login)
        response = self.url_open(f"/my/orders/{self.order.id}")
        self.assertNotIn(self.order.name, response.text)
        result = self.make_jsonrpc_request(
            f"/my/orders/{self.order.id}/accept",
            {"name": "Oscar Other", "signature": SIGNATURE},
        )
        self.assertIn("error", result)
        self.env.invalidate_all()
        self.assertEqual(self.order.state, "sent")
        self.assertFalse(self.order.msp_retainer_ids)
