from lxml import etree

from odoo.tests import Form, tagged
from odoo.tools.safe_eval import safe_eval

from .common import MspBillingCommon


@tagged("post_install", "-at_install")
class TestWinOnboardDefaults(MspBillingCommon):
    """Given an opportunity with an estimated MRR, when it is won and onboarded,
    then the wizard starts from the retainer plan's terms and the MRR, and
    warns when the terms would bill retainer time at nothing."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.plan = cls.env.ref("atlas_msp_billing.product_msp_retainer_plan").product_tmpl_id
        cls.plan.write(
            {"msp_billing_cycle": "monthly", "msp_included_hours": 10.0, "msp_overage_rate": 135.0}
        )
        cls.lead = (
            cls.env["crm.lead"]
            .with_user(cls.user_account_manager)
            .create(
                {
                    "name": "Managed IT",
                    "type": "opportunity",
                    "partner_name": "Bright Dental",
                    "msp_estimated_mrr": 1500.0,
                }
            )
        )

    def wizard_form(self):
        action = self.lead.action_msp_win_onboard()
        Wizard = (
            self.env["msp.win.onboard"]
            .with_user(self.user_account_manager)
            .with_context(**action["context"])
        )
        return Form(Wizard)

    def visible_warnings(self, wizard):
        arch = etree.fromstring(wizard.get_views([(False, "form")])["views"]["form"]["arch"])
        values = {"included_hours": wizard.included_hours, "overage_rate": wizard.overage_rate}
        return [
            " ".join(div.text.split())
            for div in arch.xpath("//div[hasclass('alert-warning')]")
            if not safe_eval(div.get("invisible", "False"), values)
        ]

    def test_monthly_defaults_from_plan_and_mrr(self):
        form = self.wizard_form()
        self.assertEqual(form.product_id, self.plan)
        self.assertEqual(form.billing_cycle, "monthly")
        self.assertEqual(form.amount, 1500.0)
        self.assertEqual(form.included_hours, 10.0)
        self.assertEqual(form.overage_rate, 135.0)
        wizard = form.save()
        self.assertFalse(self.visible_warnings(wizard))

    def test_quarterly_scales_fee_and_hours(self):
        form = self.wizard_form()
        form.billing_cycle = "quarterly"
        self.assertEqual(form.amount, 4500.0, "MRR x 3 months")
        self.assertEqual(form.included_hours, 30.0, "the plan's monthly hours x 3")
        self.assertEqual(form.overage_rate, 135.0, "an hourly rate does not scale")

    def test_plan_quoted_on_the_opportunity_wins(self):
        quoted = self.plan.copy({"name": "Gold Plan", "msp_included_hours": 25.0})
        self.env["sale.order"].create(
            {
                "partner_id": self.customer.id,
                "opportunity_id": self.lead.id,
                "order_line": [(0, 0, {"product_id": quoted.product_variant_id.id})],
            }
        )
        form = self.wizard_form()
        self.assertEqual(form.product_id, quoted)
        self.assertEqual(form.included_hours, 25.0)

    def test_warns_when_hours_or_rate_is_zero(self):
        form = self.wizard_form()
        form.included_hours = 0.0
        wizard = form.save()
        self.assertEqual(
            self.visible_warnings(wizard),
            ["No hours are included: all retainer time will be billed as overage."],
        )
        wizard.write({"included_hours": 5.0, "overage_rate": 0.0})
        self.assertEqual(len(self.visible_warnings(wizard)), 1)
        self.assertIn("overage rate is 0", self.visible_warnings(wizard)[0])

    def test_rpc_onboarding_defaults_missing_terms(self):
        retainer = self.lead.with_user(self.user_account_manager)._msp_win_onboard(
            {"billing_cycle": "quarterly", "date_start": "2026-03-01"}
        )
        self.assertRecordValues(
            retainer, [{"amount": 4500.0, "included_hours": 30.0, "overage_rate": 135.0}]
        )
