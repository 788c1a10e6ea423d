"""Retainer period arithmetic: pure functions of dates, no database.

Period *n* of a retainer starts at ``anchor + n * cycle``, computed from the
anchor (the retainer's start date) every time, so month ends clamp without
drifting: a retainer starting Jan 31 has periods starting Feb 28/29, Mar 31,
Apr 30 … A period ends the day before the next one starts, or on the
retainer's end date when that comes first (a partial period, prorated by days).
"""

from dataclasses import dataclass
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

from .constants import CYCLE_MONTHS


@dataclass(frozen=True)
class Period:
    index: int
    date_start: date
    date_end: date
    # the day before the next period starts, whatever the retainer's end date
    full_end: date

    @property
    def days(self):
        return (self.date_end - self.date_start).days + 1

    @property
    def full_days(self):
        return (self.full_end - self.date_start).days + 1

    @property
    def is_partial(self):
        return self.date_end < self.full_end

    @property
    def ratio(self):
        """Share of a full period this period covers (1.0 unless cut short)."""
        return self.days / self.full_days


def cycle_months(cycle):
    try:
        return CYCLE_MONTHS[cycle]
    except KeyError:
        raise ValueError(f"Unknown billing cycle {cycle!r}") from None


def period_start(anchor, cycle, index):
    return anchor + relativedelta(months=cycle_months(cycle) * index)


def period_index(anchor, cycle, ref_date):
    """Index of the period containing ``ref_date`` (0 for dates before the anchor)."""
    if ref_date <= anchor:
        return 0
    months = (ref_date.year - anchor.year) * 12 + ref_date.month - anchor.month
    index = months // cycle_months(cycle)
    # Month-end clamping can put the computed start a few days after ref_date.
    while index > 0 and period_start(anchor, cycle, index) > ref_date:
        index -= 1
    return index


def period_at(anchor, cycle, index, date_end=None):
    """Period ``index`` of a retainer, or None when it starts after ``date_end``."""
    start = period_start(anchor, cycle, index)
    if date_end and start > date_end:
        return None
    full_end = period_start(anchor, cycle, index + 1) - timedelta(days=1)
    end = min(full_end, date_end) if date_end else full_end
    return Period(index, start, end, full_end)


def period_containing(anchor, cycle, ref_date, date_end=None):
    """The period covering ``ref_date``, or None outside the retainer's dates."""
    if ref_date < anchor or (date_end and ref_date > date_end):
        return None
    return period_at(anchor, cycle, period_index(anchor, cycle, ref_date), date_end)


def periods_starting_until(anchor, cycle, until, date_end=None, from_index=0):
    """Periods from ``from_index`` on whose start is on or before ``until``."""
    periods = []
    index = from_index
    while True:
        period = period_at(anchor, cycle, index, date_end)
        if period is None or period.date_start > until:
            return periods
        periods.append(period)
        index += 1
