"""Several seald nodes on one PostgreSQL database (issue 16, item 3).

One throw-away PostgreSQL (pgserver.py), one instance made by `seald init
--dir D --database URL`, and three daemons run on its one config, each with
its own --port and --log-file.  They share everything the config names: the
database, the server secret, the trust anchors and the development token's
directory (which the token re-reads when another process adds a key: see
src/devtoken/devtoken_store.c, dt_store_refresh_keys).  The cases:

  - the same approved request signed from all three nodes at once: exactly
    the granted signatures, the rest refused with the grant's error;
  - two seals signed from all three nodes at once: no deadlock;
  - a seal suspended, a credential rotated and an account locked on one
    node take effect on the others at once (docs/design.md, "Several nodes
    on one database");
  - the periodic jobs run once across the cluster, not once per node;
  - a node killed with SIGKILL while signing: every acknowledged signature
    is stored, the chain verifies, the other nodes go on;
  - the database restarted under load: 503 database_unavailable meanwhile,
    then every node serves again without being restarted.
After each, `seald audit verify --config D/seald.conf` checks the chain in
the database.
"""
import concurrent.futures
import os
import re
import signal
import sys
import threading
import time

import pytest

import pgserver

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "e2e"))
from conftest import CRED_RE, Instance, assert_error, run_seald  # noqa: E402
from test_accounts import rotate  # noqa: E402
from test_seals import Seals, b64  # noqa: E402

try:
    import psycopg2
except ImportError:  # pragma: no cover - the message is the point
    psycopg2 = None

# every node: no rate limit in the way of the load, a seal job every second
# (case e) and a checkpoint every 2 s when there are entries to cover
NODE_ARGS = ("--set", "security.rate_limit_rps=100000",
             "--set", "security.rate_limit_burst=100000",
             "--set", "seals.maintenance_seconds=1",
             "--set", "audit.checkpoint_seconds=2")


class Node(Instance):
    """One daemon of the cluster: the instance's directory and config,
    its own port and log file (Instance.start runs and checks it)."""

    def __init__(self, directory, name, admin_credential):
        # no Instance.__init__: the instance exists already (seald init)
        self.dir = str(directory)
        self.name = name
        self.admin_credential = admin_credential
        self.conf = os.path.join(self.dir, "seald.conf")
        self.cert = os.path.join(self.dir, "tls", "server.crt")
        self.log = os.path.join(self.dir, "node-%s.log" % name)
        self.proc = None
        self.port = None
        self.scheme = "https"

    def log_text(self):
        with open(self.log, encoding="utf-8", errors="replace") as f:
            return f.read()

    def node_id(self):
        """The node id the daemon logged when it last started."""
        return re.findall(r"listening.*node=([0-9a-f]+)", self.log_text())[-1]


class Cluster:
    """The database, the instance and its three nodes."""

    def __init__(self, server, directory):
        self.server = server
        server.psql("postgres", "CREATE DATABASE multinode")
        self.url = server.url("multinode")
        self.dir = str(directory)
        out = run_seald("init", "--dir", self.dir, "--database", self.url)
        assert out.returncode == 0, out.stdout + out.stderr
        m = CRED_RE.search(out.stdout)
        assert m, out.stdout
        self.nodes = [Node(self.dir, n, m.group(1)) for n in "abc"]
        for n in self.nodes:
            n.start(*NODE_ARGS)
        self.a, self.b, self.c = self.nodes
        # the world (org tree, one account per role, an active seal) is
        # made through node a; every node serves it
        self.w = Seals(self.a)
        self.esid = self.w.new_active_seal(seal_name="多节点测试章")

    def q(self, sql, *params):
        con = psycopg2.connect(self.url)
        try:
            with con, con.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else None
        finally:
            con.close()

    def audit_verify(self):
        out = run_seald("audit", "verify", "--config",
                        os.path.join(self.dir, "seald.conf"), timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr
        return out.stdout


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    assert psycopg2 is not None, "python3-psycopg2 missing (scripts/deps)"
    server = pgserver.Server()
    cl = None
    try:
        server.start()
        cl = Cluster(server, tmp_path_factory.mktemp("multinode") / "inst")
        yield cl
        for n in cl.nodes:
            if n.proc is not None:
                rc, _, err = n.stop()
                assert rc == 0, "node %s: %s" % (n.name, err)
    finally:
        if cl is not None:
            for n in cl.nodes:
                if n.proc is not None:
                    n.proc.kill()
                    n.proc.wait()
        server.stop()


def submit(cl, docs, copies, node=None, esid=None):
    node = node or cl.a
    r = node.post("/api/v1/sign-requests", cl.w.cred["requester"], json={
        "esid": esid or cl.esid, "title": "多节点用印", "purpose": "multinode test",
        "copies": copies, "documents": docs})
    assert r.status_code == 201, r.text
    rid = r.json()["data"]["id"]
    r = node.post(f"/api/v1/sign-requests/{rid}/approve",
                  cl.w.cred["approver"])
    assert r.status_code == 200, r.text
    return rid


def sign_once(node, cred, rid):
    """One sign call: ("signed", [signature ids]) / ("refused", [codes]) /
    ("status", http status) / ("down", exception name)."""
    try:
        r = node.post(f"/api/v1/sign-requests/{rid}/sign", cred, timeout=30)
    except Exception as ex:            # connection refused or reset
        return "down", type(ex).__name__
    if r.status_code != 200:
        code = None
        try:
            code = r.json()["error"]["code"]
        except ValueError:
            pass
        return "status", (r.status_code, code)
    res = r.json()["data"]["results"]
    ids = [x["signature_id"] for x in res if x["status"] == "signed"]
    codes = [x["error"]["code"] for x in res if x["status"] != "signed"]
    return ("signed", ids) if ids else ("refused", codes)


def test_grant_signed_from_three_nodes_at_once(cluster):
    """3 documents x 2 copies = 6 signatures granted; 45 sign calls at once,
    15 to each node, each trying every document."""
    cl = cluster
    rid = submit(cl, [{"name": "d%d.pdf" % i, "data": b64(b"doc %d" % i)}
                      for i in range(3)], copies=2)
    cred = cl.w.cred["custodian"]
    calls = [cl.nodes[i % 3] for i in range(45)]
    barrier = threading.Barrier(len(calls))

    def go(node):
        barrier.wait()
        r = node.post(f"/api/v1/sign-requests/{rid}/sign", cred, timeout=60)
        return node.name, r

    with concurrent.futures.ThreadPoolExecutor(len(calls)) as ex:
        answers = list(ex.map(go, calls))
    signed, refused, by_node = [], [], {}
    for name, r in answers:
        if r.status_code == 409:              # the request is used up
            assert_error(r, 409, "conflict")
            refused.append("conflict")
            continue
        assert r.status_code == 200, r.text
        for x in r.json()["data"]["results"]:
            if x["status"] == "signed":
                signed.append(x["signature_id"])
                by_node[name] = by_node.get(name, 0) + 1
            else:
                # the grant's error: the document's copies are used up
                assert x["error"]["code"] == "conflict", x
                refused.append(x["error"]["code"])
    print("grant race: %d signed (by node %s), %d refused of %d calls" %
          (len(signed), by_node, len(refused), len(calls)))
    assert len(signed) == 6 and len(set(signed)) == 6
    assert cl.q("SELECT count(*) FROM signatures WHERE request_id = %s",
                rid)[0][0] == 6
    assert [r[0] for r in cl.q("SELECT signatures FROM sign_documents "
                               "WHERE request_id = %s ORDER BY id", rid)] \
        == [2, 2, 2]
    assert refused
    cl.audit_verify()


def test_two_seals_from_three_nodes_no_deadlock(cluster):
    """Requests of two seals signed from every node at once.  Each group
    commit holds the audit chain's head from its first entry on; before
    every unit queued on the head first (audit_queue), a group waiting for
    a seal's row that another node's unit held while that unit waited for
    the head was a deadlock: PostgreSQL aborted one after a second, and its
    signatures failed with 503."""
    cl = cluster
    second = cl.w.new_active_seal(seal_name="第二多节点章")
    # 12 requests of 100 copies: more than 4 s of signing uses (about 600
    # with the group commit batched), so no grant runs out and every
    # refusal would be a deadlock's
    rids = [submit(cl, [{"name": "x%d.pdf" % i, "data": b64(b"x %d" % i)}],
                   copies=100, esid=cl.esid if i % 2 else second)
            for i in range(12)]
    stop, outcomes = threading.Event(), []
    cred = cl.w.cred["custodian"]

    def worker(k):
        i = k
        while not stop.is_set():
            node, rid = cl.nodes[i % 3], rids[(i // 3) % len(rids)]
            i += 1
            t0 = time.monotonic()
            outcomes.append((sign_once(node, cred, rid),
                             time.monotonic() - t0))
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(9)]
    for t in threads:
        t.start()
    time.sleep(4)
    stop.set()
    for t in threads:
        t.join()
    kinds = {}
    for (kind, v), _ in outcomes:
        key = kind if kind == "signed" else "%s %s" % (kind, v)
        kinds[key] = kinds.get(key, 0) + 1
    slowest = max(d for _, d in outcomes)
    with open(cl.server.log, encoding="utf-8", errors="replace") as f:
        deadlocks = f.read().count("deadlock detected")
    print("two seals, 9 clients, 4 s: %s, slowest call %.2f s, %d "
          "deadlocks" % (kinds, slowest, deadlocks))
    assert set(kinds) == {"signed"}, kinds
    assert deadlocks == 0
    cl.audit_verify()


def test_changes_on_one_node_seen_by_the_others_at_once(cluster):
    cl, w = cluster, cluster.w
    # a seal suspended on a: refused for signing on b and c at once, and
    # reported suspended by their status service
    esid = w.new_active_seal(seal_name="停用测试章")
    granted = submit(cl, [{"name": "g.pdf", "data": b64(b"granted")}],
                     copies=5, esid=esid)
    assert sign_once(cl.b, w.cred["custodian"], granted)[0] == "signed"
    for n in (cl.b, cl.c):
        r = n.get(f"/api/v1/seals/{esid}/status", w.cred["verifier"])
        assert r.json()["data"]["state"] == "active"
    r = cl.a.post(f"/api/v1/seals/{esid}/suspend", w.cred["secadmin"],
                  json={"reason": "multinode"})
    assert r.json()["data"]["state"] == "suspended", r.text
    for n in (cl.b, cl.c):
        r = n.get(f"/api/v1/seals/{esid}/status", w.cred["verifier"])
        assert r.json()["data"]["state"] == "suspended"
        r = n.post("/api/v1/sign-requests", w.cred["requester"], json={
            "esid": esid, "title": "t", "purpose": "p", "copies": 1,
            "documents": [{"name": "x.pdf", "data": b64(b"x")}]})
        assert r.status_code in (409, 422), r.text
        # nor signed under the approval it had before
        assert sign_once(n, w.cred["custodian"], granted) == \
            ("refused", ["conflict"])
    # a credential rotated on a: the old one is refused on b and c at once
    _, fresh = w.person("rotator", w.agency)
    for n in cl.nodes:
        assert n.get("/api/v1/whoami", fresh).status_code == 200
    newer = rotate(cl.a, fresh)
    for n in (cl.b, cl.c):
        assert_error(n.get("/api/v1/whoami", fresh), 401, "unauthenticated")
        assert n.get("/api/v1/whoami", newer).status_code == 200
    # an account locked by failed logins on a is locked on b and c at once
    # (security.lockout_threshold = 5 failures)
    bad = newer[:-4] + ("0000" if not newer.endswith("0000") else "1111")
    for _ in range(5):
        assert_error(cl.a.get("/api/v1/whoami", bad), 401, "unauthenticated")
    for n in cl.nodes:
        err = assert_error(n.get("/api/v1/whoami", newer), 401,
                           "unauthenticated")
        assert "locked" in err["message"], err


def test_periodic_jobs_run_once_across_the_cluster(cluster):
    """seals.maintenance_seconds = 1 and audit.checkpoint_seconds = 2 on
    every node: over a few seconds the seal job runs about once a second in
    all (not three times), and the checkpoints come one per period."""
    cl, w = cluster, cluster.w
    # an aged seal: exactly one automatic suspension, by whichever node
    aged = w.new_active_seal(seal_name="久未使用多节点章")
    year_ago = int(time.time() * 1000) - 400 * 86400 * 1000
    cl.q("UPDATE seals SET confirmed_ms = %s WHERE esid = %s", year_ago, aged)
    runs_re = re.compile(r"maintenance.*job=seals node=([0-9a-f]+)")
    before = [len(runs_re.findall(n.log_text())) for n in cl.nodes]
    rid = submit(cl, [{"name": "jobs.pdf", "data": b64(b"jobs")}], copies=100)
    cp_before = cl.q("SELECT count(*) FROM audit_checkpoints")[0][0]
    t0 = time.monotonic()
    while time.monotonic() - t0 < 6.5:
        # entries for the checkpoints to cover: a signature every 100 ms
        node = cl.nodes[int(time.monotonic() * 10) % 3]
        assert sign_once(node, w.cred["custodian"], rid)[0] == "signed"
        time.sleep(0.1)
    span = time.monotonic() - t0
    after = [len(runs_re.findall(n.log_text())) for n in cl.nodes]
    runs = sum(after) - sum(before)
    cps = cl.q("SELECT count(*) FROM audit_checkpoints")[0][0] - cp_before
    # (a job no node runs keeps its never-held row: the deliveries, with
    # no [destination] configured here)
    holders = cl.q("SELECT job, holder, until_ms FROM job_leases "
                   "WHERE holder <> '' ORDER BY job")
    print("jobs over %.1f s: seal job runs per node %s, checkpoints %d, "
          "leases %s" % (span, [x - y for x, y in zip(after, before)], cps,
                         holders))
    # once per period across the cluster: about span/1 s runs, where one
    # per node would be three times as many
    assert span - 2 <= runs <= span + 2, (runs, span)
    assert cps <= span / 2 + 2, (cps, span)
    assert 1 <= cps
    node_ids = set(re.findall(r"listening.*node=([0-9a-f]+)",
                              "".join(n.log_text() for n in cl.nodes)))
    assert {h for _, h, _ in holders} <= node_ids
    suspended = cl.q("SELECT count(*) FROM audit_log WHERE action = "
                     "'seal.auto_suspend' AND target_id = %s", aged)[0][0]
    assert suspended == 1
    cl.audit_verify()


class Grants:
    """Approved requests of 1 document x 100 copies (the most one may
    grant), used one after the other by a signing load."""

    def __init__(self, cl, n):
        self.rids = [submit(cl, [{"name": "load%d.pdf" % i,
                                  "data": b64(b"load %d" % i)}], copies=100)
                     for i in range(n)]
        self.i = 0
        self.lock = threading.Lock()

    def current(self):
        with self.lock:
            return self.rids[self.i]

    def used_up(self, rid):
        with self.lock:
            if self.rids[self.i] == rid and self.i + 1 < len(self.rids):
                self.i += 1

    def stored(self, cl):
        return {r[0] for r in cl.q("SELECT id FROM signatures WHERE "
                                   "request_id = ANY(%s)", self.rids)}


LOAD_WORKERS = 6


def load(cl, grants, nodes, stop, out):
    """Sign from the nodes, round robin, with LOAD_WORKERS threads until
    stop is set, appending (node name, time, outcome) to out; a request
    used up is replaced by the next of grants."""
    cred = cl.w.cred["custodian"]

    def worker(k):
        i = k
        while not stop.is_set():
            node = nodes[i % len(nodes)]
            i += 1
            rid = grants.current()
            res = sign_once(node, cred, rid)
            if res == ("refused", ["conflict"]):
                grants.used_up(rid)
                continue
            out.append((node.name, time.monotonic(), res))
    threads = [threading.Thread(target=worker, args=(k,))
               for k in range(LOAD_WORKERS)]
    for t in threads:
        t.start()
    return threads


def lease_holder(cl, job):
    return cl.q("SELECT holder FROM job_leases WHERE job = %s", job)[0][0]


def test_node_killed_while_signing(cluster):
    """The node killed is the one holding the periodic jobs' leases: the
    jobs move to another node once the dead node's period has run out."""
    cl = cluster
    grants = Grants(cl, 5)
    by_id = {n.node_id(): n for n in cl.nodes}
    victim = by_id[lease_holder(cl, "seals")]
    stop, out = threading.Event(), []
    threads = load(cl, grants, cl.nodes, stop, out)
    time.sleep(1.5)
    killed_at = time.monotonic()
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait()
    victim.proc = None
    # the seal job's lease runs out 1 s (its period) + 1 s after its last
    # renewal; then a live node takes it on its next turn
    takeover = None
    while time.monotonic() - killed_at < 6:
        holder = lease_holder(cl, "seals")
        if holder != victim.node_id():
            takeover = time.monotonic() - killed_at
            break
        time.sleep(0.05)
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()
    assert takeover is not None, "no node took the seal job over"
    assert by_id[holder] is not victim
    acked = [i for _, _, (kind, v) in out if kind == "signed" for i in v]
    after = [n for n, t, (kind, _) in out
             if kind == "signed" and t > killed_at + 0.2]
    others = {kind for n, _, (kind, _) in out if n != victim.name}
    print("SIGKILL of node %s (the jobs' holder): %d signatures "
          "acknowledged (%d by the others after the kill), outcomes on it "
          "%s; seal job taken over by %s after %.2f s" % (
              victim.name, len(acked), len(after),
              sorted({k for n, _, (k, _) in out if n == victim.name}),
              by_id[holder].name, takeover))
    assert others == {"signed"}, [o for o in out if o[0] != victim.name][:5]
    assert after and victim.name not in set(after)
    stored = grants.stored(cl)
    assert set(acked) <= stored
    # a signature the dead node committed but never acknowledged may be
    # stored: at most one per worker
    assert len(stored) - len(acked) <= LOAD_WORKERS
    cl.audit_verify()
    victim.start(*NODE_ARGS)    # back for the next case


def test_database_restarted_under_load(cluster):
    cl = cluster
    grants = Grants(cl, 5)
    stop, out = threading.Event(), []
    threads = load(cl, grants, cl.nodes, stop, out)
    time.sleep(1.0)
    t_stop = time.monotonic()
    cl.server.pg_stop("fast")
    down = time.monotonic()
    time.sleep(0.5)
    ready_down = {}
    for n in cl.nodes:
        r = n.get("/readyz")
        ready_down[n.name] = r.status_code
        assert_error(r, 503, "database_unavailable")
    time.sleep(1.0)
    cl.server.pg_start()
    up = time.monotonic()
    # every node serves again, none restarted
    recovered = {}
    deadline = up + 20
    for n in cl.nodes:
        while True:
            r = n.get("/readyz")
            if r.status_code == 200:
                recovered[n.name] = time.monotonic() - up
                break
            assert time.monotonic() < deadline, r.text
            time.sleep(0.05)
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join()
    for n in cl.nodes:
        assert n.proc.poll() is None
        assert n.get("/api/v1/whoami",
                     cl.w.cred["custodian"]).status_code == 200
    between = [(kind, v) for _, t, (kind, v) in out
               if down + 0.2 < t < up - 0.2]
    late = [kind for _, t, (kind, _) in out
            if t > up + max(recovered.values()) + 0.3]
    kinds = {}
    for _, _, (kind, v) in out:
        key = kind if kind == "signed" else "%s %s" % (kind, v)
        kinds[key] = kinds.get(key, 0) + 1
    print("DB restart: stop took %.2f s, down %.2f s; outcomes %s; nodes "
          "ready again %s s after the start" % (
              down - t_stop, up - down, kinds,
              {k: round(v, 2) for k, v in recovered.items()}))
    # in between: refused cleanly, 503 database_unavailable (or, for a
    # document of a batch, its result refused with that code)
    assert between
    assert {(k, tuple(v)) for k, v in between} <= {
        ("status", (503, "database_unavailable")),
        ("refused", ("database_unavailable",))}
    # afterwards: signing again on every node
    assert late and set(late) == {"signed"}
    acked = [i for _, _, (kind, v) in out if kind == "signed" for i in v]
    assert set(acked) <= grants.stored(cl)
    cl.audit_verify()
