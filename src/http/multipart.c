/*
 * multipart.c - owns the bounded multipart/form-data reader (see
 * include/http/multipart.h).  The body is never modified and nothing is
 * allocated: parts are slices of the body, header fields are copied into
 * fixed-size fields after their length is checked.
 */
#include "multipart.h"

#include <string.h>
#include <strings.h>

#define MP_FORM      "multipart/form-data"
#define MP_FORM_LEN  (sizeof(MP_FORM) - 1)

/* Contract: see multipart.h. */
int
multipart_is_form(const char *ct)
{
    return ct != NULL && strncasecmp(ct, MP_FORM, MP_FORM_LEN) == 0 &&
           (ct[MP_FORM_LEN] == '\0' || ct[MP_FORM_LEN] == ';' ||
            ct[MP_FORM_LEN] == ' ' || ct[MP_FORM_LEN] == '\t');
}

static int
is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 2046 bchars. */
static int
is_bchar(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') || (c != '\0' && strchr("'()+_,-./:=? ", c));
}

/*
 * Read one parameter "name=value" of a header value at *s (after a ';'),
 * moving *s past it.  name (cap ncap) and value (cap vcap) are NUL-ended;
 * value may be a quoted string with backslash escapes.  0 if malformed or
 * too long.
 */
static int
param_next(const char **s, char *name, size_t ncap, char *value, size_t vcap)
{
    const char *p = *s;
    size_t n = 0;

    while (is_space(*p))
        p++;
    while (*p != '\0' && *p != '=' && *p != ';' && !is_space(*p)) {
        if (n + 1 >= ncap)
            return 0;
        name[n++] = *p++;
    }
    name[n] = '\0';
    while (is_space(*p))
        p++;
    if (n == 0 || *p != '=')
        return 0;
    p++;
    while (is_space(*p))
        p++;
    n = 0;
    if (*p == '"') {
        p++;
        while (*p != '"') {
            if (*p == '\0')
                return 0;
            if (*p == '\\' && p[1] != '\0')
                p++;
            if (n + 1 >= vcap)
                return 0;
            value[n++] = *p++;
        }
        p++;
    } else {
        while (*p != '\0' && *p != ';' && !is_space(*p)) {
            if (n + 1 >= vcap)
                return 0;
            value[n++] = *p++;
        }
    }
    value[n] = '\0';
    while (is_space(*p))
        p++;
    if (*p != '\0' && *p != ';')
        return 0;
    if (*p == ';')
        p++;
    *s = p;
    return 1;
}

/* Contract: see multipart.h. */
err_code
multipart_boundary(const char *ct, char *out, struct err *e)
{
    const char *p;
    char name[32], value[MULTIPART_BOUNDARY_MAX + 1];
    size_t i, n;

    out[0] = '\0';
    if (!multipart_is_form(ct))
        return err_set(e, ERR_BAD_REQUEST, "not multipart/form-data");
    p = ct + MP_FORM_LEN;
    while (is_space(*p))
        p++;
    if (*p == ';')
        p++;
    while (*p != '\0') {
        if (!param_next(&p, name, sizeof(name), value, sizeof(value)))
            return err_set(e, ERR_BAD_REQUEST, "malformed Content-Type "
                           "parameters (a boundary is at most %d characters)",
                           MULTIPART_BOUNDARY_MAX);
        if (strcasecmp(name, "boundary") != 0)
            continue;
        n = strlen(value);
        if (n == 0 || value[n - 1] == ' ')
            return err_set(e, ERR_BAD_REQUEST, "invalid multipart boundary");
        for (i = 0; i < n; i++)
            if (!is_bchar(value[i]))
                return err_set(e, ERR_BAD_REQUEST,
                               "invalid multipart boundary");
        memcpy(out, value, n + 1);
        return ERR_OK;
    }
    return err_set(e, ERR_BAD_REQUEST, "multipart/form-data without a "
                   "boundary");
}

/* Copy src (NUL-ended) into dst of cap bytes; 0 if it does not fit. */
static int
copy_field(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);

    if (n >= cap)
        return 0;
    memcpy(dst, src, n + 1);
    return 1;
}

/* Parse the header block hdr (NUL-ended, lines split by CRLF) into part. */
static err_code
part_headers(char *hdr, struct multipart_part *part, struct err *e)
{
    char *line = hdr, *next, *colon, *v;
    const char *cv;
    char name[32], value[MULTIPART_FILENAME_MAX];
    int have_cd = 0;

    while (*line != '\0') {
        next = strstr(line, "\r\n");
        if (next != NULL) {
            *next = '\0';
            next += 2;
        } else {
            next = line + strlen(line);
        }
        if (is_space(line[0]))
            return err_set(e, ERR_BAD_REQUEST, "folded part headers are not "
                           "supported");
        if ((colon = strchr(line, ':')) == NULL)
            return err_set(e, ERR_BAD_REQUEST, "malformed part header");
        *colon = '\0';
        v = colon + 1;
        while (is_space(*v))
            v++;
        if (strcasecmp(line, "Content-Disposition") == 0) {
            if (have_cd)
                return err_set(e, ERR_BAD_REQUEST, "two Content-Disposition "
                               "headers in one part");
            have_cd = 1;
            if (strncasecmp(v, "form-data", 9) != 0 ||
                (v[9] != '\0' && v[9] != ';' && !is_space(v[9])))
                return err_set(e, ERR_BAD_REQUEST, "part is not form-data");
            cv = v + 9;
            while (is_space(*cv))
                cv++;
            if (*cv == ';')
                cv++;
            while (*cv != '\0') {
                if (!param_next(&cv, name, sizeof(name), value,
                                sizeof(value)))
                    return err_set(e, ERR_BAD_REQUEST, "malformed "
                                   "Content-Disposition (names up to %d, "
                                   "file names up to %d characters)",
                                   MULTIPART_NAME_MAX - 1,
                                   MULTIPART_FILENAME_MAX - 1);
                if (strcasecmp(name, "name") == 0) {
                    if (!copy_field(part->name, sizeof(part->name), value))
                        return err_set(e, ERR_TOO_LARGE, "field name longer "
                                       "than %d", MULTIPART_NAME_MAX - 1);
                } else if (strcasecmp(name, "filename") == 0) {
                    if (!copy_field(part->filename, sizeof(part->filename),
                                    value))
                        return err_set(e, ERR_TOO_LARGE, "file name longer "
                                       "than %d", MULTIPART_FILENAME_MAX - 1);
                }
            }
        } else if (strcasecmp(line, "Content-Type") == 0) {
            if (!copy_field(part->content_type, sizeof(part->content_type),
                            v))
                return err_set(e, ERR_TOO_LARGE, "part Content-Type longer "
                               "than %d", MULTIPART_CTYPE_MAX - 1);
        } else if (strcasecmp(line, "Content-Transfer-Encoding") == 0) {
            if (strcasecmp(v, "binary") != 0 && strcasecmp(v, "8bit") != 0 &&
                strcasecmp(v, "7bit") != 0)
                return err_set(e, ERR_BAD_REQUEST, "transfer encoding '%.32s' "
                               "is not supported", v);
        }
        line = next;
    }
    if (!have_cd || part->name[0] == '\0')
        return err_set(e, ERR_BAD_REQUEST, "part without Content-Disposition: "
                       "form-data; name=...");
    return ERR_OK;
}

/* Contract: see multipart.h. */
err_code
multipart_parse(const uint8_t *body, size_t len, const char *boundary,
                struct multipart *out, struct err *e)
{
    char delim[MULTIPART_BOUNDARY_MAX + 5];  /* "\r\n--" boundary */
    char hdr[MULTIPART_HEADER_MAX + 1];
    size_t blen = strlen(boundary), dlen, pos, i;
    const uint8_t *p, *end;

    memset(out, 0, sizeof(*out));
    if (blen == 0 || blen > MULTIPART_BOUNDARY_MAX)
        return err_set(e, ERR_BAD_REQUEST, "invalid multipart boundary");
    delim[0] = '\r';
    delim[1] = '\n';
    delim[2] = '-';
    delim[3] = '-';
    memcpy(delim + 4, boundary, blen);
    dlen = blen + 4;
    /* the first delimiter: at the start, or after a preamble line */
    if (len >= dlen - 2 && memcmp(body, delim + 2, dlen - 2) == 0) {
        pos = dlen - 2;
    } else {
        p = memmem(body, len, delim, dlen);
        if (p == NULL)
            return err_set(e, ERR_BAD_REQUEST, "multipart body without its "
                           "boundary");
        pos = (size_t)(p - body) + dlen;
    }
    for (;;) {
        struct multipart_part *part;
        const uint8_t *hend;
        size_t hlen, avail;

        /* after a delimiter: "--" closes, else padding and CRLF */
        if (len - pos >= 2 && body[pos] == '-' && body[pos + 1] == '-')
            break;
        while (pos < len && (body[pos] == ' ' || body[pos] == '\t'))
            pos++;
        if (len - pos < 2 || body[pos] != '\r' || body[pos + 1] != '\n')
            return err_set(e, ERR_BAD_REQUEST, "malformed multipart "
                           "delimiter line");
        pos += 2;
        if (out->n >= MULTIPART_MAX_PARTS)
            return err_set(e, ERR_TOO_LARGE, "more than %d parts",
                           MULTIPART_MAX_PARTS);
        part = &out->parts[out->n];
        /* header block up to CRLF CRLF, bounded */
        avail = len - pos;
        if (avail > MULTIPART_HEADER_MAX + 4)
            avail = MULTIPART_HEADER_MAX + 4;
        if (avail >= 2 && body[pos] == '\r' && body[pos + 1] == '\n')
            return err_set(e, ERR_BAD_REQUEST, "part without headers");
        hend = memmem(body + pos, avail, "\r\n\r\n", 4);
        if (hend == NULL)
            return err_set(e, len - pos > MULTIPART_HEADER_MAX + 4 ?
                           ERR_TOO_LARGE : ERR_BAD_REQUEST,
                           "part headers unterminated or longer than %d "
                           "bytes", MULTIPART_HEADER_MAX);
        hlen = (size_t)(hend - (body + pos));
        if (hlen > MULTIPART_HEADER_MAX)
            return err_set(e, ERR_TOO_LARGE, "part headers longer than %d "
                           "bytes", MULTIPART_HEADER_MAX);
        if (memchr(body + pos, '\0', hlen) != NULL)
            return err_set(e, ERR_BAD_REQUEST, "NUL byte in part headers");
        memcpy(hdr, body + pos, hlen);
        hdr[hlen] = '\0';
        {
            err_code rc = part_headers(hdr, part, e);
            if (rc != ERR_OK)
                return rc;
        }
        for (i = 0; i < out->n; i++)
            if (strcmp(out->parts[i].name, part->name) == 0)
                return err_set(e, ERR_BAD_REQUEST, "field '%s' sent twice",
                               part->name);
        pos += hlen + 4;
        /* data up to the next CRLF "--" boundary */
        p = memmem(body + pos, len - pos, delim, dlen);
        if (p == NULL)
            return err_set(e, ERR_BAD_REQUEST, "multipart body not "
                           "terminated by its boundary");
        end = p;
        part->data = body + pos;
        part->len = (size_t)(end - (body + pos));
        out->n++;
        pos = (size_t)(end - body) + dlen;
    }
    if (out->n == 0)
        return err_set(e, ERR_BAD_REQUEST, "multipart body without parts");
    return ERR_OK;
}

/* Contract: see multipart.h. */
const struct multipart_part *
multipart_get(const struct multipart *m, const char *name)
{
    size_t i;

    for (i = 0; i < m->n; i++)
        if (strcmp(m->parts[i].name, name) == 0)
            return &m->parts[i];
    return NULL;
}
