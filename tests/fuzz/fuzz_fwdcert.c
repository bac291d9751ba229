/*
 * fuzz_fwdcert.c - libFuzzer target: the client certificate a 国密 gateway
 * forwards (issue 19 item 9).  The input is the header's value as the
 * gateway sends it (URL-escaped PEM; a NUL ends it, as it would end a
 * header): fwdcert_unescape, then fwdcert_check against a fixed CA (a
 * trust file written once), at a fixed time inside the CA's validity.
 * Nothing may crash, read out of bounds or leak; a success must give
 * NUL-terminated DNs, and fwdcert_unescape's output must be one block.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fwdcert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The CA the seeds' certificate chains to (P-256, valid to 2126). */
static const char fuzz_ca[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBvDCCAWOgAwIBAgIUXSUPDJrsO0eKrKlRLLZnCB4NJvowCgYIKoZIzj0EAwIw\n"
    "MzELMAkGA1UEBhMCQ04xEDAOBgNVBAoMB0Z1enogQ0ExEjAQBgNVBAMMCUZ1enog\n"
    "Um9vdDAgFw0yNjEyMDMwNTQ2NTZaGA8yMTI2MTEwOTA1NDY1NlowMzELMAkGA1UE\n"
    "BhMCQ04xEDAOBgNVBAoMB0Z1enogQ0ExEjAQBgNVBAMMCUZ1enogUm9vdDBZMBMG\n"
    "ByqGSM49AgEGCCqGSM49AwEHA0IABH1DILP7tYyYgwOs92hoMUa93BqYsEAyiwzN\n"
    "3WRXc4Neuo9S5TDAPac6i3WobKnH0b41GyVlgfd88FYn+pffoDSjUzBRMB0GA1Ud\n"
    "DgQWBBQNdPtJ0YT2ntQWIKVhrJRXVJy/vDAfBgNVHSMEGDAWgBQNdPtJ0YT2ntQW\n"
    "IKVhrJRXVJy/vDAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cAMEQCIDUk\n"
    "u0n6RzbjGdVUGNRGGsQ36RO8RwgOHAcnx1CVaKdEAiBWFaBvHdgOkIX0n+d/Ld3d\n"
    "AnB7ZlJHNFEseyYyFlFspQ==\n"
    "-----END CERTIFICATE-----\n";

#define FUZZ_NOW_S 1800000000LL   /* 2027-01-15 */

static struct fwdcert_trust *trust;
static char trust_file[96];

/* atexit: free the trust and remove its file. */
static void trust_free(void)
{
    fwdcert_trust_free(trust);
    unlink(trust_file);
}

/* Write the CA to a file and open it as gateway.client_ca, once; abort
 * if that cannot be done. */
static void trust_open(void)
{
    const char *tmp = getenv("TMPDIR");
    struct config cfg;
    struct err e;
    FILE *f;
    int fd;

    snprintf(trust_file, sizeof(trust_file), "%s/fuzz_fwdcert_XXXXXX",
             tmp != NULL && strlen(tmp) < 60 ? tmp : "/tmp");
    if ((fd = mkstemp(trust_file)) < 0 || (f = fdopen(fd, "w")) == NULL ||
        fputs(fuzz_ca, f) == EOF || fclose(f) != 0)
        abort();
    config_defaults(&cfg);
    snprintf(cfg.gateway_subject, sizeof(cfg.gateway_subject), "CN=gw");
    snprintf(cfg.gateway_client_ca, sizeof(cfg.gateway_client_ca), "%s",
             trust_file);
    if (fwdcert_trust_open(&cfg, &trust, &e) != ERR_OK || trust == NULL)
        abort();
    atexit(trust_free);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fwdcert_facts facts;
    char *value, *pem = NULL;
    size_t len = 0;
    struct err e;

    if (trust == NULL)
        trust_open();
    if ((value = malloc(size + 1)) == NULL)
        return 0;
    memcpy(value, data, size);
    value[size] = '\0';
    if (fwdcert_unescape(value, &pem, &len, &e) == ERR_OK) {
        if (pem == NULL || strlen(pem) != len ||
            strstr(pem, "-----BEGIN CERTIFICATE-----") == NULL)
            abort();
        free(pem);
    } else if (pem != NULL) {
        abort();
    }
    if (fwdcert_check(trust, value, FUZZ_NOW_S, &facts, &e) == ERR_OK &&
        (memchr(facts.subject, '\0', sizeof(facts.subject)) == NULL ||
         memchr(facts.issuer, '\0', sizeof(facts.issuer)) == NULL))
        abort();
    free(value);
    return 0;
}
