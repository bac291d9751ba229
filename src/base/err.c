/*
 * err.c - names and HTTP statuses of seald's error codes, and the helpers
 * that fill struct err.  Adding a code means adding one row to the table.
 * Every message is formatted through err_vset, in a buffer apart from the
 * struct it fills.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "util.h"

static const struct {
    const char *name;
    int         http;
} err_table[ERR__COUNT] = {
    [ERR_OK]              = {"ok", 200},
    [ERR_BAD_REQUEST]     = {"bad_request", 400},
    [ERR_BAD_JSON]        = {"invalid_json", 400},
    [ERR_INVALID]         = {"invalid_argument", 422},
    [ERR_MALFORMED]       = {"malformed_input", 400},
    [ERR_UNAUTHENTICATED] = {"unauthenticated", 401},
    [ERR_FORBIDDEN]       = {"forbidden", 403},
    [ERR_NOT_FOUND]       = {"not_found", 404},
    [ERR_METHOD]          = {"method_not_allowed", 405},
    [ERR_CONFLICT]        = {"conflict", 409},
    [ERR_TOO_LARGE]       = {"payload_too_large", 413},
    [ERR_HEADERS_TOO_LARGE] = {"headers_too_large", 431},
    [ERR_UNSUPPORTED]     = {"unsupported", 415},
    [ERR_RATE_LIMITED]    = {"rate_limited", 429},
    [ERR_NOMEM]           = {"out_of_memory", 503},
    [ERR_IO]              = {"io_error", 500},
    [ERR_DB]              = {"database_error", 503},
    [ERR_CRYPTO]          = {"crypto_error", 500},
    [ERR_HSM_UNAVAILABLE] = {"hsm_unavailable", 503},
    [ERR_DB_UNAVAILABLE]  = {"database_unavailable", 503},
    [ERR_UNAVAILABLE]     = {"unavailable", 503},
    [ERR_TSA_UNAVAILABLE] = {"tsa_unavailable", 503},
    [ERR_BUSY]            = {"server_busy", 503},
    [ERR_CONFIG]          = {"config_error", 500},
    [ERR_INTERNAL]        = {"internal_error", 500},
    [ERR_TOKEN_INVALID]   = {"invalid_token", 401},
    [ERR_TOKEN_EXPIRED]   = {"token_expired", 401},
    [ERR_SEAL_SCOPE]      = {"outside_seal_scope", 422},
    [ERR_MATERIALS_MISSING] = {"materials_missing", 422},
    /* 403, not 400: the request is well formed, but its sender is not the
     * configured gateway and so may not speak for another (gateway.*) */
    [ERR_FORWARDED_IDENTITY] = {"forwarded_identity_refused", 403},
};

err_code
err_vset(struct err *e, err_code code, const char *fmt, va_list ap)
{
    /* Formatted apart, then copied: vsnprintf into e->msg while an argument
     * is read from e->msg is undefined and, with glibc, garbles both. */
    char buf[ERR_MSG_MAX];

    if (e == NULL)
        return code;
    buf[0] = '\0';
    vsnprintf(buf, sizeof(buf), fmt, ap);
    util_utf8_repair(buf);
    e->code = code;
    memcpy(e->msg, buf, strlen(buf) + 1);
    return code;
}

err_code
err_set(struct err *e, err_code code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    err_vset(e, code, fmt, ap);
    va_end(ap);
    return code;
}

err_code
err_wrap(struct err *e, err_code code, const char *fmt, ...)
{
    char context[ERR_MSG_MAX], previous[ERR_MSG_MAX];
    va_list ap;

    if (e == NULL)
        return code;
    memcpy(previous, e->msg, sizeof(previous));
    previous[sizeof(previous) - 1] = '\0';
    va_start(ap, fmt);
    vsnprintf(context, sizeof(context), fmt, ap);
    va_end(ap);
    if (previous[0] == '\0')
        return err_set(e, code, "%s", context);
    return err_set(e, code, "%s: %s", context, previous);
}

void
err_clear(struct err *e)
{
    if (e == NULL)
        return;
    e->code = ERR_OK;
    e->msg[0] = '\0';
}

const char *
err_name(err_code code)
{
    if ((unsigned)code >= ERR__COUNT)
        return "internal_error";
    return err_table[code].name;
}

int
err_http_status(err_code code)
{
    if ((unsigned)code >= ERR__COUNT)
        return 500;
    return err_table[code].http;
}
