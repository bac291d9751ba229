/*
 * states.c - the names of the aggregates' states (states.h): one table
 * per aggregate, indexed by the enum.
 */
#include <stddef.h>
#include <string.h>

#include "states.h"

static const char *const seal_names[SEAL_STATE__COUNT] = {
    [SEAL_NONE] = "", [SEAL_MADE] = "made", [SEAL_ACTIVE] = "active",
    [SEAL_SUSPENDED] = "suspended", [SEAL_LOST] = "lost",
    [SEAL_REVOKED] = "revoked", [SEAL_EXPIRED] = "expired",
};

static const char *const app_names[APP_STATE__COUNT] = {
    [APP_NONE] = "", [APP_SUBMITTED] = "submitted",
    [APP_UNDER_REVIEW] = "under_review", [APP_RETURNED] = "returned",
    [APP_REJECTED] = "rejected", [APP_APPROVED] = "approved",
    [APP_MADE] = "made",
};

static const char *const sreq_names[SREQ_STATE__COUNT] = {
    [SREQ_NONE] = "", [SREQ_SUBMITTED] = "submitted",
    [SREQ_APPROVED] = "approved", [SREQ_REJECTED] = "rejected",
    [SREQ_CANCELLED] = "cancelled",
};

/* The index of name in names[1 .. n-1], or 0. */
static int
parse(const char *const *names, int n, const char *name)
{
    int i;

    for (i = 1; name != NULL && i < n; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return 0;
}

const char *
seal_state_name(enum seal_state s)
{
    return (unsigned)s < SEAL_STATE__COUNT ? seal_names[s] : "";
}

const char *
app_state_name(enum app_state s)
{
    return (unsigned)s < APP_STATE__COUNT ? app_names[s] : "";
}

const char *
sreq_state_name(enum sreq_state s)
{
    return (unsigned)s < SREQ_STATE__COUNT ? sreq_names[s] : "";
}

enum seal_state
seal_state_parse(const char *name)
{
    return (enum seal_state)parse(seal_names, SEAL_STATE__COUNT, name);
}

enum app_state
app_state_parse(const char *name)
{
    return (enum app_state)parse(app_names, APP_STATE__COUNT, name);
}

enum sreq_state
sreq_state_parse(const char *name)
{
    return (enum sreq_state)parse(sreq_names, SREQ_STATE__COUNT, name);
}
