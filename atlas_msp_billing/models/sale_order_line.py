from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import float_is_zero
from odoo.tools.misc import format_date


class SaleOrderLine(models.Model):
    _inherit = "sale.order.line"

    msp_retainer_id = fields.Many2one(
        "msp.retainer",
        string="Retainer",
        copy=False,
        readonly=True,
        index="btree_not_null",
        help="The retainer this line started on confirmation, or whose recurring services it "
        "joined; its billing run invoices it every cycle, so this line is never invoiced by the "
        "order.",
    )
    msp_schedule_ids = fields.One2many(
        "msp.billing.schedule", "sale_line_id", string="Billing Schedule", copy=False
    )
    msp_invoicing_note = fields.Char(string="Invoicing", compute="_compute_msp_invoicing_note")

    @api.depends("product_id", "msp_retainer_id", "order_id.msp_has_retainer_line")
    def _compute_msp_invoicing_note(self):
        for line in self:
            line.msp_invoicing_note = line._msp_invoicing_note()

    def _msp_invoicing_note(self):
        """How this kind of line is invoiced, in the customer's words."""
        product = self.product_id
        if not product or self.display_type:
            return False
        if product.msp_is_retainer:
            if self.msp_retainer_id:
                return self.env._(
                    "Billed each cycle by retainer %s, not by this order.",
                    self.msp_retainer_id.name,
                )
            return self.env._("Starts a retainer on confirmation; billed each cycle by it.")
        if product.msp_is_recurring_service and (
            self.msp_retainer_id or self.order_id.msp_has_retainer_line
        ):
            return self._msp_recurring_service_note()
        notes = {
            "milestones": self.env._("Fixed price, invoiced when its milestone is reached."),
            "timesheet": self.env._("Estimate: invoiced on the hours actually logged."),
        }
        if product.service_type in notes:
            return notes[product.service_type]
        return self.env._("Invoiced on order.") if product.invoice_policy == "order" else False

    def _msp_recurring_service_note(self):
        if self.msp_retainer_id:
            return self.env._(
                "Recurring service of retainer %s, billed with its fee each cycle.",
                self.msp_retainer_id.name,
            )
        return self.env._("Recurring service of the retainer this quote starts, billed each cycle.")

    @api.depends(
        "product_id",
        "msp_retainer_id",
        "msp_schedule_ids.is_due",
        "msp_schedule_ids.amount",
        "price_subtotal",
    )
    def _compute_qty_to_invoice(self):
        res = super()._compute_qty_to_invoice()
        for line in self.filtered(lambda sol: sol.state == "sale" and not sol.display_type):
            if line.product_id.msp_is_retainer or line.msp_retainer_id:
                # The retainer's billing run bills it, cycle after cycle.
                line.qty_to_invoice = 0.0
            elif line.msp_schedule_ids.filtered(lambda s: s.trigger == "date"):
                line.qty_to_invoice = line._msp_scheduled_qty_due() - line.qty_invoiced
        return res

    def _msp_scheduled_qty_due(self):
        """Quantity due under the line's date schedule: the share of its
        subtotal whose date has come, plus whatever the schedule leaves out."""
        self.ensure_one()
        subtotal = self.price_subtotal
        if float_is_zero(subtotal, precision_rounding=self.currency_id.rounding or 0.01):
            return self.product_uom_qty
        not_due = sum(self.msp_schedule_ids.filtered(lambda s: not s.is_due).mapped("amount"))
        share = max(0.0, min(1.0, (subtotal - not_due) / subtotal))
        return self.product_uom_qty * share

    @api.depends("msp_retainer_id")
    def _compute_invoice_status(self):
        res = super()._compute_invoice_status()
        # Once its retainer exists the line is done as far as the order is
        # concerned, so the order can reach "Fully Invoiced".
        self.filtered(
            lambda sol: sol.state == "sale" and sol.msp_retainer_id
        ).invoice_status = "invoiced"
        return res

    @api.depends("msp_retainer_id")
    def _compute_untaxed_amount_to_invoice(self):
        res = super()._compute_untaxed_amount_to_invoice()
        self.filtered(
            lambda sol: sol.product_id.msp_is_retainer or sol.msp_retainer_id
        ).untaxed_amount_to_invoice = 0.0
        return res

    def _msp_retainer_values(self, date_start):
        self.ensure_one()
        product = self.product_id
        order = self.order_id
        adhoc = self.env["msp.billing.invoice"]._get_billing_product("adhoc")
        return {
            "partner_id": order.partner_id.commercial_partner_id.id,
            "company_id": order.company_id.id,
            "currency_id": order.currency_id.id,
            "user_id": order.user_id.id,
            "amount": self.price_subtotal,
            "billing_cycle": product.msp_billing_cycle,
            "included_hours": product.msp_included_hours * self.product_uom_qty,
            "overage_rate": product.currency_id._convert(
                product.msp_overage_rate,
                order.currency_id,
                order.company_id,
                date_start,
            ),
            "adhoc_rate": order.pricelist_id._get_product_price(adhoc, 1.0)
            if order.pricelist_id
            else adhoc.lst_price,
            "date_start": date_start,
        }

    def _msp_start_retainer(self, date_start):
        """Activate the customer's retainer from each retainer line: its draft
        retainer when it has one (prepared by hand), else a new one."""
        Retainer = self.env["msp.retainer"].sudo()
        for line in self.filtered(lambda sol: not sol.msp_retainer_id):
            values = line._msp_retainer_values(date_start)
            retainer = Retainer.search(
                [
                    ("partner_id", "=", values["partner_id"]),
                    ("company_id", "=", values["company_id"]),
                    ("state", "=", "draft"),
                    ("period_ids", "=", False),
                ],
                limit=1,
            )
            line._msp_check_no_overlap(values, retainer)
            if retainer:
                retainer.write(values)
            else:
                retainer = Retainer.create(values)
            line.order_id.order_line._msp_add_recurring_services(retainer)
            retainer.action_activate()
            retainer.message_post(
                body=self.env._(
                    "Started by the confirmation of %s.", line.order_id._get_html_link()
                )
            )
            line.msp_retainer_id = retainer

    def _msp_add_recurring_services(self, retainer):
        """The recurring services among these quote lines become recurring
        services of ``retainer`` (rule 11), which bills them from now on."""
        lines = self.filtered(
            lambda sol: (
                sol.product_id.msp_is_recurring_service
                and not sol.display_type
                and not sol.msp_retainer_id
            )
        )
        self.env["msp.retainer.line"].sudo().create(
            [
                {
                    "retainer_id": retainer.id,
                    "product_id": sol.product_id.id,
                    "name": sol.name,
                    "quantity": sol.product_uom_qty,
                    # The quote's price after discount, taxes excluded, like the fee.
                    "price_unit": sol.price_reduce_taxexcl,
                    "sale_line_id": sol.id,
                }
                for sol in lines
            ]
        )
        lines.msp_retainer_id = retainer

    def _msp_check_no_overlap(self, values, draft):
        """Refuse, before anything is written, a retainer that would overlap the
        customer's active one, saying what to change on the quotation: the
        retainer the refused confirmation would create never exists."""
        self.ensure_one()
        Retainer = self.env["msp.retainer"].sudo()
        customer = self.env["res.partner"].browse(values["partner_id"])
        other = Retainer._msp_overlapping(customer, values["date_start"], draft.date_end, draft)
        if other:
            raise ValidationError(
                self.env._(
                    "%(customer)s already has active retainer %(other)s (%(dates)s) covering "
                    "%(start)s, the start of the retainer this quotation starts: set the "
                    "quotation's Retainer Start to a day that retainer does not cover, or "
                    "close %(other)s first.",
                    customer=customer.display_name,
                    other=other.name,
                    dates=other._msp_dates_label(),
                    start=format_date(self.env, values["date_start"]),
                )
            )
