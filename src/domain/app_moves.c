/*
 * app_moves.c - the life of an application as one table (application.h,
 * application_move).  A file of its own, as sign_moves.c: the table is
 * data that docs/permissions.md shows, and every state check on an
 * application reads it through the functions here.
 */
#include <string.h>

#include "application.h"

/* perm: the permission the actor holds for the event (the one the
 * domain or, where the domain checks none, the route requires). */
struct app_move_rule {
    const char     *event;
    enum app_state  from, to;
    const char     *action;
    int             needs_reason;
    enum rbac_perm  perm;
};

static const struct app_move_rule app_moves[] = {
    {"start", APP_SUBMITTED, APP_UNDER_REVIEW, "application.review_start", 0,
     PERM_APPLICATION_REVIEW},
    {"return", APP_UNDER_REVIEW, APP_RETURNED, "application.return", 1,
     PERM_APPLICATION_REVIEW},
    {"reject", APP_UNDER_REVIEW, APP_REJECTED, "application.reject", 1,
     PERM_APPLICATION_REVIEW},
    {"approve", APP_UNDER_REVIEW, APP_APPROVED, "application.approve", 0,
     PERM_APPLICATION_REVIEW},
    {"resubmit", APP_RETURNED, APP_SUBMITTED, "application.resubmit", 0,
     PERM_APPLICATION_SUBMIT},
    {"make", APP_APPROVED, APP_MADE, "seal.make", 0, PERM_SEAL_MAKE},
};
#define APP_NMOVES (sizeof(app_moves) / sizeof(app_moves[0]))

err_code
application_move(const char *event, enum app_state from,
                 enum app_state *to, int *needs_reason, const char **action,
                 struct err *e)
{
    size_t i;

    for (i = 0; i < APP_NMOVES; i++)
        if (!strcmp(app_moves[i].event, event) && app_moves[i].from == from) {
            if (to != NULL)
                *to = app_moves[i].to;
            if (needs_reason != NULL)
                *needs_reason = app_moves[i].needs_reason;
            if (action != NULL)
                *action = app_moves[i].action;
            return ERR_OK;
        }
    return err_set(e, ERR_CONFLICT, "an application that is %s does not "
                   "allow '%s'", app_state_name(from), event);
}

int
application_move_row(size_t i, const char **event, const char **from,
                     const char **to)
{
    if (i >= APP_NMOVES)
        return 0;
    *event = app_moves[i].event;
    *from = app_state_name(app_moves[i].from);
    *to = app_state_name(app_moves[i].to);
    return 1;
}

int
application_event_needs_reason(const char *event)
{
    size_t i;

    for (i = 0; i < APP_NMOVES; i++)
        if (!strcmp(app_moves[i].event, event))
            return app_moves[i].needs_reason;
    return 0;
}

enum rbac_perm
application_event_perm(const char *event)
{
    size_t i;

    for (i = 0; i < APP_NMOVES; i++)
        if (!strcmp(app_moves[i].event, event))
            return app_moves[i].perm;
    return PERM_NONE;
}
