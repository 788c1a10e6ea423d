from odoo import fields, models


class MspSlaPolicy(models.Model):
    _name = "msp.sla.policy"
    _description = "SLA Policy"
    _order = "name"
    _check_company_auto = True

    name = fields.Char(required=True, translate=True)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    calendar_id = fields.Many2one(
        "resource.calendar",
        string="Business Hours",
        required=True,
        check_company=True,
        default=lambda self: self.env.company.resource_calendar_id,
        help="Response and resolution targets count the working hours of this calendar; "
        "its global leaves are holidays.",
    )
    line_ids = fields.One2many("msp.sla.policy.line", "policy_id", string="Targets", copy=True)

    def _get_line(self, priority):
        """The target of ``priority`` (empty when the policy sets none for it)."""
        self.ensure_one()
        return self.line_ids.filtered(lambda line: line.priority == priority)[:1]
