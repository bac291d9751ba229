"""A seald instance on PostgreSQL, end to end: `seald init --database`, the
password file, what is refused, `seald audit verify --config` against the
server, and a node that rides out a database restart.

One throw-away server (pgserver.py) for the module.  Its pg_hba.conf makes
the role `pwuser` give a SCRAM password on the unix socket, so the password
file is proved to reach the server, not merely to be read.
"""
import os
import re
import subprocess
import sys
import time

import pytest
import requests

import pgserver

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from conftest import Instance, assert_error, run_seald  # noqa: E402

PASSWORD = "s3cret-Пароль-口令"     # non-ASCII on purpose: bytes as given


@pytest.fixture(scope="module")
def server():
    s = pgserver.Server(hba_first=["local all pwuser scram-sha-256"])
    try:
        s.start()
        s.psql("postgres", "CREATE ROLE pwuser LOGIN PASSWORD '%s'"
               % PASSWORD)
        yield s
    finally:
        s.stop()


_n = [0]


def new_db(server, owner="seald"):
    """A fresh, empty database owned by owner; its name."""
    _n[0] += 1
    name = "inst%d" % _n[0]
    server.psql("postgres", "CREATE DATABASE %s OWNER %s" % (name, owner))
    return name


def pw_url(server, db):
    return "postgresql://pwuser@/%s?host=%s&port=%d" % (db, server.dir,
                                                         server.port)


def write_pwfile(path, text, mode=0o600):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, mode)
    return str(path)


def test_init_with_password_file(server, tmp_path):
    db = new_db(server, owner="pwuser")
    pw = write_pwfile(tmp_path / "pgpass", PASSWORD + "\n")
    out = run_seald("init", "--dir", str(tmp_path / "i"), "--database",
                    pw_url(server, db), "--database-password-file", pw)
    assert out.returncode == 0, out.stderr
    conf = open(tmp_path / "i" / "seald.conf", encoding="utf-8").read()
    assert re.search(r"^url = postgresql://pwuser@/%s\?" % db, conf, re.M)
    assert re.search(r"^password_file = %s$" % re.escape(pw), conf, re.M)
    assert PASSWORD not in conf and PASSWORD not in out.stdout
    assert not os.path.exists(tmp_path / "i" / "seald.db")
    # the schema and the first administrator are in the server
    rows = server.psql(db, "SELECT name FROM accounts")
    assert rows.split() == ["admin"]


def test_wrong_password_is_refused_without_echo(server, tmp_path):
    db = new_db(server, owner="pwuser")
    pw = write_pwfile(tmp_path / "pgpass", "not-the-password\n")
    out = run_seald("init", "--dir", str(tmp_path / "i"), "--database",
                    pw_url(server, db), "--database-password-file", pw)
    assert out.returncode == 1
    assert "password authentication failed" in out.stderr
    assert "not-the-password" not in out.stderr + out.stdout
    assert not os.path.exists(tmp_path / "i"), "nothing written on refusal"


def test_password_file_readable_by_others_is_refused(server, tmp_path):
    db = new_db(server, owner="pwuser")
    pw = write_pwfile(tmp_path / "pgpass", PASSWORD, mode=0o644)
    out = run_seald("init", "--dir", str(tmp_path / "i"), "--database",
                    pw_url(server, db), "--database-password-file", pw)
    assert out.returncode == 1
    assert "readable by others" in out.stderr
    assert not os.path.exists(tmp_path / "i")


def test_password_in_url_is_refused(server, tmp_path):
    db = new_db(server, owner="pwuser")
    url = "postgresql://pwuser:%s@/%s?host=%s&port=%d" % (
        "hunter2", db, server.dir, server.port)
    out = run_seald("init", "--dir", str(tmp_path / "i"), "--database", url)
    assert out.returncode == 1
    assert "password_file" in out.stderr
    assert "hunter2" not in out.stderr
    out = run_seald("init", "--dir", str(tmp_path / "j"), "--database",
                    pw_url(server, db) + "&password=hunter2")
    assert out.returncode == 1 and "hunter2" not in out.stderr
    assert server.psql(db, "SELECT count(*) FROM pg_tables WHERE "
                       "schemaname = 'public'").strip() == "0"


def test_usage_errors(tmp_path):
    out = run_seald("init", "--dir", str(tmp_path / "i"),
                    "--database-password-file", "x")
    assert out.returncode == 64
    out = run_seald("init", "--dir", str(tmp_path / "i"), "--database",
                    "mysql://x/y")
    assert out.returncode == 64


def test_init_refuses_a_database_with_an_instance(server, tmp_path):
    db = new_db(server)
    url = server.url(db)
    assert run_seald("init", "--dir", str(tmp_path / "a"), "--database",
                     url).returncode == 0
    before = server.psql(db, "SELECT count(*) FROM audit_log")
    out = run_seald("init", "--dir", str(tmp_path / "b"), "--database", url)
    assert out.returncode == 1
    assert "already holds a seald instance" in out.stderr
    assert not os.path.exists(tmp_path / "b")
    assert server.psql(db, "SELECT count(*) FROM audit_log") == before


class PgInstance(Instance):
    """conftest's Instance, made on a PostgreSQL database."""

    def __init__(self, directory, url):
        self.url_db = url
        out = run_seald("init", "--dir", str(directory), "--database", url)
        assert out.returncode == 0, out.stderr
        self._adopt(directory, out)

    def _adopt(self, directory, out):
        from conftest import CRED_RE
        self.dir = str(directory)
        self.admin_credential = CRED_RE.search(out.stdout).group(1)
        self.init_stdout = out.stdout
        self.conf = os.path.join(self.dir, "seald.conf")
        self.db = None
        self.cert = os.path.join(self.dir, "tls", "server.crt")
        self.log = os.path.join(self.dir, "seald.log")
        self.proc = None
        self.port = None
        self.scheme = "https"


def test_audit_verify_against_the_server(server, tmp_path):
    db = new_db(server)
    inst = PgInstance(tmp_path / "i", server.url(db))
    inst.start()
    try:
        r = inst.post("/api/v1/account/credential", inst.admin_credential)
        assert r.status_code == 201, r.text
        cred = r.json()["data"]["credential"]
        r = inst.post("/api/v1/organisations", cred, json={
            "name": "Audited", "kind": "region",
            "parent_id": inst.get("/api/v1/whoami", cred).json()
            ["data"]["account"]["org_id"]})
        assert r.status_code == 201, r.text
    finally:
        assert inst.stop()[0] == 0
    out = run_seald("audit", "verify", "--config", inst.conf)
    assert out.returncode == 0, out.stderr
    assert '"ok": true' in out.stdout or '"ok":true' in out.stdout
    n = int(server.psql(db, "SELECT count(*) FROM audit_log").strip())
    assert n >= 2
    # the same chain, one byte changed in the server: verify says so
    server.psql(db, "ALTER TABLE audit_log DISABLE TRIGGER USER")
    server.psql(db, "UPDATE audit_log SET reason = 'forged' WHERE seq = 2")
    server.psql(db, "ALTER TABLE audit_log ENABLE TRIGGER USER")
    out = run_seald("audit", "verify", "--config", inst.conf)
    assert out.returncode == 1
    assert "does NOT verify" in out.stderr


def test_node_rides_out_a_database_restart(server, tmp_path):
    db = new_db(server)
    inst = PgInstance(tmp_path / "i", server.url(db))
    inst.start()
    try:
        assert inst.get("/readyz").status_code == 200
        who = inst.get("/api/v1/whoami", inst.admin_credential)
        assert who.status_code == 200
        opts = ("-c listen_addresses='' -k %s -p %d -c fsync=off"
                % (server.dir, server.port))
        out = server.run("pg_ctl", "-D", server.data, "-m", "fast", "-w",
                         "stop")
        assert out.returncode == 0, out.stderr
        try:
            err = assert_error(inst.get("/readyz"), 503,
                               "database_unavailable")
            # libpq's words (socket paths, hosts) stay in the log
            assert server.dir not in err["message"]
            assert_error(inst.get("/api/v1/whoami", inst.admin_credential),
                         503, "database_unavailable")
        finally:
            out = server.run("pg_ctl", "-D", server.data, "-l", server.log,
                             "-w", "-t", "60", "-o", opts, "start")
            assert out.returncode == 0, out.stderr
        t0 = time.monotonic()
        while True:
            r = inst.get("/readyz")
            if r.status_code == 200:
                break
            assert time.monotonic() - t0 < 15, r.text
            time.sleep(0.2)
        # every worker thread's connection mends itself, not just one
        for _ in range(20):
            assert inst.get("/api/v1/whoami",
                            inst.admin_credential).status_code == 200
        log = open(inst.log, encoding="utf-8").read()
        assert "event=database_unavailable" in log
        assert inst.proc.poll() is None, "the node kept running"
    finally:
        assert inst.stop()[0] == 0


def _openssl(*args, cwd):
    out = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """A second server that takes TCP on 127.0.0.1 only over TLS, with a
    certificate for 127.0.0.1 issued by a CA of the test's own."""
    d = tmp_path_factory.mktemp("pgtls")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key",
             "-out", "ca.crt", "-subj", "/CN=test db CA", "-days", "2",
             cwd=d)
    _openssl("req", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
             "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1",
             cwd=d)
    (d / "ext").write_text("subjectAltName = IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt",
             "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt",
             "-days", "2", "-extfile", "ext", cwd=d)
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
             "other.key", "-out", "other.crt", "-subj", "/CN=other CA",
             "-days", "2", cwd=d)
    s = pgserver.Server(hba_first=["hostnossl all all 127.0.0.1/32 reject",
                                   "hostssl all all 127.0.0.1/32 trust"],
                        tls=(str(d / "server.crt"), str(d / "server.key")))
    try:
        s.start()
        s.ca = str(d / "ca.crt")
        s.other_ca = str(d / "other.crt")
        yield s
    finally:
        s.stop()


def tcp_url(server, db, query):
    return "postgresql://seald@127.0.0.1:%d/%s?%s" % (server.port, db, query)


def test_tls_to_the_database_when_asked(tls_server, tmp_path):
    db = new_db(tls_server)
    # without TLS the server refuses (hostnossl ... reject)
    out = run_seald("init", "--dir", str(tmp_path / "plain"), "--database",
                    tcp_url(tls_server, db, "sslmode=disable"))
    assert out.returncode == 1
    assert "no encryption" in out.stderr or "rejects" in out.stderr, \
        out.stderr
    # verify-full against a CA that did not issue the server's certificate
    out = run_seald("init", "--dir", str(tmp_path / "wrongca"), "--database",
                    tcp_url(tls_server, db, "sslmode=verify-full&"
                            "sslrootcert=" + tls_server.other_ca))
    assert out.returncode == 1
    assert "certificate verify failed" in out.stderr, out.stderr
    assert not os.path.exists(tmp_path / "wrongca")
    # verify-full with the right CA: an instance, and a daemon on it
    url = tcp_url(tls_server, db, "sslmode=verify-full&sslrootcert="
                  + tls_server.ca)
    inst = PgInstance(tmp_path / "i", url)
    inst.start()
    try:
        assert inst.get("/readyz").status_code == 200
        # the server sees the node's sessions as TLS ones
        rows = tls_server.psql("postgres",
                               "SELECT count(*) FROM pg_stat_ssl s JOIN "
                               "pg_stat_activity a ON a.pid = s.pid WHERE "
                               "a.datname = '%s' AND s.ssl" % db)
        assert int(rows.strip()) >= 1
    finally:
        assert inst.stop()[0] == 0
