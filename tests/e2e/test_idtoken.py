"""Issue 18 items 1-3: persons' identity tokens (统一身份认证) and portals
acting for them, against the real daemon.

The tests play the identity platform: they make EC P-256, RSA and SM2 key
pairs (SM2 with the openssl command, as python's cryptography has no SM2),
write the JWKS file the [issuer.province] section names, and mint tokens
with the standard claims.  The portal is a system account authenticated by
its client certificate (mTLS).  Every refusal is asserted with its stable
error code and its audit row.
"""
import base64
import json
import os
import subprocess
import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import \
    decode_dss_signature

from conftest import Instance, assert_error
from openapi_check import check_response

ISS = "https://id.test.gov.cn"
AUD = "seald-portal-test"
HDR = "X-Seald-Person-Token"


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def openssl(*args, **kw):
    out = subprocess.run(["openssl", *args], capture_output=True, **kw)
    assert out.returncode == 0, out.stderr
    return out.stdout


class Platform:
    """The identity platform: keys, a JWKS file and a token mint."""

    def __init__(self, d):
        self.d = d
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.ec_other = ec.generate_private_key(ec.SECP256R1())
        self.rsa = rsa.generate_private_key(public_exponent=65537,
                                            key_size=2048)
        self.sm2_key = os.path.join(d, "sm2.key")
        openssl("genpkey", "-algorithm", "SM2", "-out", self.sm2_key)
        spki = openssl("pkey", "-in", self.sm2_key, "-pubout", "-outform",
                       "DER")
        point = spki[-65:]
        assert point[0] == 4
        ecn = self.ec.public_key().public_numbers()
        rsn = self.rsa.public_key().public_numbers()
        keys = [
            {"kty": "EC", "crv": "P-256", "kid": "ec1", "use": "sig",
             "alg": "ES256", "x": b64u(ecn.x.to_bytes(32, "big")),
             "y": b64u(ecn.y.to_bytes(32, "big"))},
            {"kty": "RSA", "kid": "rsa1", "use": "sig", "alg": "RS256",
             "n": b64u(rsn.n.to_bytes(256, "big")),
             "e": b64u(rsn.e.to_bytes(3, "big"))},
            {"kty": "EC", "crv": "SM2", "kid": "sm2", "use": "sig",
             "alg": "SM2", "x": b64u(point[1:33]), "y": b64u(point[33:])},
        ]
        self.jwks = os.path.join(d, "jwks.json")
        with open(self.jwks, "w") as f:
            json.dump({"keys": keys}, f)

    def sign(self, alg, msg, key=None):
        if alg == "ES256":
            der = (key or self.ec).sign(msg, ec.ECDSA(hashes.SHA256()))
            r, s = decode_dss_signature(der)
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        if alg == "RS256":
            return self.rsa.sign(msg, padding.PKCS1v15(), hashes.SHA256())
        if alg == "SM2":
            m = os.path.join(self.d, "msg")
            with open(m, "wb") as f:
                f.write(msg)
            der = openssl("dgst", "-sm3", "-sign", self.sm2_key, "-sigopt",
                          "distid:1234567812345678", m)
            r, s = decode_dss_signature(der)
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        raise AssertionError(alg)

    def realg(self, alg):
        """A good ES256 token with its header's alg replaced."""
        _, body, sig = self.token("alice-sub").split(".")
        hdr = b64u(json.dumps({"alg": alg, "kid": "ec1"}).encode())
        return hdr + "." + body + "." + sig

    def token(self, sub, alg="ES256", kid=None, key=None, **claims):
        now = int(time.time())
        body = {"iss": ISS, "aud": AUD, "sub": sub, "iat": now - 5,
                "exp": now + 300, "name": "display name is never used"}
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        hdr = {"alg": alg, "typ": "JWT",
               "kid": kid or {"ES256": "ec1", "RS256": "rsa1",
                              "SM2": "sm2"}.get(alg, "ec1")}
        si = (b64u(json.dumps(hdr).encode()) + "." +
              b64u(json.dumps(body).encode()))
        if alg == "none":
            return si + "."
        return si + "." + b64u(self.sign(alg, si.encode(), key))


def make_ca(d):
    key, crt = os.path.join(d, "ca.key"), os.path.join(d, "ca.crt")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
            "-days", "30", "-subj", "/C=CN/O=Portal CA/CN=Portal CA Root")
    return key, crt


def make_client(d, ca, name):
    key, csr = os.path.join(d, name + ".key"), os.path.join(d, name + ".csr")
    crt = os.path.join(d, name + ".crt")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", key, "-out", csr, "-subj",
            f"/C=CN/O=Heilongjiang Portal/CN={name}")
    openssl("x509", "-req", "-in", csr, "-CA", ca[1], "-CAkey", ca[0],
            "-CAcreateserial", "-out", crt, "-days", "30")
    return crt, key


def dn(crt, which):
    return openssl("x509", "-in", crt, "-noout", "-" + which, "-nameopt",
                   "RFC2253").decode().split("=", 1)[1].strip()


class World:
    def __init__(self, inst, d):
        self.inst = inst
        self.platform = Platform(d)
        with open(inst.conf, "a") as f:
            f.write(f"\n[issuer.province]\nissuer = {ISS}\naudience = {AUD}\n"
                    f"jwks_file = {self.platform.jwks}\n"
                    "algorithms = ES256,RS256,SM2\nclock_skew_seconds = 30\n"
                    "jwks_retry_seconds = 3600\n")
        ca = make_ca(d)
        self.portal_cert = make_client(d, ca, "portal")
        self.other_cert = make_client(d, ca, "other-portal")
        inst.start("--set", "server.client_ca=" + ca[1],
                   "--set", "server.refusal_delay_ms=0",
                   "--set", "audit.refusal_window_seconds=1")
        r = inst.post("/api/v1/account/credential", inst.admin_credential)
        assert r.status_code == 201, r.text
        self.admin = r.json()["data"]["credential"]
        self.secadmin_id, self.secadmin = self.person("sec1")
        r = inst.post(f"/api/v1/accounts/{self.secadmin_id}/appoint-secadmin",
                      self.admin)
        assert r.status_code == 201, r.text
        self.auditor_id, self.auditor = self.person("aud1")
        self.grant(self.auditor_id, "auditor")
        self.alice_id, _ = self.person("alice")
        self.grant(self.alice_id, "applicant")
        self.bob_id, _ = self.person("bob")
        self.carol_id, _ = self.person("carol")
        self.portal_id = self.system("portal", self.portal_cert)
        self.other_id = self.system("other-portal", self.other_cert)
        self.grant(self.portal_id, "portal")
        for acct, sub in ((self.alice_id, "alice-sub"),
                          (self.bob_id, "bob-sub"),
                          (self.carol_id, "carol-sub")):
            r = inst.post(f"/api/v1/accounts/{acct}/identities", self.admin,
                          json={"issuer": "province", "subject": sub})
            assert r.status_code == 201, r.text

    def person(self, name):
        r = self.inst.post("/api/v1/accounts", self.admin, json={
            "name": name, "display_name": name.title(), "kind": "person",
            "org_id": 1})
        assert r.status_code == 201, r.text
        d = r.json()["data"]
        r = self.inst.post("/api/v1/account/credential",
                           d["credential"])
        assert r.status_code == 201, r.text
        return d["account"]["id"], r.json()["data"]["credential"]

    def system(self, name, cert):
        r = self.inst.post("/api/v1/accounts", self.admin, json={
            "name": name, "display_name": name, "kind": "system",
            "org_id": 1, "cert_subject": dn(cert[0], "subject"),
            "cert_issuer": dn(cert[0], "issuer")})
        assert r.status_code == 201, r.text
        return r.json()["data"]["account"]["id"]

    def grant(self, acct, role, status=201):
        r = self.inst.post(f"/api/v1/accounts/{acct}/roles", self.secadmin,
                           json={"role": role, "scope_org_id": 1})
        assert r.status_code == status, r.text
        return r

    def as_portal(self, method, path, token, cert=None, **kw):
        headers = kw.pop("headers", {})
        if token is not None:
            headers[HDR] = token
        return self.inst.request(method, path, headers=headers,
                                 cert=cert or self.portal_cert, **kw)

    def row(self, resp):
        """The audit row of a response, by its request id."""
        rid = resp.headers["X-Request-Id"]
        rows = self.inst.sql("SELECT account_id, via_account_id, role, "
                             "action, outcome, reason FROM audit_log "
                             "WHERE request_id = ?", rid)
        assert len(rows) == 1, rows
        return rows[0]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("idtoken")
    inst = Instance(d / "inst")
    w = World(inst, str(d))
    yield w
    rc, _, err = inst.stop()
    assert rc == 0, err


@pytest.mark.parametrize("alg", ["ES256", "RS256", "SM2"])
def test_portal_acts_with_the_persons_roles(world, alg):
    tok = world.platform.token("alice-sub", alg)
    r = world.as_portal("GET", "/api/v1/whoami", tok)
    assert r.status_code == 200, r.text
    check_response("/api/v1/whoami", "get", r)
    d = r.json()["data"]
    assert d["account"]["id"] == world.alice_id
    assert d["via_account_id"] == world.portal_id
    assert [x["role"] for x in d["roles"]] == ["applicant"]
    # the portal alone holds no business role: application.submit is 403
    r = world.as_portal("POST", "/api/v1/applications", None, json={})
    assert_error(r, 403, "forbidden")
    # alice through the portal holds it: past authorisation, the empty
    # body is what is refused, and the row names her and the portal
    r = world.as_portal("POST", "/api/v1/applications", tok, json={})
    assert r.status_code in (400, 422), r.text
    acct, via, role, action, outcome, _ = world.row(r)
    assert (acct, via, role, action, outcome) == (
        world.alice_id, world.portal_id, "applicant", "application.submit",
        "refused")
    # bob, bound but without roles, cannot: the portal's roles never apply
    r = world.as_portal("POST", "/api/v1/applications",
                        world.platform.token("bob-sub", alg), json={})
    assert_error(r, 403, "forbidden")
    assert world.row(r)[:2] == (world.bob_id, world.portal_id)


def refused(world, resp, status, code, reason):
    assert_error(resp, status, code)
    acct, via, _, action, outcome, why = world.row(resp)
    assert (acct, via, action, outcome) == (world.portal_id, None,
                                            "account.whoami", "refused")
    assert reason in why, why


def test_bad_tokens_are_refused_and_audited(world):
    p = world.platform
    now = int(time.time())
    cases = [
        (p.token("alice-sub", exp=now - 120, iat=now - 600), 401,
         "token_expired", "expired"),
        (p.token("alice-sub", nbf=now + 600), 401, "token_expired",
         "not valid yet"),
        (p.token("alice-sub", aud="another-system"), 401, "invalid_token",
         "audience"),
        (p.token("alice-sub", aud=["x", "y"]), 401, "invalid_token",
         "audience"),
        (p.token("alice-sub", iss="https://evil.example"), 401,
         "invalid_token", "wrong issuer"),
        (p.token("alice-sub", key=p.ec_other), 401, "invalid_token",
         "bad signature"),
        (p.token("alice-sub", alg="none"), 401, "invalid_token",
         "compact JWS"),
        # alg none with a signature part, and HS256 keyed with the public
        # key's bytes (the confusion attack): neither is ever listed
        (p.realg("none"), 401, "invalid_token", "algorithm 'none'"),
        (p.realg("HS256"), 401, "invalid_token", "algorithm 'HS256'"),
        (p.token("alice-sub", kid="no-such-kid"), 401, "invalid_token",
         "unknown key id"),
        # ES256 header with the RSA key's kid: the key type must match
        (p.token("alice-sub", kid="rsa1"), 401, "invalid_token",
         "is for RS256"),
        (p.token("alice-sub", exp=now + 10 * 86400), 401, "invalid_token",
         "lives longer"),
        (p.token("nobody-sub"), 401, "unauthenticated", "no account"),
        ("x" * 9000, 431, "headers_too_large", "max_token_bytes"),
        ("not.a-token", 401, "invalid_token", "compact JWS"),
    ]
    for tok, status, code, reason in cases:
        r = world.as_portal("GET", "/api/v1/whoami", tok)
        refused(world, r, status, code, reason)


def test_unknown_kid_does_not_reload_every_time(world):
    log = world.inst.log
    before = open(log).read().count("jwks_loaded")
    for _ in range(5):
        r = world.as_portal("GET", "/api/v1/whoami",
                            world.platform.token("alice-sub", kid="k%d" % _))
        assert_error(r, 401, "invalid_token")
    # jwks_retry_seconds = 3600: at most one reload for all of them
    assert open(log).read().count("jwks_loaded") - before <= 1


def test_portal_without_grant_acts_for_nobody(world):
    tok = world.platform.token("alice-sub")
    r = world.as_portal("GET", "/api/v1/whoami", tok, cert=world.other_cert)
    assert_error(r, 403, "forbidden")
    acct, via, _, _, outcome, why = world.row(r)
    assert (acct, via, outcome) == (world.other_id, None, "refused")
    assert "portal role" in why
    # without a token it is just itself
    r = world.as_portal("GET", "/api/v1/whoami", None, cert=world.other_cert)
    assert r.json()["data"]["account"]["id"] == world.other_id


def test_token_without_portal_credential(world):
    tok = world.platform.token("alice-sub")
    r = world.inst.get("/api/v1/whoami", headers={HDR: tok})
    assert_error(r, 401, "unauthenticated")
    # an unauthenticated refusal is written summarised, within a window
    deadline = time.time() + 10
    while time.time() < deadline:
        rows = world.inst.sql("SELECT account_id, outcome, reason FROM "
                              "audit_log WHERE reason LIKE ?",
                              "%portal's own credential%")
        if rows:
            break
        time.sleep(0.3)
    assert rows and rows[0][0] is None and rows[0][1] == "refused", rows


def test_binding_rules(world):
    inst = world.inst
    # nobody binds their own account; administrators are never bound;
    # only persons; the same identity is bound once; unknown issuers fail
    r = inst.post(f"/api/v1/accounts/{world.auditor_id}/identities",
                  world.admin, json={"issuer": ISS, "subject": "aud-sub"})
    assert_error(r, 409, "conflict")
    assert "SOD-8" in r.json()["error"]["message"]
    r = inst.post(f"/api/v1/accounts/{world.portal_id}/identities",
                  world.admin, json={"issuer": ISS, "subject": "p-sub"})
    assert_error(r, 422, "invalid_argument")
    r = inst.post(f"/api/v1/accounts/{world.bob_id}/identities",
                  world.admin, json={"issuer": ISS, "subject": "alice-sub"})
    assert_error(r, 409, "conflict")
    check_response("/api/v1/accounts/{id}/identities", "post", r)
    r = inst.post(f"/api/v1/accounts/{world.bob_id}/identities",
                  world.admin, json={"issuer": ISS, "subject": "bob-2nd"})
    assert r.status_code == 201, r.text
    check_response("/api/v1/accounts/{id}/identities", "post", r)
    bid = r.json()["data"]["binding_id"]
    r = inst.post(f"/api/v1/accounts/{world.bob_id}/identities/{bid}/remove",
                  world.admin)
    check_response("/api/v1/accounts/{id}/identities/{binding}/remove",
                   "post", r)
    r = inst.post(f"/api/v1/accounts/{world.bob_id}/identities",
                  world.admin, json={"issuer": "nowhere", "subject": "b"})
    assert_error(r, 422, "invalid_argument")
    # binding is account.write: the secadmin may not
    r = inst.post(f"/api/v1/accounts/{world.bob_id}/identities",
                  world.secadmin, json={"issuer": ISS, "subject": "b2"})
    assert_error(r, 403, "forbidden")
    # the portal role: a system account only, and alone
    world.grant(world.bob_id, "portal", 409)
    world.grant(world.portal_id, "requester", 409)
    r = inst.get(f"/api/v1/accounts/{world.alice_id}/identities", world.admin)
    assert r.status_code == 200, r.text
    check_response("/api/v1/accounts/{id}/identities", "get", r)
    ids = r.json()["data"]["identities"]
    assert [(i["issuer"], i["claim"], i["subject"]) for i in ids] == [
        (ISS, "sub", "alice-sub")]
    rows = inst.sql("SELECT outcome FROM audit_log WHERE action = "
                    "'identity.bind' AND target_id = ?", str(world.alice_id))
    assert rows == [("ok",)]


def test_unbind_and_disable(world):
    inst = world.inst
    tok = world.platform.token("carol-sub", "SM2")
    assert world.as_portal("GET", "/api/v1/whoami", tok).status_code == 200
    # replayed after the person's account is disabled: refused, audited
    r = inst.post(f"/api/v1/accounts/{world.carol_id}/disable", world.admin)
    assert r.status_code == 200, r.text
    r = world.as_portal("GET", "/api/v1/whoami", tok)
    refused(world, r, 401, "unauthenticated", "disabled")
    # an ended binding: the token names nobody any more
    bob = world.platform.token("bob-sub")
    assert world.as_portal("GET", "/api/v1/whoami", bob).status_code == 200
    r = inst.get(f"/api/v1/accounts/{world.bob_id}/identities", world.admin)
    bid = r.json()["data"]["identities"][0]["id"]
    r = inst.post(f"/api/v1/accounts/{world.bob_id}/identities/{bid}/remove",
                  world.admin)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["identities"] == []
    r = world.as_portal("GET", "/api/v1/whoami", bob)
    refused(world, r, 401, "unauthenticated", "no account")


def test_audit_chain_verifies_with_via_rows(world):
    rows = world.inst.sql("SELECT count(*) FROM audit_log WHERE "
                          "via_account_id IS NOT NULL")
    assert rows[0][0] >= 1
    r = world.inst.post("/api/v1/audit/verify", world.auditor)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["ok"] is True, r.text
    r = world.inst.get("/api/v1/audit?action=application.submit",
                       world.auditor)
    assert r.status_code == 200, r.text
    vias = [en["via_account_id"] for en in r.json()["data"]["items"]]
    assert world.portal_id in vias
    r = world.inst.get("/api/v1/audit", world.auditor, params={
        "format": "csv", "action": "application.submit"})
    import csv
    import io
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert str(world.portal_id) in [x["via_account_id"] for x in rows]


class JwksServer:
    """The platform's JWKS over HTTPS (a certificate for 127.0.0.1 that the
    issuer section trusts through jwks_ca_file), counting its fetches."""

    def __init__(self, d, keys):
        import http.server
        import ssl
        import threading
        self.keys, self.fetches = keys, 0
        key, crt = os.path.join(d, "jwks.key"), os.path.join(d, "jwks.crt")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out",
                crt, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                "subjectAltName=IP:127.0.0.1")
        self.ca = crt
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.fetches += 1
                body = json.dumps({"keys": outer.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket,
                                            server_side=True)
        self.url = "https://127.0.0.1:%d/jwks.json" % \
            self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()


def ec_jwk(key, kid):
    n = key.public_key().public_numbers()
    return {"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig",
            "x": b64u(n.x.to_bytes(32, "big")),
            "y": b64u(n.y.to_bytes(32, "big"))}


def test_jwks_url_rotation_and_direct_login(tmp_path):
    d = str(tmp_path)
    p = Platform(d)
    new_key = ec.generate_private_key(ec.SECP256R1())
    srv = JwksServer(d, [ec_jwk(p.ec, "ec1")])
    inst = Instance(tmp_path / "inst")
    with open(inst.conf, "a") as f:
        f.write(f"\n[issuer.province]\nissuer = {ISS}\naudience = {AUD}\n"
                f"jwks_url = {srv.url}\njwks_ca_file = {srv.ca}\n"
                "jwks_retry_seconds = 2\n")
    try:
        inst.start("--set", "identity.direct_login=yes",
                   "--set", "server.refusal_delay_ms=0")
        r = inst.post("/api/v1/account/credential", inst.admin_credential)
        admin = r.json()["data"]["credential"]
        r = inst.post("/api/v1/accounts", admin, json={
            "name": "dora", "display_name": "Dora", "kind": "person",
            "org_id": 1})
        dora = r.json()["data"]["account"]["id"]
        r = inst.post(f"/api/v1/accounts/{dora}/identities", admin,
                      json={"issuer": ISS, "subject": "dora-sub"})
        assert r.status_code == 201, r.text
        # direct log-in: the token alone, no portal; no via
        r = inst.get("/api/v1/whoami",
                     headers={HDR: p.token("dora-sub")})
        assert r.status_code == 200, r.text
        assert r.json()["data"]["account"]["id"] == dora
        assert r.json()["data"]["via_account_id"] is None
        assert srv.fetches == 1
        # the platform rotates its key: a token with the new kid is
        # refused while the last load is under 2 s old, then the
        # unknown kid reloads the JWKS once and it is accepted
        srv.keys = [ec_jwk(p.ec, "ec1"), ec_jwk(new_key, "ec2")]
        tok = p.token("dora-sub", kid="ec2", key=new_key)
        for _ in range(5):
            assert_error(inst.get("/api/v1/whoami", headers={HDR: tok}),
                         401, "invalid_token")
        assert srv.fetches <= 2
        time.sleep(2.2)
        r = inst.get("/api/v1/whoami", headers={HDR: tok})
        assert r.status_code == 200, r.text
        assert srv.fetches <= 3
        # a bad token without a portal: refused, counted against the
        # address like a bad credential
        assert_error(inst.get("/api/v1/whoami",
                              headers={HDR: p.token("dora-sub", aud="x")}),
                     401, "invalid_token")
        rc, _, err = inst.stop()
        assert rc == 0, err
        rows = inst.sql("SELECT account_id, outcome FROM audit_log WHERE "
                        "reason LIKE '%audience%'")
        assert rows and rows[0] == (None, "refused"), rows
    finally:
        srv.stop()
