/*
 * cmd_status.h - the status source of the offline verification commands
 * (seald verify-file, seald verify-ofd; issue 17 item 5):
 *   --instance DIR     the instance's seald.conf and, read-only, its
 *                      database: seals it issued, their history and its
 *                      usage records (also its trust directory, unless
 *                      --trust is given);
 *   --status-list FILE|DIR  a part of the seal status list as
 *                      GET /api/v1/seal-status-list?part=N answers it
 *                      ({"data": {"list", "signature"}}, or the object
 *                      inside "data"), verified with statuslist_verify
 *                      (against --trust's anchors when given); it answers
 *                      only for the seals it covers (statuslist_covers).
 *                      Repeatable, and a DIR stands for its *.json files:
 *                      at most CMD_STATUS_MAX_PARTS parts in all, each
 *                      verified; verify.c picks the part for each seal.
 * Without either every seal's status is "not checked" (verify.h).
 */
#ifndef SEALD_CMD_STATUS_H
#define SEALD_CMD_STATUS_H

#include <limits.h>

#include "err.h"
#include "verify.h"

struct config;
struct store;

#define CMD_STATUS_MAX_PARTS 256   /* 1M entries are 20 parts of 50,000 */

struct cmd_status {
    struct config      *cfg;        /* --instance: its configuration     */
    struct store       *store;      /* --instance: its database, read-only */
    json_t             *list[CMD_STATUS_MAX_PARTS];   /* verified parts  */
    uint8_t            *signer[CMD_STATUS_MAX_PARTS]; /* signer_cert DER */
    struct verify_list_part parts[CMD_STATUS_MAX_PARTS]; /* borrow both  */
    size_t              n_parts;
    struct verify_status vs;        /* what verify.h is given            */
    char                trust[PATH_MAX]; /* anchors to use ("" none)     */
};

/* Open the sources named (instance: NULL when not given; list_paths:
 * n_lists --status-list values, files or directories); trust_dir (NULL:
 * the instance's, or none) becomes cs->trust.  Errors: the
 * configuration's, the database's, ERR_INVALID for a part that does not
 * verify, a directory without parts or more than CMD_STATUS_MAX_PARTS
 * parts.  cmd_status_close frees cs in every case. */
err_code cmd_status_open(const char *instance,
                         const char *const *list_paths, size_t n_lists,
                         const char *trust_dir, struct cmd_status *cs,
                         struct err *e);
void cmd_status_close(struct cmd_status *cs);

#endif
