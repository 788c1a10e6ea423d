from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError


class MspCharge(models.Model):
    _name = "msp.charge"
    _description = "Ad-hoc Charge"
    _inherit = ["mail.thread", "msp.product.line.mixin"]
    _order = "date desc, id desc"
    _check_company_auto = True

    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        required=True,
        index=True,
        tracking=True,
        check_company=True,
    )
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    product_id = fields.Many2one(
        "product.product",
        required=True,
        check_company=True,
        tracking=True,
        domain="[('sale_ok', '=', True)]",
    )
    quantity = fields.Float(default=1.0, digits="Product Unit of Measure", tracking=True)
    price_unit = fields.Monetary(
        string="Unit Price",
        compute="_compute_price_unit",
        store=True,
        readonly=False,
        precompute=True,
        tracking=True,
    )
    price_subtotal = fields.Monetary(string="Subtotal", compute="_compute_price_subtotal")
    date = fields.Date(required=True, default=fields.Date.context_today, tracking=True)
    invoice_line_id = fields.Many2one(
        "account.move.line",
        readonly=True,
        copy=False,
        ondelete="set null",
        index="btree_not_null",
    )
    invoice_id = fields.Many2one(related="invoice_line_id.move_id", string="Invoice")
    state = fields.Selection(
        [("pending", "Pending"), ("invoiced", "Invoiced")],
        compute="_compute_state",
        store=True,
        index=True,
        tracking=True,
    )
    # ``state`` says whether the charge is taken by an invoice (what billing
    # needs); users also need to know whether that invoice is final.
    billing_status = fields.Selection(
        [("pending", "Pending"), ("draft", "On Draft Invoice"), ("invoiced", "Invoiced")],
        string="Status",
        compute="_compute_billing_status",
        store=True,
        precompute=True,
        index=True,
    )

    @api.depends("product_id", "partner_id", "quantity", "date")
    def _compute_price_unit(self):
        for charge in self:
            if not charge.product_id:
                continue
            pricelist = charge.partner_id.commercial_partner_id.property_product_pricelist
            charge.price_unit = charge.product_id._msp_sale_price(
                pricelist, charge.date, charge.quantity or 1.0
            )

    @api.depends("invoice_line_id.move_id.state")
    def _compute_state(self):
        for charge in self:
            move = charge.invoice_line_id.move_id
            charge.state = "invoiced" if move and move.state != "cancel" else "pending"

    @api.depends("invoice_line_id.move_id.state")
    def _compute_billing_status(self):
        for charge in self:
            move_state = charge.invoice_line_id.move_id.state
            if move_state == "posted":
                charge.billing_status = "invoiced"
            elif move_state == "draft":
                charge.billing_status = "draft"
            else:
                charge.billing_status = "pending"

    @api.constrains("quantity", "price_unit")
    def _check_amounts(self):
        for charge in self:
            label = charge._msp_label()
            if charge.quantity <= 0:
                raise ValidationError(
                    self.env._(
                        "Charge %(charge)s: the quantity must be positive; enter a quantity "
                        "above 0.",
                        charge=label,
                    )
                )
            if charge.price_unit < 0:
                raise ValidationError(
                    self.env._(
                        "Charge %(charge)s: the unit price cannot be negative; credit the "
                        "customer with a credit note instead.",
                        charge=label,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("partner_id"):
                partner = self.env["res.partner"].browse(vals["partner_id"])
                vals["partner_id"] = partner.commercial_partner_id.id
        return super().create(vals_list)

    def write(self, vals):
        if set(vals) - {"invoice_line_id", "state"}:
            self._check_not_billed_on_posted()
            if "partner_id" in vals and self.filtered("invoice_line_id"):
                raise UserError(self.env._("An invoiced charge cannot move to another customer."))
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_invoiced(self):
        self._check_not_billed_on_posted()

    def _check_not_billed_on_posted(self):
        self.sudo().invoice_line_id.move_id._msp_check_not_posted(self.env._("This charge"))
