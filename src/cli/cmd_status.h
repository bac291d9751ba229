/*
 * cmd_status.h - the status source of the offline verification commands
 * (seald verify-file, seald verify-ofd; issue 17 item 5):
 *   --instance DIR     the instance's seald.conf and, read-only, its
 *                      database: seals it issued, their history and its
 *                      usage records (also its trust directory, unless
 *                      --trust is given);
 *   --status-list FILE a part of the seal status list as
 *                      GET /api/v1/seal-status-list?part=N answers it
 *                      ({"data": {"list", "signature"}}, or the object
 *                      inside "data"), verified with statuslist_verify
 *                      (against --trust's anchors when given); it answers
 *                      only for the seals it covers (statuslist_covers).
 * Without either every seal's status is "not checked" (verify.h).
 */
#ifndef SEALD_CMD_STATUS_H
#define SEALD_CMD_STATUS_H

#include <limits.h>

#include "err.h"
#include "verify.h"

struct config;
struct store;

struct cmd_status {
    struct config      *cfg;        /* --instance: its configuration     */
    struct store       *store;      /* --instance: its database, read-only */
    json_t             *list;       /* --status-list: the verified list  */
    uint8_t            *signer;     /* its signer_cert, DER              */
    size_t              signer_len;
    struct verify_status vs;        /* what verify.h is given            */
    char                trust[PATH_MAX]; /* anchors to use ("" none)     */
};

/* Open the sources named (instance, list_path: NULL when not given);
 * trust_dir (NULL: the instance's, or none) becomes cs->trust.  Errors:
 * the configuration's, the database's, ERR_INVALID for a list that does
 * not verify.  cmd_status_close frees cs in every case. */
err_code cmd_status_open(const char *instance, const char *list_path,
                         const char *trust_dir, struct cmd_status *cs,
                         struct err *e);
void cmd_status_close(struct cmd_status *cs);

#endif
