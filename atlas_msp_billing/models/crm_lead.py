from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import escape_psql, float_round
from odoo.tools.translate import LazyTranslate

from ..utils import periods as period_math
from ..utils.roles import check_role, msp_role

_lt = LazyTranslate(__name__)

RETAINER_PLAN = "atlas_msp_billing.product_msp_retainer_plan"
ONBOARD_NUMBERS = {
    "amount": _lt("fee per cycle"),
    "included_hours": _lt("included hours"),
    "overage_rate": _lt("overage rate"),
    "adhoc_rate": _lt("ad-hoc rate"),
}


class CrmLead(models.Model):
    _inherit = "crm.lead"

    msp_estimated_mrr = fields.Monetary(
        string="Estimated MRR",
        currency_field="company_currency",
        tracking=True,
        help="Monthly recurring revenue this opportunity should bring once won.",
    )
    msp_retainer_id = fields.Many2one(
        "msp.retainer",
        string="Retainer",
        copy=False,
        readonly=True,
        index="btree_not_null",
        help="The retainer started when this opportunity was won and onboarded.",
    )

    @api.constrains("msp_estimated_mrr")
    def _check_msp_estimated_mrr(self):
        for lead in self:
            if lead.msp_estimated_mrr < 0:
                raise ValidationError(
                    self.env._(
                        "%(lead)s: the estimated MRR cannot be negative; enter 0 or more.",
                        lead=lead.display_name,
                    )
                )

    # ------------------------------------------------------------------
    # Activities
    # ------------------------------------------------------------------
    @msp_role("salesperson")
    def action_msp_log_call(self):
        """The activity dialog, preset to a call: write what was said, then
        "Schedule & Mark as Done" logs it in the history."""
        self.ensure_one()
        call = self.env.ref("mail.mail_activity_data_call")
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Log a Call"),
            "res_model": "mail.activity.schedule",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": {
                "active_model": self._name,
                "active_id": self.id,
                "active_ids": self.ids,
                "default_res_model": self._name,
                "default_activity_type_id": call.id,
                "default_summary": self.env._("Call with %s", self.contact_name or self.name),
                "default_activity_user_id": self.env.uid,
            },
        }

    def _msp_log_call(self, note, summary=None):
        """Log a call that took place (what the dialog does, for XML-RPC)."""
        self.ensure_one()
        activity = self.activity_schedule(
            "mail.mail_activity_data_call",
            summary=summary or self.env._("Call"),
            note=note,
            user_id=self.env.uid,
        )
        activity.action_feedback(feedback=note)
        return True

    # ------------------------------------------------------------------
    # Win & onboard
    # ------------------------------------------------------------------
    @msp_role(
        "account_manager", _lt("Only account managers can win and onboard customers."), write=True
    )
    def action_msp_win_onboard(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "atlas_msp_billing.msp_win_onboard_action"
        )
        action["context"] = {"default_lead_id": self.id}
        return action

    @msp_role("account_manager")
    def action_view_msp_retainer(self):
        self.ensure_one()
        return self.msp_retainer_id._get_records_action(name=self.msp_retainer_id.name)

    def _msp_default_retainer_amount(self, billing_cycle):
        self.ensure_one()
        months = period_math.cycle_months(billing_cycle or "monthly")
        return self.company_currency.round(self.msp_estimated_mrr * months)

    def _msp_default_retainer_product(self):
        """The retainer plan the opportunity was quoted with, else the plan the
        add-on ships: its terms are the defaults of the onboarding."""
        self.ensure_one()
        quoted = self.order_ids.order_line.product_id.product_tmpl_id.filtered("msp_is_retainer")
        if quoted:
            return quoted[:1]
        plan = self.env.ref(RETAINER_PLAN, raise_if_not_found=False)
        return plan.product_tmpl_id if plan and plan.active else self.env["product.template"]

    @api.model
    def _msp_default_retainer_terms(self, product, billing_cycle):
        """Included hours and overage rate of ``product`` (a retainer plan) for
        ``billing_cycle``: the plan's hours are per its own cycle, so a
        quarterly retainer on a monthly plan includes three times its hours."""
        if not product:
            return {"included_hours": 0.0, "overage_rate": 0.0}
        months = period_math.cycle_months(billing_cycle or "monthly")
        plan_months = period_math.cycle_months(product.msp_billing_cycle or "monthly")
        hours = product.msp_included_hours * months / plan_months
        return {
            "included_hours": float_round(hours, precision_digits=2),
            "overage_rate": product.msp_overage_rate,
        }

    def _msp_check_onboard_values(self, values):
        """The values, completed with their defaults, or a clear refusal
        before anything is written."""
        self.ensure_one()
        values = dict(values or {})
        cycle = values.get("billing_cycle") or "monthly"
        self.env["msp.retainer"]._check_selection_values({"billing_cycle": cycle})
        values["billing_cycle"] = cycle
        if values.get("amount") in (None, False):
            values["amount"] = self._msp_default_retainer_amount(cycle)
        terms = self._msp_default_retainer_terms(self._msp_default_retainer_product(), cycle)
        for key, default in terms.items():
            # An explicit 0 is the user's choice; only a missing value defaults.
            if values.get(key) is None:
                values[key] = default
        for key, label in ONBOARD_NUMBERS.items():
            value = values.get(key) or 0.0
            if not isinstance(value, (int, float)) or value < 0:
                raise ValidationError(
                    self.env._(
                        "%(lead)s: the %(field)s of the retainer cannot be negative "
                        "(got %(value)s); enter 0 or more.",
                        lead=self.display_name,
                        field=self.env._(label),
                        value=value,
                    )
                )
            values[key] = value
        values["included_hours"] = float_round(values["included_hours"], precision_digits=2)
        values["date_start"] = fields.Date.to_date(
            values.get("date_start") or (self.company_id or self.env.company)._msp_today()
        )
        policy = self.env["msp.sla.policy"]
        if values.get("sla_policy_id"):
            policy = policy.browse(values["sla_policy_id"]).exists()
            if not policy:
                raise ValidationError(self.env._("The SLA policy chosen no longer exists."))
        values["sla_policy"] = policy
        if not self.partner_id and not (self.partner_name or "").strip():
            raise UserError(
                self.env._(
                    "%(lead)s has no customer and no company name: set the company name "
                    "(or the customer) first.",
                    lead=self.display_name,
                )
            )
        return values

    def _msp_find_customer_company(self, name):
        """The customer company Win & onboard reuses: the lead's partner's, else
        the company of exactly that name (the wizard tells which one)."""
        self.ensure_one()
        if self.partner_id:
            return self.partner_id.commercial_partner_id
        if not name:
            return self.env["res.partner"]
        return self.env["res.partner"].search(
            [
                ("is_company", "=", True),
                ("name", "=ilike", escape_psql(name.strip())),
                ("company_id", "in", [False, self.company_id.id or self.env.company.id]),
            ],
            limit=1,
        )

    def _msp_onboard_customer(self, sla_policy):
        """The customer company of the lead: its partner's, else the company
        of that exact name, else a new one; plus its contact."""
        self.ensure_one()
        Partner = self.env["res.partner"]
        name = (self.partner_name or "").strip()
        company = self._msp_find_customer_company(name)
        if not company:
            company = Partner.create(self._prepare_customer_values(name, is_company=True))
        contact = self.partner_id if self.partner_id != company else Partner
        if not contact and self.contact_name:
            email = self.email_normalized
            contact = company.child_ids.filtered(
                lambda c: (
                    (c.name or "").strip().lower() == self.contact_name.strip().lower()
                    or (email and c.email_normalized == email)
                )
            )[:1]
            if not contact:
                contact = Partner.create(
                    self._prepare_customer_values(
                        self.contact_name, is_company=False, parent_id=company.id
                    )
                )
        updates = {}
        if not company.user_id and self.user_id:
            updates["user_id"] = self.user_id.id
        if not contact:
            if not company.email and self.email_from:
                updates["email"] = self.email_from
            if not company.phone and self.phone:
                updates["phone"] = self.phone
        if sla_policy:
            updates["msp_sla_policy_id"] = sla_policy.id
        if updates:
            company.with_company(self.company_id or self.env.company).write(updates)
        self.partner_id = contact or company
        return company

    def _msp_win_onboard(self, values):
        """Win the opportunity in one step: customer (created or reused),
        SLA policy, an active retainer (and its first invoice on request).
        All or nothing; returns the retainer."""
        self.ensure_one()
        check_role(
            self, "account_manager", _lt("Only account managers can win and onboard customers.")
        )
        if self.msp_retainer_id:
            raise UserError(
                self.env._(
                    "%(lead)s is already onboarded with retainer %(retainer)s.",
                    lead=self.display_name,
                    retainer=self.msp_retainer_id.name,
                )
            )
        values = self._msp_check_onboard_values(values)
        company = self.company_id or self.env.company
        with self.env.cr.savepoint():
            customer = self._msp_onboard_customer(values["sla_policy"])
            retainer = self.env["msp.retainer"].create(
                {
                    "partner_id": customer.id,
                    "company_id": company.id,
                    "currency_id": company.currency_id.id,
                    "user_id": (self.user_id or self.env.user).id,
                    "amount": values["amount"],
                    "billing_cycle": values["billing_cycle"],
                    "included_hours": values["included_hours"],
                    "overage_rate": values["overage_rate"],
                    "adhoc_rate": values["adhoc_rate"],
                    "date_start": values["date_start"],
                }
            )
            retainer.action_activate()
            retainer.message_post(
                body=self.env._("Started when %s was won.", self._get_html_link())
            )
            self.action_set_won()
            self.msp_retainer_id = retainer
            if values.get("create_first_invoice"):
                self._msp_onboard_first_invoice(retainer)
        return retainer

    def _msp_onboard_first_invoice(self, retainer):
        """Draft the first period's invoice now (for a future start, the one
        dated that start) instead of waiting for the daily billing run."""
        day = max(retainer.company_id._msp_today(), retainer.date_start)
        invoices = self.env["msp.billing"].sudo()._invoice_retainers(retainer.sudo(), day)
        if not invoices:
            raise UserError(
                self.env._(
                    "The first invoice of %(retainer)s could not be drafted; check its terms "
                    "and try again.",
                    retainer=retainer.name,
                )
            )
        return invoices
