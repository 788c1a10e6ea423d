from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import float_round
from odoo.tools.misc import format_date
from odoo.tools.translate import LazyTranslate

from ..utils.constants import HOURS_DIGITS
from ..utils.roles import msp_role

_lt = LazyTranslate(__name__)


# Fields whose change would move or resize periods already invoiced.
SCHEDULE_FIELDS = ("billing_cycle", "date_start", "partner_id", "company_id", "currency_id")


class MspRetainer(models.Model):
    _name = "msp.retainer"
    _description = "Retainer"
    _inherit = ["portal.mixin", "mail.thread", "mail.activity.mixin", "msp.recurring.mixin"]
    _order = "date_start desc, id desc"
    _check_company_auto = True

    name = fields.Char(
        string="Reference",
        required=True,
        readonly=True,
        copy=False,
        default=lambda self: self.env._("New"),
    )
    active = fields.Boolean(default=True)
    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        required=True,
        tracking=True,
        index=True,
        check_company=True,
    )
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    currency_id = fields.Many2one(
        "res.currency",
        required=True,
        tracking=True,
        default=lambda self: self.env.company.currency_id,
    )
    user_id = fields.Many2one(
        "res.users",
        string="Account Manager",
        tracking=True,
        compute="_compute_user_id",
        store=True,
        readonly=False,
        precompute=True,
        domain="[('share', '=', False)]",
    )
    amount = fields.Monetary(string="Fee per Cycle", tracking=True)
    included_hours = fields.Float(digits=(16, HOURS_DIGITS), tracking=True)
    overage_rate = fields.Monetary(
        tracking=True, help="Hourly rate for retainer time above the included hours."
    )
    adhoc_rate = fields.Monetary(
        string="Ad-hoc Rate", tracking=True, help="Hourly rate for Billable — Ad Hoc time."
    )
    state = fields.Selection(
        [("draft", "Draft"), ("active", "Active"), ("closed", "Closed")],
        default="draft",
        required=True,
        readonly=True,
        tracking=True,
        copy=False,
        index=True,
    )
    note = fields.Html(string="Terms")

    period_ids = fields.One2many(
        "msp.retainer.period", "retainer_id", string="Periods", readonly=True
    )
    line_ids = fields.One2many(
        "msp.retainer.line",
        "retainer_id",
        string="Recurring Services",
        copy=True,
        help="Billed in advance with every period's fee, at their quantity and price when the "
        "invoice is drafted.",
    )
    next_invoice_date = fields.Date(
        compute="_compute_next_invoice_date",
        store=True,
        index=True,
        help="Start of the next period whose fee is still to invoice.",
    )
    current_period_id = fields.Many2one("msp.retainer.period", compute="_compute_current_period")
    hours_used = fields.Float(digits=(16, HOURS_DIGITS), compute="_compute_current_period")
    hours_remaining = fields.Float(digits=(16, HOURS_DIGITS), compute="_compute_current_period")
    usage_percent = fields.Float(
        string="Usage (%)", digits=(16, 1), compute="_compute_current_period"
    )
    is_overage = fields.Boolean(
        string="In Overage", compute="_compute_current_period", search="_search_is_overage"
    )
    invoice_ids = fields.One2many(
        "account.move", "msp_retainer_id", string="Invoices", readonly=True
    )
    invoice_count = fields.Integer(compute="_compute_invoice_count")
    timesheet_count = fields.Integer(compute="_compute_timesheet_count")

    # ------------------------------------------------------------------
    # Computes
    # ------------------------------------------------------------------
    @api.depends("partner_id")
    def _compute_user_id(self):
        for retainer in self:
            if not retainer.user_id:
                retainer.user_id = retainer.partner_id.commercial_partner_id.user_id

    @api.depends(
        "state",
        "date_start",
        "date_end",
        "billing_cycle",
        "period_ids.fee_billed",
        "period_ids.date_start",
    )
    def _compute_next_invoice_date(self):
        for retainer in self:
            if retainer.state == "draft" or not retainer.date_start:
                retainer.next_invoice_date = False
                continue
            billed = {p.date_start for p in retainer.period_ids if p.fee_billed}
            index = 0
            period = retainer._period_at(index)
            while period and period.date_start in billed:
                index += 1
                period = retainer._period_at(index)
            retainer.next_invoice_date = period.date_start if period else False

    @api.depends_context("msp_date")
    @api.depends("period_ids.hours_used", "period_ids.included_hours", "date_start", "date_end")
    def _compute_current_period(self):
        periods = self._periods_covering(self._msp_today_by_retainer())
        for retainer in self:
            period = periods.get(retainer, self.env["msp.retainer.period"])
            used = period.hours_used
            included = period.included_hours
            retainer.current_period_id = period
            retainer.hours_used = used
            retainer.hours_remaining = float_round(
                max(included - used, 0.0), precision_digits=HOURS_DIGITS
            )
            retainer.usage_percent = 100.0 * used / included if included else 0.0
            retainer.is_overage = bool(period) and period.overage_hours > 0

    def _search_is_overage(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise UserError(self.env._("Unsupported search on 'In Overage'."))
        today = self.env.company._msp_today()
        ids = (
            self.env["msp.retainer.period"]
            ._search(
                [("date_start", "<=", today), ("date_end", ">=", today), ("overage_hours", ">", 0)]
            )
            .subselect("retainer_id")
        )
        positive = (operator == "=") == value
        return [("id", "in" if positive else "not in", ids)]

    @api.depends("invoice_ids")
    def _compute_invoice_count(self):
        for retainer in self:
            retainer.invoice_count = len(retainer.invoice_ids)

    def _compute_timesheet_count(self):
        counts = dict(
            self.env["account.analytic.line"]._read_group(
                [("msp_retainer_id", "in", self.ids)], ["msp_retainer_id"], ["__count"]
            )
        )
        for retainer in self:
            retainer.timesheet_count = counts.get(retainer, 0)

    # ------------------------------------------------------------------
    # Dates
    # ------------------------------------------------------------------
    def _msp_today_by_retainer(self):
        today = {company: company._msp_today() for company in self.company_id}
        return {retainer: today.get(retainer.company_id) for retainer in self}

    @api.model
    def _msp_covering(self, partner, day):
        """The active retainer of ``partner`` (a commercial partner) covering ``day``."""
        if not partner or not day:
            return self.browse()
        return self.search(self._msp_covering_domain(partner, day), limit=1)

    @api.model
    def _msp_covering_domain(self, partners, day):
        """Active retainers of ``partners`` covering ``day``."""
        return [
            ("partner_id", "in", partners.ids),
            ("state", "=", "active"),
            ("date_start", "<=", day),
            "|",
            ("date_end", "=", False),
            ("date_end", ">=", day),
        ]

    def _periods_covering(self, days):
        """{retainer: period record covering its day}, for existing records only."""
        result = {}
        for retainer in self:
            day = days.get(retainer)
            if not day or not retainer.date_start:
                continue
            result[retainer] = retainer.period_ids.filtered(
                lambda p, d=day: p.date_start <= d <= p.date_end
            )[:1]
        return result

    # ------------------------------------------------------------------
    # Validation
    # ------------------------------------------------------------------
    # Messages of checks that also run on create name the customer, never the
    # retainer's own reference: a refused create leaves no such retainer.
    @api.constrains("amount", "included_hours", "overage_rate", "adhoc_rate")
    def _check_non_negative(self):
        labels = {
            "amount": self.env._("fee per cycle"),
            "included_hours": self.env._("included hours"),
            "overage_rate": self.env._("overage rate"),
            "adhoc_rate": self.env._("ad-hoc rate"),
        }
        for retainer in self:
            for field_name, label in labels.items():
                if retainer[field_name] < 0:
                    raise ValidationError(
                        self.env._(
                            "The %(field)s of the retainer of %(customer)s cannot be negative "
                            "(%(value)s): enter 0 or more.",
                            field=label,
                            customer=retainer.partner_id.display_name,
                            value=retainer[field_name],
                        )
                    )

    @api.constrains("date_start", "date_end")
    def _check_dates(self):
        for retainer in self:
            if retainer.date_end and retainer.date_end < retainer.date_start:
                raise ValidationError(
                    self.env._(
                        "The retainer of %(customer)s would end (%(end)s) before it starts "
                        "(%(start)s): set an end date on or after the start date, or leave it "
                        "empty.",
                        customer=retainer.partner_id.display_name,
                        end=format_date(self.env, retainer.date_end),
                        start=format_date(self.env, retainer.date_start),
                    )
                )

    @api.constrains("state", "partner_id", "date_start", "date_end")
    def _check_no_overlap(self):
        for retainer in self.filtered(lambda r: r.state == "active"):
            other = self._msp_overlapping(
                retainer.partner_id, retainer.date_start, retainer.date_end, retainer
            )
            if other:
                raise ValidationError(
                    self.env._(
                        "%(customer)s already has active retainer %(other)s (%(dates)s) "
                        "covering these dates: start this retainer after that one ends, or "
                        "close %(other)s first.",
                        customer=retainer.partner_id.display_name,
                        other=other.name,
                        dates=other._msp_dates_label(),
                    )
                )

    @api.model
    def _msp_overlapping(self, partner, date_start, date_end=None, exclude=None):
        """The active retainer of ``partner`` sharing a day with ``date_start`` –
        ``date_end`` (no end: open-ended), other than ``exclude``."""
        domain = [
            ("id", "not in", (exclude or self.browse()).ids),
            ("state", "=", "active"),
            ("partner_id", "=", partner.id),
            "|",
            ("date_end", "=", False),
            ("date_end", ">=", date_start),
        ]
        if date_end:
            domain.append(("date_start", "<=", date_end))
        return self.with_context(active_test=False).search(domain, limit=1)

    def _check_schedule_change(self, vals):
        """Invoiced periods are history: their dates and terms stay as billed."""
        for retainer in self:
            billed = retainer.period_ids.filtered("fee_billed")
            if not billed:
                continue
            changed = [
                f for f in SCHEDULE_FIELDS if f in vals and retainer._msp_differs(f, vals[f])
            ]
            if changed:
                raise UserError(
                    self.env._(
                        "Retainer %(retainer)s has invoiced periods: its %(fields)s can no longer "
                        "change. Close it and start a new retainer instead.",
                        retainer=retainer.name,
                        fields=", ".join(retainer._fields[f].string for f in changed),
                    )
                )
            if "date_end" in vals:
                last_billed_end = max(billed.mapped("date_end"))
                new_end = fields.Date.to_date(vals["date_end"])
                if not new_end or new_end >= last_billed_end:
                    continue
                raise UserError(
                    self.env._(
                        "Retainer %(retainer)s is invoiced up to %(date)s: its end date cannot "
                        "be earlier. Credit the invoiced period first.",
                        retainer=retainer.name,
                        date=format_date(self.env, last_billed_end),
                    )
                )

    def _msp_differs(self, field_name, value):
        field = self._fields[field_name]
        return self[field_name] != field.convert_to_record(
            field.convert_to_cache(value, self), self
        )

    # ------------------------------------------------------------------
    # ORM
    # ------------------------------------------------------------------
    @api.model
    def _commercial_partner_vals(self, vals):
        if vals.get("partner_id"):
            partner = self.env["res.partner"].browse(vals["partner_id"])
            vals["partner_id"] = partner.commercial_partner_id.id
        return vals

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._check_selection_values(vals)
            self._commercial_partner_vals(vals)
            if vals.get("name", self.env._("New")) == self.env._("New"):
                company = self.env["res.company"].browse(vals.get("company_id")) or self.env.company
                vals["name"] = self.env["ir.sequence"].with_company(company).next_by_code(
                    "msp.retainer"
                ) or self.env._("New")
        return super().create(vals_list)

    def write(self, vals):
        self._check_selection_values(vals)
        self._commercial_partner_vals(vals)
        self._check_schedule_change(vals)
        res = super().write(vals)
        if "date_end" in vals:
            self.env["msp.retainer.period"]._reshape_open_periods(self)
        return res

    @api.ondelete(at_uninstall=False)
    def _unlink_only_draft(self):
        if any(retainer.state != "draft" for retainer in self):
            raise UserError(
                self.env._("Only draft retainers can be deleted; close the others instead.")
            )

    # ------------------------------------------------------------------
    # State buttons
    # ------------------------------------------------------------------
    @msp_role("account_manager", _lt("Only account managers can activate retainers."), write=True)
    def action_activate(self):
        for retainer in self:
            if retainer.state != "draft":
                raise UserError(
                    self.env._("Only draft retainers can be activated (%s).", retainer.name)
                )
            if not retainer.partner_id:
                raise UserError(self.env._("Set the customer of %s first.", retainer.name))
        self.write({"state": "active"})
        current = {}
        for retainer in self:
            period = retainer._period_containing(
                max(retainer.company_id._msp_today(), retainer.date_start)
            )
            current[retainer] = [period] if period else []
        self.env["msp.retainer.period"]._ensure_retainer_periods(current)
        return True

    @msp_role("account_manager", _lt("Only account managers can close retainers."), write=True)
    def action_close(self):
        """End the retainer: on the last day already invoiced, or today. The
        billing run after that day drafts its closing invoice and closes it."""
        if any(retainer.state != "active" for retainer in self):
            raise UserError(self.env._("Only active retainers can be closed."))
        for retainer in self:
            today = retainer.company_id._msp_today()
            billed_ends = retainer.period_ids.filtered("fee_billed").mapped("date_end")
            end = max([today, retainer.date_start, *billed_ends])
            if not retainer.date_end or retainer.date_end > end:
                retainer.date_end = end
            if retainer.date_end < today:
                self.env["msp.billing"]._invoice_retainers(retainer, today)
            else:
                retainer.message_post(
                    body=self.env._(
                        "Ends on %(date)s: the billing run of the day after drafts its closing "
                        "invoice and closes the retainer.",
                        date=format_date(self.env, retainer.date_end),
                    )
                )
        return True

    @msp_role(
        "account_manager", _lt("Only account managers can reset retainers to draft."), write=True
    )
    def action_reset_draft(self):
        for retainer in self:
            if retainer.period_ids.filtered("fee_billed") or retainer.invoice_ids:
                raise UserError(
                    self.env._(
                        "Retainer %(retainer)s has been invoiced and cannot go back to draft.",
                        retainer=retainer.name,
                    )
                )
        self.period_ids.timesheet_ids.sudo().write({"msp_period_id": False})
        self.period_ids.sudo().unlink()
        self.write({"state": "draft"})
        return True

    @msp_role("billing_manager", _lt("Only billing managers can invoice retainers."), write=True)
    def action_invoice_now(self):
        """Run the billing of these retainers for today, and show what it made."""
        invoices = self.env["account.move"]
        for retainer in self:
            if retainer.state != "active":
                raise UserError(
                    self.env._("Only active retainers can be invoiced (%s).", retainer.name)
                )
            invoices |= self.env["msp.billing"]._invoice_retainers(
                retainer, retainer.company_id._msp_today()
            )
        return self.env["msp.billing"]._get_result_action(invoices)

    @msp_role("account_manager")
    def action_view_invoices(self):
        self.ensure_one()
        return self.invoice_ids._get_records_action(name=self.env._("Invoices of %s", self.name))

    def _get_sla_summary(self, date_from, date_to):
        """SLA figures of the customer's tickets between two dates (see
        ``project.task._msp_sla_summary``): what the invoice's SLA section shows."""
        self.ensure_one()
        return (
            self.env["project.task"]
            .with_company(self.company_id)
            ._msp_sla_summary(self.partner_id, date_from, date_to)
        )

    @api.model
    def _get_billing_preview(self, run_date=None):
        """What the billing run would draft on ``run_date``, writing nothing: one
        dict per invoice (see ``msp.billing._get_billing_preview_values``)."""
        billing = self.env["msp.billing"]
        return [
            billing._get_billing_preview_values(invoice)
            for invoice in billing._prepare_billing_preview(run_date)
        ]

    @api.model
    def _get_revenue_kpis(self):
        """The Revenue dashboard's key figures (see ``msp.revenue.report``)."""
        return self.env["msp.revenue.report"]._get_revenue_kpis()

    @msp_role("technician")
    def action_view_timesheets(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "atlas_msp_billing.msp_all_time_action"
        )
        action.update(
            {
                "name": self.env._("Time of %s", self.name),
                "domain": [("msp_retainer_id", "=", self.id)],
                "context": {"search_default_groupby_category": 1},
            }
        )
        return action

    # ------------------------------------------------------------------
    # Billing (the run itself is msp.billing's)
    # ------------------------------------------------------------------
    @api.model
    def _run_billing(self, run_date=None, commit=False, batch_size=100):
        """The billing run for ``run_date`` (see ``msp.billing._run_billing``)."""
        return self.env["msp.billing"]._run_billing(run_date, commit, batch_size)

    def _compute_access_url(self):
        for retainer in self:
            retainer.access_url = f"/my/retainers/{retainer.id}"
