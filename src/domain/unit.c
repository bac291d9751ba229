/*
 * unit.c - the unit of work (unit.h): the work, its audit entry and the
 * commit as one call, on store_run or store_group_run.
 */
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "event.h"
#include "store.h"
#include "unit.h"

/* What store_run hands back to us: the unit and the caller's work. */
struct unit_call {
    struct unit  u;
    unit_fn      fn;
    void        *ctx;
};

/* The store's work function: queued on the audit chain's head (audit.h,
 * audit_queue: one lock order for every unit, so units on several nodes
 * never deadlock), the caller's work on the connection the transaction
 * runs on, then its audit entry. */
static err_code
unit_step(struct store_conn *db, void *vcall, struct err *e)
{
    struct unit_call *call = vcall;
    struct unit *u = &call->u;
    struct audit_event ev;
    err_code rc;

    /* a grouped unit may run twice (store.h): each run starts over */
    json_decref(u->details);
    u->details = NULL;
    u->audited = 0;
    u->recorded = 0;
    u->quiet = 0;
    u->events = 0;
    u->a.db = db;
    if ((rc = audit_queue(db, e)) != ERR_OK ||
        (rc = call->fn(u, call->ctx, e)) != ERR_OK)
        return rc;
    if (!u->audited)
        return u->quiet || u->recorded > 0
            ? ERR_OK
            : err_set(e, ERR_INTERNAL, "a unit of work without its audit "
                      "entry");
    memset(&ev, 0, sizeof(ev));
    ev.action = u->action;
    ev.target_type = u->target_type[0] ? u->target_type : NULL;
    ev.target_id = u->target_id[0] ? u->target_id : NULL;
    ev.outcome = AUDIT_OK;
    ev.details = u->details;
    /* the lifecycle event, if the entry is one, in the same transaction
     * (event.h): it commits exactly when the change does */
    if ((rc = audit_append(db, &u->a.who, &ev, e)) != ERR_OK)
        return rc;
    return event_on_audit(u, &ev, e);
}

static void
unit_init(struct unit_call *call, const struct actor_ctx *a, unit_fn fn,
          void *ctx)
{
    memset(call, 0, sizeof(*call));
    call->u.a = *a;
    call->fn = fn;
    call->ctx = ctx;
}

err_code
unit_run(const struct actor_ctx *a, unit_fn fn, void *ctx, struct err *e)
{
    struct unit_call call;
    err_code rc;

    unit_init(&call, a, fn, ctx);
    rc = store_run(a->db, unit_step, &call, e);
    json_decref(call.u.details);
    if (rc == ERR_OK && call.u.events > 0)
        event_committed();
    return rc;
}

err_code
unit_run_grouped(const struct actor_ctx *a, unit_fn fn, void *ctx,
                 struct err *e)
{
    struct unit_call call;
    err_code rc;

    unit_init(&call, a, fn, ctx);
    rc = store_group_run(a->db, unit_step, &call, e);
    json_decref(call.u.details);
    if (rc == ERR_OK && call.u.events > 0)
        event_committed();
    return rc;
}

err_code
unit_audit(struct unit *u, const char *action, const char *target_type,
           const char *target_id, json_t *details, struct err *e)
{
    int over;

    if (u->audited) {
        json_decref(details);
        return err_set(e, ERR_INTERNAL, "%s: a second audit entry", action);
    }
    over = snprintf(u->action, sizeof(u->action), "%s", action)
               >= (int)sizeof(u->action) ||
           snprintf(u->target_type, sizeof(u->target_type), "%s",
                    target_type ? target_type : "")
               >= (int)sizeof(u->target_type) ||
           snprintf(u->target_id, sizeof(u->target_id), "%s",
                    target_id ? target_id : "")
               >= (int)sizeof(u->target_id);
    if (over) {
        json_decref(details);
        return err_set(e, ERR_INTERNAL, "%s: audit target too long", action);
    }
    u->details = details;
    u->audited = 1;
    return ERR_OK;
}

err_code
unit_audit_id(struct unit *u, const char *action, const char *target_type,
              int64_t target_id, json_t *details, struct err *e)
{
    char id[24];

    snprintf(id, sizeof(id), "%lld", (long long)target_id);
    return unit_audit(u, action, target_type, id, details, e);
}

err_code
unit_record(struct unit *u, const struct audit_event *ev, struct err *e)
{
    err_code rc = audit_append(u->a.db, &u->a.who, ev, e);

    if (rc != ERR_OK)
        return rc;
    u->recorded++;
    return event_on_audit(u, ev, e);
}

void
unit_quiet(struct unit *u)
{
    u->quiet = 1;
}
