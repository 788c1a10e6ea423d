"""What a generated invoice holds: the ``_prepare_*`` builders of the billing
run (rules 1, 2, 5 of the README), which write nothing but the period records
a due invoice needs. ``msp.billing`` (msp_billing.py) runs them and creates
the invoices; both are one room, split in two files to stay short."""

from collections import defaultdict

from odoo import Command, api, fields, models
from odoo.tools import float_round
from odoo.tools.misc import format_date

from ..utils.constants import HOURS_DIGITS

BILLING_PRODUCTS = {
    "fee": "atlas_msp_billing.product_msp_retainer_fee",
    "overage": "atlas_msp_billing.product_msp_overage",
    "adhoc": "atlas_msp_billing.product_msp_adhoc_support",
}


class BillingBatch:
    """What the invoices of one batch of the run are prepared from, read once
    for all of its customers (rule 12): their unbilled ad-hoc time, summed per
    day, and their pending charges. Each invoice takes what is dated before its
    own day and since its company's "Bill time from" day, so that no later
    invoice of the batch (a catch-up, another retainer of the customer) takes
    it again; the same holds for the overage of a period."""

    def __init__(self, env, adhoc, charges):
        # {customer id: [(day, project, task, hours, entry ids)]}, in line order
        self.adhoc = adhoc
        # {customer id: msp.charge}, by date
        self.charges = charges
        self.no_charges = env["msp.charge"]
        self.periods = env["msp.retainer.period"]

    @staticmethod
    def _billed(day, before, since):
        return day < before and (not since or day >= since)

    def take_adhoc(self, partner, before, since):
        taken, left = [], []
        for row in self.adhoc.get(partner.id, []):
            (taken if self._billed(row[0], before, since) else left).append(row)
        self.adhoc[partner.id] = left
        return taken

    def take_charges(self, partner, before, since):
        charges = self.charges.get(partner.id, self.no_charges)
        taken = charges.filtered(lambda charge: self._billed(charge.date, before, since))
        self.charges[partner.id] = charges - taken
        return taken


class MspBillingInvoice(models.AbstractModel):
    _name = "msp.billing.invoice"
    _description = "MSP Billing: generated invoices and their lines"

    # ------------------------------------------------------------------
    # What retainers bill on a day (rules 1, 2, 12)
    # ------------------------------------------------------------------
    @api.model
    def _prepare_retainers_invoices(self, retainers, run_date=None):
        """{retainer: its invoices due on ``run_date``} (default: its company's
        today), prepared together: the periods they need are created in one
        batch and their customers' unbilled time and charges read once."""
        days = {retainer: run_date or retainer.company_id._msp_today() for retainer in retainers}
        periods = self.env["msp.retainer.period"]._ensure_retainer_periods(
            {retainer: self._get_due_period_shapes(retainer, day) for retainer, day in days.items()}
        )
        batch = self._prepare_billing_batch(retainers.partner_id, max(days.values(), default=None))
        return {
            retainer: self._prepare_retainer_invoices(retainer, day, periods[retainer], batch)
            for retainer, day in days.items()
        }

    @api.model
    def _get_due_period_shapes(self, retainer, day):
        """The periods of ``retainer`` whose fee is due on ``day`` and not yet
        billed, oldest first: a run after an outage catches up."""
        billed = {p.date_start for p in retainer.period_ids if p.fee_billed}
        return [p for p in retainer._periods_starting_until(day) if p.date_start not in billed]

    @api.model
    def _prepare_billing_batch(self, partners, before):
        """The unbilled ad-hoc time and pending charges of ``partners`` dated
        before ``before``, for the invoices of one batch."""
        return BillingBatch(
            self.env,
            self._get_unbilled_adhoc_time(partners, before),
            self._get_pending_charges(partners, before),
        )

    @api.model
    def _prepare_retainer_invoices(self, retainer, day, periods, batch):
        """The invoices of ``retainer`` due on ``day``: one per period of
        ``periods`` (whose fee is due), then a closing invoice once the retainer
        has ended. What falls on one date for the customer goes on one invoice."""
        invoices = [self._prepare_period_invoice(retainer, period, batch) for period in periods]
        if retainer.date_end and retainer.date_end < day:
            invoices.append(self._prepare_closing_invoice(retainer, batch))
        invoices = [invoice for invoice in invoices if invoice]
        for invoice in invoices:
            invoice["run_date"] = day
        return self._merge_same_day_invoices(invoices)

    @api.model
    def _prepare_period_invoice(self, retainer, period, batch=None):
        """The fee invoice of ``period``: its fee, plus (with ``batch``, which
        holds what the run may still bill) the overage of ended periods and the
        unbilled ad-hoc time and charges dated before the period starts."""
        invoice = self._prepare_retainer_invoice(retainer, period.date_start, period=period)
        invoice["sections"]["fee"] = [self._prepare_fee_line_values(period)]
        invoice["sections"]["recurring"] = [
            self._prepare_recurring_line_values(line, period) for line in retainer.line_ids
        ]
        invoice["fee_periods"] = period
        if batch is not None:
            self._add_unbilled_lines(invoice, retainer, period.date_start, batch)
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
    def _prepare_closing_invoice(self, retainer, batch):
        """After the end date: whatever is still unbilled, on a closing invoice."""
        invoice = self._prepare_retainer_invoice(
            retainer, retainer.date_end, origin=self.env._("%s (closing)", retainer.name)
        )
        day_after = fields.Date.add(retainer.date_end, days=1)
        self._add_unbilled_lines(invoice, retainer, day_after, batch)
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
    def _add_unbilled_lines(self, invoice, retainer, before, batch):
        """Add what else is unbilled before ``before``: the overage of ended
        periods, ad-hoc time and charges, taken from ``batch``."""
        partner, company = retainer.partner_id, retainer.company_id
        overage = self._get_unbilled_overage_periods(retainer, before) - batch.periods
        batch.periods |= overage
        # The invoice that first bills a period's overage is its overage invoice;
        # a later adjustment (rule 10) is linked by its line only.
        invoice["overage_periods"] |= overage.filtered(lambda p: not p.overage_invoice_id)
        sections = invoice["sections"]
        sections["overage"] += [self._prepare_overage_line_values(p) for p in overage]
        sections["adhoc"] += self._prepare_adhoc_time_lines(
            batch.take_adhoc(partner, before, company.msp_billing_start_date),
            retainer.adhoc_rate,
            retainer.currency_id,
        )
        charges = batch.take_charges(partner, before, company.msp_billing_start_date)
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
    def _get_billable_adhoc_domain(self):
        """The customers' unbilled ad-hoc time that the run bills: dated on or
        after its company's "Bill time from" day."""
        return [
            *self._get_unbilled_adhoc_domain(),
            ("partner_id", "!=", False),
            *self.env["res.company"]._msp_billable_date_domain(),
        ]

    @api.model
    def _get_billable_charge_domain(self):
        """The pending charges that the run bills, by the same day."""
        return [
            ("invoice_line_id", "=", False),
            *self.env["res.company"]._msp_billable_date_domain(),
        ]

    @api.model
    def _get_unbilled_adhoc_time(self, partners, before):
        """{customer id: [(day, project, task, hours, entry ids)]}: the unbilled
        ad-hoc time of ``partners`` and their contacts dated before ``before``,
        summed per day, in the order of the invoice lines (rule 2). Time of a
        contact goes to the nearest of ``partners`` above it."""
        if not partners or not before:
            return {}
        domain = [
            *self._get_unbilled_adhoc_domain(),
            ("partner_id", "child_of", partners.ids),
            ("date", "<", before),
            *self._get_billed_since_domain(),
        ]
        groups = (
            self.env["account.analytic.line"]
            .sudo()
            ._read_group(
                domain,
                ["project_id", "task_id", "date:day", "partner_id"],
                ["unit_amount:sum", "id:array_agg"],
                order="project_id, task_id, date:day",
            )
        )
        result = defaultdict(list)
        for project, task, day, contact, hours, ids in groups:
            customer = contact
            while customer and customer not in partners:
                customer = customer.parent_id
            result[customer.id].append((day, project, task, hours, ids))
        return result

    @api.model
    def _get_billed_since_domain(self):
        """What the run may bill is dated since the earliest "Bill time from" day
        of the companies (any, when one has none); each invoice then keeps to
        its own company's day."""
        [(earliest, dated, companies)] = (
            self.env["res.company"]
            .sudo()
            ._read_group(
                [], [], ["msp_billing_start_date:min", "msp_billing_start_date:count", "__count"]
            )
        )
        return [("date", ">=", earliest)] if earliest and dated == companies else []

    @api.model
    def _prepare_adhoc_time_lines(self, rows, rate, currency):
        """One line per task (or project without task) of the ad-hoc time
        ``rows`` (see ``_get_unbilled_adhoc_time``), at ``rate`` per hour."""
        work = {}
        for day, project, task, hours, ids in rows:
            total = work.setdefault((project, task), {"hours": 0.0, "days": [], "ids": []})
            total["hours"] += hours
            total["days"].append(day)
            total["ids"] += ids
        product = self._get_billing_product("adhoc")
        lines = []
        for (project, task), total in work.items():
            hours = float_round(total["hours"], precision_digits=HOURS_DIGITS)
            lines.append(
                {
                    "product_id": product.id,
                    "name": self.env._(
                        "Ad-hoc support – %(work)s, %(dates)s: %(hours).2f h",
                        work=task.display_name or project.display_name,
                        dates=self._format_date_span(min(total["days"]), max(total["days"])),
                        hours=hours,
                    ),
                    "quantity": hours,
                    "price_unit": currency.round(rate),
                    "msp_timesheet_ids": [Command.set(total["ids"])],
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
    def _get_pending_charges(self, partners, before):
        """{customer id: its charges not yet invoiced dated before ``before``}."""
        if not partners or not before:
            return {}
        charges = (
            self.env["msp.charge"]
            .sudo()
            .search(
                [
                    ("partner_id", "in", partners.ids),
                    ("invoice_line_id", "=", False),
                    ("date", "<", before),
                    *self._get_billed_since_domain(),
                ],
                order="date, id",
            )
        )
        return {partner.id: group for partner, group in charges.grouped("partner_id").items()}

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
        batch = self._prepare_billing_batch(partner, day)
        since = company.msp_billing_start_date
        sections = invoice["sections"]
        sections["adhoc"] += self._prepare_adhoc_time_lines(
            batch.take_adhoc(partner, day, since), rate, company.currency_id
        )
        for section, lines in self._prepare_charge_lines(
            batch.take_charges(partner, day, since)
        ).items():
            sections[section] += lines
        return invoice if any(sections.values()) else None

    @api.model
    def _get_billing_product(self, kind):
        # The id is cached by ir.model.data (env.ref would also query that the
        # record exists, three times per invoice); it is gone when the product is.
        product_id = self.env["ir.model.data"]._xmlid_to_res_id(
            BILLING_PRODUCTS[kind], raise_if_not_found=True
        )
        return self.env["product.product"].browse(product_id)
