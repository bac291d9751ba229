/*
 * auth.c - credential issue and check (auth.h).  The server secret is the
 * only secret kept in memory for the life of the process; presented and
 * issued credentials are wiped as soon as they are used.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "auth.h"
#include "sod.h"
#include "util.h"

struct auth_key {
    uint8_t secret[AUTH_SERVER_SECRET_BYTES];
};

err_code
auth_key_create(const char *path, struct err *e)
{
    uint8_t secret[AUTH_SERVER_SECRET_BYTES];
    err_code rc;
    int fd;

    if ((rc = util_random(secret, sizeof(secret), e)) != ERR_OK)
        return rc;
    if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
        rc = err_set(e, ERR_IO, "%s: %s", path, strerror(errno));
        goto done;
    }
    if (write(fd, secret, sizeof(secret)) != (ssize_t)sizeof(secret) ||
        fsync(fd) != 0)
        rc = err_set(e, ERR_IO, "%s: write failed", path);
    close(fd);
done:
    util_wipe(secret, sizeof(secret));
    return rc;
}

err_code
auth_key_load(const char *path, struct auth_key **out, struct err *e)
{
    struct auth_key *k = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    err_code rc;

    if ((rc = util_read_secret(path, AUTH_SERVER_SECRET_BYTES, &buf, &len,
                               e)) != ERR_OK)
        return rc;
    if (len != AUTH_SERVER_SECRET_BYTES) {
        rc = err_set(e, ERR_CONFIG, "%s: server secret must be %d bytes",
                     path, AUTH_SERVER_SECRET_BYTES);
        goto done;
    }
    /* the server secret lives for the process: in locked memory */
    if ((k = util_secret_alloc(sizeof(*k))) == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    memcpy(k->secret, buf, len);
    *out = k;
done:
    util_secret_free(buf);
    return rc;
}

void
auth_key_free(struct auth_key *k)
{
    util_secret_free(k);
}

/* mac = HMAC-SM3(server secret, key_id ":" secret_hex). */
static err_code
credential_mac(const struct auth_key *k, const char *key_id,
               const char *secret_hex, uint8_t mac[AUTH_MAC_BYTES],
               struct err *e)
{
    char msg[2 * AUTH_KEY_ID_BYTES + 1 + 2 * AUTH_SECRET_BYTES + 1];
    size_t maclen = 0;
    int n;

    n = snprintf(msg, sizeof(msg), "%s:%s", key_id, secret_hex);
    if (n < 0 || (size_t)n >= sizeof(msg))
        return err_set(e, ERR_INTERNAL, "credential too long");
    if (EVP_Q_mac(NULL, "HMAC", NULL, "SM3", NULL, k->secret,
                  sizeof(k->secret), (unsigned char *)msg, (size_t)n, mac,
                  AUTH_MAC_BYTES, &maclen) == NULL ||
        maclen != AUTH_MAC_BYTES) {
        util_wipe(msg, sizeof(msg));
        return err_set(e, ERR_CRYPTO, "HMAC-SM3 failed");
    }
    util_wipe(msg, sizeof(msg));
    return ERR_OK;
}

err_code
auth_credential_issue(struct store_conn *c, const struct auth_key *k,
                      int64_t account_id, int initial, int64_t max_age_ms,
                      char out[AUTH_CREDENTIAL_LEN + 1], struct err *e)
{
    uint8_t id_raw[AUTH_KEY_ID_BYTES], sec_raw[AUTH_SECRET_BYTES];
    char key_id[2 * AUTH_KEY_ID_BYTES + 1], secret[2 * AUTH_SECRET_BYTES + 1];
    uint8_t mac[AUTH_MAC_BYTES];
    int64_t now = util_now_ms();
    err_code rc;

    if ((rc = util_random(id_raw, sizeof(id_raw), e)) != ERR_OK ||
        (rc = util_random(sec_raw, sizeof(sec_raw), e)) != ERR_OK)
        goto done;
    util_hex_encode(id_raw, sizeof(id_raw), key_id);
    util_hex_encode(sec_raw, sizeof(sec_raw), secret);
    if ((rc = credential_mac(k, key_id, secret, mac, e)) != ERR_OK)
        goto done;
    if ((rc = store_credential_insert(c, account_id, key_id, mac, sizeof(mac),
                                      initial, now, now + max_age_ms, e))
        != ERR_OK)
        goto done;
    snprintf(out, AUTH_CREDENTIAL_LEN + 1, "seald_%s_%s", key_id, secret);
done:
    util_wipe(sec_raw, sizeof(sec_raw));
    util_wipe(secret, sizeof(secret));
    util_wipe(mac, sizeof(mac));
    return rc;
}

static int
all_hex(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

err_code
auth_check(struct store_conn *c, const struct auth_key *k,
           const char *credential, struct auth_principal *p, struct err *e)
{
    char key_id[2 * AUTH_KEY_ID_BYTES + 1], secret[2 * AUTH_SECRET_BYTES + 1];
    uint8_t mac[AUTH_MAC_BYTES];
    struct store_credential cred;
    int64_t now = util_now_ms();
    err_code rc;

    memset(&cred, 0, sizeof(cred));
    if (strlen(credential) != AUTH_CREDENTIAL_LEN ||
        strncmp(credential, "seald_", 6) != 0 ||
        credential[6 + 2 * AUTH_KEY_ID_BYTES] != '_' ||
        !all_hex(credential + 6, 2 * AUTH_KEY_ID_BYTES) ||
        !all_hex(credential + 7 + 2 * AUTH_KEY_ID_BYTES, 2 * AUTH_SECRET_BYTES))
        return err_set(e, ERR_UNAUTHENTICATED, "malformed credential");
    memcpy(key_id, credential + 6, 2 * AUTH_KEY_ID_BYTES);
    key_id[2 * AUTH_KEY_ID_BYTES] = '\0';
    memcpy(secret, credential + 7 + 2 * AUTH_KEY_ID_BYTES,
           2 * AUTH_SECRET_BYTES + 1);

    memset(p, 0, sizeof(*p));
    rc = store_credential_by_key_id(c, key_id, &cred, e);
    if (rc != ERR_OK && rc != ERR_NOT_FOUND)
        goto done;
    p->account_id = cred.account_id;   /* 0 when the key id is unknown */
    /* Compute the MAC even for an unknown key id, so the answer takes the
     * same time whether or not the key id exists. */
    if ((rc = credential_mac(k, key_id, secret, mac, e)) != ERR_OK)
        goto done;
    if (cred.mac_len != AUTH_MAC_BYTES ||
        !util_ct_equal(mac, cred.mac, AUTH_MAC_BYTES)) {
        rc = err_set(e, ERR_UNAUTHENTICATED, "invalid credential");
        goto done;
    }
    if (cred.revoked_ms != 0) {
        rc = err_set(e, ERR_UNAUTHENTICATED, "credential revoked");
        goto done;
    }
    if (cred.expires_ms <= now) {
        rc = err_set(e, ERR_UNAUTHENTICATED, "credential expired");
        goto done;
    }
    if ((rc = auth_principal_load(c, cred.account_id, p, e)) != ERR_OK)
        goto done;
    p->account_id = cred.account_id;
    p->credential_id = cred.id;
    p->initial = cred.initial;
    p->expires_ms = cred.expires_ms;
done:
    util_wipe(secret, sizeof(secret));
    util_wipe(mac, sizeof(mac));
    util_wipe(&cred, sizeof(cred));
    return rc;
}

err_code
auth_principal_load(struct store_conn *c, int64_t account_id,
                    struct auth_principal *p, struct err *e)
{
    err_code rc;

    memset(p, 0, sizeof(*p));
    if ((rc = store_account_get(c, account_id, &p->account, e)) != ERR_OK)
        return rc == ERR_NOT_FOUND
            ? err_set(e, ERR_UNAUTHENTICATED, "unknown account") : rc;
    if (p->account.disabled)
        return err_set(e, ERR_UNAUTHENTICATED, "account disabled");
    if ((rc = store_account_roles(c, account_id, util_now_ms(), p->roles,
                                  STORE_MAX_ROLES, &p->nroles, e)) != ERR_OK)
        return rc;
    p->account_id = account_id;
    sod_principal(p);
    return ERR_OK;
}

int
auth_has_role(const struct auth_principal *p, const char *role)
{
    size_t i;

    for (i = 0; i < p->nroles; i++)
        if (strcmp(p->roles[i].role, role) == 0)
            return 1;
    return 0;
}
