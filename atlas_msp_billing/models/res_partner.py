from odoo import api, fields, models

from ..utils.roles import msp_role

# Options of a customer's invoices, defaulting to the company's fields of the same name.
INVOICE_OPTIONS = ("msp_invoice_sla_summary", "msp_attach_time_schedule")


class ResPartner(models.Model):
    _inherit = "res.partner"

    msp_retainer_ids = fields.One2many("msp.retainer", "partner_id", string="Retainers")
    msp_retainer_count = fields.Integer(compute="_compute_msp_retainer_count")
    # Company-dependent like Odoo's payment terms: a customer shared between
    # companies has one policy in each of them.
    msp_sla_policy_id = fields.Many2one(
        "msp.sla.policy",
        string="SLA Policy",
        company_dependent=True,
        check_company=True,
        help="Response and resolution targets of this customer's tickets (and its contacts'); "
        "empty: the company's default policy.",
    )
    # New customers take the company's defaults (see default_get).
    msp_invoice_sla_summary = fields.Boolean(
        string="SLA Summary on Invoices",
        help="The invoices generated for this customer show how its tickets met their SLA.",
    )
    msp_attach_time_schedule = fields.Boolean(
        string="Time Schedule with Invoices",
        help="The invoices generated for this customer come with the schedule of the time "
        "entries they bill, attached to the email and downloadable from the portal.",
    )

    @api.model
    def default_get(self, fields_list):
        # Not field defaults: those would also be applied to the existing
        # customers when the module is installed, before the company has them.
        defaults = super().default_get(fields_list)
        for field_name in INVOICE_OPTIONS:
            if field_name in fields_list and field_name not in defaults:
                defaults[field_name] = self.env.company[field_name]
        return defaults

    def _compute_msp_retainer_count(self):
        counts = dict(
            self.env["msp.retainer"]._read_group(
                [("partner_id", "in", self.commercial_partner_id.ids)],
                ["partner_id"],
                ["__count"],
            )
        )
        for partner in self:
            partner.msp_retainer_count = counts.get(partner.commercial_partner_id, 0)

    @msp_role("technician")
    def action_view_msp_retainers(self):
        return self._msp_customer_action("atlas_msp_billing.msp_retainer_action")

    @msp_role("technician")
    def action_view_msp_charges(self):
        return self._msp_customer_action(
            "atlas_msp_billing.msp_charge_action", search_default_pending=1
        )

    def _msp_customer_action(self, xmlid, **context):
        self.ensure_one()
        partner = self.commercial_partner_id
        action = self.env["ir.actions.act_window"]._for_xml_id(xmlid)
        action["domain"] = [("partner_id", "=", partner.id)]
        action["context"] = {"default_partner_id": partner.id, **context}
        return action

    def _msp_report_adhoc_failure(self, error):
        """Rule 4 for a customer without a retainer: the failure goes in its chatter."""
        self._message_log(
            body=self.env._("The billing run could not invoice ad-hoc work: %s", error)
        )
