from datetime import datetime

import pytz

from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError
from odoo.osv import expression
from odoo.tools.translate import LazyTranslate

from ..utils.roles import check_role

_lt = LazyTranslate(__name__)

# What Revenue > Configuration > Settings edits: billing managers may change these
# company fields without being Odoo administrators.
MSP_SETTINGS = frozenset(
    {
        "msp_timer_rounding",
        "msp_timer_minimum",
        "msp_timer_stale_hours",
        "msp_sla_policy_id",
        "msp_billing_start_date",
        "msp_invoice_payment_term_id",
        "msp_invoice_bank_id",
        "msp_invoice_payment_note",
        "msp_invoice_sla_summary",
        "msp_attach_time_schedule",
        "msp_billing_jobs",
    }
)


class ResCompany(models.Model):
    _inherit = "res.company"

    msp_timer_rounding = fields.Integer(
        string="Timer Rounding (minutes)",
        default=1,
        help="A stopped timer's time is rounded up to a multiple of this many minutes.",
    )
    msp_timer_minimum = fields.Integer(
        string="Timer Minimum (minutes)",
        default=0,
        help="A stopped timer logs at least this many minutes (0: no minimum).",
    )
    msp_timer_stale_hours = fields.Float(
        string="Stale Timer After (hours)",
        default=10.0,
        help="A timer running longer than this is flagged as stale: its time is only logged "
        "once the technician confirms it.",
    )
    msp_sla_policy_id = fields.Many2one(
        "msp.sla.policy",
        string="Default SLA Policy",
        check_company=True,
        help="SLA policy of tickets whose customer has none of its own.",
    )
    msp_invoice_payment_term_id = fields.Many2one(
        "account.payment.term",
        string="Payment Terms of Generated Invoices",
        help="Payment terms of the invoices the billing run drafts for customers without "
        "payment terms of their own.",
    )
    msp_invoice_bank_id = fields.Many2one(
        "res.partner.bank",
        string="Bank Account on Generated Invoices",
        help="The account customers pay generated invoices on; empty: Odoo's default choice.",
    )
    msp_invoice_payment_note = fields.Html(
        string="Remittance Instructions",
        translate=True,
        help="Banking details and remittance instructions printed on generated invoices.",
    )
    msp_invoice_sla_summary = fields.Boolean(
        string="SLA Summary on Invoices by Default",
        help="New customers get an SLA summary on their invoices.",
    )
    msp_attach_time_schedule = fields.Boolean(
        string="Time Schedule with Invoices by Default",
        help="New customers get the time-entry schedule with their invoices.",
    )

    msp_billing_start_date = fields.Date(
        string="Bill Time From",
        help="Time entries and charges dated before this day are never billed by the "
        "retainer billing, and retainer periods ending before it bill no overage. Set on "
        "installation when the database already holds timesheets of customer projects, so "
        "that their history is not invoiced. Empty: no limit.",
    )

    msp_billing_jobs = fields.Integer(
        string="Billing Jobs",
        default=2,
        help="How many jobs draft the invoices at once, on the cron workers of one or several "
        "Odoo servers: the daily billing starts this many and they share the retainers. At "
        "most one per cron worker (max_cron_threads of all servers) is useful.",
    )

    def _msp_today(self):
        """Today in this company's time zone (its partner's, else the user's): the
        one "today" of the add-on's computes, searches, crons and wizards. The
        context key ``msp_date`` sets another reference date."""
        if self.env.context.get("msp_date"):
            return fields.Date.to_date(self.env.context["msp_date"])
        return datetime.now(self._msp_tz()).date()

    def _msp_local_date(self, moment):
        """The day of ``moment`` (a naive UTC datetime) in the company's time zone."""
        return pytz.utc.localize(moment).astimezone(self._msp_tz()).date()

    def _msp_tz(self):
        """The company's time zone (its partner's, else the user's, else UTC): the
        one that dates periods, time entries, timers and SLA windows."""
        company = self or self.env.company
        return pytz.timezone(company.partner_id.tz or self.env.user.tz or "UTC")

    @api.model
    def _msp_billable_date_domain(self):
        """Domain of the time entries or charges (records with ``company_id`` and
        ``date``) that are recent enough to bill: dated on or after their company's
        "Bill time from" day."""
        companies = self.sudo().search([("msp_billing_start_date", "!=", False)])
        if not companies:
            return []
        return expression.OR(
            [
                [("company_id", "not in", companies.ids)],
                *(
                    [
                        ("company_id", "=", company.id),
                        ("date", ">=", company.msp_billing_start_date),
                    ]
                    for company in companies
                ),
            ]
        )

    def _msp_billable_since_domain(self):
        """The same limit for what this company bills."""
        self.ensure_one()
        start = self.msp_billing_start_date
        return [("date", ">=", start)] if start else []

    def _msp_bills_period_overage(self, period_end):
        """A retainer period that ended before the company's "Bill time from" day
        bills no overage: its time is history."""
        self.ensure_one()
        return not self.msp_billing_start_date or period_end >= self.msp_billing_start_date

    @api.model
    def _msp_init_billing_start_date(self):
        """On installation: companies whose database already holds time on customer
        projects bill only time from today on, so that years of old timesheets are
        never invoiced; companies without such history keep no limit."""
        Timesheet = self.env["account.analytic.line"].sudo()
        for company in self.sudo().search([("msp_billing_start_date", "=", False)]):
            history = Timesheet.search_count(
                [
                    ("company_id", "=", company.id),
                    ("project_id.partner_id", "!=", False),
                    ("unit_amount", "!=", 0),
                ],
                limit=1,
            )
            if history:
                company.msp_billing_start_date = company._msp_today()

    def write(self, vals):
        # Billing managers have write access to companies (security CSV) for the
        # Revenue settings only; everything else stays Odoo's administrators'.
        if not (self.env.su or self.env.user.has_group("base.group_erp_manager")):
            other = set(vals) - MSP_SETTINGS
            if other:
                raise AccessError(
                    self.env._(
                        "Only administrators can change the company's %(fields)s.",
                        fields=", ".join(sorted(self._fields[f].string for f in other)),
                    )
                )
        result = super().write(vals)
        if "msp_billing_jobs" in vals:
            # The cron records of the jobs follow the setting (rule 12).
            self.env["msp.billing"]._get_billing_jobs()
        return result

    def _msp_action_settings(self):
        """Revenue > Configuration > Settings: this company's billing options."""
        self.ensure_one()
        check_role(
            self, "billing_manager", _lt("Only billing managers can change the Revenue settings.")
        )
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Revenue Settings"),
            "res_model": "res.company",
            "res_id": self.id,
            "view_mode": "form",
            "views": [
                (self.env.ref("atlas_msp_billing.res_company_view_form_msp_settings").id, "form")
            ],
            "target": "current",
        }

    @api.constrains("msp_invoice_bank_id")
    def _check_msp_invoice_bank(self):
        for company in self:
            bank = company.msp_invoice_bank_id
            if bank and bank.partner_id != company.partner_id:
                raise ValidationError(
                    self.env._(
                        "The bank account on generated invoices must be an account of %(company)s.",
                        company=company.name,
                    )
                )

    @api.constrains("msp_billing_jobs")
    def _check_msp_billing_jobs(self):
        if any(company.msp_billing_jobs < 1 for company in self):
            raise ValidationError(self.env._("The billing needs at least 1 job."))

    @api.constrains("msp_timer_rounding", "msp_timer_minimum", "msp_timer_stale_hours")
    def _check_msp_timer_settings(self):
        for company in self:
            if company.msp_timer_rounding < 1:
                raise ValidationError(self.env._("The timer rounding must be at least 1 minute."))
            if company.msp_timer_minimum < 0:
                raise ValidationError(self.env._("The timer minimum cannot be negative."))
            if company.msp_timer_stale_hours <= 0:
                raise ValidationError(
                    self.env._("The stale timer limit must be a positive number of hours.")
                )
