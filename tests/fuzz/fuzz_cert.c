/*
 * fuzz_cert.c - libFuzzer target: certificates that callers hand to seald.
 * The input is what a client uploads as the external CA's certificate for
 * seal_make_with_certificate (PEM, one or more blocks, or one DER
 * certificate): ca_cert_load, then on what it loads ca_cert_times, the PEM
 * round trip ca_der_to_pem and ca_import_check (the leaf against its own
 * key, the loaded chain as anchors).  The same bytes are also loaded as a
 * trust-anchor file with ses_trust_load.  Nothing may crash, read out of
 * bounds or leak, and ca_cert_load must keep its contract (one strict DER
 * leaf, at most CA_MAX_CHAIN certificates, outputs cleared on failure).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "ca.h"
#include "ses.h"
#include "sm2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The trust directory of ses_trust_load: made on the first input, holding
 * one file, removed at exit. */
static char trust_dir[64];
static char trust_file[96];

/* atexit: remove the trust directory. */
static void trust_dir_remove(void)
{
    unlink(trust_file);
    rmdir(trust_dir);
}

/* Make the trust directory (under TMPDIR, else /tmp) once; abort if that
 * cannot be done. */
static void trust_dir_make(void)
{
    const char *tmp = getenv("TMPDIR");

    if (trust_dir[0] != '\0')
        return;
    if (tmp == NULL || tmp[0] == '\0')
        tmp = "/tmp";
    if ((size_t)snprintf(trust_dir, sizeof(trust_dir), "%s/fuzz_cert.XXXXXX",
                         tmp) >= sizeof(trust_dir) ||
        mkdtemp(trust_dir) == NULL)
        abort();
    snprintf(trust_file, sizeof(trust_file), "%s/anchor.pem", trust_dir);
    atexit(trust_dir_remove);
}

/* Write data to the one trust file and load the directory as anchors. */
static void trust_load(const uint8_t *data, size_t size)
{
    X509_STORE *store = NULL;
    FILE *f;
    int count = -1;
    struct err e;

    trust_dir_make();
    f = fopen(trust_file, "wb");
    if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    if (ses_trust_load(trust_dir, NULL, &store, &count, &e) != ERR_OK ||
        store == NULL || count < 0 || count > SES_MAX_CERTS)
        abort();
    X509_STORE_free(store);
}

/* The leaf (DER) and chain ca_cert_load gave: check them, then run what
 * seald runs on an imported certificate. */
static void use_loaded(const uint8_t *leaf, size_t leaf_len,
                       STACK_OF(X509) *chain)
{
    uint8_t *again = NULL;
    size_t again_len = 0;
    X509 *x = NULL;
    X509_STORE *anchors;
    time_t nb, na;
    char *pem = NULL;
    struct err e;
    int i;

    if (leaf == NULL || leaf_len == 0 || leaf_len > CA_MAX_DER ||
        chain == NULL || sk_X509_num(chain) > CA_MAX_CHAIN - 1)
        abort();
    /* the leaf is one strict DER certificate */
    if (sm2_cert_parse(leaf, leaf_len, &x, &e) != ERR_OK)
        abort();
    /* PEM of the leaf loads back to the same DER */
    if (ca_der_to_pem("CERTIFICATE", leaf, leaf_len, &pem, &e) != ERR_OK ||
        ca_cert_load((const uint8_t *)pem, strlen(pem), &again, &again_len,
                     NULL, &e) != ERR_OK ||
        again_len != leaf_len || memcmp(again, leaf, leaf_len) != 0)
        abort();
    free(again);
    free(pem);
    nb = 0;
    if (ca_cert_times(leaf, leaf_len, &nb, &na, &e) != ERR_OK)
        nb = 0;
    /* the chain's certificates as anchors, checked when the leaf starts */
    anchors = X509_STORE_new();
    if (anchors == NULL)
        abort();
    for (i = 0; i < sk_X509_num(chain); i++)
        X509_STORE_add_cert(anchors, sk_X509_value(chain, i));
    (void)ca_import_check(leaf, leaf_len, X509_get0_pubkey(x), anchors,
                          chain, nb, &e);
    X509_STORE_free(anchors);
    X509_free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    STACK_OF(X509) *chain = (STACK_OF(X509) *)1;
    uint8_t *leaf = (uint8_t *)1, *copy;
    size_t leaf_len = 0;
    struct err e;

    if (size > CA_MAX_PEM)
        return 0;
    /* an exact-size heap copy so that ASan sees any over-read */
    copy = malloc(size ? size : 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);

    if (ca_cert_load(copy, size, &leaf, &leaf_len, &chain, &e) == ERR_OK) {
        use_loaded(leaf, leaf_len, chain);
        sk_X509_pop_free(chain, X509_free);
        free(leaf);
    } else if (leaf != NULL || chain != NULL) {
        abort();
    }
    /* without a chain wanted, the same leaf or the same refusal */
    leaf = (uint8_t *)1;
    if (ca_cert_load(copy, size, &leaf, &leaf_len, NULL, &e) == ERR_OK)
        free(leaf);
    else if (leaf != NULL)
        abort();

    trust_load(copy, size);
    free(copy);
    return 0;
}
