from odoo import fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged

from .common import MspBillingCommon

PIPELINE = ["Lead", "Qualified", "Proposal Sent", "Negotiation", "Won"]


@tagged("post_install", "-at_install")
class TestPipeline(MspBillingCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stage_lead = cls.env.ref("crm.stage_lead1")
        cls.stage_qualified = cls.env.ref("crm.stage_lead2")
        cls.stage_proposal = cls.env.ref("crm.stage_lead3")
        cls.stage_negotiation = cls.env.ref("atlas_msp_billing.crm_stage_negotiation")
        cls.stage_won = cls.env.ref("crm.stage_lead4")
        cls.sla_policy = cls.env["msp.sla.policy"].create({"name": "Gold Test"})
        cls.Lead = cls.env["crm.lead"].with_user(cls.user_account_manager)
        cls.Partner = cls.env["res.partner"].with_context(active_test=False)

    def create_lead(self, **values):
        return self.Lead.create(
            {
                "name": "Managed IT",
                "type": "opportunity",
                "partner_name": "Acme Dental",
                "contact_name": "Jane Doe",
                "email_from": "jane@acme-dental.example",
                "phone": "+1 555 0100",
                "user_id": self.user_account_manager.id,
                "msp_estimated_mrr": 1000.0,
                "stage_id": self.stage_negotiation.id,
                **values,
            }
        )

    def onboard_values(self, **values):
        return {
            "billing_cycle": "quarterly",
            "included_hours": 20.0,
            "overage_rate": 130.0,
            "adhoc_rate": 160.0,
            "date_start": fields.Date.context_today(self.Lead),
            "sla_policy_id": self.sla_policy.id,
            "create_first_invoice": False,
            **values,
        }

    def partners_named(self, name):
        return self.Partner.search([("name", "=", name)])

    # ------------------------------------------------------------------
    # Stages and MRR
    # ------------------------------------------------------------------
    def test_stages_in_order(self):
        stages = self.env["crm.stage"].search([("team_id", "=", False)], order="sequence, id")
        self.assertEqual(stages.mapped("name"), PIPELINE)
        self.assertEqual(stages.filtered("is_won"), self.stage_won)
        self.assertNotIn("Lost", stages.mapped("name"), "Lost is Odoo's lost flow, not a stage")

    def test_mrr_summed_per_stage(self):
        leads = self.Lead.create(
            [
                {
                    "name": "A",
                    "type": "opportunity",
                    "stage_id": self.stage_lead.id,
                    "msp_estimated_mrr": 100.0,
                },
                {
                    "name": "B",
                    "type": "opportunity",
                    "stage_id": self.stage_lead.id,
                    "msp_estimated_mrr": 250.0,
                },
                {
                    "name": "C",
                    "type": "opportunity",
                    "stage_id": self.stage_proposal.id,
                    "msp_estimated_mrr": 900.0,
                },
            ]
        )
        sums = dict(
            self.env["crm.lead"]._read_group(
                [("id", "in", leads.ids)], ["stage_id"], ["msp_estimated_mrr:sum"]
            )
        )
        self.assertEqual(sums, {self.stage_lead: 350.0, self.stage_proposal: 900.0})
        field = self.env["crm.lead"]._fields["msp_estimated_mrr"]
        self.assertTrue(field.store)
        self.assertEqual(field.type, "monetary")
        self.assertEqual(leads[0].company_currency, self.env.company.currency_id)
        with self.assertRaisesText(ValidationError, "cannot be negative"):
            leads[0].msp_estimated_mrr = -1.0

    def test_lost_is_odoos_lost_flow(self):
        lead = self.create_lead()
        reason = self.env.ref("crm.lost_reason_1")
        lead.action_set_lost(lost_reason_id=reason.id)
        self.assertFalse(lead.active)
        self.assertEqual(lead.probability, 0)
        self.assertEqual(lead.lost_reason_id, reason)
        lost = (
            self.env["crm.lead"]
            .with_context(active_test=False)
            .search([("id", "=", lead.id), ("active", "=", False), ("probability", "=", 0)])
        )
        self.assertEqual(lost, lead)

    def test_sending_the_quote_moves_to_proposal_sent(self):
        lead = self.create_lead(partner_id=self.customer.id, stage_id=self.stage_qualified.id)
        SaleOrder = self.env["sale.order"].with_user(self.user_account_manager)
        order = SaleOrder.create({"partner_id": self.customer.id, "opportunity_id": lead.id})
        order.action_quotation_sent()
        self.assertEqual(lead.stage_id, self.stage_proposal)

        # Through the send-by-email wizard's context, and never backwards.
        lead.stage_id = self.stage_lead
        order2 = SaleOrder.create({"partner_id": self.customer.id, "opportunity_id": lead.id})
        order2.with_context(mark_so_as_sent=True).message_post(body="Your quote")
        self.assertEqual(order2.state, "sent")
        self.assertEqual(lead.stage_id, self.stage_proposal)
        lead.stage_id = self.stage_negotiation
        SaleOrder.create(
            {"partner_id": self.customer.id, "opportunity_id": lead.id}
        ).action_quotation_sent()
        self.assertEqual(lead.stage_id, self.stage_negotiation)

    # ------------------------------------------------------------------
    # Activities
    # ------------------------------------------------------------------
    def test_call_email_meeting_activities(self):
        lead = self.create_lead()
        for xmlid in (
            "mail.mail_activity_data_call",
            "mail.mail_activity_data_email",
            "mail.mail_activity_data_meeting",
        ):
            activity_type = self.env.ref(xmlid)
            self.assertTrue(activity_type.active)
            self.assertIn(activity_type.res_model, (False, "crm.lead"))
        meeting = self.env.ref("mail.mail_activity_data_meeting")
        self.assertEqual(meeting.category, "meeting", "meetings open the calendar")
        self.assertTrue(lead.with_user(self.user_account_manager).action_schedule_meeting())

    def test_log_a_call_from_the_card(self):
        lead = self.create_lead()
        call = self.env.ref("mail.mail_activity_data_call")
        action = lead.action_msp_log_call()
        self.assertEqual(action["res_model"], "mail.activity.schedule")
        wizard = (
            self.env["mail.activity.schedule"]
            .with_user(self.user_account_manager)
            .with_context(**action["context"])
            .create({"note": "<p>Discussed backup needs</p>"})
        )
        self.assertEqual(wizard.activity_type_id, call)
        wizard.action_schedule_activities_done()
        logged = lead.message_ids.filtered(lambda m: m.mail_activity_type_id == call)
        self.assertEqual(len(logged), 1)
        self.assertIn("Discussed backup needs", logged.body)
        self.assertFalse(lead.activity_ids, "the call is done, not pending")

        lead.with_user(self.user_account_manager)._msp_log_call("Left a voicemail")
        logged = lead.message_ids.filtered(lambda m: m.mail_activity_type_id == call)
        self.assertEqual(len(logged), 2)

    # ------------------------------------------------------------------
    # Win & onboard
    # ------------------------------------------------------------------
    def test_win_onboard_new_company(self):
        lead = self.create_lead()
        retainer = lead._msp_win_onboard(self.onboard_values(create_first_invoice=True))
        company = retainer.partner_id
        self.assertEqual(company.name, "Acme Dental")
        self.assertTrue(company.is_company)
        contact = lead.partner_id
        self.assertEqual(contact.name, "Jane Doe")
        self.assertEqual(contact.parent_id, company)
        self.assertEqual(contact.email, "jane@acme-dental.example")
        self.assertEqual(company.msp_sla_policy_id, self.sla_policy)
        self.assertRecordValues(
            retainer,
            [
                {
                    "state": "active",
                    "amount": 3000.0,  # estimated MRR x 3 months
                    "billing_cycle": "quarterly",
                    "included_hours": 20.0,
                    "overage_rate": 130.0,
                    "adhoc_rate": 160.0,
                    "user_id": self.user_account_manager.id,
                }
            ],
        )
        self.assertEqual(lead.msp_retainer_id, retainer)
        self.assertEqual(lead.stage_id, self.stage_won)
        self.assertEqual(lead.probability, 100)
        invoice = retainer.invoice_ids
        self.assertEqual(len(invoice), 1)
        self.assertEqual(invoice.state, "draft")
        self.assertEqual(invoice.partner_id.commercial_partner_id, company)
        self.assertEqual(invoice.amount_untaxed, 3000.0)

    def test_win_onboard_existing_company_by_name(self):
        existing = self.env["res.partner"].create({"name": "Acme Dental", "is_company": True})
        lead = self.create_lead()
        retainer = lead._msp_win_onboard(self.onboard_values(amount=1234.0))
        self.assertEqual(retainer.partner_id, existing)
        self.assertEqual(self.partners_named("Acme Dental"), existing, "no duplicate company")
        self.assertEqual(lead.partner_id.parent_id, existing)
        self.assertEqual(retainer.amount, 1234.0)
        self.assertFalse(retainer.invoice_ids)

    def test_win_onboard_existing_partner_of_the_lead(self):
        contact = self.env["res.partner"].create(
            {"name": "Carl Contact", "parent_id": self.customer.id}
        )
        lead = self.create_lead(partner_id=contact.id, partner_name="Test Customer Inc.")
        partners_before = self.Partner.search_count([])
        retainer = lead._msp_win_onboard(self.onboard_values(billing_cycle="monthly"))
        self.assertEqual(retainer.partner_id, self.customer)
        self.assertEqual(lead.partner_id, contact)
        self.assertEqual(self.Partner.search_count([]), partners_before)
        self.assertEqual(retainer.amount, 1000.0)

    def test_wizard_defaults_and_onboards(self):
        lead = self.create_lead()
        action = lead.action_msp_win_onboard()
        Wizard = (
            self.env["msp.win.onboard"]
            .with_user(self.user_account_manager)
            .with_context(**action["context"])
        )
        wizard = Wizard.create({"billing_cycle": "annual", "sla_policy_id": self.sla_policy.id})
        self.assertEqual(wizard.amount, 12000.0)
        self.assertFalse(wizard.existing_company_id)
        result = wizard.action_win_onboard()
        self.assertEqual(result["res_model"], "msp.retainer")
        self.assertEqual(lead.msp_retainer_id.id, result["res_id"])
        self.assertEqual(lead.msp_retainer_id.billing_cycle, "annual")

    def assertRefusedLeavesNothing(self, lead, values, exception, text):
        partners = self.Partner.search_count([])
        retainers = self.env["msp.retainer"].search_count([])
        invoices = self.env["account.move"].search_count([])
        try:
            lead._msp_win_onboard(values)
        except exception as error:
            self.assertIn(text, str(error))
        else:
            self.fail(f"{values} should be refused")
        self.assertEqual(self.Partner.search_count([]), partners)
        self.assertEqual(self.env["msp.retainer"].search_count([]), retainers)
        self.assertEqual(self.env["account.move"].search_count([]), invoices)
        self.assertFalse(lead.msp_retainer_id)
        self.assertEqual(lead.stage_id, self.stage_negotiation)

    def test_win_onboard_refusals_leave_nothing(self):
        lead = self.create_lead()
        self.assertRefusedLeavesNothing(
            lead, self.onboard_values(amount=-5.0), ValidationError, "cannot be negative"
        )
        self.assertRefusedLeavesNothing(
            lead, self.onboard_values(billing_cycle="weekly"), ValidationError, "Unknown billing"
        )
        nameless = self.create_lead(partner_name=False)
        self.assertRefusedLeavesNothing(
            nameless, self.onboard_values(), UserError, "no customer and no company name"
        )
        self.assertFalse(self.partners_named("Jane Doe"))

    def test_win_onboard_overlap_rolls_everything_back(self):
        # The customer exists and already has an active retainer: the company
        # update, its new contact and the won stage are all undone.
        self.env["msp.retainer"].create(
            {"partner_id": self.customer.id, "amount": 500.0, "date_start": "2020-01-01"}
        ).action_activate()
        lead = self.create_lead(partner_name="Test Customer Inc.")
        self.assertRefusedLeavesNothing(
            lead,
            self.onboard_values(create_first_invoice=True),
            ValidationError,
            "already has active retainer",
        )
        self.assertFalse(self.partners_named("Jane Doe"))
        self.assertFalse(self.customer.msp_sla_policy_id)
        self.assertFalse(lead.partner_id)

    def test_technician_cannot_onboard(self):
        lead = self.create_lead()
        with self.assertRaises(AccessError):
            lead.with_user(self.user_technician)._msp_win_onboard(self.onboard_values())
        with self.assertRaises(AccessError):
            self.env["msp.win.onboard"].with_user(self.user_technician).create({"lead_id": lead.id})
        self.assertFalse(lead.msp_retainer_id)

    def test_win_onboard_keeps_lead_links(self):
        lead = self.create_lead()
        retainer = lead._msp_win_onboard(self.onboard_values())
        self.assertEqual(lead.action_view_msp_retainer()["res_id"], retainer.id)
        with self.assertRaisesText(UserError, "already onboarded"):
            lead._msp_win_onboard(self.onboard_values())
        self.assertEqual(self.env["crm.lead"].search([("msp_retainer_id", "=", retainer.id)]), lead)
