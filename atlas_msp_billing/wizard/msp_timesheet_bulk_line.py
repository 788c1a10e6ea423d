from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import float_is_zero
from odoo.tools.misc import format_date

from ..utils.constants import BILLING_CATEGORIES, HOURS_DIGITS


class MspTimesheetBulkLine(models.TransientModel):
    _name = "msp.timesheet.bulk.line"
    _description = "Log Time in Bulk: Line"

    wizard_id = fields.Many2one("msp.timesheet.bulk", required=True, ondelete="cascade")
    task_id = fields.Many2one(
        "project.task",
        string="Task / Ticket",
        domain="[('project_id.allow_timesheets', '=', True), ('state', 'not in', "
        "['1_done', '1_canceled'])]",
    )
    project_id = fields.Many2one(related="task_id.project_id")
    date = fields.Date(default=fields.Date.context_today)
    unit_amount = fields.Float(string="Hours")
    msp_billing_category = fields.Selection(
        BILLING_CATEGORIES,
        string="Billing Category",
        compute="_compute_msp_billing_category",
        store=True,
        readonly=False,
    )
    name = fields.Char(string="Description")

    @api.depends("task_id", "date")
    def _compute_msp_billing_category(self):
        Timesheet = self.env["account.analytic.line"]
        for line in self:
            line.msp_billing_category = Timesheet._msp_default_category(
                line.task_id, line.task_id.partner_id, line.date
            )

    def _error_message(self, number, reason):
        return self.env._(
            "Line %(number)s (%(task)s, %(date)s): %(reason)s Nothing was logged.",
            number=number,
            task=self.task_id.display_name or self.env._("no task"),
            date=format_date(self.env, self.date) if self.date else self.env._("no date"),
            reason=reason,
        )

    def _check_line(self, number):
        reason = None
        if not self.task_id:
            reason = self.env._("choose a task or ticket.")
        elif not self.date:
            reason = self.env._("enter a date.")
        elif float_is_zero(self.unit_amount, precision_digits=HOURS_DIGITS):
            # A line left at 0 h was forgotten; other hours follow the time entry's
            # own rule, which the creation of its entry applies.
            reason = self.env._("enter the hours worked.")
        elif error := self.env["account.analytic.line"]._msp_hours_error(self.unit_amount):
            reason = error
        elif not (self.name or "").strip():
            reason = self.env._("describe the work done.")
        if reason:
            raise ValidationError(self._error_message(number, reason))

    def _timesheet_values(self):
        return {
            "task_id": self.task_id.id,
            "project_id": self.task_id.project_id.id,
            "employee_id": self.wizard_id.employee_id.id,
            "date": self.date,
            "unit_amount": self.unit_amount,
            "name": self.name.strip(),
            "msp_billing_category": self.msp_billing_category,
        }
