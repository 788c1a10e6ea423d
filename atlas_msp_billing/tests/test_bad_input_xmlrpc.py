import re
from datetime import date

from odoo import Command
from odoo.tests import HttpCase, tagged

from .common import MspBillingCase, MspXmlRpcMixin

# Every refusal is checked against these: nothing of them may be left behind.
WATCHED = (
    "msp.retainer",
    "msp.retainer.period",
    "account.analytic.line",
    "msp.charge",
    "msp.sla.policy",
    "msp.sla.policy.line",
    "msp.timer",
    "project.task",
    "res.partner",
    "account.move",
    "mail.activity",
)
REFERENCE = re.compile(r"RET/\d{4}/\d+")


@tagged("post_install", "-at_install")
class TestBadInputOverXmlRpc(HttpCase, MspBillingCase, MspXmlRpcMixin):
    """A script sends bad values over XML-RPC, as the role that would try them:
    each is refused with a message saying what to fix, and nothing is written."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.retainer = cls.create_retainer(date_start="2026-11-01")
        cls.draft = cls.create_retainer(activate=False, date_start="2026-12-01")
        cls.entry = cls.log_time(1.0, "2026-11-12", name="Remote session")
        cls.charge = cls.env["msp.charge"].create(
            {
                "partner_id": cls.customer.id,
                "product_id": cls.product_adhoc.id,
                "price_unit": 40.0,
                "date": "2026-11-12",
            }
        )
        cls.adhoc_customer = cls.env["res.partner"].create(
            {"name": "Walk-in Clinic", "is_company": True}
        )
        cls.adhoc_project = cls.env["project.project"].create(
            {"name": "Walk-in Clinic – Projects", "partner_id": cls.adhoc_customer.id}
        )
        cls.desk = cls.env["project.project"].create(
            {
                "name": "Service Desk",
                "partner_id": cls.customer.id,
                "msp_is_service_desk": True,
            }
        )
        cls.ticket = cls.env["project.task"].create(
            {"name": "VPN down", "project_id": cls.desk.id, "partner_id": cls.customer.id}
        )
        cls.wiki_task = cls.env["project.task"].create(
            {
                "name": "Wiki clean-up",
                "project_id": cls.env["project.project"]
                .create({"name": "Internal Wiki", "allow_timesheets": False})
                .id,
            }
        )
        cls.policy = cls.env["msp.sla.policy"].create(
            {
                "name": "Gold",
                "line_ids": [
                    Command.create(
                        {"priority": "normal", "response_hours": 4, "resolution_hours": 16}
                    ),
                    Command.create(
                        {"priority": "high", "response_hours": 1, "resolution_hours": 8}
                    ),
                ],
            }
        )
        cls.setup_billed_customer()
        # Started long ago: a stale timer, whose stop asks for the real hours.
        cls.timer = cls.env["msp.timer"].create(
            {
                "task_id": cls.task_a.id,
                "user_id": cls.user_technician.id,
                "date_start": "2020-01-06 08:00:00",
            }
        )

    @classmethod
    def setup_billed_customer(cls):
        """A customer whose September is billed on a posted invoice: its fee,
        overage, time and a charge are locked (rule 6)."""
        cls.billed_customer = cls.env["res.partner"].create(
            {"name": "Billed Dental", "is_company": True, "user_id": cls.user_account_manager.id}
        )
        project = cls.env["project.project"].create(
            {"name": "Billed Dental – IT", "partner_id": cls.billed_customer.id}
        )
        task = cls.env["project.task"].create({"name": "Backups", "project_id": project.id})
        cls.billed_retainer = cls.create_retainer(
            partner_id=cls.billed_customer.id, date_start="2026-09-01"
        )
        cls.billed_entry = cls.log_time(6.0, "2026-09-10", task=task)
        cls.log_time(6.0, "2026-09-11", task=task)
        cls.billed_charge = cls.env["msp.charge"].create(
            {
                "partner_id": cls.billed_customer.id,
                "product_id": cls.product_adhoc.id,
                "price_unit": 90.0,
                "date": "2026-09-20",
            }
        )
        invoices = cls.env["msp.retainer"]._run_billing(run_date=date(2026, 10, 1))
        cls.billed_invoice = invoices.filtered(lambda m: m.partner_id == cls.billed_customer)
        cls.billed_invoice.action_post()
        cls.billed_period = cls.billed_retainer.period_ids.filtered(
            lambda p: p.date_start == date(2026, 9, 1)
        )
        cls.open_period = cls.retainer.period_ids[:1]

    def refused(self, user, model, method, args, expected, *, unchanged=None):
        message = self.assertRefusedOverRpc(
            user, model, method, args, expected, watch=WATCHED, unchanged=unchanged
        )
        # Only references of retainers that exist: never one the refused call made.
        for reference in REFERENCE.findall(message):
            self.assertTrue(
                self.env["msp.retainer"].sudo().search_count([("name", "=", reference)]),
                f"{message!r} names {reference}, which does not exist",
            )
        return message

    def retainer_values(self, **values):
        return {
            "partner_id": self.customer.id,
            "amount": 900.0,
            "billing_cycle": "monthly",
            "included_hours": 8.0,
            "overage_rate": 110.0,
            "adhoc_rate": 140.0,
            "date_start": "2027-03-01",
            **values,
        }

    def entry_values(self, hours, project=None, **values):
        return {
            "name": "Remote session",
            "project_id": (project or self.project).id,
            "task_id": self.task_b.id if not project else False,
            "date": "2026-11-12",
            "unit_amount": hours,
            **values,
        }

    # ------------------------------------------------------------------
    # Retainers, as the account manager
    # ------------------------------------------------------------------
    def test_retainers(self):
        manager = self.user_account_manager
        sequence = self.env.ref("atlas_msp_billing.seq_msp_retainer")
        next_number = sequence.number_next_actual
        bad_creates = [
            ({"amount": -100.0}, "fee per cycle of the retainer of Test Customer Inc."),
            ({"included_hours": -1.0}, "included hours of the retainer"),
            ({"overage_rate": -5.0}, "overage rate of the retainer"),
            ({"adhoc_rate": -5.0}, "ad-hoc rate of the retainer"),
            ({"date_end": "2027-02-01"}, "set an end date on or after the start date"),
            ({"billing_cycle": "weekly"}, "Unknown billing cycle 'weekly': use one of"),
            ({"partner_id": False}, "Customer"),
        ]
        for values, expected in bad_creates:
            with self.subTest(values=values):
                message = self.refused(
                    manager, "msp.retainer", "create", [self.retainer_values(**values)], expected
                )
                self.assertNotIn("RET/", message, "a refused retainer has no reference")
        self.env.invalidate_all()
        self.assertEqual(
            sequence.number_next_actual, next_number, "refused creates use up no reference"
        )
        watched = ["amount", "date_end", "billing_cycle", "state", "date_start"]
        bad_writes = [
            (self.draft, {"amount": -50.0}, "cannot be negative"),
            (self.retainer, {"date_end": "2026-10-01"}, "would end"),
            (self.draft, {"billing_cycle": "fortnightly"}, "Unknown billing cycle"),
            (self.billed_retainer, {"date_start": "2026-08-01"}, "invoiced periods"),
            (self.billed_retainer, {"date_end": "2026-09-15"}, "invoiced up to"),
        ]
        for retainer, values, expected in bad_writes:
            with self.subTest(values=values):
                self.refused(
                    manager,
                    "msp.retainer",
                    "write",
                    [retainer.ids, values],
                    expected,
                    unchanged=(retainer, watched),
                )
        # The draft overlaps the active retainer: named, it exists; the draft is unchanged.
        message = self.refused(
            manager,
            "msp.retainer",
            "action_activate",
            [self.draft.ids],
            f"already has active retainer {self.retainer.name}",
            unchanged=(self.draft, ["state"]),
        )
        self.assertIn("close", message)
        self.refused(
            manager,
            "msp.retainer",
            "action_activate",
            [self.retainer.ids],
            "Only draft retainers can be activated",
        )

    # ------------------------------------------------------------------
    # Periods, as the billing manager
    # ------------------------------------------------------------------
    def test_periods(self):
        manager = self.user_billing_manager
        snapshots = ["included_hours", "overage_rate", "amount", "date_start", "date_end"]
        cases = [
            (self.billed_period, {"included_hours": 20.0}, "posted invoice"),
            (self.billed_period, {"amount": 1.0}, "Issue a credit note"),
            (self.open_period, {"overage_rate": -10.0}, "cannot be negative; enter 0 or more"),
            (self.open_period, {"included_hours": -1.0}, "cannot be negative"),
            (self.open_period, {"date_end": "2026-10-31"}, "cannot end before it starts"),
        ]
        for period, values, expected in cases:
            with self.subTest(values=values):
                self.refused(
                    manager,
                    "msp.retainer.period",
                    "write",
                    [period.ids, values],
                    expected,
                    unchanged=(period, snapshots),
                )
        self.refused(
            manager,
            "msp.retainer.period",
            "action_regenerate_invoice",
            [self.billed_period.ids],
            "delete or cancel that invoice before regenerating it",
        )

    # ------------------------------------------------------------------
    # Charges, as the account manager
    # ------------------------------------------------------------------
    def test_charges(self):
        manager = self.user_account_manager
        base = {
            "partner_id": self.customer.id,
            "product_id": self.product_adhoc.id,
            "name": "Replacement switch",
            "date": "2026-11-12",
            "price_unit": 300.0,
        }
        for values, expected in [
            ({"quantity": 0.0}, "quantity must be positive"),
            ({"quantity": -2.0}, "quantity must be positive"),
            ({"price_unit": -30.0}, "unit price cannot be negative"),
        ]:
            with self.subTest(values=values):
                self.refused(manager, "msp.charge", "create", [{**base, **values}], expected)
        watched = ["quantity", "price_unit", "partner_id"]
        for charge, values, expected in [
            (self.charge, {"quantity": 0.0}, "quantity must be positive"),
            (self.billed_charge, {"price_unit": 10.0}, "posted invoice"),
        ]:
            with self.subTest(values=values):
                self.refused(
                    manager,
                    "msp.charge",
                    "write",
                    [charge.ids, values],
                    expected,
                    unchanged=(charge, watched),
                )

    # ------------------------------------------------------------------
    # Time entries, as the technician: one rule for hours on every path
    # ------------------------------------------------------------------
    def test_time_entries(self):
        tech = self.user_technician
        hours_rule = "enter the hours worked on that day, from 0 to 24"
        for hours in (-2.0, 30.0, 24.5):
            with self.subTest(hours=hours):
                self.refused(
                    tech,
                    "account.analytic.line",
                    "create",
                    [self.entry_values(hours)],
                    f"A time entry of {hours:g} h is not possible",
                )
        watched = ["unit_amount", "msp_billing_category", "msp_period_id"]
        for hours in (-2.0, 30.0):
            with self.subTest(write=hours):
                self.refused(
                    tech,
                    "account.analytic.line",
                    "write",
                    [self.entry.ids, {"unit_amount": hours}],
                    hours_rule,
                    unchanged=(self.entry, watched),
                )

    def test_time_entries_out_of_their_retainer(self):
        tech = self.user_technician
        watched = ["unit_amount", "msp_billing_category", "msp_period_id"]
        self.refused(
            tech,
            "account.analytic.line",
            "create",
            [self.entry_values(1.0, self.adhoc_project, msp_billing_category="retainer")],
            "Walk-in Clinic has no active retainer covering",
        )
        self.refused(
            tech,
            "account.analytic.line",
            "create",
            [self.entry_values(1.0, date="2026-10-15", msp_billing_category="retainer")],
            "log this time as Billable — Ad Hoc or Non-Billable",
        )
        self.refused(
            tech,
            "account.analytic.line",
            "write",
            [self.billed_entry.ids, {"unit_amount": 2.0}],
            "is billed on posted invoice",
            unchanged=(self.billed_entry, watched),
        )

    def test_time_entries_from_the_task_tab(self):
        # The task's timesheet tab writes the task, with its entries as commands.
        tech = self.user_technician
        hours_rule = "enter the hours worked on that day, from 0 to 24"
        watched = ["unit_amount", "msp_billing_category", "msp_period_id"]
        self.refused(
            tech,
            "project.task",
            "write",
            [self.task_b.ids, {"timesheet_ids": [(0, 0, self.entry_values(30.0))]}],
            hours_rule,
        )
        shortened = (1, self.entry.id, {"unit_amount": -1.0})
        self.refused(
            tech,
            "project.task",
            "write",
            [self.task_a.ids, {"timesheet_ids": [shortened]}],
            hours_rule,
            unchanged=(self.entry, watched),
        )

    def test_import_refuses_bad_hours(self):
        """An import reports the rule instead of loading the entry."""
        before = self.count_records(WATCHED)
        result = self.rpc(
            self.user_technician,
            "account.analytic.line",
            "load",
            ["name", "project_id/.id", "task_id/.id", "date", "unit_amount"],
            [
                ["Good", str(self.project.id), str(self.task_b.id), "2026-11-12", "2"],
                ["Too long", str(self.project.id), str(self.task_b.id), "2026-11-13", "30"],
            ],
        )
        self.assertFalse(result["ids"])
        self.assertIn("from 0 to 24", " ".join(m["message"] for m in result["messages"]))
        self.assertEqual(self.count_records(WATCHED), before)

    # ------------------------------------------------------------------
    # Tickets and timers, as the technician
    # ------------------------------------------------------------------
    def test_tickets_and_timers(self):
        tech = self.user_technician
        self.refused(
            tech,
            "project.task",
            "create",
            [{"name": "Printer jam", "project_id": self.desk.id, "msp_priority": "critical"}],
            "Unknown ticket priority 'critical': use one of low, normal, high, urgent",
        )
        self.refused(
            tech,
            "project.task",
            "write",
            [self.ticket.ids, {"msp_priority": "p1"}],
            "Unknown ticket priority 'p1'",
            unchanged=(self.ticket, ["msp_priority", "msp_resolution_deadline"]),
        )
        running = f"You already have a timer running on {self.task_a.display_name}"
        self.refused(tech, "project.task", "action_msp_timer_start", [self.task_b.ids], running)
        self.refused(tech, "msp.timer", "create", [{"task_id": self.task_b.id}], running)
        self.refused(
            tech,
            "project.task",
            "action_msp_timer_start",
            [self.wiki_task.ids],
            "does not use timesheets: enable them",
        )
        self.refused(
            tech,
            "project.task",
            "action_msp_timer_resume",
            [self.task_a.ids],
            "is already running",
        )

    def test_timer_stop_wizard(self):
        tech = self.user_technician
        for values, expected in [
            ({"description": "Patching", "hours": 30.0}, "A time entry of 30 h is not possible"),
            ({"description": "Patching", "hours": 0.0}, "Enter the hours you really worked"),
            ({"description": "   ", "hours": 2.0}, "Describe the work done"),
        ]:
            with self.subTest(values=values):
                wizard_id = self.rpc(
                    tech, "msp.timer.stop", "create", {"task_id": self.task_a.id, **values}
                )
                self.refused(
                    tech,
                    "msp.timer.stop",
                    "action_confirm",
                    [[wizard_id]],
                    expected,
                    unchanged=(self.timer, ["paused_at", "date_start"]),
                )

    # ------------------------------------------------------------------
    # SLA policies, as the billing manager
    # ------------------------------------------------------------------
    def test_sla_policies(self):
        manager = self.user_billing_manager

        def line(priority, response, resolution):
            return (
                0,
                0,
                {"priority": priority, "response_hours": response, "resolution_hours": resolution},
            )

        for lines, expected in [
            ([line("urgent", -1, 4)], "cannot be negative: enter the response"),
            ([line("urgent", 8, 4)], "at least as much time to resolve"),
            ([line("high", 1, 4), line("high", 2, 8)], "keep one line per priority"),
            ([line("p1", 1, 4)], "Unknown ticket priority 'p1'"),
        ]:
            with self.subTest(lines=lines):
                self.refused(
                    manager,
                    "msp.sla.policy",
                    "create",
                    [{"name": "Platinum", "line_ids": lines}],
                    expected,
                )
        normal = self.policy.line_ids.filtered(lambda target: target.priority == "normal")
        self.refused(
            manager,
            "msp.sla.policy",
            "write",
            [self.policy.ids, {"line_ids": [line("normal", 2, 6)]}],
            "Gold has more than one target for the Normal priority",
        )
        self.refused(
            manager,
            "msp.sla.policy.line",
            "write",
            [normal.ids, {"resolution_hours": -3}],
            "cannot be negative",
            unchanged=(normal, ["response_hours", "resolution_hours", "priority"]),
        )

    # ------------------------------------------------------------------
    # Quotes, Win & Onboard and the wizards
    # ------------------------------------------------------------------
    def test_quote_overlapping_a_retainer(self):
        plan = self.env.ref("atlas_msp_billing.product_msp_retainer_plan")
        order = (
            self.env["sale.order"]
            .with_user(self.user_account_manager)
            .create(
                {
                    "partner_id": self.customer.id,
                    "msp_retainer_start_date": "2026-11-15",
                    "order_line": [Command.create({"product_id": plan.id, "price_unit": 1500})],
                }
            )
        )
        message = self.refused(
            self.user_account_manager,
            "sale.order",
            "action_confirm",
            [order.ids],
            "set the quotation's Retainer Start to a day that retainer does not cover",
            unchanged=(order, ["state"]),
        )
        self.assertIn(self.retainer.name, message)

    def test_win_and_onboard(self):
        manager = self.user_account_manager
        Lead = self.env["crm.lead"]
        lead = Lead.create(
            {
                "name": "Managed IT",
                "type": "opportunity",
                "partner_name": "Acme Dental",
                "contact_name": "Jane Doe",
                "user_id": manager.id,
                "msp_estimated_mrr": 1000.0,
            }
        )
        nameless = Lead.create({"name": "Walk-in", "type": "opportunity", "user_id": manager.id})
        existing = Lead.create(
            {
                "name": "More IT",
                "type": "opportunity",
                "partner_name": "Test Customer Inc.",
                "contact_name": "John Roe",
                "user_id": manager.id,
            }
        )
        won = ["stage_id", "partner_id", "msp_retainer_id", "probability"]
        values = {"date_start": "2026-11-20", "included_hours": 10.0, "overage_rate": 120.0}
        for target, bad, expected in [
            (lead, {"amount": -5.0}, "the fee per cycle of the retainer cannot be negative"),
            (lead, {"included_hours": -1.0}, "included hours of the retainer cannot be negative"),
            (lead, {"overage_rate": -1.0}, "overage rate of the retainer cannot be negative"),
            (lead, {"adhoc_rate": -1.0}, "ad-hoc rate of the retainer cannot be negative"),
            (nameless, {}, "set the company name (or the customer) first"),
            (existing, {}, f"already has active retainer {self.retainer.name}"),
        ]:
            with self.subTest(lead=target.name, values=bad):
                wizard_id = self.rpc(
                    manager, "msp.win.onboard", "create", {"lead_id": target.id, **values, **bad}
                )
                self.refused(
                    manager,
                    "msp.win.onboard",
                    "action_win_onboard",
                    [[wizard_id]],
                    expected,
                    unchanged=(target, won),
                )
        self.assertFalse(self.env["res.partner"].search_count([("name", "=", "John Roe")]))
        self.refused(
            manager,
            "crm.lead",
            "write",
            [lead.ids, {"msp_estimated_mrr": -100.0}],
            "the estimated MRR cannot be negative",
            unchanged=(lead, ["msp_estimated_mrr"]),
        )

    def test_log_time_wizard(self):
        tech = self.user_technician

        def line(task, hours, name="Patching", **values):
            return (
                0,
                0,
                {"task_id": task.id, "date": "2026-11-12", "unit_amount": hours, "name": name}
                | values,
            )

        other = self.env["hr.employee"].create({"name": "Other Technician"})
        for employee, lines, expected in [
            (self.employee, [line(self.task_a, 1.0), line(self.task_b, 30.0)], "Line 2 (Printer"),
            (self.employee, [line(self.task_a, 1.0), line(self.task_b, -1.0)], "from 0 to 24"),
            (self.employee, [line(self.task_a, 2.0), line(self.task_b, 0.0)], "enter the hours"),
            (self.employee, [], "Add at least one line to log"),
            (self.employee, [line(self.task_a, 1.0, name=" ")], "describe the work done"),
            (other, [line(self.task_a, 1.0)], "Only timesheet approvers can log time for"),
        ]:
            with self.subTest(lines=lines):
                wizard_id = self.rpc(
                    tech,
                    "msp.timesheet.bulk",
                    "create",
                    {"employee_id": employee.id, "line_ids": lines},
                )
                self.refused(tech, "msp.timesheet.bulk", "action_log_time", [[wizard_id]], expected)
        # Its entries are created one by one: the refusal of the second undoes the first.
        adhoc_task = self.env["project.task"].create(
            {"name": "Walk-in setup", "project_id": self.adhoc_project.id}
        )
        wizard_id = self.rpc(
            tech,
            "msp.timesheet.bulk",
            "create",
            {
                "employee_id": self.employee.id,
                "line_ids": [
                    line(self.task_a, 1.0),
                    line(adhoc_task, 1.0, msp_billing_category="retainer"),
                ],
            },
        )
        self.refused(
            tech,
            "msp.timesheet.bulk",
            "action_log_time",
            [[wizard_id]],
            "Nothing was logged",
        )

    def test_billing_run_wizard(self):
        self.refused(
            self.user_billing_manager,
            "msp.billing.run",
            "create",
            [{"run_date": "2999-01-01"}],
            "choose today or an earlier date",
        )
