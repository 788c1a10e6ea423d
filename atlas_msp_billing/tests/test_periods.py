"""Period arithmetic, without a database."""

from datetime import date
from unittest import TestCase

from odoo.addons.atlas_msp_billing.utils.periods import (
    period_at,
    period_containing,
    period_index,
    period_start,
    periods_starting_until,
)


class TestPeriodMath(TestCase):
    def test_monthly_anchored_on_month_end(self):
        anchor = date(2026, 1, 31)
        starts = [period_start(anchor, "monthly", n) for n in range(5)]
        self.assertEqual(
            starts,
            [
                date(2026, 1, 31),
                date(2026, 2, 28),
                date(2026, 3, 31),
                date(2026, 4, 30),
                date(2026, 5, 31),
            ],
        )
        # Anchored on the start date, never drifting: March is back to the 31st.
        self.assertEqual(period_at(anchor, "monthly", 1).date_end, date(2026, 3, 30))
        self.assertEqual(period_start(date(2024, 1, 31), "monthly", 1), date(2024, 2, 29))

    def test_annual_from_leap_day(self):
        anchor = date(2024, 2, 29)
        self.assertEqual(
            [period_start(anchor, "annual", n) for n in range(5)],
            [
                date(2024, 2, 29),
                date(2025, 2, 28),
                date(2026, 2, 28),
                date(2027, 2, 28),
                date(2028, 2, 29),
            ],
        )
        self.assertEqual(period_at(anchor, "annual", 0).date_end, date(2025, 2, 27))

    def test_quarterly_from_november_30(self):
        anchor = date(2025, 11, 30)
        self.assertEqual(
            [period_start(anchor, "quarterly", n) for n in range(4)],
            [date(2025, 11, 30), date(2026, 2, 28), date(2026, 5, 30), date(2026, 8, 30)],
        )
        self.assertEqual(period_at(anchor, "quarterly", 0).date_end, date(2026, 2, 27))

    def test_index_and_containing(self):
        anchor = date(2026, 1, 31)
        self.assertEqual(period_index(anchor, "monthly", date(2026, 2, 27)), 0)
        self.assertEqual(period_index(anchor, "monthly", date(2026, 2, 28)), 1)
        self.assertEqual(period_index(anchor, "monthly", date(2026, 3, 30)), 1)
        self.assertEqual(period_index(anchor, "monthly", date(2026, 3, 31)), 2)
        self.assertIsNone(period_containing(anchor, "monthly", date(2026, 1, 30)))
        self.assertIsNone(
            period_containing(anchor, "monthly", date(2026, 6, 1), date_end=date(2026, 5, 31))
        )
        self.assertEqual(
            period_containing(anchor, "monthly", date(2026, 4, 15)).date_start, date(2026, 3, 31)
        )

    def test_partial_last_period(self):
        period = period_at(date(2026, 1, 1), "monthly", 2, date_end=date(2026, 3, 10))
        self.assertEqual(
            (period.date_start, period.date_end), (date(2026, 3, 1), date(2026, 3, 10))
        )
        self.assertTrue(period.is_partial)
        self.assertEqual((period.days, period.full_days), (10, 31))
        self.assertAlmostEqual(period.ratio, 10 / 31)
        self.assertIsNone(period_at(date(2026, 1, 1), "monthly", 3, date_end=date(2026, 3, 10)))

    def test_periods_starting_until(self):
        periods = periods_starting_until(date(2026, 1, 15), "monthly", date(2026, 4, 15))
        self.assertEqual([p.date_start.month for p in periods], [1, 2, 3, 4])
        self.assertEqual(
            periods_starting_until(date(2026, 1, 15), "monthly", date(2026, 4, 14))[-1].date_start,
            date(2026, 3, 15),
        )

    def test_unknown_cycle(self):
        with self.assertRaises(ValueError):
            period_start(date(2026, 1, 1), "weekly", 1)
