"""Issue 17 item 8: timestamps (RFC 3161 / GM/T 0033) against the real
daemon and a real TSA: `openssl ts -reply` behind a small HTTP responder
this module starts, with a TSA key and certificate (extendedKeyUsage
timeStamping, critical) made here by openssl under a CA of its own.

- tsa.policy = required, TSA up: the signature carries a token in
  SES_Signature's timeStamp; `openssl ts -verify` checks it independently
  over the signature value; verification reports the timestamp check and
  its genTime, and takes genTime as the validation time;
- required, TSA down: signing is refused (503 tsa_unavailable) and nothing
  of the grant is used: the same request signs once the TSA is back;
- optional, TSA down: signed, and the result says there is no timestamp;
- a token of another signature (imprint) or with its TSA signature broken:
  TOTAL_FAILED;
- revoked after signing, with the timestamp before the revocation and no
  usage record: TOTAL_PASSED, the revocation reported, the timestamp the
  proof of existence (item 6); the CLI with --instance says the same.
"""
import base64
import hashlib
import http.server
import os
import re
import shutil
import subprocess
import threading

import pytest

from conftest import Instance, assert_error, free_port, run_seald
from revoked import move_revocation, revoke, write_sql
from test_seals import Seals
from test_signing import approve, doc, sign, submit

import json


def b64(data):
    return base64.b64encode(data).decode()


def openssl(*args, cwd=None):
    out = subprocess.run(["openssl", *[str(a) for a in args]],
                         capture_output=True, cwd=cwd)
    assert out.returncode == 0, out.stderr.decode()
    return out.stdout


EXT = """
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
[tsa_ext]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
"""

TSA_CNF = """
[tsa]
default_tsa = t
[t]
serial = {d}/serial
signer_cert = {d}/tsa.crt
signer_key = {d}/tsa.key
certs = {d}/tsa.crt
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sm3, sha256
accuracy = secs:1
ess_cert_id_alg = sha256
"""


def make_tsa(d):
    """A CA and a TSA under it, in directory d, both EC P-256: OpenSSL
    3.0's PKCS7 cannot sign with SM2, and its command line signs and checks
    SM2 certificates without the GM/T 0009 default SM2 ID that seald uses
    (so `openssl ts -verify` could not check an SM2 chain seald accepts)."""
    (d / "ext.cnf").write_text(EXT)
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out",
            d / "ca.key")
    openssl("req", "-new", "-key", d / "ca.key", "-subj",
            "/CN=Test TSA CA", "-out", d / "ca.csr")
    openssl("x509", "-req", "-in", d / "ca.csr", "-signkey", d / "ca.key",
            "-days", "30", "-extfile", d / "ext.cnf", "-extensions",
            "ca_ext", "-out", d / "ca.crt")
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out",
            d / "tsa.key")
    openssl("req", "-new", "-key", d / "tsa.key", "-subj", "/CN=Test TSA",
            "-out", d / "tsa.csr")
    openssl("x509", "-req", "-in", d / "tsa.csr", "-CA", d / "ca.crt",
            "-CAkey", d / "ca.key", "-CAcreateserial", "-days", "30",
            "-extfile", d / "ext.cnf", "-extensions", "tsa_ext", "-out",
            d / "tsa.crt")
    (d / "serial").write_text("01\n")
    (d / "tsa.cnf").write_text(TSA_CNF.format(d=d))


class Responder(http.server.BaseHTTPRequestHandler):
    """POST application/timestamp-query -> `openssl ts -reply`."""
    lock = threading.Lock()
    tsa_dir = None
    answered = 0

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        q = self.rfile.read(n)
        d = self.tsa_dir
        with Responder.lock:              # one serial file, one at a time
            (d / "q.tsq").write_bytes(q)
            out = subprocess.run(
                ["openssl", "ts", "-reply", "-config", str(d / "tsa.cnf"),
                 "-queryfile", str(d / "q.tsq"), "-out", str(d / "r.tsr")],
                capture_output=True)
            body = (d / "r.tsr").read_bytes() if out.returncode == 0 else b""
            Responder.answered += 1
        self.send_response(200 if body else 500)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


# ---- DER, just enough to take an SES_Signature apart ----

def tlv(b, off):
    """(tag, header length, content length) of the TLV at off."""
    tag, l = b[off], b[off + 1]
    if l < 0x80:
        return tag, 2, l
    k = l & 0x7f
    return tag, 2 + k, int.from_bytes(b[off + 2:off + 2 + k], "big")


def der_len(n):
    if n < 0x80:
        return bytes([n])
    s = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(s)]) + s


def children(der):
    tag, h, l = tlv(der, 0)
    assert tag == 0x30 and h + l == len(der)
    off, out = h, []
    while off < len(der):
        t, hh, ll = tlv(der, off)
        out.append(der[off:off + hh + ll])
        off += hh + ll
    return out


def content(el):
    _, h, l = tlv(el, 0)
    return el[h:h + l]


def sig_value(der):
    """The value of SES_Signature's signature BIT STRING."""
    bits = children(der)[3]
    assert bits[0] == 0x03
    return content(bits)[1:]


def token_of(der):
    """The timeStamp token ([0] EXPLICIT BIT STRING), or None."""
    kids = children(der)
    if len(kids) < 5:
        return None
    assert kids[4][0] == 0xa0
    bits = content(kids[4])
    assert bits[0] == 0x03
    return content(bits)[1:]


def with_token(der, token):
    """der with its timeStamp replaced by token."""
    kids = children(der)[:4]
    bits = b"\x03" + der_len(len(token) + 1) + b"\x00" + token
    kids.append(b"\xa0" + der_len(len(bits)) + bits)
    body = b"".join(kids)
    return b"\x30" + der_len(len(body)) + body


# ---- the world ----

@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("tsa")
    tsa = base / "tsa"
    tsa.mkdir()
    make_tsa(tsa)
    Responder.tsa_dir = tsa
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Responder)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    inst = Instance(base / "inst")
    anchors = base / "inst" / "tsa-anchors"
    anchors.mkdir()
    shutil.copy(tsa / "ca.crt", anchors / "ca.pem")
    w = None
    try:
        w = TsaWorld(inst, tsa, f"http://127.0.0.1:{srv.server_port}/tsa",
                     f"http://127.0.0.1:{free_port()}/tsa", str(anchors))
        yield w
    finally:
        if inst.proc is not None:
            rc, _, err = inst.stop()
            assert rc == 0, err
        srv.shutdown()
        srv.server_close()


class TsaWorld:
    def __init__(self, inst, tsa, up, down, anchors):
        self.inst, self.tsa, self.up, self.down = inst, tsa, up, down
        self.anchors = anchors
        self.configure("required", up)
        inst.start()
        self.w = Seals(inst)
        self.esid = self.w.new_active_seal(seal_name="时间戳测试章")
        self.w.esid = self.esid

    def configure(self, policy, url):
        """[tsa] of seald.conf (the daemon and `--instance` read it)."""
        conf = open(self.inst.conf).read()
        head, sep, rest = conf.partition("\n[tsa]\n")
        assert sep, "seald.conf has no [tsa] section"
        section, nxt, tail = rest.partition("\n[")
        section = re.sub(r"(?m)^url =.*$", "url = " + url, section)
        section = re.sub(r"(?m)^policy =.*$", "policy = " + policy, section)
        section = re.sub(r"(?m)^anchors_dir =.*$",
                         "anchors_dir = " + self.anchors, section)
        open(self.inst.conf, "w").write(head + sep + section + nxt + tail)

    def restart(self, policy, url):
        rc, _, err = self.inst.stop()
        assert rc == 0, err
        self.configure(policy, url)
        self.inst.start()

    def sign_text(self, text, status=200):
        req = submit(self.w, [doc("letter.txt", text)])
        approve(self.w, req["id"])
        out = sign(self.w, req["id"], status=status)
        return req, out

    def verify(self, sig, text):
        r = self.inst.post("/api/v1/verify", self.w.cred["verifier"],
                           json={"signature": b64(sig), "document": b64(text)})
        assert r.status_code == 200, r.text
        return r.json()["data"]


def outcome(rep):
    return rep["indication"], rep["sub_indication"]


def test_required_signature_carries_a_token_openssl_verifies(world,
                                                             tmp_path):
    text = "关于时间戳的函\n".encode() * 20
    _, out = world.sign_text(text)
    (res,) = out["results"]
    assert res["status"] == "signed", res
    assert res["timestamp"]["status"] == "added", res
    sig = base64.b64decode(res["signature"])
    token = token_of(sig)
    assert token is not None
    # openssl, on its own: the token is over the signature value
    (tmp_path / "value.bin").write_bytes(sig_value(sig))
    (tmp_path / "token.der").write_bytes(token)
    ok = openssl("ts", "-verify", "-data", tmp_path / "value.bin", "-in",
                 tmp_path / "token.der", "-token_in", "-CAfile",
                 world.tsa / "ca.crt")
    assert b"Verification: OK" in ok
    text_out = openssl("ts", "-reply", "-in", tmp_path / "token.der",
                       "-token_in", "-token_out", "-text").decode()
    assert "Hash Algorithm: sm3" in text_out
    digest = hashlib.new("sm3", sig_value(sig)).hexdigest()
    (tmp_path / "other.bin").write_bytes(sig_value(sig) + b"x")
    bad = subprocess.run(["openssl", "ts", "-verify", "-data",
                          str(tmp_path / "other.bin"), "-in",
                          str(tmp_path / "token.der"), "-token_in",
                          "-CAfile", str(world.tsa / "ca.crt")],
                         capture_output=True)
    assert bad.returncode != 0          # the control: another value fails
    ok = openssl("ts", "-verify", "-digest", digest, "-in",
                 tmp_path / "token.der", "-token_in", "-CAfile",
                 world.tsa / "ca.crt")
    assert b"Verification: OK" in ok

    rep = world.verify(sig, text)
    assert outcome(rep) == ("TOTAL_PASSED", None), rep["checks"]
    ts = rep["checks"]["timestamp"]
    assert ts["status"] == "passed", ts
    assert ts["hash"] == "sm3" and "Test TSA" in ts["tsa"]
    assert ts["gen_time"] == res["timestamp"]["gen_time"]
    assert rep["validation_time_source"] == "timestamp"
    assert rep["validation_time"] == ts["gen_time"]
    # the stored signature is the timestamped one
    r = world.inst.get(f"/api/v1/signatures/{res['signature_id']}",
                       world.w.cred["custodian"])
    assert r.status_code == 200, r.text


def test_tampered_tokens_fail(world):
    a_text, b_text = b"first letter\n" * 30, b"second letter\n" * 30
    _, a = world.sign_text(a_text)
    _, b = world.sign_text(b_text)
    a_sig = base64.b64decode(a["results"][0]["signature"])
    b_sig = base64.b64decode(b["results"][0]["signature"])
    # a real token of another signature: its imprint is not this value's
    swapped = with_token(a_sig, token_of(b_sig))
    rep = world.verify(swapped, a_text)
    assert outcome(rep) == ("TOTAL_FAILED", "HASH_FAILURE"), rep["checks"]
    assert rep["checks"]["timestamp"]["status"] == "failed"
    assert rep["checks"]["timestamp"]["failure"] == "imprint"
    assert rep["checks"]["signature"]["status"] == "passed"
    # the TSA's signature broken (its last byte: the ECDSA value's s)
    tok = bytearray(token_of(a_sig))
    tok[-1] ^= 0x01
    broken = with_token(a_sig, bytes(tok))
    rep = world.verify(broken, a_text)
    assert outcome(rep) == ("TOTAL_FAILED", "SIG_CRYPTO_FAILURE"), \
        rep["checks"]
    assert rep["checks"]["timestamp"]["failure"] == "signature"


def test_required_tsa_down_refuses_and_uses_nothing(world):
    world.restart("required", world.down)
    try:
        text = b"refused while the TSA is down\n" * 10
        req, out = world.sign_text(text, status=503)
        assert out["error"]["code"] == "tsa_unavailable", out
        assert "tsa.policy = required" in out["error"]["message"]
        assert world.inst.sql("SELECT COUNT(*) FROM signatures WHERE "
                              "request_id = ?", req["id"])[0][0] == 0
    finally:
        world.restart("required", world.up)
    # the grant is whole: its one copy signs now
    (res,) = sign(world.w, req["id"])["results"]
    assert res["status"] == "signed" and res["timestamp"]["status"] == \
        "added", res
    (res2,) = sign(world.w, req["id"])["results"]
    assert res2["status"] == "error", res2     # and only once


def test_optional_tsa_down_signs_and_says_so(world):
    world.restart("optional", world.down)
    try:
        text = b"signed without a timestamp\n" * 10
        _, out = world.sign_text(text)
        (res,) = out["results"]
        assert res["status"] == "signed", res
        assert res["timestamp"]["status"] == "none", res
        assert res["timestamp"]["reason"], res
        sig = base64.b64decode(res["signature"])
        assert token_of(sig) is None
        rep = world.verify(sig, text)
        assert outcome(rep) == ("TOTAL_PASSED", None), rep["checks"]
        assert rep["checks"]["timestamp"]["status"] == "not_checked"
        assert rep["validation_time_source"] == "tbs_time_info"
    finally:
        world.restart("required", world.up)


def test_revoked_after_timestamp_is_passed(world, tmp_path):
    w = world.w
    esid = w.new_active_seal(seal_name="吊销时间戳章")
    text = "吊销前盖章\n".encode() * 10
    req = submit(w, [doc("letter.txt", text)], esid=esid)
    approve(w, req["id"])
    (res,) = sign(w, req["id"])["results"]
    assert res["timestamp"]["status"] == "added", res
    sig = base64.b64decode(res["signature"])
    # without seald's usage record only the timestamp proves the time
    assert write_sql(w.inst, "DELETE FROM signatures WHERE id = ?",
                     res["signature_id"]) == 1
    revoke(w, esid)
    # the revocation a minute after the signature (and its timestamp):
    # genTime and timeInfo have one-second resolution, and a change within
    # their second counts against the signature
    move_revocation(w, esid, by_ms=60000)
    rep = world.verify(sig, text)
    assert outcome(rep) == ("TOTAL_PASSED", None), json.dumps(rep, indent=1)
    st = rep["seald_status"]
    assert st["state_now"] == "revoked" and st["state_at_signing"] == "active"
    # the time basis is the earlier of genTime and the claimed timeInfo
    # (each to the end of its second: verify.c, facts_times), so a TSA
    # answering in the next second leaves the claim as the basis; the proof
    # of existence is the timestamp either way
    assert st["time_basis"] in ("timestamp", "tbs_time_info")
    assert st["proof_of_existence"]["kind"] == "timestamp"
    assert st["proof_of_existence"]["time"] == res["timestamp"]["gen_time"]
    assert "verified timestamp" in rep["checks"]["seal_status"]["reason"]
    # the CLI with the instance (its TSA anchors from seald.conf)
    (tmp_path / "sig.dat").write_bytes(sig)
    (tmp_path / "doc.txt").write_bytes(text)
    p = run_seald("verify-file", "--signature", str(tmp_path / "sig.dat"),
                  "--data", str(tmp_path / "doc.txt"), "--instance",
                  world.inst.dir)
    j = json.loads(p.stdout)
    assert p.returncode == 0, (p.stderr, j)
    assert outcome(j) == ("TOTAL_PASSED", None)
    assert j["seald_status"]["proof_of_existence"]["kind"] == "timestamp"

    # the same signature without its timestamp: a claim only
    bare = b"\x30" + der_len(sum(map(len, children(sig)[:4]))) + \
        b"".join(children(sig)[:4])
    rep = world.verify(bare, text)
    assert outcome(rep) == ("INDETERMINATE", "REVOKED_NO_POE"), rep["checks"]


def test_ofd_signature_is_timestamped(world):
    from ofdgen import ofd
    w = world.w
    req = submit(w, [doc("notice.ofd", ofd(1))])
    approve(w, req["id"])
    did = req["documents"][0]["id"]
    r = w.inst.post(f"/api/v1/sign-requests/{req['id']}/documents/{did}/"
                    "seal-ofd", w.cred["custodian"],
                    json={"position": {"mode": "page", "page": 0, "x": 20,
                                       "y": 20}})
    assert r.status_code == 200, r.text
    out = r.json()["data"]
    assert out["timestamp"]["status"] == "added", out["timestamp"]
    r = w.inst.post("/api/v1/verify/ofd", w.cred["verifier"],
                    json={"ofd": out["ofd"]})
    assert r.status_code == 200, r.text
    rep = r.json()["data"]
    assert rep["indication"] == "TOTAL_PASSED", rep
    (s,) = rep["signatures"]
    ts = s["ses"]["checks"]["timestamp"]
    assert ts["status"] == "passed", ts
    assert ts["gen_time"] == out["timestamp"]["gen_time"]
