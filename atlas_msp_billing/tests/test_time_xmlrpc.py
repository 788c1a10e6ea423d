from xmlrpc.client import Fault

from odoo.tests import HttpCase, tagged

from .common import MspBillingCase


@tagged("post_install", "-at_install")
class TestTimeByXmlRpc(HttpCase, MspBillingCase):
    """What a technician's script does over XML-RPC: the same defaults,
    refusals and alerts as the UI."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.retainer = cls.create_retainer(date_start="2026-11-01", included_hours=2.0)
        cls.adhoc_customer = cls.env["res.partner"].create(
            {"name": "Walk-in Clinic", "is_company": True}
        )
        cls.adhoc_project = cls.env["project.project"].create(
            {"name": "Walk-in Clinic – Projects", "partner_id": cls.adhoc_customer.id}
        )

    def call(self, model, method, *args, **kwargs):
        login = self.user_technician.login
        return self.xmlrpc_object.execute_kw(
            self.env.cr.dbname, self.user_technician.id, login, model, method, list(args), kwargs
        )

    def entry_values(self, project, hours, **values):
        return {
            "name": "Remote session",
            "project_id": project.id,
            "date": "2026-11-12",
            "unit_amount": hours,
            **values,
        }

    def test_defaults_refusal_and_alerts(self):
        retainer_id = self.call(
            "account.analytic.line", "create", self.entry_values(self.project, 1.75)
        )
        adhoc_id = self.call(
            "account.analytic.line", "create", self.entry_values(self.adhoc_project, 1.0)
        )
        self.env.invalidate_all()
        Timesheet = self.env["account.analytic.line"]
        retainer_time, adhoc_time = Timesheet.browse(retainer_id), Timesheet.browse(adhoc_id)
        self.assertEqual(retainer_time.msp_billing_category, "retainer")
        self.assertEqual(retainer_time.msp_retainer_id, self.retainer)
        self.assertEqual(retainer_time.employee_id, self.employee)
        self.assertEqual(adhoc_time.msp_billing_category, "adhoc")
        # 1.75 h of 2 h: the 80 % alert went out with the request's transaction.
        alert_type = self.env.ref("atlas_msp_billing.mail_activity_type_msp_usage_alert")
        alerts = self.retainer.activity_ids.filtered(lambda a: a.activity_type_id == alert_type)
        self.assertEqual(len(alerts), 1)
        with self.assertRaisesRegex(Fault, "Walk-in Clinic has no active retainer covering"):
            self.call(
                "account.analytic.line",
                "create",
                self.entry_values(self.adhoc_project, 1.0, msp_billing_category="retainer"),
            )
        self.assertEqual(Timesheet.search_count([("project_id", "=", self.adhoc_project.id)]), 1)

    def test_bulk_entry_all_or_nothing(self):
        lines = [
            (
                0,
                0,
                {
                    "task_id": self.task_a.id,
                    "date": "2026-11-12",
                    "unit_amount": 1.0,
                    "name": "Patching",
                },
            ),
            (
                0,
                0,
                {
                    "task_id": self.task_b.id,
                    "date": "2026-11-12",
                    "unit_amount": 30.0,
                    "name": "Too long",
                },
            ),
        ]
        wizard_id = self.call(
            "msp.timesheet.bulk", "create", {"employee_id": self.employee.id, "line_ids": lines}
        )
        with self.assertRaisesRegex(Fault, "Line 2 .*from 0 to 24"):
            self.call("msp.timesheet.bulk", "action_log_time", [wizard_id])
        self.assertFalse(
            self.env["account.analytic.line"].search_count([("project_id", "=", self.project.id)])
        )
