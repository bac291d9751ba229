"""Issue 18 items 4-6: the transactional outbox, its webhook and filing
deliveries, and the pull read.  A receiver run by the test over HTTPS (a
self-signed certificate seald is configured to trust) takes the webhooks:
events arrive signed with HMAC-SM3 and in commit order for a whole
lifecycle; a receiver that fails gets retries and then a dead letter that
an operator replays; a long-poll returns when an event commits; a SIGKILL
while events are pending loses none; a refused change writes no event;
filing records go to their own destination, tracked per destination."""
import base64
import hashlib
import hmac
import http.server
import json
import os
import signal
import ssl
import subprocess
import threading
import time

import pytest
import requests

from conftest import PG, SEALD, Instance, assert_error, free_port
from openapi_check import check_response
from sealimg import png
from test_seals import Seals

SECRET = b"outbox-test-secret-0123456789"
FILING_SECRET = b"filing-test-secret-0123456789"


def b64(data):
    return base64.b64encode(data).decode()


class Receiver:
    """An HTTPS server with three paths: /hook answers 200, /flaky what
    self.flaky says, /filing 200; every request is kept."""

    def __init__(self, directory):
        self.got = {"/hook": [], "/flaky": [], "/filing": []}
        self.flaky = 500
        self.filing_gate = None         # an Event: /filing waits for it
        self.impressions = {}           # code -> bytes (GET /impressions/)
        self.lock = threading.Lock()
        self.cert = os.path.join(directory, "recv.crt")
        key = os.path.join(directory, "recv.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", key, "-out", self.cert, "-days", "2",
                        "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True)
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with outer.lock:
                    outer.got.setdefault(self.path, []).append(
                        (dict(self.headers), body))
                    status = outer.flaky if self.path == "/flaky" else 200
                    gate = outer.filing_gate if self.path == "/filing" \
                        else None
                if gate is not None:    # shorter than the try's timeout
                    gate.wait(1.5)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"no")

            def do_GET(self):
                code = self.path.rsplit("/", 1)[-1]
                with outer.lock:
                    body = outer.impressions.get(code)
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket,
                                            server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path):
        return f"https://127.0.0.1:{self.port}{path}"

    def events(self, path="/hook"):
        with self.lock:
            return [(h, json.loads(b)) for h, b in self.got[path]]


def verify_signature(headers, body, secret):
    """What a receiver does: t and v1 from Seald-Signature, HMAC-SM3 over
    t "." body, compared in constant time."""
    parts = dict(p.split("=", 1) for p in headers["Seald-Signature"].split(","))
    mac = hmac.new(secret, parts["t"].encode() + b"." + body, "sm3")
    assert hmac.compare_digest(mac.hexdigest(), parts["v1"])
    assert abs(int(parts["t"]) - time.time()) < 120


def configure(inst, recv, attempts=3, timeout_ms=2000):
    """Three destinations: every event to /hook, the suspensions to the
    flaky /flaky, the filing records to /filing."""
    d = inst.dir
    for name, secret in (("hook", SECRET), ("flaky", SECRET),
                         ("filing", FILING_SECRET)):
        with open(os.path.join(d, name + ".secret"), "wb") as f:
            f.write(secret + b"\n")
    with open(inst.conf, "a") as f:
        f.write(f"""
[filing]
impression_url = {recv.url('/impressions/{code}')}
impression_ca_file = {recv.cert}

[events]
delivery_attempts = {attempts}
backoff_ms = 100
backoff_max_ms = 400
delivery_interval_ms = 200

[destination.hook]
kind = webhook
url = {recv.url('/hook')}
secret_file = hook.secret
ca_file = {recv.cert}
timeout_ms = {timeout_ms}

[destination.flaky]
kind = webhook
url = {recv.url('/flaky')}
secret_file = flaky.secret
events = seal.suspended, seal.resumed
ca_file = {recv.cert}
timeout_ms = {timeout_ms}

[destination.police]
kind = filing
url = {recv.url('/filing')}
secret_file = filing.secret
ca_file = {recv.cert}
timeout_ms = {timeout_ms}
""")


def wait_for(pred, what, timeout=15):
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        assert time.time() < deadline, what
        time.sleep(0.05)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("events")
    recv = Receiver(str(base))
    inst = Instance(base / "inst")
    configure(inst, recv)
    inst.start("--set", "seals.maintenance_seconds=1")
    w = Seals(inst)
    w.impression_code = "PSB-NOTHING"     # not filed: the applicant's stands
    w.recv = recv
    yield w
    if inst.proc is not None:
        rc, _, err = inst.stop()
        assert rc == 0, err
    recv.httpd.shutdown()


def db_events(w):
    return w.inst.sql("SELECT seq, event_id, type, target_id FROM events "
                      "ORDER BY seq")


def act(w, esid, what, who, status=200):
    r = w.inst.post(f"/api/v1/seals/{esid}/{what}", w.cred[who],
                    json={"reason": f"{what} by {who}"})
    assert r.status_code == status, r.text
    return r


def test_full_lifecycle_arrives_signed_and_in_order(world):
    w = world
    app = w.apply(seal_name="事件章")
    w.approve(app)
    esid = w.make(app)["esid"]
    w.confirm(esid)
    r = w.inst.post("/api/v1/sign-requests", w.cred["requester"], json={
        "esid": esid, "title": "函", "purpose": "test", "copies": 1,
        "documents": [{"name": "d.txt", "data": b64(b"doc")}]})
    assert r.status_code == 201, r.text
    rid = r.json()["data"]["id"]
    assert w.inst.post(f"/api/v1/sign-requests/{rid}/approve",
                       w.cred["approver"]).status_code == 200
    r = w.inst.post(f"/api/v1/sign-requests/{rid}/sign", w.cred["custodian"])
    assert r.json()["data"]["results"][0]["status"] == "signed", r.text
    act(w, esid, "suspend", "secadmin")
    act(w, esid, "resume", "secadmin")
    act(w, esid, "loss", "custodian")
    want = ["application.submitted", "application.approved", "seal.made",
            "seal.activated", "sign_request.submitted",
            "sign_request.approved", "sign_request.signed", "seal.suspended",
            "seal.resumed", "seal.lost"]
    stored = db_events(w)
    head = stored[-1][0]
    # the outbox: seqs without a gap, in the order the changes committed
    assert [s for s, *_ in stored] == list(range(1, head + 1))
    mine = [t for _, _, t, tid in stored
            if tid in (esid, str(app), str(rid))]
    assert mine == want, mine
    got = wait_for(lambda: (lambda g: g if g and g[-1][1]["seq"] >= head
                            else None)(w.recv.events()),
                   "the webhook did not get every event")
    seqs = [b["seq"] for _, b in got]
    assert seqs == sorted(seqs) and seqs[-1] == head
    assert len(set(seqs)) == len(seqs), "delivered twice without a reason"
    by_id = {eid: (s, t) for s, eid, t, _ in stored}
    with w.recv.lock:
        raw = list(w.recv.got["/hook"])
    for (h, body), (_, ev) in zip(raw, got):
        verify_signature(h, body, SECRET)
        assert h["Seald-Event-Id"] == h["Idempotency-Key"] == ev["id"]
        assert by_id[ev["id"]] == (ev["seq"], ev["type"])
        assert h["Seald-Event-Type"] == ev["type"]
    # a body signed with another key, or changed, fails the check
    h, body = raw[-1]
    with pytest.raises(AssertionError):
        verify_signature(h, body + b" ", SECRET)
    with pytest.raises(AssertionError):
        verify_signature(h, body, b"another-secret-xxxxxxxxxx")
    # the secrets are in their files only: not in the config, not logged
    for f in (w.inst.conf, w.inst.log):
        text = open(f, "rb").read()
        assert SECRET not in text and FILING_SECRET not in text, f
    signed = [ev for _, ev in got if ev["type"] == "sign_request.signed"]
    assert signed[-1]["target"] == {"type": "sign_request", "id": str(rid)}
    assert signed[-1]["data"]["esid"] == esid
    assert signed[-1]["organisation_id"] == w.agency


def test_refused_change_writes_no_event(world):
    w = world
    esid = w.new_active_seal(seal_name="拒绝章")
    before = db_events(w)
    # resume of an active seal is refused (409); a reviewer cannot suspend
    act(w, esid, "resume", "secadmin", status=409)
    act(w, esid, "suspend", "reviewer", status=403)
    r = w.inst.post("/api/v1/sign-requests", w.cred["reviewer"], json={
        "esid": esid, "title": "x", "purpose": "x", "copies": 1,
        "documents": [{"name": "d.txt", "data": b64(b"x")}]})
    assert r.status_code == 403, r.text
    assert db_events(w) == before


def test_long_poll_returns_when_an_event_commits(world):
    w = world
    esid = w.new_active_seal(seal_name="长轮询章")
    head = db_events(w)[-1][0]
    out = {}

    def poll():
        t0 = time.monotonic()
        r = w.inst.get(f"/api/v1/events?after={head}&wait=10",
                       w.cred["applicant"])
        out["r"], out["t"], out["end"] = r, time.monotonic() - t0, \
            time.monotonic()

    t = threading.Thread(target=poll)
    t.start()
    time.sleep(0.6)
    assert "r" not in out, "the long-poll answered before any event"
    t_change = time.monotonic()
    act(w, esid, "suspend", "applicant")
    t.join(15)
    r = out["r"]
    assert r.status_code == 200, r.text
    check_response("/api/v1/events", "get", r)
    d = r.json()["data"]
    assert [e["type"] for e in d["items"]] == ["seal.suspended"]
    assert d["next_after"] == d["items"][0]["seq"] == head + 1
    # it answered on the commit, not at the end of its wait
    assert out["t"] < 5, out["t"]
    print(f"long-poll answered {out['end'] - t_change:.3f} s after the "
          "change's request was sent")
    # nothing new: a read without wait answers at once, empty
    r = w.inst.get(f"/api/v1/events?after={head + 1}", w.cred["applicant"])
    assert r.json()["data"] == {"items": [], "next_after": head + 1}
    # bounds at the edge
    assert_error(w.inst.get("/api/v1/events?wait=3600", w.cred["applicant"]),
                 422, "invalid_argument")
    assert_error(w.inst.get("/api/v1/events?limit=0", w.cred["applicant"]),
                 422, "invalid_argument")


def test_events_are_scoped_to_the_reader(world):
    w = world
    other = w.org("别处", "agency", w.city)
    acc, cred = w.person("otherapplicant", other)
    w.grant(w.cred["secadmin"], acc, "applicant", other)
    r = w.inst.get("/api/v1/events?limit=1000", cred)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["items"] == []
    mine = w.inst.get("/api/v1/events?limit=1000", w.cred["applicant"])
    check_response("/api/v1/events", "get", mine)
    assert mine.json()["data"]["items"]
    assert all(e["organisation_id"] == w.agency
               for e in mine.json()["data"]["items"])
    # the auditor (scope: the root) sees them all; sysadmin holds no
    # event.read
    assert w.inst.get("/api/v1/events", w.cred["auditor"]).status_code == 200
    assert_error(w.inst.get("/api/v1/events", w.cred["sysadmin"]), 403,
                 "forbidden")


def test_failing_receiver_gets_retries_then_dead_letter_and_replay(world):
    w = world
    w.recv.flaky = 500
    esid = w.new_active_seal(seal_name="重试章")
    act(w, esid, "suspend", "secadmin")
    (seq,) = [s for s, _, t, tid in db_events(w)
              if t == "seal.suspended" and tid == esid]

    def failed():
        r = w.inst.get("/api/v1/deliveries?state=failed&destination=flaky",
                       w.cred["secadmin"])
        assert r.status_code == 200, r.text
        check_response("/api/v1/deliveries", "get", r)
        return [d for d in r.json()["data"]["items"]
                if d["event"]["seq"] == seq]

    (dead,) = wait_for(failed, "no dead letter after the retries")
    tries = [h for h, b in w.recv.got["/flaky"]
             if json.loads(b)["seq"] == seq]
    assert len(tries) == 3 == dead["attempts"]
    assert [h["Seald-Delivery-Attempt"] for h in tries] == ["1", "2", "3"]
    assert len({h["Seald-Event-Id"] for h in tries}) == 1
    assert dead["last_status"] == 500 and dead["last_reply"] == "no"
    # the operator's routes: the security administrator only
    assert_error(w.inst.get("/api/v1/deliveries", w.cred["auditor"]), 403,
                 "forbidden")
    assert_error(w.inst.post(f"/api/v1/deliveries/{dead['id']}/replay",
                             w.cred["applicant"]), 403, "forbidden")
    w.recv.flaky = 200
    r = w.inst.post(f"/api/v1/deliveries/{dead['id']}/replay",
                    w.cred["secadmin"])
    assert r.status_code == 200, r.text
    check_response("/api/v1/deliveries/{id}/replay", "post", r)
    assert r.json()["data"]["state"] in ("pending", "delivered")
    # a delivery that is not a dead letter is not replayed
    wait_for(lambda: w.inst.get(
        f"/api/v1/deliveries?destination=flaky&target_id={esid}",
        w.cred["secadmin"]).json()["data"]["items"][0]["state"]
        == "delivered", "the replay was not delivered")
    r = w.inst.post(f"/api/v1/deliveries/{dead['id']}/replay",
                    w.cred["secadmin"])
    assert_error(r, 404, "not_found")
    check_response("/api/v1/deliveries/{id}/replay", "post", r)
    rows = w.inst.sql("SELECT action, outcome FROM audit_log WHERE "
                      "target_type = 'delivery' AND target_id = ? "
                      "ORDER BY seq", str(dead["id"]))
    assert ("delivery.fail", "ok") in rows and ("delivery.replay", "ok") in rows
    # the refused replays (a non-operator, a delivery not dead) are audited
    refused = w.inst.sql("SELECT count(*) FROM audit_log WHERE action = "
                         "'delivery.replay' AND outcome <> 'ok'")
    assert refused[0][0] >= 2


def test_filing_records_go_to_their_destination(world):
    w = world
    esid = w.new_active_seal(seal_name="备案章")
    act(w, esid, "loss", "custodian")

    def filed():
        got = [b for _, b in w.recv.events("/filing")
               if b["seal"]["esid"] == esid]
        return got if len(got) >= 3 else None

    got = wait_for(filed, "the filing records did not arrive")
    assert [b["event"]["type"] for b in got] == ["seal.made",
                                                 "seal.activated",
                                                 "seal.lost"]
    rec = got[-1]
    assert rec["record_type"] == "seald-seal-filing-2"
    assert rec["unit"]["id"] == w.agency
    assert rec["unit"]["credit_code"] == "11230100MB1234567X"
    assert rec["persons"]["custodian"]["id"] == w.ids["custodian"]
    assert rec["persons"]["applicant"]["id"] == w.ids["applicant"]
    img = base64.b64decode(rec["impression"]["data"])
    assert hashlib.new("sm3", img).hexdigest() == rec["impression"]["sm3"]
    assert base64.b64decode(rec["certificate"]["der"])[:1] == b"\x30"
    assert base64.b64decode(rec["seal"]["seal_der"])[:1] == b"\x30"
    assert rec["seal"]["state"] == "lost"
    assert rec["times"]["valid_end_ms"] > rec["times"]["made_ms"] > 0
    with w.recv.lock:
        for h, body in w.recv.got["/filing"]:
            verify_signature(h, body, FILING_SECRET)
    # tracked per destination: the seal's deliveries, each with its state
    r = w.inst.get(f"/api/v1/deliveries?target_id={esid}", w.cred["secadmin"])
    per = {}
    for d in r.json()["data"]["items"]:
        per.setdefault(d["destination"], []).append(
            (d["event"]["type"], d["state"]))
    assert per["police"] == [("seal.made", "delivered"),
                             ("seal.activated", "delivered"),
                             ("seal.lost", "delivered")]
    assert "flaky" not in per           # its filter takes suspensions only
    assert [t for t, _ in per["hook"]] == ["seal.made", "seal.activated",
                                           "seal.lost"]
    # the filing destinations have it: the seal is filed, by the delivery,
    # on the record, and no longer to be marked by hand
    r = w.inst.get(f"/api/v1/seals/{esid}", w.cred["applicant"])
    assert r.json()["data"]["filing_state"] == "filed", r.text
    rows = [json.loads(d) for (d,) in w.inst.sql(
        "SELECT details FROM audit_log WHERE action = 'seal.file' AND "
        "target_id = ? AND outcome = 'ok'", esid)]
    assert rows == [{"by": "delivery", "destinations": ["police"]}]
    assert_error(w.inst.post(f"/api/v1/seals/{esid}/filing",
                             w.cred["maker"]), 409, "conflict")


def test_seal_is_not_filed_until_the_filing_system_has_it(world):
    """A record on its way leaves the seal pending: only one the filing
    system has answered files it."""
    w = world
    w.recv.filing_gate = gate = threading.Event()
    try:
        esid = w.new_active_seal(seal_name="未备案章")
        wait_for(lambda: [b for _, b in w.recv.events("/filing")
                          if b["seal"]["esid"] == esid],
                 "the filing record did not arrive")
        # the system has the record but has not answered yet
        r = w.inst.get(f"/api/v1/seals/{esid}", w.cred["applicant"])
        assert r.json()["data"]["filing_state"] == "pending"
    finally:
        w.recv.filing_gate = None
        gate.set()
    wait_for(lambda: w.inst.get(f"/api/v1/seals/{esid}", w.cred["applicant"])
             .json()["data"]["filing_state"] == "filed",
             "the seal was not filed once the record was delivered")


def test_expiry_notices_once_per_threshold(world):
    w = world
    esid = w.new_active_seal(seal_name="将到期章")
    day = 86400 * 1000

    def notices():
        return [json.loads(d) for (d,) in w.inst.sql(
            "SELECT data FROM events WHERE type = 'seal.expiring' AND "
            "target_id = ? ORDER BY seq", esid)]

    assert notices() == []
    # five days left: the 7-day notice (the 30-day one is not sent late)
    end = int(time.time() * 1000) + 5 * day
    w.inst.sql("UPDATE seals SET valid_end_ms = ? WHERE esid = ?", end, esid)
    wait_for(notices, "no expiry notice from the seal job")
    time.sleep(1.5)                 # more turns of the job: still one
    assert [n["days"] for n in notices()] == [7]
    assert notices()[0]["valid_end_ms"] == end
    # half a day left: the 1-day notice, once
    w.inst.sql("UPDATE seals SET valid_end_ms = ? WHERE esid = ?",
               int(time.time() * 1000) + day // 2, esid)
    wait_for(lambda: len(notices()) == 2, "no 1-day notice")
    time.sleep(1.5)
    assert [n["days"] for n in notices()] == [7, 1]
    # the webhook has them too, with the seal's organisation
    got = wait_for(lambda: [e for _, e in w.recv.events()
                            if e["type"] == "seal.expiring"
                            and e["target"]["id"] == esid] or None,
                   "the notice was not delivered")
    assert got[0]["organisation_id"] == w.agency


def test_reviewer_compares_the_filed_impression(world):
    w = world
    app = w.apply(seal_name="印模比对章")
    path = f"/api/v1/applications/{app}/impression-check"
    w.review(app, "start")
    # no comparison yet: the approval of a new seal is refused (GD art. 12)
    # and changes nothing
    r = w.inst.post(f"/api/v1/applications/{app}/review", w.cred["reviewer"],
                    json={"decision": "approve"})
    assert_error(r, 409, "conflict")
    assert "impression-check" in r.json()["error"]["message"]
    r = w.inst.get(f"/api/v1/applications/{app}", w.cred["reviewer"])
    assert r.json()["data"]["state"] == "under_review"
    assert r.json()["data"]["impression_check"] is None
    # the submitted impression as the reviewer downloads it (the row holds
    # it sealed: encryption at rest)
    r = w.inst.get(f"/api/v1/applications/{app}/image", w.cred["reviewer"])
    assert r.status_code == 200, r.text
    image = r.content
    w.recv.impressions["PSB-0001"] = image
    w.recv.impressions["PSB-0002"] = image + b"other"
    r = w.inst.post(path, w.cred["reviewer"], json={"code": "PSB-0002"})
    assert r.status_code == 200, r.text
    check_response("/api/v1/applications/{id}/impression-check", "post", r)
    d = r.json()["data"]
    assert (d["same"], d["outcome"]) == (False, "different")
    # nothing filed under the code is an outcome too, on the record
    r = w.inst.post(path, w.cred["reviewer"], json={"code": "PSB-9999"})
    assert r.status_code == 200, r.text
    check_response("/api/v1/applications/{id}/impression-check", "post", r)
    d = r.json()["data"]
    assert (d["outcome"], d["filed"], d["same"]) == ("not_filed", None, False)
    r = w.inst.post(path, w.cred["reviewer"], json={"code": "PSB-0001"})
    assert r.status_code == 200, r.text
    d = r.json()["data"]
    assert d["same"] is True and d["outcome"] == "same"
    assert d["filed"]["sm3"] == d["submitted"]["sm3"]
    assert base64.b64decode(d["filed"]["data"]) == image
    # a code that would leave the path; not the reviewer
    assert_error(w.inst.post(path, w.cred["reviewer"],
                             json={"code": "../admin"}), 422,
                 "invalid_argument")
    assert_error(w.inst.post(path, w.cred["applicant"],
                             json={"code": "PSB-0001"}), 403, "forbidden")
    # the application shows the comparison its decision will rest on
    r = w.inst.get(f"/api/v1/applications/{app}", w.cred["reviewer"])
    ic = r.json()["data"]["impression_check"]
    assert (ic["code"], ic["outcome"], ic["current"]) == ("PSB-0001", "same",
                                                          True)
    assert ic["checked_by"] == w.ids["reviewer"]
    # each comparison is on the record before the decision
    rows = [json.loads(d) for (d,) in w.inst.sql(
        "SELECT details FROM audit_log WHERE action = "
        "'application.impression_check' AND outcome = 'ok' AND target_id = ? "
        "ORDER BY seq", str(app))]
    assert [(x["code"], x["outcome"]) for x in rows] == [
        ("PSB-0002", "different"), ("PSB-9999", "not_filed"),
        ("PSB-0001", "same")]
    w.review(app, "approve")
    # the decision names the comparison it was made on
    (details,) = w.inst.sql(
        "SELECT details FROM audit_log WHERE action = 'application.approve' "
        "AND target_id = ?", str(app))[0]
    comp = json.loads(details)["impression_compared"]
    assert (comp["code"], comp["outcome"]) == ("PSB-0001", "same")
    assert comp["submitted_sm3"] == ic["submitted_sm3"]
    # decided: the comparison it rests on cannot be replaced
    assert_error(w.inst.post(path, w.cred["reviewer"],
                             json={"code": "PSB-0002"}), 409, "conflict")
    r = w.inst.get(f"/api/v1/applications/{app}", w.cred["reviewer"])
    assert r.json()["data"]["impression_check"]["code"] == "PSB-0001"


def test_comparison_goes_stale_when_the_image_changes(world):
    """A returned application resubmitted with another image needs a new
    comparison: the old one compared bytes no longer submitted."""
    w = world
    app = w.apply(seal_name="印模重交章")
    w.review(app, "start")
    path = f"/api/v1/applications/{app}/impression-check"
    assert w.inst.post(path, w.cred["reviewer"],
                       json={"code": "PSB-NOTHING"}).status_code == 200
    w.review(app, "return", reason="the impression is blurred")
    r = w.inst.post(f"/api/v1/applications/{app}/resubmit",
                    w.cred["applicant"], json={
                        "kind": "official", "subkind": "legal_name",
                        "seal_name": "印模重交章",
                        "custodian_id": w.ids["custodian"],
                        "image": {"data": base64.b64encode(
                            png(colour=(190, 10, 10))).decode(),
                            "width_mm": 40, "height_mm": 40}})
    assert r.status_code == 200, r.text
    w.review(app, "start")
    r = w.inst.get(f"/api/v1/applications/{app}", w.cred["reviewer"])
    assert r.json()["data"]["impression_check"]["current"] is False
    assert_error(w.inst.post(f"/api/v1/applications/{app}/review",
                             w.cred["reviewer"], json={"decision": "approve"}),
                 409, "conflict")
    # a rejection needs no comparison and names none that is stale
    w.review(app, "reject", reason="not the unit's seal")
    (details,) = w.inst.sql(
        "SELECT details FROM audit_log WHERE action = 'application.reject' "
        "AND target_id = ?", str(app))[0]
    assert json.loads(details)["impression_compared"] is None


def test_sigkill_with_pending_events_loses_none(tmp_path):
    recv = Receiver(str(tmp_path))
    recv.flaky = 503
    inst = Instance(tmp_path / "inst")
    # short tries: the killed node's lease (its period + the longest try +
    # 2 s) runs out sooner for the restarted node, which has a new node id
    configure(inst, recv, attempts=50, timeout_ms=500)
    inst.start()
    try:
        w = Seals(inst)
        w.impression_code = "PSB-NOTHING"
        esids = [w.new_active_seal(seal_name=f"断电章{i}") for i in range(2)]
        for esid in esids:
            act(w, esid, "suspend", "secadmin")
        committed = db_events(w)
        # the flaky destination is failing: its suspensions are pending
        # (in order: the second waits behind the first, untried)
        wait_for(lambda: inst.sql(
            "SELECT count(*), max(attempts) FROM deliveries WHERE dest = "
            "'flaky' AND state = 'pending'")[0] >= (2, 1),
            "the failing destination's deliveries are not pending")
        inst.proc.send_signal(signal.SIGKILL)
        inst.proc.wait()
        inst.proc = None
        recv.flaky = 200
        t_kill = time.monotonic()
        inst.start()
        want = {eid for _, eid, t, _ in committed if t == "seal.suspended"}
        wait_for(lambda: want <= {h["Seald-Event-Id"]
                                  for h, _ in recv.got["/flaky"]},
                 "a pending event was lost with the node", timeout=20)
        print(f"pending deliveries sent {time.monotonic() - t_kill:.1f} s "
              "after the SIGKILL (restart, and the lease running out)")
        hooks = wait_for(lambda: (lambda ids: ids if {e for _, e, _, _ in
                                                      committed} <= ids
                                  else None)(
            {h["Seald-Event-Id"] for h, _ in recv.got["/hook"]}),
            "the webhook lost an event")
        # nothing delivered that was not committed
        stored = {eid for _, eid, _, _ in db_events(w)}
        assert hooks <= stored
        # a duplicate is the same event: same id, same seq, same body
        seen = {}
        for h, body in recv.got["/hook"] + recv.got["/flaky"]:
            ev = json.loads(body)
            assert seen.setdefault(ev["id"], (ev["seq"], ev["type"])) == (
                ev["seq"], ev["type"])
    finally:
        if inst.proc is not None:
            inst.stop()
        recv.httpd.shutdown()


RATE = ("--set", "security.rate_limit_rps=100000",
        "--set", "security.rate_limit_burst=100000")


@pytest.mark.skipif(not PG, reason="several nodes need PostgreSQL")
def test_two_nodes_readers_never_skip_a_seq(tmp_path):
    """Changes committed at once on two nodes: a reader following
    after=SEQ on one of them sees every seq, none skipped (the event head's
    lock orders seqs as commits), and the webhook, sent by one node, gets
    each event once and in order."""
    recv = Receiver(str(tmp_path))
    inst = Instance(tmp_path / "inst")
    configure(inst, recv)
    inst.start(*RATE)
    node2 = None
    try:
        w = Seals(inst)
        w.impression_code = "PSB-NOTHING"
        esids = [w.new_active_seal(seal_name=f"双节点章{i}")
                 for i in range(4)]
        start = db_events(w)[-1][0]
        port2 = free_port()
        node2 = subprocess.Popen(
            [SEALD, "run", "--config", inst.conf, "--port", str(port2),
             "--log-file", str(tmp_path / "node2.log"), *RATE],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        url2 = f"https://127.0.0.1:{port2}"
        wait_for(lambda: _up(url2, inst.cert), "node 2 is not up")
        seen, stop = [], threading.Event()

        def reader():
            after = start
            while not stop.is_set() or after < db_events(w)[-1][0]:
                r = requests.get(f"{url2}/api/v1/events?after={after}"
                                 "&limit=1000&wait=1", verify=inst.cert,
                                 headers={"Authorization": "Bearer " +
                                          w.cred["applicant"]}, timeout=10)
                d = r.json()["data"]
                seen.extend(e["seq"] for e in d["items"])
                after = d["next_after"]

        def writer(i):
            base = [inst.url(""), url2][i % 2]
            for k in range(6):
                what = "suspend" if k % 2 == 0 else "resume"
                r = requests.post(f"{base}/api/v1/seals/{esids[i]}/{what}",
                                  verify=inst.cert, json={"reason": "x"},
                                  headers={"Authorization": "Bearer " +
                                           w.cred["secadmin"]}, timeout=30)
                assert r.status_code == 200, r.text

        rt = threading.Thread(target=reader)
        rt.start()
        ws = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
        for t in ws:
            t.start()
        for t in ws:
            t.join()
        stop.set()
        rt.join(30)
        head = db_events(w)[-1][0]
        assert head == start + 24
        assert seen == list(range(start + 1, head + 1))
        got = wait_for(lambda: (lambda g: g if g and g[-1] >= head
                                else None)([e["seq"] for _, e in
                                            recv.events()]),
                       "the webhook did not get every event")
        assert got == list(range(1, head + 1))
    finally:
        if node2 is not None:
            node2.send_signal(signal.SIGTERM)
            node2.wait(30)
        if inst.proc is not None:
            inst.stop()
        recv.httpd.shutdown()


def _up(url, cert):
    try:
        return requests.get(url + "/healthz", verify=cert,
                            timeout=2).status_code == 200
    except requests.ConnectionError:
        return False
