"""Issue 17 items 5 and 7 against the real daemon: certificate revocation
from the trust anchors' CRLs, and a foreign issuer's seal status list.

The CAs are played by `openssl ca` in the test (index.txt, -revoke,
-gencrl) with SM2 keys; each CA's root is a trust anchor with a sidecar
(trust/NAME.conf) naming its CRL, a file or a URL served by a small HTTP
server the test starts and stops.

- a signature whose signer certificate is revoked after signing: with
  seald's usage record (proof of existence) TOTAL_PASSED, the revocation
  reported; without it INDETERMINATE/REVOKED_NO_POE; revoked before the
  signing time TOTAL_FAILED/REVOKED (API and CLI); the seal alone
  TOTAL_FAILED/REVOKED;
- a CRL signed by another key: TRY_LATER, and it never replaces the last
  valid CRL (a revocation cannot be taken back that way);
- a CRL URL: cached until its nextUpdate (no second fetch), then read
  again; unreachable with the copy stale: TRY_LATER; back, the new CRL;
- seal making with an external CA's revoked certificate is refused;
- a second instance, with the first instance's status list pinned to its
  maker certificate: the first's revoked seal is TOTAL_FAILED/REVOKED
  there; unavailable or signed by another signer: TRY_LATER.
"""
import base64
import datetime
import hashlib
import http.server
import json
import os
import re
import threading
import time

import pytest

from conftest import Instance, assert_error, free_port
from test_seals import Seals, openssl
from test_verify_status import (api, b64, cli, ofd_api, outcome, revoke,
                                seal_an_ofd, signed_text, write_sql)

SM2_ID = "1234567812345678"

CA_CNF = """[ca]
default_ca = CA_default
[CA_default]
dir = {d}
database = {d}/index.txt
serial = {d}/serial
crlnumber = {d}/crlnumber
new_certs_dir = {d}/new
default_md = sm3
default_days = 200
default_crl_hours = 24
policy = pol
unique_subject = no
preserve = yes
[pol]
commonName = optional
organizationName = optional
countryName = optional
"""


def asn1_time(dt):
    return dt.strftime("%Y%m%d%H%M%SZ")


class OpensslCA:
    """A CA made with `openssl ca`: its database, certificates and CRLs."""

    def __init__(self, d, cn, key=None):
        self.d = str(d)
        os.makedirs(os.path.join(self.d, "new"), exist_ok=True)
        open(os.path.join(self.d, "index.txt"), "w").close()
        open(os.path.join(self.d, "serial"), "w").write("1000\n")
        open(os.path.join(self.d, "crlnumber"), "w").write("01\n")
        self.cnf = os.path.join(self.d, "ca.cnf")
        open(self.cnf, "w").write(CA_CNF.format(d=self.d))
        self.key = key or os.path.join(self.d, "ca.key")
        if key is None:
            openssl("genpkey", "-algorithm", "SM2", "-out", self.key)
        self.crt = os.path.join(self.d, "ca.crt")
        openssl("req", "-x509", "-new", "-key", self.key, "-out", self.crt,
                "-days", "365", "-subj", "/C=CN/O=Test CA/CN=" + cn, "-sm3",
                "-sigopt", "distid:" + SM2_ID, "-addext",
                "keyUsage=critical,keyCertSign,cRLSign")

    def ca(self, *args):
        return openssl("ca", "-batch", "-config", self.cnf, "-cert", self.crt,
                       "-keyfile", self.key, *args)

    def issue(self, csr_pem, name):
        csr = os.path.join(self.d, name + ".csr")
        out = os.path.join(self.d, name + ".crt")
        open(csr, "w").write(csr_pem)
        self.ca("-in", csr, "-out", out, "-notext", "-sigopt",
                "distid:" + SM2_ID, "-vfyopt", "distid:" + SM2_ID)
        return out

    def revoke(self, crt, reason="keyCompromise"):
        self.ca("-revoke", crt, "-crl_reason", reason)

    def backdate_revocations(self, when):
        """Every revocation in index.txt moved to when (a datetime): the
        way to have a signature made after its certificate's revocation,
        which seald itself would never make."""
        path = os.path.join(self.d, "index.txt")
        rows = []
        for line in open(path).read().splitlines():
            f = line.split("\t")
            if f[0] == "R":
                rest = f[2].split(",", 1)
                f[2] = when.strftime("%y%m%d%H%M%SZ") + (
                    "," + rest[1] if len(rest) > 1 else "")
            rows.append("\t".join(f))
        open(path, "w").write("\n".join(rows) + "\n")

    def crl(self, last=None, nxt=None):
        """A CRL (DER) of the current database, signed with SM2 and the
        standard ID; last / nxt (datetimes) set its thisUpdate/nextUpdate."""
        pem = os.path.join(self.d, "crl.pem")
        der = os.path.join(self.d, "crl.der")
        args = ["-gencrl", "-out", pem, "-sigopt", "distid:" + SM2_ID]
        if last:
            args += ["-crl_lastupdate", asn1_time(last)]
        if nxt:
            args += ["-crl_nextupdate", asn1_time(nxt)]
        self.ca(*args)
        openssl("crl", "-in", pem, "-outform", "DER", "-out", der)
        return open(der, "rb").read()


class CrlServer:
    """One URL serving whatever body is set, counting the requests; it can
    be stopped and started again on the same port."""

    def __init__(self):
        self.port = free_port()
        self.body = b""
        self.hits = 0
        self.httpd = None

    def start(self):
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.hits += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/pkix-crl")
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", self.port), H)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/ca.crl"


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("crl")
    prov = OpensslCA(base / "prov", "Provincial SM2 Root")
    city = OpensslCA(base / "city", "City SM2 Root")
    crl_file = base / "prov.crl"              # outside the trust directory
    crl_file.write_bytes(prov.crl())
    server = CrlServer()
    inst = Instance(base / "a")
    trust = os.path.join(inst.dir, "trust")
    for name, ca in (("provincial", prov), ("city", city)):
        open(os.path.join(trust, name + ".pem"), "w").write(
            open(ca.crt).read())
    open(os.path.join(trust, "provincial.conf"), "w").write(
        "# the provincial CA's CRL, a file\ncrl = %s\n" % crl_file)
    open(os.path.join(trust, "city.conf"), "w").write(
        "crl = %s\nretry_seconds = 0\n" % server.url)
    inst.start()
    w = Seals(inst)
    w.prov, w.city, w.crl_file, w.server = prov, city, crl_file, server
    w.base = base
    yield w
    rc, _, err = inst.stop()
    assert rc == 0, err


def external_seal(w, ca, name):
    """A seal whose certificate ca issues; (esid, certificate file)."""
    app = w.apply(seal_name=name)
    w.approve(app)
    r = w.inst.post(f"/api/v1/applications/{app}/csr", w.cred["maker"])
    assert r.status_code == 200, r.text
    crt = ca.issue(r.json()["data"]["csr_pem"], "app%d" % app)
    r = w.inst.post(f"/api/v1/applications/{app}/certificate",
                    w.cred["maker"], json={"certificate": open(crt).read()})
    assert r.status_code == 201, r.text
    esid = r.json()["data"]["esid"]
    w.confirm(esid)
    return esid, crt


def cert_status(rep, role="signer"):
    return rep["checks"]["certificate_status"][role]


def test_revoked_signer_certificate(world, tmp_path):
    w = world
    esid, crt = external_seal(w, w.prov, "省CA吊销测试章")
    text = "关于证书状态的函\n".encode() * 8
    sig, _ = signed_text(w, esid, text)
    body = {"signature": b64(sig), "document": b64(text)}
    rep = api(w, "/api/v1/verify", body)
    assert outcome(rep) == ("TOTAL_PASSED", None), rep["checks"]
    cs = cert_status(rep)
    assert cs["status"] == "passed" and cs["anchor"] == "provincial"
    assert cs["source"] == str(w.crl_file) and "revoked_at" not in cs
    # the maker certificate's CA (the local CA) has no sidecar
    assert cert_status(rep, "maker")["status"] == "not_checked"

    # revoked after the signature (a second later: the CRL has whole
    # seconds, and a revocation in the signature's second counts against it)
    time.sleep(1.1)
    w.prov.revoke(crt)
    w.crl_file.write_bytes(w.prov.crl())
    rep = api(w, "/api/v1/verify", body)
    assert outcome(rep) == ("TOTAL_PASSED", None), rep["checks"]
    cs = cert_status(rep)
    assert cs["status"] == "passed", cs
    assert cs["revocation_reason"] == "keyCompromise"
    assert "after the signature's proof of existence" in cs["reason"]

    # without seald's usage record the signing time is only a claim
    sid = rep["seald_status"]["proof_of_existence"]["signature_id"]
    assert write_sql(w.inst, "DELETE FROM signatures WHERE id = ?", sid) == 1
    rep = api(w, "/api/v1/verify", body)
    assert outcome(rep) == ("INDETERMINATE", "REVOKED_NO_POE"), rep["checks"]
    assert cert_status(rep)["status"] == "indeterminate"
    (tmp_path / "sig.dat").write_bytes(sig)
    (tmp_path / "doc.txt").write_bytes(text)
    j, _ = cli("verify-file", "--signature", tmp_path / "sig.dat", "--data",
               tmp_path / "doc.txt", "--instance", w.inst.dir, code=2)
    assert outcome(j) == ("INDETERMINATE", "REVOKED_NO_POE")
    assert j["checks"]["certificate_status"]["signer"]["revoked_at"] == \
        cert_status(rep)["revoked_at"]

    # revoked before the signing time
    w.prov.backdate_revocations(now_utc() - datetime.timedelta(days=1))
    w.crl_file.write_bytes(w.prov.crl())
    rep = api(w, "/api/v1/verify", body)
    assert outcome(rep) == ("TOTAL_FAILED", "REVOKED"), rep["checks"]
    assert "before the signing time" in cert_status(rep)["reason"]
    j, _ = cli("verify-file", "--signature", tmp_path / "sig.dat", "--data",
               tmp_path / "doc.txt", "--instance", w.inst.dir, code=1)
    assert outcome(j) == ("TOTAL_FAILED", "REVOKED")
    # an OFD sealed now, with the certificate revoked since yesterday
    sealed, _ = seal_an_ofd(w, esid)
    rep = ofd_api(w, sealed)
    ses = rep["signatures"][0]["ses"]
    assert outcome(ses) == ("TOTAL_FAILED", "REVOKED"), ses["checks"]
    assert ses["checks"]["certificate_status"]["signer"]["status"] == "failed"
    # the seal alone: its holder certificate is revoked
    esl = w.inst.get(f"/api/v1/seals/{esid}/file", w.cred["applicant"])
    rep = api(w, "/api/v1/verify/seal", {"seal": b64(esl.content)})
    assert outcome(rep) == ("TOTAL_FAILED", "REVOKED"), rep["checks"]
    assert cert_status(rep, "holder")["status"] == "failed"

    # a CRL signed by another key under the same name replaces nothing:
    # the last valid CRL still answers until its nextUpdate
    other = OpensslCA(w.base / "impostor", "Provincial SM2 Root")
    w.crl_file.write_bytes(other.crl())
    rep = api(w, "/api/v1/verify", body)
    assert outcome(rep) == ("TOTAL_FAILED", "REVOKED"), rep["checks"]
    w.crl_file.write_bytes(w.prov.crl())


def test_making_with_a_revoked_certificate_is_refused(world):
    w = world
    app = w.apply(seal_name="吊销证书制章")
    w.approve(app)
    r = w.inst.post(f"/api/v1/applications/{app}/csr", w.cred["maker"])
    crt = w.prov.issue(r.json()["data"]["csr_pem"], "refused%d" % app)
    w.prov.revoke(crt, "superseded")
    w.crl_file.write_bytes(w.prov.crl())
    r = w.inst.post(f"/api/v1/applications/{app}/certificate",
                    w.cred["maker"], json={"certificate": open(crt).read()})
    err = assert_error(r, 422, "invalid_argument")
    assert "certificate refused" in err["message"]
    assert "revoked by its CA" in err["message"]
    assert "superseded" in err["message"]
    assert w.inst.sql("SELECT count(*) FROM seals WHERE application_id = ?",
                      app)[0][0] == 0


def test_crl_url_cached_refreshed_unreachable(world):
    w = world
    srv = w.server
    first_next = now_utc() + datetime.timedelta(seconds=4)
    srv.body = w.city.crl(nxt=first_next)
    srv.start()
    esid, crt = external_seal(w, w.city, "市CA吊销测试章")
    assert srv.hits == 1               # read when the certificate came in
    text = "关于网络吊销列表的函\n".encode() * 8
    sig, _ = signed_text(w, esid, text)
    body = {"signature": b64(sig), "document": b64(text)}
    rep = api(w, "/api/v1/verify", body)
    assert outcome(rep) == ("TOTAL_PASSED", None), rep["checks"]
    cs = cert_status(rep)
    assert cs["status"] == "passed" and cs["source"] == srv.url, cs
    sid = rep["seald_status"]["proof_of_existence"]["signature_id"]

    # the CA revokes (a second later: see the test above); until the first
    # CRL's nextUpdate the copy held serves
    time.sleep(1.1)
    w.city.revoke(crt)
    new_crl = w.city.crl()
    srv.body = new_crl
    rep = api(w, "/api/v1/verify", body)
    assert "revoked_at" not in cert_status(rep)
    assert srv.hits == 1, "a fresh CRL must not be fetched again"

    # past its nextUpdate with the server gone: the status is unknown
    while now_utc() <= first_next:
        time.sleep(0.2)
    srv.stop()
    rep = api(w, "/api/v1/verify", body)
    assert outcome(rep) == ("INDETERMINATE", "TRY_LATER"), rep["checks"]
    why = cert_status(rep)["reason"]
    assert "past its nextUpdate" in why and "connect" in why, why

    # back, but answering with a CRL signed by another key under the CA's
    # name: that is not revocation data
    srv.body = OpensslCA(w.base / "impostor2", "City SM2 Root").crl()
    srv.start()
    try:
        rep = api(w, "/api/v1/verify", body)
        assert outcome(rep) == ("INDETERMINATE", "TRY_LATER"), rep["checks"]
        assert "not signed by a certificate of anchor city" in \
            cert_status(rep)["reason"]
        assert srv.hits == 2

        # the CA's new CRL is read, and the revocation found
        srv.body = new_crl
        assert write_sql(w.inst, "DELETE FROM signatures WHERE id = ?",
                         sid) == 1
        rep = api(w, "/api/v1/verify", body)
        assert outcome(rep) == ("INDETERMINATE", "REVOKED_NO_POE"), \
            rep["checks"]
        assert cert_status(rep)["revocation_reason"] == "keyCompromise"
        assert srv.hits == 3
    finally:
        srv.stop()


# ---- a foreign issuer's status list (item 5) -------------------------------

@pytest.fixture(scope="module")
def foreign(world):
    """A second instance B whose trust directory holds A's local CA and a
    sidecar pinning A's status list to A's maker certificate."""
    a = world
    base = a.base / "b"
    listed = a.inst.get("/api/v1/seal-status-list", a.cred["auditor"])
    assert listed.status_code == 200, listed.text
    signer = json.loads(listed.json()["data"]["list"])["signer_cert"]
    pin = hashlib.sha256(base64.b64decode(signer)).hexdigest()
    b = Instance(base)
    trust = os.path.join(b.dir, "trust")
    open(os.path.join(trust, "issuer-a.pem"), "w").write(
        open(os.path.join(a.inst.dir, "trust", "local-ca.pem")).read())
    list_file = a.base / "a-status.json"
    open(os.path.join(trust, "issuer-a.conf"), "w").write(
        "status_list = %s\nstatus_signer_sha256 = %s\nretry_seconds = 0\n"
        % (list_file, pin))
    b.start()
    wb = Seals(b)
    wb.list_file = list_file
    yield wb
    rc, _, err = b.stop()
    assert rc == 0, err


def publish_list(a, path):
    r = a.inst.get("/api/v1/seal-status-list", a.cred["auditor"])
    assert r.status_code == 200, r.text
    path.write_text(r.text)


def test_foreign_issuer_status_list(world, foreign):
    a, b = world, foreign
    esid = a.new_active_seal(seal_name="外部签发状态章")
    text = "关于外部状态的函\n".encode() * 8
    sig, _ = signed_text(a, esid, text)
    esl = a.inst.get(f"/api/v1/seals/{esid}/file", a.cred["applicant"]).content
    seal_body = {"seal": b64(esl)}
    sig_body = {"signature": b64(sig), "document": b64(text)}

    # no list yet: the issuer's status cannot be known
    rep = api(b, "/api/v1/verify/seal", seal_body)
    assert outcome(rep) == ("INDETERMINATE", "TRY_LATER"), rep["checks"]
    assert "status list of issuer-a" in rep["checks"]["seal_status"]["reason"]

    # a list signed by someone else (B's own list, valid in B's eyes) is
    # not the issuer's
    publish_list(b, b.list_file)
    rep = api(b, "/api/v1/verify/seal", seal_body)
    assert outcome(rep) == ("INDETERMINATE", "TRY_LATER"), rep["checks"]
    assert "pinned" in rep["checks"]["seal_status"]["reason"]

    publish_list(a, b.list_file)
    rep = api(b, "/api/v1/verify/seal", seal_body)
    assert outcome(rep) == ("TOTAL_PASSED", None), rep["checks"]
    assert rep["seald_status"]["source"] == "issuer_status_list"
    assert rep["seald_status"]["issuer_anchor"] == "issuer-a"
    assert rep["seald_status"]["state_now"] == "active"

    time.sleep(1.1)                    # the list has whole seconds too
    revoke(a, esid)
    publish_list(a, b.list_file)
    rep = api(b, "/api/v1/verify/seal", seal_body)
    assert outcome(rep) == ("TOTAL_FAILED", "REVOKED"), rep["checks"]
    assert rep["seald_status"]["state_now"] == "revoked"
    # a signature made before: B has no proof of when it existed
    rep = api(b, "/api/v1/verify", sig_body)
    assert outcome(rep) == ("INDETERMINATE", "REVOKED_NO_POE"), rep["checks"]
    # ... while A, which recorded it, still has the proof
    rep = api(a, "/api/v1/verify", sig_body)
    assert outcome(rep) == ("TOTAL_PASSED", None), rep["checks"]

    # a list signed by someone else replaces nothing
    publish_list(b, b.list_file)
    rep = api(b, "/api/v1/verify/seal", seal_body)
    assert outcome(rep) == ("TOTAL_FAILED", "REVOKED"), rep["checks"]
