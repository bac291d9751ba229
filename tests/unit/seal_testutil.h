/*
 * seal_testutil.h - shared set-up of the seal-library unit tests (test_ca,
 * test_seal_make, test_statuslist): a real dev token (libsealdtoken.so,
 * profile sm2-sansec) in a temporary directory opened through custody, key
 * generation, a local CA, valid PNG/GIF pictures, and the output directory
 * for the files tests/e2e/test_seal_lib.py checks with the openssl CLI
 * ($SEALD_SEAL_OUT, else $SEALD_BUILD_DIR/seal-lib-out).
 *
 * Header-only (static functions); include after <cmocka.h>.
 */
#ifndef SEALD_SEAL_TESTUTIL_H
#define SEALD_SEAL_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "ca.h"
#include "custody.h"
#include "util.h"

#define T_TOKEN "t0"
#define T_UNUSED __attribute__((unused))

static char t_root[64] T_UNUSED, t_module[4096] T_UNUSED, t_pin[128] T_UNUSED;
static struct custody *t_cust T_UNUSED;

T_UNUSED static void t_write_text(const char *path, const char *s)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(s, f);
    fclose(f);
}

/* Temp dir, one sm2-sansec dev token, custody opened on it. */
T_UNUSED static int t_token_setup(void **state)
{
    const char *b = getenv("SEALD_BUILD_DIR");
    char dir[128], path[192];
    struct custody_token_conf conf;
    struct err e = { 0 };

    (void)state;
    snprintf(t_module, sizeof t_module, "%s/src/devtoken/libsealdtoken.so",
             b ? b : ".");
    strcpy(t_root, "/tmp/seald-seal-XXXXXX");
    if (!mkdtemp(t_root))
        return -1;
    snprintf(dir, sizeof dir, "%s/tok0", t_root);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/profile", dir);
    t_write_text(path, "sansec");
    setenv("SEALD_DEVTOKEN_DIR", dir, 1);
    unsetenv("SEALD_DEVTOKEN_PROFILE");
    snprintf(t_pin, sizeof t_pin, "%s/pin", t_root);
    t_write_text(t_pin, "123456\n");
    if (custody_init_token(t_module, 0, "seal0", "so-secret", "123456", &e) !=
        ERR_OK) {
        fprintf(stderr, "init token: %s\n", e.msg);
        return -1;
    }
    custody_conf_init(&conf);
    snprintf(conf.name, sizeof conf.name, "%s", T_TOKEN);
    snprintf(conf.module, sizeof conf.module, "%s", t_module);
    snprintf(conf.profile, sizeof conf.profile, "sm2-sansec");
    snprintf(conf.token_label, sizeof conf.token_label, "seal0");
    snprintf(conf.pin_file, sizeof conf.pin_file, "%s", t_pin);
    conf.pool_size = 2;
    if (custody_open(&conf, 1, &t_cust, &e) != ERR_OK) {
        fprintf(stderr, "custody_open: %s\n", e.msg);
        return -1;
    }
    return 0;
}

T_UNUSED static int t_token_teardown(void **state)
{
    char cmd[128];

    (void)state;
    custody_close(t_cust);
    t_cust = NULL;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t_root);
    return system(cmd) == 0 ? 0 : -1;
}

/* A new key on the token; id_hex[CUSTODY_ID_HEX_MAX]; k filled (borrows). */
T_UNUSED static void t_new_key(const char *label, char *id_hex, struct ca_key *k)
{
    struct err e = { 0 };

    if (custody_generate(t_cust, T_TOKEN, label, NULL, 0, id_hex, &e) !=
        ERR_OK)
        fail_msg("custody_generate: %s", e.msg);
    k->custody = t_cust;
    k->token = T_TOKEN;
    k->key_id = id_hex;
}

T_UNUSED static EVP_PKEY *t_pub(const struct ca_key *k)
{
    EVP_PKEY *p = NULL;
    struct err e = { 0 };

    if (custody_public_key(k->custody, k->token, k->key_id, &p, &e) != ERR_OK)
        fail_msg("custody_public_key: %s", e.msg);
    return p;
}

/* X509 of DER (asserts it parses). */
T_UNUSED static X509 *t_x509(const uint8_t *der, size_t len)
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    assert_non_null(x);
    assert_ptr_equal(p, der + len);
    return x;
}

/* Output directory for the openssl CLI checks, or NULL (no output). */
T_UNUSED static const char *t_outdir(void)
{
    static char dir[512];
    const char *o = getenv("SEALD_SEAL_OUT");
    const char *b = getenv("SEALD_BUILD_DIR");

    if (o != NULL && o[0])
        snprintf(dir, sizeof dir, "%s", o);
    else if (b != NULL && b[0])
        snprintf(dir, sizeof dir, "%s/seal-lib-out", b);
    else
        return NULL;
    mkdir(dir, 0755);
    return dir;
}

T_UNUSED static void t_out_bytes(const char *name, const void *p, size_t n)
{
    const char *d = t_outdir();
    char path[700];
    FILE *f;

    if (d == NULL)
        return;
    snprintf(path, sizeof path, "%s/%s", d, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

T_UNUSED static void t_out_pem(const char *name, const char *label, const uint8_t *der,
                      size_t len)
{
    char *pem = NULL;
    struct err e = { 0 };

    assert_int_equal(ca_der_to_pem(label, der, len, &pem, &e), ERR_OK);
    t_out_bytes(name, pem, strlen(pem));
    free(pem);
}

T_UNUSED static void t_out_pub(const char *name, EVP_PKEY *pub)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p = NULL;
    long n;

    assert_true(PEM_write_bio_PUBKEY(b, pub));
    n = BIO_get_mem_data(b, &p);
    t_out_bytes(name, p, (size_t)n);
    BIO_free(b);
}

/* Root CA on a new token key: *der malloc'ed, k filled. */
T_UNUSED static void t_make_root(char *id_hex, struct ca_key *k, uint8_t **der,
                        size_t *len)
{
    struct ca_subject s = { .c = "CN", .o = "seald test", .cn = "seald test CA" };
    struct err e = { 0 };

    t_new_key("ca", id_hex, k);
    if (ca_create_root(k, &s, 3650, der, len, &e) != ERR_OK)
        fail_msg("ca_create_root: %s", e.msg);
}

/* End-entity cert for a new token key, issued by the root. */
T_UNUSED static void t_make_holder(const struct ca_key *ca, const uint8_t *ca_der,
                          size_t ca_len, const char *cn, time_t nb, time_t na,
                          char *id_hex, struct ca_key *k, uint8_t **der,
                          size_t *len)
{
    struct ca_subject s = { .c = "CN", .o = "seald test", .cn = cn };
    struct ca_issue_params ip;
    struct err e = { 0 };

    t_new_key(cn, id_hex, k);
    memset(&ip, 0, sizeof ip);
    ip.subject = &s;
    ip.holder_pub = t_pub(k);
    ip.not_before = nb;
    ip.not_after = na;
    if (ca_issue(ca, ca_der, ca_len, &ip, der, len, &e) != ERR_OK)
        fail_msg("ca_issue: %s", e.msg);
    EVP_PKEY_free(ip.holder_pub);
}

/* ---- pictures ----------------------------------------------------------- */

T_UNUSED static void t_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

T_UNUSED static uint32_t t_crc(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
}

/* Append chunk (type, data) at out+*pos. */
T_UNUSED static void t_chunk(uint8_t *out, size_t *pos, const char *type,
                    const uint8_t *data, uint32_t n)
{
    t_be32(out + *pos, n);
    memcpy(out + *pos + 4, type, 4);
    if (n)
        memcpy(out + *pos + 8, data, n);
    t_be32(out + *pos + 8 + n, t_crc(out + *pos + 4, 4 + (size_t)n));
    *pos += 12 + n;
}

/*
 * A valid 8-bit greyscale PNG of w x h (w*h small enough for one stored
 * deflate block per row set: w*(h)+h <= 65535).  *len set; malloc'ed.
 */
T_UNUSED static uint8_t *t_png(uint32_t w, uint32_t h, size_t *len)
{
    size_t raw_len = (size_t)h * (1 + w), pos = 0, z = 0, off;
    uint8_t *raw = calloc(1, raw_len), *zs, *out;
    uint8_t ihdr[13] = { 0 };
    uint32_t a = 1, b = 0;

    assert_non_null(raw);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            raw[y * (1 + w) + 1 + x] = (uint8_t)((x * x + y * y) < (w * w / 4) ? 0x40 : 0xff);
    /* zlib: header, stored blocks of at most 65535, adler32 */
    zs = malloc(2 + raw_len + 5 * (raw_len / 65535 + 1) + 4);
    assert_non_null(zs);
    zs[z++] = 0x78;
    zs[z++] = 0x01;
    for (off = 0; off == 0 || off < raw_len;) {
        size_t n = raw_len - off > 65535 ? 65535 : raw_len - off;
        zs[z++] = off + n == raw_len ? 1 : 0;
        zs[z++] = (uint8_t)n;
        zs[z++] = (uint8_t)(n >> 8);
        zs[z++] = (uint8_t)~n;
        zs[z++] = (uint8_t)(~n >> 8);
        memcpy(zs + z, raw + off, n);
        z += n;
        off += n;
    }
    for (size_t i = 0; i < raw_len; i++) {
        a = (a + raw[i]) % 65521;
        b = (b + a) % 65521;
    }
    t_be32(zs + z, b << 16 | a);
    z += 4;
    out = malloc(8 + 25 + 12 + z + 12);
    assert_non_null(out);
    memcpy(out, "\x89PNG\r\n\x1a\n", 8);
    pos = 8;
    t_be32(ihdr, w);
    t_be32(ihdr + 4, h);
    ihdr[8] = 8;                    /* depth 8, colour type 0 */
    t_chunk(out, &pos, "IHDR", ihdr, 13);
    t_chunk(out, &pos, "IDAT", zs, (uint32_t)z);
    t_chunk(out, &pos, "IEND", NULL, 0);
    free(raw);
    free(zs);
    *len = pos;
    return out;
}

/* LZW codes written into GIF data sub-blocks (t_gif_lzw). */
struct t_gif_bits {
    uint8_t *out;
    size_t   o, blk;             /* write position, current block's length */
    uint32_t acc;
    int      bits;
};

T_UNUSED static void t_gif_byte(struct t_gif_bits *b, uint8_t v)
{
    if (b->blk == 0 || b->out[b->blk] == 255) {
        b->blk = b->o++;
        b->out[b->blk] = 0;
    }
    b->out[b->o++] = v;
    b->out[b->blk]++;
}

/* Append a code of width bits (at most 12). */
T_UNUSED static void t_gif_code(struct t_gif_bits *b, uint32_t code, int width)
{
    b->acc |= code << b->bits;
    b->bits += width;
    while (b->bits >= 8) {
        t_gif_byte(b, (uint8_t)b->acc);
        b->acc >>= 8;
        b->bits -= 8;
    }
}

/*
 * GIF image data for n pixels (each 0..127) at out: LZW minimum code size
 * 7, sub-blocks of at most 255 bytes, the 0 terminator.  Uncompressed LZW:
 * a clear code before every 126 pixels keeps the codes 8 bits wide (the
 * table never reaches 256 entries), so each code is one byte and every
 * decoder reads them the same way.  Returns the bytes written (at most
 * n + n / 126 + n / 255 + 8).
 */
T_UNUSED static size_t t_gif_lzw(const uint8_t *px, size_t n, uint8_t *out)
{
    struct t_gif_bits b = { out, 1, 0, 0, 0 };

    out[0] = 7;
    for (size_t i = 0; i < n; i++) {
        if (i % 126 == 0)
            t_gif_code(&b, 128, 8);                 /* clear */
        t_gif_code(&b, px[i] & 127u, 8);
    }
    t_gif_code(&b, 129, 8);                         /* end of information */
    out[b.o++] = 0;                                 /* block terminator */
    return b.o;
}

/* A valid GIF89a of w x h: a 2-colour global table, a graphic control
 * extension, one image covering the screen (a dark disc on white). */
T_UNUSED static uint8_t *t_gif(uint32_t w, uint32_t h, size_t *len)
{
    static const uint8_t gce[] = { 0x21, 0xf9, 0x04, 0, 0, 0, 0, 0 };
    size_t n = (size_t)w * h, pos = 0;
    uint8_t *px = malloc(n ? n : 1), *g = malloc(64 + n + n / 2);

    assert_non_null(px);
    assert_non_null(g);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            px[(size_t)y * w + x] = (x * x + y * y) < (w * w / 4) ? 1 : 0;
    memcpy(g, "GIF89a", 6);
    g[6] = (uint8_t)w;
    g[7] = (uint8_t)(w >> 8);
    g[8] = (uint8_t)h;
    g[9] = (uint8_t)(h >> 8);
    g[10] = 0x80;                   /* global table, 2 entries */
    g[11] = 0;
    g[12] = 0;
    memcpy(g + 13, "\xff\xff\xff\x40\x00\x00", 6);
    pos = 19;
    memcpy(g + pos, gce, sizeof gce);
    pos += sizeof gce;
    g[pos++] = 0x2c;                /* image descriptor: 0, 0, w, h */
    memset(g + pos, 0, 4);
    g[pos + 4] = (uint8_t)w;
    g[pos + 5] = (uint8_t)(w >> 8);
    g[pos + 6] = (uint8_t)h;
    g[pos + 7] = (uint8_t)(h >> 8);
    g[pos + 8] = 0;
    pos += 9;
    pos += t_gif_lzw(px, n, g + pos);
    g[pos++] = 0x3b;
    free(px);
    *len = pos;
    return g;
}

#endif
