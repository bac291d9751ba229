"""Issue 17, item 2: the signed seal status list in parts, against the real
daemon, on both dialects.  The instance runs with status.list_part_entries
= 10 and seal rows of every kind are written into its database beside two
real seals (as a large instance's would be): suspended, lost, revoked,
expired 30 days ago (within the 365-day grace), expired or revoked with a
validity that ended 400 days ago (past it), active and made.  Checked:

- the parts of GET /api/v1/seal-status-list?part=N cover exactly the set
  that must be listed (non-active, not made, not past the grace), in esID
  byte order, ten a part, each entry inside its part's range, the ranges
  joining from the first esID to the last; the answer matches the OpenAPI
  schema of the route;
- openssl verifies every part's signature over its exact bytes with the
  key of its signer_cert, and that certificate's chain to the local CA;
- a part past the end is 404, a bad part number 422;
- a change (a seal suspended) is in the next list;
- with status.list_expired_grace_days raised past 400 days the old
  expired seals are listed again (the key is the cut-off);
- the offline verifier (seald verify-file --status-list) uses a part only
  for the seals it covers, and says "not checked" for the others.

The scale (one million entries) is tests/unit/test_seal_list.c; the time,
bench/bench_statuslist."""
import base64
import calendar
import json
import os
import subprocess
import time

import pytest

from conftest import Instance, assert_error, run_seald
from test_seals import Seals, openssl
from test_verify_status import signed_text

SM2_ID = "1234567812345678"
PER = 10
DAY_MS = 86400 * 1000
PREFIX = "990000000"

# (suffix range, state, reason_code, validity end in days from now)
ROWS = [
    (range(0, 9), "suspended", "hold", 300),
    (range(9, 14), "lost", "key_compromise", 300),
    (range(14, 19), "revoked", "cessation", 300),
    (range(19, 24), "expired", None, -30),     # within the grace: listed
    (range(24, 27), "expired", None, -400),    # past it: not listed
    (range(27, 29), "revoked", "superseded", -400),
    (range(29, 34), "active", None, 300),
    (range(34, 36), "made", None, 300),
]


def esid_of(i):
    return "%s%03d" % (PREFIX, i)


def spec():
    with open(os.path.join(os.environ.get("SEALD_SOURCE_DIR", "."), "docs",
                           "openapi.json")) as f:
        return json.load(f)


def check_schema(doc, schema, root, where="$"):
    """The subset of JSON Schema docs/openapi.json uses: $ref, allOf,
    type, required, properties, additionalProperties false, minimum."""
    if "$ref" in schema:
        node = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        return check_schema(doc, node, root, where)
    for sub in schema.get("allOf", []):
        check_schema(doc, sub, root, where)
    kinds = {"object": dict, "string": str, "array": list,
             "integer": int, "boolean": bool}
    t = schema.get("type")
    if t is not None:
        assert isinstance(doc, kinds[t]) and not (
            t == "integer" and isinstance(doc, bool)), (where, t, doc)
    if "minimum" in schema:
        assert doc >= schema["minimum"], (where, doc)
    if isinstance(doc, dict):
        for k in schema.get("required", []):
            assert k in doc, (where, k)
        props = schema.get("properties", {})
        if schema.get("additionalProperties") is False:
            assert set(doc) <= set(props), (where, set(doc) - set(props))
        for k, sub in props.items():
            if k in doc:
                check_schema(doc[k], sub, root, f"{where}.{k}")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    inst = Instance(tmp_path_factory.mktemp("statuslist") / "inst")
    inst.start("--set", f"status.list_part_entries={PER}")
    w = Seals(inst)
    w.active = w.new_active_seal(seal_name="列表章")
    w.held = w.new_active_seal(seal_name="暂停章")
    r = w.inst.post(f"/api/v1/seals/{w.held}/suspend", w.cred["secadmin"],
                    json={"reason": "list test"})
    assert r.status_code == 200, r.text
    now = int(time.time() * 1000)
    for rng, state, reason, end_days in ROWS:
        for i in rng:
            end = now + end_days * DAY_MS
            inst.sql("INSERT INTO seals (esid, lineage_esid, application_id, "
                     "org_id, kind, name, custodian_id, state, "
                     "state_since_ms, reason_code, version, valid_start_ms, "
                     "valid_end_ms, made_by, made_ms, confirmed_ms, "
                     "last_used_ms) SELECT ?, ?, application_id, org_id, "
                     "kind, name, custodian_id, ?, ?, ?, version, ?, ?, "
                     "made_by, made_ms, confirmed_ms, last_used_ms "
                     "FROM seals WHERE esid = ?",
                     esid_of(i), esid_of(i), state,
                     min(now, end) - DAY_MS, reason, end - 730 * DAY_MS,
                     end, w.active)
    w.expected = sorted(
        [esid_of(i) for rng, state, _, end in ROWS for i in rng
         if state not in ("active", "made") and end > -365]
        + [w.held])
    yield w
    rc, _, err = inst.stop()
    assert rc == 0, err


def get_part(w, n=None, status=200):
    path = "/api/v1/seal-status-list" + ("" if n is None else f"?part={n}")
    r = w.inst.get(path, w.cred["verifier"])
    assert r.status_code == status, r.text
    return r


def all_parts(w):
    first = get_part(w).json()["data"]
    parts = [first] + [get_part(w, i).json()["data"]
                       for i in range(1, first["parts"])]
    return parts


def openssl_verify_part(w, d, tmp):
    """openssl alone: the signature over the exact bytes with the key of
    signer_cert, and signer_cert's chain to the instance's local CA."""
    os.makedirs(tmp, exist_ok=True)
    lst = json.loads(d["list"])
    paths = {k: os.path.join(tmp, k) for k in
             ("list.json", "list.sig", "signer.der", "signer.pem", "pub.pem")}
    with open(paths["list.json"], "wb") as f:
        f.write(d["list"].encode())
    with open(paths["list.sig"], "wb") as f:
        f.write(base64.b64decode(d["signature"]))
    with open(paths["signer.der"], "wb") as f:
        f.write(base64.b64decode(lst["signer_cert"]))
    openssl("x509", "-inform", "DER", "-in", paths["signer.der"], "-out",
            paths["signer.pem"])
    with open(paths["pub.pem"], "wb") as f:
        f.write(openssl("x509", "-in", paths["signer.pem"], "-pubkey",
                        "-noout"))
    ca = os.path.join(w.inst.dir, "trust", "local-ca.pem")
    out = openssl("verify", "-vfyopt", f"distid:{SM2_ID}", "-CAfile", ca,
                  paths["signer.pem"])
    assert out.decode().strip().endswith("OK"), out

    def verify(path):
        v = subprocess.run(
            ["openssl", "pkeyutl", "-verify", "-rawin", "-digest", "sm3",
             "-pubin", "-inkey", paths["pub.pem"], "-pkeyopt",
             f"distid:{SM2_ID}", "-in", path, "-sigfile", paths["list.sig"]],
            capture_output=True)
        return v.returncode == 0 and b"Verified Successfully" in v.stdout
    assert verify(paths["list.json"])
    # one byte changed (a revoked seal made to look suspended): refused
    bad = os.path.join(tmp, "bad.json")
    with open(bad, "wb") as f:
        f.write(d["list"].replace('"state":"', '"state":"X', 1).encode())
    assert not verify(bad)


def rfc3339(t):
    return calendar.timegm(time.strptime(t, "%Y-%m-%dT%H:%M:%SZ"))


def test_parts_cover_exactly_the_listed_seals(world, tmp_path):
    w = world
    root = spec()
    op = root["paths"]["/api/v1/seal-status-list"]["get"]
    schema = op["responses"]["200"]["content"]["application/json"]["schema"]
    parts = all_parts(w)
    want_parts = -(-len(w.expected) // PER)
    assert len(parts) == want_parts == 3
    seen, prev_until = [], None
    for i, d in enumerate(parts):
        check_schema({"data": d, "request_id": "x"}, schema, root)
        lst = json.loads(d["list"])
        assert lst["type"] == "seald-seal-status-list"
        assert lst["version"] == 2
        assert (d["part"], d["parts"], d["total"]) == (
            i, want_parts, len(w.expected))
        assert (lst["part"], lst["parts"], lst["total"]) == (
            i, want_parts, len(w.expected))
        assert lst["range_after"] == prev_until      # the ranges join
        assert (lst["range_until"] is None) == (i == want_parts - 1)
        ids = [e["es_id"] for e in lst["entries"]]
        assert len(ids) == (PER if i < want_parts - 1 else
                            len(w.expected) - PER * i)
        assert all((lst["range_after"] is None or x > lst["range_after"]) and
                   (lst["range_until"] is None or x <= lst["range_until"])
                   for x in ids)
        if lst["range_until"] is not None:
            assert ids[-1] == lst["range_until"]
        tu = rfc3339(lst["this_update"])
        assert abs(tu - 365 * 86400 - rfc3339(lst["expired_before"])) <= 1
        assert rfc3339(lst["next_update"]) - tu == 24 * 3600
        seen += lst["entries"]
        prev_until = lst["range_until"]
        openssl_verify_part(w, d, str(tmp_path / f"part{i}"))
    # exactly the listed set, in byte order, with its states
    assert [e["es_id"] for e in seen] == w.expected
    state = {e["es_id"]: e for e in seen}
    assert state[w.held]["state"] == "suspended"
    assert state[w.held]["reason"] == 6
    for rng, st, _, end in ROWS:
        for i in rng:
            if st in ("active", "made") or end < -365:
                assert esid_of(i) not in state
            else:
                assert state[esid_of(i)]["state"] == st
    assert state[esid_of(19)]["state"] == "expired"   # within the grace
    assert w.active not in state


def test_part_numbers(world):
    w = world
    assert_error(get_part(w, 3, 404), 404, "not_found")
    for bad in (-1, "x", 100000):
        assert_error(get_part(w, bad, 422), 422, "invalid_argument")


def test_a_change_is_in_the_next_list(world):
    w = world
    r = w.inst.post(f"/api/v1/seals/{w.active}/suspend", w.cred["secadmin"],
                    json={"reason": "list change"})
    assert r.status_code == 200, r.text
    try:
        seen = [e for d in all_parts(w)
                for e in json.loads(d["list"])["entries"]]
        assert [e["es_id"] for e in seen] == sorted(w.expected + [w.active])
        assert {e["es_id"]: e["state"] for e in seen}[w.active] == \
            "suspended"
    finally:
        r = w.inst.post(f"/api/v1/seals/{w.active}/resume",
                        w.cred["secadmin"], json={"reason": "back"})
        assert r.status_code == 200, r.text


def test_offline_verifier_uses_a_part_for_its_range(world, tmp_path):
    """seald verify-file --status-list PART: the part that covers the seal
    answers for it; a part whose range does not hold it says 'not
    checked', never 'active'."""
    w = world
    text = b"status list part\n"
    sig, _ = signed_text(w, w.active, text)
    (tmp_path / "sig.dat").write_bytes(sig)
    (tmp_path / "doc.txt").write_bytes(text)
    parts = all_parts(w)
    for i, d in enumerate(parts):
        (tmp_path / f"p{i}.json").write_text(json.dumps({"data": d}))
    # the real seals' esIDs sort before the synthetic ones: part 0 has them
    assert w.active < json.loads(parts[-1]["list"])["range_after"]

    def run(i):
        p = run_seald("verify-file", "--signature", str(tmp_path / "sig.dat"),
                      "--data", str(tmp_path / "doc.txt"), "--trust",
                      os.path.join(w.inst.dir, "trust"), "--status-list",
                      str(tmp_path / f"p{i}.json"))
        assert p.stdout, p.stderr
        return json.loads(p.stdout)
    j = run(0)
    assert j["indication"] == "TOTAL_PASSED", j["checks"]
    assert j["seald_status"]["source"] == "status_list"
    assert j["seald_status"]["state_now"] == "active"
    j = run(len(parts) - 1)
    st = j["checks"]["seal_status"]
    assert st["status"] == "not_checked", st
    assert "does not cover" in st["reason"]
    assert j["indication"] == "INDETERMINATE"


def test_grace_is_the_cut_off(world):
    """status.list_expired_grace_days raised past 400 days: the seals whose
    validity ended 400 days ago are listed again."""
    w = world
    rc, _, err = w.inst.stop()
    assert rc == 0, err
    w.inst.start("--set", f"status.list_part_entries={PER}",
                 "--set", "status.list_expired_grace_days=500")
    seen = {e["es_id"]: e for d in all_parts(w)
            for e in json.loads(d["list"])["entries"]}
    for i in range(24, 29):
        assert esid_of(i) in seen
    assert seen[esid_of(27)]["state"] == "revoked"
    lst = json.loads(get_part(w).json()["data"]["list"])
    assert abs(rfc3339(lst["this_update"]) - 500 * 86400 -
               rfc3339(lst["expired_before"])) <= 1
