from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL, float_round
from odoo.tools.misc import format_date
from odoo.tools.translate import LazyTranslate

from ..utils.constants import HOURS_DIGITS, USAGE_OVERAGE_PERCENT, USAGE_WARNING_PERCENT
from ..utils.roles import msp_role

_lt = LazyTranslate(__name__)

# What an invoice states about its period; frozen once the invoice is posted.
SNAPSHOT_FIELDS = {
    "date_start",
    "date_end",
    "is_partial",
    "included_hours",
    "overage_rate",
    "amount",
}


# Usage alerts (rule 8): flag, the open activity it raised, threshold in % of the
# included hours, and whether reaching it (80 %: ≥) or only passing it (100 %: >) counts.
USAGE_ALERTS = (
    ("alert_80_sent", "alert_80_activity_id", USAGE_WARNING_PERCENT, True),
    ("alert_100_sent", "alert_100_activity_id", USAGE_OVERAGE_PERCENT, False),
)
USAGE_ALERT_QUEUE = "atlas_msp_billing.usage_alert_period_ids"


def _batches_unique_by(items, key):
    """Split ``items`` into batches in which ``key(item)`` appears once, in order."""
    while items:
        batch, left, seen = [], [], set()
        for item in items:
            (left if key(item) in seen else batch).append(item)
            seen.add(key(item))
        yield batch
        items = left


class MspRetainerPeriod(models.Model):
    _name = "msp.retainer.period"
    _description = "Retainer Billing Period"
    _order = "retainer_id, date_start"
    _rec_names_search = ["retainer_id"]
    _check_company_auto = True

    retainer_id = fields.Many2one(
        "msp.retainer", required=True, ondelete="cascade", index=True, readonly=True
    )
    partner_id = fields.Many2one(related="retainer_id.partner_id", store=True, index=True)
    company_id = fields.Many2one(related="retainer_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="retainer_id.currency_id", store=True)
    date_start = fields.Date(string="Start", required=True, readonly=True)
    date_end = fields.Date(string="End", required=True, readonly=True)
    is_partial = fields.Boolean(
        readonly=True, help="Cut short by the retainer's end date: fee and hours are prorated."
    )
    # Snapshots: later edits of the retainer change only periods created later.
    included_hours = fields.Float(digits=(16, HOURS_DIGITS), readonly=True)
    overage_rate = fields.Monetary(readonly=True)
    amount = fields.Monetary(string="Fee", readonly=True)

    timesheet_ids = fields.One2many("account.analytic.line", "msp_period_id", readonly=True)
    hours_used = fields.Float(
        digits=(16, HOURS_DIGITS), compute="_compute_hours_used", store=True, compute_sudo=True
    )
    overage_hours = fields.Float(
        digits=(16, HOURS_DIGITS), compute="_compute_overage", store=True, compute_sudo=True
    )
    overage_amount = fields.Monetary(compute="_compute_overage", store=True, compute_sudo=True)

    invoice_id = fields.Many2one(
        "account.move",
        string="Fee Invoice",
        readonly=True,
        copy=False,
        ondelete="set null",
        index="btree_not_null",
    )
    # Stays set when the fee invoice is deleted: the fee is billed again only
    # through "Regenerate invoice", never by the billing run.
    fee_billed = fields.Boolean(readonly=True, copy=False)
    overage_invoice_id = fields.Many2one(
        "account.move",
        readonly=True,
        copy=False,
        ondelete="set null",
        index="btree_not_null",
    )
    overage_line_ids = fields.One2many(
        "account.move.line", "msp_overage_period_id", string="Overage Lines", readonly=True
    )
    # Rule 10: what invoices (not cancelled) bill of the overage so far; overage
    # hours above it are billed as an adjustment on the next invoice.
    overage_billed_hours = fields.Float(
        digits=(16, HOURS_DIGITS),
        compute="_compute_overage_billed_hours",
        store=True,
        compute_sudo=True,
    )
    alert_80_sent = fields.Boolean(readonly=True, copy=False)
    alert_100_sent = fields.Boolean(readonly=True, copy=False)
    # The account manager's open activity of each alert, withdrawn when usage
    # falls back below its threshold; empty once the activity is done.
    alert_80_activity_id = fields.Many2one(
        "mail.activity", readonly=True, copy=False, ondelete="set null"
    )
    alert_100_activity_id = fields.Many2one(
        "mail.activity", readonly=True, copy=False, ondelete="set null"
    )

    _sql_constraints = [
        (
            "retainer_date_start_uniq",
            "unique(retainer_id, date_start)",
            "A retainer has one period per start date.",
        ),
    ]

    @api.depends("retainer_id.name", "date_start", "date_end")
    def _compute_display_name(self):
        for period in self:
            period.display_name = self.env._(
                "%(retainer)s: %(start)s – %(end)s",
                retainer=period.retainer_id.name,
                start=format_date(period.env, period.date_start),
                end=format_date(period.env, period.date_end),
            )

    @api.depends("timesheet_ids.unit_amount", "timesheet_ids.msp_billing_category")
    def _compute_hours_used(self):
        hours = dict(
            self.env["account.analytic.line"]._read_group(
                # New records (a period the billing preview only imagines) hold no time.
                [
                    ("msp_period_id", "in", self._origin.ids),
                    ("msp_billing_category", "=", "retainer"),
                ],
                ["msp_period_id"],
                ["unit_amount:sum"],
            )
        )
        for period in self:
            period.hours_used = float_round(hours.get(period, 0.0), precision_digits=HOURS_DIGITS)

    @api.depends("hours_used", "included_hours", "overage_rate")
    def _compute_overage(self):
        for period in self:
            overage = max(period.hours_used - period.included_hours, 0.0)
            period.overage_hours = float_round(overage, precision_digits=HOURS_DIGITS)
            period.overage_amount = period.currency_id.round(
                period.overage_hours * period.overage_rate
            )

    @api.constrains("included_hours", "overage_rate", "amount", "date_start", "date_end")
    def _check_terms(self):
        for period in self:
            if min(period.included_hours, period.overage_rate, period.amount) < 0:
                raise ValidationError(
                    self.env._(
                        "%(period)s: its fee, included hours and overage rate cannot be "
                        "negative; enter 0 or more.",
                        period=period.display_name,
                    )
                )
            if period.date_end < period.date_start:
                raise ValidationError(
                    self.env._(
                        "%(period)s: a period cannot end before it starts; set its end on or "
                        "after its start.",
                        period=period.display_name,
                    )
                )

    @api.depends("overage_line_ids.quantity", "overage_line_ids.parent_state")
    def _compute_overage_billed_hours(self):
        billed = dict(
            self.env["account.move.line"]._read_group(
                [("msp_overage_period_id", "in", self.ids), ("parent_state", "!=", "cancel")],
                ["msp_overage_period_id"],
                ["quantity:sum"],
            )
        )
        for period in self:
            period.overage_billed_hours = float_round(
                billed.get(period, 0.0), precision_digits=HOURS_DIGITS
            )

    def _msp_schedule_balances(self):
        """The included-hours balance of these periods, as the time schedule of an
        invoice prints it."""
        return [
            {
                "period": period,
                "included": period.included_hours,
                "used": period.hours_used,
                "remaining": float_round(
                    max(period.included_hours - period.hours_used, 0.0),
                    precision_digits=HOURS_DIGITS,
                ),
                "overage": period.overage_hours,
            }
            for period in self
        ]

    def _unbilled_overage_hours(self):
        """Overage hours not yet on an invoice (rule 10's adjustment, when some are)."""
        self.ensure_one()
        return float_round(
            max(self.overage_hours - self.overage_billed_hours, 0.0), precision_digits=HOURS_DIGITS
        )

    # ------------------------------------------------------------------
    # The ledger (rule 1): records created as soon as anything needs them
    # ------------------------------------------------------------------
    @api.model
    def _prepare_period_values(self, retainer, shape):
        """Values of the period ``shape`` (a ``utils.periods.Period``) of
        ``retainer``, with the retainer's current terms prorated by days."""
        ratio = shape.ratio
        return {
            "retainer_id": retainer.id,
            "date_start": shape.date_start,
            "date_end": shape.date_end,
            "is_partial": shape.is_partial,
            "included_hours": float_round(
                retainer.included_hours * ratio, precision_digits=HOURS_DIGITS
            ),
            "overage_rate": retainer.overage_rate,
            "amount": retainer.currency_id.round(retainer.amount * ratio),
        }

    @api.model
    def _ensure_periods(self, retainer, shapes):
        """The records of ``shapes`` of ``retainer``, created when missing."""
        return self._ensure_retainer_periods({retainer: shapes})[retainer]

    @api.model
    def _ensure_retainer_periods(self, shapes):
        """{retainer: the records of its ``shapes``} of ``{retainer: shapes}``, the
        missing ones created in one batch; in the billing preview (context
        ``msp_billing_preview``), they are only new records in memory: the
        preview writes nothing."""
        # The retainers' periods, read together for all of them.
        retainers = self.env["msp.retainer"].concat(*shapes)
        existing = {(p.retainer_id, p.date_start): p for p in retainers.period_ids}
        missing = [
            (retainer, shape)
            for retainer, retainer_shapes in shapes.items()
            for shape in retainer_shapes
            if (retainer, shape.date_start) not in existing
        ]
        values = [self._prepare_period_values(retainer, shape) for retainer, shape in missing]
        if self.env.context.get("msp_billing_preview"):
            created = [self.new(vals) for vals in values]
        else:
            created = list(self.sudo().create(values).sudo(False))
        for (retainer, shape), period in zip(missing, created, strict=True):
            existing[retainer, shape.date_start] = period
        return {
            retainer: self.concat(*(existing[retainer, s.date_start] for s in retainer_shapes))
            for retainer, retainer_shapes in shapes.items()
        }

    @api.model
    def _ensure_period_for_date(self, retainer, day):
        shape = retainer._period_containing(day)
        return self._ensure_periods(retainer, [shape]) if shape else self.browse()

    @api.model
    def _reshape_open_periods(self, retainers):
        """A new end date reshapes the periods not yet invoiced."""
        for retainer in retainers:
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
                values = self._prepare_period_values(retainer, shape)
                period.sudo().write(
                    {k: values[k] for k in ("date_end", "is_partial", "included_hours", "amount")}
                )

    # ------------------------------------------------------------------
    # Usage alerts (billing rule 8)
    # ------------------------------------------------------------------
    def _msp_queue_usage_alerts(self):
        """Check these periods' usage just before the transaction commits, once for
        everything it changed (a bulk entry, an import, an edit): the hours are
        final then, and the alerts still belong to the same transaction."""
        if not self:
            return
        precommit = self.env.cr.precommit
        if USAGE_ALERT_QUEUE not in precommit.data:
            precommit.add(self._msp_send_queued_usage_alerts)
        precommit.data.setdefault(USAGE_ALERT_QUEUE, set()).update(self.ids)

    def _msp_send_queued_usage_alerts(self):
        period_ids = list(self.env.cr.precommit.data.pop(USAGE_ALERT_QUEUE, ()))
        self.env.flush_all()
        Period = self.sudo()
        for flag, activity_field, percent, reached_counts in USAGE_ALERTS:
            over = SQL(
                "included_hours > 0 AND hours_used %(op)s included_hours * %(percent)s / 100",
                op=SQL(">=" if reached_counts else ">"),
                percent=int(percent),
            )
            # A conditional UPDATE claims each alert once: a concurrent transaction
            # waits on the row, then finds the flag set.
            crossed = Period._msp_flip_alert_flag(period_ids, flag, True, over)
            crossed._msp_alert(percent, activity_field)
            # Usage back below the threshold (time deleted, shortened or moved):
            # the alert is withdrawn, so that it fires again if usage rises again.
            fallen = Period._msp_flip_alert_flag(period_ids, flag, False, SQL("NOT (%s)", over))
            fallen._msp_withdraw_alert(percent, activity_field)
        self.env.flush_all()

    def _msp_flip_alert_flag(self, period_ids, flag, value, condition):
        """Set ``flag`` to ``value`` on the periods where it differs and
        ``condition`` holds; return those periods."""
        self.env.cr.execute(
            SQL(
                "UPDATE msp_retainer_period SET %(flag)s = %(value)s WHERE id = ANY(%(ids)s) "
                "AND %(flag)s IS %(was)s AND %(condition)s RETURNING id",
                flag=SQL.identifier(flag),
                value=value,
                ids=period_ids,
                was=SQL("NOT TRUE" if value else "TRUE"),
                condition=condition,
            )
        )
        periods = self.browse(sorted(row[0] for row in self.env.cr.fetchall()))
        periods.invalidate_recordset([flag])
        return periods

    def _msp_alert(self, percent, activity_field):
        """Rule 8's alert for these periods: a note in each retainer's chatter and an
        activity for its account manager, each made in one batch."""
        if not self:
            return
        activity_type = self.env.ref("atlas_msp_billing.mail_activity_type_msp_usage_alert")
        retainer_model_id = self.env["ir.model"]._get_id("msp.retainer")
        notes, activities = [], []
        for period in self:
            retainer = period.retainer_id
            summary = period._msp_alert_summary(percent)
            body = self.env._(
                "%(summary)s: %(used).2f h used of %(included).2f h included in %(period)s.",
                summary=summary,
                used=period.hours_used,
                included=period.included_hours,
                period=period.display_name,
            )
            note = Markup("<p>%s</p>") % body
            notes.append((retainer, note))
            activities.append(
                {
                    "res_model_id": retainer_model_id,
                    "res_id": retainer.id,
                    "activity_type_id": activity_type.id,
                    "summary": summary,
                    "note": note,
                    "user_id": (retainer.user_id or retainer.create_uid).id,
                    "date_deadline": period.company_id._msp_today(),
                }
            )
        self._msp_log_notes(notes)
        # mail.activity.create subscribes each activity's user to its record once per
        # activity: two activities of one retainer in one batch (an import spanning
        # two periods) would insert the same follower twice and fail the transaction.
        pairs = list(zip(self, activities, strict=True))
        for batch in _batches_unique_by(pairs, key=lambda pair: pair[1]["res_id"]):
            created = self.env["mail.activity"].sudo().create([vals for _p, vals in batch])
            for (period, _vals), activity in zip(batch, created, strict=True):
                period[activity_field] = activity

    def _msp_alert_summary(self, percent):
        customer = self.retainer_id.partner_id.name
        if percent >= USAGE_OVERAGE_PERCENT:
            return self.env._("%(customer)s is in overage", customer=customer)
        return self.env._(
            "%(customer)s used %(percent)s %% of its hours", customer=customer, percent=int(percent)
        )

    def _msp_withdraw_alert(self, percent, activity_field):
        """Usage fell back below ``percent``: the open activity of that alert goes,
        and the chatter says so."""
        if not self:
            return
        # A done activity is history: only the open ones are withdrawn.
        self.mapped(activity_field).filtered("active").sudo().unlink()
        notes = [
            (
                period.retainer_id,
                Markup("<p>%s</p>")
                % self.env._(
                    "Usage back below %(percent)s %% in %(period)s (%(used).2f h of "
                    "%(included).2f h): the alert is withdrawn.",
                    percent=int(percent),
                    used=period.hours_used,
                    included=period.included_hours,
                    period=period.display_name,
                ),
            )
            for period in self
        ]
        self._msp_log_notes(notes)

    @api.model
    def _msp_log_notes(self, notes):
        """Log each (retainer, note) in the retainer's chatter; a retainer with two
        notes at once (two periods alerted by one import) gets them in two batches,
        as ``_message_log_batch`` takes one body per record."""
        author = self.env.ref("base.partner_root")
        for batch in _batches_unique_by(notes, key=lambda note: note[0].id):
            retainers = self.env["msp.retainer"].browse([retainer.id for retainer, _note in batch])
            retainers._message_log_batch(
                {retainer.id: note for retainer, note in batch}, author_id=author.id
            )

    # ------------------------------------------------------------------
    # Locking (billing rule 6)
    # ------------------------------------------------------------------
    def _check_not_billed_on_posted(self):
        moves = self.sudo().invoice_id | self.sudo().overage_invoice_id
        moves._msp_check_not_posted(self.env._("This retainer period"))

    def write(self, vals):
        if SNAPSHOT_FIELDS & set(vals):
            self._check_not_billed_on_posted()
        if vals.get("invoice_id"):
            vals = dict(vals, fee_billed=True)
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_invoiced(self):
        self._check_not_billed_on_posted()
        if self.filtered("fee_billed"):
            raise UserError(self.env._("A period whose fee has been invoiced cannot be deleted."))

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------
    @msp_role("billing_manager", _lt("Only billing managers can regenerate invoices."), write=True)
    def action_regenerate_invoice(self):
        """Bill the fee of periods whose fee invoice was deleted or cancelled."""
        invoices = self.env["account.move"]
        for period in self:
            if period.invoice_id and period.invoice_id.state != "cancel":
                raise UserError(
                    self.env._(
                        "The fee of %(period)s is already on invoice %(invoice)s; delete or "
                        "cancel that invoice before regenerating it.",
                        period=period.display_name,
                        invoice=period.invoice_id.display_name,
                    )
                )
            billing = self.env["msp.billing"]
            retainer = billing._lock_retainers(period.retainer_id)
            invoice = self.env["msp.billing.invoice"]._prepare_period_invoice(retainer, period)
            invoices |= billing._create_invoices([invoice])
        return invoices._get_records_action(name=self.env._("Regenerated Invoices"))
