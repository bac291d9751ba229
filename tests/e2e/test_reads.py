"""Issue 18, items 7-8: the reads an approval screen needs.  The list of
signing requests (filters, keyset pages, scoped in the query: another
organisation's approver sees nothing; waiting_for=me for the approver but
not for the one who submitted), downloads of documents, materials, the
impression and kept sealed OFDs allowed and refused per role, a second
seal on a kept sealed OFD verified with both seals, and typed application
materials required per seal kind.  Responses are checked against
docs/openapi.json."""
import base64
import hashlib
from urllib.parse import unquote

import pytest

from conftest import Instance, assert_error, run_seald
from ofdgen import ofd
from openapi_check import check_response
from sealimg import png
from test_seals import Seals, b64

LIST = "/api/v1/sign-requests"
DOC = "/api/v1/sign-requests/{id}/documents/{doc}/content"
SEALED = "/api/v1/sign-requests/{id}/sealed/{sealed}"
SEAL_OFD = "/api/v1/sign-requests/{id}/documents/{doc}/seal-ofd"
MATERIAL = "/api/v1/applications/{id}/materials/{mid}"
IMAGE = "/api/v1/applications/{id}/image"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    inst = Instance(tmp_path_factory.mktemp("reads") / "inst")
    inst.start("--set", "security.rate_limit_rps=100000",
               "--set", "security.rate_limit_burst=100000")
    w = Seals(inst)
    w.esid = w.new_active_seal(seal_name="读取测试章")
    # an approver who may also ask for the seal's use (SOD-6 still keeps
    # them from approving their own request)
    w.ids["approver2"], w.cred["approver2"] = w.person("approver2",
                                                      w.agency)
    for role in ("approver", "requester"):
        w.grant(w.cred["secadmin"], w.ids["approver2"], role, w.agency)
    # another agency's approver and requester: sees none of this agency's
    other = w.org("Daoli District Bureau", "agency", w.city,
                  "11230100MB7654321X")
    w.ids["outsider"], w.cred["outsider"] = w.person("outsider", other)
    for role in ("approver", "requester"):
        w.grant(w.cred["secadmin"], w.ids["outsider"], role, other)
    w.other = other
    yield w
    rc, _, err = inst.stop()
    assert rc == 0, err


def submit(w, docs, who="requester", copies=1):
    r = w.inst.post(LIST, w.cred[who], json={
        "esid": w.esid, "title": "关于年度报告的函", "purpose": "reads",
        "copies": copies, "documents": docs})
    assert r.status_code == 201, r.text
    return r.json()["data"]


def approve(w, rid, who="approver"):
    r = w.inst.post(f"{LIST}/{rid}/approve", w.cred[who])
    assert r.status_code == 200, r.text


def listing(w, who, **params):
    r = w.inst.get(LIST, w.cred[who], params=params)
    check_response(LIST, "get", r)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def ids(w, who, **params):
    return [x["id"] for x in listing(w, who, **params)["items"]]


def test_list_filters_pages_and_scope(world):
    w = world
    mine = [submit(w, [{"name": f"d{i}.txt", "data": b64(b"x%d" % i)}])["id"]
            for i in range(3)]
    theirs = submit(w, [{"name": "a2.txt", "data": b64(b"a2")}],
                    who="approver2")["id"]
    every = mine + [theirs]
    # the requester sees what they submitted; waiting_for=me is for
    # approvers
    assert set(mine) <= set(ids(w, "requester"))
    assert theirs not in ids(w, "requester")
    assert ids(w, "requester", submitted_by="me")[-3:] == mine
    assert ids(w, "requester", waiting_for="me") == []
    # the approver may approve all four; approver2 not their own (SOD-6)
    assert ids(w, "approver", waiting_for="me")[-4:] == every
    waiting2 = ids(w, "approver2", waiting_for="me")
    assert set(mine) <= set(waiting2) and theirs not in waiting2
    assert ids(w, "approver2", submitted_by="me") == [theirs]
    # the custodian sees the seal's requests; the auditor (root) all
    assert set(every) <= set(ids(w, "custodian"))
    assert set(every) <= set(ids(w, "auditor"))
    # another organisation's approver and a plain verifier see nothing
    assert ids(w, "outsider") == []
    assert ids(w, "outsider", waiting_for="me") == []
    assert ids(w, "verifier") == []
    # keyset pages of two: every request once, in id order
    seen, after = [], None
    while True:
        params = {"limit": 2, "esid": w.esid}
        if after is not None:
            params["after"] = after
        page = listing(w, "approver", **params)
        seen += [x["id"] for x in page["items"]]
        assert len(page["items"]) <= 2
        if page["next_after"] is None:
            break
        after = page["next_after"]
    assert seen == sorted(seen) and set(every) <= set(seen)
    # state, organisation and seal filters
    approve(w, mine[0])
    assert mine[0] in ids(w, "approver", state="approved")
    assert mine[0] not in ids(w, "approver", state="submitted")
    assert mine[0] not in ids(w, "approver", waiting_for="me")
    assert set(every) <= set(ids(w, "approver", org_id=w.agency))
    assert ids(w, "approver", org_id=w.other) == []
    assert ids(w, "approver", esid="NOSUCHSEAL") == []
    assert ids(w, "approver", state="sideways") == []
    # a bad filter is a clear error, documented
    for bad in ({"waiting_for": "someone"}, {"org_id": "0"},
                {"limit": "0"}):
        r = w.inst.get(LIST, w.cred["approver"], params=bad)
        check_response(LIST, "get", r)
        assert_error(r, 422, "invalid_argument")


def get_file(w, path, who, status, **ids_):
    r = w.inst.get(path.format(**ids_), w.cred[who])
    check_response(path, "get", r)
    assert r.status_code == status, (who, r.text[:200])
    return r


def test_document_downloads_per_role(world):
    w = world
    data = ofd(1)
    req = submit(w, [{"name": "合同 \"v1\".ofd", "data": b64(data)},
                     {"name": "hashed.pdf", "sm3": "00" * 32, "size": 10}])
    rid = req["id"]
    did, hashed = (d["id"] for d in req["documents"])
    for who in ("requester", "custodian", "approver", "approver2"):
        r = get_file(w, DOC, who, 200, id=rid, doc=did)
        assert r.content == data
        assert r.headers["Content-Type"] == "application/ofd"
        cd = r.headers["Content-Disposition"]
        assert cd.startswith(f'attachment; filename="document-{did}.ofd"')
        # the stored name, percent-encoded: no quote can break the header
        assert unquote(cd.split("filename*=UTF-8''")[1]) == '合同 "v1".ofd'
    # a reader who may not act (the auditor): 403; who may not read at all
    # (another organisation, a verifier, the maker): 404, as for a request
    # that does not exist
    assert_error(get_file(w, DOC, "auditor", 403, id=rid, doc=did), 403,
                 "forbidden")
    for who in ("outsider", "verifier", "maker"):
        assert_error(get_file(w, DOC, who, 404, id=rid, doc=did), 404,
                     "not_found")
    assert_error(get_file(w, DOC, "approver", 404, id=999999, doc=did),
                 404, "not_found")
    # a document of another request, one given by hash and never uploaded
    other = submit(w, [{"name": "o.txt", "data": b64(b"o")}])
    get_file(w, DOC, "approver", 404, id=other["id"], doc=did)
    get_file(w, DOC, "approver", 404, id=rid, doc=hashed)


def verify(w, data):
    r = w.inst.post("/api/v1/verify/ofd", w.cred["verifier"],
                    json={"ofd": base64.b64encode(data).decode()})
    assert r.status_code == 200, r.text
    return r.json()["data"]


def seal_ofd(w, rid, did, body, status=200):
    path = SEAL_OFD.format(id=rid, doc=did)
    r = w.inst.post(path, w.cred["custodian"], json=body)
    check_response(SEAL_OFD, "post", r)
    assert r.status_code == status, r.text
    return r.json().get("data", r.json())


def test_sealed_ofd_kept_and_sealed_again(world):
    w = world
    original = ofd(2)
    req = submit(w, [{"name": "notice.ofd", "data": b64(original)}],
                 copies=2)
    rid, did = req["id"], req["documents"][0]["id"]
    approve(w, rid)
    # the 骑缝章 across both pages, kept
    first = seal_ofd(w, rid, did, {"position": {"mode": "cross_page"}})
    assert first["base_id"] is None
    once = base64.b64decode(first["ofd"])
    kept = get_file(w, SEALED, "approver", 200, id=rid,
                    sealed=first["sealed_id"])
    assert kept.content == once
    assert kept.headers["Content-Type"] == "application/ofd"
    row = w.inst.sql("SELECT signature_id, document_id, sm3 FROM "
                     "sealed_ofds WHERE id = ?", first["sealed_id"])[0]
    assert row[0] == first["signature_id"] and row[1] == did
    assert bytes(row[2]) == hashlib.new("sm3", once).digest()
    # the 落款章 on the kept package, without uploading it again
    second = seal_ofd(w, rid, did, {"position": {"mode": "page", "page": 1,
                                                 "x": 120, "y": 230},
                                    "sealed_id": first["sealed_id"]})
    assert second["base_id"] == first["sealed_id"]
    twice = base64.b64decode(second["ofd"])
    assert get_file(w, SEALED, "custodian", 200, id=rid,
                    sealed=second["sealed_id"]).content == twice
    report = verify(w, twice)
    assert len(report["signatures"]) == 2
    for sig in report["signatures"]:
        assert sig["ses"]["checks"]["signature"]["status"] == "passed"
        assert sig["ses"]["checks"]["data_hash"]["status"] == "passed"
        assert all(r.get("status") == "passed"
                   for r in sig.get("references", []))
    # the grant of two copies is spent; nothing more is kept
    seal_ofd(w, rid, did, {"position": {"mode": "page", "page": 0, "x": 9,
                                        "y": 9},
                           "sealed_id": second["sealed_id"]}, status=409)
    assert w.inst.sql("SELECT count(*) FROM sealed_ofds WHERE "
                      "document_id = ?", did)[0][0] == 2
    # a kept package of another request is not sealed under this one
    req2 = submit(w, [{"name": "n2.ofd", "data": b64(ofd(1))}])
    approve(w, req2["id"])
    err = seal_ofd(w, req2["id"], req2["documents"][0]["id"],
                   {"position": {"mode": "page", "page": 0, "x": 9, "y": 9},
                    "sealed_id": first["sealed_id"]}, status=422)
    assert err["error"]["code"] == "invalid_argument"
    # downloads of kept packages follow the documents' rule
    for who, status in (("requester", 200), ("auditor", 403),
                        ("outsider", 404), ("verifier", 404)):
        get_file(w, SEALED, who, status, id=rid, sealed=first["sealed_id"])
    get_file(w, SEALED, "approver", 404, id=req2["id"],
             sealed=first["sealed_id"])


LICENCE = {"name": "licence.pdf", "media_type": "application/pdf",
           "type": "business_licence", "data": b64(b"%PDF-1.4 licence")}
ID_CARD = {"name": "身份证.png", "media_type": "image/png", "type": "id_card",
           "data": b64(b"\x89PNG id")}
LETTER = {"name": "letter.pdf", "media_type": "application/pdf",
          "type": "authorisation_letter", "data": b64(b"%PDF-1.4 letter")}
UNTYPED = {"name": "note.pdf", "media_type": "application/pdf",
           "data": b64(b"%PDF-1.4 note")}


def apply(w, materials, status, **over):
    body = {"org_id": w.agency, "kind": "official", "subkind": "legal_name",
            "seal_name": "材料测试章", "custodian_id": w.ids["custodian"],
            "image": {"data": b64(png()), "width_mm": 40, "height_mm": 40},
            "materials": materials}
    body.update(over)
    body = {k: v for k, v in body.items() if v is not None}
    r = w.inst.post("/api/v1/applications", w.cred["applicant"], json=body)
    check_response("/api/v1/applications", "post", r)
    assert r.status_code == status, r.text
    return r.json()


@pytest.mark.parametrize("kind,over,given,missing", [
    ("official", {}, [UNTYPED], ["business_licence", "id_card"]),
    ("official", {}, [LICENCE], ["id_card"]),
    ("position", {"kind": "position", "subkind": None,
                  "position": "法定代表人"}, [ID_CARD],
     ["business_licence", "authorisation_letter"]),
    ("personal", {"kind": "personal", "subkind": None}, [], ["id_card"]),
], ids=["official-untyped", "official-no-id", "position", "personal"])
def test_materials_required_per_kind(world, kind, over, given, missing):
    w = world
    before = w.inst.sql("SELECT count(*) FROM applications")[0][0]
    err = apply(w, given, 422, **over)["error"]
    assert err["code"] == "materials_missing"
    assert err["message"].endswith("missing " + ", ".join(missing))
    assert w.inst.sql("SELECT count(*) FROM applications")[0][0] == before


def test_typed_materials_accepted_and_downloads(world):
    w = world
    # a personal seal needs the ID card only; an untyped extra is "other"
    a = apply(w, [ID_CARD, UNTYPED], 201, kind="personal",
              subkind=None)["data"]
    assert [m["type"] for m in a["materials"]] == ["id_card", "other"]
    app = apply(w, [LICENCE, ID_CARD], 201)["data"]
    assert [m["type"] for m in app["materials"]] == ["business_licence",
                                                     "id_card"]
    bad = dict(LICENCE, type="passport")
    assert apply(w, [bad, ID_CARD], 422)["error"]["code"] == \
        "invalid_argument"
    # the reviewer (and the applicant) open materials and the impression
    mid = app["materials"][1]["id"]
    for who in ("reviewer", "applicant"):
        r = get_file(w, MATERIAL, who, 200, id=app["id"], mid=mid)
        assert r.content == b"\x89PNG id"
        assert r.headers["Content-Type"] == "image/png"
        assert r.headers["Content-Disposition"].startswith(
            f'attachment; filename="material-{mid}.png"')
        r = get_file(w, IMAGE, who, 200, id=app["id"])
        assert r.content == png() and r.headers["Content-Type"] == \
            "image/png"
    # others: 404 without telling whether the application exists
    for who in ("maker", "custodian", "verifier", "outsider"):
        assert_error(get_file(w, MATERIAL, who, 404, id=app["id"],
                              mid=mid), 404, "not_found")
        get_file(w, IMAGE, who, 404, id=app["id"])
    # a material of another application is not found through this one
    get_file(w, MATERIAL, "reviewer", 404, id=a["id"], mid=mid)
    get_file(w, MATERIAL, "reviewer", 404, id=999999, mid=mid)


def test_material_lists_are_the_configured_ones(tmp_path):
    """[materials] replaces the regulations' defaults per kind; a name that
    is not a material type stops seald at start."""
    inst = Instance(tmp_path / "inst")
    out = run_seald("run", "--config", inst.conf, "--set",
                    "materials.official=business_licence,passport")
    assert out.returncode == 78, out.stderr
    assert "materials.official" in out.stderr and "passport" in out.stderr
    inst.start("--set", "materials.official=business_licence,"
               "authorisation_letter", "--set", "materials.personal=")
    try:
        w = Seals(inst)
        err = apply(w, [LICENCE, ID_CARD], 422)["error"]
        assert err["code"] == "materials_missing"
        assert err["message"].endswith("missing authorisation_letter")
        apply(w, [LICENCE, LETTER], 201)
        # personal: the province asks for nothing
        apply(w, [], 201, kind="personal", subkind=None)
    finally:
        rc, _, err = inst.stop()
        assert rc == 0, err
