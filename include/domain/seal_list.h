/*
 * seal_list.h - the signed seal status list in parts (issue 17 item 2):
 * which seals it holds, how it is cut into parts, and generating parts
 * from the database in one read transaction.  The format of a part is
 * include/maker/statuslist.h.
 *
 * A list holds the seals that are neither active nor made, except those
 * whose validity ended before this_update - status.list_expired_grace_days
 * (expired_before); its entries, in esID byte order, are cut into parts of
 * status.list_part_entries (the last may be shorter; an empty list is one
 * empty part).  Part i answers for the esIDs after part i - 1's last and up
 * to its own last one (the last part: everything after).  Every part of a
 * generation comes from one snapshot (store_read) and shares its number,
 * times and total, and memory stays bounded by one part whatever the
 * number of seals: rows are read a part at a time.
 */
#ifndef SEALD_SEAL_LIST_H
#define SEALD_SEAL_LIST_H

#include <stdint.h>
#include <time.h>

#include "ca.h"
#include "err.h"
#include "seal.h"

struct store_conn;

/* How a list is made: the signer (key through custody and its DER
 * certificate: the maker's), the time, and the configuration's limits. */
struct seal_list_opts {
    const struct ca_key *key;
    const uint8_t       *cert;
    size_t               cert_len;
    time_t               now;           /* this_update and number       */
    long                 next_hours;    /* next_update = now + hours    */
    long                 grace_days;    /* expired_before = now - days  */
    long                 part_entries;  /* entries per part             */
};

/* One signed part: json (malloc'ed, NUL-terminated, json_len bytes
 * without it; borrowed by a sink, owned by seal_status_list's caller) and
 * its detached signature. */
struct seal_list_part {
    int64_t  part, parts, total;
    char    *json;
    size_t   json_len;
    uint8_t  sig[CA_SIG_MAX];
    size_t   sig_len;
};

/* Called with each part in order; json is freed after it returns.  An
 * error stops the generation and is returned. */
typedef err_code (*seal_list_sink)(void *ctx, const struct seal_list_part *p,
                                   struct err *e);

/* Generate parts first .. first + count - 1 (count < 0: to the last) of
 * the list as of o->now, giving each to fn.  ERR_NOT_FOUND when first is
 * not below the number of parts, ERR_TOO_LARGE when the list would need
 * more than STATUSLIST_MAX_PARTS parts, ERR_INVALID for bad options. */
err_code seal_list_generate(struct store_conn *db,
                            const struct seal_list_opts *o, int64_t first,
                            int64_t count, seal_list_sink fn, void *ctx,
                            struct err *e);

/* Part `part` of the instance's list now, signed by its maker key, with
 * the configuration's limits: *out filled (out->json malloc'ed, caller
 * frees).  Errors as seal_list_generate, ERR_CONFIG without a maker,
 * ERR_RATE_LIMITED when status.list_max_concurrent parts are already being
 * made in this process (a part costs up to a few hundred ms of CPU and
 * memory for its JSON: a burst of GETs must not take every worker). */
err_code seal_status_list(struct store_conn *db, const struct seal_env *env,
                          int64_t part, struct seal_list_part *out,
                          struct err *e);

#endif
