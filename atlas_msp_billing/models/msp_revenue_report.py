from odoo import api, fields, models
from odoo.tools import SQL

from ..utils.constants import (
    BILLING_CYCLES,
    CYCLE_MONTHS,
    HOURS_DIGITS,
    USAGE_OVERAGE_PERCENT,
    USAGE_WARNING_PERCENT,
)
from ..utils.roles import msp_role

# Rows the dashboard lists in its overage and usage tables; the analysis
# views show them all.
DASHBOARD_TOP = 10


class MspRevenueReport(models.Model):
    """One row per active retainer of the current companies: its recurring
    revenue, the usage of its current period (the period containing today in
    its company's time zone, or the context's ``msp_date``) and the overage
    still to bill. Amounts are in the current company's currency.

    The rows depend on today and on the current companies, so the model is a
    table query (like Odoo's invoice analysis) rather than a fixed view."""

    _name = "msp.revenue.report"
    _description = "Revenue Analysis"
    _auto = False
    _rec_name = "retainer_id"
    _order = "usage_percent desc, id"
    _depends = {
        "msp.retainer": [
            "active",
            "state",
            "company_id",
            "currency_id",
            "partner_id",
            "user_id",
            "amount",
            "billing_cycle",
            "included_hours",
            "date_start",
            "date_end",
        ],
        "msp.retainer.period": [
            "retainer_id",
            "company_id",
            "date_start",
            "date_end",
            "included_hours",
            "hours_used",
            "overage_hours",
            "overage_amount",
            "overage_rate",
            "overage_billed_hours",
        ],
        "msp.retainer.line": ["retainer_id", "price_subtotal"],
        "res.company": ["msp_billing_start_date"],
        "res.currency.rate": ["currency_id", "company_id", "name", "rate"],
    }

    retainer_id = fields.Many2one("msp.retainer", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    user_id = fields.Many2one("res.users", string="Account Manager", readonly=True)
    billing_cycle = fields.Selection(BILLING_CYCLES, readonly=True)
    currency_id = fields.Many2one("res.currency", compute="_compute_currency_id")
    amount = fields.Monetary(string="Fee per Cycle", readonly=True)
    monthly_fee = fields.Monetary(
        readonly=True,
        help="Recurring revenue per month: the fee and recurring services per cycle divided by "
        "the months of the cycle.",
    )
    period_start = fields.Date(readonly=True)
    period_end = fields.Date(readonly=True)
    included_hours = fields.Float(digits=(16, HOURS_DIGITS), readonly=True)
    hours_used = fields.Float(
        digits=(16, HOURS_DIGITS), readonly=True, help="In the current period."
    )
    hours_remaining = fields.Float(digits=(16, HOURS_DIGITS), readonly=True)
    usage_percent = fields.Float(
        string="Usage (%)", digits=(16, 1), readonly=True, aggregator="avg"
    )
    overage_hours = fields.Float(
        string="Overage Hours to Bill",
        digits=(16, HOURS_DIGITS),
        readonly=True,
        help="Overage of the current and ended periods not billed yet.",
    )
    overage_amount = fields.Monetary(string="Overage to Bill", readonly=True)
    is_overage = fields.Boolean(
        string="In Overage", readonly=True, help="The current period is over its included hours."
    )

    @api.depends_context("company")
    def _compute_currency_id(self):
        self.currency_id = self.env.company.currency_id

    # ------------------------------------------------------------------
    # Rows
    # ------------------------------------------------------------------
    @property
    def _table_query(self):
        return SQL(
            """
            WITH msp_today(company_id, today) AS (VALUES %(today)s),
            %(rates)s,
            %(unbilled)s
            SELECT r.id,
                   r.id AS retainer_id,
                   r.company_id,
                   r.partner_id,
                   r.user_id,
                   r.billing_cycle,
                   r.amount * f.factor AS amount,
                   -- Recurring services count in MRR (rule 11).
                   (r.amount + COALESCE((SELECT SUM(l.price_subtotal) FROM msp_retainer_line l
                                          WHERE l.retainer_id = r.id), 0.0))
                       * f.factor / %(months)s AS monthly_fee,
                   cur.date_start AS period_start,
                   cur.date_end AS period_end,
                   %(included)s AS included_hours,
                   COALESCE(cur.hours_used, 0.0) AS hours_used,
                   GREATEST(%(included)s - COALESCE(cur.hours_used, 0.0), 0.0) AS hours_remaining,
                   CASE WHEN %(included)s > 0
                        THEN 100.0 * COALESCE(cur.hours_used, 0.0) / %(included)s
                        ELSE 0.0 END AS usage_percent,
                   COALESCE(u.overage_hours, 0.0) AS overage_hours,
                   COALESCE(u.overage_amount, 0.0) * f.factor AS overage_amount,
                   COALESCE(cur.overage_hours, 0.0) > 0 AS is_overage
              FROM msp_retainer r
              JOIN msp_today t ON t.company_id = r.company_id
              JOIN msp_factor f ON f.currency_id = r.currency_id
         LEFT JOIN msp_retainer_period cur ON cur.retainer_id = r.id
                                          AND cur.date_start <= t.today
                                          AND cur.date_end >= t.today
         LEFT JOIN msp_unbilled u ON u.retainer_id = r.id
             WHERE r.state = 'active' AND r.active
            """,
            today=SQL(", ").join(
                SQL("(%s, %s::date)", company_id, day) for company_id, day in self._msp_days()
            ),
            rates=self._msp_rate_ctes(),
            unbilled=self._msp_unbilled_overage_cte(),
            months=self._msp_cycle_months_sql(SQL("r.billing_cycle")),
            # A current period not recorded yet (no time logged, not billed
            # yet) will include the retainer's hours.
            included=SQL(
                "COALESCE(cur.included_hours, CASE WHEN r.date_start <= t.today AND "
                "(r.date_end IS NULL OR r.date_end >= t.today) THEN r.included_hours "
                "ELSE 0.0 END)"
            ),
        )

    @api.model
    def _msp_unbilled_overage_cte(self):
        """``msp_unbilled``: per retainer, the overage hours not yet on an invoice
        and their amount (late time included, rule 10); periods ended before
        "Bill time from" bill none."""
        return SQL(
            """
            msp_unbilled AS (
                SELECT p.retainer_id,
                       SUM(p.overage_hours - p.overage_billed_hours) AS overage_hours,
                       -- overage_amount's own rounding, to the period's currency
                       SUM(ROUND(((p.overage_hours - p.overage_billed_hours)
                                  * p.overage_rate)::numeric, cur.decimal_places)) AS overage_amount
                  FROM msp_retainer_period p
                  JOIN msp_today t ON t.company_id = p.company_id
                  JOIN res_company rc ON rc.id = p.company_id
                  JOIN res_currency cur ON cur.id = p.currency_id
                 WHERE p.overage_hours > p.overage_billed_hours
                   AND p.date_start <= t.today
                   AND (rc.msp_billing_start_date IS NULL
                        OR p.date_end >= rc.msp_billing_start_date)
              GROUP BY p.retainer_id
            )"""
        )

    @api.model
    def _msp_cycle_months_sql(self, cycle):
        """SQL of the months in the billing cycle ``cycle`` (an SQL expression)."""
        return SQL(
            "CASE %s %s END",
            cycle,
            SQL(" ").join(
                SQL("WHEN %s THEN %s", name, months) for name, months in CYCLE_MONTHS.items()
            ),
        )

    @api.model
    def _msp_rate_ctes(self):
        """Common table expressions ``msp_rate`` and ``msp_factor``: the factor
        (``factor``) that converts an amount in a retainer's currency
        (``currency_id``) into the current company's currency, at today's rates."""
        return SQL(
            """
            -- Rates as res.currency._get_rates reads them for the current company.
            msp_rate AS (
                SELECT c.id AS currency_id,
                       COALESCE((SELECT r.rate FROM res_currency_rate r
                                  WHERE r.currency_id = c.id AND r.name <= %(rate_date)s
                                    AND (r.company_id IS NULL OR r.company_id = %(root)s)
                               ORDER BY r.company_id, r.name DESC LIMIT 1), 1.0) AS rate
                  FROM res_currency c
                 -- Only the currencies converted: the retainers' and the target.
                 WHERE c.id = %(target)s OR c.id IN (SELECT currency_id FROM msp_retainer)
            ),
            msp_factor AS (
                SELECT source.currency_id, target.rate / source.rate AS factor
                  FROM msp_rate source JOIN msp_rate target ON target.currency_id = %(target)s
            )""",
            rate_date=self.env.company._msp_today(),
            root=self.env.company.root_id.id,
            target=self.env.company.currency_id.id,
        )

    def _msp_days(self):
        """(company id, today) of each current company."""
        return [(company.id, company._msp_today()) for company in self.env.companies]

    # ------------------------------------------------------------------
    # Key figures
    # ------------------------------------------------------------------
    @api.model
    def _msp_overage_to_bill(self):
        """(retainers, amount) of the overage not yet on an invoice."""
        [(retainers, amount)] = self._read_group(
            [("overage_hours", ">", 0)], aggregates=["retainer_id:recordset", "overage_amount:sum"]
        )
        return retainers, amount

    @api.model
    def _msp_draft_invoice_domain(self):
        """The generated invoices waiting to be posted."""
        return [
            ("msp_generated", "=", True),
            ("state", "=", "draft"),
            ("company_id", "in", self.env.companies.ids),
        ]

    @api.model
    def _get_revenue_kpis(self):
        """The Revenue dashboard's key figures for the current companies, in
        the current company's currency, from a fixed number of aggregate
        queries. ``overage_retainer_ids`` is a ``msp.retainer`` recordset (the
        dashboard's RPC method, ``get_dashboard_data``, sends ids)."""
        currency = self.env.company.currency_id
        [(mrr, active_count)] = self._read_group([], aggregates=["monthly_fee:sum", "__count"])
        overage_retainers, overage_amount = self._msp_overage_to_bill()
        mrr = currency.round(mrr or 0.0)
        draft_invoice_count = self.env["account.move"].search_count(
            self._msp_draft_invoice_domain()
        )
        return {
            "mrr": mrr,
            "arr": currency.round(12 * mrr),
            "active_retainers": active_count,
            "overage_retainer_ids": overage_retainers,
            "overage_amount": currency.round(overage_amount or 0.0),
            "draft_invoice_count": draft_invoice_count,
            "pipeline_mrr_by_stage": self._msp_pipeline_mrr_by_stage(),
        }

    @api.model
    def _msp_pipeline_domain(self):
        """The open opportunities of the current companies."""
        return [
            ("type", "=", "opportunity"),
            ("stage_id.is_won", "=", False),
            ("company_id", "in", [False, *self.env.companies.ids]),
        ]

    @api.model
    def _msp_pipeline_mrr_by_stage(self):
        """{stage name: estimated MRR of the open opportunities in it}, in the
        pipeline's stage order; each company's leads converted to the current
        company's currency. The whole pipeline of the companies, whatever leads the
        user's own sales rights show: managers read the MSP's figures here."""
        currency = self.env.company.currency_id
        today = self.env.company._msp_today()
        groups = (
            self.env["crm.lead"]
            .sudo()
            ._read_group(
                self._msp_pipeline_domain(),
                ["stage_id", "company_id"],
                ["msp_estimated_mrr:sum"],
            )
        )
        amounts = {}
        for stage, company, mrr in groups:
            source = company.currency_id or currency
            amount = source._convert(mrr, currency, company or self.env.company, today)
            amounts[stage] = amounts.get(stage, 0.0) + amount
        pipeline = {}
        # Stages named alike (one per sales team) add up under their name.
        for stage in self.env["crm.stage"].union(*amounts).sorted():
            pipeline[stage.name] = currency.round(pipeline.get(stage.name, 0.0) + amounts[stage])
        return pipeline

    # ------------------------------------------------------------------
    # Dashboard (client action) and actions
    # ------------------------------------------------------------------
    @api.model
    @msp_role("account_manager")
    def get_dashboard_data(self):
        """Everything the Revenue dashboard shows: the key figures of
        ``_get_revenue_kpis`` (retainers as ids) and the top rows for its
        overage and usage tables."""
        kpis = self._get_revenue_kpis()
        overage_ids = kpis["overage_retainer_ids"].ids
        row_fields = [
            "retainer_id",
            "partner_id",
            "user_id",
            "billing_cycle",
            "included_hours",
            "hours_used",
            "usage_percent",
            "overage_hours",
            "overage_amount",
            "is_overage",
        ]
        return {
            **kpis,
            "overage_retainer_ids": overage_ids,
            "currency_id": self.env.company.currency_id.id,
            "overage": self.search_read(
                [("retainer_id", "in", overage_ids)],
                row_fields,
                order="overage_amount desc, id",
                limit=DASHBOARD_TOP,
            ),
            "usage": self.search_read(
                [("included_hours", ">", 0)],
                row_fields,
                order="usage_percent desc, id",
                limit=DASHBOARD_TOP,
            ),
            "usage_thresholds": {
                "warning": USAGE_WARNING_PERCENT,
                "overage": USAGE_OVERAGE_PERCENT,
            },
            "unbilled_time": self._msp_unbilled_time(),
            "pending_charges": self._msp_pending_charges(),
            "mrr_timeline": self._get_mrr_timeline(),
        }

    # ------------------------------------------------------------------
    # The records behind each figure
    # ------------------------------------------------------------------
    @api.model
    @msp_role("account_manager")
    def action_open_recurring_revenue(self):
        """The active retainers making MRR and ARR, in the analysis' list."""
        return self._msp_window_action(
            "atlas_msp_billing.msp_revenue_report_action",
            self.env._("Recurring Revenue"),
            [],
            views=["list", "pivot", "graph"],
        )

    @api.model
    @msp_role("account_manager")
    def action_open_active_retainers(self):
        return self._msp_retainers_action(
            [("state", "=", "active"), ("company_id", "in", self.env.companies.ids)],
            self.env._("Active Retainers"),
        )

    @api.model
    @msp_role("account_manager")
    def action_open_overage_retainers(self):
        retainers, _amount = self._msp_overage_to_bill()
        return self._msp_retainers_action(
            [("id", "in", retainers.ids)], self.env._("Retainers with Overage to Bill")
        )

    @api.model
    def _msp_retainers_action(self, domain, name):
        return self._msp_window_action("atlas_msp_billing.msp_retainer_action", name, domain)

    @api.model
    @msp_role("account_manager")
    def action_open_pipeline_stage(self, stage_name):
        """The open opportunities of the stages named ``stage_name``, as the
        pipeline figure counts them."""
        return self._msp_window_action(
            "crm.crm_lead_opportunities",
            self.env._("Pipeline: %s", stage_name),
            [*self._msp_pipeline_domain(), ("stage_id.name", "=", stage_name)],
            views=["list", "kanban", "form"],
        )

    @api.model
    @msp_role("account_manager")
    def action_open_draft_invoices(self):
        """The generated invoices waiting to be posted."""
        return self._msp_window_action(
            "account.action_move_out_invoice_type",
            self.env._("Generated Invoices to Post"),
            self._msp_draft_invoice_domain(),
        )

    @api.model
    def _msp_window_action(self, xmlid, name, domain, views=None):
        """The window action ``xmlid`` showing the records of ``domain`` under
        ``name``: what a figure of the dashboard opens (nothing to create there)."""
        action = self.env["ir.actions.act_window"]._for_xml_id(xmlid)
        action.update(
            {"name": name, "display_name": name, "domain": domain, "context": {"create": False}}
        )
        if views:
            action["views"] = [(False, view) for view in views]
        return action

    @msp_role("account_manager")
    def action_open_retainer(self):
        self.ensure_one()
        return self.retainer_id._get_records_action(name=self.retainer_id.name)
