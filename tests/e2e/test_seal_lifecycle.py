"""Issue 14, item 4: a seal remembers why it is held.  A loss report does
not undo a suspension, only the authority that suspended a seal lifts the
suspension, and the automatic suspension needs a new application."""
import base64
import sqlite3
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
    r = w.inst.post("/api/v1/sign-requests", w.cred["custodian"], json={
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
    con = sqlite3.connect(w.inst.db, timeout=10)
    con.execute("UPDATE seals SET confirmed_ms = ? WHERE esid = ?",
                (year_ago, esid))
    con.commit()
    con.close()


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
