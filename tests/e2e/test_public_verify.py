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


def test_successes_are_not_audited(world):
    w = world
    before = w.inst.sql("SELECT count(*) FROM audit_log WHERE action = "
                        "'verify.public'")[0][0]
    public(w.inst, json={"seal": b64(read(SEALS, "ofdrw-UserV4.esl"))})
    assert w.inst.sql("SELECT count(*) FROM audit_log WHERE action = "
                      "'verify.public'")[0][0] == before


# ---- the switch and the limits, on an instance restarted for each --------

@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    """An instance with no seals, restarted with each setting to test."""
    inst = Instance(tmp_path_factory.mktemp("public-verify-bare") / "inst")
    yield inst
    if inst.proc is not None:
        rc, _, err = inst.stop()
        assert rc == 0, err


def restart(inst, *kv, delay=True):
    """Restart with the settings kv; refusals answered at once unless
    delay (then server.refusal_delay_ms stays at its default)."""
    if inst.proc is not None:
        rc, _, err = inst.stop()
        assert rc == 0, err
    inst.start(*sets(*(() if delay else ("server.refusal_delay_ms=0",)),
                     *kv))


SEAL_BODY = None


def seal_body():
    global SEAL_BODY
    if SEAL_BODY is None:
        SEAL_BODY = {"seal": b64(read(SEALS, "ofdrw-UserV4.esl"))}
    return SEAL_BODY


def test_switch_off_is_404_for_every_method(bare):
    restart(bare, "public.verify=no", "public.status=no", delay=False)
    # (without a body: a refusal on the headers closes a connection with
    # its body unread, and a client that wrote it first may see a reset,
    # as for any path that does not exist; manual 1.9)
    for method in ("POST", "GET", "PUT", "DELETE"):
        r = bare.request(method, "/public/verify")
        err = assert_error(r, 404, "not_found")
        # the answer of a path that never existed
        assert err["message"] == assert_error(
            bare.request(method, "/public/nothing-here"), 404,
            "not_found")["message"]
        assert "Allow" not in r.headers
    # with a body declared: refused on the headers, before it is sent
    status, _, text = raw_post(bare, "127.0.0.1", seal_body(),
                               send_body=False)
    assert status == 404 and b"not_found" in text, text
    # the status routes' switch works the same way now: no 405 either
    assert_error(bare.post("/status/23010000000001"), 404, "not_found")
    restart(bare, delay=False)
    assert public(bare, json=seal_body()).json()["data"]["kind"] == "seal"
    assert_error(bare.get("/public/verify"), 405, "method_not_allowed")


def test_rate_limit_per_address(bare):
    restart(bare, "public.verify_rate_limit_rps=1",
            "public.verify_rate_limit_burst=3", delay=False)
    for _ in range(3):
        public(bare, json=seal_body())
    r = bare.post("/public/verify", json=seal_body())
    check_response("/public/verify", "post", r)
    assert_error(r, 429, "rate_limited")
    assert int(r.headers["Retry-After"]) >= 1
    # another address has its own bucket
    assert raw_post(bare, "127.0.0.2", seal_body())[0] == 200
    # refused attempts are audited as every anonymous refusal: counted and
    # written as one summary row per address, action and reason (here at
    # shutdown, the end of the window)
    more = [bare.post("/public/verify", json=seal_body()).status_code
            for _ in range(4)]
    refused = 1 + more.count(429)
    rc, _, err = bare.stop()
    assert rc == 0, err
    rows = bare.sql("SELECT client_addr, outcome, reason, details FROM "
                    "audit_log WHERE action = 'verify.public' ORDER BY seq")
    assert rows, "no audit row for the refusals"
    assert all(r[0] == "127.0.0.1" and r[1] == "refused" for r in rows), rows
    assert sum(json.loads(r[3])["count"] for r in rows) == refused
    assert len(rows) == 1 and "too many public verifications" in rows[0][2]


def test_cpu_budget_gives_503(bare):
    """One CPU millisecond a second for all public verifications together:
    within a few verifications the budget is spent and the next is refused
    with 503 server_busy and Retry-After, on its headers."""
    restart(bare, "public.verify_cpu_ms_per_second=1",
            "public.verify_cpu_burst_ms=1",
            "public.verify_rate_limit_rps=100000",
            "public.verify_rate_limit_burst=100000", delay=False)
    pkg = {"ofd": b64(read(OFDS, "v4signed.ofd"))}
    codes = []
    for _ in range(60):
        r = bare.post("/public/verify", json=pkg)
        check_response("/public/verify", "post", r)
        codes.append(r.status_code)
        if r.status_code == 503:
            err = assert_error(r, 503, "server_busy")
            assert "public verification" in err["message"]
            assert int(r.headers["Retry-After"]) >= 1
            break
    assert codes[0] == 200 and codes[-1] == 503, codes
    # the authenticated routes are not in this budget
    cred = bare.post("/api/v1/account/credential",
                     bare.admin_credential).json()["data"]["credential"]
    bare.admin_credential = cred
    r = bare.post("/api/v1/verify/ofd", cred, json=pkg)
    assert r.status_code == 200, r.text


def raw_post(inst, source, body, length=None, send_body=True):
    """POST /public/verify over a connection bound to source (a loopback
    address); length: the Content-Length to declare; without send_body
    only the headers are sent.  (status, headers, body)."""
    data = json.dumps(body).encode()
    ctx = ssl.create_default_context(cafile=inst.cert)
    ctx.check_hostname = False
    c = http.client.HTTPSConnection("127.0.0.1", inst.port, context=ctx,
                                    source_address=(source, 0), timeout=30)
    try:
        c.putrequest("POST", "/public/verify")
        c.putheader("Content-Type", "application/json")
        c.putheader("Content-Length", str(length if length else len(data)))
        c.endheaders()
        if send_body:
            c.send(data)
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        c.close()


def test_body_limit_on_the_headers(bare):
    restart(bare, "public.verify_max_body_bytes=2048", delay=False)
    # declared over the limit, nothing of the body sent: refused at once
    status, _, text = raw_post(bare, "127.0.0.1", seal_body(),
                               length=1 << 20, send_body=False)
    assert status == 413, text
    assert json.loads(text)["error"]["code"] == "payload_too_large"
    assert b"2048" in text
    # the authenticated routes keep server.max_body_bytes
    big = {"ofd": b64(read(OFDS, "v4signed.ofd"))}
    assert len(json.dumps(big)) > 2048
    # the public route refuses this body on its headers and closes without
    # reading it: a client still sending may see the close before the
    # answer (a race of the client's, not a property of the server), so the
    # refusal is read with the headers alone
    status, headers, text = raw_post(bare, "127.0.0.1", big,
                                     length=len(json.dumps(big)),
                                     send_body=False)
    assert status == 413, text
    assert json.loads(text)["error"]["code"] == "payload_too_large"
    cred = bare.post("/api/v1/account/credential",
                     bare.admin_credential).json()["data"]["credential"]
    bare.admin_credential = cred
    assert bare.post("/api/v1/verify/ofd", cred, json=big).status_code == 200


def test_signing_during_a_flood_from_many_addresses(world):
    """Eight addresses send public OFD verifications as fast as they are
    answered while a custodian signs: the signature is made, and the flood
    is answered with reports or the stable refusals (429 rate_limited per
    address, 503 server_busy for the budget).  The module's instance has
    roomy public limits; this one runs with the defaults."""
    w = world
    rc, _, err = w.inst.stop()
    assert rc == 0, err
    w.inst.start()
    try:
        pkg = {"ofd": b64(read(OFDS, "v4signed.ofd"))}
        stop = threading.Event()
        seen = []
        lock = threading.Lock()

        def flood(n):
            src = f"127.0.0.{2 + n}"
            while not stop.is_set():
                status, headers, text = raw_post(w.inst, src, pkg)
                code = json.loads(text).get("error", {}).get("code")
                with lock:
                    seen.append((status, code, headers.get("Retry-After")))

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(flood, n) for n in range(8)]
            try:
                deadline_n = 0      # 50 ms steps: 20 s at most in all
                while len(seen) < 40 and deadline_n < 400:
                    threading.Event().wait(0.05)
                    deadline_n += 1
                text = "关于洪水期间签章的函\n".encode() * 5
                sig, res = signed_text(w, text)
                assert res["status"] == "signed"
                # keep going until the limits have answered
                while not any(s in (429, 503) for s, _, _ in seen) and \
                        deadline_n < 800:
                    threading.Event().wait(0.05)
                    deadline_n += 1
            finally:
                stop.set()
                for f in futures:
                    f.result()
        statuses = {s for s, _, _ in seen}
        assert statuses <= {200, 429, 503}, statuses
        assert 200 in statuses
        refused = [(s, c, ra) for s, c, ra in seen if s != 200]
        assert refused, "the flood was never refused"
        assert all((s, c) in ((429, "rate_limited"), (503, "server_busy"))
                   and ra is not None and int(ra) >= 1
                   for s, c, ra in refused), refused[:5]
        print(f"\nflood: {len(seen)} answers: "
              f"{sum(1 for x in seen if x[0] == 200)} reports, "
              f"{sum(1 for x in seen if x[0] == 429)} x 429, "
              f"{sum(1 for x in seen if x[0] == 503)} x 503")
        # the signature made under the flood verifies
        assert authed(w, "/api/v1/verify", {
            "signature": b64(sig), "document": b64(text)})["indication"] \
            == "TOTAL_PASSED"
    finally:
        rc, _, err = w.inst.stop()
        assert rc == 0, err
        w.inst.start(*sets(*ROOMY))
