"""Issue 7: signing requests, approval, signing single documents and
batches, the bounded grant, rejection and resubmission, cancellation,
expiry, refusals for unusable seals, deputies, and the usage record."""
import base64
import csv
import hashlib
import io
import json
import os
import re
import subprocess
import time

import pytest

from conftest import Instance, SEALD, assert_error
from test_seals import SM2_ID, Seals, asn1_children, openssl


def b64(data):
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    inst = Instance(tmp_path_factory.mktemp("signing") / "inst")
    # the load test below signs as fast as it can: not a rate-limit test
    inst.start("--set", "security.rate_limit_rps=100000",
               "--set", "security.rate_limit_burst=100000")
    w = Seals(inst)
    w.esid = w.new_active_seal(seal_name="用印测试章")
    yield w
    rc, _, err = inst.stop()
    assert rc == 0, err


def submit(w, docs, copies=1, who="requester", esid=None, status=201,
           **extra):
    body = {"esid": esid or w.esid, "title": "关于年度报告的函",
            "purpose": "send to the provincial office", "copies": copies,
            "documents": docs}
    body.update(extra)
    r = w.inst.post("/api/v1/sign-requests", w.cred[who], json=body)
    assert r.status_code == status, r.text
    return r.json().get("data", r.json())


def approve(w, rid, who="approver", status=200):
    r = w.inst.post(f"/api/v1/sign-requests/{rid}/approve", w.cred[who])
    assert r.status_code == status, r.text
    return r.json()


def sign(w, rid, who="custodian", status=200, **body):
    r = w.inst.post(f"/api/v1/sign-requests/{rid}/sign", w.cred[who],
                    json=body or None)
    assert r.status_code == status, r.text
    return r.json().get("data", r.json())


def doc(name, data):
    return {"name": name, "data": b64(data)}


def verify_cli(w, sig, data, tmp):
    (tmp / "sig.dat").write_bytes(sig)
    (tmp / "doc.bin").write_bytes(data)
    out = subprocess.run([SEALD, "verify-file", "--signature",
                          str(tmp / "sig.dat"), "--data", str(tmp / "doc.bin"),
                          "--instance", w.inst.dir],
                         capture_output=True, text=True)
    return out.returncode, json.loads(out.stdout)


def openssl_verifies_tbs(sig_path, tmp):
    """SES_Signature ::= SEQUENCE { toSign TBS_Sign, cert OCTET STRING,
    signatureAlgID, signature BIT STRING }: the SM2 value over DER(toSign)
    with the signer certificate's key, checked by openssl."""
    der = sig_path.read_bytes()
    (tbs, cert, _alg, sig) = asn1_children(sig_path)[:4]
    (tmp / "tbs.der").write_bytes(der[tbs[0]:tbs[0] + tbs[1] + tbs[2]])
    (tmp / "signer.der").write_bytes(
        der[cert[0] + cert[1]:cert[0] + cert[1] + cert[2]])
    openssl("x509", "-inform", "DER", "-in", str(tmp / "signer.der"),
            "-pubkey", "-noout", "-out", str(tmp / "signer.pub"))
    (tmp / "value.der").write_bytes(
        der[sig[0] + sig[1] + 1:sig[0] + sig[1] + sig[2]])
    openssl("pkeyutl", "-verify", "-pubin", "-inkey", str(tmp / "signer.pub"),
            "-rawin", "-digest", "sm3", "-pkeyopt", "distid:" + SM2_ID,
            "-in", str(tmp / "tbs.der"), "-sigfile", str(tmp / "value.der"))


def test_single_document_end_to_end(world, tmp_path):
    w = world
    text = "关于2026年度报告的函\n".encode() * 50
    req = submit(w, [doc("report.txt", text)])
    assert req["state"] == "submitted"
    (d,) = req["documents"]
    assert d["sm3"] == hashlib.new("sm3", text).hexdigest()
    # nothing can be signed before approval
    sign(w, req["id"], status=409)
    a = approve(w, req["id"])["data"]
    assert a["state"] == "approved" and a["expires_ms"] > time.time() * 1000
    res = sign(w, req["id"])["results"]
    assert [r["status"] for r in res] == ["signed"]
    sig = base64.b64decode(res[0]["signature"])
    # the download is the same signature
    dl = w.inst.get(f"/api/v1/signatures/{res[0]['signature_id']}",
                    w.cred["custodian"])
    assert dl.content == sig
    rc, report = verify_cli(w, sig, text, tmp_path)
    assert rc == 0 and report["indication"] == "TOTAL_PASSED", report
    openssl_verifies_tbs(tmp_path / "sig.dat", tmp_path)
    # a tampered document fails with HASH_FAILURE
    rc, report = verify_cli(w, sig, text + b" ", tmp_path)
    assert rc == 1 and report["sub_indication"] == "HASH_FAILURE"
    # the grant was one copy: a second signature is refused, and audited
    again = sign(w, req["id"])["results"]
    assert again[0]["status"] == "error"
    assert again[0]["error"]["code"] == "conflict"
    assert w.inst.sql("SELECT count(*) FROM signatures WHERE request_id = ?",
                      req["id"])[0][0] == 1
    refused = [r for r in w.inst.audit()
               if r[4] == "seal.sign" and r[6] == "refused"]
    assert refused and "used up" in refused[-1][7]
    # the usage record: who, when, from where, which seal, hash, approval
    row = w.inst.sql("SELECT signer_id, approver_id, client_addr, data_sm3, "
                     "seal_id, request_rid FROM signatures WHERE "
                     "request_id = ?", req["id"])[0]
    assert row[0] == w.ids["custodian"] and row[1] == w.ids["approver"]
    assert row[2] == "127.0.0.1" and row[3].hex() == d["sm3"]
    assert row[5]
    assert w.inst.sql("SELECT last_used_ms FROM seals WHERE esid = ?",
                      w.esid)[0][0] > 0


def test_batch_with_hashes_and_copies(world, tmp_path):
    w = world
    blobs = [f"document {i}".encode() for i in range(3)]
    docs = [doc("a.pdf", blobs[0]),
            {"name": "b.ofd", "sm3": hashlib.new("sm3", blobs[1]).hexdigest(),
             "size": len(blobs[1])},
            doc("c.pdf", blobs[2])]
    req = submit(w, docs, copies=2)
    approve(w, req["id"])
    first = sign(w, req["id"])["results"]
    assert [r["status"] for r in first] == ["signed"] * 3
    # the second copy of just one document
    one = req["documents"][1]["id"]
    second = sign(w, req["id"], document_ids=[one])["results"]
    assert [r["document_id"] for r in second] == [one]
    assert second[0]["status"] == "signed"
    # the third of that one is beyond the grant; the others still have one
    third = sign(w, req["id"])["results"]
    status = {r["document_id"]: r["status"] for r in third}
    assert status[one] == "error"
    assert sorted(status.values()) == ["error", "signed", "signed"]
    for r, data in zip(first, blobs):
        rc, report = verify_cli(w, base64.b64decode(r["signature"]), data,
                                tmp_path)
        assert rc == 0, report
    assert_error(w.inst.post(f"/api/v1/sign-requests/{req['id']}/sign",
                             w.cred["custodian"],
                             json={"document_ids": [999999]}),
                 422, "invalid_argument")


def test_rejection_resubmission_cancellation(world):
    w = world
    req = submit(w, [doc("draft.pdf", b"draft v1")])
    r = w.inst.post(f"/api/v1/sign-requests/{req['id']}/reject",
                    w.cred["approver"])
    assert_error(r, 400, "bad_request")           # 退签 needs a reason
    r = w.inst.post(f"/api/v1/sign-requests/{req['id']}/reject",
                    w.cred["approver"], json={"reason": "wrong date"})
    assert r.json()["data"]["state"] == "rejected"
    approve(w, req["id"], status=409)
    fixed = submit(w, [doc("draft.pdf", b"draft v2")],
                   resubmits_id=req["id"])
    assert fixed["resubmits_id"] == req["id"]
    approve(w, fixed["id"])
    assert sign(w, fixed["id"])["results"][0]["status"] == "signed"
    # cancellation: before signing yes, after signing no
    c = submit(w, [doc("x.pdf", b"x")])
    r = w.inst.post(f"/api/v1/sign-requests/{c['id']}/cancel",
                    w.cred["requester"])
    assert r.json()["data"]["state"] == "cancelled"
    approve(w, c["id"], status=409)
    assert_error(w.inst.post(f"/api/v1/sign-requests/{fixed['id']}/cancel",
                             w.cred["requester"]), 409, "conflict")
    # extra copies (加印) need their own approval
    extra = submit(w, [doc("draft.pdf", b"draft v2")],
                   extra_for_id=fixed["id"])
    sign(w, extra["id"], status=409)
    approve(w, extra["id"])
    assert sign(w, extra["id"])["results"][0]["status"] == "signed"


def test_roles_and_self_approval(world):
    w = world
    req = submit(w, [doc("y.pdf", b"y")])
    # the custodian, even holding the approver role, never approves their
    # own request; other roles may not approve at all
    w.grant(w.cred["secadmin"], w.ids["custodian"], "approver", w.agency)
    r = w.inst.post(f"/api/v1/sign-requests/{req['id']}/approve",
                    w.cred["custodian"])
    err = assert_error(r, 403, "forbidden")
    assert "own signing request" in err["message"]
    assert_error(w.inst.post(f"/api/v1/sign-requests/{req['id']}/approve",
                             w.cred["reviewer"]), 403, "forbidden")
    # only the custodian submits for the seal
    assert_error(w.inst.post("/api/v1/sign-requests", w.cred["approver"],
                             json={"esid": w.esid, "title": "t",
                                   "purpose": "p",
                                   "documents": [doc("z", b"z")]}),
                 403, "forbidden")
    other_id, other = w.person("custodian2", w.agency)
    w.grant(w.cred["secadmin"], other_id, "custodian", w.agency)
    w.cred["custodian2"] = other
    submit(w, [doc("z", b"z")], who="custodian2", status=403)


def test_unusable_seals_refused(world):
    w = world
    for action in ("suspend", "loss", "revoke", "expire"):
        esid = w.new_active_seal(seal_name=f"不可用章{action}")
        req = submit(w, [doc("n.pdf", action.encode())], esid=esid)
        approve(w, req["id"])
        if action == "suspend":
            w.inst.post(f"/api/v1/seals/{esid}/suspend", w.cred["secadmin"],
                        json={"reason": "test"})
        elif action == "loss":
            w.inst.post(f"/api/v1/seals/{esid}/loss", w.cred["custodian"],
                        json={"reason": "test"})
        elif action == "revoke":
            w.inst.post(f"/api/v1/seals/{esid}/loss", w.cred["custodian"],
                        json={"reason": "test"})
            w.inst.post(f"/api/v1/seals/{esid}/loss/resolve",
                        w.cred["reviewer"],
                        json={"outcome": "revoke", "reason": "test"})
        else:
            w.inst.sql("UPDATE seals SET valid_end_ms = ? WHERE esid = ?",
                       int(time.time() * 1000) - 1000, esid)
        res = sign(w, req["id"])["results"]
        assert res[0]["status"] == "error", (action, res)
        assert res[0]["error"]["code"] == "conflict"
        assert w.inst.sql("SELECT count(*) FROM signatures WHERE "
                          "request_id = ?", req["id"])[0][0] == 0
        # and no new request is accepted for it
        submit(w, [doc("m", b"m")], esid=esid, status=409)


def test_deputy_signs_only_in_period(world):
    w = world
    dep_id, dep = w.person("signdeputy", w.agency)
    w.cred["signdeputy"] = dep
    now = int(time.time() * 1000)
    r = w.inst.post("/api/v1/deputies", w.cred["custodian"], json={
        "deputy_id": dep_id, "scope_org_id": w.agency, "start_ms": now,
        "end_ms": now + 4000, "reason": "business trip"})
    did = r.json()["data"]["id"]
    w.inst.post(f"/api/v1/deputies/{did}/approve", w.cred["approver"])
    # a deputy signs for the custodian, but does not ask for the use (SOD-6)
    submit(w, [doc("d0.pdf", b"mine")], who="signdeputy", status=403)
    req = submit(w, [doc("d.pdf", b"deputy doc")])
    approve(w, req["id"])
    late = submit(w, [doc("d2.pdf", b"too late")])
    approve(w, late["id"])
    assert sign(w, req["id"], who="signdeputy")["results"][0]["status"] == \
        "signed"
    assert w.inst.sql("SELECT signer_id FROM signatures WHERE request_id = ?",
                      req["id"]) == [(dep_id,)]
    while time.time() * 1000 < now + 4200:
        time.sleep(0.1)
    sign(w, late["id"], who="signdeputy", status=403)


def test_usage_report_json_and_csv(world):
    w = world
    r = w.inst.get("/api/v1/usage", w.cred["auditor"],
                   params={"esid": w.esid})
    assert r.status_code == 200, r.text
    (row,) = r.json()["data"]["seals"]
    count = w.inst.sql("SELECT count(*) FROM signatures s JOIN seals x ON "
                       "x.id = s.seal_id WHERE x.esid = ?", w.esid)[0][0]
    assert row["esid"] == w.esid and row["signatures"] == count > 0
    r = w.inst.get("/api/v1/usage", w.cred["applicant"],
                   params={"org_id": w.agency, "format": "csv"})
    assert r.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert w.esid in [x["esid"] for x in rows]
    # an empty period, and someone without business with usage
    r = w.inst.get("/api/v1/usage", w.cred["auditor"],
                   params={"esid": w.esid, "from_ms": 0, "to_ms": 1})
    assert r.json()["data"]["seals"] == []
    assert_error(w.inst.get("/api/v1/usage", w.cred["maker"],
                            params={"esid": w.esid}), 403, "forbidden")


def test_usage_csv_neutralises_formulas(world):
    """A seal whose name is a spreadsheet formula is listed in the usage
    CSV as text: the one CSV writer puts an apostrophe before a leading
    = + - @ (as in the audit export), inside RFC 4180 quotes."""
    w = world
    name = '=HYPERLINK("http://x","y")'
    esid = w.new_active_seal(kind="personal", subkind=None, seal_name=name)
    req = submit(w, [doc("f.txt", b"formula")], esid=esid)
    approve(w, req["id"])
    assert sign(w, req["id"])["results"][0]["status"] == "signed"
    r = w.inst.get("/api/v1/usage", w.cred["auditor"],
                   params={"esid": esid, "format": "csv"})
    assert r.status_code == 200, r.text
    (row,) = list(csv.DictReader(io.StringIO(r.text, newline="")))
    assert row["seal_name"] == "'" + name
    assert row["esid"] == esid and row["signatures"] == "1"
    assert '"\'=HYPERLINK(""http://x"",""y"")"' in r.text
    assert r.text.startswith('"esid","seal_name","org_id","signatures",'
                             '"first","last"\r\n')
    # the JSON report is data, not a spreadsheet: the name as it is
    r = w.inst.get("/api/v1/usage", w.cred["auditor"], params={"esid": esid})
    assert r.json()["data"]["seals"][0]["seal_name"] == name


def test_bad_requests_change_nothing(world):
    w = world
    before = w.inst.sql("SELECT count(*) FROM sign_requests")[0][0]
    for body in [{"esid": w.esid, "title": "t", "purpose": "p",
                  "documents": []},
                 {"esid": w.esid, "title": "t", "purpose": "p",
                  "documents": [{"name": "x", "sm3": "zz", "size": 1}]},
                 {"esid": w.esid, "title": "t", "purpose": "p",
                  "documents": [{"name": "x", "data": "!!"}]},
                 {"esid": w.esid, "title": "t", "purpose": "p", "copies": 0,
                  "documents": [doc("x", b"x")]},
                 {"esid": "nope", "title": "t", "purpose": "p",
                  "documents": [doc("x", b"x")]},
                 {"esid": w.esid, "title": "t", "purpose": "p",
                  "documents": [doc("x", b"x")] * 51}]:
        r = w.inst.post("/api/v1/sign-requests", w.cred["requester"],
                        json=body)
        assert r.status_code in (400, 422), r.text
    assert w.inst.sql("SELECT count(*) FROM sign_requests")[0][0] == before


def test_expired_approval(tmp_path):
    inst = Instance(tmp_path / "exp")
    inst.start("--set", "signing.approval_seconds=1")
    try:
        w = Seals(inst)
        w.esid = w.new_active_seal()
        req = submit(w, [doc("late.pdf", b"late")])
        approve(w, req["id"])
        time.sleep(1.3)
        err = sign(w, req["id"], status=409)["error"]
        assert "expired" in err["message"]
        assert inst.sql("SELECT count(*) FROM signatures")[0][0] == 0
    finally:
        rc, _, err = inst.stop()
    assert rc == 0, err


def test_token_vanishes_mid_load(world):
    """Signing under load while the token is pulled: no crash, 503
    hsm_unavailable while it is gone (and nothing recorded for those), and
    signatures again once it is back."""
    import concurrent.futures
    import threading
    w = world
    docs = [{"name": f"load-{i}.pdf", "sm3": hashlib.new(
        "sm3", f"load {i}".encode()).hexdigest(), "size": 10}
        for i in range(40)]
    req = submit(w, docs, copies=100)
    approve(w, req["id"])
    ids = [d["id"] for d in req["documents"]]
    absent = os.path.join(w.inst.dir, "token", "absent")
    seen = {"signed": 0, "hsm_unavailable": 0, "other": []}
    lock = threading.Lock()
    stop = time.time() + 6

    def client(k):
        n = k
        while time.time() < stop:
            r = w.inst.post(f"/api/v1/sign-requests/{req['id']}/sign",
                            w.cred["custodian"],
                            json={"document_ids": [ids[n % len(ids)]]})
            n += 1
            with lock:
                if r.status_code == 200 and \
                        r.json()["data"]["results"][0]["status"] == "signed":
                    seen["signed"] += 1
                elif r.status_code == 503 and \
                        r.json()["error"]["code"] == "hsm_unavailable":
                    seen["hsm_unavailable"] += 1
                else:
                    seen["other"].append((r.status_code, r.text[:200]))

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(client, k) for k in range(4)]
        time.sleep(1.5)
        before = seen["signed"]
        open(absent, "w").close()
        time.sleep(2)
        during = seen["hsm_unavailable"]
        os.unlink(absent)
        for f in futures:
            f.result()
    assert before > 0 and during > 0, seen
    assert seen["signed"] > before, seen          # recovered by itself
    assert seen["other"] == [], seen["other"][:3]
    assert w.inst.get("/readyz").status_code == 200
    # every answered signature, and only those, is recorded
    recorded = w.inst.sql("SELECT count(*) FROM signatures WHERE "
                          "request_id = ?", req["id"])[0][0]
    assert recorded == seen["signed"]


def test_token_fault_check(world):
    """A token whose signature values are wrong (the dev token's "faulty"
    switch flips a bit of s): the fault check on the token's output refuses
    them with a per-item crypto_error and records nothing.  By default
    ([signing] verify_token_every = 1) every signature is checked."""
    w = world
    esid = w.new_active_seal(seal_name="故障检测章")
    text = "故障检测".encode()
    req = submit(w, [doc("fault.txt", text)], copies=5, esid=esid)
    approve(w, req["id"])
    faulty = os.path.join(w.inst.dir, "token", "faulty")
    open(faulty, "w").close()
    try:
        time.sleep(0.05)               # the token re-reads its switches
        for _ in range(3):             # the first, then every one
            item = sign(w, req["id"])["results"][0]
            assert item["status"] == "error", item
            assert item["error"]["code"] == "crypto_error", item
            assert "does not verify" in item["error"]["message"]
        assert w.inst.sql("SELECT count(*) FROM signatures WHERE "
                          "request_id = ?", req["id"])[0][0] == 0
        refused = w.inst.sql("SELECT count(*) FROM audit_log WHERE "
                             "action = 'seal.sign' AND outcome = 'refused' "
                             "AND target_id = ?", esid)[0][0]
        assert refused == 3
    finally:
        os.unlink(faulty)
    time.sleep(0.05)
    item = sign(w, req["id"])["results"][0]
    assert item["status"] == "signed", item
    rep = api_verify(w, base64.b64decode(item["signature"]), text)
    assert rep["indication"] == "TOTAL_PASSED"


def test_default_checks_every_signature(world):
    """With the default config no wrong value is ever given out: the second
    signature after a good first one is checked too (issue 14 item 15: with
    the old sampled default, 62 wrong values went out before a check)."""
    w = world
    esid = w.new_active_seal(seal_name="逐一检测章")
    req = submit(w, [doc("each.txt", b"each")], copies=5, esid=esid)
    approve(w, req["id"])
    assert sign(w, req["id"])["results"][0]["status"] == "signed"
    faulty = os.path.join(w.inst.dir, "token", "faulty")
    open(faulty, "w").close()
    try:
        time.sleep(0.05)
        item = sign(w, req["id"])["results"][0]
        assert item["status"] == "error", item
        assert item["error"]["code"] == "crypto_error", item
    finally:
        os.unlink(faulty)
    assert w.inst.sql("SELECT token_checked, token_suspect FROM signatures "
                      "WHERE request_id = ?", req["id"]) == [(1, 0)]


def test_sampled_check_marks_what_went_out_unchecked(tmp_path):
    """Where sampling is configured (a certified HSM), a failed check marks
    every unchecked signature since the seal's last passed check as suspect,
    the auditor sees a seal.token_fault row, and verification says so."""
    inst = Instance(tmp_path / "inst")
    inst.start("--set", "signing.verify_token_every=4")
    try:
        w = Seals(inst)
        esid = w.new_active_seal(seal_name="抽检章")
        req = submit(w, [doc("s.txt", b"sampled")], copies=9, esid=esid)
        approve(w, req["id"])
        good = sign(w, req["id"])["results"][0]      # use 0: checked
        faulty = os.path.join(inst.dir, "token", "faulty")
        open(faulty, "w").close()
        time.sleep(0.05)
        out = [sign(w, req["id"])["results"][0] for _ in range(4)]
        os.unlink(faulty)
        # uses 1-3 went out unchecked (wrong values); use 4 was checked
        assert [i["status"] for i in out] == ["signed"] * 3 + ["error"], out
        rows = inst.sql("SELECT id, token_checked, token_suspect FROM "
                        "signatures WHERE request_id = ? ORDER BY id",
                        req["id"])
        assert [(c, s) for _, c, s in rows] == [(1, 0)] + [(0, 1)] * 3
        (details,) = inst.sql("SELECT details FROM audit_log WHERE action = "
                              "'seal.token_fault' AND target_id = ?", esid)[0]
        assert json.loads(details)["signatures_marked_suspect"] == 3
        rep = api_verify(w, base64.b64decode(out[0]["signature"]),
                         b"sampled")
        assert rep["seald_status"]["token_check"] == "suspect", rep
        assert rep["indication"] == "TOTAL_FAILED"
        rep = api_verify(w, base64.b64decode(good["signature"]), b"sampled")
        assert rep["seald_status"]["token_check"] == "verified", rep
        assert rep["indication"] == "TOTAL_PASSED"
    finally:
        rc, _, err = inst.stop()
    assert rc == 0, err


def api_verify(w, sig, data):
    r = w.inst.post("/api/v1/verify", w.cred["verifier"], json={
        "signature": base64.b64encode(sig).decode(),
        "document": base64.b64encode(data).decode()})
    assert r.status_code == 200, r.text
    return r.json()["data"]


def test_verify_through_the_api(world):
    """A seald signature verifies through POST /api/v1/verify; a tampered
    document gives HASH_FAILURE; a signature made before the seal was
    revoked still verifies, with the revocation reported."""
    w = world
    esid = w.new_active_seal(seal_name="验章测试章")
    text = "通知：会议改期".encode()
    req = submit(w, [doc("notice.txt", text)], esid=esid)
    approve(w, req["id"])
    sig = base64.b64decode(sign(w, req["id"])["results"][0]["signature"])
    rep = api_verify(w, sig, text)
    assert rep["indication"] == "TOTAL_PASSED", json.dumps(rep)[:2000]
    bad = api_verify(w, sig, text + b"!")
    assert bad["sub_indication"] == "HASH_FAILURE"
    # revoke the seal; the earlier signature stays valid, status reported.
    # TBS_Sign.timeInfo has one-second resolution and a revocation in the
    # same second counts against the signature, so revoke in the next one.
    time.sleep(1.05 - time.time() % 1)
    w.inst.post(f"/api/v1/seals/{esid}/loss", w.cred["custodian"],
                json={"reason": "compromised"})
    w.inst.post(f"/api/v1/seals/{esid}/loss/resolve", w.cred["reviewer"],
                json={"outcome": "revoke", "reason": "compromised"})
    after = api_verify(w, sig, text)
    assert after["indication"] == "TOTAL_PASSED", json.dumps(after)[:2000]
    flat = json.dumps(after)
    assert "revoked" in flat and "active" in flat


def test_sigkill_during_signing_loses_nothing_acknowledged(tmp_path):
    """kill -9 while clients sign: after restart the audit chain verifies
    and every signature a client received has its usage record (with the
    same bytes) and its audit record."""
    import concurrent.futures
    import signal
    import threading
    import requests
    inst = Instance(tmp_path / "kill")
    inst.start("--threads", "4", "--set", "security.rate_limit_rps=100000",
               "--set", "security.rate_limit_burst=100000")
    w = Seals(inst)
    w.esid = w.new_active_seal()
    docs = [{"name": f"k{i}.pdf", "size": 1, "sm3": hashlib.new(
        "sm3", bytes([i])).hexdigest()} for i in range(50)]
    req = submit(w, docs, copies=100)
    approve(w, req["id"])
    ids = [d["id"] for d in req["documents"]]
    got = []
    lock = threading.Lock()

    def client(k):
        s = requests.Session()
        n = k
        while True:
            try:
                r = s.post(inst.url(f"/api/v1/sign-requests/{req['id']}/sign"),
                           verify=inst.verify, timeout=10,
                           headers={"Authorization": "Bearer " +
                                    w.cred["custodian"]},
                           json={"document_ids": [ids[n % len(ids)]]})
            except requests.RequestException:
                return
            n += 4
            if r.status_code == 200:
                try:
                    res = r.json()["data"]["results"][0]
                except ValueError:
                    # killed between the headers and the body (urllib3
                    # does not enforce Content-Length): a cut answer
                    # acknowledged nothing, and the connection is gone
                    return
                if res["status"] == "signed":
                    with lock:
                        got.append((res["signature_id"], res["signature"]))

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futs = [pool.submit(client, k) for k in range(4)]
        time.sleep(2.5)
        inst.proc.send_signal(signal.SIGKILL)
        inst.proc.wait()
        inst.proc = None
        for f in futs:
            f.result()
    assert len(got) > 10
    out = subprocess.run([SEALD, "audit", "verify", *inst.db_args],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    rows = dict(inst.sql("SELECT id, signature FROM signatures"))
    for sig_id, b64sig in got:
        assert rows.get(sig_id) == base64.b64decode(b64sig), sig_id
    audited = inst.sql("SELECT count(*) FROM audit_log WHERE action = "
                       "'seal.sign' AND outcome = 'ok'")[0][0]
    assert audited == len(rows) >= len(got)
    inst.start()                          # comes back on the same file
    assert inst.get("/readyz").status_code == 200
    rc, _, err = inst.stop()
    assert rc == 0, err
