"""Fixtures for the end-to-end suite: a real seald instance per test module.

`seald init` writes a fresh instance into a temp directory, the daemon runs
on a free loopback port with HTTPS, and tests talk to it with requests.
Teardown sends SIGTERM and asserts a clean exit (under ASan a leak makes the
exit status non-zero, so leaks fail the suite too).

The suite runs against either dialect: SEALD_E2E_DIALECT=sqlite (the
default: each instance's seald.db) or postgresql (one throw-away server for
the session, tests/pg/pgserver.py, and a fresh database per instance, made
with `seald init --database URL`).  ctest runs it once each way (e2e and
e2e.pg).  Tests that cannot apply to PostgreSQL by nature (the database
file itself, the fault-injecting SQLite VFS) carry @pytest.mark.sqlite_only
with the reason and are skipped in the PostgreSQL run only.
"""
import itertools
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import pytest
import requests
import urllib3

import openapi_check

urllib3.disable_warnings(urllib3.exceptions.SubjectAltNameWarning) \
    if hasattr(urllib3.exceptions, "SubjectAltNameWarning") else None

SEALD = os.environ.get("SEALD_BIN", os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "src", "seald"))
SOURCE_DIR = os.environ.get("SEALD_SOURCE_DIR", os.path.join(
    os.path.dirname(__file__), "..", ".."))
CRED_RE = re.compile(r"credential:\s+(seald_[0-9a-f]{16}_[0-9a-f]{64})")

DIALECT = os.environ.get("SEALD_E2E_DIALECT", "sqlite")
if DIALECT not in ("sqlite", "postgresql"):
    raise RuntimeError("SEALD_E2E_DIALECT must be sqlite or postgresql, not "
                       + DIALECT)
PG = DIALECT == "postgresql"
if PG:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(
        __file__)), "..", "pg"))
    import pgserver     # noqa: E402
    import psycopg2     # noqa: E402
# what Instance.sql raises when the database refuses a statement; where the
# PostgreSQL binaries are (pg_dump)
DB_ERRORS = (sqlite3.DatabaseError, psycopg2.Error) if PG else \
    (sqlite3.DatabaseError,)
PG_BIN = pgserver.PG_BIN if PG else None

_pg_server = None
_pg_dbs = itertools.count(1)


def pg_server():
    """The session's throw-away PostgreSQL, started on first use (stopped
    by the session fixture below)."""
    global _pg_server
    if _pg_server is None:
        s = pgserver.Server()
        try:
            s.start()
        except BaseException:
            s.stop()
            raise
        _pg_server = s
    return _pg_server


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "sqlite_only(reason): the test is about the SQLite "
        "database file or the SQLite VFS; skipped in the PostgreSQL run")


def pytest_collection_modifyitems(config, items):
    if not PG:
        return
    for item in items:
        m = item.get_closest_marker("sqlite_only")
        if m is None:
            continue
        reason = m.kwargs.get("reason") or (m.args[0] if m.args else None)
        assert reason, item.nodeid + ": sqlite_only needs a reason"
        item.add_marker(pytest.mark.skip(reason="SQLite only: " + reason))


@pytest.fixture(scope="session", autouse=True)
def _dialect_server():
    """Stops the session's PostgreSQL at the end (PostgreSQL run only)."""
    yield
    if _pg_server is not None:
        _pg_server.stop()


def _pg_query(query, params):
    """A query in the sqlite3 module's form (? placeholders) for psycopg2
    (%s placeholders, a literal % doubled)."""
    if not params:
        return query, None
    return query.replace("%", "%%").replace("?", "%s"), params


def _row(row):
    """A row as sqlite3 returns it: BYTEA comes back as memoryview."""
    return tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_seald(*args, **kw):
    return subprocess.run([SEALD, *args], capture_output=True, text=True,
                          timeout=kw.pop("timeout", 60), **kw)


class Instance:
    """One initialised instance directory and, once started, its daemon."""

    def __init__(self, directory):
        self.dir = str(directory)
        self.dialect = DIALECT
        self.db_url = None
        args = ["init", "--dir", self.dir]
        if PG:
            self.db_name = "e2e_%d" % next(_pg_dbs)
            server = pg_server()
            server.psql("postgres", "CREATE DATABASE " + self.db_name)
            self.db_url = server.url(self.db_name)
            args += ["--database", self.db_url]
        out = run_seald(*args)
        assert out.returncode == 0, out.stderr
        m = CRED_RE.search(out.stdout)
        assert m, out.stdout
        self.admin_credential = m.group(1)
        self.init_stdout = out.stdout
        self.conf = os.path.join(self.dir, "seald.conf")
        # the SQLite file; None on PostgreSQL, where db_url names it
        self.db = None if PG else os.path.join(self.dir, "seald.db")
        self.cert = os.path.join(self.dir, "tls", "server.crt")
        self.log = os.path.join(self.dir, "seald.log")
        self.proc = None
        self.port = None
        self.scheme = "https"

    def start(self, *extra, plain=False, env=None):
        """Run the daemon with extra arguments; env (may be None) holds
        variables to set for it on top of this process's environment."""
        self.port = free_port()
        args = [SEALD, "run", "--config", self.conf, "--port", str(self.port),
                "--log-file", self.log, *extra]
        if plain:
            args.append("--plain-http")
            self.scheme = "http"
        full_env = None
        if env is not None:
            full_env = dict(os.environ)
            full_env.update(env)
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     env=full_env)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("seald exited: " + self.proc.stderr.read())
            try:
                if requests.get(self.url("/healthz"), verify=self.verify,
                                timeout=2).status_code == 200:
                    return self
            except requests.ConnectionError:
                time.sleep(0.1)
        raise AssertionError("seald did not come up")

    @property
    def verify(self):
        return self.cert if self.scheme == "https" else False

    def url(self, path):
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def request(self, method, path, credential=None, **kw):
        """One request; every exchange is checked against
        docs/openapi.json (openapi_check.check_exchange): a response, or a
        successful request, the reference does not describe fails the test
        that made it.  check_openapi=False for a request a test makes
        deliberately outside the reference (a body the schema forbids, to
        see the server refuse it, is still checked: refusals are
        documented)."""
        headers = kw.pop("headers", {})
        check = kw.pop("check_openapi", True)
        if credential:
            headers["Authorization"] = "Bearer " + credential
        kw.setdefault("timeout", 30)
        resp = requests.request(method, self.url(path), headers=headers,
                                verify=self.verify, **kw)
        if check and not kw.get("stream"):
            openapi_check.check_exchange(method, path, resp,
                                         kw.get("json"))
        return resp

    def get(self, path, credential=None, **kw):
        return self.request("GET", path, credential, **kw)

    def post(self, path, credential=None, **kw):
        return self.request("POST", path, credential, **kw)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Stop the daemon; returns (exit status, stdout, stderr)."""
        if self.proc is None:
            return None
        self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=timeout)
        rc = self.proc.returncode
        self.proc = None
        return rc, out, err

    @property
    def db_args(self):
        """How the offline commands (seald audit verify) name this
        instance's database: --db FILE on SQLite; on PostgreSQL --config,
        whose [database] url is the server (and audit.public_key the
        trusted key, as audit-key.pem beside the file is on SQLite)."""
        return ["--config", self.conf] if PG else ["--db", self.db]

    def sql(self, query, *params):
        """Run one statement (? placeholders) on the instance's database
        and commit; the rows as a list of tuples, BLOB/BYTEA as bytes."""
        if PG:
            con = psycopg2.connect(self.db_url)
            try:
                with con.cursor() as cur:
                    cur.execute(*_pg_query(query, params))
                    rows = ([_row(r) for r in cur.fetchall()]
                            if cur.description is not None else [])
                con.commit()
                return rows
            finally:
                con.close()
        con = sqlite3.connect(self.db, timeout=10)
        try:
            rows = con.execute(query, params).fetchall()
            con.commit()
            return rows
        finally:
            con.close()

    def tamper(self, *statements):
        """Run statements as an attacker who owns the database would: with
        the append-only triggers out of the way (dropped on SQLite, as with
        write access to the file; on PostgreSQL a superuser's session with
        session_replication_role = replica, which fires no ordinary
        trigger), in one transaction."""
        if PG:
            con = psycopg2.connect(self.db_url)
            try:
                with con.cursor() as cur:
                    cur.execute("SET session_replication_role = replica")
                    for s in statements:
                        cur.execute(*_pg_query(*s) if isinstance(s, tuple)
                                    else (s,))
                con.commit()
            finally:
                con.close()
            return
        con = sqlite3.connect(self.db, timeout=10)
        try:
            for (t,) in con.execute("SELECT name FROM sqlite_master WHERE "
                                    "type = 'trigger'").fetchall():
                con.execute(f"DROP TRIGGER {t}")
            for s in statements:
                con.execute(*s) if isinstance(s, tuple) else con.execute(s)
            con.commit()
        finally:
            con.close()

    def audit(self):
        return self.sql("SELECT seq, account_id, client_addr, request_id, "
                        "action, target_id, outcome, reason FROM audit_log "
                        "ORDER BY seq")


@pytest.fixture
def instance(tmp_path):
    """A freshly initialised, not yet started instance."""
    inst = Instance(tmp_path / "inst")
    yield inst
    if inst.proc is not None:
        inst.proc.kill()
        inst.proc.wait()


@pytest.fixture
def seald(instance):
    """A running instance; teardown asserts a clean SIGTERM shutdown."""
    instance.start()
    yield instance
    if instance.proc is not None:
        rc, _, err = instance.stop()
        assert rc == 0, err


def assert_error(resp, status, code):
    """The one error shape: {"error": {"code", "message", "request_id"}}."""
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert err["code"] == code, body
    assert err["message"]
    assert err["request_id"] == resp.headers["X-Request-Id"]
    return err
