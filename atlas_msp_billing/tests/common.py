from contextlib import contextmanager
from xmlrpc.client import Fault

from odoo import fields
from odoo.tests import TransactionCase, new_test_user

from odoo.addons.base.controllers.rpc import RPC_FAULT_CODE_WARNING

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


def backdate_tickets(tickets, create_date):
    """Move the tickets' creation to ``create_date``, which their SLA deadlines
    count from (the ORM sets ``create_date`` itself, at the transaction's time)."""
    create_date = fields.Datetime.to_datetime(create_date)
    tickets.flush_recordset()
    tickets.env.cr.execute(
        "UPDATE project_task SET create_date = %s WHERE id IN %s",
        [create_date, tuple(tickets.ids)],
    )
    tickets.invalidate_recordset(["create_date"])
    tickets.modified(["create_date"])
    tickets.flush_recordset()


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
        # The database's own "Bill time from" day (its install date) would hide
        # the history these tests bill: they set it where they test it.
        cls.env.company.msp_billing_start_date = False

    @contextmanager
    def assertRaisesText(self, exception, text):
        """assertRaises (which rolls back what the failing call wrote) and a
        check that the message says ``text``."""
        with self.assertRaises(exception) as catcher:
            yield catcher
        self.assertIn(text, str(catcher.exception))


class MspBillingCase(MspBillingCommon):
    """Customers with projects, tasks and an employee to log time, and helpers
    to build retainers and run the billing on explicit dates."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.employee = cls.env["hr.employee"].create(
            {"name": "Test Technician", "user_id": cls.user_technician.id}
        )
        cls.customer.write(
            {
                "user_id": cls.user_account_manager.id,
                "property_payment_term_id": cls.env.ref("account.account_payment_term_30days").id,
            }
        )
        cls.project = cls.env["project.project"].create(
            {"name": "Managed IT – Test Customer", "partner_id": cls.customer.id}
        )
        cls.task_a, cls.task_b = cls.env["project.task"].create(
            [
                {"name": "Mail server migration", "project_id": cls.project.id},
                {"name": "Printer setup", "project_id": cls.project.id},
            ]
        )
        cls.product_fee = cls.env.ref("atlas_msp_billing.product_msp_retainer_fee")
        cls.product_overage = cls.env.ref("atlas_msp_billing.product_msp_overage")
        cls.product_adhoc = cls.env.ref("atlas_msp_billing.product_msp_adhoc_support")
        cls.Retainer = cls.env["msp.retainer"]
        cls.partners_before = set(
            cls.env["res.partner"].with_context(active_test=False).search([]).ids
        ) - set(cls.customer.ids)
        # The database may hold demo retainers and unbilled work: these tests
        # look only at the invoices of customers they create.
        cls.env["msp.retainer"].search([("state", "=", "active")]).write({"state": "closed"})

    @classmethod
    def create_retainer(cls, activate=True, **values):
        retainer = cls.env["msp.retainer"].create(
            {
                "partner_id": cls.customer.id,
                "amount": 1000.0,
                "billing_cycle": "monthly",
                "included_hours": 10.0,
                "overage_rate": 120.0,
                "adhoc_rate": 150.0,
                "date_start": "2026-01-01",
                **values,
            }
        )
        if activate:
            retainer.with_context(msp_date=retainer.date_start).action_activate()
        return retainer

    @classmethod
    def log_time(cls, hours, day, category="retainer", task=None, **values):
        task = task or cls.task_a
        return cls.env["account.analytic.line"].create(
            {
                "name": values.pop("name", "Work"),
                "project_id": task.project_id.id,
                "task_id": task.id,
                "employee_id": cls.employee.id,
                "unit_amount": hours,
                "date": day,
                # No category: the entry takes its default (rule 7).
                **({"msp_billing_category": category} if category else {}),
                **values,
            }
        )

    def run_billing(self, day):
        """The invoices the run drafts on ``day`` for the customers the test made
        (the database may hold other customers' unbilled work)."""
        invoices = self.env["msp.retainer"]._run_billing(run_date=fields.Date.to_date(day))
        return invoices.filtered(
            lambda m: m.partner_id.commercial_partner_id.id not in self.partners_before
        )

    def lines_of(self, invoice, product):
        return invoice.invoice_line_ids.filtered(lambda line: line.product_id == product)


class MspXmlRpcMixin:
    """Calls through the test server's XML-RPC endpoint, as a user's script
    does, for ``HttpCase`` classes (user passwords are their logins)."""

    def rpc(self, user, model, method, *args, **kwargs):
        return self.xmlrpc_object.execute_kw(
            self.env.cr.dbname, user.id, user.login, model, method, list(args), kwargs
        )

    def count_records(self, models):
        self.env.invalidate_all()
        return {
            model: self.env[model].sudo().with_context(active_test=False).search_count([])
            for model in models
        }

    def assertRefusedOverRpc(
        self, user, model, method, args, expected, *, watch=(), unchanged=None
    ):
        """``method`` called by ``user`` is refused as a user error (a validation,
        not an access error or a crash) whose message contains ``expected``;
        the records of ``watch`` are as many after the call as before, and the
        fields of ``unchanged`` (record, field names) keep their values."""
        before = self.count_records(watch)
        values = unchanged and unchanged[0].sudo().read(unchanged[1])
        with self.assertRaises(Fault) as catcher:
            self.rpc(user, model, method, *args)
        fault = catcher.exception
        self.assertEqual(fault.faultCode, RPC_FAULT_CODE_WARNING, fault.faultString)
        self.assertIn(expected, fault.faultString)
        self.assertEqual(self.count_records(watch), before, f"{model}.{method} left records")
        if unchanged:
            self.assertEqual(unchanged[0].sudo().read(unchanged[1]), values)
        return fault.faultString
