"""Issue 17 item 7, OCSP: the signer's and the seal maker's certificates
checked at their CA's OCSP responder, against the real daemon and a real
responder: `openssl ocsp -index index.txt` started by the test, over the
database of an `openssl ca` (SM2) that issues the certificates and revokes
some, signed by a delegated responder certificate (id-kp-OCSPSigning).

The trust anchor's sidecar names the responder (ocsp = URL), with
retry_seconds = 0 and ocsp_max_age = MAX_AGE seconds, so that the cache's
end is seen in seconds (the responder's nextUpdate is a minute away).

- a good certificate passes (source_type ocsp), and seal making asked the
  responder when the certificate came in;
- the responder stopped: the cached answer is used until ocsp_max_age,
  then INDETERMINATE / TRY_LATER;
- a response signed by another key under the CA's name, or by a
  responder certificate the CA did not issue: TRY_LATER, and seal making
  is refused with 503 unavailable;
- revoked after signing: with seald's usage record TOTAL_PASSED and the
  revocation reported, without INDETERMINATE / REVOKED_NO_POE; revoked
  before the signing time TOTAL_FAILED / REVOKED (API and CLI);
- seal making with a revoked certificate is refused (422, "OCSP of").

`openssl ocsp` reads its index again only before the request after the
one that follows a change, so the test restarts it after each revocation.
"""
import datetime
import os
import subprocess
import time

import pytest

from conftest import Instance, assert_error, free_port
from test_crl import SM2_ID, OpensslCA, cert_status, now_utc
from test_seals import Seals, openssl
from test_verify_status import api, b64, cli, outcome, signed_text, write_sql

MAX_AGE = 4        # ocsp_max_age of the sidecar, seconds


class OcspResponder:
    """`openssl ocsp` on a fixed port, signing with rsigner/rkey for the
    certificates of ca (its index.txt); stopped and started at will."""

    def __init__(self, ca, rsigner, rkey):
        self.ca, self.rsigner, self.rkey = ca, rsigner, rkey
        self.port = free_port()
        self.proc = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/"

    def start(self, rsigner=None, rkey=None):
        log = os.path.join(self.ca.d, "ocsp-%d.log" % self.port)
        with open(log, "w") as f:
            self.proc = subprocess.Popen(
                ["openssl", "ocsp", "-index",
                 os.path.join(self.ca.d, "index.txt"), "-CA", self.ca.crt,
                 "-rsigner", rsigner or self.rsigner,
                 "-rkey", rkey or self.rkey, "-rmd", "sm3", "-nmin", "1",
                 "-port", str(self.port)],
                stdout=subprocess.DEVNULL, stderr=f)
        # not a probe connection: the responder serves one connection at a
        # time and waits on one that sends nothing
        deadline = time.time() + 10
        while time.time() < deadline:
            assert self.proc.poll() is None, open(log).read()
            if "waiting for OCSP client" in open(log).read():
                return
            time.sleep(0.02)
        raise AssertionError("openssl ocsp did not listen")

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    def restart(self, **kw):
        self.stop()
        self.start(**kw)


def responder_cert(ca, name):
    """A delegated responder certificate of ca: (certificate, key)."""
    key = os.path.join(ca.d, name + ".key")
    csr = os.path.join(ca.d, name + ".csr")
    crt = os.path.join(ca.d, name + ".crt")
    ext = os.path.join(ca.d, name + ".ext")
    open(ext, "w").write("extendedKeyUsage = critical,OCSPSigning\n"
                         "keyUsage = critical,digitalSignature\n")
    openssl("genpkey", "-algorithm", "SM2", "-out", key)
    openssl("req", "-new", "-key", key, "-out", csr, "-subj",
            "/CN=OCSP responder", "-sm3", "-sigopt", "distid:" + SM2_ID)
    ca.ca("-in", csr, "-out", crt, "-notext", "-extfile", ext, "-sigopt",
          "distid:" + SM2_ID, "-vfyopt", "distid:" + SM2_ID)
    return crt, key


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("ocsp")
    ca = OpensslCA(base / "ca", "OCSP SM2 Root")
    rcrt, rkey = responder_cert(ca, "responder")
    rsp = OcspResponder(ca, rcrt, rkey)
    inst = Instance(base / "a")
    trust = os.path.join(inst.dir, "trust")
    open(os.path.join(trust, "ocspca.pem"), "w").write(open(ca.crt).read())
    open(os.path.join(trust, "ocspca.conf"), "w").write(
        "# the CA's OCSP responder\nocsp = %s\nretry_seconds = 0\n"
        "ocsp_max_age = %d\n" % (rsp.url, MAX_AGE))
    rsp.start()
    inst.start()
    w = Seals(inst)
    w.ca, w.rsp, w.base = ca, rsp, base
    yield w
    rsp.stop()
    rc, _, err = inst.stop()
    assert rc == 0, err


def csr_of_new_application(w, name):
    app = w.apply(seal_name=name)
    w.approve(app)
    r = w.inst.post(f"/api/v1/applications/{app}/csr", w.cred["maker"])
    assert r.status_code == 200, r.text
    return app, r.json()["data"]["csr_pem"]


def bring(w, app, crt):
    return w.inst.post(f"/api/v1/applications/{app}/certificate",
                       w.cred["maker"], json={"certificate": open(crt).read()})


def external_seal(w, name):
    """A seal whose certificate the CA issues, its responder told (it
    reads the index again only when restarted); (esid, certificate)."""
    app, csr = csr_of_new_application(w, name)
    crt = w.ca.issue(csr, "app%d" % app)
    w.rsp.restart()
    r = bring(w, app, crt)
    assert r.status_code == 201, r.text
    esid = r.json()["data"]["esid"]
    w.confirm(esid)
    return esid, crt


def sig_body(w, esid, text):
    sig, _ = signed_text(w, esid, text)
    return sig, {"signature": b64(sig), "document": b64(text)}


def test_good_cached_then_unreachable_then_forged(world):
    w = world
    esid, crt = external_seal(w, "OCSP良好测试章")
    fetched = time.time()          # the import asked the responder
    sig, body = sig_body(w, esid, "关于在线证书状态的函\n".encode() * 8)
    rep = api(w, "/api/v1/verify", body)
    assert outcome(rep) == ("TOTAL_PASSED", None), rep["checks"]
    cs = cert_status(rep)
    assert cs["status"] == "passed", cs
    assert cs["source_type"] == "ocsp" and cs["source"] == w.rsp.url, cs
    assert cs["anchor"] == "ocspca" and "next_update" in cs, cs

    # the responder goes away: the answer held serves until ocsp_max_age
    w.rsp.stop()
    rep = api(w, "/api/v1/verify", body)
    assert time.time() - fetched < MAX_AGE, "too slow to see the cache"
    assert outcome(rep) == ("TOTAL_PASSED", None), rep["checks"]
    assert cert_status(rep)["status"] == "passed"
    time.sleep(max(0.0, fetched + MAX_AGE + 0.2 - time.time()))
    rep = api(w, "/api/v1/verify", body)
    assert outcome(rep) == ("INDETERMINATE", "TRY_LATER"), rep["checks"]
    cs = cert_status(rep)
    assert cs["status"] == "indeterminate", cs
    assert "OCSP " + w.rsp.url in cs["reason"], cs
    assert "connect" in cs["reason"].lower(), cs

    # back, but signing with another key under the CA's own name
    imp = OpensslCA(w.base / "impostor", "OCSP SM2 Root")
    w.rsp.start(rsigner=imp.crt, rkey=imp.key)
    try:
        rep = api(w, "/api/v1/verify", body)
        assert outcome(rep) == ("INDETERMINATE", "TRY_LATER"), rep["checks"]
        assert "OCSP response signature does not verify" in \
            cert_status(rep)["reason"], cert_status(rep)
        # and signing as a responder of its own, which the CA never named
        rogue = OpensslCA(w.base / "rogue", "Rogue OCSP Responder")
        w.rsp.restart(rsigner=rogue.crt, rkey=rogue.key)
        rep = api(w, "/api/v1/verify", body)
        assert outcome(rep) == ("INDETERMINATE", "TRY_LATER"), rep["checks"]
        assert "responder certificate not issued by the certificate's CA" \
            in cert_status(rep)["reason"], cert_status(rep)
        # seal making cannot learn the certificate's status: 503
        app, csr = csr_of_new_application(w, "OCSP伪造应答制章")
        r = bring(w, app, w.ca.issue(csr, "forged%d" % app))
        err = assert_error(r, 503, "unavailable")
        assert "OCSP" in err["message"], err
    finally:
        w.rsp.restart()
    # the real responder again
    rep = api(w, "/api/v1/verify", body)
    assert outcome(rep) == ("TOTAL_PASSED", None), rep["checks"]


def test_revoked_certificates(world, tmp_path):
    w = world
    after, crt_after = external_seal(w, "OCSP事后吊销章")
    before, crt_before = external_seal(w, "OCSP事前吊销章")
    fetched = time.time()
    text = "关于证书吊销的函\n".encode() * 8
    sig_a, body_a = sig_body(w, after, text)
    _, body_b = sig_body(w, before, text)
    time.sleep(1.1)          # whole seconds: after the signing time
    # crt_before revoked yesterday (before its signature), crt_after now
    w.ca.revoke(crt_before, "superseded")
    w.ca.backdate_revocations(now_utc() - datetime.timedelta(days=1))
    w.ca.revoke(crt_after, "keyCompromise")
    w.rsp.restart()
    # the good answers held expire after ocsp_max_age
    time.sleep(max(0.0, fetched + MAX_AGE + 0.2 - time.time()))

    rep = api(w, "/api/v1/verify", body_a)
    assert outcome(rep) == ("TOTAL_PASSED", None), rep["checks"]
    cs = cert_status(rep)
    assert cs["status"] == "passed" and cs["source_type"] == "ocsp", cs
    assert cs["revocation_reason"] == "keyCompromise", cs
    assert "after the signature's proof of existence" in cs["reason"], cs

    sid = rep["seald_status"]["proof_of_existence"]["signature_id"]
    assert write_sql(w.inst, "DELETE FROM signatures WHERE id = ?", sid) == 1
    rep = api(w, "/api/v1/verify", body_a)
    assert outcome(rep) == ("INDETERMINATE", "REVOKED_NO_POE"), rep["checks"]

    rep = api(w, "/api/v1/verify", body_b)
    assert outcome(rep) == ("TOTAL_FAILED", "REVOKED"), rep["checks"]
    cs = cert_status(rep)
    assert cs["revocation_reason"] == "superseded", cs
    assert "before the signing time" in cs["reason"], cs
    # the CLI, a process of its own, asks the responder itself
    (tmp_path / "sig.dat").write_bytes(sig_a)
    (tmp_path / "doc.txt").write_bytes(text)
    j, _ = cli("verify-file", "--signature", tmp_path / "sig.dat", "--data",
               tmp_path / "doc.txt", "--instance", w.inst.dir, code=2)
    assert outcome(j) == ("INDETERMINATE", "REVOKED_NO_POE"), j["checks"]
    assert j["checks"]["certificate_status"]["signer"]["source_type"] == \
        "ocsp"

    # seal making with a certificate revoked before it is brought in
    app, csr = csr_of_new_application(w, "OCSP吊销证书制章")
    crt = w.ca.issue(csr, "refused%d" % app)
    w.ca.revoke(crt, "cessationOfOperation")
    w.rsp.restart()
    r = bring(w, app, crt)
    err = assert_error(r, 422, "invalid_argument")
    assert "revoked by its CA (OCSP of" in err["message"], err
    assert "cessationOfOperation" in err["message"], err
    assert w.inst.sql("SELECT count(*) FROM seals WHERE application_id = ?",
                      app)[0][0] == 0
