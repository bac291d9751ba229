/*
 * seal_moves.c - the life of a seal as one table (seal_moves.h).  A file
 * of its own, as app_moves.c and sign_moves.c: the table is data that
 * docs/permissions.md shows, and every state change of a seal reads it
 * through the functions here.
 */
#include <stddef.h>
#include <string.h>

#include "seal.h"
#include "seal_moves.h"

static const struct seal_move_rule seal_moves[] = {
    {"confirm", SEAL_MADE, SEAL_ACTIVE, NULL, NULL, "seal.confirm",
     PERM_APPLICATION_SUBMIT},
    {"suspend", SEAL_ACTIVE, SEAL_SUSPENDED, NULL, NULL, "seal.suspend",
     PERM_SEAL_SUSPEND},
    {"auto_suspend", SEAL_ACTIVE, SEAL_SUSPENDED, "unused", NULL,
     "seal.auto_suspend", PERM_NONE},
    {"org_disabled", SEAL_ACTIVE, SEAL_SUSPENDED, "org_disabled", NULL,
     "seal.suspend_org_disabled", PERM_ORG_WRITE},
    {"resume", SEAL_SUSPENDED, SEAL_ACTIVE, NULL, NULL, "seal.resume",
     PERM_SEAL_SUSPEND},
    {"report_loss", SEAL_ACTIVE, SEAL_LOST, NULL, "key_compromise",
     "seal.report_loss", PERM_SEAL_REPORT},
    {"report_loss", SEAL_SUSPENDED, SEAL_LOST, NULL, "key_compromise",
     "seal.report_loss", PERM_SEAL_REPORT},
    {"reinstate", SEAL_LOST, SEAL_NONE, NULL, NULL, "seal.reinstate",
     PERM_APPLICATION_REVIEW},
    {"revoke", SEAL_MADE, SEAL_REVOKED, NULL, NULL, "seal.revoke",
     PERM_APPLICATION_REVIEW},
    {"revoke", SEAL_ACTIVE, SEAL_REVOKED, NULL, NULL, "seal.revoke",
     PERM_APPLICATION_REVIEW},
    {"revoke", SEAL_SUSPENDED, SEAL_REVOKED, NULL, NULL, "seal.revoke",
     PERM_APPLICATION_REVIEW},
    {"revoke", SEAL_LOST, SEAL_REVOKED, NULL, NULL, "seal.revoke",
     PERM_APPLICATION_REVIEW},
    {"expire", SEAL_ACTIVE, SEAL_EXPIRED, NULL, "expired", "seal.expire",
     PERM_NONE},
};
#define SEAL_NMOVES (sizeof(seal_moves) / sizeof(seal_moves[0]))

int
seal_move_row(size_t i, const char **event, const char **from,
              const char **to)
{
    if (i >= SEAL_NMOVES)
        return 0;
    *event = seal_moves[i].event;
    *from = seal_state_name(seal_moves[i].from);
    *to = seal_state_name(seal_moves[i].to);
    return 1;
}

int
seal_move_perm(size_t i)
{
    return i < SEAL_NMOVES ? (int)seal_moves[i].perm : PERM_NONE;
}

const struct seal_move_rule *
seal_move_find(const char *event, enum seal_state from)
{
    size_t i;

    for (i = 0; i < SEAL_NMOVES; i++)
        if (!strcmp(seal_moves[i].event, event) &&
            seal_moves[i].from == from)
            return &seal_moves[i];
    return NULL;
}

enum rbac_perm
seal_event_perm(const char *event)
{
    size_t i;

    for (i = 0; i < SEAL_NMOVES; i++)
        if (!strcmp(seal_moves[i].event, event))
            return seal_moves[i].perm;
    return PERM_NONE;
}
