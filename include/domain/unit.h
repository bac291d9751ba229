/*
 * unit.h - the unit of work: how the domain changes the database.
 *
 * A change runs as a work function inside a unit: unit_run begins the
 * transaction, the work checks and writes, names its audit entry with
 * unit_audit, and unit_run appends that entry and commits; a failure of
 * the work, the entry or the commit rolls everything back.  So a state
 * change and its audit record are one call, the work never begins or
 * commits (store.h: nothing outside store.c can), and a helper that takes
 * a struct unit is, by its signature, inside one.
 *
 * unit_run_grouped runs the same work in a transaction shared with
 * concurrent units (store_group_run: one commit, one fsync, for the
 * group); the work, its entry and its failure are its own.  The work
 * therefore uses u->a.db, the connection the unit runs on, which in a
 * group may be another thread's: never a connection of its own.
 *
 * Token operations never run inside a unit: they come before (a signature
 * is made, then recorded) or after (a checkpoint is signed, then stored).
 */
#ifndef SEALD_UNIT_H
#define SEALD_UNIT_H

#include <jansson.h>

#include "authz.h"

#define UNIT_TARGET_MAX 96

struct unit {
    /* the caller, with db the connection the unit runs on */
    struct actor_ctx a;
    /* the audit entry, set by unit_audit */
    char        action[64];
    char        target_type[32];
    char        target_id[UNIT_TARGET_MAX];
    json_t     *details;
    int         audited;    /* unit_audit named the entry */
    int         recorded;   /* entries appended by unit_record */
    int         quiet;
    int         events;     /* events written (event.h): wake on commit */
};

/* The work of a unit: ERR_OK with its entry named (unit_audit), entries
 * recorded (unit_record) or the unit marked quiet; or the error that undoes
 * it. */
typedef err_code (*unit_fn)(struct unit *u, void *ctx, struct err *e);

/* Run fn as a unit of its own for actor a (contract above). */
err_code unit_run(const struct actor_ctx *a, unit_fn fn, void *ctx,
                  struct err *e);

/* Run fn in a transaction shared with the units running meanwhile
 * (contract above); returns once the group has committed. */
err_code unit_run_grouped(const struct actor_ctx *a, unit_fn fn, void *ctx,
                          struct err *e);

/* Name the unit's audit entry: outcome ok, action on target (type, id),
 * details consumed (may be NULL).  Once per unit; ERR_INTERNAL for a
 * second call or a name over its limit. */
err_code unit_audit(struct unit *u, const char *action,
                    const char *target_type, const char *target_id,
                    json_t *details, struct err *e);

/* The same with a numeric target id. */
err_code unit_audit_id(struct unit *u, const char *action,
                       const char *target_type, int64_t target_id,
                       json_t *details, struct err *e);

/* Append an audit entry now, inside the unit (a unit that changes several
 * things records one entry per change: each seal a disabled organisation
 * suspends).  The actor is the unit's.  A unit that records entries needs
 * no unit_audit. */
err_code unit_record(struct unit *u, const struct audit_event *ev,
                     struct err *e);

/* A technical unit with no audit entry of its own (reserving an esID
 * before the token makes the seal, recording the holder key the token just
 * made): what it prepares is audited by the change that uses it. */
void unit_quiet(struct unit *u);

#endif
