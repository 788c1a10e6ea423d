from odoo import Command, api, fields, models
from odoo.tools.misc import format_date
from odoo.tools.translate import LazyTranslate

from ..utils.roles import msp_role

_lt = LazyTranslate(__name__)


class MspBillingPreview(models.TransientModel):
    """Revenue > Invoicing > Billing Preview: what the billing run would draft
    on a date, per invoice, before anything is written; then generate it."""

    _name = "msp.billing.preview"
    _description = "Billing Preview"

    run_date = fields.Date(
        string="Billing Date",
        required=True,
        default=lambda self: self.env.company._msp_today(),
        help="The day the billing run would bill up to.",
    )
    currency_id = fields.Many2one(
        "res.currency", default=lambda self: self.env.company.currency_id, readonly=True
    )
    line_ids = fields.One2many("msp.billing.preview.line", "preview_id", string="Invoices")
    invoice_count = fields.Integer(compute="_compute_totals")
    amount_untaxed = fields.Monetary(string="Total", compute="_compute_totals")

    @api.depends("line_ids.amount_untaxed")
    def _compute_totals(self):
        for preview in self:
            preview.invoice_count = len(preview.line_ids)
            preview.amount_untaxed = sum(preview.line_ids.mapped("amount_untaxed"))

    @api.depends("run_date")
    def _compute_display_name(self):
        for preview in self:
            preview.display_name = self.env._(
                "Billing Preview of %s", format_date(self.env, preview.run_date)
            )

    @api.onchange("run_date")
    def _onchange_run_date(self):
        self.line_ids = self._preview_line_commands()

    @api.model_create_multi
    def create(self, vals_list):
        # The rows are read-only on the form, so it never sends them: they are
        # prepared again for the saved date.
        previews = super().create(vals_list)
        for preview in previews.filtered(lambda p: not p.line_ids):
            preview.line_ids = preview._preview_line_commands()
        return previews

    def _preview_line_commands(self):
        Line = self.env["msp.billing.preview.line"]
        return [Command.clear()] + [
            Command.create(Line._prepare_values(values))
            for values in self.env["msp.retainer"]._get_billing_preview(self.run_date)
        ]

    @msp_role("billing_manager", _lt("Only billing managers can preview the billing."))
    def action_preview(self):
        """Refresh the preview (the form does it when the date changes)."""
        self.ensure_one()
        self.line_ids = self._preview_line_commands()
        # No action: the form reloads in place, without a second breadcrumb.
        return True

    @msp_role("billing_manager", _lt("Only billing managers can generate invoices."))
    def action_generate(self):
        """Draft the previewed invoices: the billing run for the same date (a
        future date can be previewed, not billed)."""
        self.ensure_one()
        self.env["msp.billing.run"]._check_run_date_not_future(self.run_date)
        retainers = self.env["msp.retainer"]
        return self.env["msp.billing"]._get_result_action(
            retainers._run_billing(run_date=self.run_date)
        )
