from odoo.tests import TransactionCase, new_test_user

MSP_GROUPS = {
    "technician": "atlas_msp_billing.group_msp_technician",
    "account_manager": "atlas_msp_billing.group_msp_account_manager",
    "billing_manager": "atlas_msp_billing.group_msp_billing_manager",
}


def create_msp_users(env):
    """One user per MSP role (password = login), independent of demo data."""
    return {
        role: new_test_user(
            env,
            login=f"msp_test_{role}",
            name=f"Test {role.replace('_', ' ').title()}",
            groups=group,
            tour_enabled=False,
        )
        for role, group in MSP_GROUPS.items()
    }


class MspBillingCommon(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        users = create_msp_users(cls.env)
        cls.user_technician = users["technician"]
        cls.user_account_manager = users["account_manager"]
        cls.user_billing_manager = users["billing_manager"]
        cls.customer = cls.env["res.partner"].create(
            {"name": "Test Customer Inc.", "is_company": True}
        )
