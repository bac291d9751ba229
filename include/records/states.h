/*
 * states.h - the states of the three aggregates that have a life (seals,
 * seal applications, signing requests) as enums, and their names: the
 * text the database stores (its CHECK constraints list the same names),
 * the API and the audit show, and the state tables of the domain
 * (seal.c, app_moves.c, sign_moves.c) are written in.
 *
 * 0 is never a state: a name that is not one of the list parses to the
 * *_NONE value, which no table accepts, so a corrupt row cannot move.
 */
#ifndef SEALD_STATES_H
#define SEALD_STATES_H

enum seal_state {
    SEAL_NONE = 0,
    SEAL_MADE,              /* made, waiting for the applicant's check  */
    SEAL_ACTIVE,
    SEAL_SUSPENDED,
    SEAL_LOST,              /* a loss was reported                      */
    SEAL_REVOKED,           /* final                                    */
    SEAL_EXPIRED,           /* final                                    */
    SEAL_STATE__COUNT
};

enum app_state {
    APP_NONE = 0,
    APP_SUBMITTED,
    APP_UNDER_REVIEW,
    APP_RETURNED,           /* back to the applicant for changes        */
    APP_REJECTED,           /* final                                    */
    APP_APPROVED,
    APP_MADE,               /* its seal was made: final                 */
    APP_STATE__COUNT
};

enum sreq_state {
    SREQ_NONE = 0,
    SREQ_SUBMITTED,
    SREQ_APPROVED,
    SREQ_REJECTED,
    SREQ_CANCELLED,
    SREQ_STATE__COUNT
};

/* The stored name of a state ("active"); "" for *_NONE or out of range. */
const char *seal_state_name(enum seal_state s);
const char *app_state_name(enum app_state s);
const char *sreq_state_name(enum sreq_state s);

/* The state named name (NULL allowed), *_NONE when it names none. */
enum seal_state seal_state_parse(const char *name);
enum app_state app_state_parse(const char *name);
enum sreq_state sreq_state_parse(const char *name);

#endif
