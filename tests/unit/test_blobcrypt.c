/*
 * test_blobcrypt.c - encryption at rest (issue 18 item 11): the sealed
 * blob's round trip, and every way a stored blob must fail to open (a
 * byte flipped anywhere, another row's AAD, another key id, the same id
 * with other key bytes, a cut blob, plaintext, no key ring); the data-key
 * wrap through
 * the development token (SM2 encryption to its public half, C_Decrypt in
 * the token) and the profile without an SM2 decryption mechanism refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "blobcrypt.h"
#include "custody.h"
#include "sm2.h"

static const uint8_t t_dk[BLOB_DATA_KEY_LEN] = {
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32
};

struct fixture {
    struct blob_key *k;
    uint8_t          pt[1000];
    uint8_t          sm3[32];
    struct blob_ref  ref;
    uint8_t         *ct;
    size_t           ct_len;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct err e = {0};

    if (f == NULL || blob_key_from(7, t_dk, &f->k, &e) != ERR_OK)
        return -1;
    for (size_t i = 0; i < sizeof(f->pt); i++)
        f->pt[i] = (uint8_t)(i * 31 + 5);
    if (sm2_sm3(f->pt, sizeof(f->pt), f->sm3, &e) != ERR_OK)
        return -1;
    f->ref = (struct blob_ref){BLOB_MATERIAL, 42, f->sm3};
    if (blob_seal(f->k, &f->ref, f->pt, sizeof(f->pt), &f->ct, &f->ct_len,
                  &e) != ERR_OK)
        return -1;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    blob_key_put(f->k);
    free(f->ct);
    free(f);
    return 0;
}

/* open ct[0..n) with k and r: the error code (the plaintext checked and
 * freed on success) */
static err_code
try_open(const struct fixture *f, const struct blob_key *k,
         const struct blob_ref *r, const uint8_t *ct, size_t n)
{
    uint8_t *pt = NULL;
    size_t len = 0;
    struct err e = {0};
    err_code rc = blob_open_with(k, r, ct, n, &pt, &len, &e);

    if (rc == ERR_OK) {
        assert_int_equal(len, sizeof(f->pt));
        assert_memory_equal(pt, f->pt, len);
    } else {
        assert_null(pt);
        assert_true(e.msg[0] != '\0');
    }
    free(pt);
    return rc;
}

static void
test_round_trip(void **state)
{
    struct fixture *f = *state;
    uint32_t id = 0;
    uint8_t *ct2 = NULL, *pt = NULL;
    size_t n2 = 0, n = 0;
    struct err e = {0};

    assert_int_equal(f->ct_len, sizeof(f->pt) + BLOB_OVERHEAD);
    assert_true(blob_is_sealed(f->ct, f->ct_len, &id));
    assert_int_equal(id, 7);
    assert_int_equal(blob_key_id(f->k), 7);
    /* the plaintext is nowhere in the ciphertext */
    assert_null(memmem(f->ct, f->ct_len, f->pt + 100, 32));
    assert_int_equal(try_open(f, f->k, &f->ref, f->ct, f->ct_len), ERR_OK);
    /* a fresh IV each time: the same plaintext seals differently */
    assert_int_equal(blob_seal(f->k, &f->ref, f->pt, sizeof(f->pt), &ct2,
                               &n2, &e), ERR_OK);
    assert_int_equal(n2, f->ct_len);
    assert_memory_not_equal(ct2 + 12, f->ct + 12, 16);
    assert_memory_not_equal(ct2 + BLOB_HEADER_LEN, f->ct + BLOB_HEADER_LEN,
                            32);
    free(ct2);
    /* an empty blob seals and opens too */
    assert_int_equal(blob_seal(f->k, &f->ref, NULL, 0, &ct2, &n2, &e),
                     ERR_OK);
    assert_int_equal(n2, BLOB_OVERHEAD);
    assert_int_equal(blob_open_with(f->k, &f->ref, ct2, n2, &pt, &n, &e),
                     ERR_OK);
    assert_int_equal(n, 0);
    free(pt);
    free(ct2);
}

static void
test_every_flipped_byte_fails(void **state)
{
    struct fixture *f = *state;
    uint8_t *bad = malloc(f->ct_len);
    size_t i;

    assert_non_null(bad);
    /* magic and key id fail as not-sealed / other key; IV, ciphertext and
     * tag as not authentic */
    for (i = 0; i < f->ct_len; i++) {
        memcpy(bad, f->ct, f->ct_len);
        bad[i] ^= 0x20;
        err_code rc = try_open(f, f->k, &f->ref, bad, f->ct_len);
        if (i < BLOB_MAGIC_LEN)
            assert_int_equal(rc, ERR_MALFORMED);
        else
            assert_int_equal(rc, ERR_CRYPTO);
    }
    free(bad);
    /* cut short, or one byte longer */
    assert_int_equal(try_open(f, f->k, &f->ref, f->ct, f->ct_len - 1),
                     ERR_CRYPTO);
    assert_int_equal(try_open(f, f->k, &f->ref, f->ct, BLOB_OVERHEAD - 1),
                     ERR_MALFORMED);
    /* plaintext is not a sealed blob */
    assert_false(blob_is_sealed(f->pt, sizeof(f->pt), NULL));
    assert_int_equal(try_open(f, f->k, &f->ref, f->pt, sizeof(f->pt)),
                     ERR_MALFORMED);
}

static void
test_other_row_fails(void **state)
{
    struct fixture *f = *state;
    uint8_t other_sm3[32];
    struct blob_ref r;

    /* another owner (the same material under another application) */
    r = f->ref;
    r.owner = 43;
    assert_int_equal(try_open(f, f->k, &r, f->ct, f->ct_len), ERR_CRYPTO);
    /* another column, each of the others */
    for (int kind = 0; kind < BLOB__COUNT; kind++) {
        if (kind == (int)f->ref.kind)
            continue;
        r = f->ref;
        r.kind = (enum blob_kind)kind;
        assert_int_equal(try_open(f, f->k, &r, f->ct, f->ct_len),
                         ERR_CRYPTO);
    }
    /* another row's hash (a ciphertext moved with the row's other
     * columns left) */
    memcpy(other_sm3, f->sm3, 32);
    other_sm3[31] ^= 1;
    r = f->ref;
    r.sm3 = other_sm3;
    assert_int_equal(try_open(f, f->k, &r, f->ct, f->ct_len), ERR_CRYPTO);
    /* the right row again */
    assert_int_equal(try_open(f, f->k, &f->ref, f->ct, f->ct_len), ERR_OK);
}

static void
test_wrong_key_fails(void **state)
{
    struct fixture *f = *state;
    struct blob_key *other_id = NULL, *other_bytes = NULL;
    uint8_t dk2[BLOB_DATA_KEY_LEN];
    struct err e = {0};

    assert_int_equal(blob_key_from(8, t_dk, &other_id, &e), ERR_OK);
    assert_int_equal(try_open(f, other_id, &f->ref, f->ct, f->ct_len),
                     ERR_CRYPTO);
    memcpy(dk2, t_dk, sizeof(dk2));
    dk2[0] ^= 1;
    assert_int_equal(blob_key_from(7, dk2, &other_bytes, &e), ERR_OK);
    assert_int_equal(try_open(f, other_bytes, &f->ref, f->ct, f->ct_len),
                     ERR_CRYPTO);
    blob_key_put(other_id);
    blob_key_put(other_bytes);
}

/* blob_open without a ring: neither a sealed blob (no key) nor a plaintext
 * one (no policy known) opens */
static void
test_open_without_ring(void **state)
{
    struct fixture *f = *state;
    uint8_t *pt = NULL;
    size_t n = 0;
    struct err e = {0};

    assert_int_equal(blob_open(&f->ref, f->ct, f->ct_len, &pt, &n, &e),
                     ERR_UNAVAILABLE);
    assert_null(pt);
    assert_int_equal(blob_open(&f->ref, f->pt, sizeof(f->pt), &pt, &n, &e),
                     ERR_UNAVAILABLE);
    assert_null(pt);
}

/* ---- the wrap through the development token ---- */

static void
t_write(const char *path, const char *s)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    fputs(s, fp);
    fclose(fp);
}

static void
test_token_wrap(void **state)
{
    static const char *profiles[] = {"sansec", "tass", "luna"};
    const char *b = getenv("SEALD_BUILD_DIR");
    char root[64] = "/tmp/seald-blobcrypt-XXXXXX", list[512] = "",
         module[4096], path[300], cmd[128], pin[128];
    struct custody_token_conf conf[3];
    struct custody *c = NULL;
    struct err e = {0};
    uint8_t dk[BLOB_DATA_KEY_LEN], back[BLOB_DATA_KEY_LEN + 64], *w = NULL;
    size_t wl = 0, n = 0;

    (void)state;
    snprintf(module, sizeof(module), "%s/src/devtoken/libsealdtoken.so",
             b ? b : ".");
    assert_non_null(mkdtemp(root));
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/tok%d", root, i);
        assert_int_equal(mkdir(path, 0700), 0);
        if (i)
            strcat(list, ":");
        strcat(list, path);
        strcat(path, "/profile");
        t_write(path, profiles[i]);
    }
    setenv("SEALD_DEVTOKEN_DIR", list, 1);
    unsetenv("SEALD_DEVTOKEN_PROFILE");
    snprintf(pin, sizeof(pin), "%s/pin", root);
    t_write(pin, "123456\n");
    for (int i = 0; i < 3; i++) {
        char label[16];
        snprintf(label, sizeof(label), "dev%d", i);
        assert_int_equal(custody_init_token(module, i, label, "so-secret",
                                            "123456", &e), ERR_OK);
        custody_conf_init(&conf[i]);
        snprintf(conf[i].name, sizeof(conf[i].name), "t%d", i);
        snprintf(conf[i].module, sizeof(conf[i].module), "%s", module);
        snprintf(conf[i].profile, sizeof(conf[i].profile), "sm2-%s",
                 profiles[i]);
        snprintf(conf[i].token_label, sizeof(conf[i].token_label), "%s",
                 label);
        snprintf(conf[i].pin_file, sizeof(conf[i].pin_file), "%s", pin);
    }
    assert_int_equal(custody_open(conf, 3, &c, &e), ERR_OK);
    for (size_t i = 0; i < sizeof(dk); i++)
        dk[i] = (uint8_t)(0xA0 + i);
    for (int i = 0; i < 2; i++) {
        char tok[8], id[CUSTODY_ID_HEX_MAX];
        snprintf(tok, sizeof(tok), "t%d", i);
        assert_int_equal(custody_generate_decrypt_key(c, tok, "wrap", id, &e),
                         ERR_OK);
        assert_int_equal(custody_wrap(c, tok, id, dk, sizeof(dk), &w, &wl,
                                      &e), ERR_OK);
        /* a DER SM2Cipher: C1 (two coordinates), C3 (32), C2 (32) */
        assert_true(wl > 96 + sizeof(dk) && w[0] == 0x30);
        assert_null(memmem(w, wl, dk, 16));
        assert_int_equal(custody_unwrap(c, tok, id, w, wl, back,
                                        sizeof(back), &n, &e), ERR_OK);
        assert_int_equal(n, sizeof(dk));
        assert_memory_equal(back, dk, n);
        /* a tampered wrap is refused by the token (SM2's C3 check) */
        w[wl - 1] ^= 1;
        assert_int_equal(custody_unwrap(c, tok, id, w, wl, back,
                                        sizeof(back), &n, &e), ERR_CRYPTO);
        free(w);
        w = NULL;
    }
    /* a profile without an SM2 decryption mechanism: refused clearly */
    {
        char id[CUSTODY_ID_HEX_MAX];
        assert_int_equal(custody_generate_decrypt_key(c, "t2", "wrap", id,
                                                      &e), ERR_CONFIG);
        assert_non_null(strstr(e.msg, "no SM2 decryption"));
    }
    custody_close(c);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_flipped_byte_fails, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_other_row_fails, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_wrong_key_fails, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_open_without_ring, setup,
                                        teardown),
        cmocka_unit_test(test_token_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
