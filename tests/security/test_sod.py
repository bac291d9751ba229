"""Separation of duties on every path that gives someone power (issue 14,
items 1-3): credential resets, deputy periods, custodian designation, and
the people of one seal and of one signing request.

Each test is a table of steps (actor, action, object) -> expected outcome,
run in order against one real daemon; every row names the rule (SOD-n in
src/domain/sod.c) that decides it.  A refused row must change nothing and leave a
refused audit row.
"""
import time

import pytest

from conftest import Instance, assert_error
from sealimg import png
from test_accounts import rotate
from test_seals import TYPED_MATERIALS, Seals, b64

OK = None                      # the expected outcome "allowed"


def refused(status, code, rule=None):
    return (status, code, rule)


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    inst = Instance(tmp_path_factory.mktemp("sod") / "inst")
    inst.start("--set", "security.rate_limit_rps=100000",
               "--set", "security.rate_limit_burst=100000")
    world = Seals(inst)
    # a second agency with its own custodian, and a second approver
    world.agency_b = world.org("Daoli District Office", "agency", world.city,
                               "11230100MB7654321Y")
    for name, role, org in [("custodian_b", "custodian", world.agency_b),
                            ("approver2", "approver", world.agency),
                            ("plain", None, world.agency)]:
        world.ids[name], world.cred[name] = world.person(name, org)
        if role:
            world.grant(world.cred["secadmin"], world.ids[name], role, org)
    world.esid = world.new_active_seal(seal_name="分离测试章")
    yield world
    rc, _, err = inst.stop()
    assert rc == 0, err


def run(w, rows):
    """Run (actor, method, path, body, expect) rows in order; expect is OK
    (a 2xx) or refused(status, code, rule).  Returns the answers' data."""
    out = []
    for actor, method, path, body, expect in rows:
        before = len(w.inst.audit())
        r = w.inst.request(method, path, w.cred[actor], json=body)
        where = f"{actor} {method} {path}: {r.status_code} {r.text[:300]}"
        if expect is OK:
            assert 200 <= r.status_code < 300, where
            out.append(r.json().get("data"))
            continue
        status, code, rule = expect
        err = assert_error(r, status, code)
        if rule:
            assert rule in err["message"], where
        rows_after = w.inst.audit()[before:]
        assert any(row[6] == "refused" for row in rows_after), where
        assert not any(row[6] == "ok" for row in rows_after), where
        out.append(None)
    return out


def request_body(w, data=b"doc", esid=None):
    return {"esid": esid or w.esid, "title": "函", "purpose": "send",
            "copies": 1, "documents": [{"name": "d.txt", "data": b64(data)}]}


# ---- item 1: a credential reset does not hand over the person's powers ----

def test_reset_holds_the_account_until_reconfirmed(w):
    acct = w.ids["custodian"]
    reset = w.inst.post(f"/api/v1/accounts/{acct}/credentials", w.admin)
    assert reset.status_code == 201, reset.text
    stolen = rotate(w.inst, reset.json()["data"]["credential"])
    w.cred["thief"] = stolen
    me = w.inst.get("/api/v1/whoami", stolen).json()["data"]
    assert me["account"]["held"] is True and me["roles"] == []
    req = w.inst.post("/api/v1/sign-requests", w.cred["requester"],
                      json=request_body(w)).json()["data"]
    w.inst.post(f"/api/v1/sign-requests/{req['id']}/approve",
                w.cred["approver"])
    rows = [
        # what the person did or could do before the reset: out of reach
        ("thief", "POST", f"/api/v1/sign-requests/{req['id']}/sign", None,
         refused(403, "forbidden", "SOD-7")),
        ("thief", "GET", f"/api/v1/seals/{w.esid}", None,
         refused(403, "forbidden", "SOD-7")),
        ("thief", "GET", f"/api/v1/sign-requests/{req['id']}", None,
         refused(403, "forbidden", "SOD-7")),
        ("thief", "POST", "/api/v1/deputies",
         {"deputy_id": w.ids["plain"], "scope_org_id": w.agency,
          "start_ms": 0, "end_ms": int(time.time() * 1000) + 60000,
          "reason": "x"}, refused(403, "forbidden", "SOD-7")),
        # nobody but a security administrator re-confirms; not the resetter
        ("sysadmin", "POST", f"/api/v1/accounts/{acct}/reconfirm", None,
         refused(403, "forbidden")),
        ("thief", "POST", f"/api/v1/accounts/{acct}/reconfirm", None,
         refused(403, "forbidden")),
        ("secadmin", "POST", f"/api/v1/accounts/{acct}/roles",
         {"role": "custodian", "scope_org_id": w.agency_b},
         refused(409, "conflict", "SOD-7")),
        ("secadmin", "POST", f"/api/v1/accounts/{acct}/reconfirm", None, OK),
        ("secadmin", "POST", f"/api/v1/accounts/{acct}/reconfirm", None,
         refused(409, "conflict")),
        # re-confirmed: the person's roles are in force again
        ("thief", "POST", f"/api/v1/sign-requests/{req['id']}/sign", None,
         OK),
    ]
    run(w, rows)
    w.cred["custodian"] = stolen          # the holder's credential now
    audit = w.inst.sql("SELECT action, account_id, details FROM audit_log "
                       "WHERE target_id = ? AND action IN "
                       "('credential.issue', 'account.reconfirm') "
                       "ORDER BY seq", str(acct))
    assert [(a, who) for a, who, _ in audit] == [
        ("credential.issue", w.admin_id),
        ("account.reconfirm", w.ids["secadmin"])]
    assert f'"reset_by":{w.admin_id}' in audit[1][2].replace(" ", "")


def test_reset_of_auditor_and_the_last_secadmin(w):
    aud = w.ids["auditor"]
    reset = w.inst.post(f"/api/v1/accounts/{aud}/credentials", w.admin)
    w.cred["fake_auditor"] = rotate(w.inst, reset.json()["data"]["credential"])
    sec2_id, sec2 = w.person("secadmin2", w.root)
    w.cred["secadmin2"] = sec2
    rows = [
        ("fake_auditor", "GET", "/api/v1/audit?limit=5", None,
         refused(403, "forbidden", "SOD-7")),
        # the only security administrator in force is not reset (SOD-7)
        ("sysadmin", "POST", f"/api/v1/accounts/{w.ids['secadmin']}"
         "/credentials", None, refused(409, "conflict", "SOD-7")),
        ("secadmin", "POST", f"/api/v1/accounts/{sec2_id}/roles",
         {"role": "secadmin", "scope_org_id": w.root}, OK),
        # with a second one in force, a reset is possible, and the second
        # re-confirms the first
        ("sysadmin", "POST", f"/api/v1/accounts/{w.ids['secadmin']}"
         "/credentials", None, OK),
        ("secadmin2", "POST", f"/api/v1/accounts/{aud}/reconfirm", None, OK),
        ("fake_auditor", "GET", "/api/v1/audit?limit=5", None, OK),
        # and now the second is the last in force
        ("sysadmin", "POST", f"/api/v1/accounts/{sec2_id}/credentials", None,
         refused(409, "conflict", "SOD-7")),
        ("secadmin2", "POST", f"/api/v1/accounts/{w.ids['secadmin']}"
         "/reconfirm", None, OK),
    ]
    out = run(w, rows)
    w.cred["auditor"] = w.cred["fake_auditor"]
    w.cred["secadmin"] = rotate(w.inst, out[3]["credential"])


# ---- item 2: deputies obey the same rules ----------------------------------

def test_deputies_obey_the_combination_rules(w):
    now = int(time.time() * 1000)

    def period(who, ms=60000):
        return {"deputy_id": w.ids[who], "scope_org_id": w.agency,
                "start_ms": now, "end_ms": now + ms, "reason": "leave"}
    rows = [
        # an administrator cannot become a custodian through a deputy period
        ("custodian", "POST", "/api/v1/deputies", period("auditor"),
         refused(409, "conflict", "SOD-2")),
        ("custodian", "POST", "/api/v1/deputies", period("secadmin"),
         refused(409, "conflict", "SOD-2")),
        # a business colleague can; then an administrator role is refused to
        # them while the period is requested, approved or in force
        ("custodian", "POST", "/api/v1/deputies", period("plain"), OK),
        ("secadmin", "POST", f"/api/v1/accounts/{w.ids['plain']}/roles",
         {"role": "auditor", "scope_org_id": w.root},
         refused(409, "conflict", "SOD-2")),
    ]
    out = run(w, rows)
    did = out[2]["id"]
    run(w, [("approver", "POST", f"/api/v1/deputies/{did}/approve", None, OK),
            ("secadmin", "POST", f"/api/v1/accounts/{w.ids['plain']}/roles",
             {"role": "secadmin", "scope_org_id": w.root},
             refused(409, "conflict", "SOD-2"))])


def test_approver_as_deputy_cannot_sign_what_they_approved(w):
    now = int(time.time() * 1000)
    dep = w.inst.post("/api/v1/deputies", w.cred["custodian"], json={
        "deputy_id": w.ids["approver2"], "scope_org_id": w.agency,
        "start_ms": now, "end_ms": now + 60000, "reason": "trip"})
    assert dep.status_code == 201, dep.text
    run(w, [("approver", "POST",
             f"/api/v1/deputies/{dep.json()['data']['id']}/approve", None,
             OK)])
    req = w.inst.post("/api/v1/sign-requests", w.cred["requester"],
                      json=request_body(w, b"approved by a deputy")).json()
    rid = req["data"]["id"]
    rows = [
        ("approver2", "POST", f"/api/v1/sign-requests/{rid}/approve", None,
         OK),
        # the approver holds custodian authority as deputy: SOD-6 still
        ("approver2", "POST", f"/api/v1/sign-requests/{rid}/sign", None,
         refused(403, "forbidden", "SOD-6")),
        # the submitter is not the signer either, nor the custodian the
        # submitter or approver
        ("requester", "POST", f"/api/v1/sign-requests/{rid}/sign", None,
         refused(403, "forbidden")),
        ("custodian", "POST", "/api/v1/sign-requests", request_body(w),
         refused(403, "forbidden")),
        ("custodian", "POST", f"/api/v1/sign-requests/{rid}/sign", None, OK),
    ]
    run(w, rows)
    # a deputy of the custodian does not ask for the seal's use
    w.grant(w.cred["secadmin"], w.ids["approver2"], "requester", w.agency)
    run(w, [("approver2", "POST", "/api/v1/sign-requests", request_body(w),
             refused(403, "forbidden", "SOD-6"))])


# ---- item 3: not anyone can be custodian -----------------------------------

def application(w, custodian, name="指定测试章"):
    return {"org_id": w.agency, "kind": "official", "subkind": "legal_name",
            "seal_name": name, "custodian_id": custodian,
            "image": {"data": b64(png()),
                      "width_mm": 40, "height_mm": 40},
            "materials": TYPED_MATERIALS}


def test_custodian_designation(w):
    before = w.inst.sql("SELECT count(*) FROM applications")[0][0]
    rows = [
        # an account without the custodian role
        ("applicant", "POST", "/api/v1/applications",
         application(w, w.ids["plain"]),
         refused(422, "invalid_argument", "SOD-5")),
        # a custodian of another agency
        ("applicant", "POST", "/api/v1/applications",
         application(w, w.ids["custodian_b"]),
         refused(422, "invalid_argument", "SOD-5")),
        # an administrator, and an account that does not exist
        ("applicant", "POST", "/api/v1/applications",
         application(w, w.ids["auditor"]),
         refused(422, "invalid_argument", "SOD-5")),
        ("applicant", "POST", "/api/v1/applications",
         application(w, 999999), refused(422, "invalid_argument")),
    ]
    run(w, rows)
    assert w.inst.sql("SELECT count(*) FROM applications")[0][0] == before


def test_people_of_one_seal(w):
    # the custodian also holds reviewer and maker: still not for this seal
    for role in ("reviewer", "maker"):
        w.grant(w.cred["secadmin"], w.ids["custodian"], role, w.agency)
    app = w.inst.post("/api/v1/applications", w.cred["applicant"],
                      json=application(w, w.ids["custodian"], "三人章"))
    assert app.status_code == 201, app.text
    aid = app.json()["data"]["id"]
    review = f"/api/v1/applications/{aid}/review"
    rows = [
        ("custodian", "POST", review, {"decision": "start"},
         refused(403, "forbidden", "SOD-4")),
        ("reviewer", "POST", review, {"decision": "start"}, OK),
        ("reviewer", "POST", review, {"decision": "approve"}, OK),
        ("custodian", "POST", f"/api/v1/applications/{aid}/make", None,
         refused(403, "forbidden", "SOD-4")),
    ]
    run(w, rows)
    # the reviewer who approved does not make it either
    w.grant(w.cred["secadmin"], w.ids["reviewer"], "maker", w.agency)
    made = run(w, [
        ("reviewer", "POST", f"/api/v1/applications/{aid}/make", None,
         refused(403, "forbidden", "SOD-4")),
        ("maker", "POST", f"/api/v1/applications/{aid}/make", None, OK)])
    esid = made[1]["esid"]
    # the custodian loses the role before activation: no activation, no use
    r = w.inst.post(f"/api/v1/accounts/{w.ids['custodian']}/roles/remove",
                    w.cred["secadmin"],
                    json={"role": "custodian", "scope_org_id": w.agency})
    assert r.status_code == 200, r.text
    run(w, [("applicant", "POST", f"/api/v1/seals/{esid}/confirm", None,
             refused(422, "invalid_argument", "SOD-5"))])
    w.grant(w.cred["secadmin"], w.ids["custodian"], "custodian", w.agency)
    run(w, [("applicant", "POST", f"/api/v1/seals/{esid}/confirm", None,
             OK)])
    req = w.inst.post("/api/v1/sign-requests", w.cred["requester"],
                      json=request_body(w, b"x", esid)).json()["data"]
    run(w, [("approver", "POST", f"/api/v1/sign-requests/{req['id']}/approve",
             None, OK)])
    # still a custodian elsewhere (so the route lets them in), but not for
    # this seal's organisation any more: the domain refuses (SOD-5)
    w.grant(w.cred["secadmin"], w.ids["custodian"], "custodian", w.agency_b)
    w.inst.post(f"/api/v1/accounts/{w.ids['custodian']}/roles/remove",
                w.cred["secadmin"],
                json={"role": "custodian", "scope_org_id": w.agency})
    run(w, [("custodian", "POST", f"/api/v1/sign-requests/{req['id']}/sign",
             None, refused(403, "forbidden", "SOD-5"))])
    w.grant(w.cred["secadmin"], w.ids["custodian"], "custodian", w.agency)
