/*
 * log.c - the log sink.  One write(2) per line under a mutex, so lines from
 * worker threads never interleave.  log_event formats its key=value part
 * itself: every string value goes through log_value, the one escaping
 * function, so that no client-supplied value (a path, a message quoting
 * input) can end its field, add a field of its own or start a line.  With
 * [log] format = json the same fields go out as one JSON object per line
 * (put_fields_json), every string through json_string, that format's one
 * escaping function.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <limits.h>

#include "log.h"

#define LOG_LINE_MAX 4096
/* Room kept at the end of a line for closing a cut value and the
 * " truncated=1" marker. */
#define LOG_TAIL 32

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = STDERR_FILENO;
static char log_path[PATH_MAX];
static enum log_level log_min = LOG_INFO;
static int log_json;                    /* [log] format = json */

static const char *const level_names[] = {"debug", "info", "warn", "error"};

static err_code
open_path(const char *path, int *fd, struct err *e)
{
    *fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (*fd < 0)
        return err_set(e, ERR_IO, "log file %s: %s", path, strerror(errno));
    return ERR_OK;
}

err_code
log_open(const char *path, const char *level, struct err *e)
{
    int fd = STDERR_FILENO, i;
    err_code rc;

    for (i = 0; i < 4; i++)
        if (level != NULL && strcmp(level, level_names[i]) == 0)
            log_min = (enum log_level)i;
    if (path != NULL && path[0] != '\0') {
        if (strlen(path) >= sizeof(log_path))
            return err_set(e, ERR_CONFIG, "log path too long");
        if ((rc = open_path(path, &fd, e)) != ERR_OK)
            return rc;
    }
    pthread_mutex_lock(&log_lock);
    if (log_fd != STDERR_FILENO)
        close(log_fd);
    log_fd = fd;
    snprintf(log_path, sizeof(log_path), "%s", path ? path : "");
    pthread_mutex_unlock(&log_lock);
    return ERR_OK;
}

err_code
log_reopen(struct err *e)
{
    int fd;
    err_code rc = ERR_OK;

    pthread_mutex_lock(&log_lock);
    if (log_path[0] != '\0') {
        if ((rc = open_path(log_path, &fd, e)) == ERR_OK) {
            close(log_fd);
            log_fd = fd;
        }
    }
    pthread_mutex_unlock(&log_lock);
    return rc;
}

void
log_close(void)
{
    pthread_mutex_lock(&log_lock);
    if (log_fd != STDERR_FILENO)
        close(log_fd);
    log_fd = STDERR_FILENO;
    log_path[0] = '\0';
    pthread_mutex_unlock(&log_lock);
}

err_code
log_format_set(const char *format, struct err *e)
{
    if (format == NULL || strcmp(format, "text") == 0)
        log_json = 0;
    else if (strcmp(format, "json") == 0)
        log_json = 1;
    else
        return err_set(e, ERR_CONFIG, "log.format: '%s' is neither text nor "
                       "json", format);
    return ERR_OK;
}

/* A line being built; cut once something did not fit. */
struct line {
    char   b[LOG_LINE_MAX];
    size_t n;
    int    cut;
};

/* Append n bytes whole, or nothing (and mark the line cut). */
static int
put(struct line *l, const char *s, size_t n)
{
    if (l->cut || l->n + n > sizeof(l->b) - LOG_TAIL) {
        l->cut = 1;
        return 0;
    }
    memcpy(l->b + l->n, s, n);
    l->n += n;
    return 1;
}

/* Bytes a value may hold unquoted: none that separates fields (space, =),
 * opens or escapes a quoted value, or ends a line; non-ASCII is quoted. */
static int
bare_byte(unsigned char c)
{
    return c < 0x80 && (isalnum(c) || strchr("-._:/@+~%,", c) != NULL);
}

/* Append string value s (NULL as "") to the line: the one escaping
 * function for everything logged.  A value of bare bytes only goes as it
 * is; any other (empty, or holding a space, '=', '"', '\\', a control or a
 * non-ASCII byte) goes in double quotes, with '"' and '\\' escaped by a
 * backslash, newline, CR and tab as \n \r \t, other control bytes as
 * \xNN, and bytes from 0x80 up as they are (UTF-8 stays readable).  So a
 * value can neither end its field early nor start a line.  A value cut at
 * the end of the line is still closed. */
static void
log_value(struct line *l, const char *s)
{
    char esc[5];
    size_t i;

    if (s == NULL)
        s = "";
    for (i = 0; s[i] != '\0' && bare_byte((unsigned char)s[i]); i++)
        ;
    if (i > 0 && s[i] == '\0') {
        put(l, s, i);
        return;
    }
    if (!put(l, "\"", 1))
        return;
    for (i = 0; s[i] != '\0' && !l->cut; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\')
            snprintf(esc, sizeof(esc), "\\%c", c);
        else if (c == '\n' || c == '\r' || c == '\t')
            snprintf(esc, sizeof(esc), "\\%c", c == '\n' ? 'n'
                     : c == '\r' ? 'r' : 't');
        else if (c < 0x20 || c == 0x7f)
            snprintf(esc, sizeof(esc), "\\x%02x", c);
        else {
            esc[0] = (char)c;
            esc[1] = '\0';
        }
        put(l, esc, strlen(esc));
    }
    l->b[l->n++] = '"';                 /* LOG_TAIL keeps room for it */
}

/* One integer conversion (d i u x, with length "", "l", "ll" or "z") of
 * the next argument; 0 for a length or conversion outside that set. */
static int
put_int(struct line *l, const char *len, char conv, va_list *ap)
{
    char num[32];
    int sgn = conv == 'd' || conv == 'i';

    if (conv != 'd' && conv != 'i' && conv != 'u' && conv != 'x')
        return 0;
    if (!strcmp(len, "") && sgn)
        snprintf(num, sizeof(num), "%d", va_arg(*ap, int));
    else if (!strcmp(len, ""))
        snprintf(num, sizeof(num), conv == 'x' ? "%x" : "%u",
                 va_arg(*ap, unsigned));
    else if (!strcmp(len, "l") && sgn)
        snprintf(num, sizeof(num), "%ld", va_arg(*ap, long));
    else if (!strcmp(len, "l"))
        snprintf(num, sizeof(num), conv == 'x' ? "%lx" : "%lu",
                 va_arg(*ap, unsigned long));
    else if (!strcmp(len, "ll") && sgn)
        snprintf(num, sizeof(num), "%lld", va_arg(*ap, long long));
    else if (!strcmp(len, "ll"))
        snprintf(num, sizeof(num), conv == 'x' ? "%llx" : "%llu",
                 va_arg(*ap, unsigned long long));
    else if (!strcmp(len, "z") && !sgn)
        snprintf(num, sizeof(num), conv == 'x' ? "%zx" : "%zu",
                 va_arg(*ap, size_t));
    else
        return 0;
    put(l, num, strlen(num));
    return 1;
}

/* The key=value part: literal text of fmt as it is, %s through log_value,
 * integers as put_int, %%.  A conversion outside that set (log.h) cannot
 * be skipped safely (its argument's type is unknown), so the line ends
 * there with log_format_error=1. */
static void
put_fields(struct line *l, const char *fmt, va_list *ap)
{
    const char *p = fmt, *lit;
    char len[3];
    size_t k;

    while (*p != '\0' && !l->cut) {
        for (lit = p; *p != '\0' && *p != '%'; p++)
            ;
        put(l, lit, (size_t)(p - lit));
        if (*p == '\0')
            break;
        p++;                            /* the '%' */
        if (*p == '%') {
            put(l, "%", 1);
            p++;
            continue;
        }
        for (k = 0; k < 2 && (*p == 'l' || *p == 'z'); k++)
            len[k] = *p++;
        len[k] = '\0';
        if (*p == 's' && k == 0)
            log_value(l, va_arg(*ap, const char *));
        else if (!put_int(l, len, *p, ap)) {
            put(l, " log_format_error=1", 19);
            return;
        }
        p++;
    }
}

/* ---- the JSON format ---------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at s[0..n) (1-4), or 0 if there
 * is none there (a stray continuation byte, an overlong form, a
 * surrogate, a sequence cut by the end). */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
    size_t k, i;
    unsigned long cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        k = 2, cp = s[0] & 0x1f;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        k = 3, cp = s[0] & 0x0f;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        k = 4, cp = s[0] & 0x07;
    else
        return 0;
    if (k > n)
        return 0;
    for (i = 1; i < k; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((k == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (k == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return k;
}

/* Append s (n bytes) as a JSON string: the JSON format's one escaping
 * function.  '"' and '\\' escaped, control bytes as \n \r \t or \u00XX,
 * well-formed UTF-8 as it is, any other byte as U+FFFD: the line is
 * always valid JSON, whatever bytes the client sent. */
static void
json_string(struct line *l, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    char esc[8];
    size_t i = 0, k;

    put(l, "\"", 1);
    while (i < n && !l->cut) {
        unsigned char c = p[i];

        if (c == '"' || c == '\\') {
            snprintf(esc, sizeof(esc), "\\%c", c);
            put(l, esc, 2);
        } else if (c == '\n' || c == '\r' || c == '\t') {
            put(l, c == '\n' ? "\\n" : c == '\r' ? "\\r" : "\\t", 2);
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            put(l, esc, 6);
        } else if (c >= 0x80) {
            if ((k = utf8_len(p + i, n - i)) == 0) {
                put(l, "\\ufffd", 6);
                i++;
            } else {
                put(l, (const char *)p + i, k);
                i += k;
            }
            continue;
        } else {
            put(l, (const char *)p + i, 1);
        }
        i++;
    }
    put(l, "\"", 1);
}

/* The key=value part of fmt as JSON members (,"key":value), read as
 * put_fields reads it for the text format: a key is the literal text up
 * to '=', a value runs to the next space outside double quotes and is
 * made of literal text, "quoted literals" (unescaped) and conversions.  A
 * value that is one integer conversion alone is a JSON number, any other
 * a string.  Each member is built whole and appended only if it fits;
 * the first that does not ends the line (marked cut). */
static void
put_fields_json(struct line *l, const char *fmt, va_list *ap)
{
    static __thread struct line f, v;   /* a member, a value */
    const char *p = fmt, *key;
    char len[3];
    size_t klen, k;
    int parts, number;

    while (*p != '\0' && !l->cut) {
        while (*p == ' ')
            p++;
        if (*p == '\0')
            break;
        for (key = p; *p != '\0' && *p != '=' && *p != ' ' && *p != '%'; p++)
            ;
        klen = (size_t)(p - key);
        if (*p != '=' || klen == 0) {   /* not key=value: a bug of ours */
            put(l, ",\"log_format_error\":1", 21);
            return;
        }
        p++;
        v.n = 0;
        v.cut = 0;
        parts = 0;
        number = 0;
        while (*p != '\0' && *p != ' ') {
            parts++;
            if (*p == '"') {            /* a quoted literal of the format */
                for (p++; *p != '\0' && *p != '"'; p++) {
                    if (*p == '\\' && p[1] != '\0')
                        p++;
                    put(&v, p, 1);
                }
                if (*p == '"')
                    p++;
                continue;
            }
            if (*p != '%') {
                const char *lit = p;
                while (*p != '\0' && *p != ' ' && *p != '%' && *p != '"')
                    p++;
                put(&v, lit, (size_t)(p - lit));
                continue;
            }
            p++;
            if (*p == '%') {
                put(&v, "%", 1);
                p++;
                continue;
            }
            for (k = 0; k < 2 && (*p == 'l' || *p == 'z'); k++)
                len[k] = *p++;
            len[k] = '\0';
            if (*p == 's' && k == 0) {
                const char *sv = va_arg(*ap, const char *);
                if (sv != NULL)
                    put(&v, sv, strlen(sv));
            } else if (put_int(&v, len, *p, ap)) {
                number = 1;
            } else {
                put(l, ",\"log_format_error\":1", 21);
                return;
            }
            p++;
        }
        f.n = 0;
        f.cut = 0;
        put(&f, ",", 1);
        json_string(&f, key, klen);
        put(&f, ":", 1);
        if (number && parts == 1 && !v.cut)
            put(&f, v.b, v.n);
        else
            json_string(&f, v.b, v.n);
        if (f.cut || v.cut) {
            l->cut = 1;
            return;
        }
        put(l, f.b, f.n);
    }
}

void
log_event(enum log_level level, const char *event, const char *fmt, ...)
{
    struct line l;
    struct timespec ts;
    struct tm tm;
    va_list ap;
    char *p;
    size_t n;
    int len;

    if (level < log_min)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    l.n = 0;
    l.cut = 0;
    len = snprintf(l.b, sizeof(l.b), log_json
                   ? "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\","
                     "\"level\":\"%s\",\"event\":"
                   : "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s event=",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                   tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                   level_names[level]);
    if (len < 0 || (size_t)len >= sizeof(l.b) - LOG_TAIL)
        return;
    l.n = (size_t)len;
    va_start(ap, fmt);
    if (log_json) {
        json_string(&l, event ? event : "", event ? strlen(event) : 0);
        put_fields_json(&l, fmt, &ap);
        /* LOG_TAIL keeps room for the marker and the brace */
        if (l.cut) {
            memcpy(l.b + l.n, ",\"truncated\":1", 14);
            l.n += 14;
        }
        l.b[l.n++] = '}';
    } else {
        log_value(&l, event);
        put(&l, " ", 1);
        put_fields(&l, fmt, &ap);
        if (l.cut) {
            memcpy(l.b + l.n, " truncated=1", 12);
            l.n += 12;
        }
    }
    va_end(ap);
    l.b[l.n++] = '\n';

    p = l.b;
    n = l.n;
    pthread_mutex_lock(&log_lock);
    while (n > 0) {
        ssize_t w = write(log_fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        p += w;
        n -= (size_t)w;
    }
    pthread_mutex_unlock(&log_lock);
}
