/*
 * cmd_status.c - owns the status source of seald verify-file and seald
 * verify-ofd (cmd_status.h): loading an instance's configuration and
 * opening its database read-only, or reading and verifying a seal status
 * list.  What the status means is verify.c's.
 */
#include "cmd_status.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* The status list part in path (the API's answer), verified, added to
 * cs's parts (the caller checked there is room); anchors may be NULL. */
static err_code
open_list(const char *path, X509_STORE *anchors, struct cmd_status *cs,
          struct err *e)
{
    uint8_t *buf = NULL, *sig = NULL;
    size_t len = 0, sig_len = 0;
    json_t *j = NULL, *d;
    json_error_t je;
    const char *list, *sig64, *cert64;
    size_t k = cs->n_parts, signer_len = 0;
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
    if ((rc = statuslist_verify((const uint8_t *)list, strlen(list), sig,
                                sig_len, anchors, time(NULL), &cs->list[k],
                                e)) != ERR_OK) {
        rc = err_wrap(e, rc, "%s", path);
        goto done;
    }
    cert64 = json_string_value(json_object_get(cs->list[k], "signer_cert"));
    if (cert64 == NULL ||
        util_b64_decode(cert64, strlen(cert64), &cs->signer[k], &signer_len,
                        NULL) != ERR_OK) {
        json_decref(cs->list[k]);
        cs->list[k] = NULL;
        rc = err_set(e, ERR_INVALID, "%s: bad signer_cert", path);
        goto done;
    }
    cs->parts[k].list = cs->list[k];
    cs->parts[k].signer = cs->signer[k];
    cs->parts[k].signer_len = signer_len;
    cs->n_parts = k + 1;
done:
    json_decref(j);
    free(sig);
    free(buf);
    return rc;
}

/* Sort helper for the names of a directory. */
static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every part in path: a file, or a directory's *.json files (in name
 * order; hidden ones skipped). */
static err_code
open_lists(const char *path, X509_STORE *anchors, struct cmd_status *cs,
           struct err *e)
{
    char *names[CMD_STATUS_MAX_PARTS + 1], full[PATH_MAX];
    size_t n = 0, i;
    struct stat st;
    struct dirent *de;
    DIR *d;
    err_code rc = ERR_OK;

    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        if (cs->n_parts >= CMD_STATUS_MAX_PARTS)
            return err_set(e, ERR_INVALID, "--status-list: more than %d "
                           "parts", CMD_STATUS_MAX_PARTS);
        return open_list(path, anchors, cs, e);
    }
    if ((d = opendir(path)) == NULL)
        return err_set(e, ERR_INVALID, "%s: cannot read the directory",
                       path);
    while ((de = readdir(d)) != NULL && rc == ERR_OK) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.' || l < 6 ||
            strcmp(de->d_name + l - 5, ".json") != 0)
            continue;
        if (n + cs->n_parts >= CMD_STATUS_MAX_PARTS)
            rc = err_set(e, ERR_INVALID, "--status-list: more than %d "
                         "parts", CMD_STATUS_MAX_PARTS);
        else if ((names[n] = strdup(de->d_name)) == NULL)
            rc = err_set(e, ERR_NOMEM, "out of memory");
        else
            n++;
    }
    closedir(d);
    if (rc == ERR_OK && n == 0)
        rc = err_set(e, ERR_INVALID, "%s: no status list part (*.json) in "
                     "the directory", path);
    qsort(names, n, sizeof(names[0]), name_cmp);
    for (i = 0; i < n && rc == ERR_OK; i++) {
        if ((size_t)snprintf(full, sizeof(full), "%s/%s", path, names[i]) >=
            sizeof(full))
            rc = err_set(e, ERR_INVALID, "--status-list: path too long");
        else
            rc = open_list(full, anchors, cs, e);
    }
    for (i = 0; i < n; i++)
        free(names[i]);
    return rc;
}

/* Contract: see cmd_status.h. */
err_code
cmd_status_open(const char *instance, const char *const *list_paths,
                size_t n_lists, const char *trust_dir, struct cmd_status *cs,
                struct err *e)
{
    X509_STORE *anchors = NULL;
    size_t i;
    int n = 0;
    err_code rc = ERR_OK;

    memset(cs, 0, sizeof(*cs));
    if (instance != NULL && (rc = open_instance(instance, cs, e)) != ERR_OK)
        return rc;
    if (trust_dir == NULL && cs->cfg != NULL)
        trust_dir = cs->cfg->trust_dir;
    if (trust_dir != NULL &&
        (size_t)snprintf(cs->trust, sizeof(cs->trust), "%s", trust_dir) >=
            sizeof(cs->trust))
        return err_set(e, ERR_INVALID, "--trust: path too long");
    if (n_lists > 0 && cs->trust[0] != '\0' &&
        (rc = ses_trust_load(cs->trust, NULL, &anchors, &n, e)) != ERR_OK)
        return rc;
    for (i = 0; i < n_lists && rc == ERR_OK; i++)
        rc = open_lists(list_paths[i], anchors, cs, e);
    X509_STORE_free(anchors);
    cs->vs.lists = cs->parts;
    cs->vs.n_lists = cs->n_parts;
    return rc;
}

/* Contract: see cmd_status.h. */
void
cmd_status_close(struct cmd_status *cs)
{
    size_t i;

    store_close(cs->store);
    for (i = 0; i < cs->n_parts; i++) {
        json_decref(cs->list[i]);
        free(cs->signer[i]);
    }
    free(cs->cfg);
    memset(cs, 0, sizeof(*cs));
}
