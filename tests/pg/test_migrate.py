"""`seald migrate` (src/cli/cmd_migrate.c, src/store/store_copy.c) from a
real SQLite instance into a throw-away PostgreSQL (pgserver.py), and back.

One instance is made with `seald init`, and through the API (the e2e
helpers of tests/e2e: World, Seals, submit/approve/sign) it gets an
organisation tree, accounts, a seal and a signature; the daemon is stopped
and the instance copied into a fresh PostgreSQL database.  The module then
checks that:
  - the copy exits 0 and every table holds the same rows, column for column
    and byte for byte (NULLs, integers, text, BYTEA), ids included; a
    reference to a later row of the same table (accounts.held_by) survives;
  - the copy list (`seald migrate --tables`) names every table and column
    of the schema, in order, on both dialects: a migration that adds a
    column the copy does not cover fails here;
  - `seald audit verify --config` on a configuration naming the copy passes
    with the source's length and head;
  - the daemon started on the copy verifies the earlier signature and signs
    anew (its ids follow the copied ones: the sequences were advanced); the
    kept sealed OFD, ciphertext in both databases (encryption at rest),
    downloads from the copy as it was returned and is sealed again there;
  - a second migrate into the now non-empty database is refused (exit 1)
    and changes nothing; so is a source whose audit row was tampered with
    (exit 1, the target untouched);
  - the copy goes back from PostgreSQL into a new SQLite file unchanged;
  - --help exits 0 and a usage error 64.
"""
import base64
import json
import os
import re
import sqlite3
import subprocess
import sys

import pytest

import pgserver

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "e2e"))
from conftest import Instance, SEALD  # noqa: E402
from ofdgen import ofd  # noqa: E402
from test_seals import Seals  # noqa: E402
from test_signing import api_verify, approve, doc, sign, submit  # noqa: E402

try:
    import psycopg2
except ImportError:  # pragma: no cover - the message is the point
    psycopg2 = None

DOCUMENT = "迁移前签署的文件\n".encode() * 20
MAGIC = bytes([0x89]) + b"SDB\r\n\x1a\x01"     # a sealed blob (blobcrypt.h)
SEAL_OFD = "/api/v1/sign-requests/{id}/documents/{doc}/seal-ofd"


def seald(*args, timeout=120):
    return subprocess.run([SEALD, *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def server():
    if psycopg2 is None:
        pytest.fail("python3-psycopg2 is missing: run scripts/deps --test")
    s = pgserver.Server()
    try:
        s.start()
        yield s
    finally:
        s.stop()


def create_db(server, name):
    server.psql("postgres", "CREATE DATABASE %s" % name)
    return server.url(name)


def pg_connect(server, name):
    return psycopg2.connect(host=server.dir, port=server.port,
                            user=pgserver.SUPERUSER, dbname=name)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """An instance with seals, a signature and audit, its daemon stopped:
    the source of every copy below."""
    inst = Instance(tmp_path_factory.mktemp("migrate") / "inst")
    inst.start("--set", "audit.checkpoint_every=5")
    w = Seals(inst)
    w.esid = w.new_active_seal(seal_name="迁移测试章")
    req = submit(w, [doc("before.txt", DOCUMENT)])
    approve(w, req["id"])
    res = sign(w, req["id"])["results"]
    assert [r["status"] for r in res] == ["signed"]
    w.signature = base64.b64decode(res[0]["signature"])
    # a sealed OFD, kept (stored sealed) with a copy of the grant left
    req = submit(w, [doc("notice.ofd", ofd(2))], copies=2)
    approve(w, req["id"])
    w.kept = seal_ofd(w, req["id"], req["documents"][0]["id"])
    w.kept["request_id"] = req["id"]
    w.kept["document_id"] = req["documents"][0]["id"]
    rc, _, err = inst.stop()
    assert rc == 0, err
    # a reference to a later row of the same table, as a reset by an
    # administrator younger than the account leaves (accounts.held_by):
    # the copy writes it NULL first and sets it once its row is in
    last = inst.sql("SELECT max(id) FROM accounts")[0][0]
    con = sqlite3.connect(inst.db)
    con.execute("UPDATE accounts SET held_by = ?, held_ms = 1 WHERE id = ?",
                (last, w.ids["auditor"]))
    con.commit()
    con.close()
    w.key = os.path.join(inst.dir, "audit-key.pem")
    return w


def seal_ofd(w, rid, did, **extra):
    r = w.inst.post(SEAL_OFD.format(id=rid, doc=did), w.cred["custodian"],
                    json={"position": {"mode": "page", "page": 0, "x": 60,
                                       "y": 200}, **extra})
    assert r.status_code == 200, r.text
    return r.json()["data"]


def copy_tables():
    """{table: [columns]} as `seald migrate --tables` lists the copy."""
    out = seald("migrate", "--tables")
    assert out.returncode == 0, out.stderr
    tables = {}
    for line in out.stdout.splitlines():
        name, *cols = line.split()
        tables[name] = cols
    return tables


def lite_rows(path, table, cols):
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT %s FROM %s ORDER BY %s" % (
            ", ".join(cols), table, ", ".join(cols))).fetchall()
    finally:
        con.close()


def pg_rows(conn, table, cols):
    cur = conn.cursor()
    cur.execute("SELECT %s FROM %s ORDER BY %s" % (
        ", ".join(cols), table, ", ".join(cols)))
    rows = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r)
            for r in cur.fetchall()]
    conn.rollback()
    return rows


def pg_counts(conn):
    return {t: len(pg_rows(conn, t, c)) for t, c in copy_tables().items()}


@pytest.fixture(scope="module")
def copy(server, world):
    """The instance migrated into the database seald_copy."""
    url = create_db(server, "seald_copy")
    out = seald("migrate", "--from", "sqlite:" + world.inst.db, "--to", url)
    assert out.returncode == 0, out.stdout + out.stderr
    assert url not in out.stdout + out.stderr    # locations are not shown
    conn = pg_connect(server, "seald_copy")
    yield url, conn, out.stdout
    conn.close()


def test_usage():
    assert seald("migrate", "--help").returncode == 0
    assert seald("migrate").returncode == 64
    assert seald("migrate", "--from", "x.db").returncode == 64
    assert seald("migrate", "--from", "a", "--to", "b", "extra").returncode \
        == 64
    assert "migrate" in seald("--help").stdout


def test_copy_list_covers_the_schema(world, copy):
    """Every table and column of both schemas, in order, is in the copy
    list; schema_version and job_leases (rows the migrations write, and
    the leases of the source's nodes, which mean nothing to the copy's)
    are left to the target's migrations."""
    listed = copy_tables()
    con = sqlite3.connect(world.inst.db)
    try:
        names = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' AND name NOT IN "
            "('schema_version', 'job_leases')")]
        lite = {n: [c[1] for c in con.execute("PRAGMA table_info(%s)" % n)]
                for n in names}
        # no AUTOINCREMENT table: new rowids follow max(rowid), and there
        # is no sqlite_sequence the copy would have to carry
        assert not con.execute("SELECT 1 FROM sqlite_master "
                               "WHERE name = 'sqlite_sequence'").fetchall()
    finally:
        con.close()
    assert listed == lite
    _, conn, _ = copy
    cur = conn.cursor()
    cur.execute("SELECT table_name, column_name FROM information_schema."
                "columns WHERE table_schema = 'public' AND table_name NOT IN "
                "('schema_version', 'job_leases') ORDER BY table_name, "
                "ordinal_position")
    pg = {}
    for t, c in cur.fetchall():
        pg.setdefault(t, []).append(c)
    conn.rollback()
    assert listed == pg


def test_every_row_copied_exactly(world, copy):
    _, conn, summary = copy
    total = 0
    for table, cols in copy_tables().items():
        want = lite_rows(world.inst.db, table, cols)
        got = pg_rows(conn, table, cols)
        assert got == want, table
        assert re.search(r"^  %s +%d$" % (table, len(want)), summary, re.M), \
            summary
        total += len(want)
    assert "copied %d tables, %d rows" % (len(copy_tables()), total) \
        in summary
    held = pg_rows(conn, "accounts", ["id", "held_by"])
    assert (world.ids["auditor"], max(i for i, _ in held)) in held
    for table in ("seals", "signatures", "audit_checkpoints", "sealed_ofds",
                  "data_keys"):
        assert pg_rows(conn, table, ["id"]), table   # not a vacuous copy
    # the kept OFD copied as the blob it is, not opened on the way
    (data,), = pg_rows(conn, "sealed_ofds", ["data"])
    assert data[:8] == MAGIC and b"PK\x03\x04" not in data


def config_for(world, url):
    """The instance's seald.conf with [database] url naming the copy,
    beside it (its relative paths are the instance's)."""
    with open(os.path.join(world.inst.dir, "seald.conf"),
              encoding="utf-8") as f:
        text = f.read()
    text, n = re.subn(r"^url = .*$", "url = " + url, text, flags=re.M)
    assert n == 1
    path = os.path.join(world.inst.dir, "copy.conf")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def test_audit_verify_on_the_copy(world, copy):
    url, conn, summary = copy
    conf = config_for(world, url)
    out = seald("audit", "verify", "--config", conf)
    assert out.returncode == 0, out.stdout + out.stderr
    src = seald("audit", "verify", "--db", world.inst.db)
    assert src.returncode == 0, src.stdout + src.stderr
    a, b = json.loads(out.stdout), json.loads(src.stdout)
    assert a["ok"] and a["entries"] == b["entries"] > 0
    assert a["head_seq"] == b["head_seq"] and a["head_hash"] == b["head_hash"]
    assert a["checkpoints"] == b["checkpoints"] > 0
    assert b["head_hash"] in summary


def test_back_to_sqlite_unchanged(world, copy, tmp_path):
    """PostgreSQL -> SQLite gives the original rows back (run before the
    daemon writes to the copy)."""
    url, _, _ = copy
    back = str(tmp_path / "back.db")
    out = seald("migrate", "--from", url, "--to", "sqlite:" + back,
                "--audit-key", world.key)
    assert out.returncode == 0, out.stdout + out.stderr
    for table, cols in copy_tables().items():
        assert lite_rows(back, table, cols) == \
            lite_rows(world.inst.db, table, cols), table
    # a PostgreSQL source has no file to find the key beside
    out = seald("migrate", "--from", url, "--to", str(tmp_path / "x.db"))
    assert out.returncode == 64, out.stderr


def test_daemon_on_the_copy(world, copy):
    url, conn, _ = copy
    before = {t: max((r[0] for r in pg_rows(conn, t, ["id"])), default=0)
              for t in ("sign_requests", "sign_documents", "signatures",
                        "history", "audit_checkpoints")}
    world.inst.conf = config_for(world, url)
    world.inst.start("--set", "audit.checkpoint_every=5")
    try:
        v = api_verify(world, world.signature, DOCUMENT)
        assert v["indication"] == "TOTAL_PASSED", v
        # the kept sealed OFD opens on the copy, and is sealed again
        k = world.kept
        r = world.inst.get("/api/v1/sign-requests/%d/sealed/%d" % (
            k["request_id"], k["sealed_id"]), world.cred["approver"])
        assert r.status_code == 200, r.text
        assert r.content == base64.b64decode(k["ofd"])
        again = seal_ofd(world, k["request_id"], k["document_id"],
                         sealed_id=k["sealed_id"])
        assert again["base_id"] == k["sealed_id"]
        # new rows: the identities go on after the copied ids
        req = submit(world, [doc("after.txt", b"after the move")])
        assert req["id"] > before["sign_requests"]
        approve(world, req["id"])
        res = sign(world, req["id"])["results"]
        assert [r["status"] for r in res] == ["signed"], res
        assert res[0]["signature_id"] > before["signatures"]
    finally:
        rc, _, err = world.inst.stop()
    assert rc == 0, err
    out = seald("audit", "verify", "--config", world.inst.conf)
    assert out.returncode == 0, out.stdout + out.stderr
    # every blob of the copy opens, the two kept packages among them
    out = seald("data-key", "list", "--config", world.inst.conf)
    assert out.returncode == 0, out.stderr
    col = json.loads(out.stdout)["blobs"]["sealed_ofds.data"]
    assert col["plaintext"] == 0 and sum(col["sealed_by"].values()) == 2
    out = seald("data-key", "verify", "--config", world.inst.conf)
    assert out.returncode == 0 and json.loads(out.stdout)["ok"], out.stdout


def test_non_empty_target_refused(world, copy):
    url, conn, _ = copy
    counts = pg_counts(conn)
    out = seald("migrate", "--from", "sqlite:" + world.inst.db, "--to", url)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "already holds a seald schema" in out.stderr
    assert pg_counts(conn) == counts


def test_tampered_source_refused(server, world, tmp_path):
    bad = str(tmp_path / "tampered.db")
    src = sqlite3.connect(world.inst.db)
    dst = sqlite3.connect(bad)
    src.backup(dst)
    src.close()
    # the append-only trigger refuses an UPDATE from any code path; someone
    # with the file can drop it, edit, and put it back
    sql = dst.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' "
                      "AND name = 'audit_log_no_update'").fetchone()[0]
    dst.execute("DROP TRIGGER audit_log_no_update")
    dst.execute("UPDATE audit_log SET reason = 'nothing happened' "
                "WHERE seq = 3")
    dst.execute(sql)
    dst.commit()
    dst.close()
    url = create_db(server, "seald_tampered")
    out = seald("migrate", "--from", bad, "--to", url, "--audit-key",
                world.key)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "does not verify" in out.stderr and "refusing" in out.stderr
    assert server.psql("seald_tampered", "SELECT count(*) FROM "
                       "information_schema.tables WHERE table_schema = "
                       "'public'").strip() == "0"
