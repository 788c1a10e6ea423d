from odoo.tests import HttpCase, tagged

from .common import create_msp_users

CLICKBOT = (
    "odoo.loader.modules.get('@web/webclient/clickbot/clickbot_loader')"
    ".startClickEverywhere('atlas_msp_billing.menu_msp_root');"
)


@tagged("post_install", "-at_install")
class TestRevenueAppUi(HttpCase):
    """Odoo's click-everywhere bot opens every menu, view and filter of the
    Revenue app in a real browser; any error in the client fails the test.
    The billing manager sees every menu of the app; what the other roles see
    is checked without a browser in test_foundation."""

    allow_end_on_form = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.users = create_msp_users(cls.env)

    def test_revenue_app_as_billing_manager(self):
        user = self.users["billing_manager"]
        self.browser_js(
            "/odoo",
            CLICKBOT,
            "odoo.isReady === true",
            login=user.login,
            timeout=600,
            success_signal="clickbot test succeeded",
        )
