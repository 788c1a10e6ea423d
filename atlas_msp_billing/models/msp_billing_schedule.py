from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import float_compare


class MspBillingSchedule(models.Model):
    """When each part of a confirmed quote is invoiced: on a milestone (Odoo's
    milestone invoicing does the billing) or on a date (the line's quantity
    to invoice grows as its dates come)."""

    _name = "msp.billing.schedule"
    _description = "Project Billing Schedule Line"
    _order = "order_id, sequence, date, id"
    _check_company_auto = True

    sequence = fields.Integer(default=10)
    sale_line_id = fields.Many2one(
        "sale.order.line",
        string="Quote Line",
        required=True,
        ondelete="cascade",
        index=True,
        check_company=True,
        domain="[('order_id', '=', order_id), ('display_type', '=', False)]",
    )
    order_id = fields.Many2one(
        "sale.order",
        string="Sale Order",
        compute="_compute_order_id",
        store=True,
        readonly=False,
        index=True,
    )
    partner_id = fields.Many2one(related="order_id.partner_id", string="Customer")
    company_id = fields.Many2one(related="sale_line_id.company_id", store=True)
    currency_id = fields.Many2one(related="sale_line_id.currency_id")
    project_id = fields.Many2one(
        "project.project", compute="_compute_project_id", store=True, index=True
    )
    name = fields.Char(
        string="Description",
        compute="_compute_name",
        store=True,
        readonly=False,
        precompute=True,
    )
    trigger = fields.Selection(
        [("milestone", "Milestone reached"), ("date", "On date")],
        string="Invoiced",
        required=True,
        default="date",
    )
    milestone_id = fields.Many2one(
        "project.milestone",
        domain="[('sale_line_id', '=', sale_line_id)]",
        ondelete="cascade",
    )
    date = fields.Date(help="From this day on, the amount can be invoiced.")
    amount = fields.Monetary(
        compute="_compute_amount",
        store=True,
        readonly=False,
        precompute=True,
        help="Untaxed amount invoiced at this step. A milestone's is its share of the quote line.",
    )
    is_due = fields.Boolean(
        string="Invoiceable",
        compute="_compute_is_due",
        store=True,
        help="The milestone is reached, or the date has come.",
    )
    state = fields.Selection(
        [("planned", "Planned"), ("to_invoice", "To Invoice"), ("invoiced", "Invoiced")],
        compute="_compute_state",
    )

    @api.depends("sale_line_id")
    def _compute_order_id(self):
        for schedule in self:
            schedule.order_id = schedule.sale_line_id.order_id

    @api.depends(
        "milestone_id.project_id",
        "sale_line_id.project_id",
        "sale_line_id.task_id.project_id",
        "order_id.project_id",
    )
    def _compute_project_id(self):
        for schedule in self:
            line = schedule.sale_line_id
            schedule.project_id = (
                schedule.milestone_id.project_id
                or line.project_id
                or line.task_id.project_id
                or schedule.order_id.project_id
            )

    @api.depends("milestone_id.name", "sale_line_id.name")
    def _compute_name(self):
        for schedule in self:
            # Line descriptions run over several lines; the title says it all.
            source = schedule.milestone_id.name or schedule.name or schedule.sale_line_id.name
            schedule.name = (source or "").split("\n")[0]

    @api.depends("trigger", "milestone_id.quantity_percentage", "sale_line_id.price_subtotal")
    def _compute_amount(self):
        for schedule in self:
            if schedule.trigger == "milestone" and schedule.milestone_id:
                schedule.amount = schedule.currency_id.round(
                    schedule.sale_line_id.price_subtotal * schedule.milestone_id.quantity_percentage
                )
            elif not schedule.amount:
                schedule.amount = 0.0

    @api.depends("trigger", "date", "milestone_id.is_reached")
    def _compute_is_due(self):
        today = self.env.company._msp_today()
        for schedule in self:
            if schedule.trigger == "milestone":
                schedule.is_due = schedule.milestone_id.is_reached
            else:
                schedule.is_due = bool(schedule.date) and schedule.date <= today

    @api.depends("is_due", "amount", "sale_line_id.untaxed_amount_invoiced")
    def _compute_state(self):
        """The line's invoiced amount covers its schedule in order, due steps
        first. Read as superuser: a salesman limited to their own orders still
        sees the schedule lines a project shows them."""
        states = {}
        for line in self.sudo().sale_line_id:
            invoiced = line.untaxed_amount_invoiced
            steps = line.msp_schedule_ids.sorted(
                lambda s: (not s.is_due, s.sequence, s.date or fields.Date.today(), s.id)
            )
            for step in steps:
                rounding = step.currency_id.rounding or 0.01
                if float_compare(invoiced, step.amount, precision_rounding=rounding) >= 0:
                    invoiced -= step.amount
                    states[step.id] = "invoiced"
                else:
                    invoiced = 0.0
                    states[step.id] = "to_invoice" if step.is_due else "planned"
        for schedule in self:
            schedule.state = states.get(schedule.id, "planned")

    @api.constrains("trigger", "milestone_id", "date", "amount", "sale_line_id")
    def _check_schedule(self):
        for schedule in self:
            line = schedule.sale_line_id
            if schedule.amount < 0:
                raise ValidationError(
                    self.env._(
                        "%(step)s: the amount of a billing step cannot be negative.",
                        step=schedule.name,
                    )
                )
            if schedule.trigger == "milestone":
                if not schedule.milestone_id or schedule.milestone_id.sale_line_id != line:
                    raise ValidationError(
                        self.env._(
                            "%(step)s: choose a milestone of the quote line %(line)s.",
                            step=schedule.name,
                            line=line.display_name,
                        )
                    )
            else:
                if not schedule.date:
                    raise ValidationError(
                        self.env._("%(step)s: set the date it is invoiced.", step=schedule.name)
                    )
                if line.product_id.invoice_policy != "order" or line.product_id.msp_is_retainer:
                    raise ValidationError(
                        self.env._(
                            "%(line)s is invoiced on its milestones or the time logged: only "
                            "lines invoiced on order can be scheduled by date.",
                            line=line.display_name,
                        )
                    )
        for line in self.sale_line_id:
            total = sum(line.msp_schedule_ids.mapped("amount"))
            if float_compare(total, line.price_subtotal, precision_rounding=0.01) > 0:
                raise ValidationError(
                    self.env._(
                        "The billing schedule of %(line)s adds up to %(total)s, more than the "
                        "line's %(subtotal)s.",
                        line=line.display_name,
                        total=total,
                        subtotal=line.price_subtotal,
                    )
                )

    @api.model
    def _cron_release_due_dates(self):
        """Dates pass without any write: release the steps whose day has come,
        which makes their amount invoiceable on the sale order."""
        steps = self.search(
            [
                ("trigger", "=", "date"),
                ("is_due", "=", False),
                ("date", "<=", self.env.company._msp_today()),
            ]
        )
        steps._compute_is_due()
