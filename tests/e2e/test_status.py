"""Issue 17, items 1 and 4: the public, signed seal status statement (the
seal equivalent of an OCSP response) at GET /status/{esid} and GET
/status/sm3/{sm3}, against the real daemon: each state a seal can be in,
unknown seals, content negotiation, HTTP caching (max-age, ETag, 304), a
change made behind the node's back (as another node sharing the database
would), the switch, the rate limits, an instance without a status key, and
the SM3 of older seals filled in at start-up.  openssl checks every
signature independently: the TBS bytes and the signature cut out of the DER
with `openssl asn1parse`, the status certificate's key from `openssl x509`,
the SM2 signature with `openssl pkeyutl -verify`, and the certificate's
chain to the instance's local CA with `openssl verify`."""
import base64
import calendar
import hashlib
import os
import re
import subprocess
import time

import pytest

from conftest import Instance, assert_error, run_seald
from test_seals import Seals, openssl

SM2_ID = "1234567812345678"     # SM2_DEFAULT_ID (include/format/sm2.h)
DER_TYPE = "application/seald-status+der"


def sm3(data):
    return hashlib.new("sm3", data).hexdigest()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    inst = Instance(tmp_path_factory.mktemp("status") / "inst")
    inst.start("--set", "status.rate_limit_burst=100000",
               "--set", "status.rate_limit_rps=100000")
    w = Seals(inst)
    yield w
    rc, _, err = inst.stop()
    assert rc == 0, err


def status(w, path, **headers):
    """GET a status route with no credential at all."""
    return w.inst.get(path, headers=headers)


def statement(w, esid):
    r = status(w, f"/status/{esid}")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    return r.json()


def seal_file(w, esid):
    r = w.inst.get(f"/api/v1/seals/{esid}/file", w.cred["applicant"])
    assert r.status_code == 200, r.text
    return r.content


def act(w, esid, what, who, **body):
    r = w.inst.post(f"/api/v1/seals/{esid}/{what}", w.cred[who],
                    json=body or {"reason": f"{what} by {who}"})
    assert r.status_code == 200, r.text


def write_sql(inst, query, *params):
    """Change the database behind the daemon (as another node would), on
    either dialect (inst.sql commits)."""
    inst.sql(query, *params)


def rfc3339(t):
    return calendar.timegm(time.strptime(t, "%Y-%m-%dT%H:%M:%SZ"))


def asn1(path, *args):
    """`openssl asn1parse` of a DER file: [(offset, header len, len, text)]."""
    out = openssl("asn1parse", "-inform", "DER", "-in", path, *args).decode()
    rows = []
    for line in out.splitlines():
        m = re.match(r"\s*(\d+):d=(\d+)\s+hl=(\d+)\s+l=\s*(\d+)\s+(.*)", line)
        if m:
            rows.append((int(m.group(1)), int(m.group(2)), int(m.group(3)),
                         int(m.group(4)), m.group(5)))
    return rows


class bare_world:
    """What openssl_check needs of an instance without the Seals helpers."""

    def __init__(self, inst):
        self.inst = inst


def openssl_check(w, der, tmp, tamper=False):
    """Verify a statement with openssl alone; returns openssl's verdict on
    the signature (True/False) after checking the signer chains to the
    local CA.  tamper flips a byte of the TBS first."""
    os.makedirs(tmp, exist_ok=True)
    st = os.path.join(tmp, "status.der")
    with open(st, "wb") as f:
        f.write(der)
    rows = asn1(st)
    # SEQUENCE { tbs SEQUENCE, AlgorithmIdentifier, BIT STRING }
    top = [r for r in rows if r[1] == 1]
    assert len(top) == 3, rows
    tbs, alg, sig = top
    assert "SM2-with-SM3" in [r for r in rows if r[0] > alg[0]][0][4]
    assert "BIT STRING" in sig[4]
    tbs_path = os.path.join(tmp, "tbs.der")
    openssl("asn1parse", "-inform", "DER", "-in", st, "-offset",
            str(tbs[0]), "-length", str(tbs[2] + tbs[3]), "-out", tbs_path,
            "-noout")
    sig_path = os.path.join(tmp, "sig.der")
    openssl("asn1parse", "-inform", "DER", "-in", st, "-strparse",
            str(sig[0]), "-out", sig_path, "-noout")
    # the signer's certificate: the last element of the TBS
    cert = [r for r in rows if r[1] == 2 and r[0] < alg[0]][-1]
    cert_der = os.path.join(tmp, "cert.der")
    openssl("asn1parse", "-inform", "DER", "-in", st, "-offset",
            str(cert[0]), "-length", str(cert[2] + cert[3]), "-out",
            cert_der, "-noout")
    cert_pem = os.path.join(tmp, "cert.pem")
    openssl("x509", "-inform", "DER", "-in", cert_der, "-out", cert_pem)
    pub = os.path.join(tmp, "pub.pem")
    with open(pub, "wb") as f:
        f.write(openssl("x509", "-in", cert_pem, "-pubkey", "-noout"))
    ca = os.path.join(w.inst.dir, "trust", "local-ca.pem")
    out = openssl("verify", "-vfyopt", f"distid:{SM2_ID}", "-CAfile", ca,
                  cert_pem)
    assert out.decode().strip().endswith("OK"), out
    if tamper:
        data = bytearray(open(tbs_path, "rb").read())
        data[12] ^= 0x01
        with open(tbs_path, "wb") as f:
            f.write(data)
    v = subprocess.run(["openssl", "pkeyutl", "-verify", "-rawin", "-digest",
                        "sm3", "-pubin", "-inkey", pub, "-pkeyopt",
                        f"distid:{SM2_ID}", "-in", tbs_path, "-sigfile",
                        sig_path], capture_output=True)
    return v.returncode == 0 and b"Verified Successfully" in v.stdout


def test_active_seal(world, tmp_path):
    w = world
    esid = w.new_active_seal(seal_name="状态章")
    h = sm3(seal_file(w, esid))
    before = time.time()
    r = status(w, f"/status/{esid}")
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["type"] == "seald-seal-status" and s["version"] == 1
    assert s["es_id"] == esid and s["seal_sm3"] == h
    assert s["status"] == "active"
    assert s["status_time"] is None and s["reason"] is None
    assert s["signature_algorithm"] == "1.2.156.10197.1.501"
    assert s["sm2_id"] == SM2_ID
    tu, nu = rfc3339(s["this_update"]), rfc3339(s["next_update"])
    assert before - 2 <= tu <= time.time() + 1
    assert nu - tu == 3600                       # status.validity_seconds
    # HTTP caching: public, bounded by max_age_seconds and nextUpdate
    m = re.fullmatch(r"public, max-age=(\d+)", r.headers["Cache-Control"])
    assert m and 0 < int(m.group(1)) <= 300, r.headers
    assert r.headers["ETag"] == '"%s"' % sm3(r.content)
    assert "Accept" in r.headers["Vary"]
    # the same statement by the seal file's SM3, and as DER: the node
    # signed it once, so the DER is the one the JSON carries
    by_hash = status(w, f"/status/sm3/{h}")
    assert by_hash.status_code == 200
    assert by_hash.json()["es_id"] == esid
    d = status(w, f"/status/{esid}", Accept=DER_TYPE)
    assert d.status_code == 200
    assert d.headers["Content-Type"] == DER_TYPE
    assert d.content == base64.b64decode(s["der"])
    assert d.headers["ETag"] == '"%s"' % sm3(d.content)
    assert d.headers["ETag"] != r.headers["ETag"]
    assert openssl_check(w, d.content, str(tmp_path / "ok"))
    # a changed TBS byte does not verify: the check is real
    assert not openssl_check(w, d.content, str(tmp_path / "bad"),
                             tamper=True)
    # the DER holds the fields of the JSON view
    rows = asn1(str(tmp_path / "ok" / "status.der"))
    texts = [r[4] for r in rows]
    assert any(esid in t for t in texts)
    assert any(h.upper() in t for t in texts)
    assert any(t.startswith("prim: ENUMERATED") and t.endswith(":00")
               for t in texts)


def test_lost_then_revoked(world, tmp_path):
    w = world
    esid = w.new_active_seal(seal_name="挂失章")
    assert statement(w, esid)["status"] == "active"
    t0 = time.time()
    act(w, esid, "loss", "custodian")
    s = statement(w, esid)
    assert s["status"] == "lost"
    assert s["reason"] == "keyCompromise" and s["reason_code"] == 1
    assert t0 - 2 <= rfc3339(s["status_time"]) <= time.time() + 1
    r = w.inst.post(f"/api/v1/seals/{esid}/loss/resolve", w.cred["reviewer"],
                    json={"outcome": "revoke", "reason": "not found"})
    assert r.status_code == 200, r.text
    t1 = time.time()
    s = statement(w, esid)
    assert s["status"] == "revoked"
    assert s["reason"] == "keyCompromise" and s["reason_code"] == 1
    assert t0 - 2 <= rfc3339(s["status_time"]) <= t1 + 1
    der = base64.b64decode(s["der"])
    assert openssl_check(w, der, str(tmp_path / "rev"))
    texts = [r[4] for r in asn1(str(tmp_path / "rev" / "status.der"))]
    assert any(t.startswith("prim: ENUMERATED") and t.endswith(":03")
               for t in texts)                   # revoked(3)
    assert any("cont [ 1 ]" in t for t in texts)  # reason present


def test_suspended_and_resumed(world):
    w = world
    esid = w.new_active_seal(seal_name="停用章")
    act(w, esid, "suspend", "secadmin")
    s = statement(w, esid)
    assert s["status"] == "suspended"
    assert s["reason"] == "certificateHold" and s["reason_code"] == 6
    assert s["status_time"] is not None
    act(w, esid, "resume", "secadmin")
    s = statement(w, esid)
    assert s["status"] == "active" and s["reason"] is None


def test_unknown_is_signed(world, tmp_path):
    w = world
    s = statement(w, "23019999999999")
    assert s["status"] == "unknown"
    assert s["es_id"] == "23019999999999" and s["seal_sm3"] is None
    assert s["status_time"] is None and s["reason"] is None
    assert openssl_check(w, base64.b64decode(s["der"]),
                         str(tmp_path / "u1"))
    h = sm3(b"no such seal")
    r = status(w, f"/status/sm3/{h}")
    assert r.status_code == 200
    s = r.json()
    assert s["status"] == "unknown"
    assert s["es_id"] is None and s["seal_sm3"] == h
    assert openssl_check(w, base64.b64decode(s["der"]),
                         str(tmp_path / "u2"))
    # a path that cannot name a seal is not a question about one
    for bad in ("/status/sm3/" + h.upper(), "/status/sm3/abc",
                "/status/sm3/" + h + "00", "/status/a%20b"):
        assert_error(status(w, bad), 404, "not_found")


def test_etag_and_304(world):
    w = world
    esid = w.new_active_seal(seal_name="缓存章")
    r = status(w, f"/status/{esid}")
    etag = r.headers["ETag"]
    r2 = status(w, f"/status/{esid}", **{"If-None-Match": etag})
    assert r2.status_code == 304
    assert r2.content == b""
    assert r2.headers["ETag"] == etag
    assert r2.headers["Cache-Control"].startswith("public, max-age=")
    # a list, a weak form: still a match; another tag is not
    r3 = status(w, f"/status/{esid}",
                **{"If-None-Match": '"00", W/' + etag})
    assert r3.status_code == 304
    r4 = status(w, f"/status/{esid}", **{"If-None-Match": '"00"'})
    assert r4.status_code == 200 and r4.headers["ETag"] == etag
    # a change of state makes a new statement: the old tag no longer holds
    act(w, esid, "suspend", "secadmin")
    r5 = status(w, f"/status/{esid}", **{"If-None-Match": etag})
    assert r5.status_code == 200
    assert r5.json()["status"] == "suspended"
    assert r5.headers["ETag"] != etag


def test_change_by_another_node_is_seen_at_once(world):
    """Several nodes share one database: a revocation written by another
    node (here: straight into the database, behind this node's back) is
    answered at once, although this node holds the old statement."""
    w = world
    esid = w.new_active_seal(seal_name="多节点章")
    first = statement(w, esid)
    assert first["status"] == "active"
    assert statement(w, esid)["der"] == first["der"]      # served cached
    now_ms = int(time.time() * 1000)
    write_sql(w.inst, "UPDATE seals SET state = 'revoked', "
              "state_since_ms = ?, reason_code = 'key_compromise' "
              "WHERE esid = ?", now_ms, esid)
    s = statement(w, esid)
    assert s["status"] == "revoked" and s["reason"] == "keyCompromise"
    assert rfc3339(s["status_time"]) == now_ms // 1000


def test_no_credential_and_not_audited(world):
    w = world
    before = len(w.inst.audit())
    r = w.inst.get("/status/23019999999998",
                   headers={"Authorization": "Bearer nonsense"})
    assert r.status_code == 200 and r.json()["status"] == "unknown"
    assert len(w.inst.audit()) == before


def test_hashes_of_older_seals_filled_at_start(world):
    """A seal made before migration 010 has no recorded SM3: the daemon
    fills it in at start-up, and the seal is then found by its hash."""
    w = world
    esid = w.new_active_seal(seal_name="旧章")
    h = sm3(seal_file(w, esid))
    write_sql(w.inst, "UPDATE seals SET seal_sm3 = NULL WHERE esid = ?", esid)
    assert status(w, f"/status/sm3/{h}").json()["status"] == "unknown"
    rc, _, err = w.inst.stop()
    assert rc == 0, err
    w.inst.start("--set", "status.rate_limit_burst=100000",
                 "--set", "status.rate_limit_rps=100000")
    s = status(w, f"/status/sm3/{h}").json()
    assert s["status"] == "active" and s["es_id"] == esid
    assert w.inst.sql("SELECT seal_sm3 FROM seals WHERE esid = ?",
                      esid) == [(h,)]


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    """An instance with no seals, restarted with each setting to test."""
    inst = Instance(tmp_path_factory.mktemp("status-bare") / "inst")
    yield inst
    if inst.proc is not None:
        rc, _, err = inst.stop()
        assert rc == 0, err


def restart(inst, *sets):
    if inst.proc is not None:
        rc, _, err = inst.stop()
        assert rc == 0, err
    args = []
    for s in ("server.refusal_delay_ms=0",) + sets:
        args += ["--set", s]
    inst.start(*args)


def test_switch_off_is_404(bare):
    restart(bare, "public.status=no")
    for path in ("/status/23010000000001", "/status/sm3/" + "0" * 64):
        assert_error(bare.get(path), 404, "not_found")
    restart(bare)
    assert bare.get("/status/23010000000001").status_code == 200


def test_rate_limit_per_address(bare):
    restart(bare, "status.rate_limit_rps=1", "status.rate_limit_burst=3")
    codes = [bare.get(f"/status/2301000000000{i}") for i in range(5)]
    assert [r.status_code for r in codes[:3]] == [200, 200, 200]
    assert_error(codes[3], 429, "rate_limited")
    assert int(codes[3].headers["Retry-After"]) >= 1


def test_rate_limit_global(bare):
    restart(bare, "status.global_rate_limit_rps=1",
            "status.global_rate_limit_burst=2")
    codes = [bare.get(f"/status/2301000000000{i}").status_code
             for i in range(4)]
    assert codes[:2] == [200, 200] and 429 in codes[2:]


def test_instance_without_status_key(bare):
    """An instance made before status keys existed: a clear refusal that
    says where to read how to add one."""
    restart(bare)
    write_sql(bare, "DELETE FROM authority WHERE role = 'status'")
    r = bare.get("/status/23010000000001")
    assert_error(r, 503, "unavailable")
    assert "status key" in r.json()["error"]["message"]
    assert "manual" in r.json()["error"]["message"]


def test_status_key_added_to_older_instance(bare, tmp_path):
    """`seald status-key` gives such an instance its key: generated in the
    local CA's token, certified by the local CA, used by the running
    daemon at once (the development token sees key files another process
    wrote) and after a restart; only once."""
    write_sql(bare, "DELETE FROM authority WHERE role = 'status'")
    assert bare.get("/status/23010000000001").status_code == 503
    out = run_seald("status-key", "--config", bare.conf)
    assert out.returncode == 0, out.stderr
    m = re.search(r"status = (\S+/[0-9a-f]+)", out.stdout)
    assert m, out.stdout
    (ref,), = bare.sql("SELECT key_ref FROM authority WHERE role = 'status'")
    assert ref == m.group(1)
    assert bare.sql("SELECT count(*) FROM audit_log WHERE action = "
                    "'instance.status_key'") == [(1,)]
    r = bare.get("/status/23010000000001")
    assert r.status_code == 200, r.text
    assert openssl_check(bare_world(bare), base64.b64decode(r.json()["der"]),
                         str(tmp_path / "sk0"))
    restart(bare)
    r = bare.get("/status/23010000000001")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "unknown"
    assert openssl_check(bare_world(bare), base64.b64decode(r.json()["der"]),
                         str(tmp_path / "sk"))
    again = run_seald("status-key", "--config", bare.conf)
    assert again.returncode != 0 and "already" in again.stderr
    # the CLI's audit entry is in the chain like any other
    v = run_seald("audit", "verify", *bare.db_args, "--audit-key",
                  os.path.join(bare.dir, "audit-key.pem"))
    assert v.returncode == 0, v.stdout + v.stderr
