"""Issue 14, item 18: every audit row records the role the actor acted in:
the role that carries the permission the route required, `deputy:<role>`
when it came through a deputy period, `self` for the routes any account
may call, `system` for seald's own maintenance job and `operator` for the
local command line; NULL when nobody was authenticated, or when the caller
holds no role with the permission."""
import base64
import time

import pytest

from conftest import Instance
from test_seals import Seals


def b64(data):
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    inst = Instance(tmp_path_factory.mktemp("auditroles") / "inst")
    # refusals of unauthenticated requests are written as summaries per
    # window: a short window, so the test sees them soon
    inst.start("--set", "seals.maintenance_seconds=1",
               "--set", "audit.refusal_window_seconds=1")
    w = Seals(inst)
    yield w
    rc, _, err = inst.stop()
    assert rc == 0, err


def rows(w, action, outcome="ok"):
    return w.inst.sql("SELECT account_id, role FROM audit_log WHERE "
                      "action = ? AND outcome = ? ORDER BY seq", action,
                      outcome)


def sign_as(w, who, esid):
    r = w.inst.post("/api/v1/sign-requests", w.cred["requester"], json={
        "esid": esid, "title": "函", "purpose": "p", "copies": 1,
        "documents": [{"name": "d", "data": b64(who.encode())}]})
    assert r.status_code == 201, r.text
    rid = r.json()["data"]["id"]
    r = w.inst.post(f"/api/v1/sign-requests/{rid}/approve",
                    w.cred["approver"])
    assert r.status_code == 200, r.text
    r = w.inst.post(f"/api/v1/sign-requests/{rid}/sign", w.cred[who])
    assert r.json()["data"]["results"][0]["status"] == "signed", r.text


def test_each_row_names_the_acting_role(world):
    w = world
    esid = w.new_active_seal(seal_name="角色审计章")
    sign_as(w, "custodian", esid)
    # a deputy acts with custodian authority through the deputy period
    dep_id, dep = w.person("roledeputy", w.agency)
    w.cred["roledeputy"] = dep
    w.ids["roledeputy"] = dep_id
    now = int(time.time() * 1000)
    r = w.inst.post("/api/v1/deputies", w.cred["custodian"], json={
        "deputy_id": dep_id, "scope_org_id": w.agency, "start_ms": now,
        "end_ms": now + 3600 * 1000, "reason": "leave"})
    assert r.status_code == 201, r.text
    did = r.json()["data"]["id"]
    r = w.inst.post(f"/api/v1/deputies/{did}/approve", w.cred["approver"])
    assert r.status_code == 200, r.text
    sign_as(w, "roledeputy", esid)
    r = w.inst.post("/api/v1/audit/verify", w.cred["auditor"])
    assert r.status_code == 200, r.text

    expect = {
        "organisation.create": ("sysadmin", "sysadmin"),
        "account.create": ("sysadmin", "sysadmin"),
        "role.bootstrap": ("sysadmin", "sysadmin"),
        "role.grant": ("secadmin", "secadmin"),
        "application.submit": ("applicant", "applicant"),
        "application.approve": ("reviewer", "reviewer"),
        "seal.make": ("maker", "maker"),
        "seal.confirm": ("applicant", "applicant"),
        "deputy.request": ("custodian", "custodian"),
        "deputy.approve": ("approver", "approver"),
        "sign_request.approve": ("approver", "approver"),
        "audit.verify": ("auditor", "auditor"),
    }
    for action, (who, role) in expect.items():
        got = rows(w, action)
        assert got, action
        assert set(got) == {(w.ids[who], role)}, (action, got)
    # the requester asks (SOD-6); signing through a deputy period is
    # marked as such
    assert set(rows(w, "sign_request.submit")) == {
        (w.ids["requester"], "requester")}
    assert set(rows(w, "seal.sign")) == {
        (w.ids["custodian"], "custodian"),
        (dep_id, "deputy:custodian")}
    # a credential is rotated by its holder, whatever their roles
    got = rows(w, "credential.rotate")
    assert len(got) >= 9 and {r for _, r in got} == {"self"}
    # written by `seald init` on the machine itself
    assert rows(w, "instance.init") == [(None, "operator")]


def test_refusals_name_the_role_or_nobody(world):
    w = world
    esid = w.new_active_seal(seal_name="拒绝审计章")
    # nobody authenticated: no account, no role
    r = w.inst.post("/api/v1/organisations", json={"name": "x",
                                                   "kind": "region"})
    assert r.status_code == 401
    r = w.inst.post("/api/v1/organisations", "seald_" + "0" * 16 + "_" +
                    "0" * 64, json={"name": "x", "kind": "region"})
    assert r.status_code == 401
    for _ in range(100):              # the summary of the window, bounded
        if rows(w, "organisation.create", "refused"):
            break
        time.sleep(0.1)
    assert set(rows(w, "organisation.create", "refused")) == {(None, None)}
    # authenticated but holding no role with the permission: the account,
    # and no role (it acted in none)
    r = w.inst.post(f"/api/v1/seals/{esid}/suspend", w.cred["maker"],
                    json={"reason": "x"})
    assert r.status_code == 403
    assert rows(w, "seal.suspend", "refused") == [(w.ids["maker"], None)]
    # holding it, refused by the domain (wrong state): the role it acted in
    r = w.inst.post(f"/api/v1/seals/{esid}/confirm", w.cred["applicant"])
    assert r.status_code == 409
    assert rows(w, "seal.confirm", "refused") == [
        (w.ids["applicant"], "applicant")]


def test_maintenance_job_acts_as_system(world):
    w = world
    esid = w.new_active_seal(seal_name="系统审计章")
    w.inst.sql("UPDATE seals SET confirmed_ms = ? WHERE esid = ?",
               int(time.time() * 1000) - 400 * 86400 * 1000, esid)
    deadline = time.time() + 15
    while not rows(w, "seal.auto_suspend"):
        assert time.time() < deadline, "maintenance did not run"
        time.sleep(0.2)
    assert set(rows(w, "seal.auto_suspend")) == {(None, "system")}
    # and the chain still verifies with the roles in it
    r = w.inst.post("/api/v1/audit/verify", w.cred["auditor"])
    assert r.json()["data"]["ok"] is True, r.text
