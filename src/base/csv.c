/*
 * csv.c - the one CSV writer (csv.h): RFC 4180 quoting and the
 * formula-injection guard, into a growing buffer bounded by the caller's
 * limit.  The audit export (audit.c) and the usage report (api_sign.c)
 * both write through it, so the guard cannot be missing from one of them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

#define CSV_FIRST_CAP 4096

/* The bytes that make a spreadsheet read a cell as a formula (OWASP's
 * list for CSV injection). */
static const char formula_start[] = "=+-@\t\r";

void
csv_init(struct csv *w, size_t max)
{
    memset(w, 0, sizeof(*w));
    w->max = max ? max : SIZE_MAX - 1;
}

/* Room for n more bytes and the NUL, within max. */
static err_code
reserve(struct csv *w, size_t n, struct err *e)
{
    size_t want, c;
    char *p;

    if (n > w->max - w->len)
        return err_set(e, ERR_TOO_LARGE, "CSV larger than %zu bytes", w->max);
    want = w->len + n + 1;
    if (want <= w->cap)
        return ERR_OK;
    c = w->cap ? w->cap : CSV_FIRST_CAP;
    while (c < want)
        c = c > SIZE_MAX / 2 ? want : c * 2;
    if ((p = realloc(w->buf, c)) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    w->buf = p;
    w->cap = c;
    return ERR_OK;
}

static err_code
put(struct csv *w, const char *s, size_t n, struct err *e)
{
    err_code rc;

    if ((rc = reserve(w, n, e)) != ERR_OK)
        return rc;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
    return ERR_OK;
}

/* The comma before every field but a row's first. */
static err_code
separate(struct csv *w, struct err *e)
{
    return w->fields++ > 0 ? put(w, ",", 1, e) : ERR_OK;
}

err_code
csv_text(struct csv *w, const char *s, struct err *e)
{
    const char *q;
    err_code rc;

    if (s == NULL)
        s = "";
    if ((rc = separate(w, e)) != ERR_OK ||
        (rc = put(w, "\"", 1, e)) != ERR_OK)
        return rc;
    if (s[0] != '\0' && strchr(formula_start, s[0]) != NULL &&
        (rc = put(w, "'", 1, e)) != ERR_OK)
        return rc;
    /* copy up to and including each quote, then double it */
    while ((q = strchr(s, '"')) != NULL) {
        if ((rc = put(w, s, (size_t)(q - s) + 1, e)) != ERR_OK ||
            (rc = put(w, "\"", 1, e)) != ERR_OK)
            return rc;
        s = q + 1;
    }
    if ((rc = put(w, s, strlen(s), e)) != ERR_OK)
        return rc;
    return put(w, "\"", 1, e);
}

err_code
csv_int(struct csv *w, int64_t v, struct err *e)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%" PRId64, v);
    err_code rc;

    if ((rc = separate(w, e)) != ERR_OK)
        return rc;
    return put(w, num, (size_t)n, e);
}

err_code
csv_end_row(struct csv *w, struct err *e)
{
    w->fields = 0;
    return put(w, "\r\n", 2, e);
}

err_code
csv_text_row(struct csv *w, const char *const *fields, size_t n,
             struct err *e)
{
    size_t i;
    err_code rc;

    for (i = 0; i < n; i++)
        if ((rc = csv_text(w, fields[i], e)) != ERR_OK)
            return rc;
    return csv_end_row(w, e);
}

void
csv_clear(struct csv *w)
{
    w->len = 0;
    w->fields = 0;
    if (w->buf != NULL)
        w->buf[0] = '\0';
}

err_code
csv_take(struct csv *w, char **out, size_t *len, struct err *e)
{
    err_code rc;

    if (w->buf == NULL && (rc = reserve(w, 0, e)) != ERR_OK)
        return rc;
    w->buf[w->len] = '\0';
    *out = w->buf;
    *len = w->len;
    w->buf = NULL;
    w->len = w->cap = 0;
    w->fields = 0;
    return ERR_OK;
}

void
csv_free(struct csv *w)
{
    free(w->buf);
    w->buf = NULL;
    w->len = w->cap = 0;
    w->fields = 0;
}
