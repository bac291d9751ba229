"""Issue 8: the tamper-evident audit log, checkpoints, backup and restore.

Everything runs against the real binary and a real database of the run's
dialect.  Tampering is done the way an attacker owning the database would:
with the append-only triggers out of the way (Instance.tamper), edit the
rows.
"""
import concurrent.futures
import csv
import io
import json
import os
import signal
import sqlite3
import threading
import time

import pytest
import requests

from conftest import PG, assert_error, run_seald

# what a thorough attacker adds after changing the log: the chain's head
# row (migration 008) made to name the newest entry as it now is
REWIND_HEAD = ("UPDATE audit_head SET (seq, hash) = (SELECT seq, hash FROM "
               "audit_log ORDER BY seq DESC LIMIT 1)")


def verify(db, checkpoint=None, *extra):
    """Run `seald audit verify` on an Instance's database or a database
    file (the trusted key: the instance's, audit-key.pem beside the file,
    unless extra names one); returns (exit status, report)."""
    where = ["--db", db] if isinstance(db, str) else db.db_args
    args = ["audit", "verify", *where, *extra]
    if checkpoint:
        args += ["--checkpoint", checkpoint]
    out = run_seald(*args)
    return out.returncode, json.loads(out.stdout)


def attack_file(db, *statements):
    """Drop the triggers of a database file and run statements, as a
    file-level attacker."""
    con = sqlite3.connect(db)
    try:
        for (t,) in con.execute("SELECT name FROM sqlite_master WHERE "
                                "type = 'trigger'").fetchall():
            con.execute(f"DROP TRIGGER {t}")
        for s in statements:
            con.execute(s)
        con.commit()
    finally:
        con.close()


def cli_checkpoints(instance, n):
    """Append n signed checkpoints (each adds an audit.checkpoint entry)."""
    last = None
    for _ in range(n):
        out = run_seald("audit", "checkpoint", "--config", instance.conf)
        assert out.returncode == 0, out.stderr
        last = json.loads(out.stdout)
    return last


def rotate(inst, cred):
    r = inst.post("/api/v1/account/credential", cred)
    assert r.status_code == 201, r.text
    return r.json()["data"]["credential"]


def make_user(inst, admin, org, name):
    """A person in org with a rotated credential: (id, credential)."""
    r = inst.post("/api/v1/accounts", admin, json={
        "name": name, "display_name": name, "kind": "person", "org_id": org})
    assert r.status_code == 201, r.text
    d = r.json()["data"]
    return d["account"]["id"], rotate(inst, d["credential"])


@pytest.fixture
def staff(seald):
    """The running instance with a rotated admin, a security admin and an
    auditor: returns (admin, auditor, org id)."""
    admin = rotate(seald, seald.admin_credential)
    org = seald.get("/api/v1/whoami", admin).json()["data"]["account"][
        "org_id"]
    sec_id, sec = make_user(seald, admin, org, "sec1")
    aud_id, aud = make_user(seald, admin, org, "aud1")
    r = seald.post(f"/api/v1/accounts/{sec_id}/appoint-secadmin", admin)
    assert r.status_code == 201, r.text
    r = seald.post(f"/api/v1/accounts/{aud_id}/roles", sec,
                   json={"role": "auditor", "scope_org_id": org})
    assert r.status_code == 201, r.text
    return admin, aud, org


def test_fresh_chain_verifies_and_is_gapless(instance):
    cli_checkpoints(instance, 2)
    rc, rep = verify(instance)
    assert rc == 0 and rep["ok"], rep
    assert rep["entries"] == 3 and rep["checkpoints"] == 2
    rows = instance.sql("SELECT seq, length(hash) FROM audit_log "
                        "ORDER BY seq")
    assert rows == [(1, 32), (2, 32), (3, 32)]
    assert rep["head_hash"] == instance.sql(
        "SELECT hash FROM audit_log WHERE seq = 3")[0][0].hex()


@pytest.mark.parametrize("how", ["edit", "delete", "reorder", "null-hash"])
def test_tampered_entry_is_named(instance, how):
    cli_checkpoints(instance, 4)          # entries 1..5
    assert verify(instance)[0] == 0
    stmts = {
        "edit": ["UPDATE audit_log SET outcome = 'refused' WHERE seq = 3"],
        "delete": ["DELETE FROM audit_log WHERE seq = 3"],
        # move entry 4 before entry 3 (rows keep their stored hashes)
        "reorder": [
            "UPDATE audit_log SET seq = -3 WHERE seq = 3",
            "UPDATE audit_log SET seq = 3 WHERE seq = 4",
            "UPDATE audit_log SET seq = 4 WHERE seq = -3"],
        "null-hash": ["UPDATE audit_log SET hash = NULL WHERE seq = 3"],
    }[how]
    instance.tamper(*stmts)
    rc, rep = verify(instance)
    assert rc == 1
    assert rep["ok"] is False
    assert rep["first_bad_seq"] == 3, rep
    assert "3" in rep["reason"]


def test_deleting_newest_entries_caught_by_exported_checkpoint(
        instance, tmp_path):
    exported = tmp_path / "cp.json"
    cli_checkpoints(instance, 2)          # entries 1..3, checkpoints at 2, 3
    out = run_seald("audit", "checkpoint", "--config", instance.conf,
                    "--out", str(exported))
    assert out.returncode == 0, out.stderr
    cp = json.loads(exported.read_text())
    assert cp["seq"] == 4 and cp["format"] == "seald-audit-checkpoint-1"
    assert "BEGIN PUBLIC KEY" in cp["public_key"]
    assert verify(instance, str(exported))[0] == 0
    # the attacker removes the newest entries and the checkpoints over them
    instance.tamper("DELETE FROM audit_log WHERE seq >= 3",
           "DELETE FROM audit_checkpoints WHERE seq >= 3", REWIND_HEAD)
    rc, rep = verify(instance)
    assert rc == 0, "without what was sent away it cannot be seen"
    rc, rep = verify(instance, str(exported))
    assert rc == 1 and not rep["ok"]
    assert rep["first_bad_seq"] == 3
    assert "deleted" in rep["reason"]


def test_deleting_newest_entries_caught_by_the_head_row(instance):
    cli_checkpoints(instance, 2)          # entries 1..3
    instance.tamper("DELETE FROM audit_log WHERE seq = 3",
           "DELETE FROM audit_checkpoints WHERE seq >= 3")
    rc, rep = verify(instance)
    assert rc == 1 and rep["first_bad_seq"] == 3, rep
    assert "head row says seq 3 but the log ends at seq 2" in rep["reason"]
    # and an entry added behind seald's back
    instance.tamper(REWIND_HEAD,
           "INSERT INTO audit_log (seq, ts_ms, action, outcome) "
           "SELECT 3, ts_ms, 'forged', 'ok' FROM audit_log WHERE seq = 2")
    rc, rep = verify(instance)
    assert rc == 1 and not rep["ok"], rep


def test_deleting_newest_entries_caught_by_stored_checkpoint(instance):
    cli_checkpoints(instance, 3)
    instance.tamper("DELETE FROM audit_log WHERE seq = 4")
    rc, rep = verify(instance)
    assert rc == 1 and rep["first_bad_seq"] == 4, rep
    assert "beyond the end" in rep["reason"]


def test_forged_checkpoint_signature_is_caught(instance, tmp_path):
    cli_checkpoints(instance, 2)
    sig = instance.sql("SELECT signature FROM audit_checkpoints "
                       "WHERE id = 1")[0][0]
    forged = bytes(sig[:-1]) + bytes([sig[-1] ^ 1])
    instance.tamper(("UPDATE audit_checkpoints SET signature = ? "
                     "WHERE id = 1", (forged,)))
    rc, rep = verify(instance)
    assert rc == 1 and rep["bad_checkpoint_id"] == 1, rep
    assert "signature" in rep["reason"]
    # a forged exported checkpoint is caught too
    exported = tmp_path / "cp.json"
    cp = cli_checkpoints(instance, 1)
    cp["head_hash"] = "00" * 32
    exported.write_text(json.dumps(cp))
    rc, rep = verify(instance, str(exported))
    assert rc == 1 and not rep["ok"]


def test_refused_request_is_audited_and_changes_nothing(seald, staff):
    admin, aud, org = staff
    before_rows = len(seald.audit())
    before_cps = seald.sql("SELECT count(*) FROM audit_checkpoints")[0][0]
    # the system administrator may not read the audit log nor sign it
    r = seald.get("/api/v1/audit", admin)
    assert_error(r, 403, "forbidden")
    r = seald.post("/api/v1/audit/checkpoints", admin)
    assert_error(r, 403, "forbidden")
    rid = r.headers["X-Request-Id"]
    # and the auditor may not take a backup
    r = seald.post("/api/v1/admin/backup", aud)
    assert_error(r, 403, "forbidden")
    rows = seald.audit()[before_rows:]
    assert [(x[4], x[6]) for x in rows] == [
        ("audit.query", "refused"), ("audit.checkpoint", "refused"),
        ("system.backup", "refused")]
    assert rows[1][3] == rid
    assert seald.sql("SELECT count(*) FROM audit_checkpoints")[0][0] == \
        before_cps
    assert not os.path.exists(os.path.join(seald.dir, "backups"))
    # the refusals are chained like everything else
    r = seald.post("/api/v1/audit/verify", aud)
    assert r.status_code == 200, r.text
    rep = r.json()["data"]
    assert rep["ok"] is True and rep["key_pinned"] is True
    assert rep["entries"] == len(seald.audit()) - 1   # + the verify record


def test_auditor_queries_and_exports(seald, staff):
    admin, aud, org = staff
    seald.get("/api/v1/audit", admin)                  # one refusal
    r = seald.get("/api/v1/audit", aud, params={"limit": 2})
    assert r.status_code == 200, r.text
    d = r.json()["data"]
    assert [x["seq"] for x in d["items"]] == [1, 2]
    assert d["next_after"] == 2
    r = seald.get("/api/v1/audit", aud, params={"after": 2, "limit": 2})
    assert [x["seq"] for x in r.json()["data"]["items"]] == [3, 4]
    items = seald.get("/api/v1/audit", aud, params={
        "outcome": "refused", "action": "audit.query"}).json()["data"][
        "items"]
    assert len(items) == 1 and items[0]["reason"].startswith("permission")
    admin_id = seald.get("/api/v1/whoami", admin).json()["data"][
        "account"]["id"]
    mine = seald.get("/api/v1/audit", aud, params={
        "account": admin_id, "limit": 500}).json()["data"]["items"]
    assert mine and all(x["account_id"] == admin_id for x in mine)
    now = int(time.time() * 1000)
    assert seald.get("/api/v1/audit", aud, params={"from": now + 60000}) \
        .json()["data"]["items"] == []
    assert seald.get("/api/v1/audit", aud, params={"org": org}).json()[
        "data"]["items"]
    created = seald.get("/api/v1/audit", aud, params={
        "action": "account.create"}).json()["data"]["items"]
    assert {x["target_type"] for x in created} == {"account"}
    tgt = seald.get("/api/v1/audit", aud, params={
        "target_type": "account", "target": created[0]["target_id"]}).json()
    assert created[0]["seq"] in [x["seq"] for x in tgt["data"]["items"]]
    # JSON lines and CSV
    r = seald.get("/api/v1/audit", aud, params={"format": "jsonl",
                                                "limit": 1000})
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/x-ndjson")
    assert "attachment" in r.headers["Content-Disposition"]
    lines = [json.loads(x) for x in r.text.splitlines()]
    assert [x["seq"] for x in lines] == list(range(1, len(lines) + 1))
    assert all(len(x["hash"]) == 64 for x in lines)
    r = seald.get("/api/v1/audit", aud, params={"format": "csv",
                                                "limit": 1000})
    assert r.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) >= len(lines)
    assert rows[0]["action"] == "instance.init"
    r = seald.get("/api/v1/audit", aud, params={"format": "jsonl",
                                                "from": now + 60000})
    assert r.status_code == 200 and r.text == ""
    assert_error(seald.get("/api/v1/audit", aud, params={"format": "xml"}),
                 422, "invalid_argument")
    assert_error(seald.get("/api/v1/audit", aud, params={"limit": "0"}),
                 422, "invalid_argument")


def test_api_checkpoint_export_and_verify(seald, staff, tmp_path):
    admin, aud, org = staff
    r = seald.post("/api/v1/audit/checkpoints", aud)
    assert r.status_code == 201, r.text
    cp = r.json()["data"]
    latest = seald.get("/api/v1/audit/checkpoints/latest", aud).json()[
        "data"]
    assert latest == cp
    last = seald.audit()[-1]
    assert last[0] == cp["seq"] and last[4] == "audit.checkpoint"
    r = seald.post("/api/v1/audit/verify", aud, json={"checkpoint": cp})
    assert r.status_code == 200 and r.json()["data"]["ok"] is True, r.text
    bad = dict(cp, seq=cp["seq"] + 1000)
    r = seald.post("/api/v1/audit/verify", aud, json={"checkpoint": bad})
    rep = r.json()["data"]
    assert rep["ok"] is False
    # offline with the exported file, while the daemon runs
    path = tmp_path / "cp.json"
    path.write_text(json.dumps(cp))
    rc, rep = verify(seald, str(path))
    assert rc == 0, rep


UNLIMITED = ("--set", "security.rate_limit_rps=100000",
             "--set", "security.rate_limit_burst=100000")


def backup_refused_on_postgresql(seald, admin, tmp_path):
    """A PostgreSQL database is not copied by seald (the online backup and
    `seald backup` are SQLite's file copy): both refuse, saying to use
    pg_dump, write nothing and leave the chain verifying."""
    err = assert_error(seald.post("/api/v1/admin/backup", admin), 415,
                       "unsupported")
    assert "pg_dump" in err["message"]
    out = run_seald("backup", "--config", seald.conf, "--out",
                    str(tmp_path / "b.db"))
    assert out.returncode == 1 and "pg_dump" in out.stderr, out.stderr
    assert not (tmp_path / "b.db").exists()
    rc, rep = verify(seald)
    assert rc == 0, rep


def test_backup_under_load_restores_and_verifies(instance, tmp_path):
    seald = instance
    instance.start("--threads", "4", *UNLIMITED)
    admin = rotate(seald, seald.admin_credential)
    if PG:
        backup_refused_on_postgresql(seald, admin, tmp_path)
        rc, _, err = instance.stop()
        assert rc == 0, err
        return
    org = seald.get("/api/v1/whoami", admin).json()["data"]["account"][
        "org_id"]
    stop = threading.Event()
    made = []

    def writer(k):
        s = requests.Session()
        i = 0
        while not stop.is_set():
            r = s.post(seald.url("/api/v1/accounts"), verify=seald.verify,
                       headers={"Authorization": "Bearer " + admin},
                       json={"name": f"load{k}-{i}", "display_name": "x",
                             "kind": "person", "org_id": org}, timeout=30)
            assert r.status_code == 201, r.text
            made.append(r.headers["X-Request-Id"])
            i += 1

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        futs = [pool.submit(writer, k) for k in range(3)]
        time.sleep(0.5)
        r = seald.post("/api/v1/admin/backup", admin)
        cli = tmp_path / "cli.db"
        out = run_seald("backup", "--config", seald.conf, "--out", str(cli))
        time.sleep(0.3)
        stop.set()
        for f in futs:
            f.result()
    assert r.status_code == 201, r.text
    d = r.json()["data"]
    assert d["audit"]["ok"] is True and d["bytes"] > 0
    assert out.returncode == 0, out.stderr
    assert len(made) > 5
    backup_rows = seald.audit()
    assert any(x[4] == "system.backup" and x[6] == "ok"
               for x in backup_rows)
    for src in (d["path"], str(cli)):
        target = tmp_path / ("restored-" + os.path.basename(src))
        # the trust is the instance's, whose config names its audit key
        out = run_seald("restore", "--backup", src, "--db", str(target),
                        "--config", seald.conf)
        assert out.returncode == 0, out.stderr
        rc, rep = verify(str(target), None, "--config", seald.conf)
        assert rc == 0 and rep["entries"] > 5, rep
        con = sqlite3.connect(str(target))
        n = con.execute("SELECT count(*) FROM accounts WHERE name LIKE "
                        "'load%'").fetchone()[0]
        con.close()
        assert n > 0
    # restore refuses an existing database and a tampered backup
    out = run_seald("restore", "--backup", str(cli), "--db", str(target),
                    "--config", seald.conf)
    assert out.returncode == 1 and "exists" in out.stderr
    # without trust material for the target it refuses too
    out = run_seald("restore", "--backup", str(cli), "--db",
                    str(tmp_path / "never.db"))
    assert out.returncode == 1 and "no trusted audit key" in out.stderr
    attack_file(str(cli), "UPDATE audit_log SET reason = 'x' WHERE seq = 2")
    out = run_seald("restore", "--backup", str(cli), "--db",
                    str(tmp_path / "never.db"), "--audit-key",
                    os.path.join(seald.dir, "audit-key.pem"))
    assert out.returncode == 1 and "does not verify" in out.stderr
    assert not (tmp_path / "never.db").exists()
    rc, _, err = instance.stop()
    assert rc == 0, err


def test_sigkill_mid_stream_loses_nothing_acknowledged(instance):
    """Kill -9 while several clients change state; after restart the chain
    verifies and every answered change has its audit record."""
    instance.start("--threads", "4", *UNLIMITED)
    admin = rotate(instance, instance.admin_credential)
    org = instance.get("/api/v1/whoami", admin).json()["data"]["account"][
        "org_id"]
    acked = []
    lock = threading.Lock()

    def client(k):
        s = requests.Session()
        i = 0
        while True:
            try:
                r = s.post(instance.url("/api/v1/accounts"),
                           verify=instance.verify, timeout=10,
                           headers={"Authorization": "Bearer " + admin},
                           json={"name": f"c{k}-{i}", "display_name": "x",
                                 "kind": "person", "org_id": org})
            except requests.RequestException:
                return
            if r.status_code == 201:
                with lock:
                    acked.append((r.headers["X-Request-Id"], f"c{k}-{i}"))
            i += 1

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futs = [pool.submit(client, k) for k in range(4)]
        time.sleep(2.0)
        instance.proc.send_signal(signal.SIGKILL)
        instance.proc.wait()
        instance.proc = None
        for f in futs:
            f.result()
    assert len(acked) > 10
    rc, rep = verify(instance)
    assert rc == 0, rep
    logged = {r[0] for r in instance.sql(
        "SELECT request_id FROM audit_log WHERE action = 'account.create'")}
    assert [rid for rid, _ in acked if rid not in logged] == []
    names = {r[0] for r in instance.sql("SELECT name FROM accounts")}
    assert [n for _, n in acked if n not in names] == []
    # the daemon comes back on the same file and keeps chaining
    instance.start()
    r = instance.post("/api/v1/account/credential", admin)
    assert r.status_code == 201
    rc, _, err = instance.stop()
    assert rc == 0, err
    rc, rep = verify(instance)
    assert rc == 0 and rep["entries"] == len(instance.audit())


def test_refused_path_with_raw_bytes_is_recorded_as_utf8(instance):
    """A refused request's path is the entry's target, and %FF decodes to a
    byte that is not UTF-8: PostgreSQL refused the record (the refusal went
    unrecorded and the summaries of anonymous refusals never got written,
    failing every later flush) where SQLite stored the bytes.  On both the
    entry holds the path with '?' for each such byte, and the chain
    verifies."""
    instance.start("--set", "server.refusal_delay_ms=0")
    # an authenticated refusal (an initial credential may only rotate) is
    # written at once; the anonymous one is counted, written at stop
    r = instance.get("/api/v1/seals/%FF%FE", instance.admin_credential)
    assert_error(r, 403, "forbidden")
    rid = r.headers["X-Request-Id"]
    r = instance.get("/api/v1/seals/%FF%FE")
    assert_error(r, 401, "unauthenticated")
    anon = r.headers["X-Request-Id"]        # the summary's sample
    rc, _, err = instance.stop()
    assert rc == 0, err
    rows = instance.sql("SELECT account_id, request_id, action, target_id, "
                        "outcome FROM audit_log WHERE action = 'seal.read' "
                        "ORDER BY seq")
    assert rows == [(1, rid, "seal.read", "/api/v1/seals/??", "refused"),
                    (None, anon, "seal.read", "/api/v1/seals/??", "refused")]
    rc, rep = verify(instance)
    assert rc == 0, rep
