from lxml import etree

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import MspBillingCase


@tagged("post_install", "-at_install")
class TestTicketScreens(MspBillingCase):
    """Tickets are tasks of a service desk, with screens and words of their own."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.desk = cls.env["project.project"].create(
            {
                "name": "Test Service Desk",
                "msp_is_service_desk": True,
                "privacy_visibility": "portal",
                "allow_timesheets": True,
                "type_ids": [
                    Command.create({"name": "New", "sequence": 1}),
                    Command.create({"name": "Done", "sequence": 9, "fold": True}),
                ],
            }
        )
        cls.action = cls.env.ref("atlas_msp_billing.project_task_action_ticket")

    def ticket(self, **values):
        return self.env["project.task"].create(
            {
                "name": "Printer offline",
                "project_id": self.desk.id,
                "partner_id": self.customer.id,
                **values,
            }
        )

    def action_arch(self, view_type):
        view = self.action.view_ids.filtered(lambda v: v.view_mode == view_type).view_id
        arch = self.env["project.task"].get_views([(view.id, view_type)])["views"][view_type]
        return etree.fromstring(arch["arch"])

    def test_creation_message_says_ticket(self):
        Task = self.env["project.task"].with_context(tracking_disable=False)
        ticket = Task.create(
            {"name": "VPN down", "project_id": self.desk.id, "partner_id": self.customer.id}
        )
        task = Task.create({"name": "Patch servers", "project_id": self.project.id})
        created = self.env.ref("atlas_msp_billing.mt_ticket_new")
        opening = ticket.message_ids.filtered(lambda message: message.subtype_id == created)
        self.assertEqual(len(opening), 1)
        self.assertIn("A new ticket has been opened", opening.body)
        self.assertEqual(created.description, "Ticket created")
        self.assertFalse(task.message_ids.filtered(lambda message: message.subtype_id == created))
        self.assertIn(self.env.ref("project.mt_task_new"), task.message_ids.subtype_id)

    def test_no_timer_on_closed_ticket(self):
        # Tasks outside the service desk keep Odoo's behaviour.
        self.task_b.state = "1_done"
        self.task_b.with_user(self.user_technician).action_msp_timer_start()
        self.task_b.with_user(self.user_technician).action_msp_timer_pause()
        ticket = self.ticket(state="1_done")
        technician_ticket = ticket.with_user(self.user_technician)
        with self.assertRaisesText(UserError, "is closed: reopen it"):
            technician_ticket.action_msp_timer_start()
        self.assertEqual(technician_ticket.msp_timer_state, "stopped")
        ticket.state = "01_in_progress"
        technician_ticket.action_msp_timer_start()
        technician_ticket.invalidate_recordset(["msp_timer_state"])
        self.assertEqual(technician_ticket.msp_timer_state, "running")

    def test_ticket_form(self):
        form = self.action_arch("form")
        names = {field.get("name") for field in form.iter("field")}
        for planning in ("milestone_id", "allocated_hours", "date_deadline", "child_ids"):
            self.assertNotIn(planning, names)
        for ticket_field in (
            "partner_id",
            "msp_priority",
            "msp_sla_policy_id",
            "msp_sla_status",
            "msp_response_deadline",
            "msp_resolution_deadline",
            "msp_first_response_date",
            "msp_resolved_date",
            "user_ids",
            "description",
            "timesheet_ids",
            "msp_billing_category",
        ):
            self.assertIn(ticket_field, names)
        start = form.xpath("//button[@name='action_msp_timer_start']")[0]
        self.assertIn("is_closed", start.get("invisible"))

    def test_ticket_list_opens_on_open_tickets(self):
        self.assertTrue(self.action.context and "'search_default_open': 1" in self.action.context)
        order = self.action_arch("list").get("default_order")
        done = self.ticket(state="1_done", msp_priority="urgent")
        waiting = self.ticket(msp_priority="low")
        urgent = self.ticket(msp_priority="urgent")
        tickets = self.env["project.task"].search(
            [("id", "in", (done | waiting | urgent).ids)], order=order
        )
        # Open tickets first, the nearest resolution deadline first.
        self.assertEqual(tickets.ids, [urgent.id, waiting.id, done.id])
