from datetime import datetime

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import new_test_user, tagged

from .common import MspBillingCase, backdate_tickets


def dt(text):
    return datetime.strptime(text, "%Y-%m-%d %H:%M")


@tagged("post_install", "-at_install")
class TestSla(MspBillingCase):
    """A known calendar in UTC: Monday to Friday 9:00–17:00, and Wednesday
    2026-03-04 a public holiday. 2026-03-06 is a Friday."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.calendar = cls.create_calendar()
        cls.policy = cls.env["msp.sla.policy"].create(
            {
                "name": "Test Policy",
                "calendar_id": cls.calendar.id,
                "line_ids": [
                    Command.create(
                        {"priority": priority, "response_hours": rsp, "resolution_hours": rsl}
                    )
                    for priority, rsp, rsl in (
                        ("urgent", 1, 4),
                        ("high", 2, 8),
                        ("normal", 4, 16),
                        ("low", 8, 40),
                    )
                ],
            }
        )
        cls.company_policy = cls.policy.copy({"name": "Company Default"})
        cls.company_policy.line_ids.filtered(lambda line: line.priority == "normal").write(
            {"response_hours": 6, "resolution_hours": 24}
        )
        cls.env.company.msp_sla_policy_id = cls.company_policy
        cls.customer.msp_sla_policy_id = cls.policy
        cls.contact = cls.env["res.partner"].create(
            {"name": "Carla Contact", "parent_id": cls.customer.id, "email": "carla@example.com"}
        )
        cls.other_customer = cls.env["res.partner"].create(
            {"name": "Other Customer Ltd", "is_company": True}
        )
        cls.other_contact = cls.env["res.partner"].create(
            {"name": "Otto Other", "parent_id": cls.other_customer.id, "email": "otto@example.com"}
        )
        cls.desk = cls.env["project.project"].create(
            {
                "name": "Test Service Desk",
                "msp_is_service_desk": True,
                "privacy_visibility": "portal",
                "company_id": cls.env.company.id,
                "type_ids": [
                    Command.create({"name": "New", "sequence": 1}),
                    Command.create({"name": "Done", "sequence": 9, "fold": True}),
                ],
            }
        )
        cls.stage_new, cls.stage_done = cls.desk.type_ids.sorted("sequence")

    @classmethod
    def create_calendar(cls):
        calendar = cls.env["resource.calendar"].create(
            {
                "name": "Service desk 9-17 (UTC)",
                "tz": "UTC",
                "attendance_ids": [Command.clear()]
                + [
                    Command.create(
                        {
                            "name": f"Day {day} {period}",
                            "dayofweek": str(day),
                            "hour_from": hour_from,
                            "hour_to": hour_to,
                            "day_period": period,
                        }
                    )
                    for day in range(5)
                    for hour_from, hour_to, period in ((9, 13, "morning"), (13, 17, "afternoon"))
                ],
            }
        )
        cls.env["resource.calendar.leaves"].create(
            {
                "name": "Public holiday",
                "calendar_id": calendar.id,
                "date_from": dt("2026-03-04 00:00"),
                "date_to": datetime(2026, 3, 4, 23, 59, 59),
            }
        )
        return calendar

    def ticket(self, created, priority="normal", partner=None, **values):
        ticket = self.env["project.task"].create(
            {
                "name": "Printer offline",
                "project_id": self.desk.id,
                "partner_id": (partner or self.customer).id,
                "msp_priority": priority,
                **values,
            }
        )
        backdate_tickets(ticket, dt(created))
        return ticket

    def resolve(self, ticket, when):
        with freeze_time(when):
            ticket.state = "1_done"
            ticket.flush_recordset()

    # ------------------------------------------------------------------
    # Tickets and policies
    # ------------------------------------------------------------------
    def test_ticket_flag_and_policy_defaults(self):
        with freeze_time("2026-03-09 10:00"):
            ticket = self.ticket("2026-03-09 09:00", partner=self.contact)
            other = self.ticket("2026-03-09 09:00", partner=self.other_customer)
            task = self.task_a
        self.assertTrue(ticket.msp_is_ticket)
        self.assertFalse(task.msp_is_ticket)
        self.assertFalse(task.msp_sla_policy_id)
        self.assertFalse(task.msp_sla_status)
        self.assertEqual(ticket.msp_priority, "normal")
        # a contact's ticket follows its company's policy, else the company's default
        self.assertEqual(ticket.msp_sla_policy_id, self.policy)
        self.assertEqual(other.msp_sla_policy_id, self.company_policy)
        self.assertEqual(other.msp_response_deadline, dt("2026-03-09 15:00"))
        # the policy can be chosen on the ticket
        ticket.msp_sla_policy_id = self.company_policy
        self.assertEqual(ticket.msp_response_deadline, dt("2026-03-09 15:00"))
        self.assertEqual(self.policy._get_line("high").response_hours, 2)

    def test_deadlines_across_weekend(self):
        ticket = self.ticket("2026-03-06 15:00")
        # Friday 15-17 is 2 h; the remaining hours run from Monday 9:00
        self.assertEqual(ticket.msp_response_deadline, dt("2026-03-09 11:00"))
        self.assertEqual(ticket.msp_resolution_deadline, dt("2026-03-10 15:00"))
        self.assertEqual(ticket.msp_response_risk_date, dt("2026-03-09 10:00"))
        self.assertEqual(ticket.msp_resolution_risk_date, dt("2026-03-10 11:00"))
        # a new priority sets new targets
        ticket.msp_priority = "urgent"
        self.assertEqual(ticket.msp_response_deadline, dt("2026-03-06 16:00"))
        self.assertEqual(ticket.msp_resolution_deadline, dt("2026-03-09 11:00"))

    def test_deadlines_across_holiday(self):
        ticket = self.ticket("2026-03-03 16:00", priority="high")
        # Tuesday 16-17 is 1 h, Wednesday is a holiday, Thursday brings the rest
        self.assertEqual(ticket.msp_response_deadline, dt("2026-03-05 10:00"))
        self.assertEqual(ticket.msp_resolution_deadline, dt("2026-03-05 16:00"))
        same_day_next_week = self.ticket("2026-03-10 16:00", priority="high")
        self.assertEqual(same_day_next_week.msp_response_deadline, dt("2026-03-11 10:00"))

    def test_ticket_created_outside_business_hours(self):
        ticket = self.ticket("2026-03-07 11:00", priority="urgent")  # a Saturday
        self.assertEqual(ticket.msp_response_deadline, dt("2026-03-09 10:00"))
        self.assertEqual(ticket.msp_resolution_deadline, dt("2026-03-09 13:00"))

    def test_bad_policy_input_refused(self):
        with self.assertRaisesText(ValidationError, "cannot be negative"):
            self.policy.line_ids[0].response_hours = -1
        with self.assertRaisesText(ValidationError, "at least as much time to resolve"):
            self.policy.line_ids.filtered(lambda line: line.priority == "low").write(
                {"response_hours": 10, "resolution_hours": 5}
            )
        with self.assertRaisesText(ValidationError, "more than one target for the High"):
            self.policy.write(
                {
                    "line_ids": [
                        Command.create(
                            {"priority": "high", "response_hours": 1, "resolution_hours": 2}
                        )
                    ]
                }
            )
        self.assertEqual(len(self.policy.line_ids), 4)
        self.assertEqual(self.policy._get_line("low").response_hours, 8)

    # ------------------------------------------------------------------
    # First response and resolution
    # ------------------------------------------------------------------
    def test_first_response_by_message(self):
        ticket = self.ticket("2026-03-09 09:00")
        portal = new_test_user(
            self.env, login="carla_portal", groups="base.group_portal", partner_id=self.contact.id
        )
        with freeze_time("2026-03-09 09:30"):
            ticket.with_user(self.user_technician).message_post(
                body="Internal: checking the logs", subtype_xmlid="mail.mt_note"
            )
            ticket.with_user(portal).message_post(
                body="Any news?", message_type="comment", subtype_xmlid="mail.mt_comment"
            )
        self.assertFalse(ticket.msp_first_response_date, "notes and customer messages are no reply")
        with freeze_time("2026-03-09 10:15"):
            ticket.with_user(self.user_technician).message_post(
                body="We are on it.", message_type="comment", subtype_xmlid="mail.mt_comment"
            )
        self.assertEqual(ticket.msp_first_response_date, dt("2026-03-09 10:15"))
        with freeze_time("2026-03-09 11:00"):
            self.log_time(1.0, "2026-03-09", category="non_billable", task=ticket)
            ticket.message_post(
                body="Update", message_type="comment", subtype_xmlid="mail.mt_comment"
            )
        self.assertEqual(ticket.msp_first_response_date, dt("2026-03-09 10:15"))

    def test_first_response_by_time_entry(self):
        ticket = self.ticket("2026-03-09 09:00")
        with freeze_time("2026-03-09 09:45"):
            self.log_time(0.5, "2026-03-09", category="non_billable", task=ticket)
        self.assertEqual(ticket.msp_first_response_date, dt("2026-03-09 09:45"))
        with freeze_time("2026-03-09 10:30"):
            ticket.with_user(self.user_technician).message_post(
                body="Fixed the queue.", message_type="comment", subtype_xmlid="mail.mt_comment"
            )
        self.assertEqual(ticket.msp_first_response_date, dt("2026-03-09 09:45"))
        # time on an ordinary task registers nothing
        with freeze_time("2026-03-09 10:30"):
            self.log_time(0.5, "2026-03-09", category="non_billable", task=self.task_a)
        self.assertFalse(self.task_a.msp_first_response_date)

    def test_resolved_and_reopened(self):
        ticket = self.ticket("2026-03-09 09:00")
        self.resolve(ticket, "2026-03-09 12:00")  # within both targets
        self.assertEqual(ticket.msp_resolved_date, dt("2026-03-09 12:00"))
        self.assertEqual(ticket.msp_sla_status, "met")
        with freeze_time("2026-03-11 10:00"):
            ticket.state = "01_in_progress"
            self.assertFalse(ticket.msp_resolved_date)
            # reopened after its resolution deadline (Tuesday 17:00) with no reply
            self.assertEqual(ticket.msp_sla_status, "breached")
        # the board drives the state: the folded column resolves, leaving it reopens
        with freeze_time("2026-03-11 11:00"):
            ticket.stage_id = self.stage_done
            ticket.flush_recordset()
        self.assertEqual(ticket.state, "1_done")
        self.assertEqual(ticket.msp_resolved_date, dt("2026-03-11 11:00"))
        ticket.stage_id = self.stage_new
        self.assertEqual(ticket.state, "01_in_progress")
        self.assertFalse(ticket.msp_resolved_date)

    # ------------------------------------------------------------------
    # SLA status
    # ------------------------------------------------------------------
    def test_status_transitions_with_time(self):
        with freeze_time("2026-03-09 10:00"):
            ticket = self.ticket("2026-03-09 09:00")  # response due 13:00, at risk from 12:00
            answered = self.ticket("2026-03-09 09:00")
            answered._msp_register_first_response(dt("2026-03-09 09:30"))
        Task = self.env["project.task"]
        self.assertEqual(ticket.msp_sla_status, "on_track")
        with freeze_time("2026-03-09 11:59"):
            self.assertFalse(Task._msp_update_sla_status() & ticket)
        self.assertEqual(ticket.msp_sla_status, "on_track")
        with freeze_time("2026-03-09 12:00"):
            changed = Task._msp_update_sla_status()
            self.assertIn(ticket, changed)
            self.assertNotIn(answered, changed, "its response is done, resolution is far")
            self.assertEqual(ticket.msp_sla_status, "at_risk")
            self.assertFalse(Task._msp_update_sla_status() & ticket, "only changes are written")
        with freeze_time("2026-03-09 13:01"):
            Task._cron_msp_sla_status()
        self.assertEqual(ticket.msp_sla_status, "breached")
        self.assertEqual(answered.msp_sla_status, "on_track")
        # the answered ticket: resolution due Tuesday 17:00, at risk from Tuesday 13:00
        with freeze_time("2026-03-10 13:00"):
            Task._cron_msp_sla_status()
        self.assertEqual(answered.msp_sla_status, "at_risk")
        self.resolve(answered, "2026-03-10 16:30")
        self.assertEqual(answered.msp_sla_status, "met")
        # a breach stays a breach, even once resolved
        self.resolve(ticket, "2026-03-09 15:00")
        self.assertEqual(ticket.msp_sla_status, "breached")

    def test_late_response_breaches(self):
        with freeze_time("2026-03-09 12:30"):
            ticket = self.ticket("2026-03-09 09:00")
            self.assertEqual(ticket.msp_sla_status, "at_risk")
        with freeze_time("2026-03-09 14:00"):
            ticket.with_user(self.user_technician).message_post(
                body="Sorry for the wait.", message_type="comment", subtype_xmlid="mail.mt_comment"
            )
        self.assertEqual(ticket.msp_sla_status, "breached")

    def test_cancelled_ticket_status(self):
        with freeze_time("2026-03-12 10:00"):
            forgotten = self.ticket("2026-03-09 09:00")
            late = self.ticket("2026-03-09 09:00")
            late._msp_register_first_response(dt("2026-03-09 16:00"))
            self.assertEqual(forgotten.msp_sla_status, "breached")
            (forgotten | late).state = "1_canceled"
        # withdrawn tickets are not measured, but a reply that came late stays late
        self.assertEqual(forgotten.msp_sla_status, "met")
        self.assertEqual(late.msp_sla_status, "breached")
        self.assertFalse(forgotten.msp_resolved_date)
        with freeze_time("2026-04-01 10:00"):
            self.assertFalse(self.env["project.task"]._msp_update_sla_status() & forgotten)

    # ------------------------------------------------------------------
    # SLA summary
    # ------------------------------------------------------------------
    def test_sla_summary(self):
        # The window is read in the company's time zone, Tokyo (UTC+9).
        self.env.company.partner_id.tz = "Asia/Tokyo"
        t1 = self.ticket("2026-03-09 09:00", partner=self.contact)  # normal 4 h / 16 h
        t1._msp_register_first_response(dt("2026-03-09 10:00"))  # 1 h, met
        self.resolve(t1, "2026-03-09 15:00")  # 6 h, met
        t2 = self.ticket("2026-03-10 09:00", priority="high")  # 2 h / 8 h
        t2._msp_register_first_response(dt("2026-03-10 12:00"))  # 3 h, late
        self.resolve(t2, "2026-03-11 15:00")  # 8 h + 6 h = 14 h, late
        t3 = self.ticket("2026-03-12 09:00", priority="urgent")  # 1 h / 4 h
        t3._msp_register_first_response(dt("2026-03-12 09:30"))  # 0.5 h, met; never resolved
        # 1 March 01:00 in Tokyo: in March; never answered
        t5 = self.ticket("2026-02-28 16:00", priority="low")
        # 1 April 05:00 in Tokyo: not in March, and breached in April only
        t6 = self.ticket("2026-03-31 20:00")
        other = self.ticket("2026-03-09 09:00", partner=self.other_customer)
        other._msp_register_first_response(dt("2026-03-09 09:10"))
        self.ticket("2026-03-10 09:00", project_id=self.project.id)  # not a ticket
        with freeze_time("2026-04-02 12:00"):
            self.env["project.task"]._msp_update_sla_status()
            summary = self.env["project.task"]._msp_sla_summary(
                self.customer, "2026-03-01", "2026-03-31"
            )
            retainer = self.create_retainer(date_start="2026-01-01")
            self.assertEqual(retainer._get_sla_summary("2026-03-01", "2026-03-31"), summary)
        self.assertEqual(t6.msp_sla_status, "breached")
        self.assertEqual(
            {key: value for key, value in summary.items() if key != "breaches"},
            {
                "opened": 4,
                "resolved": 2,
                "response_met": 2,
                "response_met_pct": 66.7,
                "resolution_met": 1,
                "resolution_met_pct": 50.0,
                "avg_response_hours": 1.5,
                "avg_resolution_hours": 10.0,
            },
        )
        self.assertEqual(summary["breaches"], t2 | t3 | t5)
        self.assertEqual(summary["breaches"]._name, "project.task")

        empty = self.env["project.task"]._msp_sla_summary(
            self.other_customer, "2026-05-01", "2026-05-31"
        )
        self.assertEqual(empty["opened"], 0)
        self.assertEqual(empty["response_met_pct"], 0.0)
        self.assertEqual(empty["avg_resolution_hours"], 0.0)
        self.assertFalse(empty["breaches"])

    # ------------------------------------------------------------------
    # Access
    # ------------------------------------------------------------------
    def test_portal_sees_only_own_company_tickets(self):
        portal = new_test_user(
            self.env, login="carla_portal", groups="base.group_portal", partner_id=self.contact.id
        )
        other_portal = new_test_user(
            self.env,
            login="otto_portal",
            groups="base.group_portal",
            partner_id=self.other_contact.id,
        )
        own = self.ticket("2026-03-09 09:00")  # raised for the company itself
        theirs = self.ticket("2026-03-09 09:00", partner=self.other_contact)
        self.assertIn(self.customer, own.message_partner_ids)

        self.assertEqual(own.with_user(portal).read(["name"])[0]["name"], "Printer offline")
        with self.assertRaises(AccessError):
            theirs.with_user(portal).read(["name"])
        with self.assertRaises(AccessError):
            own.with_user(other_portal).read(["name"])
        visible = (
            self.env["project.task"].with_user(portal).search([("project_id", "=", self.desk.id)])
        )
        self.assertEqual(visible, own)

        # handing the ticket to another customer takes it away from the first one
        own.partner_id = self.other_customer
        self.assertNotIn(self.customer, own.message_partner_ids)
        with self.assertRaises(AccessError):
            own.with_user(portal).read(["name"])
        own.with_user(other_portal).read(["name"])

    def test_technician_sees_service_desk_tickets(self):
        ticket = self.ticket("2026-03-09 09:00")
        tickets = self.env["project.task"].with_user(self.user_technician)
        self.assertIn(ticket, tickets.search([("msp_is_ticket", "=", True)]))
        ticket.with_user(self.user_technician).write({"msp_priority": "high"})
        self.assertEqual(ticket.msp_response_deadline, dt("2026-03-09 11:00"))
