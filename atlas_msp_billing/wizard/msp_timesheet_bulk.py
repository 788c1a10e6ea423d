from odoo import Command, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools.translate import LazyTranslate

from ..utils.roles import msp_role

_lt = LazyTranslate(__name__)


class MspTimesheetBulk(models.TransientModel):
    _name = "msp.timesheet.bulk"
    _description = "Log Time in Bulk"

    employee_id = fields.Many2one(
        "hr.employee",
        required=True,
        default=lambda self: self.env.user.employee_id,
        domain="[('company_id', 'in', allowed_company_ids)]",
        help="Whose time this is; only timesheet approvers log time for someone else.",
    )
    line_ids = fields.One2many("msp.timesheet.bulk.line", "wizard_id", string="Time Entries")
    total_hours = fields.Float(compute="_compute_total_hours")

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        context = self.env.context
        # "Log time" on a selection of tasks: one line per task to fill in.
        if "line_ids" in fields_list and context.get("active_model") == "project.task":
            tasks = self.env["project.task"].browse(context.get("active_ids", []))
            values["line_ids"] = [Command.create({"task_id": task.id}) for task in tasks]
        return values

    @api.depends("line_ids.unit_amount")
    def _compute_total_hours(self):
        for wizard in self:
            wizard.total_hours = sum(wizard.line_ids.mapped("unit_amount"))

    @msp_role("technician", _lt("Only technicians can log time."))
    def action_log_time(self):
        """All or nothing: a refused line refuses the batch, naming the line, and
        rolls back the lines created before it."""
        self.ensure_one()
        if not self.line_ids:
            raise UserError(self.env._("Add at least one line to log."))
        if self.employee_id.user_id != self.env.user and not self.env.user.has_group(
            "hr_timesheet.group_hr_timesheet_approver"
        ):
            raise UserError(
                self.env._(
                    "Only timesheet approvers can log time for %(employee)s.",
                    employee=self.employee_id.name,
                )
            )
        for number, line in enumerate(self.line_ids, start=1):
            line._check_line(number)
        Timesheet = self.env["account.analytic.line"]
        entries = Timesheet
        with self.env.cr.savepoint():
            for number, line in enumerate(self.line_ids, start=1):
                try:
                    entries |= Timesheet.create(line._timesheet_values())
                except (UserError, ValidationError) as error:
                    raise ValidationError(line._error_message(number, error.args[0])) from error
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Logged Time"),
            "res_model": "account.analytic.line",
            "view_mode": "list,form",
            "views": [
                (self.env.ref("hr_timesheet.hr_timesheet_line_tree").id, "list"),
                (False, "form"),
            ],
            "domain": [("id", "in", entries.ids)],
        }
