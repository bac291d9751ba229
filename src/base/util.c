/*
 * util.c - the small shared helpers declared in util.h.  Nothing here knows
 * about HTTP, SQL or seals.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "util.h"

err_code
util_random(void *buf, size_t len, struct err *e)
{
    if (len > INT_MAX || RAND_bytes(buf, (int)len) != 1)
        return err_set(e, ERR_CRYPTO, "random generator failed");
    return ERR_OK;
}

int
util_ct_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

void
util_wipe(void *p, size_t len)
{
    if (p != NULL)
        OPENSSL_cleanse(p, len);
}

void
util_hex_encode(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0xf];
    }
    out[2 * len] = '\0';
}

int
util_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

err_code
util_hex_decode(const char *hex, uint8_t *out, size_t cap, size_t *outlen,
                struct err *e)
{
    size_t n = strlen(hex), i;

    if (n % 2 != 0)
        return err_set(e, ERR_INVALID, "hex string has odd length");
    if (n / 2 > cap)
        return err_set(e, ERR_INVALID, "hex string too long");
    for (i = 0; i < n / 2; i++) {
        int hi = util_hexval(hex[2 * i]), lo = util_hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return err_set(e, ERR_INVALID, "invalid hex digit");
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *outlen = n / 2;
    return ERR_OK;
}

err_code
util_b64_encode(const uint8_t *in, size_t len, char **out, struct err *e)
{
    size_t cap;
    char *buf;

    if (len > (size_t)INT_MAX / 2)
        return err_set(e, ERR_TOO_LARGE, "data too large to encode");
    cap = 4 * ((len + 2) / 3) + 1;
    if ((buf = malloc(cap)) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    EVP_EncodeBlock((unsigned char *)buf, in, (int)len);
    *out = buf;
    return ERR_OK;
}

err_code
util_b64_decode(const char *in, size_t inlen, uint8_t **out, size_t *outlen,
                struct err *e)
{
    EVP_ENCODE_CTX *ctx = NULL;
    uint8_t *buf = NULL;
    int n = 0, fin = 0;
    err_code rc = ERR_OK;

    if (inlen > (size_t)INT_MAX / 2)
        return err_set(e, ERR_TOO_LARGE, "base64 input too large");
    if ((buf = malloc(inlen / 4 * 3 + 3)) == NULL ||
        (ctx = EVP_ENCODE_CTX_new()) == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    EVP_DecodeInit(ctx);
    if (EVP_DecodeUpdate(ctx, buf, &n, (const unsigned char *)in,
                         (int)inlen) < 0 ||
        EVP_DecodeFinal(ctx, buf + n, &fin) != 1) {
        rc = err_set(e, ERR_INVALID, "invalid base64");
        goto done;
    }
    *outlen = (size_t)n + (size_t)fin;
    *out = buf;
    buf = NULL;
done:
    EVP_ENCODE_CTX_free(ctx);
    free(buf);
    return rc;
}

err_code
util_parse_long(const char *s, long min, long max, long *out, struct err *e)
{
    char *end = NULL;
    long v;

    if (s == NULL || *s == '\0')
        return err_set(e, ERR_INVALID, "empty number");
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || end == s)
        return err_set(e, ERR_INVALID, "not a number: '%.40s'", s);
    if (v < min || v > max)
        return err_set(e, ERR_INVALID, "%ld is out of range [%ld, %ld]", v,
                       min, max);
    *out = v;
    return ERR_OK;
}

/* A secret block: its mapping's size in front of the caller's bytes. */
#define SECRET_HEAD 64

void *
util_secret_alloc(size_t len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), total;
    uint8_t *p;

    if (len > SIZE_MAX - SECRET_HEAD - page)
        return NULL;
    total = (len + SECRET_HEAD + page - 1) / page * page;
    p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
             -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    (void)mlock(p, total);                 /* best effort: RLIMIT_MEMLOCK */
    (void)madvise(p, total, MADV_DONTDUMP);
    memcpy(p, &total, sizeof(total));
    return p + SECRET_HEAD;
}

void
util_secret_free(void *q)
{
    uint8_t *p;
    size_t total;

    if (q == NULL)
        return;
    p = (uint8_t *)q - SECRET_HEAD;
    memcpy(&total, p, sizeof(total));
    util_wipe(p, total);
    (void)munlock(p, total);
    munmap(p, total);
}

err_code
util_read_secret(const char *path, size_t max, uint8_t **buf, size_t *len,
                 struct err *e)
{
    uint8_t *data = NULL;
    size_t n = 0;
    struct stat st;
    err_code rc = ERR_OK;
    int fd;

    *buf = NULL;
    *len = 0;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
        return err_set(e, ERR_IO, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = err_set(e, ERR_IO, "%s: not a regular file", path);
        goto done;
    }
    if ((uint64_t)st.st_size > max) {
        rc = err_set(e, ERR_TOO_LARGE, "%s: larger than %zu bytes", path, max);
        goto done;
    }
    if ((data = util_secret_alloc(max + 1)) == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    for (;;) {
        ssize_t got = read(fd, data + n, max + 1 - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = err_set(e, ERR_IO, "%s: %s", path, strerror(errno));
            goto done;
        }
        if (got == 0)
            break;
        n += (size_t)got;
        if (n > max) {                     /* grew since fstat */
            rc = err_set(e, ERR_TOO_LARGE, "%s: larger than %zu bytes", path,
                         max);
            goto done;
        }
    }
    data[n] = '\0';
    *buf = data;
    *len = n;
    data = NULL;
done:
    util_secret_free(data);
    close(fd);
    return rc;
}

err_code
util_read_file(const char *path, size_t max, uint8_t **buf, size_t *len,
               struct err *e)
{
    FILE *f = NULL;
    uint8_t *data = NULL;
    size_t cap = 0, n = 0;
    err_code rc = ERR_OK;

    if ((f = fopen(path, "rb")) == NULL) {
        rc = err_set(e, ERR_IO, "%s: %s", path, strerror(errno));
        goto done;
    }
    for (;;) {
        size_t got;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            uint8_t *p;
            if (ncap > max + 1)
                ncap = max + 1;
            if (ncap <= cap) {
                rc = err_set(e, ERR_TOO_LARGE, "%s: larger than %zu bytes",
                             path, max);
                goto done;
            }
            if ((p = realloc(data, ncap)) == NULL) {
                rc = err_set(e, ERR_NOMEM, "out of memory");
                goto done;
            }
            data = p;
            cap = ncap;
        }
        got = fread(data + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                rc = err_set(e, ERR_IO, "%s: read error", path);
                goto done;
            }
            break;
        }
    }
    if (n > max) {
        rc = err_set(e, ERR_TOO_LARGE, "%s: larger than %zu bytes", path, max);
        goto done;
    }
    if (data == NULL && (data = malloc(1)) == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    *buf = data;
    *len = n;
    data = NULL;
done:
    if (f != NULL)
        fclose(f);
    free(data);
    return rc;
}

err_code
util_write_file(const char *path, const void *buf, size_t len, int mode,
                struct err *e)
{
    char tmp[PATH_MAX];
    int fd = -1;
    err_code rc = ERR_OK;
    const uint8_t *p = buf;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path,
                         (long)getpid()) >= sizeof(tmp))
        return err_set(e, ERR_IO, "%s: path too long", path);
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)) < 0)
        return err_set(e, ERR_IO, "%s: %s", tmp, strerror(errno));
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            rc = err_set(e, ERR_IO, "%s: %s", tmp, strerror(errno));
            goto done;
        }
        p += w;
        len -= (size_t)w;
    }
    if (fsync(fd) != 0) {
        rc = err_set(e, ERR_IO, "%s: fsync: %s", tmp, strerror(errno));
        goto done;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = err_set(e, ERR_IO, "%s: close: %s", tmp, strerror(errno));
        goto done;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        rc = err_set(e, ERR_IO, "%s: rename: %s", path, strerror(errno));
done:
    if (fd >= 0)
        close(fd);
    if (rc != ERR_OK)
        unlink(tmp);
    return rc;
}

int64_t
util_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
util_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
util_time_rfc3339(time_t t, char out[21])
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The length of the well-formed UTF-8 sequence at p (RFC 3629's table:
 * no overlong form, no surrogate, nothing above U+10FFFF), or 0 if p does
 * not start one.  The terminating NUL fails every range, so nothing past
 * it is read. */
static size_t
utf8_seq(const unsigned char *p)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t n, i;

    if (*p < 0x80)
        return 1;
    if (*p >= 0xc2 && *p <= 0xdf)
        n = 1;
    else if (*p >= 0xe0 && *p <= 0xef) {
        n = 2;
        if (*p == 0xe0)
            lo = 0xa0;              /* overlong */
        else if (*p == 0xed)
            hi = 0x9f;              /* surrogates */
    } else if (*p >= 0xf0 && *p <= 0xf4) {
        n = 3;
        if (*p == 0xf0)
            lo = 0x90;              /* overlong */
        else if (*p == 0xf4)
            hi = 0x8f;              /* above U+10FFFF */
    } else
        return 0;
    for (i = 1; i <= n; i++)
        if (p[i] < (i == 1 ? lo : 0x80) || p[i] > (i == 1 ? hi : 0xbf))
            return 0;
    return n + 1;
}

size_t
util_utf8_repair(char *s)
{
    unsigned char *p = (unsigned char *)s;
    size_t bad = 0, n;

    while (*p != '\0') {
        if ((n = utf8_seq(p)) > 0)
            p += n;
        else {
            *p++ = '?';
            bad++;
        }
    }
    return bad;
}

int
util_utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n;

    while (*p != '\0') {
        if ((n = utf8_seq(p)) == 0)
            return 0;
        p += n;
    }
    return 1;
}

/* ---- address lists ------------------------------------------------------ */

/* One address as bytes: 4 for IPv4 (also from ::ffff:a.b.c.d), 16 for
 * IPv6; 0 if s is neither. */
static size_t
addr_bytes(const char *s, unsigned char out[16])
{
    struct in6_addr a6;

    if (inet_pton(AF_INET, s, out) == 1)
        return 4;
    if (inet_pton(AF_INET6, s, &a6) != 1)
        return 0;
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
        memcpy(out, a6.s6_addr + 12, 4);
        return 4;
    }
    memcpy(out, a6.s6_addr, 16);
    return 16;
}

/* The next entry of list at *p into net/bits: 1 found, 0 at the end, -1
 * a bad entry (its text in bad, cap bytes). */
static int
cidr_next(const char **p, unsigned char net[16], size_t *len, long *bits,
          char *bad, size_t cap)
{
    char ent[64], *slash, *end;
    size_t n;

    *p += strspn(*p, ", \t");
    if (**p == '\0')
        return 0;
    n = strcspn(*p, ", \t");
    snprintf(bad, cap, "%.*s", (int)n, *p);
    if (n >= sizeof(ent)) {
        *p += n;
        return -1;
    }
    memcpy(ent, *p, n);
    ent[n] = '\0';
    *p += n;
    if ((slash = strchr(ent, '/')) != NULL)
        *slash = '\0';
    if ((*len = addr_bytes(ent, net)) == 0)
        return -1;
    *bits = (long)*len * 8;
    if (slash != NULL) {
        errno = 0;
        *bits = strtol(slash + 1, &end, 10);
        if (slash[1] == '\0' || *end != '\0' || errno != 0 || *bits < 0 ||
            *bits > (long)*len * 8)
            return -1;
    }
    return 1;
}

err_code
util_cidr_list_check(const char *list, struct err *e)
{
    const char *p = list ? list : "";
    unsigned char net[16];
    size_t len;
    long bits;
    char bad[64];
    int r;

    while ((r = cidr_next(&p, net, &len, &bits, bad, sizeof(bad))) != 0)
        if (r < 0)
            return err_set(e, ERR_CONFIG, "'%s' is not an address or a CIDR "
                           "(such as 10.0.0.0/8 or ::1/128)", bad);
    return ERR_OK;
}

int
util_cidr_match(const char *list, const char *addr)
{
    const char *p = list ? list : "";
    unsigned char a[16], net[16];
    size_t alen = addr_bytes(addr, a), len, i;
    long bits;
    char bad[64];
    int r;

    if (alen == 0)
        return 0;
    while ((r = cidr_next(&p, net, &len, &bits, bad, sizeof(bad))) != 0) {
        if (r < 0 || len != alen)
            continue;
        for (i = 0; bits >= 8; i++, bits -= 8)
            if (a[i] != net[i])
                break;
        if (bits >= 8)
            continue;
        if (bits == 0 ||
            ((a[i] ^ net[i]) & (unsigned char)(0xff << (8 - bits))) == 0)
            return 1;
    }
    return 0;
}
