/*
 * account.c - account and credential rules (account.h).
 */
#include <stdio.h>

#include "account.h"
#include "util.h"

err_code
account_rotate_credential(struct store_conn *c, const struct auth_key *k,
                          const struct auth_principal *p,
                          const struct audit_actor *who, int64_t max_age_ms,
                          char out[AUTH_CREDENTIAL_LEN + 1], struct err *e)
{
    struct audit_event ev = {"credential.rotate", "account", NULL, AUDIT_OK,
                             NULL, NULL};
    char id[24];
    err_code rc;

    snprintf(id, sizeof(id), "%lld", (long long)p->account_id);
    ev.target_id = id;
    if ((rc = store_begin(c, e)) != ERR_OK)
        return rc;
    if ((rc = store_credential_revoke(c, p->credential_id, util_now_ms(), e))
        != ERR_OK ||
        (rc = auth_credential_issue(c, k, p->account_id, 0, max_age_ms, out,
                                    e)) != ERR_OK ||
        (rc = audit_append(c, who, &ev, e)) != ERR_OK ||
        (rc = store_commit(c, e)) != ERR_OK) {
        store_rollback(c);
        util_wipe(out, AUTH_CREDENTIAL_LEN + 1);
    }
    return rc;
}
