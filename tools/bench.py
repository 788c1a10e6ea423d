#!/usr/bin/env python3
"""``make bench`` and ``make stress``: the billing run measured on a scratch
database (never by timed assertions in tests).

bench:  N retainers, each with M retainer time entries in January (enough for
        overage) and ad-hoc time on two tasks; January is billed, then the
        February run is timed (fee + overage + ad-hoc lines per retainer).
        Then the same with M = 500, and the floor: the same invoices created
        by one batched ``account.move.create``.
stress: two billing runs in separate processes on one database, one killed
        with SIGKILL midway and started again; counts duplicates.
time:   the cost of time entries with billing categories, period counters and
        usage alerts: 1,000 entries saved one by one (as technicians save
        them) against 100 retainers, each crossing 80 % and 100 % of its
        hours within 10 entries (the worst case; --typical: 25 retainers of
        40 entries each, a month of a busy customer), versus the same entries
        on Odoo without the add-on.
dashboard: the Revenue dashboard's key figures, its MRR timeline, its
        unbilled ad-hoc time and the analysis pivot on 10,000 active retainers
        (monthly, quarterly, annual) and 1,000,000 time entries, on their own
        scratch database.
"""

import argparse
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dev

# Named after the test database (ATLAS_TEST_DB), as make fresh-install's: two
# working copies can bench on one cluster.
SUFFIX = dev.TEST_DB.removeprefix("atlas_test")
BENCH_DB = "atlas_bench" + SUFFIX
BENCH_DB_COPY = "atlas_bench_copy" + SUFFIX
PLAIN_DB = "atlas_bench_plain" + SUFFIX
# Its own database: `make bench` and `make bench-time` may run at the same time.
DASHBOARD_DB = "atlas_bench_dash" + SUFFIX
JANUARY, FEBRUARY = date(2026, 1, 1), date(2026, 2, 1)


# --------------------------------------------------------------------------
# Database and Odoo
# --------------------------------------------------------------------------
def scratch_database():
    if "odoo.modules.registry" in sys.modules:
        # A registry of the previous scratch database must not outlive it.
        from odoo import sql_db  # noqa: PLC0415
        from odoo.modules.registry import Registry  # noqa: PLC0415

        Registry.delete(BENCH_DB)
        sql_db.close_db(BENCH_DB)
    version = dev.prepare()
    dev.copy_database(dev.ensure_template(version), BENCH_DB)
    dev.install(BENCH_DB, [dev.MODULE], dev.MODULE)


@contextmanager
def odoo_env(db=BENCH_DB):
    import odoo  # noqa: PLC0415 - Odoo is a prerequisite checked by dev.prepare()

    if odoo.tools.config["db_name"] != BENCH_DB:  # Odoo parses its configuration once
        odoo.tools.config.parse_config(["-c", str(dev.CONF), "-d", BENCH_DB, "--log-level=warn"])
    registry = odoo.modules.registry.Registry(db)
    with registry.cursor() as cr:
        yield odoo.api.Environment(cr, odoo.SUPERUSER_ID, {"tracking_disable": True})


@contextmanager
def counting_queries():
    from odoo import sql_db  # noqa: PLC0415

    counter = {"queries": 0}
    original = sql_db.Cursor.execute

    def execute(self, *args, **kwargs):
        counter["queries"] += 1
        return original(self, *args, **kwargs)

    sql_db.Cursor.execute = execute
    try:
        yield counter
    finally:
        sql_db.Cursor.execute = original


def vacuum_analyze(db=BENCH_DB):
    subprocess.run([dev.pg_client("psql"), "-XAtq", "-d", db, "-c", "VACUUM ANALYZE"], check=True)


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------
def activate_retainers(env, partners, start=JANUARY):
    """A monthly retainer (10 h included) per partner, started and activated on
    ``start``."""
    retainers = env["msp.retainer"].create(
        [
            {
                "partner_id": p.id,
                "amount": 1000.0,
                "included_hours": 10.0,
                "overage_rate": 120.0,
                "adhoc_rate": 150.0,
                "date_start": start,
            }
            for p in partners
        ]
    )
    retainers.with_context(msp_date=start).action_activate()
    return retainers


def create_customers(env, count):
    """``count`` customers, each with a task of its own on one service desk."""
    partners = env["res.partner"].create(
        [{"name": f"Bench Customer {i:05d}", "is_company": True} for i in range(count)]
    )
    project = env["project.project"].create({"name": "Bench Service Desk"})
    tasks = env["project.task"].create(
        [
            {"name": f"Ticket {p.name}", "project_id": project.id, "partner_id": p.id}
            for p in partners
        ]
    )
    return partners, tasks


def create_retainers(env, count):
    """``count`` customers, each with an active monthly retainer (10 h
    included) started Jan 1 and billed for January, and a task."""
    # The scratch database holds Odoo's demo timesheets, so installing the add-on
    # set "Bill time from" to today: the bench bills its own history of 2026.
    env["res.company"].search([]).write({"msp_billing_start_date": False})
    partners, tasks = create_customers(env, count)
    retainers = activate_retainers(env, partners)
    env["msp.retainer"]._run_billing(run_date=JANUARY)
    env.cr.commit()
    return retainers, tasks


def insert_time(env, retainers, tasks, batches, start=JANUARY):
    """Time entries inserted in bulk by SQL from one ORM-made entry: for each
    ``(overrides, repeat)`` of ``batches``, ``repeat`` entries per retainer in
    its first period (starting on ``start``), on its customer's task, the
    columns in ``overrides`` replaced by SQL expressions over ``m``
    (retainer_id, period_id, task_id, partner_id) and ``g`` (1 to ``repeat``)."""
    employee = env["hr.employee"].search([], limit=1)
    model = env["account.analytic.line"].create(
        {
            "name": "Bench work",
            "project_id": tasks[0].project_id.id,
            "task_id": tasks[0].id,
            "employee_id": employee.id,
            "unit_amount": 1.0,
            "date": start + timedelta(days=9),
            "msp_billing_category": "retainer",
        }
    )
    env.flush_all()
    columns = [
        name
        for name, field in env["account.analytic.line"]._fields.items()
        if field.store and field.column_type and name != "id"
    ]
    cr = env.cr
    cr.execute(
        """CREATE TEMP TABLE bench_map ON COMMIT DROP AS
           SELECT r.id AS retainer_id, p.id AS period_id, t.id AS task_id, r.partner_id
             FROM msp_retainer r
             JOIN msp_retainer_period p ON p.retainer_id = r.id AND p.date_start = %s
             JOIN project_task t ON t.partner_id = r.partner_id
            WHERE r.id = ANY(%s) AND t.id = ANY(%s)""",
        [start, retainers.ids, tasks.ids],
    )
    for batch_overrides, repeat in batches:
        overrides = {
            "task_id": "m.task_id",
            "partner_id": "m.partner_id",
            "msp_retainer_id": "m.retainer_id",
            "msp_period_id": "m.period_id",
            **batch_overrides,
        }
        select = ", ".join(overrides.get(c, f't."{c}"') for c in columns)
        cr.execute(
            f"""INSERT INTO account_analytic_line ({", ".join(f'"{c}"' for c in columns)})
                SELECT {select} FROM account_analytic_line t, bench_map m,
                       generate_series(1, %(repeat)s) g
                WHERE t.id = %(model)s""",
            {"january": JANUARY, "repeat": repeat, "model": model.id},
        )
    model.unlink()
    env.invalidate_all()
    periods = retainers.period_ids
    periods._compute_hours_used()
    periods._compute_overage()
    env.flush_all()
    cr.commit()


def log_time(env, retainers, tasks, per_retainer, start=JANUARY):
    """``per_retainer`` retainer entries (12 h in all: 2 h over) and two ad-hoc
    entries per customer."""
    retainer_time = {"unit_amount": f"{12.0 / per_retainer}"}
    adhoc_time = {
        "msp_retainer_id": "NULL",
        "msp_period_id": "NULL",
        "unit_amount": "1.5",
        "msp_billing_category": "'adhoc'",
    }
    insert_time(env, retainers, tasks, [(retainer_time, per_retainer), (adhoc_time, 2)], start)


# --------------------------------------------------------------------------
# bench
# --------------------------------------------------------------------------
def invoice_copy_values(invoices):
    """The same invoices, as Odoo alone would create them: header and lines,
    without the add-on's links to periods, time entries and charges."""
    return [
        {
            "move_type": "out_invoice",
            "partner_id": move.partner_id.id,
            "company_id": move.company_id.id,
            "currency_id": move.currency_id.id,
            "invoice_date": move.invoice_date,
            "invoice_origin": move.invoice_origin,
            "invoice_user_id": move.invoice_user_id.id,
            "invoice_payment_term_id": move.invoice_payment_term_id.id,
            "partner_bank_id": move.partner_bank_id.id,
            "invoice_line_ids": [
                (
                    0,
                    0,
                    {
                        "display_type": line.display_type,
                        "product_id": line.product_id.id,
                        "name": line.name,
                        "quantity": line.quantity,
                        "price_unit": line.price_unit,
                    },
                )
                for line in move.invoice_line_ids
            ],
        }
        for move in invoices
    ]


def run_processes(count, run_date, db):
    """Seconds from the first start to the last end of ``count`` billing runs
    in parallel processes (their start-up, loading Odoo, not counted)."""
    ctx = multiprocessing.get_context("spawn")
    timings = ctx.Queue()
    processes = [
        ctx.Process(target=run_in_process, args=(run_date, db, 100, timings)) for _i in range(count)
    ]
    for process in processes:
        process.start()
    spans = [timings.get() for _process in processes]
    for process in processes:
        process.join()
    return max(end for _start, end in spans) - min(start for start, _end in spans)


# Billing cron jobs still to run: due, or triggered (a job killed midway stays so).
BILLING_JOBS_READY = """
    SELECT count(*) FROM ir_cron c JOIN ir_act_server a ON a.id = c.ir_actions_server_id
    WHERE c.active AND a.code LIKE 'model._cron_run_billing%%'
      AND (c.nextcall <= now() at time zone 'UTC'
           OR EXISTS (SELECT 1 FROM ir_cron_trigger t
                      WHERE t.cron_id = c.id AND t.call_at <= now() at time zone 'UTC'))"""


def cron_worker(db, ready, stop):
    """One cron thread of an Odoo server, in a process of its own: Odoo's
    ``ir.cron._process_jobs`` on ``db`` every 50 ms (a cron thread woken by
    each trigger). Its "today" is the bench's February 1."""
    import odoo  # noqa: PLC0415

    odoo.tools.config.parse_config(["-c", str(dev.CONF), "--log-level=warn"])
    odoo.modules.module.initialize_sys_path()
    from odoo.addons.atlas_msp_billing.models.res_company import ResCompany  # noqa: PLC0415
    from odoo.addons.base.models.ir_cron import ir_cron  # noqa: PLC0415

    ResCompany._msp_today = lambda _company: FEBRUARY
    odoo.modules.registry.Registry(db)
    ready.put(True)
    while not stop.is_set():
        ir_cron._process_jobs(db)
        time.sleep(0.05)


def run_cron(db, jobs, expected, timeout=600):
    """Seconds for the daily billing cron and its companion jobs (the Revenue
    setting at ``jobs``) to draft ``expected`` February invoices, on as many
    cron workers as jobs (their start-up not counted)."""
    with odoo_env(db) as env:
        env["res.company"].search([]).write({"msp_billing_jobs": jobs})
        env.cr.execute("UPDATE ir_cron SET nextcall = now() + interval '1 day'")
        env.cr.execute("DELETE FROM ir_cron_trigger")
        env.cr.commit()
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    workers = [ctx.Process(target=cron_worker, args=(db, ready, stop)) for _i in range(jobs)]
    for worker in workers:
        worker.start()
    for _worker in workers:
        ready.get(timeout=300)
    with odoo_env(db) as env:
        cr = env.cr
        daily = env.ref("atlas_msp_billing.ir_cron_msp_billing")
        cr.execute(
            "UPDATE ir_cron SET nextcall = now() at time zone 'UTC' WHERE id = %s", [daily.id]
        )
        cr.commit()
        started = time.perf_counter()
        finished = None
        while time.perf_counter() - started < timeout:
            time.sleep(0.05)
            if finished is None and count_bench_invoices(cr) >= expected:
                finished = time.perf_counter()
            if finished:
                cr.execute(BILLING_JOBS_READY)
                if not cr.fetchone()[0]:
                    break
            cr.rollback()
    stop.set()
    for worker in workers:
        worker.join(timeout=60)
        if worker.is_alive():
            worker.kill()
    from odoo.modules.registry import Registry  # noqa: PLC0415

    Registry.delete(db)  # the next copy is another database of the same name
    return (finished or time.perf_counter()) - started


def bench_once(retainer_count, per_retainer, parallel):
    scratch_database()
    with odoo_env() as env:
        started = time.perf_counter()
        retainers, tasks = create_retainers(env, retainer_count)
        log_time(env, retainers, tasks, per_retainer)
        setup_seconds = time.perf_counter() - started
    vacuum_analyze()
    parallel_seconds, cron_seconds = None, {}
    if parallel:
        from odoo import sql_db  # noqa: PLC0415

        sql_db.close_db(BENCH_DB)
        dev.copy_database(BENCH_DB, BENCH_DB_COPY)
        parallel_seconds = run_processes(2, FEBRUARY, BENCH_DB_COPY)
        for jobs in (1, parallel):
            dev.copy_database(BENCH_DB, BENCH_DB_COPY)
            cron_seconds[jobs] = run_cron(BENCH_DB_COPY, jobs, retainer_count)
            sql_db.close_db(BENCH_DB_COPY)
        dev.drop_database(BENCH_DB_COPY)
    with odoo_env() as env:
        preview = time_preview(env, retainer_count)
    with odoo_env() as env, counting_queries() as counter:
        started = time.perf_counter()
        invoices = env["msp.retainer"]._run_billing(run_date=FEBRUARY, commit=True)
        seconds = time.perf_counter() - started
        queries = counter["queries"]
        lines = len(invoices.invoice_line_ids)
        values = invoice_copy_values(invoices)
        env.cr.commit()
    with odoo_env() as env, counting_queries() as counter:
        started = time.perf_counter()
        env["account.move"].create(values)
        floor = time.perf_counter() - started
        floor_queries = counter["queries"]
        env.cr.rollback()
    return {
        "retainers": retainer_count,
        "entries": per_retainer,
        "setup_s": setup_seconds,
        "invoices": len(values),
        "lines": lines,
        "seconds": seconds,
        "queries_per_retainer": queries / retainer_count,
        "queries_per_invoice": queries / len(values),
        "floor_queries_per_invoice": floor_queries / len(values),
        "floor_s": floor,
        "two_processes_s": parallel_seconds,
        "cron_s": cron_seconds,
        **preview,
    }


def time_preview(env, retainer_count):
    """The billing preview of FEBRUARY against the run's own preparing work (the
    same builders writing their periods, rolled back): seconds and queries."""
    env.invalidate_all()
    with counting_queries() as counter:
        started = time.perf_counter()
        previews = env["msp.retainer"]._get_billing_preview(run_date=FEBRUARY)
        preview_s = time.perf_counter() - started
    preview_queries = counter["queries"]
    env.cr.rollback()
    env.invalidate_all()
    billing, builder = env["msp.billing"], env["msp.billing.invoice"]
    with counting_queries() as counter:
        started = time.perf_counter()
        retainers = env["msp.retainer"].browse(billing._get_retainer_ids_to_invoice(FEBRUARY))
        builder._prepare_retainers_invoices(retainers, FEBRUARY)
        env.flush_all()  # the periods it creates, as the run writes them
        prepare_s = time.perf_counter() - started
    prepare_queries = counter["queries"]
    env.cr.rollback()
    return {
        "preview_invoices": len(previews),
        "preview_s": preview_s,
        "preview_queries": preview_queries / retainer_count,
        "prepare_s": prepare_s,
        "prepare_queries": prepare_queries / retainer_count,
    }


def cmd_bench(args):
    results = [
        bench_once(args.retainers, m, args.jobs if m == args.entries else 0)
        for m in (args.entries, 500)
    ]
    print()
    print(
        f"{'retainers':>9} {'entries/ret':>11} {'invoices':>8} {'lines':>6} {'run s':>7} "
        f"{'inv/s':>6} {'queries/ret':>11} {'floor s':>7} {'run/floor':>9}"
    )
    for r in results:
        print(
            f"{r['retainers']:>9} {r['entries']:>11} {r['invoices']:>8} {r['lines']:>6} "
            f"{r['seconds']:>7.2f} {r['invoices'] / r['seconds']:>6.1f} "
            f"{r['queries_per_retainer']:>11.1f} {r['floor_s']:>7.2f} "
            f"{r['seconds'] / r['floor_s']:>9.2f}"
        )
    print(f"{'entries/ret':>11} {'queries/inv':>11} {'floor queries/inv':>17} {'run/floor':>9}")
    for r in results:
        run, floor = r["queries_per_invoice"], r["floor_queries_per_invoice"]
        print(f"{r['entries']:>11} {run:>11.2f} {floor:>17.2f} {run / floor:>9.3f}")
    flat = results[1]["queries_per_retainer"] / results[0]["queries_per_retainer"]
    print(f"queries per retainer at M=500 vs M={args.entries}: x{flat:.2f}")
    first = results[0]
    print(
        f"two processes (SKIP LOCKED) at M={args.entries}: {first['two_processes_s']:.2f} s, "
        f"{first['invoices'] / first['two_processes_s']:.1f} invoices/s"
    )
    print(
        f"billing preview at M={args.entries}: {first['preview_invoices']} invoices in "
        f"{first['preview_s']:.2f} s, {first['preview_queries']:.2f} queries/retainer; the run's "
        f"own preparing work {first['prepare_s']:.2f} s, {first['prepare_queries']:.2f} "
        f"queries/retainer (preview/prepare x{first['preview_s'] / first['prepare_s']:.2f})"
    )
    single = first["cron_s"][1]
    for jobs, seconds in first["cron_s"].items():
        print(
            f"cron at M={args.entries}, {jobs} job(s) on {jobs} cron worker(s): {seconds:.2f} s, "
            f"{first['invoices'] / seconds:.1f} invoices/s, x{single / seconds:.2f} a single job"
        )


# --------------------------------------------------------------------------
# time
# --------------------------------------------------------------------------
def time_fixture(env, prefix, customers, with_retainers):
    partners = env["res.partner"].create(
        [{"name": f"{prefix} Customer {i:04d}", "is_company": True} for i in range(customers)]
    )
    projects = env["project.project"].create(
        [{"name": f"Support {p.name}", "partner_id": p.id} for p in partners]
    )
    tasks = env["project.task"].create(
        [{"name": f"Ticket of {p.name}", "project_id": p.id} for p in projects]
    )
    if not with_retainers:
        env.cr.commit()
        return tasks, []
    retainers = activate_retainers(env, partners)
    env.cr.commit()
    return tasks, retainers.ids


def time_entries(db, prefix, with_retainers, customers, per_customer):
    """Seconds and queries to save ``per_customer`` entries per task that add up
    to 11 h (10 h included: each retainer crosses 80 % and 100 %),
    one ``create`` each, committed every 100; and the usage alerts sent."""
    with odoo_env(db) as env:
        tasks, retainers = time_fixture(env, prefix, customers, with_retainers)
        employee = env["hr.employee"].search([("company_id", "=", env.company.id)], limit=1)
    vacuum_analyze(db)
    with odoo_env(db) as env, counting_queries() as counter:
        Timesheet = env["account.analytic.line"]
        started, cpu_started = time.perf_counter(), time.process_time()
        for n in range(per_customer):
            for task in tasks.with_env(env):
                Timesheet.create(
                    {
                        "name": f"Work {n}",
                        "project_id": task.project_id.id,
                        "task_id": task.id,
                        "employee_id": employee.id,
                        "unit_amount": round(11.0 / per_customer, 4),
                        "date": date(2026, 1, 1 + n % 28),
                    }
                )
            env.cr.commit()
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
        queries = counter["queries"]
        alerts = env["mail.activity"].search_count(
            [("res_model", "=", "msp.retainer"), ("res_id", "in", retainers)]
        )
    return seconds, cpu_seconds, queries, alerts


def cmd_time(args):
    if args.typical:
        args.customers, args.per_customer = 25, 40
    version = dev.prepare()
    dev.copy_database(dev.ensure_template(version), PLAIN_DB)
    scratch_database()
    entries = args.customers * args.per_customer
    rows = []
    # Alternating rounds: a load from elsewhere on the machine hits both sides.
    for n in range(args.rounds):
        plain = time_entries(PLAIN_DB, f"P{n}", False, args.customers, args.per_customer)
        addon = time_entries(BENCH_DB, f"A{n}", True, args.customers, args.per_customer)
        rows.append((plain, addon))
    print()
    print(
        f"{'round':>5} {'entries':>7} {'plain s':>8} {'cpu s':>6} {'q/entry':>7} "
        f"{'add-on s':>8} {'cpu s':>6} {'q/entry':>7} {'alerts':>6} {'time x':>6} "
        f"{'cpu x':>6} {'queries x':>9}"
    )
    for n, (plain, addon) in enumerate(rows):
        (plain_s, plain_cpu, plain_q, _none), (addon_s, addon_cpu, addon_q, alerts) = plain, addon
        print(
            f"{n:>5} {entries:>7} {plain_s:>8.2f} {plain_cpu:>6.2f} {plain_q / entries:>7.1f} "
            f"{addon_s:>8.2f} {addon_cpu:>6.2f} {addon_q / entries:>7.1f} {alerts:>6} "
            f"{addon_s / plain_s:>6.2f} {addon_cpu / plain_cpu:>6.2f} {addon_q / plain_q:>9.2f}"
        )

    def median(values):
        return sorted(values)[len(values) // 2]

    print(
        f"median of {args.rounds} rounds, {2 * args.customers} usage alerts per round: wall "
        f"x{median([a[0] / p[0] for p, a in rows]):.2f}, Odoo process CPU "
        f"x{median([a[1] / p[1] for p, a in rows]):.2f}, SQL queries "
        f"x{median([a[2] / p[2] for p, a in rows]):.2f}"
    )


# --------------------------------------------------------------------------
# dashboard
# --------------------------------------------------------------------------
DASHBOARD_DAY = date(2026, 1, 20)  # in the first period of every cycle
DASHBOARD_CYCLES = (
    ("monthly", 1000.0, 10.0),
    ("quarterly", 2700.0, 30.0),
    ("annual", 9600.0, 100.0),
)


def dashboard_retainers(env, count, batch=1000):
    """``count`` customers with a task and an active retainer started Jan 1,
    cycles in turn; created and activated in batches."""
    project = env["project.project"].create({"name": "Bench Dashboard Desk"})
    retainers = env["msp.retainer"]
    tasks = env["project.task"]
    for start in range(0, count, batch):
        numbers = range(start, min(start + batch, count))
        partners = env["res.partner"].create(
            [{"name": f"Dashboard Customer {i:05d}", "is_company": True} for i in numbers]
        )
        tasks |= env["project.task"].create(
            [
                {"name": f"Ticket {p.name}", "project_id": project.id, "partner_id": p.id}
                for p in partners
            ]
        )
        created = env["msp.retainer"].create(
            [
                {
                    "partner_id": p.id,
                    "billing_cycle": cycle,
                    "amount": amount,
                    "included_hours": hours,
                    "overage_rate": 120.0,
                    "adhoc_rate": 150.0,
                    "date_start": JANUARY,
                }
                for i, p in zip(numbers, partners, strict=True)
                for cycle, amount, hours in [DASHBOARD_CYCLES[i % len(DASHBOARD_CYCLES)]]
            ]
        )
        created.with_context(msp_date=JANUARY).action_activate()
        retainers |= created
        env.cr.commit()
        env.invalidate_all()
    return retainers, tasks


def dashboard_time(env, retainers, tasks, per_retainer):
    """``per_retainer`` retainer entries per retainer, dated Jan 1-19 in its
    first period; 0.1 to 0.3 h each, so that about half of the retainers end
    up in overage."""
    overrides = {
        "date": "%(january)s::date + (g %% 19)",
        "unit_amount": "0.1 + (m.retainer_id %% 5) * 0.05",
    }
    insert_time(env, retainers, tasks, [(overrides, per_retainer)])


def timed(env, call, rounds=3):
    """(seconds of the first call, best seconds, queries per call) of ``call``."""
    seconds, queries = [], 0
    for _round in range(rounds):
        env.invalidate_all()
        with counting_queries() as counter:
            started = time.perf_counter()
            call()
            seconds.append(time.perf_counter() - started)
        queries = counter["queries"]
        env.cr.rollback()
    return seconds[0], min(seconds), queries


def dashboard_database(db, retainer_count, entry_count):
    """A new database ``db`` with the add-on, ``retainer_count`` active retainers
    and ``entry_count`` time entries; returns (retainers, seconds of set-up)."""
    version = dev.prepare()
    dev.copy_database(dev.ensure_template(version), db)
    dev.install(db, [dev.MODULE], dev.MODULE)
    with odoo_env(db) as env:
        started = time.perf_counter()
        env["msp.retainer"].search([("state", "=", "active")]).write({"state": "closed"})
        retainers, tasks = dashboard_retainers(env, retainer_count)
        dashboard_time(env, retainers, tasks, entry_count // retainer_count)
        setup_seconds = time.perf_counter() - started
    vacuum_analyze(db)
    return retainers, setup_seconds


def cmd_dashboard(args):
    retainers, setup_seconds = dashboard_database(DASHBOARD_DB, args.retainers, args.entries)
    with odoo_env(DASHBOARD_DB) as env:
        env.cr.execute("SELECT count(*) FROM account_analytic_line")
        entries = env.cr.fetchone()[0]
    with odoo_env(DASHBOARD_DB) as env:
        # As the dashboard's user sees it: record rules apply.
        admin = env.ref("base.user_admin")
        report = env["msp.revenue.report"].with_user(admin).with_context(msp_date=DASHBOARD_DAY)
        kpis = report._get_revenue_kpis()
        measures = {
            "_get_revenue_kpis()": report._get_revenue_kpis,
            "get_dashboard_data()": report.get_dashboard_data,
            "_get_mrr_timeline()": report._get_mrr_timeline,
            "_msp_unbilled_time()": report._msp_unbilled_time,
            "pivot read_group": lambda: report.read_group(
                [],
                ["monthly_fee:sum", "hours_used:sum", "overage_amount:sum"],
                ["user_id", "billing_cycle"],
                lazy=False,
            ),
        }
        timings = {name: timed(env, call) for name, call in measures.items()}
    print()
    print(f"retainers: {len(retainers)}, time entries in the database: {entries}")
    print(f"set-up: {setup_seconds:.1f} s")
    print(
        f"mrr {kpis['mrr']:.2f}, arr {kpis['arr']:.2f}, active {kpis['active_retainers']}, "
        f"in overage {len(kpis['overage_retainer_ids'])} ({kpis['overage_amount']:.2f} to bill), "
        f"draft invoices {kpis['draft_invoice_count']}"
    )
    print(f"{'call':<22} {'first s':>8} {'best s':>8} {'queries':>8}")
    for name, (first, best, queries) in timings.items():
        print(f"{name:<22} {first:>8.3f} {best:>8.3f} {queries:>8}")


# --------------------------------------------------------------------------
# stress
# --------------------------------------------------------------------------
def run_in_process(run_date, db=BENCH_DB, batch_size=100, timings=None):
    with odoo_env(db) as env:
        started = time.time()
        env["msp.retainer"]._run_billing(run_date=run_date, commit=True, batch_size=batch_size)
        env.cr.commit()
        if timings is not None:
            timings.put((started, time.time()))


BENCH_INVOICES = """
    SELECT count(*) FROM account_move m
    JOIN msp_retainer r ON r.id = m.msp_retainer_id
    JOIN res_partner p ON p.id = r.partner_id
    WHERE p.name LIKE 'Bench Customer %%' AND m.invoice_date > %s"""
# Overage billed twice: more overage lines than periods marked as billed.
DUPLICATE_OVERAGE = """
    SELECT count(*) FROM (
        SELECT m.msp_retainer_id, count(*) AS n FROM account_move_line l
        JOIN account_move m ON m.id = l.move_id
        JOIN product_product pp ON pp.id = l.product_id
        WHERE pp.default_code = 'MSP-OVERAGE' GROUP BY 1) o
    JOIN (SELECT retainer_id, count(*) AS n FROM msp_retainer_period
          WHERE overage_invoice_id IS NOT NULL GROUP BY 1) p ON p.retainer_id = o.msp_retainer_id
    WHERE o.n > p.n"""
# Ad-hoc time billed twice leaves a line whose hours its entries no longer add up to.
DUPLICATE_ADHOC = """
    SELECT count(*) FROM account_move_line l
    JOIN product_product pp ON pp.id = l.product_id
    LEFT JOIN (SELECT msp_invoice_line_id, sum(unit_amount) AS hours
               FROM account_analytic_line GROUP BY 1) t ON t.msp_invoice_line_id = l.id
    WHERE pp.default_code = 'MSP-ADHOC' AND abs(coalesce(t.hours, 0) - l.quantity) > 0.001"""


def count_bench_invoices(cr, since=JANUARY):
    """Invoices of the bench customers dated after ``since``."""
    cr.execute(BENCH_INVOICES, [since])
    return cr.fetchone()[0]


def count_duplicates(cr, since=JANUARY):
    """Fees (two invoices of a retainer on one date), overage and ad-hoc time
    billed twice, on the bench customers' invoices dated after ``since``."""
    cr.execute(
        f"""SELECT count(*) FROM (
               SELECT m.msp_retainer_id, m.invoice_date
               FROM ({BENCH_INVOICES.replace("count(*)", "m.*")}) m
               GROUP BY 1, 2 HAVING count(*) > 1) d""",
        [since],
    )
    duplicates = cr.fetchone()[0]
    for query in (DUPLICATE_OVERAGE, DUPLICATE_ADHOC):
        cr.execute(query)
        duplicates += cr.fetchone()[0]
    return duplicates


def cmd_stress(args):
    scratch_database()
    with odoo_env() as env:
        retainers, tasks = create_retainers(env, args.retainers)
        log_time(env, retainers, tasks, 5)
        expected = len(retainers) * 3  # February, March and April fees (catch-up)
    run_date = date(2026, 4, 1)
    ctx = multiprocessing.get_context("spawn")
    # Small batches, so that the runs interleave and the kill lands mid-run.
    first = ctx.Process(target=run_in_process, args=(run_date, BENCH_DB, 20))
    second = ctx.Process(target=run_in_process, args=(run_date, BENCH_DB, 20))
    first.start()
    second.start()
    with odoo_env() as env:
        # Kill one run midway: once a third of the invoices exist.
        while count_bench_invoices(env.cr) < expected // 3 and first.is_alive():
            env.cr.rollback()
            time.sleep(0.2)
        os.kill(first.pid, signal.SIGKILL)
        env.cr.rollback()
        print(f"killed one run (pid {first.pid}) with {count_bench_invoices(env.cr)} invoices made")
    first.join()
    restarted = ctx.Process(target=run_in_process, args=(run_date, BENCH_DB, 20))
    restarted.start()
    second.join()
    restarted.join()
    with odoo_env() as env:
        created = count_bench_invoices(env.cr)
        duplicates = count_duplicates(env.cr)
    print(f"retainers: {args.retainers}")
    print(f"invoices expected: {expected}, created: {created}")
    print(f"duplicates found: {duplicates}")
    return 0 if created == expected and not duplicates else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    bench = commands.add_parser("bench")
    bench.add_argument("--retainers", type=int, default=int(os.environ.get("N", "1000")))
    bench.add_argument("--entries", type=int, default=int(os.environ.get("M", "50")))
    bench.add_argument(
        "--jobs", type=int, default=int(os.environ.get("K", "2")), help="billing jobs vs one"
    )
    bench.set_defaults(func=cmd_bench)
    stress = commands.add_parser("stress")
    stress.add_argument("--retainers", type=int, default=int(os.environ.get("N", "1000")))
    stress.set_defaults(func=cmd_stress)
    timesheets = commands.add_parser("time")
    timesheets.add_argument("--customers", type=int, default=100)
    timesheets.add_argument("--per-customer", type=int, default=10)
    timesheets.add_argument(
        "--typical",
        action="store_true",
        help="the typical month instead of the worst case: 25 customers x 40 entries",
    )
    timesheets.add_argument("--rounds", type=int, default=5)
    timesheets.set_defaults(func=cmd_time)
    dashboard = commands.add_parser("dashboard")
    dashboard.add_argument("--retainers", type=int, default=10_000)
    dashboard.add_argument("--entries", type=int, default=1_000_000)
    dashboard.set_defaults(func=cmd_dashboard)
    return dev.run_command(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
