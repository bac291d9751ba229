"""Issue 18 item 11: encryption at rest.

Application materials, impression images, uploaded documents and the kept
sealed OFDs (sealed_ofds.data) are stored SM4-encrypted (SM4-CTR +
HMAC-SM3) under a data key that the token wraps.  The tests read the
database as an attacker with a copy of it would (the rows with sqlite3 /
psycopg2, the SQLite file itself, a backup or a pg_dump) and find none of
the plaintext, while the daemon still makes seals from the images and signs
the documents; a ciphertext moved to another row does not open; rotation
keeps old blobs readable and seals new ones under the new key; an
interrupted re-encryption leaves every blob readable.  A kept sealed OFD
downloads as sealing returned it and is sealed a second time from its
ciphertext; an altered one answers an error, never bytes; kept OFDs stored
in clear before this version are read until `seald data-key encrypt` seals
them."""
import base64
import hashlib
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import PG, PG_BIN, SEALD, Instance, assert_error, run_seald
from ofdgen import ofd
from sealimg import png
from test_seals import Seals

MAGIC = bytes([0x89]) + b"SDB\r\n\x1a\x01"
SEALED = "/api/v1/sign-requests/{id}/sealed/{sealed}"
SEAL_OFD = "/api/v1/sign-requests/{id}/documents/{doc}/seal-ofd"
SEALED_COL = "sealed_ofds.data"
# a rotation by the command reaches the daemon at its next blob (no key
# kept), as it does after storage.data_key_cache_seconds in use
START = ("--set", "storage.data_key_cache_seconds=0",
         "--set", "security.rate_limit_rps=100000",
         "--set", "security.rate_limit_burst=100000")


def b64(data):
    return base64.b64encode(data).decode()


def key_id(blob):
    """The data key id a sealed blob names (its header)."""
    assert blob[:8] == MAGIC, blob[:16]
    return int.from_bytes(blob[8:12], "big")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    inst = Instance(tmp_path_factory.mktemp("atrest") / "inst")
    inst.start(*START)
    w = Seals(inst)
    w.esid = w.new_active_seal()
    yield w
    rc, _, err = inst.stop()
    assert rc == 0, err


def data_key(w, *args, check=True):
    out = run_seald("data-key", *args, "--config", w.inst.conf)
    if check:
        assert out.returncode == 0, out.stdout + out.stderr
    return out


def marker(tag):
    return ("CONFIDENTIAL-%s-%d" % (tag, time.time_ns())).encode()


def apply_with(w, material, colour=(200, 0, 0)):
    img = png(colour=colour)
    app = w.apply(image={"data": b64(img), "width_mm": 40, "height_mm": 40},
                  materials=[{"name": "licence.pdf",
                              "media_type": "application/pdf",
                              "type": "business_licence",
                              "data": b64(material)},
                             {"name": "id.pdf",
                              "media_type": "application/pdf",
                              "type": "id_card",
                              "data": b64(material + b"-id")}])
    return app, img


def submit_doc(w, esid, text):
    r = w.inst.post("/api/v1/sign-requests", w.cred["requester"],
                    json={"esid": esid, "title": "函", "purpose": "test",
                          "copies": 2,
                          "documents": [{"name": "a.txt",
                                         "data": b64(text)}]})
    assert r.status_code == 201, r.text
    return r.json()["data"]


def approve_and_sign(w, rid):
    r = w.inst.post(f"/api/v1/sign-requests/{rid}/approve",
                    w.cred["approver"])
    assert r.status_code == 200, r.text
    r = w.inst.post(f"/api/v1/sign-requests/{rid}/sign", w.cred["custodian"])
    assert r.status_code == 200, r.text
    (res,) = r.json()["data"]["results"]
    assert res["status"] == "signed", res
    return base64.b64decode(res["signature"])


def verifies(w, sig, data, tmp):
    (tmp / "sig.dat").write_bytes(sig)
    (tmp / "doc.bin").write_bytes(data)
    out = subprocess.run([SEALD, "verify-file", "--signature",
                          str(tmp / "sig.dat"), "--data",
                          str(tmp / "doc.bin"), "--instance", w.inst.dir],
                         capture_output=True, text=True)
    return out.returncode == 0 and \
        json.loads(out.stdout)["indication"] == "TOTAL_PASSED"


def ofd_request(w, copies=2):
    """An approved signing request of one OFD document: (request id,
    document id)."""
    r = w.inst.post("/api/v1/sign-requests", w.cred["requester"],
                    json={"esid": w.esid, "title": "通知", "purpose": "ofd",
                          "copies": copies,
                          "documents": [{"name": "notice.ofd",
                                         "data": b64(ofd(2))}]})
    assert r.status_code == 201, r.text
    req = r.json()["data"]
    r = w.inst.post(f"/api/v1/sign-requests/{req['id']}/approve",
                    w.cred["approver"])
    assert r.status_code == 200, r.text
    return req["id"], req["documents"][0]["id"]


def seal_ofd(w, rid, did, sealed_id=None, status=200):
    """Seal document did of request rid (again, from kept OFD sealed_id);
    the response's data (or error body)."""
    body = {"position": {"mode": "page", "page": 0, "x": 40 + 30 * bool(
        sealed_id), "y": 200}}
    if sealed_id is not None:
        body["sealed_id"] = sealed_id
    r = w.inst.post(SEAL_OFD.format(id=rid, doc=did), w.cred["custodian"],
                    json=body)
    assert r.status_code == status, r.text
    return r.json().get("data", r.json())


def kept(w, rid, sid):
    return w.inst.get(SEALED.format(id=rid, sealed=sid), w.cred["approver"])


def kept_row(w, sid):
    (row,) = w.inst.sql("SELECT data, sm3, size_bytes, document_id FROM "
                        "sealed_ofds WHERE id = ?", sid)
    return row


def verify_ofd(w, data):
    r = w.inst.post("/api/v1/verify/ofd", w.cred["verifier"],
                    json={"ofd": b64(data)})
    assert r.status_code == 200, r.text
    sigs = r.json()["data"]["signatures"]
    for sig in sigs:
        assert sig["ses"]["checks"]["signature"]["status"] == "passed", sig
        assert sig["ses"]["checks"]["data_hash"]["status"] == "passed", sig
    return len(sigs)


def picture(w, esid):
    r = w.inst.get(f"/api/v1/seals/{esid}/picture", w.cred["applicant"])
    return r


def database_bytes(w, tmp):
    """Everything an attacker with the database gets: the SQLite file and
    its WAL, or a pg_dump of the PostgreSQL database."""
    if PG:
        out = subprocess.run([os.path.join(PG_BIN, "pg_dump"), "-Fp",
                              w.inst.db_url], capture_output=True)
        assert out.returncode == 0, out.stderr
        return out.stdout
    data = b""
    for suffix in ("", "-wal"):
        if os.path.exists(w.inst.db + suffix):
            with open(w.inst.db + suffix, "rb") as f:
                data += f.read()
    return data


def test_blobs_are_ciphertext_and_still_work(world, tmp_path):
    w = world
    secret = marker("material")
    app, img = apply_with(w, b"%PDF-1.4 " + secret)
    # the rows hold sealed blobs, none of the plaintext
    mat = w.inst.sql("SELECT data, size_bytes FROM application_materials "
                     "WHERE application_id = ? ORDER BY id", app)[0]
    assert mat[0][:8] == MAGIC and secret not in mat[0]
    assert mat[1] == len(b"%PDF-1.4 " + secret)
    assert len(mat[0]) == mat[1] + 60
    (image,) = w.inst.sql("SELECT image FROM applications WHERE id = ?",
                          app)[0]
    assert image[:8] == MAGIC and img not in image and b"IHDR" not in image
    # the seal is made from the stored image, and the picture comes back
    w.approve(app)
    esid = w.make(app)["esid"]
    w.confirm(esid)
    r = picture(w, esid)
    assert r.status_code == 200 and r.content == img
    text = marker("document") * 20
    req = submit_doc(w, esid, text)
    (doc,) = w.inst.sql("SELECT data, sm3 FROM sign_documents WHERE "
                        "request_id = ?", req["id"])
    assert doc[0][:8] == MAGIC and text[:40] not in doc[0]
    assert doc[1] == hashlib.new("sm3", text).digest()
    sig = approve_and_sign(w, req["id"])
    assert verifies(w, sig, text, tmp_path)
    # the whole database, as a thief would read it
    raw = database_bytes(w, tmp_path)
    assert secret not in raw and text[:40] not in raw
    # every blob opens and matches its row's hash
    rep = json.loads(data_key(w, "verify").stdout)
    assert rep["ok"] and rep["checked"] >= 3, rep


def test_kept_sealed_ofds_are_ciphertext_and_sealed_again(world, tmp_path):
    w = world
    rid, did = ofd_request(w)
    first = seal_ofd(w, rid, did)
    once = base64.b64decode(first["ofd"])
    assert once[:4] == b"PK\x03\x04"
    # the kept package is a sealed blob: no ZIP inside, its row keeps the
    # plaintext's size and SM3, and it is bound to its document
    data, sm3, size, doc = kept_row(w, first["sealed_id"])
    assert data[:8] == MAGIC and b"PK\x03\x04" not in data
    assert once[:200] not in data
    assert bytes(sm3) == hashlib.new("sm3", once).digest()
    assert size == len(once) and len(data) == len(once) + 60
    assert doc == did
    # the download is what sealing returned
    r = kept(w, rid, first["sealed_id"])
    assert r.status_code == 200 and r.content == once
    assert r.headers["Content-Type"] == "application/ofd"
    # a second seal on the kept package, opened from its ciphertext
    second = seal_ofd(w, rid, did, sealed_id=first["sealed_id"])
    assert second["base_id"] == first["sealed_id"]
    twice = base64.b64decode(second["ofd"])
    data2, sm3_2, size2, _ = kept_row(w, second["sealed_id"])
    assert data2[:8] == MAGIC and b"PK\x03\x04" not in data2
    assert bytes(sm3_2) == hashlib.new("sm3", twice).digest()
    assert size2 == len(twice)
    assert kept(w, rid, second["sealed_id"]).content == twice
    assert verify_ofd(w, twice) == 2
    # nothing of either package in the whole database
    raw = database_bytes(w, tmp_path)
    assert once[:200] not in raw and twice[-200:] not in raw
    # the commands count and open them
    rep = json.loads(data_key(w, "list").stdout)
    col = rep["blobs"][SEALED_COL]
    (n,), = w.inst.sql("SELECT count(*) FROM sealed_ofds")
    assert col["plaintext"] == 0 and sum(col["sealed_by"].values()) == n, rep
    assert n >= 2
    v = json.loads(data_key(w, "verify").stdout)
    assert v["ok"] and v["checked"] >= 5, v


def test_altered_kept_ofd_answers_an_error_not_bytes(world):
    w = world
    rid, did = ofd_request(w)
    k1 = seal_ofd(w, rid, did)["sealed_id"]
    rid2, did2 = ofd_request(w)
    k2 = seal_ofd(w, rid2, did2)["sealed_id"]
    c1, c2 = kept_row(w, k1)[0], kept_row(w, k2)[0]
    (sigs,), = w.inst.sql("SELECT count(*) FROM signatures")
    log_at = os.path.getsize(w.inst.log)
    try:
        # one flipped byte of the ciphertext: 500, the one error shape
        bad = bytearray(c1)
        bad[len(bad) // 2] ^= 1
        w.inst.tamper(("UPDATE sealed_ofds SET data = ? WHERE id = ?",
                       (bytes(bad), k1)))
        r = kept(w, rid, k1)
        assert_error(r, 500, "crypto_error")
        assert r.content[:2] != b"PK"
        # and nothing is sealed from it: no signature, no package kept
        r = w.inst.post(SEAL_OFD.format(id=rid, doc=did),
                        w.cred["custodian"],
                        json={"position": {"mode": "page", "page": 0,
                                           "x": 9, "y": 9},
                              "sealed_id": k1})
        assert_error(r, 500, "crypto_error")
        assert w.inst.sql("SELECT count(*) FROM signatures")[0][0] == sigs
        assert w.inst.sql("SELECT count(*) FROM sealed_ofds WHERE "
                          "document_id = ?", did)[0][0] == 1
        # another document's kept package moved into this row does not
        # open either (bound to its document and SM3)
        w.inst.tamper(("UPDATE sealed_ofds SET data = ? WHERE id = ?",
                       (c2, k1)))
        assert_error(kept(w, rid, k1), 500, "crypto_error")
        with open(w.inst.log, encoding="utf-8", errors="replace") as f:
            f.seek(log_at)
            log = f.read()
        assert "blob_unreadable" in log and "column=" + SEALED_COL in log, log
        v = json.loads(data_key(w, "verify", check=False).stdout)
        assert not v["ok"] and v["failed"] == 1, v
        assert [f["column"] for f in v["failures"]] == [SEALED_COL], v
    finally:
        # put back (also when an assertion above failed: the module's
        # other tests open every blob)
        w.inst.tamper(("UPDATE sealed_ofds SET data = ? WHERE id = ?",
                       (c1, k1)))
    # it opens again
    assert kept(w, rid, k1).status_code == 200
    assert json.loads(data_key(w, "verify").stdout)["ok"]


@pytest.mark.sqlite_only(reason="seald backup copies the SQLite file; on "
                         "PostgreSQL the dump is checked above")
def test_backup_carries_ciphertext(world, tmp_path):
    w = world
    secret = marker("backup")
    apply_with(w, secret)
    rid, did = ofd_request(w, copies=1)
    once = base64.b64decode(seal_ofd(w, rid, did)["ofd"])
    out = tmp_path / "b.db"
    r = run_seald("backup", "--config", w.inst.conf, "--out", str(out))
    assert r.returncode == 0, r.stderr
    raw = out.read_bytes()
    assert secret not in raw and MAGIC in raw and once[:200] not in raw
    # the same rows as the instance, sealed as they are there
    import sqlite3
    con = sqlite3.connect(str(out))
    rows = con.execute("SELECT data FROM application_materials").fetchall()
    kept_ofds = con.execute("SELECT data FROM sealed_ofds").fetchall()
    con.close()
    assert rows and all(d[:8] == MAGIC for (d,) in rows)
    assert kept_ofds and all(d[:8] == MAGIC and b"PK\x03\x04" not in d
                             for (d,) in kept_ofds)


def test_moved_or_altered_ciphertext_does_not_open(world, tmp_path):
    w = world
    a1, img1 = apply_with(w, marker("a1"), colour=(200, 0, 0))
    a2, img2 = apply_with(w, marker("a2"), colour=(0, 0, 200))
    for a in (a1, a2):
        w.approve(a)
    e1 = w.make(a1)["esid"]
    w.confirm(e1)
    assert picture(w, e1).content == img1
    # application 2's image ciphertext put in application 1's row: bound
    # to image 2's SM3, it does not open there
    (c1,), = w.inst.sql("SELECT image FROM applications WHERE id = ?", a1)
    (c2,), = w.inst.sql("SELECT image FROM applications WHERE id = ?", a2)
    w.inst.tamper(("UPDATE applications SET image = ? WHERE id = ?", (c2, a1)))
    r = picture(w, e1)
    assert r.status_code == 500, r.text
    # one flipped byte of its own ciphertext does not open either
    bad = bytearray(c1)
    bad[40] ^= 1
    w.inst.tamper(("UPDATE applications SET image = ? WHERE id = ?",
                   (bytes(bad), a1)))
    assert picture(w, e1).status_code == 500
    # making a seal from a tampered image is refused, not made from junk
    w.inst.tamper(("UPDATE applications SET image = ? WHERE id = ?",
                   (bytes(bad), a2)))
    r = w.inst.post(f"/api/v1/applications/{a2}/make", w.cred["maker"])
    assert r.status_code == 500, r.text
    assert w.inst.sql("SELECT count(*) FROM seals WHERE application_id = ?",
                      a2)[0][0] == 0
    rep = json.loads(data_key(w, "verify", check=False).stdout)
    assert not rep["ok"] and rep["failed"] == 2, rep
    assert {f["column"] for f in rep["failures"]} == {"applications.image"}
    # put back: readable again
    w.inst.tamper(("UPDATE applications SET image = ? WHERE id = ?", (c1, a1)),
                  ("UPDATE applications SET image = ? WHERE id = ?", (c2, a2)))
    assert picture(w, e1).content == img1
    assert json.loads(data_key(w, "verify").stdout)["ok"]


def test_rotation_keeps_old_blobs_and_seals_new_ones_under_the_new_key(
        world, tmp_path):
    w = world
    old_text = marker("before-rotation") * 10
    old_req = submit_doc(w, w.esid, old_text)
    orid, odid = ofd_request(w, copies=1)
    old_ofd = seal_ofd(w, orid, odid)
    (old_blob,), = w.inst.sql("SELECT data FROM sign_documents WHERE "
                              "request_id = ?", old_req["id"])
    before = json.loads(data_key(w, "list").stdout)
    old_id = max(k["id"] for k in before["keys"])
    assert key_id(old_blob) == old_id
    out = data_key(w, "rotate", "--new-wrap-key")
    after = json.loads(data_key(w, "list").stdout)
    keys = {k["id"]: k for k in after["keys"]}
    new_id = max(keys)
    assert new_id > old_id and keys[new_id]["state"] == "active"
    assert all(k["state"] == "retired" for i, k in keys.items()
               if i != new_id)
    # every key now wrapped under the new wrap key
    assert len({k["wrap_key"] for k in keys.values()}) == 1
    assert keys[new_id]["wrap_key"] != \
        {k["id"]: k for k in before["keys"]}[old_id]["wrap_key"], out.stdout
    # old blobs open, new ones are sealed under the new key
    assert verifies(w, approve_and_sign(w, old_req["id"]), old_text, tmp_path)
    new_text = marker("after-rotation") * 10
    new_req = submit_doc(w, w.esid, new_text)
    (new_blob,), = w.inst.sql("SELECT data FROM sign_documents WHERE "
                              "request_id = ?", new_req["id"])
    assert key_id(new_blob) == new_id
    assert verifies(w, approve_and_sign(w, new_req["id"]), new_text, tmp_path)
    # re-encryption moves every blob to the new key
    data_key(w, "rotate", "--reencrypt")
    rep = json.loads(data_key(w, "list").stdout)
    newest = str(max(k["id"] for k in rep["keys"]))
    assert SEALED_COL in rep["blobs"], rep
    for col, c in rep["blobs"].items():
        assert c["plaintext"] == 0, rep
        assert set(c["sealed_by"]) <= {newest}, (col, rep)
    # the kept OFD from before the rotation: under the new key, the same
    assert key_id(kept_row(w, old_ofd["sealed_id"])[0]) == int(newest)
    assert kept(w, orid, old_ofd["sealed_id"]).content == \
        base64.b64decode(old_ofd["ofd"])
    assert json.loads(data_key(w, "verify").stdout)["ok"]
    # audited: each key made, the re-wrap, the re-encryption
    actions = [r[4] for r in w.inst.audit()]
    for a in ("data_key.create", "data_key.rewrap", "data_key.reencrypt"):
        assert a in actions, a


def test_killed_reencryption_leaves_everything_readable(world):
    w = world
    # enough rows that the kill lands inside the walk
    docs = [{"name": f"d{i}.txt", "data": b64(marker(f"k{i}") * 200)}
            for i in range(40)]
    for _ in range(5):
        r = w.inst.post("/api/v1/sign-requests", w.cred["requester"],
                        json={"esid": w.esid, "title": "批量", "purpose": "t",
                              "copies": 1, "documents": docs})
        assert r.status_code == 201, r.text
    killed_inside = False
    for delay in (0.15, 0.3, 0.6):
        p = subprocess.Popen([SEALD, "data-key", "rotate", "--reencrypt",
                              "--config", w.inst.conf],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.communicate()
        rep = json.loads(data_key(w, "list").stdout)
        ids = set()
        for c in rep["blobs"].values():
            ids |= set(c["sealed_by"])
        killed_inside |= len(ids) > 1
        # whatever the kill interrupted, every blob opens
        v = json.loads(data_key(w, "verify").stdout)
        assert v["ok"] and v["failed"] == 0, v
    # a rerun finishes the job
    data_key(w, "rotate", "--reencrypt")
    rep = json.loads(data_key(w, "list").stdout)
    newest = str(max(k["id"] for k in rep["keys"]))
    assert all(set(c["sealed_by"]) <= {newest}
               for c in rep["blobs"].values()), rep
    # (how often the kill lands inside depends on the machine's speed;
    # the assertion above holds either way)
    print("kill landed inside a re-encryption:", killed_inside)


def test_rows_from_before_encryption_are_sealed_by_the_command(world):
    w = world
    rep = json.loads(data_key(w, "list").stdout)
    # a new instance never had an unsealed row: it refuses one
    assert rep["plaintext_refused"] is True, rep
    app, _ = apply_with(w, marker("legacy"))
    w.approve(app)
    plain = png(colour=(0, 120, 0))
    h = hashlib.new("sm3", plain).digest()
    w.inst.sql("UPDATE applications SET image = ?, image_sm3 = ? WHERE "
               "id = ?", plain, h, app)
    r = w.inst.post(f"/api/v1/applications/{app}/make", w.cred["maker"])
    assert r.status_code == 500, r.text
    v = json.loads(data_key(w, "verify", check=False).stdout)
    assert v["failed"] == 1 and "not sealed" in v["failures"][0]["error"], v
    # an instance upgraded from before migration 018 reads it as it is
    w.inst.sql("UPDATE data_keys SET plaintext_refused = 0")
    rep = json.loads(data_key(w, "list").stdout)
    assert rep["plaintext_refused"] is False
    assert rep["blobs"]["applications.image"]["plaintext"] == 1, rep
    assert json.loads(data_key(w, "verify").stdout)["ok"]
    # until `seald data-key encrypt` seals every such row
    out = data_key(w, "encrypt")
    assert "1 blobs sealed" in out.stdout, out.stdout
    (blob,), = w.inst.sql("SELECT image FROM applications WHERE id = ?", app)
    assert blob[:8] == MAGIC and plain not in blob
    rep = json.loads(data_key(w, "list").stdout)
    assert all(c["plaintext"] == 0 for c in rep["blobs"].values()), rep
    assert rep["plaintext_refused"] is True, rep
    # the seal is made from the image that was plaintext
    esid = w.make(app)["esid"]
    w.confirm(esid)
    assert picture(w, esid).content == plain
    assert json.loads(data_key(w, "verify").stdout)["ok"]
    assert "data_key.encrypt" in [r[4] for r in w.inst.audit()]


def test_kept_ofds_from_before_are_read_then_sealed_by_the_command(world):
    """An instance whose kept sealed OFDs were stored in clear (every one
    before this version) and which had already run `seald data-key
    encrypt` (plaintext_refused set): migration 020 lets it read them
    again, and the same command seals them."""
    w = world
    rid, did = ofd_request(w)
    first = seal_ofd(w, rid, did)
    sid, once = first["sealed_id"], base64.b64decode(first["ofd"])
    assert json.loads(data_key(w, "list").stdout)["plaintext_refused"]
    # the row as a version before this one wrote it, and the schema as it
    # was before migration 020
    rc, _, err = w.inst.stop()
    assert rc == 0, err
    try:
        w.inst.tamper(("UPDATE sealed_ofds SET data = ? WHERE id = ?",
                       (once, sid)),
                      "DELETE FROM schema_version WHERE version = 20")
    finally:
        w.inst.start(*START)
    assert w.inst.sql("SELECT max(version) FROM schema_version")[0][0] >= 20
    rep = json.loads(data_key(w, "list").stdout)
    assert rep["plaintext_refused"] is False, rep
    assert rep["blobs"][SEALED_COL]["plaintext"] == 1, rep
    r = kept(w, rid, sid)
    assert r.status_code == 200 and r.content == once
    # refused while the instance refuses unsealed blobs
    w.inst.sql("UPDATE data_keys SET plaintext_refused = 1")
    assert_error(kept(w, rid, sid), 500, "crypto_error")
    w.inst.sql("UPDATE data_keys SET plaintext_refused = 0")
    # the upgrade step seals it, in place, to the same bytes
    out = data_key(w, "encrypt")
    assert "1 blobs sealed" in out.stdout, out.stdout
    data, sm3, size, _ = kept_row(w, sid)
    assert data[:8] == MAGIC and b"PK\x03\x04" not in data
    assert bytes(sm3) == hashlib.new("sm3", once).digest()
    assert size == len(once)
    rep = json.loads(data_key(w, "list").stdout)
    assert rep["plaintext_refused"] is True, rep
    assert rep["blobs"][SEALED_COL]["plaintext"] == 0, rep
    assert kept(w, rid, sid).content == once
    # and a second seal on it works
    second = seal_ofd(w, rid, did, sealed_id=sid)
    assert verify_ofd(w, base64.b64decode(second["ofd"])) == 2
    assert json.loads(data_key(w, "verify").stdout)["ok"]
    audit = [r for r in w.inst.audit() if r[4] == "data_key.encrypt"]
    assert audit


@pytest.mark.sqlite_only(reason="the fixture is a schema-7 SQLite database "
                         "file (tests/fixtures/schema-007)")
def test_upgraded_instance_seals_its_old_rows(tmp_path):
    import shutil
    fixture = os.path.join(os.environ.get("SEALD_SOURCE_DIR", "."), "tests",
                           "fixtures", "schema-007", "seald.db")
    inst = Instance(tmp_path / "inst")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(inst.db + suffix):
            os.unlink(inst.db + suffix)
    shutil.copy(fixture, inst.db)
    old = inst.sql("SELECT id, data FROM application_materials ORDER BY id")
    assert old and all(d[:8] != MAGIC for _, d in old)
    # the first start gives it a data key, and leaves its rows readable
    inst.start()
    rc, _, err = inst.stop()
    assert rc == 0, err
    (n, refused), = inst.sql("SELECT count(*), max(plaintext_refused) FROM "
                             "data_keys")
    assert n == 1 and refused == 0
    assert inst.sql("SELECT id, data FROM application_materials ORDER BY "
                    "id") == old
    out = run_seald("data-key", "verify", "--config", inst.conf)
    assert out.returncode == 0 and json.loads(out.stdout)["ok"], out.stdout
    # the upgrade step seals them; each still opens to its old bytes
    out = run_seald("data-key", "encrypt", "--config", inst.conf)
    assert out.returncode == 0, out.stderr
    new = inst.sql("SELECT id, data FROM application_materials ORDER BY id")
    assert [i for i, _ in new] == [i for i, _ in old]
    for (_, d), (_, o) in zip(new, old):
        assert d[:8] == MAGIC and o not in d
    rep = json.loads(run_seald("data-key", "list", "--config",
                               inst.conf).stdout)
    assert rep["plaintext_refused"] is True, rep
    assert all(c["plaintext"] == 0 for c in rep["blobs"].values()), rep
    out = run_seald("data-key", "verify", "--config", inst.conf)
    v = json.loads(out.stdout)
    assert out.returncode == 0 and v["ok"] and v["checked"] >= len(old), v
