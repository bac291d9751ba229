"""Issue 14 item 17: an error that adds context to another error reads
"context: message", whole and once.  Each handler that prefixes the message
of a number or image check used to format it into the buffer it was reading
("limit: limit: ut of range", "image: image: s neither PNG nor GIF").
A message that quotes the request is UTF-8 even where a byte count cuts
through a character: that answered 503 out_of_memory (jansson refuses the
bytes) and PostgreSQL refused the refusal's audit record.  A query
parameter that is not UTF-8 is refused as such (400) before it reaches a
query: PostgreSQL failed the statement (503 database_error) where SQLite
found no row."""
import base64

import pytest

from conftest import Instance, assert_error
from test_accounts import World

BIG = "9223372036854775807"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    inst = Instance(tmp_path_factory.mktemp("errmsg") / "inst")
    inst.start()
    w = World(inst)
    yield w
    rc, _, err = inst.stop()
    assert rc == 0, err


@pytest.mark.parametrize("who,path,params,message", [
    ("sysadmin", "/api/v1/organisations", {"limit": "0"},
     "limit: 0 is out of range [1, 500]"),
    ("sysadmin", "/api/v1/organisations", {"after": "x"},
     "after: not a number: 'x'"),
    ("sysadmin", "/api/v1/organisations", {"parent_id": "-1"},
     f"parent_id: -1 is out of range [0, {BIG}]"),
    ("sysadmin", "/api/v1/accounts", {"org_id": "0"},
     f"org_id: 0 is out of range [1, {BIG}]"),
    ("applicant", "/api/v1/applications", {"org_id": "0"},
     f"org_id: 0 is out of range [1, {BIG}]"),
    ("applicant", "/api/v1/seals", {"expiring_within_days": "4000"},
     "org_id / expiring_within_days: 4000 is out of range [0, 3650]"),
    ("applicant", "/api/v1/usage", {"org_id": "1", "from_ms": "x"},
     "org_id/from_ms/to_ms: not a number: 'x'"),
    ("auditor", "/api/v1/audit", {"account": "0"},
     f"account: 0 is out of range [1, {BIG}]"),
])
def test_query_errors_name_the_parameter_once(world, who, path, params,
                                              message):
    r = world.inst.get(path, world.cred[who], params=params)
    assert assert_error(r, 422, "invalid_argument")["message"] == message


def test_image_error_names_the_image_once(world):
    w = world
    body = {"org_id": w.agency, "kind": "official", "subkind": "legal_name",
            "seal_name": "哈尔滨市公安局", "custodian_id": w.ids["custodian"],
            "image": {"data": base64.b64encode(b"not a picture").decode(),
                      "width_mm": 42, "height_mm": 42},
            "materials": [{"name": "licence.pdf",
                           "media_type": "application/pdf",
                           "data": base64.b64encode(b"%PDF-1.4").decode()}]}
    r = w.inst.post("/api/v1/applications", w.cred["applicant"], json=body)
    err = assert_error(r, 422, "invalid_argument")
    assert err["message"] == "image: image is neither PNG nor GIF"


def test_message_cut_through_a_character_is_still_utf8(world):
    w = world
    before = w.inst.audit()[-1][0]
    r = w.inst.post("/api/v1/organisations", w.cred["sysadmin"],
                    json={"中" * 100: 1, "name": "x", "kind": "region"})
    err = assert_error(r, 400, "bad_request")
    # "%.64s" keeps 21 characters and the first byte of the 22nd
    assert err["message"] == "unknown field '" + "中" * 21 + "?'"
    rows = [x for x in w.inst.audit() if x[0] > before]
    assert [(x[4], x[6], x[7]) for x in rows] == [
        ("organisation.create", "refused", err["message"])]


@pytest.mark.parametrize("who,path", [
    ("auditor", "/api/v1/audit?action=%FF"),
    ("auditor", "/api/v1/audit?target=a%C3"),       # cut inside a character
    ("sysadmin", "/api/v1/seals?name=%ED%A0%80"),   # a surrogate
    ("applicant", "/api/v1/usage?esid=%C0%AF"),     # an overlong '/'
    ("applicant", "/api/v1/seals?%FF=1"),           # the name, not the value
])
def test_query_parameter_not_utf8_is_refused(world, who, path):
    err = assert_error(world.inst.get(path, world.cred[who]), 400,
                       "bad_request")
    assert err["message"] == "query parameters must be UTF-8"


def test_query_parameter_in_utf8_is_taken(world):
    r = world.inst.get("/api/v1/audit?target=%E4%B8%AD", world.cred["auditor"])
    assert r.status_code == 200, r.text
    assert r.json()["data"]["items"] == []
