/*
 * audit.c - the audit entry point (audit.h) and the hash chain over it: the
 * canonical encoding, chained appends, signed checkpoints (made by the
 * checkpointer thread, or forced), the sinks checkpoints are sent to, the
 * trusted audit key file, the verifier, and the JSON/CSV shapes of entries
 * and reports.  It is the only code that computes chain hashes; the SQL is
 * in store_audit.c.  Checkpoints are signed through the token (custody.h),
 * never inside a write transaction: no private key is ever here.
 * Refusals of unauthenticated requests are counted here in a bounded
 * table and written as summary rows, through the same append.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "audit.h"
#include "config.h"
#include "custody.h"
#include "lease.h"
#include "log.h"
#include "sm2.h"
#include "util.h"
#include "store.h"
#include "store_audit.h"

#define AUDIT_DETAILS_MAX   4096
#define AUDIT_ENC_VERSION   1
/* an entry with a via (a portal acting for a person, migration 014) */
#define AUDIT_ENC_VERSION_VIA 2
#define AUDIT_NULL_LEN      0xFFFFFFFFu
#define AUDIT_ENC_INITIAL   512
#define AUDIT_DEPUTY_PREFIX "deputy:"
#define AUDIT_ROLE_MAX      (sizeof(AUDIT_DEPUTY_PREFIX) + STORE_ROLE_MAX)

/* ---- canonical encoding ---- */

struct enc_buf {
    uint8_t *p;
    size_t   len, cap;
    int      oom;
};

/* Append n bytes to b; on allocation failure b->oom is set and later
 * appends do nothing. */
static void
enc_put(struct enc_buf *b, const void *data, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : AUDIT_ENC_INITIAL;
        uint8_t *q;
        while (cap < b->len + n)
            cap *= 2;
        if ((q = realloc(b->p, cap)) == NULL) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

/* v as 8 bytes big-endian. */
static void
put_u64(uint8_t out[8], uint64_t v)
{
    int i;

    for (i = 7; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* Append v as a big-endian i64. */
static void
enc_i64(struct enc_buf *b, int64_t v)
{
    uint8_t x[8];

    put_u64(x, (uint64_t)v);
    enc_put(b, x, 8);
}

/* Append s as str: u32 length (0xFFFFFFFF for NULL) then the bytes. */
static void
enc_str(struct enc_buf *b, const char *s)
{
    uint32_t n = s == NULL ? AUDIT_NULL_LEN : (uint32_t)strlen(s);
    uint8_t x[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8),
                    (uint8_t)n};

    enc_put(b, x, 4);
    if (s != NULL)
        enc_put(b, s, strlen(s));
}

err_code
audit_entry_hash(const uint8_t prev[AUDIT_HASH_LEN],
                 const struct store_audit_entry *en,
                 uint8_t out[AUDIT_HASH_LEN], struct err *e)
{
    struct enc_buf b = {NULL, 0, 0, 0};
    /* Version 1 for every entry without a via, byte for byte as before
     * migration 014, so every older chain verifies unchanged; version 2
     * adds the via, so it cannot be dropped or changed unseen. */
    uint8_t ver = en->via_account_id != 0 ? AUDIT_ENC_VERSION_VIA
                                          : AUDIT_ENC_VERSION;
    err_code rc;

    enc_put(&b, prev, AUDIT_HASH_LEN);
    enc_put(&b, &ver, 1);
    enc_i64(&b, en->seq);
    enc_i64(&b, en->ts_ms);
    enc_i64(&b, en->account_id);
    enc_str(&b, en->role);
    enc_str(&b, en->client_addr);
    enc_str(&b, en->request_id);
    enc_str(&b, en->action);
    enc_str(&b, en->target_type);
    enc_str(&b, en->target_id);
    enc_str(&b, en->outcome);
    enc_str(&b, en->reason);
    enc_str(&b, en->details);
    if (ver == AUDIT_ENC_VERSION_VIA)
        enc_i64(&b, en->via_account_id);
    if (b.oom)
        rc = err_set(e, ERR_NOMEM, "out of memory");
    else
        rc = sm2_sm3(b.p, b.len, out, e);
    free(b.p);
    return rc;
}

void
audit_checkpoint_message(int64_t seq, const uint8_t hash[AUDIT_HASH_LEN],
                         int64_t ts_ms, uint8_t out[AUDIT_CHECKPOINT_MSG_LEN])
{
    memcpy(out, AUDIT_CHECKPOINT_TAG, 24);
    put_u64(out + 24, (uint64_t)seq);
    memcpy(out + 32, hash, AUDIT_HASH_LEN);
    put_u64(out + 32 + AUDIT_HASH_LEN, (uint64_t)ts_ms);
}

/* ---- the head ---- */

/* Recompute the hash of the newest row from genesis (rows older than the
 * chain have no stored hash). */
struct rehash {
    uint8_t h[AUDIT_HASH_LEN];
    struct err *e;
};

/* store_audit_walk callback: fold one row into the running hash. */
static err_code
rehash_row(void *ctx, const struct store_audit_entry *en)
{
    struct rehash *r = ctx;

    return audit_entry_hash(r->h, en, r->h, r->e);
}

/* Claim the chain's next seq under the caller's transaction (*seq) and
 * the hash it links to: the head row's, or for a log older than the chain
 * the hash rebuilt over its unchained entries (zeros for an empty log). */
static err_code
chain_claim(struct store_conn *c, int64_t *seq, uint8_t hash[AUDIT_HASH_LEN],
            struct err *e)
{
    struct rehash r;
    int has = 0;
    err_code rc;

    if ((rc = store_audit_head_claim(c, seq, hash, &has, e)) != ERR_OK)
        return rc;
    if (has)
        return ERR_OK;
    memset(hash, 0, AUDIT_HASH_LEN);
    if (*seq == 1)
        return ERR_OK;
    memset(r.h, 0, sizeof(r.h));
    r.e = e;
    if ((rc = store_audit_walk(c, 0, rehash_row, &r, e)) != ERR_OK)
        return rc;
    memcpy(hash, r.h, AUDIT_HASH_LEN);
    return ERR_OK;
}

/* ---- checkpoints ---- */

/* Sign (seq, hash) now with key_ref through the token into *cp.  No
 * database access: the caller holds no transaction while the token
 * works. */
static err_code
sign_checkpoint(struct custody *cust, const char *key_ref, int64_t seq,
                const uint8_t hash[AUDIT_HASH_LEN],
                struct store_audit_checkpoint *cp, struct err *e)
{
    char tok[CUSTODY_NAME_MAX], id[CUSTODY_ID_HEX_MAX];
    uint8_t msg[AUDIT_CHECKPOINT_MSG_LEN], dig[32], *der = NULL;
    size_t der_len = 0;
    EVP_PKEY *pub = NULL;
    err_code rc;

    memset(cp, 0, sizeof(*cp));
    if ((rc = config_keyref(key_ref, tok, id, e)) != ERR_OK)
        goto done;
    cp->seq = seq;
    memcpy(cp->head_hash, hash, AUDIT_HASH_LEN);
    cp->ts_ms = util_now_ms();
    snprintf(cp->key_ref, sizeof(cp->key_ref), "%s", key_ref);
    audit_checkpoint_message(cp->seq, cp->head_hash, cp->ts_ms, msg);
    if ((rc = custody_public_key(cust, tok, id, &pub, e)) != ERR_OK ||
        (rc = custody_public_key_der(cust, tok, id, &der, &der_len, e))
        != ERR_OK)
        goto done;
    if (der_len > sizeof(cp->public_key)) {
        rc = err_set(e, ERR_CRYPTO, "audit public key too large");
        goto done;
    }
    memcpy(cp->public_key, der, der_len);
    cp->public_key_len = der_len;
    if ((rc = custody_sm2_e(pub, NULL, msg, sizeof(msg), dig, e)) != ERR_OK)
        goto done;
    rc = custody_sign_e(cust, tok, id, dig, cp->signature,
                        &cp->signature_len, e);
done:
    EVP_PKEY_free(pub);
    free(der);
    return rc;
}

static err_code
checkpoint_work(struct store_conn *c, void *cp, struct err *e)
{
    return store_audit_checkpoint_insert(c, cp, e);
}

/* Insert cp in a short transaction of its own (none may be open on c). */
static err_code
store_checkpoint(struct store_conn *c, const struct store_audit_checkpoint *cp,
                 struct err *e)
{
    return store_run(c, checkpoint_work, (void *)cp, e);
}

/* ---- sinks ---- */

/* Facility authpriv (10) * 8 + severity notice (5), as <syslog.h> has
 * them (not included: its LOG_INFO would clash with log.h). */
#define AUDIT_SYSLOG_PRI      85
#define AUDIT_SYSLOG_HEAD_MAX 96    /* "<85>Mmm dd hh:mm:ss seald[pid]: " */

/* Write all of buf to fd. */
static err_code
write_all(int fd, const char *buf, size_t len, const char *what,
          struct err *e)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return err_set(e, ERR_IO, "%s: %s", what, strerror(errno));
        buf += w;
        len -= (size_t)w;
    }
    return ERR_OK;
}

/* Append line (with its newline) to path and fsync: the line is on disk
 * when this returns ERR_OK. */
static err_code
sink_file_append(const char *path, const char *line, size_t len,
                 struct err *e)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    err_code rc;

    if (fd < 0)
        return err_set(e, ERR_IO, "audit sink %s: %s", path,
                       strerror(errno));
    rc = write_all(fd, line, len, path, e);
    if (rc == ERR_OK && fsync(fd) != 0)
        rc = err_set(e, ERR_IO, "audit sink %s: fsync: %s", path,
                     strerror(errno));
    if (close(fd) != 0 && rc == ERR_OK)
        rc = err_set(e, ERR_IO, "audit sink %s: close: %s", path,
                     strerror(errno));
    return rc;
}

/* Send msg as one syslog datagram (the local socket format of RFC 3164:
 * "<PRI>Mmm dd hh:mm:ss seald[pid]: msg", facility authpriv, severity
 * notice) to the socket at path. */
static err_code
sink_syslog_send(const char *path, const char *msg, struct err *e)
{
    struct sockaddr_un sa;
    char stamp[32], *dgram;
    size_t cap = strlen(msg) + AUDIT_SYSLOG_HEAD_MAX;
    time_t now = time(NULL);
    struct tm tm;
    int fd = -1, n;
    err_code rc = ERR_OK;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path))
        return err_set(e, ERR_CONFIG, "audit.sink_syslog: path too long");
    memcpy(sa.sun_path, path, strlen(path) + 1);
    localtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
    if ((dgram = malloc(cap)) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    n = snprintf(dgram, cap, "<%d>%s seald[%ld]: %s", AUDIT_SYSLOG_PRI,
                 stamp, (long)getpid(), msg);
    if (n < 0 || (size_t)n >= cap)
        rc = err_set(e, ERR_INTERNAL, "syslog line too long");
    else if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
             sendto(fd, dgram, (size_t)n, 0, (struct sockaddr *)&sa,
                    sizeof(sa)) != n)
        rc = err_set(e, ERR_IO, "audit sink syslog %s: %s", path,
                     strerror(errno));
    if (fd >= 0)
        close(fd);
    free(dgram);
    return rc;
}

err_code
audit_sink_export(const struct audit_sink *sink,
                  const struct store_audit_checkpoint *cp, struct err *e)
{
    json_t *j;
    char *text;
    size_t n;
    struct err e2;
    err_code rc = ERR_OK, rc2 = ERR_OK;

    if (sink == NULL || ((sink->file == NULL || sink->file[0] == '\0') &&
                         (sink->syslog == NULL || sink->syslog[0] == '\0')))
        return ERR_OK;
    if ((j = audit_checkpoint_json(cp)) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (text == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    n = strlen(text);
    err_clear(&e2);
    if (sink->syslog != NULL && sink->syslog[0] != '\0')
        rc2 = sink_syslog_send(sink->syslog, text, &e2);
    if (sink->file != NULL && sink->file[0] != '\0') {
        text[n] = '\n';          /* json_dumps leaves room for its NUL */
        rc = sink_file_append(sink->file, text, n + 1, e);
    }
    if (rc == ERR_OK && rc2 != ERR_OK) {
        rc = rc2;
        err_set(e, e2.code, "%s", e2.msg);
    }
    free(text);
    return rc;
}

/* ---- the checkpointer ---- */

#define AUDIT_TICK_SECONDS 1
/* The checkpointer's lease (lease.h) lasts audit.checkpoint_seconds and
 * this much more, so that its holder, due when the period ends, renews it
 * before another node may take it. */
#define AUDIT_LEASE_GRACE_SECONDS (2 * AUDIT_TICK_SECONDS)

/* One per process (audit.h).  trusted_* is the newest head whose chain
 * this process has checked: from the start-up verification, from each
 * checkpoint it signs, and from forced checkpoints. */
static struct {
    pthread_mutex_t  lock;
    pthread_cond_t   wake;
    pthread_t        thread;
    int              running;     /* the thread exists                  */
    int              stop;
    int              woken;       /* an append found a checkpoint due   */
    int              ready;       /* the start-up verification is done  */
    int              broken;      /* ... and failed, or a re-walk did   */
    int              failing;     /* the last signature failed (logged) */
    int64_t          lease_retry_ms;  /* lost the lease: not before then */
    struct store    *store;
    struct audit_checkpointer_conf conf;
    uint8_t          key[AUDIT_PUBKEY_MAX];
    size_t           key_len;
    int64_t          trusted_seq;
    uint8_t          trusted_hash[AUDIT_HASH_LEN];
    int64_t          last_seq, last_ms;   /* the newest checkpoint known */
} cpr = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

/* After appending seq: wake the checkpointer if a checkpoint is due.
 * Cheap: no token, no database. */
static void
note_append(int64_t seq)
{
    int64_t now = util_now_ms();

    pthread_mutex_lock(&cpr.lock);
    if (cpr.running && cpr.ready && !cpr.broken &&
        (seq - cpr.last_seq >= cpr.conf.every ||
         now - cpr.last_ms >= cpr.conf.seconds * 1000)) {
        cpr.woken = 1;
        pthread_cond_signal(&cpr.wake);
    }
    pthread_mutex_unlock(&cpr.lock);
}

/* A checkpoint was made (by the checkpointer or forced): it is the newest
 * known, and its head is checked (forced: vouched for). */
static void
note_checkpoint(const struct store_audit_checkpoint *cp, int vouch)
{
    pthread_mutex_lock(&cpr.lock);
    if (cp->seq > cpr.last_seq || cp->ts_ms > cpr.last_ms) {
        cpr.last_seq = cp->seq > cpr.last_seq ? cp->seq : cpr.last_seq;
        cpr.last_ms = cp->ts_ms;
    }
    if (cpr.running && cp->seq >= cpr.trusted_seq) {
        cpr.trusted_seq = cp->seq;
        memcpy(cpr.trusted_hash, cp->head_hash, AUDIT_HASH_LEN);
        if (vouch && cpr.ready)
            cpr.broken = 0;
    }
    pthread_mutex_unlock(&cpr.lock);
}

/* The re-walk from the trusted head: every entry after it must continue
 * the chain (seq without gaps, stored hash = recomputed hash). */
struct rewalk {
    int64_t     seq;
    uint8_t     h[AUDIT_HASH_LEN];
    int64_t     prechain;
    int64_t     bad;           /* the first entry that does not continue */
    struct err *e;
};

/* store_audit_walk callback: fold one entry in; ERR_CONFLICT at a break. */
static err_code
rewalk_row(void *ctx, const struct store_audit_entry *en)
{
    struct rewalk *w = ctx;
    uint8_t h[AUDIT_HASH_LEN];
    err_code rc;

    if (en->seq != w->seq + 1) {
        w->bad = w->seq + 1;
        return ERR_CONFLICT;
    }
    if ((rc = audit_entry_hash(w->h, en, h, w->e)) != ERR_OK)
        return rc;
    if (en->hash == NULL ? en->seq > w->prechain
                         : (en->hash_len != AUDIT_HASH_LEN ||
                            memcmp(en->hash, h, AUDIT_HASH_LEN) != 0)) {
        w->bad = en->seq;
        return ERR_CONFLICT;
    }
    w->seq = en->seq;
    memcpy(w->h, h, AUDIT_HASH_LEN);
    return ERR_OK;
}

/* The newest checkpoint in the database (another node may have made it)
 * becomes the newest known. */
static void
note_latest(struct store_conn *c)
{
    struct store_audit_checkpoint last;

    if (store_audit_checkpoint_latest(c, &last, NULL) != ERR_OK)
        return;
    pthread_mutex_lock(&cpr.lock);
    if (last.seq > cpr.last_seq)
        cpr.last_seq = last.seq;
    if (last.ts_ms > cpr.last_ms)
        cpr.last_ms = last.ts_ms;
    pthread_mutex_unlock(&cpr.lock);
}

/* Whether this node signs the checkpoint that is due.  With several nodes
 * on one database, only the holder of the checkpointer's lease (lease.h)
 * does, so that one checkpoint is made per period and not one per node;
 * the holder keeps the lease by renewing it when it signs.  Either way the
 * newest checkpoint in the database becomes the newest known (another node
 * may have made it): a loser then stops finding one due, and does not
 * claim again for a tick; a winner does not sign what is covered already.
 * Only the checkpointer thread calls this. */
static int
checkpointer_lease(struct store_conn *c, int64_t now)
{
    struct err e;
    int won = 0;

    if (now < cpr.lease_retry_ms)
        return 0;
    err_clear(&e);
    if (lease_claim(c, LEASE_JOB_CHECKPOINT,
                    (cpr.conf.seconds + AUDIT_LEASE_GRACE_SECONDS) * 1000,
                    &won, &e) != ERR_OK) {
        if (!cpr.failing)
            log_event(LOG_ERROR, "audit_checkpoint_failed", "msg=%s", e.msg);
        cpr.failing = 1;
        return 0;
    }
    if (!won)
        cpr.lease_retry_ms = now + AUDIT_TICK_SECONDS * 1000;
    note_latest(c);
    return won;
}

/* Sign the committed head if a checkpoint is due (final: whenever
 * entries are uncovered), after re-walking the entries since the trusted
 * head; leased: only if this node holds the checkpointer's lease (every
 * step but the last one at shutdown, which covers what this node leaves).
 * Two nodes signing at once is still right: each signs the head of the
 * chain it walked itself, and the chain is linear whatever they do
 * (appends serialise on the audit_head row; a checkpoint is a row of
 * audit_checkpoints, not an entry of the chain).  Failures are logged:
 * they never touch an append. */
static void
checkpointer_step(struct store_conn *c, int final, int leased)
{
    struct store_audit_checkpoint cp;
    struct rewalk w;
    uint8_t stored[AUDIT_HASH_LEN];
    int64_t head = 0, last_seq, last_ms, now = util_now_ms();
    int has = 0, go;
    struct err e;
    err_code rc;

    err_clear(&e);
    memset(&w, 0, sizeof(w));
    memset(&cp, 0, sizeof(cp));
    pthread_mutex_lock(&cpr.lock);
    go = cpr.ready && !cpr.broken;
    w.seq = cpr.trusted_seq;
    memcpy(w.h, cpr.trusted_hash, AUDIT_HASH_LEN);
    last_seq = cpr.last_seq;
    last_ms = cpr.last_ms;
    pthread_mutex_unlock(&cpr.lock);
    if (!go)
        return;
    if (store_audit_head(c, &head, stored, &has, &e) != ERR_OK) {
        log_event(LOG_ERROR, "audit_checkpoint_failed", "msg=%s", e.msg);
        return;
    }
    if (head <= last_seq ||
        !(final || head - last_seq >= cpr.conf.every ||
          now - last_ms >= cpr.conf.seconds * 1000))
        return;
    if (leased && !checkpointer_lease(c, now))
        return;
    if (!leased)
        note_latest(c);
    pthread_mutex_lock(&cpr.lock);
    last_seq = cpr.last_seq;        /* another node's may be newer */
    pthread_mutex_unlock(&cpr.lock);
    if (head <= last_seq)
        return;
    w.prechain = cpr.conf.prechain;
    w.e = &e;
    rc = store_audit_walk(c, w.seq, rewalk_row, &w, &e);
    if (rc == ERR_CONFLICT) {
        pthread_mutex_lock(&cpr.lock);
        cpr.broken = 1;
        pthread_mutex_unlock(&cpr.lock);
        log_event(LOG_ERROR, "audit_chain_broken", "seq=%lld msg=\"the log "
                  "does not continue the chain this process checked: no "
                  "more automatic checkpoints\"", (long long)w.bad);
        return;
    }
    if (rc == ERR_OK && w.seq > last_seq &&
        (rc = sign_checkpoint(cpr.conf.cust, cpr.conf.key_ref, w.seq, w.h,
                              &cp, &e)) == ERR_OK)
        rc = store_checkpoint(c, &cp, &e);
    if (rc != ERR_OK) {
        if (!cpr.failing)
            log_event(LOG_ERROR, "audit_checkpoint_failed", "seq=%lld "
                      "msg=%s", (long long)w.seq, e.msg);
        cpr.failing = 1;
        return;
    }
    if (w.seq <= last_seq)
        return;
    cpr.failing = 0;
    note_checkpoint(&cp, 0);
    if (audit_sink_export(&cpr.conf.sink, &cp, &e) != ERR_OK)
        log_event(LOG_ERROR, "audit_sink_failed", "seq=%lld msg=%s",
                  (long long)cp.seq, e.msg);
}

/* Verify the whole chain once, as the auditor's verification does: only
 * a chain that passes is ever signed by this process. */
static void
checkpointer_begin(struct store_conn *c)
{
    struct audit_verify_opts o;
    struct audit_verify_report r;
    struct store_audit_checkpoint last;
    struct err e;

    err_clear(&e);
    memset(&o, 0, sizeof(o));
    o.pinned_key = cpr.key;
    o.pinned_key_len = cpr.key_len;
    o.sink_file = cpr.conf.sink.file;
    o.every = cpr.conf.every;
    o.seconds = cpr.conf.seconds;
    o.prechain = cpr.conf.prechain;
    if (audit_verify(c, &o, &r, &e) != ERR_OK) {
        memset(&r, 0, sizeof(r));
        snprintf(r.reason, sizeof(r.reason), "%s", e.msg);
    }
    pthread_mutex_lock(&cpr.lock);
    cpr.ready = 1;
    if (!r.ok) {
        cpr.broken = 1;
    } else if (r.head_seq >= cpr.trusted_seq) {
        cpr.trusted_seq = r.head_seq;
        memcpy(cpr.trusted_hash, r.head_hash, AUDIT_HASH_LEN);
    }
    if (r.covered_seq > cpr.last_seq)
        cpr.last_seq = r.covered_seq;
    if (store_audit_checkpoint_latest(c, &last, NULL) == ERR_OK &&
        last.ts_ms > cpr.last_ms)
        cpr.last_ms = last.ts_ms;
    pthread_mutex_unlock(&cpr.lock);
    if (!r.ok)
        log_event(LOG_ERROR, "audit_chain_unverified", "seq=%lld msg=%s "
                  "effect=no_automatic_checkpoints_until_forced",
                  (long long)r.bad_seq, r.reason);
    else
        checkpointer_step(c, 1, 1);  /* what the last run left uncovered */
}

/* The checkpointer thread: verify, then sign when due until told to stop,
 * then sign the last entries. */
static void *
checkpointer_main(void *arg)
{
    struct store_conn *c;
    struct timespec until;
    struct err e;

    (void)arg;
    err_clear(&e);
    if (store_conn_get(cpr.store, &c, &e) != ERR_OK) {
        log_event(LOG_ERROR, "audit_checkpoint_failed", "msg=%s", e.msg);
        return NULL;
    }
    checkpointer_begin(c);
    pthread_mutex_lock(&cpr.lock);
    while (!cpr.stop) {
        if (!cpr.woken) {
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += AUDIT_TICK_SECONDS;
            pthread_cond_timedwait(&cpr.wake, &cpr.lock, &until);
        }
        cpr.woken = 0;
        if (cpr.stop)
            break;
        pthread_mutex_unlock(&cpr.lock);
        checkpointer_step(c, 0, 1);
        pthread_mutex_lock(&cpr.lock);
    }
    pthread_mutex_unlock(&cpr.lock);
    checkpointer_step(c, 1, 0);
    lease_release(c, LEASE_JOB_CHECKPOINT);
    return NULL;
}

err_code
audit_checkpointer_start(struct store *s,
                         const struct audit_checkpointer_conf *conf,
                         struct err *e)
{
    char tok[CUSTODY_NAME_MAX], id[CUSTODY_ID_HEX_MAX];
    uint8_t *der = NULL;
    size_t n = 0;
    err_code rc;

    if (conf->cust == NULL || conf->key_ref == NULL ||
        config_keyref(conf->key_ref, tok, id, e) != ERR_OK)
        return err_set(e, ERR_CONFIG, "audit checkpoints need keys.audit");
    if (conf->every < 1 || conf->seconds < 1)
        return err_set(e, ERR_CONFIG, "checkpoint interval must be >= 1");
    if ((rc = custody_public_key_der(conf->cust, tok, id, &der, &n, e))
        != ERR_OK)
        return rc;
    if (n > AUDIT_PUBKEY_MAX) {
        free(der);
        return err_set(e, ERR_CRYPTO, "audit public key too large");
    }
    /* The sink file exists from the start, so that a verification
     * against it never mistakes "nothing sent yet" for "deleted". */
    if (conf->sink.file != NULL && conf->sink.file[0] != '\0' &&
        (rc = sink_file_append(conf->sink.file, "", 0, e)) != ERR_OK) {
        free(der);
        return rc;
    }
    pthread_mutex_lock(&cpr.lock);
    if (cpr.running) {
        pthread_mutex_unlock(&cpr.lock);
        free(der);
        return err_set(e, ERR_INTERNAL, "the checkpointer already runs");
    }
    cpr.store = s;
    cpr.conf = *conf;
    memcpy(cpr.key, der, n);
    cpr.key_len = n;
    cpr.stop = cpr.woken = cpr.ready = cpr.broken = cpr.failing = 0;
    cpr.trusted_seq = cpr.last_seq = cpr.last_ms = cpr.lease_retry_ms = 0;
    memset(cpr.trusted_hash, 0, AUDIT_HASH_LEN);
    free(der);
    if (pthread_create(&cpr.thread, NULL, checkpointer_main, NULL) != 0) {
        pthread_mutex_unlock(&cpr.lock);
        return err_set(e, ERR_INTERNAL, "cannot start the checkpointer");
    }
    cpr.running = 1;
    pthread_mutex_unlock(&cpr.lock);
    return ERR_OK;
}

void
audit_checkpointer_stop(void)
{
    pthread_mutex_lock(&cpr.lock);
    if (!cpr.running) {
        pthread_mutex_unlock(&cpr.lock);
        return;
    }
    cpr.stop = 1;
    pthread_cond_signal(&cpr.wake);
    pthread_mutex_unlock(&cpr.lock);
    pthread_join(cpr.thread, NULL);
    pthread_mutex_lock(&cpr.lock);
    cpr.running = cpr.ready = 0;
    pthread_mutex_unlock(&cpr.lock);
}

/* ---- append ---- */

/* The role who acted in (audit.h, struct audit_actor); buf holds a
 * "deputy:<role>" answer.  A granted role is preferred to the same
 * authority held through a deputy period: the deputy prefix marks only
 * what the principal could not have done in their own right. */
static const char *
acting_role(const struct audit_actor *who, char buf[AUDIT_ROLE_MAX])
{
    const struct auth_principal *p;
    const struct store_role *deputy = NULL;
    size_t i;

    if (who == NULL)
        return NULL;
    if (who->role != NULL)
        return who->role;
    if ((p = who->principal) == NULL || p->account_id == 0 ||
        who->perm == PERM_NONE)
        return NULL;
    if (who->perm == PERM_SELF)
        return rbac_perm_name(PERM_SELF);
    for (i = 0; i < p->nroles; i++) {
        if (!rbac_role_has(p->roles[i].role, who->perm))
            continue;
        if (p->roles[i].deputy_id == 0)
            return p->roles[i].role;
        if (deputy == NULL)
            deputy = &p->roles[i];
    }
    if (deputy == NULL)
        return NULL;
    snprintf(buf, AUDIT_ROLE_MAX, AUDIT_DEPUTY_PREFIX "%s", deputy->role);
    return buf;
}

/* s as the log records it: *out is s itself when s is NULL or ASCII, else
 * a copy in *copy (the caller frees it) made well-formed UTF-8 by
 * util_utf8_repair.  An entry's text can carry a request's raw bytes (the
 * path of a refused request, %FF decoded); SQLite would store them as
 * they come, PostgreSQL refuses them in a TEXT column, so on every dialect
 * the entry is hashed and stored as UTF-8. */
static err_code
as_utf8(const char *s, char **copy, const char **out, struct err *e)
{
    const unsigned char *p = (const unsigned char *)s;

    *out = s;
    if (s == NULL)
        return ERR_OK;
    while (*p != '\0' && *p < 0x80)
        p++;
    if (*p == '\0')
        return ERR_OK;
    if ((*copy = strdup(s)) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    util_utf8_repair(*copy);
    *out = *copy;
    return ERR_OK;
}

/* Build the row, link it to the head it claims and insert it, in the
 * caller's transaction; the head row then holds the new entry, its text
 * UTF-8 (as_utf8).  *seq_out/hash_out get the new head. */
static err_code
append_row(struct store_conn *c, const struct audit_actor *who,
           const struct audit_event *ev, int64_t *seq_out,
           uint8_t hash_out[AUDIT_HASH_LEN], struct err *e)
{
    struct store_audit_row row;
    struct store_audit_entry en;
    uint8_t prev[AUDIT_HASH_LEN];
    char *details = NULL, role[AUDIT_ROLE_MAX];
    char *copy[5] = {NULL, NULL, NULL, NULL, NULL};
    int64_t seq;
    size_t i;
    err_code rc;

    if (ev->action == NULL || ev->outcome == NULL)
        return err_set(e, ERR_INTERNAL, "audit record without action");
    if (ev->details != NULL) {
        details = json_dumps(ev->details, JSON_COMPACT | JSON_SORT_KEYS);
        if (details == NULL)
            return err_set(e, ERR_NOMEM, "out of memory");
        if (strlen(details) > AUDIT_DETAILS_MAX) {
            rc = err_set(e, ERR_INTERNAL, "audit details too large");
            goto done;
        }
    }
    memset(&row, 0, sizeof(row));
    row.ts_ms = util_now_ms();
    row.account_id = who ? who->account_id : 0;
    row.via_account_id = who ? who->via_account_id : 0;
    row.role = acting_role(who, role);
    row.action = ev->action;
    row.outcome = ev->outcome;
    row.details = details;
    if ((rc = as_utf8(who ? who->client_addr : NULL, &copy[0],
                      &row.client_addr, e)) != ERR_OK ||
        (rc = as_utf8(who ? who->request_id : NULL, &copy[1],
                      &row.request_id, e)) != ERR_OK ||
        (rc = as_utf8(ev->target_type, &copy[2], &row.target_type, e))
        != ERR_OK ||
        (rc = as_utf8(ev->target_id, &copy[3], &row.target_id, e))
        != ERR_OK ||
        (rc = as_utf8(ev->reason, &copy[4], &row.reason, e)) != ERR_OK)
        goto done;
    if ((rc = chain_claim(c, &seq, prev, e)) != ERR_OK)
        goto done;
    memset(&en, 0, sizeof(en));
    en.seq = seq;
    en.ts_ms = row.ts_ms;
    en.account_id = row.account_id;
    en.role = row.role;
    en.client_addr = row.client_addr;
    en.request_id = row.request_id;
    en.action = row.action;
    en.target_type = row.target_type;
    en.target_id = row.target_id;
    en.outcome = row.outcome;
    en.reason = row.reason;
    en.details = row.details;
    en.via_account_id = row.via_account_id;
    if ((rc = audit_entry_hash(prev, &en, hash_out, e)) != ERR_OK ||
        (rc = store_audit_insert_chained(c, en.seq, &row, hash_out, e))
        != ERR_OK ||
        (rc = store_audit_head_set(c, en.seq, hash_out, e)) != ERR_OK)
        goto done;
    *seq_out = en.seq;
done:
    for (i = 0; i < sizeof(copy) / sizeof(copy[0]); i++)
        free(copy[i]);
    free(details);
    return rc;
}

/* One entry to append (audit_append outside a transaction, and the
 * checkpoint's entry): store_run's work. */
struct append_call {
    const struct audit_actor *who;
    const struct audit_event *ev;
    int64_t                   seq;
    uint8_t                   hash[AUDIT_HASH_LEN];
};

static err_code
append_work(struct store_conn *c, void *ctx, struct err *e)
{
    struct append_call *w = ctx;

    return append_row(c, w->who, w->ev, &w->seq, w->hash, e);
}

err_code
audit_queue(struct store_conn *c, struct err *e)
{
    return store_audit_head_lock(c, e);
}

/* Contract: audit.h.  Reading the head and inserting must be atomic: an
 * entry recorded outside any unit (a refusal, a failure) gets a
 * transaction of its own. */
err_code
audit_append(struct store_conn *c, const struct audit_actor *who,
             const struct audit_event *ev, struct err *e)
{
    struct append_call w = {who, ev, 0, {0}};
    err_code rc;

    if (store_in_transaction(c))
        rc = append_work(c, &w, e);
    else
        rc = store_run(c, append_work, &w, e);
    if (rc == ERR_OK)
        note_append(w.seq);
    return rc;
}

/* ---- refusal summaries ---- */

/* What one summary keeps.  The key is (client_addr, action, reason); the
 * target and request id are those of the first refusal counted.  Longer
 * strings are cut: a reason or path is the caller's to choose and must not
 * make an entry large. */
#define REFUSAL_ADDR_MAX    64
#define REFUSAL_ACTION_MAX  64
#define REFUSAL_REASON_MAX  200
#define REFUSAL_TYPE_MAX    32
#define REFUSAL_TARGET_MAX  128
#define REFUSAL_RID_MAX     40

struct refusal_sum {
    uint32_t hash;                           /* of the key, to skip compares */
    char     client_addr[REFUSAL_ADDR_MAX];
    char     action[REFUSAL_ACTION_MAX];
    char     reason[REFUSAL_REASON_MAX];
    char     target_type[REFUSAL_TYPE_MAX];
    char     target_id[REFUSAL_TARGET_MAX];
    char     request_id[REFUSAL_RID_MAX];
    int64_t  count, first_ms, last_ms;
};

/* One window's counts: up to AUDIT_REFUSAL_SOURCES_MAX keys, and what did
 * not fit folded into `other` (whose key fields hold the first folded
 * refusal's, as a sample). */
struct refusal_table {
    size_t             n;
    struct refusal_sum sums[AUDIT_REFUSAL_SOURCES_MAX];
    struct refusal_sum other;
};

/* Two tables: requests count into tables[cur] under `lock` (a few
 * microseconds, no I/O); a flush swaps cur under `lock` and writes the
 * other table with only `flush_lock` held, so counting never waits for the
 * database.  Outside a flush the table that is not cur is empty. */
static struct {
    pthread_mutex_t      lock;
    pthread_mutex_t      flush_lock;
    int                  cur;
    struct refusal_table tables[2];
} refusals = {.lock = PTHREAD_MUTEX_INITIALIZER,
              .flush_lock = PTHREAD_MUTEX_INITIALIZER};

/* Copy s (NULL: empty) into out, cut to cap - 1 bytes and made UTF-8
 * (util_utf8_repair: a cut through a character, raw bytes of a path). */
static void
copy_cut(char *out, size_t cap, const char *s)
{
    snprintf(out, cap, "%s", s ? s : "");
    util_utf8_repair(out);
}

/* NULL for an empty string: how a missing field is stored. */
static const char *
or_null(const char *s)
{
    return s[0] != '\0' ? s : NULL;
}

/* FNV-1a over the three key fields, with separators. */
static uint32_t
refusal_hash(const struct refusal_sum *s)
{
    const char *parts[3] = {s->client_addr, s->action, s->reason};
    uint32_t h = 2166136261u;
    size_t i;
    const char *p;

    for (i = 0; i < 3; i++) {
        for (p = parts[i]; *p != '\0'; p++)
            h = (h ^ (uint8_t)*p) * 16777619u;
        h = (h ^ 0xFFu) * 16777619u;
    }
    return h;
}

static int
same_key(const struct refusal_sum *a, const struct refusal_sum *b)
{
    return a->hash == b->hash && strcmp(a->client_addr, b->client_addr) == 0
           && strcmp(a->action, b->action) == 0
           && strcmp(a->reason, b->reason) == 0;
}

/* Add s's counts and times to d, whose samples stay. */
static void
add_counts(struct refusal_sum *d, const struct refusal_sum *s)
{
    if (d->count == 0) {
        *d = *s;
        return;
    }
    d->count += s->count;
    if (s->first_ms < d->first_ms)
        d->first_ms = s->first_ms;
    if (s->last_ms > d->last_ms)
        d->last_ms = s->last_ms;
}

/* Fold s into t: into its key's entry, a new entry, or `other` when the
 * table is full.  Caller holds refusals.lock. */
static void
fold(struct refusal_table *t, const struct refusal_sum *s)
{
    size_t i;

    for (i = 0; i < t->n; i++)
        if (same_key(&t->sums[i], s)) {
            add_counts(&t->sums[i], s);
            return;
        }
    if (t->n < AUDIT_REFUSAL_SOURCES_MAX)
        t->sums[t->n++] = *s;
    else
        add_counts(&t->other, s);
}

void
audit_refusal_count(const struct audit_actor *who,
                    const struct audit_event *ev)
{
    struct refusal_sum s;

    memset(&s, 0, sizeof(s));
    copy_cut(s.client_addr, sizeof(s.client_addr),
             who ? who->client_addr : NULL);
    copy_cut(s.action, sizeof(s.action), ev->action);
    copy_cut(s.reason, sizeof(s.reason), ev->reason);
    copy_cut(s.target_type, sizeof(s.target_type), ev->target_type);
    copy_cut(s.target_id, sizeof(s.target_id), ev->target_id);
    copy_cut(s.request_id, sizeof(s.request_id),
             who ? who->request_id : NULL);
    s.hash = refusal_hash(&s);
    s.count = 1;
    s.first_ms = s.last_ms = util_now_ms();
    pthread_mutex_lock(&refusals.lock);
    fold(&refusals.tables[refusals.cur], &s);
    pthread_mutex_unlock(&refusals.lock);
}

/* Append one summary row in the caller's transaction.  other: s is the
 * folded overflow, written under the "other sources" address and action
 * with its sample address and action in the details. */
static err_code
write_summary(struct store_conn *c, const struct refusal_sum *s, int other,
              struct err *e)
{
    char reason[128];
    struct audit_actor who;
    struct audit_event ev;
    json_t *d;
    err_code rc;

    d = json_pack("{s:I, s:I, s:I}", "count", (json_int_t)s->count,
                  "first_ms", (json_int_t)s->first_ms,
                  "last_ms", (json_int_t)s->last_ms);
    if (d == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    memset(&who, 0, sizeof(who));
    who.client_addr = other ? AUDIT_REFUSAL_OTHER_ADDR
                            : or_null(s->client_addr);
    who.request_id = or_null(s->request_id);
    ev.action = other ? AUDIT_REFUSAL_OTHER_ACTION : s->action;
    ev.target_type = or_null(s->target_type);
    ev.target_id = or_null(s->target_id);
    ev.outcome = AUDIT_REFUSED;
    ev.reason = or_null(s->reason);
    ev.details = d;
    if (other) {
        snprintf(reason, sizeof(reason), "refusals from other sources: "
                 "more than %d summaries in one window",
                 AUDIT_REFUSAL_SOURCES_MAX);
        ev.reason = reason;
        if (json_object_set_new(d, "sample_client_addr",
                                json_string(s->client_addr)) != 0 ||
            json_object_set_new(d, "sample_action", json_string(s->action))
            != 0 ||
            json_object_set_new(d, "sample_reason", json_string(s->reason))
            != 0) {
            json_decref(d);
            return err_set(e, ERR_NOMEM, "out of memory");
        }
    }
    rc = audit_append(c, &who, &ev, e);
    json_decref(d);
    return rc;
}

static err_code
table_work(struct store_conn *c, void *ctx, struct err *e)
{
    const struct refusal_table *t = ctx;
    size_t i;
    err_code rc = ERR_OK;

    for (i = 0; i < t->n && rc == ERR_OK; i++)
        rc = write_summary(c, &t->sums[i], 0, e);
    if (rc == ERR_OK && t->other.count > 0)
        rc = write_summary(c, &t->other, 1, e);
    return rc;
}

/* Write every summary of t in one transaction: one commit (one fsync) per
 * window, however many refusals it counted.  *rows gets how many. */
static err_code
write_table(struct store_conn *c, const struct refusal_table *t, int *rows,
            struct err *e)
{
    err_code rc;

    *rows = 0;
    if ((rc = store_run(c, table_work, (void *)t, e)) != ERR_OK)
        return rc;
    *rows = (int)t->n + (t->other.count > 0);
    return ERR_OK;
}

err_code
audit_refusals_flush(struct store_conn *c, int *rows, struct err *e)
{
    struct refusal_table *t;
    size_t i;
    int n = 0;
    err_code rc = ERR_OK;

    if (store_in_transaction(c))
        return err_set(e, ERR_INTERNAL, "refusal flush inside a transaction");
    pthread_mutex_lock(&refusals.flush_lock);
    pthread_mutex_lock(&refusals.lock);
    t = &refusals.tables[refusals.cur];
    refusals.cur ^= 1;              /* new refusals count into the other */
    pthread_mutex_unlock(&refusals.lock);
    if (t->n > 0 || t->other.count > 0)
        rc = write_table(c, t, &n, e);
    if (rc != ERR_OK) {
        /* keep the counts: the next flush writes them with its own */
        pthread_mutex_lock(&refusals.lock);
        for (i = 0; i < t->n; i++)
            fold(&refusals.tables[refusals.cur], &t->sums[i]);
        if (t->other.count > 0)
            add_counts(&refusals.tables[refusals.cur].other, &t->other);
        pthread_mutex_unlock(&refusals.lock);
    }
    t->n = 0;
    memset(&t->other, 0, sizeof(t->other));
    pthread_mutex_unlock(&refusals.flush_lock);
    if (rows != NULL)
        *rows = n;
    return rc;
}

err_code
audit_checkpoint(struct store_conn *c, struct custody *cust,
                 const char *key_ref, const struct audit_sink *sink,
                 const struct audit_actor *who,
                 struct store_audit_checkpoint *out, struct err *e)
{
    struct audit_event ev = {"audit.checkpoint", "audit_log", NULL, AUDIT_OK,
                             NULL, NULL};
    struct append_call w = {who, &ev, 0, {0}};
    struct store_audit_checkpoint cp;
    struct err se;
    err_code rc;

    if (cust == NULL || key_ref == NULL || key_ref[0] == '\0')
        return err_set(e, ERR_CONFIG, "no audit key configured (keys.audit)");
    if (store_in_transaction(c))
        return err_set(e, ERR_INTERNAL, "checkpoint inside a transaction");
    /* the refusals counted so far go in first, so the checkpoint covers
     * every attempt made before it; the record commits first, and the
     * token signs its head afterwards, with no write lock held */
    if ((rc = audit_refusals_flush(c, NULL, e)) != ERR_OK ||
        (rc = store_run(c, append_work, &w, e)) != ERR_OK)
        return rc;
    if ((rc = sign_checkpoint(cust, key_ref, w.seq, w.hash, &cp, e))
        != ERR_OK ||
        (rc = store_checkpoint(c, &cp, e)) != ERR_OK)
        return rc;
    note_checkpoint(&cp, 1);
    err_clear(&se);
    if (audit_sink_export(sink, &cp, &se) != ERR_OK)
        log_event(LOG_ERROR, "audit_sink_failed", "seq=%lld msg=%s",
                  (long long)cp.seq, se.msg);
    if (out != NULL)
        *out = cp;
    return ERR_OK;
}

/* ---- export and checks of checkpoints ---- */

json_t *
audit_checkpoint_json(const struct store_audit_checkpoint *cp)
{
    const uint8_t *p = cp->public_key;
    char hex[2 * AUDIT_HASH_LEN + 1], when[21];
    EVP_PKEY *pub = d2i_PUBKEY(NULL, &p, (long)cp->public_key_len);
    BIO *bio = BIO_new(BIO_s_mem());
    char *sig = NULL, *pem = NULL;
    long pem_len;
    json_t *j = NULL;

    if (pub == NULL || bio == NULL || PEM_write_bio_PUBKEY(bio, pub) != 1 ||
        (pem_len = BIO_get_mem_data(bio, &pem)) <= 0 ||
        util_b64_encode(cp->signature, cp->signature_len, &sig, NULL)
        != ERR_OK)
        goto done;
    util_hex_encode(cp->head_hash, AUDIT_HASH_LEN, hex);
    util_time_rfc3339((time_t)(cp->ts_ms / 1000), when);
    j = json_pack("{s:s, s:I, s:s, s:I, s:s, s:s, s:s%, s:s}",
                  "format", AUDIT_CHECKPOINT_FORMAT,
                  "seq", (json_int_t)cp->seq, "head_hash", hex,
                  "ts_ms", (json_int_t)cp->ts_ms, "time", when,
                  "key_ref", cp->key_ref, "public_key", pem, (size_t)pem_len,
                  "signature", sig);
done:
    free(sig);
    BIO_free(bio);
    EVP_PKEY_free(pub);
    return j;
}

/* The DER inside a "PUBLIC KEY" PEM block: the base64 between the lines,
 * decoded here rather than by OpenSSL's decoder, which costs about a
 * millisecond a key (a sink file holds one per checkpoint).  Whether the
 * bytes are a key at all is for the signature check to find out. */
static err_code
pem_pubkey_der(const char *pem, uint8_t *der, size_t cap, size_t *len,
               struct err *e)
{
    static const char head[] = "-----BEGIN PUBLIC KEY-----";
    static const char tail[] = "-----END PUBLIC KEY-----";
    const char *a = strstr(pem, head), *b;
    char *b64 = NULL;
    uint8_t *raw = NULL;
    size_t n = 0, rlen = 0;
    err_code rc = ERR_OK;

    *len = 0;
    if (a == NULL || (b = strstr(a + sizeof(head) - 1, tail)) == NULL)
        return err_set(e, ERR_INVALID, "checkpoint public_key is not a PEM "
                       "public key");
    a += sizeof(head) - 1;
    if ((b64 = malloc((size_t)(b - a) + 1)) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    for (; a < b; a++)
        if (strchr(" \t\r\n", *a) == NULL)
            b64[n++] = *a;
    b64[n] = '\0';
    if (n == 0 || util_b64_decode(b64, n, &raw, &rlen, NULL) != ERR_OK ||
        rlen == 0 || rlen > cap)
        rc = err_set(e, ERR_INVALID, "checkpoint public_key is not a PEM "
                     "public key");
    else {
        memcpy(der, raw, rlen);
        *len = rlen;
    }
    free(raw);
    free(b64);
    return rc;
}

err_code
audit_checkpoint_parse(const json_t *j, struct store_audit_checkpoint *out,
                       struct err *e)
{
    const char *fmt, *hex, *pem, *sig, *ref;
    json_int_t seq, ts;
    uint8_t *raw = NULL;
    size_t n = 0;
    err_code rc = ERR_OK;

    memset(out, 0, sizeof(*out));
    if (json_unpack((json_t *)j, "{s:s, s:I, s:s, s:I, s:s, s:s, s:s}",
                    "format", &fmt, "seq", &seq, "head_hash", &hex,
                    "ts_ms", &ts, "key_ref", &ref, "public_key", &pem,
                    "signature", &sig) != 0 ||
        strcmp(fmt, AUDIT_CHECKPOINT_FORMAT) != 0)
        return err_set(e, ERR_INVALID, "not an exported audit checkpoint");
    out->seq = seq;
    out->ts_ms = ts;
    snprintf(out->key_ref, sizeof(out->key_ref), "%s", ref);
    if (util_hex_decode(hex, out->head_hash, AUDIT_HASH_LEN, &n, NULL)
        != ERR_OK || n != AUDIT_HASH_LEN) {
        rc = err_set(e, ERR_INVALID, "checkpoint head_hash is not 32 bytes");
        goto done;
    }
    if (util_b64_decode(sig, strlen(sig), &raw, &n, NULL) != ERR_OK ||
        n == 0 || n > sizeof(out->signature)) {
        rc = err_set(e, ERR_INVALID, "checkpoint signature is not base64");
        goto done;
    }
    memcpy(out->signature, raw, n);
    out->signature_len = n;
    rc = pem_pubkey_der(pem, out->public_key, sizeof(out->public_key),
                        &out->public_key_len, e);
done:
    free(raw);
    return rc;
}

err_code
audit_checkpoint_check(const struct store_audit_checkpoint *cp, int *ok,
                       struct err *e)
{
    uint8_t msg[AUDIT_CHECKPOINT_MSG_LEN];
    const uint8_t *p = cp->public_key;
    EVP_PKEY *pub;
    err_code rc;

    *ok = 0;
    if ((pub = d2i_PUBKEY(NULL, &p, (long)cp->public_key_len)) == NULL)
        return ERR_OK;     /* an unreadable key verifies nothing */
    audit_checkpoint_message(cp->seq, cp->head_hash, cp->ts_ms, msg);
    rc = sm2_verify(pub, NULL, msg, sizeof(msg), cp->signature,
                    cp->signature_len, ok, e);
    EVP_PKEY_free(pub);
    return rc;
}

/* ---- the trusted audit key ---- */

#define AUDIT_KEY_FILE_MAX (64 * 1024)

err_code
audit_trusted_key_load(const char *path, uint8_t *key, size_t *len,
                       struct err *e)
{
    uint8_t *buf = NULL, *der = NULL;
    size_t n = 0;
    BIO *bio = NULL;
    EVP_PKEY *pub = NULL;
    X509 *cert = NULL;
    int dlen;
    err_code rc = ERR_OK;

    *len = 0;
    if ((rc = util_read_file(path, AUDIT_KEY_FILE_MAX, &buf, &n, e))
        != ERR_OK)
        return rc;
    /* a PEM public key, or a certificate of the audit key */
    if ((bio = BIO_new_mem_buf(buf, (int)n)) == NULL ||
        ((pub = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) == NULL &&
         (BIO_reset(bio) != 1 ||
          (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL ||
          (pub = X509_get_pubkey(cert)) == NULL))) {
        rc = err_set(e, ERR_INVALID, "%s: not a PEM public key or "
                     "certificate", path);
        goto done;
    }
    if ((dlen = i2d_PUBKEY(pub, &der)) <= 0 || dlen > AUDIT_PUBKEY_MAX) {
        rc = err_set(e, ERR_INVALID, "%s: unusable public key", path);
        goto done;
    }
    memcpy(key, der, (size_t)dlen);
    *len = (size_t)dlen;
done:
    OPENSSL_free(der);
    EVP_PKEY_free(pub);
    X509_free(cert);
    BIO_free(bio);
    free(buf);
    return rc;
}

err_code
audit_trusted_key_write(const char *path, const uint8_t *der, size_t len,
                        struct err *e)
{
    const uint8_t *p = der;
    EVP_PKEY *pub = d2i_PUBKEY(NULL, &p, (long)len);
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem = NULL;
    long n;
    err_code rc;

    if (pub == NULL || bio == NULL || PEM_write_bio_PUBKEY(bio, pub) != 1 ||
        (n = BIO_get_mem_data(bio, &pem)) <= 0)
        rc = err_set(e, ERR_CRYPTO, "cannot encode the audit public key");
    else
        rc = util_write_file(path, pem, (size_t)n, 0644, e);
    BIO_free(bio);
    EVP_PKEY_free(pub);
    return rc;
}

/* ---- the verifier ---- */

/* An exported checkpoint (given, or a line of the sink file) once its key
 * and signature are checked: what the walk compares with the log. */
struct ext_cp {
    int64_t seq;
    uint8_t hash[AUDIT_HASH_LEN];
    long    line;                 /* sink line, 0: a given checkpoint */
};

struct verify_ctx {
    const struct audit_verify_opts *o;
    struct audit_verify_report     *r;
    EVP_PKEY                       *pinned;  /* o->pinned_key, decoded once */
    struct store_audit_checkpoint  *cps;   /* sorted by seq */
    size_t                          ncp, cpcap, next;
    struct ext_cp                  *ext;   /* sorted by seq after loading */
    size_t                          next_n, extcap, enext;
    uint8_t                         h[AUDIT_HASH_LEN];
    int64_t                         expect;
    long                            every, seconds;
    /* the newest entries (after the pre-chain range) that no valid
     * checkpoint covers */
    int64_t                         tail_n, tail_first, tail_min, tail_max;
    /* the chain's head row read before the walk (schema 8 on), and the
     * chain hash the walk found at its seq */
    int                             head_row, head_has;
    int64_t                         head_seq;
    uint8_t                         head_hash[AUDIT_HASH_LEN];
    uint8_t                         walked_hash[AUDIT_HASH_LEN];
    struct err                     *e;
};

/* Record the first failure; returning ERR_CONFLICT stops the walk. */
static err_code
broken(struct verify_ctx *v, int64_t seq, int64_t cp_id, const char *fmt,
       ...) __attribute__((format(printf, 4, 5)));

static err_code
broken(struct verify_ctx *v, int64_t seq, int64_t cp_id, const char *fmt, ...)
{
    va_list ap;

    if (v->r->ok) {
        v->r->ok = 0;
        v->r->bad_seq = seq;
        v->r->bad_checkpoint = cp_id;
        va_start(ap, fmt);
        vsnprintf(v->r->reason, sizeof(v->r->reason), fmt, ap);
        va_end(ap);
    }
    return ERR_CONFLICT;
}

/* store_audit_checkpoint_list callback: copy each checkpoint into
 * v->cps (grown with realloc; freed by audit_verify). */
static err_code
collect_cp(void *ctx, const struct store_audit_checkpoint *cp)
{
    struct verify_ctx *v = ctx;
    struct store_audit_checkpoint *q;

    if (v->ncp == v->cpcap) {
        size_t cap = v->cpcap ? v->cpcap * 2 : 16;
        if ((q = realloc(v->cps, cap * sizeof(*q))) == NULL)
            return err_set(v->e, ERR_NOMEM, "out of memory");
        v->cps = q;
        v->cpcap = cap;
    }
    v->cps[v->ncp++] = *cp;
    return ERR_OK;
}

/* Is cp signed by the pinned key, and does its signature verify?  Else
 * the reason is recorded under the name what. */
static err_code
check_signer(struct verify_ctx *v, const struct store_audit_checkpoint *cp,
             int64_t cp_id, const char *what)
{
    uint8_t msg[AUDIT_CHECKPOINT_MSG_LEN];
    int ok = 0;

    if (v->pinned == NULL)
        return broken(v, cp->seq, cp_id, "%s at seq %lld cannot be checked: "
                      "no trusted audit key", what, (long long)cp->seq);
    if (cp->public_key_len != v->o->pinned_key_len ||
        memcmp(cp->public_key, v->o->pinned_key, cp->public_key_len) != 0)
        return broken(v, cp->seq, cp_id, "%s at seq %lld is signed by "
                      "another key than the trusted audit key", what,
                      (long long)cp->seq);
    audit_checkpoint_message(cp->seq, cp->head_hash, cp->ts_ms, msg);
    if (sm2_verify(v->pinned, NULL, msg, sizeof(msg), cp->signature,
                   cp->signature_len, &ok, v->e) != ERR_OK || !ok)
        return broken(v, cp->seq, cp_id, "%s at seq %lld: the signature "
                      "does not verify", what, (long long)cp->seq);
    return ERR_OK;
}

/* Is cp byte for byte a stored checkpoint?  Then the walk checks its
 * signer there (before any exported checkpoint at that seq), and a
 * second SM2 verification, the costly part of reading a sink, is saved. */
static int
is_stored(const struct verify_ctx *v, const struct store_audit_checkpoint *cp)
{
    size_t lo = 0, hi = v->ncp, mid;
    const struct store_audit_checkpoint *s;

    while (lo < hi) {                     /* the first with seq >= cp->seq */
        mid = lo + (hi - lo) / 2;
        if (v->cps[mid].seq < cp->seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < v->ncp && v->cps[lo].seq == cp->seq; lo++) {
        s = &v->cps[lo];
        if (s->ts_ms == cp->ts_ms &&
            memcmp(s->head_hash, cp->head_hash, AUDIT_HASH_LEN) == 0 &&
            s->public_key_len == cp->public_key_len &&
            memcmp(s->public_key, cp->public_key, cp->public_key_len) == 0 &&
            s->signature_len == cp->signature_len &&
            memcmp(s->signature, cp->signature, cp->signature_len) == 0)
            return 1;
    }
    return 0;
}

/* Keep an exported checkpoint whose signer checks out.  Call after the
 * stored checkpoints are loaded. */
static err_code
ext_add(struct verify_ctx *v, const struct store_audit_checkpoint *cp,
        long line)
{
    char what[64];
    struct ext_cp *q;
    err_code rc;

    if (line > 0)
        snprintf(what, sizeof(what), "the checkpoint on sink line %ld", line);
    else
        snprintf(what, sizeof(what), "the exported checkpoint");
    if (!is_stored(v, cp) && (rc = check_signer(v, cp, 0, what)) != ERR_OK)
        return rc;
    if (v->next_n == v->extcap) {
        size_t cap = v->extcap ? v->extcap * 2 : 16;
        if ((q = realloc(v->ext, cap * sizeof(*q))) == NULL)
            return err_set(v->e, ERR_NOMEM, "out of memory");
        v->ext = q;
        v->extcap = cap;
    }
    v->ext[v->next_n].seq = cp->seq;
    memcpy(v->ext[v->next_n].hash, cp->head_hash, AUDIT_HASH_LEN);
    v->ext[v->next_n].line = line;
    v->next_n++;
    return ERR_OK;
}

/* One line of a sink file: optional text before the JSON (a syslog
 * header), then one exported checkpoint. */
static err_code
sink_line(struct verify_ctx *v, const char *text, long line)
{
    struct store_audit_checkpoint cp;
    const char *brace = strchr(text, '{');
    json_t *j;
    err_code rc;

    if (brace == NULL ||
        (j = json_loads(brace, JSON_REJECT_DUPLICATES, NULL)) == NULL)
        return broken(v, 0, 0, "sink line %ld is not a checkpoint", line);
    rc = audit_checkpoint_parse(j, &cp, NULL);
    json_decref(j);
    if (rc != ERR_OK)
        return broken(v, 0, 0, "sink line %ld is not a checkpoint", line);
    return ext_add(v, &cp, line);
}

/* Read every checkpoint of the sink file at path.  Anything wrong with it
 * fails the verification: what was sent away must still say the same. */
static err_code
load_sink(struct verify_ctx *v, const char *path)
{
    char *buf = malloc(AUDIT_SINK_LINE_MAX);
    FILE *f = NULL;
    long line = 0;
    size_t n;
    err_code rc = ERR_OK;

    if (buf == NULL)
        return err_set(v->e, ERR_NOMEM, "out of memory");
    if ((f = fopen(path, "r")) == NULL) {
        rc = broken(v, 0, 0, "the sink file %s cannot be read: %s", path,
                    strerror(errno));
        goto done;
    }
    while (rc == ERR_OK && fgets(buf, AUDIT_SINK_LINE_MAX, f) != NULL) {
        if (++line > AUDIT_SINK_LINES_MAX) {
            rc = broken(v, 0, 0, "the sink file %s has more than %d lines",
                        path, AUDIT_SINK_LINES_MAX);
            break;
        }
        n = strlen(buf);
        if (n > 0 && buf[n - 1] != '\n' && !feof(f)) {
            rc = broken(v, 0, 0, "sink line %ld is too long", line);
            break;
        }
        if (strspn(buf, " \t\r\n") == n)
            continue;
        rc = sink_line(v, buf, line);
    }
    if (rc == ERR_OK && ferror(f))
        rc = broken(v, 0, 0, "the sink file %s cannot be read", path);
done:
    if (f != NULL)
        fclose(f);
    free(buf);
    return rc;
}

/* qsort: exported checkpoints by seq, then by line. */
static int
ext_cmp(const void *a, const void *b)
{
    const struct ext_cp *x = a, *y = b;

    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* Every exported checkpoint: the given ones and the sink's. */
static err_code
load_exported(struct verify_ctx *v)
{
    size_t i;
    err_code rc;

    for (i = 0; i < v->o->nexported; i++)
        if ((rc = ext_add(v, &v->o->exported[i], 0)) != ERR_OK)
            return rc;
    if (v->o->sink_file != NULL && v->o->sink_file[0] != '\0' &&
        (rc = load_sink(v, v->o->sink_file)) != ERR_OK)
        return rc;
    if (v->next_n > 1)
        qsort(v->ext, v->next_n, sizeof(*v->ext), ext_cmp);
    return ERR_OK;
}

/* A valid checkpoint covers everything up to seq. */
static void
covered(struct verify_ctx *v, int64_t seq)
{
    v->r->covered_seq = seq;
    v->tail_n = 0;
}

/* Checkpoints at seq 0 (an empty log) and at the current row. */
static err_code
check_due(struct verify_ctx *v, int64_t seq)
{
    const struct store_audit_checkpoint *cp;
    const struct ext_cp *x;
    err_code rc;

    while (v->next < v->ncp && v->cps[v->next].seq <= seq) {
        cp = &v->cps[v->next];
        if (cp->seq < seq)   /* skipped: seq below 1 */
            return broken(v, cp->seq, cp->id, "checkpoint at impossible seq "
                          "%lld", (long long)cp->seq);
        if (memcmp(cp->head_hash, v->h, AUDIT_HASH_LEN) != 0)
            return broken(v, cp->seq, cp->id, "checkpoint at seq %lld does "
                          "not match the log: an entry up to seq %lld was "
                          "changed", (long long)cp->seq, (long long)cp->seq);
        if ((rc = check_signer(v, cp, cp->id, "checkpoint")) != ERR_OK)
            return rc;
        v->r->checkpoints++;
        v->next++;
        covered(v, seq);
    }
    while (v->enext < v->next_n && v->ext[v->enext].seq <= seq) {
        x = &v->ext[v->enext];
        if (x->seq < seq || memcmp(x->hash, v->h, AUDIT_HASH_LEN) != 0)
            return broken(v, x->seq, 0, "the exported checkpoint at seq %lld "
                          "(%s%ld) does not match the log: an entry up to "
                          "seq %lld was changed", (long long)x->seq,
                          x->line ? "sink line " : "given", x->line,
                          (long long)x->seq);
        v->r->exported++;
        v->enext++;
        covered(v, seq);
    }
    return ERR_OK;
}

/* store_audit_walk callback: check seq continuity and the row hash,
 * then the checkpoints at this seq.  ERR_CONFLICT once broken. */
static err_code
verify_row(void *ctx, const struct store_audit_entry *en)
{
    struct verify_ctx *v = ctx;
    uint8_t h[AUDIT_HASH_LEN];
    err_code rc;

    if (en->seq != v->expect)
        return broken(v, v->expect, 0, "entry %lld is missing (the next "
                      "entry has seq %lld): entries were deleted or "
                      "renumbered", (long long)v->expect, (long long)en->seq);
    if ((rc = audit_entry_hash(v->h, en, h, v->e)) != ERR_OK)
        return rc;
    if (en->hash == NULL) {
        if (en->seq > v->o->prechain)
            return broken(v, en->seq, 0, "entry %lld has no hash: only the "
                          "pinned pre-chain range (entries 1 to %lld, "
                          "audit.prechain_entries) may have none",
                          (long long)en->seq, (long long)v->o->prechain);
        v->r->unchained++;
    } else if (en->hash_len != AUDIT_HASH_LEN ||
               memcmp(en->hash, h, AUDIT_HASH_LEN) != 0) {
        return broken(v, en->seq, 0, "entry %lld does not match its hash: "
                      "it or the entry before it was changed, removed or "
                      "reordered", (long long)en->seq);
    }
    memcpy(v->h, h, AUDIT_HASH_LEN);
    if (v->head_row && en->seq == v->head_seq)
        memcpy(v->walked_hash, h, AUDIT_HASH_LEN);
    v->r->entries++;
    v->r->head_seq = en->seq;
    v->expect++;
    if (en->seq > v->o->prechain) {
        if (v->tail_n++ == 0) {
            v->tail_first = en->seq;
            v->tail_min = v->tail_max = en->ts_ms;
        }
        if (en->ts_ms < v->tail_min)
            v->tail_min = en->ts_ms;
        if (en->ts_ms > v->tail_max)
            v->tail_max = en->ts_ms;
    }
    return check_due(v, en->seq);
}

/* After the walk: nothing may lie beyond the end of the log, and the
 * entries no checkpoint covers must be few and recent enough to be
 * waiting for the next one. */
static void
check_end(struct verify_ctx *v)
{
    int64_t span_ms = v->tail_max - v->tail_min;

    if (v->next < v->ncp)
        broken(v, v->cps[v->next].seq, v->cps[v->next].id, "checkpoint at "
               "seq %lld is beyond the end of the log (seq %lld): the "
               "newest entries were deleted", (long long)v->cps[v->next].seq,
               (long long)v->r->head_seq);
    else if (v->enext < v->next_n)
        broken(v, v->r->head_seq + 1, 0, "the exported checkpoint covers "
               "seq %lld but the log ends at seq %lld: the newest entries "
               "were deleted", (long long)v->ext[v->next_n - 1].seq,
               (long long)v->r->head_seq);
    else if (v->tail_n > v->every + AUDIT_CHECKPOINT_SLACK_ENTRIES)
        broken(v, v->tail_first, 0, "%lld entries from seq %lld on have no "
               "checkpoint (at most %ld + %d may): checkpoints were deleted "
               "or not made", (long long)v->tail_n,
               (long long)v->tail_first, v->every,
               AUDIT_CHECKPOINT_SLACK_ENTRIES);
    else if (v->tail_n > 0 &&
             span_ms > v->seconds * 1000 + AUDIT_CHECKPOINT_GRACE_MS)
        broken(v, v->tail_first, 0, "the entries from seq %lld on span %lld "
               "s with no checkpoint (at most %ld s + %d s may): checkpoints "
               "were deleted or not made", (long long)v->tail_first,
               (long long)(span_ms / 1000), v->seconds,
               AUDIT_CHECKPOINT_GRACE_MS / 1000);
}

/* Since migration 008 the chain's head row names the log's newest entry
 * and its hash: entries deleted or added behind seald's back, without also
 * rewriting the row, are caught even with no checkpoint over them.  The
 * row and its entry commit together and the row only moves forward, so a
 * verification beside a running daemon stays exact without a snapshot:
 * the row read before the walk (head_row_before) must name an entry the
 * walk found, with the hash the walk computed for it; the row read after
 * it (head_row_after) must cover every entry the walk found.  An older
 * schema has no row to compare. */
static err_code
head_row_before(struct store_conn *c, struct verify_ctx *v, struct err *e)
{
    int version = 0, found = 0;
    err_code rc;

    if ((rc = store_schema_version(c, &version, e)) != ERR_OK ||
        version < STORE_SCHEMA_AUDIT_HEAD)
        return rc;
    if ((rc = store_audit_head_row(c, &v->head_seq, v->head_hash,
                                   &v->head_has, &found, e)) != ERR_OK)
        return rc;
    if (!found)
        return broken(v, 0, 0, "the audit chain's head row is missing");
    v->head_row = 1;
    return ERR_OK;
}

static err_code
head_row_after(struct store_conn *c, struct verify_ctx *v, struct err *e)
{
    uint8_t hash[AUDIT_HASH_LEN];
    int64_t seq = 0;
    int has = 0, found = 0;
    err_code rc;

    if (!v->head_row)
        return ERR_OK;
    if (v->head_seq > v->r->head_seq)
        return broken(v, v->r->head_seq + 1, 0, "the chain's head row says "
                      "seq %lld but the log ends at seq %lld: entries were "
                      "deleted outside seald", (long long)v->head_seq,
                      (long long)v->r->head_seq);
    if (v->head_has && v->head_seq > 0 &&
        memcmp(v->head_hash, v->walked_hash, AUDIT_HASH_LEN) != 0)
        return broken(v, v->head_seq, 0, "the chain's head row does not "
                      "hold the hash of entry %lld", (long long)v->head_seq);
    if ((rc = store_audit_head_row(c, &seq, hash, &has, &found, e))
        != ERR_OK)
        return rc;
    if (seq < v->r->head_seq)
        return broken(v, seq + 1, 0, "the log goes on to seq %lld past the "
                      "chain's head row (seq %lld): entries were added "
                      "outside seald", (long long)v->r->head_seq,
                      (long long)seq);
    return ERR_OK;
}

err_code
audit_verify(struct store_conn *c, const struct audit_verify_opts *o,
             struct audit_verify_report *r, struct err *e)
{
    static const struct audit_verify_opts none;
    struct verify_ctx v;
    err_code rc;

    memset(r, 0, sizeof(*r));
    memset(&v, 0, sizeof(v));
    r->ok = 1;
    v.o = o ? o : &none;
    v.r = r;
    v.e = e;
    v.expect = 1;
    v.every = v.o->every > 0 ? v.o->every : AUDIT_CHECKPOINT_EVERY_DEFAULT;
    v.seconds = v.o->seconds > 0 ? v.o->seconds
                                 : AUDIT_CHECKPOINT_SECONDS_DEFAULT;
    r->pinned = v.o->pinned_key != NULL;
    if (v.o->pinned_key != NULL) {
        const uint8_t *p = v.o->pinned_key;
        if ((v.pinned = d2i_PUBKEY(NULL, &p, (long)v.o->pinned_key_len))
            == NULL) {
            rc = broken(&v, 0, 0, "the trusted audit key is not a public "
                        "key");
            goto done;
        }
    }
    if ((rc = head_row_before(c, &v, e)) != ERR_OK ||
        (rc = store_audit_checkpoint_list(c, collect_cp, &v, e)) != ERR_OK ||
        (rc = load_exported(&v)) != ERR_OK ||
        (rc = check_due(&v, 0)) != ERR_OK ||
        (rc = store_audit_walk(c, 0, verify_row, &v, e)) != ERR_OK)
        goto done;
    check_end(&v);
    if (r->ok)
        rc = head_row_after(c, &v, e);
done:
    if (rc == ERR_CONFLICT)         /* a break was recorded */
        rc = ERR_OK;
    memcpy(r->head_hash, v.h, AUDIT_HASH_LEN);
    EVP_PKEY_free(v.pinned);
    free(v.cps);
    free(v.ext);
    return rc;
}

json_t *
audit_verify_json(const struct audit_verify_report *r)
{
    char hex[2 * AUDIT_HASH_LEN + 1];

    util_hex_encode(r->head_hash, AUDIT_HASH_LEN, hex);
    return json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:o, s:o, "
                     "s:b, s:o}",
                     "ok", r->ok, "entries", (json_int_t)r->entries,
                     "unchained", (json_int_t)r->unchained,
                     "checkpoints", (json_int_t)r->checkpoints,
                     "exported_checkpoints", (json_int_t)r->exported,
                     "covered_seq", (json_int_t)r->covered_seq,
                     "head_seq", (json_int_t)r->head_seq, "head_hash", hex,
                     "first_bad_seq", r->ok ? json_null()
                         : json_integer(r->bad_seq),
                     "bad_checkpoint_id", r->bad_checkpoint
                         ? json_integer(r->bad_checkpoint) : json_null(),
                     "key_pinned", r->pinned,
                     "reason", r->ok ? json_null() : json_string(r->reason));
}

/* ---- entry shapes ---- */

static json_t *
str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *
audit_entry_json(const struct store_audit_entry *en)
{
    char when[21], hex[2 * AUDIT_HASH_LEN + 1] = "";
    json_t *details = NULL;

    util_time_rfc3339((time_t)(en->ts_ms / 1000), when);
    if (en->hash != NULL && en->hash_len == AUDIT_HASH_LEN)
        util_hex_encode(en->hash, AUDIT_HASH_LEN, hex);
    if (en->details != NULL)
        details = json_loads(en->details, 0, NULL);
    if (details == NULL)
        details = str_or_null(en->details);
    return json_pack("{s:I, s:I, s:s, s:o, s:o, s:o, s:o, s:s, s:o, s:o, "
                     "s:s, s:o, s:o, s:o, s:o}",
                     "seq", (json_int_t)en->seq,
                     "ts_ms", (json_int_t)en->ts_ms, "time", when,
                     "account_id", en->account_id
                         ? json_integer(en->account_id) : json_null(),
                     "role", str_or_null(en->role),
                     "client_addr", str_or_null(en->client_addr),
                     "request_id", str_or_null(en->request_id),
                     "action", en->action ? en->action : "",
                     "target_type", str_or_null(en->target_type),
                     "target_id", str_or_null(en->target_id),
                     "outcome", en->outcome ? en->outcome : "",
                     "reason", str_or_null(en->reason),
                     "details", details,
                     "hash", hex[0] ? json_string(hex) : json_null(),
                     "via_account_id", en->via_account_id
                         ? json_integer(en->via_account_id) : json_null());
}

err_code
audit_entry_csv(const struct store_audit_entry *en, struct csv *out,
                struct err *e)
{
    static const char *const head[] = {"seq", "time", "ts_ms", "account_id",
        "role", "client_addr", "request_id", "action", "target_type",
        "target_id", "outcome", "reason", "details", "hash",
        "via_account_id"};
    char when[21], hex[2 * AUDIT_HASH_LEN + 1] = "";
    const char *f[9];
    size_t i;
    err_code rc;

    if (en == NULL)
        return csv_text_row(out, head, sizeof(head) / sizeof(head[0]), e);
    f[0] = en->role; f[1] = en->client_addr; f[2] = en->request_id;
    f[3] = en->action; f[4] = en->target_type; f[5] = en->target_id;
    f[6] = en->outcome; f[7] = en->reason; f[8] = en->details;
    util_time_rfc3339((time_t)(en->ts_ms / 1000), when);
    if (en->hash != NULL && en->hash_len == AUDIT_HASH_LEN)
        util_hex_encode(en->hash, AUDIT_HASH_LEN, hex);
    if ((rc = csv_int(out, en->seq, e)) != ERR_OK ||
        (rc = csv_text(out, when, e)) != ERR_OK ||
        (rc = csv_int(out, en->ts_ms, e)) != ERR_OK ||
        (rc = en->account_id ? csv_int(out, en->account_id, e)
                             : csv_text(out, "", e)) != ERR_OK)
        return rc;
    for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        if ((rc = csv_text(out, f[i], e)) != ERR_OK)
            return rc;
    if ((rc = csv_text(out, hex, e)) != ERR_OK ||
        (rc = en->via_account_id ? csv_int(out, en->via_account_id, e)
                                 : csv_text(out, "", e)) != ERR_OK)
        return rc;
    return csv_end_row(out, e);
}
