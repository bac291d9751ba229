"""Issue 15: an instance made by an older seald upgrades in place.

tests/fixtures/schema-007 holds a database made by the schema-7 seald (see
its README).  A copy under a fresh instance's configuration is started:
the daemon applies the newer migrations, every record is still there, new
entries chain onto the old head, and the audit chain verifies before and
after with the old instance's pinned key."""
import hashlib
import json
import os
import shutil
import sqlite3

import pytest

from conftest import Instance, run_seald

pytestmark = pytest.mark.sqlite_only(
    reason="the fixture is a schema-7 SQLite database file")

FIXTURE = os.path.join(os.environ.get("SEALD_SOURCE_DIR", "."), "tests",
                       "fixtures", "schema-007")
# tables whose rows an upgrade must keep, one for one
KEPT = ("organisations", "accounts", "role_assignments", "deputies",
        "credentials", "applications", "application_materials", "history",
        "authority", "esid_counters", "seals", "sign_requests",
        "sign_documents", "signatures", "audit_checkpoints")


def columns(db, table):
    con = sqlite3.connect(db)
    try:
        return [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
    finally:
        con.close()


def rows(db, table, cols=None):
    """The rows of table, of the columns cols (default: all)."""
    what = ", ".join(cols) if cols else "*"
    con = sqlite3.connect(db)
    try:
        return con.execute(f"SELECT {what} FROM {table} ORDER BY 1").fetchall()
    finally:
        con.close()


def verify(db):
    out = run_seald("audit", "verify", "--db", db, "--audit-key",
                    os.path.join(FIXTURE, "audit-key.pem"))
    return out.returncode, json.loads(out.stdout)


def test_schema7_instance_upgrades_and_verifies(tmp_path):
    before = str(tmp_path / "before.db")
    shutil.copy(os.path.join(FIXTURE, "seald.db"), before)
    rc, rep = verify(before)
    assert rc == 0 and rep["ok"], rep
    assert rep["head_seq"] == 41 and rep["checkpoints"] == 3, rep

    inst = Instance(tmp_path / "inst")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(inst.db + suffix):
            os.unlink(inst.db + suffix)
    shutil.copy(before, inst.db)
    inst.start("--set", "server.refusal_delay_ms=0")
    # an unauthenticated attempt after the upgrade: audited (as a refusal
    # summary, written at the latest when the daemon stops)
    assert inst.get("/api/v1/whoami").status_code == 401
    # made before status keys (migration 010): the status routes refuse,
    # clearly, rather than sign with some other key
    r = inst.get("/status/23010000000001")
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "unavailable"
    rc, _, err = inst.stop()
    assert rc == 0, err

    versions = [v for (v,) in inst.sql("SELECT version FROM schema_version "
                                       "ORDER BY version")]
    assert versions[:7] == list(range(1, 8)) and len(versions) > 7, versions
    for table in KEPT:
        # columns later migrations add are not compared (seals.seal_sm3)
        cols = columns(before, table)
        assert rows(inst.db, table, cols) == rows(before, table), table
    # the SM3 of every seal file, filled in at start-up (migration 010)
    for der, h in inst.sql("SELECT seal_der, seal_sm3 FROM seals"):
        assert h == hashlib.new("sm3", der).hexdigest()
    old_log = rows(before, "audit_log")
    new_log = rows(inst.db, "audit_log")
    # every old row kept as it was; columns added since (via_account_id,
    # migration 014) are empty on them
    width = len(old_log[0])
    assert [r[:width] for r in new_log[:len(old_log)]] == old_log
    assert all(all(c is None for c in r[width:])
               for r in new_log[:len(old_log)])
    assert len(new_log) > len(old_log)
    assert any(r[6] == "auth.refused" or r[9] == "refused"
               for r in new_log[len(old_log):]), new_log[len(old_log):]
    # the head row the migration added follows the log
    (seq, head), = inst.sql("SELECT seq, hash FROM audit_head")
    assert (seq, head) == inst.sql("SELECT seq, hash FROM audit_log "
                                   "ORDER BY seq DESC LIMIT 1")[0]
    rc, rep = verify(inst.db)
    assert rc == 0 and rep["ok"], rep
    assert rep["head_seq"] == len(new_log) and rep["unchained"] == 0, rep
