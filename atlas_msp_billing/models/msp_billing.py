"""The billing run: from the cron's ``run_date`` to the created invoices
(rules 2-4 and 12 of the README). What each invoice holds is prepared by
``msp.billing.invoice`` (msp_billing_invoice.py), the other half of the room.
Each step is a small method another add-on can override, named as Odoo and
OCA ``contract`` name theirs."""

import logging
import math
from collections import defaultdict
from contextlib import contextmanager
from functools import partial
from types import SimpleNamespace

import psycopg2
from markupsafe import Markup

from odoo import api, models
from odoo.tools.misc import format_date

_logger = logging.getLogger(__name__)

# Conflicts with a concurrent run: the whole batch starts over, never reported
# as a failure of one retainer.
CONCURRENCY_ERRORS = (
    psycopg2.errors.SerializationFailure,
    psycopg2.errors.DeadlockDetected,
    psycopg2.errors.LockNotAvailable,
)
# The code of the billing jobs' cron records besides the daily one (rule 12).
BILLING_JOB_CODE = "model._cron_run_billing_job()"
# application_name of a session while it bills a batch (pg_stat_activity).
BILLING_APPLICATION_NAME = "msp_billing"
# Batches each billing job takes at least, when few retainers are due, and the
# smallest batch worth its fixed cost in queries (rule 12).
BATCHES_PER_JOB = 4
MIN_BATCH_SIZE = 10
# Advisory lock namespace of the ad-hoc billing of a customer ("MSPA").
ADHOC_BILLING_LOCK = 0x4D535041


@contextmanager
def billing_isolation(env, on_failure=None):
    """Run a block of the billing run in a savepoint: an error rolls the block
    back alone and goes to ``on_failure`` (rule 4); a conflict with a
    concurrent run propagates (the batch starts over). ``.failed`` tells the
    caller."""
    outcome = SimpleNamespace(failed=False)
    try:
        with env.cr.savepoint():
            yield outcome
    except CONCURRENCY_ERRORS:
        raise
    except Exception as error:
        env.invalidate_all()
        outcome.failed = True
        if on_failure:
            on_failure(error)


class MspBilling(models.AbstractModel):
    _name = "msp.billing"
    _description = "MSP Billing Run"

    # ------------------------------------------------------------------
    # The run: candidates, batches, locks (rules 3, 4, 12)
    # ------------------------------------------------------------------
    @api.model
    def _cron_run_billing(self, batch_size=100):
        """The daily cron, first of the billing jobs (rule 12): it starts the
        others at once, then bills beside them."""
        for job in self._get_billing_jobs():
            job._trigger()
        # Committed now, so that the others start while this one bills.
        self.env.cr.commit()  # pylint: disable=invalid-commit
        self._run_billing(commit=True, batch_size=batch_size)

    @api.model
    def _cron_run_billing_job(self, batch_size=100):
        """One of the billing jobs the daily cron starts (rule 12)."""
        self._run_billing(commit=True, batch_size=batch_size)

    @api.model
    def _get_billing_jobs(self):
        """The cron records of the billing jobs besides the daily one: as many as
        the companies' "Billing Jobs" setting asks minus one (the largest
        setting, since one run serves every company). Missing ones are created;
        those beyond the setting are switched off unless running."""
        crons = self.env["ir.cron"].sudo().with_context(active_test=False)
        jobs = crons.search(
            [("model_id.model", "=", self._name), ("code", "=", BILLING_JOB_CODE)], order="id"
        )
        wanted = self._get_billing_job_count() - 1
        daily = self.env.ref("atlas_msp_billing.ir_cron_msp_billing").sudo()
        jobs |= crons.create(
            [
                {
                    "name": self.env._("MSP Billing: parallel job %s", number + 2),
                    "model_id": daily.model_id.id,
                    "state": "code",
                    "code": BILLING_JOB_CODE,
                    "user_id": daily.user_id.id,
                    "interval_number": daily.interval_number,
                    "interval_type": daily.interval_type,
                    "nextcall": daily.nextcall,
                    "priority": daily.priority,
                }
                for number in range(len(jobs), wanted)
            ]
        )
        for group, active in ((jobs[:wanted], True), (jobs[wanted:], False)):
            switched = group.filtered(lambda job, active=active: job.active != active)
            if switched:
                # A job running now keeps its state until the next run: no waiting on it.
                switched.try_write({"active": active})
        return jobs[:wanted]

    @api.model
    def _get_billing_job_count(self):
        """K, the billing jobs that run at once: the largest of the companies'
        "Billing Jobs" settings, since one run serves every company."""
        [(most,)] = self.env["res.company"].sudo()._read_group([], [], ["msp_billing_jobs:max"])
        return most or 1

    @api.model
    def _get_billing_batch_size(self, count, batch_size):
        """At most ``batch_size`` retainers a batch, fewer when few of the ``count``
        due: each of the K jobs then takes several batches and the jobs end
        together, instead of one billing its last large batch alone (rule 12)."""
        share = math.ceil(count / (self._get_billing_job_count() * BATCHES_PER_JOB))
        return min(batch_size, max(share, MIN_BATCH_SIZE))

    @api.model
    def _run_billing(self, run_date=None, commit=False, batch_size=100):
        """Draft every invoice due on ``run_date`` (default: today in each
        company's time zone); return the invoices created.

        With ``commit``, each batch of retainers is its own transaction: a run
        killed midway keeps the finished batches, and concurrent runs in other
        processes take other retainers (SKIP LOCKED) instead of waiting. The
        retainers another run held are looked at again at the end: those it
        billed are no longer due, those of a run that died are billed here
        (rule 12).
        """
        invoices = self.env["account.move"]
        candidates = self._get_retainer_ids_to_invoice(run_date)
        batch_size = self._get_billing_batch_size(len(candidates), batch_size)
        done, remaining = 0, len(candidates)
        while candidates:
            skipped = []
            for start in range(0, len(candidates), batch_size):
                batch = candidates[start : start + batch_size]
                billed, locked = self._run_billing_batch(batch, run_date, commit)
                invoices |= billed
                taken = set(locked.ids)
                skipped += [rid for rid in batch if rid not in taken]
                done, remaining = done + len(locked), remaining - len(batch)
                if commit:
                    self.env.cr.commit()  # pylint: disable=invalid-commit
                    self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
            if len(skipped) == len(candidates):
                break  # all held by runs still alive: theirs to bill
            candidates = self._get_retainer_ids_to_invoice(run_date, skipped)
            remaining = len(candidates)
        invoices |= self._run_adhoc_billing(run_date, commit=commit)
        return invoices

    @api.model
    def _get_retainers_to_invoice_domain(self, company, day):
        """Active retainers of ``company`` with a period fee due on ``day`` or a
        closing invoice to make."""
        return [
            ("company_id", "=", company.id),
            ("state", "=", "active"),
            "|",
            ("next_invoice_date", "<=", day),
            ("date_end", "<", day),
        ]

    @api.model
    def _get_retainer_ids_to_invoice(self, run_date=None, among=None):
        """Ids of the retainers due on ``run_date``, of those in ``among`` if given."""
        retainers = self.env["msp.retainer"].sudo()
        scope = [("state", "=", "active")] + ([("id", "in", among)] if among is not None else [])
        due = []
        for company in retainers.search(scope).company_id:
            day = run_date or company._msp_today()
            domain = self._get_retainers_to_invoice_domain(company, day)
            due += retainers.search(domain + scope[1:], order="id").ids
        return due

    @api.model
    def _run_billing_batch(self, ids, run_date, commit):
        """Bill the retainers of ``ids`` no other run holds; return the invoices
        created and the retainers taken."""
        retainers = self.env["msp.retainer"].browse(ids)
        for attempt in range(3):
            self._name_billing_session()
            try:
                with self.env.cr.savepoint():
                    locked = self._lock_retainers(retainers, skip_locked=True)
                    # Those another job billed since the list was made are no longer
                    # due: not prepared again for nothing (rule 12).
                    due = locked.browse(self._get_retainer_ids_to_invoice(run_date, locked.ids))
                    return self._invoice_retainers(due, run_date), locked
            except CONCURRENCY_ERRORS:
                # Another run billed some of them after our snapshot: start over
                # with a fresh one, which sees its work.
                if not commit or attempt == 2:
                    raise
                self.env.cr.rollback()
                self.env.invalidate_all()
        return self.env["account.move"], retainers.browse()

    @api.model
    def _name_billing_session(self):
        """Name the database session in ``pg_stat_activity`` until the batch's
        transaction ends: what to watch, and what make stress-servers counts."""
        cron_id = self.env.context.get("cron_id")
        label = BILLING_APPLICATION_NAME + (f" cron {cron_id}" if cron_id else "")
        self.env.cr.execute("SELECT set_config('application_name', %s, true)", [label])

    @api.model
    def _lock_retainers(self, retainers, skip_locked=False):
        """Lock ``retainers`` for billing (rule 3); return those locked."""
        if not retainers:
            return retainers
        retainers.flush_model()
        self.env.cr.execute(
            f"""SELECT id FROM msp_retainer WHERE id IN %s
                FOR UPDATE {"SKIP LOCKED" if skip_locked else ""}""",
            [tuple(retainers.ids)],
            # A retainer another job billed since this transaction began is a
            # serialization failure the caller retries: not an error to log.
            log_exceptions=False,
        )
        locked = retainers.browse([row[0] for row in self.env.cr.fetchall()])
        locked.invalidate_recordset()
        locked.period_ids.invalidate_recordset()
        return locked

    @api.model
    def _invoice_retainers(self, retainers, run_date):
        """Bill ``retainers`` together (rule 12); when that fails, one by one, so
        that a failing retainer rolls back alone and is reported (rule 4)."""
        with billing_isolation(self.env) as together:
            invoices = self._invoice_retainers_together(retainers, run_date)
        if not together.failed:
            return invoices
        invoices = self.env["account.move"]
        for retainer in retainers:
            with billing_isolation(self.env, partial(self._report_retainer_failure, retainer)):
                invoices |= self._invoice_retainers_together(retainer, run_date)
        return invoices

    @api.model
    def _invoice_retainers_together(self, retainers, run_date):
        prepared = self.env["msp.billing.invoice"]._prepare_retainers_invoices(retainers, run_date)
        invoices = self._create_invoices([inv for invs in prepared.values() for inv in invs])
        for retainer in retainers:
            self._after_invoiced(retainer, run_date)
        return invoices

    @api.model
    def _report_retainer_failure(self, retainer, error):
        """Rule 4: log it, post it on the retainer, and ask a billing manager."""
        _logger.warning("Billing of retainer %s failed: %s", retainer.name, error)
        message = self.env._("The billing run could not invoice this retainer: %s", error)
        retainer.message_post(body=message)
        manager = self.env.ref("atlas_msp_billing.group_msp_billing_manager").users.filtered(
            lambda u: retainer.company_id in u.company_ids
        )[:1]
        retainer.activity_schedule(
            "mail.mail_activity_data_todo",
            summary=self.env._("Billing failed"),
            note=message,
            user_id=(manager or retainer.user_id or self.env.user).id,
        )

    @api.model
    def _get_result_action(self, invoices):
        """What the screens that start a billing show: the invoices it made, or a
        notice that nothing was due."""
        if not invoices:
            return {
                "type": "ir.actions.client",
                "tag": "display_notification",
                "params": {
                    "type": "info",
                    "title": self.env._("Nothing to invoice"),
                    "message": self.env._("Everything due up to today is already invoiced."),
                    "sticky": False,
                    # From the Generate Invoices Now dialog: the notice closes it.
                    "next": {"type": "ir.actions.act_window_close"},
                },
            }
        return invoices._get_records_action(name=self.env._("Generated Invoices"))

    @api.model
    def _after_invoiced(self, retainer, run_date):
        """An ended retainer whose last period is invoiced is closed."""
        day = run_date or retainer.company_id._msp_today()
        if retainer.date_end and retainer.date_end < day:
            retainer.write({"state": "closed"})

    @api.model
    def _create_invoices(self, invoices):
        """Create the prepared ``invoices`` in one batch, each saying in its
        chatter what generated it."""
        if not invoices:
            return self.env["account.move"]
        values = [
            self.env["msp.billing.invoice"]._prepare_invoice_create_values(inv) for inv in invoices
        ]
        self._prefetch_billed_records(values)
        moves = (
            self.env["account.move"]
            .sudo()
            .with_context(default_move_type="out_invoice", tracking_disable=True)
            .create(values)
        )
        self._mark_overage_counted(moves)
        moves._message_log_batch(
            {
                move.id: self._get_generated_note(inv)
                for move, inv in zip(moves, invoices, strict=True)
            },
            author_id=self.env.ref("base.partner_root").id,
        )
        return moves.sudo(False)

    @api.model
    def _prefetch_billed_records(self, values):
        """Read the time entries and charges the invoice lines of ``values`` bill,
        all at once: linking them, the ORM and sale_timesheet's write checks read
        them invoice line by invoice line, one query each otherwise (rule 12)."""
        billed = {"msp_timesheet_ids": [], "msp_charge_ids": []}
        for vals in values:
            for _create, _id, line in vals["invoice_line_ids"]:
                for field, ids in billed.items():
                    ids.extend(i for command in line.get(field, ()) for i in command[2])
        line_model = self.env["account.move.line"]
        for field, ids in billed.items():
            comodel = self.env[line_model._fields[field].comodel_name].sudo()
            # The first field read loads all their stored fields, as one query.
            comodel.browse(ids).mapped(line_model._fields[field].inverse_name)

    @api.model
    def _mark_overage_counted(self, moves):
        """The retainer time of each period whose overage ``moves`` bill, and not
        yet counted by another invoice, is counted by them: once posted, it is
        locked (rule 6), while time logged later is billed as an adjustment."""
        self.env.flush_all()
        self.env.cr.execute(
            """
            UPDATE account_analytic_line entry
               SET msp_overage_move_id = line.move_id
              FROM account_move_line line
             WHERE line.move_id IN %s
               AND line.msp_overage_period_id = entry.msp_period_id
               AND entry.msp_billing_category = 'retainer'
               AND entry.msp_overage_move_id IS NULL
            """,
            [tuple(moves.ids)],
        )
        self.env["account.analytic.line"].invalidate_model(["msp_overage_move_id"])

    @api.model
    def _get_generated_note(self, invoice):
        retainer = invoice["retainer"]
        periods = (invoice["fee_periods"] | invoice["overage_periods"]).sorted("date_start")
        run_date = invoice["run_date"] or invoice["header"]["invoice_date"]
        body = self.env._(
            "Drafted by the billing run of %(date)s%(retainer)s.",
            date=format_date(self.env, run_date),
            retainer=self.env._(" for retainer %s", retainer.name) if retainer else "",
        )
        if periods:
            body += " " + self.env._(
                "Periods: %(periods)s.", periods=", ".join(periods.mapped("display_name"))
            )
        return Markup("<p>%s</p>") % body

    # ------------------------------------------------------------------
    # Customers without a retainer (rule 2)
    # ------------------------------------------------------------------
    @api.model
    def _run_adhoc_billing(self, run_date=None, commit=False, partners=None, force=False):
        """On the first day of each month (or on demand with ``force``), one
        invoice per customer without an active retainer, for its unbilled
        ad-hoc time and pending charges."""
        builder = self.env["msp.billing.invoice"]
        invoices = self.env["account.move"]
        for partner, company, day in self._get_adhoc_billing_targets(run_date, partners, force):
            with billing_isolation(self.env, partner._msp_report_adhoc_failure):
                if self._lock_customer(partner):
                    invoice = builder._prepare_adhoc_invoice(partner, day, company)
                    if invoice:
                        invoices |= self._create_invoices([invoice])
            if commit:
                self.env.cr.commit()  # pylint: disable=invalid-commit
        return invoices

    @api.model
    def _get_adhoc_billing_targets(self, run_date=None, partners=None, force=False):
        """(customer, company, day) of the customers without an active retainer
        the run bills: on the first of the month in their company, or on demand."""
        retainers = self.env["msp.retainer"].sudo()
        for company, partner_ids in self._get_adhoc_billing_customers(partners).items():
            day = run_date or company._msp_today()
            if day.day != 1 and not force:
                continue
            partners = self.env["res.partner"].browse(partner_ids).with_company(company)
            # Those with a retainer are billed by it, as one search for all of them.
            covered = retainers.search(retainers._msp_covering_domain(partners, day)).partner_id
            for partner in partners:
                if partner not in covered:
                    yield partner, company, day

    @api.model
    def _get_adhoc_billing_customers(self, partners=None):
        """{company: commercial partner ids} having unbilled ad-hoc work."""
        result = defaultdict(set)
        builder = self.env["msp.billing.invoice"]
        time_domain = builder._get_billable_adhoc_domain()
        charge_domain = builder._get_billable_charge_domain()
        if partners:
            time_domain.append(("partner_id", "child_of", partners.ids))
            charge_domain.append(("partner_id", "in", partners.commercial_partner_id.ids))
        for company, partner in (
            self.env["account.analytic.line"]
            .sudo()
            ._read_group(time_domain, ["company_id", "partner_id"])
        ):
            result[company].add(partner.commercial_partner_id.id)
        for company, partner in (
            self.env["msp.charge"].sudo()._read_group(charge_domain, ["company_id", "partner_id"])
        ):
            result[company].add(partner.id)
        return result

    @api.model
    def _lock_customer(self, partner):
        """Concurrent runs split customers instead of both billing one."""
        self.env.cr.execute(
            "SELECT pg_try_advisory_xact_lock(%s, %s)", [ADHOC_BILLING_LOCK, partner.id]
        )
        return self.env.cr.fetchone()[0]

    # ------------------------------------------------------------------
    # Billing preview: the same preparing code, nothing written
    # ------------------------------------------------------------------
    @api.model
    def _prepare_billing_preview(self, run_date=None):
        """The invoices the run would prepare on ``run_date``, as prepared invoices
        (see ``msp.billing.invoice._prepare_invoice``), writing nothing: no
        invoice, period, message, activity or sequence number."""
        builder = self.env["msp.billing.invoice"].with_context(msp_billing_preview=True)
        retainers = self.env["msp.retainer"].browse(self._get_retainer_ids_to_invoice(run_date))
        retainers = retainers.with_context(msp_billing_preview=True)
        try:
            by_retainer = builder._prepare_retainers_invoices(retainers, run_date)
        except Exception:  # pylint: disable=broad-except
            # As the run (rule 4): one by one, leaving out the failing ones.
            by_retainer = {}
            for retainer in retainers:
                try:
                    by_retainer.update(builder._prepare_retainers_invoices(retainer, run_date))
                except Exception as error:  # pylint: disable=broad-except
                    _logger.info("Billing preview: retainer %s fails: %s", retainer.name, error)
        prepared = [invoice for invoices in by_retainer.values() for invoice in invoices]
        for partner, company, day in self._get_adhoc_billing_targets(run_date):
            invoice = builder._prepare_adhoc_invoice(partner, day, company)
            if invoice:
                prepared.append(invoice)
        return prepared

    @api.model
    def _get_billing_preview_values(self, invoice):
        """A prepared invoice as the billing preview shows it."""
        header = invoice["header"]
        currency = self.env["res.currency"].browse(header["currency_id"])
        titles = self.env["msp.billing.invoice"]._get_invoice_sections()
        lines = [
            {
                "section": titles[key],
                "section_key": key,
                "name": vals["name"],
                "quantity": vals["quantity"],
                "price_unit": vals["price_unit"],
                "price_subtotal": currency.round(vals["quantity"] * vals["price_unit"]),
            }
            for key, section_lines in invoice["sections"].items()
            for vals in section_lines
        ]
        return {
            "partner_id": header["partner_id"],
            "retainer_id": header.get("msp_retainer_id", False),
            "invoice_date": header["invoice_date"],
            "currency_id": currency.id,
            "amount_untaxed": currency.round(sum(line["price_subtotal"] for line in lines)),
            "lines": lines,
        }
