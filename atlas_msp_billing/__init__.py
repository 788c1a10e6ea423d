from . import models
from . import wizard
from . import controllers


def _post_init_hook(env):
    # New products get the default taxes of the installing user's companies
    # only; the other companies whose chart of accounts is already loaded get
    # theirs here (companies without a chart get them when it is loaded).
    env["product.template"]._msp_complete_sale_taxes(env["res.company"].search([]))
    # A database with timesheets of customer projects bills only time from the
    # installation day on (see res.company.msp_billing_start_date).
    env["res.company"]._msp_init_billing_start_date()
