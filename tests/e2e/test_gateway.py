"""Issue 19, item 9: 国密 transport behind a gateway ([gateway], manual
8.4.1).  The tests play the gateway: a client with its own certificate
over mutual TLS (server.client_ca), forwarding its clients' certificates
URL-escaped in X-Client-Cert and their addresses in X-Forwarded-For, as a
Tongsuo-built nginx does.  The forwarded certificates come from another CA
(gateway.client_ca), one of them SM2 with an SM3 signature, made by the
Debian openssl CLI and verified by seald with OpenSSL."""
import datetime
import http.client
import json
import os
import ssl
import urllib.parse

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import openapi_check
from conftest import assert_error
from test_accounts import dn, make_ca, make_client, openssl, rotate

CLIENT = "198.51.100.7"          # the gateway's client, as it forwards it
OTHER_CLIENT = "198.51.100.8"


def escaped(*paths):
    """The PEM of the certificate files, URL-escaped as nginx's
    $ssl_client_escaped_cert sends it."""
    pem = "".join(open(p).read() for p in paths)
    return urllib.parse.quote(pem, safe="")


def utf8_dn(crt, which):
    """A DN as accounts hold it: RFC 4514, UTF-8 unescaped (for ASCII
    names the same as test_accounts.dn)."""
    return openssl("x509", "-in", crt, "-noout", "-" + which, "-nameopt",
                   "RFC2253,-esc_msb").split("=", 1)[1].strip()


def make_named(d, ca):
    """A client certificate of ca whose subject has the attributes OpenSSL
    and GnuTLS name differently (emailAddress/EMAIL, GN/givenName,
    SN/surName), an escaped comma and Chinese: (crt, key)."""
    key, csr = os.path.join(d, "named.key"), os.path.join(d, "named.csr")
    crt = os.path.join(d, "named.crt")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", key, "-out", csr, "-utf8", "-subj",
            "/C=CN/ST=黑龙江/L=哈尔滨/O=Org\\, Inc/OU=Data/CN=门户/"
            "serialNumber=9123/emailAddress=ops@example.gov.cn/GN=San/SN=Zhang")
    openssl("x509", "-req", "-in", csr, "-CA", ca[1], "-CAkey", ca[0],
            "-CAcreateserial", "-out", crt, "-days", "30")
    return crt, key


def make_expired(d, ca, name):
    """A client certificate of ca whose validity ended yesterday."""
    cakey = serialization.load_pem_private_key(open(ca[0], "rb").read(),
                                               None)
    cacrt = x509.load_pem_x509_certificate(open(ca[1], "rb").read())
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    crt = (x509.CertificateBuilder()
           .subject_name(x509.Name([
               x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
               x509.NameAttribute(NameOID.ORGANIZATION_NAME,
                                  "Heilongjiang Portal"),
               x509.NameAttribute(NameOID.COMMON_NAME, name)]))
           .issuer_name(cacrt.subject)
           .public_key(key.public_key())
           .serial_number(x509.random_serial_number())
           .not_valid_before(now - datetime.timedelta(days=30))
           .not_valid_after(now - datetime.timedelta(days=1))
           .sign(cakey, hashes.SHA256()))
    path = os.path.join(d, name + "-expired.crt")
    with open(path, "wb") as f:
        f.write(crt.public_bytes(serialization.Encoding.PEM))
    return path


def make_sm2(d):
    """An SM2 CA and an SM2 client certificate (SM3 signatures, the GM/T
    0009 default ID) by the openssl CLI: (ca.crt, client.crt)."""
    sig = ["-sm3", "-sigopt", "distid:1234567812345678"]
    p = lambda n: os.path.join(d, n)
    for k in ("sm2ca.key", "sm2c.key"):
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt",
                "ec_paramgen_curve:SM2", "-out", p(k))
    openssl("req", "-x509", "-new", "-key", p("sm2ca.key"), *sig, "-subj",
            "/C=CN/O=SM2 CA/CN=SM2 Root", "-days", "30", "-out",
            p("sm2ca.crt"))
    openssl("req", "-new", "-key", p("sm2c.key"), *sig, "-subj",
            "/C=CN/O=Heilongjiang Portal/CN=sm2portal", "-out", p("sm2c.csr"))
    openssl("x509", "-req", "-in", p("sm2c.csr"), "-CA", p("sm2ca.crt"),
            "-CAkey", p("sm2ca.key"), *sig, "-vfyopt",
            "distid:1234567812345678", "-CAcreateserial", "-days", "30",
            "-out", p("sm2c.crt"))
    assert "SM2-with-SM3" in openssl("x509", "-in", p("sm2c.crt"), "-noout",
                                     "-text")
    # names in Chinese, UTF-8 as accounts hold them
    openssl("req", "-new", "-key", p("sm2c.key"), *sig, "-utf8", "-subj",
            "/C=CN/O=黑龙江省/CN=门户系统", "-out", p("sm2cn.csr"))
    openssl("x509", "-req", "-in", p("sm2cn.csr"), "-CA", p("sm2ca.crt"),
            "-CAkey", p("sm2ca.key"), *sig, "-vfyopt",
            "distid:1234567812345678", "-CAcreateserial", "-days", "30",
            "-out", p("sm2cn.crt"))
    return p("sm2ca.crt"), p("sm2c.crt"), p("sm2cn.crt")


class Gateway:
    """An instance with a gateway configured, its certificates and a
    system account for each forwarded identity."""

    def __init__(self, d, inst, **extra):
        self.inst = inst
        self.server_ca = make_ca(d, "PortalCA")      # server.client_ca
        self.client_ca = make_ca(d, "ClientCA")      # gateway.client_ca
        self.wrong_ca = make_ca(d, "WrongCA")
        self.both_ca = make_ca(d, "BothCA")          # in both bundles
        self.gw = make_client(d, self.server_ca, "gateway", "gw")
        # the gateway's DNs from another CA: not the gateway
        self.forged_gw = make_client(d, self.wrong_ca, "gateway", "forged")
        self.direct = make_client(d, self.server_ca, "direct", "direct")
        self.portal = make_client(d, self.client_ca, "portal", "portal")
        self.portal2 = make_client(d, self.client_ca, "portal2", "portal2")
        self.stranger = make_client(d, self.wrong_ca, "portal", "stranger")
        self.expired = make_expired(d, self.client_ca, "portal")
        self.sm2ca, self.sm2, self.sm2cn = make_sm2(d)
        self.named = make_named(d, self.both_ca)
        bundle = os.path.join(d, "forwarded-ca.pem")
        with open(bundle, "w") as f:
            f.write(open(self.client_ca[1]).read() + open(self.sm2ca).read()
                    + open(self.both_ca[1]).read())
        server_bundle = os.path.join(d, "server-client-ca.pem")
        with open(server_bundle, "w") as f:
            f.write(open(self.server_ca[1]).read() +
                    open(self.both_ca[1]).read())
        args = ["--set", "server.client_ca=" + server_bundle,
                "--set", "gateway.subject=" + dn(self.gw[0], "subject"),
                "--set", "gateway.issuer=" + dn(self.gw[0], "issuer"),
                "--set", "gateway.client_ca=" + bundle,
                "--set", "server.refusal_delay_ms=0"]
        for k, v in extra.items():
            args += ["--set", f"{k}={v}"]
        inst.start(*args)
        self.admin = rotate(inst, inst.admin_credential)
        self.ids = {}
        # the gateway's own DNs are an account too: it must gain nothing
        for name, crt in (("portal", self.portal[0]),
                          ("portal2", self.portal2[0]), ("sm2portal", self.sm2),
                          ("direct", self.direct[0]),
                          ("gateway", self.gw[0]), ("sm2cn", self.sm2cn)):
            r = inst.post("/api/v1/accounts", self.admin, json={
                "name": name, "display_name": name, "kind": "system",
                "org_id": 1, "cert_subject": utf8_dn(crt, "subject"),
                "cert_issuer": utf8_dn(crt, "issuer")})
            assert r.status_code == 201, r.text
            self.ids[name] = r.json()["data"]["account"]["id"]

    def via(self, method, path, cert_header=None, addr=CLIENT,
            cert=None, **kw):
        """A request through the gateway (its mTLS certificate) forwarding
        cert_header (an escaped PEM, or None) and addr."""
        headers = kw.pop("headers", {})
        if cert_header is not None:
            headers["X-Client-Cert"] = cert_header
        if addr is not None:
            headers["X-Forwarded-For"] = "10.9.9.9, " + addr
        return self.inst.request(method, path, headers=headers,
                                 cert=cert or self.gw, **kw)

    def accounts(self):
        return {n for (n,) in self.inst.sql("SELECT name FROM accounts")}


@pytest.fixture
def gateway(tmp_path, instance):
    return Gateway(str(tmp_path), instance)


def two_lines(g, name, first, second):
    """GET /api/v1/whoami through the gateway with header name sent twice
    (requests would join them): (status, JSON body).  The exchange is
    outside conftest's request, so checked against the reference here."""
    ctx = ssl.create_default_context(cafile=g.inst.cert)
    ctx.load_cert_chain(*g.gw)
    conn = http.client.HTTPSConnection("127.0.0.1", g.inst.port, context=ctx,
                                       timeout=30)
    try:
        conn.putrequest("GET", "/api/v1/whoami")
        conn.putheader(name, first)
        conn.putheader(name, second)
        conn.putheader("X-Forwarded-For", CLIENT)
        conn.endheaders()
        resp = conn.getresponse()
        body = json.loads(resp.read())
        openapi_check.validate(
            body, openapi_check.spec()["components"]["schemas"]["Error"])
        return resp.status, body
    finally:
        conn.close()


def whoami(r):
    assert r.status_code == 200, r.text
    return r.json()["data"]["account"]["name"]


def test_forwarded_certificate_is_the_account(gateway):
    g = gateway
    assert whoami(g.via("GET", "/api/v1/whoami",
                        escaped(g.portal[0]))) == "portal"
    # SM2 with SM3: verified by OpenSSL against the SM2 CA of the bundle
    assert whoami(g.via("GET", "/api/v1/whoami", escaped(g.sm2))) \
        == "sm2portal"
    assert whoami(g.via("GET", "/api/v1/whoami", escaped(g.sm2cn))) \
        == "sm2cn"
    # an audited act of the forwarded account: its id and the client's
    # forwarded address, not the gateway's
    r = g.via("POST", "/api/v1/accounts", escaped(g.portal[0]), json={
        "name": "x", "display_name": "x", "kind": "person", "org_id": 1})
    assert_error(r, 403, "forbidden")
    rid = r.headers["X-Request-Id"]
    rows = [row for row in g.inst.audit() if row[3] == rid]
    assert rows and rows[0][1] == g.ids["portal"], rows
    assert rows[0][2] == CLIENT, rows
    # through the gateway without a forwarded certificate: the bearer
    # credential it passes on, never the gateway's own certificate
    r = g.via("POST", "/api/v1/accounts", None, json={
        "name": "viabearer", "display_name": "v", "kind": "person",
        "org_id": 1}, headers={"Authorization": "Bearer " + g.admin})
    assert r.status_code == 201, r.text
    row = [x for x in g.inst.audit() if x[3] == r.headers["X-Request-Id"]]
    assert row and row[0][2] == CLIENT, row
    err = assert_error(g.via("GET", "/api/v1/whoami", None), 401,
                       "unauthenticated")
    assert "gateway's own certificate authenticates nobody" in \
        err["message"]
    # the same gateway certificate sent directly... is the gateway: the
    # gateway's account is never reached
    r = g.inst.get("/api/v1/whoami", cert=g.gw)
    assert_error(r, 401, "unauthenticated")
    rc, _, err = g.inst.stop()
    assert rc == 0, err
    # the request line: the client's forwarded address, and via= the
    # gateway's connection; a direct request (the set-up's accounts, made
    # with the administrator's bearer credential) has no via=
    log = open(g.inst.log, encoding="utf-8").read().splitlines()
    (line,) = [x for x in log if "event=request" in x and f"rid={rid} " in x]
    assert f"client={CLIENT} via=127.0.0.1 " in line, line
    direct = [x for x in log if "event=request" in x and
              "path=/api/v1/accounts status=201" in x and
              "client=127.0.0.1 " in x]
    assert direct and all(" via=" not in x for x in direct), direct


def test_forwarded_and_direct_names_agree(gateway):
    """The DNs seald reads from a forwarded certificate (OpenSSL) are those
    it reads from a direct one (GnuTLS), so one account serves both."""
    g = gateway
    err = assert_error(g.inst.get("/api/v1/whoami", cert=g.named), 401,
                       "unauthenticated")
    prefix = "no system account for certificate "
    assert err["message"].startswith(prefix), err
    subject = err["message"][len(prefix):]     # as GnuTLS prints it
    assert "EMAIL=ops@example.gov.cn" in subject and "CN=门户" in subject
    r = g.inst.post("/api/v1/accounts", g.admin, json={
        "name": "named", "display_name": "named", "kind": "system",
        "org_id": 1, "cert_subject": subject,
        "cert_issuer": dn(g.named[0], "issuer")})
    assert r.status_code == 201, r.text
    assert whoami(g.inst.get("/api/v1/whoami", cert=g.named)) == "named"
    assert whoami(g.via("GET", "/api/v1/whoami",
                        escaped(g.named[0]))) == "named"


def test_bad_forwarded_certificates_are_refused(gateway):
    g = gateway
    two = escaped(g.portal[0], g.portal2[0])
    cases = [
        (escaped(g.expired), 401, "has expired"),
        (escaped(g.stranger[0]), 401, "not trusted"),
        (escaped(g.direct[0]), 401, "not trusted"),   # server CA, not ours
        ("garbage%ZZ", 401, "bad %-escape"),
        (urllib.parse.quote("not a certificate", safe=""), 401,
         "not one PEM certificate"),
        (urllib.parse.quote("-----BEGIN CERTIFICATE-----\nAAAA\n"
                            "-----END CERTIFICATE-----\n", safe=""), 401,
         "not a certificate"),
        (two, 401, "more than one certificate"),
        ("A" * 9000, 431, "larger than 8192 bytes"),
    ]
    for value, status, words in cases:
        r = g.via("GET", "/api/v1/whoami", value)
        err = assert_error(r, status, "unauthenticated" if status == 401
                           else "headers_too_large")
        assert words in err["message"], (words, err)
    # the header twice (the gateway appended to a client's own): refused
    status, body = two_lines(g, "X-Client-Cert", escaped(g.portal[0]),
                             escaped(g.portal2[0]))
    assert status == 401, body
    assert "came 2 times" in body["error"]["message"], body
    # nothing gained by the gateway: a change with a bad certificate
    before = g.accounts()
    r = g.via("POST", "/api/v1/accounts", escaped(g.expired), json={
        "name": "y", "display_name": "y", "kind": "person", "org_id": 1})
    assert_error(r, 401, "unauthenticated")
    assert g.accounts() == before
    rc, _, err = g.inst.stop()          # writes the refusal summaries
    assert rc == 0, err
    rows = g.inst.sql("SELECT client_addr, reason, details FROM audit_log "
                      "WHERE outcome = 'refused' AND account_id IS NULL")
    mine = [r for r in rows if "forwarded client certificate" in r[1]]
    assert sum(json.loads(d)["count"] for _, _, d in mine) == 10, rows
    assert {a for a, _, _ in mine} == {CLIENT}
    assert any("has expired" in r for _, r, _ in mine)
    assert any("more than one" in r for _, r, _ in mine)


def test_forwarded_headers_from_anyone_else_are_refused(gateway):
    g = gateway
    before = g.accounts()
    body = {"name": "z", "display_name": "z", "kind": "person", "org_id": 1}
    good = escaped(g.portal[0])
    for header in ("X-Client-Cert", "X-SSL-Client-Cert", "X-SSL-Client-DN",
                   "X-Client-DN", "X-Forwarded-Client-Cert",
                   "Ssl-Client-Cert", "x-client-cert"):
        for cert in (None, g.direct):
            r = g.inst.post("/api/v1/accounts", g.admin, json=body,
                            cert=cert, headers={header: good})
            err = assert_error(r, 403, "forwarded_identity_refused")
            assert header.lower() in err["message"].lower(), err
    # a GET too, and with the gateway's DNs from another CA
    assert_error(g.inst.get("/api/v1/whoami", headers={
        "X-Client-Cert": good}), 403, "forwarded_identity_refused")
    try:
        r = g.inst.get("/api/v1/whoami", cert=g.forged_gw,
                       headers={"X-Client-Cert": good})
        assert_error(r, 403, "forwarded_identity_refused")
    except requests.exceptions.SSLError:
        pass
    assert g.accounts() == before
    # without the header the same direct client is itself
    assert whoami(g.inst.get("/api/v1/whoami", cert=g.direct)) == "direct"
    rc, _, err = g.inst.stop()
    assert rc == 0, err
    rows = g.inst.sql("SELECT client_addr, reason, details FROM audit_log "
                      "WHERE outcome = 'refused' AND account_id IS NULL")
    mine = [r for r in rows if "forwarded identity header" in r[1]]
    assert sum(json.loads(d)["count"] for _, _, d in mine) >= 15, rows
    assert {a for a, _, _ in mine} == {"127.0.0.1"}


def test_forwarded_address_is_trusted_from_the_gateway_only(tmp_path,
                                                           instance):
    g = Gateway(str(tmp_path), instance,
                **{"security.address_lockout_threshold": "3"})
    bad = escaped(g.expired)
    # from the gateway: the forwarded address is the one locked out
    for _ in range(3):
        assert_error(g.via("GET", "/api/v1/whoami", bad), 401,
                     "unauthenticated")
    assert_error(g.via("GET", "/api/v1/whoami", escaped(g.portal[0])), 429,
                 "rate_limited")
    assert whoami(g.via("GET", "/api/v1/whoami", escaped(g.portal[0]),
                        addr=OTHER_CLIENT)) == "portal"
    # a malformed forwarded address is refused, not taken for the gateway's
    assert_error(g.via("GET", "/api/v1/whoami", escaped(g.portal[0]),
                       addr="198.51.100.7:443"), 400, "bad_request")
    # from anyone else X-Forwarded-For is ignored: the address audited and
    # counted is the socket's, whatever the header says
    r = g.inst.post("/api/v1/accounts", g.admin, json={
        "name": "w", "display_name": "w", "kind": "person", "org_id": 1},
        headers={"X-Forwarded-For": OTHER_CLIENT,
                 "Forwarded": "for=" + OTHER_CLIENT})
    assert r.status_code == 201, r.text
    row = [x for x in g.inst.audit() if x[3] == r.headers["X-Request-Id"]]
    assert row and row[0][2] == "127.0.0.1", row
    wrong = "seald_" + "a" * 16 + "_" + "b" * 64
    codes = [g.inst.get("/api/v1/whoami", wrong, headers={
        "X-Forwarded-For": f"203.0.113.{i}"}).status_code for i in range(4)]
    assert codes == [401, 401, 401, 429], codes
    rc, _, err = g.inst.stop()
    assert rc == 0, err
    addrs = {a for a, in g.inst.sql(
        "SELECT client_addr FROM audit_log WHERE outcome = 'refused'")}
    assert not any(a.startswith("203.0.113.") for a in addrs), addrs
    assert CLIENT in addrs and "127.0.0.1" in addrs
