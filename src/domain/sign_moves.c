/*
 * sign_moves.c - the life of a signing request as one table (signing.h,
 * sign_request_move).  A file of its own: the table is data that the
 * manual and docs/permissions.md show, and every state check on a request
 * reads it through the one function here.
 */
#include <string.h>

#include "signing.h"

struct sreq_move_rule {
    const char *event, *from, *to;
    int         needs_reason;
};

static const struct sreq_move_rule sreq_moves[] = {
    {"approve", "submitted", "approved", 0},
    {"reject", "submitted", "rejected", 1},         /* 退签 */
    {"cancel", "submitted", "cancelled", 0},
    {"cancel", "approved", "cancelled", 0},
    {"upload", "submitted", "submitted", 0},
    {"upload", "approved", "approved", 0},
    {"sign", "approved", "approved", 0},
    {"resubmit", "rejected", "rejected", 0},       /* 重签: the old one */
    {"extra_copies", "approved", "approved", 0},   /* 加印: the old one */
};
#define SREQ_NMOVES (sizeof(sreq_moves) / sizeof(sreq_moves[0]))

err_code
sign_request_move(const char *event, const char *from, const char **to,
                  int *needs_reason, struct err *e)
{
    size_t i;

    for (i = 0; i < SREQ_NMOVES; i++)
        if (!strcmp(sreq_moves[i].event, event) &&
            !strcmp(sreq_moves[i].from, from)) {
            if (to != NULL)
                *to = sreq_moves[i].to;
            if (needs_reason != NULL)
                *needs_reason = sreq_moves[i].needs_reason;
            return ERR_OK;
        }
    return err_set(e, ERR_CONFLICT, "a %s signing request does not allow "
                   "'%s'", from, event);
}

int
sign_request_move_row(size_t i, const char **event, const char **from,
                      const char **to)
{
    if (i >= SREQ_NMOVES)
        return 0;
    *event = sreq_moves[i].event;
    *from = sreq_moves[i].from;
    *to = sreq_moves[i].to;
    return 1;
}

