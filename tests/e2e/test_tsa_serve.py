"""Issue 17 item 8, second half: seald as a TSA itself (POST /tsa,
RFC 3161 over HTTP), its key in the token.

- `openssl ts -query -sm3 -cert` posted as application/timestamp-query:
  a granted reply (`openssl ts -reply -text`) with genTime, our policy,
  the query's nonce and imprint, a 128-bit serial;
- `openssl ts -verify` checks the token on its own (signature over the
  signed attributes, imprint, ESS signingCertificateV2, EKU timeStamping)
  with the TSA certificate as its anchor, and `openssl verify` with the
  GM/T 0009 SM2 ID checks that certificate's chain to the instance CA
  (OpenSSL 3.0's `ts -verify` has no -vfyopt to give the SM2 ID);
- refusals: another Content-Type 415, a body over 4 KiB 413, a query
  that is not one or asks for SHA-1 a rejection reply (HTTP 200, RFC
  3161); the switch off (the default) 404;
- a seald signature timestamped by seald's own TSA (tsa.url pointing at
  itself, anchors = the instance CA) verifies with its timestamp;
- an instance made before (no 'tsa' authority): 503 naming `seald
  tsa-key`, which adds the key once (audited), and /tsa grants again;
- the per-address rate limit: 429 with Retry-After.
"""
import base64
import os
import re
import subprocess

import pytest

import conftest
from conftest import Instance, assert_error, free_port, run_seald
from openapi_check import check_response
from test_seals import Seals
from test_signing import approve, doc, sign, submit

QUERY_TYPE = "application/timestamp-query"
POLICY = "2.25.18551139004563584666853997275230504503"  # the default
SM2_ID = "1234567812345678"


def openssl(*args):
    out = subprocess.run(["openssl", *[str(a) for a in args]],
                         capture_output=True)
    assert out.returncode == 0, out.stderr.decode()
    return out.stdout.decode(errors="replace")


@pytest.fixture(scope="module")
def inst(tmp_path_factory):
    base = tmp_path_factory.mktemp("tsa-serve")
    inst = Instance(base / "inst")
    port = free_port()
    orig = conftest.free_port
    conftest.free_port = lambda: port        # the url names our own port
    try:
        inst.start("--set", "public.tsa=yes",
                   "--set", f"tsa.url=http://127.0.0.1:{port}/tsa",
                   "--set", "tsa.policy=required",
                   "--set", "tsa.anchors_dir=" + os.path.join(inst.dir,
                                                              "trust"),
                   plain=True)
    finally:
        conftest.free_port = orig
    yield inst
    rc, _, err = inst.stop()
    assert rc == 0, err


def ask(inst, query, ctype=QUERY_TYPE):
    r = inst.post("/tsa", data=query, headers={"Content-Type": ctype})
    check_response("/tsa", "post", r)
    return r


def tsa_cert(inst, tmp):
    """The TSA certificate, PEM, as seald init recorded it."""
    (row,) = inst.sql("SELECT cert_der FROM authority WHERE role = 'tsa'")
    der = row[0] if isinstance(row, (tuple, list)) else row["cert_der"]
    (tmp / "tsa.der").write_bytes(bytes(der))
    openssl("x509", "-inform", "der", "-in", tmp / "tsa.der", "-out",
            tmp / "tsa.pem")
    return tmp / "tsa.pem"


def test_granted_reply_openssl_reads_and_verifies(inst, tmp_path):
    data = tmp_path / "doc.txt"
    data.write_bytes("关于时间戳服务的函\n".encode() * 10)
    openssl("ts", "-query", "-data", data, "-sm3", "-cert", "-out",
            tmp_path / "q.tsq")
    r = ask(inst, (tmp_path / "q.tsq").read_bytes())
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/timestamp-reply"
    (tmp_path / "r.tsr").write_bytes(r.content)
    text = openssl("ts", "-reply", "-in", tmp_path / "r.tsr", "-text")
    assert "Status: Granted." in text
    assert "Policy OID: " + POLICY in text
    assert "Hash Algorithm: sm3" in text
    assert "Time stamp: " in text
    qtext = openssl("ts", "-query", "-in", tmp_path / "q.tsq", "-text")
    nonce = [ln for ln in qtext.splitlines() if ln.startswith("Nonce:")]
    assert nonce and nonce[0] in text.splitlines()
    serial = [ln for ln in text.splitlines() if ln.startswith("Serial")]
    assert len(serial[0].split("0x")[1]) == 32        # 128 random bits
    # the token, on its own, against the TSA certificate
    pem = tsa_cert(inst, tmp_path)
    ok = openssl("ts", "-verify", "-in", tmp_path / "r.tsr", "-queryfile",
                 tmp_path / "q.tsq", "-CAfile", pem, "-partial_chain")
    assert "Verification: OK" in ok
    ok = openssl("ts", "-verify", "-in", tmp_path / "r.tsr", "-data", data,
                 "-CAfile", pem, "-partial_chain")
    assert "Verification: OK" in ok
    # and that certificate's chain to the instance CA, with the SM2 ID
    ca = os.path.join(inst.dir, "trust", "local-ca.pem")
    ok = openssl("verify", "-vfyopt", "distid:" + SM2_ID, "-purpose",
                 "timestampsign", "-CAfile", ca, pem)
    assert ": OK" in ok
    # another document: the same token does not verify
    (tmp_path / "other.txt").write_bytes(b"other")
    bad = subprocess.run(["openssl", "ts", "-verify", "-in",
                          str(tmp_path / "r.tsr"), "-data",
                          str(tmp_path / "other.txt"), "-CAfile", str(pem),
                          "-partial_chain"], capture_output=True)
    assert bad.returncode != 0


def test_sha256_without_cert_and_rejections(inst, tmp_path):
    data = tmp_path / "d.bin"
    data.write_bytes(b"x" * 100)
    openssl("ts", "-query", "-data", data, "-sha256", "-no_nonce", "-out",
            tmp_path / "q.tsq")
    r = ask(inst, (tmp_path / "q.tsq").read_bytes())
    assert r.status_code == 200
    (tmp_path / "r.tsr").write_bytes(r.content)
    text = openssl("ts", "-reply", "-in", tmp_path / "r.tsr", "-text")
    assert "Status: Granted." in text and "Nonce: unspecified" in text
    # certReq unset: no certificate in the token, so -untrusted gives it
    pem = tsa_cert(inst, tmp_path)
    ok = openssl("ts", "-verify", "-in", tmp_path / "r.tsr", "-data", data,
                 "-CAfile", pem, "-untrusted", pem, "-partial_chain")
    assert "Verification: OK" in ok
    # SHA-1: badAlg; junk: badDataFormat; both as TimeStampResp, HTTP 200
    openssl("ts", "-query", "-data", data, "-sha1", "-out",
            tmp_path / "q1.tsq")
    for query, fail in (((tmp_path / "q1.tsq").read_bytes(),
                         "unrecognized or unsupported algorithm identifier"),
                        (b"\x30\x03\x02\x01\x01",
                         "the data submitted has the wrong format")):
        r = ask(inst, query)
        assert r.status_code == 200, r.text
        (tmp_path / "rej.tsr").write_bytes(r.content)
        text = openssl("ts", "-reply", "-in", tmp_path / "rej.tsr", "-text")
        assert "Status: Rejected." in text, text
        assert fail in text, text


def test_http_refusals(inst):
    assert_error(inst.post("/tsa", json={"query": "x"}), 415, "unsupported")
    r = inst.post("/tsa", data=b"\x30\x00",
                  headers={"Content-Type": "application/octet-stream"})
    assert_error(r, 415, "unsupported")
    r = ask(inst, b"\x30" + b"\x00" * 5000)
    assert_error(r, 413, "payload_too_large")


def test_switch_off_by_default(seald):
    r = seald.post("/tsa", data=b"\x30\x00",
                   headers={"Content-Type": QUERY_TYPE})
    assert_error(r, 404, "not_found")


def test_signature_timestamped_by_seald_itself(inst, tmp_path):
    w = Seals(inst)
    w.esid = w.new_active_seal(seal_name="自签时间戳章")
    text = "本机时间戳\n".encode() * 5
    req = submit(w, [doc("letter.txt", text)])
    approve(w, req["id"])
    (res,) = sign(w, req["id"])["results"]
    assert res["status"] == "signed", res
    assert res["timestamp"]["status"] == "added", res
    sig = base64.b64decode(res["signature"])
    r = inst.post("/api/v1/verify", w.cred["verifier"],
                  json={"signature": base64.b64encode(sig).decode(),
                        "document": base64.b64encode(text).decode()})
    assert r.status_code == 200, r.text
    rep = r.json()["data"]
    assert rep["indication"] == "TOTAL_PASSED", rep
    ts = rep["checks"]["timestamp"]
    assert ts["status"] == "passed", ts
    assert "seald TSA" in str(ts), ts


def query_of(tmp_path):
    data = tmp_path / "d.txt"
    data.write_bytes(b"older instance")
    openssl("ts", "-query", "-data", data, "-sm3", "-cert", "-out",
            tmp_path / "q.tsq")
    return (tmp_path / "q.tsq").read_bytes()


def test_tsa_key_added_to_older_instance(inst, tmp_path):
    q = query_of(tmp_path)
    inst.sql("DELETE FROM authority WHERE role = 'tsa'")
    r = ask(inst, q)
    assert_error(r, 503, "unavailable")
    assert "seald tsa-key" in r.json()["error"]["message"]
    out = run_seald("tsa-key", "--config", inst.conf)
    assert out.returncode == 0, out.stderr
    m = re.search(r"tsa = (\S+/[0-9a-f]+)", out.stdout)
    assert m, out.stdout
    ((ref,),) = inst.sql("SELECT key_ref FROM authority WHERE role = 'tsa'")
    assert ref == m.group(1)
    assert inst.sql("SELECT count(*) FROM audit_log WHERE action = "
                    "'instance.tsa_key'") == [(1,)]
    # the running daemon uses it at once (the dev token sees the new key)
    r = ask(inst, q)
    assert r.status_code == 200, r.text
    (tmp_path / "r.tsr").write_bytes(r.content)
    pem = tsa_cert(inst, tmp_path)
    text = openssl("x509", "-in", pem, "-noout", "-ext", "extendedKeyUsage")
    assert "critical" in text and "Time Stamping" in text
    ok = openssl("ts", "-verify", "-in", tmp_path / "r.tsr", "-queryfile",
                 tmp_path / "q.tsq", "-CAfile", pem, "-partial_chain")
    assert "Verification: OK" in ok
    again = run_seald("tsa-key", "--config", inst.conf)
    assert again.returncode != 0 and "already" in again.stderr


def test_rate_limit_per_address(tmp_path):
    inst = Instance(tmp_path / "inst")
    inst.start("--set", "public.tsa=yes", "--set",
               "tsa.serve_rate_limit_rps=1", "--set",
               "tsa.serve_rate_limit_burst=2", "--set",
               "server.refusal_delay_ms=0")
    try:
        q = query_of(tmp_path)
        codes = [ask(inst, q) for _ in range(4)]
        assert [r.status_code for r in codes[:2]] == [200, 200]
        assert_error(codes[3], 429, "rate_limited")
        assert int(codes[3].headers["Retry-After"]) >= 1
    finally:
        rc, _, err = inst.stop()
        assert rc == 0, err
