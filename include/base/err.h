/*
 * err.h - the one error type of seald.
 *
 * Every function that can fail returns an err_code (ERR_OK == 0) and, when the
 * caller passes a non-NULL struct err, fills in a human-readable message.  The
 * code is the stable contract (it is what API clients see as error.code); the
 * message is for people and may change.  err.c owns the code -> name and the
 * code -> HTTP status tables: nothing else maps errors to statuses.
 */
#ifndef SEALD_ERR_H
#define SEALD_ERR_H

#include <stdarg.h>
#include <stddef.h>

typedef enum err_code {
    ERR_OK = 0,
    ERR_BAD_REQUEST,      /* malformed request: syntax, missing field        */
    ERR_BAD_JSON,         /* request body is not valid JSON                  */
    ERR_INVALID,          /* well-formed but a value is out of range/invalid */
    ERR_MALFORMED,        /* binary input (DER, image, zip) cannot be parsed */
    ERR_UNAUTHENTICATED,  /* no or bad credential                            */
    ERR_FORBIDDEN,        /* authenticated but not allowed                   */
    ERR_NOT_FOUND,        /* unknown id or route                             */
    ERR_METHOD,           /* route exists, method does not                   */
    ERR_CONFLICT,         /* wrong state for this transition, duplicate      */
    ERR_TOO_LARGE,        /* body, field or count over a configured limit    */
    ERR_HEADERS_TOO_LARGE,/* request headers over the configured limit       */
    ERR_UNSUPPORTED,      /* media type or format version not supported      */
    ERR_RATE_LIMITED,     /* too many requests                               */
    ERR_NOMEM,            /* allocation failed                               */
    ERR_IO,               /* file system error                               */
    ERR_DB,               /* database error                                  */
    ERR_CRYPTO,           /* a cryptographic library call failed             */
    ERR_HSM_UNAVAILABLE,  /* the token / HSM is gone or not logged in        */
    ERR_DB_UNAVAILABLE,   /* the database server cannot be reached           */
    ERR_UNAVAILABLE,      /* service not ready (shutting down, db down)      */
    ERR_TSA_UNAVAILABLE,  /* the TSA failed and policy requires a timestamp  */
    ERR_BUSY,             /* a shared limit is reached (body memory budget)  */
    ERR_CONFIG,           /* configuration invalid                           */
    ERR_INTERNAL,         /* a bug: should never reach a client              */
    ERR_TOKEN_INVALID,    /* a person's identity token is not acceptable     */
    ERR_TOKEN_EXPIRED,    /* a person's identity token is outside its time   */
    ERR_SEAL_SCOPE,       /* the seal's kind may not seal this document type */
    ERR_MATERIALS_MISSING,/* an application lacks materials its kind needs   */
    ERR_FORWARDED_IDENTITY,/* a forwarded identity header from a non-gateway */
    ERR__COUNT
} err_code;

#define ERR_MSG_MAX 256

struct err {
    err_code code;
    char     msg[ERR_MSG_MAX];
};

/* Record code and a printf-style message in *e (if e != NULL); returns code so
 * callers can write `return err_set(e, ERR_INVALID, "bad %s", x);`.  The
 * message is formatted in a buffer of err_set's own and then copied, so an
 * argument may point into e->msg itself; to add context to an error, though,
 * say so with err_wrap.  The message is UTF-8 (util_utf8_repair): a
 * request's bytes quoted in it, or a "%.64s" or the ERR_MSG_MAX cut through
 * a character, become '?', since the message goes out as JSON and into the
 * audit log's TEXT. */
err_code err_set(struct err *e, err_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* err_set for functions that take a format and arguments of their own. */
err_code err_vset(struct err *e, err_code code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Add context in front of the message *e already holds: the code becomes
 * code and the message "<fmt expanded>: <previous message>" (just the
 * context if there was no message), cut at ERR_MSG_MAX - 1 bytes.  The one
 * way to prefix an error: `return err_wrap(e, ERR_INVALID, "limit");` after a
 * failed util_parse_long gives "limit: 0 is out of range [1, 500]".  With
 * e == NULL it only returns code. */
err_code err_wrap(struct err *e, err_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reset *e to ERR_OK with an empty message. */
void err_clear(struct err *e);

/* Stable lowercase identifier of a code, e.g. "not_found".  Never NULL. */
const char *err_name(err_code code);

/* The HTTP status for a code.  The only place statuses are chosen for errors. */
int err_http_status(err_code code);

#endif
