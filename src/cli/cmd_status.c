/*
 * cmd_status.c - owns the status source of seald verify-file and seald
 * verify-ofd (cmd_status.h): loading an instance's configuration and
 * opening its database read-only, or reading and verifying a seal status
 * list.  What the status means is verify.c's.
 */
#include "cmd_status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509_vfy.h>

#include "config.h"
#include "ses.h"
#include "statuslist.h"
#include "store.h"
#include "tsa.h"
#include "util.h"

#define CMD_STATUS_FILE_MAX (STATUSLIST_MAX_JSON * 2)

/* The instance in dir: DIR/seald.conf, then its database read-only. */
static err_code
open_instance(const char *dir, struct cmd_status *cs, struct err *e)
{
    char path[PATH_MAX];
    struct store_conn *c = NULL;
    err_code rc;

    if ((size_t)snprintf(path, sizeof(path), "%s/seald.conf", dir) >=
        sizeof(path))
        return err_set(e, ERR_INVALID, "--instance: path too long");
    if ((cs->cfg = calloc(1, sizeof(*cs->cfg))) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    config_defaults(cs->cfg);
    if ((rc = config_load(cs->cfg, path, e)) != ERR_OK ||
        (rc = config_validate(cs->cfg, e)) != ERR_OK)
        return err_wrap(e, rc, "--instance %s", dir);
    /* the instance's TSA anchors check the timestamps of its signatures */
    if ((rc = tsa_anchors_load(cs->cfg->tsa_anchors_dir, e)) != ERR_OK)
        return err_wrap(e, rc, "--instance %s", dir);
    if ((rc = store_open_readonly(cs->cfg->db_url,
                                  cs->cfg->db_password_file[0]
                                      ? cs->cfg->db_password_file : NULL,
                                  &cs->store, &c, e)) != ERR_OK)
        return err_wrap(e, rc, "--instance %s: database", dir);
    cs->vs.db = c;
    return ERR_OK;
}

/* The status list in path (the API's answer), verified. */
static err_code
open_list(const char *path, const char *trust, struct cmd_status *cs,
          struct err *e)
{
    uint8_t *buf = NULL, *sig = NULL;
    size_t len = 0, sig_len = 0;
    json_t *j = NULL, *d;
    json_error_t je;
    const char *list, *sig64, *cert64;
    X509_STORE *anchors = NULL;
    int n = 0;
    err_code rc;

    if ((rc = util_read_file(path, CMD_STATUS_FILE_MAX, &buf, &len, e)) !=
        ERR_OK)
        return rc;
    if ((j = json_loadb((const char *)buf, len, 0, &je)) == NULL) {
        rc = err_set(e, ERR_INVALID, "%s: %s", path, je.text);
        goto done;
    }
    d = json_object_get(j, "data") ? json_object_get(j, "data") : j;
    list = json_string_value(json_object_get(d, "list"));
    sig64 = json_string_value(json_object_get(d, "signature"));
    if (list == NULL || sig64 == NULL) {
        rc = err_set(e, ERR_INVALID, "%s: not a seal status list (the "
                     "answer of GET /api/v1/seal-status-list)", path);
        goto done;
    }
    if (util_b64_decode(sig64, strlen(sig64), &sig, &sig_len, NULL) !=
        ERR_OK) {
        rc = err_set(e, ERR_INVALID, "%s: signature is not base64", path);
        goto done;
    }
    if (trust[0] != '\0' &&
        (rc = ses_trust_load(trust, NULL, &anchors, &n, e)) != ERR_OK)
        goto done;
    if ((rc = statuslist_verify((const uint8_t *)list, strlen(list), sig,
                                sig_len, anchors, time(NULL), &cs->list, e))
        != ERR_OK) {
        rc = err_wrap(e, rc, "%s", path);
        goto done;
    }
    cert64 = json_string_value(json_object_get(cs->list, "signer_cert"));
    if (cert64 == NULL ||
        util_b64_decode(cert64, strlen(cert64), &cs->signer, &cs->signer_len,
                        NULL) != ERR_OK) {
        rc = err_set(e, ERR_INVALID, "%s: bad signer_cert", path);
        goto done;
    }
    cs->vs.list = cs->list;
    cs->vs.list_signer = cs->signer;
    cs->vs.list_signer_len = cs->signer_len;
done:
    X509_STORE_free(anchors);
    json_decref(j);
    free(sig);
    free(buf);
    return rc;
}

/* Contract: see cmd_status.h. */
err_code
cmd_status_open(const char *instance, const char *list_path,
                const char *trust_dir, struct cmd_status *cs, struct err *e)
{
    err_code rc;

    memset(cs, 0, sizeof(*cs));
    if (instance != NULL && (rc = open_instance(instance, cs, e)) != ERR_OK)
        return rc;
    if (trust_dir == NULL && cs->cfg != NULL)
        trust_dir = cs->cfg->trust_dir;
    if (trust_dir != NULL &&
        (size_t)snprintf(cs->trust, sizeof(cs->trust), "%s", trust_dir) >=
            sizeof(cs->trust))
        return err_set(e, ERR_INVALID, "--trust: path too long");
    if (list_path != NULL &&
        (rc = open_list(list_path, cs->trust, cs, e)) != ERR_OK)
        return rc;
    return ERR_OK;
}

/* Contract: see cmd_status.h. */
void
cmd_status_close(struct cmd_status *cs)
{
    store_close(cs->store);
    json_decref(cs->list);
    free(cs->signer);
    free(cs->cfg);
    memset(cs, 0, sizeof(*cs));
}
