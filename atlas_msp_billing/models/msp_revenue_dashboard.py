"""The Revenue dashboard's figures beyond the key figures of the report: the
MRR timeline with its movements, and the unbilled work waiting for the next
invoices besides overage (ad-hoc time and pending charges, billing rule 2),
each with the records behind it.

The timeline shows where recurring revenue goes, month by month, from the
retainers' history:

- **MRR of a month**: at the month's last day (today for the current month),
  Σ over the retainers running that day (active or closed, not draft) of the
  fee of the period covering it ÷ the months of its cycle, in the current
  company's currency at today's rates. A day without a period record (not
  created yet) counts at the retainer's terms (``amount``); so does the last
  period when cut short by the end date, whose prorated fee is no price change.
- **Movements**, per customer from one month to the next: *new* (no MRR the
  month before), *churn* (no MRR any more), *expansion* and *contraction*
  (more or less). Each amounts to the change of the customer's MRR, so the
  movements of a month add up to its MRR minus the month before's.
"""

from collections import defaultdict

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.tools import SQL, float_round
from odoo.tools.misc import format_date

from ..utils.constants import HOURS_DIGITS
from ..utils.roles import msp_role

TIMELINE_MONTHS = 12
# Movement -> the condition on a customer's MRR this month (mrr) and the month
# before (prev_mrr) that makes it that movement.
MRR_MOVEMENTS = {
    "new": "m.prev_mrr = 0 AND m.mrr > 0",
    "expansion": "m.prev_mrr > 0 AND m.mrr > m.prev_mrr",
    "contraction": "m.mrr > 0 AND m.mrr < m.prev_mrr",
    "churn": "m.prev_mrr > 0 AND m.mrr = 0",
}


class MspRevenueReport(models.Model):
    _inherit = "msp.revenue.report"

    @api.model
    def _get_mrr_timeline(self):
        """The last 12 months, oldest first: one dict per month with ``month``
        (its first day, ISO), ``mrr`` and the movements of ``MRR_MOVEMENTS``
        (new and expansion positive, contraction and churn negative), from
        one query whatever the number of retainers, periods and months."""
        first, _today = self._msp_timeline_bounds()
        rows = self.env.execute_query(
            SQL(
                """
                %(movements)s
                SELECT mo.month, COALESCE(SUM(m.mrr), 0), %(amounts)s
                  FROM msp_month mo
             LEFT JOIN msp_movement m ON m.month = mo.month
                 -- The first month is only the base of the second's movements.
                 WHERE mo.month > %(first)s
              GROUP BY mo.month
              ORDER BY mo.month
                """,
                movements=self._msp_mrr_movements_sql(),
                amounts=SQL(", ").join(
                    SQL("COALESCE(SUM(m.mrr - m.prev_mrr) FILTER (WHERE %s), 0)", SQL(condition))
                    for condition in MRR_MOVEMENTS.values()
                ),
                first=first,
            )
        )
        currency = self.env.company.currency_id
        return [
            {
                "month": fields.Date.to_string(month),
                "mrr": currency.round(float(mrr)),
                **{
                    movement: currency.round(float(amount))
                    for movement, amount in zip(MRR_MOVEMENTS, amounts, strict=True)
                },
            }
            for month, mrr, *amounts in rows
        ]

    @api.model
    def _msp_timeline_bounds(self):
        """(first month, today): the month before the timeline (base of its first
        movements), and today."""
        today = self.env.company._msp_today()
        return today.replace(day=1) - relativedelta(months=TIMELINE_MONTHS), today

    @api.model
    def _msp_mrr_movements_sql(self):
        """Common table expressions ending with ``msp_movement``: one row per
        month of the timeline (and the month before it) and customer with MRR
        in it or the month before: ``month``, ``mrr``, ``prev_mrr`` and the
        retainers behind each (``retainer_ids``, ``prev_retainer_ids``)."""
        first, today = self._msp_timeline_bounds()
        # Raw SQL: write what the ORM still holds first.
        self.env["msp.retainer"].flush_model()
        self.env["msp.retainer.period"].flush_model()
        self.env["msp.retainer.line"].flush_model()
        return SQL(
            """
            WITH %(rates)s,
            msp_month AS (
                SELECT (%(first)s::date + n * INTERVAL '1 month')::date AS month,
                       LEAST((%(first)s::date + (n + 1) * INTERVAL '1 month')::date - 1,
                             %(today)s) AS day
                  -- Over integers, so that the planner knows how many months
                  -- (over dates it guesses 1,000 and compiles the query, JIT).
                  FROM generate_series(0, %(months_back)s) n
            ),
            %(runs)s,
            msp_customer_mrr AS (
                SELECT mo.month, r.partner_id, ARRAY_AGG(r.id) AS retainer_ids,
                       -- Rounded to the currency: equal fees make equal MRR.
                       -- Recurring services count at their current terms (rule 11).
                       ROUND(SUM((CASE WHEN p.id IS NULL OR p.is_partial THEN r.amount
                                       ELSE p.amount END + r.services)
                                 * f.factor / %(months)s)::numeric, %(digits)s) AS mrr
                  FROM msp_month mo
                  JOIN msp_run r ON r.date_start <= mo.day
                                AND (r.date_end IS NULL OR r.date_end >= mo.day)
                  JOIN msp_factor f ON f.currency_id = r.currency_id
             LEFT JOIN msp_retainer_period p ON p.retainer_id = r.id
                                            AND p.date_start <= mo.day
                                            AND p.date_end >= mo.day
              GROUP BY mo.month, r.partner_id
            ),
            msp_movement AS (
                SELECT COALESCE(cur.month, (prev.month + INTERVAL '1 month')::date) AS month,
                       COALESCE(cur.mrr, 0) AS mrr,
                       COALESCE(prev.mrr, 0) AS prev_mrr,
                       COALESCE(cur.retainer_ids, '{}') AS retainer_ids,
                       COALESCE(prev.retainer_ids, '{}') AS prev_retainer_ids
                  FROM msp_customer_mrr cur
             FULL JOIN msp_customer_mrr prev
                    ON prev.partner_id = cur.partner_id
                   AND prev.month = (cur.month - INTERVAL '1 month')::date
            )
            """,
            rates=self._msp_rate_ctes(),
            today=today,
            first=first,
            months_back=TIMELINE_MONTHS,
            runs=self._msp_retainer_run_ctes(),
            months=self._msp_cycle_months_sql(SQL("r.billing_cycle")),
            digits=self.env.company.currency_id.decimal_places,
        )

    @api.model
    def _msp_retainer_run_ctes(self):
        """Common table expressions ending with ``msp_run``: the retainers of
        the current companies that ran (active or closed) and the day they end
        (``date_end``, empty while open-ended)."""
        return SQL(
            """
            -- A retainer closed without an end date ended with its last period.
            msp_closed_end AS (
                SELECT p.retainer_id, MAX(p.date_end) AS date_end
                  FROM msp_retainer_period p
                  JOIN msp_retainer r ON r.id = p.retainer_id
                 WHERE r.state = 'closed' AND r.date_end IS NULL
              GROUP BY p.retainer_id
            ),
            msp_run AS (
                SELECT r.id, r.partner_id, r.currency_id, r.amount, r.billing_cycle,
                       r.date_start,
                       CASE WHEN r.state = 'closed'
                            THEN COALESCE(r.date_end, e.date_end, r.date_start)
                            ELSE r.date_end END AS date_end,
                       COALESCE(l.services, 0.0) AS services
                  FROM msp_retainer r
             LEFT JOIN msp_closed_end e ON e.retainer_id = r.id
             LEFT JOIN (SELECT retainer_id, SUM(price_subtotal) AS services
                          FROM msp_retainer_line GROUP BY retainer_id) l
                    ON l.retainer_id = r.id
                 WHERE r.state IN ('active', 'closed') AND r.active
                   AND r.company_id IN %(companies)s
            )""",
            companies=tuple(self.env.companies.ids),
        )

    @api.model
    @msp_role("account_manager")
    def action_open_mrr_movement(self, month, movement="mrr"):
        """The retainers behind a figure of the timeline: those making the MRR
        of ``month`` (an ISO date in it), or those of the customers whose MRR
        made ``movement`` (a key of ``MRR_MOVEMENTS``) that month, in the
        month before and that month."""
        if movement != "mrr" and movement not in MRR_MOVEMENTS:
            raise ValueError(f"Unknown MRR movement {movement!r}")
        month = fields.Date.to_date(month).replace(day=1)
        if movement == "mrr":
            retainers, condition = SQL("m.retainer_ids"), SQL("m.mrr != 0")
        else:
            retainers = SQL("m.retainer_ids || m.prev_retainer_ids")
            condition = SQL(MRR_MOVEMENTS[movement])
        rows = self.env.execute_query(
            SQL(
                """
                %(movements)s
                SELECT DISTINCT UNNEST(%(retainers)s)
                  FROM msp_movement m
                 WHERE m.month = %(month)s AND %(condition)s
                """,
                movements=self._msp_mrr_movements_sql(),
                retainers=retainers,
                month=month,
                condition=condition,
            )
        )
        name = self.env._(
            "%(figure)s – %(month)s",
            figure=self._msp_movement_labels()[movement],
            month=format_date(self.env, month, date_format="MMMM y"),
        )
        return self._msp_retainers_action([("id", "in", [row[0] for row in rows])], name)

    @api.model
    def _msp_movement_labels(self):
        return {
            "mrr": self.env._("MRR"),
            "new": self.env._("New"),
            "expansion": self.env._("Expansion"),
            "contraction": self.env._("Contraction"),
            "churn": self.env._("Churn"),
        }

    # ------------------------------------------------------------------
    # Unbilled ad-hoc time and pending charges
    # ------------------------------------------------------------------
    @api.model
    def _msp_unbilled_time_domain(self):
        """The ad-hoc time the billing will invoice: not billed yet, of a
        customer, dated on or after its company's "Bill time from" day."""
        return [
            *self.env["msp.billing.invoice"]._get_billable_adhoc_domain(),
            ("company_id", "in", self.env.companies.ids),
        ]

    @api.model
    def _msp_pending_charge_domain(self):
        return [
            *self.env["msp.billing.invoice"]._get_billable_charge_domain(),
            ("company_id", "in", self.env.companies.ids),
        ]

    @api.model
    def _msp_unbilled_time(self):
        """{"hours", "amount"} of the unbilled ad-hoc time (the records of
        ``_msp_unbilled_time_domain`` the user reads), valued as the billing
        will bill it: at the ad-hoc rate of the customer's active retainer,
        else at the ad-hoc product's price on the customer's pricelist."""
        hours = amount = 0.0
        list_priced = defaultdict(dict)
        for company_id, partner_id, total, retainer_amount in self._msp_unbilled_time_rows():
            hours += total
            amount += retainer_amount
            if partner_id:
                list_priced[company_id][partner_id] = total
        for company_id, partner_hours in list_priced.items():
            company = self.env["res.company"].browse(company_id)
            amount += self._msp_adhoc_list_amount(company, partner_hours)
        currency = self.env.company.currency_id
        return {
            "hours": float_round(hours, precision_digits=HOURS_DIGITS),
            "amount": currency.round(amount),
        }

    @api.model
    def _msp_unbilled_time_rows(self):
        """(company id, customer id, hours, amount) of the unbilled ad-hoc
        time: the customers with an active retainer in one row per company
        (customer empty, amount at their ad-hoc rates in the current company's
        currency), the others one row each (amount 0: their pricelists
        price it)."""
        Line = self.env["account.analytic.line"]
        # Raw SQL: write what the ORM still holds first.
        Line.flush_model(["company_id", "partner_id", "unit_amount"])
        self.env["res.partner"].flush_model(["commercial_partner_id"])
        self.env["msp.retainer"].flush_model()
        entries = Line._search(self._msp_unbilled_time_domain())
        return self.env.execute_query(
            SQL(
                """
                WITH %(rates)s,
                msp_entry AS (%(entries)s),
                msp_customer AS (
                    SELECT e.company_id, p.commercial_partner_id AS partner_id,
                           SUM(e.unit_amount) AS hours
                      FROM msp_entry e
                      JOIN res_partner p ON p.id = e.partner_id
                  GROUP BY e.company_id, p.commercial_partner_id
                )
                -- Customers with a retainer add up here; the others, one row
                -- each, are priced on their pricelists.
                SELECT c.company_id, CASE WHEN r.id IS NULL THEN c.partner_id END,
                       SUM(c.hours), COALESCE(SUM(c.hours * r.adhoc_rate * f.factor), 0.0)
                  FROM msp_customer c
             LEFT JOIN LATERAL (
                        SELECT r.id, r.adhoc_rate, r.currency_id
                          FROM msp_retainer r
                         WHERE r.partner_id = c.partner_id AND r.company_id = c.company_id
                           AND r.state = 'active' AND r.active
                      -- Of two active retainers, the earlier one invoices first.
                      ORDER BY r.date_start
                         LIMIT 1
                       ) r ON TRUE
             LEFT JOIN msp_factor f ON f.currency_id = r.currency_id
              GROUP BY 1, 2
                """,
                rates=self._msp_rate_ctes(),
                entries=entries.select(
                    "account_analytic_line.company_id",
                    "account_analytic_line.partner_id",
                    "account_analytic_line.unit_amount",
                ),
            )
        )

    @api.model
    def _msp_adhoc_list_amount(self, company, partner_hours):
        """Value of ``{customer id: hours}`` of ``company`` at the ad-hoc
        product's price on each customer's pricelist (one price per pricelist),
        in the current company's currency."""
        product = (
            self.env["msp.billing.invoice"]._get_billing_product("adhoc").with_company(company)
        )
        Pricelist = self.env["product.pricelist"].with_company(company).sudo()
        pricelists = Pricelist._get_partner_pricelist_multi(list(partner_hours))
        hours_by_pricelist = defaultdict(float)
        for partner_id, hours in partner_hours.items():
            hours_by_pricelist[pricelists.get(partner_id, Pricelist)] += hours
        target = self.env.company.currency_id
        today = company._msp_today()
        amount = 0.0
        for pricelist, hours in hours_by_pricelist.items():
            price = product._msp_sale_price(pricelist, today)
            currency = pricelist.currency_id or company.currency_id
            amount += currency._convert(hours * price, target, company, today)
        return amount

    @api.model
    def _msp_pending_charges(self):
        """{"count", "amount"} of the pending charges (the records of
        ``_msp_pending_charge_domain`` the user reads), each rounded as its
        invoice line will be, in the current company's currency."""
        Charge = self.env["msp.charge"]
        Charge.flush_model(["company_id", "quantity", "price_unit"])
        charges = Charge._search(self._msp_pending_charge_domain())
        rows = self.env.execute_query(
            SQL(
                """
                SELECT c.company_id, COUNT(*),
                       SUM(ROUND((c.quantity * c.price_unit)::numeric, cur.decimal_places))
                  FROM (%(charges)s) c
                  JOIN res_company company ON company.id = c.company_id
                  JOIN res_currency cur ON cur.id = company.currency_id
              GROUP BY c.company_id
                """,
                charges=charges.select(
                    "msp_charge.company_id", "msp_charge.quantity", "msp_charge.price_unit"
                ),
            )
        )
        count, amount = 0, 0.0
        target = self.env.company.currency_id
        for company_id, company_count, total in rows:
            company = self.env["res.company"].browse(company_id)
            today = company._msp_today()
            count += company_count
            amount += company.currency_id._convert(float(total), target, company, today)
        return {"count": count, "amount": target.round(amount)}

    @api.model
    @msp_role("account_manager")
    def action_open_unbilled_time(self):
        action = self._msp_window_action(
            "hr_timesheet.timesheet_action_all",
            self.env._("Unbilled Ad-hoc Time"),
            self._msp_unbilled_time_domain(),
        )
        action["context"]["search_default_groupby_project"] = 1
        return action

    @api.model
    @msp_role("account_manager")
    def action_open_pending_charges(self):
        return self._msp_window_action(
            "atlas_msp_billing.msp_charge_action",
            self.env._("Pending Charges"),
            self._msp_pending_charge_domain(),
        )
