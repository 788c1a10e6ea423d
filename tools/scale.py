#!/usr/bin/env python3
"""``make stress-servers`` and ``make load``: the add-on served by real Odoo
servers in prefork mode, listening on loopback (127.0.0.1) only, on scratch
databases of the private cluster. Every server runs in a process group of
its own, which is stopped (SIGKILL at the latest) before the command ends,
and every loop has a deadline.

stress-servers: N retainers (default 400), each due 3 periods today, billed
        by the daily cron and its companion jobs (rule 12). Three runs on
        copies of the same data: one server with one cron thread and one job;
        two servers (--workers 2 --max-cron-threads 2) with K jobs (default 2,
        the Revenue setting's default: on two cores more jobs only contend);
        the same with one server SIGKILLed once a third of the invoices exist,
        then started again.
load:   10,000 retainers and 1,000,000 time entries (make bench-dashboard's
        set-up, built once and reused), one server in prefork mode; 20 portal
        users (/my/retainers, /my/retainers/<id>) and 5 billing managers (the
        dashboard's RPC) at once for a bounded time; p50 and p95 per page.
"""

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from contextlib import closing, contextmanager, suppress
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench
import dev

SERVERS_DB = "atlas_servers" + bench.SUFFIX
LOAD_DB = "atlas_load" + bench.SUFFIX
LOCALHOST = "127.0.0.1"
# Sessions inside a billing batch: msp.billing names them (_name_billing_session).
BILLING_SESSIONS = """
    SELECT count(*) FROM pg_stat_activity
    WHERE datname = %s AND application_name LIKE 'msp_billing%%'"""
DAILY_BILLING_CRON = """
    SELECT res_id FROM ir_model_data
    WHERE module = 'atlas_msp_billing' AND name = 'ir_cron_msp_billing'"""


# --------------------------------------------------------------------------
# Odoo servers on loopback
# --------------------------------------------------------------------------
def odoo_command(*options):
    """Odoo through tools/odoo_prefork.py (its own argv[0], which a prefork
    master runs again for its websocket process)."""
    launcher = Path(__file__).resolve().parent / "odoo_prefork.py"
    return [sys.executable, str(launcher), "-c", str(dev.CONF), *options]


def free_port():
    with closing(socket.socket()) as sock:
        sock.bind((LOCALHOST, 0))
        return sock.getsockname()[1]


class OdooServer:
    """``odoo`` in prefork mode on ``db``, in a process group of its own."""

    def __init__(self, db, name, workers=2, cron_threads=2):
        self.db, self.name = db, name
        port = free_port()
        self.url = f"http://{LOCALHOST}:{port}"
        self.options = [
            "-d",
            db,
            f"--db-filter=^{db}$",
            f"--workers={workers}",
            f"--max-cron-threads={cron_threads}",
            f"--http-interface={LOCALHOST}",
            f"--http-port={port}",
            f"--gevent-port={free_port()}",
            "--limit-time-cpu=600",
            "--limit-time-real=600",
            "--limit-time-real-cron=600",
            "--log-level=info",
        ]
        self.process = None

    def start(self, timeout=120):
        with open(dev.LOG_DIR / f"{self.name}.log", "a") as log:
            self.process = subprocess.Popen(
                odoo_command(*self.options),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        import requests  # noqa: PLC0415 - shipped with Odoo, a prerequisite

        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise dev.SetupError(f"{self.name} stopped; see {dev.LOG_DIR / self.name}.log")
            try:
                if requests.get(f"{self.url}/web/health", timeout=2).ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise dev.SetupError(f"{self.name} did not answer within {timeout} s")

    def kill(self):
        """SIGKILL to the whole process group: master, workers and cron workers."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if not self.process or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()
        else:
            # Workers the master did not reap in time.
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)


@contextmanager
def servers(*specs):
    started = []
    try:
        for spec in specs:
            started.append(OdooServer(*spec).start())
        yield started
    finally:
        for server in started:
            server.stop()


def connect(db):
    import psycopg2  # noqa: PLC0415 - Odoo's own driver

    conn = psycopg2.connect(dbname=db)
    conn.autocommit = True
    return conn


def wake_crons(db):
    """What Odoo's ``_notifydb`` does: cron workers listen on the postgres database."""
    with closing(connect("postgres")) as conn, conn.cursor() as cr:
        cr.execute("SELECT pg_notify('cron_trigger', %s)", [db])


# --------------------------------------------------------------------------
# stress-servers
# --------------------------------------------------------------------------
def servers_data(count, jobs):
    """SERVERS_DB: ``count`` customers each with a task and a monthly retainer
    started two months before this one, nothing billed yet (3 periods due
    today), and retainer and ad-hoc time in the first period; every cron
    postponed by a day. Returns the first period's start."""
    from dateutil.relativedelta import relativedelta  # noqa: PLC0415

    version = dev.prepare()
    dev.copy_database(dev.ensure_template(version), SERVERS_DB)
    dev.install(SERVERS_DB, [dev.MODULE], dev.MODULE)
    with bench.odoo_env(SERVERS_DB) as env:
        env["msp.retainer"].search([("state", "=", "active")]).write({"state": "closed"})
        start = env.company._msp_today().replace(day=1) - relativedelta(months=2)
        partners, tasks = bench.create_customers(env, count)
        retainers = bench.activate_retainers(env, partners, start)
        env.cr.commit()
        bench.log_time(env, retainers, tasks, 5, start)
        set_billing_jobs(env, jobs)
    release(SERVERS_DB)
    bench.vacuum_analyze(SERVERS_DB)
    return start


def set_billing_jobs(env, jobs):
    """The Revenue setting, which creates or switches off the companion crons."""
    env["res.company"].search([]).write({"msp_billing_jobs": jobs})
    postpone_crons(env.cr)
    env.cr.commit()


def postpone_crons(cr):
    """No cron runs before it is made due (none reaches out of the machine)."""
    cr.execute("UPDATE ir_cron SET nextcall = now() + interval '1 day'")
    cr.execute("DELETE FROM ir_cron_trigger")


def release(db):
    """Close this process's connections to ``db``, so that it can be copied."""
    from odoo import sql_db  # noqa: PLC0415
    from odoo.modules.registry import Registry  # noqa: PLC0415

    Registry.delete(db)
    sql_db.close_db(db)


def billing_copy(name, jobs):
    db = f"{SERVERS_DB}_{name}"
    dev.copy_database(SERVERS_DB, db)
    with bench.odoo_env(db) as env:
        set_billing_jobs(env, jobs)
    release(db)
    return db


def watch_billing(db, since, expected, timeout, on_count=None):
    """Make the daily billing cron due now and wake the cron workers; then
    sample every 50 ms until the invoices exist and no billing job is left
    to run. Returns seconds to the last invoice, invoices created and the
    largest number of sessions billing at once."""
    conn = connect(db)
    with conn.cursor() as cr:
        cr.execute(DAILY_BILLING_CRON)
        daily = cr.fetchone()[0]
        cr.execute("UPDATE ir_cron SET nextcall = now() at time zone 'UTC' WHERE id = %s", [daily])
        wake_crons(db)
        started = time.monotonic()
        deadline = started + timeout
        peak, created, finished, last_wake = 0, 0, None, started
        while time.monotonic() < deadline:
            cr.execute(BILLING_SESSIONS, [db])
            peak = max(peak, cr.fetchone()[0])
            created = bench.count_bench_invoices(cr, since)
            if on_count:
                on_count(created)
            if created >= expected and finished is None:
                finished = time.monotonic()
            cr.execute(bench.BILLING_JOBS_READY)
            if finished and not cr.fetchone()[0]:
                break
            if time.monotonic() - last_wake > 5:
                # Jobs of a killed server are ready again: wake the sleeping workers.
                wake_crons(db)
                last_wake = time.monotonic()
            time.sleep(0.05)
        duplicates = bench.count_duplicates(cr, since)
    conn.close()
    seconds = (finished or time.monotonic()) - started
    return {"seconds": seconds, "created": created, "peak": peak, "duplicates": duplicates}


def run_single(since, expected, timeout):
    db = billing_copy("single", 1)
    with servers((db, "servers-single", 2, 1)):
        result = watch_billing(db, since, expected, timeout)
    dev.drop_database(db)
    return result


def run_parallel(since, expected, jobs, timeout, kill):
    db = billing_copy("kill" if kill else "parallel", jobs)
    with servers((db, "servers-a"), (db, "servers-b")) as (first, _second):
        state = {"killed": None, "restart": None}

        def on_count(created):
            if kill and state["killed"] is None and created >= expected // 3:
                first.kill()
                state["killed"] = created
                # Started again while the other server bills on (and the sampling goes on).
                state["restart"] = threading.Thread(target=first.start)
                state["restart"].start()

        result = watch_billing(db, since, expected, timeout, on_count)
        if state["restart"]:
            state["restart"].join()
        result["killed_at"] = state["killed"]
    dev.drop_database(db)
    return result


def cmd_stress_servers(args):
    expected = args.retainers * 3
    start = servers_data(args.retainers, args.jobs)
    since = start - timedelta(days=1)
    rows = [
        ("one server, 1 cron thread, 1 job", run_single(since, expected, args.timeout)),
        (
            f"two servers x 2 cron threads, {args.jobs} jobs",
            run_parallel(since, expected, args.jobs, args.timeout, kill=False),
        ),
        (
            "the same, one server SIGKILLed and restarted",
            run_parallel(since, expected, args.jobs, args.timeout, kill=True),
        ),
    ]
    single = rows[0][1]["seconds"]
    print()
    print(f"retainers: {args.retainers}, each due 3 periods: {expected} invoices expected")
    print(
        f"{'run':<46} {'created':>7} {'dupl.':>5} {'sessions':>8} {'seconds':>7} "
        f"{'inv/s':>6} {'x single':>8}"
    )
    ok = True
    for label, r in rows:
        print(
            f"{label:<46} {r['created']:>7} {r['duplicates']:>5} {r['peak']:>8} "
            f"{r['seconds']:>7.1f} {r['created'] / r['seconds']:>6.1f} "
            f"{single / r['seconds']:>8.2f}"
        )
        ok &= r["created"] == expected and not r["duplicates"]
    killed = rows[2][1]["killed_at"]
    print(f"killed server A's process group with {killed} invoices made, then started it again")
    print("sessions: the most database sessions inside a billing batch at once (pg_stat_activity)")
    ok &= rows[1][1]["peak"] >= 2
    dev.drop_database(SERVERS_DB)
    return 0 if ok else 1


# --------------------------------------------------------------------------
# load
# --------------------------------------------------------------------------
LOAD_READY = "atlas_load.module_stamp"


def load_database(args):
    """LOAD_DB, built once (make bench-dashboard's set-up, plus the users);
    updated when the add-on changed since."""
    dev.prepare()
    stamp = dev.module_stamp()
    current = None
    if dev.database_exists(LOAD_DB):
        with closing(connect(LOAD_DB)) as conn, conn.cursor() as cr:
            cr.execute("SELECT value FROM ir_config_parameter WHERE key = %s", [LOAD_READY])
            current = (cr.fetchone() or [None])[0]
    if current is None:
        dev.say(f"building {LOAD_DB} once: {args.retainers} retainers, {args.entries} entries")
        bench.dashboard_database(LOAD_DB, args.retainers, args.entries)
        with bench.odoo_env(LOAD_DB) as env:
            load_users(env)
            env["ir.config_parameter"].set_param(LOAD_READY, stamp)
            env.cr.commit()
        release(LOAD_DB)
    elif current != stamp:
        dev.say(f"the add-on changed since {LOAD_DB} was built: updating it")
        code, errors, _warnings = dev.run_odoo_logged(
            ["-d", LOAD_DB, "-u", dev.MODULE, "--stop-after-init", "--no-http"],
            dev.LOG_DIR / f"update-{LOAD_DB}.log",
        )
        if code or errors:
            raise dev.SetupError("updating the load database failed:\n" + "\n".join(errors[:20]))
        with closing(connect(LOAD_DB)) as conn, conn.cursor() as cr:
            cr.execute(
                "UPDATE ir_config_parameter SET value = %s WHERE key = %s", [stamp, LOAD_READY]
            )
    with closing(connect(LOAD_DB)) as conn, conn.cursor() as cr:
        postpone_crons(cr)
        cr.execute(
            """SELECT u.login, r.id FROM res_users u
               JOIN res_partner p ON p.id = u.partner_id
               JOIN msp_retainer r ON r.partner_id = p.parent_id
               WHERE u.login LIKE 'load_portal_%%' ORDER BY u.login"""
        )
        portal = cr.fetchall()
        cr.execute("SELECT login FROM res_users WHERE login LIKE 'load_billing_%%' ORDER BY login")
        billing = [row[0] for row in cr.fetchall()]
    return portal, billing


def load_users(env, portal=20, billing=5):
    """Portal users, each a contact of a customer with a retainer (password =
    login), and billing managers."""
    customers = env["msp.retainer"].search([("state", "=", "active")], limit=portal, order="id")
    contacts = env["res.partner"].create(
        [
            {"name": f"Load Contact {n}", "parent_id": r.partner_id.id, "email": f"c{n}@load.test"}
            for n, r in enumerate(customers)
        ]
    )
    Users = env["res.users"].with_context(no_reset_password=True)
    Users.create(
        [
            {
                "login": f"load_portal_{n:02d}",
                "password": f"load_portal_{n:02d}",
                "partner_id": contact.id,
                "groups_id": [(6, 0, [env.ref("base.group_portal").id])],
            }
            for n, contact in enumerate(contacts)
        ]
    )
    Users.create(
        [
            {
                "login": f"load_billing_{n}",
                "password": f"load_billing_{n}",
                "name": f"Load Billing Manager {n}",
                "groups_id": [(6, 0, [env.ref("atlas_msp_billing.group_msp_billing_manager").id])],
            }
            for n in range(billing)
        ]
    )


class Client:
    """One user's browser session: requests in a loop until the deadline."""

    def __init__(self, url, login, timings, errors, measure_from):
        import requests  # noqa: PLC0415

        self.url, self.login = url, login
        self.session = requests.Session()
        self.timings, self.errors = timings, errors
        self.measure_from = measure_from

    def authenticate(self):
        response = self.session.post(
            f"{self.url}/web/session/authenticate",
            json={"params": {"db": LOAD_DB, "login": self.login, "password": self.login}},
            timeout=60,
        )
        if response.json().get("error") or not response.json().get("result", {}).get("uid"):
            raise dev.SetupError(f"{self.login} could not log in: {response.text[:300]}")

    def request(self, page, method, path, **kwargs):
        started = time.perf_counter()
        try:
            response = self.session.request(
                method, f"{self.url}{path}", timeout=30, allow_redirects=False, **kwargs
            )
            # A redirect (to the login page, say) is an error too.
            failed = response.status_code != 200 or (
                "json" in kwargs and "error" in response.json()
            )
        except Exception as error:
            failed = repr(error)
        if time.monotonic() < self.measure_from:
            return  # warming up: each worker compiles its templates and asset bundles once
        self.timings[page].append(time.perf_counter() - started)
        if failed:
            self.errors[page].append(
                failed if isinstance(failed, str) else f"{response.status_code} {path}"
            )


def portal_user(client, retainer_id, deadline, think):
    client.authenticate()
    while time.monotonic() < deadline:
        client.request("/my/retainers", "GET", "/my/retainers")
        time.sleep(think)
        client.request("/my/retainers/<id>", "GET", f"/my/retainers/{retainer_id}")
        time.sleep(think)


def billing_manager(client, deadline, think):
    client.authenticate()
    payload = {
        "jsonrpc": "2.0",
        "method": "call",
        "params": {
            "model": "msp.revenue.report",
            "method": "get_dashboard_data",
            "args": [],
            # The day the data set's periods are current (make bench-dashboard's).
            "kwargs": {"context": {"msp_date": str(bench.DASHBOARD_DAY)}},
        },
    }
    while time.monotonic() < deadline:
        client.request("dashboard RPC", "POST", "/web/dataset/call_kw", json=payload)
        time.sleep(think)


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def cmd_load(args):
    portal, billing = load_database(args)
    pages = ("/my/retainers", "/my/retainers/<id>", "dashboard RPC")
    timings = {page: [] for page in pages}
    errors = {page: [] for page in pages}
    with servers((LOAD_DB, "load", args.workers, 0)) as (server,):
        measure_from = time.monotonic() + args.warmup
        deadline = measure_from + args.seconds
        measured = (timings, errors, measure_from)
        threads = [
            threading.Thread(
                target=portal_user,
                args=(Client(server.url, login, *measured), rid, deadline, args.think),
            )
            for login, rid in portal
        ] + [
            threading.Thread(
                target=billing_manager,
                args=(Client(server.url, login, *measured), deadline, args.think),
            )
            for login in billing
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=args.warmup + args.seconds + 120)
    print()
    print(
        f"{len(portal)} portal users, {len(billing)} billing managers, {args.seconds} s measured "
        f"after {args.warmup} s of warm-up, {args.think} s between a user's requests, "
        f"{args.workers} HTTP workers"
    )
    print(f"{'page':<22} {'requests':>8} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'errors':>6}")
    ok = True
    for page in pages:
        values = timings[page] or [0.0]
        p95 = percentile(values, 0.95)
        print(
            f"{page:<22} {len(timings[page]):>8} {statistics.median(values) * 1000:>7.0f} "
            f"{p95 * 1000:>7.0f} {max(values) * 1000:>7.0f} {len(errors[page]):>6}"
        )
        ok &= p95 <= 0.3 and not errors[page]
    for page in pages:
        for error in sorted(set(errors[page]))[:3]:
            print(f"  {page}: {error}")
    return 0 if ok else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    stress = commands.add_parser("stress-servers")
    stress.add_argument("--retainers", type=int, default=int(os.environ.get("N", "400")))
    stress.add_argument("--jobs", type=int, default=int(os.environ.get("K", "2")))
    stress.add_argument("--timeout", type=int, default=300, help="seconds per run at most")
    stress.set_defaults(func=cmd_stress_servers)
    load = commands.add_parser("load")
    load.add_argument("--retainers", type=int, default=10_000)
    load.add_argument("--entries", type=int, default=1_000_000)
    load.add_argument("--seconds", type=int, default=int(os.environ.get("SECONDS_", "60")))
    load.add_argument("--warmup", type=int, default=20)
    load.add_argument("--think", type=float, default=float(os.environ.get("THINK", "1.0")))
    load.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", "4")))
    load.set_defaults(func=cmd_load)
    return dev.run_command(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
