"""Issue 5: organisations, accounts, roles, separation of duties, credentials,
lockout, rate limits and mutual TLS, end to end against the real daemon."""
import json
import os
import subprocess
import time

import pytest
import requests

from conftest import Instance, assert_error, run_seald

ROLES = ["sysadmin", "secadmin", "auditor", "applicant", "reviewer", "maker",
         "custodian", "requester", "approver", "verifier", "portal"]


def rotate(inst, cred):
    r = inst.post("/api/v1/account/credential", cred)
    assert r.status_code == 201, r.text
    return r.json()["data"]["credential"]


class World:
    """An instance with an org tree and one account per role."""

    def __init__(self, inst):
        self.inst = inst
        self.admin = rotate(inst, inst.admin_credential)
        me = inst.get("/api/v1/whoami", self.admin).json()["data"]
        self.root = me["account"]["org_id"]
        self.admin_id = me["account"]["id"]
        self.city = self.org("Harbin", "region", self.root)
        self.agency = self.org("Harbin Public Security Bureau", "agency",
                               self.city, "11230100MB1234567X")
        self.dept = self.org("Records office", "department", self.agency)
        self.cred = {"sysadmin": self.admin}
        self.ids = {"sysadmin": self.admin_id}
        for role in ROLES[1:]:
            # the portal role is a system account's (SOD-8)
            self.ids[role], self.cred[role] = self.person(
                role + "1", self.agency,
                "system" if role == "portal" else "person")
        # the first security administrator is granted by the system
        # administrator (bootstrap); everything else by the secadmin
        r = inst.post(f"/api/v1/accounts/{self.ids['secadmin']}"
                      "/appoint-secadmin", self.admin)
        assert r.status_code == 201, r.text
        for role in ROLES[2:]:
            self.grant(self.cred["secadmin"], self.ids[role], role,
                       self.root if role == "auditor" else self.agency)

    def org(self, name, kind, parent, code=None):
        body = {"name": name, "kind": kind, "parent_id": parent}
        if code:
            body["credit_code"] = code
        r = self.inst.post("/api/v1/organisations", self.admin, json=body)
        assert r.status_code == 201, r.text
        return r.json()["data"]["id"]

    def person(self, name, org, kind="person"):
        body = {"name": name, "display_name": name.title(), "kind": kind,
                "org_id": org}
        if kind == "system":
            body["api_key"] = True
        r = self.inst.post("/api/v1/accounts", self.admin, json=body)
        assert r.status_code == 201, r.text
        d = r.json()["data"]
        return d["account"]["id"], rotate(self.inst, d["credential"])

    def grant(self, cred, account, role, scope, status=201):
        r = self.inst.post(f"/api/v1/accounts/{account}/roles", cred,
                           json={"role": role, "scope_org_id": scope})
        assert r.status_code == status, r.text
        return r


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    inst = Instance(tmp_path_factory.mktemp("accounts") / "inst")
    inst.start()
    w = World(inst)
    yield w
    rc, _, err = inst.stop()
    assert rc == 0, err


def test_initial_credential_must_be_rotated(instance):
    instance.start()
    first = instance.admin_credential
    r = instance.get("/api/v1/accounts", first)
    err = assert_error(r, 403, "forbidden")
    assert "initial credential" in err["message"]
    assert instance.get("/api/v1/whoami", first).status_code == 200
    new = rotate(instance, first)
    assert instance.get("/api/v1/accounts", new).status_code == 200
    assert_error(instance.get("/api/v1/whoami", first), 401,
                 "unauthenticated")
    # an account created by the admin also starts with an initial credential
    r = instance.post("/api/v1/accounts", new, json={
        "name": "clerk", "display_name": "Clerk", "kind": "person",
        "org_id": 1})
    cred = r.json()["data"]["credential"]
    assert instance.get("/api/v1/whoami", cred).json()["data"][
        "credential"]["initial"] is True
    assert_error(instance.get("/api/v1/deputies", cred), 403, "forbidden")
    rc, _, err = instance.stop()
    assert rc == 0, err


def test_permission_matrix_route_by_route(world):
    """Every role against every authenticated route: refused exactly where
    the matrix says, with the permission named, and each refusal audited."""
    inst = world.inst
    matrix = inst.get("/api/v1/permissions", world.admin).json()["data"]
    assert matrix["roles"] == ROLES
    before = len(inst.audit())
    refusals = 0
    for route in matrix["routes"]:
        if route["permission"] in ("public", "self"):
            continue
        path = route["path"].replace("{id}", "999999")
        for role in ROLES:
            body = {} if route["method"] != "GET" else None
            r = inst.request(route["method"], path, world.cred[role],
                             json=body)
            route_refusal = r.status_code == 403 and \
                "is needed" in r.json()["error"]["message"] and \
                route["permission"] in r.json()["error"]["message"]
            assert route_refusal == (role not in route["roles"]), \
                (role, route, r.status_code, r.text)
            refusals += route_refusal
    assert refusals > 50
    refused = [row for row in inst.audit()[before:] if row[6] == "refused"]
    assert len(refused) >= refusals


def test_permissions_doc_matches_code():
    out = run_seald("permissions")
    matrix = json.loads(out.stdout)
    doc = open(os.path.join(os.environ.get("SEALD_SOURCE_DIR", "."), "docs",
                            "permissions.md")).read()
    rows = {}
    header = None
    for line in doc.split("## Separation of duties")[0].splitlines():
        if not line.startswith("| "):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] == "route":
            header = cells
            continue
        if set(cells[0]) <= {"-", " ", ":"}:
            continue
        rows[cells[0]] = cells
    assert header[2:] == matrix["roles"]
    assert len(rows) == len(matrix["routes"])
    for route in matrix["routes"]:
        cells = rows[f"{route['method']} {route['path']}"]
        assert cells[1] == route["permission"]
        marked = [role for role, c in zip(header[2:], cells[2:]) if c == "x"]
        if route["permission"] in ("public", "self"):
            assert all(c in ("all", "") for c in cells[2:]), cells
        else:
            assert marked == route["roles"], (route, cells)
    # the separation-of-duties rules, word for word as src/domain/sod.c has
    # them
    rules = [line[2:] for line in doc.splitlines()
             if line.startswith("- **SOD-")]
    assert rules == [f"**{r['id']}** {r['rule']}"
                     for r in matrix["separation_of_duties"]]
    assert len(rules) >= 7
    # the state tables, row for row (with each event's permission) as
    # src/domain/sign_moves.c, app_moves.c and seal.c have them
    for title, key in (("## The life of a signing request",
                        "signing_request_moves"),
                       ("## The life of an application",
                        "application_moves"),
                       ("## The life of a seal", "seal_moves")):
        part = doc.split(title)[1].split("\n## ")[0]
        moves = [line for line in part.splitlines()
                 if line.startswith("| ") and "---" not in line]
        assert moves[1:] == [f"| {m['event']} | {m['from']} | {m['to']} | "
                             f"{m['permission']} |" for m in matrix[key]], title
        assert len(moves) > 5, title


def test_three_administrators_are_three_people(world):
    sec = world.cred["secadmin"]
    ids = world.ids
    r = world.grant(sec, ids["auditor"], "sysadmin", world.root, 409)
    assert "separation of duties" in r.json()["error"]["message"]
    world.grant(sec, world.admin_id, "auditor", world.root, 409)
    # nor an administrator with business roles
    world.grant(sec, ids["auditor"], "approver", world.agency, 409)
    world.grant(sec, ids["approver"], "secadmin", world.root, 409)
    # nobody grants themselves anything
    r = world.grant(sec, ids["secadmin"], "verifier", world.agency, 403)
    # the sysadmin cannot grant roles, and the bootstrap appointment of the
    # first security administrator is closed now that one exists
    world.grant(world.admin, ids["maker"], "verifier", world.agency, 403)
    r = world.inst.post(f"/api/v1/accounts/{ids['maker']}/appoint-secadmin",
                        world.admin)
    assert_error(r, 409, "conflict")
    roles = [x["role"] for x in world.inst.get(
        f"/api/v1/accounts/{ids['auditor']}", sec).json()["data"]["roles"]]
    assert roles == ["auditor"]


def test_role_removal_and_scope(world):
    inst, sec = world.inst, world.cred["secadmin"]
    rid, rcred = world.person("reviewer2", world.dept)
    world.grant(sec, rid, "reviewer", world.dept)
    acct = inst.get(f"/api/v1/accounts/{rid}", sec).json()["data"]
    assert [(x["role"], x["scope_org_id"]) for x in acct["roles"]] == \
        [("reviewer", world.dept)]
    r = inst.post(f"/api/v1/accounts/{rid}/roles/remove", sec,
                  json={"role": "reviewer", "scope_org_id": world.dept})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["roles"] == []
    # removing again: nothing to remove
    r = inst.post(f"/api/v1/accounts/{rid}/roles/remove", sec,
                  json={"role": "reviewer", "scope_org_id": world.dept})
    assert_error(r, 404, "not_found")
    # a sysadmin scoped to a department cannot create accounts elsewhere
    sid, scred = world.person("deptadmin", world.dept)
    world.grant(sec, sid, "sysadmin", world.dept)
    ok = inst.post("/api/v1/accounts", scred, json={
        "name": "indept", "display_name": "In", "kind": "person",
        "org_id": world.dept})
    assert ok.status_code == 201, ok.text
    r = inst.post("/api/v1/accounts", scred, json={
        "name": "outside", "display_name": "Out", "kind": "person",
        "org_id": world.city})
    assert_error(r, 403, "forbidden")
    assert not inst.sql("SELECT 1 FROM accounts WHERE name = 'outside'")


def test_org_tree_validation_and_no_hard_delete(world):
    inst, adm = world.inst, world.admin
    assert_error(inst.post("/api/v1/organisations", adm, json={
        "name": "x", "kind": "agency", "parent_id": world.city,
        "credit_code": "bad"}), 422, "invalid_argument")
    assert_error(inst.post("/api/v1/organisations", adm, json={
        "name": "x", "kind": "planet", "parent_id": world.city}), 422,
        "invalid_argument")
    assert_error(inst.post("/api/v1/organisations", adm, json={
        "name": "x", "kind": "agency", "parent_id": 424242}), 422,
        "invalid_argument")
    oid = world.org("Temporary office", "branch", world.agency)
    r = inst.request("PATCH", f"/api/v1/organisations/{oid}", adm,
                     json={"name": "Renamed office"})
    assert r.json()["data"]["name"] == "Renamed office"
    r = inst.post(f"/api/v1/organisations/{oid}/disable", adm)
    assert r.json()["data"]["disabled"] is True
    assert inst.get(f"/api/v1/organisations/{oid}", adm).status_code == 200
    assert_error(inst.post("/api/v1/accounts", adm, json={
        "name": "late", "display_name": "Late", "kind": "person",
        "org_id": oid}), 409, "conflict")
    assert_error(inst.request("DELETE", f"/api/v1/organisations/{oid}", adm),
                 405, "method_not_allowed")
    listing = inst.get("/api/v1/organisations", adm,
                       params={"parent_id": world.agency, "limit": 1})
    page = listing.json()["data"]
    assert len(page["items"]) == 1 and page["next_after"]
    assert_error(inst.get("/api/v1/organisations", adm,
                          params={"limit": 100000}), 422, "invalid_argument")
    assert_error(inst.get("/api/v1/organisations/abc", adm), 404,
                 "not_found")


def test_disable_account_revokes_credentials(world):
    inst, adm = world.inst, world.admin
    aid, cred = world.person("leaver", world.agency)
    assert inst.get("/api/v1/whoami", cred).status_code == 200
    r = inst.post(f"/api/v1/accounts/{aid}/disable", adm)
    assert r.json()["data"]["disabled"] is True
    assert_error(inst.get("/api/v1/whoami", cred), 401, "unauthenticated")
    assert_error(inst.post(f"/api/v1/accounts/{world.admin_id}/disable",
                           adm), 403, "forbidden")
    actions = [row[4] for row in inst.audit()]
    assert "account.disable" in actions


def test_reissue_and_revoke_credentials(world):
    inst, adm = world.inst, world.admin
    aid, cred = world.person("forgetful", world.agency)
    r = inst.post(f"/api/v1/accounts/{aid}/credentials", adm)
    assert r.status_code == 201
    new = r.json()["data"]["credential"]
    assert_error(inst.get("/api/v1/whoami", cred), 401, "unauthenticated")
    assert inst.get("/api/v1/whoami", new).json()["data"]["credential"][
        "initial"] is True
    r = inst.post(f"/api/v1/accounts/{aid}/credentials/revoke", adm)
    assert r.json()["data"]["revoked"] == 1
    assert_error(inst.get("/api/v1/whoami", new), 401, "unauthenticated")


def test_expired_credential(world):
    inst = world.inst
    aid, cred = world.person("shortlived", world.agency)
    key_id = cred.split("_")[1]
    # the row changed under the daemon, as time passing would
    inst.sql("UPDATE credentials SET expires_ms = ? WHERE key_id = ?",
             int(time.time() * 1000) - 1, key_id)
    err = assert_error(inst.get("/api/v1/whoami", cred), 401,
                       "unauthenticated")
    assert "expired" in err["message"]


def test_deputy_period_and_self_approval(world):
    inst = world.inst
    cust, appr = world.cred["custodian"], world.cred["approver"]
    dep_id, dep = world.person("deputy1", world.agency)
    now = int(time.time() * 1000)
    body = {"deputy_id": dep_id, "scope_org_id": world.agency,
            "start_ms": now + 2500, "end_ms": now + 5000,
            "reason": "annual leave"}
    r = inst.post("/api/v1/deputies", cust, json=body)
    assert r.status_code == 201, r.text
    did = r.json()["data"]["id"]
    # the approver may not decide a request naming themselves
    r = inst.post("/api/v1/deputies", cust,
                  json={**body, "deputy_id": world.ids["approver"]})
    own = r.json()["data"]["id"]
    err = assert_error(inst.post(f"/api/v1/deputies/{own}/approve", appr),
                       403, "forbidden")
    assert "separation of duties" in err["message"]
    # a custodian who is also an approver still cannot approve their own
    world.grant(world.cred["secadmin"], world.ids["custodian"], "approver",
                world.agency)
    err = assert_error(inst.post(f"/api/v1/deputies/{did}/approve", cust),
                       403, "forbidden")
    assert "separation of duties" in err["message"]
    # before approval and before the period: no custodian authority
    def deputy_roles():
        roles = inst.get("/api/v1/whoami", dep).json()["data"]["roles"]
        return [x for x in roles if x["role"] == "custodian"]
    assert deputy_roles() == []
    r = inst.post(f"/api/v1/deputies/{did}/approve", appr)
    assert r.json()["data"]["state"] == "approved"
    assert_error(inst.post(f"/api/v1/deputies/{did}/approve", appr), 409,
                 "conflict")
    assert deputy_roles() == []                       # before start
    while time.time() * 1000 < now + 2600:
        time.sleep(0.05)
    during = deputy_roles()
    assert len(during) == 1 and during[0]["scope_org_id"] == world.agency
    assert during[0]["deputy_id"] == did
    # a deputy cannot name a deputy of their own
    r = inst.post("/api/v1/deputies", dep, json={**body, "deputy_id":
                                                 world.ids["maker"]})
    assert_error(r, 403, "forbidden")
    while time.time() * 1000 < now + 5100:
        time.sleep(0.05)
    assert deputy_roles() == []                       # after end
    listing = inst.get("/api/v1/deputies", dep).json()["data"]["items"]
    assert [d["id"] for d in listing] == [did]


def test_bad_input_changes_nothing(world):
    inst, adm = world.inst, world.admin
    count = inst.sql("SELECT count(*) FROM accounts")[0][0]
    for body in [{"name": "UPPER", "display_name": "x", "kind": "person",
                  "org_id": world.agency},
                 {"name": "ok", "display_name": "x", "kind": "robot",
                  "org_id": world.agency},
                 {"name": "ok", "display_name": "x", "kind": "person",
                  "org_id": world.agency, "extra": 1},
                 {"name": "ok", "display_name": "x", "kind": "person"},
                 {"name": "admin", "display_name": "dup", "kind": "person",
                  "org_id": world.agency}]:
        r = inst.post("/api/v1/accounts", adm, json=body)
        assert r.status_code in (400, 409, 422), r.text
    assert inst.sql("SELECT count(*) FROM accounts")[0][0] == count
    assert_error(inst.post("/api/v1/accounts/424242/roles",
                           world.cred["secadmin"],
                           json={"role": "maker", "scope_org_id": 1}),
                 404, "not_found")
    assert_error(inst.post(f"/api/v1/accounts/{world.ids['maker']}/roles",
                           world.cred["secadmin"],
                           json={"role": "emperor", "scope_org_id": 1}),
                 422, "invalid_argument")


def test_lockout_per_account_and_address(instance):
    instance.start("--set", "security.lockout_threshold=3",
                   "--set", "security.address_lockout_threshold=8")
    good = rotate(instance, instance.admin_credential)
    bad = good[:-4] + ("0000" if not good.endswith("0000") else "1111")
    for _ in range(3):
        assert_error(instance.get("/api/v1/whoami", bad), 401,
                     "unauthenticated")
    err = assert_error(instance.get("/api/v1/whoami", good), 401,
                       "unauthenticated")
    assert "locked" in err["message"]
    # the address: unknown key ids count against it until it is blocked
    stranger = "seald_" + "a" * 16 + "_" + "b" * 64
    statuses = [instance.get("/api/v1/whoami", stranger).status_code
                for _ in range(8)]
    assert statuses[-1] == 429
    r = instance.get("/api/v1/whoami", good)
    assert_error(r, 429, "rate_limited")
    assert int(r.headers["Retry-After"]) > 0
    assert instance.get("/healthz").status_code == 200   # probes stay open
    # all 13 refusals were anonymous: counted, and written summarised per
    # address, action and reason (at the end of the window; here, at stop)
    rc, _, err = instance.stop()
    assert rc == 0, err
    rows = instance.sql("SELECT reason, details FROM audit_log WHERE "
                        "outcome = 'refused' AND account_id IS NULL")
    assert sum(json.loads(d)["count"] for _, d in rows) == 13
    assert any("locked" in r for r, _ in rows)


def test_rate_limit_burst(instance):
    # The token bucket alone: a 429 of the address check is held for
    # server.refusal_delay_ms like any anonymous refusal (the bucket fills
    # meanwhile), which tests/security/test_refusal_flood.py covers.
    instance.start("--set", "security.rate_limit_rps=2",
                   "--set", "security.rate_limit_burst=5",
                   "--set", "server.refusal_delay_ms=0")
    cred = rotate(instance, instance.admin_credential)
    codes = []
    with requests.Session() as s:
        for _ in range(20):
            r = s.get(instance.url("/api/v1/whoami"), verify=instance.cert,
                      headers={"Authorization": "Bearer " + cred})
            codes.append(r.status_code)
            if r.status_code == 429:
                assert int(r.headers["Retry-After"]) >= 1
                assert r.json()["error"]["code"] == "rate_limited"
    assert codes.count(200) >= 4 and codes.count(429) >= 10
    rc, _, err = instance.stop()          # writes the refusal summaries
    assert rc == 0, err
    assert any(row[6] == "refused" and "too many" in (row[7] or "")
               for row in instance.audit())


def openssl(*args, **kw):
    out = subprocess.run(["openssl", *args], capture_output=True, text=True,
                         **kw)
    assert out.returncode == 0, out.stderr
    return out.stdout


def make_ca(d, name):
    key, crt = os.path.join(d, name + ".key"), os.path.join(d, name + ".crt")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
            "-days", "30", "-subj", f"/C=CN/O={name}/CN={name} Root")
    return key, crt


def make_client(d, ca, name, tag):
    cakey, cacrt = ca
    key = os.path.join(d, tag + ".key")
    csr, crt = os.path.join(d, tag + ".csr"), os.path.join(d, tag + ".crt")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", key, "-out", csr, "-subj",
            f"/C=CN/O=Heilongjiang Portal/CN={name}")
    openssl("x509", "-req", "-in", csr, "-CA", cacrt, "-CAkey", cakey,
            "-CAcreateserial", "-out", crt, "-days", "30")
    return crt, key


def dn(crt, which):
    return openssl("x509", "-in", crt, "-noout", "-" + which, "-nameopt",
                   "RFC2253").split("=", 1)[1].strip()


def test_mtls_system_account(tmp_path, instance):
    d = str(tmp_path)
    ca = make_ca(d, "PortalCA")
    other = make_ca(d, "OtherCA")
    good = make_client(d, ca, "portal", "good")
    forged = make_client(d, other, "portal", "forged")
    instance.start("--set", "server.client_ca=" + ca[1])
    admin = rotate(instance, instance.admin_credential)
    r = instance.post("/api/v1/accounts", admin, json={
        "name": "portal", "display_name": "Department portal",
        "kind": "system", "org_id": 1,
        "cert_subject": dn(good[0], "subject"),
        "cert_issuer": dn(good[0], "issuer")})
    assert r.status_code == 201, r.text
    assert r.json()["data"]["credential"] is None
    r = instance.get("/api/v1/whoami", cert=good)
    assert r.status_code == 200, r.text
    d_ = r.json()["data"]
    assert d_["account"]["name"] == "portal"
    assert d_["account"]["kind"] == "system"
    # the same subject from another CA is refused, and so is no certificate
    try:
        r = instance.get("/api/v1/whoami", cert=forged)
        assert_error(r, 401, "unauthenticated")
    except requests.exceptions.SSLError:
        pass
    assert_error(instance.get("/api/v1/whoami"), 401, "unauthenticated")
    # a person account cannot be given a certificate
    r = instance.post("/api/v1/accounts", admin, json={
        "name": "p2", "display_name": "P", "kind": "person", "org_id": 1,
        "cert_subject": "CN=x", "cert_issuer": "CN=y"})
    assert_error(r, 422, "invalid_argument")
    rc, _, err = instance.stop()
    assert rc == 0, err


def test_org_list_is_scoped_in_the_query(world):
    """Issue 15, item 5: the organisation list applies the reader's
    org.read scope in the query.  It used to check each row of a page
    after LIMIT (a query per row), so a reader of one department got empty
    pages with a next_after for every organisation above it."""
    w = world
    subs = [w.org(f"Unit {i}", "department", w.dept) for i in range(2)]
    rid, rcred = w.person("orgreader", w.dept)
    # org.read belongs to the administrator roles: an auditor of the
    # department (a local audit office) reads its part of the tree
    w.grant(w.cred["secadmin"], rid, "auditor", w.dept)
    seen, after = [], None
    for _ in range(10):
        params = {"limit": 1, **({"after": after} if after else {})}
        r = w.inst.get("/api/v1/organisations", rcred, params=params)
        assert r.status_code == 200, r.text
        page = r.json()["data"]
        seen += [o["id"] for o in page["items"]]
        if page["next_after"] is None:
            break
        assert len(page["items"]) == 1          # full, never empty
        after = page["next_after"]
    else:
        raise AssertionError("the pages did not end")
    assert set(seen) == {w.dept, *subs}          # the subtree, no more
    # the administrator (scope: the root) sees every organisation
    r = w.inst.get("/api/v1/organisations", w.admin, params={"limit": 500})
    ids = {o["id"] for o in r.json()["data"]["items"]}
    assert {w.root, w.city, w.agency, w.dept, *subs} <= ids


def test_account_and_deputy_lists_are_scoped(world):
    """Issue 15, item 5: the account list applies account.read's scope in
    the query (it used to check, and load the roles of, each row inside
    the outer statement, after LIMIT), and the deputy list shows an
    approver only the deputy periods of the organisations they approve
    for (it used to show any approver every record)."""
    w = world
    rid, rcred = w.person("acctreader", w.dept)
    w.grant(w.cred["secadmin"], rid, "auditor", w.dept)
    mates = [w.person(f"clerk{i}", w.dept)[0] for i in range(2)]
    seen, after = [], None
    for _ in range(20):
        params = {"limit": 1, **({"after": after} if after else {})}
        page = w.inst.get("/api/v1/accounts", rcred,
                          params=params).json()["data"]
        seen += [(a["id"], a["org_id"]) for a in page["items"]]
        if page["next_after"] is None:
            break
        assert len(page["items"]) == 1
        after = page["next_after"]
    else:
        raise AssertionError("the pages did not end")
    assert {i for i, _ in seen} >= {rid, *mates}
    assert {o for _, o in seen} == {w.dept}
    # each item still carries its roles
    me = [a for a in w.inst.get("/api/v1/accounts", rcred, params={
        "limit": 500}).json()["data"]["items"] if a["id"] == rid][0]
    assert [(r["role"], r["scope_org_id"]) for r in me["roles"]] == \
        [("auditor", w.dept)]

    # deputies: a record of the agency, seen by its approver, not by an
    # approver of another agency
    other = w.org("Other Bureau", "agency", w.city)
    oid, ocred = w.person("otherapprover", other)
    w.grant(w.cred["secadmin"], oid, "approver", other)
    dep_id, _ = w.person("deputy-scope", w.agency)
    now = int(time.time() * 1000)
    r = w.inst.post("/api/v1/deputies", w.cred["custodian"], json={
        "deputy_id": dep_id, "scope_org_id": w.agency,
        "start_ms": now + 3600000, "end_ms": now + 7200000,
        "reason": "training"})
    assert r.status_code == 201, r.text
    did = r.json()["data"]["id"]

    def deputy_ids(cred):
        r = w.inst.get("/api/v1/deputies", cred, params={"limit": 500})
        assert r.status_code == 200, r.text
        return {d["id"] for d in r.json()["data"]["items"]}
    assert did in deputy_ids(w.cred["approver"])
    assert did in deputy_ids(w.cred["custodian"])       # their own
    assert did not in deputy_ids(ocred)


def test_audit_query_is_scoped_to_the_auditor(world):
    """Issue 15, item 5: an auditor reads the audit entries of the actors
    in their scope.  An auditor of a department used to read the whole
    instance's log as long as they gave no organisation filter."""
    w = world
    aid, acred = w.person("deptauditor", w.dept)
    w.grant(w.cred["secadmin"], aid, "auditor", w.dept)
    # an audited act of someone in the department: a refused change
    assert_error(w.inst.post("/api/v1/organisations", acred, json={
        "name": "x", "kind": "department", "parent_id": w.dept}), 403,
        "forbidden")
    dept_accounts = {a["id"] for a in w.inst.get(
        "/api/v1/accounts", w.admin, params={"org_id": w.dept,
                                             "limit": 500}).json()
        ["data"]["items"]}
    rows = w.inst.get("/api/v1/audit", acred,
                      params={"limit": 500}).json()["data"]["items"]
    assert rows, "the department auditor sees nothing of their own scope"
    assert {r["account_id"] for r in rows} <= dept_accounts
    assert any(r["account_id"] == aid and r["outcome"] == "refused"
               for r in rows)
    # the administrator (root organisation) made organisations: not theirs
    assert not any(r["action"] == "organisation.create" and
                   r["outcome"] == "ok" for r in rows)
    # an auditor of the root sees them, and the anonymous entries
    root_rows = w.inst.get("/api/v1/audit", w.cred["auditor"],
                           params={"action": "organisation.create",
                                   "limit": 500}).json()["data"]["items"]
    assert any(r["account_id"] == w.admin_id for r in root_rows)
    # a filter outside the scope is refused, as before
    assert_error(w.inst.get("/api/v1/audit", acred,
                            params={"org": w.agency}), 403, "forbidden")


def test_lost_administrator_procedure(seald):
    """Issue 19 item 10, the manual's 3.3 procedure for a lost system
    administrator credential: the security administrator grants sysadmin
    to a second person; that administrator resets the first one's
    credential, which holds the account (SOD-7); a security administrator
    re-confirms it, and the first administrator works again with the new
    credential while the old one is dead."""
    w = World(seald)
    lost = w.admin
    second_id, second = w.person("sysadmin2", w.root)
    w.grant(w.cred["secadmin"], second_id, "sysadmin", w.root)
    r = seald.post(f"/api/v1/accounts/{w.admin_id}/credentials", second)
    assert r.status_code == 201, r.text
    fresh = rotate(seald, r.json()["data"]["credential"])
    assert seald.get("/api/v1/whoami", lost).status_code == 401
    me = seald.get("/api/v1/whoami", fresh).json()["data"]
    assert me["account"]["held"]            # no power until re-confirmed
    assert seald.get("/api/v1/accounts", fresh).status_code == 403
    r = seald.post(f"/api/v1/accounts/{w.admin_id}/reconfirm",
                   w.cred["secadmin"])
    assert r.status_code == 200, r.text
    assert seald.get("/api/v1/accounts", fresh).status_code == 200
