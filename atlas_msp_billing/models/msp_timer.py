import math

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..utils.roles import msp_role

# Mixin fields that read the current user's timers: they have no ORM dependency
# on msp.timer, so changing a timer invalidates them explicitly.
TASK_TIMER_FIELDS = ["msp_timer_state", "msp_timer_start", "msp_timer_elapsed", "msp_timer_stale"]
BUS_NOTIFICATION = "atlas_msp_billing.timer"


class MspTimer(models.Model):
    _name = "msp.timer"
    _description = "Task Timer"
    _rec_name = "task_id"
    _order = "date_start desc, id desc"

    user_id = fields.Many2one(
        "res.users",
        string="Technician",
        required=True,
        default=lambda self: self.env.user,
        index=True,
        ondelete="cascade",
    )
    task_id = fields.Many2one("project.task", required=True, ondelete="cascade")
    project_id = fields.Many2one(related="task_id.project_id")
    company_id = fields.Many2one(
        "res.company",
        compute="_compute_company_id",
        store=True,
        precompute=True,
        index=True,
    )
    date_start = fields.Datetime(
        string="Started", required=True, default=fields.Datetime.now, readonly=True
    )
    paused_at = fields.Datetime(string="Paused Since", readonly=True, copy=False)
    paused_seconds = fields.Integer(
        string="Paused (seconds)",
        default=0,
        readonly=True,
        help="Time spent paused before the current run, left out of the elapsed time.",
    )
    state = fields.Selection(
        [("running", "Running"), ("paused", "Paused")],
        compute="_compute_state",
        store=True,
    )
    elapsed_seconds = fields.Integer(
        string="Elapsed",
        compute="_compute_elapsed_seconds",
        help="Time on the timer so far, in seconds, pauses left out.",
    )
    is_stale = fields.Boolean(
        string="Stale",
        compute="_compute_is_stale",
        search="_search_is_stale",
        help="Ran longer than the company's stale timer limit: probably left running. "
        "Its time is only logged once the technician enters the hours really worked.",
    )

    _sql_constraints = [
        (
            "user_task_uniq",
            "unique(user_id, task_id)",
            "A technician has one timer per task: resume or stop the existing one.",
        ),
    ]

    def init(self):
        # The friendly check in create/write reads committed rows only: this
        # index makes the second of two concurrent starts fail.
        self.env.cr.execute(
            """
            CREATE UNIQUE INDEX IF NOT EXISTS msp_timer_one_running_per_user
            ON msp_timer (user_id) WHERE paused_at IS NULL
            """
        )

    @api.depends("task_id.company_id")
    def _compute_company_id(self):
        for timer in self:
            # Tasks of projects shared between companies have no company: the timer
            # then belongs to the one the technician works in, where the company
            # record rule lets them see it.
            timer.company_id = timer.task_id.company_id or timer.company_id or self.env.company

    @api.depends("paused_at")
    def _compute_state(self):
        for timer in self:
            timer.state = "paused" if timer.paused_at else "running"

    @api.depends("date_start", "paused_at", "paused_seconds")
    def _compute_elapsed_seconds(self):
        now = fields.Datetime.now()
        for timer in self:
            if not timer.date_start:
                timer.elapsed_seconds = 0
                continue
            run = (timer.paused_at or now) - timer.date_start
            timer.elapsed_seconds = max(0, int(run.total_seconds()) - timer.paused_seconds)

    @api.depends("elapsed_seconds", "company_id.msp_timer_stale_hours")
    def _compute_is_stale(self):
        for timer in self:
            timer.is_stale = timer.elapsed_seconds > timer.company_id.msp_timer_stale_hours * 3600

    def _search_is_stale(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise UserError(self.env._("Stale timers can only be searched as set or not set."))
        # Staleness depends on the clock, so it is not stored: compared in SQL.
        self.flush_model(["company_id", "date_start", "paused_at", "paused_seconds"])
        self.env["res.company"].flush_model(["msp_timer_stale_hours"])
        stale = SQL(
            """(
            SELECT timer.id
              FROM msp_timer timer
              JOIN res_company company ON company.id = timer.company_id
             WHERE EXTRACT(EPOCH FROM COALESCE(timer.paused_at, %(now)s) - timer.date_start)
                   - timer.paused_seconds > company.msp_timer_stale_hours * 3600
            )""",
            now=fields.Datetime.now(),
        )
        return [("id", "in" if (operator == "=") == value else "not in", stale)]

    # ------------------------------------------------------------------
    # One running timer per user
    # ------------------------------------------------------------------
    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if not vals.get("paused_at"):
                user = self.env["res.users"].browse(vals.get("user_id") or self.env.uid)
                self.browse()._msp_check_none_running(user)
        timers = super().create(vals_list)
        self._msp_notify(timers.user_id, timers.task_id)
        return timers

    def write(self, vals):
        if "paused_at" in vals and not vals["paused_at"]:
            starting = self
        elif "user_id" in vals:
            starting = self.filtered(lambda timer: not timer.paused_at)
        else:
            starting = self.browse()
        for timer in starting:
            user = self.env["res.users"].browse(vals.get("user_id") or timer.user_id.id)
            timer._msp_check_none_running(user)
        users, tasks = self.user_id, self.task_id
        res = super().write(vals)
        self._msp_notify(users | self.user_id, tasks | self.task_id)
        return res

    def unlink(self):
        users, tasks = self.user_id, self.task_id
        res = super().unlink()
        self._msp_notify(users, tasks)
        return res

    def _msp_check_none_running(self, user):
        """Refuse a second running timer of ``user`` (other than ``self``), naming
        the running task so the technician knows what to pause."""
        # sudo: the running timer may belong to a company not selected right now.
        running = self.sudo().search(
            [("user_id", "=", user.id), ("paused_at", "=", False), ("id", "not in", self.ids)],
            limit=1,
        )
        if running:
            raise UserError(
                self.env._(
                    "You already have a timer running on %(task)s: pause or stop it first.",
                    task=running.task_id.display_name,
                )
            )

    @api.model
    def _msp_notify(self, users, tasks):
        """Let the tasks and the users' open web clients (systray) see the new
        timer state."""
        tasks.invalidate_recordset(TASK_TIMER_FIELDS)
        users._bus_send(BUS_NOTIFICATION, {})

    # ------------------------------------------------------------------
    # Logging the time
    # ------------------------------------------------------------------
    def _msp_rounded_hours(self):
        """Elapsed time rounded up to the company's unit, at least one unit and
        at least the company's minimum."""
        self.ensure_one()
        unit = self.company_id.msp_timer_rounding
        units = max(1, math.ceil(self.elapsed_seconds / (unit * 60)))
        return max(units * unit, self.company_id.msp_timer_minimum) / 60

    def _msp_start_day(self):
        """The day the timer started, in the company's time zone: work started
        late in the evening belongs to that day, not to the UTC one."""
        self.ensure_one()
        return self.company_id._msp_local_date(self.date_start)

    def _msp_employee(self):
        self.ensure_one()
        # sudo: technicians only read public employee data.
        employee = (
            self.env["hr.employee"]
            .sudo()
            .search(
                [("user_id", "=", self.user_id.id), ("company_id", "=", self.company_id.id)],
                limit=1,
            )
        )
        if not employee:
            raise UserError(
                self.env._(
                    "%(user)s has no employee in %(company)s, so no time can be logged "
                    "there: ask an HR officer to create one.",
                    user=self.user_id.name,
                    company=self.company_id.name,
                )
            )
        return employee

    def _msp_stop(self, description, hours=None):
        """Log the timer's time on its task and delete the timer; ``hours``
        replaces the timer's rounded time. Returns the time entry."""
        self.ensure_one()
        task = self.task_id
        description = (description or "").strip()
        if not description:
            raise UserError(
                self.env._(
                    "Describe the work done on %(task)s to stop its timer.",
                    task=task.display_name,
                )
            )
        if hours is not None and hours <= 0:
            raise UserError(
                self.env._(
                    "Enter the hours you really worked on %(task)s: more than zero.",
                    task=task.display_name,
                )
            )
        if hours is None and self.env["account.analytic.line"]._msp_hours_error(
            self._msp_rounded_hours()
        ):
            raise UserError(
                self.env._(
                    "Your timer on %(task)s ran for more than a day: enter the hours you really "
                    "worked.",
                    task=task.display_name,
                )
            )
        values = {
            "name": description,
            "task_id": task.id,
            "project_id": task.project_id.id,
            "employee_id": self._msp_employee().id,
            "company_id": self.company_id.id,
            "date": self._msp_start_day(),
            "unit_amount": self._msp_rounded_hours() if hours is None else hours,
        }
        if hours is None and self.is_stale:
            # Probably left running: logged so nothing is lost, but not billable
            # until someone reviews it and sets the real hours.
            values["msp_billing_category"] = "non_billable"
            values["name"] = self.env._(
                "[Stale timer, review] %(description)s", description=description
            )
        entry = self.env["account.analytic.line"].create(values)
        self.unlink()
        return entry

    # ------------------------------------------------------------------
    # Web client
    # ------------------------------------------------------------------
    @api.model
    @msp_role("user")
    def systray_get_timer(self):
        """The current user's running timer for the systray, or False."""
        if not self.has_access("read"):
            return False
        timer = self.search([("user_id", "=", self.env.uid), ("paused_at", "=", False)], limit=1)
        if not timer:
            return False
        return {
            "task_id": timer.task_id.id,
            "task_name": timer.task_id.display_name,
            "elapsed_seconds": timer.elapsed_seconds,
            "is_stale": timer.is_stale,
        }
