/*
 * fuzz_json.c - libFuzzer target: the request-body parser and the bounded
 * field readers of src/base/sjson.c.  The whole input is a request body.  It
 * must never crash, read out of bounds or leak; a body it accepts must be
 * one object no deeper than JSON_MAX_DEPTH, and every reader must keep its
 * contract (lengths, ranges, absent fields, error messages) on it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sjson.h"

#define FUZZ_STR_MAX 64          /* maxlen given to sjson_get_str */
#define FUZZ_INT_MIN (-1000LL)
#define FUZZ_INT_MAX 1000LL
#define FUZZ_UNSET   7777LL      /* *out before a read: kept if absent */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Keys a request handler would read; the fuzzer finds them in its own
 * inputs through the seed corpus. */
static const char *const fuzz_keys[] = {
    "name", "kind", "org_id", "scope_org_id", "reason", "start_ms", NULL
};

/* Abort unless e holds a non-empty, NUL-terminated message and code. */
static void check_err(const struct err *e, err_code rc)
{
    if (rc == ERR_OK || e->code != rc || e->msg[0] == '\0' ||
        memchr(e->msg, '\0', sizeof(e->msg)) == NULL)
        abort();
}

/* Depth of v counted as sjson_parse_body counts it (the object itself is
 * depth 0); abort when deeper than JSON_MAX_DEPTH. */
static void check_depth(const json_t *v, int depth)
{
    const char *key;
    json_t *child;
    size_t i;

    if (depth > JSON_MAX_DEPTH)
        abort();
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, child)
            check_depth(child, depth + 1);
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, child)
            check_depth(child, depth + 1);
    }
}

/* Run every reader on obj[key] and check what each promises; handlers
 * read nested objects too (an application's "image"), so one level down
 * gets the same. */
static void read_key(const json_t *obj, const char *key, int nested)
{
    const json_t *v = json_object_get(obj, key);
    int absent = v == NULL || json_is_null(v);
    const char *s = "unset";
    long long n = FUZZ_UNSET;
    int b = 2;
    struct err e;
    err_code rc;

    rc = sjson_get_str(obj, key, FUZZ_STR_MAX, 0, &s, &e);
    if (rc == ERR_OK) {
        if (absent ? s != NULL
                   : s == NULL || strlen(s) == 0 || strlen(s) > FUZZ_STR_MAX)
            abort();
    } else {
        check_err(&e, rc);
    }
    rc = sjson_get_str(obj, key, FUZZ_STR_MAX, 1, &s, &e);
    if (absent && rc == ERR_OK)
        abort();
    if (rc != ERR_OK)
        check_err(&e, rc);

    rc = sjson_get_int(obj, key, FUZZ_INT_MIN, FUZZ_INT_MAX, 0, &n, &e);
    if (rc == ERR_OK) {
        if (absent ? n != FUZZ_UNSET : n < FUZZ_INT_MIN || n > FUZZ_INT_MAX)
            abort();
    } else {
        check_err(&e, rc);
    }
    rc = sjson_get_int(obj, key, 0, 0, 1, &n, &e);
    if (rc == ERR_OK && (absent || n != 0))
        abort();
    if (rc != ERR_OK)
        check_err(&e, rc);

    rc = sjson_get_bool(obj, key, 0, &b, &e);
    if (rc == ERR_OK) {
        if (absent ? b != 2 : b != 0 && b != 1)
            abort();
    } else {
        check_err(&e, rc);
    }
    rc = sjson_get_bool(obj, key, 1, &b, &e);
    if (absent && rc == ERR_OK)
        abort();
    if (rc != ERR_OK)
        check_err(&e, rc);

    if (nested && json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach((json_t *)v, k, c)
            read_key(v, k, 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const none[] = {NULL};
    const char *const *k;
    const char *key;
    json_t *obj = NULL, *v;
    char *copy;
    struct err e;
    err_code rc;
    int known;

    /* an exact-size heap copy so that ASan sees any over-read */
    copy = malloc(size ? size : 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    rc = sjson_parse_body(copy, size, &obj, &e);
    if (rc != ERR_OK) {
        check_err(&e, rc);
        free(copy);
        return 0;
    }
    if (!json_is_object(obj))
        abort();
    check_depth(obj, 0);

    for (k = fuzz_keys; *k != NULL; k++)
        read_key(obj, *k, 1);
    known = 1;
    json_object_foreach(obj, key, v) {
        read_key(obj, key, 1);
        for (k = fuzz_keys; *k != NULL && strcmp(*k, key) != 0; k++)
            ;
        if (*k == NULL)
            known = 0;
    }
    /* only_keys refuses exactly the objects with a key outside the list */
    rc = sjson_only_keys(obj, fuzz_keys, &e);
    if ((rc == ERR_OK) != known)
        abort();
    if (rc != ERR_OK)
        check_err(&e, rc);
    rc = sjson_only_keys(obj, none, &e);
    if ((rc == ERR_OK) != (json_object_size(obj) == 0))
        abort();
    if (rc != ERR_OK)
        check_err(&e, rc);

    json_decref(obj);
    free(copy);
    return 0;
}
