"""Issue 6, first half: seal applications and their review, end to end."""
import base64
import hashlib

import pytest

from conftest import Instance, assert_error
import sealimg
from sealimg import gif, png
from test_accounts import World


def b64(data):
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    inst = Instance(tmp_path_factory.mktemp("apps") / "inst")
    inst.start()
    w = World(inst)
    # an applicant who is also a reviewer: may review others' applications
    # but never their own
    w.grant(w.cred["secadmin"], w.ids["applicant"], "reviewer", w.agency)
    yield w
    rc, _, err = inst.stop()
    assert rc == 0, err


def application(w, **over):
    body = {"org_id": w.agency, "kind": "official", "subkind": "legal_name",
            "seal_name": "哈尔滨市公安局", "custodian_id": w.ids["custodian"],
            "image": {"data": b64(png()), "width_mm": 42, "height_mm": 42},
            "materials": [{"name": "licence.pdf",
                           "media_type": "application/pdf",
                           "type": "business_licence",
                           "data": b64(b"%PDF-1.4 licence")},
                          {"name": "id.pdf", "media_type": "application/pdf",
                           "type": "id_card", "data": b64(b"%PDF-1.4 id")},
                          {"name": "letter.pdf",
                           "media_type": "application/pdf",
                           "type": "authorisation_letter",
                           "data": b64(b"%PDF-1.4 letter")}]}
    body.update(over)
    return body


def submit(w, **over):
    r = w.inst.post("/api/v1/applications", w.cred["applicant"],
                    json=application(w, **over))
    assert r.status_code == 201, r.text
    return r.json()["data"]


def review(w, app_id, decision, reason=None, who="reviewer", status=200):
    body = {"decision": decision}
    if reason:
        body["reason"] = reason
    r = w.inst.post(f"/api/v1/applications/{app_id}/review", w.cred[who],
                    json=body)
    assert r.status_code == status, r.text
    return r


def test_submit_return_resubmit_approve(world):
    w = world
    a = submit(w)
    assert a["state"] == "submitted" and a["revision"] == 1
    assert a["image"]["type"] == "PNG" and a["image"]["width_px"] == 200
    assert a["image"]["sm3"] == hashlib.new("sm3", png()).hexdigest()
    mat = a["materials"][0]
    assert mat["type"] == "business_licence"
    assert mat["sm3"] == hashlib.new("sm3", b"%PDF-1.4 licence").hexdigest()
    assert mat["size"] == len(b"%PDF-1.4 licence")

    review(w, a["id"], "start")
    err = review(w, a["id"], "return", status=400).json()["error"]
    assert "reason" in err["message"]
    r = review(w, a["id"], "return", "the licence scan is unreadable")
    assert r.json()["data"]["state"] == "returned"
    assert r.json()["data"]["state_reason"] == \
        "the licence scan is unreadable"
    # only the applicant resubmits, and only a returned application
    r = w.inst.post(f"/api/v1/applications/{a['id']}/resubmit",
                    w.cred["reviewer"], json=application(w))
    assert_error(r, 403, "forbidden")
    fixed = application(w, seal_name="哈尔滨市公安局（更正）", materials=[
        {"name": "licence-rescan.pdf", "media_type": "application/pdf",
         "data": b64(b"%PDF-1.4 clear licence")}])
    fixed.pop("org_id")
    r = w.inst.post(f"/api/v1/applications/{a['id']}/resubmit",
                    w.cred["applicant"], json=fixed)
    assert r.status_code == 200, r.text
    d = r.json()["data"]
    assert d["state"] == "submitted" and d["revision"] == 2
    assert d["seal_name"] == "哈尔滨市公安局（更正）"
    assert [m["revision"] for m in d["materials"]] == [1, 1, 1, 2]
    assert_error(w.inst.post(f"/api/v1/applications/{a['id']}/resubmit",
                             w.cred["applicant"], json=fixed),
                 409, "conflict")

    review(w, a["id"], "start")
    r = review(w, a["id"], "approve")
    assert r.json()["data"]["state"] == "approved"
    assert r.json()["data"]["reviewer_id"] == w.ids["reviewer"]
    # approved is final for review
    review(w, a["id"], "reject", "too late", status=409)

    hist = w.inst.get(f"/api/v1/applications/{a['id']}/history",
                      w.cred["applicant"]).json()["data"]["items"]
    assert [(h["from"], h["to"]) for h in hist] == [
        (None, "submitted"), ("submitted", "under_review"),
        ("under_review", "returned"), ("returned", "submitted"),
        ("submitted", "under_review"), ("under_review", "approved")]
    assert hist[2]["reason"] == "the licence scan is unreadable"
    assert hist[2]["actor_id"] == w.ids["reviewer"]
    actions = [row[4] for row in w.inst.audit()
               if row[5] == str(a["id"]) and row[6] == "ok"]
    assert actions.count("application.review_start") == 2
    assert "application.approve" in actions


def test_reject_is_final_with_reason(world):
    w = world
    a = submit(w, seal_name="合同专用章", subkind="business",
               business="contract")
    review(w, a["id"], "start")
    r = review(w, a["id"], "reject", "no contract business in scope")
    assert r.json()["data"]["state"] == "rejected"
    review(w, a["id"], "start", status=409)
    review(w, a["id"], "approve", status=409)


def test_nobody_reviews_their_own_application(world):
    w = world
    a = submit(w, kind="personal", subkind=None, seal_name="张三")
    r = review(w, a["id"], "start", who="applicant", status=403)
    assert "own application" in r.json()["error"]["message"]
    assert w.inst.get(f"/api/v1/applications/{a['id']}",
                      w.cred["reviewer"]).json()["data"]["state"] == \
        "submitted"
    refused = [row for row in w.inst.audit()
               if row[4] == "application.review" and row[6] == "refused"]
    assert refused and "own application" in refused[-1][7]


def test_each_kind(world):
    w = world
    pos = submit(w, kind="position", subkind=None, position="法定代表人",
                 seal_name="李四")
    assert pos["position"] == "法定代表人"
    g = submit(w, subkind="department", seal_name="办公室",
               image={"data": b64(gif()), "width_mm": 30, "height_mm": 30})
    assert g["image"]["type"] == "GIF"
    for business in ("finance", "invoice", "customs", "inspection", "other"):
        d = submit(w, subkind="business", business=business,
                   seal_name=business)
        assert d["business"] == business
    assert submit(w, subkind="branch", seal_name="分局")["subkind"] == \
        "branch"


@pytest.mark.parametrize("over,status", [
    ({"kind": "imperial"}, 422),
    ({"subkind": "business"}, 422),                      # no business
    ({"business": "finance"}, 422),                      # not a business seal
    ({"kind": "position", "subkind": None}, 422),        # no position
    ({"image": {"data": b64(b"GIF87a not really"), "width_mm": 40,
                "height_mm": 40}}, 422),
    ({"image": {"data": b64(png()), "width_mm": 4, "height_mm": 4}}, 422),
    ({"image": {"data": "!!!", "width_mm": 40, "height_mm": 40}}, 400),
    ({"custodian_id": 424242}, 422),
    ({"org_id": 424242}, 422),
    ({"materials": [{"name": "x.exe", "media_type": "application/x-exe",
                     "data": b64(b"MZ")}]}, 422),
    ({"surprise": 1}, 400),
])
def test_bad_applications_change_nothing(world, over, status):
    w = world
    before = w.inst.sql("SELECT count(*) FROM applications")[0][0]
    body = {k: v for k, v in application(w, **over).items() if v is not None}
    r = w.inst.post("/api/v1/applications", w.cred["applicant"], json=body)
    assert r.status_code == status, r.text
    assert w.inst.sql("SELECT count(*) FROM applications")[0][0] == before


# Issue 14: each of these became an active seal while images were only
# parsed; a decoder refuses them.
BAD_IMAGES = {
    "png-random-image-data": sealimg.png_random_idat,
    "png-inflates-to-500-mib": sealimg.png_bomb,
    "gif-truncated-lzw-data": sealimg.gif_truncated,
}


def stored(w):
    return {t: w.inst.sql(f"SELECT count(*) FROM {t}")[0][0]
            for t in ("applications", "application_materials", "history")}


@pytest.mark.parametrize("name", sorted(BAD_IMAGES))
def test_undecodable_images_refused(world, name):
    w = world
    image = {"data": b64(BAD_IMAGES[name]()), "width_mm": 42,
             "height_mm": 42}
    # a returned application, to resubmit with the bad image too
    a = submit(w)
    review(w, a["id"], "start")
    review(w, a["id"], "return", "the impression is blurred")
    before = stored(w)
    # the message says which decoder refused it, once
    said = "image: " + name[:3].upper() + ": "
    r = w.inst.post("/api/v1/applications", w.cred["applicant"],
                    json=application(w, image=image))
    assert assert_error(r, 422, "invalid_argument")["message"].startswith(
        said)
    again = application(w, image=image)
    again.pop("org_id")
    r = w.inst.post(f"/api/v1/applications/{a['id']}/resubmit",
                    w.cred["applicant"], json=again)
    assert assert_error(r, 422, "invalid_argument")["message"].startswith(
        said)
    assert stored(w) == before
    now = w.inst.get(f"/api/v1/applications/{a['id']}",
                     w.cred["applicant"]).json()["data"]
    assert (now["state"], now["revision"]) == ("returned", 1)
    assert now["image"]["sm3"] == hashlib.new("sm3", png()).hexdigest()
    assert w.inst.sql("SELECT count(*) FROM applications WHERE image = ?",
                      BAD_IMAGES[name]()) == [(0,)]


def test_decoded_dimensions_are_stored(world):
    w = world
    g = submit(w, image={"data": b64(gif(150, 100)), "width_mm": 45,
                         "height_mm": 30})
    assert (g["image"]["type"], g["image"]["width_px"],
            g["image"]["height_px"]) == ("GIF", 150, 100)
    assert w.inst.sql("SELECT image_width_px, image_height_px FROM "
                      "applications WHERE id = ?", g["id"]) == [(150, 100)]


def test_roles_on_applications(world):
    w = world
    r = w.inst.post("/api/v1/applications", w.cred["reviewer"],
                    json=application(w))
    assert_error(r, 403, "forbidden")
    a = submit(w)
    # someone with no business with applications cannot read one
    assert_error(w.inst.get(f"/api/v1/applications/{a['id']}",
                            w.cred["maker"]), 403, "forbidden")
    assert_error(w.inst.get("/api/v1/applications/999999",
                            w.cred["reviewer"]), 404, "not_found")
    mine = w.inst.get("/api/v1/applications", w.cred["maker"],
                      params={"state": "submitted"}).json()["data"]
    assert mine["items"] == []
    seen = w.inst.get("/api/v1/applications", w.cred["reviewer"],
                      params={"state": "submitted"}).json()["data"]["items"]
    assert a["id"] in [x["id"] for x in seen]
