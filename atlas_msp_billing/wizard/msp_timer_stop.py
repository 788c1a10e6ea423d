from odoo import api, fields, models

from ..utils.roles import msp_role


class MspTimerStop(models.TransientModel):
    _name = "msp.timer.stop"
    _description = "Stop Timer"

    task_id = fields.Many2one("project.task", required=True, ondelete="cascade")
    description = fields.Char(required=True)
    # The dialog shows the timer as its clock does (H:MM:SS, ticking while it
    # runs), so that both read the same; the time logged is in hours.
    elapsed_seconds = fields.Integer(string="Timer", compute="_compute_timer")
    timer_state = fields.Selection(
        [("running", "Running"), ("paused", "Paused")], compute="_compute_timer"
    )
    rounded_hours = fields.Float(
        string="Time Logged",
        compute="_compute_timer",
        help="The timer's time rounded up to your company's rounding unit and minimum.",
    )
    is_stale = fields.Boolean(compute="_compute_timer")
    hours = fields.Float(
        string="Hours Worked",
        help="The time you really worked: a stale timer's time is not trusted.",
    )

    @api.depends("task_id")
    def _compute_timer(self):
        for wizard in self:
            timer = wizard.task_id._msp_timer() if wizard.task_id else self.env["msp.timer"]
            wizard.elapsed_seconds = timer.elapsed_seconds
            wizard.timer_state = timer.state
            wizard.rounded_hours = timer._msp_rounded_hours() if timer else 0.0
            wizard.is_stale = timer.is_stale

    @msp_role("technician")
    def action_confirm(self):
        self.ensure_one()
        self.task_id._msp_timer_stop(self.description, hours=self.hours if self.is_stale else None)
        return {"type": "ir.actions.act_window_close"}
