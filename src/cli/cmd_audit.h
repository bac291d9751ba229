/*
 * cmd_audit.h - the audit and backup subcommands (src/cli/cmd_audit.c):
 *   seald audit verify --db FILE [--config FILE] [--audit-key FILE]
 *                      [--checkpoint FILE] [--sink-file FILE]
 *   seald audit checkpoint --config FILE [--out FILE]
 *   seald audit export --db FILE [--format jsonl|csv] [--after N]
 *   seald backup (--config FILE | --db FILE) --out FILE [--audit-key FILE]
 *   seald restore --backup FILE --db FILE [--config FILE] [--audit-key FILE]
 *                 [--checkpoint FILE] [--sink-file FILE] [--force]
 * Each returns the process exit status (cmd.h).
 */
#ifndef SEALD_CMD_AUDIT_H
#define SEALD_CMD_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "config.h"
#include "store_types.h"

/* What verification trusts, from outside the database. */
struct cmd_audit_trust {
    uint8_t key[AUDIT_PUBKEY_MAX];      /* the audit public key, SPKI DER */
    size_t  key_len;
    long    every, seconds;             /* the checkpoint interval        */
    int64_t prechain;                   /* the pinned pre-chain range     */
    const char *sink_file;              /* --sink-file, or NULL           */
};

/* The trusted audit key into *t: audit_key (a file), else audit.public_key
 * of cfg (may be NULL), else audit-key.pem in the directory of instance_db
 * (the database file of the instance whose trust applies: the one
 * verified, or the one a restore replaces).  The interval and the
 * pre-chain range come from cfg, or are the defaults. */
err_code cmd_audit_load_trust(const char *audit_key, const struct config *cfg,
                              const char *instance_db, const char *sink_file,
                              struct cmd_audit_trust *t, struct err *e);

/* `seald audit verify`'s check of the chain on c against t (and an
 * exported checkpoint, or NULL) into *r: what seald migrate asks of its
 * source and of its copy. */
err_code cmd_audit_verify(struct store_conn *c,
                          const struct cmd_audit_trust *t,
                          const struct store_audit_checkpoint *exported,
                          struct audit_verify_report *r, struct err *e);

int cmd_audit(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_restore(int argc, char **argv);

#endif
