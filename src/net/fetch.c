/*
 * fetch.c - outbound HTTP(S) on libcurl (see fetch.h for the contract).
 *
 * libcurl rather than code of our own: TLS, proxies, IPv6 and timeouts
 * are its job, Debian keeps it, and its license (curl, MIT-style) fits
 * Apache-2.0.  One easy handle per call: the callers (a TSA at signing, a
 * CRL refresh) are rare next to the cost of a handshake, so a pool would
 * buy little and cost shared state across worker threads.
 */
#include <string.h>
#include <stdlib.h>

#include <curl/curl.h>

#include "fetch.h"

/* The response being read: grows up to cap, then the write fails. */
struct fetch_sink {
    uint8_t *buf;
    size_t   len, alloc, cap;
    int      over;
};

static size_t
fetch_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct fetch_sink *s = arg;
    size_t n = size * nmemb, want;
    uint8_t *p;

    if (n > s->cap - s->len) {
        s->over = 1;
        return 0;              /* curl stops with CURLE_WRITE_ERROR */
    }
    if (s->len + n > s->alloc) {
        want = s->alloc ? s->alloc * 2 : 16384;
        while (want < s->len + n)
            want *= 2;
        if (want > s->cap)
            want = s->cap;
        if ((p = realloc(s->buf, want)) == NULL)
            return 0;
        s->buf = p;
        s->alloc = want;
    }
    memcpy(s->buf + s->len, ptr, n);
    s->len += n;
    return n;
}

void
fetch_resp_free(struct fetch_resp *r)
{
    if (r == NULL)
        return;
    free(r->body);
    r->body = NULL;
    r->len = 0;
}

/* Only http:// and https:// URLs: never file://, ftp:// or the others
 * libcurl speaks.  Checked here and again by CURLOPT_PROTOCOLS_STR. */
static int
fetch_scheme_ok(const char *url)
{
    return strncmp(url, "http://", 7) == 0 ||
           strncmp(url, "https://", 8) == 0;
}

err_code
fetch_url(const char *url, const char *content_type, const uint8_t *body,
          size_t len, const struct fetch_opts *opts, struct fetch_resp *r,
          struct err *e)
{
    struct fetch_sink sink;
    struct curl_slist *hdrs = NULL;
    char hdr[160];
    const char *ct = NULL;
    CURL *c = NULL;
    CURLcode cc;
    err_code rc = ERR_OK;
    long timeout = FETCH_TIMEOUT_MS_DEFAULT;

    memset(r, 0, sizeof(*r));
    memset(&sink, 0, sizeof(sink));
    sink.cap = FETCH_MAX_BYTES_DEFAULT;
    if (opts != NULL && opts->max_bytes > 0)
        sink.cap = opts->max_bytes;
    if (opts != NULL && opts->timeout_ms > 0)
        timeout = opts->timeout_ms;
    if (url == NULL || !fetch_scheme_ok(url))
        return err_set(e, ERR_INVALID, "only http:// and https:// URLs can "
                       "be fetched");
    if ((c = curl_easy_init()) == NULL)
        return err_set(e, ERR_NOMEM, "curl_easy_init failed");
    if (body != NULL) {
        snprintf(hdr, sizeof(hdr), "Content-Type: %s",
                 content_type ? content_type : "application/octet-stream");
        if ((hdrs = curl_slist_append(hdrs, hdr)) == NULL) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    if (opts != NULL && opts->headers != NULL) {
        const char *const *h;
        for (h = opts->headers; *h != NULL; h++) {
            struct curl_slist *more = curl_slist_append(hdrs, *h);
            if (more == NULL) {
                rc = err_set(e, ERR_NOMEM, "out of memory");
                goto out;
            }
            hdrs = more;
        }
    }
    if (hdrs != NULL)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);   /* worker threads */
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "seald");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fetch_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    if (opts != NULL && opts->ca_file != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, opts->ca_file);
    cc = curl_easy_perform(c);
    if (sink.over) {
        rc = err_set(e, ERR_TOO_LARGE, "%.120s: the answer is over %zu "
                     "bytes", url, sink.cap);
        goto out;
    }
    if (cc != CURLE_OK) {
        rc = err_set(e, ERR_UNAVAILABLE, "%.120s: %s", url,
                     curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK &&
        ct != NULL) {
        size_t n = strcspn(ct, "; ");
        if (n >= sizeof(r->content_type))
            n = sizeof(r->content_type) - 1;
        memcpy(r->content_type, ct, n);
        r->content_type[n] = '\0';
    }
    r->body = sink.buf;
    r->len = sink.len;
    sink.buf = NULL;
out:
    free(sink.buf);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return rc;
}
