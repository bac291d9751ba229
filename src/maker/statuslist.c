/*
 * statuslist.c - the signed seal status list (issue 6), in parts (issue
 * 17 item 2); the format is
 * described in include/maker/statuslist.h.
 *
 * Owns: writing the list JSON in its fixed member order (the entries
 * written directly, in the bytes jansson would give them), signing its bytes
 * through custody (ca_sign), and verifying a list (signature, fields,
 * freshness, optional chain).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/objects.h>

#include "seal_make.h"
#include "statuslist.h"
#include "util.h"

#define SL_OID_ECDSA_SHA256 "1.2.840.10045.4.3.2"

/* State names: 1..STATUSLIST_STATE_MAX of [a-z_]. */
static int state_ok(const char *s)
{
    size_t i, n = s ? strnlen(s, STATUSLIST_STATE_MAX + 1) : 0;

    if (n == 0 || n > STATUSLIST_STATE_MAX)
        return 0;
    for (i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_'))
            return 0;
    return 1;
}

/* esIDs: 1..SEAL_ESID_MAX visible ASCII characters. */
static int esid_ok(const char *s)
{
    size_t i, n = s ? strnlen(s, SEAL_ESID_MAX + 1) : 0;

    if (n == 0 || n > SEAL_ESID_MAX)
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

/* CRLReason codes 0..10 except the unused 7. */
static int reason_ok(int r)
{
    return r >= 0 && r <= STATUSLIST_REASON_MAX && r != 7;
}

/* qsort order of entry pointers: by es_id bytes. */
static int entry_cmp(const void *a, const void *b)
{
    const struct statuslist_entry *const *x = a, *const *y = b;

    return strcmp((*x)->es_id, (*y)->es_id);
}

/* RFC 3339 UTC string of t (new reference). */
static json_t *time_json(time_t t)
{
    char buf[21];

    util_time_rfc3339(t, buf);
    return json_string(buf);
}

/* Parse "YYYY-MM-DDTHH:MM:SSZ" strictly. */
static int time_parse(const char *s, time_t *out)
{
    struct tm tm;
    const char *end;

    if (s == NULL || strlen(s) != 20)
        return 0;
    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (end == NULL || *end != '\0')
        return 0;
    *out = timegm(&tm);
    return 1;
}

/* Subject of cert as an RFC 2253 string (UTF-8 kept) into *out (malloc). */
static err_code subject_text(X509 *x, char **out, struct err *e)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p = NULL;
    long n;

    *out = NULL;
    if (b == NULL ||
        X509_NAME_print_ex(b, X509_get_subject_name(x), 0,
                           XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0 ||
        (n = BIO_get_mem_data(b, &p)) < 0 || (*out = malloc((size_t)n + 1)) ==
                                                  NULL) {
        BIO_free(b);
        ERR_clear_error();
        return err_set(e, ERR_NOMEM, "cannot print the issuer name");
    }
    memcpy(*out, p, (size_t)n);
    (*out)[n] = '\0';
    BIO_free(b);
    return ERR_OK;
}

/* Does es_id lie in (after, until]?  NULL bounds are open. */
static int in_range(const char *es_id, const char *after, const char *until)
{
    return (after == NULL || strcmp(es_id, after) > 0) &&
           (until == NULL || strcmp(es_id, until) <= 0);
}

/* The part's fields (parts 0 is one part holding everything): ERR_INVALID
 * unless 0 <= part < parts, the total is possible, only the last part is
 * open above, and expired_before is not after this_update. */
static err_code part_check(const struct statuslist_params *p, int64_t *part,
                           int64_t *parts, int64_t *total, struct err *e)
{
    *part = p->parts == 0 ? 0 : p->part;
    *parts = p->parts == 0 ? 1 : p->parts;
    *total = p->parts == 0 ? (int64_t)p->n_entries : p->total;
    if (*part < 0 || *parts < 1 || *parts > STATUSLIST_MAX_PARTS ||
        *part >= *parts || *total < (int64_t)p->n_entries ||
        ((*part == *parts - 1) != (p->range_until == NULL)) ||
        (*part == 0 && p->range_after != NULL) ||
        (p->range_after != NULL && !esid_ok(p->range_after)) ||
        (p->range_until != NULL && !esid_ok(p->range_until)) ||
        (p->range_after != NULL && p->range_until != NULL &&
         strcmp(p->range_after, p->range_until) >= 0) ||
        p->expired_before > p->this_update)
        return err_set(e, ERR_INVALID, "status list part fields are "
                       "invalid");
    return ERR_OK;
}

/* A string, or JSON null for NULL (new reference). */
static json_t *str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

/* Bytes one entry can take: the fixed text, the esID with every byte
 * escaped, the state, a time and a reason of up to two digits. */
#define SL_ENTRY_FIXED 64
static size_t entry_max(const struct statuslist_entry *en)
{
    return SL_ENTRY_FIXED + 2 * strlen(en->es_id) + strlen(en->state) + 20;
}

/* Write s as a JSON string body at p (s is visible ASCII: only '"' and
 * '\\' need escaping, as jansson's JSON_ENSURE_ASCII writes them);
 * returns the end. */
static char *put_str(char *p, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            *p++ = '\\';
        *p++ = *s;
    }
    return p;
}

/* The whole list: head is the dump of every member but the entries (ends
 * with '}'), to which the entries array is appended in the bytes jansson
 * would write for it (compact, in order), without a tree of a hundred
 * thousand objects.  *out malloc'ed, NUL-terminated. */
static err_code write_list(const char *head,
                           const struct statuslist_entry *const *sorted,
                           size_t n, char **out, size_t *out_len,
                           struct err *e)
{
    size_t i, cap, hl = strlen(head);
    char *buf, *p, t[21];

    cap = hl + 16;
    for (i = 0; i < n; i++)
        cap += entry_max(sorted[i]);
    if (hl < 2 || head[hl - 1] != '}' || (buf = malloc(cap)) == NULL)
        return err_set(e, ERR_NOMEM, "cannot write the status list");
    memcpy(buf, head, hl - 1);
    p = buf + hl - 1;
    memcpy(p, ",\"entries\":[", 12);
    p += 12;
    for (i = 0; i < n; i++) {
        const struct statuslist_entry *en = sorted[i];
        util_time_rfc3339(en->since, t);
        p += sprintf(p, "%s{\"es_id\":\"", i ? "," : "");
        p = put_str(p, en->es_id);
        p += sprintf(p, "\",\"state\":\"%s\",\"since\":\"%s\",\"reason\":%d}",
                     en->state, t, en->reason);
    }
    memcpy(p, "]}", 3);
    *out_len = (size_t)(p + 2 - buf);
    *out = buf;
    return ERR_OK;
}

/* Contract: see statuslist.h. */
err_code statuslist_build(const struct ca_key *signer,
                          const struct statuslist_params *p, char **json,
                          size_t *json_len, uint8_t sig[CA_SIG_MAX],
                          size_t *sig_len, struct err *e)
{
    err_code rc = ERR_OK;
    const struct statuslist_entry **sorted = NULL;
    json_t *root = NULL;
    X509 *x = NULL;
    EVP_PKEY *pub = NULL;
    char *issuer = NULL, *b64 = NULL, *text = NULL, *head = NULL;
    size_t text_len = 0;
    size_t i;
    int nid = 0;
    int64_t part = 0, parts = 1, total = 0;

    *json = NULL;
    *json_len = 0;
    *sig_len = 0;
    if (p == NULL || p->number < 0 || p->next_update <= p->this_update ||
        p->next_update - p->this_update > STATUSLIST_MAX_PERIOD)
        return err_set(e, ERR_INVALID,
                       "next update must be after this update, within %ld s",
                       STATUSLIST_MAX_PERIOD);
    if (p->n_entries > STATUSLIST_MAX_ENTRIES ||
        (p->n_entries > 0 && p->entries == NULL))
        return err_set(e, ERR_TOO_LARGE, "more than %d entries",
                       STATUSLIST_MAX_ENTRIES);
    if (signer == NULL || signer->custody == NULL || signer->token == NULL ||
        signer->key_id == NULL)
        return err_set(e, ERR_INVALID, "no signing key given");
    if ((rc = part_check(p, &part, &parts, &total, e)) != ERR_OK)
        return rc;
    rc = sm2_cert_parse(p->signer_cert, p->signer_cert_len, &x, e);
    if (rc != ERR_OK)
        goto done;
    rc = custody_public_key(signer->custody, signer->token, signer->key_id,
                            &pub, e);
    if (rc != ERR_OK)
        goto done;
    if (EVP_PKEY_eq(X509_get0_pubkey(x), pub) != 1) {
        rc = err_set(e, ERR_INVALID,
                     "signer certificate does not hold the signing key");
        goto done;
    }
    sorted = calloc(p->n_entries ? p->n_entries : 1, sizeof(*sorted));
    if (sorted == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    for (i = 0; i < p->n_entries; i++) {
        const struct statuslist_entry *en = &p->entries[i];
        if (!esid_ok(en->es_id) || !state_ok(en->state) ||
            !reason_ok(en->reason) || en->since > p->this_update ||
            !in_range(en->es_id, p->range_after, p->range_until)) {
            rc = err_set(e, ERR_INVALID, "status list entry %zu is invalid",
                         i);
            goto done;
        }
        sorted[i] = en;
    }
    qsort(sorted, p->n_entries, sizeof(*sorted), entry_cmp);
    for (i = 1; i < p->n_entries; i++)
        if (strcmp(sorted[i - 1]->es_id, sorted[i]->es_id) == 0) {
            rc = err_set(e, ERR_INVALID, "esID %s listed twice",
                         sorted[i]->es_id);
            goto done;
        }
    rc = subject_text(x, &issuer, e);
    if (rc != ERR_OK)
        goto done;
    rc = util_b64_encode(p->signer_cert, p->signer_cert_len, &b64, e);
    if (rc != ERR_OK)
        goto done;
    nid = custody_token_is_sm2(signer->custody, signer->token) == 1
              ? NID_SM2_with_SM3
              : NID_ecdsa_with_SHA256;
    root = json_object();
    if (root == NULL ||
        json_object_set_new(root, "type", json_string(STATUSLIST_TYPE)) ||
        json_object_set_new(root, "version",
                            json_integer(STATUSLIST_VERSION)) ||
        json_object_set_new(root, "number", json_integer(p->number)) ||
        json_object_set_new(root, "part", json_integer(part)) ||
        json_object_set_new(root, "parts", json_integer(parts)) ||
        json_object_set_new(root, "total", json_integer(total)) ||
        json_object_set_new(root, "range_after",
                            str_or_null(p->range_after)) ||
        json_object_set_new(root, "range_until",
                            str_or_null(p->range_until)) ||
        json_object_set_new(root, "expired_before",
                            time_json(p->expired_before)) ||
        json_object_set_new(root, "issuer", json_string(issuer)) ||
        json_object_set_new(root, "this_update", time_json(p->this_update)) ||
        json_object_set_new(root, "next_update", time_json(p->next_update)) ||
        json_object_set_new(root, "sig_alg",
                            json_string(nid == NID_SM2_with_SM3
                                            ? SM2_OID_SM2_SM3
                                            : SL_OID_ECDSA_SHA256)) ||
        (nid == NID_SM2_with_SM3 &&
         json_object_set_new(root, "sm2_id", json_string(CA_SM2_ID))) ||
        json_object_set_new(root, "signer_cert", json_string(b64))) {
        rc = err_set(e, ERR_NOMEM, "cannot build the status list");
        goto done;
    }
    head = json_dumps(root, JSON_COMPACT | JSON_ENSURE_ASCII |
                                JSON_PRESERVE_ORDER);
    if (head == NULL) {
        rc = err_set(e, ERR_NOMEM, "cannot write the status list");
        goto done;
    }
    rc = write_list(head, sorted, p->n_entries, &text, &text_len, e);
    if (rc != ERR_OK)
        goto done;
    rc = ca_sign(signer, (const uint8_t *)text, text_len, sig, sig_len,
                 &nid, e);
    if (rc != ERR_OK)
        goto done;
    *json_len = text_len;
    *json = text;
    text = NULL;
done:
    ERR_clear_error();
    free(text);
    free(head);
    free(b64);
    free(issuer);
    free(sorted);
    json_decref(root);
    EVP_PKEY_free(pub);
    X509_free(x);
    return rc;
}

/* Verify the detached signature over the bytes with cert's key. */
static err_code sig_verify(X509 *x, const char *alg, const uint8_t *msg,
                           size_t len, const uint8_t *sig, size_t sig_len,
                           struct err *e)
{
    err_code rc = ERR_OK;
    int ok = 0;
    EVP_MD_CTX *md = NULL;

    if (strcmp(alg, SM2_OID_SM2_SM3) == 0) {
        rc = sm2_verify_cert(x, CA_SM2_ID, msg, len, sig, sig_len, &ok, e);
    } else if (strcmp(alg, SL_OID_ECDSA_SHA256) == 0) {
        md = EVP_MD_CTX_new();
        ok = md != NULL &&
             EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL,
                                  X509_get0_pubkey(x)) == 1 &&
             EVP_DigestVerify(md, sig, sig_len, msg, len) == 1;
    } else {
        rc = err_set(e, ERR_UNSUPPORTED, "unknown signature algorithm");
    }
    ERR_clear_error();
    EVP_MD_CTX_free(md);
    if (rc == ERR_OK && !ok)
        rc = err_set(e, ERR_INVALID, "status list signature does not verify");
    return rc;
}

/* String member k of o, or NULL (borrowed). */
static const char *str_member(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Contract: see statuslist.h. */
err_code statuslist_verify(const uint8_t *json, size_t len,
                           const uint8_t *sig, size_t sig_len,
                           X509_STORE *anchors, time_t now, json_t **out,
                           struct err *e)
{
    err_code rc = ERR_OK;
    json_t *root = NULL, *entries;
    json_error_t je;
    uint8_t *cert = NULL;
    size_t cert_len = 0, i;
    X509 *x = NULL;
    time_t tu, nu, since, eb;
    const char *prev = NULL, *after, *until;
    json_int_t part, parts;

    *out = NULL;
    if (len == 0 || len > STATUSLIST_MAX_JSON)
        return err_set(e, ERR_TOO_LARGE, "status list size %zu", len);
    if (sig_len == 0 || sig_len > SM2_SIG_IN_MAX)
        return err_set(e, ERR_INVALID, "bad signature size");
    root = json_loadb((const char *)json, len,
                      JSON_REJECT_DUPLICATES,
                      &je);
    if (root == NULL || !json_is_object(root)) {
        rc = err_set(e, ERR_MALFORMED, "status list is not a JSON object");
        goto done;
    }
    if (str_member(root, "type") == NULL ||
        strcmp(str_member(root, "type"), STATUSLIST_TYPE) != 0 ||
        json_integer_value(json_object_get(root, "version")) !=
            STATUSLIST_VERSION ||
        !json_is_integer(json_object_get(root, "number")) ||
        json_integer_value(json_object_get(root, "number")) < 0 ||
        str_member(root, "sig_alg") == NULL ||
        str_member(root, "signer_cert") == NULL ||
        !time_parse(str_member(root, "this_update"), &tu) ||
        !time_parse(str_member(root, "next_update"), &nu) ||
        !json_is_array(entries = json_object_get(root, "entries")) ||
        json_array_size(entries) > STATUSLIST_MAX_ENTRIES ||
        !json_is_integer(json_object_get(root, "part")) ||
        !json_is_integer(json_object_get(root, "parts")) ||
        !json_is_integer(json_object_get(root, "total")) ||
        !time_parse(str_member(root, "expired_before"), &eb) || eb > tu) {
        rc = err_set(e, ERR_INVALID, "status list fields are invalid");
        goto done;
    }
    part = json_integer_value(json_object_get(root, "part"));
    parts = json_integer_value(json_object_get(root, "parts"));
    after = str_member(root, "range_after");
    until = str_member(root, "range_until");
    if (parts < 1 || parts > STATUSLIST_MAX_PARTS || part < 0 ||
        part >= parts ||
        json_integer_value(json_object_get(root, "total")) <
            (json_int_t)json_array_size(entries) ||
        !(json_is_null(json_object_get(root, "range_after")) ||
          esid_ok(after)) ||
        !(json_is_null(json_object_get(root, "range_until")) ||
          esid_ok(until)) ||
        (part == 0) != (after == NULL) ||
        (part == parts - 1) != (until == NULL) ||
        (after != NULL && until != NULL && strcmp(after, until) >= 0)) {
        rc = err_set(e, ERR_INVALID, "status list part fields are invalid");
        goto done;
    }
    rc = util_b64_decode(str_member(root, "signer_cert"),
                         strlen(str_member(root, "signer_cert")), &cert,
                         &cert_len, e);
    if (rc != ERR_OK)
        goto done;
    rc = sm2_cert_parse(cert, cert_len, &x, e);
    if (rc != ERR_OK)
        goto done;
    rc = sig_verify(x, str_member(root, "sig_alg"), json, len, sig, sig_len,
                    e);
    if (rc != ERR_OK)
        goto done;
    for (i = 0; i < json_array_size(entries); i++) {
        json_t *en = json_array_get(entries, i);
        const char *id = str_member(en, "es_id");
        if (!esid_ok(id) || !state_ok(str_member(en, "state")) ||
            !time_parse(str_member(en, "since"), &since) ||
            !json_is_integer(json_object_get(en, "reason")) ||
            !reason_ok((int)json_integer_value(json_object_get(en, "reason"))) ||
            (prev != NULL && strcmp(prev, id) >= 0) ||
            !in_range(id, after, until)) {
            rc = err_set(e, ERR_INVALID, "status list entry %zu is invalid",
                         i);
            goto done;
        }
        prev = id;
    }
    if (nu <= tu || now > nu) {
        rc = err_set(e, ERR_INVALID, "status list is out of date");
        goto done;
    }
    if (now < tu) {
        rc = err_set(e, ERR_INVALID, "status list is not yet valid");
        goto done;
    }
    if (anchors != NULL) {
        rc = ca_import_check(cert, cert_len, X509_get0_pubkey(x), anchors,
                             NULL, now, e);
        if (rc != ERR_OK)
            goto done;
    }
    *out = root;
    root = NULL;
done:
    ERR_clear_error();
    json_decref(root);
    free(cert);
    X509_free(x);
    return rc;
}

/* Contract: see statuslist.h.  Entries are sorted: binary search. */
json_t *statuslist_find(json_t *list, const char *es_id)
{
    json_t *entries = json_object_get(list, "entries");
    size_t lo = 0, hi = json_array_size(entries);

    if (es_id == NULL)
        return NULL;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        json_t *en = json_array_get(entries, mid);
        const char *id = str_member(en, "es_id");
        int c = strcmp(id ? id : "", es_id);
        if (c == 0)
            return en;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Contract: see statuslist.h. */
int statuslist_covers(json_t *list, const char *es_id, time_t valid_end)
{
    time_t eb;

    if (list == NULL || es_id == NULL ||
        !time_parse(str_member(list, "expired_before"), &eb))
        return 0;
    return in_range(es_id, str_member(list, "range_after"),
                    str_member(list, "range_until")) &&
           valid_end >= eb;
}
