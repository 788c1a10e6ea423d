from datetime import timedelta

from dateutil.relativedelta import relativedelta

from odoo.tests import HttpCase, new_test_user, tagged

from .common import MspBillingCase


@tagged("post_install", "-at_install")
class TestRetainerPortal(MspBillingCase, HttpCase):
    """A customer's contact follows its company's retainer on the portal.

    The portal reads "today" from the clock (a request has no ``msp_date``):
    the periods are last month and this month."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        today = cls.env.company._msp_today()
        this_month = today.replace(day=1)
        last_month = this_month - relativedelta(months=1)
        cls.contact = cls.env["res.partner"].create(
            {"name": "Pat Portal", "parent_id": cls.customer.id, "email": "pat@example.com"}
        )
        cls.portal_user = new_test_user(
            cls.env, login="msp_portal_pat", groups="base.group_portal", partner_id=cls.contact.id
        )
        cls.retainer = cls.create_retainer(date_start=last_month - relativedelta(months=1))
        # Last month: 12 h of 10 (2 h over at 120); this month: 4 h of 10.
        cls.log_time(8.5, last_month + timedelta(days=3), name="Replace the core switch")
        cls.log_time(
            3.5, last_month + timedelta(days=5), task=cls.task_b, name="Reset the VPN keys"
        )
        # Neither counts against the included hours: not on the period's page.
        cls.log_time(2.0, last_month + timedelta(days=6), category="adhoc", name="Move an office")
        cls.log_time(
            1.0, last_month + timedelta(days=7), category="non_billable", name="Internal training"
        )
        cls.log_time(4.0, this_month, name="Renew the certificates")
        cls.invoices = cls.env["msp.billing"]._invoice_retainers(cls.retainer, today)
        cls.posted = cls.invoices.sorted("invoice_date")[0]
        cls.posted.action_post()
        cls.last_period = cls.retainer.period_ids.filtered(
            lambda period: period.date_start == last_month
        )

        cls.other_customer = cls.env["res.partner"].create(
            {"name": "Other Customer Ltd", "is_company": True}
        )
        cls.other_retainer = cls.create_retainer(partner_id=cls.other_customer.id)

    def period_url(self, retainer, period):
        return f"/my/retainers/{retainer.id}/periods/{period.id}"

    def test_retainer_list(self):
        self.authenticate("msp_portal_pat", "msp_portal_pat")
        response = self.url_open("/my/retainers")
        self.assertEqual(response.status_code, 200)
        self.assertIn(self.retainer.name, response.text)
        self.assertIn(f'href="/my/retainers/{self.retainer.id}"', response.text)
        self.assertNotIn(self.other_retainer.name, response.text)
        self.assertIn("4.00 / 10.00 h", response.text)
        self.assertIn("40 %", response.text)

    def test_retainer_detail(self):
        self.authenticate("msp_portal_pat", "msp_portal_pat")
        response = self.url_open(f"/my/retainers/{self.retainer.id}")
        self.assertEqual(response.status_code, 200)
        page = response.text
        self.assertIn('href="/my/retainers"', page)  # breadcrumb
        # Current period: 10 h included, 4 used, 6 remaining, 40 %.
        for text in ("10.00 h", "4.00 h", "6.00 h", "40 %"):
            self.assertIn(text, page)
        # Ledger: last month's 12 h and 2 h over.
        self.assertIn("12.00 h", page)
        self.assertIn("2.00 h", page)
        self.assertEqual(page.count('class="o_msp_portal_period"'), 3)
        # Each period opens its time entries.
        for period in self.retainer.period_ids:
            self.assertIn(f'href="{self.period_url(self.retainer, period)}"', page)
        # The posted invoice links to Odoo's invoice page; drafts do not.
        self.assertIn(f'href="/my/invoices/{self.posted.id}"', page)
        for draft in self.invoices - self.posted:
            self.assertNotIn(f"/my/invoices/{draft.id}", page)
        self.assertIn("Being prepared", page)

    def test_other_customer_retainer_refused(self):
        self.authenticate("msp_portal_pat", "msp_portal_pat")
        response = self.url_open(f"/my/retainers/{self.other_retainer.id}")
        self.assertEqual(response.status_code, 403)
        self.assertNotIn(self.other_retainer.name, response.text)
        missing = self.env["msp.retainer"].search([], order="id desc", limit=1).id + 1000
        self.assertEqual(self.url_open(f"/my/retainers/{missing}").status_code, 404)

    def test_period_time_entries(self):
        self.authenticate("msp_portal_pat", "msp_portal_pat")
        response = self.url_open(self.period_url(self.retainer, self.last_period))
        self.assertEqual(response.status_code, 200)
        page = response.text
        self.assertEqual(page.count('class="o_msp_portal_time_entry"'), 2)
        for text in (
            "Replace the core switch",
            "Reset the VPN keys",
            self.task_a.name,
            self.task_b.name,
            self.employee.name,
            "8.50 h",
            "3.50 h",
        ):
            self.assertIn(text, page)
        for text in ("Move an office", "Internal training", "Renew the certificates"):
            self.assertNotIn(text, page)
        # Totals: 10 h included, 12 used, none remaining, 2 over.
        self.assertIn('<div class="fs-4 fw-bold o_msp_included">10.00 h</div>', page)
        self.assertIn('<div class="fs-4 fw-bold o_msp_used">12.00 h</div>', page)
        self.assertIn('<div class="fs-4 fw-bold o_msp_remaining">0.00 h</div>', page)
        self.assertIn("o_msp_overage text-danger", page)
        self.assertIn("240.00", page)  # 2 h at 120
        # Breadcrumbs lead back to the retainer and the list.
        self.assertIn(f'href="/my/retainers/{self.retainer.id}"', page)
        self.assertIn('href="/my/retainers"', page)

    def test_other_customer_period_refused(self):
        self.authenticate("msp_portal_pat", "msp_portal_pat")
        other_period = self.other_retainer.period_ids[:1]
        self.assertTrue(other_period)
        response = self.url_open(self.period_url(self.other_retainer, other_period))
        self.assertEqual(response.status_code, 403)
        self.assertNotIn(self.other_retainer.name, response.text)
        # Another retainer's period under one's own retainer is no period of it.
        response = self.url_open(self.period_url(self.retainer, other_period))
        self.assertEqual(response.status_code, 404)

    def test_access_token(self):
        """A shared link (portal.mixin's token) opens the retainer and its
        periods without an account; without it, the visitor is asked to log in."""
        self.assertEqual(self.retainer.access_url, f"/my/retainers/{self.retainer.id}")
        url = self.retainer.get_portal_url()
        self.assertIn("access_token=", url)
        response = self.url_open(url)
        self.assertEqual(response.status_code, 200)
        self.assertIn(self.retainer.name, response.text)
        token = self.retainer.access_token
        period_link = f"{self.period_url(self.retainer, self.last_period)}?access_token={token}"
        self.assertIn(period_link, response.text)
        response = self.url_open(period_link)
        self.assertEqual(response.status_code, 200)
        self.assertIn("Replace the core switch", response.text)
        for refused in (
            f"/my/retainers/{self.retainer.id}",
            f"/my/retainers/{self.retainer.id}?access_token=wrong",
            f"{self.period_url(self.retainer, self.last_period)}?access_token=wrong",
            f"/my/retainers/{self.other_retainer.id}?access_token={token}",
        ):
            response = self.url_open(refused, allow_redirects=False)
            self.assertEqual(response.status_code, 303, refused)
            self.assertIn("/web/login", response.headers["Location"])

    def test_ticket_service_levels(self):
        ticket = self.env["project.task"].create(
            {
                "name": "Printer offline",
                "project_id": self.env.ref("atlas_msp_billing.project_service_desk").id,
                "partner_id": self.contact.id,
                "msp_priority": "high",
            }
        )
        self.assertTrue(ticket.msp_is_ticket)
        self.authenticate("msp_portal_pat", "msp_portal_pat")
        response = self.url_open(f"/my/tasks/{ticket.id}")
        self.assertEqual(response.status_code, 200)
        self.assertIn("Service level:", response.text)
        self.assertIn("On Track", response.text)
        self.assertIn("Answer by:", response.text)
        self.assertIn("High", response.text)

    def test_home_card(self):
        self.authenticate("msp_portal_pat", "msp_portal_pat")
        response = self.url_open("/my/home")
        self.assertEqual(response.status_code, 200)
        self.assertIn('href="/my/retainers"', response.text)
        self.assertIn('data-placeholder_count="msp_retainer_count"', response.text)
        counters = self.make_jsonrpc_request("/my/counters", {"counters": ["msp_retainer_count"]})
        self.assertEqual(counters["msp_retainer_count"], 1)
