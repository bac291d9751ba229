/*
 * sign_moves.c - the life of a signing request as one table (signing.h,
 * sign_request_move).  A file of its own: the table is data that the
 * manual and docs/permissions.md show, and every state check on a request
 * reads it through the one function here.
 */
#include <string.h>

#include "signing.h"

struct sreq_move_rule {
    const char      *event;
    enum sreq_state  from, to;
    int              needs_reason;
    enum rbac_perm   perm;          /* what the actor holds for the event */
};

static const struct sreq_move_rule sreq_moves[] = {
    {"approve", SREQ_SUBMITTED, SREQ_APPROVED, 0, PERM_REQUEST_APPROVE},
    {"reject", SREQ_SUBMITTED, SREQ_REJECTED, 1,                    /* 退签 */
     PERM_REQUEST_APPROVE},
    {"cancel", SREQ_SUBMITTED, SREQ_CANCELLED, 0, PERM_REQUEST_SUBMIT},
    {"cancel", SREQ_APPROVED, SREQ_CANCELLED, 0, PERM_REQUEST_SUBMIT},
    {"upload", SREQ_SUBMITTED, SREQ_SUBMITTED, 0, PERM_SELF},
    {"upload", SREQ_APPROVED, SREQ_APPROVED, 0, PERM_SELF},
    {"sign", SREQ_APPROVED, SREQ_APPROVED, 0, PERM_SEAL_USE},
    {"resubmit", SREQ_REJECTED, SREQ_REJECTED, 0,       /* 重签: the old one */
     PERM_REQUEST_SUBMIT},
    {"extra_copies", SREQ_APPROVED, SREQ_APPROVED, 0,   /* 加印: the old one */
     PERM_REQUEST_SUBMIT},
};
#define SREQ_NMOVES (sizeof(sreq_moves) / sizeof(sreq_moves[0]))

err_code
sign_request_move(const char *event, enum sreq_state from,
                  enum sreq_state *to, int *needs_reason, struct err *e)
{
    size_t i;

    for (i = 0; i < SREQ_NMOVES; i++)
        if (!strcmp(sreq_moves[i].event, event) &&
            sreq_moves[i].from == from) {
            if (to != NULL)
                *to = sreq_moves[i].to;
            if (needs_reason != NULL)
                *needs_reason = sreq_moves[i].needs_reason;
            return ERR_OK;
        }
    return err_set(e, ERR_CONFLICT, "a %s signing request does not allow "
                   "'%s'", sreq_state_name(from), event);
}

enum rbac_perm
sign_request_event_perm(const char *event)
{
    size_t i;

    for (i = 0; i < SREQ_NMOVES; i++)
        if (!strcmp(sreq_moves[i].event, event))
            return sreq_moves[i].perm;
    return PERM_NONE;
}

int
sign_request_move_row(size_t i, const char **event, const char **from,
                      const char **to)
{
    if (i >= SREQ_NMOVES)
        return 0;
    *event = sreq_moves[i].event;
    *from = sreq_state_name(sreq_moves[i].from);
    *to = sreq_state_name(sreq_moves[i].to);
    return 1;
}

int
sign_request_move_perm(size_t i)
{
    return i < SREQ_NMOVES ? (int)sreq_moves[i].perm : -1;
}
