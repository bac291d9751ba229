/*
 * audit.h - the one audit entry point, the tamper-evident hash chain over
 * it, signed checkpoints and the verifier.  Every accepted state change and every
 * refused attempt is recorded through audit_append(), nowhere else.
 *
 * For a state change, call it inside the transaction that makes the change,
 * so the change and its record commit together (if the audit write fails, the
 * change fails: fail closed).  For a refusal, call it with no transaction
 * open: the record then commits on its own.  A refusal of an
 * unauthenticated caller goes through audit_refusal_count() instead, which
 * counts it and has it written, summarised, through audit_append().
 */
#ifndef SEALD_AUDIT_H
#define SEALD_AUDIT_H

#include <stdint.h>

#include <jansson.h>

#include "auth.h"
#include "csv.h"
#include "err.h"
#include "rbac.h"
#include "store_types.h"

#define AUDIT_OK      "ok"
#define AUDIT_REFUSED "refused"
#define AUDIT_FAILED  "failed"

/* Who did it and from where: filled by the HTTP layer for each request, or
 * by a CLI command for local actions (client_addr "local").
 *
 * The role recorded is `role` when it is set (seald itself: "system", the
 * local command line: "operator"); otherwise audit_append() works it out
 * from the principal and the permission the route required: the
 * principal's role that carries it, a granted one before one held through
 * a deputy period ("deputy:<role>"), "self" for routes any account may
 * call.  NULL when nobody was authenticated or the principal holds no
 * role with the permission. */
struct audit_actor {
    int64_t     account_id;     /* 0: unauthenticated */
    /* The portal (a system account) the person account_id acted through
     * with their identity token (X-Seald-Person-Token); 0: none.  The
     * role is the person's, never the portal's. */
    int64_t     via_account_id;
    const char *role;           /* role acted in, or NULL: see above */
    const char *client_addr;
    const char *request_id;
    const struct auth_principal *principal;  /* authenticated, or NULL */
    enum rbac_perm               perm;       /* the route's permission */
};

struct audit_event {
    const char *action;         /* e.g. "account.create", "auth.authenticate" */
    const char *target_type;    /* seal, application, request, account, ...  */
    const char *target_id;
    const char *outcome;        /* AUDIT_OK, AUDIT_REFUSED, AUDIT_FAILED      */
    const char *reason;         /* why refused/failed; NULL when ok           */
    const json_t *details;      /* small JSON object or NULL (borrowed)       */
};

/* Append one record as the next link of the hash chain.  Inside an open
 * transaction it appends there (and the caller commits or rolls back); with
 * no transaction open it takes the write lock itself (BEGIN IMMEDIATE),
 * appends and commits.  Fails (and the caller must roll back) if it cannot
 * be written.  It never signs: when the checkpointer runs
 * (audit_checkpointer_start) and a checkpoint is due, it only wakes the
 * checkpointer, which signs the committed head outside any transaction. */
err_code audit_append(struct store_conn *c, const struct audit_actor *who,
                      const struct audit_event *ev, struct err *e);

/* Queue the caller's transaction on the chain's head before it does
 * anything else (unit.c, at the start of every unit): the head row is
 * locked until the transaction ends, as its appends would lock it anyway.
 * With row locks (PostgreSQL) a transaction that locked other rows first
 * and then waited for the head could deadlock with one holding the head
 * and waiting for those rows (a group commit holds the head from its first
 * entry on); taking the head first leaves one order, and every unit then
 * reads what the units before it committed, on whichever node.  On SQLite
 * the write lock serialises already, and the row's page is written by the
 * append anyway. */
err_code audit_queue(struct store_conn *c, struct err *e);

/* ---- refusals of unauthenticated requests (docs/design.md, "Refusals
 * and the audit") ----
 *
 * Anyone who can reach the port can make seald refuse requests as fast as
 * the network carries them.  One durable row each would let an anonymous
 * caller buy an fsync per packet on the database every signature commits
 * to; instead they are counted in memory, per (client address, action,
 * reason), and written as summary rows through audit_append() once per
 * window: count, first and last time, one sample request id and path.  The
 * table is bounded: beyond AUDIT_REFUSAL_SOURCES_MAX keys in one window,
 * the rest is folded into one "other sources" row.  Refusals of an
 * authenticated caller are not summarised: they keep one row each. */
#define AUDIT_REFUSAL_SOURCES_MAX      256  /* summary rows per window, + 1 */
#define AUDIT_REFUSAL_OTHER_ADDR       "other"
#define AUDIT_REFUSAL_OTHER_ACTION     "http.refusals"

/* Count one refused attempt by an unauthenticated caller (who's
 * client_addr, request_id; ev's action, target and reason; all copied,
 * long strings cut).  Never touches the database and cannot fail. */
void audit_refusal_count(const struct audit_actor *who,
                         const struct audit_event *ev);

/* Write what has been counted since the last flush as summary rows
 * (outcome "refused", account none, details {"count", "first_ms",
 * "last_ms"}), all in one transaction, and start a new window.  Must be
 * called with no transaction open.  If the rows cannot be written the
 * counts are kept for the next flush and the error returned.  *rows (may
 * be NULL) gets the number of rows written.  Called by the maintenance
 * thread every audit.refusal_window_seconds, before a forced checkpoint,
 * and once more at shutdown after the listener has stopped. */
err_code audit_refusals_flush(struct store_conn *c, int *rows,
                              struct err *e);

/* ---- the chain (docs/design.md, "Audit chain") ----
 *
 * Canonical encoding of an entry, enc(entry), all integers big-endian:
 *   u8  version = 1
 *   i64 seq, i64 ts_ms, i64 account_id (0 when none)
 *   str role, client_addr, request_id, action, target_type, target_id,
 *       outcome, reason, details          (in this order)
 * and, for an entry with a via (a portal acting for a person, migration
 * 014), version = 2 and after details an i64 via_account_id.  Every entry
 * without a via keeps version 1, so chains older than 014 verify as they
 * did.
 * where str is u32 0xFFFFFFFF for SQL NULL, else u32 length || the bytes
 * as stored.  hash(seq 1) = SM3(32 zero bytes || enc(entry 1)), and
 * hash(seq n) = SM3(hash(seq n-1) || enc(entry n)).  seq runs 1, 2, 3...
 * without gaps.
 *
 * A checkpoint signs, with the audit key (config keys.audit) through the
 * token, the message
 *   "SEALD-AUDIT-CHECKPOINT-1" (24 bytes) || i64 seq || hash(seq) || i64 ts_ms
 * as SM2 with the default ID (e = SM3(Z || M)).
 */
#define AUDIT_HASH_LEN                   STORE_AUDIT_HASH_LEN
#define AUDIT_CHECKPOINT_EVERY_DEFAULT   1000   /* entries */
#define AUDIT_CHECKPOINT_SECONDS_DEFAULT 300
#define AUDIT_CHECKPOINT_TAG             "SEALD-AUDIT-CHECKPOINT-1"
#define AUDIT_CHECKPOINT_MSG_LEN         (24 + 8 + AUDIT_HASH_LEN + 8)
#define AUDIT_CHECKPOINT_FORMAT          "seald-audit-checkpoint-1"
#define AUDIT_PUBKEY_MAX                 STORE_AUDIT_PUBKEY_MAX
/* What the verifier allows the newest entries without a checkpoint, beyond
 * the configured interval: the checkpointer's tick, a token signature and
 * a wait for the write lock (grace), and the entries other threads append
 * while it signs (slack).  docs/design.md, "Audit chain". */
#define AUDIT_CHECKPOINT_GRACE_MS        10000
#define AUDIT_CHECKPOINT_SLACK_ENTRIES   1000
/* Limits on a sink file read back by the verifier. */
#define AUDIT_SINK_LINES_MAX             2000000
#define AUDIT_SINK_LINE_MAX              16384

struct custody;

/* hash = SM3(prev || enc(en)); en->hash is ignored. */
err_code audit_entry_hash(const uint8_t prev[AUDIT_HASH_LEN],
                          const struct store_audit_entry *en,
                          uint8_t out[AUDIT_HASH_LEN], struct err *e);

/* The message a checkpoint signs (AUDIT_CHECKPOINT_MSG_LEN bytes). */
void audit_checkpoint_message(int64_t seq, const uint8_t hash[AUDIT_HASH_LEN],
                              int64_t ts_ms,
                              uint8_t out[AUDIT_CHECKPOINT_MSG_LEN]);

/* ---- sinks: checkpoints leave the machine as they are made ----
 * Each checkpoint, once committed, is written as one line of
 * audit_checkpoint_json (compact) to every configured sink.  NULL or ""
 * turns a sink off; the strings are borrowed. */
struct audit_sink {
    const char *file;     /* appended, one JSON line each, fsync'ed        */
    const char *syslog;   /* a syslog datagram socket, e.g. /dev/log       */
};

/* Send cp to every configured sink.  Tries each; returns the first error
 * (the checkpoint itself is already committed). */
err_code audit_sink_export(const struct audit_sink *sink,
                           const struct store_audit_checkpoint *cp,
                           struct err *e);

/* ---- automatic checkpoints ----
 * One checkpointer per process, a thread with its own connection.  At
 * start it verifies the whole chain as audit_verify does (pinned to the
 * token's audit key, with the sink file); only if that passes does it sign
 * anything.  It then signs the committed head whenever `every` entries or
 * `seconds` have passed since the last checkpoint (woken by audit_append,
 * and once a second), each time first re-walking the entries since the
 * head it last signed, so it never signs a chain it has not checked.
 * Signing happens outside any transaction; the checkpoint is inserted in
 * a short transaction of its own, then sent to the sinks.  Stopping signs
 * the last entries.  The strings and cust are borrowed and must outlive
 * audit_checkpointer_stop(). */
struct audit_checkpointer_conf {
    struct custody   *cust;
    const char       *key_ref;      /* keys.audit, "token/hexid"        */
    long              every, seconds;
    int64_t           prechain;     /* audit.prechain_entries           */
    struct audit_sink sink;
};

err_code audit_checkpointer_start(struct store *s,
                                  const struct audit_checkpointer_conf *conf,
                                  struct err *e);
void audit_checkpointer_stop(void);

/* Force a checkpoint now: append an "audit.checkpoint" record by `who`
 * (committed on its own), sign the chain head at that record with key_ref
 * outside any transaction, insert the checkpoint and send it to sink (may
 * be NULL).  A forced checkpoint vouches for the log as it stands: an
 * automatic checkpointer in this process resumes from it.  *out (may be
 * NULL) gets the checkpoint.  Must be called with no transaction open. */
err_code audit_checkpoint(struct store_conn *c, struct custody *cust,
                          const char *key_ref, const struct audit_sink *sink,
                          const struct audit_actor *who,
                          struct store_audit_checkpoint *out, struct err *e);

/* A checkpoint for export: {"format","seq","head_hash" (hex),"ts_ms",
 * "time","key_ref","public_key" (PEM),"signature" (base64)}.  New
 * reference, NULL on failure. */
json_t *audit_checkpoint_json(const struct store_audit_checkpoint *cp);

/* Parse an exported checkpoint (the JSON above). */
err_code audit_checkpoint_parse(const json_t *j,
                                struct store_audit_checkpoint *out,
                                struct err *e);

/* Check a checkpoint's signature with the public key it carries: *ok 1/0.
 * This proves nothing on its own: the verifier also demands that key be
 * the trusted audit key. */
err_code audit_checkpoint_check(const struct store_audit_checkpoint *cp,
                                int *ok, struct err *e);

/* ---- the trusted audit key, outside the database ----
 * A PEM public key file (audit.public_key, written by `seald init`). */

/* Read the key at path as SubjectPublicKeyInfo DER into key
 * (AUDIT_PUBKEY_MAX bytes), *len its length. */
err_code audit_trusted_key_load(const char *path, uint8_t *key, size_t *len,
                                struct err *e);

/* Write der (SubjectPublicKeyInfo) to path as PEM, mode 0644. */
err_code audit_trusted_key_write(const char *path, const uint8_t *der,
                                 size_t len, struct err *e);

struct audit_verify_opts {
    /* The trusted audit public key (SPKI DER): every checkpoint, stored or
     * exported, must be signed by it.  It never comes from a checkpoint.
     * NULL: no checkpoint can be trusted, so any checkpoint fails. */
    const uint8_t *pinned_key;
    size_t         pinned_key_len;
    /* Checkpoints exported earlier and kept outside seald (may be NULL). */
    const struct store_audit_checkpoint *exported;
    size_t         nexported;
    /* A sink file (JSON lines) to check the log against, or NULL. */
    const char    *sink_file;
    /* The configured checkpoint interval (0: the defaults) ... */
    long           every, seconds;
    /* ... and the pinned pre-chain range: entries 1..prechain may have no
     * hash (audit.prechain_entries; 0 for every instance made since the
     * chain exists). */
    int64_t        prechain;
};

#define AUDIT_REASON_MAX 256

struct audit_verify_report {
    int     ok;                 /* 1: the whole chain verifies            */
    int64_t entries;            /* rows walked                            */
    int64_t unchained;          /* rows of the pre-chain range            */
    int64_t checkpoints;        /* stored checkpoints checked             */
    int64_t exported;           /* exported checkpoints checked           */
    int64_t covered_seq;        /* newest seq a valid checkpoint covers   */
    int64_t head_seq;
    uint8_t head_hash[AUDIT_HASH_LEN];
    int64_t bad_seq;            /* first broken entry (0: none / n.a.)    */
    int64_t bad_checkpoint;     /* id of the first bad checkpoint, or 0   */
    int     pinned;             /* checkpoints were checked against a key */
    char    reason[AUDIT_REASON_MAX];
};

/* Walk the whole chain and every checkpoint.  It fails (r->ok 0, with
 * bad_seq and reason naming the first break) when an entry does not match
 * its hash or is missing; an entry outside the pre-chain range has no
 * hash; a checkpoint (stored, exported or in the sink) does not match the
 * log, is not signed by the pinned key, or lies beyond the end of the log;
 * or the newest entries that no valid checkpoint covers are more than
 * every + AUDIT_CHECKPOINT_SLACK_ENTRIES, or span more than seconds +
 * AUDIT_CHECKPOINT_GRACE_MS (checkpoints were deleted or never made).
 * Returns an error only if the database could not be read. */
err_code audit_verify(struct store_conn *c, const struct audit_verify_opts *o,
                      struct audit_verify_report *r, struct err *e);

/* The report as JSON (new reference). */
json_t *audit_verify_json(const struct audit_verify_report *r);

/* One entry as JSON (new reference): seq, ts_ms, time, account_id, role,
 * client_addr, request_id, action, target_type, target_id, outcome,
 * reason, details (parsed JSON), hash (hex), via_account_id (the portal a
 * person acted through, or null). */
json_t *audit_entry_json(const struct store_audit_entry *en);

/* One entry as a CSV row appended to out (the one CSV writer, csv.h:
 * RFC 4180 quoting, formula-injection guard); the header row if en is
 * NULL.  Errors as csv_text. */
err_code audit_entry_csv(const struct store_audit_entry *en, struct csv *out,
                         struct err *e);

/* ---- Reading the log (audit_read.c) ---- */

struct actor_ctx;

/* Entries matching f for auditor a, page by page to fn: an organisation
 * filter must lie inside a's audit.read scope (ERR_FORBIDDEN otherwise),
 * and only entries inside that scope are read (store_audit_filter's
 * scoped).  f's scope fields are set for the call. */
err_code audit_query(const struct actor_ctx *a, struct store_audit_filter *f,
                     store_audit_fn fn, void *ctx, struct err *e);

/* The newest checkpoint (ERR_NOT_FOUND before the first). */
err_code audit_latest_checkpoint(const struct actor_ctx *a,
                                 struct store_audit_checkpoint *cp,
                                 struct err *e);

#endif
