from . import models
from . import wizard
from . import controllers


def post_init_hook(env):
    # A database with timesheets of customer projects bills only time from the
    # installation day on (see res.company.msp_billing_start_date).
    env["res.company"]._msp_init_billing_start_date()
