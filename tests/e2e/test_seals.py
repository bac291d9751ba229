"""Issue 6: the life of a seal after approval, end to end: making with the
local CA and with an external CA played by openssl, confirmation, filing,
renewal, change, loss, revocation, suspension, the status service and the
signed status list."""
import base64
import json
import os
import re
import subprocess
import time

import pytest

from conftest import Instance, SEALD, assert_error
from sealimg import png
from test_accounts import World

SM2_ID = "1234567812345678"


def b64(data):
    return base64.b64encode(data).decode()


def openssl(*args, **kw):
    out = subprocess.run(["openssl", *args], capture_output=True, **kw)
    assert out.returncode == 0, out.stderr.decode()
    return out.stdout


# one material of each type that a seal kind may require ([materials],
# default lists): every kind's application passes the requirement
TYPED_MATERIALS = [
    {"name": "licence.pdf", "media_type": "application/pdf",
     "type": "business_licence", "data": b64(b"%PDF-1.4 licence")},
    {"name": "id.png", "media_type": "image/png", "type": "id_card",
     "data": b64(b"\x89PNG id card")},
    {"name": "letter.pdf", "media_type": "application/pdf",
     "type": "authorisation_letter", "data": b64(b"%PDF-1.4 letter")}]


class Seals(World):
    """World plus helpers to walk applications and seals."""

    def apply(self, **over):
        body = {"org_id": self.agency, "kind": "official",
                "subkind": "legal_name", "seal_name": "哈尔滨市档案局",
                "custodian_id": self.ids["custodian"],
                "image": {"data": b64(png()), "width_mm": 40,
                          "height_mm": 40},
                "materials": TYPED_MATERIALS}
        body.update(over)
        body = {k: v for k, v in body.items() if v is not None}
        r = self.inst.post("/api/v1/applications", self.cred["applicant"],
                           json=body)
        assert r.status_code == 201, r.text
        return r.json()["data"]["id"]

    def review(self, app, decision, reason=None, status=200):
        body = {"decision": decision}
        if reason:
            body["reason"] = reason
        r = self.inst.post(f"/api/v1/applications/{app}/review",
                           self.cred["reviewer"], json=body)
        assert r.status_code == status, r.text
        return r.json()

    # the code a reviewer compares the impression under before approving,
    # on an instance with an impression adapter (filing.impression_url),
    # which refuses the approval of a new seal without a comparison
    impression_code = None

    def approve(self, app):
        self.review(app, "start")
        if self.impression_code:
            r = self.inst.post(f"/api/v1/applications/{app}/impression-check",
                               self.cred["reviewer"],
                               json={"code": self.impression_code})
            assert r.status_code == 200, r.text
        self.review(app, "approve")

    def make(self, app, status=201):
        r = self.inst.post(f"/api/v1/applications/{app}/make",
                           self.cred["maker"])
        assert r.status_code == status, r.text
        return r.json().get("data", r.json())

    def confirm(self, esid, who="applicant", status=200):
        r = self.inst.post(f"/api/v1/seals/{esid}/confirm", self.cred[who])
        assert r.status_code == status, r.text
        return r.json()

    def status(self, esid):
        r = self.inst.get(f"/api/v1/seals/{esid}/status",
                          self.cred["verifier"])
        assert r.status_code == 200, r.text
        return r.json()["data"]

    def history(self, esid):
        r = self.inst.get(f"/api/v1/seals/{esid}/history",
                          self.cred["applicant"])
        return [(h["from"], h["to"]) for h in r.json()["data"]["items"]]

    def new_active_seal(self, **over):
        app = self.apply(**over)
        self.approve(app)
        esid = self.make(app)["esid"]
        self.confirm(esid)
        return esid


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    inst = Instance(tmp_path_factory.mktemp("seals") / "inst")
    # seals valid 20 days: inside the 30-day renewal window from the start
    inst.start("--set", "seals.cert_days=20",
               "--set", "seals.maintenance_seconds=1")
    w = Seals(inst)
    yield w
    rc, _, err = inst.stop()
    assert rc == 0, err


KINDS = [
    dict(kind="official", subkind="legal_name", seal_name="哈尔滨市档案局"),
    dict(kind="official", subkind="department", seal_name="办公室"),
    dict(kind="official", subkind="branch", seal_name="道里分局"),
    dict(kind="official", subkind="business", business="contract",
         seal_name="合同专用章"),
    dict(kind="position", subkind=None, position="法定代表人",
         seal_name="王五"),
    dict(kind="personal", subkind=None, seal_name="赵六"),
]


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.get("business") or
                         k.get("subkind") or k["kind"])
def test_make_confirm_file_each_kind(world, kind, tmp_path):
    w = world
    app = w.apply(**kind)
    w.review(app, "start")
    w.review(app, "return", "the image is blurred")
    fixed = {"kind": kind["kind"], "seal_name": kind["seal_name"],
             "custodian_id": w.ids["custodian"],
             "image": {"data": b64(png(240, 240)), "width_mm": 40,
                       "height_mm": 40}}
    for k in ("subkind", "business", "position"):
        if kind.get(k):
            fixed[k] = kind[k]
    r = w.inst.post(f"/api/v1/applications/{app}/resubmit",
                    w.cred["applicant"], json=fixed)
    assert r.status_code == 200, r.text
    # not yet approved: cannot be made
    w.make(app, status=409)
    w.approve(app)
    # the applicant may not make their own seal; a reviewer may not at all
    r = w.inst.post(f"/api/v1/applications/{app}/make", w.cred["reviewer"])
    assert_error(r, 403, "forbidden")
    seal = w.make(app)
    esid = seal["esid"]
    assert len(esid) == 14 and esid.startswith("230100")
    assert seal["state"] == "made"
    # made is not usable: the status service says so
    assert w.status(esid)["state"] == "made"
    # what the applicant sees before confirming: image and decoded seal
    d = w.inst.get(f"/api/v1/seals/{esid}", w.cred["applicant"]).json()[
        "data"]
    assert d["seal"]["esid"] == esid if "esid" in d["seal"] else True
    dump = json.dumps(d["seal"], ensure_ascii=False)
    assert kind["seal_name"] in dump and esid in dump
    pic = w.inst.get(f"/api/v1/seals/{esid}/picture", w.cred["applicant"])
    assert pic.headers["Content-Type"] == "image/png"
    assert pic.content == png(240, 240)
    # only the applicant confirms
    w.confirm(esid, who="custodian", status=403)
    w.confirm(esid)
    st = w.status(esid)
    assert st["state"] == "active" and st["reason_code"] is None
    w.confirm(esid, status=409)                     # not twice
    assert w.history(esid) == [(None, "made"), ("made", "active")]

    # filing record, downloadable, and marked delivered by the maker
    rec = w.inst.get(f"/api/v1/seals/{esid}/filing", w.cred["applicant"])
    rec = rec.json()["data"]
    assert rec["esid"] == esid and rec["filing_state"] == "pending"
    assert rec["organisation"]["credit_code"] == "11230100MB1234567X"
    r = w.inst.post(f"/api/v1/seals/{esid}/filing", w.cred["maker"])
    assert r.json()["data"]["filing_state"] == "filed"
    assert_error(w.inst.post(f"/api/v1/seals/{esid}/filing",
                             w.cred["maker"]), 409, "conflict")

    # the seal file verifies in seald and its maker signature in openssl
    esl = w.inst.get(f"/api/v1/seals/{esid}/file", w.cred["applicant"])
    assert esl.headers["Content-Type"] == "application/octet-stream"
    path = tmp_path / "seal.esl"
    path.write_bytes(esl.content)
    assert base64.b64decode(rec["seal_der"]) == esl.content
    # --instance: the status from the instance's database (read-only) and
    # its anchors
    out = subprocess.run([SEALD, "verify-file", "--seal", str(path),
                          "--instance", w.inst.dir],
                         capture_output=True, text=True)
    report = json.loads(out.stdout)
    assert out.returncode == 0, out.stdout
    assert report["indication"] == "TOTAL_PASSED"
    assert report["checks"]["seal_status"]["status"] == "passed"
    assert report["seald_status"]["state_now"] == "active"
    inspect = json.loads(subprocess.run(
        [SEALD, "inspect", str(path)], capture_output=True,
        text=True).stdout)
    flat = json.dumps(inspect, ensure_ascii=False)
    for field in (esid, kind["seal_name"], "PNG"):
        assert field in flat
    check_maker_signature_with_openssl(path, tmp_path)


def asn1_children(der_path):
    """(offset, header length, length) of each top-level element."""
    out = openssl("asn1parse", "-inform", "DER", "-in", str(der_path))
    items = []
    for line in out.decode().splitlines():
        m = re.match(r"\s*(\d+):d=(\d+)\s+hl=(\d+)\s+l=\s*(\d+)", line)
        if m and m.group(2) == "1":
            items.append(tuple(int(m.group(i)) for i in (1, 3, 4)))
    return items


def check_maker_signature_with_openssl(esl, tmp):
    """SESeal ::= SEQUENCE { eSealInfo, cert OCTET STRING, signAlgID,
    signedValue BIT STRING }: verify signedValue over DER(eSealInfo) with
    the maker certificate's key, outside seald."""
    der = esl.read_bytes()
    (info, cert, _alg, sig) = asn1_children(esl)[:4]
    (tmp / "info.der").write_bytes(der[info[0]:info[0] + info[1] + info[2]])
    (tmp / "maker.der").write_bytes(
        der[cert[0] + cert[1]:cert[0] + cert[1] + cert[2]])
    openssl("x509", "-inform", "DER", "-in", str(tmp / "maker.der"),
            "-pubkey", "-noout", "-out", str(tmp / "maker.pub"))
    # BIT STRING content: skip the unused-bits byte
    (tmp / "sig.der").write_bytes(
        der[sig[0] + sig[1] + 1:sig[0] + sig[1] + sig[2]])
    openssl("pkeyutl", "-verify", "-pubin", "-inkey", str(tmp / "maker.pub"),
            "-rawin", "-digest", "sm3", "-pkeyopt", "distid:" + SM2_ID,
            "-in", str(tmp / "info.der"), "-sigfile", str(tmp / "sig.der"))


def test_renewal_keeps_lineage(world):
    w = world
    esid = w.new_active_seal(seal_name="续期章")
    r = w.inst.post(f"/api/v1/seals/{esid}/renewal", w.cred["applicant"],
                    json={"reason": "certificate expires"})
    assert r.status_code == 201, r.text
    app = r.json()["data"]["application_id"]
    w.approve(app)
    new = w.make(app)
    assert new["esid"] != esid and new["lineage_esid"] == esid
    w.confirm(new["esid"])
    # the old one is untouched: it expires normally
    assert w.status(esid)["state"] == "active"
    assert w.status(new["esid"])["state"] == "active"


def test_change_revokes_predecessor_on_activation(world):
    w = world
    old = w.new_active_seal(seal_name="旧名称章")
    app = w.apply(seal_name="新名称章", purpose="change",
                  replaces_esid=old)
    w.approve(app)
    new = w.make(app)["esid"]
    assert w.status(old)["state"] == "active"      # not before activation
    w.confirm(new)
    st = w.status(old)
    assert st["state"] == "revoked" and st["reason_code"] == "superseded"
    assert w.status(new)["state"] == "active"
    assert ("active", "revoked") in w.history(old)
    # a change of a seal that is no longer active is refused
    r = w.inst.post("/api/v1/applications", w.cred["applicant"], json={
        "org_id": w.agency, "kind": "official", "subkind": "legal_name",
        "seal_name": "再改", "custodian_id": w.ids["custodian"],
        "image": {"data": b64(png()), "width_mm": 40, "height_mm": 40},
        "purpose": "change", "replaces_esid": old})
    assert_error(r, 409, "conflict")


def test_loss_report_and_resolution(world):
    w = world
    esid = w.new_active_seal(seal_name="挂失章")
    r = w.inst.post(f"/api/v1/seals/{esid}/loss", w.cred["custodian"],
                    json={"reason": "token stolen with a laptop"})
    assert r.status_code == 200, r.text
    st = w.status(esid)
    assert st["state"] == "lost" and st["reason_code"] == "key_compromise"
    # found again: reinstated after review
    r = w.inst.post(f"/api/v1/seals/{esid}/loss/resolve", w.cred["reviewer"],
                    json={"outcome": "reinstate", "reason": "found in safe"})
    assert r.json()["data"]["state"] == "active"
    w.inst.post(f"/api/v1/seals/{esid}/loss", w.cred["applicant"],
                json={"reason": "lost again"})
    r = w.inst.post(f"/api/v1/seals/{esid}/loss/resolve", w.cred["reviewer"],
                    json={"outcome": "revoke", "reason": "not found"})
    assert r.json()["data"]["state"] == "revoked"
    # revoked is final: no confirmation, loss or reinstatement
    w.confirm(esid, status=409)
    assert_error(w.inst.post(f"/api/v1/seals/{esid}/loss/resolve",
                             w.cred["reviewer"],
                             json={"outcome": "reinstate", "reason": "x"}),
                 409, "conflict")
    assert w.history(esid)[-1] == ("lost", "revoked")
    # a maker has no business reporting losses
    other = w.new_active_seal(seal_name="另一章")
    assert_error(w.inst.post(f"/api/v1/seals/{other}/loss",
                             w.cred["maker"], json={"reason": "x"}),
                 403, "forbidden")


def test_revocation_through_review(world):
    w = world
    esid = w.new_active_seal(seal_name="注销章")
    r = w.inst.post(f"/api/v1/seals/{esid}/revocation", w.cred["applicant"],
                    json={"reason": "department dissolved"})
    assert_error(r, 400, "bad_request")       # identity proof is required
    r = w.inst.post(f"/api/v1/seals/{esid}/revocation", w.cred["applicant"],
                    json={"reason": "department dissolved", "materials": [
                        {"name": "decision.pdf",
                         "media_type": "application/pdf",
                         "data": b64(b"%PDF-1.4 decision")}]})
    assert r.status_code == 201, r.text
    app = r.json()["data"]["application_id"]
    assert w.status(esid)["state"] == "active"     # not before review
    w.approve(app)
    st = w.status(esid)
    assert st["state"] == "revoked" and st["reason_code"] == "cessation"
    # a revocation request makes no seal
    w.make(app, status=409)


def test_suspension_manual_and_automatic(world):
    w = world
    esid = w.new_active_seal(seal_name="停用章")
    assert_error(w.inst.post(f"/api/v1/seals/{esid}/suspend",
                             w.cred["custodian"], json={"reason": "x"}),
                 403, "forbidden")
    r = w.inst.post(f"/api/v1/seals/{esid}/suspend", w.cred["secadmin"],
                    json={"reason": "audit finding"})
    assert r.json()["data"]["state"] == "suspended"
    w.confirm(esid, status=409)               # no way back but a new one
    # automatic: a seal unused for more than a year is suspended by the
    # maintenance job (the test ages it in the database)
    aged = w.new_active_seal(seal_name="久未使用章")
    year_ago = int(time.time() * 1000) - 400 * 86400 * 1000
    w.inst.sql("UPDATE seals SET confirmed_ms = ? WHERE esid = ?",
               year_ago, aged)
    deadline = time.time() + 15
    while w.status(aged)["state"] != "suspended":
        assert time.time() < deadline, "maintenance did not suspend"
        time.sleep(0.2)
    assert w.status(aged)["reason_code"] == "unused"
    rows = [r for r in w.inst.audit() if r[4] == "seal.auto_suspend"]
    assert rows and rows[-1][5] == aged


def test_status_list_is_signed(world, tmp_path):
    w = world
    r = w.inst.get("/api/v1/seal-status-list", w.cred["verifier"])
    assert r.status_code == 200, r.text
    d = r.json()["data"]
    listing = json.loads(d["list"])
    states = {x["es_id"] if "es_id" in x else x.get("esid"): x["state"]
              for x in listing["entries"]}
    assert "revoked" in states.values() and "suspended" in states.values()
    assert all(s != "active" for s in states.values())
    (tmp_path / "list.json").write_bytes(d["list"].encode())
    (tmp_path / "list.sig").write_bytes(base64.b64decode(d["signature"]))
    cert = base64.b64decode(listing.get("signer_cert") or
                            listing.get("signer_certificate"))
    (tmp_path / "signer.der").write_bytes(cert)
    openssl("x509", "-inform", "DER", "-in", str(tmp_path / "signer.der"),
            "-pubkey", "-noout", "-out", str(tmp_path / "signer.pub"))
    openssl("dgst", "-sm3", "-verify", str(tmp_path / "signer.pub"),
            "-sigopt", "distid:" + SM2_ID, "-signature",
            str(tmp_path / "list.sig"), str(tmp_path / "list.json"))


def test_illegal_transitions_change_nothing(world):
    w = world
    assert_error(w.inst.post("/api/v1/applications/999999/make",
                             w.cred["maker"]), 404, "not_found")
    assert_error(w.inst.post("/api/v1/seals/nosuchseal/confirm",
                             w.cred["applicant"]), 404, "not_found")
    assert_error(w.inst.get("/api/v1/seals/..%2f/status",
                            w.cred["verifier"]), 404, "not_found")
    count = w.inst.sql("SELECT count(*) FROM seals")[0][0]
    app = w.apply(seal_name="未批准")
    w.make(app, status=409)
    w.review(app, "start")
    w.make(app, status=409)
    assert w.inst.sql("SELECT count(*) FROM seals")[0][0] == count
    refused = [r for r in w.inst.audit()
               if r[4] == "seal.make" and r[6] == "refused"]
    assert len(refused) >= 2


def test_renew_too_early(tmp_path):
    inst = Instance(tmp_path / "early")
    inst.start()
    try:
        w = Seals(inst)
        esid = w.new_active_seal()
        r = inst.post(f"/api/v1/seals/{esid}/renewal", w.cred["applicant"])
        err = assert_error(r, 409, "conflict")
        assert "too early" in err["message"]
        assert inst.sql("SELECT count(*) FROM applications WHERE "
                        "purpose = 'renewal'")[0][0] == 0
    finally:
        rc, _, err = inst.stop()
    assert rc == 0, err


def test_external_ca(world, tmp_path):
    """The CA is played by openssl with an SM2 key; its root becomes a
    trust anchor; a certificate for another key is refused."""
    w = world
    d = str(tmp_path)
    ca_key, ca_crt = os.path.join(d, "ca.key"), os.path.join(d, "ca.crt")
    openssl("genpkey", "-algorithm", "SM2", "-out", ca_key)
    openssl("req", "-x509", "-new", "-key", ca_key, "-out", ca_crt, "-days",
            "365", "-subj", "/C=CN/O=Provincial CA/CN=Provincial SM2 Root",
            "-sm3", "-sigopt", "distid:" + SM2_ID)
    trust = os.path.join(w.inst.dir, "trust", "provincial-ca.pem")
    with open(trust, "wb") as f:
        f.write(open(ca_crt, "rb").read())
    app = w.apply(seal_name="外部证书章")
    w.approve(app)
    r = w.inst.post(f"/api/v1/applications/{app}/csr", w.cred["maker"])
    assert r.status_code == 200, r.text
    csr = os.path.join(d, "req.pem")
    open(csr, "w").write(r.json()["data"]["csr_pem"])
    openssl("req", "-verify", "-in", csr, "-noout", "-vfyopt",
            "distid:" + SM2_ID)

    def issue(req, out):
        openssl("x509", "-req", "-in", req, "-CA", ca_crt, "-CAkey", ca_key,
                "-CAcreateserial", "-out", out, "-days", "200", "-sm3",
                "-sigopt", "distid:" + SM2_ID, "-vfyopt",
                "distid:" + SM2_ID)
        return open(out).read()

    # a certificate for some other key is refused, and nothing is made
    other_key = os.path.join(d, "other.key")
    openssl("genpkey", "-algorithm", "SM2", "-out", other_key)
    other_req = os.path.join(d, "other.csr")
    openssl("req", "-new", "-key", other_key, "-out", other_req, "-subj",
            "/CN=intruder", "-sm3", "-sigopt", "distid:" + SM2_ID)
    bad = issue(other_req, os.path.join(d, "other.crt"))
    r = w.inst.post(f"/api/v1/applications/{app}/certificate",
                    w.cred["maker"], json={"certificate": bad})
    err = assert_error(r, 422, "invalid_argument")
    assert "refused" in err["message"]
    good = issue(csr, os.path.join(d, "holder.crt"))
    r = w.inst.post(f"/api/v1/applications/{app}/certificate",
                    w.cred["maker"], json={"certificate": good})
    assert r.status_code == 201, r.text
    esid = r.json()["data"]["esid"]
    w.confirm(esid)
    assert w.status(esid)["state"] == "active"


def test_daemon_on_another_vendor_profile(tmp_path):
    """The same development token speaking the TASS profile (sign mechanism
    0x80008000, DER output) instead of SANSEC: the daemon generates holder
    keys, makes and signs seals through it, and openssl checks the result."""
    inst = Instance(tmp_path / "tass")
    with open(os.path.join(inst.dir, "token", "profile"), "w") as f:
        f.write("tass")
    conf = open(inst.conf).read().replace("profile = sm2-sansec",
                                          "profile = sm2-tass")
    open(inst.conf, "w").write(conf)
    inst.start()
    try:
        tok = inst.get("/readyz").json()["data"]["checks"]["tokens"][0]
        assert tok["profile"] == "sm2-tass" and tok["logged_in"]
        w = Seals(inst)
        esid = w.new_active_seal(seal_name="TASS章")
        esl = inst.get(f"/api/v1/seals/{esid}/file", w.cred["applicant"])
        (tmp_path / "seal.esl").write_bytes(esl.content)
        check_maker_signature_with_openssl(tmp_path / "seal.esl", tmp_path)
    finally:
        rc, _, err = inst.stop()
    assert rc == 0, err


def test_seal_list_is_scoped_in_the_query(world):
    """Issue 15, item 5: the seal list applies the reader's scope in the
    query, not to the rows of a page afterwards.  Pages used to be cut by
    LIMIT first and filtered after, so a reader of one department walked
    empty pages (each with a next_after) past every seal of the agency
    before reaching their own.  Now every page but the last is full, the
    last says so (next_after null), and nothing outside the scope shows."""
    w = world
    mine = [w.new_active_seal(org_id=w.dept, seal_name=f"档案室{i}")
            for i in range(3)]
    w.new_active_seal(seal_name="不在范围内")          # the agency's
    rid, rcred = w.person("deptreader", w.dept)
    w.grant(w.cred["secadmin"], rid, "verifier", w.dept)
    seen, after, pages = [], None, 0
    while True:
        params = {"limit": 1, **({"after": after} if after else {})}
        r = w.inst.get("/api/v1/seals", rcred, params=params)
        assert r.status_code == 200, r.text
        page = r.json()["data"]
        pages += 1
        assert pages <= len(mine) + 1, "more pages than seals in scope"
        seen += [(s["esid"], s["org_id"]) for s in page["items"]]
        if page["next_after"] is None:
            break
        assert len(page["items"]) == 1          # a full page, never empty
        after = page["next_after"]
    assert {e for e, _ in seen} >= set(mine)
    assert {o for _, o in seen} == {w.dept}
    # the same in one page
    r = w.inst.get("/api/v1/seals", rcred, params={"limit": 100})
    assert [s["esid"] for s in r.json()["data"]["items"]] == \
        [e for e, _ in seen]
    assert r.json()["data"]["next_after"] is None
    # a reader of the agency sees the department's seals too (its subtree)
    r = w.inst.get("/api/v1/seals", w.cred["verifier"],
                   params={"org_id": w.dept, "limit": 100})
    assert set(mine) <= {s["esid"] for s in r.json()["data"]["items"]}
    # and a seal outside the scope is refused one by one as before
    other = w.inst.get("/api/v1/seals", w.cred["verifier"],
                       params={"limit": 100}).json()["data"]["items"]
    outside = [s["esid"] for s in other if s["org_id"] != w.dept][0]
    assert_error(w.inst.get(f"/api/v1/seals/{outside}", rcred), 403,
                 "forbidden")


def test_application_list_is_scoped_in_the_query(world):
    """Issue 15, item 5: the application list applies the reader's rule
    (their own, or application.review / application.submit over the
    organisation) in the query; it used to read each row again and check
    it after LIMIT, so a department's applicant paged through empty pages
    past the agency's applications."""
    w = world
    aid, acred = w.person("deptapplicant", w.dept)
    w.grant(w.cred["secadmin"], aid, "applicant", w.dept)
    mine = []
    for i in range(2):
        body = {"org_id": w.dept, "kind": "official",
                "subkind": "department", "seal_name": f"档案室申请{i}",
                "custodian_id": w.ids["custodian"],
                "image": {"data": b64(png()), "width_mm": 40,
                          "height_mm": 40}, "materials": TYPED_MATERIALS}
        r = w.inst.post("/api/v1/applications", acred, json=body)
        assert r.status_code == 201, r.text
        mine.append(r.json()["data"]["id"])
    w.apply()                                  # one of the agency's
    seen, after = [], None
    for _ in range(20):
        params = {"limit": 1, **({"after": after} if after else {})}
        r = w.inst.get("/api/v1/applications", acred, params=params)
        assert r.status_code == 200, r.text
        page = r.json()["data"]
        seen += [(x["id"], x["org_id"]) for x in page["items"]]
        if page["next_after"] is None:
            break
        assert len(page["items"]) == 1
        after = page["next_after"]
    else:
        raise AssertionError("the pages did not end")
    assert {i for i, _ in seen} >= set(mine)
    assert {o for _, o in seen} == {w.dept}
    # the agency's reviewer sees them (the department is in its subtree)
    r = w.inst.get("/api/v1/applications", w.cred["reviewer"],
                   params={"org_id": w.dept, "limit": 500})
    assert set(mine) <= {x["id"] for x in r.json()["data"]["items"]}
