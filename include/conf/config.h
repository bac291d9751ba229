/*
 * config.h - seald's runtime configuration: the INI file (parsed with libinih),
 * its defaults, validation, and command-line overrides.  Every key is listed
 * in conf/seald.conf.example; config.c holds the one table of keys.
 */
#ifndef SEALD_CONFIG_H
#define SEALD_CONFIG_H

#include <limits.h>
#include <stddef.h>

#include "custody.h"
#include "err.h"

#define CONFIG_MAX_THREADS          256
#define CONFIG_MAX_BODY_BYTES       (512L * 1024 * 1024)
#define CONFIG_MAX_HEADER_BYTES     (1024L * 1024)
#define CONFIG_MAX_CONNECTIONS      65536
#define CONFIG_MAX_BODY_BUDGET_BYTES (16L * 1024 * 1024 * 1024)
#define CONFIG_MAX_TIMEOUT_SECONDS  3600
#define CONFIG_MAX_REFUSAL_DELAY_MS 10000   /* server.refusal_delay_ms */
#define CONFIG_MAX_TOKENS           8
#define CONFIG_MAX_PRECHAIN         1000000000000L
#define CONFIG_KEYREF_MAX           (CUSTODY_NAME_MAX + CUSTODY_ID_HEX_MAX + 2)
#define CONFIG_SCOPE_MAX            256     /* a [scope] key's list     */
#define CONFIG_DOCTYPE_MAX          32      /* one document type        */
#define CONFIG_DN_MAX               512     /* a DN, as accounts hold it */
#define CONFIG_HEADER_NAME_MAX      64      /* an HTTP header's name     */
/* TSAPolicyId of the timestamps seald issues when tsa.serve_policy is not
 * set: a UUID-based OID (ITU-T X.667, arc 2.25), which needs no registry. */
#define CONFIG_TSA_SERVE_POLICY "2.25.18551139004563584666853997275230504503"

/* A [token.NAME] section: a PKCS#11 token seald uses through the custody
 * layer.  devtoken_dir is set only for the project's development token. */
struct config_token {
    struct custody_token_conf c;
    char devtoken_dir[PATH_MAX];
};

/* An [issuer.NAME] section: an identity platform whose tokens seald
 * accepts (idtoken.h).  Its keys come from jwks_file or from jwks_url
 * (exactly one). */
#define CONFIG_MAX_ISSUERS      8
#define CONFIG_ISSUER_NAME_MAX  32
#define CONFIG_ISSUER_TEXT_MAX  256
struct config_issuer {
    char name[CONFIG_ISSUER_NAME_MAX];
    char issuer[CONFIG_ISSUER_TEXT_MAX];     /* the tokens' iss, exactly   */
    char audience[CONFIG_ISSUER_TEXT_MAX];   /* must be in the tokens' aud */
    char jwks_file[PATH_MAX];
    char jwks_url[512];
    char jwks_ca_file[PATH_MAX];             /* PEM bundle for https       */
    char algorithms[64];   /* comma-separated: ES256, RS256, SM2, SM2SM3  */
    char subject_claim[64];/* the claim bound to an account: sub, ...      */
    char sm2_id[64];       /* SM2 signer ID; default 1234567812345678     */
    int  clock_skew_seconds;
    int  max_lifetime_seconds;  /* exp - iat at most this                 */
    int  jwks_refresh_seconds;  /* a fetched or read JWKS is kept so long */
    int  jwks_retry_seconds;    /* an unknown kid refetches at most so often */
    int  jwks_max_bytes;
    int  jwks_timeout_ms;
};

/* A [destination.NAME] section: where events go (event.h, delivery.h).
 * kind webhook: the event's JSON, signed; kind filing: the seal's filing
 * record (备案), for the seal events.  The secret is a file's content,
 * read when the worker starts: never in the configuration or a log. */
#define CONFIG_MAX_DESTS    8
#define CONFIG_DEST_NAME_MAX 40
struct config_dest {
    char name[CONFIG_DEST_NAME_MAX];
    char kind[16];                  /* webhook | filing                  */
    char url[PATH_MAX];             /* https://... (http only on loopback) */
    char secret_file[PATH_MAX];     /* HMAC-SM3 key, 16 bytes or more    */
    char events[512];               /* comma-separated types, or "*"     */
    char ca_file[PATH_MAX];         /* CA bundle for the https server, "" */
    int  timeout_ms;                /* one attempt                       */
};

struct config {
    /* [server] */
    char listen[64];            /* IPv4 or IPv6 literal                  */
    long port;
    long threads;               /* HTTP worker threads                   */
    int  plain_http;            /* 1: no TLS (loopback only)             */
    char tls_cert[PATH_MAX];
    char tls_key[PATH_MAX];
    char client_ca[PATH_MAX];   /* CA bundle for client certificates    */
    long max_body_bytes;
    long max_header_bytes;
    long max_connections;
    long connection_timeout;    /* seconds idle before a connection dies */
    long max_connections_per_address;
    long body_budget_bytes;     /* request bodies held in memory, in all */
    long body_spool_bytes;      /* larger bodies go to a temporary file  */
    long refusal_delay_ms;      /* anonymous 401/429 held this long     */
    long shutdown_timeout;      /* seconds to finish in-flight requests  */
    /* [database] */
    char db_url[PATH_MAX];      /* a file path, or a postgresql:// URL    */
    char db_password_file[PATH_MAX];    /* PostgreSQL's password, if any */
    long db_busy_timeout_ms;
    /* [log] */
    char log_file[PATH_MAX];    /* empty: stderr                         */
    char log_level[16];         /* debug, info, warn, error              */
    char log_format[8];         /* text, json                            */
    /* [metrics]: GET /metrics */
    char metrics_allow[512];    /* CIDRs served without a credential     */
    long metrics_cache_seconds; /* database gauges cached this long      */
    /* [security] */
    char secret_file[PATH_MAX]; /* server secret keying credential HMACs */
    long credential_max_age_days;
    long lockout_threshold;         /* failures per account before lock  */
    long address_lockout_threshold; /* failures per address before lock  */
    long lockout_window_seconds;
    long lockout_seconds;
    long rate_limit_rps;            /* per account and per address       */
    long rate_limit_burst;
    long verify_rate_limit_rps;     /* verification, per account         */
    long verify_rate_limit_burst;
    long verify_bulk_rate_limit_rps;   /* ... for the verifier role     */
    long verify_bulk_rate_limit_burst;

    /* [token.NAME] sections */
    struct config_token tokens[CONFIG_MAX_TOKENS];
    size_t ntokens;
    /* [issuer.NAME] sections and [identity]: persons' identity tokens */
    struct config_issuer issuers[CONFIG_MAX_ISSUERS];
    size_t nissuers;
    long identity_max_token_bytes;  /* X-Seald-Person-Token at most      */
    int  identity_direct_login;     /* a token without a portal: 0 no    */
    /* [gateway]: a 国密 (TLCP / RFC 8998) gateway in front that forwards
     * its clients' certificates; gateway_subject empty: none */
    char gateway_subject[CONFIG_DN_MAX];   /* its client certificate's DNs, */
    char gateway_issuer[CONFIG_DN_MAX];    /* exactly, as accounts hold them */
    char gateway_client_cert_header[CONFIG_HEADER_NAME_MAX];
    char gateway_client_ca[PATH_MAX];      /* CAs of forwarded certificates */
    char gateway_address_header[CONFIG_HEADER_NAME_MAX];
    /* [keys]: which token key does what, as "token/hex-id" */
    char audit_key[CONFIG_KEYREF_MAX];
    char ca_key[CONFIG_KEYREF_MAX];      /* the local CA                  */
    char maker_key[CONFIG_KEYREF_MAX];   /* the seal maker (制章者)       */
    char status_key[CONFIG_KEYREF_MAX];  /* signs seal status statements  */
    char tsa_key[CONFIG_KEYREF_MAX];     /* signs the timestamps of POST /tsa */
    /* [seals] */
    char seal_region[16];           /* region code in esIDs             */
    char seal_esid_format[128];
    long seal_version;              /* 4 (GB/T 38540) or 5 (GM/T 0031)  */
    char seal_holder_token[CUSTODY_NAME_MAX]; /* where holder keys live */
    long seal_cert_days;            /* holder certificate validity      */
    long seal_renewal_days;         /* renewal window before expiry     */
    long seal_suspend_unused_days;  /* automatic suspension             */
    long seal_status_list_hours;    /* status list next-update period   */
    long seal_maintenance_seconds;  /* period of the expiry/suspension job */
    /* [signing] */
    long sign_max_documents;        /* documents in one request            */
    long sign_approval_seconds;     /* how long an approval grants signing */
    long sign_verify_token_every;   /* fault check: every Nth signature    */
    /* [audit] */
    long audit_checkpoint_every;    /* sign the chain head every N entries */
    long audit_checkpoint_seconds;  /* ... or after this many seconds      */
    char audit_public_key[PATH_MAX]; /* the trusted audit key (PEM)        */
    long audit_prechain_entries;    /* entries older than the chain        */
    char audit_sink_file[PATH_MAX]; /* checkpoints appended here, or ""    */
    char audit_sink_syslog[PATH_MAX]; /* ... sent to this syslog socket    */
    long audit_refusal_window_seconds; /* anonymous refusals summarised per */
    char backup_dir[PATH_MAX];      /* where POST /admin/backup writes     */
    /* [trust] */
    char trust_dir[PATH_MAX];       /* anchors for verification/import  */
    /* [ofd] */
    long ofd_max_inflated_bytes;    /* bytes one OFD request may inflate */
    /* [storage]: encryption at rest (domain/blobcrypt.h) */
    long data_key_cache_seconds;    /* an unwrapped data key is kept    */
    /* [status]: the signed seal status statements (GET /status/...) */
    long status_validity_seconds;   /* nextUpdate - thisUpdate           */
    long status_max_age_seconds;    /* Cache-Control max-age, at most    */
    long status_rate_limit_rps;     /* per client address                */
    long status_rate_limit_burst;
    long status_global_rate_limit_rps;  /* all addresses together        */
    long status_global_rate_limit_burst;
    /* [tsa]: timestamps at signing (an outside TSA) */
    char tsa_url[PATH_MAX];         /* RFC 3161 over HTTP(S), or ""      */
    char tsa_policy[16];            /* off | optional | required         */
    long tsa_timeout_ms;            /* whole TSA call                    */
    char tsa_hash[16];              /* imprint: sm3 | sha256             */
    char tsa_anchors_dir[PATH_MAX]; /* TSA trust anchors, or ""          */
    char tsa_ca_file[PATH_MAX];     /* CA bundle for an https TSA, or "" */
    /* the signed seal status list, in parts (seal_list.h) */
    long status_list_part_entries;      /* entries per part              */
    long status_list_expired_grace_days; /* listed after expiry this long */
    long status_list_max_concurrent;    /* parts made at once per node   */
    /* [tsa] serve_*: seald as a TSA (POST /tsa) */
    char tsa_serve_policy[128];     /* TSAPolicyId of the tokens issued  */
    long tsa_serve_rate_limit_rps;  /* per client address                */
    long tsa_serve_rate_limit_burst;
    /* [public]: the services that need no credential */
    int  public_status;             /* 0: GET /status/... answers 404    */
    int  public_verify;             /* 0: POST /public/verify answers 404 */
    int  public_tsa;                /* 0: POST /tsa answers 404 (default) */
    int  public_verify_page;        /* 0: the /verify page answers 404   */
    long public_verify_rate_limit_rps;   /* per client address           */
    long public_verify_rate_limit_burst;
    long public_verify_max_body_bytes;   /* at most server.max_body_bytes */
    long public_verify_concurrency;      /* at once; 0: max(1, cores / 2) */
    long public_verify_cpu_ms_per_second; /* all together; 0: 100 a core  */
    long public_verify_cpu_burst_ms;     /* banked; 0: 4 s of the rate    */
    long public_verify_max_inflated_bytes; /* an OFD's inflation budget   */

    /* [events]: the outbox's readers and its deliveries */
    long events_delivery_attempts;  /* tries before the dead letter      */
    long events_backoff_ms;         /* first retry after about this      */
    long events_backoff_max_ms;     /* retries at most this far apart    */
    long events_delivery_interval_ms; /* the worker looks this often     */
    long events_poll_max_wait_seconds; /* GET /events?wait= at most      */
    long events_poll_max_waiters;   /* readers waiting at once (threads) */
    /* [filing]: the reverse adapter (impression_check.h) */
    char filing_impression_url[PATH_MAX];  /* https://.../{code}, or "" */
    char filing_impression_ca_file[PATH_MAX];
    long filing_impression_timeout_ms;
    /* [destination.NAME] sections */
    struct config_dest dests[CONFIG_MAX_DESTS];
    size_t ndests;
    /* [scope]: the document types each kind of seal may seal (issue 18
     * item 10), comma-separated; "" (the default) for every type.  One
     * key per kind of seal, named as config_seal_scope() reads them. */
    char scope_legal_name[CONFIG_SCOPE_MAX];
    char scope_department[CONFIG_SCOPE_MAX];
    char scope_branch[CONFIG_SCOPE_MAX];
    char scope_business_contract[CONFIG_SCOPE_MAX];
    char scope_business_finance[CONFIG_SCOPE_MAX];
    char scope_business_invoice[CONFIG_SCOPE_MAX];
    char scope_business_customs[CONFIG_SCOPE_MAX];
    char scope_business_inspection[CONFIG_SCOPE_MAX];
    char scope_business_other[CONFIG_SCOPE_MAX];
    char scope_position[CONFIG_SCOPE_MAX];
    char scope_personal[CONFIG_SCOPE_MAX];
    /* [materials]: the material types an application (new or change)
     * for each kind of seal must include (issue 18 item 8), comma-
     * separated from config_material_types; "" for none.  The defaults
     * are the regulations' (HLJ art. 9, GD art. 8). */
    char materials_official[CONFIG_SCOPE_MAX];
    char materials_position[CONFIG_SCOPE_MAX];
    char materials_personal[CONFIG_SCOPE_MAX];

    /* not keys: where relative paths are resolved from */
    char base_dir[PATH_MAX];
};

/* conf/seald.conf.example, compiled in (what `seald init` writes). */
extern const char *const config_example;

/* The database file of cfg (database.url without its "sqlite:"), or NULL
 * when the database is a PostgreSQL server. */
const char *config_db_file(const struct config *cfg);

/* Fill *cfg with the built-in defaults; base_dir becomes ".". */
void config_defaults(struct config *cfg);

/* Parse an INI file into *cfg (on top of whatever it holds).  Relative paths
 * in the file are resolved against the file's directory.  Unknown sections or
 * keys and invalid values fail with ERR_CONFIG and a message naming the file,
 * the line and the reason. */
err_code config_load(struct config *cfg, const char *path, struct err *e);

/* Set one key ("section.key" form) from a string, as the file would.  Used by
 * the INI parser and for command-line overrides (--set section.key=value). */
err_code config_set(struct config *cfg, const char *section, const char *key,
                    const char *value, struct err *e);

/* Cross-field checks that single keys cannot make (e.g. plain HTTP allowed
 * only on loopback).  Call after the file and all overrides are applied. */
err_code config_validate(const struct config *cfg, struct err *e);

/* Iterate over the known keys: returns the key name of row i and its section
 * in *section ("token.*" for the keys of a token section, "issuer.*" for
 * those of an issuer section), or NULL past the
 * end.  Used by tests and `seald config-keys`. */
const char *config_key_at(size_t i, const char **section);

/* What the documentation says of a key: its type ("string", "path",
 * "database", "integer", "boolean" or "enum"), its built-in default as the
 * file would spell it ("" when empty) and its range ("MIN..MAX" for
 * numbers, "a|b|c" for enums, "yes|no" for booleans, "" otherwise). */
struct config_key_info {
    const char *section, *name, *type;
    char        def[PATH_MAX];
    char        range[128];
};

/* Describe row i (the order of config_key_at) into *out: 1, or 0 past the
 * end.  Nothing to free.  `seald config-keys --long` prints it, and the
 * test docs.man compares seald.conf(5) with it. */
int config_key_describe(size_t i, struct config_key_info *out);
/* 1 if s[0..len) is a document type: a lowercase letter, then lowercase
 * letters, digits and '_', at most CONFIG_DOCTYPE_MAX bytes in all (the
 * form of the [scope] lists and of a signing request's document_type). */
int config_doctype_valid(const char *s, size_t len);

/* The [scope] list of the kind of seal named scope_kind ("legal_name",
 * "department", "branch", "business_<business>", "position",
 * "personal"): "" when that kind may seal every document type; NULL for
 * a name that is no kind (which the caller treats as unlimited only if it
 * chooses to). */
const char *config_seal_scope(const struct config *cfg,
                              const char *scope_kind);

/* The types an application material may name (NULL-terminated): the one
 * list, which [materials] is checked against. */
extern const char *const config_material_types[];

/* The [materials] list of seal kind ("official", "position",
 * "personal"): the material types an application for it must include,
 * comma-separated; "" for none or for a kind that is not listed. */
const char *config_required_materials(const struct config *cfg,
                                      const char *kind);

/* 1 if doctype is in the comma-separated list (no spaces; config_validate
 * checked its form). */
int config_scope_has(const char *list, const char *doctype);

/* Split a key reference "token/hex-id" into its parts (token cap
 * CUSTODY_NAME_MAX, id cap CUSTODY_ID_HEX_MAX). */
err_code config_keyref(const char *ref, char *token, char *id_hex,
                       struct err *e);

#endif
