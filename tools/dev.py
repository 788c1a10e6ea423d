#!/usr/bin/env python3
"""Developer tooling behind ``make run``, ``make test`` and ``make stop``.

Odoo 18.0 is a prerequisite: this script only looks for it (``import odoo``
with the running interpreter) and never obtains or builds it.

Without ``PGHOST``/``PGPORT``/``PGUSER``/``PGPASSWORD`` in the environment,
databases live in a private PostgreSQL cluster under ``.local/pg`` that this
script creates and starts on demand (as an unprivileged system user when run
as root, since PostgreSQL refuses to run as root).
"""

import argparse
import ast
import hashlib
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULE = "atlas_msp_billing"
LOCAL = ROOT / ".local"
DATA_DIR = LOCAL / "data"
LOG_DIR = LOCAL / "log"
# A second test database and HTTP port let two test runs share one cluster.
TEST_DB = os.environ.get("ATLAS_TEST_DB", "atlas_test")
HTTP_PORT = os.environ.get("ATLAS_HTTP_PORT", "8069")
CONF = LOCAL / ("odoo.conf" if TEST_DB == "atlas_test" else f"odoo-{TEST_DB}.conf")
# make fresh-install's database, named after the test database it runs beside.
FRESH_DB = "atlas_fresh" + TEST_DB.removeprefix("atlas_test")
PG_BASE = LOCAL / "pg"
PG_PORT = "5432"
PG_ROLE = "atlas"
DEMO_DB = "atlas_demo"
TEMPLATE_PREFIX = "atlas_tmpl_"
MIN_PG_MAJOR = 13
EXTERNAL_PG_VARS = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD")
# Odoo log line: "<date> <time> <pid> <LEVEL> <db> <logger>: <message>"
LOG_LINE = re.compile(r"^\S+ \S+ \d+ (?P<level>[A-Z]+) \S+ (?P<logger>[\w.]+): (?P<msg>.*)")
OWN_WARNING = re.compile(rf"{MODULE}|\bmsp[._]\w")


class SetupError(Exception):
    """A prerequisite is missing; the message says how to provide it."""


def say(message):
    print(f"[atlas] {message}", flush=True)


# --------------------------------------------------------------------------
# Prerequisites
# --------------------------------------------------------------------------
def odoo_info():
    """Return (version, addons folders) of the importable Odoo 18.0."""
    try:
        import odoo  # noqa: PLC0415 - optional prerequisite, checked here
        import odoo.release  # noqa: PLC0415
    except ImportError as exc:
        raise SetupError(
            f"Odoo 18.0 is not importable by {sys.executable} ({exc}).\n"
            "Install Odoo 18.0 Community for this Python (e.g. `pip install -e "
            "<your Odoo 18.0 checkout>` or a .pth file pointing at it), or set "
            "PYTHON to an interpreter that has it: make test PYTHON=/path/to/python"
        ) from exc
    if odoo.release.version_info[0] != 18:
        raise SetupError(
            f"{sys.executable} imports Odoo {odoo.release.version} from "
            f"{odoo.__file__}; this add-on needs Odoo 18.0. Set PYTHON to an "
            "interpreter that imports Odoo 18.0."
        )
    package = Path(odoo.__file__).resolve().parent
    folders = [package / "addons", package.parent / "addons"]
    addons = [
        str(f)
        for f in folders
        if (f / "web" / "__manifest__.py").exists() or (f / "base" / "__manifest__.py").exists()
    ]
    if not addons:
        raise SetupError(f"No Odoo addons folder found next to {package}.")
    return odoo.release.version, addons


def pg_bindir():
    """Folder holding initdb/pg_ctl/createdb, newest PostgreSQL first."""
    candidates = []
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for folder in candidates:
        if all((folder / tool).exists() for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    raise SetupError(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found.\n"
        "Install PostgreSQL >= 13 (Debian/Ubuntu: apt-get install postgresql), "
        "or point PGHOST/PGPORT/PGUSER/PGPASSWORD at a running server."
    )


def pg_client(tool):
    found = shutil.which(tool)
    if found:
        return found
    try:
        return str(pg_bindir() / tool)
    except SetupError as exc:
        raise SetupError(
            f"PostgreSQL client `{tool}` not found. Install the PostgreSQL client "
            "(Debian/Ubuntu: apt-get install postgresql-client)."
        ) from exc


def check_wkhtmltopdf(required):
    if shutil.which("wkhtmltopdf"):
        return
    message = (
        "wkhtmltopdf not found: Odoo needs it to print PDFs (invoices, "
        "time-entry schedules). Install wkhtmltopdf 0.12.6 "
        "(Debian/Ubuntu: apt-get install wkhtmltopdf)."
    )
    if required:
        raise SetupError(message)
    say(f"warning: {message}")


# --------------------------------------------------------------------------
# PostgreSQL: an external server or the private cluster
# --------------------------------------------------------------------------
def external_server():
    return any(os.environ.get(var) for var in EXTERNAL_PG_VARS)


def service_user():
    """The account that runs the private cluster: ourselves, or an unprivileged
    system user when we are root."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise SetupError(
        "Running as root and no unprivileged 'postgres' or 'nobody' user "
        "exists to run PostgreSQL; create one (useradd postgres)."
    )


def as_user(user):
    if os.geteuid() != 0:
        return {}
    return {
        "cwd": "/",
        "user": user.pw_uid,
        "group": user.pw_gid,
        "extra_groups": [],
        "env": {**os.environ, "HOME": user.pw_dir or "/", "USER": user.pw_name},
    }


def cluster_base(user):
    """``.local/pg``, unless the service user cannot reach the repository (a
    clone under /root, say): then a private folder in the temp directory."""
    if os.geteuid() != 0 or _reachable_by(user, LOCAL):
        return PG_BASE
    digest = hashlib.sha1(str(ROOT).encode()).hexdigest()[:10]
    return Path(tempfile.gettempdir()) / f"atlas-msp-pg-{digest}"


def _reachable_by(user, folder):
    folder.mkdir(parents=True, exist_ok=True)
    probe = subprocess.run(["test", "-x", str(folder)], check=False, **as_user(user))
    return probe.returncode == 0


def socket_dir(base):
    # Unix socket paths are limited to ~107 bytes: fall back to a short path.
    sock = base / "run"
    if len(str(sock / f".s.PGSQL.{PG_PORT}")) < 100:
        return sock
    digest = hashlib.sha1(str(base).encode()).hexdigest()[:10]
    return Path(tempfile.gettempdir()) / f"atlas-pg-{digest}"


def ensure_cluster():
    """Create and start the private cluster if needed; return libpq settings."""
    bindir = pg_bindir()
    version = subprocess.run(
        [str(bindir / "postgres"), "--version"], check=True, capture_output=True, text=True
    ).stdout
    major = int(re.search(r"(\d+)", version).group(1))
    if major < MIN_PG_MAJOR:
        raise SetupError(f"PostgreSQL {major} found in {bindir}; >= {MIN_PG_MAJOR} is needed.")
    user = service_user()
    base = cluster_base(user)
    data, sock, logfile = base / "data", socket_dir(base), base / "postgresql.log"
    for folder in (base, sock):
        folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            os.chown(folder, user.pw_uid, user.pw_gid)
    run_as = as_user(user)
    if not (data / "PG_VERSION").exists():
        say(f"creating the private PostgreSQL {major} cluster in {data}")
        subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                PG_ROLE,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            **run_as,
        )
    status = subprocess.run(
        [str(bindir / "pg_ctl"), "-D", str(data), "status"],
        check=False,
        capture_output=True,
        **run_as,
    )
    if status.returncode != 0:
        say(f"starting PostgreSQL (socket in {sock}, log {logfile})")
        options = (
            f"-k {sock} -p {PG_PORT} -c listen_addresses='' "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        started = subprocess.run(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(logfile),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ],
            check=False,
            stdout=subprocess.DEVNULL,
            **run_as,
        )
        if started.returncode != 0:
            raise SetupError(f"PostgreSQL did not start; see {logfile}.")
    return {"PGHOST": str(sock), "PGPORT": PG_PORT, "PGUSER": PG_ROLE}


def stop_cluster():
    user = service_user()
    data = cluster_base(user) / "data"
    if not (data / "PG_VERSION").exists():
        say("no private PostgreSQL cluster to stop")
        return
    subprocess.run(
        [str(pg_bindir() / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
        check=False,
        **as_user(user),
    )


_SETTINGS = {}


def database_settings():
    """libpq settings of the server to use, exported for the client tools."""
    if _SETTINGS:
        return _SETTINGS
    if external_server():
        settings = {var: os.environ[var] for var in EXTERNAL_PG_VARS if os.environ.get(var)}
        say(f"using the PostgreSQL server of PGHOST={settings.get('PGHOST', 'default')}")
    else:
        settings = ensure_cluster()
    _SETTINGS.update(settings)
    os.environ.update(settings)
    os.environ.setdefault("PGDATABASE", "postgres")
    os.environ.setdefault("PGOPTIONS", "-c client_min_messages=warning")
    return settings


def psql(sql):
    result = subprocess.run(
        [pg_client("psql"), "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql],
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.split()


def database_exists(name):
    return bool(psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'"))


def drop_database(name):
    subprocess.run([pg_client("dropdb"), "--if-exists", "--force", name], check=True)
    shutil.rmtree(DATA_DIR / "filestore" / name, ignore_errors=True)


def copy_database(template, name):
    """createdb -T, plus the filestore that createdb cannot copy."""
    drop_database(name)
    subprocess.run([pg_client("createdb"), "-T", template, name], check=True)
    source = DATA_DIR / "filestore" / template
    if source.exists():
        shutil.copytree(source, DATA_DIR / "filestore" / name)


# --------------------------------------------------------------------------
# Odoo
# --------------------------------------------------------------------------
def write_config(settings, addons):
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    lines = [
        "[options]",
        f"addons_path = {','.join([*addons, str(ROOT)])}",
        f"data_dir = {DATA_DIR}",
        f"db_host = {settings.get('PGHOST', False)}",
        f"db_port = {settings.get('PGPORT', False)}",
        f"db_user = {settings.get('PGUSER', False)}",
        f"db_password = {settings.get('PGPASSWORD', False)}",
        "admin_passwd = admin",
        f"http_port = {HTTP_PORT}",
        "max_cron_threads = 1",
        "log_level = info",
    ]
    CONF.write_text("\n".join(lines) + "\n")


def odoo_cmd(*args):
    return [sys.executable, "-m", "odoo", "-c", str(CONF), *args]


def dependencies():
    manifest = ast.literal_eval((ROOT / MODULE / "__manifest__.py").read_text())
    return sorted(manifest["depends"])


def run_odoo_logged(args, logfile):
    """Run Odoo until it stops; keep its log in ``logfile`` and return
    (exit code, error lines, warning lines raised by this add-on)."""
    errors, own_warnings = [], []
    with (
        subprocess.Popen(
            odoo_cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as proc,
        open(logfile, "w") as log,
    ):
        for line in proc.stdout:
            log.write(line)
            match = LOG_LINE.match(line)
            if not match:
                continue
            level = match["level"]
            if level in ("ERROR", "CRITICAL"):
                errors.append(line.rstrip())
            elif level == "WARNING" and (
                match["logger"].startswith(f"odoo.addons.{MODULE}")
                or OWN_WARNING.search(match["msg"])
            ):
                own_warnings.append(line.rstrip())
            if level != "INFO" or "modules.loading: Modules loaded" in line:
                print(line, end="", flush=True)
    return proc.returncode, errors, own_warnings


def install(db, modules, what, *options):
    logfile = LOG_DIR / f"install-{db}.log"
    say(f"installing {what} into {db} (log: {logfile})")
    code, errors, own_warnings = run_odoo_logged(
        ["-d", db, "-i", ",".join(modules), "--stop-after-init", "--no-http", *options], logfile
    )
    problems = errors + own_warnings
    if code or problems:
        detail = "\n".join(problems[:30])
        raise SetupError(
            f"installing {what} into {db} failed (exit {code}):\n{detail}\nFull log: {logfile}"
        )


def template_name(version):
    key = f"{version}|{','.join(dependencies())}"
    return TEMPLATE_PREFIX + hashlib.sha1(key.encode()).hexdigest()[:10]


def ensure_template(version):
    """A database holding the add-on's Odoo dependencies (with demo data),
    rebuilt only when the Odoo version or the dependency list changes."""
    name = template_name(version)
    if database_exists(name):
        return name
    for old in psql(f"SELECT datname FROM pg_database WHERE datname LIKE '{TEMPLATE_PREFIX}%'"):
        drop_database(old)
    building = name + "_new"
    drop_database(building)
    subprocess.run(
        [pg_client("createdb"), "-E", "UTF8", "-T", "template0", "--lc-collate=C", building],
        check=True,
    )
    try:
        install(building, dependencies(), "the Odoo dependencies (cached for later runs)")
    except BaseException:
        drop_database(building)
        raise
    # Renamed only once complete, so an interrupted build is never reused.
    psql(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
    filestore = DATA_DIR / "filestore"
    if (filestore / building).exists():
        (filestore / building).rename(filestore / name)
    return name


def module_stamp():
    digest = hashlib.sha1()
    for path in sorted((ROOT / MODULE).rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def prepare():
    version, addons = odoo_info()
    settings = database_settings()
    write_config(settings, addons)
    return version


# --------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------
def cmd_run(args):
    check_wkhtmltopdf(required=False)
    version = prepare()
    stamp_file = LOCAL / f"{DEMO_DB}.stamp"
    stamp = module_stamp()
    if not database_exists(DEMO_DB):
        copy_database(ensure_template(version), DEMO_DB)
        install(DEMO_DB, [MODULE], f"{MODULE} with its demo data")
        stamp_file.write_text(stamp)
    elif not stamp_file.exists() or stamp_file.read_text() != stamp:
        logfile = LOG_DIR / f"update-{DEMO_DB}.log"
        say(f"the add-on changed since the last run: updating it in {DEMO_DB}")
        code, errors, _warnings = run_odoo_logged(
            ["-d", DEMO_DB, "-u", MODULE, "--stop-after-init", "--no-http"], logfile
        )
        if code or errors:
            raise SetupError(f"updating {MODULE} failed:\n" + "\n".join(errors[:30]))
        stamp_file.write_text(stamp)
    say(f"serving {DEMO_DB} at http://localhost:{args.port} (login admin / admin); Ctrl-C to stop")
    cmd = odoo_cmd("-d", DEMO_DB, f"--db-filter=^{DEMO_DB}$", f"--http-port={args.port}")
    os.execv(cmd[0], cmd)


def cmd_test(args):
    check_wkhtmltopdf(required=True)
    version = prepare()
    copy_database(ensure_template(version), TEST_DB)
    install(TEST_DB, [MODULE], MODULE)
    say("running the tests")
    pytest = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        f"--odoo-config={CONF}",
        f"--odoo-database={TEST_DB}",
        "--odoo-log-level=warn",
        "--odoo-http",
        *args.pytest_args,
    ]
    if not any(not a.startswith("-") for a in args.pytest_args):
        pytest.append(str(ROOT / MODULE / "tests"))
    return subprocess.run(pytest, cwd=ROOT, check=False).returncode


def cmd_fresh_install(_args):
    """Install the add-on into a new database as a user does from the Apps
    menu, without demo data: base first, then the add-on with all its
    dependencies in one step (Accounting loads its chart of accounts last).
    Then check that a drafted fee invoice carries the company's sales tax."""
    prepare()
    drop_database(FRESH_DB)
    subprocess.run([pg_client("createdb"), "-E", "UTF8", "-T", "template0", FRESH_DB], check=True)
    install(FRESH_DB, ["base"], "base alone", "--without-demo=all")
    install(FRESH_DB, [MODULE], f"{MODULE} and its dependencies", "--without-demo=all")
    check = [sys.executable, str(ROOT / "tools" / "fresh_install_check.py"), str(CONF), FRESH_DB]
    code = subprocess.run(check, check=False).returncode
    if code == 0:
        drop_database(FRESH_DB)
    return code


def cmd_stop(_args):
    stop_cluster()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="serve the demo database")
    run.add_argument("--port", default=os.environ.get("PORT", "8069"))
    run.set_defaults(func=cmd_run)
    test = commands.add_parser(
        "test", help="install into a fresh database and run pytest (extra arguments go to pytest)"
    )
    test.set_defaults(func=cmd_test)
    commands.add_parser(
        "fresh-install", help="install the add-on in one step on a new database and check taxes"
    ).set_defaults(func=cmd_fresh_install)
    commands.add_parser("stop", help="stop the private PostgreSQL cluster").set_defaults(
        func=cmd_stop
    )
    # Whatever `test` does not know goes to pytest.
    args, args.pytest_args = parser.parse_known_args()
    if args.pytest_args and args.command != "test":
        parser.error(f"unrecognized arguments: {' '.join(args.pytest_args)}")
    return run_command(args)


def run_command(args):
    """Run the command ``args`` chose (the tools' ``main``): a missing
    prerequisite or a failed step ends with a clear message and status 2."""
    try:
        return args.func(args) or 0
    except SetupError as exc:
        print(f"[atlas] error: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(
            f"[atlas] error: {' '.join(map(str, exc.cmd))} failed (exit {exc.returncode})",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
