import logging
from contextlib import contextmanager
from datetime import datetime
from types import SimpleNamespace

import psycopg2
import pytz

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import float_round
from odoo.tools.misc import format_date
from odoo.tools.translate import LazyTranslate

from ..utils import periods as period_math
from ..utils.roles import msp_role
from .msp_retainer_period import HOURS_DIGITS

_lt = LazyTranslate(__name__)

_logger = logging.getLogger(__name__)

BILLING_CYCLES = [("monthly", "Monthly"), ("quarterly", "Quarterly"), ("annual", "Annual")]
BILLING_PRODUCTS = {
    "fee": "atlas_msp_billing.product_msp_retainer_fee",
    "overage": "atlas_msp_billing.product_msp_overage",
    "adhoc": "atlas_msp_billing.product_msp_adhoc_support",
}
# Conflicts with a concurrent run: the whole batch starts over, never reported
# as a failure of one retainer.
CONCURRENCY_ERRORS = (
    psycopg2.errors.SerializationFailure,
    psycopg2.errors.DeadlockDetected,
    psycopg2.errors.LockNotAvailable,
)


@contextmanager
def billing_isolation(env, on_failure=None):
    """Run a block of the billing run in a savepoint: an error rolls the block
    back alone and goes to ``on_failure``; a conflict with a concurrent run
    propagates (the batch starts over). ``.failed`` tells the caller."""
    outcome = SimpleNamespace(failed=False)
    try:
        with env.cr.savepoint():
            yield outcome
    except CONCURRENCY_ERRORS:
        raise
    except Exception as error:
        env.invalidate_all()
        outcome.failed = True
        if on_failure:
            on_failure(error)


# Fields whose change would move or resize periods already invoiced.
SCHEDULE_FIELDS = ("billing_cycle", "date_start", "partner_id", "company_id", "currency_id")


class BillingClaims:
    """What the invoices prepared so far in one retainer's run will bill, so
    that the next invoice of the same run (catch-up) does not take it again."""

    def __init__(self, env):
        self.periods = env["msp.retainer.period"]
        self.timesheet_ids = set()
        self.charge_ids = set()


class MspRetainer(models.Model):
    _name = "msp.retainer"
    _description = "Retainer"
    _inherit = ["portal.mixin", "mail.thread", "mail.activity.mixin"]
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
    billing_cycle = fields.Selection(
        BILLING_CYCLES, required=True, default="monthly", tracking=True
    )
    included_hours = fields.Float(digits=(16, HOURS_DIGITS), tracking=True)
    overage_rate = fields.Monetary(
        tracking=True, help="Hourly rate for retainer time above the included hours."
    )
    adhoc_rate = fields.Monetary(
        string="Ad-hoc Rate", tracking=True, help="Hourly rate for Billable — Ad Hoc time."
    )
    date_start = fields.Date(
        string="Start Date", required=True, tracking=True, default=fields.Date.context_today
    )
    date_end = fields.Date(string="End Date", tracking=True)
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
        today = fields.Date.context_today(self)
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
    @api.model
    def _msp_today(self, company=None):
        """Today in the company's time zone (its partner's, else the user's);
        the context key ``msp_date`` sets another reference date."""
        if self.env.context.get("msp_date"):
            return fields.Date.to_date(self.env.context["msp_date"])
        company = company or self.env.company
        tz = company.partner_id.tz or self.env.user.tz or "UTC"
        return datetime.now(pytz.timezone(tz)).date()

    def _msp_today_by_retainer(self):
        today = {company: self._msp_today(company) for company in self.company_id}
        return {retainer: today.get(retainer.company_id) for retainer in self}

    @api.model
    def _msp_covering(self, partner, day):
        """The active retainer of ``partner`` (a commercial partner) covering ``day``."""
        if not partner or not day:
            return self.browse()
        return self.search(
            [
                ("partner_id", "=", partner.id),
                ("state", "=", "active"),
                ("date_start", "<=", day),
                "|",
                ("date_end", "=", False),
                ("date_end", ">=", day),
            ],
            limit=1,
        )

    def _period_at(self, index):
        self.ensure_one()
        return period_math.period_at(self.date_start, self.billing_cycle, index, self.date_end)

    def _period_containing(self, day):
        self.ensure_one()
        return period_math.period_containing(
            self.date_start, self.billing_cycle, day, self.date_end
        )

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
    # Periods as a ledger (billing rule 1)
    # ------------------------------------------------------------------
    def _period_values(self, period):
        self.ensure_one()
        ratio = period.ratio
        return {
            "retainer_id": self.id,
            "date_start": period.date_start,
            "date_end": period.date_end,
            "is_partial": period.is_partial,
            "included_hours": float_round(
                self.included_hours * ratio, precision_digits=HOURS_DIGITS
            ),
            "overage_rate": self.overage_rate,
            "amount": self.currency_id.round(self.amount * ratio),
        }

    def _ensure_periods(self, periods):
        """Records for the given ``periods_math.Period`` of this retainer,
        created when missing (with the retainer's current terms)."""
        self.ensure_one()
        existing = {p.date_start: p for p in self.period_ids}
        missing = [p for p in periods if p.date_start not in existing]
        created = self.env["msp.retainer.period"]
        if missing:
            created = created.sudo().create([self._period_values(p) for p in missing]).sudo(False)
        records = self.env["msp.retainer.period"]
        for period in periods:
            records |= existing.get(period.date_start) or created.filtered(
                lambda r, d=period.date_start: r.date_start == d
            )
        return records

    def _ensure_period_for_date(self, day):
        self.ensure_one()
        period = self._period_containing(day)
        return self._ensure_periods([period]) if period else self.env["msp.retainer.period"]

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

    def _msp_dates_label(self):
        """The retainer's dates for messages: "from <start>" or "<start> – <end>"."""
        self.ensure_one()
        start = format_date(self.env, self.date_start)
        if not self.date_end:
            return self.env._("from %(start)s", start=start)
        return self.env._(
            "%(start)s – %(end)s", start=start, end=format_date(self.env, self.date_end)
        )

    @api.model
    def _check_selection_values(self, vals):
        cycle = vals.get("billing_cycle")
        if cycle and cycle not in dict(BILLING_CYCLES):
            raise ValidationError(
                self.env._(
                    "Unknown billing cycle %(cycle)r: use one of %(allowed)s.",
                    cycle=cycle,
                    allowed=", ".join(dict(BILLING_CYCLES)),
                )
            )

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
            self._refresh_open_periods()
        return res

    def _refresh_open_periods(self):
        """A new end date reshapes the periods not yet invoiced."""
        for retainer in self:
            for period in retainer.period_ids.filtered(lambda p: not p.fee_billed):
                shape = retainer._period_containing(period.date_start)
                if not shape:
                    if period.timesheet_ids:
                        raise UserError(
                            self.env._(
                                "Time is logged on %(period)s, after the new end date of "
                                "%(retainer)s; move that time first.",
                                period=period.display_name,
                                retainer=retainer.name,
                            )
                        )
                    period.sudo().unlink()
                    continue
                values = retainer._period_values(shape)
                period.sudo().write(
                    {k: values[k] for k in ("date_end", "is_partial", "included_hours", "amount")}
                )

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
        for retainer in self:
            today = retainer._msp_today(retainer.company_id)
            period = retainer._period_containing(max(today, retainer.date_start))
            if period:
                retainer._ensure_periods([period])
        return True

    @msp_role("account_manager", _lt("Only account managers can close retainers."), write=True)
    def action_close(self):
        """End the retainer: on the last day already invoiced, or today. The
        billing run after that day drafts its closing invoice and closes it."""
        if any(retainer.state != "active" for retainer in self):
            raise UserError(self.env._("Only active retainers can be closed."))
        for retainer in self:
            today = retainer._msp_today(retainer.company_id)
            billed_ends = retainer.period_ids.filtered("fee_billed").mapped("date_end")
            end = max([today, retainer.date_start, *billed_ends])
            if not retainer.date_end or retainer.date_end > end:
                retainer.date_end = end
            if retainer.date_end < today:
                self._billing_run_retainers(retainer, today)
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
            invoices |= self._billing_run_retainers(
                retainer, retainer._msp_today(retainer.company_id)
            )
        return self._billing_result_action(invoices)

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
    def _get_revenue_kpis(self):
        """The Revenue dashboard's key figures (see ``msp.revenue.report``)."""
        return self.env["msp.revenue.report"]._get_revenue_kpis()

    @msp_role("technician")
    def action_view_timesheets(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("hr_timesheet.timesheet_action_all")
        action.update(
            {
                "name": self.env._("Time of %s", self.name),
                "domain": [("msp_retainer_id", "=", self.id)],
                "context": {"search_default_groupby_category": 1},
            }
        )
        return action

    @api.model
    def _billing_result_action(self, invoices):
        if not invoices:
            return {
                "type": "ir.actions.client",
                "tag": "display_notification",
                "params": {
                    "type": "info",
                    "title": self.env._("Nothing to invoice"),
                    "message": self.env._("Everything due up to today is already invoiced."),
                    "sticky": False,
                },
            }
        return invoices._get_records_action(name=self.env._("Generated Invoices"))

    # ------------------------------------------------------------------
    # Billing run (billing rules 2-4)
    # ------------------------------------------------------------------
    @api.model
    def _cron_run_billing(self, batch_size=100):
        self._run_billing(commit=True, batch_size=batch_size)

    @api.model
    def _run_billing(self, run_date=None, commit=False, batch_size=100):
        """Draft every invoice due on ``run_date`` (default: today in each
        company's time zone); return the invoices created.

        With ``commit``, each batch of retainers is its own transaction: a run
        killed midway keeps the finished batches, and concurrent runs in other
        processes take other retainers (SKIP LOCKED) instead of waiting.
        """
        invoices = self.env["account.move"]
        candidates = self._billing_candidates(run_date)
        done = 0
        for start in range(0, len(candidates), batch_size):
            batch = candidates[start : start + batch_size]
            invoices |= self._billing_run_batch(batch, run_date, commit)
            done += len(batch)
            if commit:
                self.env.cr.commit()  # pylint: disable=invalid-commit
                self.env["ir.cron"]._notify_progress(done=done, remaining=len(candidates) - done)
        invoices |= self.env["res.partner"]._msp_run_adhoc_billing(run_date, commit=commit)
        return invoices

    @api.model
    def _billing_candidates(self, run_date=None):
        """Ids of active retainers with a period fee due or a closing invoice to make."""
        retainers = self.sudo()
        due = []
        for company in retainers.search([("state", "=", "active")]).company_id:
            day = run_date or retainers._msp_today(company)
            due += retainers.search(
                [
                    ("company_id", "=", company.id),
                    ("state", "=", "active"),
                    "|",
                    ("next_invoice_date", "<=", day),
                    ("date_end", "<", day),
                ],
                order="id",
            ).ids
        return due

    @api.model
    def _billing_run_batch(self, ids, run_date, commit):
        retainers = self.browse(ids)
        for attempt in range(3):
            try:
                with self.env.cr.savepoint():
                    locked = retainers._billing_lock(skip_locked=True)
                    return self._billing_run_retainers(locked, run_date)
            except CONCURRENCY_ERRORS:
                # Another run billed some of them after our snapshot: start over
                # with a fresh one, which sees its work.
                if not commit or attempt == 2:
                    raise
                self.env.cr.rollback()
                self.env.invalidate_all()
        return self.env["account.move"]

    def _billing_lock(self, skip_locked=False):
        """Lock these retainers for billing; return those locked."""
        if not self:
            return self
        self.env["msp.retainer"].flush_model()
        self.env.cr.execute(
            f"""SELECT id FROM msp_retainer WHERE id IN %s
                FOR UPDATE {"SKIP LOCKED" if skip_locked else ""}""",
            [tuple(self.ids)],
        )
        locked = self.browse([row[0] for row in self.env.cr.fetchall()])
        locked.invalidate_recordset()
        locked.period_ids.invalidate_recordset()
        return locked

    def _billing_run_retainers(self, retainers, run_date):
        """Bill each retainer; one failing retainer rolls back alone."""
        invoices = self.env["account.move"]
        prepared = []
        for retainer in retainers:
            with billing_isolation(self.env, retainer._billing_report_failure):
                day = run_date or retainer._msp_today(retainer.company_id)
                prepared.append((retainer, retainer._billing_prepare_due(day)))
        vals_list = [vals for _retainer, retainer_vals in prepared for vals in retainer_vals]
        with billing_isolation(self.env) as batch:
            invoices |= self._billing_create_invoices(vals_list)
            for retainer, _vals in prepared:
                retainer._billing_after_invoiced(run_date)
        if not batch.failed:
            return invoices
        # The batch failed as a whole: retainer by retainer, to isolate the culprit.
        invoices = self.env["account.move"]
        for retainer, retainer_vals in prepared:
            with billing_isolation(self.env, retainer._billing_report_failure):
                invoices |= self._billing_create_invoices(retainer_vals)
                retainer._billing_after_invoiced(run_date)
        return invoices

    def _billing_prepare_due(self, day):
        """Invoice values for everything due on ``day``: one invoice per period
        whose fee is due (oldest first: a run after an outage catches up), then
        a closing invoice once the retainer has ended."""
        self.ensure_one()
        billed = {p.date_start for p in self.period_ids if p.fee_billed}
        due = [
            period
            for period in period_math.periods_starting_until(
                self.date_start, self.billing_cycle, day, self.date_end
            )
            if period.date_start not in billed
        ]
        claims = BillingClaims(self.env)
        vals_list = [
            self._billing_prepare_invoice(record, claims) for record in self._ensure_periods(due)
        ]
        if self.date_end and self.date_end < day:
            closing = self._billing_prepare_closing(claims)
            if closing:
                vals_list.append(closing)
        return vals_list

    def _billing_prepare_invoice(self, period, claims=None):
        """Values of the fee invoice of ``period``: its fee, plus (with
        ``claims``, which tracks what earlier invoices of the same run took)
        the overage of ended periods and the unbilled ad-hoc time and charges
        dated before the period starts."""
        self.ensure_one()
        vals = self._billing_invoice_header(period.date_start, period)
        lines = {"fee": [period._fee_line_values()]}
        overage = self.env["msp.retainer.period"]
        if claims is not None:
            overage = self._billing_unbilled_overage(period.date_start) - claims.periods
            lines.update(self._billing_extra_lines(overage, period.date_start, claims))
        vals.update(
            {
                "invoice_line_ids": self.env["res.partner"]._msp_invoice_lines(lines),
                "msp_fee_period_ids": period._link_command(),
                "msp_overage_period_ids": overage._link_command(),
            }
        )
        return vals

    def _billing_prepare_closing(self, claims):
        """After the end date: whatever is still unbilled, on a closing invoice."""
        self.ensure_one()
        day_after = fields.Date.add(self.date_end, days=1)
        overage = self._billing_unbilled_overage(day_after) - claims.periods
        lines = self._billing_extra_lines(overage, day_after, claims)
        if not any(lines.values()):
            return None
        vals = self._billing_invoice_header(
            self.date_end, origin=self.env._("%s (closing)", self.name)
        )
        vals.update(
            {
                "invoice_line_ids": self.env["res.partner"]._msp_invoice_lines(lines),
                "msp_overage_period_ids": overage._link_command(),
            }
        )
        return vals

    def _billing_unbilled_overage(self, before):
        self.ensure_one()
        return self.period_ids.filtered(
            lambda p: (
                p.date_end < before
                and p.overage_hours > 0
                and not p.overage_invoice_id
                and self.company_id._msp_bills_period_overage(p.date_end)
            )
        )

    def _billing_extra_lines(self, overage_periods, before, claims):
        """Line values by section of what else is unbilled before ``before``:
        overage of ``overage_periods``, ad-hoc time and charges; ``claims``
        records them for the next invoice of the run."""
        partner = self.partner_id
        claims.periods |= overage_periods
        time_lines = partner._msp_adhoc_time_lines(
            before, self.adhoc_rate, self.currency_id, self.company_id, exclude=claims.timesheet_ids
        )
        charges = partner._msp_pending_charges(before, self.company_id, exclude=claims.charge_ids)
        claims.timesheet_ids.update(
            ts_id for vals in time_lines for ts_id in vals["msp_timesheet_ids"][0][2]
        )
        claims.charge_ids.update(charges.ids)
        return {
            "overage": [period._overage_line_values() for period in overage_periods],
            "adhoc": time_lines,
            **partner._msp_charge_lines(charges),
        }

    def _billing_invoice_header(self, invoice_date, period=None, origin=None):
        self.ensure_one()
        partner = self.partner_id
        if period and not origin:
            origin = self.env._(
                "%(retainer)s, period %(start)s – %(end)s",
                retainer=self.name,
                start=format_date(self.env, period.date_start),
                end=format_date(self.env, period.date_end),
            )
        vals = partner._msp_invoice_header(
            self.company_id, self.currency_id, invoice_date, origin, self.user_id
        )
        vals["msp_retainer_id"] = self.id
        return vals

    @api.model
    def _billing_create_invoices(self, vals_list):
        if not vals_list:
            return self.env["account.move"]
        return (
            self.env["account.move"]
            .sudo()
            .with_context(default_move_type="out_invoice", tracking_disable=True)
            .create(vals_list)
            .sudo(False)
        )

    def _billing_after_invoiced(self, run_date):
        """An ended retainer whose last period is invoiced is closed."""
        self.ensure_one()
        day = run_date or self._msp_today(self.company_id)
        if self.date_end and self.date_end < day:
            self.write({"state": "closed"})

    def _billing_report_failure(self, error):
        """Rule 4: log it, post it on the retainer, and ask a billing manager."""
        self.ensure_one()
        _logger.warning("Billing of retainer %s failed: %s", self.name, error)
        message = self.env._("The billing run could not invoice this retainer: %s", error)
        self.message_post(body=message)
        manager = self.env.ref("atlas_msp_billing.group_msp_billing_manager").users.filtered(
            lambda u: self.company_id in u.company_ids
        )[:1]
        self.activity_schedule(
            "mail.mail_activity_data_todo",
            summary=self.env._("Billing failed"),
            note=message,
            user_id=(manager or self.user_id or self.env.user).id,
        )

    @api.model
    def _billing_product(self, kind):
        return self.env.ref(BILLING_PRODUCTS[kind])

    def _compute_access_url(self):
        for retainer in self:
            retainer.access_url = f"/my/retainers/{retainer.id}"
