from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL, float_compare
from odoo.tools.misc import format_date

from ..utils.constants import BILLING_CATEGORIES, HOURS_DIGITS, MAX_HOURS_PER_ENTRY
from ..utils.roles import msp_role

# Editing these on a billed entry would change what its invoice says.
BILLED_FIELDS = (
    "unit_amount",
    "date",
    "task_id",
    "project_id",
    "employee_id",
    "partner_id",
    "msp_billing_category",
    "msp_retainer_id",
    "msp_period_id",
)
# What decides an entry's retainer and period.
RETAINER_FIELDS = {"msp_billing_category", "date", "task_id", "project_id", "partner_id"}
# A time entry is one day's work: the hours of any entry, however it arrives.


class AccountAnalyticLine(models.Model):
    _inherit = "account.analytic.line"

    msp_billing_category = fields.Selection(
        BILLING_CATEGORIES,
        string="Billing Category",
        compute="_compute_msp_billing_category",
        store=True,
        readonly=False,
        index=True,
    )
    msp_retainer_id = fields.Many2one(
        "msp.retainer", string="Retainer", readonly=True, index="btree_not_null", copy=False
    )
    msp_period_id = fields.Many2one(
        "msp.retainer.period",
        string="Retainer Period",
        readonly=True,
        index="btree_not_null",
        copy=False,
        ondelete="set null",
    )
    msp_overage_move_id = fields.Many2one(
        "account.move",
        string="Overage Counted On",
        readonly=True,
        copy=False,
        index="btree_not_null",
        ondelete="set null",
        help="The invoice whose overage (or overage adjustment) counted this retainer time: "
        "once it is posted, the entry is locked.",
    )
    msp_invoice_line_id = fields.Many2one(
        "account.move.line",
        string="Billed on",
        readonly=True,
        copy=False,
        index="btree_not_null",
        ondelete="set null",
    )

    @api.depends("project_id", "task_id", "partner_id", "date", "so_line")
    def _compute_msp_billing_category(self):
        # While an entry is drafted (form, bulk line) the default follows its
        # project and date; once saved, a category stays what it is.
        keys = {
            line: line._msp_coverage_key()
            for line in self
            if not (line.msp_billing_category and line._origin)
        }
        coverage = self._msp_coverage(keys.values())
        for line, key in keys.items():
            line.msp_billing_category = self._msp_category_for(key, coverage)

    # A constraint rather than a check in the wizard: the Log Time wizard, the
    # task's timesheet tab, imports and XML-RPC all go through it. It holds for
    # the time this add-on bills or counts (rule 7); time on a sale order item
    # and non-billable time keep Odoo's own timesheet rules, which allow
    # corrections of -1 h and long totals on the order's invoicing.
    @api.constrains("unit_amount", "project_id", "msp_billing_category", "so_line")
    def _check_msp_hours(self):
        for line in self.filtered(lambda line: line.project_id and line._msp_is_billed_here()):
            error = self._msp_hours_error(line.unit_amount)
            if error:
                raise ValidationError(error)

    def _msp_is_billed_here(self):
        """Retainer time, and ad-hoc time that no sale order invoices."""
        self.ensure_one()
        category = self.msp_billing_category
        return category == "retainer" or (category == "adhoc" and not self.so_line)

    @api.model
    def _msp_hours_error(self, hours):
        """Why ``hours`` cannot be a time entry's duration, or None."""
        too_few = float_compare(hours, 0.0, precision_digits=HOURS_DIGITS) < 0
        too_many = float_compare(hours, MAX_HOURS_PER_ENTRY, precision_digits=HOURS_DIGITS) > 0
        if not (too_few or too_many):
            return None
        return self.env._(
            "A time entry of %(hours)s h is not possible: enter the hours worked on that day, "
            "from 0 to %(max)s (log longer work as one entry per day).",
            hours=f"{hours:g}",
            max=f"{MAX_HOURS_PER_ENTRY:g}",
        )

    @api.model
    def _msp_default_category(self, task, partner, day):
        """The category a new entry on ``task`` for ``partner`` on ``day`` gets."""
        project = task.project_id
        key = self._msp_key(project, task, partner, day, self._msp_task_sale_line(task, project))
        return self._msp_category_for(key, self._msp_coverage([key]))

    @api.model
    def _msp_category_for(self, key, coverage):
        """Rule 7: retainer time when the customer has a retainer covering the day,
        ad hoc for other customer work, non-billable for internal projects (and
        analytic lines that are not time). Time on a sale order item is billed
        by its sale order (rule 2): ad hoc when it bills the hours, non-billable
        when its price includes them."""
        project_id, partner_id, day, sale_kind = key
        if sale_kind == "time":
            return "adhoc"
        if sale_kind or not (project_id and partner_id):
            return "non_billable"
        return "retainer" if (partner_id, day) in coverage else "adhoc"

    @api.model
    def _msp_task_sale_line(self, task, project):
        # What sale_timesheet links new time to, employee mappings aside.
        if not project.allow_billable:
            return self.env["sale.order.line"]
        return task.sale_line_id or project.sale_line_id

    @api.model
    def _msp_sale_kind(self, sale_line):
        """ "time" when the sale order item bills the hours logged on it, "fixed"
        when its price covers them, None without one."""
        if not sale_line:
            return None
        return "time" if sale_line.product_id.service_policy == "delivered_timesheet" else "fixed"

    # ------------------------------------------------------------------
    # Retainer and period of retainer time
    # ------------------------------------------------------------------
    @api.model
    def _msp_key(self, project, task, partner, day, sale_line):
        """(project id, customer id, day, sale kind): what decides an entry's
        category, retainer and period."""
        partner = partner or task.partner_id or project.partner_id
        day = day or self.env.company._msp_today()
        return project.id, partner.id, day, self._msp_sale_kind(sale_line)

    def _msp_coverage_key(self):
        self.ensure_one()
        return self._msp_key(
            self.project_id, self.task_id, self.partner_id, self.date, self.so_line
        )

    @api.model
    def _msp_vals_key(self, vals):
        """The same key for values about to be created."""
        task = self.env["project.task"].browse(vals.get("task_id"))
        project = self.env["project.project"].browse(vals.get("project_id")) or task.project_id
        sale_line = self.env["sale.order.line"].browse(vals.get("so_line"))
        return self._msp_key(
            project,
            task,
            self.env["res.partner"].browse(vals.get("partner_id")),
            fields.Date.to_date(vals.get("date")),
            sale_line or self._msp_task_sale_line(task, project),
        )

    @api.model
    def _msp_coverage(self, keys):
        """{(customer id, day): (retainer id, period id)} for the keys whose
        customer (as its commercial partner) has an active retainer covering the
        day; the period is None when it has no record yet.
        One query for a whole batch of entries: this runs on every time entry."""
        pairs = {
            (partner_id, day)
            for project_id, partner_id, day, _kind in keys
            if project_id and partner_id
        }
        if not pairs:
            return {}
        self.env["res.partner"].flush_model(["commercial_partner_id"])
        self.env["msp.retainer"].flush_model(
            ["partner_id", "active", "state", "date_start", "date_end"]
        )
        self.env["msp.retainer.period"].flush_model(["retainer_id", "date_start", "date_end"])
        partner_ids, days = zip(*pairs, strict=True)
        self.env.cr.execute(
            SQL(
                """
                SELECT v.partner_id, v.day, r.id, p.id
                  FROM unnest(%s::int[], %s::date[]) AS v(partner_id, day)
                  JOIN res_partner rp ON rp.id = v.partner_id
                  JOIN msp_retainer r ON r.partner_id = rp.commercial_partner_id
                       AND r.active AND r.state = 'active' AND r.date_start <= v.day
                       AND (r.date_end IS NULL OR r.date_end >= v.day)
             LEFT JOIN msp_retainer_period p ON p.retainer_id = r.id
                       AND p.date_start <= v.day AND p.date_end >= v.day
                """,
                list(partner_ids),
                list(days),
            )
        )
        return {(row[0], row[1]): row[2:] for row in self.env.cr.fetchall()}

    @api.model
    def _msp_retainer_and_period(self, key, coverage):
        """Retainer time belongs to the customer's retainer covering its date and to
        that retainer's period (created when missing); refused without one."""
        _project_id, partner_id, day, sale_kind = key
        if sale_kind:
            raise ValidationError(
                self.env._(
                    "This time is on a sale order item, which invoices it: it cannot also "
                    "count against a retainer. Log it as Billable — Ad Hoc or Non-Billable."
                )
            )
        retainer_id, period_id = coverage.get((partner_id, day), (None, None))
        if not retainer_id:
            customer = self.env["res.partner"].browse(partner_id).commercial_partner_id
            raise ValidationError(
                self.env._(
                    "%(customer)s has no active retainer covering %(date)s: log this time "
                    "as Billable — Ad Hoc or Non-Billable.",
                    customer=customer.display_name or self.env._("This time entry's customer"),
                    date=format_date(self.env, day),
                )
            )
        retainer = self.env["msp.retainer"].sudo().browse(retainer_id)
        if not period_id:
            return retainer, self.env["msp.retainer.period"]._ensure_period_for_date(retainer, day)
        # Late time (rule 10) is accepted even when the period's overage is
        # invoiced: the next invoice bills the increase as an adjustment.
        return retainer, self.env["msp.retainer.period"].sudo().browse(period_id)

    def _msp_assign_retainer(self):
        retainer_time = self.filtered(lambda line: line.msp_billing_category == "retainer")
        (self - retainer_time).filtered(
            lambda line: line.msp_retainer_id or line.msp_period_id
        ).write({"msp_retainer_id": False, "msp_period_id": False})
        keys = {line: line._msp_coverage_key() for line in retainer_time}
        coverage = self._msp_coverage(keys.values())
        for line, key in keys.items():
            retainer, period = self._msp_retainer_and_period(key, coverage)
            if line.msp_retainer_id != retainer or line.msp_period_id != period:
                line.write({"msp_retainer_id": retainer.id, "msp_period_id": period.id})

    @api.model_create_multi
    def create(self, vals_list):
        # Category, retainer and period are decided before the insert, for the
        # whole batch at once, so that a refused entry is never written.
        vals_list = [dict(vals) for vals in vals_list]
        keys = [self._msp_vals_key(vals) for vals in vals_list]
        coverage = self._msp_coverage(keys)
        for vals, key in zip(vals_list, keys, strict=True):
            if not vals.get("msp_billing_category"):
                vals["msp_billing_category"] = self._msp_category_for(key, coverage)
            if vals["msp_billing_category"] == "retainer":
                retainer, period = self._msp_retainer_and_period(key, coverage)
                vals.update(msp_retainer_id=retainer.id, msp_period_id=period.id)
        lines = super().create(vals_list)
        lines.msp_period_id._msp_queue_usage_alerts()
        lines.task_id._msp_register_first_response(fields.Datetime.now())
        return lines

    # ------------------------------------------------------------------
    # Billed time is locked (rule 6), through sale_timesheet's own hooks
    # ------------------------------------------------------------------
    def _is_not_billed(self):
        # Also read-only in Odoo's timesheet screens once a posted invoice bills it.
        return super()._is_not_billed() and not self.sudo()._msp_billing_moves().filtered(
            lambda move: move.state == "posted"
        )

    def _check_can_write(self, values):
        if any(field in values for field in BILLED_FIELDS):
            self._msp_check_not_billed_on_posted()
        return super()._check_can_write(values)

    def write(self, vals):
        if "msp_billing_category" in vals:
            self._msp_check_category_change(vals["msp_billing_category"])
        usage_changes = bool((RETAINER_FIELDS | {"unit_amount"}) & set(vals))
        # Time leaving a period lowers its usage: its alerts are checked too.
        periods_before = self.msp_period_id if usage_changes else None
        res = super().write(vals)
        if RETAINER_FIELDS & set(vals):
            self._msp_assign_retainer()
        if usage_changes:
            (periods_before | self.msp_period_id)._msp_queue_usage_alerts()
        return res

    def _msp_check_category_change(self, category):
        """An invoice, even a draft, bills each entry under its category: changing it
        would make the invoice wrong. Throwing the draft away releases the entry."""
        for line in self.filtered(lambda line: line.msp_billing_category != category):
            moves = line.sudo()._msp_billing_moves().filtered(lambda m: m.state != "cancel")
            if moves:
                raise UserError(
                    self.env._(
                        "The time entry %(entry)s is billed on invoice %(invoice)s: its billing "
                        "category cannot change. Delete or cancel that invoice first.",
                        entry=line.name or line.date,
                        invoice=", ".join(moves.mapped("display_name")),
                    )
                )

    @msp_role("technician")
    def action_msp_timer_start(self):
        """ "Start timer" on a time entry restarts work on its task."""
        self.ensure_one()
        return self.task_id.action_msp_timer_start()

    @api.ondelete(at_uninstall=False)
    def _unlink_except_msp_billed(self):
        self._msp_check_not_billed_on_posted()

    def unlink(self):
        periods = self.msp_period_id
        res = super().unlink()
        periods.exists()._msp_queue_usage_alerts()
        return res

    def _msp_billing_moves(self):
        return self.msp_invoice_line_id.move_id | self.msp_overage_move_id

    def _msp_check_not_billed_on_posted(self):
        self.sudo()._msp_billing_moves()._msp_check_not_posted(self.env._("This time"))
