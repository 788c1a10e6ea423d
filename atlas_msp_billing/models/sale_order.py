from odoo import api, fields, models

from ..utils.roles import msp_role


class SaleOrder(models.Model):
    _inherit = "sale.order"

    msp_retainer_start_date = fields.Date(
        string="Retainer Start",
        copy=False,
        help="First day of the retainer its retainer lines start; empty: the confirmation date.",
    )
    msp_has_retainer_line = fields.Boolean(compute="_compute_msp_retainer_ids")
    msp_retainer_ids = fields.Many2many(
        "msp.retainer", string="Retainers", compute="_compute_msp_retainer_ids"
    )
    msp_retainer_count = fields.Integer(compute="_compute_msp_retainer_ids")
    msp_schedule_ids = fields.One2many(
        "msp.billing.schedule", "order_id", string="Billing Schedule", copy=False
    )
    msp_schedule_count = fields.Integer(compute="_compute_msp_schedule_count")

    @api.depends("order_line.product_id", "order_line.msp_retainer_id")
    def _compute_msp_retainer_ids(self):
        for order in self:
            retainer_lines = order.order_line.filtered("product_id.msp_is_retainer")
            order.msp_has_retainer_line = bool(retainer_lines)
            order.msp_retainer_ids = retainer_lines.msp_retainer_id
            order.msp_retainer_count = len(order.msp_retainer_ids)

    @api.depends("msp_schedule_ids")
    def _compute_msp_schedule_count(self):
        for order in self:
            order.msp_schedule_count = len(order.msp_schedule_ids)

    def _action_confirm(self):
        # Odoo's sale_project creates the project, tasks and milestones first:
        # the schedule is built from them.
        res = super()._action_confirm()
        for order in self:
            start = order.msp_retainer_start_date or order.company_id._msp_local_date(
                order.date_order
            )
            order.order_line.filtered("product_id.msp_is_retainer")._msp_start_retainer(start)
        self.filtered(
            lambda order: not order.sudo().msp_schedule_ids
        )._msp_create_billing_schedule()
        return res

    def _msp_create_billing_schedule(self):
        """One line per milestone of the fixed-price deliverables, and one on
        the confirmation date for what is invoiced on order (product costs);
        the milestones of all the orders are read at once."""
        lines = self.order_line.filtered(
            lambda sol: (
                not sol.display_type
                and not sol.product_id.msp_is_retainer
                # Recurring services of the retainer it started: billed by that retainer.
                and not sol.msp_retainer_id
                and not sol.is_downpayment
            )
        )
        Milestone = self.env["project.milestone"].sudo()
        milestones_by_line = Milestone.search(
            [("sale_line_id", "in", lines.ids)], order="deadline, id"
        ).grouped("sale_line_id")
        values = []
        for line in lines:
            milestones = milestones_by_line.get(line, Milestone)
            values += [
                {"sale_line_id": line.id, "trigger": "milestone", "milestone_id": milestone.id}
                for milestone in milestones
            ]
            if not milestones and line.product_id.invoice_policy == "order":
                values.append(
                    {
                        "sale_line_id": line.id,
                        "trigger": "date",
                        "date": line.company_id._msp_local_date(line.order_id.date_order),
                        "amount": line.price_subtotal,
                    }
                )
        self.env["msp.billing.schedule"].sudo().create(values)

    def action_quotation_sent(self):
        res = super().action_quotation_sent()
        self._msp_opportunity_proposal_sent()
        return res

    @api.returns("mail.message", lambda value: value.id)
    def message_post(self, **kwargs):
        # Sending the quote by email marks it sent through this context key
        # (Odoo's send wizard), without calling action_quotation_sent.
        if self.env.context.get("mark_so_as_sent"):
            self._msp_opportunity_proposal_sent()
        return super().message_post(**kwargs)

    def _msp_opportunity_proposal_sent(self):
        """The opportunity of a sent quote moves forward to Proposal Sent,
        never back (Negotiation stays Negotiation)."""
        stage = self.env.ref("crm.stage_lead3", raise_if_not_found=False)
        if not stage:
            return
        leads = self.opportunity_id.filtered(
            lambda lead: (
                lead.active and not lead.stage_id.is_won and lead.stage_id.sequence < stage.sequence
            )
        )
        leads.write({"stage_id": stage.id})

    @msp_role("account_manager")
    def action_view_msp_retainers(self):
        self.ensure_one()
        return self.msp_retainer_ids._get_records_action(
            name=self.env._("Retainers of %s", self.name)
        )

    @msp_role("salesperson")
    def action_view_msp_schedule(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "atlas_msp_billing.msp_billing_schedule_action"
        )
        action["domain"] = [("order_id", "=", self.id)]
        action["context"] = {"default_order_id": self.id, "search_default_group_sale_line": 1}
        return action
