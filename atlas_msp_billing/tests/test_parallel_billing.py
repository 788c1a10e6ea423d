"""Rule 12: the daily billing runs as several jobs at once, each in its own
database transaction as on a cron worker, taking batches with SKIP LOCKED;
together they bill every period once."""

import threading
import uuid
from contextlib import contextmanager
from datetime import date
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.exceptions import ValidationError
from odoo.tests import TransactionCase, tagged

RUN_DATE = date(2020, 1, 15)  # not the 1st: no monthly invoices of customers without retainers
START = date(2019, 11, 1)  # three monthly periods due on RUN_DATE: Nov, Dec, Jan
RETAINERS = 6
BATCH = 2


@tagged("post_install", "-at_install")
class TestParallelBilling(TransactionCase):
    """Jobs commit what they bill, as the cron does: their retainers are created
    and deleted in cursors of their own, outside the test's transaction."""

    def setUp(self):
        super().setUp()
        tag = uuid.uuid4().hex[:8]
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            partners = env["res.partner"].create(
                [{"name": f"Parallel {tag} {n}", "is_company": True} for n in range(RETAINERS)]
            )
            retainers = env["msp.retainer"].create(
                [{"partner_id": p.id, "amount": 500.0, "date_start": START} for p in partners]
            )
            retainers.with_context(msp_date=START).action_activate()
        self.retainer_ids = retainers.ids
        self.addCleanup(self.delete_world, partners.ids)

    def delete_world(self, partner_ids):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            retainers = env["msp.retainer"].browse(self.retainer_ids)
            env["account.move"].search([("msp_retainer_id", "in", retainers.ids)]).unlink()
            # Users never delete active retainers nor invoiced periods: the test
            # does, to leave the database as it found it.
            ids = tuple(retainers.ids)
            cr.execute("DELETE FROM msp_retainer_period WHERE retainer_id IN %s", [ids])
            cr.execute("UPDATE msp_retainer SET state = 'draft' WHERE id IN %s", [ids])
            env.invalidate_all()
            retainers.unlink()
            env["res.partner"].browse(partner_ids).unlink()

    @contextmanager
    def only_these_retainers(self):
        """The jobs commit: they must not bill the database's other retainers."""
        billing_class = type(self.env["msp.billing"])
        domain = billing_class._get_retainers_to_invoice_domain
        mine = [("id", "in", self.retainer_ids)]
        with patch.object(
            billing_class,
            "_get_retainers_to_invoice_domain",
            lambda billing, company, day: domain(billing, company, day) + mine,
        ):
            yield

    def run_jobs(self):
        """Two billing jobs in two threads, each with its own cursor; each
        waits, once it holds a batch, until the other holds one too, so that
        both are billing at the same time. Returns the invoice ids of each."""
        both_hold_a_batch = threading.Barrier(2, timeout=30)
        original = type(self.env["msp.billing"])._invoice_retainers
        held = threading.local()

        def invoice_retainers(billing, retainers, run_date):
            if retainers and not getattr(held, "once", False):
                held.once = True
                both_hold_a_batch.wait()
            return original(billing, retainers, run_date)

        results, errors = {}, []

        def job(name):
            try:
                with self.registry.cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
                    invoices = env["msp.billing"]._run_billing(
                        run_date=RUN_DATE, commit=True, batch_size=BATCH
                    )
                    results[name] = invoices.ids
            except Exception as error:  # reported by the test's thread
                errors.append(error)
                both_hold_a_batch.abort()

        billing_class = type(self.env["msp.billing"])
        with (
            patch.object(billing_class, "_invoice_retainers", invoice_retainers),
            self.only_these_retainers(),
        ):
            threads = [threading.Thread(target=job, args=(name,)) for name in ("first", "second")]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
        self.assertFalse(errors, errors)
        return results

    def test_two_jobs_share_the_batches_and_bill_each_period_once(self):
        results = self.run_jobs()
        self.assertTrue(results["first"], "the first job billed a batch")
        self.assertTrue(results["second"], "the second job billed a batch")
        self.assertFalse(set(results["first"]) & set(results["second"]))
        invoices = self.env["account.move"].search([("msp_retainer_id", "in", self.retainer_ids)])
        self.assertEqual(sorted(invoices.ids), sorted(results["first"] + results["second"]))
        billed = sorted((inv.msp_retainer_id.id, inv.invoice_date) for inv in invoices)
        expected = sorted(
            (rid, day)
            for rid in self.retainer_ids
            for day in (START, date(2019, 12, 1), date(2020, 1, 1))
        )
        self.assertEqual(billed, expected, "three fee invoices per retainer, none twice")
        periods = self.env["msp.retainer"].browse(self.retainer_ids).period_ids
        self.assertEqual(len(periods.invoice_id), len(periods), "one invoice per period")

    def test_a_job_started_after_the_others_finds_nothing_left(self):
        self.run_jobs()
        with self.only_these_retainers(), self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            late = env["msp.billing"]._run_billing(run_date=RUN_DATE, commit=True)
            self.assertFalse(late, "everything was billed by the first two jobs")


@tagged("post_install", "-at_install")
class TestBillingJobsSetting(TransactionCase):
    """The Revenue setting "Billing Jobs" gives the daily cron its companions."""

    def jobs(self):
        return self.env["ir.cron"].search(
            [("model_id.model", "=", "msp.billing"), ("code", "=", "model._cron_run_billing_job()")]
        )

    def test_the_cron_records_follow_the_setting(self):
        company = self.env.company
        company.msp_billing_jobs = 3
        self.assertEqual(len(self.jobs()), 2, "the daily cron and two more")
        self.assertEqual(self.env["msp.billing"]._get_billing_jobs(), self.jobs())
        company.msp_billing_jobs = 1
        self.assertFalse(self.jobs(), "a single job: the daily cron alone")
        self.assertFalse(self.env["msp.billing"]._get_billing_jobs())

    def test_at_least_one_job(self):
        with self.assertRaisesRegex(ValidationError, "at least 1 job"):
            self.env.company.msp_billing_jobs = 0


@tagged("post_install", "-at_install")
class TestBillingBatchSize(TransactionCase):
    def test_each_job_gets_several_batches_of_few_retainers(self):
        self.env["res.company"].search([]).write({"msp_billing_jobs": 2})
        size = self.env["msp.billing"]._get_billing_batch_size
        self.assertEqual(size(400, 100), 50, "2 jobs x 4 batches of 50")
        self.assertEqual(size(1000, 100), 100, "never above the batch size asked")
        self.assertEqual(size(30, 100), 10, "never below 10 retainers")
        self.assertEqual(size(6, 2), 2, "nor above a smaller batch size asked")
        self.env.company.msp_billing_jobs = 4
        self.assertEqual(size(400, 100), 25)
