/*
 * db_stmt.c - the statement table: the SQL text of every statement the
 * store runs, by id (db_stmt.h), written once for every dialect.
 *
 * The text is portable SQL: parameters are $1, $2, ...; a NULL test on a
 * parameter casts it (CAST($3 AS TEXT) IS NULL) so no database is left
 * with an untyped parameter; new ids come back by RETURNING id, not by a
 * dialect's last-insert function; a set of ids bound by db_bind_id_set is
 * written {ids $N}, which the dialect turns into its own set expression
 * (db_sqlite.c: json_each).  Anything a dialect cannot take as written is
 * a bug in this table, not an exception in the dialect.
 */
#include <stddef.h>

#include "db_stmt.h"

/* The organisations in the subtrees of the ids bound as the set $1, walked
 * down with the depth bound of store_org_in_subtree (a corrupt cycle stays
 * finite): the common table "scope(id, depth)" that a reader-scoped list
 * filters on before its LIMIT.  Follows WITH RECURSIVE. */
#define SCOPE_CTE(set) \
    "scope(id, depth) AS (" \
    "  SELECT id, 0 FROM organisations WHERE id IN {ids " set "} " \
    "  UNION ALL " \
    "  SELECT o.id, scope.depth + 1 FROM organisations o " \
    "  JOIN scope ON o.parent_id = scope.id WHERE scope.depth < 64) "

static const char *const stmt_text[DB_STMT__COUNT] = {
    /* store.c */
    [DB_SCHEMA_CREATE] =
        "CREATE TABLE IF NOT EXISTS schema_version ("
        "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
        "applied_ms BIGINT NOT NULL)",
    [DB_SCHEMA_VERSION] =
        "SELECT coalesce(max(version), 0) FROM schema_version",
    [DB_SCHEMA_INSERT] =
        "INSERT INTO schema_version (version, name, applied_ms) "
        "VALUES ($1, $2, $3)",
    [DB_PING] = "SELECT count(*) FROM schema_version",

    /* store_seal.c */

    /* store_sign.c */

    /* store_audit.c */
};

const char *
db_stmt_text(enum db_stmt_id id)
{
    if ((unsigned)id >= DB_STMT__COUNT)
        return NULL;
    return stmt_text[id];
}
