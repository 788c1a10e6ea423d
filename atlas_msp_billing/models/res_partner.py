from collections import defaultdict

from odoo import Command, api, fields, models
from odoo.tools import float_round
from odoo.tools.misc import format_date

from ..utils.roles import msp_role
from .msp_retainer import billing_isolation
from .msp_retainer_period import HOURS_DIGITS

# Options of a customer's invoices, defaulting to the company's fields of the same name.
INVOICE_OPTIONS = ("msp_invoice_sla_summary", "msp_attach_time_schedule")
# Advisory lock namespace of the ad-hoc billing of a customer ("MSPA").
ADHOC_BILLING_LOCK = 0x4D535041


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

    # ------------------------------------------------------------------
    # Unbilled ad-hoc time and charges
    # ------------------------------------------------------------------
    @api.model
    def _msp_unbilled_adhoc_domain(self):
        # Time on a sale order line is invoiced through its sale order.
        return [
            ("msp_billing_category", "=", "adhoc"),
            ("msp_invoice_line_id", "=", False),
            ("so_line", "=", False),
            ("project_id", "!=", False),
        ]

    def _msp_adhoc_time_domain(self, before, company):
        return [
            *self._msp_unbilled_adhoc_domain(),
            ("partner_id", "child_of", self.ids),
            ("date", "<", before),
            *company._msp_billable_since_domain(),
        ]

    def _msp_adhoc_time_lines(self, before, rate, currency, company, exclude=()):
        """Values of one invoice line per task (or project without task) of the
        unbilled ad-hoc time dated before ``before`` that ``company`` bills, at
        ``rate`` per hour."""
        self.ensure_one()
        domain = self._msp_adhoc_time_domain(before, company)
        if exclude:
            domain.append(("id", "not in", list(exclude)))
        groups = (
            self.env["account.analytic.line"]
            .sudo()
            ._read_group(
                domain,
                ["project_id", "task_id"],
                ["unit_amount:sum", "date:min", "date:max", "id:array_agg"],
                order="project_id, task_id",
            )
        )
        product = self.env["msp.retainer"]._billing_product("adhoc")
        lines = []
        for project, task, total, first, last, ids in groups:
            hours = float_round(total, precision_digits=HOURS_DIGITS)
            lines.append(
                {
                    "product_id": product.id,
                    "name": self.env._(
                        "Ad-hoc support – %(work)s, %(dates)s: %(hours).2f h",
                        work=task.display_name or project.display_name,
                        dates=self._msp_date_span(first, last),
                        hours=hours,
                    ),
                    "quantity": hours,
                    "price_unit": currency.round(rate),
                    "msp_timesheet_ids": [Command.set(ids)],
                }
            )
        return lines

    def _msp_date_span(self, first, last):
        if first == last:
            return format_date(self.env, first)
        return self.env._(
            "%(first)s to %(last)s",
            first=format_date(self.env, first),
            last=format_date(self.env, last),
        )

    def _msp_pending_charges(self, before, company, exclude=()):
        domain = [
            ("partner_id", "=", self.id),
            ("invoice_line_id", "=", False),
            ("date", "<", before),
            *company._msp_billable_since_domain(),
        ]
        if exclude:
            domain.append(("id", "not in", list(exclude)))
        return self.env["msp.charge"].sudo().search(domain, order="date, id")

    @api.model
    def _msp_charge_lines(self, charges):
        """Line values of ``charges`` by section: a fixed-price deliverable
        billed as a charge is a milestone of its project, the rest are charges."""
        lines = {"milestone": [], "charge": []}
        for charge in charges:
            kind = "milestone" if charge.product_id.service_type == "milestones" else "charge"
            lines[kind].append(charge._invoice_line_values())
        return lines

    @api.model
    def _msp_invoice_sections(self):
        return {
            "fee": self.env._("Retainer fee"),
            "overage": self.env._("Overage"),
            "adhoc": self.env._("Ad-hoc time"),
            "milestone": self.env._("Milestones"),
            "charge": self.env._("Charges"),
        }

    @api.model
    def _msp_invoice_lines(self, lines_by_section):
        """Line commands of a generated invoice from ``{section: [line values]}``:
        sections in a fixed order, each under its heading; empty sections are left
        out."""
        sections = [
            (title, lines_by_section[key])
            for key, title in self._msp_invoice_sections().items()
            if lines_by_section.get(key)
        ]
        commands = []
        for title, lines in sections:
            commands.append(Command.create({"display_type": "line_section", "name": title}))
            commands += [Command.create(vals) for vals in lines]
        for sequence, command in enumerate(commands, start=1):
            command[2]["sequence"] = sequence
        return commands

    # ------------------------------------------------------------------
    # Customers without a retainer (billing rule 2)
    # ------------------------------------------------------------------
    @api.model
    def _msp_run_adhoc_billing(self, run_date=None, commit=False, partners=None, force=False):
        """On the first day of each month (or on demand with ``force``), one
        invoice per customer without an active retainer, for its unbilled
        ad-hoc time and pending charges."""
        retainers = self.env["msp.retainer"]
        invoices = self.env["account.move"]
        customers = self._msp_adhoc_billing_customers(run_date, partners)
        for company, partner_ids in customers.items():
            day = run_date or retainers._msp_today(company)
            if day.day != 1 and not force:
                continue
            for partner in self.browse(partner_ids).with_company(company):
                if retainers.sudo()._msp_covering(partner, day):
                    continue
                with billing_isolation(self.env, partner._msp_report_adhoc_failure):
                    if partner._msp_lock_for_billing():
                        vals = partner._msp_adhoc_invoice_values(day, company)
                        if vals:
                            invoices |= retainers._billing_create_invoices([vals])
                if commit:
                    self.env.cr.commit()  # pylint: disable=invalid-commit
        return invoices

    def _msp_report_adhoc_failure(self, error):
        self._message_log(
            body=self.env._("The billing run could not invoice ad-hoc work: %s", error)
        )

    @api.model
    def _msp_adhoc_billing_customers(self, run_date, partners):
        """{company: commercial partner ids} having unbilled ad-hoc work."""
        result = defaultdict(set)
        billable = self.env["res.company"]._msp_billable_date_domain()
        time_domain = [*self._msp_unbilled_adhoc_domain(), ("partner_id", "!=", False), *billable]
        charge_domain = [("invoice_line_id", "=", False), *billable]
        if partners:
            time_domain.append(("partner_id", "child_of", partners.ids))
            charge_domain.append(("partner_id", "in", partners.commercial_partner_id.ids))
        for company, partner in (
            self.env["account.analytic.line"]
            .sudo()
            ._read_group(time_domain, ["company_id", "partner_id"])
        ):
            result[company].add(partner.commercial_partner_id.id)
        for company, partner in (
            self.env["msp.charge"].sudo()._read_group(charge_domain, ["company_id", "partner_id"])
        ):
            result[company].add(partner.id)
        return result

    def _msp_lock_for_billing(self):
        """Concurrent runs split customers instead of both billing one."""
        self.env.cr.execute(
            "SELECT pg_try_advisory_xact_lock(%s, %s)",
            [ADHOC_BILLING_LOCK, self.id],
        )
        return self.env.cr.fetchone()[0]

    def _msp_adhoc_invoice_values(self, day, company):
        self.ensure_one()
        product = self.env["msp.retainer"]._billing_product("adhoc")
        currency = company.currency_id
        pricelist = self.property_product_pricelist
        rate = (
            pricelist._get_product_price(product, 1.0, date=day) if pricelist else product.lst_price
        )
        lines = {
            "adhoc": self._msp_adhoc_time_lines(day, rate, currency, company),
            **self._msp_charge_lines(self._msp_pending_charges(day, company)),
        }
        if not any(lines.values()):
            return None
        vals = self._msp_invoice_header(
            company,
            pricelist.currency_id or currency,
            day,
            self.env._("Ad-hoc work before %s", fields.Date.to_string(day)),
            self.user_id,
        )
        vals["invoice_line_ids"] = self._msp_invoice_lines(lines)
        return vals

    def _msp_invoice_header(self, company, currency, invoice_date, origin, user):
        """Header of an invoice the billing run generates for this customer: the
        customer's own payment terms, else the company's default for generated
        invoices, and the bank account the company chose to be paid on."""
        self.ensure_one()
        partner = self.with_company(company)
        vals = {
            "move_type": "out_invoice",
            "partner_id": self.address_get(["invoice"])["invoice"],
            "company_id": company.id,
            "currency_id": currency.id,
            "invoice_date": invoice_date,
            "invoice_origin": origin,
            "invoice_user_id": user.id,
            "invoice_payment_term_id": (
                partner.property_payment_term_id or company.msp_invoice_payment_term_id
            ).id,
            "msp_generated": True,
            "msp_show_sla_summary": self.msp_invoice_sla_summary,
            "msp_attach_time_schedule": self.msp_attach_time_schedule,
        }
        if company.msp_invoice_bank_id:
            vals["partner_bank_id"] = company.msp_invoice_bank_id.id
        return vals
