"""The PostgreSQL migration series on a real, throw-away PostgreSQL.

A PostgreSQL 15 of the test's own: initdb into a temporary directory (as
an unprivileged user when the test runs as root: the server refuses to run
as root), listening only on a unix socket in that directory, stopped with
`pg_ctl stop -m immediate` at the end.  Nothing outside the temporary
directory is touched, and a PostgreSQL already running on the machine is
never seen (no TCP, its own socket directory).

Against it the test applies sql/postgresql/ in order, each step in one
transaction with its schema_version row (as store_migrate does), and checks
that:
  - the steps are the SQLite series' steps, file for file;
  - the schema equals what sql/sqlite/ leaves in a fresh SQLite database:
    tables, columns in order (types mapped, NOT NULL, defaults), keys,
    unique constraints, foreign keys, indexes, the number of CHECKs, the
    triggers, and the seeded audit_head row;
  - the data moves of 007 and 008 give the same rows as on SQLite;
  - the append-only rules refuse what SQLite's triggers refuse;
  - INSERT ... RETURNING id gives increasing ids;
  - every statement of src/store/db_stmt.c prepares as written.
The store itself on PostgreSQL (the dialect src/store/db_pg.c) is
test_pg_store.py (ctest pg.store); the server is pgserver.py.
"""
import glob
import os
import re
import sqlite3
import time

import pytest

import pgserver

try:
    import psycopg2
except ImportError:  # pragma: no cover - the message is the point
    psycopg2 = None

SOURCE_DIR = os.path.abspath(os.environ.get("SEALD_SOURCE_DIR", os.path.join(
    os.path.dirname(__file__), "..", "..")))
PG_SERIES = os.path.join(SOURCE_DIR, "sql", "postgresql")
SQLITE_SERIES = os.path.join(SOURCE_DIR, "sql", "sqlite")
STMT_C = os.path.join(SOURCE_DIR, "src", "store", "db_stmt.c")
STMT_H = os.path.join(SOURCE_DIR, "src", "store", "db_stmt.h")
SUPERUSER = pgserver.SUPERUSER

# 0/1 flags: INTEGER with CHECK (x IN (0, 1)) on PostgreSQL (the code reads
# them as numbers); schema_version.version is INTEGER in DB_SCHEMA_CREATE.
# Every other SQLite INTEGER is a BIGINT.
INTEGER_COLUMNS = {
    ("organisations", "disabled"), ("accounts", "disabled"),
    ("credentials", "initial"), ("signatures", "token_checked"),
    ("signatures", "token_suspect"), ("schema_version", "version"),
}
FLAG_COLUMNS = INTEGER_COLUMNS - {("schema_version", "version")}
# SQLite INTEGER PRIMARY KEYs whose values are written, not assigned: the
# code writes audit_log.seq and schema_version.version, 008 writes the one
# audit_head row; 015 the one event_head row, whose seq the code writes
# into events.seq (commit order: design.md, "Events and deliveries").
# Every other one is an identity on PostgreSQL.
EXPLICIT_KEYS = {("audit_log", "seq"), ("audit_head", "id"),
                 ("schema_version", "version"), ("event_head", "id"),
                 ("events", "seq")}


# ---- the statement table, read from db_stmt.c ----

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<comment>/\*.*?\*/|//[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>[0-9]+)
  | (?P<char>'(?:[^'\\\n]|\\.)*')
  | (?P<punct>[^\sA-Za-z0-9_"'])
""", re.S | re.X)
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}


def _tokens(text):
    """C tokens as (kind, value) pairs; strings decoded."""
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ValueError("db_stmt.c: cannot read %r" % text[pos:pos + 40])
        pos = m.end()
        kind = m.lastgroup
        if kind in ("ws", "comment"):
            continue
        value = m.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", lambda e: _ESCAPES[e.group(1)],
                           value[1:-1])
        out.append((kind, value))
    return out


def _expand(tokens, macros, depth=0):
    """The tokens with macros expanded; only string literals may remain."""
    if depth > 8:
        raise ValueError("db_stmt.c: macros nest too deep")
    out, i = [], 0
    while i < len(tokens):
        kind, value = tokens[i]
        i += 1
        if kind == "string":
            out.append(value)
            continue
        if kind != "ident" or value not in macros:
            raise ValueError("db_stmt.c: unexpected %s %r in a statement"
                             % (kind, value))
        params, body = macros[value]
        if params is not None:
            if tokens[i] != ("punct", "("):
                raise ValueError("db_stmt.c: %s needs arguments" % value)
            args, arg, level = [], [], 0
            i += 1
            while True:
                tok = tokens[i]
                i += 1
                if tok == ("punct", ")") and level == 0:
                    args.append(arg)
                    break
                if tok == ("punct", ",") and level == 0:
                    args.append(arg)
                    arg = []
                    continue
                level += {"(": 1, ")": -1}.get(tok[1], 0) \
                    if tok[0] == "punct" else 0
                arg.append(tok)
            if len(args) != len(params):
                raise ValueError("db_stmt.c: %s takes %d arguments"
                                 % (value, len(params)))
            bound = dict(zip(params, args))
            body = [t for tok in body
                    for t in (bound.get(tok[1], [tok]) if tok[0] == "ident"
                              else [tok])]
        out.extend(_expand(body, macros, depth + 1))
    return out


def statement_table():
    """{id name: SQL text} from db_stmt.c: string literals concatenated,
    the column-list macros and SCOPE_CTE expanded."""
    with open(STMT_C, encoding="utf-8") as f:
        lines = f.read().replace("\\\n", " ").split("\n")
    macros, code = {}, []
    for line in lines:
        m = re.match(r"\s*#\s*define\s+(\w+)(\(([^)]*)\))?\s*(.*)$", line)
        if m:
            params = None if m.group(2) is None else \
                [p.strip() for p in m.group(3).split(",") if p.strip()]
            macros[m.group(1)] = (params, _tokens(m.group(4)))
        elif not re.match(r"\s*#", line):
            code.append(line)
    toks = _tokens("\n".join(code))
    start = next(i for i, t in enumerate(toks) if t == ("ident", "stmt_text"))
    i = next(j for j in range(start, len(toks)) if toks[j] == ("punct", "{"))
    i += 1
    table = {}
    while toks[i] != ("punct", "}"):
        if toks[i] != ("punct", "[") or toks[i + 2] != ("punct", "]") or \
                toks[i + 3] != ("punct", "="):
            raise ValueError("db_stmt.c: unexpected %r in stmt_text"
                             % (toks[i],))
        name = toks[i + 1][1]
        i += 4
        expr = []
        while toks[i] not in (("punct", ","), ("punct", "}")):
            expr.append(toks[i])
            i += 1
        if toks[i] == ("punct", ","):
            i += 1
        if name in table:
            raise ValueError("db_stmt.c: %s twice" % name)
        table[name] = "".join(_expand(expr, macros))
    return table


def statement_ids():
    """The ids of enum db_stmt_id (db_stmt.h), before DB_STMT__COUNT."""
    with open(STMT_H, encoding="utf-8") as f:
        body = re.search(r"enum db_stmt_id\s*\{(.*?)\}", f.read(), re.S)
    names = [v for k, v in _tokens(body.group(1)) if k == "ident"]
    return names[:names.index("DB_STMT__COUNT")]


def pg_text(sql):
    """A statement as the PostgreSQL dialect will run it: {ids $N} as a
    set of the bigint array bound to $N, {explicit ids} (seald migrate's
    copy writes the ids) as OVERRIDING SYSTEM VALUE."""
    out = re.sub(r"\{ids (\$[0-9]+)\}", r"(SELECT unnest(\1::bigint[]))", sql)
    out = out.replace("{explicit ids}", "OVERRIDING SYSTEM VALUE")
    assert "{" not in out, sql
    return out


def sqlite_text(sql):
    """The same for SQLite, as db_sqlite.c rewrites it."""
    sql = re.sub(r"\{ids \$([0-9]+)\}",
                 r"(SELECT value FROM json_each(?\1))", sql)
    sql = sql.replace("{explicit ids}", "")
    return re.sub(r"\$([0-9]+)", r"?\1", sql)


STMTS = statement_table()


# ---- the server: tests/pg/pgserver.py ----

class Server(pgserver.Server):
    """The shared throw-away server, connected to with psycopg2."""

    def __init__(self):
        if psycopg2 is None:
            pytest.fail("python3-psycopg2 is missing: run scripts/deps --test")
        super().__init__()

    def connect(self, dbname="postgres", autocommit=False):
        conn = psycopg2.connect(host=self.dir, port=self.port,
                                user=SUPERUSER, dbname=dbname)
        conn.autocommit = autocommit
        return conn

    def create_database(self, name):
        conn = self.connect(autocommit=True)
        try:
            conn.cursor().execute("CREATE DATABASE %s" % name)
        finally:
            conn.close()
        return self.connect(name)


def series(directory):
    return sorted(glob.glob(os.path.join(directory, "[0-9][0-9][0-9]_*.sql")))


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def pg_migrate(conn, upto=None, start=0):
    """Apply sql/postgresql/ steps start+1..upto as store_migrate does:
    schema_version as DB_SCHEMA_CREATE makes it, each step in one
    transaction with its DB_SCHEMA_INSERT row."""
    cur = conn.cursor()
    cur.execute(STMTS["DB_SCHEMA_CREATE"])
    cur.execute("PREPARE schema_insert AS " + STMTS["DB_SCHEMA_INSERT"])
    conn.commit()
    for path in series(PG_SERIES):
        name = os.path.basename(path)
        version = int(name[:3])
        if version <= start or (upto is not None and version > upto):
            continue
        try:
            cur.execute(read(path))
            cur.execute("EXECUTE schema_insert (%s, %s, %s)",
                        (version, name, int(time.time() * 1000)))
            conn.commit()
        except psycopg2.Error as e:
            conn.rollback()
            pytest.fail("sql/postgresql/%s: %s" % (name, e))
    cur.execute("DEALLOCATE schema_insert")
    conn.commit()


def sqlite_migrate(db, upto=None, start=0):
    db.execute(STMTS["DB_SCHEMA_CREATE"])
    for path in series(SQLITE_SERIES):
        name = os.path.basename(path)
        version = int(name[:3])
        if version <= start or (upto is not None and version > upto):
            continue
        db.executescript("BEGIN;\n" + read(path) + "\nCOMMIT;")
        db.execute(sqlite_text(STMTS["DB_SCHEMA_INSERT"]),
                   (version, name, int(time.time() * 1000)))
        db.commit()


@pytest.fixture(scope="module")
def server():
    s = Server()
    try:
        s.start()
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def pg(server):
    """The whole series applied to a fresh database."""
    conn = server.create_database("seald_schema")
    pg_migrate(conn)
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def lite():
    db = sqlite3.connect(":memory:", isolation_level=None)
    sqlite_migrate(db)
    yield db
    db.close()


# ---- what each schema is ----

def sqlite_schema(db):
    """{table: {...}} for every table: columns, keys, indexes, checks."""
    tables = {}
    for name, sql in db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%'"):
        cols = db.execute("PRAGMA table_info(%s)" % name).fetchall()
        pk = [c[1] for c in sorted((c for c in cols if c[5]),
                                   key=lambda c: c[5])]
        t = {
            "columns": [c[1] for c in cols],
            "types": {c[1]: c[2].upper() for c in cols},
            "notnull": {c[1]: bool(c[3] or c[5]) for c in cols},
            "default": {c[1]: c[4] for c in cols},
            "pk": tuple(pk),
            "unique": set(), "indexes": {}, "fks": set(),
            "checks": len(re.findall(r"\bCHECK\s*\(", sql, re.I)),
            "triggers": set(r[0] for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = ?", (name,))),
        }
        for _, iname, unique, origin, _ in db.execute(
                "PRAGMA index_list(%s)" % name):
            icols = tuple(r[2] for r in db.execute(
                "PRAGMA index_info(%s)" % iname))
            if origin == "u":
                t["unique"].add(icols)
            elif origin == "c":
                t["indexes"][iname] = (icols, bool(unique))
        fks = {}
        for fk in db.execute("PRAGMA foreign_key_list(%s)" % name):
            fks.setdefault(fk[0], []).append((fk[3], fk[2], fk[4]))
        for parts in fks.values():
            t["fks"].add((tuple(p[0] for p in parts), parts[0][1],
                          tuple(p[2] for p in parts)))
        tables[name] = t
    return tables


def pg_rows(conn, sql, args=()):
    cur = conn.cursor()
    cur.execute(sql, args)
    rows = cur.fetchall()
    conn.rollback()
    return rows


def pg_schema(conn):
    tables = {}
    for (name,) in pg_rows(conn, "SELECT tablename FROM pg_tables "
                           "WHERE schemaname = 'public'"):
        cols = pg_rows(conn, """
            SELECT column_name, data_type, is_nullable, column_default,
                   is_identity, identity_generation
              FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name = %s
             ORDER BY ordinal_position""", (name,))
        t = {
            "columns": [c[0] for c in cols],
            "types": {c[0]: c[1] for c in cols},
            "notnull": {c[0]: c[2] == "NO" for c in cols},
            "default": {c[0]: c[3] for c in cols},
            "identity": {c[0]: (c[4], c[5]) for c in cols},
            "pk": (), "unique": set(), "indexes": {}, "fks": set(),
            "checks": 0, "triggers": set(),
        }
        for contype, keys, ftable, fkeys in pg_rows(conn, """
            SELECT c.contype,
                   ARRAY(SELECT a.attname FROM unnest(c.conkey)
                         WITH ORDINALITY k(n, o) JOIN pg_attribute a
                         ON a.attrelid = c.conrelid AND a.attnum = k.n
                         ORDER BY k.o),
                   f.relname,
                   ARRAY(SELECT a.attname FROM unnest(c.confkey)
                         WITH ORDINALITY k(n, o) JOIN pg_attribute a
                         ON a.attrelid = c.confrelid AND a.attnum = k.n
                         ORDER BY k.o)
              FROM pg_constraint c LEFT JOIN pg_class f ON f.oid = c.confrelid
             WHERE c.conrelid = %s::regclass""", (name,)):
            if contype == "p":
                t["pk"] = tuple(keys)
            elif contype == "u":
                t["unique"].add(tuple(keys))
            elif contype == "f":
                t["fks"].add((tuple(keys), ftable, tuple(fkeys)))
            elif contype == "c":
                t["checks"] += 1
        for iname, unique, icols in pg_rows(conn, """
            SELECT i.relname, x.indisunique,
                   ARRAY(SELECT a.attname FROM unnest(x.indkey::int2[])
                         WITH ORDINALITY k(n, o) JOIN pg_attribute a
                         ON a.attrelid = x.indrelid AND a.attnum = k.n
                         ORDER BY k.o)
              FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
             WHERE x.indrelid = %s::regclass AND NOT EXISTS
                   (SELECT 1 FROM pg_constraint c
                     WHERE c.conindid = x.indexrelid)""", (name,)):
            t["indexes"][iname] = (tuple(icols), unique)
        t["triggers"] = set(r[0] for r in pg_rows(conn, """
            SELECT tgname FROM pg_trigger
             WHERE tgrelid = %s::regclass AND NOT tgisinternal""", (name,)))
        tables[name] = t
    return tables


def _pg_default(value):
    """A PostgreSQL column default as SQLite prints it: '0', "'pending'"."""
    if value is None:
        return None
    return re.sub(r"::(text|bigint|integer)$", "", value)


# ---- the tests ----

def test_same_steps_as_sqlite():
    pg_names = [os.path.basename(p) for p in series(PG_SERIES)]
    lite_names = [os.path.basename(p) for p in series(SQLITE_SERIES)]
    assert pg_names == lite_names
    for path in series(PG_SERIES):
        text = read(path)
        assert text.startswith("-- " + os.path.basename(path) + ":"), path
        assert "dialect: SQLite" not in text, path
        if "CREATE TRIGGER" in text or "CREATE FUNCTION" in text:
            assert "-- dialect: PostgreSQL" in text, path


def test_schema_matches_sqlite(pg, lite):
    want, have = sqlite_schema(lite), pg_schema(pg)
    assert sorted(have) == sorted(want)
    for name in sorted(want):
        w, h = want[name], have[name]
        assert h["columns"] == w["columns"], name
        for col in w["columns"]:
            where = "%s.%s" % (name, col)
            lite_type = w["types"][col]
            if lite_type == "INTEGER" and (name, col) in INTEGER_COLUMNS:
                expect = "integer"
            else:
                expect = {"INTEGER": "bigint", "BIGINT": "bigint",
                          "TEXT": "text", "BLOB": "bytea"}[lite_type]
            assert h["types"][col] == expect, where
            assert h["notnull"][col] == w["notnull"][col], where
            assert _pg_default(h["default"][col]) == w["default"][col], where
            # an INTEGER PRIMARY KEY is SQLite's identity: an identity here
            # unless the code (or 008) writes its values
            rowid = w["pk"] == (col,) and lite_type == "INTEGER"
            if rowid and (name, col) not in EXPLICIT_KEYS:
                assert h["identity"][col] == ("YES", "ALWAYS"), where
            else:
                assert h["identity"][col][0] == "NO", where
        assert h["pk"] == w["pk"], name
        assert h["unique"] == w["unique"], name
        assert h["fks"] == w["fks"], name
        assert h["indexes"] == w["indexes"], name
        flags = sum(1 for t, _ in FLAG_COLUMNS if t == name)
        assert h["checks"] == w["checks"] + flags, name
        # the same rules, and TRUNCATE refused where DELETE is
        assert w["triggers"] <= h["triggers"], name
        extra = h["triggers"] - w["triggers"]
        assert extra == ({name + "_no_truncate"}
                         if name + "_no_delete" in w["triggers"] else set()), \
            name
    assert pg_rows(pg, "SELECT id, seq, hash FROM audit_head") == \
        lite.execute("SELECT id, seq, hash FROM audit_head").fetchall() == \
        [(1, 0, None)]
    assert pg_rows(pg, "SELECT version, name FROM schema_version "
                   "ORDER BY version") == \
        lite.execute("SELECT version, name FROM schema_version "
                     "ORDER BY version").fetchall()


def test_no_statement_inserts_an_identity(pg):
    """The code never writes a column the database assigns, but where a
    statement says it does: seald migrate's copy ({explicit ids}, and
    db_ids_follow then moves the identity past what it wrote)."""
    identity = set((t, c) for t, c in pg_rows(pg, """
        SELECT table_name, column_name FROM information_schema.columns
         WHERE table_schema = 'public' AND is_identity = 'YES'"""))
    for name, sql in STMTS.items():
        m = re.match(r"INSERT INTO (\w+) \(([^)]*)\)", sql)
        if m and "{explicit ids}" in sql:
            assert name.startswith("DB_COPY_"), name
        elif m:
            for col in m.group(2).split(","):
                assert (m.group(1), col.strip()) not in identity, name


def _refused(conn, sql, message, args=()):
    cur = conn.cursor()
    cur.execute("SAVEPOINT probe")
    try:
        cur.execute(sql, args)
    except psycopg2.Error as e:
        cur.execute("ROLLBACK TO SAVEPOINT probe")
        assert e.pgcode == "23000", (sql, e.pgcode, str(e))
        assert message in str(e), (sql, str(e))
        return
    pytest.fail("not refused: " + sql)


def _lite_refused(db, sql, message):
    with pytest.raises(sqlite3.IntegrityError, match=message):
        db.execute(sql)


AUDIT_ROW = ("INSERT INTO audit_log (seq, ts_ms, action, outcome, hash) "
             "VALUES (1, 1000, 'probe', 'ok', %s)")
CP_ROW = ("INSERT INTO audit_checkpoints (seq, head_hash, ts_ms, key_ref, "
          "public_key, signature) VALUES (1, %s, 1000, 'k', %s, %s)")


def test_append_only(pg, lite):
    cur = pg.cursor()
    h = psycopg2.Binary(b"\x01" * 32)
    cur.execute(AUDIT_ROW, (h,))
    cur.execute(CP_ROW, (h, h, h))
    for table in ("audit_log", "audit_checkpoints"):
        msg = table + " is append-only"
        _refused(pg, "UPDATE %s SET ts_ms = ts_ms + 1" % table, msg)
        _refused(pg, "DELETE FROM %s" % table, msg)
        _refused(pg, "DELETE FROM %s WHERE seq = 1" % table, msg)
        _refused(pg, "TRUNCATE %s" % table, msg)
    _refused(pg, "DELETE FROM audit_head", "audit_head is kept")
    _refused(pg, "TRUNCATE audit_head", "audit_head is kept")
    _refused(pg, "INSERT INTO audit_head (id, seq) VALUES (1, 5)",
             "audit_head has one row")
    # forward is how every append claims the head; backwards is refused
    cur.execute(STMTS["DB_AUDIT_HEAD_CLAIM"])
    assert cur.fetchall() == [(1, None)]
    _refused(pg, "UPDATE audit_head SET seq = seq - 1",
             "audit_head only moves forward")
    _refused(pg, "UPDATE audit_head SET id = 2",
             "audit_head only moves forward")
    cur.execute("UPDATE audit_head SET seq = seq WHERE id = 1")
    assert cur.rowcount == 1
    pg.rollback()

    # the SQLite series refuses the same (TRUNCATE aside: SQLite has none)
    lite.execute("BEGIN")
    lite.execute(AUDIT_ROW.replace("%s", "?"), (b"\x01" * 32,))
    lite.execute(CP_ROW.replace("%s", "?"), (b"\x01" * 32,) * 3)
    for table in ("audit_log", "audit_checkpoints"):
        _lite_refused(lite, "UPDATE %s SET ts_ms = ts_ms + 1" % table,
                      "append-only")
        _lite_refused(lite, "DELETE FROM %s" % table, "append-only")
    _lite_refused(lite, "DELETE FROM audit_head", "audit_head is kept")
    _lite_refused(lite, "INSERT INTO audit_head (id, seq) VALUES (1, 5)",
                  "one row")
    _lite_refused(lite, "UPDATE audit_head SET seq = seq - 1", "forward")
    lite.execute("ROLLBACK")


def test_insert_returning_ids_increase(pg):
    cur = pg.cursor()
    cur.execute("PREPARE org_insert AS " + STMTS["DB_ORG_INSERT"])
    ids = []
    for i in range(5):
        cur.execute("EXECUTE org_insert (NULL, %s, 'region', NULL, %s)",
                    ("org %d" % i, 1000 + i))
        ids.append(cur.fetchone()[0])
    assert ids == sorted(set(ids)) and ids[0] >= 1, ids
    # GENERATED ALWAYS: an id the code made up is refused
    cur.execute("SAVEPOINT probe")
    with pytest.raises(psycopg2.Error) as e:
        cur.execute("INSERT INTO organisations (id, name, kind, created_ms) "
                    "VALUES (%s, 'x', 'region', 0)", (ids[-1] + 1,))
    assert e.value.pgcode == "428C9", str(e.value)   # generated_always
    pg.rollback()


# Rows from before 007 and 008 for the data moves: one organisation and
# account, seals in each position the moves tell apart, their history, and
# an audit log whose newest entry is chained.
_BEFORE_007 = [
    ("INSERT INTO organisations (name, kind, created_ms) "
     "VALUES ('root', 'region', 1)", ()),
    ("INSERT INTO accounts (name, kind, display_name, org_id, created_ms) "
     "VALUES ('sec', 'person', 'Sec', 1, 1)", ()),
]
# seal: (state, [(from_state, to_state, actor_id)...]) -> hold, before loss
_SEALS = [
    ("active", [("made", "active", 1)], None, None),
    ("lost", [("active", "lost", 1)], None, "active"),
    ("lost", [("active", "suspended", None), ("suspended", "lost", 1)],
     "unused", "suspended"),
    ("lost", [], "secadmin", "suspended"),
    ("lost", [("made", "lost", 1)], "secadmin", "suspended"),
    ("suspended", [("active", "suspended", 1)], "secadmin", None),
    ("suspended", [("active", "suspended", None)], "unused", None),
    ("suspended", [("active", "suspended", None), ("suspended", "active", 1),
                   ("active", "suspended", 1)], "secadmin", None),
    ("suspended", [("active", "suspended", 1), ("suspended", "active", 1),
                   ("active", "suspended", None)], "unused", None),
    ("suspended", [], "secadmin", None),
    ("revoked", [("active", "suspended", None), ("suspended", "revoked", 1)],
     None, None),
]
for _n, (_state, _moves, _, _) in enumerate(_SEALS, 1):
    _BEFORE_007.append((
        "INSERT INTO seals (esid, lineage_esid, application_id, org_id, kind, "
        "name, custodian_id, state, state_since_ms, version) VALUES "
        "(%s, %s, 1, 1, 'official', 'seal', 1, %s, 1, 4)",
        ("E%d" % _n, "E%d" % _n, _state)))
    for _from, _to, _actor in _moves:
        _BEFORE_007.append((
            "INSERT INTO history (subject_type, subject_id, from_state, "
            "to_state, actor_id, ts_ms) VALUES ('seal', %s, %s, %s, %s, 1)",
            (_n, _from, _to, _actor)))
_HEAD_HASH = bytes(range(32))
_BEFORE_007 += [
    ("INSERT INTO audit_log (seq, ts_ms, action, outcome) "
     "VALUES (1, 1, 'a', 'ok')", ()),
    ("INSERT INTO audit_log (seq, ts_ms, action, outcome, hash) "
     "VALUES (2, 2, 'b', 'ok', %s)", (b"\xff" * 32,)),
    ("INSERT INTO audit_log (seq, ts_ms, action, outcome, hash) "
     "VALUES (3, 3, 'c', 'refused', %s)", (_HEAD_HASH,)),
]
_MOVED = ("SELECT id, state, hold, state_before_loss, change_required_ms "
          "FROM seals ORDER BY id")


def test_data_moves_match_sqlite(server):
    conn = server.create_database("seald_moves")
    lite = sqlite3.connect(":memory:", isolation_level=None)
    try:
        pg_migrate(conn, upto=6)
        sqlite_migrate(lite, upto=6)
        cur = conn.cursor()
        lite.execute("BEGIN")
        for sql, args in _BEFORE_007:
            cur.execute(sql, tuple(psycopg2.Binary(a) if isinstance(a, bytes)
                                   else a for a in args))
            lite.execute(sql.replace("%s", "?"), args)
        conn.commit()
        lite.execute("COMMIT")
        pg_migrate(conn, start=6)
        sqlite_migrate(lite, start=6)

        want = [(n, s[0], s[2], s[3], None) for n, s in enumerate(_SEALS, 1)]
        assert pg_rows(conn, _MOVED) == want
        assert lite.execute(_MOVED).fetchall() == want
        head = [(1, 3, _HEAD_HASH)]
        got = [(i, s, bytes(h)) for i, s, h in
               pg_rows(conn, "SELECT id, seq, hash FROM audit_head")]
        assert got == head
        assert lite.execute("SELECT id, seq, hash FROM audit_head")\
            .fetchall() == head
    finally:
        conn.close()
        lite.close()


def test_statement_table_read_whole():
    """The parser saw every id of db_stmt.h, each with text."""
    assert sorted(STMTS) == sorted(statement_ids())
    for name, sql in STMTS.items():
        assert re.match(r"(SELECT|INSERT|UPDATE|DELETE|WITH|CREATE) ", sql), \
            name


def test_every_statement_prepares(pg):
    """Each statement of the table, as written, on the migrated schema."""
    cur = pg.cursor()
    failed = []
    for i, name in enumerate(statement_ids()):
        sql = pg_text(STMTS[name])
        cur.execute("SAVEPOINT s")
        try:
            if sql.startswith("CREATE "):   # DB_SCHEMA_CREATE: runs as is
                cur.execute(sql)
            else:
                cur.execute("PREPARE s%d AS %s" % (i, sql))
                cur.execute("DEALLOCATE s%d" % i)
            cur.execute("RELEASE SAVEPOINT s")
        except psycopg2.Error as e:
            cur.execute("ROLLBACK TO SAVEPOINT s")
            failed.append("%s: %s\n    %s" % (name, str(e).strip(), sql))
    pg.rollback()
    assert not failed, "statements that do not prepare on PostgreSQL:\n" + \
        "\n".join(failed)
