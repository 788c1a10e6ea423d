"""Roles on every public method: each public method the add-on defines is
callable over RPC by anyone who can read a record, so each checks the
caller's role itself. The methods are found in the registry, not listed
here: a method added later is checked without editing this file."""

from contextlib import contextmanager, suppress
from datetime import date, datetime
from xmlrpc.client import Fault

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, new_test_user, tagged

from ..utils.roles import ROLE_ATTRIBUTE, ROLE_GROUPS
from .common import MspBillingCase

ADDON_MODULE = "odoo.addons.atlas_msp_billing"
# The clock of every call: timers, "today" of the billing wizard.
NOW = "2026-03-10 10:00:00"


def _is_addon_class(klass):
    module = klass.__module__ or ""
    return module == ADDON_MODULE or module.startswith(ADDON_MODULE + ".")


def addon_public_methods(registry):
    """{(model, method): role} of every public method (no leading
    underscore) that a class of the add-on defines on a model of the
    registry, leaving out the names Odoo or another add-on defines on that
    model too (overrides such as ``create`` or ``button_cancel``, which
    Odoo's access rights protect). The role is None when the method has no
    role check."""
    methods = {}
    for model_name in sorted(registry):
        mro = registry[model_name].__mro__
        foreign = {name for klass in mro if not _is_addon_class(klass) for name in vars(klass)}
        for klass in filter(_is_addon_class, mro):
            for name, value in vars(klass).items():
                if name.startswith("_") or name in foreign or not callable(value):
                    continue
                methods.setdefault((model_name, name), getattr(value, ROLE_ATTRIBUTE, None))
    return methods


class _Rollback(Exception):
    """Raised to undo what a call wrote."""


@tagged("post_install", "-at_install")
class TestRoles(MspBillingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.write(
            {"msp_timer_rounding": 1, "msp_timer_minimum": 0, "msp_timer_stale_hours": 10.0}
        )
        contact = cls.env["res.partner"].create(
            {"name": "Pat Portal", "parent_id": cls.customer.id, "email": "pat@example.com"}
        )
        cls.user_portal = new_test_user(
            cls.env, login="msp_roles_portal", groups="base.group_portal", partner_id=contact.id
        )
        cls.users = {
            "technician": cls.user_technician,
            "account manager": cls.user_account_manager,
            "billing manager": cls.user_billing_manager,
            "portal user": cls.user_portal,
        }
        # Everyone who may time work needs an employee to log it.
        cls.env["hr.employee"].create(
            [
                {"name": "Test Account Manager", "user_id": cls.user_account_manager.id},
                {"name": "Test Billing Manager", "user_id": cls.user_billing_manager.id},
            ]
        )
        cls.methods = addon_public_methods(cls.env.registry)
        cls.retainer = cls.create_retainer()
        cls.entry = cls.log_time(2.0, "2026-01-10")
        # No salesperson: every salesperson may read and edit them.
        cls.lead = cls.env["crm.lead"].create(
            {
                "name": "Managed IT for Role Test Co",
                "type": "opportunity",
                "partner_name": "Role Test Co",
                "user_id": False,
                "msp_estimated_mrr": 800.0,
            }
        )
        cls.order = cls.env["sale.order"].create(
            {
                "partner_id": cls.customer.id,
                "user_id": False,
                "order_line": [Command.create({"product_id": cls.product_adhoc.id})],
            }
        )

    # ------------------------------------------------------------------
    # Records to call the methods on
    # ------------------------------------------------------------------
    def default_records(self, model_name):
        """A record of ``model_name`` the roles read: the customer's
        retainer, period, time entry... (the portal user reads the
        retainer and its periods)."""
        records = {
            "msp.retainer": lambda: self.retainer,
            "msp.retainer.period": lambda: self.retainer.period_ids[:1],
            "msp.revenue.report": lambda: self.env["msp.revenue.report"].search(
                [("retainer_id", "=", self.retainer.id)]
            ),
            "res.partner": lambda: self.customer,
            "account.analytic.line": lambda: self.entry,
            "project.task": lambda: self.task_a,
            "crm.lead": lambda: self.lead,
            "sale.order": lambda: self.order,
        }
        if model_name in records:
            return records[model_name]()
        Model = self.env[model_name]
        return Model.browse() if Model._transient else Model.search([], limit=1)

    def start_timer(self, user, paused=False):
        return self.env["msp.timer"].create(
            {
                "task_id": self.task_a.id,
                "user_id": user.id,
                "date_start": datetime(2026, 3, 10, 9, 0),
                "paused_at": datetime(2026, 3, 10, 9, 30) if paused else False,
            }
        )

    def timer_of(self, user):
        return self.env["msp.timer"].search(
            [("user_id", "=", user.id), ("task_id", "=", self.task_a.id)]
        )

    def wizard(self, model_name, user, values):
        # Created by the user (a wizard is its creator's), whatever their rights.
        return self.env[model_name].with_user(user).sudo().create(values).sudo(False)

    # Each scenario returns the records to call the method on and a check of
    # what a successful call did; a method without one is called on
    # default_records and must not be refused to its role.
    def scenario_activate(self, user):
        other = self.env["res.partner"].create({"name": "Draft Customer", "is_company": True})
        draft = self.create_retainer(activate=False, partner_id=other.id)
        return draft, lambda result: self.assertEqual(draft.state, "active")

    def scenario_close(self, user):
        return self.retainer, lambda result: self.assertEqual(
            self.retainer.date_end, date(2026, 3, 10)
        )

    def scenario_reset_draft(self, user):
        return self.retainer, lambda result: self.assertEqual(self.retainer.state, "draft")

    def scenario_invoice_now(self, user):
        return self.retainer, lambda result: self.assertEqual(
            sorted(self.retainer.invoice_ids.mapped("invoice_date")),
            [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)],
        )

    def scenario_regenerate(self, user):
        self.env["msp.retainer"]._run_billing(run_date=date(2026, 1, 1))
        period = self.retainer.period_ids.filtered(lambda p: p.date_start == date(2026, 1, 1))
        period.invoice_id.unlink()
        return period, lambda result: self.assertTrue(period.invoice_id)

    def scenario_generate(self, user):
        wizard = self.wizard("msp.billing.run", user, {"run_date": "2026-01-15"})
        return wizard, lambda result: self.assertTrue(self.retainer.invoice_ids)

    def scenario_timer_start(self, user):
        return self.task_a, lambda result: self.assertEqual(self.timer_of(user).state, "running")

    def scenario_timer_start_from_entry(self, user):
        return self.entry, lambda result: self.assertEqual(self.timer_of(user).state, "running")

    def scenario_timer_pause(self, user):
        self.start_timer(user)
        return self.task_a, lambda result: self.assertEqual(self.timer_of(user).state, "paused")

    def scenario_timer_resume(self, user):
        self.start_timer(user, paused=True)
        return self.task_a, lambda result: self.assertEqual(self.timer_of(user).state, "running")

    def scenario_timer_stop(self, user):
        self.start_timer(user)
        return self.task_a, lambda result: self.assertEqual(result["res_model"], "msp.timer.stop")

    def scenario_timer_confirm(self, user):
        self.start_timer(user)
        wizard = self.wizard(
            "msp.timer.stop", user, {"task_id": self.task_a.id, "description": "Stopped"}
        )

        def check(result):
            self.assertFalse(self.timer_of(user))
            entry = self.env["account.analytic.line"].search([("name", "=", "Stopped")])
            self.assertEqual(entry.employee_id.user_id, user)

        return wizard, check

    def scenario_log_time(self, user):
        employee = (
            self.env["hr.employee"].search([("user_id", "=", user.id)], limit=1) or self.employee
        )
        line = {"task_id": self.task_a.id, "date": "2026-03-09", "unit_amount": 1.5, "name": "Bulk"}
        wizard = self.wizard(
            "msp.timesheet.bulk",
            user,
            {"employee_id": employee.id, "line_ids": [Command.create(line)]},
        )

        def check(result):
            entries = self.env["account.analytic.line"].search(result["domain"])
            self.assertEqual(entries.mapped("unit_amount"), [1.5])

        return wizard, check

    def scenario_win_onboard_wizard(self, user):
        wizard = self.wizard(
            "msp.win.onboard",
            user,
            {
                "lead_id": self.lead.id,
                "included_hours": 5.0,
                "overage_rate": 100.0,
                "date_start": "2026-03-01",
            },
        )
        return wizard, lambda result: self.assertEqual(self.lead.msp_retainer_id.state, "active")

    def scenario_win_onboard_button(self, user):
        return self.lead, lambda result: self.assertEqual(result["res_model"], "msp.win.onboard")

    def scenario_dashboard(self, user):
        return self.env["msp.revenue.report"], lambda result: self.assertGreaterEqual(
            result["active_retainers"], 1
        )

    SCENARIOS = {
        ("msp.retainer", "action_activate"): scenario_activate,
        ("msp.retainer", "action_close"): scenario_close,
        ("msp.retainer", "action_reset_draft"): scenario_reset_draft,
        ("msp.retainer", "action_invoice_now"): scenario_invoice_now,
        ("msp.retainer.period", "action_regenerate_invoice"): scenario_regenerate,
        ("msp.billing.run", "action_generate"): scenario_generate,
        ("project.task", "action_msp_timer_start"): scenario_timer_start,
        ("account.analytic.line", "action_msp_timer_start"): scenario_timer_start_from_entry,
        ("project.task", "action_msp_timer_pause"): scenario_timer_pause,
        ("project.task", "action_msp_timer_resume"): scenario_timer_resume,
        ("project.task", "action_msp_timer_stop"): scenario_timer_stop,
        ("msp.timer.stop", "action_confirm"): scenario_timer_confirm,
        ("msp.timesheet.bulk", "action_log_time"): scenario_log_time,
        ("msp.win.onboard", "action_win_onboard"): scenario_win_onboard_wizard,
        ("crm.lead", "action_msp_win_onboard"): scenario_win_onboard_button,
        ("msp.revenue.report", "get_dashboard_data"): scenario_dashboard,
    }

    # ------------------------------------------------------------------
    # Calling
    # ------------------------------------------------------------------
    @contextmanager
    def rolled_back(self):
        """Undo whatever the block wrote, so that each call starts afresh."""
        with suppress(_Rollback), self.env.cr.savepoint():
            yield
            raise _Rollback

    def call(self, model_name, method, user):
        """Call ``method`` as ``user``; True when a refusal was expected and
        raised, or when the method ran (and did what it should, for the
        methods with a scenario)."""
        role = self.methods[model_name, method]
        self.assertIn(role, ROLE_GROUPS, f"{model_name}.{method} checks no role")
        allowed = user.has_group(ROLE_GROUPS[role])
        scenario = self.SCENARIOS.get((model_name, method))
        with self.rolled_back(), freeze_time(NOW):
            records, check = (
                scenario(self, user) if scenario else (self.default_records(model_name), None)
            )
            records = records.with_user(user).with_context(msp_date=date(2026, 3, 10))
            if not allowed:
                with self.assertRaises(AccessError, msg=f"{user.name} may not call {method}"):
                    getattr(records, method)()
            elif check:
                check(getattr(records, method)())
            else:
                self.call_without_scenario(records, method)

    def call_without_scenario(self, records, method):
        """A method without a scenario (navigation, or one added later) may
        refuse its arguments or the record's state, not the role."""
        try:
            result = getattr(records, method)()
        except AccessError:
            raise
        except (UserError, ValueError, TypeError):
            return
        if method.startswith("action_view") or method.startswith("action_open"):
            self.assertIn("res_model", result)

    # ------------------------------------------------------------------
    # Tests
    # ------------------------------------------------------------------
    def test_every_public_method_checks_a_role(self):
        methods = addon_public_methods(self.env.registry)
        # The enumeration itself works: it finds the buttons DESIGN names and
        # leaves out Odoo's own names.
        self.assertIn(("msp.retainer", "action_invoice_now"), methods)
        self.assertIn(("project.task", "action_msp_timer_start"), methods)
        self.assertIn(("msp.billing.run", "action_generate"), methods)
        self.assertNotIn(("msp.retainer", "create"), methods)
        self.assertNotIn(("account.move", "button_cancel"), methods)
        unchecked = sorted(key for key, role in methods.items() if role is None)
        self.assertFalse(
            unchecked, "public methods without a role check (decorate them with msp_role)"
        )
        self.assertFalse(set(methods.values()) - set(ROLE_GROUPS))

    def test_each_role_calls_each_public_method(self):
        concrete = sorted(key for key in self.methods if not self.env[key[0]]._abstract)
        for model_name, method in concrete:
            for label, user in self.users.items():
                with self.subTest(model=model_name, method=method, user=label):
                    self.call(model_name, method, user)

    def test_expected_roles(self):
        """What DESIGN says each role may do, on the main buttons."""
        methods = addon_public_methods(self.env.registry)
        expected = {
            ("msp.retainer", "action_invoice_now"): "billing_manager",
            ("msp.retainer.period", "action_regenerate_invoice"): "billing_manager",
            ("msp.billing.run", "action_generate"): "billing_manager",
            ("msp.retainer", "action_activate"): "account_manager",
            ("msp.retainer", "action_close"): "account_manager",
            ("msp.retainer", "action_reset_draft"): "account_manager",
            ("msp.win.onboard", "action_win_onboard"): "account_manager",
            ("project.task", "action_msp_timer_start"): "technician",
            ("msp.timesheet.bulk", "action_log_time"): "technician",
        }
        self.assertEqual({key: methods[key] for key in expected}, expected)

    def test_refusal_says_what_the_role_is(self):
        retainer = self.retainer.with_user(self.user_technician)
        with self.assertRaisesText(AccessError, "Only billing managers can invoice retainers."):
            retainer.action_invoice_now()
        with self.assertRaisesText(AccessError, "Only account managers can close retainers."):
            retainer.action_close()

    def test_superuser_and_internal_calls_pass(self):
        """The quote confirmation and the demo data activate retainers as
        superuser, whoever confirms."""
        with self.rolled_back():
            self.retainer.with_user(self.user_technician).sudo().with_context(
                msp_date="2026-03-10"
            ).action_close()
            self.assertEqual(self.retainer.date_end, date(2026, 3, 10))

    # ------------------------------------------------------------------
    # Deleting retainers
    # ------------------------------------------------------------------
    def test_account_manager_deletes_a_draft_only(self):
        Retainer = self.env["msp.retainer"].with_user(self.user_account_manager)
        draft = Retainer.create(
            {"partner_id": self.customer.id, "amount": 500.0, "date_start": "2026-06-01"}
        )
        draft.unlink()
        self.assertFalse(draft.exists())
        with self.assertRaisesText(UserError, "Only draft retainers can be deleted"):
            self.retainer.with_user(self.user_account_manager).unlink()
        self.retainer.state = "closed"
        with self.assertRaisesText(UserError, "Only draft retainers can be deleted"):
            self.retainer.with_user(self.user_billing_manager).unlink()

    def test_technician_cannot_delete_a_draft(self):
        draft = self.create_retainer(activate=False, date_start="2026-06-01")
        with self.assertRaises(AccessError):
            draft.with_user(self.user_technician).unlink()
        self.assertTrue(draft.exists())


@tagged("post_install", "-at_install")
class TestRolesOverXmlRpc(HttpCase, MspBillingCase):
    """The issue as reported: a hidden button is still callable over XML-RPC."""

    def call(self, user, model, method, *args, **kwargs):
        return self.xmlrpc_object.execute_kw(
            self.env.cr.dbname, user.id, user.login, model, method, list(args), kwargs
        )

    def test_only_billing_managers_invoice(self):
        retainer = self.create_retainer()
        invoice_now = ("msp.retainer", "action_invoice_now", [retainer.id])
        context = {"context": {"msp_date": "2026-01-15"}}
        with self.assertRaisesRegex(Fault, "Only billing managers can invoice retainers"):
            self.call(self.user_technician, *invoice_now, **context)
        with self.assertRaisesRegex(Fault, "Only account managers and billing managers"):
            self.call(self.user_technician, "msp.revenue.report", "get_dashboard_data")
        self.env.invalidate_all()
        self.assertFalse(retainer.invoice_ids)
        self.call(self.user_billing_manager, *invoice_now, **context)
        self.env.invalidate_all()
        self.assertEqual(retainer.invoice_ids.invoice_date, date(2026, 1, 1))
