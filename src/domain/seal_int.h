/*
 * seal_int.h - private to the domain: what seal.c shares with
 * seal_status.c (the instance's signing authorities as loaded from the
 * database, and the CRLReason number of a seal's reason code).
 */
#ifndef SEALD_SEAL_INT_H
#define SEALD_SEAL_INT_H

#include <stddef.h>
#include <stdint.h>

#include "ca.h"
#include "config.h"
#include "custody.h"
#include "store_types.h"

/* The instance's CA, maker or status signer: key reference split into key
 * (borrowing the token and id buffers) and its certificate (cert
 * malloc'ed; authority_free frees it). */
struct authority {
    char     ref[STORE_KEYREF_MAX];
    char     token[CUSTODY_NAME_MAX];
    char     id[CUSTODY_ID_HEX_MAX];
    uint8_t *cert;
    size_t   cert_len;
    struct ca_key key;
};

/* Load the authority of role ("ca", "maker", "status") with its key in
 * custody c.  ERR_CONFIG when the instance has none. */
err_code authority_load(struct store_conn *db, struct custody *c,
                        const char *role, struct authority *au,
                        struct err *e);

void authority_free(struct authority *au);

/* The CRLReason number (statuslist.h, sealstatus.h) of s's reason code. */
int seal_reason_number(const struct store_seal *s);

#endif
