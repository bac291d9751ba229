/*
 * rbac.c - the one table of roles and their permissions, and the role
 * names.  Which roles one account may combine, and who may take which
 * decision, is decided in one place: sod.c.
 */
#include <string.h>

#include "rbac.h"

#define P(x) (1ULL << (x))

static const struct {
    const char        *role;
    int                admin;
    unsigned long long perms;
} role_table[] = {
    {"sysadmin", 1, P(PERM_ORG_READ) | P(PERM_ORG_WRITE) |
                    P(PERM_ACCOUNT_READ) | P(PERM_ACCOUNT_WRITE) |
                    P(PERM_METRICS_READ)},
    {"secadmin", 1, P(PERM_ORG_READ) | P(PERM_ACCOUNT_READ) |
                    P(PERM_ROLE_ASSIGN) | P(PERM_TRUST_MANAGE) |
                    P(PERM_TOKEN_MANAGE) | P(PERM_SEAL_SUSPEND) |
                    P(PERM_DELIVERY_MANAGE)},
    /* the auditor is also the supervising department's reader of the
     * statistics (stats.c): the supervisor reads the records of the
     * subtree it supervises, and changes nothing */
    {"auditor", 1, P(PERM_ORG_READ) | P(PERM_ACCOUNT_READ) |
                   P(PERM_AUDIT_READ) | P(PERM_USAGE_READ) |
                   P(PERM_EVENT_READ) | P(PERM_STATS_READ)},
    {"applicant", 0, P(PERM_APPLICATION_SUBMIT) | P(PERM_SEAL_SUSPEND) |
                     P(PERM_SEAL_REPORT) | P(PERM_EVENT_READ)},
    {"reviewer", 0, P(PERM_APPLICATION_REVIEW) | P(PERM_EVENT_READ)},
    {"maker", 0, P(PERM_SEAL_MAKE) | P(PERM_EVENT_READ)},
    {"custodian", 0, P(PERM_SEAL_USE) | P(PERM_DEPUTY_REQUEST) |
                     P(PERM_SEAL_REPORT) | P(PERM_EVENT_READ)},
    {"requester", 0, P(PERM_REQUEST_SUBMIT) | P(PERM_EVENT_READ)},
    {"approver", 0, P(PERM_REQUEST_APPROVE) | P(PERM_DEPUTY_APPROVE) |
                    P(PERM_EVENT_READ)},
    {"verifier", 0, P(PERM_VERIFY_BULK)},
    /* a system account acting for the persons logged in to it; it holds
     * nothing else (SOD-8), and acting for one it has that person's
     * roles, not this one */
    {"portal", 0, P(PERM_ACT_FOR_PERSON)},
};
#define NROLES (sizeof(role_table) / sizeof(role_table[0]))

const char *const rbac_roles[] = {"sysadmin", "secadmin", "auditor",
                                  "applicant", "reviewer", "maker",
                                  "custodian", "requester", "approver",
                                  "verifier", "portal", NULL};

static const char *const perm_names[PERM__COUNT] = {
    [PERM_NONE] = "public",
    [PERM_SELF] = "self",
    [PERM_ORG_READ] = "org.read",
    [PERM_ORG_WRITE] = "org.write",
    [PERM_ACCOUNT_READ] = "account.read",
    [PERM_ACCOUNT_WRITE] = "account.write",
    [PERM_ROLE_ASSIGN] = "role.assign",
    [PERM_AUDIT_READ] = "audit.read",
    [PERM_USAGE_READ] = "usage.read",
    [PERM_TRUST_MANAGE] = "trust.manage",
    [PERM_TOKEN_MANAGE] = "token.manage",
    [PERM_APPLICATION_SUBMIT] = "application.submit",
    [PERM_APPLICATION_REVIEW] = "application.review",
    [PERM_SEAL_MAKE] = "seal.make",
    [PERM_SEAL_USE] = "seal.use",
    [PERM_REQUEST_SUBMIT] = "request.submit",
    [PERM_REQUEST_APPROVE] = "request.approve",
    [PERM_DEPUTY_REQUEST] = "deputy.request",
    [PERM_DEPUTY_APPROVE] = "deputy.approve",
    [PERM_VERIFY_BULK] = "verify.bulk",
    [PERM_SEAL_SUSPEND] = "seal.suspend",
    [PERM_SEAL_REPORT] = "seal.report",
    [PERM_ACT_FOR_PERSON] = "person.act_for",
    [PERM_EVENT_READ] = "event.read",
    [PERM_DELIVERY_MANAGE] = "delivery.manage",
    [PERM_METRICS_READ] = "metrics.read",
    [PERM_STATS_READ] = "stats.read",
};

const char *
rbac_perm_name(enum rbac_perm p)
{
    if ((unsigned)p >= PERM__COUNT)
        return "unknown";
    return perm_names[p];
}

static int
role_index(const char *role)
{
    size_t i;

    for (i = 0; i < NROLES; i++)
        if (strcmp(role_table[i].role, role) == 0)
            return (int)i;
    return -1;
}

int
rbac_role_known(const char *role)
{
    return role_index(role) >= 0;
}

int
rbac_role_has(const char *role, enum rbac_perm p)
{
    int i = role_index(role);

    if (p == PERM_SELF)
        return 1;
    return i >= 0 && (role_table[i].perms & P(p)) != 0;
}

int
rbac_role_is_admin(const char *role)
{
    int i = role_index(role);

    return i >= 0 && role_table[i].admin;
}
