/*
 * app_moves.c - the life of an application as one table (application.h,
 * application_move).  A file of its own, as sign_moves.c: the table is
 * data that docs/permissions.md shows, and every state check on an
 * application reads it through the functions here.
 */
#include <string.h>

#include "application.h"

struct app_move_rule {
    const char *event, *from, *to, *action;
    int         needs_reason;
};

static const struct app_move_rule app_moves[] = {
    {"start", "submitted", "under_review", "application.review_start", 0},
    {"return", "under_review", "returned", "application.return", 1},
    {"reject", "under_review", "rejected", "application.reject", 1},
    {"approve", "under_review", "approved", "application.approve", 0},
    {"resubmit", "returned", "submitted", "application.resubmit", 0},
    {"make", "approved", "made", "seal.make", 0},
};
#define APP_NMOVES (sizeof(app_moves) / sizeof(app_moves[0]))

err_code
application_move(const char *event, const char *from, const char **to,
                 int *needs_reason, const char **action, struct err *e)
{
    size_t i;

    for (i = 0; i < APP_NMOVES; i++)
        if (!strcmp(app_moves[i].event, event) &&
            !strcmp(app_moves[i].from, from)) {
            if (to != NULL)
                *to = app_moves[i].to;
            if (needs_reason != NULL)
                *needs_reason = app_moves[i].needs_reason;
            if (action != NULL)
                *action = app_moves[i].action;
            return ERR_OK;
        }
    return err_set(e, ERR_CONFLICT, "an application that is %s does not "
                   "allow '%s'", from, event);
}

int
application_move_row(size_t i, const char **event, const char **from,
                     const char **to)
{
    if (i >= APP_NMOVES)
        return 0;
    *event = app_moves[i].event;
    *from = app_moves[i].from;
    *to = app_moves[i].to;
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

