from odoo import models


class ProductProduct(models.Model):
    _inherit = "product.product"

    def _msp_sale_price(self, pricelist, day, quantity=1.0):
        """This product's price for a customer: its pricelist's on ``day``, else
        the list price (charges, ad-hoc time of customers without a retainer)."""
        self.ensure_one()
        if pricelist:
            return pricelist._get_product_price(self, quantity, date=day)
        return self.lst_price
