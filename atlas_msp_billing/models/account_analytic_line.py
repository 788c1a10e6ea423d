from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools.misc import format_date

BILLING_CATEGORIES = [
    ("retainer", "Billable — Retainer"),
    ("adhoc", "Billable — Ad Hoc"),
    ("non_billable", "Non-Billable"),
]
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
    msp_invoice_line_id = fields.Many2one(
        "account.move.line",
        string="Billed on",
        readonly=True,
        copy=False,
        index="btree_not_null",
        ondelete="set null",
    )

    @api.depends("project_id", "task_id", "partner_id", "date")
    def _compute_msp_billing_category(self):
        """Rule 7, as a default: a category chosen (or computed) once stays."""
        retainers = self.env["msp.retainer"].sudo()
        for line in self:
            if line.msp_billing_category:
                continue
            customer = line.project_id and line._msp_customer()
            if not customer:
                # Internal projects, and analytic lines that are not time.
                line.msp_billing_category = "non_billable"
            elif retainers._msp_covering(customer, line.date or fields.Date.context_today(line)):
                line.msp_billing_category = "retainer"
            else:
                line.msp_billing_category = "adhoc"

    # ------------------------------------------------------------------
    # Retainer and period of retainer time
    # ------------------------------------------------------------------
    def _msp_customer(self):
        self.ensure_one()
        partner = self.partner_id or self.task_id.partner_id or self.project_id.partner_id
        return partner.commercial_partner_id

    def _msp_assign_retainer(self):
        """Retainer time belongs to the customer's retainer covering its date,
        and to that retainer's period (created when missing)."""
        for line in self:
            if line.msp_billing_category != "retainer":
                if line.msp_retainer_id or line.msp_period_id:
                    line.write({"msp_retainer_id": False, "msp_period_id": False})
                continue
            customer = line._msp_customer()
            retainer = self.env["msp.retainer"].sudo()._msp_covering(customer, line.date)
            if not retainer:
                raise ValidationError(
                    self.env._(
                        "%(customer)s has no active retainer covering %(date)s: log this time "
                        "as Billable — Ad Hoc or Non-Billable.",
                        customer=customer.display_name or self.env._("This time entry's customer"),
                        date=format_date(self.env, line.date),
                    )
                )
            period = retainer._ensure_period_for_date(line.date)
            overage_move = period.overage_invoice_id
            if overage_move and overage_move.state != "cancel":
                raise ValidationError(
                    self.env._(
                        "The overage of %(period)s is already invoiced on %(invoice)s: retainer "
                        "time can no longer be added to it.",
                        period=period.display_name,
                        invoice=overage_move.display_name,
                    )
                )
            if line.msp_retainer_id != retainer or line.msp_period_id != period:
                line.write({"msp_retainer_id": retainer.id, "msp_period_id": period.id})

    @api.model_create_multi
    def create(self, vals_list):
        lines = super().create(vals_list)
        lines.filtered(lambda line: line.msp_billing_category == "retainer")._msp_assign_retainer()
        return lines

    def write(self, vals):
        if any(field in vals for field in BILLED_FIELDS):
            self._msp_check_not_billed_on_posted()
        res = super().write(vals)
        if {"msp_billing_category", "date", "task_id", "project_id", "partner_id"} & set(vals):
            self._msp_assign_retainer()
        return res

    @api.ondelete(at_uninstall=False)
    def _unlink_except_msp_billed(self):
        self._msp_check_not_billed_on_posted()

    def _msp_billing_moves(self):
        return self.msp_invoice_line_id.move_id | self.msp_period_id.overage_invoice_id

    def _msp_check_not_billed_on_posted(self):
        self.sudo()._msp_billing_moves()._msp_check_not_posted(self.env._("This time"))
