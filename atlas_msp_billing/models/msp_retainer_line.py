from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools.misc import formatLang

# The line fields whose changes the retainer's chatter records (rule 11).
TRACKED_FIELDS = ("product_id", "name", "quantity", "price_unit")


class MspRetainerLine(models.Model):
    """A recurring service of a retainer (managed endpoints, licences, backup
    storage): billed in advance with every period's fee, at the quantity and
    price in force when the invoice is drafted (rule 11)."""

    _name = "msp.retainer.line"
    _inherit = ["msp.product.line.mixin"]
    _description = "Retainer Recurring Service"
    _order = "retainer_id, sequence, id"
    _check_company_auto = True

    retainer_id = fields.Many2one(
        "msp.retainer", required=True, ondelete="cascade", index=True, readonly=True
    )
    sequence = fields.Integer(default=10)
    partner_id = fields.Many2one(related="retainer_id.partner_id", store=True, index=True)
    company_id = fields.Many2one(related="retainer_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="retainer_id.currency_id")
    product_id = fields.Many2one(
        "product.product",
        string="Service",
        required=True,
        check_company=True,
        domain="[('sale_ok', '=', True)]",
    )
    quantity = fields.Float(default=1.0, digits="Product Unit of Measure")
    price_unit = fields.Monetary(
        string="Unit Price",
        compute="_compute_price_unit",
        store=True,
        readonly=False,
        precompute=True,
    )
    # Stored: the revenue analysis sums it in SQL for the MRR.
    price_subtotal = fields.Monetary(
        string="Subtotal per Cycle", compute="_compute_price_subtotal", store=True
    )
    sale_line_id = fields.Many2one(
        "sale.order.line",
        string="Quote Line",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="The quote line this recurring service came from.",
    )

    @api.depends("product_id")
    def _compute_price_unit(self):
        """The customer's price of the product today, in the retainer's currency."""
        for line in self:
            if not line.product_id:
                continue
            retainer = line.retainer_id
            company = retainer.company_id or self.env.company
            today = company._msp_today()
            pricelist = retainer.partner_id.property_product_pricelist
            price = line.product_id._msp_sale_price(pricelist, today, line.quantity or 1.0)
            source = pricelist.currency_id or line.product_id.currency_id
            currency = line.currency_id or company.currency_id
            line.price_unit = source._convert(price, currency, company, today)

    # ------------------------------------------------------------------
    # Validation
    # ------------------------------------------------------------------
    # The messages name the customer, never the retainer's reference: a retainer
    # created together with its lines does not exist once the create is refused.
    @api.constrains("quantity", "price_unit")
    def _check_non_negative(self):
        for line in self:
            for field_name in ("quantity", "price_unit"):
                if line[field_name] < 0:
                    raise ValidationError(
                        self.env._(
                            "Recurring service %(service)s on the retainer of %(customer)s: the "
                            "%(field)s cannot be negative (%(value)s); enter 0 or more.",
                            service=line._msp_label(),
                            customer=line.retainer_id.partner_id.display_name,
                            field=line._fields[field_name]._description_string(self.env).lower(),
                            value=line[field_name],
                        )
                    )

    # ------------------------------------------------------------------
    # Billing (rule 11)
    # ------------------------------------------------------------------
    def _get_period_price_unit(self, period):
        """The unit price this line bills for ``period``: prorated with the fee
        when the period is partial (same ratio, rounded to the currency)."""
        self.ensure_one()
        if not period.is_partial:
            return self.price_unit
        ratio = self.retainer_id._period_ratio(period.date_start, period.date_end)
        return self.currency_id.round(self.price_unit * ratio)

    # ------------------------------------------------------------------
    # ORM: changes are posted on the retainer's chatter
    # ------------------------------------------------------------------
    @api.model_create_multi
    def create(self, vals_list):
        lines = super().create(vals_list)
        for line in lines:
            line._msp_post_change(self.env._("Recurring service added: %s.", line._msp_summary()))
        return lines

    def write(self, vals):
        tracked = [f for f in TRACKED_FIELDS if f in vals]
        before = {line: line._msp_tracked_values() for line in self} if tracked else {}
        res = super().write(vals)
        for line, old in before.items():
            changes = line._msp_describe_changes(old, line._msp_tracked_values())
            if changes:
                line._msp_post_change(
                    self.env._(
                        "Recurring service %(service)s changed: %(changes)s. It applies from "
                        "the next invoice.",
                        service=line._msp_label(),
                        changes="; ".join(changes),
                    )
                )
        return res

    def unlink(self):
        for line in self:
            line._msp_post_change(self.env._("Recurring service removed: %s.", line._msp_summary()))
        return super().unlink()

    def _msp_tracked_values(self):
        return {
            "product_id": self.product_id.display_name,
            "name": self._msp_label(),
            "quantity": self._msp_format_quantity(),
            "price_unit": formatLang(self.env, self.price_unit, currency_obj=self.currency_id),
        }

    def _msp_describe_changes(self, old, new):
        return [
            self.env._(
                "%(field)s %(old)s → %(new)s",
                field=self._fields[name]._description_string(self.env).lower(),
                old=old[name],
                new=new[name],
            )
            for name in TRACKED_FIELDS
            if old[name] != new[name]
        ]

    def _msp_format_quantity(self):
        return formatLang(self.env, self.quantity, dp="Product Unit of Measure")

    def _msp_summary(self):
        return self.env._(
            "%(service)s, quantity %(quantity)s at %(price)s",
            quantity=self._msp_format_quantity(),
            service=self._msp_label(),
            price=formatLang(self.env, self.price_unit, currency_obj=self.currency_id),
        )

    def _msp_post_change(self, body):
        """A note on the retainer once it bills: the set-up of a draft retainer
        is no change to its customer's invoices."""
        if self.env.context.get("tracking_disable") or self.env.context.get("mail_notrack"):
            return
        retainer = self.retainer_id
        if retainer.state != "draft":
            retainer.sudo().message_post(body=body, subtype_xmlid="mail.mt_note")
