"""Issue 9 through the daemon: an OFD approved in a signing request is
sealed at a page, a keyword and across pages, verified through the API and
the CLI, and sealed a second time keeping the first signature valid."""
import base64
import io
import re
import zipfile

import pytest

from conftest import Instance, assert_error
from ofdgen import ofd
from test_seals import Seals
from test_signing import approve, doc, submit


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    inst = Instance(tmp_path_factory.mktemp("ofdapi") / "inst")
    inst.start()
    w = Seals(inst)
    w.esid = w.new_active_seal(seal_name="电子公文章")
    yield w
    rc, _, err = inst.stop()
    assert rc == 0, err


def seal_ofd(w, rid, did, position, status=200, **extra):
    r = w.inst.post(f"/api/v1/sign-requests/{rid}/documents/{did}/seal-ofd",
                    w.cred["custodian"], json={"position": position, **extra})
    assert r.status_code == status, r.text
    return r.json().get("data", r.json())


def verify(w, data):
    r = w.inst.post("/api/v1/verify/ofd", w.cred["verifier"],
                    json={"ofd": base64.b64encode(data).decode()})
    assert r.status_code == 200, r.text
    return r.json()["data"]


def signature_xml(data, n=0):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = sorted(x for x in z.namelist()
                       if x.endswith("Signature.xml"))
        return z.read(names[n]).decode()


@pytest.mark.parametrize("position,check", [
    ({"mode": "page", "page": 0, "x": 120, "y": 230},
     lambda xml: 'PageRef="10"' in xml and "120 230" in xml),
    ({"mode": "keyword", "keyword": "甲方（盖章）"},
     lambda xml: 'PageRef="11"' in xml),
    ({"mode": "cross_page"},
     lambda xml: xml.count("StampAnnot") >= 2),
], ids=["page", "keyword", "cross-page"])
def test_seal_ofd_through_signing(world, position, check):
    w = world
    original = ofd(2)
    req = submit(w, [doc("notice.ofd", original)], copies=2)
    approve(w, req["id"])
    did = req["documents"][0]["id"]
    out = seal_ofd(w, req["id"], did, position)
    sealed = base64.b64decode(out["ofd"])
    xml = signature_xml(sealed)
    assert check(xml), xml
    assert "1.2.156.10197.1.501" in xml
    report = verify(w, sealed)
    (sig,) = report["signatures"]
    failed = [r for r in sig.get("references", []) if r.get("status") !=
              "passed"]
    assert failed == [], sig
    assert sig["ses"]["checks"]["signature"]["status"] == "passed"
    assert sig["ses"]["checks"]["data_hash"]["status"] == "passed"
    # the usage record names the approved document
    row = w.inst.sql("SELECT document_id, seal_id FROM signatures WHERE "
                     "id = ?", out["signature_id"])[0]
    assert row[0] == did
    # a second seal (second copy) keeps the first valid
    again = seal_ofd(w, req["id"], did, {"mode": "page", "page": 1, "x": 20,
                                         "y": 20})
    twice = base64.b64decode(again["ofd"])
    assert len(verify(w, twice)["signatures"]) == 1   # from the original
    # the grant of two copies is used up
    seal_ofd(w, req["id"], did, position, status=409)


def test_second_seal_on_sealed_document(world):
    w = world
    req = submit(w, [doc("contract.ofd", ofd(1))])
    approve(w, req["id"])
    first = base64.b64decode(seal_ofd(w, req["id"],
                                      req["documents"][0]["id"],
                                      {"mode": "page", "page": 0, "x": 30,
                                       "y": 30})["ofd"])
    req2 = submit(w, [doc("contract-signed.ofd", first)])
    approve(w, req2["id"])
    second = base64.b64decode(seal_ofd(w, req2["id"],
                                       req2["documents"][0]["id"],
                                       {"mode": "page", "page": 0, "x": 120,
                                        "y": 30})["ofd"])
    report = verify(w, second)
    assert len(report["signatures"]) == 2
    for sig in report["signatures"]:
        assert sig["ses"]["checks"]["signature"]["status"] == "passed"
        assert all(r.get("status") == "passed"
                   for r in sig.get("references", []))


def test_ofd_refusals(world):
    w = world
    req = submit(w, [{"name": "hash-only.ofd", "sm3": "00" * 32,
                      "size": 10}])
    approve(w, req["id"])
    seal_ofd(w, req["id"], req["documents"][0]["id"],
             {"mode": "page", "page": 0, "x": 1, "y": 1}, status=409)
    req = submit(w, [doc("not-an.ofd", b"PK\x03\x04 broken")])
    approve(w, req["id"])
    err = seal_ofd(w, req["id"], req["documents"][0]["id"],
                   {"mode": "page", "page": 0, "x": 1, "y": 1}, status=400)
    assert err["error"]["code"] == "malformed_input"
    # base64 that is not: malformed input, as for every verification route
    # (they share one parser, api_verify_in.c)
    assert_error(w.inst.post("/api/v1/verify/ofd", w.cred["verifier"],
                             json={"ofd": "%%%"}), 400, "malformed_input")
    seal_ofd(w, req["id"], req["documents"][0]["id"],
             {"mode": "sideways"}, status=422)


def test_streamed_upload_of_a_hashed_document(world):
    """A document first named by its SM3 is uploaded afterwards as raw
    bytes: the daemon hashes them as they arrive and takes only the exact
    document that was approved."""
    import hashlib
    w = world
    data = ofd(2)
    req = submit(w, [{"name": "later.ofd", "size": len(data),
                      "sm3": hashlib.new("sm3", data).hexdigest()}])
    approve(w, req["id"])
    rid, did = req["id"], req["documents"][0]["id"]
    url = f"/api/v1/sign-requests/{rid}/documents/{did}/content"
    r = w.inst.request("PUT", url, w.cred["custodian"], data=data + b"x",
                       headers={"Content-Type": "application/ofd"})
    err = assert_error(r, 422, "invalid_argument")
    assert "not the bytes" in err["message"]
    r = w.inst.request("PUT", url, w.cred["custodian"], data=data,
                       headers={"Content-Type": "text/plain"})
    assert_error(r, 415, "unsupported")

    def chunks():                       # sent chunked: hashed as it comes
        for i in range(0, len(data), 700):
            yield data[i:i + 700]
    r = w.inst.request("PUT", url, w.cred["custodian"], data=chunks(),
                       headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["documents"][0]["uploaded"] is True
    r = w.inst.request("PUT", url, w.cred["custodian"], data=data,
                       headers={"Content-Type": "application/ofd"})
    assert_error(r, 409, "conflict")
    out = seal_ofd(w, rid, did, {"mode": "page", "page": 0, "x": 10,
                                 "y": 10})
    report = verify(w, base64.b64decode(out["ofd"]))
    assert report["signatures"][0]["ses"]["checks"]["signature"][
        "status"] == "passed"


def peak_rss_kib(inst):
    """The daemon's peak resident set so far (VmHWM), in KiB."""
    with open(f"/proc/{inst.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_ofd_amplification_refused(world):
    """Issue 14 item 13: 250 entries of 1 MiB (each under the ratio
    check), 250 MiB from under 400 KB, are refused by the inflation budget
    (ofd.max_inflated_bytes, 64 MiB by default) before anything is
    inflated: 413 payload_too_large, for verification and for sealing, and
    the daemon's peak memory does not grow by what the package declares."""
    from ofdbomb import bomb
    w = world
    pkg = bomb(250, 1 << 20)
    assert len(pkg) < 400 * 1024
    before = peak_rss_kib(w.inst)
    r = w.inst.post("/api/v1/verify/ofd", w.cred["verifier"],
                    json={"ofd": base64.b64encode(pkg).decode()})
    err = assert_error(r, 413, "payload_too_large")
    assert "ofd.max_inflated_bytes" in err["message"]
    grown = peak_rss_kib(w.inst) - before
    print(f"\nOFD bomb refused: daemon VmHWM {before} KiB before, "
          f"+{grown} KiB after")
    assert grown < 64 * 1024, grown
    req = submit(w, [doc("bomb.ofd", pkg)])
    approve(w, req["id"])
    err = seal_ofd(w, req["id"], req["documents"][0]["id"],
                   {"mode": "page", "page": 0, "x": 1, "y": 1}, status=413)
    assert err["error"]["code"] == "payload_too_large"
    # within the budget the same shape is verified as usual
    rep = verify(w, bomb(4, 1 << 20))
    assert rep["signatures"][0]["checks"]["references"]["status"] == \
        "passed"


def test_ofd_inflation_budget_is_configured(tmp_path):
    """ofd.max_inflated_bytes is the budget: at 1 MiB, four entries of
    1 MiB are refused where the default lets them through."""
    from ofdbomb import bomb
    inst = Instance(tmp_path / "inst")
    inst.start("--set", "ofd.max_inflated_bytes=1048576")
    try:
        cred = inst.post("/api/v1/account/credential",
                         inst.admin_credential).json()["data"]["credential"]
        r = inst.post("/api/v1/verify/ofd", cred,
                      json={"ofd": base64.b64encode(bomb(4, 1 << 20))
                            .decode()})
        err = assert_error(r, 413, "payload_too_large")
        assert "1048576" in err["message"]
    finally:
        rc, _, err = inst.stop()
    assert rc == 0, err
