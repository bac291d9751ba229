/*
 * db_stmt.h - the names of every statement the store runs.
 *
 * Each id names one entry of the statement table (db_stmt.c: the SQL text,
 * written once for every dialect) and one slot of each connection's
 * statement array (db_sqlite.c), so a statement is prepared once per
 * connection and never evicted.  Ids are grouped by the store file that
 * runs them; add a statement by adding its id here and its text in
 * db_stmt.c (unit.test_db checks that every id has text and prepares).
 */
#ifndef SEALD_DB_STMT_H
#define SEALD_DB_STMT_H

enum db_stmt_id {
    /* store.c: schema, organisations, accounts, roles, credentials */
    DB_SCHEMA_CREATE,
    DB_SCHEMA_VERSION,
    DB_SCHEMA_INSERT,
    DB_PING,
    /* store.c: organisations, accounts, roles */
    DB_ORG_INSERT,
    DB_ORG_GET,
    DB_ORG_LIST,
    DB_ORG_UPDATE,
    DB_ORG_SET_DISABLED,
    DB_ORG_DISABLED_WITHIN,
    DB_ORG_IN_SUBTREE,
    DB_ACCOUNT_INSERT,
    DB_ACCOUNT_GET,
    DB_ACCOUNT_BY_CERT,
    DB_ACCOUNT_LIST,
    DB_ACCOUNT_SET_DISABLED,
    DB_ACCOUNT_SET_HELD,
    DB_ROLE_INSERT,
    DB_ROLE_REMOVE,
    DB_ACCOUNT_ROLES,
    DB_ACCOUNT_ROLES_AHEAD,
    DB_ROLE_COUNT_IN_FORCE,
    DB_ROLE_COUNT,

    /* store.c: deputies, authentication failures, credentials */
    DB_DEPUTY_INSERT,
    DB_DEPUTY_GET,
    DB_DEPUTY_TRANSITION,
    DB_DEPUTY_LIST,
    DB_AUTHFAIL_UPSERT,
    DB_AUTHFAIL_LOCK,
    DB_AUTHFAIL_GET,
    DB_AUTHFAIL_LOCKED_UNTIL,
    DB_AUTHFAIL_CLEAR,
    DB_CREDENTIAL_INSERT,
    DB_CREDENTIAL_REVOKE,
    DB_CREDENTIAL_REVOKE_ALL,
    DB_CREDENTIAL_BY_KEY_ID,

    /* store_seal.c: applications, materials, seals, their history */
    DB_APP_INSERT,
    DB_APP_REPLACE,
    DB_APP_GET,
    DB_APP_IMAGE,
    DB_APP_TRANSITION,
    DB_APP_LIST,
    DB_MATERIAL_INSERT,
    DB_MATERIAL_LIST,
    DB_HISTORY_INSERT,
    DB_HISTORY_LIST,
    DB_AUTHORITY_PUT,
    DB_AUTHORITY_GET,
    DB_SEAL_INSERT,
    DB_SEAL_GET,
    DB_SEAL_GET_ID,
    DB_SEAL_BLOB,
    DB_SEAL_TRANSITION,
    DB_SEAL_FLAG_CHANGE,
    DB_SEAL_CONFIRMED,
    DB_SEAL_FILED,
    DB_SEAL_LIST,
    DB_SEAL_LIST_INACTIVE,
    DB_SEAL_LIST_ACTIVE_SUBTREE,
    DB_SEAL_LIST_LEGAL_NAME,
    DB_SEAL_LIST_STALE,
    DB_ESID_BUMP,
    DB_ESID_GET,
    DB_APP_SET_HOLDER_KEY,
    DB_APP_COPY,

    /* store_sign.c: grants, signing requests, documents, usage */
    DB_SREQ_INSERT,
    DB_SREQ_GET,
    DB_SREQ_TRANSITION,
    DB_SDOC_INSERT,
    DB_SDOC_LIST,
    DB_SDOC_GET,
    DB_SDOC_SET_DATA,
    DB_SDOC_TAKE,
    DB_SREQ_SIGNED,
    DB_SIG_INSERT,
    DB_SIG_MARK_SUSPECT,
    DB_SIG_FIND,
    DB_SIG_GET,
    DB_SIG_LIST,
    DB_USAGE_SUMMARY,
    DB_SEAL_TOUCH,

    /* store_audit.c: the audit log and its checkpoints */
    DB_AUDIT_HEAD,
    DB_AUDIT_HEAD_CLAIM,
    DB_AUDIT_HEAD_SET,
    DB_AUDIT_HEAD_ROW,
    DB_AUDIT_INSERT_CHAINED,
    DB_AUDIT_WALK,
    DB_AUDIT_QUERY,
    DB_AUDIT_CHECKPOINT_INSERT,
    DB_AUDIT_CHECKPOINT_LATEST,
    DB_AUDIT_CHECKPOINT_LIST,

    /* store_copy.c: seald migrate's copy, per table: every row in order
     * (READ), one row written as read (WRITE), the rows (COUNT); FIX sets
     * a reference to a later row of the same table once that row is in */
    DB_COPY_ORG_READ,
    DB_COPY_ORG_WRITE,
    DB_COPY_ORG_COUNT,
    DB_COPY_ACCOUNT_READ,
    DB_COPY_ACCOUNT_WRITE,
    DB_COPY_ACCOUNT_COUNT,
    DB_COPY_ROLE_READ,
    DB_COPY_ROLE_WRITE,
    DB_COPY_ROLE_COUNT,
    DB_COPY_DEPUTY_READ,
    DB_COPY_DEPUTY_WRITE,
    DB_COPY_DEPUTY_COUNT,
    DB_COPY_AUTHFAIL_READ,
    DB_COPY_AUTHFAIL_WRITE,
    DB_COPY_AUTHFAIL_COUNT,
    DB_COPY_CREDENTIAL_READ,
    DB_COPY_CREDENTIAL_WRITE,
    DB_COPY_CREDENTIAL_COUNT,
    DB_COPY_AUDIT_READ,
    DB_COPY_AUDIT_WRITE,
    DB_COPY_AUDIT_COUNT,
    DB_COPY_CHECKPOINT_READ,
    DB_COPY_CHECKPOINT_WRITE,
    DB_COPY_CHECKPOINT_COUNT,
    DB_COPY_HEAD_READ,
    DB_COPY_HEAD_WRITE,
    DB_COPY_HEAD_COUNT,
    DB_COPY_SEAL_READ,
    DB_COPY_SEAL_WRITE,
    DB_COPY_SEAL_COUNT,
    DB_COPY_APP_READ,
    DB_COPY_APP_WRITE,
    DB_COPY_APP_COUNT,
    DB_COPY_MATERIAL_READ,
    DB_COPY_MATERIAL_WRITE,
    DB_COPY_MATERIAL_COUNT,
    DB_COPY_HISTORY_READ,
    DB_COPY_HISTORY_WRITE,
    DB_COPY_HISTORY_COUNT,
    DB_COPY_AUTHORITY_READ,
    DB_COPY_AUTHORITY_WRITE,
    DB_COPY_AUTHORITY_COUNT,
    DB_COPY_ESID_READ,
    DB_COPY_ESID_WRITE,
    DB_COPY_ESID_COUNT,
    DB_COPY_SREQ_READ,
    DB_COPY_SREQ_WRITE,
    DB_COPY_SREQ_COUNT,
    DB_COPY_SDOC_READ,
    DB_COPY_SDOC_WRITE,
    DB_COPY_SDOC_COUNT,
    DB_COPY_SIG_READ,
    DB_COPY_SIG_WRITE,
    DB_COPY_SIG_COUNT,
    DB_COPY_ORG_FIX_PARENT,
    DB_COPY_ACCOUNT_FIX_CREATED_BY,
    DB_COPY_ACCOUNT_FIX_HELD_BY,
    DB_COPY_SEAL_FIX_PREDECESSOR,
    DB_COPY_SREQ_FIX_RESUBMITS,
    DB_COPY_SREQ_FIX_EXTRA_FOR,

    DB_STMT__COUNT
};

/* The portable text of statement id (db_stmt.c); never NULL for an id
 * below DB_STMT__COUNT. */
const char *db_stmt_text(enum db_stmt_id id);


#endif
