/*
 * sjson.c - envelope, error shape and bounded request-body readers
 * (sjson.h).
 */
#include <string.h>

#include "sjson.h"

static int
depth_ok(const json_t *v, int depth)
{
    const char *key;
    json_t *child;
    size_t i;

    if (depth > JSON_MAX_DEPTH)
        return 0;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, child)
            if (!depth_ok(child, depth + 1))
                return 0;
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, child)
            if (!depth_ok(child, depth + 1))
                return 0;
    }
    return 1;
}

err_code
sjson_parse_body(const char *buf, size_t len, json_t **out, struct err *e)
{
    json_error_t jerr;
    json_t *v;

    if (len == 0)
        return err_set(e, ERR_BAD_JSON, "request body is empty; a JSON "
                       "object is required");
    v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (v == NULL)
        return err_set(e, ERR_BAD_JSON, "invalid JSON at line %d column %d: "
                       "%s", jerr.line, jerr.column, jerr.text);
    if (!json_is_object(v)) {
        json_decref(v);
        return err_set(e, ERR_BAD_JSON, "request body must be a JSON object");
    }
    if (!depth_ok(v, 0)) {
        json_decref(v);
        return err_set(e, ERR_BAD_JSON, "JSON nested deeper than %d levels",
                       JSON_MAX_DEPTH);
    }
    *out = v;
    return ERR_OK;
}

json_t *
sjson_envelope(json_t *data, const char *request_id)
{
    if (data == NULL)
        data = json_object();
    return json_pack("{s:o, s:s}", "data", data, "request_id",
                     request_id ? request_id : "");
}

json_t *
sjson_error(err_code code, const char *message, const char *request_id)
{
    return json_pack("{s:{s:s, s:s, s:s}}", "error", "code", err_name(code),
                     "message", message ? message : "", "request_id",
                     request_id ? request_id : "");
}

err_code
sjson_get_str(const json_t *obj, const char *key, size_t maxlen, int required,
             const char **out, struct err *e)
{
    const json_t *v = json_object_get(obj, key);
    size_t len;

    if (v == NULL || json_is_null(v)) {
        *out = NULL;
        if (required)
            return err_set(e, ERR_BAD_REQUEST, "field '%s' is required", key);
        return ERR_OK;
    }
    if (!json_is_string(v))
        return err_set(e, ERR_BAD_REQUEST, "field '%s' must be a string",
                       key);
    len = json_string_length(v);
    if (len == 0 || len > maxlen)
        return err_set(e, ERR_INVALID, "field '%s' must be 1 to %zu bytes",
                       key, maxlen);
    if (strlen(json_string_value(v)) != len)
        return err_set(e, ERR_INVALID, "field '%s' contains a NUL byte", key);
    *out = json_string_value(v);
    return ERR_OK;
}

err_code
sjson_get_int(const json_t *obj, const char *key, long long min, long long max,
             int required, long long *out, struct err *e)
{
    const json_t *v = json_object_get(obj, key);
    long long n;

    if (v == NULL || json_is_null(v)) {
        if (required)
            return err_set(e, ERR_BAD_REQUEST, "field '%s' is required", key);
        return ERR_OK;
    }
    if (!json_is_integer(v))
        return err_set(e, ERR_BAD_REQUEST, "field '%s' must be an integer",
                       key);
    n = json_integer_value(v);
    if (n < min || n > max)
        return err_set(e, ERR_INVALID, "field '%s' must be in [%lld, %lld]",
                       key, min, max);
    *out = n;
    return ERR_OK;
}

err_code
sjson_get_bool(const json_t *obj, const char *key, int required, int *out,
              struct err *e)
{
    const json_t *v = json_object_get(obj, key);

    if (v == NULL || json_is_null(v)) {
        if (required)
            return err_set(e, ERR_BAD_REQUEST, "field '%s' is required", key);
        return ERR_OK;
    }
    if (!json_is_boolean(v))
        return err_set(e, ERR_BAD_REQUEST, "field '%s' must be true or false",
                       key);
    *out = json_is_true(v);
    return ERR_OK;
}

err_code
sjson_only_keys(const json_t *obj, const char *const *allowed, struct err *e)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)obj, key, v) {
        const char *const *a;
        for (a = allowed; *a != NULL; a++)
            if (strcmp(*a, key) == 0)
                break;
        if (*a == NULL)
            return err_set(e, ERR_BAD_REQUEST, "unknown field '%.64s'", key);
    }
    return ERR_OK;
}
