from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools.misc import format_date
from odoo.tools.translate import LazyTranslate

from ..utils.roles import msp_role

_lt = LazyTranslate(__name__)


class MspBillingRun(models.TransientModel):
    _name = "msp.billing.run"
    _description = "Generate Invoices Now"

    run_date = fields.Date(
        string="Invoice Up To",
        required=True,
        default=lambda self: self.env.company._msp_today(),
        help="Drafts every invoice due on this date, as the daily billing run does.",
    )

    @api.constrains("run_date")
    def _check_run_date(self):
        for wizard in self:
            self._check_run_date_not_future(wizard.run_date)

    @api.model
    def _check_run_date_not_future(self, run_date):
        if run_date > self.env.company._msp_today():
            raise UserError(
                self.env._(
                    "Invoices cannot be generated for a future date (%(date)s); "
                    "choose today or an earlier date.",
                    date=format_date(self.env, run_date),
                )
            )

    @msp_role("billing_manager", _lt("Only billing managers can generate invoices."))
    def action_generate(self):
        self.ensure_one()
        retainers = self.env["msp.retainer"]
        return self.env["msp.billing"]._get_result_action(
            retainers._run_billing(run_date=self.run_date)
        )
