"""Issue 17 items 5 and 6 against the real daemon: a seal's status, at the
signing time and now, in every verification path (POST /api/v1/verify,
/api/v1/verify/ofd, /api/v1/verify/seal, seald verify-file and seald
verify-ofd), through the one function verify_status_apply.

- signed, then revoked, with seald's usage record of the signature (proof
  of existence) -> TOTAL_PASSED, the revocation reported;
- the same signature value without a usage record -> INDETERMINATE /
  REVOKED_NO_POE (its timeInfo is a claim, not a proof).  seald records
  every signature it makes, and the signing flow refuses a revoked seal, so
  "a signature by the seal's key that seald did not record" is made here by
  deleting the record of a real signature: to the verifier that is exactly
  a value made with the key outside seald;
- signed after the revocation -> TOTAL_FAILED / REVOKED on the API and the
  CLI.  The flow refuses to seal with a revoked seal, so the seal's
  revocation is moved, in the database, to before a real signature's time:
  the record then says the seal was revoked when it signed;
- a revoked seal alone -> TOTAL_FAILED / REVOKED;
- the CLI without --instance or --status-list -> "not checked", never
  TOTAL_PASSED; with --status-list (the API's signed list) the list is the
  source, and it proves no time of existence.
"""
import base64
import io
import json
import time
import zipfile

import pytest

from conftest import Instance, run_seald
from ofdgen import ofd
from revoked import move_revocation, revoke, write_sql
from test_seals import Seals
from test_signing import approve, doc, sign, submit


def b64(data):
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    inst = Instance(tmp_path_factory.mktemp("status") / "inst")
    inst.start()
    w = Seals(inst)
    yield w
    rc, _, err = inst.stop()
    assert rc == 0, err


def api(w, path, body, who="verifier"):
    r = w.inst.post(path, w.cred[who], json=body)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def cli(*args, code=None):
    p = run_seald(*[str(a) for a in args])
    assert p.stdout, p.stderr
    j = json.loads(p.stdout)
    if code is not None:
        assert p.returncode == code, (p.returncode, p.stderr, j)
    return j, p.returncode


def outcome(rep):
    return rep["indication"], rep["sub_indication"]


def seal_status(rep):
    return rep["checks"]["seal_status"]["status"]


def signed_text(w, esid, text):
    req = submit(w, [doc("letter.txt", text)], esid=esid)
    approve(w, req["id"])
    (res,) = sign(w, req["id"])["results"]
    assert res["status"] == "signed", res
    return base64.b64decode(res["signature"]), res


def test_revoked_after_signing_usage_record_is_proof(world, tmp_path):
    w = world
    esid = w.new_active_seal(seal_name="状态测试章")
    text = "关于状态的函\n".encode() * 10
    sig, _ = signed_text(w, esid, text)
    (tmp_path / "sig.dat").write_bytes(sig)
    (tmp_path / "doc.txt").write_bytes(text)
    body = {"signature": b64(sig), "document": b64(text)}
    rep = api(w, "/api/v1/verify", body)
    assert outcome(rep) == ("TOTAL_PASSED", None), rep["checks"]

    # timeInfo has one-second resolution, and a revocation within the
    # claimed second counts (conservatively) as before the signature
    time.sleep(1.1)
    revoke(w, esid)
    # with seald's usage record: TOTAL_PASSED, the revocation reported
    rep = api(w, "/api/v1/verify", body)
    assert outcome(rep) == ("TOTAL_PASSED", None), rep["checks"]
    assert seal_status(rep) == "passed"
    why = rep["checks"]["seal_status"]["reason"]
    assert "usage record" in why and "revoked since" in why, why
    st = rep["seald_status"]
    assert st["state_now"] == "revoked" and st["state_at_signing"] == "active"
    assert st["time_basis"] == "usage_record" and st["issued_here"] is True
    assert st["proof_of_existence"]["kind"] == "usage_record"
    assert st["summary"].startswith("signed while active, revoked since ")
    # the CLI with the instance: the same answer, from the same code
    j, _ = cli("verify-file", "--signature", tmp_path / "sig.dat", "--data",
               tmp_path / "doc.txt", "--instance", w.inst.dir, code=0)
    assert outcome(j) == ("TOTAL_PASSED", None)
    assert j["checks"]["seal_status"] == rep["checks"]["seal_status"]
    assert j["seald_status"]["proof_of_existence"] == st["proof_of_existence"]

    # no usage record of this value: its timeInfo is only a claim
    sid = st["proof_of_existence"]["signature_id"]
    assert write_sql(w.inst, "DELETE FROM signatures WHERE id = ?", sid) == 1
    rep = api(w, "/api/v1/verify", body)
    assert outcome(rep) == ("INDETERMINATE", "REVOKED_NO_POE"), rep["checks"]
    assert seal_status(rep) == "indeterminate"
    assert "a claim, not a proof" in rep["checks"]["seal_status"]["reason"]
    assert rep["seald_status"]["time_basis"] == "tbs_time_info"
    assert rep["seald_status"]["proof_of_existence"] is None
    assert rep["seald_status"]["issued_here"] is False
    j, _ = cli("verify-file", "--signature", tmp_path / "sig.dat", "--data",
               tmp_path / "doc.txt", "--instance", w.inst.dir, code=2)
    assert outcome(j) == ("INDETERMINATE", "REVOKED_NO_POE")
    # a tampered document is still a hash failure first
    rep = api(w, "/api/v1/verify", {"signature": b64(sig),
                                    "document": b64(text + b"x")})
    assert outcome(rep) == ("TOTAL_FAILED", "HASH_FAILURE")


def seal_an_ofd(w, esid):
    req = submit(w, [doc("notice.ofd", ofd(1))], esid=esid)
    approve(w, req["id"])
    did = req["documents"][0]["id"]
    r = w.inst.post(f"/api/v1/sign-requests/{req['id']}/documents/{did}/"
                    "seal-ofd", w.cred["custodian"],
                    json={"position": {"mode": "page", "page": 0, "x": 20,
                                       "y": 20}})
    assert r.status_code == 200, r.text
    out = r.json()["data"]
    return base64.b64decode(out["ofd"]), out["signature_id"]


def ofd_api(w, data):
    return api(w, "/api/v1/verify/ofd", {"ofd": b64(data)})


def test_ofd_signed_after_revocation_fails_everywhere(world, tmp_path):
    w = world
    esid = w.new_active_seal(seal_name="公文状态章")
    sealed, sig_id = seal_an_ofd(w, esid)
    path = tmp_path / "sealed.ofd"
    path.write_bytes(sealed)
    rep = ofd_api(w, sealed)
    assert outcome(rep) == ("TOTAL_PASSED", None), rep
    (s,) = rep["signatures"]
    # the usage record of an OFD signature is found by its value (its
    # dataHash is Signature.xml's SM3, not the stored document's)
    poe = s["ses"]["seald_status"]["proof_of_existence"]
    assert poe["signature_id"] == sig_id, s["ses"]["seald_status"]
    j, _ = cli("verify-ofd", path, "--instance", w.inst.dir, code=0)
    assert outcome(j) == ("TOTAL_PASSED", None)

    # revoked afterwards: still valid, with the revocation reported
    revoke(w, esid)
    rep = ofd_api(w, sealed)
    assert outcome(rep) == ("TOTAL_PASSED", None), rep
    assert rep["signatures"][0]["ses"]["seald_status"]["state_now"] == \
        "revoked"

    # the record now says the seal was revoked before it signed
    (ts,) = w.inst.sql("SELECT ts_ms FROM signatures WHERE id = ?",
                       sig_id)[0]
    move_revocation(w, esid, at_ms=ts - 60000)
    rep = ofd_api(w, sealed)
    assert outcome(rep) == ("TOTAL_FAILED", "REVOKED"), rep
    (s,) = rep["signatures"]
    assert (s["indication"], s["sub_indication"]) == ("TOTAL_FAILED",
                                                      "REVOKED")
    assert s["ses"]["checks"]["seal_status"]["status"] == "failed"
    assert "revoked at signing time" in \
        s["ses"]["checks"]["seal_status"]["reason"]
    j, _ = cli("verify-ofd", path, "--instance", w.inst.dir, code=1)
    assert outcome(j) == ("TOTAL_FAILED", "REVOKED")
    assert j["signatures"][0]["ses"]["checks"]["seal_status"] == \
        s["ses"]["checks"]["seal_status"]
    # the same signature sent detached says the same
    with zipfile.ZipFile(io.BytesIO(sealed)) as z:
        sv = z.read("Doc_0/Signs/Sign_0/SignedValue.dat")
        xml = z.read("Doc_0/Signs/Sign_0/Signature.xml")
    rep = api(w, "/api/v1/verify", {"signature": b64(sv),
                                    "document": b64(xml)})
    assert outcome(rep) == ("TOTAL_FAILED", "REVOKED"), rep["checks"]


def test_seal_alone_revoked_is_not_passed(world, tmp_path):
    w = world
    esid = w.new_active_seal(seal_name="单独验证章")
    seal = w.inst.get(f"/api/v1/seals/{esid}/file", w.cred["applicant"])
    assert seal.status_code == 200
    (tmp_path / "seal.esl").write_bytes(seal.content)
    rep = api(w, "/api/v1/verify/seal", {"seal": b64(seal.content)})
    assert outcome(rep) == ("TOTAL_PASSED", None), rep["checks"]
    revoke(w, esid)
    rep = api(w, "/api/v1/verify/seal", {"seal": b64(seal.content)})
    assert outcome(rep) == ("TOTAL_FAILED", "REVOKED"), rep["checks"]
    assert seal_status(rep) == "failed"
    assert rep["checks"]["seal_status"]["reason"].startswith("revoked since")
    j, _ = cli("verify-file", "--seal", tmp_path / "seal.esl", "--instance",
               w.inst.dir, code=1)
    assert outcome(j) == ("TOTAL_FAILED", "REVOKED")


def test_cli_without_status_says_not_checked(world, tmp_path):
    w = world
    esid = w.new_active_seal(seal_name="未查状态章")
    text = b"status not checked\n"
    sig, _ = signed_text(w, esid, text)
    (tmp_path / "sig.dat").write_bytes(sig)
    (tmp_path / "doc.txt").write_bytes(text)
    trust = f"{w.inst.dir}/trust"
    j, _ = cli("verify-file", "--signature", tmp_path / "sig.dat", "--data",
               tmp_path / "doc.txt", "--trust", trust, code=2)
    assert outcome(j) == ("INDETERMINATE", "TRY_LATER")
    assert seal_status(j) == "not_checked"
    assert "--instance" in j["checks"]["seal_status"]["reason"]
    assert "seald_status" not in j
    # every other check passed: only the status is missing (and the
    # certificates' revocation status: no CRL is configured for this CA)
    assert j["checks"]["certificate_status"]["status"] == "not_checked"
    assert all(c["status"] == "passed" for k, c in j["checks"].items()
               if k not in ("seal_status", "timestamp",
                            "certificate_status")), j["checks"]
    sealed, _ = seal_an_ofd(w, esid)
    (tmp_path / "s.ofd").write_bytes(sealed)
    j, _ = cli("verify-ofd", tmp_path / "s.ofd", "--trust", trust, code=2)
    assert outcome(j) == ("INDETERMINATE", "TRY_LATER")
    assert j["signatures"][0]["ses"]["checks"]["seal_status"]["status"] == \
        "not_checked"
    # --instance and --status-list together is a usage error
    p = run_seald("verify-ofd", str(tmp_path / "s.ofd"), "--instance",
                  w.inst.dir, "--status-list", str(tmp_path / "x"))
    assert p.returncode == 64


def test_cli_with_the_status_list(world, tmp_path):
    """The signed status list (GET /api/v1/seal-status-list, saved as
    answered) is a status source for the seals of its signer: it gives the
    state now and since when, and no proof of existence."""
    w = world
    good = w.new_active_seal(seal_name="名单在用章")
    bad = w.new_active_seal(seal_name="名单注销章")
    text = b"status list\n"
    (tmp_path / "doc.txt").write_bytes(text)
    for name, esid in (("good", good), ("bad", bad)):
        sig, _ = signed_text(w, esid, text)
        (tmp_path / f"{name}.dat").write_bytes(sig)
    time.sleep(1.1)                 # the list's times are whole seconds
    revoke(w, bad)
    r = w.inst.get("/api/v1/seal-status-list", w.cred["verifier"])
    assert r.status_code == 200, r.text
    (tmp_path / "list.json").write_bytes(r.content)
    trust = f"{w.inst.dir}/trust"

    def run(name, code):
        return cli("verify-file", "--signature", tmp_path / f"{name}.dat",
                   "--data", tmp_path / "doc.txt", "--trust", trust,
                   "--status-list", tmp_path / "list.json", code=code)[0]
    j = run("good", 0)
    assert outcome(j) == ("TOTAL_PASSED", None)
    assert j["seald_status"]["source"] == "status_list"
    assert j["seald_status"]["state_now"] == "active"
    j = run("bad", 2)
    assert outcome(j) == ("INDETERMINATE", "REVOKED_NO_POE")
    assert j["seald_status"]["state_now"] == "revoked"
    assert j["seald_status"]["proof_of_existence"] is None
    # a list that does not verify is refused, not ignored
    lst = json.loads(r.content)
    lst["data"]["list"] = lst["data"]["list"].replace('"revoked"', '"active"')
    (tmp_path / "bad.json").write_text(json.dumps(lst))
    p = run_seald("verify-file", "--signature", str(tmp_path / "good.dat"),
                  "--status-list", str(tmp_path / "bad.json"))
    assert p.returncode == 3 and "bad.json" in p.stderr, p.stderr
