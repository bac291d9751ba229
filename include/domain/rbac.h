/*
 * rbac.h - roles, permissions and the rules of separation of duties.
 *
 * A role is a set of permissions (the one table is in rbac.c).  A role is
 * granted to an account for an organisation subtree (scope).  Routes name
 * the permission they need (router.c); the HTTP layer checks that the caller
 * holds it in some scope, and the domain layer checks that the target lies
 * inside a scope where the caller holds it.  `seald permissions` prints the
 * resulting role x route matrix; docs/permissions.md shows the same matrix
 * and a test checks that they agree.
 */
#ifndef SEALD_RBAC_H
#define SEALD_RBAC_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum rbac_perm {
    PERM_NONE = 0,            /* public route: no credential               */
    PERM_SELF,                /* any authenticated account                 */
    PERM_ORG_READ,
    PERM_ORG_WRITE,
    PERM_ACCOUNT_READ,
    PERM_ACCOUNT_WRITE,
    PERM_ROLE_ASSIGN,
    PERM_AUDIT_READ,
    PERM_USAGE_READ,
    PERM_TRUST_MANAGE,
    PERM_TOKEN_MANAGE,
    PERM_APPLICATION_SUBMIT,
    PERM_APPLICATION_REVIEW,
    PERM_SEAL_MAKE,
    PERM_SEAL_USE,
    PERM_REQUEST_SUBMIT,      /* ask for a seal to be used (用印申请)       */
    PERM_REQUEST_APPROVE,
    PERM_DEPUTY_REQUEST,
    PERM_DEPUTY_APPROVE,
    PERM_VERIFY_BULK,
    PERM_SEAL_SUSPEND,        /* suspend a seal (security admin, the org) */
    PERM_SEAL_REPORT,         /* report a seal lost or compromised        */
    PERM_ACT_FOR_PERSON,      /* a portal presents persons' tokens (SOD-8) */
    PERM_EVENT_READ,          /* follow the events of the scope (pull)    */
    PERM_DELIVERY_MANAGE,     /* list and replay outbound deliveries      */
    PERM_METRICS_READ,        /* GET /metrics from outside metrics.allow  */
    PERM_STATS_READ,          /* the supervising department's statistics */
    PERM__COUNT
};

/* Stable name of a permission ("org.write"), for logs, docs and tests. */
const char *rbac_perm_name(enum rbac_perm p);

/* 1 if role is a known role name. */
int rbac_role_known(const char *role);

/* 1 if role (a known role) carries permission p. */
int rbac_role_has(const char *role, enum rbac_perm p);

/* 1 for the three separated administrator roles (三员). */
int rbac_role_is_admin(const char *role);

/* Known role names, NULL-terminated. */
extern const char *const rbac_roles[];

/* The rules that decide who may combine roles, and who may take which
 * decision on one object, are in sod.h. */

#endif
