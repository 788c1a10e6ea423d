from markupsafe import Markup

from odoo import api, fields, models
from odoo.tools.misc import formatLang

# The preview's columns: each invoice section adds up into one of them.
COLUMN_BY_SECTION = {
    "fee": "amount_fee",
    "recurring": "amount_recurring",
    "overage": "amount_overage",
    "adhoc": "amount_adhoc",
    "milestone": "amount_charge",
    "charge": "amount_charge",
}


class MspBillingPreviewLine(models.TransientModel):
    _name = "msp.billing.preview.line"
    _description = "Billing Preview: one invoice"
    _order = "invoice_date, id"

    preview_id = fields.Many2one("msp.billing.preview", required=True, ondelete="cascade")
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    retainer_id = fields.Many2one("msp.retainer", readonly=True)
    invoice_date = fields.Date(readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    amount_fee = fields.Monetary(string="Fee", readonly=True)
    amount_recurring = fields.Monetary(string="Recurring Services", readonly=True)
    amount_overage = fields.Monetary(string="Overage", readonly=True)
    amount_adhoc = fields.Monetary(string="Ad Hoc", readonly=True)
    amount_charge = fields.Monetary(string="Charges", readonly=True)
    amount_untaxed = fields.Monetary(string="Total", readonly=True)
    detail = fields.Html(string="Lines", readonly=True, sanitize=False)

    @api.model
    def _prepare_values(self, preview):
        """Values of a row from ``msp.billing._get_billing_preview_values``."""
        values = {
            "partner_id": preview["partner_id"],
            "retainer_id": preview["retainer_id"],
            "invoice_date": preview["invoice_date"],
            "currency_id": preview["currency_id"],
            "amount_untaxed": preview["amount_untaxed"],
            "detail": self._render_detail(preview),
        }
        for line in preview["lines"]:
            column = COLUMN_BY_SECTION.get(line["section_key"], "amount_charge")
            values[column] = values.get(column, 0.0) + line["price_subtotal"]
        return values

    @api.model
    def _render_detail(self, preview):
        currency = self.env["res.currency"].browse(preview["currency_id"])
        rows = Markup("").join(
            Markup(
                "<tr><td>%s</td><td>%s</td><td class='text-end'>%s</td>"
                "<td class='text-end'>%s</td><td class='text-end'>%s</td></tr>"
            )
            % (
                line["section"],
                line["name"],
                formatLang(self.env, line["quantity"]),
                formatLang(self.env, line["price_unit"], currency_obj=currency),
                formatLang(self.env, line["price_subtotal"], currency_obj=currency),
            )
            for line in preview["lines"]
        )
        head = Markup(
            "<thead><tr><th>%s</th><th>%s</th><th class='text-end'>%s</th>"
            "<th class='text-end'>%s</th><th class='text-end'>%s</th></tr></thead>"
        ) % (
            self.env._("Section"),
            self.env._("Description"),
            self.env._("Quantity"),
            self.env._("Unit Price"),
            self.env._("Subtotal"),
        )
        return Markup("<table class='table table-sm'>%s<tbody>%s</tbody></table>") % (head, rows)
