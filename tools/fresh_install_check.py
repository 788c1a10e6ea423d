#!/usr/bin/env python3
"""The check behind ``make fresh-install``: on a new database where the add-on
was installed in one step with its dependencies (the chart of accounts is then
loaded after the add-on's data), its products carry the company's default sales
tax and the billing run drafts a taxed fee invoice. Nothing is committed.

Usage: fresh_install_check.py <odoo config file> <database>; exits 1 on failure.
"""

import sys
from datetime import date

import odoo
from odoo import api
from odoo.tools import config

MODULE = "atlas_msp_billing"
EXPECTED_RATE = 15.0  # the default sales tax of Odoo's generic chart of accounts
DAY = date(2026, 1, 1)
FEE = 1000.0


def say(message):
    print(f"[atlas] {message}", flush=True)


def problems_of_products(env, sale_tax):
    from odoo.addons.atlas_msp_billing.models.product_template import (  # noqa: PLC0415
        INVOICED_PRODUCTS,
    )

    return [
        f"{env.ref(xmlid).display_name} has no {sale_tax.name} sales tax"
        for xmlid in INVOICED_PRODUCTS
        if sale_tax not in env.ref(xmlid).taxes_id
    ]


def problems_of_fee_invoice(env, sale_tax):
    customer = env["res.partner"].create({"name": "Fresh Install Customer", "is_company": True})
    retainer = env["msp.retainer"].create(
        {
            "partner_id": customer.id,
            "amount": FEE,
            "billing_cycle": "monthly",
            "included_hours": 10.0,
            "date_start": DAY,
        }
    )
    retainer.with_context(msp_date=DAY).action_activate()
    invoice = (
        env["msp.retainer"]
        ._run_billing(run_date=DAY)
        .filtered(lambda move: move.partner_id == customer)
    )
    fee = invoice.invoice_line_ids.filtered(
        lambda line: line.product_id == env.ref(f"{MODULE}.product_msp_retainer_fee")
    )
    if len(invoice) != 1 or len(fee) != 1:
        return [f"expected one fee invoice with one fee line, got {invoice} and {fee}"]
    expected_tax = FEE * EXPECTED_RATE / 100
    if fee.tax_ids != sale_tax or invoice.amount_tax != expected_tax:
        return [
            f"the fee line is taxed {fee.tax_ids.mapped('name')} and the invoice's tax is "
            f"{invoice.amount_tax} (expected {sale_tax.name}, {expected_tax})"
        ]
    say(
        f"fee invoice: untaxed {invoice.amount_untaxed}, tax {invoice.amount_tax} ({sale_tax.name})"
    )
    return []


def check(env):
    company = env.company
    sale_tax = company.account_sale_tax_id
    if sale_tax.amount != EXPECTED_RATE:
        return [
            f"{company.name} (chart {company.chart_template}) has the default sales tax "
            f"{sale_tax.name or 'none'}, expected {EXPECTED_RATE} %"
        ]
    return problems_of_products(env, sale_tax) or problems_of_fee_invoice(env, sale_tax)


def main(conf, database):
    config.parse_config(["-c", conf, "-d", database, "--no-http", "--log-level=warn"])
    registry = odoo.modules.registry.Registry(database)
    with registry.cursor() as cr:
        env = api.Environment(cr, odoo.SUPERUSER_ID, {})
        # As the administrator who installed the app, not as the superuser.
        problems = check(env(user=env.ref("base.user_admin")))
        cr.rollback()
    for problem in problems:
        say(f"fresh install: {problem}")
    if not problems:
        say("fresh install: the billing products and the fee invoice carry the sales tax")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
