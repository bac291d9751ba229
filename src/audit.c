/*
 * audit.c - the audit entry point (audit.h).  It validates the record and
 * hands it to the store; it is the only caller of store_audit_insert().
 */
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "util.h"

#define AUDIT_DETAILS_MAX 4096

err_code
audit_append(struct store_conn *c, const struct audit_actor *who,
             const struct audit_event *ev, struct err *e)
{
    struct store_audit_row row;
    char *details = NULL;
    err_code rc;

    if (ev->action == NULL || ev->outcome == NULL)
        return err_set(e, ERR_INTERNAL, "audit record without action");
    if (ev->details != NULL) {
        details = json_dumps(ev->details, JSON_COMPACT | JSON_SORT_KEYS);
        if (details == NULL)
            return err_set(e, ERR_NOMEM, "out of memory");
        if (strlen(details) > AUDIT_DETAILS_MAX) {
            free(details);
            return err_set(e, ERR_INTERNAL, "audit details too large");
        }
    }
    memset(&row, 0, sizeof(row));
    row.ts_ms = util_now_ms();
    row.account_id = who ? who->account_id : 0;
    row.role = who ? who->role : NULL;
    row.client_addr = who ? who->client_addr : NULL;
    row.request_id = who ? who->request_id : NULL;
    row.action = ev->action;
    row.target_type = ev->target_type;
    row.target_id = ev->target_id;
    row.outcome = ev->outcome;
    row.reason = ev->reason;
    row.details = details;
    rc = store_audit_insert(c, &row, NULL, e);
    free(details);
    return rc;
}
