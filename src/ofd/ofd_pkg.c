/*
 * ofd_pkg.c - owns the bounded zip reader of OFD packages (libzip over an
 * in-memory buffer) and OFD path resolution.  Every limit of include/ofd/ofd.h
 * on entries, names, sizes and compression ratio is enforced here, at open
 * time, before any entry is decompressed; reads are bounded by the declared
 * size and checked against it.
 *
 * The inflation budget: at open the declared sizes of all entries must fit
 * it (so a package that would need more costs nothing), and every chunk
 * inflated counts against it, an entry read twice twice, so what one call
 * decompresses never passes it whatever the headers say.  Entries that are
 * only hashed (references) are streamed through a small buffer, not kept.
 * XML parsing has the same budget, counted apart (ofd_pkg_charge_parse):
 * each parse counts, so a part named many times costs its size once per
 * naming only up to the budget.
 */
#include "ofd_int.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "util.h"

#define OFD_INFLATE_CHUNK (64u * 1024u)  /* bytes inflated per zip_fread */

/* Is name a safe relative zip entry name? */
static int name_safe(const char *name)
{
    const char *seg = name;
    size_t n = strlen(name);

    if (n == 0 || n > OFD_MAX_NAME || name[0] == '/' || strchr(name, '\\'))
        return 0;
    while (*seg) {
        const char *end = strchr(seg, '/');
        size_t sl = end ? (size_t)(end - seg) : strlen(seg);

        if ((sl == 2 && seg[0] == '.' && seg[1] == '.') ||
            (sl == 1 && seg[0] == '.'))
            return 0;
        if (sl == 0 && end != NULL)
            return 0; /* "a//b" */
        if (end == NULL)
            break;
        seg = end + 1;
    }
    return 1;
}

/* qsort order of entry pointers by name. */
static int cmp_names(const void *a, const void *b)
{
    const struct ofd_entry *x = *(const struct ofd_entry *const *)a;
    const struct ofd_entry *y = *(const struct ofd_entry *const *)b;
    return strcmp(x->name, y->name);
}

/* Contract: see ofd_int.h. */
err_code ofd_pkg_open(const uint8_t *buf, size_t len, size_t max_inflated,
                      struct ofd_pkg **out, struct err *e)
{
    struct ofd_pkg *p = NULL;
    struct ofd_entry **sorted = NULL;
    zip_source_t *src = NULL;
    zip_error_t ze;
    zip_int64_t n;
    uint64_t total = 0;
    err_code rc = ERR_OK;
    size_t i;

    *out = NULL;
    if (len > OFD_MAX_PACKAGE)
        return err_set(e, ERR_TOO_LARGE, "OFD package over %u bytes",
                       OFD_MAX_PACKAGE);
    if (len < 22)
        return err_set(e, ERR_MALFORMED, "not a zip package");
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    p->budget = max_inflated == 0 ? OFD_DEFAULT_MAX_INFLATED : max_inflated;
    if (p->budget > OFD_MAX_TOTAL_SIZE)
        p->budget = OFD_MAX_TOTAL_SIZE;
    zip_error_init(&ze);
    src = zip_source_buffer_create(buf, len, 0, &ze);
    if (src == NULL) {
        rc = err_set(e, ERR_NOMEM, "zip source: %s", zip_error_strerror(&ze));
        goto done;
    }
    p->za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
    if (p->za == NULL) {
        zip_source_free(src);
        rc = err_set(e, ERR_MALFORMED, "not a valid zip package: %s",
                     zip_error_strerror(&ze));
        goto done;
    }
    n = zip_get_num_entries(p->za, 0);
    if (n < 0 || n > OFD_MAX_ENTRIES) {
        rc = err_set(e, ERR_TOO_LARGE, "zip package has over %d entries",
                     OFD_MAX_ENTRIES);
        goto done;
    }
    p->n = (size_t)n;
    p->ents = calloc(p->n ? p->n : 1, sizeof(*p->ents));
    sorted = calloc(p->n ? p->n : 1, sizeof(*sorted));
    if (p->ents == NULL || sorted == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    for (i = 0; i < p->n; i++) {
        struct ofd_entry *en = &p->ents[i];
        zip_stat_t st;

        zip_stat_init(&st);
        if (zip_stat_index(p->za, i, 0, &st) != 0 ||
            !(st.valid & ZIP_STAT_NAME) || !(st.valid & ZIP_STAT_SIZE) ||
            !(st.valid & ZIP_STAT_COMP_SIZE)) {
            rc = err_set(e, ERR_MALFORMED, "zip entry %zu unreadable", i);
            goto done;
        }
        if (!name_safe(st.name)) {
            rc = err_set(e, ERR_MALFORMED,
                         "unsafe zip entry name (absolute, '..', '\\' or "
                         "too long): entry %zu", i);
            goto done;
        }
        if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) &&
            st.encryption_method != ZIP_EM_NONE) {
            rc = err_set(e, ERR_UNSUPPORTED, "encrypted zip entry %s",
                         st.name);
            goto done;
        }
        if ((st.valid & ZIP_STAT_COMP_METHOD) &&
            st.comp_method != ZIP_CM_STORE &&
            st.comp_method != ZIP_CM_DEFLATE) {
            rc = err_set(e, ERR_UNSUPPORTED,
                         "zip entry %s: compression method %d not supported",
                         st.name, (int)st.comp_method);
            goto done;
        }
        if (st.size > OFD_MAX_ENTRY_SIZE) {
            rc = err_set(e, ERR_TOO_LARGE,
                         "zip entry %s: %llu bytes uncompressed, limit %u",
                         st.name, (unsigned long long)st.size,
                         OFD_MAX_ENTRY_SIZE);
            goto done;
        }
        total += st.size;
        if (total > p->budget) {
            rc = err_set(e, ERR_TOO_LARGE, "zip package inflates to more "
                         "than %llu bytes (ofd.max_inflated_bytes)",
                         (unsigned long long)p->budget);
            goto done;
        }
        if (st.size > OFD_RATIO_MIN_SIZE &&
            st.size / (st.comp_size ? st.comp_size : 1) > OFD_MAX_RATIO) {
            rc = err_set(e, ERR_TOO_LARGE,
                         "zip entry %s: compression ratio over %d (zip bomb)",
                         st.name, OFD_MAX_RATIO);
            goto done;
        }
        en->name = strdup(st.name);
        if (en->name == NULL) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto done;
        }
        en->index = i;
        en->size = st.size;
        en->csize = st.comp_size;
        en->is_dir = en->name[strlen(en->name) - 1] == '/';
        sorted[i] = en;
    }
    if (p->n > 1) {
        qsort(sorted, p->n, sizeof(*sorted), cmp_names);
        for (i = 1; i < p->n; i++)
            if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0) {
                rc = err_set(e, ERR_MALFORMED, "duplicate zip entry %s",
                             sorted[i]->name);
                goto done;
            }
    }
    p->by_name = sorted;
    sorted = NULL;
    *out = p;
    p = NULL;
done:
    free(sorted);
    ofd_pkg_free(p);
    return rc;
}

/* Contract: see ofd_int.h. */
void ofd_pkg_free(struct ofd_pkg *p)
{
    size_t i;

    if (p == NULL)
        return;
    for (i = 0; i < p->n && p->ents; i++) {
        free(p->ents[i].name);
        free(p->ents[i].data);
    }
    free(p->ents);
    free(p->by_name);
    if (p->za != NULL)
        zip_discard(p->za);
    free(p);
}

/* Contract: see ofd_int.h.  Binary search of the sorted names: a package
 * may ask for thousands of references. */
long ofd_pkg_find(const struct ofd_pkg *p, const char *name)
{
    size_t lo = 0, hi = p->by_name ? p->n : 0, mid;
    int c;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        c = strcmp(p->by_name[mid]->name, name);
        if (c == 0)
            return p->by_name[mid]->is_dir ? -1 :
                   (long)(p->by_name[mid] - p->ents);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Inflate entry en: into dst (en->size bytes, may be NULL) and/or through
 * md (may be NULL), counting every chunk against the budget and stopping as
 * soon as the total passes it.  The entry must hold exactly its declared
 * size. */
static err_code inflate_entry(struct ofd_pkg *p, const struct ofd_entry *en,
                              uint8_t *dst, EVP_MD_CTX *md, struct err *e)
{
    zip_file_t *zf;
    uint8_t *chunk = NULL, extra;
    uint64_t want = en->size, have = 0;
    zip_int64_t got;
    err_code rc = ERR_OK;

    if (dst == NULL && (chunk = malloc(OFD_INFLATE_CHUNK)) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    zf = zip_fopen_index(p->za, en->index, 0);
    if (zf == NULL) {
        rc = err_set(e, ERR_MALFORMED, "zip entry %s: %s", en->name,
                     zip_strerror(p->za));
        goto done;
    }
    while (have < want) {
        uint64_t n = want - have;
        uint8_t *to = dst ? dst + have : chunk;

        if (n > OFD_INFLATE_CHUNK)
            n = OFD_INFLATE_CHUNK;
        got = zip_fread(zf, to, n);
        if (got < 0) {
            rc = err_set(e, ERR_MALFORMED, "zip entry %s: %s", en->name,
                         zip_file_strerror(zf));
            goto done;
        }
        if (got == 0)
            break;
        p->inflated += (uint64_t)got;
        if (p->inflated > p->budget) {
            p->over_budget = 1;
            rc = ofd_pkg_budget_check(p, e);
            goto done;
        }
        if (md != NULL && !EVP_DigestUpdate(md, to, (size_t)got)) {
            rc = err_set(e, ERR_CRYPTO, "SM3 failed");
            goto done;
        }
        have += (uint64_t)got;
    }
    if (have != want || zip_fread(zf, &extra, 1) != 0)
        rc = err_set(e, ERR_MALFORMED,
                     "zip entry %s: size differs from its header", en->name);
done:
    if (zf != NULL)
        zip_fclose(zf);
    free(chunk);
    return rc;
}

/* Contract: see ofd_int.h. */
err_code ofd_pkg_charge_parse(struct ofd_pkg *p, size_t n, struct err *e)
{
    p->parsed += n;
    if (p->parsed > p->budget)
        p->over_parse = 1;
    return ofd_pkg_budget_check(p, e);
}

/* Contract: see ofd_int.h. */
err_code ofd_pkg_budget_check(const struct ofd_pkg *p, struct err *e)
{
    if (p->over_budget)
        return err_set(e, ERR_TOO_LARGE, "zip package inflates to more "
                       "than %llu bytes (ofd.max_inflated_bytes)",
                       (unsigned long long)p->budget);
    if (p->over_parse)
        return err_set(e, ERR_TOO_LARGE, "the package's XML parts would be "
                       "parsed over %llu bytes in all "
                       "(ofd.max_inflated_bytes)",
                       (unsigned long long)p->budget);
    return ERR_OK;
}

/* Contract: see ofd_int.h. */
err_code ofd_pkg_read(struct ofd_pkg *p, size_t i, const uint8_t **data,
                      size_t *len, struct err *e)
{
    struct ofd_entry *en = &p->ents[i];
    uint8_t *buf;
    err_code rc;

    if (en->data != NULL || en->size == 0) {
        *data = en->data ? en->data : (const uint8_t *)"";
        *len = en->len;
        return ERR_OK;
    }
    buf = malloc((size_t)en->size);
    if (buf == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    if ((rc = inflate_entry(p, en, buf, NULL, e)) != ERR_OK) {
        free(buf);
        return rc;
    }
    en->data = buf;
    en->len = (size_t)en->size;
    *data = en->data;
    *len = en->len;
    return ERR_OK;
}

/* Contract: see ofd_int.h. */
err_code ofd_pkg_sm3(struct ofd_pkg *p, size_t i, uint8_t out[SM3_DIGEST_LEN],
                     struct err *e)
{
    struct ofd_entry *en = &p->ents[i];
    EVP_MD_CTX *md = NULL;
    unsigned int n = 0;
    err_code rc = ERR_OK;

    if (en->has_sm3) {
        memcpy(out, en->sm3, SM3_DIGEST_LEN);
        return ERR_OK;
    }
    if (en->data != NULL || en->size == 0) {
        rc = sm2_sm3(en->data ? en->data : (const uint8_t *)"", en->len,
                     en->sm3, e);
    } else if ((md = EVP_MD_CTX_new()) == NULL ||
               !EVP_DigestInit_ex(md, EVP_sm3(), NULL)) {
        rc = err_set(e, ERR_CRYPTO, "SM3 unavailable");
    } else if ((rc = inflate_entry(p, en, NULL, md, e)) == ERR_OK &&
               (!EVP_DigestFinal_ex(md, en->sm3, &n) ||
                n != SM3_DIGEST_LEN)) {
        rc = err_set(e, ERR_CRYPTO, "SM3 failed");
    }
    EVP_MD_CTX_free(md);
    if (rc != ERR_OK)
        return rc;
    en->has_sm3 = 1;
    memcpy(out, en->sm3, SM3_DIGEST_LEN);
    return ERR_OK;
}

/* Contract: see ofd_int.h. */
err_code ofd_pkg_get(struct ofd_pkg *p, const char *name, const uint8_t **data,
                     size_t *len, struct err *e)
{
    long i = ofd_pkg_find(p, name);

    if (i < 0)
        return err_set(e, ERR_NOT_FOUND, "%s missing from the package", name);
    return ofd_pkg_read(p, (size_t)i, data, len, e);
}

/* Contract: see ofd_int.h. */
void ofd_path_dir(const char *path, char *out)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) + 1 : 0;

    if (n > OFD_MAX_NAME)
        n = 0;
    memcpy(out, path, n);
    out[n] = '\0';
}

/* Contract: see ofd_int.h. */
err_code ofd_path_resolve(const char *dir, const char *loc, char *out,
                          struct err *e)
{
    char tmp[2 * OFD_PATH_CAP + 2];
    size_t segs[OFD_PATH_CAP], nseg = 0, o = 0;
    char *s, *save = NULL;
    int n;

    if (loc == NULL || loc[0] == '\0')
        return err_set(e, ERR_MALFORMED, "empty path");
    if (loc[0] == '/')
        n = snprintf(tmp, sizeof(tmp), "%s", loc + 1);
    else
        n = snprintf(tmp, sizeof(tmp), "%s%s", dir ? dir : "", loc);
    if (n < 0 || (size_t)n >= sizeof(tmp) || (size_t)n > 2 * OFD_MAX_NAME)
        return err_set(e, ERR_MALFORMED, "path too long");
    for (s = tmp; *s; s++)
        if (*s == '\\')
            *s = '/';
    out[0] = '\0';
    for (s = strtok_r(tmp, "/", &save); s != NULL;
         s = strtok_r(NULL, "/", &save)) {
        size_t sl = strlen(s);

        if (strcmp(s, ".") == 0)
            continue;
        if (strcmp(s, "..") == 0) {
            if (nseg == 0)
                return err_set(e, ERR_MALFORMED, "path %.64s escapes the "
                               "package", loc);
            o = segs[--nseg];
            out[o] = '\0';
            continue;
        }
        if (o + sl + 2 > OFD_PATH_CAP)
            return err_set(e, ERR_MALFORMED, "path too long");
        segs[nseg++] = o;
        if (o > 0)
            out[o++] = '/';
        memcpy(out + o, s, sl);
        o += sl;
        out[o] = '\0';
    }
    if (o == 0)
        return err_set(e, ERR_MALFORMED, "empty path");
    return ERR_OK;
}
