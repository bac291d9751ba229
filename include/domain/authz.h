/*
 * authz.h - does this caller hold this permission over this organisation?
 * The domain layer asks before every change; rbac.h says which role has
 * which permission, this file adds the organisation scopes.
 */
#ifndef SEALD_AUTHZ_H
#define SEALD_AUTHZ_H

#include <stdint.h>

#include "audit.h"
#include "auth.h"
#include "rbac.h"
#include "store_types.h"

/* The acting context every domain function takes: the caller, where the
 * call came from (for the audit record), and the database connection. */
struct actor_ctx {
    struct store_conn           *db;
    const struct auth_principal *p;
    struct audit_actor           who;
};

/* 1 if p holds perm through some role in some scope. */
int authz_holds(const struct auth_principal *p, enum rbac_perm perm);

/* The scope organisations of p's roles (granted or as a deputy) that
 * carry perm, for a list whose scope is applied in its query: out has
 * room for STORE_MAX_ROLES; returns how many were written. */
size_t authz_scope(const struct auth_principal *p, enum rbac_perm perm,
                   int64_t out[STORE_MAX_ROLES]);

/* ERR_OK if p holds perm through a role whose scope contains org_id,
 * ERR_FORBIDDEN (with the permission named) otherwise. */
err_code authz_require(struct store_conn *c, const struct auth_principal *p,
                       enum rbac_perm perm, int64_t org_id, struct err *e);

#endif
