/* test_config.c - config parsing: defaults, every key, errors with line. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"

static char *
write_tmp(const char *text)
{
    static char path[64];
    FILE *f;
    int fd;

    snprintf(path, sizeof(path), "/tmp/seald-test-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void
test_defaults_validate(void **state)
{
    struct config cfg;
    struct err e;

    config_defaults(&cfg);
    assert_int_equal(config_validate(&cfg, &e), ERR_OK);
    assert_int_equal(cfg.port, 8443);
    assert_false(cfg.plain_http);
}

static void
test_load_and_relative_paths(void **state)
{
    struct config cfg;
    struct err e;
    char *p = write_tmp("[server]\nport = 9000\nthreads = 8\n"
                        "[database]\npath = x.db\n");

    config_defaults(&cfg);
    assert_int_equal(config_load(&cfg, p, &e), ERR_OK);
    assert_int_equal(cfg.port, 9000);
    assert_int_equal(cfg.threads, 8);
    assert_string_equal(cfg.db_url, "/tmp/x.db");
    unlink(p);
}

/* database.url: a PostgreSQL URL is kept byte for byte (a relative-path
 * rewrite would break it), sqlite:PATH and a bare path are files resolved
 * against the config's directory, and a password file beside a file is
 * refused. */
static void
test_database_url(void **state)
{
    static const char pg[] =
        "postgresql://seald@db.example:5432/seald?sslmode=verify-full";
    struct config cfg;
    struct err e;
    char text[256], *p;

    snprintf(text, sizeof(text), "[database]\nurl = %s\n"
             "password_file = pw\n", pg);
    p = write_tmp(text);
    config_defaults(&cfg);
    assert_int_equal(config_load(&cfg, p, &e), ERR_OK);
    assert_string_equal(cfg.db_url, pg);
    assert_null(config_db_file(&cfg));
    assert_string_equal(cfg.db_password_file, "/tmp/pw");
    assert_int_equal(config_validate(&cfg, &e), ERR_OK);
    unlink(p);

    p = write_tmp("[database]\nurl = sqlite:data/s.db\n");
    config_defaults(&cfg);
    assert_int_equal(config_load(&cfg, p, &e), ERR_OK);
    assert_string_equal(cfg.db_url, "/tmp/data/s.db");
    assert_string_equal(config_db_file(&cfg), "/tmp/data/s.db");
    unlink(p);

    p = write_tmp("[database]\nurl = s.db\npassword_file = pw\n");
    config_defaults(&cfg);
    assert_int_equal(config_load(&cfg, p, &e), ERR_OK);
    assert_int_equal(config_validate(&cfg, &e), ERR_CONFIG);
    assert_non_null(strstr(e.msg, "password_file"));
    unlink(p);
    (void)state;
}

static void
test_unknown_key_names_line(void **state)
{
    struct config cfg;
    struct err e;
    char *p = write_tmp("[server]\nport = 9000\n\nbogus = 1\n");

    config_defaults(&cfg);
    assert_int_equal(config_load(&cfg, p, &e), ERR_CONFIG);
    assert_non_null(strstr(e.msg, ":4:"));
    assert_non_null(strstr(e.msg, "unknown key 'server.bogus'"));
    unlink(p);
}

static void
test_unknown_section(void **state)
{
    struct config cfg;
    struct err e;
    char *p = write_tmp("[nope]\nport = 1\n");

    config_defaults(&cfg);
    assert_int_equal(config_load(&cfg, p, &e), ERR_CONFIG);
    assert_non_null(strstr(e.msg, ":2:"));
    unlink(p);
}

static void
test_invalid_values(void **state)
{
    struct config cfg;
    struct err e;

    config_defaults(&cfg);
    assert_int_equal(config_set(&cfg, "server", "port", "70000", &e),
                     ERR_CONFIG);
    assert_non_null(strstr(e.msg, "server.port"));
    assert_int_equal(config_set(&cfg, "server", "port", "12x", &e),
                     ERR_CONFIG);
    assert_int_equal(config_set(&cfg, "server", "port", "", &e), ERR_CONFIG);
    assert_int_equal(config_set(&cfg, "server", "plain_http", "maybe", &e),
                     ERR_CONFIG);
    assert_int_equal(config_set(&cfg, "log", "level", "loud", &e),
                     ERR_CONFIG);
    assert_int_equal(config_set(&cfg, "server", "threads", "0", &e),
                     ERR_CONFIG);
    assert_int_equal(cfg.port, 8443);   /* unchanged by failed sets */
    /* the OFD inflation budget: 1 MiB to 256 MiB, 64 MiB by default */
    assert_int_equal(cfg.ofd_max_inflated_bytes, 64L << 20);
    assert_int_equal(config_set(&cfg, "ofd", "max_inflated_bytes", "1048575",
                                &e), ERR_CONFIG);
    assert_int_equal(config_set(&cfg, "ofd", "max_inflated_bytes",
                                "268435457", &e), ERR_CONFIG);
    assert_int_equal(config_set(&cfg, "ofd", "max_inflated_bytes", "1048576",
                                &e), ERR_OK);
    assert_int_equal(cfg.ofd_max_inflated_bytes, 1L << 20);
}

static void
test_plain_http_only_on_loopback(void **state)
{
    struct config cfg;
    struct err e;

    config_defaults(&cfg);
    assert_int_equal(config_set(&cfg, "server", "plain_http", "yes", &e),
                     ERR_OK);
    assert_int_equal(config_validate(&cfg, &e), ERR_OK);
    assert_int_equal(config_set(&cfg, "server", "listen", "0.0.0.0", &e),
                     ERR_OK);
    assert_int_equal(config_validate(&cfg, &e), ERR_CONFIG);
    assert_non_null(strstr(e.msg, "loopback"));
    assert_int_equal(config_set(&cfg, "server", "listen", "::1", &e), ERR_OK);
    assert_int_equal(config_validate(&cfg, &e), ERR_OK);
    assert_int_equal(config_set(&cfg, "server", "listen", "localhost", &e),
                     ERR_OK);
    assert_int_equal(config_validate(&cfg, &e), ERR_CONFIG);
}

/* [gateway] is all or nothing: both DNs, server.client_ca to verify the
 * gateway, gateway.client_ca for what it forwards, header names that are
 * tokens and not Authorization; its CA bundle alone is no gateway. */
static void
test_gateway_all_or_nothing(void **state)
{
    static const struct { const char *key, *value, *words; } steps[] = {
        {"client_ca", "ca.pem", "gateway.subject is empty"},
        {"subject", "CN=gw,O=Bureau,C=CN", "go together"},
        {"issuer", "CN=Internal CA,C=CN", "server.client_ca"},
    };
    struct config cfg;
    struct err e;
    size_t i;

    (void)state;
    config_defaults(&cfg);
    assert_int_equal(config_validate(&cfg, &e), ERR_OK);
    for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        assert_int_equal(config_set(&cfg, "gateway", steps[i].key,
                                    steps[i].value, &e), ERR_OK);
        assert_int_equal(config_validate(&cfg, &e), ERR_CONFIG);
        assert_non_null(strstr(e.msg, steps[i].words));
    }
    assert_int_equal(config_set(&cfg, "server", "client_ca", "gw-ca.pem", &e),
                     ERR_OK);
    assert_int_equal(config_validate(&cfg, &e), ERR_OK);
    assert_int_equal(config_set(&cfg, "gateway", "client_ca", "", &e), ERR_OK);
    assert_int_equal(config_validate(&cfg, &e), ERR_CONFIG);
    assert_non_null(strstr(e.msg, "needs gateway.client_ca"));
    assert_int_equal(config_set(&cfg, "gateway", "client_ca", "ca.pem", &e),
                     ERR_OK);
    assert_int_equal(config_set(&cfg, "gateway", "client_cert_header",
                                "X Client", &e), ERR_OK);
    assert_int_equal(config_validate(&cfg, &e), ERR_CONFIG);
    assert_non_null(strstr(e.msg, "HTTP header names"));
    assert_int_equal(config_set(&cfg, "gateway", "client_cert_header",
                                "authorization", &e), ERR_OK);
    assert_int_equal(config_validate(&cfg, &e), ERR_CONFIG);
    assert_int_equal(config_set(&cfg, "gateway", "client_cert_header",
                                "X-Forwarded-For", &e), ERR_OK);
    assert_int_equal(config_validate(&cfg, &e), ERR_CONFIG);
    assert_int_equal(config_set(&cfg, "gateway", "client_cert_header",
                                "Ssl-Client-Cert", &e), ERR_OK);
    assert_int_equal(config_validate(&cfg, &e), ERR_OK);
}

/* Every key in the table is documented in the example file, and the
 * example file (which init writes) loads cleanly. */
static void
test_example_documents_every_key(void **state)
{
    const char *section, *name;
    char needle[128], *p;
    struct config cfg;
    struct err e;
    size_t i;

    for (i = 0; (name = config_key_at(i, &section)) != NULL; i++) {
        /* token keys are documented in a commented-out template section */
        snprintf(needle, sizeof(needle), "\n%s%s =",
                 strcmp(section, "token.*") == 0 ||
                 strcmp(section, "issuer.*") == 0 ||
                 strcmp(section, "destination.*") == 0 ? ";" : "", name);
        assert_non_null(strstr(config_example, needle));
    }
    assert_true(i >= 25);
    p = write_tmp(config_example);
    config_defaults(&cfg);
    assert_int_equal(config_load(&cfg, p, &e), ERR_OK);
    assert_int_equal(config_validate(&cfg, &e), ERR_OK);
    unlink(p);
}

static void
test_token_sections(void **state)
{
    struct config cfg;
    struct err e;
    char tok[CUSTODY_NAME_MAX], id[CUSTODY_ID_HEX_MAX];
    char *p = write_tmp("[token.dev]\nmodule = /x.so\nprofile = sm2-tass\n"
                        "token_label = t\npin_file = pin\nslot = 2\n"
                        "[keys]\naudit = dev/0a0b\n");

    config_defaults(&cfg);
    assert_int_equal(config_load(&cfg, p, &e), ERR_OK);
    assert_int_equal(cfg.ntokens, 1);
    assert_string_equal(cfg.tokens[0].c.name, "dev");
    assert_string_equal(cfg.tokens[0].c.profile, "sm2-tass");
    assert_string_equal(cfg.tokens[0].c.pin_file, "/tmp/pin");
    assert_int_equal(cfg.tokens[0].c.slot, 2);
    assert_int_equal(config_validate(&cfg, &e), ERR_OK);
    assert_int_equal(config_keyref(cfg.audit_key, tok, id, &e), ERR_OK);
    assert_string_equal(tok, "dev");
    assert_string_equal(id, "0a0b");
    /* bad profile, missing PIN source, dangling key reference */
    assert_int_equal(config_set(&cfg, "token.dev", "profile", "sm9", &e),
                     ERR_CONFIG);
    assert_int_equal(config_set(&cfg, "token.dev", "colour", "red", &e),
                     ERR_CONFIG);
    assert_int_equal(config_set(&cfg, "token.dev", "pin_env", "X", &e),
                     ERR_OK);
    assert_int_equal(config_validate(&cfg, &e), ERR_CONFIG);
    assert_non_null(strstr(e.msg, "exactly one"));
    cfg.tokens[0].c.pin_env[0] = '\0';
    assert_int_equal(config_set(&cfg, "keys", "audit", "hsm/01", &e), ERR_OK);
    assert_int_equal(config_validate(&cfg, &e), ERR_CONFIG);
    assert_int_equal(config_keyref("nohex/zz", tok, id, &e), ERR_CONFIG);
    unlink(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_validate),
        cmocka_unit_test(test_load_and_relative_paths),
        cmocka_unit_test(test_database_url),
        cmocka_unit_test(test_unknown_key_names_line),
        cmocka_unit_test(test_unknown_section),
        cmocka_unit_test(test_invalid_values),
        cmocka_unit_test(test_plain_http_only_on_loopback),
        cmocka_unit_test(test_gateway_all_or_nothing),
        cmocka_unit_test(test_example_documents_every_key),
        cmocka_unit_test(test_token_sections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
