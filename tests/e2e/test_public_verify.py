"""Issue 17, items 3 and 4: POST /public/verify, with no credential, for a
signature with its document or its SM3, an OFD file or a seal file, as
JSON (base64 fields) or multipart/form-data, against the real daemon:

- the report is the one the authenticated routes give for the same file
  (they share their input parsing and the verification service), for a
  signature seald made, the interoperability vectors, a sealed OFD and
  seal files;
- every other combination of fields is a 400 bad_request that names the
  accepted ones;
- [public] verify = no: 404 not_found as for a path that does not exist
  (also for other methods: no 405 giving the route away);
- the limits, with their stable codes: 429 rate_limited per address and
  503 server_busy once the CPU budget is spent (both with Retry-After),
  413 payload_too_large on the headers past public.verify_max_body_bytes;
  refusals are audited as every anonymous refusal is (one summary row per
  address, action and reason a window);
- a signature made during a flood of public verifications from many
  addresses succeeds;
- responses match the schemas of docs/openapi.json.

Speed is not asserted here: bench/http_bench --phases public measures
signing with and without such a flood."""
import base64
import concurrent.futures
import http.client
import json
import os
import ssl
import threading

import pytest

from conftest import Instance, assert_error
from ofdgen import ofd
from openapi_check import check_response
from test_seals import Seals
from test_signing import approve, doc, sign, submit

VECTORS = os.environ.get("SEALD_VECTORS", os.path.join(
    os.path.dirname(__file__), "..", "vectors"))
SIGS = os.path.join(VECTORS, "signatures")
SEALS = os.path.join(VECTORS, "seals")
OFDS = os.path.join(VECTORS, "ofd")

# generous limits for the module's own instance: the limits themselves are
# tested on the bare instance below
ROOMY = ("public.verify_rate_limit_rps=100000",
         "public.verify_rate_limit_burst=100000",
         "public.verify_cpu_ms_per_second=100000",
         "public.verify_concurrency=8")


def b64(data):
    return base64.b64encode(data).decode()


def read(*parts):
    with open(os.path.join(*parts), "rb") as f:
        return f.read()


def sets(*kv):
    args = []
    for s in kv:
        args += ["--set", s]
    return args


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    inst = Instance(tmp_path_factory.mktemp("public-verify") / "inst")
    inst.start(*sets(*ROOMY))
    w = Seals(inst)
    w.esid = w.new_active_seal(seal_name="公开验证章")
    yield w
    rc, _, err = inst.stop()
    assert rc == 0, err


def public(inst, status=200, **kw):
    """POST /public/verify with no credential; the response, checked
    against the API reference."""
    r = inst.post("/public/verify", **kw)
    assert r.status_code == status, r.text
    check_response("/public/verify", "post", r)
    return r


def stable(report):
    """A report without what changes from one call to the next."""
    rep = json.loads(json.dumps(report))

    def strip(o):
        if isinstance(o, dict):
            for k in ("time_used_ms", "cache"):
                o.pop(k, None)
            for v in o.values():
                strip(v)
        elif isinstance(o, list):
            for v in o:
                strip(v)
    strip(rep)
    return rep


def authed(w, path, body):
    r = w.inst.post(path, w.cred["verifier"], json=body)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def signed_text(w, text):
    req = submit(w, [doc("letter.txt", text)], esid=w.esid)
    approve(w, req["id"])
    (res,) = sign(w, req["id"])["results"]
    assert res["status"] == "signed", res
    return base64.b64decode(res["signature"]), res


def sealed_ofd(w):
    req = submit(w, [doc("notice.ofd", ofd(1))], esid=w.esid)
    approve(w, req["id"])
    did = req["documents"][0]["id"]
    r = w.inst.post(f"/api/v1/sign-requests/{req['id']}/documents/{did}/"
                    "seal-ofd", w.cred["custodian"],
                    json={"position": {"mode": "page", "page": 0, "x": 20,
                                       "y": 20}})
    assert r.status_code == 200, r.text
    return base64.b64decode(r.json()["data"]["ofd"])


def test_signature_with_document_or_hash_same_report(world):
    w = world
    text = "关于公开验证的函\n".encode() * 20
    sig, res = signed_text(w, text)
    want = authed(w, "/api/v1/verify", {"signature": b64(sig),
                                        "document": b64(text)})
    assert want["indication"] == "TOTAL_PASSED", want["checks"]
    got = public(w.inst, json={"signature": b64(sig),
                               "document": b64(text)}).json()["data"]
    assert stable(got) == stable(want)
    assert got["seald_status"]["state_now"] == "active"
    # the SM3 of the document instead of the document: public "hash", the
    # authenticated route's "document_sm3"
    h = res["document_sm3"] if "document_sm3" in res else None
    if h is None:
        import hashlib
        h = hashlib.new("sm3", text).hexdigest()
    want_h = authed(w, "/api/v1/verify", {"signature": b64(sig),
                                          "document_sm3": h})
    got_h = public(w.inst, json={"signature": b64(sig),
                                 "hash": h}).json()["data"]
    assert stable(got_h) == stable(want_h)
    assert got_h["checks"]["data_hash"]["status"] == "passed"
    # multipart: file parts, the hash as a text part
    got_m = public(w.inst, files={"signature": ("sig.dat", sig),
                                  "document": ("letter.txt", text)}
                   ).json()["data"]
    assert stable(got_m) == stable(want)
    got_mh = public(w.inst, files={"signature": ("sig.dat", sig),
                                   "hash": (None, h)}).json()["data"]
    assert stable(got_mh) == stable(want_h)
    # a tampered document fails, the same way on both
    bad = text + b"x"
    want_bad = authed(w, "/api/v1/verify", {"signature": b64(sig),
                                            "document": b64(bad)})
    got_bad = public(w.inst, json={"signature": b64(sig),
                                   "document": b64(bad)}).json()["data"]
    assert got_bad["indication"] == "TOTAL_FAILED"
    assert stable(got_bad) == stable(want_bad)


@pytest.mark.parametrize("name", ["signedFile", "allprotected"])
def test_vector_signatures_same_report(world, name):
    w = world
    sig = read(SIGS, f"{name}-Sign_0.SignedValue.dat")
    xml = read(SIGS, f"{name}-Sign_0.Signature.xml")
    body = {"signature": b64(sig), "document": b64(xml)}
    got = public(w.inst, json=body).json()["data"]
    assert stable(got) == stable(authed(w, "/api/v1/verify", body))
    assert got["checks"]["data_hash"]["status"] == "passed"


def test_ofd_same_report(world):
    w = world
    pkg = sealed_ofd(w)
    want = authed(w, "/api/v1/verify/ofd", {"ofd": b64(pkg)})
    got = public(w.inst, json={"ofd": b64(pkg)}).json()["data"]
    assert stable(got) == stable(want)
    # with the pictures, and as a form upload
    want_p = authed(w, "/api/v1/verify/ofd", {"ofd": b64(pkg),
                                              "pictures": True})
    got_p = public(w.inst, files={"ofd": ("notice.ofd", pkg),
                                  "pictures": (None, "true")}
                   ).json()["data"]
    assert stable(got_p) == stable(want_p)
    assert got_p != got and "data" in json.dumps(got_p)
    # a vector from another producer
    v = read(OFDS, "v4signed.ofd")
    assert stable(public(w.inst, json={"ofd": b64(v)}).json()["data"]) == \
        stable(authed(w, "/api/v1/verify/ofd", {"ofd": b64(v)}))


def test_seal_same_report(world):
    w = world
    r = w.inst.get(f"/api/v1/seals/{w.esid}/file", w.cred["applicant"])
    assert r.status_code == 200, r.text
    for seal in (r.content, read(SEALS, "ofdrw-UserV4.esl")):
        want = authed(w, "/api/v1/verify/seal", {"seal": b64(seal)})
        got = public(w.inst, json={"seal": b64(seal)}).json()["data"]
        assert stable(got) == stable(want)
        got_m = public(w.inst, files={"seal": ("seal.esl", seal)}
                       ).json()["data"]
        assert stable(got_m) == stable(want)
    assert got["indication"] != "TOTAL_PASSED" or "seald_status" in got


@pytest.mark.parametrize("body", [
    {},
    {"signature": "AAAA"},                                    # no document
    {"document": "AAAA"},
    {"hash": "00" * 32},
    {"signature": "AAAA", "document": "AAAA", "hash": "00" * 32},
    {"seal": "AAAA", "ofd": "AAAA"},
    {"signature": "AAAA", "document": "AAAA", "seal": "AAAA"},
    {"seal": "AAAA", "document": "AAAA"},
    {"seal": "AAAA", "pictures": True},
    {"signature": "AAAA", "document_sm3": "00" * 32},         # not public
    {"ofd": "AAAA", "extra": 1},
])
def test_other_combinations_are_400(world, body):
    r = public(world.inst, status=400, json=body)
    err = assert_error(r, 400, "bad_request")
    assert any(w in err["message"] for w in ("{", "field", "not both")), err


def test_other_forms_are_400(world):
    inst = world.inst
    assert_error(public(inst, status=400, files={"seal": ("s", b"1"),
                                                 "ofd": ("o", b"1")}),
                 400, "bad_request")
    assert_error(public(inst, status=400, files={"other": ("x", b"1")}),
                 400, "bad_request")
    assert_error(public(inst, status=400, files={"signature": ("s", b"1")}),
                 400, "bad_request")
    assert_error(public(inst, status=400), 400, "bad_request")   # no body
    assert_error(public(inst, status=415, data=b"x",
                        headers={"Content-Type": "text/plain"}),
                 415, "unsupported")
    assert_error(public(inst, status=400, json={"seal": "not base64!!"}),
                 400, "malformed_input")
    assert_error(public(inst, status=400, json={"seal": b64(os.urandom(40))}),
                 400, "malformed_input")
    r = public(inst, status=400, json={"signature": "AAAA", "hash": "zz"})
    assert "hash" in r.json()["error"]["message"]


def test_no_credential_needed(world):
    w = world
    seal = read(SEALS, "ofdrw-UserV4.esl")
    # a credential, even a wrong one, changes nothing: the route has none
    r = public(w.inst, json={"seal": b64(seal)},
               headers={"Authorization": "Bearer nonsense"})
    assert r.json()["data"]["kind"] == "seal"
