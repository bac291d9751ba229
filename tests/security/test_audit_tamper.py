"""Issue 14, item 10: tamper evidence that does not depend on an exported
checkpoint.

An attacker holds the database file while the daemon is stopped and edits
it with sqlite3: every row rewritten with the chain recomputed and all
checkpoints deleted; every hash set to NULL and the checkpoints deleted; a
chain rewritten and "vouched for" by a checkpoint signed with another SM2
key; the newest entries deleted together with their checkpoints.  Each
tampered file must be refused by all three judges: `seald audit verify`
offline, POST /api/v1/audit/verify online (the daemon restarted on the
file), and `seald restore` -- without any exported checkpoint, with an
exported checkpoint file, and with the sink the daemon sent its
checkpoints to.  The untampered copy passes all three, so a refusal is the
tampering's doing and not the set-up's.

One legitimate log is made per module (its entries span more than the
checkpoint interval plus grace, as any real log does) and copied for each
case.
"""
import hashlib
import json
import os
import shutil
import sqlite3
import struct
import time

import pytest

from conftest import Instance, run_seald
from test_audit import make_user, rotate

TRIGGERS = ("audit_log_no_update", "audit_log_no_delete",
            "audit_checkpoints_no_update", "audit_checkpoints_no_delete",
            "audit_head_forward")
ROW = ("SELECT seq, ts_ms, account_id, role, client_addr, request_id, "
       "action, target_type, target_id, outcome, reason, details "
       "FROM audit_log ORDER BY seq")
INTERVAL = 1            # audit.checkpoint_seconds of the legitimate run
LEGIT_SPAN = 14         # seconds the legitimate log spans (> 1 + 10 grace)
MODES = ("none", "checkpoint", "sink")


# ---- the attacker's tools: the chain as docs/design.md defines it ----

def _str(v):
    if v is None:
        return b"\xff\xff\xff\xff"
    b = v.encode() if isinstance(v, str) else bytes(v)
    return struct.pack(">I", len(b)) + b


def _enc(row):
    seq, ts, acct = row[0], row[1], row[2] or 0
    return (b"\x01" + struct.pack(">qqq", seq, ts, acct) +
            b"".join(_str(x) for x in row[3:]))


def chain(con):
    """[(seq, hash)] recomputed from the rows as they are."""
    prev, out = bytes(32), []
    for row in con.execute(ROW).fetchall():
        prev = hashlib.new("sm3", prev + _enc(row)).digest()
        out.append((row[0], prev))
    return out


def open_as_attacker(db):
    con = sqlite3.connect(db)
    for t in TRIGGERS:
        con.execute(f"DROP TRIGGER IF EXISTS {t}")
    return con


def rewind_head(con):
    """Make the chain's head row (migration 008) name the newest entry as
    it now is: what a thorough attacker does after changing the log."""
    row = con.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC "
                      "LIMIT 1").fetchone() or (0, None)
    con.execute("UPDATE audit_head SET seq = ?, hash = ?", row)


def rewrite_all(db):
    """Every row modified, the chain recomputed so that it links again,
    every checkpoint deleted."""
    con = open_as_attacker(db)
    try:
        con.execute("UPDATE audit_log SET client_addr = '203.0.113.66'")
        for seq, h in chain(con):
            con.execute("UPDATE audit_log SET hash = ? WHERE seq = ?",
                        (h, seq))
        con.execute("DELETE FROM audit_checkpoints")
        rewind_head(con)
        con.commit()
    finally:
        con.close()


def null_all(db):
    """Every hash NULL (the log then looks older than the chain), every
    checkpoint deleted."""
    con = open_as_attacker(db)
    try:
        con.execute("UPDATE audit_log SET hash = NULL")
        con.execute("DELETE FROM audit_checkpoints")
        rewind_head(con)
        con.commit()
    finally:
        con.close()


def forge(db, workdir):
    """The chain rewritten, then a checkpoint over it signed with another
    SM2 key (another instance's audit key), which the checkpoint row
    carries."""
    rewrite_all(db)
    other = Instance(os.path.join(workdir, "forger"))
    text = open(other.conf).read()
    assert "\nurl = seald.db\n" in text
    forger = os.path.join(other.dir, "forger.conf")
    with open(forger, "w") as f:
        f.write(text.replace("\nurl = seald.db\n", f"\nurl = {db}\n"))
    out = run_seald("audit", "checkpoint", "--config", forger)
    assert out.returncode == 0, out.stderr
    con = sqlite3.connect(db)
    try:
        n, = con.execute("SELECT count(*) FROM audit_checkpoints").fetchone()
        head, = con.execute("SELECT max(seq) FROM audit_log").fetchone()
        cp, = con.execute("SELECT seq FROM audit_checkpoints").fetchone()
    finally:
        con.close()
    assert n == 1 and cp == head      # it covers the whole rewritten log


def truncate(db, head=True):
    """The newest entries deleted together with the checkpoints over them,
    back to an older checkpoint: what is left is a consistent log (with
    head=False the chain's head row is left as it was)."""
    con = open_as_attacker(db)
    try:
        seqs = [s for s, in con.execute(
            "SELECT DISTINCT seq FROM audit_checkpoints ORDER BY seq")]
        assert len(seqs) >= 4
        keep = seqs[len(seqs) // 2]
        con.execute("DELETE FROM audit_log WHERE seq > ?", (keep,))
        con.execute("DELETE FROM audit_checkpoints WHERE seq > ?", (keep,))
        if head:
            rewind_head(con)
        con.commit()
    finally:
        con.close()


# ---- the legitimate log ----

def adopt(directory):
    """An Instance over an existing instance directory (no init)."""
    inst = Instance.__new__(Instance)
    inst.dir = str(directory)
    inst.conf = os.path.join(inst.dir, "seald.conf")
    inst.db = os.path.join(inst.dir, "seald.db")
    inst.cert = os.path.join(inst.dir, "tls", "server.crt")
    inst.log = os.path.join(inst.dir, "seald.log")
    inst.proc, inst.port, inst.scheme = None, None, "https"
    return inst


@pytest.fixture(scope="module")
def legit(tmp_path_factory):
    """A stopped instance whose log spans LEGIT_SPAN seconds, checkpointed
    every INTERVAL s and sent to a sink outside the instance directory
    (../away/sink.jsonl, "another volume"); an exported checkpoint kept
    outside too.  Returns (base dir, auditor credential)."""
    base = tmp_path_factory.mktemp("audit-legit")
    inst = Instance(base / "inst")
    os.makedirs(base / "away")
    text = open(inst.conf).read()
    for key, value in (("checkpoint_seconds", str(INTERVAL)),
                       ("sink_file", "../away/sink.jsonl")):
        line = next(x for x in text.splitlines()
                    if x.startswith(key + " ="))
        text = text.replace(line + "\n", f"{key} = {value}\n", 1)
    with open(inst.conf, "w") as f:
        f.write(text)
    inst.start()
    try:
        admin = rotate(inst, inst.admin_credential)
        org = inst.get("/api/v1/whoami", admin).json()["data"]["account"][
            "org_id"]
        sec_id, sec = make_user(inst, admin, org, "sec1")
        aud_id, aud = make_user(inst, admin, org, "aud1")
        r = inst.post(f"/api/v1/accounts/{sec_id}/appoint-secadmin", admin)
        assert r.status_code == 201, r.text
        r = inst.post(f"/api/v1/accounts/{aud_id}/roles", sec,
                      json={"role": "auditor", "scope_org_id": org})
        assert r.status_code == 201, r.text
        start = time.time()
        i = 0
        while time.time() - start < LEGIT_SPAN:
            make_user(inst, admin, org, f"clerk{i}")
            i += 1
            time.sleep(1.5)
        r = inst.post("/api/v1/audit/checkpoints", aud)
        assert r.status_code == 201, r.text
        (base / "cp.json").write_text(json.dumps(r.json()["data"]))
        make_user(inst, admin, org, "last")
    finally:
        rc, _, err = inst.stop()
    assert rc == 0, err
    assert os.path.getsize(base / "away" / "sink.jsonl") > 0
    return base, aud


@pytest.fixture
def victim(legit, tmp_path):
    """A copy of the legitimate instance and its sink: (instance, sink,
    exported checkpoint file, auditor credential)."""
    base, aud = legit
    shutil.copytree(base / "inst", tmp_path / "inst")
    shutil.copytree(base / "away", tmp_path / "away")
    inst = adopt(tmp_path / "inst")
    # the attacker's tool agrees with the chain seald wrote
    con = sqlite3.connect(inst.db)
    try:
        stored = con.execute("SELECT seq, hash FROM audit_log "
                             "ORDER BY seq").fetchall()
        assert [(s, bytes(h)) for s, h in stored] == chain(con)
    finally:
        con.close()
    yield inst, str(tmp_path / "away" / "sink.jsonl"), str(base / "cp.json"), aud
    if inst.proc is not None:
        inst.proc.kill()
        inst.proc.wait()


# ---- the three judges ----

def export_args(mode, sink, cp):
    return {"none": [], "checkpoint": ["--checkpoint", cp],
            "sink": ["--sink-file", sink]}[mode]


def judge_offline(inst, mode, sink, cp):
    out = run_seald("audit", "verify", "--db", inst.db, "--config", inst.conf,
                    *export_args(mode, sink, cp))
    return out.returncode, json.loads(out.stdout), out.stderr


def judge_restore(inst, mode, sink, cp):
    target = os.path.join(os.path.dirname(inst.dir), "restored", "seald.db")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.exists(target):
        os.unlink(target)
    out = run_seald("restore", "--backup", inst.db, "--db", target,
                    "--config", inst.conf, *export_args(mode, sink, cp))
    return out.returncode, out.stderr, os.path.exists(target)


def judge_online(inst, mode, cp, aud):
    """Restart the daemon on the file and ask it.  The daemon's own sink is
    off unless mode is "sink"."""
    extra = [] if mode == "sink" else ["--set", "audit.sink_file="]
    inst.start(*extra)
    try:
        body = {"checkpoint": json.load(open(cp))} \
            if mode == "checkpoint" else {}
        r = inst.post("/api/v1/audit/verify", aud, json=body)
        assert r.status_code == 200, r.text
        return r.json()["data"]
    finally:
        rc, _, err = inst.stop()
        assert rc == 0, err


def assert_refused_everywhere(inst, mode, sink, cp, aud):
    rc, rep, err = judge_offline(inst, mode, sink, cp)
    assert rc == 1 and rep["ok"] is False, (rep, err)
    assert rep["reason"], rep
    rc, err, made = judge_restore(inst, mode, sink, cp)
    assert rc == 1 and "does not verify" in err, err
    assert not made
    rep = judge_online(inst, mode, cp, aud)
    assert rep["ok"] is False, rep
    assert rep["key_pinned"] is True
    return rep


@pytest.mark.parametrize("mode", MODES)
def test_untampered_copy_passes_every_judge(victim, mode):
    inst, sink, cp, aud = victim
    rc, rep, err = judge_offline(inst, mode, sink, cp)
    assert rc == 0 and rep["ok"] is True, (rep, err)
    assert rep["covered_seq"] == rep["head_seq"]  # the clean stop signed it
    if mode != "none":
        assert rep["exported_checkpoints"] >= 1
    rc, err, made = judge_restore(inst, mode, sink, cp)
    assert rc == 0 and made, err
    rep = judge_online(inst, mode, cp, aud)
    assert rep["ok"] is True, rep


@pytest.mark.parametrize("mode", MODES)
def test_rewritten_rows_without_checkpoints_are_refused(victim, mode):
    inst, sink, cp, aud = victim
    rewrite_all(inst.db)
    rep = assert_refused_everywhere(inst, mode, sink, cp, aud)
    if mode == "none":
        assert "no checkpoint" in rep["reason"], rep


@pytest.mark.parametrize("mode", MODES)
def test_null_hashes_without_checkpoints_are_refused(victim, mode):
    inst, sink, cp, aud = victim
    null_all(inst.db)
    rep = assert_refused_everywhere(inst, mode, sink, cp, aud)
    if mode == "none":
        assert rep["first_bad_seq"] == 1 and "no hash" in rep["reason"], rep


@pytest.mark.parametrize("mode", MODES)
def test_checkpoint_forged_with_another_key_is_refused(victim, mode,
                                                        tmp_path):
    inst, sink, cp, aud = victim
    forge(inst.db, str(tmp_path))
    rep = assert_refused_everywhere(inst, mode, sink, cp, aud)
    if mode == "none":
        assert "another key" in rep["reason"], rep


@pytest.mark.parametrize("mode", MODES)
def test_deleted_tail_is_caught_by_the_head_row(victim, mode):
    """Deleting the newest entries and their checkpoints without also
    rewinding the chain's head row is caught with nothing sent away."""
    inst, sink, cp, aud = victim
    truncate(inst.db, head=False)
    rep = assert_refused_everywhere(inst, mode, sink, cp, aud)
    if mode == "none":
        assert "head row" in rep["reason"], rep


@pytest.mark.parametrize("mode", ("checkpoint", "sink"))
def test_deleted_tail_is_caught_by_what_was_sent_away(victim, mode):
    """A consistent truncation leaves nothing in the file to contradict
    it; what left the machine does."""
    inst, sink, cp, aud = victim
    truncate(inst.db)
    rep = assert_refused_everywhere(inst, mode, sink, cp, aud)
    assert "deleted" in rep["reason"], rep
