from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import MspBillingCommon


@tagged("post_install", "-at_install")
class TestFoundation(MspBillingCommon):
    def test_module_installed_as_revenue_app(self):
        module = self.env["ir.module.module"].search([("name", "=", "atlas_msp_billing")])
        self.assertEqual(module.state, "installed")
        self.assertTrue(module.application)
        root = self.env.ref("atlas_msp_billing.menu_msp_root")
        self.assertEqual(root.name, "Revenue")
        self.assertFalse(root.parent_id)
        self.assertEqual(root.web_icon, "atlas_msp_billing,static/description/icon.png")
        self.assertTrue(root.web_icon_data, "the app icon file must be found and loaded")

    def test_group_chain(self):
        technician = self.env.ref("atlas_msp_billing.group_msp_technician")
        account_manager = self.env.ref("atlas_msp_billing.group_msp_account_manager")
        billing_manager = self.env.ref("atlas_msp_billing.group_msp_billing_manager")
        category = self.env.ref("atlas_msp_billing.module_category_msp_billing")
        self.assertEqual((technician | account_manager | billing_manager).category_id, category)

        def implied(group):
            return group.trans_implied_ids

        self.assertIn(self.env.ref("base.group_user"), implied(technician))
        self.assertIn(self.env.ref("hr_timesheet.group_hr_timesheet_user"), implied(technician))
        self.assertIn(self.env.ref("project.group_project_user"), implied(technician))
        self.assertIn(technician, implied(account_manager))
        self.assertIn(self.env.ref("sales_team.group_sale_salesman"), implied(account_manager))
        self.assertIn(account_manager, implied(billing_manager))
        self.assertIn(technician, implied(billing_manager))
        self.assertIn(self.env.ref("account.group_account_invoice"), implied(billing_manager))
        approver = self.env.ref("hr_timesheet.group_hr_timesheet_approver")
        self.assertIn(approver, implied(billing_manager))
        self.assertNotIn(approver, implied(account_manager))
        # the chain only goes upwards
        self.assertNotIn(account_manager, implied(technician))
        self.assertNotIn(billing_manager, implied(account_manager))

        self.assertTrue(
            self.user_billing_manager.has_group("atlas_msp_billing.group_msp_technician")
        )
        self.assertTrue(self.user_billing_manager.has_group("sales_team.group_sale_salesman"))
        self.assertTrue(self.user_account_manager.has_group("hr_timesheet.group_hr_timesheet_user"))
        self.assertFalse(self.user_technician.has_group("sales_team.group_sale_salesman"))
        self.assertFalse(self.user_technician.has_group("account.group_account_invoice"))
        self.assertFalse(self.user_account_manager.has_group("account.group_account_invoice"))
        self.assertTrue(
            self.env.ref("base.user_admin").has_group("atlas_msp_billing.group_msp_billing_manager")
        )

    def _invoice_values(self):
        return {
            "move_type": "out_invoice",
            "partner_id": self.customer.id,
            "invoice_line_ids": [(0, 0, {"name": "Support", "quantity": 1, "price_unit": 100})],
        }

    def test_technician_cannot_create_invoices(self):
        with self.assertRaises(AccessError):
            self.env["account.move"].with_user(self.user_technician).create(self._invoice_values())
        invoice = (
            self.env["account.move"]
            .with_user(self.user_billing_manager)
            .create(self._invoice_values())
        )
        self.assertEqual(invoice.amount_untaxed, 100)
        self.assertEqual(invoice.state, "draft")

    def _revenue_menus(self, user):
        """Leaf menus of the Revenue app that ``user`` sees, with actions."""
        menus = self.env["ir.ui.menu"].with_user(user).load_menus(debug=False)
        root_id = self.env.ref("atlas_msp_billing.menu_msp_root").id
        self.assertIn(root_id, menus["root"]["children"], f"{user.login} must see Revenue")
        leaves, todo = [], list(menus[root_id]["children"])
        while todo:
            menu = menus[todo.pop()]
            if menu["children"]:
                todo += menu["children"]
            else:
                leaves.append(menu)
        return leaves

    def test_menus_open_their_actions(self):
        expected = {
            self.user_technician: {"Customers", "My Time"},
            self.user_account_manager: {"Customers", "My Time", "Pipeline", "Quotes"},
            self.user_billing_manager: {
                "Customers",
                "My Time",
                "All Time",
                "Pipeline",
                "Quotes",
                "Invoices",
            },
        }
        for user, names in expected.items():
            with self.subTest(user=user.login):
                leaves = self._revenue_menus(user)
                self.assertLessEqual(names, {m["name"] for m in leaves})
                for menu in leaves:
                    self.assertTrue(menu["action"], f"menu {menu['name']} has no action")
                    model, action_id = menu["action"].split(",")
                    action = self.env[model].browse(int(action_id))
                    if model == "ir.actions.client":
                        # The Revenue dashboard: its figures are tested on their own.
                        self.assertEqual(action.tag, "atlas_msp_billing.revenue_dashboard")
                        continue
                    if model == "ir.actions.server":
                        # Revenue settings: the server action opens a window of its own.
                        window = action.with_user(user).run()
                        records = self.env[window["res_model"]].with_user(user)
                        [(view_id, mode)] = window["views"]
                        self.assertTrue(records.get_views([(view_id, mode)])["views"][mode])
                        records.browse(window["res_id"]).read(["name"])
                        continue
                    self._check_action_loads(user, action)

    def _check_action_loads(self, user, action):
        records = self.env[action.res_model].with_user(user)
        views = [(view.view_id.id, view.view_mode) for view in action.view_ids]
        modes = {mode for _view_id, mode in views}
        views += [(False, mode) for mode in action.view_mode.split(",") if mode not in modes]
        views.append((action.search_view_id.id, "search"))
        result = records.get_views(views, {"load_filters": True})
        for _view_id, mode in views:
            self.assertIn(mode, result["views"], f"{action.name}: no {mode} view")
            self.assertTrue(result["views"][mode]["arch"])
        records.search_count([])
