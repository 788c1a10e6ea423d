from odoo.exceptions import AccessError, ValidationError
from odoo.tests import Form, tagged

from .common import MspBillingCommon


@tagged("post_install", "-at_install")
class TestRevenueSettings(MspBillingCommon):
    """Billing managers own the Revenue settings without being Odoo administrators."""

    def settings_form(self, user):
        company = self.env.company.with_user(user)
        action = company._msp_action_settings()
        self.assertEqual((action["res_model"], action["res_id"]), ("res.company", company.id))
        return Form(company, view=action["views"][0][0])

    def test_billing_manager_changes_the_revenue_settings(self):
        self.assertFalse(self.user_billing_manager.has_group("base.group_system"))
        settings = self.settings_form(self.user_billing_manager)
        settings.msp_timer_rounding = 15
        settings.msp_timer_minimum = 30
        settings.msp_invoice_sla_summary = True
        settings.msp_invoice_payment_note = "<p>Quote the invoice number.</p>"
        settings.save()
        company = self.env.company
        self.assertEqual((company.msp_timer_rounding, company.msp_timer_minimum), (15, 30))
        self.assertTrue(company.msp_invoice_sla_summary)
        self.assertIn("Quote the invoice number", company.msp_invoice_payment_note)

    def test_other_company_fields_stay_administrators(self):
        company = self.env.company.with_user(self.user_billing_manager)
        with self.assertRaisesText(AccessError, "Only administrators can change"):
            company.write({"name": "Renamed", "msp_timer_rounding": 5})
        self.assertNotEqual(self.env.company.name, "Renamed")

    def test_other_roles_are_refused(self):
        for user in (self.user_technician, self.user_account_manager):
            company = self.env.company.with_user(user)
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                company._msp_action_settings()
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                company.write({"msp_timer_rounding": 5})
        self.assertEqual(self.env.company.msp_timer_rounding, 1)

    def test_bad_settings_are_refused(self):
        settings = self.settings_form(self.user_billing_manager)
        settings.msp_timer_rounding = 0
        with self.assertRaisesText(ValidationError, "at least 1 minute"):
            settings.save()
