"""What a generated invoice holds: the ``_prepare_*`` builders of the billing
run (rules 1, 2, 5 of the README), which write nothing but the period records
a due invoice needs. ``msp.billing`` (msp_billing.py) runs them and creates
the invoices; both are one room, split in two files to stay short."""

from odoo import Command, api, fields, models
from odoo.tools import float_round
from odoo.tools.misc import format_date

from ..utils.constants import HOURS_DIGITS

BILLING_PRODUCTS = {
    "fee": "atlas_msp_billing.product_msp_retainer_fee",
    "overage": "atlas_msp_billing.product_msp_overage",
    "adhoc": "atlas_msp_billing.product_msp_adhoc_support",
}


class BillingClaims:
    """What the invoices prepared so far in one retainer's run will bill, so
    that the next invoice of the same run (catch-up) does not take it again."""

    def __init__(self, env):
        self.periods = env["msp.retainer.period"]
        self.timesheet_ids = set()
        self.charge_ids = set()


class MspBillingInvoice(models.AbstractModel):
    _name = "msp.billing.invoice"
    _description = "MSP Billing: generated invoices and their lines"

    # ------------------------------------------------------------------
    # What a retainer bills on a day (rules 1, 2)
    # ------------------------------------------------------------------
    @api.model
    def _prepare_retainer_invoices(self, retainer, day):
        """Invoices due on ``day``: one per period whose fee is due (oldest
        first: a run after an outage catches up), then a closing invoice once
        the retainer has ended. What falls on one date for the customer goes
        on one invoice."""
        billed = {p.date_start for p in retainer.period_ids if p.fee_billed}
        due = [
            period
            for period in retainer._periods_starting_until(day)
            if period.date_start not in billed
        ]
        claims = BillingClaims(self.env)
        invoices = [
            self._prepare_period_invoice(retainer, period, claims)
            for period in self.env["msp.retainer.period"]._ensure_periods(retainer, due)
        ]
        if retainer.date_end and retainer.date_end < day:
            invoices.append(self._prepare_closing_invoice(retainer, claims))
        invoices = [invoice for invoice in invoices if invoice]
        for invoice in invoices:
            invoice["run_date"] = day
        return self._merge_same_day_invoices(invoices)

    @api.model
    def _prepare_period_invoice(self, retainer, period, claims=None):
        """The fee invoice of ``period``: its fee, plus (with ``claims``, which
        tracks what earlier invoices of the same run took) the overage of ended
        periods and the unbilled ad-hoc time and charges dated before the
        period starts."""
        invoice = self._prepare_retainer_invoice(retainer, period.date_start, period=period)
        invoice["sections"]["fee"] = [self._prepare_fee_line_values(period)]
        invoice["sections"]["recurring"] = [
            self._prepare_recurring_line_values(line, period) for line in retainer.line_ids
        ]
        invoice["fee_periods"] = period
        if claims is not None:
            self._add_unbilled_lines(invoice, retainer, period.date_start, claims)
        return invoice

    @api.model
    def _prepare_recurring_line_values(self, line, period):
        """A recurring service billed in advance for ``period`` (rule 11): its
        quantity and price as they are now, the price prorated with the fee.
        The period goes on a line of its own, below the service, as Odoo lays
        out a product's description."""
        return {
            "product_id": line.product_id.id,
            "name": self.env._(
                "%(service)s\n%(start)s to %(end)s%(partial)s",
                service=line.name,
                start=format_date(self.env, period.date_start),
                end=format_date(self.env, period.date_end),
                partial=self.env._(" (prorated)") if period.is_partial else "",
            ),
            "quantity": line.quantity,
            "price_unit": line._get_period_price_unit(period),
        }

    @api.model
    def _prepare_closing_invoice(self, retainer, claims):
        """After the end date: whatever is still unbilled, on a closing invoice."""
        invoice = self._prepare_retainer_invoice(
            retainer, retainer.date_end, origin=self.env._("%s (closing)", retainer.name)
        )
        day_after = fields.Date.add(retainer.date_end, days=1)
        self._add_unbilled_lines(invoice, retainer, day_after, claims)
        return invoice if any(invoice["sections"].values()) else None

    @api.model
    def _prepare_retainer_invoice(self, retainer, invoice_date, period=None, origin=None):
        if period and not origin:
            origin = self.env._(
                "%(retainer)s, period %(start)s – %(end)s",
                retainer=retainer.name,
                start=format_date(self.env, period.date_start),
                end=format_date(self.env, period.date_end),
            )
        invoice = self._prepare_invoice(
            retainer.partner_id,
            retainer.company_id,
            invoice_date,
            currency=retainer.currency_id,
            origin=origin,
            user=retainer.user_id,
        )
        invoice["header"]["msp_retainer_id"] = retainer.id
        invoice["retainer"] = retainer
        return invoice

    @api.model
    def _add_unbilled_lines(self, invoice, retainer, before, claims):
        """Add what else is unbilled before ``before``: the overage of ended
        periods, ad-hoc time and charges; ``claims`` records them for the next
        invoice of the run."""
        partner, company = retainer.partner_id, retainer.company_id
        overage = self._get_unbilled_overage_periods(retainer, before) - claims.periods
        claims.periods |= overage
        time_lines = self._prepare_adhoc_time_lines(
            partner,
            before,
            retainer.adhoc_rate,
            company,
            currency=retainer.currency_id,
            exclude=claims.timesheet_ids,
        )
        charges = self._get_pending_charges(partner, before, company, claims.charge_ids)
        claims.timesheet_ids.update(
            ts_id for vals in time_lines for ts_id in vals["msp_timesheet_ids"][0][2]
        )
        claims.charge_ids.update(charges.ids)
        # The invoice that first bills a period's overage is its overage invoice;
        # a later adjustment (rule 10) is linked by its line only.
        invoice["overage_periods"] |= overage.filtered(lambda p: not p.overage_invoice_id)
        sections = invoice["sections"]
        sections["overage"] += [self._prepare_overage_line_values(p) for p in overage]
        sections["adhoc"] += time_lines
        for section, lines in self._prepare_charge_lines(charges).items():
            sections[section] += lines

    @api.model
    def _get_unbilled_overage_periods(self, retainer, before):
        """Ended periods with overage hours not yet on an invoice (late time
        included, rule 10); none of those ended before the company's "Bill time
        from" day."""
        return retainer.period_ids.filtered(
            lambda p: (
                p.date_end < before
                and p._unbilled_overage_hours() > 0
                and retainer.company_id._msp_bills_period_overage(p.date_end)
            )
        )

    # ------------------------------------------------------------------
    # Invoices and their lines, in sections of a fixed order
    # ------------------------------------------------------------------
    @api.model
    def _prepare_invoice(self, partner, company, invoice_date, **header):
        """A prepared invoice: its header values, its lines by section, and the
        periods whose fee or overage it bills."""
        return {
            "header": self._prepare_invoice_values(partner, company, invoice_date, **header),
            "sections": {key: [] for key in self._get_invoice_sections()},
            "fee_periods": self.env["msp.retainer.period"],
            "overage_periods": self.env["msp.retainer.period"],
            "retainer": self.env["msp.retainer"],
            # The day the run bills up to, named in the invoice's chatter.
            "run_date": None,
        }

    @api.model
    def _prepare_invoice_values(self, partner, company, invoice_date, *, currency, origin, user):
        """Header of a generated invoice for ``partner`` (a commercial partner):
        the customer's own payment terms, else the company's default for
        generated invoices, and the bank account the company chose to be paid on."""
        payment_term = (
            partner.with_company(company).property_payment_term_id
            or company.msp_invoice_payment_term_id
        )
        vals = {
            "move_type": "out_invoice",
            "partner_id": partner.address_get(["invoice"])["invoice"],
            "company_id": company.id,
            "currency_id": currency.id,
            "invoice_date": invoice_date,
            "invoice_origin": origin,
            "invoice_user_id": user.id,
            "invoice_payment_term_id": payment_term.id,
            "msp_generated": True,
            "msp_show_sla_summary": partner.msp_invoice_sla_summary,
            "msp_attach_time_schedule": partner.msp_attach_time_schedule,
        }
        if not payment_term:
            # Odoo would date it today: due on the invoice date, as without terms.
            vals["invoice_date_due"] = invoice_date
        if company.msp_invoice_bank_id:
            vals["partner_bank_id"] = company.msp_invoice_bank_id.id
        return vals

    @api.model
    def _get_invoice_sections(self):
        return {
            "fee": self.env._("Retainer fee"),
            "recurring": self.env._("Recurring services"),
            "overage": self.env._("Overage"),
            "adhoc": self.env._("Ad-hoc time"),
            "milestone": self.env._("Milestones"),
            "charge": self.env._("Charges"),
        }

    @api.model
    def _prepare_invoice_line_commands(self, sections):
        """Line commands from ``{section: [line values]}``: sections in a fixed
        order, each under its heading; empty sections are left out."""
        commands = []
        for key, title in self._get_invoice_sections().items():
            if sections.get(key):
                commands.append(Command.create({"display_type": "line_section", "name": title}))
                commands += [Command.create(dict(vals)) for vals in sections[key]]
        for sequence, command in enumerate(commands, start=1):
            command[2]["sequence"] = sequence
        return commands

    @api.model
    def _prepare_fee_line_values(self, period):
        retainer = period.retainer_id
        return {
            "product_id": self._get_billing_product("fee").id,
            "name": self.env._(
                "%(retainer)s – retainer fee, %(start)s to %(end)s%(partial)s",
                retainer=retainer.name,
                start=format_date(self.env, period.date_start),
                end=format_date(self.env, period.date_end),
                partial=self.env._(" (prorated)") if period.is_partial else "",
            ),
            "quantity": 1.0,
            "price_unit": period.amount,
        }

    @api.model
    def _prepare_overage_line_values(self, period):
        """The overage of an ended period at its snapshotted rate; when part of it
        is already invoiced, the increase only, as an adjustment (rule 10)."""
        hours = period._unbilled_overage_hours()
        values = {
            "retainer": period.retainer_id.name,
            "start": format_date(self.env, period.date_start),
            "end": format_date(self.env, period.date_end),
            "used": period.hours_used,
            "included": period.included_hours,
            "overage": period.overage_hours,
            "billed": period.overage_billed_hours,
        }
        if period.overage_billed_hours:
            name = self.env._(
                "%(retainer)s – overage adjustment %(start)s to %(end)s: %(used).2f h used, "
                "%(overage).2f h over, %(billed).2f h already invoiced",
                **values,
            )
        else:
            name = self.env._(
                "%(retainer)s – overage %(start)s to %(end)s: %(used).2f h used, "
                "%(included).2f h included, %(overage).2f h over",
                **values,
            )
        return {
            "product_id": self._get_billing_product("overage").id,
            "name": name,
            "quantity": hours,
            "price_unit": period.overage_rate,
            "msp_overage_period_id": period.id,
        }

    @api.model
    def _get_unbilled_adhoc_domain(self):
        # Time on a sale order line is invoiced through its sale order.
        return [
            ("msp_billing_category", "=", "adhoc"),
            ("msp_invoice_line_id", "=", False),
            ("so_line", "=", False),
            ("project_id", "!=", False),
        ]

    @api.model
    def _prepare_adhoc_time_lines(self, partner, before, rate, company, *, currency, exclude=()):
        """One line per task (or project without task) of the customer's
        unbilled ad-hoc time dated before ``before`` that ``company`` bills, at
        ``rate`` per hour (rule 2)."""
        domain = [
            *self._get_unbilled_adhoc_domain(),
            ("partner_id", "child_of", partner.ids),
            ("date", "<", before),
            *company._msp_billable_since_domain(),
        ]
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
        product = self._get_billing_product("adhoc")
        lines = []
        for project, task, total, first, last, ids in groups:
            hours = float_round(total, precision_digits=HOURS_DIGITS)
            lines.append(
                {
                    "product_id": product.id,
                    "name": self.env._(
                        "Ad-hoc support – %(work)s, %(dates)s: %(hours).2f h",
                        work=task.display_name or project.display_name,
                        dates=self._format_date_span(first, last),
                        hours=hours,
                    ),
                    "quantity": hours,
                    "price_unit": currency.round(rate),
                    "msp_timesheet_ids": [Command.set(ids)],
                }
            )
        return lines

    @api.model
    def _format_date_span(self, first, last):
        if first == last:
            return format_date(self.env, first)
        return self.env._(
            "%(first)s to %(last)s",
            first=format_date(self.env, first),
            last=format_date(self.env, last),
        )

    @api.model
    def _get_pending_charges(self, partner, before, company, exclude=()):
        domain = [
            ("partner_id", "=", partner.id),
            ("invoice_line_id", "=", False),
            ("date", "<", before),
            *company._msp_billable_since_domain(),
        ]
        if exclude:
            domain.append(("id", "not in", list(exclude)))
        return self.env["msp.charge"].sudo().search(domain, order="date, id")

    @api.model
    def _prepare_charge_lines(self, charges):
        """Line values of ``charges`` by section: a fixed-price deliverable
        billed as a charge is a milestone of its project, the rest are charges."""
        lines = {"milestone": [], "charge": []}
        for charge in charges:
            kind = "milestone" if charge.product_id.service_type == "milestones" else "charge"
            lines[kind].append(self._prepare_charge_line_values(charge))
        return lines

    @api.model
    def _prepare_charge_line_values(self, charge):
        return {
            "product_id": charge.product_id.id,
            "name": charge.name,
            "quantity": charge.quantity,
            "price_unit": charge.price_unit,
            "msp_charge_ids": [Command.set(charge.ids)],
        }

    @api.model
    def _merge_same_day_invoices(self, invoices):
        """What one run bills for one customer on one date goes on one invoice
        (a one-day last period's fee and its closing invoice, say)."""
        merged = {}
        for invoice in invoices:
            header = invoice["header"]
            key = (header["partner_id"], header["currency_id"], header["invoice_date"])
            if key not in merged:
                merged[key] = invoice
                continue
            kept = merged[key]
            for section, lines in invoice["sections"].items():
                kept["sections"][section] += lines
            kept["fee_periods"] |= invoice["fee_periods"]
            kept["overage_periods"] |= invoice["overage_periods"]
        return list(merged.values())

    @api.model
    def _prepare_invoice_create_values(self, invoice):
        return {
            **invoice["header"],
            "invoice_line_ids": self._prepare_invoice_line_commands(invoice["sections"]),
            "msp_fee_period_ids": [Command.link(p.id) for p in invoice["fee_periods"]],
            "msp_overage_period_ids": [Command.link(p.id) for p in invoice["overage_periods"]],
        }

    @api.model
    def _prepare_adhoc_invoice(self, partner, day, company):
        """The monthly invoice of a customer without a retainer: ad-hoc time at
        the ad-hoc product's price on the customer's pricelist, and charges."""
        product = self._get_billing_product("adhoc")
        pricelist = partner.property_product_pricelist
        rate = product._msp_sale_price(pricelist, day)
        invoice = self._prepare_invoice(
            partner,
            company,
            day,
            currency=pricelist.currency_id or company.currency_id,
            origin=self.env._("Ad-hoc work before %s", format_date(self.env, day)),
            user=partner.user_id,
        )
        invoice["run_date"] = day
        sections = invoice["sections"]
        sections["adhoc"] += self._prepare_adhoc_time_lines(
            partner, day, rate, company, currency=company.currency_id
        )
        for section, lines in self._prepare_charge_lines(
            self._get_pending_charges(partner, day, company)
        ).items():
            sections[section] += lines
        return invoice if any(sections.values()) else None

    @api.model
    def _get_billing_product(self, kind):
        return self.env.ref(BILLING_PRODUCTS[kind])
