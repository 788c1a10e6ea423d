from odoo import api, models
from odoo.tools.safe_eval import safe_eval

from ..utils.roles import ROLE_GROUPS

TICKETS_ACTION = "atlas_msp_billing.project_task_action_ticket"
DASHBOARD_ACTION = "atlas_msp_billing.msp_revenue_dashboard_action"


class ResUsers(models.Model):
    _inherit = "res.users"

    @api.model
    def _msp_home_action(self):
        """Where the Revenue app opens for the current user: the dashboard for
        those who own customers or billing, their open tickets for technicians
        (whose work is tickets and time, not customers' invoices)."""
        # The user's groups, not has_role: server actions run their code as superuser.
        if self.env.user.has_group(ROLE_GROUPS["account_manager"]):
            return self.env["ir.actions.actions"]._for_xml_id(DASHBOARD_ACTION)
        action = self.env["ir.actions.act_window"]._for_xml_id(TICKETS_ACTION)
        context = safe_eval(action.get("context") or "{}", {"uid": self.env.uid})
        action["context"] = {**context, "search_default_my_tickets": 1, "search_default_open": 1}
        return action
