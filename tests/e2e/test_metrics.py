"""Issue 19 items 4 and 5: GET /metrics in the Prometheus text format
(0.0.4), its access rule, and the logs that explain: the request line of
an error answer carries its code and reason, [log] format = json writes
one JSON object per line, failed TLS handshakes are logged in words.

The exposition is read by a small strict parser below (Debian 12 has no
python3-prometheus-client): every sample line must parse, every family
has HELP and TYPE before its samples, and histogram buckets are
cumulative and end in +Inf equal to _count."""

import base64
import json
import math
import re
import socket
import time

import pytest
import requests

from conftest import Instance, assert_error
from test_accounts import make_ca, make_client, rotate
from test_seals import Seals

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"'
SAMPLE = re.compile(rf"^({NAME})(?:\{{((?:{LABEL},?)*)\}})? (\S+)$")


def parse(text):
    """The exposition as {(name, frozenset(labels)): value}, with the
    format's rules asserted; also returns {family: type}."""
    assert text.endswith("\n")
    samples, types, helps = {}, {}, set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helps.add(line.split(" ")[2])
            continue
        if line.startswith("# TYPE "):
            _, _, fam, typ = line.split(" ")
            assert typ in ("counter", "gauge", "histogram"), line
            assert fam in helps and fam not in types, line
            types[fam] = typ
            continue
        assert not line.startswith("#") and line, line
        m = SAMPLE.match(line)
        assert m, "bad sample line: " + line
        name, labels, value = m.group(1), m.group(2) or "", m.group(m.lastindex)
        fam = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or (fam in types and types[fam] == "histogram"),\
            "sample before its TYPE: " + line
        labs = frozenset(re.findall(LABEL, labels))
        key = (name, labs)
        assert key not in samples, "duplicate series: " + line
        v = float(value)
        assert not math.isnan(v)
        samples[key] = v
    # histograms: cumulative buckets, +Inf == _count
    for (name, labs), v in samples.items():
        if name.endswith("_count") and types.get(name[:-6]) == "histogram":
            fam = name[:-6]
            buckets = sorted(
                ((float(dict(l)["le"]), bv) for (n, l), bv in samples.items()
                 if n == fam + "_bucket" and
                 {x for x in l if x[0] != "le"} == set(labs)))
            assert buckets and buckets[-1][0] == math.inf, fam
            assert buckets[-1][1] == v, fam
            assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:]))
    return samples, types


def val(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def scrape(inst, credential=None):
    r = inst.get("/metrics", credential)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return parse(r.text)[0]


def log_lines(inst):
    with open(inst.log, encoding="utf-8") as f:
        return f.read().splitlines()


def wait_log(inst, pred, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        hits = [l for l in log_lines(inst) if pred(l)]
        if hits:
            return hits
        time.sleep(0.05)
    raise AssertionError("no such log line")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    inst = Instance(tmp_path_factory.mktemp("metrics") / "inst")
    inst.start("--set", "server.refusal_delay_ms=0",
               "--set", "metrics.cache_seconds=1")
    w = Seals(inst)
    w.esid = w.new_active_seal(seal_name="指标测试章")
    yield w
    rc, _, err = inst.stop()
    assert rc == 0, err


def sign_one(w, text):
    r = w.inst.post("/api/v1/sign-requests", w.cred["requester"], json={
        "esid": w.esid, "title": "函", "purpose": "metrics", "copies": 1,
        "documents": [{"name": "a.txt",
                       "data": base64.b64encode(text).decode()}]})
    assert r.status_code == 201, r.text
    rid = r.json()["data"]["id"]
    r = w.inst.post(f"/api/v1/sign-requests/{rid}/approve",
                    w.cred["approver"])
    assert r.status_code == 200, r.text
    r = w.inst.post(f"/api/v1/sign-requests/{rid}/sign", w.cred["custodian"])
    assert r.status_code == 200, r.text
    (res,) = r.json()["data"]["results"]
    assert res["status"] == "signed", res
    return rid, base64.b64decode(res["signature"])


def test_counters_move_with_the_requests(world):
    w = world
    dialect = "postgresql" if w.inst.dialect == "postgresql" else "sqlite"
    text = "指标：一次签章".encode()
    m0 = scrape(w.inst)
    rid, sig = sign_one(w, text)
    r = w.inst.post("/api/v1/verify", w.cred["verifier"], json={
        "signature": base64.b64encode(sig).decode(),
        "document": base64.b64encode(text).decode()})
    assert r.status_code == 200 and \
        r.json()["data"]["indication"] == "TOTAL_PASSED", r.text
    r = w.inst.post("/api/v1/verify", w.cred["verifier"], json={
        "signature": base64.b64encode(sig).decode(),
        "document": base64.b64encode(text + b"!").decode()})
    assert r.status_code == 200 and \
        r.json()["data"]["indication"] != "TOTAL_PASSED", r.text
    assert_error(w.inst.get("/no/such/route/12345"), 404, "not_found")
    assert_error(w.inst.get("/api/v1/whoami", "seald_00_bad"), 401,
                 "unauthenticated")
    time.sleep(1.1)                     # past metrics.cache_seconds
    m1 = scrape(w.inst)

    def d(name, **labels):
        return val(m1, name, **labels) - val(m0, name, **labels)

    req = "seald_http_requests_total"
    assert d(req, method="POST", route="/api/v1/sign-requests/{id}/sign",
             status="200") == 1
    assert d(req, method="POST", route="/api/v1/sign-requests",
             status="201") == 1
    assert d(req, method="POST", route="/api/v1/verify", status="200") == 2
    assert d(req, method="GET", route="/api/v1/whoami", status="401") == 1
    assert d(req, method="other", route="unmatched", status="404") == 1
    assert d(req, method="GET", route="/metrics", status="200") == 1
    # the route template, never the path: no id, no raw path in a label
    labels = {v for (_, labs) in m1 for (_, v) in labs}
    assert not any("12345" in v or "/no/such" in v or f"/{rid}/" in v
                   for v in labels), labels
    lat = "seald_http_request_duration_seconds_count"
    assert d(lat, method="POST", route="/api/v1/sign-requests/{id}/sign") == 1
    assert d("seald_signatures_total", outcome="ok") == 1
    assert d("seald_signatures_total", outcome="failed") == 0
    assert d("seald_verifications_total", outcome="ok") == 1
    assert d("seald_verifications_total", outcome="invalid") == 1
    # the signature is one token signature (a checkpoint may add one)
    assert d("seald_token_operations_total", op="sign") >= 1
    assert d("seald_token_errors_total", op="sign") == 0
    assert d("seald_token_operation_duration_seconds_count", op="sign") >= 1
    assert d("seald_group_commit_size_count") >= 1
    assert d("seald_db_statement_duration_seconds_count",
             dialect=dialect) > 10
    other = "sqlite" if dialect == "postgresql" else "postgresql"
    assert d("seald_db_statement_duration_seconds_count", dialect=other) == 0
    if dialect == "postgresql":
        assert d("seald_db_round_trips_total", dialect=dialect) > 0
    else:
        assert val(m1, "seald_db_round_trips_total", dialect=dialect) == 0
    # the database gauges, from the cache refreshed since
    entries = w.inst.sql("SELECT max(seq) FROM audit_log")[0][0]
    assert 0 < val(m1, "seald_audit_entries") <= entries
    assert val(m1, "seald_seals", state="active") == w.inst.sql(
        "SELECT count(*) FROM seals WHERE state = 'active'")[0][0]
    assert ("seald_audit_checkpoint_age_seconds", frozenset()) in m1 or \
        not w.inst.sql("SELECT count(*) FROM audit_checkpoints")[0][0]
    # the outbox's backlog is the deliveries still pending (none here: no
    # destination is configured), read from the database like the others
    assert val(m1, "seald_outbox_backlog") == w.inst.sql(
        "SELECT count(*) FROM deliveries WHERE state = 'pending'")[0][0]


def test_error_request_lines_carry_code_and_reason(world):
    w = world
    r = w.inst.get("/api/v1/seals/nope", w.cred["custodian"])
    assert_error(r, 404, "not_found")
    rid = r.headers["X-Request-Id"]
    (line,) = wait_log(w.inst, lambda l: f"rid={rid} " in l and
                       "event=request " in l)
    assert " level=info " in line
    assert " status=404 " in line and " code=not_found " in line, line
    assert re.search(r' reason=("[^"]+"|\S+)', line), line
    r = w.inst.get("/api/v1/whoami", "seald_00_bad")
    rid = r.headers["X-Request-Id"]
    (line,) = wait_log(w.inst, lambda l: f"rid={rid} " in l and
                       "event=request " in l)
    assert " code=unauthenticated " in line and " reason=" in line, line
    # a success has neither
    r = w.inst.get("/healthz")
    rid = r.headers["X-Request-Id"]
    (line,) = wait_log(w.inst, lambda l: f"rid={rid} " in l)
    assert " code=" not in line and " reason=" not in line


def test_plain_http_to_the_tls_port_is_logged_in_words(world):
    w = world
    with socket.create_connection(("127.0.0.1", w.inst.port)) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            s.recv(100)
        except OSError:
            pass
    (line, *_) = wait_log(w.inst, lambda l: "event=tls_handshake_failed" in l)
    assert "not TLS" in line and "client=127.0.0.1" in line, line
    assert "out of context" not in "\n".join(log_lines(w.inst))


def test_access_refused_outside_the_list_and_json_log(tmp_path):
    """metrics.allow empty: no address is served without a credential; a
    credential needs metrics.read (sysadmin).  The same instance logs in
    JSON: every line one object with the stable fields."""
    inst = Instance(tmp_path / "inst")
    inst.start("--set", "metrics.allow=", "--set", "log.format=json",
               "--set", "server.refusal_delay_ms=0")
    try:
        r = inst.get("/metrics")
        assert_error(r, 401, "unauthenticated")
        refused = r.headers["X-Request-Id"]
        admin = rotate(inst, inst.admin_credential)
        assert scrape(inst, admin)
        r = inst.post("/api/v1/accounts", admin, json={
            "name": "ops2", "display_name": "Ops", "kind": "person",
            "org_id": 1})
        assert r.status_code == 201, r.text
        other = rotate(inst, r.json()["data"]["credential"])
        assert_error(inst.get("/metrics", other), 403, "forbidden")
        r = inst.get("/api/v1/seals/nope", admin)
        assert_error(r, 404, "not_found")
        nf = r.headers["X-Request-Id"]
        time.sleep(0.2)
        objs = [json.loads(l) for l in log_lines(inst)]   # all parse
        for o in objs:
            assert {"ts", "level", "event"} <= set(o), o
            assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$",
                            o["ts"])
        reqs = {o["rid"]: o for o in objs if o["event"] == "request"}
        o = reqs[refused]
        assert o["status"] == 401 and o["code"] == "unauthenticated"
        assert o["path"] == "/metrics" and o["reason"]
        o = reqs[nf]
        assert o["status"] == 404 and o["code"] == "not_found"
        assert isinstance(o["dur_ms"], int) and o["method"] == "GET"
        assert o["aborted"] == 0 and o["client"] == "127.0.0.1"
    finally:
        rc, _, err = inst.stop()
    assert rc == 0, err


def test_untrusted_client_certificate_logged_in_words(tmp_path, instance):
    d = str(tmp_path)
    ca = make_ca(d, "PortalCA")
    forged = make_client(d, make_ca(d, "OtherCA"), "portal", "forged")
    instance.start("--set", "server.client_ca=" + ca[1],
                   "--set", "server.refusal_delay_ms=0",
                   "--set", "metrics.allow=")
    try:
        r = instance.get("/metrics", cert=forged)
        assert_error(r, 401, "unauthenticated")
        rid = r.headers["X-Request-Id"]
        (line,) = wait_log(instance, lambda l: f"rid={rid} " in l and
                           "event=request " in l)
        assert "its issuer is not in server.client_ca" in line, line
    finally:
        rc, _, err = instance.stop()
    assert rc == 0, err
