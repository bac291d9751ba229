"""The store on the PostgreSQL dialect (src/store/db_pg.c), on a real,
throw-away PostgreSQL (pgserver.py): runs the C test tests/pg/test_pg_store.c
(its path in SEALD_PG_STORE_TEST) with the URL of an empty database in
SEALD_PG_URL, then checks with psql that the audit hashes the program read
back from the BYTEA column are the bytes the server holds.
"""
import os
import re
import subprocess
import time

import pytest

import pgserver

PROGRAM = os.environ.get("SEALD_PG_STORE_TEST")


@pytest.fixture(scope="module")
def server():
    s = pgserver.Server()
    try:
        s.start()
        yield s
    finally:
        s.stop()


def test_store_on_postgresql(server):
    assert PROGRAM, "SEALD_PG_STORE_TEST not set (run through ctest pg.store)"
    server.psql("postgres", "CREATE DATABASE seald_store")
    t0 = time.monotonic()
    out = subprocess.run([PROGRAM], capture_output=True, text=True,
                         timeout=240,
                         env=dict(os.environ,
                                  SEALD_PG_URL=server.url("seald_store")))
    took = time.monotonic() - t0
    print("server start %.1f s, C test %.1f s" % (server.startup_s, took))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SKIPPED" not in out.stdout + out.stderr, out.stdout + out.stderr
    seen = dict((int(m.group(1)), m.group(2)) for m in
                re.finditer(r"^HASH (\d+) ([0-9a-f]{64})$", out.stdout, re.M))
    # five from test_audit_chain, two from test_group_batch (a batch)
    assert len(seen) == 7, out.stdout
    rows = server.psql("seald_store",
                       "SELECT seq, encode(hash, 'hex') FROM audit_log "
                       "ORDER BY seq")
    stored = dict((int(a), b) for a, b in
                  (line.split("|") for line in rows.split()))
    assert stored == seen
    head = server.psql("seald_store", "SELECT seq, encode(hash, 'hex') "
                       "FROM audit_head WHERE id = 1").strip()
    assert head == "7|" + seen[7]
