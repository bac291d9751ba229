"""Issue 7, verification half: POST /api/v1/verify and /api/v1/verify/seal
against the real daemon: the interoperability vectors, a seal made by seald
checked against the local CA anchor, tampered documents, malformed input,
the seal-and-chain cache and the verify rate limit.

Status enrichment: a signature made through the signing flow, before and
after its seal's revocation, here; a signature made after revocation (which
the signing flow refuses to make) in tests/unit/test_verify.c."""
import base64
import hashlib
import json
import os
import time

import pytest

from conftest import Instance, assert_error, run_seald
from test_seals import Seals

VECTORS = os.environ.get("SEALD_VECTORS", os.path.join(
    os.path.dirname(__file__), "..", "vectors"))
SIGS = os.path.join(VECTORS, "signatures")
SEALS = os.path.join(VECTORS, "seals")
PAIRS = ["v4signed", "signedFile", "allprotected"]


def b64(data):
    return base64.b64encode(data).decode()


def read(*parts):
    with open(os.path.join(*parts), "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    inst = Instance(tmp_path_factory.mktemp("verify") / "inst")
    inst.start()
    w = Seals(inst)
    yield w
    rc, _, err = inst.stop()
    assert rc == 0, err


def verify(w, body=None, who="verifier", path="/api/v1/verify", **kw):
    r = w.inst.post(path, w.cred[who], json=body, **kw)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def status(report, check):
    return report["checks"][check]["status"]


@pytest.mark.parametrize("name", ["ofdrw-SignedValueV4.dat",
                                  "ofdrw-SignedValueV5.dat"])
def test_ofdrw_signatures_without_document(world, name):
    # any authenticated caller may verify (here an applicant)
    rep = verify(world, {"signature": b64(read(SIGS, name))}, who="applicant")
    assert rep["kind"] == "signature"
    assert status(rep, "signature") == "passed"
    assert status(rep, "seal_signature") == "passed"
    assert status(rep, "data_hash") == "not_checked"
    # the ofdrw root is not among this instance's anchors
    assert status(rep, "certificate_chain") == "indeterminate"
    assert rep["indication"] == "INDETERMINATE"
    # (the V5 file's certificates had expired at its signing time)
    assert rep["sub_indication"] in ("NO_CERTIFICATE_CHAIN_FOUND",
                                     "OUT_OF_BOUNDS_NO_POE")
    assert rep["validation_time_source"] == "tbs_time_info"
    assert rep["cache"] in ("hit", "miss")
    assert isinstance(rep["time_used_ms"], int)
    assert "seald_status" not in rep          # not a seal issued here
    assert rep["seal"]["maker"]["subject"]
    assert rep["signer"]["subject"]


@pytest.mark.parametrize("name", PAIRS)
def test_ofd_pairs_with_document_json(world, name):
    sig = read(SIGS, f"{name}-Sign_0.SignedValue.dat")
    doc = read(SIGS, f"{name}-Sign_0.Signature.xml")
    rep = verify(world, {"signature": b64(sig), "document": b64(doc)})
    for check in ("data_hash", "signature", "seal_signature"):
        assert status(rep, check) == "passed", (check, rep["checks"])
    assert status(rep, "certificate_chain") == "indeterminate"
    assert rep["indication"] == "INDETERMINATE"


@pytest.mark.parametrize("name", PAIRS)
def test_ofd_pairs_multipart_upload(world, name):
    sig = read(SIGS, f"{name}-Sign_0.SignedValue.dat")
    doc = read(SIGS, f"{name}-Sign_0.Signature.xml")
    rep = verify(world, files={
        "signature": ("SignedValue.dat", sig, "application/octet-stream"),
        "document": ("Signature.xml", doc, "application/xml")})
    assert status(rep, "data_hash") == "passed"
    assert status(rep, "signature") == "passed"
    assert status(rep, "seal_signature") == "passed"


def test_document_hash_hex_json_and_multipart(world):
    sig = read(SIGS, "v4signed-Sign_0.SignedValue.dat")
    doc = read(SIGS, "v4signed-Sign_0.Signature.xml")
    # scripts/test installs everything: a missing SM3 is a failure
    assert "sm3" in hashlib.algorithms_available, "python has no SM3"
    h = hashlib.new("sm3", doc).hexdigest()
    rep = verify(world, {"signature": b64(sig), "document_sm3": h})
    assert status(rep, "data_hash") == "passed"
    rep = verify(world, files={"signature": ("s.dat", sig),
                               "document_sm3": (None, h)})
    assert status(rep, "data_hash") == "passed"
    bad = ("0" if h[0] != "0" else "1") + h[1:]
    rep = verify(world, {"signature": b64(sig), "document_sm3": bad})
    assert status(rep, "data_hash") == "failed"
    assert rep["sub_indication"] == "HASH_FAILURE"


def test_tampered_document_fails_with_hash_failure(world):
    sig = read(SIGS, "signedFile-Sign_0.SignedValue.dat")
    doc = bytearray(read(SIGS, "signedFile-Sign_0.Signature.xml"))
    doc[len(doc) // 2] ^= 0x01
    rep = verify(world, {"signature": b64(sig), "document": b64(bytes(doc))})
    assert rep["indication"] == "TOTAL_FAILED"
    assert rep["sub_indication"] == "HASH_FAILURE"
    assert status(rep, "data_hash") == "failed"
    assert status(rep, "signature") == "passed"


def test_second_verify_of_same_seal_hits_cache(world):
    sig = read(SIGS, "allprotected-Sign_0.SignedValue.dat")
    doc = read(SIGS, "allprotected-Sign_0.Signature.xml")
    first = verify(world, {"signature": b64(sig), "document": b64(doc)})
    second = verify(world, {"signature": b64(sig), "document": b64(doc)})
    assert second["cache"] == "hit"
    # the cached work yields the same report as the first computation
    for k in ("indication", "sub_indication", "checks", "seal", "signer"):
        assert first[k] == second[k], k
    # dataHash is never cached: a wrong document still fails on a hit
    third = verify(world, {"signature": b64(sig), "document": b64(b"x")})
    assert third["cache"] == "hit"
    assert third["sub_indication"] == "HASH_FAILURE"


ALL_SIGS = sorted(f for f in os.listdir(SIGS) if f.endswith(".dat")) \
    if os.path.isdir(SIGS) else []


@pytest.mark.parametrize("name", ALL_SIGS)
def test_api_report_equals_uncached_library_report(world, name):
    """The cached path (ses_verify_signature_pre) reports exactly what
    seald verify-file --instance reports (the same anchors and status
    source; the CLI's service starts empty), on a miss and on a hit."""
    sig = os.path.join(SIGS, name)
    xml = sig.replace(".SignedValue.dat", ".Signature.xml")
    args = ["verify-file", "--signature", sig, "--instance", world.inst.dir]
    body = {"signature": b64(read(sig))}
    if os.path.exists(xml):
        args += ["--data", xml]
        body["document"] = b64(read(xml))
    out = run_seald(*args)
    assert out.returncode in (0, 1, 2), out.stderr
    want = json.loads(out.stdout)
    for _ in range(2):
        got = verify(world, body)
        for k in ("indication", "sub_indication", "checks", "seal", "signer",
                  "validation_time", "validation_time_source"):
            assert got[k] == want[k], (k, got[k], want[k])
    assert got["cache"] == "hit"


def test_vector_seals(world):
    rep = verify(world, {"seal": b64(read(SEALS, "ofdrw-UserV4.esl"))},
                 path="/api/v1/verify/seal")
    assert rep["kind"] == "seal"
    assert status(rep, "seal_signature") == "passed"
    assert status(rep, "certificate_chain") == "indeterminate"
    rep = verify(world, {"seal": b64(read(SEALS, "hebeigede-v4-badsig.der"))},
                 path="/api/v1/verify/seal")
    assert rep["indication"] == "TOTAL_FAILED"
    assert rep["sub_indication"] == "SIG_CRYPTO_FAILURE"
    r = world.inst.post("/api/v1/verify/seal", world.cred["verifier"],
                        files={"seal": ("u.esl",
                                        read(SEALS, "ofdrw-UserV1.esl"))})
    assert r.status_code == 200, r.text
    assert status(r.json()["data"], "seal_signature") == "passed"


def test_pictures_on_request(world):
    """"pictures": true puts the seal's picture in the report's seal (for
    the verification page); without it the report stays small."""
    seal = read(SEALS, "ofdrw-UserV4.esl")
    rep = verify(world, {"seal": b64(seal)}, path="/api/v1/verify/seal")
    assert "picture" not in rep["seal"]
    rep = verify(world, {"seal": b64(seal), "pictures": True},
                 path="/api/v1/verify/seal")
    pic = rep["seal"]["picture"]
    data = base64.b64decode(pic["data_base64"])
    assert pic["type"].lower() == "png" and data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) == pic["size"] and data in seal
    sig = read(SIGS, "v4signed-Sign_0.SignedValue.dat")
    rep = verify(world, {"signature": b64(sig), "pictures": True})
    pic = rep["seal"]["picture"]
    assert base64.b64decode(pic["data_base64"]) in sig
    assert pic["width_mm"] > 0 and pic["height_mm"] > 0


def test_seal_made_by_seald_passes_against_local_ca(world):
    esid = world.new_active_seal()
    r = world.inst.get(f"/api/v1/seals/{esid}/file", world.cred["applicant"])
    assert r.status_code == 200, r.text
    seal = r.content
    rep = verify(world, {"seal": b64(seal)}, who="verifier",
                 path="/api/v1/verify/seal")
    assert rep["indication"] == "TOTAL_PASSED", rep["checks"]
    assert status(rep, "certificate_chain") == "passed"
    assert rep["checks"]["certificate_chain"]["anchors"] >= 1
    st = rep["seald_status"]
    assert st["esid"] == esid and st["matches_record"] is True
    assert st["state_now"] == "active"
    # status is read from the database every time: suspend, verify again
    r = world.inst.post(f"/api/v1/seals/{esid}/suspend",
                        world.cred["secadmin"], json={"reason": "test"})
    assert r.status_code == 200, r.text
    rep = verify(world, {"seal": b64(seal)}, path="/api/v1/verify/seal")
    assert rep["seald_status"]["state_now"] == "suspended"
    # suspended: not usable now, may be reinstated or revoked (issue 17)
    assert (rep["indication"], rep["sub_indication"]) == ("INDETERMINATE",
                                                          "TRY_LATER")
    assert status(rep, "seal_status") == "indeterminate"


def test_signature_by_seald_reports_status_then_and_now(world):
    """A document signed through the signing flow verifies with the seal's
    status: active at signing and now; after the seal is revoked the same
    signature still verifies (made while active) and the report says
    revoked since T.  Signing after revocation is refused by the signing
    flow, so that case is in tests/unit/test_verify.c."""
    from test_signing import approve, doc, sign, submit
    w = world
    esid = w.new_active_seal(seal_name="验证测试章")
    text = "关于验证的函\n".encode() * 20
    req = submit(w, [doc("letter.txt", text)], esid=esid)
    approve(w, req["id"])
    (res,) = sign(w, req["id"])["results"]
    assert res["status"] == "signed", res
    sig = base64.b64decode(res["signature"])

    rep = verify(w, {"signature": b64(sig), "document": b64(text)})
    assert rep["indication"] == "TOTAL_PASSED", rep["checks"]
    assert status(rep, "certificate_chain") == "passed"
    st = rep["seald_status"]
    assert st["esid"] == esid and st["matches_record"] is True
    assert st["state_at_signing"] == "active" and st["state_now"] == "active"
    assert status(rep, "seal_status") == "passed"

    time.sleep(1.1)          # timeInfo has one-second resolution
    r = w.inst.post(f"/api/v1/seals/{esid}/loss", w.cred["custodian"],
                    json={"reason": "token stolen"})
    assert r.status_code == 200, r.text
    r = w.inst.post(f"/api/v1/seals/{esid}/loss/resolve", w.cred["reviewer"],
                    json={"outcome": "revoke", "reason": "not found"})
    assert r.json()["data"]["state"] == "revoked"
    rep2 = verify(w, {"signature": b64(sig), "document": b64(text)})
    assert rep2["cache"] == "hit"             # status is not cached
    assert rep2["indication"] == "TOTAL_PASSED", rep2["checks"]
    st = rep2["seald_status"]
    assert st["state_at_signing"] == "active"
    assert st["state_now"] == "revoked"
    assert st["summary"].startswith("signed while active, revoked since ")
    # a tampered document still fails, with the status reported
    rep3 = verify(w, {"signature": b64(sig), "document": b64(text + b"x")})
    assert rep3["sub_indication"] == "HASH_FAILURE"
    assert rep3["seald_status"]["state_now"] == "revoked"


@pytest.mark.parametrize("body,fragment", [
    ({"signature": "not base64!!"}, "base64"),
    ({"signature": b64(b"\x30\x03\x02\x01\x05")}, "signature"),
    ({"signature": b64(os.urandom(64))}, "signature"),
])
def test_malformed_input_is_a_clear_400_and_changes_nothing(world, body,
                                                            fragment):
    before = world.inst.sql("SELECT count(*) FROM seals")[0][0]
    r = world.inst.post("/api/v1/verify", world.cred["verifier"], json=body)
    err = assert_error(r, 400, "malformed_input")
    assert fragment in err["message"]
    assert world.inst.sql("SELECT count(*) FROM seals")[0][0] == before
    rid = r.headers["X-Request-Id"]
    rows = world.inst.sql("SELECT action, outcome FROM audit_log WHERE "
                          "request_id = ? ORDER BY seq", rid)
    assert rows and rows[0][0] == "verify.signature"


def test_bad_requests(world):
    cred = world.cred["verifier"]
    sig = b64(read(SIGS, "ofdrw-SignedValueV4.dat"))
    assert_error(world.inst.post("/api/v1/verify", cred), 400, "bad_request")
    assert_error(world.inst.post("/api/v1/verify", cred, json={
        "signature": sig, "document": b64(b"a"), "document_sm3": "00" * 32}),
        400, "bad_request")
    assert_error(world.inst.post("/api/v1/verify", cred, json={
        "signature": sig, "document_sm3": "zz"}), 400, "bad_request")
    r = world.inst.post("/api/v1/verify", cred, json={"signature": sig,
                                                       "extra": 1})
    assert 400 <= r.status_code < 500 and "extra" in r.text, r.text
    r = world.inst.post("/api/v1/verify", cred,
                        files={"other": ("x", b"1")})
    assert_error(r, 400, "bad_request")
    r = world.inst.post("/api/v1/verify", cred, data=b"--x\r\n",
                        headers={"Content-Type":
                                 "multipart/form-data; boundary=x"})
    assert_error(r, 400, "bad_request")
    r = world.inst.post("/api/v1/verify", cred, data=b"x",
                        headers={"Content-Type": "text/plain"})
    assert_error(r, 415, "unsupported")
    r = world.inst.post("/api/v1/verify", None, json={"signature": sig})
    assert_error(r, 401, "unauthenticated")


def test_verify_rate_limit_per_account_with_bulk_role(world):
    seal = {"seal": b64(read(SEALS, "ofdrw-UserV4.esl"))}
    codes = []
    for _ in range(40):
        r = world.inst.post("/api/v1/verify/seal", world.cred["auditor"],
                            json=seal)
        codes.append(r.status_code)
        if r.status_code == 429:
            assert int(r.headers["Retry-After"]) >= 1
            err = assert_error(r, 429, "rate_limited")
            rows = world.inst.sql(
                "SELECT action, outcome FROM audit_log WHERE request_id = ?",
                r.headers["X-Request-Id"])
            assert rows and rows[0][0] == "verify.seal"
            break
    assert 429 in codes, codes
    # the verifier role (verify.bulk) has a much larger bucket
    for _ in range(40):
        r = world.inst.post("/api/v1/verify/seal", world.cred["verifier"],
                            json=seal)
        assert r.status_code == 200, r.text


def test_gbt35275_bare_signed_value(world):
    """Issue 14 item 12: a bare GB/T 35275 SignedValue (detached, with
    signed attributes, written by tests/e2e/gbt35275.py) verifies through
    the API as through the CLI, as JSON and as upload; the Signature.xml it
    was signed over passes the binding, one with a changed page and
    rewritten CheckValues does not."""
    from gbt35275 import edit_page, sign_ofd
    _, xml, sv = sign_ofd()
    rep = verify(world, {"signature": b64(sv), "document": b64(xml)})
    assert rep["kind"] == "signed_data"
    assert status(rep, "signature") == "passed"
    assert status(rep, "data_hash") == "passed"
    assert status(rep, "certificate_chain") == "indeterminate"
    assert rep["indication"] == "INDETERMINATE"
    assert rep["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND"
    assert rep["validation_time_source"] == "signing_time_attribute"
    assert rep["cache"] == "none" and "seald_status" not in rep
    rep = verify(world, files={
        "signature": ("SignedValue.dat", sv, "application/octet-stream"),
        "document": ("Signature.xml", xml, "application/xml")})
    assert status(rep, "data_hash") == "passed"
    rep = verify(world, {"signature": b64(sv),
                         "document_sm3": hashlib.new("sm3", xml).hexdigest()})
    assert status(rep, "data_hash") == "passed"
    _, changed, _ = sign_ofd(edit_page, sv)
    assert changed != xml
    rep = verify(world, {"signature": b64(sv), "document": b64(changed)})
    assert status(rep, "signature") == "passed"
    assert status(rep, "data_hash") == "failed"
    assert rep["indication"] == "TOTAL_FAILED"
    assert rep["sub_indication"] == "HASH_FAILURE"


def test_gbt35275_vector_attached(world):
    """The tongz SignedData of keyword-edited.ofd (attached SM3 content, raw
    r||s) against its Signature.xml, through the API."""
    import zipfile
    with zipfile.ZipFile(os.path.join(VECTORS, "ofd",
                                      "keyword-edited.ofd")) as z:
        sv = z.read("Doc_0/Signs/Sign_3/SignedValue.dat")
        xml = z.read("Doc_0/Signs/Sign_3/Signature.xml")
    rep = verify(world, {"signature": b64(sv), "document": b64(xml)})
    assert status(rep, "signature") == "passed"
    assert status(rep, "data_hash") == "passed"
    rep = verify(world, {"signature": b64(sv), "document": b64(xml + b" ")})
    assert status(rep, "data_hash") == "failed"


def test_gbt35275_ofd_page_changed_after_signing(world):
    """Through /api/v1/verify/ofd: the References all pass in both, only
    the SignedData's binding to Signature.xml tells them apart."""
    from gbt35275 import edit_page, sign_ofd
    good, _, sv = sign_ofd()
    bad, _, _ = sign_ofd(edit_page, sv)
    for pkg, ind, binding in ((good, "INDETERMINATE", "passed"),
                              (bad, "TOTAL_FAILED", "failed")):
        rep = verify(world, {"ofd": b64(pkg)}, path="/api/v1/verify/ofd")
        (sig,) = rep["signatures"]
        assert sig["checks"]["references"]["status"] == "passed", sig
        assert sig["indication"] == ind and rep["indication"] == ind, sig
        assert sig["signed_data"]["checks"]["data_hash"]["status"] == binding
        assert sig["signed_data"]["checks"]["signature"]["status"] == "passed"
