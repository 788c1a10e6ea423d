from datetime import date, datetime

from lxml import html

from odoo import Command
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools.misc import format_date

from .common import MspBillingCase, backdate_tickets

SCHEDULE = "atlas_msp_billing.action_report_time_schedule"
INVOICE = "account.account_invoices"


@tagged("post_install", "-at_install")
class TestInvoiceDocuments(MspBillingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer.email = "accounts@test-customer.example"
        cls.product_hardware = cls.env["product.product"].create(
            {"name": "Firewall appliance", "type": "consu", "list_price": 450.0}
        )
        cls.product_deliverable = cls.env["product.product"].create(
            {
                "name": "Network redesign",
                "type": "service",
                "invoice_policy": "delivery",
                "service_type": "milestones",
                "list_price": 2000.0,
            }
        )
        cls.Report = cls.env["ir.actions.report"]

    def charge(self, product, day, **values):
        return self.env["msp.charge"].create(
            {
                "partner_id": self.customer.id,
                "product_id": product.id,
                "date": day,
                **values,
            }
        )

    def sections(self, invoice):
        return [
            line.name
            for line in invoice.invoice_line_ids.sorted("sequence")
            if line.display_type == "line_section"
        ]

    def render(self, report, invoice):
        return html.fromstring(self.Report._render_qweb_html(report, invoice.ids)[0])

    def text_of(self, tree):
        return " ".join(tree.text_content().split())

    def billed_month_with_everything(self):
        """February's invoice: its fee, January's 2.5 h of overage, 3 h of ad-hoc
        time, a milestone and a hardware charge."""
        retainer = self.create_retainer()
        self.run_billing("2026-01-01")
        self.log_time(8.0, "2026-01-10", name="Patch the servers")
        self.log_time(4.5, "2026-01-20", task=self.task_b, name="Replace toner")
        self.log_time(3.0, "2026-01-05", category="adhoc", name="Move the mailboxes")
        self.log_time(1.0, "2026-01-07", category="non_billable", name="Internal training")
        self.log_time(2.0, "2026-02-03", name="Printer driver update")
        self.charge(self.product_hardware, "2026-01-12", price_unit=450.0)
        self.charge(self.product_deliverable, "2026-01-15", price_unit=2000.0)
        return retainer, self.run_billing("2026-02-01")

    # ------------------------------------------------------------------
    # Itemised invoices
    # ------------------------------------------------------------------
    def test_sections_in_order(self):
        retainer, invoice = self.billed_month_with_everything()
        self.assertEqual(
            self.sections(invoice),
            ["Retainer fee", "Overage", "Ad-hoc time", "Milestones", "Charges"],
        )
        lines = invoice.invoice_line_ids.sorted("sequence")
        kinds = []
        for line in lines:
            if line.display_type == "line_section":
                kinds.append([])
            else:
                kinds[-1].append(line.product_id)
        self.assertEqual(
            kinds,
            [
                [self.product_fee],
                [self.product_overage],
                [self.product_adhoc],
                [self.product_deliverable],
                [self.product_hardware],
            ],
        )
        # Sections change the layout, not what is billed.
        self.assertEqual(invoice.amount_untaxed, 1000.0 + 2.5 * 120.0 + 3 * 150.0 + 2450.0)
        self.assertEqual(invoice.msp_period_ids, retainer.period_ids)
        adhoc = self.lines_of(invoice, self.product_adhoc)
        self.assertIn("Mail server migration", adhoc.name)
        self.assertIn("3.00 h", adhoc.name)
        self.assertIn(
            format_date(self.env, date(2026, 1, 5)), adhoc.name, "the line says when it was done"
        )
        self.assertIn("12.50 h used", self.lines_of(invoice, self.product_overage).name)

    def test_single_kind_has_its_section(self):
        self.create_retainer()
        invoice = self.run_billing("2026-01-01")
        self.assertEqual(self.sections(invoice), ["Retainer fee"])
        self.assertEqual(invoice.invoice_line_ids.product_id, self.product_fee)

    def test_sections_of_an_adhoc_only_invoice(self):
        self.log_time(2.0, "2026-01-05", category="adhoc")
        self.log_time(1.5, "2026-01-08", category="adhoc", task=self.task_b)
        self.charge(self.product_hardware, "2026-01-12", price_unit=450.0)
        invoice = self.run_billing("2026-02-01")
        self.assertEqual(len(invoice), 1)
        self.assertFalse(invoice.msp_retainer_id)
        self.assertEqual(self.sections(invoice), ["Ad-hoc time", "Charges"])
        self.assertEqual(len(self.lines_of(invoice, self.product_adhoc)), 2)
        self.assertEqual(invoice.amount_untaxed, 3.5 * self.product_adhoc.lst_price + 450.0)

    def test_deleting_a_sectioned_invoice_still_releases(self):
        retainer, invoice = self.billed_month_with_everything()
        invoice.unlink()
        january = retainer.period_ids.sorted("date_start")[0]
        self.assertFalse(january.overage_invoice_id)
        march = self.run_billing("2026-03-01")
        self.assertEqual(
            self.sections(march),
            ["Retainer fee", "Overage", "Ad-hoc time", "Milestones", "Charges"],
        )

    # ------------------------------------------------------------------
    # Time-entry schedule
    # ------------------------------------------------------------------
    def test_time_schedule_lists_entries_subtotals_and_balance(self):
        _retainer, invoice = self.billed_month_with_everything()
        schedule = invoice._msp_time_schedule()[invoice.id]
        self.assertEqual(
            [(c["label"], c["hours"]) for c in schedule["categories"]],
            [("Billable — Retainer", 14.5), ("Billable — Ad Hoc", 3.0)],
        )
        self.assertEqual(schedule["hours"], 17.5)
        self.assertEqual(
            [
                (b["period"].date_start, b["included"], b["used"], b["remaining"], b["overage"])
                for b in schedule["periods"]
            ],
            [(date(2026, 1, 1), 10.0, 12.5, 0.0, 2.5), (date(2026, 2, 1), 10.0, 2.0, 8.0, 0.0)],
        )

        tree = self.render(SCHEDULE, invoice)
        rows = tree.xpath("//tr[contains(@class, 'o_msp_time_entry')]")
        cells = [[" ".join(td.text_content().split()) for td in row.xpath("td")] for row in rows]
        self.assertEqual(
            [(c[3], c[5]) for c in cells],
            [
                ("Patch the servers", "8.00"),
                ("Replace toner", "4.50"),
                ("Printer driver update", "2.00"),
                ("Move the mailboxes", "3.00"),
            ],
        )
        self.assertEqual(cells[0][1], "Test Technician")
        self.assertIn("Mail server migration", cells[0][2])
        self.assertIn("Printer setup", cells[1][2])
        self.assertEqual(cells[3][4], "Billable — Ad Hoc")
        text = self.text_of(tree)
        self.assertNotIn("Internal training", text, "non-billable time is not billed")
        self.assertIn("Subtotal Billable — Retainer 14.50 h", text)
        self.assertIn("Subtotal Billable — Ad Hoc 3.00 h", text)
        self.assertIn("Total 17.50 h", text)
        balance = tree.xpath("//table[@name='msp_period_balance']/tbody/tr")
        self.assertEqual(
            [[td.text_content().strip() for td in row.xpath("td")][1:] for row in balance],
            [["10.00", "12.50", "0.00", "2.50"], ["10.00", "2.00", "8.00", "0.00"]],
        )

    def test_time_schedule_of_several_invoices_at_once(self):
        retainer, february = self.billed_month_with_everything()
        january = retainer.period_ids.sorted("date_start")[0].invoice_id
        schedules = (january | february)._msp_time_schedule()
        # January's invoice bills January's fee: it counts January's time only.
        self.assertEqual(schedules[january.id]["hours"], 12.5)
        self.assertEqual(schedules[february.id]["hours"], 17.5)
        tree = self.render(SCHEDULE, january | february)
        self.assertEqual(len(tree.xpath("//div[contains(@class, 'o_msp_time_schedule')]")), 2)

    def test_time_schedule_without_entries(self):
        self.create_retainer()
        invoice = self.run_billing("2026-01-01")
        text = self.text_of(self.render(SCHEDULE, invoice))
        self.assertIn("No time entries are billed or counted on this invoice.", text)
        self.assertIn("Included hours", text)

    def test_real_pdf(self):
        _retainer, invoice = self.billed_month_with_everything()
        self.customer.msp_invoice_sla_summary = True
        invoice.msp_show_sla_summary = True
        report = self.Report.with_context(force_report_rendering=True)
        for report_ref in (INVOICE, SCHEDULE):
            pdf, report_format = report._render_qweb_pdf(report_ref, invoice.ids)
            self.assertEqual(report_format, "pdf")
            self.assertTrue(pdf.startswith(b"%PDF"), report_ref)

    # ------------------------------------------------------------------
    # SLA summary
    # ------------------------------------------------------------------
    def service_desk_ticket(self, created, **values):
        desk = self.env["project.project"].create(
            {"name": "Test Desk", "msp_is_service_desk": True, "partner_id": self.customer.id}
        )
        ticket = self.env["project.task"].create(
            {"name": "VPN down", "project_id": desk.id, "partner_id": self.customer.id, **values}
        )
        backdate_tickets(ticket, created)
        return ticket

    def test_sla_summary_section(self):
        self.customer.msp_invoice_sla_summary = True
        retainer, invoice = self.billed_month_with_everything()
        self.service_desk_ticket(datetime(2026, 1, 14, 10, 0))
        self.assertTrue(invoice.msp_show_sla_summary)
        summary = invoice._msp_sla_summary()
        # It bills January's overage: January's tickets.
        self.assertEqual(
            (summary["date_from"], summary["date_to"]), (date(2026, 1, 1), date(2026, 1, 31))
        )
        expected = retainer._get_sla_summary(date(2026, 1, 1), date(2026, 1, 31))
        self.assertEqual(summary["opened"], expected["opened"])
        self.assertEqual(summary["opened"], 1)
        tree = self.render(INVOICE, invoice)
        section = tree.xpath("//div[@id='msp_sla_summary']")
        self.assertEqual(len(section), 1)
        text = self.text_of(section[0])
        self.assertIn("SLA summary", text)
        self.assertIn("Tickets opened 1", text)
        self.assertIn("Tickets resolved 0", text)
        self.assertIn("Breaches", text)
        self.assertNotIn("no tickets this period", text.lower())
        # Nothing answered or resolved yet: no "0 (0.0 %)" that reads as all missed.
        self.assertIn("Response target met none answered", text)
        self.assertIn("Resolution target met none resolved", text)
        self.assertNotIn("(0.0 %)", text)
        # Kept on one page: account's class, which wkhtmltopdf honours.
        self.assertIn("avoid-page-break-inside", section[0].get("class").split())

    def test_sla_summary_lists_breaches(self):
        self.customer.msp_invoice_sla_summary = True
        _retainer, invoice = self.billed_month_with_everything()
        ticket = self.service_desk_ticket(datetime(2026, 1, 14, 10, 0), msp_priority="urgent")
        self.assertEqual(invoice._msp_sla_summary()["breaches"], ticket)
        section = self.render(INVOICE, invoice).xpath("//div[@id='msp_sla_summary']")[0]
        text = self.text_of(section)
        self.assertIn(f"Breaches 1: #{ticket.id} VPN down", text)
        self.assertNotIn(" : ", text)

    def test_sla_summary_of_the_last_ended_period(self):
        self.customer.msp_invoice_sla_summary = True
        self.create_retainer()
        self.run_billing("2026-01-01")
        invoice = self.run_billing("2026-02-01")
        self.assertFalse(invoice.msp_overage_period_ids)
        self.assertEqual(invoice._msp_sla_window(), (date(2026, 1, 1), date(2026, 1, 31)))
        text = self.text_of(self.render(INVOICE, invoice))
        self.assertIn("SLA summary", text, "shown with zero tickets too")
        self.assertIn("No tickets this period.", text)
        # No targets "met" at 0 %, no empty table.
        self.assertNotIn("(0.0 %)", text)
        self.assertNotIn("Tickets opened", text)

    def test_no_sla_without_the_flag(self):
        _retainer, invoice = self.billed_month_with_everything()
        self.assertFalse(invoice.msp_show_sla_summary)
        text = self.text_of(self.render(INVOICE, invoice))
        self.assertNotIn("SLA", text)
        self.assertIn("Retainer fee", text, "the sections are on the invoice")

    # ------------------------------------------------------------------
    # Options copied from the customer
    # ------------------------------------------------------------------
    def test_options_copied_from_the_commercial_partner(self):
        self.customer.write({"msp_invoice_sla_summary": True, "msp_attach_time_schedule": True})
        contact = self.env["res.partner"].create(
            {"name": "Billing Contact", "parent_id": self.customer.id, "type": "invoice"}
        )
        self.create_retainer()
        invoice = self.run_billing("2026-01-01")
        self.assertEqual(invoice.partner_id, contact)
        self.assertTrue(invoice.msp_show_sla_summary)
        self.assertTrue(invoice.msp_attach_time_schedule)
        # A copy, not a link: the customer's later change leaves the invoice as it is.
        self.customer.msp_attach_time_schedule = False
        self.assertTrue(invoice.msp_attach_time_schedule)
        invoice.msp_show_sla_summary = False
        self.assertTrue(self.customer.msp_invoice_sla_summary)

        manual = self.env["account.move"].create(
            {"move_type": "out_invoice", "partner_id": contact.id}
        )
        self.assertTrue(manual.msp_show_sla_summary)
        self.assertFalse(manual.msp_attach_time_schedule)
        bill = self.env["account.move"].create(
            {"move_type": "in_invoice", "partner_id": contact.id}
        )
        self.assertFalse(bill.msp_show_sla_summary, "vendor bills never show an SLA")

    def test_new_customers_take_the_company_defaults(self):
        company = self.env.company
        company.write({"msp_invoice_sla_summary": True, "msp_attach_time_schedule": False})
        first = self.env["res.partner"].create({"name": "New Customer", "is_company": True})
        self.assertTrue(first.msp_invoice_sla_summary)
        self.assertFalse(first.msp_attach_time_schedule)
        company.write({"msp_invoice_sla_summary": False, "msp_attach_time_schedule": True})
        second = self.env["res.partner"].create({"name": "Newer Customer", "is_company": True})
        self.assertFalse(second.msp_invoice_sla_summary)
        self.assertTrue(second.msp_attach_time_schedule)
        self.assertTrue(first.msp_invoice_sla_summary, "existing customers keep theirs")

    # ------------------------------------------------------------------
    # Payment terms and banking details
    # ------------------------------------------------------------------
    def test_payment_terms_default_and_customer_own(self):
        immediate = self.env.ref("account.account_payment_term_immediate")
        self.env.company.with_user(self.user_billing_manager).write(
            {"msp_invoice_payment_term_id": self.env.ref("account.account_payment_term_15days").id}
        )
        self.assertEqual(
            self.env.company.msp_invoice_payment_term_id,
            self.env.ref("account.account_payment_term_15days"),
        )
        self.create_retainer()
        own = self.run_billing("2026-01-01")
        self.assertEqual(own.invoice_payment_term_id, self.customer.property_payment_term_id)

        self.customer.property_payment_term_id = False
        self.log_time(1.0, "2026-01-05", category="adhoc")
        default = self.run_billing("2026-02-01")
        self.assertEqual(
            default.invoice_payment_term_id, self.env.ref("account.account_payment_term_15days")
        )
        self.env.company.msp_invoice_payment_term_id = immediate
        manual = self.env["account.move"].create(
            {"move_type": "out_invoice", "partner_id": self.customer.id}
        )
        self.assertFalse(manual.invoice_payment_term_id, "invoices made by hand stay Odoo's")

    def test_bank_account_and_remittance_on_generated_invoices(self):
        company = self.env.company
        first, chosen = self.env["res.partner.bank"].create(
            [
                {"acc_number": "BE68 5390 0754 7034", "partner_id": company.partner_id.id},
                {"acc_number": "NL91 ABNA 0417 1643 00", "partner_id": company.partner_id.id},
            ]
        )
        company.write(
            {
                "msp_invoice_bank_id": chosen.id,
                "msp_invoice_payment_note": "<p>Quote the invoice number with your transfer.</p>",
            }
        )
        self.create_retainer()
        invoice = self.run_billing("2026-01-01")
        self.assertEqual(invoice.partner_bank_id, chosen)
        text = self.text_of(self.render(INVOICE, invoice))
        self.assertIn("NL91 ABNA 0417 1643 00", text)
        self.assertNotIn(first.acc_number, text)
        self.assertIn("Quote the invoice number with your transfer.", text)

        manual = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.customer.id,
                "invoice_line_ids": [Command.create({"name": "Cables", "price_unit": 10.0})],
            }
        )
        self.assertNotIn("Quote the invoice number", self.text_of(self.render(INVOICE, manual)))

    def test_bank_account_must_be_the_company_s(self):
        other = self.env["res.partner.bank"].create(
            {"acc_number": "DE89 3704 0044 0532 0130 00", "partner_id": self.customer.id}
        )
        with self.assertRaisesText(Exception, "must be an account of"):
            self.env.company.msp_invoice_bank_id = other

    # ------------------------------------------------------------------
    # Sending
    # ------------------------------------------------------------------
    def send(self, invoice, user=None):
        invoice.action_post()
        wizard = (
            self.env["account.move.send.wizard"]
            .with_user(user or self.env.user)
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create({"move_id": invoice.id})
        )
        self.assertEqual(
            wizard.mail_template_id, self.env.ref("atlas_msp_billing.mail_template_msp_invoice")
        )
        placeholders = {a["name"] for a in wizard.mail_attachments_widget}
        wizard.action_send_and_print()
        message = invoice.message_ids.filtered("attachment_ids")[:1]
        return placeholders, message

    def test_mail_has_invoice_and_schedule(self):
        self.customer.msp_attach_time_schedule = True
        _retainer, invoice = self.billed_month_with_everything()
        placeholders, message = self.send(invoice)
        pdf_name = invoice._get_invoice_report_filename()
        schedule_name = invoice._msp_time_schedule_filename()
        self.assertEqual(placeholders, {pdf_name, schedule_name})
        self.assertEqual(set(message.attachment_ids.mapped("name")), {pdf_name, schedule_name})
        self.assertIn(self.customer, message.partner_ids)
        self.assertIn(invoice.msp_retainer_id.name, message.body)

    def test_mail_without_schedule_when_off(self):
        _retainer, invoice = self.billed_month_with_everything()
        self.assertFalse(invoice.msp_attach_time_schedule)
        placeholders, message = self.send(invoice)
        pdf_name = invoice._get_invoice_report_filename()
        self.assertEqual(placeholders, {pdf_name})
        self.assertEqual(message.attachment_ids.mapped("name"), [pdf_name])

    def test_batch_send_from_the_list(self):
        self.customer.msp_attach_time_schedule = True
        other = self.env["res.partner"].create(
            {"name": "Second Customer", "is_company": True, "email": "ap@second.example"}
        )
        self.create_retainer()
        self.create_retainer(partner_id=other.id)
        invoices = self.run_billing("2026-01-01")
        self.assertEqual(invoices.mapped("msp_attach_time_schedule"), [True, False])
        invoices.action_post()
        wizard = (
            self.env["account.move.send.batch.wizard"]
            .with_context(active_model="account.move", active_ids=invoices.ids)
            .create({})
        )
        wizard.action_send_and_print(force_synchronous=True)
        with_schedule, without = invoices
        self.assertEqual(
            set(with_schedule.message_ids.attachment_ids.mapped("name")),
            {
                with_schedule._get_invoice_report_filename(),
                with_schedule._msp_time_schedule_filename(),
            },
        )
        self.assertEqual(
            without.message_ids.attachment_ids.mapped("name"),
            [without._get_invoice_report_filename()],
        )

    def test_accountant_without_retainer_access_prints_and_sends(self):
        # Odoo's Send stores the customer's sending preferences: contact rights.
        accountant = new_test_user(
            self.env,
            login="msp_test_accountant",
            groups="account.group_account_invoice,base.group_partner_manager",
        )
        self.customer.write({"msp_attach_time_schedule": True, "msp_invoice_sla_summary": True})
        _retainer, invoice = self.billed_month_with_everything()
        report = self.Report.with_user(accountant)
        schedule = html.fromstring(report._render_qweb_html(SCHEDULE, invoice.ids)[0])
        self.assertIn("Patch the servers", self.text_of(schedule))
        document = html.fromstring(report._render_qweb_html(INVOICE, invoice.ids)[0])
        self.assertIn("SLA summary", self.text_of(document))
        _placeholders, message = self.send(invoice, accountant)
        self.assertEqual(len(message.attachment_ids), 2)
        self.assertIn("12.50 of 10.00 included hours used", message.body)

    def test_other_invoices_keep_odoo_s_template(self):
        manual = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.customer.id,
                "invoice_line_ids": [Command.create({"name": "Cables", "price_unit": 10.0})],
            }
        )
        self.assertEqual(
            manual._get_mail_template(), self.env.ref("account.email_template_edi_invoice")
        )

    # ------------------------------------------------------------------
    # Posting the generated drafts
    # ------------------------------------------------------------------
    def test_to_post_filter_and_posting_a_selection(self):
        self.create_retainer()
        invoices = self.run_billing("2026-03-01")
        self.assertEqual(len(invoices), 3)
        action = self.env.ref("atlas_msp_billing.action_msp_invoices_to_post")
        self.assertEqual(
            action.context, "{'search_default_msp_to_post': 1, 'default_move_type': 'out_invoice'}"
        )
        search_view = self.env["account.move"].get_view(action.search_view_id.id, "search")
        self.assertIn('name="msp_to_post"', search_view["arch"])
        to_post_domain = [("msp_generated", "=", True), ("state", "=", "draft")]
        Move = self.env["account.move"].with_user(self.user_billing_manager)
        self.assertEqual(Move.search([*to_post_domain, ("id", "in", invoices.ids)]), invoices)

        selection = invoices.sorted("invoice_date")[:2]
        post_action = self.env.ref("account.action_validate_account_move")
        self.assertEqual(post_action.binding_model_id.model, "account.move")
        wizard = (
            self.env["validate.account.move"]
            .with_user(self.user_billing_manager)
            .with_context(active_model="account.move", active_ids=selection.ids)
            .create({})
        )
        wizard.validate_move()
        self.assertEqual(set(selection.mapped("state")), {"posted"})
        self.assertEqual(
            Move.search([*to_post_domain, ("id", "in", invoices.ids)]), invoices - selection
        )


@tagged("post_install", "-at_install")
class TestTimeSchedulePortal(MspBillingCase, HttpCase):
    """A customer downloads its own invoices' time schedules from the portal."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        contact = cls.env["res.partner"].create(
            {"name": "Pat Portal", "parent_id": cls.customer.id, "email": "pat@example.com"}
        )
        new_test_user(
            cls.env, login="msp_portal_inv", groups="base.group_portal", partner_id=contact.id
        )
        cls.customer.msp_attach_time_schedule = True
        cls.create_retainer()
        cls.log_time(3.0, "2026-01-05", name="Reset the VPN keys")
        cls.invoice = (
            cls.env["msp.retainer"]
            ._run_billing(run_date=date(2026, 1, 1))
            .filtered(lambda move: move.partner_id.commercial_partner_id == cls.customer)
        )
        cls.invoice.action_post()

        other = cls.env["res.partner"].create({"name": "Other Customer Ltd", "is_company": True})
        cls.other_invoice = cls.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": other.id,
                "msp_attach_time_schedule": True,
                "invoice_line_ids": [Command.create({"name": "Cables", "price_unit": 10.0})],
            }
        )
        cls.other_invoice.action_post()

    def test_own_invoice_page_links_its_schedule(self):
        self.authenticate("msp_portal_inv", "msp_portal_inv")
        page = self.url_open(f"/my/invoices/{self.invoice.id}")
        self.assertEqual(page.status_code, 200)
        self.assertIn(f"/my/invoices/{self.invoice.id}/time_schedule?access_token=", page.text)
        response = self.url_open(f"/my/invoices/{self.invoice.id}/time_schedule?download=true")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.headers["Content-Type"], "application/pdf")
        disposition = response.headers["Content-Disposition"]
        self.assertIn("attachment", disposition)
        self.assertIn(self.invoice.name.replace("/", "_"), disposition)
        # Under test, reports render as HTML: the content can be read.
        self.assertIn(b"Reset the VPN keys", response.content)

    def test_other_customer_s_schedule_refused(self):
        self.authenticate("msp_portal_inv", "msp_portal_inv")
        response = self.url_open(
            f"/my/invoices/{self.other_invoice.id}/time_schedule", allow_redirects=False
        )
        self.assertEqual(response.status_code, 303)
        self.assertNotIn("/time_schedule", response.headers["Location"])

    def test_access_token_opens_the_schedule(self):
        url = self.invoice._msp_time_schedule_portal_url()
        self.assertEqual(self.url_open(url).status_code, 200)
        wrong = f"/my/invoices/{self.invoice.id}/time_schedule?access_token=wrong"
        self.assertEqual(self.url_open(wrong, allow_redirects=False).status_code, 303)

    def test_no_schedule_when_off(self):
        self.invoice.msp_attach_time_schedule = False
        self.authenticate("msp_portal_inv", "msp_portal_inv")
        page = self.url_open(f"/my/invoices/{self.invoice.id}")
        self.assertNotIn("/time_schedule", page.text)
        response = self.url_open(f"/my/invoices/{self.invoice.id}/time_schedule")
        self.assertEqual(response.status_code, 404)
