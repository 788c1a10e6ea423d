import threading
from bisect import bisect_right
from collections import defaultdict
from datetime import datetime, time, timedelta
from functools import partial

import pytz

from odoo import api, fields, models
from odoo.osv import expression
from odoo.tools import float_round, split_every

from odoo.addons.project.models.project_task import CLOSED_STATES

from .msp_sla_policy_line import TICKET_PRIORITIES

SLA_STATUSES = [
    ("on_track", "On Track"),
    ("at_risk", "At Risk"),
    ("breached", "Breached"),
    ("met", "Met"),
]
# Share of the business time to a pending deadline after which a ticket is at risk.
SLA_RISK_RATIO = 0.75


class MspSlaMixin(models.AbstractModel):
    """A ticket's service level: its priority and SLA policy, the response and
    resolution deadlines counted in business hours from its creation, its first
    response and resolution, the SLA status a cron keeps up with the clock, and
    the SLA summary of a customer's tickets. Inherited by ``project.task``,
    which provides ``msp_is_ticket``, ``partner_id``, ``company_id``, ``state``
    and ``create_date``."""

    _name = "msp.sla.mixin"
    _description = "Service Level of a Ticket"

    def _valid_field_parameter(self, field, name):
        # Tracking takes effect on the mail.thread models that inherit the mixin.
        return name == "tracking" or super()._valid_field_parameter(field, name)

    msp_priority = fields.Selection(
        TICKET_PRIORITIES,
        string="Ticket Priority",
        default="normal",
        tracking=True,
        help="Sets the response and resolution targets of the ticket's SLA policy.",
    )
    msp_sla_policy_id = fields.Many2one(
        "msp.sla.policy",
        string="SLA Policy",
        compute="_compute_msp_sla_policy_id",
        store=True,
        readonly=False,
        tracking=True,
        domain="[('company_id', 'in', company_id and [company_id] or allowed_company_ids)]",
        help="By default the customer's policy, else the company's. Targets are fixed when "
        "the ticket gets its policy and priority: later edits of a policy apply to new tickets.",
    )
    msp_response_deadline = fields.Datetime(
        string="Response Deadline",
        compute="_compute_msp_sla_deadlines",
        store=True,
        help="The policy's response time for this priority, in business hours from the "
        "ticket's creation.",
    )
    msp_resolution_deadline = fields.Datetime(
        string="Resolution Deadline",
        compute="_compute_msp_sla_deadlines",
        store=True,
        help="The policy's resolution time for this priority, in business hours from the "
        "ticket's creation.",
    )
    # When the share SLA_RISK_RATIO of the business time to each deadline has
    # elapsed: stored so that the cron finds the tickets turning at risk in SQL.
    msp_response_risk_date = fields.Datetime(
        string="Response at Risk From", compute="_compute_msp_sla_deadlines", store=True
    )
    msp_resolution_risk_date = fields.Datetime(
        string="Resolution at Risk From", compute="_compute_msp_sla_deadlines", store=True
    )
    msp_first_response_date = fields.Datetime(
        string="First Response",
        readonly=True,
        copy=False,
        help="First message sent to the customer or first time entry, whichever came first.",
    )
    msp_resolved_date = fields.Datetime(
        string="Resolved On",
        compute="_compute_msp_resolved_date",
        store=True,
        copy=False,
        help="When the ticket was marked as done; cleared when it is reopened.",
    )
    msp_sla_status = fields.Selection(
        SLA_STATUSES,
        string="SLA Status",
        compute="_compute_msp_sla_status",
        store=True,
        index=True,
        copy=False,
        help="On Track: targets pending. At Risk: 75% of the business time to a pending "
        "target has elapsed. Breached: a target was missed. Met: resolved within its targets.",
    )

    @api.depends("msp_is_ticket", "partner_id", "company_id")
    def _compute_msp_sla_policy_id(self):
        for task in self:
            if not task.msp_is_ticket:
                task.msp_sla_policy_id = False
                continue
            company = task.company_id or self.env.company
            customer = task.partner_id.commercial_partner_id.with_company(company)
            task.msp_sla_policy_id = customer.msp_sla_policy_id or company.msp_sla_policy_id

    @api.depends("create_date", "msp_priority", "msp_sla_policy_id")
    def _compute_msp_sla_deadlines(self):
        for task in self:
            policy = task.msp_sla_policy_id.sudo()
            line = policy and policy._get_line(task.msp_priority)
            if not (line and task.create_date):
                task.update(
                    {
                        "msp_response_deadline": False,
                        "msp_resolution_deadline": False,
                        "msp_response_risk_date": False,
                        "msp_resolution_risk_date": False,
                    }
                )
                continue
            plan = partial(
                line.policy_id.calendar_id.plan_hours,
                day_dt=task.create_date,
                compute_leaves=True,
            )
            task.update(
                {
                    "msp_response_deadline": plan(line.response_hours),
                    "msp_resolution_deadline": plan(line.resolution_hours),
                    "msp_response_risk_date": plan(line.response_hours * SLA_RISK_RATIO),
                    "msp_resolution_risk_date": plan(line.resolution_hours * SLA_RISK_RATIO),
                }
            )

    @api.depends("msp_is_ticket", "state")
    def _compute_msp_resolved_date(self):
        now = fields.Datetime.now()
        for task in self:
            if task.msp_is_ticket and task.state == "1_done":
                task.msp_resolved_date = task.msp_resolved_date or now
            else:
                task.msp_resolved_date = False

    @api.depends(
        "msp_is_ticket",
        "state",
        "msp_response_deadline",
        "msp_resolution_deadline",
        "msp_response_risk_date",
        "msp_resolution_risk_date",
        "msp_first_response_date",
        "msp_resolved_date",
    )
    def _compute_msp_sla_status(self):
        now = fields.Datetime.now()
        for task in self:
            task.msp_sla_status = task._msp_sla_status_at(now)

    # ------------------------------------------------------------------
    # SLA targets
    # ------------------------------------------------------------------
    def _msp_sla_targets(self):
        """(deadline, at-risk date, date reached) of the response target and of the
        resolution target. Resolving a ticket answers it too."""
        self.ensure_one()
        return (
            (
                self.msp_response_deadline,
                self.msp_response_risk_date,
                self.msp_first_response_date or self.msp_resolved_date,
            ),
            (
                self.msp_resolution_deadline,
                self.msp_resolution_risk_date,
                self.msp_resolved_date,
            ),
        )

    def _msp_missed_deadlines(self, now, targets=None):
        """Deadlines of the targets the ticket has missed at ``now``.

        A cancelled ticket (a duplicate, a request the customer withdrew) is no
        longer measured: only a target it reached late counts against it, and
        otherwise it counts as met. The verdict needs no cancellation date, so
        it stays the same whenever it is recomputed."""
        self.ensure_one()
        running = self.state != "1_canceled"
        return [
            deadline
            for deadline, _risk, reached in targets or self._msp_sla_targets()
            if deadline and (reached > deadline if reached else running and now > deadline)
        ]

    def _msp_sla_calendar(self):
        """Business hours of the ticket's SLA: its policy's calendar, else its company's."""
        self.ensure_one()
        return (
            self.msp_sla_policy_id.calendar_id
            or self.company_id.resource_calendar_id
            or self.env.company.resource_calendar_id
        )

    def _msp_sla_status_at(self, now):
        self.ensure_one()
        targets = [target for target in self._msp_sla_targets() if target[0]]
        if not (self.msp_is_ticket and targets):
            return False
        if self._msp_missed_deadlines(now, targets):
            return "breached"
        if self.msp_resolved_date or self.state == "1_canceled":
            return "met"
        if any(risk and not reached and now >= risk for _deadline, risk, reached in targets):
            return "at_risk"
        return "on_track"

    @api.model
    def _msp_sla_changing_domain(self, now):
        """Open tickets whose SLA status has changed by ``now`` with time alone: a
        pending target reached its at-risk date or its deadline."""

        def pending(response_date, resolution_date):
            return [
                "|",
                "&",
                ("msp_first_response_date", "=", False),
                (response_date, "<=", now),
                (resolution_date, "<=", now),
            ]

        return [
            ("msp_is_ticket", "=", True),
            ("state", "not in", list(CLOSED_STATES)),
            "|",
            "&",
            ("msp_sla_status", "=", "on_track"),
            *pending("msp_response_risk_date", "msp_resolution_risk_date"),
            "&",
            ("msp_sla_status", "in", ["on_track", "at_risk"]),
            *pending("msp_response_deadline", "msp_resolution_deadline"),
        ]

    @api.model
    def _cron_msp_sla_status(self, batch_size=500):
        # Each batch is its own transaction, except under tests.
        auto_commit = not getattr(threading.current_thread(), "testing", False)
        self._msp_update_sla_status(batch_size=batch_size, commit=auto_commit)

    @api.model
    def _msp_update_sla_status(self, now=None, batch_size=500, commit=False):
        """Bring the stored SLA status of open tickets up to date with the clock;
        returns the tickets whose status changed."""
        now = now or fields.Datetime.now()
        tasks = self.sudo()
        ids = tasks.search(self._msp_sla_changing_domain(now)).ids
        changed_ids = []
        done = 0
        for batch in split_every(batch_size, ids, tasks.browse):
            by_status = defaultdict(list)
            for task in batch:
                status = task._msp_sla_status_at(now)
                if status != task.msp_sla_status:
                    by_status[status].append(task.id)
            for status, moved_ids in by_status.items():
                tasks.browse(moved_ids).write({"msp_sla_status": status})
                changed_ids += moved_ids
            done += len(batch)
            self.env["ir.cron"]._notify_progress(done=done, remaining=len(ids) - done)
            if commit:
                self.env.cr.commit()  # pylint: disable=invalid-commit
        return self.browse(changed_ids)

    # ------------------------------------------------------------------
    # First response
    # ------------------------------------------------------------------
    def _msp_register_first_response(self, when):
        """A ticket is answered by the first message to its customer or the first time
        logged on it; later ones change nothing."""
        tickets = self.filtered(
            lambda task: task.msp_is_ticket and not task.msp_first_response_date
        )
        if tickets:
            tickets.sudo().write({"msp_first_response_date": when})

    @api.model
    def _msp_is_reply_to_customer(self, message):
        """A message the customer gets from the MSP: a public message (not an internal
        note, not a notification) written by an internal user (not the customer)."""
        message = message.sudo()
        return (
            message.message_type in ("comment", "email")
            and not message.is_internal
            and bool(message.subtype_id)
            and not message.subtype_id.internal
            and any(not user.share for user in message.author_id.user_ids)
        )

    # ------------------------------------------------------------------
    # SLA summary
    # ------------------------------------------------------------------
    @api.model
    def _msp_sla_summary(self, partners, date_from, date_to):
        """SLA figures of the tickets of ``partners`` and their contacts between
        ``date_from`` and ``date_to`` (inclusive dates in the company's time zone).

        Response figures cover the tickets first answered in the window,
        resolution figures those resolved in it; hours are business hours of
        each ticket's SLA calendar. ``breaches`` are the breached tickets opened
        or resolved in the window, or that missed a deadline falling in it.
        Percentages are 0–100 and 0.0 when there is nothing to measure."""
        start, stop = self._msp_utc_window(date_from, date_to)

        def within(date):
            return bool(date) and start <= date < stop

        tickets = self._msp_sla_window_tickets(partners, start, stop)
        responded = tickets.filtered(lambda task: within(task.msp_first_response_date))
        resolved = tickets.filtered(lambda task: within(task.msp_resolved_date))
        response_met = responded.filtered(
            lambda task: (
                not task.msp_response_deadline
                or task.msp_first_response_date <= task.msp_response_deadline
            )
        )
        resolution_met = resolved.filtered(
            lambda task: (
                not task.msp_resolution_deadline
                or task.msp_resolved_date <= task.msp_resolution_deadline
            )
        )
        response_hours = responded._msp_business_hours("msp_first_response_date")
        resolution_hours = resolved._msp_business_hours("msp_resolved_date")
        return {
            "opened": len(tickets.filtered(lambda task: within(task.create_date))),
            "resolved": len(resolved),
            "response_met": len(response_met),
            "response_met_pct": _percent(len(response_met), len(responded)),
            "resolution_met": len(resolution_met),
            "resolution_met_pct": _percent(len(resolution_met), len(resolved)),
            "avg_response_hours": _average(response_hours),
            "avg_resolution_hours": _average(resolution_hours),
            "breaches": tickets._msp_sla_breaches(within),
        }

    @api.model
    def _msp_sla_window_tickets(self, partners, start, stop):
        """Tickets of ``partners`` and their contacts with a date of their SLA (opened,
        answered, resolved, a deadline) in [``start``, ``stop``), naive UTC."""
        in_window = expression.OR(
            [(date_field, ">=", start), (date_field, "<", stop)]
            for date_field in (
                "create_date",
                "msp_first_response_date",
                "msp_resolved_date",
                "msp_response_deadline",
                "msp_resolution_deadline",
            )
        )
        return self.search(
            [
                ("msp_is_ticket", "=", True),
                ("partner_id", "child_of", partners.ids),
                *in_window,
            ]
        )

    def _msp_sla_breaches(self, within):
        """The breached tickets opened or resolved in the window (``within`` tells
        whether a date falls in it), or that missed a deadline falling in it."""
        now = fields.Datetime.now()
        return self.filtered(
            lambda task: (
                task.msp_sla_status == "breached"
                and (
                    within(task.create_date)
                    or within(task.msp_resolved_date)
                    or any(within(deadline) for deadline in task._msp_missed_deadlines(now))
                )
            )
        )

    @api.model
    def _msp_utc_window(self, date_from, date_to):
        """Naive UTC bounds [start, stop) of the days from ``date_from`` to ``date_to``
        in the company's time zone."""
        tz = self.env.company._msp_tz()

        def utc_midnight(day):
            local = tz.localize(datetime.combine(day, time.min))
            return local.astimezone(pytz.utc).replace(tzinfo=None)

        return (
            utc_midnight(fields.Date.to_date(date_from)),
            utc_midnight(fields.Date.to_date(date_to) + timedelta(days=1)),
        )

    def _msp_business_hours(self, end_field):
        """Business hours from each ticket's creation to its ``end_field``, in its SLA
        calendar (holidays excluded), reading each calendar's work intervals once."""
        spans = defaultdict(list)
        for task in self:
            spans[task._msp_sla_calendar().sudo()].append((task.create_date, task[end_field]))
        hours = []
        for calendar, calendar_spans in spans.items():
            hours += _work_hours(calendar, calendar_spans)
        return hours


def _work_hours(calendar, spans):
    """Working hours of ``calendar`` within each (start, stop) of ``spans`` (naive UTC),
    from one read of its work intervals over all of them."""
    first = pytz.utc.localize(min(start for start, _stop in spans))
    last = pytz.utc.localize(max(stop for _start, stop in spans))
    intervals = [
        (
            start.astimezone(pytz.utc).replace(tzinfo=None),
            stop.astimezone(pytz.utc).replace(tzinfo=None),
        )
        for start, stop, _meta in calendar._work_intervals_batch(first, last)[False]
    ]
    starts = [start for start, _stop in intervals]
    cumulated = [0.0]
    for start, stop in intervals:
        cumulated.append(cumulated[-1] + (stop - start).total_seconds() / 3600)

    def worked_until(moment):
        index = bisect_right(starts, moment)
        if not index:
            return 0.0
        start, stop = intervals[index - 1]
        return cumulated[index - 1] + (min(moment, stop) - start).total_seconds() / 3600

    return [max(worked_until(stop) - worked_until(start), 0.0) for start, stop in spans]


def _percent(part, whole):
    return float_round(100.0 * part / whole, precision_digits=1) if whole else 0.0


def _average(hours):
    return float_round(sum(hours) / len(hours), precision_digits=2) if hours else 0.0
