from datetime import date

from freezegun import freeze_time

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, tagged

from .common import MspBillingCase

IMPORT_FIELDS = [
    "name",
    "project_id/.id",
    "task_id/.id",
    "employee_id/.id",
    "date",
    "unit_amount",
]


@tagged("post_install", "-at_install")
class TestTimeEntry(MspBillingCase):
    """Billing categories (rule 7), usage alerts (rule 8) and bulk entry."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.retainer = cls.create_retainer(date_start="2026-11-01", included_hours=10.0)
        cls.other_customer = cls.env["res.partner"].create(
            {"name": "No Retainer Ltd", "is_company": True}
        )
        cls.other_project = cls.env["project.project"].create(
            {"name": "Projects – No Retainer", "partner_id": cls.other_customer.id}
        )
        cls.other_task = cls.env["project.task"].create(
            {"name": "Network audit", "project_id": cls.other_project.id}
        )
        cls.internal_project = cls.env["project.project"].create({"name": "Internal training"})
        cls.internal_task = cls.env["project.task"].create(
            {"name": "Certification course", "project_id": cls.internal_project.id}
        )
        cls.alert_type = cls.env.ref("atlas_msp_billing.mail_activity_type_msp_usage_alert")

    def entry(self, hours, day="2026-11-10", task=None, **values):
        return self.log_time(
            hours, day, category=values.pop("msp_billing_category", None), task=task, **values
        )

    def load(self, rows, extra_fields=()):
        return self.env["account.analytic.line"].load([*IMPORT_FIELDS, *extra_fields], rows)

    def alerts(self, retainer=None):
        # Alerts are sent just before the transaction commits.
        self.env.cr.flush()
        retainer = retainer or self.retainer
        return retainer.activity_ids.filtered(lambda a: a.activity_type_id == self.alert_type)

    def alert_messages(self, retainer=None):
        retainer = retainer or self.retainer
        return retainer.message_ids.filtered(lambda m: "included in" in (m.body or ""))

    def assertAlerts(self, count, retainer=None):
        self.assertEqual(len(self.alerts(retainer)), count)
        self.assertEqual(len(self.alert_messages(retainer)), count)

    def bulk(self, lines, user=None):
        env = self.env(user=user) if user else self.env
        wizard = (
            env["msp.timesheet.bulk"]
            .with_context(msp_date="2026-11-10")
            .create(
                {
                    "employee_id": self.employee.id,
                    "line_ids": [Command.create(values) for values in lines],
                }
            )
        )
        return wizard.action_log_time()

    # ------------------------------------------------------------------
    # Rule 7: categories and their defaults
    # ------------------------------------------------------------------
    def test_default_category_by_create(self):
        retainer_time = self.entry(1.0)
        adhoc_time = self.entry(1.0, task=self.other_task)
        internal_time = self.entry(1.0, task=self.internal_task)
        self.assertEqual(retainer_time.msp_billing_category, "retainer")
        self.assertEqual(retainer_time.msp_retainer_id, self.retainer)
        self.assertEqual(retainer_time.msp_period_id.date_start.isoformat(), "2026-11-01")
        self.assertEqual(adhoc_time.msp_billing_category, "adhoc")
        self.assertFalse(adhoc_time.msp_retainer_id)
        self.assertEqual(internal_time.msp_billing_category, "non_billable")
        # Before the retainer starts, the customer's time is ad hoc.
        self.assertEqual(self.entry(1.0, day="2026-10-30").msp_billing_category, "adhoc")

    def test_default_category_in_form_follows_project(self):
        with Form(
            self.env["account.analytic.line"],
            view="hr_timesheet.timesheet_view_form_user",
        ) as form:
            form.employee_id = self.employee
            form.project_id = self.project
            form.date = "2026-11-12"
            form.unit_amount = 2.0
            self.assertEqual(form.msp_billing_category, "retainer")
            form.project_id = self.internal_project
            self.assertEqual(form.msp_billing_category, "non_billable")
            form.project_id = self.other_project
            self.assertEqual(form.msp_billing_category, "adhoc")
        self.assertEqual(form.record.msp_billing_category, "adhoc")

    def test_default_category_by_import(self):
        result = self.load(
            [
                ["Patch", self.project.id, self.task_a.id, self.employee.id, "2026-11-03", "1"],
                [
                    "Audit",
                    self.other_project.id,
                    self.other_task.id,
                    self.employee.id,
                    "2026-11-03",
                    "1",
                ],
            ],
        )
        self.assertFalse(result["messages"])
        lines = self.env["account.analytic.line"].browse(result["ids"])
        self.assertEqual(lines.mapped("msp_billing_category"), ["retainer", "adhoc"])
        self.assertEqual(lines[0].msp_retainer_id, self.retainer)

    def test_retainer_category_refused_without_covering_retainer(self):
        with self.assertRaisesText(ValidationError, "has no active retainer covering"):
            self.entry(1.0, task=self.other_task, msp_billing_category="retainer")
        with self.assertRaisesText(ValidationError, "has no active retainer covering"):
            self.entry(1.0, day="2026-10-15", msp_billing_category="retainer")
        adhoc_time = self.entry(1.0, task=self.other_task)
        with self.assertRaisesText(ValidationError, "No Retainer Ltd has no active retainer"):
            adhoc_time.msp_billing_category = "retainer"
        self.assertEqual(adhoc_time.msp_billing_category, "adhoc")
        result = self.load(
            [
                [
                    "Audit",
                    self.other_project.id,
                    self.other_task.id,
                    self.employee.id,
                    "2026-11-03",
                    "1",
                    "retainer",
                ]
            ],
            extra_fields=["msp_billing_category"],
        )
        self.assertFalse(result["ids"])
        self.assertIn("has no active retainer covering", result["messages"][0]["message"])

    def test_time_on_sale_order_item_is_billed_by_the_order(self):
        hourly = self.env.ref("atlas_msp_billing.product_msp_hourly_estimate")
        order = self.env["sale.order"].create(
            {
                "partner_id": self.customer.id,
                "order_line": [Command.create({"product_id": hourly.id, "product_uom_qty": 10})],
            }
        )
        order.action_confirm()
        task = order.order_line.task_id
        self.assertTrue(task)
        line = self.entry(2.0, task=task)
        self.assertEqual(line.so_line, order.order_line)
        self.assertEqual(line.msp_billing_category, "adhoc")
        self.assertFalse(line.msp_period_id)
        with self.assertRaisesText(ValidationError, "on a sale order item"):
            self.entry(1.0, task=task, msp_billing_category="retainer")

    def test_retainer_and_period_follow_date_and_customer(self):
        line = self.entry(2.0, day="2026-11-10")
        november = line.msp_period_id
        line.date = "2026-12-02"
        self.assertEqual(line.msp_period_id.date_start.isoformat(), "2026-12-01")
        self.assertEqual(november.hours_used, 0.0)
        self.assertEqual(line.msp_period_id.hours_used, 2.0)
        line.msp_billing_category = "non_billable"
        self.assertFalse(line.msp_retainer_id)
        self.assertFalse(line.msp_period_id)
        # Moving retainer time to a customer without a retainer is refused.
        retainer_time = self.entry(1.0)
        with self.assertRaisesText(ValidationError, "has no active retainer covering"):
            retainer_time.write(
                {"task_id": self.other_task.id, "project_id": self.other_project.id}
            )

    def test_category_of_billed_entry_is_locked(self):
        adhoc_time = self.entry(2.0, task=self.other_task, day="2026-10-20")
        invoice = self.env["msp.billing"]._run_adhoc_billing(
            run_date=fields.Date.to_date("2026-11-01"), partners=self.other_customer
        )
        self.assertEqual(adhoc_time.msp_invoice_line_id.move_id, invoice)
        with self.assertRaisesText(UserError, "its billing category cannot change"):
            adhoc_time.with_user(self.user_technician).msp_billing_category = "non_billable"
        with self.assertRaisesText(UserError, "its billing category cannot change"):
            adhoc_time.msp_billing_category = "non_billable"
        invoice.unlink()
        adhoc_time.msp_billing_category = "non_billable"
        self.assertEqual(adhoc_time.msp_billing_category, "non_billable")

    # ------------------------------------------------------------------
    # Rule 8: usage alerts
    # ------------------------------------------------------------------
    def test_alerts_once_each(self):
        self.entry(7.0)
        self.assertAlerts(0)
        self.entry(1.0)  # 8 h of 10: 80 % reached
        self.assertAlerts(1)
        activity = self.alerts()
        self.assertEqual(activity.user_id, self.user_account_manager)
        self.assertIn("used 80 % of its hours", activity.summary)
        self.entry(2.0)  # exactly 100 %: not yet over
        self.assertAlerts(1)
        self.entry(0.5)  # 10.5 h: over
        self.assertAlerts(2)
        self.assertIn("is in overage", self.alerts().sorted("id")[-1].summary)
        self.entry(3.0)
        self.assertAlerts(2)
        period = self.retainer.period_ids.filtered(lambda p: p.date_start.month == 11)
        self.assertTrue(period.alert_80_sent)
        self.assertTrue(period.alert_100_sent)
        # A new period alerts again.
        self.entry(9.0, day="2026-12-03")
        self.assertAlerts(3)

    def test_edit_jumping_both_thresholds_sends_both(self):
        line = self.entry(1.0)
        self.assertAlerts(0)
        line.unit_amount = 12.0
        self.assertAlerts(2)
        line.unit_amount = 1.0
        line.unit_amount = 12.0
        self.assertAlerts(2)

    def test_moving_time_into_a_period_alerts_it(self):
        self.entry(7.5, day="2026-12-05")
        line = self.entry(4.0, task=self.internal_task)
        self.assertAlerts(0)
        line.write(
            {
                "task_id": self.task_a.id,
                "project_id": self.project.id,
                "msp_billing_category": "retainer",
                "date": "2026-12-06",
            }
        )
        self.assertAlerts(2)

    def test_alerts_by_import(self):
        rows = [
            ["Patch", self.project.id, self.task_a.id, self.employee.id, "2026-11-03", "5"],
            ["Backup", self.project.id, self.task_b.id, self.employee.id, "2026-11-04", "6"],
        ]
        result = self.load(rows)
        self.assertFalse(result["messages"])
        self.assertAlerts(2)

    def test_alerts_of_two_periods_at_once(self):
        rows = [
            ["Patch", self.project.id, self.task_a.id, self.employee.id, "2026-11-03", "9"],
            ["Backup", self.project.id, self.task_b.id, self.employee.id, "2026-12-04", "9"],
        ]
        self.assertFalse(self.load(rows)["messages"])
        self.assertAlerts(2)

    def test_alerts_by_technician_bulk_entry(self):
        self.bulk(
            [
                {
                    "task_id": self.task_a.id,
                    "date": "2026-11-03",
                    "unit_amount": 4.0,
                    "name": "Server patching",
                },
                {
                    "task_id": self.task_b.id,
                    "date": "2026-11-04",
                    "unit_amount": 4.5,
                    "name": "Printer driver rollout",
                },
            ],
            user=self.user_technician,
        )
        self.assertAlerts(1)
        self.assertEqual(self.retainer.with_context(msp_date="2026-11-10").usage_percent, 85.0)

    def test_alerts_by_timer(self):
        self.entry(7.5)
        task = self.task_b.with_user(self.user_technician)
        with freeze_time("2026-11-10 09:00:00"):
            task.action_msp_timer_start()
        with freeze_time("2026-11-10 09:40:00"):
            entry = task._msp_timer_stop("Printer queue cleanup")
        self.assertEqual(entry.msp_billing_category, "retainer")
        self.assertAlmostEqual(entry.unit_amount, 40 / 60, places=2)
        self.assertAlerts(1)

    def test_no_alert_without_included_hours(self):
        self.retainer.action_close()
        customer = self.env["res.partner"].create({"name": "Zero Hours Co", "is_company": True})
        project = self.env["project.project"].create({"name": "Zero", "partner_id": customer.id})
        task = self.env["project.task"].create({"name": "Zero task", "project_id": project.id})
        retainer = self.create_retainer(
            partner_id=customer.id, date_start="2026-11-01", included_hours=0.0
        )
        line = self.entry(5.0, task=task)
        self.assertEqual(line.msp_retainer_id, retainer)
        self.assertAlerts(0, retainer)

    # ------------------------------------------------------------------
    # Bulk entry
    # ------------------------------------------------------------------
    def test_bulk_entry_creates_all_lines(self):
        action = self.bulk(
            [
                {
                    "task_id": self.task_a.id,
                    "date": "2026-11-03",
                    "unit_amount": 1.5,
                    "name": "Mailbox moves",
                },
                {
                    "task_id": self.other_task.id,
                    "date": "2026-11-03",
                    "unit_amount": 2.0,
                    "name": "Audit",
                },
                {
                    "task_id": self.internal_task.id,
                    "date": "2026-11-04",
                    "unit_amount": 1.0,
                    "name": "Course",
                },
            ]
        )
        lines = self.env["account.analytic.line"].search(action["domain"])
        self.assertEqual(len(lines), 3)
        self.assertEqual(
            sorted(lines.mapped("msp_billing_category")), ["adhoc", "non_billable", "retainer"]
        )
        self.assertEqual(sum(lines.mapped("unit_amount")), 4.5)
        self.assertTrue(all(line.employee_id == self.employee for line in lines))

    def test_bulk_entry_is_all_or_nothing(self):
        Timesheet = self.env["account.analytic.line"]
        before = Timesheet.search_count([])
        good = {"task_id": self.task_a.id, "date": "2026-11-03", "unit_amount": 1.0, "name": "Fine"}
        with self.assertRaisesText(ValidationError, "Line 2 (Printer setup"):
            self.bulk([good, {**good, "task_id": self.task_b.id, "unit_amount": -1.0}])
        with self.assertRaisesText(ValidationError, "Line 3 (Network audit"):
            self.bulk(
                [
                    good,
                    good,
                    {**good, "task_id": self.other_task.id, "msp_billing_category": "retainer"},
                ]
            )
        with self.assertRaisesText(ValidationError, "describe the work done"):
            self.bulk([good, {**good, "name": "  "}])
        self.assertEqual(Timesheet.search_count([]), before)
        self.assertAlerts(0)

    def test_bulk_entry_from_selected_tasks(self):
        wizard_form = Form(
            self.env["msp.timesheet.bulk"]
            .with_user(self.user_technician)
            .with_context(
                active_model="project.task", active_ids=[self.task_a.id, self.other_task.id]
            )
        )
        self.assertEqual(len(wizard_form.line_ids), 2)
        with wizard_form.line_ids.edit(0) as line:
            self.assertEqual(line.msp_billing_category, "retainer")
            line.unit_amount = 1.0
            line.name = "Mailbox moves"
        with wizard_form.line_ids.edit(1) as line:
            self.assertEqual(line.msp_billing_category, "adhoc")
            line.unit_amount = 2.0
            line.name = "Audit"
        wizard = wizard_form.save()
        action = wizard.action_log_time()
        self.assertEqual(len(action["domain"][0][2]), 2)

    def test_bulk_entry_for_someone_else_needs_approver(self):
        other = self.env["hr.employee"].create({"name": "Other Tech"})
        wizard = (
            self.env["msp.timesheet.bulk"]
            .with_user(self.user_technician)
            .create(
                {
                    "employee_id": other.id,
                    "line_ids": [
                        Command.create(
                            {
                                "task_id": self.task_a.id,
                                "date": "2026-11-03",
                                "unit_amount": 1.0,
                                "name": "x",
                            }
                        )
                    ],
                }
            )
        )
        with self.assertRaisesText(UserError, "Only timesheet approvers"):
            wizard.action_log_time()

    # ------------------------------------------------------------------
    # Security
    # ------------------------------------------------------------------
    def test_technician_rights(self):
        line = self.entry(1.0).with_user(self.user_technician)
        line.write({"unit_amount": 2.0, "name": "Edited"})
        self.assertEqual(line.unit_amount, 2.0)
        with self.assertRaises(AccessError):
            self.retainer.with_user(self.user_technician).write({"amount": 1.0})
        other_employee = self.env["hr.employee"].create(
            {"name": "Colleague", "user_id": self.user_account_manager.id}
        )
        colleague_time = self.entry(1.0, employee_id=other_employee.id)
        with self.assertRaises(AccessError):
            colleague_time.with_user(self.user_technician).write({"unit_amount": 3.0})

    def test_account_manager_reads_billable_time_only(self):
        billable = self.entry(1.0) | self.entry(1.0, task=self.other_task)
        internal = self.entry(1.0, task=self.internal_task)
        Timesheet = self.env["account.analytic.line"].with_user(self.user_account_manager)
        visible = Timesheet.search([("id", "in", (billable | internal).ids)])
        self.assertEqual(visible, billable.with_user(self.user_account_manager))
        self.assertEqual(self.retainer.with_user(self.user_account_manager).timesheet_count, 1)
        with self.assertRaises(AccessError):
            billable[0].with_user(self.user_account_manager).write({"unit_amount": 5.0})


@tagged("post_install", "-at_install")
class TestCategoryDefaults(MspBillingCase):
    """Rule 7 on dates: the default follows the retainer covering the entry's day."""

    def test_default_follows_the_covering_retainer(self):
        self.create_retainer(date_end="2026-03-31")
        inside = self.log_time(1.0, "2026-02-10", category=None)
        self.assertEqual(inside.msp_billing_category, "retainer")
        self.assertEqual(inside.msp_period_id.date_start, date(2026, 2, 1))
        after = self.log_time(1.0, "2026-04-02", category=None)
        self.assertEqual(after.msp_billing_category, "adhoc")
        internal_project = self.env["project.project"].create({"name": "Internal"})
        internal_task = self.env["project.task"].create(
            {"name": "Lab upgrade", "project_id": internal_project.id}
        )
        internal = self.log_time(1.0, "2026-02-10", category=None, task=internal_task)
        self.assertEqual(internal.msp_billing_category, "non_billable")
        chosen = self.log_time(1.0, "2026-02-11", category="non_billable")
        self.assertEqual(chosen.msp_billing_category, "non_billable")
        self.assertFalse(chosen.msp_period_id)
        # A chosen category stays when the entry moves.
        chosen.date = "2026-02-12"
        self.assertEqual(chosen.msp_billing_category, "non_billable")

    def test_default_by_import(self):
        self.create_retainer()
        result = self.env["account.analytic.line"].load(
            ["name", "project_id/.id", "employee_id/.id", "unit_amount", "date"],
            [["Imported", str(self.project.id), str(self.employee.id), "2.5", "2026-01-15"]],
        )
        self.assertFalse(result["messages"], result["messages"])
        entry = self.env["account.analytic.line"].browse(result["ids"])
        self.assertEqual(entry.msp_billing_category, "retainer")
        self.assertEqual(entry.msp_period_id.hours_used, 2.5)
