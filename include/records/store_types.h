/*
 * store_types.h - the records the store reads and writes (organisations,
 * accounts, roles, deputies, credentials, audit rows, applications, seals,
 * signing requests), their size limits, and the row callbacks of its lists.
 *
 * The domain's own headers use these types; only the domain's source files
 * call the store (store.h and store_<concern>.h), so a layer above the
 * domain sees the records but cannot reach the database.
 */
#ifndef SEALD_STORE_TYPES_H
#define SEALD_STORE_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "states.h"

struct store;
struct store_conn;

#define STORE_NAME_MAX   128
#define STORE_ROLE_MAX   32
#define STORE_MAX_ROLES  32

/* A unit of work run by store_group_run (store.h). */
typedef err_code (*store_work_fn)(struct store_conn *conn, void *ctx,
                                  struct err *e);

#define STORE_DN_MAX     512
#define STORE_CODE_MAX   32
#define STORE_PAGE_MAX   500
/* a document type (migration 017): [a-z][a-z0-9_]*, at most this long */
#define STORE_DOCTYPE_MAX 32

struct store_org {
    int64_t id;
    int64_t parent_id;           /* 0: a root */
    char    name[STORE_NAME_MAX * 2];
    char    kind[16];
    char    credit_code[STORE_CODE_MAX];
    int     disabled;
    int64_t created_ms;
};

/* List callbacks: return ERR_OK to go on; anything else stops the walk and
 * is returned by the list function. */
typedef err_code (*store_org_fn)(void *ctx, const struct store_org *o);

struct store_account {
    int64_t id;
    char    name[STORE_NAME_MAX];
    char    kind[16];
    char    display_name[STORE_NAME_MAX];
    int64_t org_id;
    char    cert_subject[STORE_DN_MAX];
    char    cert_issuer[STORE_DN_MAX];
    int     disabled;
    int64_t created_ms;
    int64_t held_by;             /* non-zero: held after a credential reset
                                    by this account (rule SOD-7)         */
    int64_t held_ms;
};

struct store_role {
    char    role[STORE_ROLE_MAX];
    int64_t scope_org_id;
    int64_t deputy_id;           /* non-zero: held as a deputy (deputies.id) */
};

typedef err_code (*store_account_fn)(void *ctx,
                                     const struct store_account *a);

struct store_deputy {
    int64_t id;
    int64_t custodian_id;
    int64_t deputy_id;
    int64_t scope_org_id;
    int64_t start_ms, end_ms;
    char    reason[512];
    char    state[16];
    int64_t created_ms;
    int64_t approved_by;
    int64_t approved_ms;
};

typedef err_code (*store_deputy_fn)(void *ctx, const struct store_deputy *d);

#define STORE_MAC_MAX 64

struct store_credential {
    int64_t id;
    int64_t account_id;
    uint8_t mac[STORE_MAC_MAX];
    size_t  mac_len;
    int     initial;
    int64_t created_ms;
    int64_t expires_ms;
    int64_t revoked_ms;          /* 0: not revoked */
};

struct store_audit_row {
    int64_t     ts_ms;
    int64_t     account_id;      /* 0: none (unauthenticated) */
    const char *role;
    const char *client_addr;
    const char *request_id;
    const char *action;
    const char *target_type;
    const char *target_id;
    const char *outcome;         /* ok, refused, failed */
    const char *reason;
    const char *details;         /* JSON text or NULL */
    int64_t     via_account_id;  /* the portal a person acted through;
                                    0: none (NULL) */
};

#define STORE_AUDIT_HASH_LEN   32
#define STORE_AUDIT_KEYREF_MAX 160   /* "token/hexid" */
#define STORE_AUDIT_PUBKEY_MAX 256   /* SubjectPublicKeyInfo DER */
#define STORE_AUDIT_SIG_MAX    80    /* DER SM2 signature */

/* One stored audit row as read back (strings borrowed from the statement:
 * valid only during the callback; NULL where the column is NULL). */
struct store_audit_entry {
    int64_t        seq;
    int64_t        ts_ms;
    int64_t        account_id;   /* 0: NULL */
    const char    *role, *client_addr, *request_id, *action;
    const char    *target_type, *target_id, *outcome, *reason, *details;
    const uint8_t *hash;         /* NULL for rows older than the chain */
    size_t         hash_len;
    int64_t        via_account_id; /* 0: NULL (audit.h: encoding 2 if set) */
};

typedef err_code (*store_audit_fn)(void *ctx,
                                   const struct store_audit_entry *en);

/* Query filters; zero/NULL fields do not filter. */
struct store_audit_filter {
    int64_t     after;           /* seq > after */
    int64_t     from_ms, to_ms;  /* ts_ms >= from_ms, ts_ms < to_ms */
    int64_t     account_id;
    int64_t     org_id;          /* actor's account in this org's subtree */
    const char *action;
    const char *outcome;
    const char *target_type;
    const char *target_id;
    int         limit;
    /* The reader's scope (audit_query sets it; the offline CLI, run by
     * whoever holds the database file, does not): when scoped, only the
     * entries of actors whose organisation lies in the subtrees of the
     * nscope scope organisations (at most STORE_MAX_ROLES), and the
     * entries without an actor (anonymous refusals, maintenance) only
     * for a reader whose scope holds a root organisation. */
    int            scoped;
    const int64_t *scope;
    size_t         nscope;
};

struct store_audit_checkpoint {
    int64_t id;
    int64_t seq;
    uint8_t head_hash[STORE_AUDIT_HASH_LEN];
    int64_t ts_ms;
    char    key_ref[STORE_AUDIT_KEYREF_MAX];
    uint8_t public_key[STORE_AUDIT_PUBKEY_MAX];
    size_t  public_key_len;
    uint8_t signature[STORE_AUDIT_SIG_MAX];
    size_t  signature_len;
};

typedef err_code (*store_checkpoint_fn)(void *ctx,
                                        const struct store_audit_checkpoint *cp);

#define STORE_TEXT_MAX 512
#define STORE_KEYREF_MAX 160  /* "token/hex-id" */

struct store_app {
    int64_t id;
    int64_t org_id;
    int64_t applicant_id;
    char    purpose[16];
    int64_t replaces_seal_id;
    char    kind[16];
    char    subkind[24];
    char    business[24];
    char    position[STORE_NAME_MAX];
    char    seal_name[STORE_NAME_MAX * 2];
    int64_t custodian_id;
    char    image_type[8];
    uint8_t image_sm3[32];
    int     width_px, height_px, width_mm, height_mm;
    char    reason[STORE_TEXT_MAX];
    enum app_state state;
    char    state_reason[STORE_TEXT_MAX];
    int64_t reviewer_id;
    char    holder_key[STORE_KEYREF_MAX];
    int     revision;
    int64_t created_ms, updated_ms;
};

/* An application's latest impression comparison (migration 019): outcome
 * "" when none was made. */
struct store_impression_check {
    char    code[40];
    char    outcome[16];         /* same, different, not_filed */
    char    filed_sm3[65];       /* hex; "" when not filed */
    char    compared_sm3[65];    /* hex: the submitted image compared */
    int64_t checked_by;
    int64_t checked_ms;
};

struct store_material {
    int64_t     id;
    int         revision;
    char        name[STORE_NAME_MAX];
    char        media_type[64];
    int64_t     size_bytes;
    uint8_t     sm3[32];
    char        type[24];        /* business_licence, id_card,
                                    authorisation_letter, other        */
    int64_t     application_id;  /* filled by listing and get          */
    const void *data;            /* insert only; not filled by listing */
    size_t      data_len;        /* the stored bytes (sealed: blobcrypt.h) */
};

struct store_history {
    int64_t id;
    char    from_state[16];
    char    to_state[16];
    int64_t actor_id;
    int64_t ts_ms;
    char    reason[STORE_TEXT_MAX];
};

typedef err_code (*store_app_fn)(void *ctx, const struct store_app *a);

typedef err_code (*store_material_fn)(void *ctx,
                                      const struct store_material *m);

typedef err_code (*store_history_fn)(void *ctx,
                                     const struct store_history *h);

#define STORE_ESID_MAX 64

struct store_seal {
    int64_t id;
    char    esid[STORE_ESID_MAX];
    char    lineage_esid[STORE_ESID_MAX];
    int64_t application_id;
    int64_t org_id;
    char    kind[16];
    char    name[STORE_NAME_MAX * 2];
    int64_t custodian_id;
    enum seal_state state;
    int64_t state_since_ms;
    char    reason_code[32];
    int     version;
    char    holder_key[STORE_KEYREF_MAX];
    int64_t valid_start_ms, valid_end_ms;
    int64_t predecessor_id;
    int64_t made_by, made_ms, confirmed_ms;
    char    filing_state[16];
    int64_t filed_ms;
    int64_t last_used_ms;
    char    hold[16];            /* why held (seal.c); "" when not held */
    enum seal_state before_loss; /* active or suspended when its loss was
                                  * reported; SEAL_NONE when not lost */
    int64_t change_required_ms;  /* a rename made its name stale; 0: no */
};

typedef err_code (*store_seal_fn)(void *ctx, const struct store_seal *s);

/* One state change of a seal (the rules are seal.c's): from -> to, and
 * what the seal keeps in its new state; NULL (SEAL_NONE for before_loss)
 * clears a field. */
struct store_seal_move {
    enum seal_state from, to;
    const char *reason_code;
    const char *hold;            /* why it is held (seals.hold)           */
    enum seal_state before_loss; /* state when a loss was reported        */
};

/* Who may read which seals, for a list: the seals whose custodian is
 * reader_id, and those of the organisations in the subtrees of the
 * scope_orgs (the organisations of the reader's roles). */
struct store_seal_reader {
    int64_t        reader_id;
    const int64_t *scope_orgs;
    size_t         nscope;            /* at most STORE_MAX_ROLES */
};

struct store_sreq {
    int64_t id;
    int64_t seal_id;
    int64_t submitter_id;
    int64_t deputy_id;
    char    title[STORE_NAME_MAX * 2];
    char    purpose[STORE_TEXT_MAX];
    int     copies;
    int64_t resubmits_id;
    int64_t extra_for_id;
    enum sreq_state state;
    char    state_reason[STORE_TEXT_MAX];
    int64_t approver_id;
    int64_t approved_ms;
    int64_t expires_ms;
    int64_t created_ms, updated_ms;
    /* the documents' type (migration 017), "" when none was named */
    char    document_type[STORE_DOCTYPE_MAX + 1];
};

struct store_sdoc {
    int64_t id;
    int64_t request_id;
    char    name[STORE_NAME_MAX * 2];
    int64_t size_bytes;
    uint8_t sm3[32];
    int     has_data;
    int     signatures;
};

struct store_sig {
    int64_t id;
    int64_t request_id, document_id, seal_id, org_id;
    int64_t signer_id, approver_id;
    char    client_addr[64];
    char    request_rid[40];
    uint8_t data_sm3[32];
    int64_t ts_ms;
    int     token_checked;       /* the value was verified before given out */
    int     token_suspect;       /* unchecked, and a later check failed     */
};

/* One row of the usage summary: signatures of a seal in a period. */
struct store_usage {
    int64_t seal_id;
    char    esid[STORE_ESID_MAX];
    char    seal_name[STORE_NAME_MAX * 2];
    int64_t org_id;
    int64_t count;
    int64_t first_ms, last_ms;
};

typedef err_code (*store_sdoc_fn)(void *ctx, const struct store_sdoc *d);

typedef err_code (*store_sreq_fn)(void *ctx, const struct store_sreq *r);

/* A sealed OFD kept as returned (sealed_ofds, migration 016). */
struct store_sealed {
    int64_t id;
    int64_t request_id, document_id, signature_id;
    int64_t base_id;             /* the kept OFD sealed again; 0: the
                                    uploaded document                  */
    int64_t size_bytes;
    uint8_t sm3[32];
    int64_t created_ms;
};

/* The filters of a signing-request list (store_sreq_list). */
struct store_sreq_filter {
    enum sreq_state state;       /* SREQ_NONE: any                     */
    int64_t         org_id;      /* the seal's organisation; 0: any    */
    const char     *esid;        /* NULL: any seal                     */
    int             submitted_by_reader;
    int             waiting_for_reader;
};

typedef err_code (*store_usage_fn)(void *ctx, const struct store_usage *u);

typedef err_code (*store_sig_fn)(void *ctx, const struct store_sig *s);

/* The statistics (store_stats.h, issue 18 item 9): one row of each
 * grouped query. */
struct store_stat_seals {            /* seals in a state at a time */
    int64_t region_id;
    char    region_name[STORE_NAME_MAX * 2];
    int64_t org_id;
    char    org_name[STORE_NAME_MAX * 2];
    char    kind[16];
    char    state[16];
    int64_t count;
};

struct store_stat_apps {             /* applications in a period */
    int64_t org_id;                  /* 0: the total row */
    int64_t region_id;               /* 0 for the total row */
    char    org_name[STORE_NAME_MAX * 2];
    int64_t received, decided, approved, rejected;
    int64_t median_ms, p90_ms, max_ms;   /* turnaround; -1: none decided */
};

struct store_stat_sigs {             /* signatures of a seal on a day */
    int64_t org_id;
    int64_t seal_id;
    char    esid[STORE_ESID_MAX];
    int64_t day;                     /* UTC days since the epoch */
    int64_t count;
};

/* A kept monthly report (migration 017); the bodies are read on their
 * own (store_stats_report_get). */
struct store_stats_report {
    int64_t id;
    int64_t org_id;
    char    month[8];                /* "YYYY-MM" */
    int64_t from_ms, to_ms, created_ms;
};

typedef err_code (*store_stat_seals_fn)(void *ctx,
                                        const struct store_stat_seals *r);
typedef err_code (*store_stat_apps_fn)(void *ctx,
                                       const struct store_stat_apps *r);
typedef err_code (*store_stat_sigs_fn)(void *ctx,
                                       const struct store_stat_sigs *r);
typedef err_code (*store_stats_report_fn)(void *ctx,
                                          const struct store_stats_report *r);

#endif
