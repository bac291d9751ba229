"""Issue 18 items 9 and 10: the supervising department's statistics (seals
by state at a date, applications with turnaround, signatures per day), as
JSON and CSV, scoped to the reader's subtrees; the monthly report the
maintenance job makes and keeps; and the seal scope (a kind of seal limited
to document types), refused at submission and at signing.

Time is controlled through the database: the records are made now, then
their times (history moves, submissions, signatures) are set to known
instants of the previous calendar month, which the statistics and the
monthly report then read."""
import calendar
import copy
import csv
import io
import os
import time

import pytest

from conftest import PG, Instance, assert_error
from openapi_check import check_response
from test_seals import Seals

HOUR = 3600 * 1000
DAY = 24 * HOUR


def last_month():
    """(first ms, next month's first ms, "YYYY-MM") of the month before
    this one, UTC."""
    t = time.gmtime()
    y, m = (t.tm_year, t.tm_mon - 1) if t.tm_mon > 1 else (t.tm_year - 1, 12)
    start = calendar.timegm((y, m, 1, 0, 0, 0)) * 1000
    ny, nm = (y, m + 1) if m < 12 else (y + 1, 1)
    return start, calendar.timegm((ny, nm, 1, 0, 0, 0)) * 1000, \
        "%04d-%02d" % (y, m)


def day(start, n):
    """YYYY-MM-DD of day n (1-based) of the month starting at start."""
    return time.strftime("%Y-%m-%d", time.gmtime((start + (n - 1) * DAY)
                                                 / 1000))


def sign_once(w, esid, copies=1, doctype=None):
    """A request for esid approved and signed copies times; the signature
    ids."""
    body = {"esid": esid, "title": "函", "purpose": "统计", "copies": copies,
            "documents": [{"name": "a.txt", "data": "aGVsbG8="}]}
    if doctype:
        body["document_type"] = doctype
    r = w.inst.post("/api/v1/sign-requests", w.cred["requester"], json=body)
    assert r.status_code == 201, r.text
    rid = r.json()["data"]["id"]
    r = w.inst.post(f"/api/v1/sign-requests/{rid}/approve",
                    w.cred["approver"])
    assert r.status_code == 200, r.text
    ids = []
    for _ in range(copies):
        r = w.inst.post(f"/api/v1/sign-requests/{rid}/sign",
                        w.cred["custodian"])
        assert r.status_code == 200, r.text
        (item,) = r.json()["data"]["results"]
        assert item["status"] == "signed", item
        ids.append(item["signature_id"])
    return ids


def app_of(w, esid):
    return w.inst.sql("SELECT application_id FROM seals WHERE esid = ?",
                      esid)[0][0]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    inst = Instance(tmp_path_factory.mktemp("stats") / "inst")
    # the contract seal seals contracts and agreements; every other kind is
    # unlimited (the default); the maintenance job every second
    inst.start("--set", "scope.business_contract=contract,agreement",
               "--set", "seals.maintenance_seconds=1")
    w = Seals(inst)
    start, end, month = last_month()
    w.start, w.end, w.month = start, end, month
    # a second region with an agency, where the same people act too
    w.region2 = w.org("Qiqihar", "region", w.root)
    w.agency2 = w.org("Qiqihar Archives", "agency", w.region2,
                      "11230200MB7654321X")
    for role in ("applicant", "reviewer", "maker", "custodian", "requester",
                 "approver"):
        w.grant(w.cred["secadmin"], w.ids[role], role, w.agency2)
    # the supervisor of Harbin only: an auditor scoped at the city
    w.ids["auditor_city"], w.cred["auditor_city"] = w.person("auditor2",
                                                             w.city)
    w.grant(w.cred["secadmin"], w.ids["auditor_city"], "auditor", w.city)

    # Harbin: A active, B suspended on day 20, C made (not confirmed), G a
    # contract seal, active; Qiqihar: D active
    w.A = w.new_active_seal(seal_name="市档案局")
    w.B = w.new_active_seal(subkind="department", seal_name="办公室")
    app = w.apply(kind="personal", subkind=None, seal_name="赵六")
    w.approve(app)
    w.C = w.make(app)["esid"]
    w.G = w.new_active_seal(subkind="business", business="contract",
                            seal_name="合同专用章")
    w.D = w.new_active_seal(org_id=w.agency2, seal_name="齐齐哈尔档案馆")
    r = inst.post(f"/api/v1/seals/{w.B}/suspend", w.cred["secadmin"],
                  json={"reason": "audit finding"})
    assert r.status_code == 200, r.text
    # E rejected, F submitted only (Harbin)
    w.E = w.apply(seal_name="驳回章")
    w.review(w.E, "start")
    w.review(w.E, "reject", "not entitled")
    w.F = w.apply(seal_name="待审章")

    # the seals' history: everything on day 5, B's suspension on day 20
    inst.sql("UPDATE history SET ts_ms = ? WHERE subject_type = 'seal'",
             start + 4 * DAY)
    inst.sql("UPDATE history SET ts_ms = ? WHERE subject_type = 'seal' AND "
             "to_state = 'suspended'", start + 19 * DAY)
    # submissions on day 1 at 00:00; decisions after known turnarounds
    turn = {app_of(w, w.A): 1, app_of(w, w.B): 2, app_of(w, w.C): 3,
            app_of(w, w.G): 4, app_of(w, w.D): 5, w.E: 10}
    inst.sql("UPDATE applications SET created_ms = ?", start)
    for app_id, hours in turn.items():
        inst.sql("UPDATE history SET ts_ms = ? WHERE subject_type = "
                 "'application' AND subject_id = ? AND to_state IN "
                 "('approved', 'rejected')", start + hours * HOUR, app_id)
    # signatures: A twice on day 10 and once on day 11, D once on day 10
    a_sigs = sign_once(w, w.A, copies=3)
    (d_sig,) = sign_once(w, w.D)
    for sig, when in zip(a_sigs + [d_sig], [10, 10, 11, 10]):
        inst.sql("UPDATE signatures SET ts_ms = ? WHERE id = ?",
                 start + (when - 1) * DAY + 12 * HOUR, sig)
    yield w
    if inst.proc is not None:
        rc, _, err = inst.stop()
        assert rc == 0, err


def get(w, route, who="auditor", **params):
    r = w.inst.get("/api/v1/statistics/" + route, w.cred[who], params=params)
    check_response("/api/v1/statistics/reports/{id}"
                   if route.startswith("reports/") else
                   "/api/v1/statistics/" + route, "get", r)
    return r


def seal_counts(data):
    return {(x["organisation"], x["kind"], x["state"]): x["seals"]
            for x in data["rows"]}


def test_seals_by_state_at_a_date(world):
    w = world
    # mid-month: B still active; C made; every seal in its region
    r = get(w, "seals", at=day(w.start, 15))
    assert r.status_code == 200, r.text
    d = r.json()["data"]
    assert seal_counts(d) == {
        ("Harbin Public Security Bureau", "official", "active"): 3,
        ("Harbin Public Security Bureau", "personal", "made"): 1,
        ("Qiqihar Archives", "official", "active"): 1}
    assert d["by_state"] == {"active": 4, "made": 1} and d["total"] == 5
    regions = {x["organisation"]: (x["region_id"], x["region"])
               for x in d["rows"]}
    assert regions["Harbin Public Security Bureau"] == (w.city, "Harbin")
    assert regions["Qiqihar Archives"] == (w.region2, "Qiqihar")
    # the end of the month: B suspended
    d = get(w, "seals", at_ms=w.end - 1).json()["data"]
    assert d["by_state"] == {"active": 3, "made": 1, "suspended": 1}
    # before anything was made: nothing
    d = get(w, "seals", at_ms=w.start).json()["data"]
    assert d["rows"] == [] and d["total"] == 0


def test_applications_with_turnaround(world):
    w = world
    r = get(w, "applications", **{"from": day(w.start, 1),
                                   "to": day(w.start, 28)})
    assert r.status_code == 200, r.text
    d = r.json()["data"]
    rows = {x["org_id"]: x for x in d["rows"]}
    harbin = rows[w.agency]
    assert (harbin["received"], harbin["decided"], harbin["approved"],
            harbin["rejected"]) == (6, 5, 4, 1)
    # decided after 1, 2, 3, 4 and 10 hours: the nearest-rank median is
    # the 3rd, p90 the 5th
    assert harbin["turnaround_ms"] == {"median": 3 * HOUR, "p90": 10 * HOUR,
                                       "max": 10 * HOUR}
    assert harbin["region_id"] == w.city
    qq = rows[w.agency2]
    assert (qq["received"], qq["decided"]) == (1, 1)
    assert qq["turnaround_ms"] == {"median": 5 * HOUR, "p90": 5 * HOUR,
                                   "max": 5 * HOUR}
    # in total: 1, 2, 3, 4, 5, 10 hours
    t = d["total"]
    assert (t["received"], t["decided"], t["approved"], t["rejected"]) == \
        (7, 6, 5, 1)
    assert t["turnaround_ms"] == {"median": 3 * HOUR, "p90": 10 * HOUR,
                                  "max": 10 * HOUR}
    # a period with decisions but no submission: only decisions count
    d = get(w, "applications", from_ms=w.start + 90 * 60 * 1000,
            to_ms=w.start + 150 * 60 * 1000).json()["data"]
    assert d["total"]["received"] == 0 and d["total"]["decided"] == 1
    assert d["total"]["turnaround_ms"]["max"] == 2 * HOUR
    # an empty period
    d = get(w, "applications", from_ms=0, to_ms=1000).json()["data"]
    assert d["rows"] == [] and d["total"]["turnaround_ms"] is None


def test_signatures_per_seal_and_day(world):
    w = world
    r = get(w, "signatures", **{"from": day(w.start, 1),
                                 "to": day(w.start, 28)})
    assert r.status_code == 200, r.text
    d = r.json()["data"]
    got = {(x["esid"], x["day"]): x["signatures"] for x in d["rows"]}
    assert got == {(w.A, day(w.start, 10)): 2, (w.A, day(w.start, 11)): 1,
                   (w.D, day(w.start, 10)): 1}
    assert d["total"] == 4
    orgs = {x["esid"]: x["org_id"] for x in d["rows"]}
    assert orgs == {w.A: w.agency, w.D: w.agency2}


def test_scoped_to_the_readers_subtrees(world):
    w = world
    # the city's supervisor sees Harbin and nothing of Qiqihar
    d = get(w, "seals", "auditor_city", at_ms=w.end - 1).json()["data"]
    assert {x["organisation"] for x in d["rows"]} == {
        "Harbin Public Security Bureau"}
    assert d["total"] == 4
    d = get(w, "applications", "auditor_city", from_ms=w.start,
            to_ms=w.end).json()["data"]
    assert [x["org_id"] for x in d["rows"]] == [w.agency]
    assert d["total"]["received"] == 6
    d = get(w, "signatures", "auditor_city", from_ms=w.start,
            to_ms=w.end).json()["data"]
    assert {x["esid"] for x in d["rows"]} == {w.A} and d["total"] == 3
    # asking for Qiqihar is forbidden; for an organisation inside, allowed
    assert_error(get(w, "seals", "auditor_city", org_id=w.agency2), 403,
                 "forbidden")
    d = get(w, "seals", org_id=w.agency2, at_ms=w.end - 1).json()["data"]
    assert d["org_id"] == w.agency2 and d["total"] == 1
    # no statistics for the roles of the business, nor the other admins
    for who in ("applicant", "reviewer", "approver", "secadmin", "sysadmin"):
        assert_error(get(w, "seals", who), 403, "forbidden")
    # bounds: a period longer than 366 days, backwards, bad dates
    assert_error(get(w, "signatures", from_ms=0, to_ms=400 * DAY), 422,
                 "invalid_argument")
    assert_error(get(w, "signatures", from_ms=w.end, to_ms=w.start), 422,
                 "invalid_argument")
    for bad in ("2026-02-30", "2026-+1-01", "2026-1-011", "26-01-01"):
        assert_error(get(w, "seals", at=bad), 422, "invalid_argument")
    assert_error(get(w, "seals", at="x", at_ms=1), 422, "invalid_argument")
    assert_error(get(w, "seals", format="xml"), 422, "invalid_argument")


def parse_csv(text):
    rows = list(csv.DictReader(io.StringIO(text)))
    return rows


def test_csv_matches_json(world):
    w = world
    for route, params, key in [
            ("seals", {"at_ms": w.end - 1}, None),
            ("applications", {"from_ms": w.start, "to_ms": w.end}, None),
            ("signatures", {"from_ms": w.start, "to_ms": w.end}, None)]:
        j = get(w, route, **params).json()["data"]
        r = get(w, route, format="csv", **params)
        assert r.status_code == 200
        assert r.headers["Content-Type"].startswith("text/csv")
        assert "attachment" in r.headers["Content-Disposition"]
        rows = parse_csv(r.text)
        if route == "applications":
            total = rows.pop()
            assert total["org_id"] == "0" and total["organisation"] == \
                "total"
            assert int(total["received"]) == j["total"]["received"]
            assert int(total["median_ms"]) == \
                j["total"]["turnaround_ms"]["median"]
            flat = [{"org_id": x["org_id"], "region_id": x["region_id"],
                     "organisation": x["organisation"],
                     "received": x["received"], "decided": x["decided"],
                     "approved": x["approved"], "rejected": x["rejected"],
                     "median_ms": x["turnaround_ms"]["median"],
                     "p90_ms": x["turnaround_ms"]["p90"],
                     "max_ms": x["turnaround_ms"]["max"]}
                    for x in j["rows"]]
        else:
            flat = j["rows"]
        assert len(rows) == len(flat) > 0
        for c, x in zip(rows, flat):
            assert list(c) == list(x), (c, x)
            assert {k: str(v) for k, v in x.items()} == c


def test_monthly_report_made_by_the_maintenance_job(world):
    w = world
    # the job already made last month's reports at start, before the test
    # set its records' times: forget them, and the next turn (every
    # second) makes them again from the records as they now are
    w.inst.sql("DELETE FROM stats_reports")
    deadline = time.time() + 20
    while True:
        r = get(w, "reports")
        assert r.status_code == 200, r.text
        items = r.json()["data"]["items"]
        if len(items) == 3:
            break
        assert time.time() < deadline, items
        time.sleep(0.3)
    # one per region: the root, Harbin, Qiqihar; all for last month
    assert {x["org_id"] for x in items} == {w.root, w.city, w.region2}
    assert {x["month"] for x in items} == {w.month}
    assert all(x["from_ms"] == w.start and x["to_ms"] == w.end
               for x in items)
    city = next(x for x in items if x["org_id"] == w.city)
    r = get(w, f"reports/{city['id']}")
    assert r.status_code == 200, r.text
    rep = r.json()["data"]["report"]
    assert rep["month"] == w.month
    assert rep["seals"]["by_state"] == {"active": 2, "made": 1,
                                        "suspended": 1}
    assert rep["applications"]["total"]["received"] == 6
    assert rep["applications"]["total"]["turnaround_ms"]["median"] == \
        3 * HOUR
    assert rep["signatures"]["total"] == 3
    # the same numbers as the live statistics of that subtree and month
    live = get(w, "signatures", org_id=w.city, from_ms=w.start,
               to_ms=w.end).json()["data"]
    assert rep["signatures"]["rows"] == live["rows"]
    # the CSV form: three tables, each named
    r = get(w, f"reports/{city['id']}", format="csv")
    assert r.headers["Content-Type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(r.text)))
    assert ["seals"] in lines and ["applications"] in lines and \
        ["signatures"] in lines
    i = lines.index(["signatures"])
    assert lines[i + 1] == ["org_id", "seal_id", "esid", "day", "signatures"]
    # the city's supervisor lists only the city's report, and the others'
    # ids are not found for it
    mine = get(w, "reports", "auditor_city").json()["data"]["items"]
    assert [x["org_id"] for x in mine] == [w.city]
    other = next(x for x in items if x["org_id"] == w.region2)
    assert_error(get(w, f"reports/{other['id']}", "auditor_city"), 404,
                 "not_found")
    # made once: later turns keep what was made, and it was audited
    time.sleep(1.5)
    assert len(get(w, "reports").json()["data"]["items"]) == 3
    rows = w.inst.sql("SELECT count(*) FROM audit_log WHERE action = "
                      "'stats.report' AND outcome = 'ok'")
    assert rows[0][0] >= 3


@pytest.mark.skipif(not PG, reason="several nodes share a PostgreSQL "
                    "database only")
def test_monthly_report_once_with_two_nodes(world):
    """A second node on the same database, both running the job every
    second: the reports are made once, by the node holding the seal job's
    lease, and audited once each."""
    w = world
    second = copy.copy(w.inst)
    second.proc = None
    second.log = os.path.join(w.inst.dir, "second-node.log")
    second.start("--set", "seals.maintenance_seconds=1")

    def runs():
        return [open(log).read().count("job=stats_reports")
                for log in (w.inst.log, second.log)]
    try:
        before = runs()
        seq = w.inst.sql("SELECT max(seq) FROM audit_log")[0][0]
        w.inst.sql("DELETE FROM stats_reports")
        deadline = time.time() + 20
        while w.inst.sql("SELECT count(*) FROM stats_reports")[0][0] < 3:
            assert time.time() < deadline
            time.sleep(0.3)
        time.sleep(2.5)             # more turns on both nodes
        assert w.inst.sql("SELECT count(*) FROM stats_reports")[0][0] == 3
        assert w.inst.sql("SELECT count(*) FROM audit_log WHERE seq > ? AND "
                          "action = 'stats.report'", seq)[0][0] == 3
        made = [a - b for a, b in zip(runs(), before)]
        assert sorted(made) == [0, 1], made     # one node made them all
    finally:
        rc, _, err = second.stop()
        assert rc == 0, err


def submit(w, esid, doctype=None):
    body = {"esid": esid, "title": "合同", "purpose": "签约", "copies": 1,
            "documents": [{"name": "c.txt", "data": "Y29udHJhY3Q="}]}
    if doctype is not None:
        body["document_type"] = doctype
    r = w.inst.post("/api/v1/sign-requests", w.cred["requester"], json=body)
    check_response("/api/v1/sign-requests", "post", r)
    return r


def test_seal_scope_refused_and_accepted(world):
    w = world
    # the contract seal: another type, or none, is refused and audited
    for doctype in ("invoice", None):
        err = assert_error(submit(w, w.G, doctype), 422,
                           "outside_seal_scope")
        assert "contract" in err["message"]
        rows = w.inst.sql("SELECT outcome, reason FROM audit_log WHERE "
                          "request_id = ?", err["request_id"])
        assert rows and rows[-1][0] == "refused", rows
    before = w.inst.sql("SELECT count(*) FROM sign_requests")[0][0]
    # a malformed type is a plain invalid argument
    assert_error(submit(w, w.G, "Contract!"), 422, "invalid_argument")
    assert w.inst.sql("SELECT count(*) FROM sign_requests")[0][0] == before
    # a contract: accepted, stored, signed
    r = submit(w, w.G, "contract")
    assert r.status_code == 201, r.text
    d = r.json()["data"]
    assert d["document_type"] == "contract"
    assert w.inst.sql("SELECT document_type FROM sign_requests WHERE id = ?",
                      d["id"]) == [("contract",)]
    # an unlimited kind (the legal-name seal) takes any type, or none
    for doctype in ("invoice", None):
        r = submit(w, w.A, doctype)
        assert r.status_code == 201, r.text


def test_scope_enforced_at_signing(world):
    """An approved request for an agreement, then the scope narrows to
    contracts (a restart with the new configuration): the signature is
    refused, and nothing is signed."""
    w = world
    r = submit(w, w.G, "agreement")
    assert r.status_code == 201, r.text
    rid = r.json()["data"]["id"]
    r = w.inst.post(f"/api/v1/sign-requests/{rid}/approve",
                    w.cred["approver"])
    assert r.status_code == 200, r.text
    rc, _, err = w.inst.stop()
    assert rc == 0, err
    w.inst.start("--set", "scope.business_contract=contract")
    err = assert_error(w.inst.post(f"/api/v1/sign-requests/{rid}/sign",
                                   w.cred["custodian"]), 422,
                       "outside_seal_scope")
    assert w.inst.sql("SELECT count(*) FROM signatures WHERE request_id = ?",
                      rid) == [(0,)]
    assert w.inst.sql("SELECT outcome FROM audit_log WHERE request_id = ?",
                      err["request_id"]) == [("refused",)]
