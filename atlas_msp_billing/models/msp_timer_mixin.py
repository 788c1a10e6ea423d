from odoo import api, fields, models
from odoo.exceptions import UserError

from ..utils.roles import msp_role

TIMER_STATES = [("stopped", "Stopped"), ("running", "Running"), ("paused", "Paused")]


class MspTimerMixin(models.AbstractModel):
    """The current user's timer on a task: the fields the task views show and
    the Start / Pause / Resume / Stop buttons. Inherited by ``project.task``,
    the records ``msp.timer.task_id`` points to."""

    _name = "msp.timer.mixin"
    _description = "Timer on a Record"

    msp_timer_state = fields.Selection(
        TIMER_STATES,
        string="My Timer",
        compute="_compute_msp_timer",
        search="_search_msp_timer_state",
    )
    msp_timer_start = fields.Datetime(string="My Timer Started", compute="_compute_msp_timer")
    msp_timer_elapsed = fields.Integer(
        string="My Timer Elapsed",
        compute="_compute_msp_timer",
        help="Time on your timer when the record was read, in seconds, pauses left out.",
    )
    msp_timer_stale = fields.Boolean(string="My Timer Is Stale", compute="_compute_msp_timer")

    @api.depends_context("uid")
    def _compute_msp_timer(self):
        # sudo: everyone who can read the task sees whether their own timer runs
        # on it, also users without access to timers (who have none).
        timers = (
            self.env["msp.timer"]
            .sudo()
            .search([("user_id", "=", self.env.uid), ("task_id", "in", self._origin.ids)])
        )
        timer_by_task = {timer.task_id.id: timer for timer in timers}
        for record in self:
            timer = timer_by_task.get(record._origin.id, timers.browse())
            record.msp_timer_state = timer.state or "stopped"
            record.msp_timer_start = timer.date_start
            record.msp_timer_elapsed = timer.elapsed_seconds
            record.msp_timer_stale = timer.is_stale

    def _search_msp_timer_state(self, operator, value):
        if operator not in ("=", "!=", "in", "not in"):
            raise UserError(self.env._("Timers can only be searched by their state."))
        values = {value} if operator in ("=", "!=") else set(value)
        negative = operator in ("!=", "not in")
        wanted = {state for state, _label in TIMER_STATES if (state in values) != negative}
        Timer = self.env["msp.timer"].sudo()
        mine = [("user_id", "=", self.env.uid)]
        if "stopped" in wanted:
            others = Timer._search([*mine, ("state", "not in", list(wanted))])
            return [("id", "not in", others.subselect("task_id"))]
        timers = Timer._search([*mine, ("state", "in", list(wanted))])
        return [("id", "in", timers.subselect("task_id"))]

    # ------------------------------------------------------------------
    # Buttons
    # ------------------------------------------------------------------
    def _msp_timer(self):
        """The current user's timer on this record (empty if none)."""
        self.ensure_one()
        return self.env["msp.timer"].search(
            [("user_id", "=", self.env.uid), ("task_id", "=", self.id)], limit=1
        )

    def _msp_timer_or_error(self, state=None):
        timer = self._msp_timer()
        if not timer:
            raise UserError(self.env._("You have no timer on %(task)s.", task=self.display_name))
        if state == "running" and timer.state != "running":
            raise UserError(
                self.env._(
                    "Your timer on %(task)s is paused, not running: resume it first.",
                    task=self.display_name,
                )
            )
        if state == "paused" and timer.state != "paused":
            raise UserError(
                self.env._("Your timer on %(task)s is already running.", task=self.display_name)
            )
        return timer

    @msp_role("technician")
    def action_msp_timer_start(self):
        """Start timing the work on this task; a paused timer resumes."""
        self.ensure_one()
        if self._msp_timer().state == "paused":
            return self.action_msp_timer_resume()
        if self.msp_is_ticket and self.is_closed:
            raise UserError(
                self.env._(
                    "Ticket %(ticket)s is closed: reopen it before timing more work on it.",
                    ticket=self.display_name,
                )
            )
        if not self.project_id:
            raise UserError(
                self.env._(
                    "%(task)s is a private task, which cannot hold time entries: add it "
                    "to a project to time it.",
                    task=self.display_name,
                )
            )
        if not self.allow_timesheets:
            raise UserError(
                self.env._(
                    "Project %(project)s does not use timesheets: enable them in its "
                    "settings to time its tasks.",
                    project=self.project_id.display_name,
                )
            )
        timer = self.env["msp.timer"].create({"task_id": self.id})
        # Checked now rather than at stop time, when the work is already done.
        timer._msp_employee()
        return True

    @msp_role("technician")
    def action_msp_timer_pause(self):
        self.ensure_one()
        self._msp_timer_or_error("running").paused_at = fields.Datetime.now()
        return True

    @msp_role("technician")
    def action_msp_timer_resume(self):
        self.ensure_one()
        timer = self._msp_timer_or_error("paused")
        now = fields.Datetime.now()
        timer.write(
            {
                "paused_at": False,
                "paused_seconds": timer.paused_seconds
                + int((now - timer.paused_at).total_seconds()),
            }
        )
        return True

    @msp_role("technician")
    def action_msp_timer_stop(self):
        """Ask for the description (and, for a stale timer, the real hours)."""
        self.ensure_one()
        self._msp_timer_or_error()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Stop Timer"),
            "res_model": "msp.timer.stop",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": {"default_task_id": self.id},
        }

    def _msp_timer_stop(self, description, hours=None):
        """Stop the current user's timer: log its time on the record as a time
        entry described by ``description`` and return that entry. ``hours``
        replaces the timer's rounded time; without it, a stale timer's time is
        logged as non-billable, marked for review."""
        self.ensure_one()
        return self._msp_timer_or_error()._msp_stop(description, hours=hours)
