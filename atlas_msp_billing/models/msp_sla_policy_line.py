from odoo import api, fields, models
from odoo.exceptions import ValidationError

TICKET_PRIORITIES = [
    ("low", "Low"),
    ("normal", "Normal"),
    ("high", "High"),
    ("urgent", "Urgent"),
]


def check_priority(env, priority):
    """Refuse a ticket priority that is not one of TICKET_PRIORITIES, saying which
    ones are (the ORM's own error names the field's technical name only)."""
    if priority and priority not in dict(TICKET_PRIORITIES):
        raise ValidationError(
            env._(
                "Unknown ticket priority %(priority)r: use one of %(allowed)s.",
                priority=priority,
                allowed=", ".join(dict(TICKET_PRIORITIES)),
            )
        )


class MspSlaPolicyLine(models.Model):
    _name = "msp.sla.policy.line"
    _description = "SLA Target"
    # The shortest targets are the most urgent ones: they come first.
    _order = "policy_id, response_hours, resolution_hours, id"

    policy_id = fields.Many2one("msp.sla.policy", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="policy_id.company_id", store=True)
    priority = fields.Selection(TICKET_PRIORITIES, required=True)
    response_hours = fields.Float(
        string="Response (business hours)",
        required=True,
        help="Business hours from the ticket's creation to the first reply to the customer.",
    )
    resolution_hours = fields.Float(
        string="Resolution (business hours)",
        required=True,
        help="Business hours from the ticket's creation to its resolution.",
    )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            check_priority(self.env, vals.get("priority"))
        return super().create(vals_list)

    def write(self, vals):
        check_priority(self.env, vals.get("priority"))
        return super().write(vals)

    @api.constrains("response_hours", "resolution_hours")
    def _check_hours(self):
        for line in self:
            if line.response_hours < 0 or line.resolution_hours < 0:
                raise ValidationError(
                    self.env._(
                        "The targets of %(policy)s cannot be negative: enter the response and "
                        "resolution times in business hours, 0 or more.",
                        policy=line.policy_id.display_name,
                    )
                )
            if line.resolution_hours < line.response_hours:
                raise ValidationError(
                    self.env._(
                        "In %(policy)s, the %(priority)s priority must allow at least as much "
                        "time to resolve a ticket (%(resolution)s h) as to answer it "
                        "(%(response)s h).",
                        policy=line.policy_id.display_name,
                        priority=line._priority_label(line.priority),
                        resolution=line.resolution_hours,
                        response=line.response_hours,
                    )
                )

    # A Python check rather than a unique index, so that every path (form,
    # import, XML-RPC) gets a ValidationError naming the priority.
    @api.constrains("policy_id", "priority")
    def _check_one_line_per_priority(self):
        duplicates = self._read_group(
            [("policy_id", "in", self.policy_id.ids)],
            ["policy_id", "priority"],
            having=[("__count", ">", 1)],
        )
        if duplicates:
            policy, priority = duplicates[0]
            raise ValidationError(
                self.env._(
                    "%(policy)s has more than one target for the %(priority)s priority: keep "
                    "one line per priority.",
                    policy=policy.display_name,
                    priority=self._priority_label(priority),
                )
            )

    @api.model
    def _priority_label(self, priority):
        return dict(self._fields["priority"]._description_selection(self.env))[priority]
