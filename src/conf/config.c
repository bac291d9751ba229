/*
 * config.c - the table of configuration keys, their parsing and validation.
 * One row per key; conf/seald.conf.example documents every row, and a unit
 * test checks that the two agree.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "config.h"
#include "ofd.h"
#include "util.h"

/* KEY_DB is database.url: a postgresql:// or postgres:// URL kept as it
 * is, anything else a file path (with or without "sqlite:") resolved as
 * KEY_PATH is. */
enum key_type { KEY_STRING, KEY_PATH, KEY_DB, KEY_LONG, KEY_INT, KEY_BOOL,
                KEY_ENUM };

struct key_def {
    const char   *section;
    const char   *name;
    enum key_type type;
    size_t        offset;
    size_t        size;      /* for strings and paths: buffer size */
    long          min, max;  /* for numbers                        */
    const char   *choices;   /* for enums: "a|b|c"                 */
};

#define STR(sec, nm, field) \
    {sec, nm, KEY_STRING, offsetof(struct config, field), \
     sizeof(((struct config *)0)->field), 0, 0, NULL}
#define PATHK(sec, nm, field) \
    {sec, nm, KEY_PATH, offsetof(struct config, field), \
     sizeof(((struct config *)0)->field), 0, 0, NULL}
#define NUM(sec, nm, field, lo, hi) \
    {sec, nm, KEY_LONG, offsetof(struct config, field), 0, lo, hi, NULL}
#define BOOL(sec, nm, field) \
    {sec, nm, KEY_BOOL, offsetof(struct config, field), 0, 0, 1, NULL}
#define ENUM(sec, nm, field, ch) \
    {sec, nm, KEY_ENUM, offsetof(struct config, field), \
     sizeof(((struct config *)0)->field), 0, 0, ch}

static const struct key_def config_keys[] = {
    STR("server", "listen", listen),
    NUM("server", "port", port, 1, 65535),
    NUM("server", "threads", threads, 1, CONFIG_MAX_THREADS),
    BOOL("server", "plain_http", plain_http),
    PATHK("server", "tls_cert", tls_cert),
    PATHK("server", "tls_key", tls_key),
    PATHK("server", "client_ca", client_ca),
    NUM("server", "max_body_bytes", max_body_bytes, 1024, CONFIG_MAX_BODY_BYTES),
    NUM("server", "max_header_bytes", max_header_bytes, 1024,
        CONFIG_MAX_HEADER_BYTES),
    NUM("server", "max_connections", max_connections, 1,
        CONFIG_MAX_CONNECTIONS),
    NUM("server", "connection_timeout", connection_timeout, 1,
        CONFIG_MAX_TIMEOUT_SECONDS),
    NUM("server", "max_connections_per_address", max_connections_per_address,
        1, CONFIG_MAX_CONNECTIONS),
    NUM("server", "body_budget_bytes", body_budget_bytes, 64 * 1024,
        CONFIG_MAX_BODY_BUDGET_BYTES),
    NUM("server", "body_spool_bytes", body_spool_bytes, 1024,
        CONFIG_MAX_BODY_BYTES),
    NUM("server", "refusal_delay_ms", refusal_delay_ms, 0,
        CONFIG_MAX_REFUSAL_DELAY_MS),
    NUM("server", "shutdown_timeout", shutdown_timeout, 0,
        CONFIG_MAX_TIMEOUT_SECONDS),
    {"database", "url", KEY_DB, offsetof(struct config, db_url),
     sizeof(((struct config *)0)->db_url), 0, 0, NULL},
    PATHK("database", "password_file", db_password_file),
    NUM("database", "busy_timeout_ms", db_busy_timeout_ms, 0, 600000),
    PATHK("log", "file", log_file),
    ENUM("log", "level", log_level, "debug|info|warn|error"),
    ENUM("log", "format", log_format, "text|json"),
    STR("metrics", "allow", metrics_allow),
    NUM("metrics", "cache_seconds", metrics_cache_seconds, 1, 3600),
    PATHK("security", "secret_file", secret_file),
    STR("keys", "audit", audit_key),
    STR("keys", "ca", ca_key),
    STR("keys", "maker", maker_key),
    STR("keys", "status", status_key),
    STR("keys", "tsa", tsa_key),
    STR("seals", "region", seal_region),
    STR("seals", "esid_format", seal_esid_format),
    NUM("seals", "version", seal_version, 4, 5),
    STR("seals", "holder_token", seal_holder_token),
    NUM("seals", "cert_days", seal_cert_days, 1, 3650),
    NUM("seals", "renewal_days", seal_renewal_days, 1, 365),
    NUM("seals", "suspend_unused_days", seal_suspend_unused_days, 1, 3650),
    NUM("seals", "status_list_hours", seal_status_list_hours, 1, 744),
    NUM("seals", "maintenance_seconds", seal_maintenance_seconds, 1, 86400),
    PATHK("trust", "anchors_dir", trust_dir),
    NUM("signing", "max_documents", sign_max_documents, 1, 1000),
    NUM("signing", "approval_seconds", sign_approval_seconds, 1, 2592000),
    NUM("signing", "verify_token_every", sign_verify_token_every, 1, 1000000),
    NUM("audit", "checkpoint_every", audit_checkpoint_every, 1, 1000000000),
    NUM("audit", "checkpoint_seconds", audit_checkpoint_seconds, 1, 604800),
    PATHK("audit", "public_key", audit_public_key),
    NUM("audit", "prechain_entries", audit_prechain_entries, 0,
        CONFIG_MAX_PRECHAIN),
    PATHK("audit", "sink_file", audit_sink_file),
    PATHK("audit", "sink_syslog", audit_sink_syslog),
    NUM("audit", "refusal_window_seconds", audit_refusal_window_seconds, 1,
        3600),
    PATHK("database", "backup_dir", backup_dir),
    NUM("security", "credential_max_age_days", credential_max_age_days, 1,
        3650),
    NUM("security", "lockout_threshold", lockout_threshold, 1, 1000),
    NUM("security", "address_lockout_threshold", address_lockout_threshold,
        1, 100000),
    NUM("security", "lockout_window_seconds", lockout_window_seconds, 1,
        86400),
    NUM("security", "lockout_seconds", lockout_seconds, 1, 86400 * 7),
    NUM("security", "rate_limit_rps", rate_limit_rps, 1, 1000000),
    NUM("security", "rate_limit_burst", rate_limit_burst, 1, 1000000),
    NUM("security", "verify_rate_limit_rps", verify_rate_limit_rps, 1,
        1000000),
    NUM("security", "verify_rate_limit_burst", verify_rate_limit_burst, 1,
        1000000),
    NUM("security", "verify_bulk_rate_limit_rps", verify_bulk_rate_limit_rps,
        1, 1000000),
    NUM("security", "verify_bulk_rate_limit_burst",
        verify_bulk_rate_limit_burst, 1, 1000000),
    NUM("ofd", "max_inflated_bytes", ofd_max_inflated_bytes,
        OFD_MIN_MAX_INFLATED, OFD_MAX_TOTAL_SIZE),
    NUM("storage", "data_key_cache_seconds", data_key_cache_seconds, 0,
        86400),
    NUM("status", "validity_seconds", status_validity_seconds, 60, 604800),
    NUM("status", "max_age_seconds", status_max_age_seconds, 0, 86400),
    NUM("status", "rate_limit_rps", status_rate_limit_rps, 1, 1000000),
    NUM("status", "rate_limit_burst", status_rate_limit_burst, 1, 1000000),
    NUM("status", "global_rate_limit_rps", status_global_rate_limit_rps, 1,
        1000000),
    NUM("status", "global_rate_limit_burst", status_global_rate_limit_burst,
        1, 1000000),
    NUM("status", "list_part_entries", status_list_part_entries, 10,
        100000),
    NUM("status", "list_expired_grace_days", status_list_expired_grace_days,
        0, 36500),
    NUM("status", "list_max_concurrent", status_list_max_concurrent, 1, 64),
    BOOL("public", "status", public_status),
    BOOL("public", "verify", public_verify),
    BOOL("public", "tsa", public_tsa),
    BOOL("public", "verify_page", public_verify_page),
    NUM("public", "verify_rate_limit_rps", public_verify_rate_limit_rps, 1,
        1000000),
    NUM("public", "verify_rate_limit_burst", public_verify_rate_limit_burst,
        1, 1000000),
    NUM("public", "verify_max_body_bytes", public_verify_max_body_bytes,
        1024, CONFIG_MAX_BODY_BYTES),
    NUM("public", "verify_concurrency", public_verify_concurrency, 0,
        CONFIG_MAX_THREADS),
    NUM("public", "verify_cpu_ms_per_second", public_verify_cpu_ms_per_second,
        0, 1000 * CONFIG_MAX_THREADS),
    NUM("public", "verify_cpu_burst_ms", public_verify_cpu_burst_ms, 0,
        3600L * 1000),
    NUM("public", "verify_max_inflated_bytes",
        public_verify_max_inflated_bytes, OFD_MIN_MAX_INFLATED,
        OFD_MAX_TOTAL_SIZE),
    STR("tsa", "url", tsa_url),
    ENUM("tsa", "policy", tsa_policy, "off|optional|required"),
    NUM("tsa", "timeout_ms", tsa_timeout_ms, 100, 60000),
    ENUM("tsa", "hash", tsa_hash, "sm3|sha256"),
    PATHK("tsa", "anchors_dir", tsa_anchors_dir),
    PATHK("tsa", "ca_file", tsa_ca_file),
    STR("tsa", "serve_policy", tsa_serve_policy),
    NUM("events", "delivery_attempts", events_delivery_attempts, 1, 100),
    NUM("events", "backoff_ms", events_backoff_ms, 10, 3600000),
    NUM("events", "backoff_max_ms", events_backoff_max_ms, 10, 86400000),
    NUM("events", "delivery_interval_ms", events_delivery_interval_ms, 50,
        60000),
    NUM("events", "poll_max_wait_seconds", events_poll_max_wait_seconds, 0,
        300),
    NUM("events", "poll_max_waiters", events_poll_max_waiters, 0, 256),
    STR("filing", "impression_url", filing_impression_url),
    PATHK("filing", "impression_ca_file", filing_impression_ca_file),
    NUM("filing", "impression_timeout_ms", filing_impression_timeout_ms, 100,
        60000),
    NUM("tsa", "serve_rate_limit_rps", tsa_serve_rate_limit_rps, 1, 1000000),
    NUM("tsa", "serve_rate_limit_burst", tsa_serve_rate_limit_burst, 1,
        1000000),
    NUM("identity", "max_token_bytes", identity_max_token_bytes, 256, 16384),
    BOOL("identity", "direct_login", identity_direct_login),
    STR("gateway", "subject", gateway_subject),
    STR("gateway", "issuer", gateway_issuer),
    STR("gateway", "client_cert_header", gateway_client_cert_header),
    PATHK("gateway", "client_ca", gateway_client_ca),
    STR("gateway", "address_header", gateway_address_header),
    /* [scope]: document types per kind of seal (config_seal_scope) */
    STR("scope", "legal_name", scope_legal_name),
    STR("scope", "department", scope_department),
    STR("scope", "branch", scope_branch),
    STR("scope", "business_contract", scope_business_contract),
    STR("scope", "business_finance", scope_business_finance),
    STR("scope", "business_invoice", scope_business_invoice),
    STR("scope", "business_customs", scope_business_customs),
    STR("scope", "business_inspection", scope_business_inspection),
    STR("scope", "business_other", scope_business_other),
    STR("scope", "position", scope_position),
    STR("scope", "personal", scope_personal),
    /* [materials]: what an application must include (config_required_materials) */
    STR("materials", "official", materials_official),
    STR("materials", "position", materials_position),
    STR("materials", "personal", materials_personal),
};

const char *
config_db_file(const struct config *cfg)
{
    if (strncmp(cfg->db_url, "postgresql://", 13) == 0 ||
        strncmp(cfg->db_url, "postgres://", 11) == 0)
        return NULL;
    return cfg->db_url;
}

void
config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->listen, sizeof(cfg->listen), "127.0.0.1");
    cfg->port = 8443;
    cfg->threads = 4;
    cfg->plain_http = 0;
    snprintf(cfg->tls_cert, sizeof(cfg->tls_cert), "tls/server.crt");
    snprintf(cfg->tls_key, sizeof(cfg->tls_key), "tls/server.key");
    cfg->max_body_bytes = 8L * 1024 * 1024;
    cfg->max_header_bytes = 16L * 1024;
    cfg->max_connections = 512;
    cfg->connection_timeout = 30;
    cfg->max_connections_per_address = 32;
    cfg->body_budget_bytes = 64L * 1024 * 1024;
    cfg->body_spool_bytes = 1024L * 1024;
    cfg->refusal_delay_ms = 1000;
    cfg->shutdown_timeout = 10;
    snprintf(cfg->db_url, sizeof(cfg->db_url), "seald.db");
    cfg->db_busy_timeout_ms = 5000;
    snprintf(cfg->log_level, sizeof(cfg->log_level), "info");
    snprintf(cfg->log_format, sizeof(cfg->log_format), "text");
    /* GET /metrics: loopback only, unless a credential with metrics.read */
    snprintf(cfg->metrics_allow, sizeof(cfg->metrics_allow),
             "127.0.0.0/8, ::1/128");
    cfg->metrics_cache_seconds = 15;
    snprintf(cfg->secret_file, sizeof(cfg->secret_file), "secret.key");
    cfg->credential_max_age_days = 60;
    snprintf(cfg->seal_region, sizeof(cfg->seal_region), "230100");
    snprintf(cfg->seal_esid_format, sizeof(cfg->seal_esid_format),
             "{region}{seq:08}");
    cfg->seal_version = 4;
    snprintf(cfg->seal_holder_token, sizeof(cfg->seal_holder_token), "dev");
    cfg->seal_cert_days = 730;
    cfg->seal_renewal_days = 30;
    cfg->seal_suspend_unused_days = 365;
    cfg->seal_status_list_hours = 24;
    cfg->seal_maintenance_seconds = 3600;
    cfg->sign_max_documents = 50;
    cfg->sign_approval_seconds = 86400;
    cfg->sign_verify_token_every = 1;
    cfg->audit_checkpoint_every = 1000;
    cfg->audit_checkpoint_seconds = 300;
    snprintf(cfg->audit_public_key, sizeof(cfg->audit_public_key),
             "audit-key.pem");
    cfg->audit_refusal_window_seconds = 60;
    snprintf(cfg->backup_dir, sizeof(cfg->backup_dir), "backups");
    snprintf(cfg->trust_dir, sizeof(cfg->trust_dir), "trust");
    cfg->lockout_threshold = 5;
    cfg->address_lockout_threshold = 50;
    cfg->lockout_window_seconds = 900;
    cfg->lockout_seconds = 900;
    cfg->rate_limit_rps = 200;
    cfg->rate_limit_burst = 400;
    cfg->verify_rate_limit_rps = 5;
    cfg->verify_rate_limit_burst = 20;
    cfg->verify_bulk_rate_limit_rps = 2000;
    cfg->verify_bulk_rate_limit_burst = 4000;
    cfg->ofd_max_inflated_bytes = OFD_DEFAULT_MAX_INFLATED;
    cfg->data_key_cache_seconds = 300;
    cfg->status_validity_seconds = 3600;
    cfg->status_max_age_seconds = 300;
    cfg->status_rate_limit_rps = 10;
    cfg->status_rate_limit_burst = 50;
    cfg->status_global_rate_limit_rps = 100;
    cfg->status_global_rate_limit_burst = 200;
    cfg->status_list_part_entries = 50000;
    cfg->status_list_expired_grace_days = 365;
    cfg->status_list_max_concurrent = 2;
    cfg->public_status = 1;
    cfg->public_verify = 1;
    cfg->public_verify_page = 1;
    cfg->public_verify_rate_limit_rps = 1;
    cfg->public_verify_rate_limit_burst = 10;
    cfg->public_verify_max_body_bytes = 4L * 1024 * 1024;
    cfg->public_verify_concurrency = 0;
    cfg->public_verify_cpu_ms_per_second = 0;
    cfg->public_verify_cpu_burst_ms = 0;
    cfg->public_verify_max_inflated_bytes = 16L * 1024 * 1024;
    snprintf(cfg->tsa_policy, sizeof(cfg->tsa_policy), "off");
    cfg->tsa_timeout_ms = 5000;
    snprintf(cfg->tsa_hash, sizeof(cfg->tsa_hash), "sm3");
    snprintf(cfg->tsa_serve_policy, sizeof(cfg->tsa_serve_policy), "%s",
             CONFIG_TSA_SERVE_POLICY);
    cfg->tsa_serve_rate_limit_rps = 10;
    cfg->tsa_serve_rate_limit_burst = 50;
    cfg->identity_max_token_bytes = 8192;
    cfg->identity_direct_login = 0;
    snprintf(cfg->gateway_client_cert_header,
             sizeof(cfg->gateway_client_cert_header), "X-Client-Cert");
    snprintf(cfg->gateway_address_header,
             sizeof(cfg->gateway_address_header), "X-Forwarded-For");
    cfg->filing_impression_timeout_ms = 5000;
    snprintf(cfg->materials_official, sizeof(cfg->materials_official),
             "business_licence,id_card");
    snprintf(cfg->materials_position, sizeof(cfg->materials_position),
             "business_licence,id_card,authorisation_letter");
    snprintf(cfg->materials_personal, sizeof(cfg->materials_personal),
             "id_card");
    cfg->events_delivery_attempts = 8;
    cfg->events_backoff_ms = 1000;
    cfg->events_backoff_max_ms = 600000;
    cfg->events_delivery_interval_ms = 1000;
    cfg->events_poll_max_wait_seconds = 30;
    cfg->events_poll_max_waiters = 2;
    snprintf(cfg->base_dir, sizeof(cfg->base_dir), ".");
}

/* Keys of a [token.NAME] section, relative to struct config_token. */
#define TOK_STR(nm, field) \
    {"token.*", nm, KEY_STRING, offsetof(struct config_token, field), \
     sizeof(((struct config_token *)0)->field), 0, 0, NULL}
#define TOK_PATH(nm, field) \
    {"token.*", nm, KEY_PATH, offsetof(struct config_token, field), \
     sizeof(((struct config_token *)0)->field), 0, 0, NULL}
#define TOK_NUM(nm, field, lo, hi) \
    {"token.*", nm, KEY_INT, offsetof(struct config_token, field), 0, lo, hi, \
     NULL}

static const struct key_def token_keys[] = {
    TOK_PATH("module", c.module),
    {"token.*", "profile", KEY_ENUM, offsetof(struct config_token, c.profile),
     sizeof(((struct config_token *)0)->c.profile), 0, 0,
     "sm2-sansec|sm2-tass|sm2-luna|sm2-ibm|ecdsa-p256"},
    TOK_STR("token_label", c.token_label),
    TOK_NUM("slot", c.slot, -1, 1000000),
    TOK_PATH("pin_file", c.pin_file),
    TOK_STR("pin_env", c.pin_env),
    TOK_NUM("pool_size", c.pool_size, 0, CUSTODY_POOL_MAX),
    TOK_PATH("devtoken_dir", devtoken_dir),
};
#define NTOKEN_KEYS (sizeof(token_keys) / sizeof(token_keys[0]))

/* Keys of an [issuer.NAME] section, relative to struct config_issuer. */
#define ISS_STR(nm, field) \
    {"issuer.*", nm, KEY_STRING, offsetof(struct config_issuer, field), \
     sizeof(((struct config_issuer *)0)->field), 0, 0, NULL}
#define ISS_PATH(nm, field) \
    {"issuer.*", nm, KEY_PATH, offsetof(struct config_issuer, field), \
     sizeof(((struct config_issuer *)0)->field), 0, 0, NULL}
#define ISS_NUM(nm, field, lo, hi) \
    {"issuer.*", nm, KEY_INT, offsetof(struct config_issuer, field), 0, lo, \
     hi, NULL}

static const struct key_def issuer_keys[] = {
    ISS_STR("issuer", issuer),
    ISS_STR("audience", audience),
    ISS_PATH("jwks_file", jwks_file),
    ISS_STR("jwks_url", jwks_url),
    ISS_PATH("jwks_ca_file", jwks_ca_file),
    ISS_STR("algorithms", algorithms),
    ISS_STR("subject_claim", subject_claim),
    ISS_STR("sm2_id", sm2_id),
    ISS_NUM("clock_skew_seconds", clock_skew_seconds, 0, 600),
    ISS_NUM("max_lifetime_seconds", max_lifetime_seconds, 60, 86400),
    ISS_NUM("jwks_refresh_seconds", jwks_refresh_seconds, 10, 86400),
    ISS_NUM("jwks_retry_seconds", jwks_retry_seconds, 1, 3600),
    ISS_NUM("jwks_max_bytes", jwks_max_bytes, 256, 1024 * 1024),
    ISS_NUM("jwks_timeout_ms", jwks_timeout_ms, 100, 60000),
};
#define NISSUER_KEYS (sizeof(issuer_keys) / sizeof(issuer_keys[0]))

/* Keys of a [destination.NAME] section, relative to struct config_dest. */
#define DEST_KEY(nm, t, field, lo, hi, ch) \
    {"destination.*", nm, t, offsetof(struct config_dest, field), \
     sizeof(((struct config_dest *)0)->field), lo, hi, ch}
static const struct key_def dest_keys[] = {
    DEST_KEY("kind", KEY_ENUM, kind, 0, 0, "webhook|filing"),
    DEST_KEY("url", KEY_STRING, url, 0, 0, NULL),
    DEST_KEY("secret_file", KEY_PATH, secret_file, 0, 0, NULL),
    DEST_KEY("events", KEY_STRING, events, 0, 0, NULL),
    DEST_KEY("ca_file", KEY_PATH, ca_file, 0, 0, NULL),
    DEST_KEY("timeout_ms", KEY_INT, timeout_ms, 100, 60000, NULL),
};
#define NDEST_KEYS (sizeof(dest_keys) / sizeof(dest_keys[0]))
#define NCONFIG_KEYS (sizeof(config_keys) / sizeof(config_keys[0]))

static const struct key_def *
find_key(const char *section, const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++)
        if (strcmp(config_keys[i].section, section) == 0 &&
            strcmp(config_keys[i].name, name) == 0)
            return &config_keys[i];
    return NULL;
}

static err_code
parse_bool(const char *v, int *out, struct err *e)
{
    if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1") ||
        !strcasecmp(v, "on"))
        *out = 1;
    else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") ||
             !strcmp(v, "0") || !strcasecmp(v, "off"))
        *out = 0;
    else
        return err_set(e, ERR_CONFIG, "'%s' is not a boolean (yes/no)", v);
    return ERR_OK;
}

static int
enum_has(const char *choices, const char *v)
{
    size_t n = strlen(v);
    const char *p = choices;

    while (p != NULL && *p != '\0') {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, v, n) == 0)
            return 1;
        p = bar ? bar + 1 : NULL;
    }
    return 0;
}

/* Store value into the field def describes, inside base. */
static err_code
set_field(const struct config *cfg, void *base, const struct key_def *k,
          const char *section, const char *key, const char *value,
          struct err *e)
{
    char *field = (char *)base + k->offset;
    long n = 0;
    int b = 0;

    switch (k->type) {
    case KEY_STRING:
    case KEY_ENUM:
        if (k->type == KEY_ENUM && !enum_has(k->choices, value))
            return err_set(e, ERR_CONFIG, "%s.%s: '%s' is not one of %s",
                           section, key, value, k->choices);
        if (strlen(value) >= k->size)
            return err_set(e, ERR_CONFIG, "%s.%s: value too long", section,
                           key);
        memcpy(field, value, strlen(value) + 1);
        break;
    case KEY_DB:
        if (strncmp(value, "postgresql://", 13) == 0 ||
            strncmp(value, "postgres://", 11) == 0) {
            if (strlen(value) >= k->size)
                return err_set(e, ERR_CONFIG, "%s.%s: url too long", section,
                               key);
            memcpy(field, value, strlen(value) + 1);
            break;
        }
        if (strncmp(value, "sqlite:", 7) == 0)
            value += 7;
        /* FALLTHROUGH */
    case KEY_PATH:
        if (value[0] == '/' || value[0] == '\0' ||
            strcmp(cfg->base_dir, ".") == 0) {
            if (strlen(value) >= k->size)
                return err_set(e, ERR_CONFIG, "%s.%s: path too long", section,
                               key);
            memcpy(field, value, strlen(value) + 1);
        } else if ((size_t)snprintf(field, k->size, "%s/%s", cfg->base_dir,
                                    value) >= k->size) {
            return err_set(e, ERR_CONFIG, "%s.%s: path too long", section,
                           key);
        }
        break;
    case KEY_LONG:
    case KEY_INT:
        if (util_parse_long(value, k->min, k->max, &n, e) != ERR_OK)
            return err_wrap(e, ERR_CONFIG, "%s.%s", section, key);
        if (k->type == KEY_INT)
            *(int *)(void *)field = (int)n;
        else
            *(long *)(void *)field = n;
        break;
    case KEY_BOOL:
        if (parse_bool(value, &b, e) != ERR_OK)
            return err_set(e, ERR_CONFIG, "%s.%s: '%s' is not a boolean "
                           "(yes/no)", section, key, value);
        *(int *)(void *)field = b;
        break;
    }
    return ERR_OK;
}

/* The [token.NAME] section's struct, created on first use. */
static err_code
token_section(struct config *cfg, const char *name, struct config_token **out,
              struct err *e)
{
    size_t i;

    if (name[0] == '\0' || strlen(name) >= CUSTODY_NAME_MAX ||
        strchr(name, '/') != NULL)
        return err_set(e, ERR_CONFIG, "token section name '%s' must be 1-%d "
                       "characters without '/'", name, CUSTODY_NAME_MAX - 1);
    for (i = 0; i < cfg->ntokens; i++)
        if (strcmp(cfg->tokens[i].c.name, name) == 0) {
            *out = &cfg->tokens[i];
            return ERR_OK;
        }
    if (cfg->ntokens == CONFIG_MAX_TOKENS)
        return err_set(e, ERR_CONFIG, "at most %d token sections",
                       CONFIG_MAX_TOKENS);
    *out = &cfg->tokens[cfg->ntokens++];
    memset(*out, 0, sizeof(**out));
    custody_conf_init(&(*out)->c);
    snprintf((*out)->c.name, sizeof((*out)->c.name), "%s", name);
    return ERR_OK;
}

/* The [issuer.NAME] section's struct, created with its defaults on first
 * use. */
static err_code
issuer_section(struct config *cfg, const char *name,
               struct config_issuer **out, struct err *e)
{
    struct config_issuer *is;
    size_t i;

    if (name[0] == '\0' || strlen(name) >= CONFIG_ISSUER_NAME_MAX ||
        strchr(name, '/') != NULL)
        return err_set(e, ERR_CONFIG, "issuer section name '%s' must be "
                       "1-%d characters without '/'", name,
                       CONFIG_ISSUER_NAME_MAX - 1);
    for (i = 0; i < cfg->nissuers; i++)
        if (strcmp(cfg->issuers[i].name, name) == 0) {
            *out = &cfg->issuers[i];
            return ERR_OK;
        }
    if (cfg->nissuers == CONFIG_MAX_ISSUERS)
        return err_set(e, ERR_CONFIG, "at most %d issuer sections",
                       CONFIG_MAX_ISSUERS);
    is = &cfg->issuers[cfg->nissuers++];
    memset(is, 0, sizeof(*is));
    snprintf(is->name, sizeof(is->name), "%s", name);
    snprintf(is->algorithms, sizeof(is->algorithms), "ES256,RS256");
    snprintf(is->subject_claim, sizeof(is->subject_claim), "sub");
    snprintf(is->sm2_id, sizeof(is->sm2_id), "1234567812345678");
    is->clock_skew_seconds = 60;
    is->max_lifetime_seconds = 86400;
    is->jwks_refresh_seconds = 3600;
    is->jwks_retry_seconds = 60;
    is->jwks_max_bytes = 64 * 1024;
    is->jwks_timeout_ms = 5000;
    *out = is;
    return ERR_OK;
}

/* The [destination.NAME] section's struct, created on first use with
 * its defaults. */
static err_code
dest_section(struct config *cfg, const char *name, struct config_dest **out,
             struct err *e)
{
    size_t i;

    if (name[0] == '\0' || strlen(name) >= CONFIG_DEST_NAME_MAX)
        return err_set(e, ERR_CONFIG, "destination section name '%s' must "
                       "be 1-%d characters", name, CONFIG_DEST_NAME_MAX - 1);
    for (i = 0; name[i] != '\0'; i++)
        if (!isalnum((unsigned char)name[i]) && name[i] != '_' &&
            name[i] != '-')
            return err_set(e, ERR_CONFIG, "destination section name '%s': "
                           "letters, digits, _ and - only", name);
    for (i = 0; i < cfg->ndests; i++)
        if (strcmp(cfg->dests[i].name, name) == 0) {
            *out = &cfg->dests[i];
            return ERR_OK;
        }
    if (cfg->ndests == CONFIG_MAX_DESTS)
        return err_set(e, ERR_CONFIG, "at most %d destination sections",
                       CONFIG_MAX_DESTS);
    *out = &cfg->dests[cfg->ndests++];
    memset(*out, 0, sizeof(**out));
    snprintf((*out)->name, sizeof((*out)->name), "%s", name);
    snprintf((*out)->kind, sizeof((*out)->kind), "webhook");
    snprintf((*out)->events, sizeof((*out)->events), "*");
    (*out)->timeout_ms = 5000;
    return ERR_OK;
}

err_code
config_set(struct config *cfg, const char *section, const char *key,
           const char *value, struct err *e)
{
    const struct key_def *k;
    struct config_token *tok = NULL;
    size_t i;
    err_code rc;

    if (strncmp(section, "token.", 6) == 0) {
        for (i = 0, k = NULL; i < NTOKEN_KEYS; i++)
            if (strcmp(token_keys[i].name, key) == 0)
                k = &token_keys[i];
        if (k == NULL)
            return err_set(e, ERR_CONFIG, "unknown key '%s.%s'", section,
                           key);
        if ((rc = token_section(cfg, section + 6, &tok, e)) != ERR_OK)
            return rc;
        return set_field(cfg, tok, k, section, key, value, e);
    }
    if (strncmp(section, "issuer.", 7) == 0) {
        struct config_issuer *is = NULL;
        for (i = 0, k = NULL; i < NISSUER_KEYS; i++)
            if (strcmp(issuer_keys[i].name, key) == 0)
                k = &issuer_keys[i];
        if (k == NULL)
            return err_set(e, ERR_CONFIG, "unknown key '%s.%s'", section,
                           key);
        if ((rc = issuer_section(cfg, section + 7, &is, e)) != ERR_OK)
            return rc;
        return set_field(cfg, is, k, section, key, value, e);
    }
    if (strncmp(section, "destination.", 12) == 0) {
        struct config_dest *d = NULL;
        for (i = 0, k = NULL; i < NDEST_KEYS; i++)
            if (strcmp(dest_keys[i].name, key) == 0)
                k = &dest_keys[i];
        if (k == NULL)
            return err_set(e, ERR_CONFIG, "unknown key '%s.%s'", section,
                           key);
        if ((rc = dest_section(cfg, section + 12, &d, e)) != ERR_OK)
            return rc;
        return set_field(cfg, d, k, section, key, value, e);
    }
    /* database.path is url's name before PostgreSQL: instances made then
     * still load */
    if (strcmp(section, "database") == 0 && strcmp(key, "path") == 0)
        key = "url";
    if ((k = find_key(section, key)) == NULL)
        return err_set(e, ERR_CONFIG, "unknown key '%s.%s'", section, key);
    return set_field(cfg, cfg, k, section, key, value, e);
}

struct load_ctx {
    struct config *cfg;
    struct err     err;
};

/* libinih callback: returns 0 to stop at the first bad line. */
static int
config_ini_line(void *user, const char *section, const char *name,
            const char *value)
{
    struct load_ctx *ctx = user;

    if (name == NULL)  /* a bare [section] line: check the section exists */
        return 1;
    return config_set(ctx->cfg, section, name, value, &ctx->err) == ERR_OK;
}

err_code
config_load(struct config *cfg, const char *path, struct err *e)
{
    struct load_ctx ctx;
    char dir[PATH_MAX];
    const char *slash;
    FILE *f;
    int line;

    ctx.cfg = cfg;
    err_clear(&ctx.err);
    slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else if ((size_t)(slash - path) >= sizeof(dir))
        return err_set(e, ERR_CONFIG, "%s: path too long", path);
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    memcpy(cfg->base_dir, dir, strlen(dir) + 1);

    if ((f = fopen(path, "r")) == NULL)
        return err_set(e, ERR_CONFIG, "%s: cannot open", path);
    line = ini_parse_file(f, config_ini_line, &ctx);
    fclose(f);
    if (line < 0)
        return err_set(e, ERR_CONFIG, "%s: cannot read", path);
    if (line > 0)
        return err_set(e, ERR_CONFIG, "%s:%d: %s", path, line,
                       ctx.err.code != ERR_OK ? ctx.err.msg
                                              : "syntax error");
    return ERR_OK;
}

static int
is_loopback(const char *addr)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (inet_pton(AF_INET, addr, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, addr, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return 0;
}

/* Is s a dotted OID: a first arc 0-2, then at least one more arc, arcs of
 * digits without leading zeros? */
static int
dotted_oid(const char *s)
{
    int arcs = 0;

    if (s[0] < '0' || s[0] > '2' || s[1] != '.')
        return 0;
    while (*s != '\0') {
        if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] >= '0' &&
                                     s[1] <= '9'))
            return 0;
        while (*s >= '0' && *s <= '9')
            s++;
        arcs++;
        if (*s == '.' && s[1] != '\0')
            s++;
        else if (*s != '\0')
            return 0;
    }
    return arcs >= 2;
}

int
config_doctype_valid(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || len > CONFIG_DOCTYPE_MAX || s[0] < 'a' || s[0] > 'z')
        return 0;
    for (i = 1; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '_'))
            return 0;
    return 1;
}

/* Is list a well-formed [scope] value: "" or document types joined by
 * single commas? */
static int
scope_list_valid(const char *list)
{
    const char *p = list, *comma;

    if (*p == '\0')
        return 1;
    for (;;) {
        comma = strchr(p, ',');
        if (!config_doctype_valid(p, comma ? (size_t)(comma - p)
                                           : strlen(p)))
            return 0;
        if (comma == NULL)
            return 1;
        p = comma + 1;
    }
}

const char *const config_material_types[] = {
    "business_licence", "id_card", "authorisation_letter", "other", NULL
};

/* A per-kind list key ([materials], [scope]): the kind of seal it names
 * and where its value is in struct config. */
struct kind_row {
    const char *kind;
    size_t      offset;
};

/* The value of kind's row among the n rows, or NULL for a kind that has
 * none (or a NULL kind). */
static const char *
kind_row_value(const struct config *cfg, const struct kind_row *rows,
               size_t n, const char *kind)
{
    size_t i;

    for (i = 0; kind != NULL && i < n; i++)
        if (strcmp(rows[i].kind, kind) == 0)
            return (const char *)cfg + rows[i].offset;
    return NULL;
}

/* The [materials] rows, by the kind of seal each names. */
static const struct kind_row material_rows[] = {
    {"official", offsetof(struct config, materials_official)},
    {"position", offsetof(struct config, materials_position)},
    {"personal", offsetof(struct config, materials_personal)},
};
#define NMATERIAL_ROWS (sizeof(material_rows) / sizeof(material_rows[0]))

/* Is list a well-formed [materials] value: "" or names from
 * config_material_types joined by single commas?  *bad (cap bytes) gets
 * the first name that is not one. */
static int
material_list_valid(const char *list, char *bad, size_t cap)
{
    const char *p = list, *comma;
    size_t len, i;

    if (*p == '\0')
        return 1;
    for (;;) {
        comma = strchr(p, ',');
        len = comma ? (size_t)(comma - p) : strlen(p);
        for (i = 0; config_material_types[i] != NULL; i++)
            if (strlen(config_material_types[i]) == len &&
                strncmp(config_material_types[i], p, len) == 0)
                break;
        if (config_material_types[i] == NULL) {
            snprintf(bad, cap, "%.*s", (int)len, p);
            return 0;
        }
        if (comma == NULL)
            return 1;
        p = comma + 1;
    }
}

const char *
config_required_materials(const struct config *cfg, const char *kind)
{
    const char *v = kind_row_value(cfg, material_rows, NMATERIAL_ROWS, kind);

    return v != NULL ? v : "";
}

/* The [scope] rows, by the kind of seal each names. */
static const struct kind_row scope_rows[] = {
    {"legal_name", offsetof(struct config, scope_legal_name)},
    {"department", offsetof(struct config, scope_department)},
    {"branch", offsetof(struct config, scope_branch)},
    {"business_contract", offsetof(struct config, scope_business_contract)},
    {"business_finance", offsetof(struct config, scope_business_finance)},
    {"business_invoice", offsetof(struct config, scope_business_invoice)},
    {"business_customs", offsetof(struct config, scope_business_customs)},
    {"business_inspection",
     offsetof(struct config, scope_business_inspection)},
    {"business_other", offsetof(struct config, scope_business_other)},
    {"position", offsetof(struct config, scope_position)},
    {"personal", offsetof(struct config, scope_personal)},
};
#define NSCOPE_ROWS (sizeof(scope_rows) / sizeof(scope_rows[0]))

const char *
config_seal_scope(const struct config *cfg, const char *scope_kind)
{
    return kind_row_value(cfg, scope_rows, NSCOPE_ROWS, scope_kind);
}

int
config_scope_has(const char *list, const char *doctype)
{
    size_t n = strlen(doctype);
    const char *p = list;

    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && strncmp(p, doctype, n) == 0)
            return 1;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return 0;
}

/* An HTTP header name: an RFC 9110 token, not empty. */
static int
header_name_valid(const char *s)
{
    const char *p;

    if (s[0] == '\0')
        return 0;
    for (p = s; *p != '\0'; p++)
        if (!isalnum((unsigned char)*p) && strchr("!#$%&'*+-.^_`|~", *p)
            == NULL)
            return 0;
    return 1;
}

/* [gateway]: all or nothing.  The gateway is known by its client
 * certificate, which only server.client_ca can verify in the handshake,
 * and its clients' certificates need gateway.client_ca.  ERR_CONFIG with
 * the reason. */
static err_code
gateway_validate(const struct config *cfg, struct err *e)
{
    if (cfg->gateway_subject[0] == '\0' && cfg->gateway_issuer[0] == '\0') {
        if (cfg->gateway_client_ca[0] != '\0')
            return err_set(e, ERR_CONFIG, "gateway.client_ca is set but "
                           "gateway.subject is empty: no gateway is "
                           "configured, so no forwarded certificate would "
                           "ever be read");
        return ERR_OK;
    }
    if (cfg->gateway_subject[0] == '\0' || cfg->gateway_issuer[0] == '\0')
        return err_set(e, ERR_CONFIG, "gateway.subject and gateway.issuer "
                       "go together (the gateway's client certificate, "
                       "exactly)");
    if (cfg->plain_http || cfg->client_ca[0] == '\0')
        return err_set(e, ERR_CONFIG, "a gateway needs TLS and "
                       "server.client_ca (the CA of the gateway's client "
                       "certificate, verified in the handshake)");
    if (cfg->gateway_client_ca[0] == '\0')
        return err_set(e, ERR_CONFIG, "a gateway needs gateway.client_ca "
                       "(the CAs of the client certificates it forwards)");
    if (!header_name_valid(cfg->gateway_client_cert_header) ||
        !header_name_valid(cfg->gateway_address_header))
        return err_set(e, ERR_CONFIG, "gateway.client_cert_header and "
                       "gateway.address_header must be HTTP header names");
    if (strcasecmp(cfg->gateway_client_cert_header, "Authorization") == 0 ||
        strcasecmp(cfg->gateway_client_cert_header,
                   cfg->gateway_address_header) == 0)
        return err_set(e, ERR_CONFIG, "gateway.client_cert_header may be "
                       "neither Authorization nor gateway.address_header");
    return ERR_OK;
}

err_code
config_validate(const struct config *cfg, struct err *e)
{
    struct in_addr a4;
    struct in6_addr a6;
    size_t i, k, ndev = 0;

    if (inet_pton(AF_INET, cfg->listen, &a4) != 1 &&
        inet_pton(AF_INET6, cfg->listen, &a6) != 1)
        return err_set(e, ERR_CONFIG, "server.listen: '%s' is not an IP "
                       "address", cfg->listen);
    if (cfg->plain_http && !is_loopback(cfg->listen))
        return err_set(e, ERR_CONFIG, "server.plain_http is allowed only on "
                       "a loopback address, not %s", cfg->listen);
    if (!cfg->plain_http && (cfg->tls_cert[0] == '\0' ||
                             cfg->tls_key[0] == '\0'))
        return err_set(e, ERR_CONFIG, "server.tls_cert and server.tls_key "
                       "are required unless plain_http = yes");
    if (cfg->db_url[0] == '\0')
        return err_set(e, ERR_CONFIG, "database.url is required");
    if (config_db_file(cfg) != NULL && cfg->db_password_file[0] != '\0')
        return err_set(e, ERR_CONFIG, "database.password_file is for a "
                       "PostgreSQL url; an SQLite file has no password");
    /* a body is held in memory only up to body_spool_bytes, so one such
     * body must always fit in the budget */
    if (cfg->body_budget_bytes < cfg->body_spool_bytes + 1)
        return err_set(e, ERR_CONFIG, "server.body_budget_bytes (%ld) must "
                       "be larger than server.body_spool_bytes (%ld)",
                       cfg->body_budget_bytes, cfg->body_spool_bytes);
    if (cfg->secret_file[0] == '\0')
        return err_set(e, ERR_CONFIG, "security.secret_file is required");
    if (util_cidr_list_check(cfg->metrics_allow, e) != ERR_OK)
        return err_wrap(e, ERR_CONFIG, "metrics.allow");
    if (gateway_validate(cfg, e) != ERR_OK)
        return e->code;
    /* a cached statement must never outlive its nextUpdate (seal_status.c
     * re-signs when less than max_age is left) */
    if (cfg->status_max_age_seconds * 2 > cfg->status_validity_seconds)
        return err_set(e, ERR_CONFIG, "status.max_age_seconds (%ld) must be "
                       "at most half of status.validity_seconds (%ld)",
                       cfg->status_max_age_seconds,
                       cfg->status_validity_seconds);
    if (!dotted_oid(cfg->tsa_serve_policy))
        return err_set(e, ERR_CONFIG, "tsa.serve_policy '%s' is not a dotted "
                       "OID (such as 1.2.156.xxx.1)", cfg->tsa_serve_policy);
    if (strcmp(cfg->tsa_policy, "off") != 0 &&
        (cfg->tsa_url[0] == '\0' || cfg->tsa_anchors_dir[0] == '\0'))
        return err_set(e, ERR_CONFIG, "tsa.policy = %s needs tsa.url and "
                       "tsa.anchors_dir (the TSA's trust anchors, against "
                       "which every token is checked)", cfg->tsa_policy);
    for (i = 0; i < cfg->ntokens; i++) {
        const struct config_token *t = &cfg->tokens[i];
        if (t->c.module[0] == '\0' || t->c.profile[0] == '\0' ||
            t->c.token_label[0] == '\0')
            return err_set(e, ERR_CONFIG, "token.%s: module, profile and "
                           "token_label are required", t->c.name);
        if ((t->c.pin_file[0] == '\0') == (t->c.pin_env[0] == '\0'))
            return err_set(e, ERR_CONFIG, "token.%s: give exactly one of "
                           "pin_file and pin_env", t->c.name);
        if (t->devtoken_dir[0] != '\0')
            ndev++;
    }
    for (i = 0; i < cfg->ndests; i++) {
        const struct config_dest *d = &cfg->dests[i];
        int https = strncmp(d->url, "https://", 8) == 0;
        int loop = strncmp(d->url, "http://127.0.0.1:", 17) == 0 ||
                   strncmp(d->url, "http://[::1]:", 13) == 0 ||
                   strncmp(d->url, "http://localhost:", 17) == 0;
        if (!https && !loop)
            return err_set(e, ERR_CONFIG, "destination.%s: url must be "
                           "https:// (http:// only to this host)", d->name);
        if (d->secret_file[0] == '\0')
            return err_set(e, ERR_CONFIG, "destination.%s: secret_file is "
                           "required (deliveries are signed)", d->name);
    }
    if (cfg->filing_impression_url[0] != '\0' &&
        (strstr(cfg->filing_impression_url, "{code}") == NULL ||
         (strncmp(cfg->filing_impression_url, "https://", 8) != 0 &&
          strncmp(cfg->filing_impression_url, "http://127.0.0.1:", 17) != 0)))
        return err_set(e, ERR_CONFIG, "filing.impression_url must be "
                       "https://... (http only to 127.0.0.1) with {code} "
                       "where the seal code goes");
    if (cfg->events_backoff_max_ms < cfg->events_backoff_ms)
        return err_set(e, ERR_CONFIG, "events.backoff_max_ms must be at "
                       "least events.backoff_ms");
    if (ndev > 1)
        return err_set(e, ERR_CONFIG, "at most one token may set "
                       "devtoken_dir");
    for (i = 0; i < cfg->nissuers; i++) {
        const struct config_issuer *is = &cfg->issuers[i];
        char algs[sizeof(is->algorithms)], *tok, *save = NULL;
        if (is->issuer[0] == '\0' || is->audience[0] == '\0' ||
            is->subject_claim[0] == '\0')
            return err_set(e, ERR_CONFIG, "issuer.%s: issuer, audience and "
                           "subject_claim are required", is->name);
        if ((is->jwks_file[0] == '\0') == (is->jwks_url[0] == '\0'))
            return err_set(e, ERR_CONFIG, "issuer.%s: give exactly one of "
                           "jwks_file and jwks_url", is->name);
        if (is->jwks_url[0] != '\0' &&
            strncmp(is->jwks_url, "https://", 8) != 0)
            return err_set(e, ERR_CONFIG, "issuer.%s: jwks_url must be "
                           "https", is->name);
        for (k = 0; k < i; k++)
            if (strcmp(cfg->issuers[k].issuer, is->issuer) == 0)
                return err_set(e, ERR_CONFIG, "issuer.%s: issuer '%s' is "
                               "configured twice", is->name, is->issuer);
        /* every algorithm named must be one seald verifies; "none" and
         * the HMAC family never are (a shared secret is no identity) */
        snprintf(algs, sizeof(algs), "%s", is->algorithms);
        if (algs[0] == '\0')
            return err_set(e, ERR_CONFIG, "issuer.%s: algorithms is empty",
                           is->name);
        for (tok = strtok_r(algs, ", ", &save); tok != NULL;
             tok = strtok_r(NULL, ", ", &save))
            if (strcmp(tok, "ES256") != 0 && strcmp(tok, "RS256") != 0 &&
                strcmp(tok, "SM2") != 0 && strcmp(tok, "SM2SM3") != 0)
                return err_set(e, ERR_CONFIG, "issuer.%s: algorithm '%s' "
                               "is not one of ES256, RS256, SM2, SM2SM3",
                               is->name, tok);
    }
    for (i = 0; i < NMATERIAL_ROWS; i++) {
        char bad[64];

        if (!material_list_valid((const char *)cfg + material_rows[i].offset,
                                 bad, sizeof(bad)))
            return err_set(e, ERR_CONFIG, "materials.%s: '%s' is not a "
                           "material type (business_licence, id_card, "
                           "authorisation_letter, other; joined by commas "
                           "without spaces)", material_rows[i].kind, bad);
    }
    for (i = 0; i < NSCOPE_ROWS; i++)
        if (!scope_list_valid((const char *)cfg + scope_rows[i].offset))
            return err_set(e, ERR_CONFIG, "scope.%s: '%s' is not a list of "
                           "document types (lowercase letters, digits and "
                           "_, starting with a letter, at most %d each, "
                           "joined by commas without spaces)",
                           scope_rows[i].kind,
                           (const char *)cfg + scope_rows[i].offset,
                           CONFIG_DOCTYPE_MAX);
    {
        const struct { const char *name, *ref; } refs[] = {
            {"keys.audit", cfg->audit_key}, {"keys.ca", cfg->ca_key},
            {"keys.maker", cfg->maker_key},
            {"keys.status", cfg->status_key},
            {"keys.tsa", cfg->tsa_key}};
        for (k = 0; k < sizeof(refs) / sizeof(refs[0]); k++) {
            char tok[CUSTODY_NAME_MAX], id[CUSTODY_ID_HEX_MAX];
            int found = 0;
            if (refs[k].ref[0] == '\0')
                continue;
            if (config_keyref(refs[k].ref, tok, id, e) != ERR_OK)
                return err_wrap(e, ERR_CONFIG, "%s", refs[k].name);
            for (i = 0; i < cfg->ntokens; i++)
                found |= strcmp(cfg->tokens[i].c.name, tok) == 0;
            if (!found)
                return err_set(e, ERR_CONFIG, "%s: no token section "
                               "[token.%s]", refs[k].name, tok);
        }
    }
    return ERR_OK;
}

const char *
config_key_at(size_t i, const char **section)
{
    if (i < NCONFIG_KEYS) {
        *section = config_keys[i].section;
        return config_keys[i].name;
    }
    if (i - NCONFIG_KEYS < NTOKEN_KEYS) {
        *section = token_keys[i - NCONFIG_KEYS].section;
        return token_keys[i - NCONFIG_KEYS].name;
    }
    if (i - NCONFIG_KEYS - NTOKEN_KEYS < NISSUER_KEYS) {
        *section = issuer_keys[i - NCONFIG_KEYS - NTOKEN_KEYS].section;
        return issuer_keys[i - NCONFIG_KEYS - NTOKEN_KEYS].name;
    }
    if (i - NCONFIG_KEYS - NTOKEN_KEYS - NISSUER_KEYS < NDEST_KEYS) {
        *section = dest_keys[i - NCONFIG_KEYS - NTOKEN_KEYS -
                             NISSUER_KEYS].section;
        return dest_keys[i - NCONFIG_KEYS - NTOKEN_KEYS - NISSUER_KEYS].name;
    }
    return NULL;
}

err_code
config_keyref(const char *ref, char *token, char *id_hex, struct err *e)
{
    const char *slash = strchr(ref, '/');
    size_t i;

    if (slash == NULL || slash == ref ||
        (size_t)(slash - ref) >= CUSTODY_NAME_MAX ||
        strlen(slash + 1) == 0 || strlen(slash + 1) >= CUSTODY_ID_HEX_MAX)
        return err_set(e, ERR_CONFIG, "key reference '%s' is not "
                       "token/hex-id", ref);
    for (i = 1; slash[i] != '\0'; i++)
        if (!isxdigit((unsigned char)slash[i]))
            return err_set(e, ERR_CONFIG, "key reference '%s': the id is "
                           "not hex", ref);
    snprintf(token, CUSTODY_NAME_MAX, "%.*s", (int)(slash - ref), ref);
    snprintf(id_hex, CUSTODY_ID_HEX_MAX, "%s", slash + 1);
    return ERR_OK;
}

/* Contract: config.h.  The defaults are read back from config_defaults()
 * (and custody_conf_init() for a token section), so the description
 * cannot disagree with what seald does without a key. */
int
config_key_describe(size_t i, struct config_key_info *out)
{
    static const char *const types[] = {"string", "path", "database",
                                        "integer", "integer", "boolean",
                                        "enum"};
    struct config cfg;
    struct config_token tok;
    const struct key_def *k;
    const char *field;
    struct err e;

    if (i < NCONFIG_KEYS) {
        k = &config_keys[i];
        config_defaults(&cfg);
        field = (const char *)&cfg + k->offset;
    } else if (i - NCONFIG_KEYS < NTOKEN_KEYS) {
        k = &token_keys[i - NCONFIG_KEYS];
        memset(&tok, 0, sizeof(tok));
        custody_conf_init(&tok.c);
        field = (const char *)&tok + k->offset;
    } else if (i - NCONFIG_KEYS - NTOKEN_KEYS < NISSUER_KEYS) {
        /* a section's defaults are those it gets when first named */
        struct config_issuer *is = NULL;

        k = &issuer_keys[i - NCONFIG_KEYS - NTOKEN_KEYS];
        config_defaults(&cfg);
        if (issuer_section(&cfg, "x", &is, &e) != ERR_OK)
            return 0;
        field = (const char *)is + k->offset;
    } else if (i - NCONFIG_KEYS - NTOKEN_KEYS - NISSUER_KEYS < NDEST_KEYS) {
        struct config_dest *d = NULL;

        k = &dest_keys[i - NCONFIG_KEYS - NTOKEN_KEYS - NISSUER_KEYS];
        config_defaults(&cfg);
        if (dest_section(&cfg, "x", &d, &e) != ERR_OK)
            return 0;
        field = (const char *)d + k->offset;
    } else {
        return 0;
    }
    out->section = k->section;
    out->name = k->name;
    out->type = types[k->type];
    out->range[0] = '\0';
    switch (k->type) {
    case KEY_STRING:
    case KEY_PATH:
    case KEY_DB:
    case KEY_ENUM:
        snprintf(out->def, sizeof(out->def), "%s", field);
        if (k->type == KEY_ENUM)
            snprintf(out->range, sizeof(out->range), "%s", k->choices);
        break;
    case KEY_LONG:
    case KEY_INT:
        snprintf(out->def, sizeof(out->def), "%ld", k->type == KEY_INT
                 ? (long)*(const int *)(const void *)field
                 : *(const long *)(const void *)field);
        snprintf(out->range, sizeof(out->range), "%ld..%ld", k->min, k->max);
        break;
    case KEY_BOOL:
        snprintf(out->def, sizeof(out->def), "%s",
                 *(const int *)(const void *)field ? "yes" : "no");
        snprintf(out->range, sizeof(out->range), "yes|no");
        break;
    }
    return 1;
}
