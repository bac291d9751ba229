/*
 * sod.h - separation of duties (三员分立, 不相容岗位分离): the one place where
 * seald decides whether a person may hold a power or take a decision.
 *
 * Every path that gives someone power over a seal calls in here: role
 * grants, deputy periods (when requested, when approved, and while in
 * force), the designation of a seal's custodian, credential resets and
 * their re-confirmation, and each decision on an application, a seal and a
 * signing request.  The rules are numbered (SOD-1 ...); sod_rules lists
 * them, `seald permissions` prints them, docs/permissions.md shows them, and
 * each refusal names its rule.
 *
 * Callers run inside their own transaction; nothing here writes.
 */
#ifndef SEALD_SOD_H
#define SEALD_SOD_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "err.h"
#include "store_types.h"

/* One rule: a stable id ("SOD-3") and what it says. */
struct sod_rule {
    const char *id;
    const char *text;
};

/* The rules, terminated by an entry with id NULL. */
extern const struct sod_rule sod_rules[];

/* SOD-1, SOD-2: may an account that holds `held` (n role names, granted or
 * through a deputy period) also hold `role`?  No two administrator roles; no
 * administrator role with a business role.  ERR_INVALID for an unknown role,
 * ERR_CONFLICT naming the rule otherwise. */
err_code sod_role_combination(const char *const *held, size_t n,
                              const char *role, struct err *e);

/* SOD-1, SOD-2, SOD-8 against the database: may account_id also hold `role`, given
 * every role it is granted and every deputy period that names it and has not
 * ended (requested or approved)?  skip_deputy_id: a deputy record not to
 * count (the one being decided), or 0. */
err_code sod_account_may_hold(struct store_conn *c, int64_t account_id,
                              const char *role, int64_t skip_deputy_id,
                              struct err *e);

/* SOD-8: may actor bind an identity of the identity platform to target,
 * which holds roles (n, granted or through deputy periods not ended)?
 * Not one's own account; only an active person; not an administrator.
 * ERR_FORBIDDEN / ERR_INVALID / ERR_CONFLICT naming the rule.  (The other
 * half of SOD-8, the portal role held alone by a system account, is in
 * sod_account_may_hold.) */
err_code sod_identity_bind(const struct auth_principal *actor,
                           const struct store_account *target,
                           const struct store_role *roles, size_t n,
                           struct err *e);

/* Apply the rules to a freshly loaded principal, so that no path can act
 * with powers the rules forbid: an account held after a credential reset
 * (SOD-7) keeps no role and p->held is set; a deputy period whose custodian
 * authority would combine with an administrator role is dropped (SOD-2). */
void sod_principal(struct auth_principal *p);

/* SOD-5: custodian_id may be named custodian of a seal of org_id: an active
 * person account, not held (SOD-7), holding the custodian role in its own
 * right with a scope over org_id.  ERR_INVALID (for a designation) naming
 * the rule otherwise; `what` says where the check runs ("designation",
 * "making", "activation", "use") for the message. */
err_code sod_custodian(struct store_conn *c, int64_t custodian_id,
                       int64_t org_id, const char *what, struct err *e);

/* The rule of sod_custodian on an account (its id acct->id) and roles the
 * caller has loaded already: the principal of the request, when the
 * custodian is the caller (signing: the request's authentication read
 * them a moment ago, and sod_principal may only have taken roles away). */
err_code sod_custodian_of(struct store_conn *c,
                          const struct store_account *acct,
                          const struct store_role *roles, size_t n,
                          int64_t org_id, const char *what, struct err *e);

/* The people of one seal; 0 where not (yet) known. */
struct sod_seal {
    int64_t applicant_id;
    int64_t custodian_id;
    int64_t reviewer_id;
    int64_t maker_id;
};

/* SOD-4: the reviewer is neither the applicant nor the custodian; the maker
 * is neither the applicant, the custodian nor the reviewer.  ERR_FORBIDDEN
 * naming the rule. */
err_code sod_seal_people(const struct sod_seal *s, struct err *e);

/* The people of one signing request; 0 where not (yet) known. */
struct sod_request {
    int64_t submitter_id;
    int64_t custodian_id;        /* the seal's custodian                    */
    int64_t approver_id;
    int64_t signer_id;           /* the custodian or their deputy           */
};

/* SOD-6: submitter, approver and signer are three different people, and
 * neither the submitter nor the approver is the seal's custodian.
 * ERR_FORBIDDEN naming the rule. */
err_code sod_request_people(const struct sod_request *r, struct err *e);

/* SOD-7: may actor reset target's credential?  Not oneself; not the last
 * security administrator whose roles are in force (nobody would be left
 * to re-confirm).  ERR_FORBIDDEN / ERR_CONFLICT naming the rule. */
err_code sod_credential_reset(struct store_conn *c,
                              const struct auth_principal *actor,
                              const struct store_account *target,
                              struct err *e);

/* SOD-7: may actor re-confirm target after a reset?  Not oneself, and not
 * the one who reset it.  ERR_FORBIDDEN naming the rule; ERR_CONFLICT if
 * target is not held. */
err_code sod_reconfirm(const struct auth_principal *actor,
                       const struct store_account *target, struct err *e);

#endif
