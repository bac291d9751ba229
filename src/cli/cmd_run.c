/*
 * cmd_run.c - `seald run --config FILE`: load and check the configuration,
 * open the database and apply pending migrations, check the trusted audit
 * key and start the audit checkpointer, start the HTTP server,
 * then wait for signals, telling systemd it is ready once the database and
 * the tokens answer (the checks of GET /readyz): SIGHUP reopens the log
 * file and nothing else, SIGTERM/SIGINT stop
 * accepting, let in-flight requests finish (bounded), write the last
 * refusal summaries and failed authentications, and close cleanly.
 * Also `seald routes` and `seald config-keys`, which print tables.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "app.h"
#include "cmd.h"
#include "config.h"
#include "cpubudget.h"
#include "http.h"
#include "fwdcert.h"
#include "idtoken.h"
#include "audit.h"
#include "lockout.h"
#include "lease.h"
#include "log.h"
#include "blobcrypt.h"
#include "maintenance.h"
#include "notify.h"
#include "delivery.h"
#include "event.h"
#include "router.h"
#include "seal_status.h"
#include "tsa.h"
#include "store.h"
#include "system.h"
#include "util.h"
#include "verify.h"

#define RUN_MAX_OVERRIDES 64

static void
run_usage(FILE *f)
{
    fprintf(f,
            "usage: seald run --config FILE [--listen ADDR] [--port N]\n"
            "                 [--threads N] [--log-file FILE] [--plain-http]\n"
            "                 [--set section.key=value]...\n");
}

/* Apply "section.key=value" on top of cfg.  The key is what follows the
 * last dot before '=', so "token.dev.pool_size=8" reaches [token.dev]. */
static err_code
apply_override(struct config *cfg, const char *spec, struct err *e)
{
    char section[64], key[64];
    const char *eq = strchr(spec, '='), *dot = NULL, *p;

    for (p = spec; eq != NULL && p < eq; p++)
        if (*p == '.')
            dot = p;

    if (dot == NULL || eq == NULL || dot > eq ||
        (size_t)(dot - spec) >= sizeof(section) ||
        (size_t)(eq - dot - 1) >= sizeof(key))
        return err_set(e, ERR_CONFIG, "--set %s: expected section.key=value",
                       spec);
    snprintf(section, sizeof(section), "%.*s", (int)(dot - spec), spec);
    snprintf(key, sizeof(key), "%.*s", (int)(eq - dot - 1), dot + 1);
    return config_set(cfg, section, key, eq + 1, e);
}

/* Contract: cmd.h.  The development token finds its key directory through
 * the environment, set here before the module loads. */
err_code
cmd_open_tokens(const struct config *cfg, struct custody **out,
                struct err *e)
{
    struct custody_token_conf confs[CONFIG_MAX_TOKENS];
    size_t i;

    *out = NULL;
    for (i = 0; i < cfg->ntokens; i++) {
        confs[i] = cfg->tokens[i].c;
        if (cfg->tokens[i].devtoken_dir[0] != '\0')
            setenv("SEALD_DEVTOKEN_DIR", cfg->tokens[i].devtoken_dir, 1);
    }
    if (cfg->ntokens == 0)
        return ERR_OK;
    return custody_open(confs, cfg->ntokens, out, e);
}

/* The trusted audit key file (audit.public_key) must hold the public key
 * of keys.audit: it is what offline verification and restore pin the
 * checkpoints to.  A missing file is written from the token (the token is
 * the authority; the database never is). */
static err_code
check_audit_key(const struct app *app, struct err *e)
{
    const char *path = app->cfg->audit_public_key;
    char tok[CUSTODY_NAME_MAX], id[CUSTODY_ID_HEX_MAX];
    uint8_t *der = NULL, file[AUDIT_PUBKEY_MAX];
    size_t n = 0, flen = 0;
    err_code rc;

    if (path[0] == '\0')
        return err_set(e, ERR_CONFIG, "audit.public_key is required with "
                       "keys.audit");
    if ((rc = config_keyref(app->cfg->audit_key, tok, id, e)) != ERR_OK ||
        (rc = custody_public_key_der(app->custody, tok, id, &der, &n, e))
        != ERR_OK)
        return rc;
    if (access(path, F_OK) != 0) {
        if ((rc = audit_trusted_key_write(path, der, n, e)) == ERR_OK)
            log_event(LOG_INFO, "audit_key_written", "path=%s", path);
    } else if ((rc = audit_trusted_key_load(path, file, &flen, e))
               == ERR_OK && (flen != n || memcmp(file, der, n) != 0)) {
        rc = err_set(e, ERR_CONFIG, "audit.public_key %s is not the public "
                     "key of keys.audit %s", path, app->cfg->audit_key);
    }
    free(der);
    return rc;
}

/* Warn when the sink file shares a file system with the database: it is
 * meant to survive an attacker who rewrites the database's volume. */
static void
warn_sink_volume(const struct config *cfg)
{
    char dir[PATH_MAX], *slash;
    struct stat a, b;

    snprintf(dir, sizeof(dir), "%s", cfg->audit_sink_file);
    if ((slash = strrchr(dir, '/')) != NULL)
        *(slash == dir ? slash + 1 : slash) = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    if (stat(dir, &a) == 0 && config_db_file(cfg) != NULL &&
        stat(config_db_file(cfg), &b) == 0 &&
        a.st_dev == b.st_dev)
        log_event(LOG_WARN, "audit_sink_same_volume", "path=%s "
                  "msg=\"the audit sink file is on the database's file "
                  "system; put it on another volume\"",
                  cfg->audit_sink_file);
}

/* The automatic checkpointer (audit.h), with the configured sinks. */
static err_code
start_checkpointer(const struct app *app, struct err *e)
{
    const struct config *cfg = app->cfg;
    struct audit_checkpointer_conf cc;

    memset(&cc, 0, sizeof(cc));
    cc.cust = app->custody;
    cc.key_ref = cfg->audit_key;
    cc.every = cfg->audit_checkpoint_every;
    cc.seconds = cfg->audit_checkpoint_seconds;
    cc.prechain = cfg->audit_prechain_entries;
    cc.sink.file = cfg->audit_sink_file;
    cc.sink.syslog = cfg->audit_sink_syslog;
    if (cfg->audit_sink_file[0] != '\0')
        warn_sink_volume(cfg);
    return audit_checkpointer_start(app->store, &cc, e);
}

/* The SM3 of seal files made before migration 010, by which GET
 * /status/sm3/... finds them (seal_status.h). */
static err_code
fill_seal_hashes(struct app *app, struct err *e)
{
    struct store_conn *db;
    int n = 0;
    err_code rc;

    if ((rc = store_conn_get(app->store, &db, e)) != ERR_OK ||
        (rc = seal_hash_backfill(db, &n, e)) != ERR_OK)
        return rc;
    if (n > 0)
        log_event(LOG_INFO, "seal_hashes_filled", "seals=%d", n);
    return ERR_OK;
}

/* After the listener has stopped, nothing can be counted any more: write
 * the last window's refusal summaries and failed authentications, so that
 * none is lost at shutdown.  A failure is logged and makes the exit status
 * say so. */
static err_code
flush_counts(struct app *app)
{
    struct store_conn *db;
    struct err e;
    err_code rc;

    err_clear(&e);
    if ((rc = store_conn_get(app->store, &db, &e)) != ERR_OK ||
        (rc = audit_refusals_flush(db, NULL, &e)) != ERR_OK ||
        (rc = lockout_flush(db, util_now_ms(), NULL, &e)) != ERR_OK) {
        log_event(LOG_ERROR, "shutdown_failed", "msg=%s", e.msg);
        fprintf(stderr, "seald: refusal summaries or failed "
                "authentications not written: %s\n", e.msg);
    }
    return rc;
}

/* Is seald ready: the database and every token answer, as GET /readyz
 * checks them (system_readiness)?  The first time it is, tell the service
 * manager (a Type=notify unit then starts what waits for seald only when
 * seald can sign).  Not ready: the reason is logged once, and the caller
 * asks again. */
static int
ready_yet(struct app *app, int *said_not)
{
    struct store_conn *db;
    json_t *tokens = NULL;
    struct err e;
    err_code rc;

    err_clear(&e);
    if ((rc = store_conn_get(app->store, &db, &e)) == ERR_OK)
        rc = system_readiness(app, db, &tokens, &e);
    json_decref(tokens);
    if (rc != ERR_OK) {
        if (!*said_not)
            log_event(LOG_WARN, "not_ready", "msg=\"%s; retrying every "
                      "second\"", e.msg);
        *said_not = 1;
        return 0;
    }
    notify_ready();
    if (*said_not)
        log_event(LOG_INFO, "ready", "msg=\"database and tokens answer\"");
    return 1;
}

/* Wait for signals until told to stop; until seald is ready (ready_yet),
 * look again every second. */
static void
wait_for_stop(struct app *app, const sigset_t *set)
{
    const struct timespec second = {1, 0};
    struct err e;
    int sig, ready = 0, said_not = 0;

    for (;;) {
        if (!ready)
            ready = ready_yet(app, &said_not);
        if (ready) {
            if (sigwait(set, &sig) != 0)
                continue;
        } else if ((sig = sigtimedwait(set, NULL, &second)) < 0) {
            continue;       /* a second has passed: look again */
        }
        if (sig == SIGHUP) {
            err_clear(&e);
            if (log_reopen(&e) != ERR_OK)
                fprintf(stderr, "seald: %s\n", e.msg);
            log_event(LOG_INFO, "log_reopened", "signal=HUP");
            continue;
        }
        log_event(LOG_INFO, "stopping", "signal=%s",
                  sig == SIGTERM ? "TERM" : "INT");
        notify_stopping();
        atomic_store(&app->stopping, 1);
        return;
    }
}

int
cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, 'l'},
        {"port", required_argument, NULL, 'p'},
        {"threads", required_argument, NULL, 't'},
        {"log-file", required_argument, NULL, 'L'},
        {"plain-http", no_argument, NULL, 'P'},
        {"set", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *conf_path = NULL;
    char *ovr[RUN_MAX_OVERRIDES];
    char buf[PATH_MAX + 64];
    size_t novr = 0, i;
    struct config cfg;
    struct app app;
    struct http_server *srv = NULL;
    struct maintenance *maint = NULL;
    struct delivery *deliv = NULL;
    sigset_t set;
    struct err e;
    int ch, applied = 0, status = CMD_EXIT_FAIL;

    memset(&app, 0, sizeof(app));
    err_clear(&e);
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:l:p:t:L:Ps:h", opts, NULL))
           != -1) {
        const char *key = NULL;  /* NULL: optarg is section.key=value */
        switch (ch) {
        case 'c': conf_path = optarg; continue;
        case 'l': key = "server.listen"; break;
        case 'p': key = "server.port"; break;
        case 't': key = "server.threads"; break;
        case 'L': key = "log.file"; break;
        case 'P': key = "server.plain_http"; optarg = "yes"; break;
        case 's': break;
        case 'h': run_usage(stdout); return CMD_EXIT_OK;
        default: run_usage(stderr); return CMD_EXIT_USAGE;
        }
        if (novr == RUN_MAX_OVERRIDES) {
            fprintf(stderr, "seald run: too many overrides\n");
            goto out;
        }
        if (key != NULL)
            snprintf(buf, sizeof(buf), "%s=%s", key, optarg);
        else
            snprintf(buf, sizeof(buf), "%s", optarg);
        if ((ovr[novr] = strdup(buf)) == NULL)
            goto out;
        novr++;
    }
    if (conf_path == NULL || optind != argc) {
        run_usage(stderr);
        status = CMD_EXIT_USAGE;
        goto out;
    }

    config_defaults(&cfg);
    if (config_load(&cfg, conf_path, &e) != ERR_OK)
        goto config_error;
    /* Command-line paths are relative to where the operator stands. */
    snprintf(cfg.base_dir, sizeof(cfg.base_dir), ".");
    for (i = 0; i < novr; i++)
        if (apply_override(&cfg, ovr[i], &e) != ERR_OK)
            goto config_error;
    if (config_validate(&cfg, &e) != ERR_OK)
        goto config_error;

    if (log_open(cfg.log_file, cfg.log_level, &e) != ERR_OK ||
        log_format_set(cfg.log_format, &e) != ERR_OK)
        goto config_error;
    app.cfg = &cfg;
    app.started_ms = util_now_ms();
    if ((app.limiter = ratelimit_new((double)cfg.rate_limit_rps,
                                     (double)cfg.rate_limit_burst)) == NULL) {
        err_set(&e, ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((app.verify_limiter = ratelimit_new(
             (double)cfg.verify_rate_limit_rps,
             (double)cfg.verify_rate_limit_burst)) == NULL ||
        (app.verify_bulk_limiter = ratelimit_new(
             (double)cfg.verify_bulk_rate_limit_rps,
             (double)cfg.verify_bulk_rate_limit_burst))
        == NULL ||
        (app.status_limiter = ratelimit_new(
             (double)cfg.status_rate_limit_rps,
             (double)cfg.status_rate_limit_burst)) == NULL ||
        (app.status_global = ratelimit_new(
             (double)cfg.status_global_rate_limit_rps,
             (double)cfg.status_global_rate_limit_burst)) == NULL ||
        (app.status_cache = status_cache_new()) == NULL ||
        (app.public_verify_limiter = ratelimit_new(
             (double)cfg.public_verify_rate_limit_rps,
             (double)cfg.public_verify_rate_limit_burst)) == NULL ||
        (app.public_verify_budget = api_public_budget_new(&cfg)) == NULL ||
        (app.tsa_limiter = ratelimit_new(
             (double)cfg.tsa_serve_rate_limit_rps,
             (double)cfg.tsa_serve_rate_limit_burst)) == NULL) {
        err_set(&e, ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (cmd_open_tokens(&cfg, &app.custody, &e) != ERR_OK ||
        tsa_anchors_load(cfg.tsa_anchors_dir, &e) != ERR_OK)
        goto fail;
    if (idtoken_open(&cfg, &app.idtoken, &e) != ERR_OK ||
        fwdcert_trust_open(&cfg, &app.fwdcert, &e) != ERR_OK ||
        auth_key_load(cfg.secret_file, &app.key, &e) != ERR_OK ||
        store_open(cfg.db_url, cfg.db_password_file, cfg.db_busy_timeout_ms, 0,
                   &app.store, &e)
        != ERR_OK ||
        store_migrate(app.store, &applied, &e) != ERR_OK)
        goto fail;
    if (applied > 0)
        log_event(LOG_INFO, "migrated", "applied=%d", applied);
    if (fill_seal_hashes(&app, &e) != ERR_OK)
        goto fail;
    if (app.custody != NULL) {
        int made = 0;
        struct err ke;
        if (blobcrypt_start(app.custody, app.store, cfg.data_key_cache_seconds,
                            &e) != ERR_OK)
            goto fail;
        /* an instance made before encryption at rest gets its first data
         * key here; without one, blob writes answer 503 until `seald
         * data-key rotate` makes it (a token without SM2 decryption) */
        err_clear(&ke);
        if (blobcrypt_ensure_key(app.store, app.custody, &made, &ke) != ERR_OK)
            log_event(LOG_WARN, "data_key_missing", "msg=%s", ke.msg);
        else if (made)
            log_event(LOG_INFO, "data_key_created", "msg=%s",
                      "first data key of encryption at rest");
    }

    /* Block the signals before any thread starts, so that only sigwait()
     * in this thread ever sees them. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (app.custody != NULL && cfg.audit_key[0] != '\0' &&
        (check_audit_key(&app, &e) != ERR_OK ||
         start_checkpointer(&app, &e) != ERR_OK))
        goto fail;
    if (http_start(&app, &api_routes, &srv, &e) != ERR_OK ||
        maintenance_start(&app, &maint, &e) != ERR_OK ||
        delivery_start(&app, &deliv, &e) != ERR_OK)
        goto fail;
    /* node: this process's id in the cluster, which the job leases name
     * (lease.h) */
    log_event(LOG_INFO, "listening", "url=%s://%s:%ld threads=%ld pid=%ld "
              "node=%s", cfg.plain_http ? "http" : "https", cfg.listen,
              cfg.port, cfg.threads, (long)getpid(), lease_node_id());
    printf("seald %s listening on %s://%s%s%s:%ld (pid %ld); stop with "
           "Ctrl-C or kill -TERM %ld\n", SEALD_VERSION,
           cfg.plain_http ? "http" : "https",
           strchr(cfg.listen, ':') ? "[" : "", cfg.listen,
           strchr(cfg.listen, ':') ? "]" : "", cfg.port, (long)getpid(),
           (long)getpid());
    fflush(stdout);

    wait_for_stop(&app, &set);
    event_shutdown();               /* long-polling readers answer now */
    http_stop(srv, cfg.shutdown_timeout * 1000);
    srv = NULL;
    if (flush_counts(&app) != ERR_OK)
        goto out;
    log_event(LOG_INFO, "stopped", "msg=\"clean shutdown\"");
    status = CMD_EXIT_OK;
    goto out;

config_error:
    fprintf(stderr, "seald: %s\n", e.msg);
    status = CMD_EXIT_CONFIG;
    goto out;
fail:
    log_event(LOG_ERROR, "startup_failed", "msg=%s", e.msg);
    fprintf(stderr, "seald: %s\n", e.msg);
out:
    event_shutdown();
    delivery_stop(deliv);
    maintenance_stop(maint);
    http_stop(srv, 0);
    audit_checkpointer_stop();      /* after the last append: signs it */
    blobcrypt_stop();               /* wipes the kept data keys */
    store_close(app.store);
    auth_key_free(app.key);
    idtoken_free(app.idtoken);
    fwdcert_trust_free(app.fwdcert);
    ratelimit_free(app.limiter);
    ratelimit_free(app.verify_limiter);
    ratelimit_free(app.verify_bulk_limiter);
    ratelimit_free(app.status_limiter);
    ratelimit_free(app.tsa_limiter);
    ratelimit_free(app.status_global);
    status_cache_free(app.status_cache);
    ratelimit_free(app.public_verify_limiter);
    cpubudget_free(app.public_verify_budget);
    custody_close(app.custody);
    log_close();
    for (i = 0; i < novr; i++)
        free(ovr[i]);
    return status;
}

/*
 * The listing commands take no arguments: 1 (go on) when argv is just the
 * command; otherwise the usage, on stdout with exit status *rc 0 for
 * --help, on stderr with 64 for anything else, and 0 (stop).
 */
static int
listing_args(int argc, char **argv, const char *what, int *rc)
{
    int help;

    if (argc <= 1)
        return 1;
    help = argc == 2 &&
           (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
    fprintf(help ? stdout : stderr, "usage: seald %s\n  %s\n", argv[0], what);
    *rc = help ? CMD_EXIT_OK : CMD_EXIT_USAGE;
    return 0;
}

int
cmd_routes(int argc, char **argv)
{
    json_t *t;
    int rc;

    if (!listing_args(argc, argv, "Print the API's routing table as JSON.",
                      &rc))
        return rc;
    t = router_describe(&api_routes);

    if (t == NULL || json_dumpf(t, stdout, JSON_INDENT(2)) != 0) {
        json_decref(t);
        return CMD_EXIT_FAIL;
    }
    putchar('\n');
    json_decref(t);
    return CMD_EXIT_OK;
}

int
cmd_permissions(int argc, char **argv)
{
    json_t *m;
    int rc;

    if (!listing_args(argc, argv, "Print the role x route permission matrix "
                      "as JSON.", &rc))
        return rc;
    m = router_matrix(&api_routes);

    if (m == NULL || json_dumpf(m, stdout, JSON_INDENT(2)) != 0) {
        json_decref(m);
        return CMD_EXIT_FAIL;
    }
    putchar('\n');
    json_decref(m);
    return CMD_EXIT_OK;
}

/* `seald config-keys [--long]`: the key names, or with --long one line a
 * key, tab-separated: key, type, default, range (config_key_describe),
 * which the manual page seald.conf(5) is checked against. */
int
cmd_config_keys(int argc, char **argv)
{
    struct config_key_info k;
    int lng = 0;
    size_t i;
    int rc;

    if (argc == 2 && strcmp(argv[1], "--long") == 0)
        lng = 1;
    else if (!listing_args(argc, argv, "List every configuration key, one "
                           "section.key a line; --long adds its type,\n"
                           "  default and range, tab-separated.", &rc))
        return rc;
    for (i = 0; config_key_describe(i, &k); i++) {
        if (lng)
            printf("%s.%s\t%s\t%s\t%s\n", k.section, k.name, k.type,
                   k.def, k.range);
        else
            printf("%s.%s\n", k.section, k.name);
    }
    return CMD_EXIT_OK;
}
