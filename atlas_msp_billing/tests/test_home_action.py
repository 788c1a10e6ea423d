from odoo.tests import tagged

from .common import MspBillingCommon


@tagged("post_install", "-at_install")
class TestHomeAction(MspBillingCommon):
    """Given a user of each role, when they open the Revenue app, then it
    opens on their home: open tickets assigned to them for a technician, the
    dashboard for account and billing managers."""

    def open_revenue(self, user):
        menu = self.env.ref("atlas_msp_billing.menu_msp_root")
        return menu.action.with_user(user).run()

    def test_technician_lands_on_their_open_tickets(self):
        action = self.open_revenue(self.user_technician)
        self.assertEqual(action["res_model"], "project.task")
        self.assertEqual(action["context"]["search_default_my_tickets"], 1)
        self.assertEqual(action["context"]["search_default_open"], 1)
        self.env["project.task"].with_user(self.user_technician).search_count([])

    def test_managers_land_on_the_dashboard(self):
        for user in (self.user_account_manager, self.user_billing_manager):
            with self.subTest(user=user.login):
                action = self.open_revenue(user)
                self.assertEqual(action["tag"], "atlas_msp_billing.revenue_dashboard")

    def test_revenue_screens_have_revenue_urls(self):
        """A reloaded quote, invoice or My Time names the app of its URL's
        action: those actions belong to Revenue's menus only."""
        Menu = self.env["ir.ui.menu"]
        for xmlid, path in (
            ("msp_quote_action", "revenue-quotes"),
            ("msp_invoice_action", "revenue-invoices"),
            ("msp_my_time_action", "revenue-my-time"),
        ):
            with self.subTest(action=xmlid):
                action = self.env.ref(f"atlas_msp_billing.{xmlid}")
                self.assertEqual(action.path, path)
                menus = Menu.search([("action", "=", f"ir.actions.act_window,{action.id}")])
                self.assertEqual(
                    menus.mapped(lambda m: m.parent_path.split("/")[0]),
                    [str(self.env.ref("atlas_msp_billing.menu_msp_root").id)],
                )
