"""The revoked-seal set-up that the status and timestamp tests share: a
seal revoked through the loss flow (custodian reports it lost, reviewer
resolves it as revoked), and its revocation moved in the database to a
chosen time.

Moving is how these tests get "revoked before the signature" or "revoked
well after the timestamp": seald refuses to sign with a revoked seal, and
timeInfo and genTime have whole seconds, so waiting is not an option.  A
move rewrites both state changes (active -> lost -> revoked) in history
and the seal's state_since_ms, which is all the status code reads.
"""


def write_sql(inst, query, *params):
    """A change to the instance's database, committed, on either dialect;
    the number of rows it changed (RETURNING: SQLite 3.35 and PostgreSQL
    both have it)."""
    return len(inst.sql(query + " RETURNING 1", *params))


def revoke(w, esid):
    """Revoke the active seal esid of world w through the loss flow."""
    r = w.inst.post(f"/api/v1/seals/{esid}/loss", w.cred["custodian"],
                    json={"reason": "token stolen"})
    assert r.status_code == 200, r.text
    r = w.inst.post(f"/api/v1/seals/{esid}/loss/resolve", w.cred["reviewer"],
                    json={"outcome": "revoke", "reason": "not found"})
    assert r.json()["data"]["state"] == "revoked", r.text


def move_revocation(w, esid, at_ms=None, by_ms=None):
    """Move the revoked seal's loss and revocation to at_ms, or by_ms
    later (negative: earlier), in history and in the seal's
    state_since_ms."""
    assert (at_ms is None) != (by_ms is None)
    (seal_id,) = w.inst.sql("SELECT id FROM seals WHERE esid = ?", esid)[0]
    to = "?" if at_ms is not None else "ts_ms + ?"
    since = "?" if at_ms is not None else "state_since_ms + ?"
    v = at_ms if at_ms is not None else by_ms
    moved = write_sql(w.inst, f"UPDATE history SET ts_ms = {to} WHERE "
                      "subject_type = 'seal' AND subject_id = ? AND "
                      "to_state IN ('lost', 'revoked')", v, seal_id)
    assert moved == 2, moved               # active -> lost -> revoked
    assert write_sql(w.inst, f"UPDATE seals SET state_since_ms = {since} "
                     "WHERE id = ?", v, seal_id) == 1
