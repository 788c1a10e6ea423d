from datetime import date, datetime

import psycopg2
from freezegun import freeze_time

from odoo import api
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from .common import MspBillingCase

START = datetime(2026, 3, 10, 9, 0, 0)


@tagged("post_install", "-at_install")
class TestTimer(MspBillingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.company
        cls.company.write(
            {"msp_timer_rounding": 1, "msp_timer_minimum": 0, "msp_timer_stale_hours": 10.0}
        )
        cls.Timer = cls.env["msp.timer"]
        cls.task_a_tech = cls.task_a.with_user(cls.user_technician)
        cls.task_b_tech = cls.task_b.with_user(cls.user_technician)

    def at(self, moment):
        """Freeze the clock; the timers' elapsed time is recomputed from the
        database, as in a new request."""
        self.env.invalidate_all()
        return freeze_time(moment)

    def timer_of(self, task, user=None):
        return self.Timer.search(
            [("task_id", "=", task.id), ("user_id", "=", (user or self.user_technician).id)]
        )

    def start(self, task, moment):
        with self.at(moment):
            task.action_msp_timer_start()

    def stop(self, task, moment, description="Work", **kwargs):
        with self.at(moment):
            return task._msp_timer_stop(description, **kwargs)

    # ------------------------------------------------------------------
    # Elapsed time and rounding
    # ------------------------------------------------------------------
    def test_start_pause_resume_stop(self):
        task = self.task_a_tech
        self.assertEqual(task.msp_timer_state, "stopped")
        self.start(task, "2026-03-10 09:00:00")
        timer = self.timer_of(task)
        self.assertEqual(timer.date_start, START)
        with self.at("2026-03-10 09:10:00"):
            self.assertEqual(task.msp_timer_state, "running")
            self.assertEqual(task.msp_timer_start, START)
            self.assertEqual(task.msp_timer_elapsed, 600)
            task.action_msp_timer_pause()
        with self.at("2026-03-10 09:40:00"):
            self.assertEqual(task.msp_timer_state, "paused")
            self.assertEqual(timer.paused_at, datetime(2026, 3, 10, 9, 10))
            self.assertEqual(task.msp_timer_elapsed, 600, "a paused timer does not count")
            task.action_msp_timer_resume()
        self.assertFalse(timer.paused_at)
        self.assertEqual(timer.paused_seconds, 1800)
        with self.at("2026-03-10 10:00:00"):
            self.assertEqual(task.msp_timer_state, "running")
            self.assertEqual(timer.elapsed_seconds, 1800)
        entry = self.stop(task, "2026-03-10 10:00:00", description="  Moved mailboxes ")
        self.assertEqual(entry.unit_amount, 0.5)
        self.assertEqual(entry.name, "Moved mailboxes")
        self.assertEqual(entry.task_id, self.task_a)
        self.assertEqual(entry.project_id, self.project)
        self.assertEqual(entry.employee_id, self.employee)
        self.assertEqual(entry.date, date(2026, 3, 10))
        self.assertFalse(timer.exists())
        self.assertEqual(task.msp_timer_state, "stopped")

    def test_stop_a_paused_timer(self):
        self.start(self.task_a_tech, "2026-03-10 09:00:00")
        with self.at("2026-03-10 09:20:00"):
            self.task_a_tech.action_msp_timer_pause()
        entry = self.stop(self.task_a_tech, "2026-03-10 17:00:00")
        self.assertAlmostEqual(entry.unit_amount, 20 / 60)

    def test_rounding_unit_and_minimum(self):
        self.company.write({"msp_timer_rounding": 15, "msp_timer_minimum": 15})
        self.start(self.task_a_tech, "2026-03-10 09:00:00")
        self.assertEqual(self.stop(self.task_a_tech, "2026-03-10 09:01:00").unit_amount, 0.25)
        self.start(self.task_a_tech, "2026-03-10 10:00:00")
        self.assertEqual(self.stop(self.task_a_tech, "2026-03-10 10:16:00").unit_amount, 0.5)
        # A minimum above the unit wins over it.
        self.company.msp_timer_minimum = 20
        self.start(self.task_a_tech, "2026-03-10 11:00:00")
        self.assertAlmostEqual(
            self.stop(self.task_a_tech, "2026-03-10 11:01:00").unit_amount, 20 / 60
        )

    def test_default_rounding_is_one_minute(self):
        self.company.write({"msp_timer_rounding": 1, "msp_timer_minimum": 0})
        self.start(self.task_a_tech, "2026-03-10 09:00:00")
        self.assertAlmostEqual(
            self.stop(self.task_a_tech, "2026-03-10 09:01:30").unit_amount, 2 / 60
        )
        # Stopped at once: still one unit.
        self.start(self.task_a_tech, "2026-03-10 10:00:00")
        self.assertAlmostEqual(
            self.stop(self.task_a_tech, "2026-03-10 10:00:00").unit_amount, 1 / 60
        )

    def test_date_is_the_start_day_in_the_company_time_zone(self):
        self.company.partner_id.tz = "America/Los_Angeles"
        # 02:30 UTC on the 11th is the evening of the 10th in Los Angeles.
        self.start(self.task_a_tech, "2026-03-11 02:30:00")
        entry = self.stop(self.task_a_tech, "2026-03-11 09:00:00")
        self.assertEqual(entry.date, date(2026, 3, 10))

    # ------------------------------------------------------------------
    # One running timer per user
    # ------------------------------------------------------------------
    def test_second_running_timer_refused(self):
        self.start(self.task_a_tech, "2026-03-10 09:00:00")
        with self.assertRaisesText(UserError, "You already have a timer running on"):
            self.start(self.task_b_tech, "2026-03-10 09:05:00")
        with self.assertRaisesText(UserError, self.task_a.name):
            self.start(self.task_b_tech, "2026-03-10 09:05:00")
        self.assertFalse(self.timer_of(self.task_b))
        # The same task twice is refused as well.
        with self.assertRaisesText(UserError, self.task_a.name):
            self.start(self.task_a_tech, "2026-03-10 09:05:00")

        # A paused timer lets another one run...
        with self.at("2026-03-10 09:10:00"):
            self.task_a_tech.action_msp_timer_pause()
        self.start(self.task_b_tech, "2026-03-10 09:11:00")
        self.assertEqual(self.task_b_tech.msp_timer_state, "running")
        # ... but cannot resume while it runs, and stays paused.
        with self.assertRaisesText(UserError, self.task_b.name), self.at("2026-03-10 09:20:00"):
            self.task_a_tech.action_msp_timer_resume()
        self.assertEqual(self.timer_of(self.task_a).state, "paused")
        # Another user's running timer does not count.
        other = self.user_billing_manager
        self.env["hr.employee"].create({"name": "Billing", "user_id": other.id})
        self.start(self.task_a.with_user(other), "2026-03-10 09:30:00")
        self.assertEqual(self.timer_of(self.task_a, other).state, "running")

    def test_start_on_a_paused_timer_resumes_it(self):
        self.start(self.task_a_tech, "2026-03-10 09:00:00")
        with self.at("2026-03-10 09:10:00"):
            self.task_a_tech.action_msp_timer_pause()
        self.start(self.task_a_tech, "2026-03-10 09:30:00")
        timer = self.timer_of(self.task_a)
        self.assertEqual(timer.state, "running")
        self.assertEqual(timer.paused_seconds, 1200)

    def test_time_entry_starts_a_timer_on_its_task(self):
        entry = self.log_time(1.0, "2026-03-09", category="adhoc")
        with self.at("2026-03-10 09:00:00"):
            entry.with_user(self.user_technician).action_msp_timer_start()
        self.assertEqual(self.timer_of(self.task_a).state, "running")

    def test_unique_index_guards_concurrent_starts(self):
        """Two browsers starting at once both pass the check before inserting:
        the database refuses the second running timer."""
        self.start(self.task_a_tech, "2026-03-10 09:00:00")
        with mute_logger("odoo.sql_db"), self.assertRaises(psycopg2.errors.UniqueViolation):
            self.env.cr.execute(
                "INSERT INTO msp_timer (user_id, task_id, company_id, date_start, paused_seconds)"
                " VALUES (%s, %s, %s, now() at time zone 'UTC', 0)",
                (self.user_technician.id, self.task_b.id, self.company.id),
            )

    def test_state_read_from_the_database(self):
        self.start(self.task_a_tech, "2026-03-10 09:00:00")
        self.env.invalidate_all()
        new_env = api.Environment(self.env.cr, self.user_technician.id, {})
        task = new_env["project.task"].browse(self.task_a.id)
        with freeze_time("2026-03-10 09:30:00"):
            self.assertEqual(task.msp_timer_state, "running")
            self.assertEqual(task.msp_timer_elapsed, 1800)
            self.assertEqual(
                task.search([("msp_timer_state", "=", "running")]), task, "searchable state"
            )
            self.assertNotIn(task, task.search([("msp_timer_state", "=", "stopped")]))
            self.assertIn(
                task.browse(self.task_b.id), task.search([("msp_timer_state", "=", "stopped")])
            )
        # Timers are personal: another user sees none on the same task.
        self.assertEqual(
            self.task_a.with_user(self.user_billing_manager).msp_timer_state, "stopped"
        )

    # ------------------------------------------------------------------
    # Stale timers
    # ------------------------------------------------------------------
    def test_stale_timer_is_flagged_and_not_billed(self):
        self.company.msp_timer_stale_hours = 2.0
        self.start(self.task_a_tech, "2026-03-10 09:00:00")
        with self.at("2026-03-10 10:59:00"):
            self.assertFalse(self.task_a_tech.msp_timer_stale)
        with self.at("2026-03-10 12:00:00"):
            self.assertTrue(self.task_a_tech.msp_timer_stale)
            timer = self.timer_of(self.task_a)
            self.assertTrue(timer.is_stale)
            self.assertEqual(self.Timer.search([("is_stale", "=", True)]), timer)
            self.assertNotIn(timer, self.Timer.search([("is_stale", "=", False)]))
        entry = self.stop(self.task_a_tech, "2026-03-10 12:00:00", description="Forgot it")
        self.assertEqual(entry.msp_billing_category, "non_billable")
        self.assertEqual(entry.name, "[Stale timer, review] Forgot it")
        self.assertEqual(entry.unit_amount, 3.0)

    def test_stale_timer_with_the_real_hours(self):
        self.company.msp_timer_stale_hours = 2.0
        self.start(self.task_a_tech, "2026-03-10 09:00:00")
        entry = self.stop(self.task_a_tech, "2026-03-10 18:00:00", hours=1.5)
        self.assertEqual(entry.unit_amount, 1.5)
        self.assertEqual(entry.name, "Work")
        self.assertEqual(entry.msp_billing_category, "adhoc", "the entry's own default")

    def test_paused_timer_does_not_go_stale(self):
        self.company.msp_timer_stale_hours = 2.0
        self.start(self.task_a_tech, "2026-03-10 09:00:00")
        with self.at("2026-03-10 10:00:00"):
            self.task_a_tech.action_msp_timer_pause()
        with self.at("2026-03-11 09:00:00"):
            self.assertFalse(self.task_a_tech.msp_timer_stale)

    # ------------------------------------------------------------------
    # Billing category and bad input
    # ------------------------------------------------------------------
    def test_category_follows_the_covering_retainer(self):
        self.create_retainer()
        self.start(self.task_a_tech, "2026-03-10 09:00:00")
        entry = self.stop(self.task_a_tech, "2026-03-10 10:00:00")
        self.assertEqual(entry.msp_billing_category, "retainer")
        self.assertEqual(entry.msp_period_id.date_start, date(2026, 3, 1))
        self.assertEqual(entry.msp_period_id.hours_used, 1.0)

    def test_category_without_retainer_is_adhoc(self):
        self.start(self.task_a_tech, "2026-03-10 09:00:00")
        entry = self.stop(self.task_a_tech, "2026-03-10 10:00:00")
        self.assertEqual(entry.msp_billing_category, "adhoc")
        self.assertFalse(entry.msp_period_id)

    def test_bad_input_writes_nothing(self):
        task = self.task_a_tech
        entries = self.env["account.analytic.line"].search_count([])
        with self.assertRaisesText(UserError, "You have no timer on"):
            task.action_msp_timer_pause()
        with self.assertRaisesText(UserError, "You have no timer on"):
            task.action_msp_timer_resume()
        with self.assertRaisesText(UserError, "You have no timer on"):
            task.action_msp_timer_stop()
        with self.assertRaisesText(UserError, "You have no timer on"):
            task._msp_timer_stop("Work")
        self.start(task, "2026-03-10 09:00:00")
        with self.assertRaisesText(UserError, "already running"):
            task.action_msp_timer_resume()
        with self.at("2026-03-10 09:10:00"):
            task.action_msp_timer_pause()
        with self.assertRaisesText(UserError, "is paused, not running"):
            task.action_msp_timer_pause()
        for hours in (0.0, -1.0):
            with self.assertRaisesText(UserError, "more than zero"):
                self.stop(task, "2026-03-10 10:00:00", hours=hours)
        with self.assertRaisesText(UserError, "Describe the work"):
            self.stop(task, "2026-03-10 10:00:00", description="  ")
        self.assertEqual(self.timer_of(self.task_a).paused_at, datetime(2026, 3, 10, 9, 10))
        self.assertEqual(self.env["account.analytic.line"].search_count([]), entries)

    def test_tasks_that_cannot_hold_time(self):
        private = self.env["project.task"].create({"name": "Buy milk"})
        with self.assertRaisesText(UserError, "private task"):
            private.action_msp_timer_start()
        self.project.allow_timesheets = False
        with self.assertRaisesText(UserError, "does not use timesheets"):
            self.task_a_tech.action_msp_timer_start()
        self.project.allow_timesheets = True
        self.employee.user_id = False
        with self.assertRaisesText(UserError, "has no employee in"):
            self.task_a_tech.action_msp_timer_start()
        self.assertFalse(self.timer_of(self.task_a))

    # ------------------------------------------------------------------
    # Access, wizard, web client
    # ------------------------------------------------------------------
    def test_technician_sees_only_own_timers(self):
        manager = self.user_billing_manager
        self.env["hr.employee"].create({"name": "Billing", "user_id": manager.id})
        self.start(self.task_a.with_user(manager), "2026-03-10 09:00:00")
        self.start(self.task_b_tech, "2026-03-10 09:00:00")
        theirs = self.timer_of(self.task_a, manager)
        mine = self.timer_of(self.task_b)
        timers = self.Timer.with_user(self.user_technician)
        self.assertEqual(timers.search([]), mine)
        with self.assertRaises(AccessError):
            theirs.with_user(self.user_technician).read(["date_start"])
        # Billing managers see (and can clear) everyone's timers.
        self.assertEqual(self.Timer.with_user(manager).search([]), theirs | mine)
        mine.with_user(manager).unlink()
        self.assertEqual(self.task_b_tech.msp_timer_state, "stopped")

    def test_stop_wizard(self):
        self.start(self.task_a_tech, "2026-03-10 09:00:00")
        with self.at("2026-03-10 09:45:00"):
            action = self.task_a_tech.action_msp_timer_stop()
            self.assertEqual(action["res_model"], "msp.timer.stop")
            wizard_env = self.env["msp.timer.stop"].with_user(self.user_technician)
            with Form(wizard_env.with_context(**action["context"])) as form:
                self.assertEqual(form.task_id, self.task_a)
                self.assertEqual(form.elapsed_seconds, 45 * 60)
                self.assertEqual(form.rounded_hours, 0.75)
                self.assertFalse(form.is_stale)
                form.description = "Configured the printer"
            form.record.action_confirm()
        entry = self.task_a.timesheet_ids
        self.assertEqual(entry.name, "Configured the printer")
        self.assertEqual(entry.unit_amount, 0.75)
        self.assertFalse(self.timer_of(self.task_a))

    def test_stop_wizard_on_a_stale_timer(self):
        self.company.msp_timer_stale_hours = 2.0
        self.start(self.task_a_tech, "2026-03-10 09:00:00")
        with self.at("2026-03-10 20:00:00"):
            action = self.task_a_tech.action_msp_timer_stop()
            wizard_env = self.env["msp.timer.stop"].with_user(self.user_technician)
            with Form(wizard_env.with_context(**action["context"])) as form:
                self.assertTrue(form.is_stale)
                self.assertEqual(form.elapsed_seconds, 11 * 3600)
                form.description = "Server upgrade"
            wizard = form.record
            with self.assertRaisesText(UserError, "more than zero"):
                wizard.action_confirm()
            wizard.hours = 2.5
            wizard.action_confirm()
        entry = self.task_a.timesheet_ids
        self.assertEqual(entry.unit_amount, 2.5)
        self.assertEqual(entry.msp_billing_category, "adhoc")

    def test_systray(self):
        timers = self.Timer.with_user(self.user_technician)
        self.assertFalse(timers.systray_get_timer())
        self.start(self.task_a_tech, "2026-03-10 09:00:00")
        with self.at("2026-03-10 09:05:00"):
            self.assertEqual(
                timers.systray_get_timer(),
                {
                    "task_id": self.task_a.id,
                    "task_name": self.task_a.display_name,
                    "elapsed_seconds": 300,
                    "is_stale": False,
                },
            )
            self.task_a_tech.action_msp_timer_pause()
        self.assertFalse(timers.systray_get_timer(), "only a running timer shows")
        employee_only = self.env["res.users"].create(
            {
                "name": "Plain User",
                "login": "msp_plain_user",
                "groups_id": [(6, 0, [self.env.ref("base.group_user").id])],
            }
        )
        self.assertFalse(self.Timer.with_user(employee_only).systray_get_timer())

    def test_views_load_with_the_timer(self):
        tasks = self.env["project.task"].with_user(self.user_technician)
        views = tasks.get_views(
            [
                (self.env.ref("project.view_task_form2").id, "form"),
                (self.env.ref("project.view_task_tree2").id, "list"),
                (self.env.ref("project.view_task_kanban").id, "kanban"),
            ]
        )["views"]
        for view_type in ("form", "list", "kanban"):
            arch = views[view_type]["arch"]
            self.assertIn('widget="msp_timer"', arch, view_type)
            self.assertIn('name="action_msp_timer_start"', arch, view_type)
        self.assertIn('name="action_msp_timer_stop"', views["form"]["arch"])
        tickets = tasks.get_views(
            [
                (self.env.ref("atlas_msp_billing.project_task_view_kanban_ticket").id, "kanban"),
                (self.env.ref("atlas_msp_billing.project_task_view_list_ticket").id, "list"),
            ]
        )["views"]
        for view_type in ("list", "kanban"):
            arch = tickets[view_type]["arch"]
            self.assertEqual(arch.count('name="action_msp_timer_start"'), 1, view_type)
            self.assertIn('widget="msp_timer"', arch, view_type)
        with Form(self.task_a_tech) as form:
            self.assertEqual(form.msp_timer_state, "stopped")
        lines = self.env["account.analytic.line"].with_user(self.user_technician)
        timesheet_list = lines.get_views(
            [(self.env.ref("hr_timesheet.hr_timesheet_line_tree").id, "list")]
        )["views"]["list"]["arch"]
        self.assertIn('name="action_msp_timer_start"', timesheet_list)
        timer_views = self.Timer.with_user(self.user_billing_manager).get_views(
            [(False, "list"), (False, "form"), (False, "search")]
        )["views"]
        self.assertIn('name="stale"', timer_views["search"]["arch"])
        self.assertIn('widget="msp_timer"', timer_views["list"]["arch"])
        # Users who cannot time tasks do not get the buttons.
        project_user = self.env["res.users"].create(
            {
                "name": "Project User",
                "login": "msp_project_user",
                "groups_id": [(6, 0, [self.env.ref("project.group_project_user").id])],
            }
        )
        form_arch = (
            self.env["project.task"]
            .with_user(project_user)
            .get_views([(self.env.ref("project.view_task_form2").id, "form")])["views"]["form"][
                "arch"
            ]
        )
        self.assertNotIn("action_msp_timer_start", form_arch)
