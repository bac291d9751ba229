"""Issue 2: the daemon's foundation, end to end against the real binary."""
import concurrent.futures
import json
import os
import signal
import socket
import ssl
import subprocess
import re
import time
import urllib.parse

import pytest
import requests

from conftest import DB_ERRORS, PG_BIN, SEALD, assert_error, run_seald


def test_health_ready_version(seald):
    r = seald.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["data"] == {"status": "alive"}
    assert body["request_id"] == r.headers["X-Request-Id"]
    assert len(body["request_id"]) == 16

    r = seald.get("/readyz")
    assert r.status_code == 200
    assert r.json()["data"]["checks"]["database"] == "ok"

    v = seald.get("/api/v1/version").json()["data"]
    assert v["name"] == "seald"
    assert v["schema_version"] >= 1
    assert v["version"] == run_seald("version").stdout.split()[1]


def test_request_ids_unique_and_logged(seald):
    ids = {seald.get("/healthz").headers["X-Request-Id"] for _ in range(20)}
    assert len(ids) == 20
    seald.stop()
    log = open(seald.log).read()
    for rid in ids:
        assert f"rid={rid} method=GET path=/healthz status=200" in log


LOG_KEY = re.compile(rb"([a-z_]+)=")
LOG_BARE = re.compile(rb"[A-Za-z0-9\-._:/@+~%,]+")
LOG_ESCAPES = {b'"': b'"', b"\\": b"\\", b"n": b"\n", b"r": b"\r",
               b"t": b"\t"}


def parse_log_line(line):
    """The (key, value) pairs of one log line, as the manual defines it
    (1.6): key=value separated by one space, a value bare or in double
    quotes with \\" \\\\ \\n \\r \\t \\xNN escapes.  Anything else raises
    ValueError, so a value that broke out of its quotes cannot hide."""
    pairs, i = [], 0
    while True:
        m = LOG_KEY.match(line, i)
        if m is None:
            raise ValueError(f"no key at {i}: {line[i:]!r}")
        i = m.end()
        if line[i:i + 1] == b'"':
            val, i = bytearray(), i + 1
            while line[i:i + 1] != b'"':
                c = line[i:i + 1]
                if c == b"" or c[0] < 0x20:
                    raise ValueError(f"unclosed or raw control at {i}")
                if c == b"\\":
                    e = line[i + 1:i + 2]
                    if e in LOG_ESCAPES:
                        val += LOG_ESCAPES[e]
                        i += 2
                    elif e == b"x" and re.fullmatch(rb"[0-9a-f]{2}",
                                                    line[i + 2:i + 4]):
                        val.append(int(line[i + 2:i + 4], 16))
                        i += 4
                    else:
                        raise ValueError(f"bad escape at {i}: {line[i:]!r}")
                else:
                    val += c
                    i += 1
            i += 1
        else:
            b = LOG_BARE.match(line, i)
            if b is None:
                raise ValueError(f"bad bare value at {i}: {line[i:]!r}")
            val, i = b.group(0), b.end()
        pairs.append((m.group(1).decode(), bytes(val).decode()))
        if i == len(line):
            return pairs
        if line[i:i + 1] != b" ":
            raise ValueError(f"no separator at {i}: {line[i:]!r}")
        i += 1


def test_request_log_line_cannot_be_forged(seald):
    """A path holding a quote, a backslash, a newline and text that looks
    like fields gives one log line, whose fields are the daemon's own and
    whose path is the path that was sent."""
    path = '/api/v1/x" status=200 account=1 forged="\\ \nlevel=error y'
    r = seald.get(urllib.parse.quote(path, safe="/"))
    rid = r.headers["X-Request-Id"]
    seald.stop()
    with open(seald.log, "rb") as f:
        lines = [ln for ln in f.read().split(b"\n") if rid.encode() in ln]
    assert len(lines) == 1, lines
    pairs = parse_log_line(lines[0])
    keys = [k for k, _ in pairs]
    # an error answer's line ends with its code and reason (issue 19)
    assert keys == ["ts", "level", "event", "rid", "method", "path",
                    "status", "dur_ms", "client", "account", "db_trips",
                    "aborted", "code", "reason"], pairs
    got = dict(pairs)
    assert got["event"] == "request" and got["rid"] == rid
    assert got["code"] == "not_found" and got["aborted"] == "0"
    assert got["path"] == path
    assert got["status"] == str(r.status_code) != "200"
    assert got["account"] == "0" and got["level"] == "info"


def test_whoami_with_admin_credential(seald):
    r = seald.get("/api/v1/whoami", seald.admin_credential)
    assert r.status_code == 200, r.text
    d = r.json()["data"]
    assert d["account"]["name"] == "admin"
    assert {"role": "sysadmin", "scope_org_id": d["account"]["org_id"],
            "deputy_id": None} in d["roles"]
    assert d["credential"]["initial"] is True


def test_auth_missing_wrong_malformed(seald):
    before = len(seald.audit())
    assert_error(seald.get("/api/v1/whoami"), 401, "unauthenticated")
    wrong = seald.admin_credential[:-1] + \
        ("0" if seald.admin_credential[-1] != "0" else "1")
    r = seald.get("/api/v1/whoami", wrong)
    assert_error(r, 401, "unauthenticated")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    wrong_rid = r.headers["X-Request-Id"]
    assert_error(seald.get("/api/v1/whoami", "not-a-credential"), 401,
                 "unauthenticated")
    assert_error(seald.get("/api/v1/whoami",
                           headers={"Authorization": "Basic YTpi"}),
                 401, "unauthenticated")
    # a credential for an unknown key id fails the same way
    unknown = "seald_" + "0" * 16 + "_" + "0" * 64
    assert_error(seald.get("/api/v1/whoami", unknown), 401, "unauthenticated")
    # every refusal is in the audit log: an anonymous caller's are counted
    # per address, action and reason and written at the end of the window
    # (here: at shutdown), with the first one's request id as the sample
    rc, _, err = seald.stop()
    assert rc == 0, err
    rows = seald.sql("SELECT action, outcome, client_addr, reason, "
                     "request_id, details FROM audit_log WHERE seq > ? "
                     "ORDER BY seq", before)
    # the maintenance job's own rows (the monthly statistics report it
    # makes on a first start) may land meanwhile: not the caller's
    rows = [r for r in rows if r[2] != "maintenance"]
    assert all(r[:3] == ("account.whoami", "refused", "127.0.0.1")
               for r in rows), rows
    assert {r[3]: json.loads(r[5])["count"] for r in rows} == {
        "an Authorization: Bearer credential is required": 1,
        "invalid credential": 2, "malformed credential": 1,
        "use an Authorization: Bearer credential": 1}
    assert [r[4] for r in rows if r[3] == "invalid credential"] == [wrong_rid]


def test_credential_stored_only_as_mac(seald):
    secret = seald.admin_credential.split("_")[2]
    key_id = seald.admin_credential.split("_")[1]
    rows = seald.sql("SELECT key_id, mac FROM credentials")
    assert rows[0][0] == key_id
    assert len(rows[0][1]) == 32
    if seald.dialect == "sqlite":
        with open(seald.db, "rb") as f:
            raw = f.read()
    else:   # everything the server holds for the instance, as pg_dump sees it
        raw = subprocess.run([os.path.join(PG_BIN, "pg_dump"),
                              seald.db_url], capture_output=True,
                             check=True, timeout=60).stdout
        assert b"COPY public.credentials" in raw
    assert secret.encode() not in raw
    assert bytes.fromhex(secret) not in raw


def test_unknown_route_and_wrong_method(seald):
    assert_error(seald.get("/api/v1/nothing"), 404, "not_found")
    # (/ is the landing page of issue 17 item 9: tests/e2e/test_verify_page.py)
    assert_error(seald.get("/nothing"), 404, "not_found")
    r = seald.post("/healthz")
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == "GET, HEAD"   # HEAD is GET without the body
    assert_error(seald.request("DELETE", "/api/v1/whoami"), 405,
                 "method_not_allowed")


def test_bad_json_and_wrong_content_type(seald):
    cred = seald.admin_credential
    before = seald.sql("SELECT count(*) FROM credentials")[0][0]
    for body in ["{", "[1,2]", "{\"a\":1,\"a\":2}", "\"x\"", "nul"]:
        r = seald.post("/api/v1/account/credential", cred, data=body,
                       headers={"Content-Type": "application/json"})
        assert_error(r, 400, "invalid_json")
    r = seald.post("/api/v1/account/credential", cred, data="a=b",
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_error(r, 415, "unsupported")
    r = seald.post("/api/v1/account/credential", cred, json={"bogus": 1})
    assert_error(r, 400, "bad_request")
    # nothing changed: same credentials, the old one still works
    assert seald.sql("SELECT count(*) FROM credentials")[0][0] == before
    assert seald.get("/api/v1/whoami", cred).status_code == 200


def test_oversize_body_declared_and_streamed(instance):
    instance.start("--set", "server.max_body_bytes=4096")
    cred = instance.admin_credential
    big = "{\"x\":\"" + "a" * 5000 + "\"}"
    r = instance.post("/api/v1/account/credential", cred, data=big,
                      headers={"Content-Type": "application/json"})
    assert_error(r, 413, "payload_too_large")

    def chunks():
        for _ in range(10):
            yield b"a" * 1000
    r = instance.post("/api/v1/account/credential", cred, data=chunks(),
                      headers={"Content-Type": "application/json"})
    assert_error(r, 413, "payload_too_large")
    assert instance.get("/api/v1/whoami", cred).status_code == 200
    rc, _, err = instance.stop()
    assert rc == 0, err


def test_oversize_headers(seald):
    r = seald.get("/healthz", headers={"X-Big": "b" * 20000})
    assert_error(r, 431, "headers_too_large")


def test_rotate_credential(seald):
    old = seald.admin_credential
    r = seald.post("/api/v1/account/credential", old)
    assert r.status_code == 201, r.text
    new = r.json()["data"]["credential"]
    assert new != old
    assert_error(seald.get("/api/v1/whoami", old), 401, "unauthenticated")
    d = seald.get("/api/v1/whoami", new).json()["data"]
    assert d["credential"]["initial"] is False
    actions = [row[4] for row in seald.audit()]
    assert "credential.rotate" in actions


def test_tls_port_does_not_speak_plain_http(seald):
    with socket.create_connection(("127.0.0.1", seald.port), timeout=5) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            data = s.recv(100)
        except (ConnectionResetError, socket.timeout):
            data = b""
        assert not data.startswith(b"HTTP/1.1 200")
    with ssl.create_default_context(cafile=seald.cert).wrap_socket(
            socket.create_connection(("127.0.0.1", seald.port)),
            server_hostname="localhost") as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_plain_http_loopback_only(instance):
    instance.start(plain=True)
    assert instance.get("/healthz").status_code == 200
    rc, _, err = instance.stop()
    assert rc == 0, err
    out = run_seald("run", "--config", instance.conf, "--plain-http",
                    "--listen", "0.0.0.0")
    assert out.returncode == 78
    assert "loopback" in out.stderr


def test_init_refuses_existing_instance(instance):
    before = open(instance.conf).read()
    out = run_seald("init", "--dir", instance.dir)
    assert out.returncode == 1
    assert "refusing" in out.stderr
    assert open(instance.conf).read() == before
    assert len(instance.sql("SELECT * FROM accounts")) == 1


def test_init_schema_and_permissions(instance):
    versions = instance.sql("SELECT version FROM schema_version "
                            "ORDER BY version")
    migrations = sorted(f for f in os.listdir(os.path.join(
        os.environ.get("SEALD_SOURCE_DIR", "."), "sql", instance.dialect))
        if f[:3].isdigit())
    assert [v for (v,) in versions] == [int(f[:3]) for f in migrations]
    files = ["secret.key", "tls/server.key"]
    if instance.dialect == "sqlite":
        files.append("seald.db")
    else:
        assert not os.path.exists(os.path.join(instance.dir, "seald.db"))
    for name in files:
        mode = os.stat(os.path.join(instance.dir, name)).st_mode & 0o777
        assert mode & 0o077 == 0, (name, oct(mode))
    rows = instance.audit()
    assert [r[4] for r in rows] == ["instance.init"]
    # the audit log is append-only, even for a direct SQL client
    for stmt in ("UPDATE audit_log SET outcome='refused'",
                 "DELETE FROM audit_log"):
        with pytest.raises(DB_ERRORS, match="append-only"):
            instance.sql(stmt)
    assert [r[4] for r in instance.audit()] == ["instance.init"]


def test_config_errors_are_fatal_with_line(instance):
    with open(instance.conf, "a") as f:
        f.write("\n[server]\nthreads = lots\n")
    out = run_seald("run", "--config", instance.conf)
    assert out.returncode == 78
    lines = open(instance.conf).read().count("\n")
    assert f"seald.conf:{lines}:" in out.stderr
    assert "server.threads" in out.stderr
    out = run_seald("run", "--config", instance.conf, "--set", "nope.x=1")
    assert out.returncode == 78


def test_cli_overrides_file(instance):
    instance.start("--threads", "2", "--set", "log.level=warn")
    instance.get("/healthz")
    rc, _, err = instance.stop()
    assert rc == 0, err
    # level warn: no per-request info lines
    assert "event=request " not in open(instance.log).read()


def test_sighup_reopens_log(seald):
    seald.get("/healthz")
    rotated = seald.log + ".1"
    os.rename(seald.log, rotated)
    seald.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while not os.path.exists(seald.log) and time.time() < deadline:
        time.sleep(0.05)
    rid = seald.get("/healthz").headers["X-Request-Id"]
    seald.stop()
    assert f"rid={rid}" in open(seald.log).read()
    assert f"rid={rid}" not in open(rotated).read()


def test_sigterm_mid_load_loses_no_writes(instance):
    """Refused requests are audited; under load, SIGTERM must still leave
    every request that got an answer counted in the audit log (anonymous
    refusals are summarised: the shutdown writes the last window), and
    exit cleanly."""
    instance.start("--threads", "4")
    bad = "seald_" + "1" * 16 + "_" + "2" * 64
    answered = []
    stop_at = time.time() + 20

    def client():
        s = requests.Session()
        while time.time() < stop_at:
            try:
                r = s.get(instance.url("/api/v1/whoami"), verify=instance.cert,
                          headers={"Authorization": "Bearer " + bad},
                          timeout=10)
            except requests.RequestException:
                return
            if r.status_code == 401:
                answered.append(r.headers["X-Request-Id"])

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(client) for _ in range(8)]
        time.sleep(1.5)
        rc, _, err = instance.stop(timeout=30)
        for f in futures:
            f.result()
    assert rc == 0, err
    assert len(answered) > 10
    rows = instance.sql("SELECT request_id, details FROM audit_log WHERE "
                        "action = 'account.whoami' AND outcome = 'refused' "
                        "AND reason = 'invalid credential'")
    assert sum(json.loads(d)["count"] for _, d in rows) >= len(answered)
    assert rows and all(rid in answered for rid, _ in rows)
    assert "clean shutdown" in open(instance.log).read()


def test_openapi_matches_routes():
    routes = json.loads(run_seald("routes").stdout)
    spec = json.load(open(os.path.join(os.environ.get(
        "SEALD_SOURCE_DIR", "."), "docs", "openapi.json")))
    assert spec["openapi"].startswith("3.")
    documented = {(m.upper(), p) for p, ops in spec["paths"].items()
                  for m in ops if m in ("get", "post", "put", "patch",
                                        "delete")}
    real = {(r["method"], r["path"]) for r in routes}
    assert documented == real
    # each documented operation names the permission it needs, as the
    # routing table does
    for r in routes:
        op = spec["paths"][r["path"]][r["method"].lower()]
        assert op["x-seald-permission"] == r["permission"], r


def test_openapi_describes_every_operation_fully():
    """Issue 19 item 8: a client generated from the reference works.  Every
    schema is valid Draft 2020-12; every operation has the error envelope
    as its default response, a success response with a schema for its
    content, and each path parameter under the name the path uses (an esID
    is a string, a row id an integer)."""
    import openapi_check
    openapi_check.check_document()
    spec = openapi_check.spec()
    for path, ops in spec["paths"].items():
        names = re.findall(r"\{([^}]+)\}", path)
        for m, op in ops.items():
            if m not in ("get", "post", "put", "patch", "delete"):
                continue
            rs = op["responses"]
            assert rs.get("default") == {
                "$ref": "#/components/responses/Error"}, (m, path)
            ok = [c for c in rs if c.isdigit() and 200 <= int(c) < 300]
            assert ok, (m, path)
            for c in ok:
                for ctype, body in openapi_check.resolve(
                        rs[c]).get("content", {}).items():
                    assert body.get("schema"), (m, path, c, ctype)
            params = [openapi_check.resolve(p)
                      for p in op.get("parameters", [])]
            pp = {p["name"]: p["schema"] for p in params
                  if p["in"] == "path"}
            assert sorted(pp) == sorted(names), (m, path, pp)
            for n, sch in pp.items():
                want = "string" if n in ("esid", "sm3") else "integer"
                assert sch["type"] == want, (m, path, n)


def test_readyz_follows_the_token(seald):
    """init made a development SM2 token; /readyz proves it signs, says 503
    hsm_unavailable while it is gone, and recovers by itself."""
    conf = open(seald.conf).read()
    assert "[token.dev]" in conf and "\naudit = dev/" in conf
    r = seald.get("/readyz")
    assert r.status_code == 200, r.text
    (tok,) = r.json()["data"]["checks"]["tokens"]
    assert tok["name"] == "dev" and tok["present"] and tok["logged_in"]
    assert tok["last_sign_at"] is not None   # a sign round-trip happened
    absent = os.path.join(seald.dir, "token", "absent")
    open(absent, "w").close()
    try:
        assert_error(seald.get("/readyz"), 503, "hsm_unavailable")
        assert seald.get("/healthz").status_code == 200   # still alive
    finally:
        os.unlink(absent)
    deadline = time.time() + 10
    while seald.get("/readyz").status_code != 200:
        assert time.time() < deadline, "token did not recover"
        time.sleep(0.2)
    # the PIN is in a 0600 file, never in the config
    pin = open(os.path.join(seald.dir, "token.pin")).read().strip()
    assert pin not in conf
    assert os.stat(os.path.join(seald.dir, "token.pin")).st_mode & 0o077 == 0


def test_set_reaches_token_sections(instance):
    out = run_seald("run", "--config", instance.conf, "--set",
                    "token.dev.pool_size=500")
    assert out.returncode == 78 and "token.dev.pool_size" in out.stderr
    instance.start("--set", "token.dev.pool_size=6")
    r = instance.get("/readyz").json()["data"]["checks"]["tokens"][0]
    assert r["pool_size"] == 6
    rc, _, err = instance.stop()
    assert rc == 0, err


def test_every_command_help_exits_0_and_usage_errors_64():
    """Issue 19 item 8: `seald COMMAND --help` prints the usage on stdout
    and exits 0; an unknown option is a usage error, 64 (EX_USAGE), for
    every command `seald help` lists."""
    out = run_seald("help")
    assert out.returncode == 0
    commands = re.findall(r"^  ([a-z][a-z-]+) ", out.stdout, re.M)
    assert "run" in commands and "impression" in commands, out.stdout
    for c in commands:
        if c == "version":
            continue
        h = run_seald(c, "--help")
        assert h.returncode == 0 and "usage" in h.stdout.lower(), (c, h)
        b = run_seald(c, "--no-such-option")
        assert b.returncode == 64, (c, b.returncode, b.stderr)
    assert run_seald("no-such-command").returncode == 64
