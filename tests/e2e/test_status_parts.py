"""Issue 17 item 2's remainder against the real daemon, on both dialects:

- seald verify-file / verify-ofd take several status list parts
  (--status-list repeated, or a directory of *.json parts): the part that
  covers the seal answers whatever the order given; parts that do not
  cover it say "not checked"; one bad part stops the command;
- the per-node cap on parts made at once (status.list_max_concurrent): a
  database with 70,000 listed seals in parts of 60,000 (a part then takes
  a few hundred ms), the cap at 1, eight GETs at once: some are refused with
  429 rate_limited and Retry-After, audited; one at a time, all are made.
"""
import concurrent.futures
import json
import os
import time

import pytest

from conftest import Instance, assert_error, run_seald
from test_seals import Seals
from test_verify_status import outcome, seal_an_ofd, signed_text

PER = 10
DAY_MS = 86400 * 1000


def add_listed(inst, like_esid, prefix, n):
    """n revoked seal rows (esIDs prefix + 9 digits) copied from the row of
    like_esid, valid for another 300 days: all listed."""
    now = int(time.time() * 1000)
    end = now + 300 * DAY_MS
    inst.sql("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n "
             "WHERE i < ?) "
             "INSERT INTO seals (esid, lineage_esid, application_id, org_id, "
             "kind, name, custodian_id, state, state_since_ms, reason_code, "
             "version, valid_start_ms, valid_end_ms, made_by, made_ms, "
             "confirmed_ms, last_used_ms) "
             "SELECT ? || CAST(1000000000 + n.i AS TEXT), "
             "? || CAST(1000000000 + n.i AS TEXT), application_id, org_id, "
             "kind, name, custodian_id, 'revoked', ?, 'cessation', version, "
             "?, ?, made_by, made_ms, confirmed_ms, last_used_ms "
             "FROM seals, n WHERE esid = ?",
             n - 1, prefix, prefix, now - DAY_MS, end - 730 * DAY_MS, end,
             like_esid)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    inst = Instance(tmp_path_factory.mktemp("parts") / "inst")
    inst.start("--set", f"status.list_part_entries={PER}")
    w = Seals(inst)
    w.esid = w.new_active_seal(seal_name="多段列表章")
    # 35 listed seals whose esIDs sort after the real one: 4 parts, the
    # real seal in part 0
    add_listed(inst, w.esid, "99", 35)
    yield w
    rc, _, err = inst.stop()
    assert rc == 0, err


def get_part(w, n):
    r = w.inst.get(f"/api/v1/seal-status-list?part={n}", w.cred["auditor"])
    assert r.status_code == 200, r.text
    return r.json()["data"]


def test_several_parts_offline(world, tmp_path):
    w = world
    first = get_part(w, 0)
    parts = [first] + [get_part(w, i) for i in range(1, first["parts"])]
    assert len(parts) == 4
    d = tmp_path / "parts"
    d.mkdir()
    # named so that the covering part is read last
    for i, p in enumerate(parts):
        (d / f"{9 - i}.json").write_text(json.dumps({"data": p}))
    (d / "README.txt").write_text("not a part")
    text = "多段状态列表\n".encode() * 4
    sig, _ = signed_text(w, w.esid, text)
    (tmp_path / "sig.dat").write_bytes(sig)
    (tmp_path / "doc.txt").write_bytes(text)
    trust = os.path.join(w.inst.dir, "trust")

    def verify(*lists, code=None):
        args = ["verify-file", "--signature", str(tmp_path / "sig.dat"),
                "--data", str(tmp_path / "doc.txt"), "--trust", trust]
        for x in lists:
            args += ["--status-list", str(x)]
        p = run_seald(*args)
        if code is not None:
            assert p.returncode == code, (p.returncode, p.stderr, p.stdout)
        return json.loads(p.stdout) if p.stdout else None, p

    # the directory: part 0 among the others answers
    j, _ = verify(d, code=0)
    assert outcome(j) == ("TOTAL_PASSED", None), j["checks"]
    assert j["seald_status"]["source"] == "status_list"
    assert j["seald_status"]["state_now"] == "active"
    # repeated, the covering part last
    j, _ = verify(d / "6.json", d / "8.json", d / "9.json", code=0)
    assert outcome(j) == ("TOTAL_PASSED", None), j["checks"]
    # parts that do not cover it: not checked, never active
    j, _ = verify(d / "6.json", d / "8.json", code=2)
    st = j["checks"]["seal_status"]
    assert st["status"] == "not_checked", st
    assert "does not cover" in st["reason"], st
    # one bad part stops the command
    bad = tmp_path / "bad.json"
    tampered = dict(parts[1])
    tampered["list"] = tampered["list"].replace('"revoked"', '"active"', 1)
    bad.write_text(json.dumps({"data": tampered}))
    j, p = verify(d / "9.json", bad)
    assert p.returncode not in (0, 1, 2) and j is None, p
    assert "bad.json" in p.stderr, p.stderr
    # verify-ofd takes a directory too
    sealed, _ = seal_an_ofd(w, w.esid)
    (tmp_path / "s.ofd").write_bytes(sealed)
    p = run_seald("verify-ofd", str(tmp_path / "s.ofd"), "--trust", trust,
                  "--status-list", str(d))
    j = json.loads(p.stdout)
    assert p.returncode == 0, (p.stderr, j)
    assert j["signatures"][0]["ses"]["seald_status"]["source"] == \
        "status_list"
    # and --help says how
    p = run_seald("verify-ofd", "--help")
    assert "directory of parts" in p.stdout, p.stdout


def test_cap_on_parts_made_at_once(world):
    w = world
    add_listed(w.inst, w.esid, "98", 70000)
    rc, _, err = w.inst.stop()
    assert rc == 0, err
    w.inst.start("--set", "status.list_part_entries=60000",
                 "--set", "status.list_max_concurrent=1")

    def fetch(n):
        return w.inst.get(f"/api/v1/seal-status-list?part={n}",
                          w.cred["auditor"], timeout=60)

    t0 = time.time()
    r = fetch(0)
    one = time.time() - t0
    assert r.status_code == 200, r.text
    assert r.json()["data"]["parts"] == 2
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        got = list(ex.map(fetch, [i % 2 for i in range(8)]))
    codes = sorted(g.status_code for g in got)
    assert 200 in codes and 429 in codes, (codes, one)
    assert set(codes) == {200, 429}, codes
    for g in got:
        if g.status_code == 429:
            assert_error(g, 429, "rate_limited")
            assert g.headers["Retry-After"] == "1"
            assert "status.list_max_concurrent" in g.json()["error"]["message"]
    refused = w.inst.sql("SELECT count(*) FROM audit_log WHERE outcome = "
                         "'refused' AND reason LIKE ?",
                         "%status.list_max_concurrent%")[0][0]
    assert refused == codes.count(429)
    # one at a time, every part is made
    for n in (0, 1, 0):
        assert fetch(n).status_code == 200
