from odoo import api, fields, models
from odoo.tools.translate import LazyTranslate

from ..utils.constants import BILLING_CYCLES, HOURS_DIGITS
from ..utils.roles import msp_role

_lt = LazyTranslate(__name__)


class MspWinOnboard(models.TransientModel):
    _name = "msp.win.onboard"
    _description = "Win & Onboard"

    lead_id = fields.Many2one("crm.lead", string="Opportunity", required=True, readonly=True)
    company_id = fields.Many2one("res.company", compute="_compute_company_id")
    currency_id = fields.Many2one("res.currency", compute="_compute_company_id")
    partner_id = fields.Many2one(related="lead_id.partner_id", string="Existing Customer")
    partner_name = fields.Char(related="lead_id.partner_name", readonly=False)
    contact_name = fields.Char(related="lead_id.contact_name", readonly=False)
    email_from = fields.Char(related="lead_id.email_from", readonly=False)
    phone = fields.Char(related="lead_id.phone", readonly=False)
    estimated_mrr = fields.Monetary(related="lead_id.msp_estimated_mrr")
    existing_company_id = fields.Many2one(
        "res.partner",
        string="Reused Company",
        compute="_compute_existing_company_id",
        help="The customer company the onboarding reuses; empty: it creates one.",
    )
    billing_cycle = fields.Selection(BILLING_CYCLES, required=True, default="monthly")
    amount = fields.Monetary(
        string="Fee per Cycle",
        compute="_compute_amount",
        store=True,
        readonly=False,
        precompute=True,
        help="Defaults to the estimated MRR times the months of the cycle.",
    )
    product_id = fields.Many2one(
        "product.template",
        string="Retainer Plan",
        domain="[('msp_is_retainer', '=', True), ('company_id', 'in', (False, company_id))]",
        compute="_compute_product_id",
        store=True,
        readonly=False,
        precompute=True,
        help="The plan whose included hours and overage rate the retainer starts with.",
    )
    included_hours = fields.Float(
        digits=(16, HOURS_DIGITS),
        compute="_compute_retainer_terms",
        store=True,
        readonly=False,
        precompute=True,
        help="Defaults to the plan's included hours, for the chosen cycle.",
    )
    overage_rate = fields.Monetary(
        compute="_compute_retainer_terms",
        store=True,
        readonly=False,
        precompute=True,
        help="Defaults to the plan's overage rate.",
    )
    adhoc_rate = fields.Monetary(
        string="Ad-hoc Rate",
        default=lambda self: (
            self.env["msp.billing.invoice"]._get_billing_product("adhoc").lst_price
        ),
    )
    date_start = fields.Date(string="Start Date", required=True, default=fields.Date.context_today)
    sla_policy_id = fields.Many2one(
        "msp.sla.policy",
        string="SLA Policy",
        domain="[('company_id', '=', company_id)]",
        default=lambda self: self.env.company.msp_sla_policy_id,
    )
    create_first_invoice = fields.Boolean(
        string="Draft the First Invoice Now",
        help="Bill the first period right away instead of waiting for the daily billing run.",
    )

    @api.depends("lead_id")
    def _compute_company_id(self):
        for wizard in self:
            wizard.company_id = wizard.lead_id.company_id or self.env.company
            wizard.currency_id = wizard.company_id.currency_id

    @api.depends("lead_id.partner_id", "partner_name")
    def _compute_existing_company_id(self):
        for wizard in self:
            wizard.existing_company_id = wizard.lead_id._msp_find_customer_company(
                wizard.partner_name
            )

    @api.depends("lead_id", "billing_cycle")
    def _compute_amount(self):
        for wizard in self:
            wizard.amount = wizard.lead_id._msp_default_retainer_amount(wizard.billing_cycle)

    @api.depends("lead_id")
    def _compute_product_id(self):
        for wizard in self:
            wizard.product_id = wizard.lead_id._msp_default_retainer_product()

    @api.depends("product_id", "billing_cycle")
    def _compute_retainer_terms(self):
        for wizard in self:
            terms = self.env["crm.lead"]._msp_default_retainer_terms(
                wizard.product_id, wizard.billing_cycle
            )
            wizard.update(terms)

    def _onboard_values(self):
        self.ensure_one()
        return {
            "billing_cycle": self.billing_cycle,
            "amount": self.amount,
            "included_hours": self.included_hours,
            "overage_rate": self.overage_rate,
            "adhoc_rate": self.adhoc_rate,
            "date_start": self.date_start,
            "sla_policy_id": self.sla_policy_id.id,
            "create_first_invoice": self.create_first_invoice,
        }

    @msp_role("account_manager", _lt("Only account managers can win and onboard customers."))
    def action_win_onboard(self):
        self.ensure_one()
        retainer = self.lead_id._msp_win_onboard(self._onboard_values())
        return retainer._get_records_action(name=retainer.name)
