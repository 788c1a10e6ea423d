from odoo import api, fields, models


class MspProductLineMixin(models.AbstractModel):
    """What a charge and a recurring service share: a product described as on
    a quote line, a quantity at a unit price, and their subtotal. The models
    declare ``product_id``, ``quantity``, ``price_unit``, ``currency_id`` and
    ``price_subtotal`` (computed by ``_compute_price_subtotal``) to their needs."""

    _name = "msp.product.line.mixin"
    _description = "MSP Product Line"

    name = fields.Char(
        string="Description",
        required=True,
        compute="_compute_name",
        store=True,
        readonly=False,
        precompute=True,
    )

    @api.depends("product_id")
    def _compute_name(self):
        for line in self:
            if line.product_id:
                line.name = line.product_id.get_product_multiline_description_sale()

    @api.depends("quantity", "price_unit", "currency_id")
    def _compute_price_subtotal(self):
        for line in self:
            currency = line.currency_id or self.env.company.currency_id
            line.price_subtotal = currency.round(line.quantity * line.price_unit)

    def _msp_label(self):
        """The description's first line: a product's sale description adds more."""
        return (self.name or self.product_id.display_name or "").strip().split("\n")[0]
