/*
 * seal_moves.h - the life of a seal as one table (seal_moves.c), private
 * to the domain: seal.c applies its rows (seal_step), seald permissions
 * prints them (seal.h: seal_move_row, seal_move_perm).
 */
#ifndef SEALD_SEAL_MOVES_H
#define SEALD_SEAL_MOVES_H

#include "rbac.h"
#include "states.h"

/*
 * The one table of a seal's states: every state change of a seal after it
 * is made is a row here, found by (event, the state it is in), and
 * seal_step() is the only code that applies one.  to SEAL_NONE: back to
 * the state the seal was in when its loss was reported, so that a seal
 * found again is where it was (a suspension survives a loss).  hold: why
 * the move suspends the seal (NULL for a manual suspension, held by the
 * authority of whoever suspended it: seal_holds).  code: the reason code
 * the seal then carries (NULL: from the hold when suspended, else the
 * caller's, as for a revocation).  perm: the permission the actor of the
 * event holds over the seal's organisation, the same in every row of one
 * event (seal_event_perm); PERM_NONE for the system's own moves.  A move that
 * follows from another change (a revocation when a changed seal is
 * confirmed, a suspension when a found seal's organisation is disabled)
 * is made under that change's check. */
struct seal_move_rule {
    const char     *event;
    enum seal_state from, to;
    const char     *hold, *code, *action;
    enum rbac_perm  perm;
};

/* The row for event in state from, or NULL: the event is refused. */
const struct seal_move_rule *seal_move_find(const char *event,
                                            enum seal_state from);

/* The permission the table gives event (its first row: every row of an
 * event gives the same); PERM_NONE, which no role holds, if none. */
enum rbac_perm seal_event_perm(const char *event);

#endif
