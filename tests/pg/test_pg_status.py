"""Issue 17, item 1, on several nodes: two seald nodes share one
PostgreSQL database (manual chapter 8).  Node B serves a seal's signed
status statement from its cache; the seal is reported lost and revoked on
node A; node B's very next answer says so, because the state row is read
from the database on every request and only the signature is cached.
The seal is also found by its hash on the other node, and the statement
verifies with openssl against the instance's local CA.

One throw-away server (pgserver.py) for the module.
"""
import base64
import copy
import hashlib
import os
import sys

import pytest

import pgserver

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from test_pg_instance import PgInstance  # noqa: E402
from test_seals import Seals  # noqa: E402
from test_status import openssl_check  # noqa: E402

LIMITS = ("--set", "status.rate_limit_burst=100000",
          "--set", "status.rate_limit_rps=100000")


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    s = pgserver.Server()
    s.start()
    a = b = None
    try:
        s.psql("postgres", "CREATE DATABASE status OWNER seald")
        a = PgInstance(tmp_path_factory.mktemp("pgstatus") / "i",
                       s.url("status"))
        a.start(*LIMITS)
        # node B: the same instance directory (config, token, secret), its
        # own port and log
        b = copy.copy(a)
        b.proc = None
        b.log = os.path.join(a.dir, "seald-b.log")
        b.start(*LIMITS)
        yield Seals(a), b
    finally:
        for n in (b, a):
            if n is not None and n.proc is not None:
                rc, _, err = n.stop()
                assert rc == 0, err
        s.stop()


def statement(node, path):
    r = node.get(path)
    assert r.status_code == 200, r.text
    return r.json()


def test_revocation_on_one_node_is_seen_at_once_on_the_other(nodes,
                                                             tmp_path):
    w, b = nodes
    esid = w.new_active_seal(seal_name="两节点章")
    f = w.inst.get(f"/api/v1/seals/{esid}/file", w.cred["applicant"])
    assert f.status_code == 200
    h = hashlib.new("sm3", f.content).hexdigest()
    first = statement(b, f"/status/{esid}")
    assert first["status"] == "active" and first["seal_sm3"] == h
    # served again from node B's cache: the same signed statement
    assert statement(b, f"/status/{esid}")["der"] == first["der"]
    assert statement(b, f"/status/sm3/{h}")["es_id"] == esid
    r = w.inst.post(f"/api/v1/seals/{esid}/loss", w.cred["custodian"],
                    json={"reason": "lost in transit"})
    assert r.status_code == 200, r.text
    lost = statement(b, f"/status/{esid}")
    assert lost["status"] == "lost" and lost["reason"] == "keyCompromise"
    r = w.inst.post(f"/api/v1/seals/{esid}/loss/resolve",
                    w.cred["reviewer"],
                    json={"outcome": "revoke", "reason": "not found"})
    assert r.status_code == 200, r.text
    rev = statement(b, f"/status/sm3/{h}")
    assert rev["status"] == "revoked" and rev["reason_code"] == 1
    assert rev["status_time"] is not None
    assert openssl_check(w, base64.b64decode(rev["der"]),
                         str(tmp_path / "rev"))
