from odoo import Command, http
from odoo.tests import HttpCase, new_test_user, tagged

from .common import MspBillingCase


@tagged("post_install", "-at_install")
class TestTicketPortal(MspBillingCase, HttpCase):
    """A customer's contact follows the company's tickets on the portal and opens
    new ones, which land in its service desk under its SLA."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.policy = cls.env["msp.sla.policy"].create(
            {
                "name": "Gold",
                "calendar_id": cls.env.ref("resource.resource_calendar_std").id,
                "line_ids": [
                    Command.create(
                        {"priority": priority, "response_hours": rsp, "resolution_hours": rsl}
                    )
                    for priority, rsp, rsl in (
                        ("urgent", 0.5, 2),
                        ("high", 1, 4),
                        ("normal", 2, 8),
                        ("low", 4, 24),
                    )
                ],
            }
        )
        cls.customer.msp_sla_policy_id = cls.policy
        cls.desk = cls.env["project.project"].create(
            {
                "name": "Test Customer Desk",
                "msp_is_service_desk": True,
                "privacy_visibility": "portal",
                "partner_id": cls.customer.id,
                "type_ids": [Command.create({"name": "New", "sequence": 1})],
            }
        )
        cls.contact = cls.env["res.partner"].create(
            {"name": "Pat Portal", "parent_id": cls.customer.id, "email": "pat@example.com"}
        )
        new_test_user(
            cls.env, login="msp_ticket_pat", groups="base.group_portal", partner_id=cls.contact.id
        )
        cls.other_customer = cls.env["res.partner"].create(
            {"name": "Other Customer Ltd", "is_company": True}
        )
        cls.other_contact = cls.env["res.partner"].create(
            {"name": "Otto Other", "parent_id": cls.other_customer.id, "email": "otto@example.com"}
        )
        new_test_user(
            cls.env,
            login="msp_ticket_otto",
            groups="base.group_portal",
            partner_id=cls.other_contact.id,
        )
        cls.ticket = cls.env["project.task"].create(
            {
                "name": "Reception printer offline",
                "project_id": cls.desk.id,
                "partner_id": cls.contact.id,
                "msp_priority": "high",
            }
        )

    def open_ticket(self, **form):
        return self.url_open(
            "/my/tickets/new", data={"csrf_token": http.Request.csrf_token(self), **form}
        )

    def test_ticket_list_shows_service_levels(self):
        self.authenticate("msp_ticket_pat", "msp_ticket_pat")
        page = self.url_open("/my/tickets")
        self.assertEqual(page.status_code, 200)
        self.assertIn(f'href="/my/tickets/{self.ticket.id}"', page.text)
        self.assertIn("Reception printer offline", page.text)
        for text in ("High", "On Track", "Answer By", "Resolve By", 'href="/my/tickets/new"'):
            self.assertIn(text, page.text)
        # Tickets are listed as tickets, not among the tasks.
        self.assertNotIn("Reception printer offline", self.url_open("/my/tasks").text)
        self.assertIn('href="/my/tickets"', self.url_open("/my/home").text)
        counters = self.make_jsonrpc_request("/my/counters", {"counters": ["msp_ticket_count"]})
        self.assertEqual(counters["msp_ticket_count"], 1)

    def test_ticket_page(self):
        self.authenticate("msp_ticket_pat", "msp_ticket_pat")
        page = self.url_open(f"/my/tickets/{self.ticket.id}")
        self.assertEqual(page.status_code, 200)
        self.assertIn("Reception printer offline", page.text)
        self.assertIn("Service level:", page.text)
        self.assertIn('<a href="/my/tickets">Tickets</a>', page.text)
        self.assertIn("Service desk:", page.text)
        self.assertNotIn("Allocated Time", page.text)

    def test_open_ticket(self):
        self.authenticate("msp_ticket_pat", "msp_ticket_pat")
        form = self.url_open("/my/tickets/new")
        self.assertEqual(form.status_code, 200)
        for field in ('name="csrf_token"', 'name="name"', 'name="priority"', 'name="description"'):
            self.assertIn(field, form.text)
        page = self.open_ticket(
            name="  Server room is too hot  ", priority="urgent", description="Since 8:00."
        )
        self.assertEqual(page.status_code, 200)
        ticket = self.env["project.task"].search([("name", "=", "Server room is too hot")])
        self.assertEqual(len(ticket), 1)
        self.assertTrue(page.url.endswith(f"/my/tickets/{ticket.id}"))
        self.assertEqual(ticket.project_id, self.desk)
        self.assertEqual(ticket.partner_id, self.contact)
        self.assertEqual(ticket.msp_priority, "urgent")
        self.assertEqual(ticket.msp_sla_policy_id, self.policy)
        self.assertEqual(ticket.msp_sla_status, "on_track")
        plan = self.policy.calendar_id.plan_hours
        self.assertEqual(
            ticket.msp_response_deadline, plan(0.5, ticket.create_date, compute_leaves=True)
        )
        self.assertEqual(
            ticket.msp_resolution_deadline, plan(2, ticket.create_date, compute_leaves=True)
        )
        self.assertIn("Since 8:00.", ticket.description)
        self.assertIn(self.contact, ticket.message_partner_ids)
        self.assertFalse(ticket.user_ids)

    def test_other_customer_sees_nothing(self):
        self.authenticate("msp_ticket_otto", "msp_ticket_otto")
        self.assertNotIn("Reception printer offline", self.url_open("/my/tickets").text)
        for url in (f"/my/tickets/{self.ticket.id}", f"/my/tasks/{self.ticket.id}"):
            page = self.url_open(url)
            self.assertNotIn("Reception printer offline", page.text, url)
        # The other customer's new ticket lands in a desk shared with all customers,
        # under the company's default policy, and is not shown to Pat.
        self.open_ticket(name="Otto's laptop", priority="low")
        ticket = self.env["project.task"].search([("name", "=", "Otto's laptop")])
        self.assertEqual(ticket.partner_id, self.other_contact)
        self.assertNotEqual(ticket.project_id, self.desk)
        self.authenticate("msp_ticket_pat", "msp_ticket_pat")
        self.assertNotIn("Otto&#39;s laptop", self.url_open("/my/tickets").text)
        self.assertNotIn("Otto's laptop", self.url_open("/my/tickets").text)

    def test_bad_input_is_refused(self):
        self.authenticate("msp_ticket_pat", "msp_ticket_pat")
        Task = self.env["project.task"]
        count = Task.search_count([])
        page = self.open_ticket(name="   ", priority="normal")
        self.assertEqual(page.status_code, 400)
        self.assertIn("Give your ticket a title.", page.text)
        page = self.open_ticket(name="Printer", priority="critical")
        self.assertEqual(page.status_code, 400)
        self.assertIn("Choose one of the priorities offered.", page.text)
        # Without the form's CSRF token, nothing is created either.
        page = self.url_open("/my/tickets/new", data={"name": "Printer", "priority": "low"})
        self.assertEqual(page.status_code, 400)
        self.assertEqual(Task.search_count([]), count)
