"""Issue 14, items 4 and 5: a seal remembers why it is held.  A loss report
does not undo a suspension, only the authority that suspended a seal lifts
the suspension, the automatic suspension needs a new application, and
disabling or renaming an organisation reaches its seals."""
import base64
import time

import pytest

from conftest import Instance, assert_error
from test_seals import Seals


def b64(data):
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    inst = Instance(tmp_path_factory.mktemp("lifecycle") / "inst")
    inst.start("--set", "seals.maintenance_seconds=1")
    w = Seals(inst)
    yield w
    rc, _, err = inst.stop()
    assert rc == 0, err


def seal(w, esid, who="applicant"):
    r = w.inst.get(f"/api/v1/seals/{esid}", w.cred[who])
    assert r.status_code == 200, r.text
    return r.json()["data"]


def act(w, esid, what, who, status=200, **body):
    r = w.inst.post(f"/api/v1/seals/{esid}/{what}", w.cred[who],
                    json=body or {"reason": f"{what} by {who}"})
    assert r.status_code == status, r.text
    return r.json()


def resolve(w, esid, outcome, status=200):
    r = w.inst.post(f"/api/v1/seals/{esid}/loss/resolve", w.cred["reviewer"],
                    json={"outcome": outcome, "reason": "found in the safe"})
    assert r.status_code == status, r.text
    return r.json()


def submit(w, esid, status=201):
    r = w.inst.post("/api/v1/sign-requests", w.cred["requester"], json={
        "esid": esid, "title": "函", "purpose": "test", "copies": 1,
        "documents": [{"name": "d.txt", "data": b64(esid.encode())}]})
    assert r.status_code == status, r.text
    return r.json().get("data", r.json())


def approve(w, rid):
    r = w.inst.post(f"/api/v1/sign-requests/{rid}/approve",
                    w.cred["approver"])
    assert r.status_code == 200, r.text


def sign_status(w, rid):
    r = w.inst.post(f"/api/v1/sign-requests/{rid}/sign", w.cred["custodian"])
    assert r.status_code == 200, r.text
    (res,) = r.json()["data"]["results"]
    return res["status"], res.get("error", {}).get("code")


def signs(w, esid):
    req = submit(w, esid)
    approve(w, req["id"])
    return sign_status(w, req["id"])[0] == "signed"


def test_loss_of_suspended_seal_reinstates_to_suspended(world):
    w = world
    esid = w.new_active_seal(seal_name="停用后挂失章")
    act(w, esid, "suspend", "secadmin")
    act(w, esid, "loss", "custodian")
    assert w.status(esid)["state"] == "lost"
    d = resolve(w, esid, "reinstate")["data"]
    # found again, it is where it was before the loss: suspended, by the
    # security administrator, and no use of it is accepted
    assert d["state"] == "suspended" and d["hold"] == "secadmin"
    assert w.status(esid)["reason_code"] == "hold"
    submit(w, esid, status=409)
    assert w.history(esid)[-2:] == [("suspended", "lost"),
                                    ("lost", "suspended")]
    # the hold survived the loss: its own authority still lifts it
    act(w, esid, "resume", "applicant", status=403)
    assert act(w, esid, "resume", "secadmin")["data"]["state"] == "active"
    assert signs(w, esid)


def test_loss_of_active_seal_reinstates_to_active(world):
    w = world
    esid = w.new_active_seal(seal_name="挂失找回章")
    act(w, esid, "loss", "custodian")
    d = resolve(w, esid, "reinstate")["data"]
    assert d["state"] == "active" and d["hold"] is None
    assert w.status(esid)["reason_code"] is None
    assert signs(w, esid)
    # a lost seal reported from an automatic suspension comes back to it
    aged = w.new_active_seal(seal_name="久未使用后挂失章")
    age(w, aged)
    wait_state(w, aged, "suspended")
    act(w, aged, "loss", "applicant")
    d = resolve(w, aged, "reinstate")["data"]
    assert d["state"] == "suspended" and d["hold"] == "unused"
    assert w.status(aged)["reason_code"] == "unused"


def age(w, esid):
    year_ago = int(time.time() * 1000) - 400 * 86400 * 1000
    w.inst.sql("UPDATE seals SET confirmed_ms = ? WHERE esid = ?",
               year_ago, esid)


def wait_state(w, esid, state):
    deadline = time.time() + 15
    while w.status(esid)["state"] != state:
        assert time.time() < deadline, f"{esid} did not become {state}"
        time.sleep(0.2)


# (who suspended, who tries to lift, expected status)
LIFTS = [
    ("secadmin", "applicant", 403),   # the organisation cannot lift it
    ("secadmin", "custodian", 403),   # nor the custodian (no seal.suspend)
    ("secadmin", "reviewer", 403),    # nor a reviewer
    ("secadmin", "secadmin", 200),
    ("applicant", "secadmin", 403),   # the organisation's own hold
    ("applicant", "applicant", 200),
    ("unused", "secadmin", 409),      # automatic: only a new application
    ("unused", "applicant", 409),
]


@pytest.mark.parametrize("by,lifter,status", LIFTS,
                         ids=[f"{a}-{b}" for a, b, _ in LIFTS])
def test_who_lifts_a_suspension(world, by, lifter, status):
    w = world
    esid = w.new_active_seal(seal_name=f"解除{by}{lifter}")
    if by == "unused":
        age(w, esid)
        wait_state(w, esid, "suspended")
    else:
        act(w, esid, "suspend", by)
    hold = {"secadmin": "secadmin", "applicant": "organisation",
            "unused": "unused"}[by]
    assert seal(w, esid)["hold"] == hold
    r = act(w, esid, "resume", lifter, status=status)
    if status == 200:
        assert r["data"]["state"] == "active" and r["data"]["hold"] is None
        assert w.history(esid)[-1] == ("suspended", "active")
        rows = w.inst.sql("SELECT account_id FROM audit_log WHERE action = "
                          "'seal.resume' AND target_id = ? AND outcome = "
                          "'ok'", esid)
        assert rows == [(w.ids[lifter],)]
    else:
        assert w.status(esid)["state"] == "suspended"
        submit(w, esid, status=409)


def test_automatic_suspension_needs_a_new_application(world):
    w = world
    esid = w.new_active_seal(seal_name="年久停用章")
    age(w, esid)
    wait_state(w, esid, "suspended")
    err = assert_error(w.inst.post(f"/api/v1/seals/{esid}/resume",
                                   w.cred["secadmin"], json={"reason": "x"}),
                       409, "conflict")
    assert "new application" in err["message"]
    # the way back: a new application makes a new seal
    fresh = w.new_active_seal(seal_name="年久停用章")
    assert fresh != esid and signs(w, fresh)
    assert w.status(esid)["state"] == "suspended"


def test_resume_needs_a_suspended_seal(world):
    w = world
    esid = w.new_active_seal(seal_name="未停用章")
    assert_error(w.inst.post(f"/api/v1/seals/{esid}/resume",
                             w.cred["secadmin"], json={"reason": "x"}),
                 409, "conflict")
    act(w, esid, "loss", "custodian")
    # a lost seal comes back only through the review of the loss
    assert_error(w.inst.post(f"/api/v1/seals/{esid}/resume",
                             w.cred["secadmin"], json={"reason": "x"}),
                 409, "conflict")


def test_disabling_an_organisation_suspends_its_subtree_seals(world):
    w = world
    office = w.org("停用处", "department", w.agency)
    branch = w.org("停用处分支", "branch", office)
    here = w.new_active_seal(org_id=office, subkind="department",
                             seal_name="停用处章")
    below = w.new_active_seal(org_id=branch, subkind="branch",
                              seal_name="停用处分支章")
    elsewhere = w.new_active_seal(seal_name="别处章")
    # approved before the disable: must not be signable after it
    pending = submit(w, here)
    approve(w, pending["id"])
    # made, not yet confirmed
    app = w.apply(org_id=office, subkind="department", seal_name="未确认章")
    w.approve(app)
    made = w.make(app)["esid"]

    r = w.inst.post(f"/api/v1/organisations/{office}/disable",
                    w.cred["sysadmin"])
    assert r.status_code == 200, r.text
    for esid in (here, below):
        d = seal(w, esid)
        assert d["state"] == "suspended" and d["hold"] == "org_disabled"
        assert w.history(esid)[-1] == ("active", "suspended")
    assert w.status(elsewhere)["state"] == "active"
    # the subtree is disabled with it
    r = w.inst.get(f"/api/v1/organisations/{branch}", w.cred["sysadmin"])
    assert r.json()["data"]["disabled"] is True
    # audited, one row per seal, in the same transaction as the disable
    rows = w.inst.sql("SELECT target_id, account_id FROM audit_log WHERE "
                      "action = 'seal.suspend_org_disabled' ORDER BY seq")
    assert sorted(rows) == sorted([(here, w.ids["sysadmin"]),
                                   (below, w.ids["sysadmin"])])
    # no use: the approved request, new requests, confirmation, lifting
    assert sign_status(w, pending["id"]) == ("error", "conflict")
    submit(w, here, status=409)
    submit(w, below, status=409)
    w.confirm(made, status=409)
    act(w, here, "resume", "secadmin", status=409)
    act(w, here, "resume", "applicant", status=409)
    # a loss found again stays suspended in a disabled organisation
    act(w, below, "loss", "custodian")
    assert resolve(w, below, "reinstate")["data"]["state"] == "suspended"
    assert signs(w, elsewhere)


def test_disabled_organisation_refuses_use_regardless(world):
    """An organisation disabled outside the API (or before this rule
    existed): its active seal still cannot be used."""
    w = world
    office = w.org("旧停用处", "department", w.agency)
    esid = w.new_active_seal(org_id=office, subkind="department",
                             seal_name="旧停用处章")
    pending = submit(w, esid)
    approve(w, pending["id"])
    w.inst.sql("UPDATE organisations SET disabled = 1 WHERE id = ?", office)
    assert w.status(esid)["state"] == "active"
    err = assert_error(w.inst.post("/api/v1/sign-requests",
                                   w.cred["requester"], json={
                                       "esid": esid, "title": "t",
                                       "purpose": "p", "copies": 1,
                                       "documents": [{"name": "x",
                                                      "data": b64(b"x")}]}),
                       409, "conflict")
    assert "disabled" in err["message"]
    assert sign_status(w, pending["id"]) == ("error", "conflict")
    assert w.inst.sql("SELECT count(*) FROM signatures s JOIN seals x ON "
                      "x.id = s.seal_id WHERE x.esid = ?", esid)[0][0] == 0


def test_renaming_flags_legal_name_seals_for_change(world):
    w = world
    agency = w.org("更名前机构", "agency", w.city)
    # the test roles were granted over w.agency: grant them here too
    for role in ("applicant", "reviewer", "maker", "custodian", "requester",
                 "approver"):
        w.grant(w.cred["secadmin"], w.ids[role], role, agency)
    legal = w.new_active_seal(org_id=agency, seal_name="更名前机构")
    dept = w.new_active_seal(org_id=agency, subkind="department",
                             seal_name="更名前机构办公室")
    assert seal(w, legal)["change_required"] is False
    # the same name again is no rename
    r = w.inst.request("PATCH", f"/api/v1/organisations/{agency}",
                       w.cred["sysadmin"], json={"name": "更名前机构"})
    assert r.status_code == 200, r.text
    assert seal(w, legal)["change_required"] is False
    r = w.inst.request("PATCH", f"/api/v1/organisations/{agency}",
                       w.cred["sysadmin"], json={"name": "更名后机构"})
    assert r.status_code == 200, r.text
    d = seal(w, legal)
    assert d["change_required"] is True and d["change_required_ms"] > 0
    assert w.status(legal)["change_required"] is True
    assert seal(w, dept)["change_required"] is False
    rows = w.inst.sql("SELECT account_id, details FROM audit_log WHERE "
                      "action = 'seal.change_required' AND target_id = ?",
                      legal)
    assert len(rows) == 1 and rows[0][0] == w.ids["sysadmin"]
    assert "更名后机构" in rows[0][1] and "更名前机构" in rows[0][1]
    # it does not block use (manual 4.2): the change procedure replaces it
    assert signs(w, legal)
    # a renewal would repeat the old name: refused, a change is the way
    r = w.inst.post(f"/api/v1/seals/{legal}/renewal", w.cred["applicant"],
                    json={"reason": "expiring"})
    err = assert_error(r, 409, "conflict")
    assert "change" in err["message"]
    app = w.apply(org_id=agency, seal_name="更名后机构", purpose="change",
                  replaces_esid=legal)
    w.approve(app)
    new = w.make(app)["esid"]
    w.confirm(new)
    assert seal(w, new)["change_required"] is False
    assert w.status(legal)["state"] == "revoked"
