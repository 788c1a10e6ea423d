from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools.misc import format_date

from ..utils import periods as period_math
from ..utils.constants import BILLING_CYCLES


class MspRecurringMixin(models.AbstractModel):
    """A schedule of billing periods anchored on a start date (rule 1): the
    fields and the date maths, as OCA contract's recurring mixin keeps them
    apart from what is billed. The arithmetic itself is ``utils/periods.py``."""

    _name = "msp.recurring.mixin"
    _description = "MSP Recurring Schedule"

    billing_cycle = fields.Selection(
        BILLING_CYCLES, required=True, default="monthly", tracking=True
    )
    date_start = fields.Date(
        string="Start Date", required=True, tracking=True, default=fields.Date.context_today
    )
    date_end = fields.Date(string="End Date", tracking=True)

    def _period_at(self, index):
        """Period number ``index`` (from 0), or None after the end date."""
        self.ensure_one()
        return period_math.period_at(self.date_start, self.billing_cycle, index, self.date_end)

    def _period_containing(self, day):
        """The period that contains ``day``, or None outside the schedule."""
        self.ensure_one()
        return period_math.period_containing(
            self.date_start, self.billing_cycle, day, self.date_end
        )

    def _periods_starting_until(self, day):
        """The periods that start on or before ``day``, oldest first."""
        self.ensure_one()
        return period_math.periods_starting_until(
            self.date_start, self.billing_cycle, day, self.date_end
        )

    def _period_ratio(self, date_start, date_end):
        """Share of the full period starting on ``date_start`` that the days
        ``date_start`` – ``date_end`` cover: the ratio a partial period's fee was
        prorated with (rule 1), for what is prorated with the fee (rule 11)."""
        self.ensure_one()
        full = period_math.period_containing(self.date_start, self.billing_cycle, date_start)
        return ((date_end - date_start).days + 1) / full.full_days

    def _msp_dates_label(self):
        """The schedule's dates for messages: "from <start>" or "<start> – <end>"."""
        self.ensure_one()
        start = format_date(self.env, self.date_start)
        if not self.date_end:
            return self.env._("from %(start)s", start=start)
        return self.env._(
            "%(start)s – %(end)s", start=start, end=format_date(self.env, self.date_end)
        )

    @api.model
    def _check_selection_values(self, vals):
        """A cycle Odoo's selection check would only call "wrong value", refused
        with the cycles to choose from (imports and XML-RPC included)."""
        cycle = vals.get("billing_cycle")
        if cycle and cycle not in dict(BILLING_CYCLES):
            raise ValidationError(
                self.env._(
                    "Unknown billing cycle %(cycle)r: use one of %(allowed)s.",
                    cycle=cycle,
                    allowed=", ".join(dict(BILLING_CYCLES)),
                )
            )
