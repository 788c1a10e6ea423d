"""Definitions shared by the add-on's Python, views, portal templates and
dashboard: the views and templates read them through the fields and values
the models give them, never as numbers of their own."""

BILLING_CYCLES = [("monthly", "Monthly"), ("quarterly", "Quarterly"), ("annual", "Annual")]
CYCLE_MONTHS = {"monthly": 1, "quarterly": 3, "annual": 12}

BILLING_CATEGORIES = [
    ("retainer", "Billable — Retainer"),
    ("adhoc", "Billable — Ad Hoc"),
    ("non_billable", "Non-Billable"),
]

# Hours are rounded to 0.01 everywhere (rule 1); a time entry lasts 0 to 24 h.
HOURS_DIGITS = 2
MAX_HOURS_PER_ENTRY = 24.0

# Usage alerts (rule 8): reaching 80 % of the included hours warns, passing
# 100 % is overage.
USAGE_WARNING_PERCENT = 80.0
USAGE_OVERAGE_PERCENT = 100.0
