/*
 * sjson.h - the JSON shapes seald speaks (with jansson): the success envelope,
 * the one error shape, and bounded readers for request bodies.  Readers
 * return ERR_BAD_REQUEST/ERR_INVALID with a message naming the field, so
 * handlers never hand-roll validation messages.
 */
#ifndef SEALD_SJSON_H
#define SEALD_SJSON_H

#include <stddef.h>

#include <jansson.h>

#include "err.h"

/* Nesting depth a request body may have; deeper bodies are refused. */
#define JSON_MAX_DEPTH 32

/* Parse a request body: must be one JSON object, no duplicate keys, at most
 * JSON_MAX_DEPTH deep.  *out is a new reference the caller must json_decref. */
err_code sjson_parse_body(const char *buf, size_t len, json_t **out,
                         struct err *e);

/* {"data": data, "request_id": rid}.  Steals the reference to data (which may
 * be NULL for an empty object).  Returns a new reference, NULL on OOM. */
json_t *sjson_envelope(json_t *data, const char *request_id);

/* {"error": {"code": err_name(code), "message": msg, "request_id": rid}}.
 * Returns a new reference, NULL on OOM. */
json_t *sjson_error(err_code code, const char *message,
                    const char *request_id);

/* Read obj[key] as a string of 1..maxlen bytes.  If absent: ERR_BAD_REQUEST
 * when required, else *out = NULL and ERR_OK.  *out is borrowed from obj. */
err_code sjson_get_str(const json_t *obj, const char *key, size_t maxlen,
                      int required, const char **out, struct err *e);

/* Read obj[key] as an integer in [min, max].  If absent and not required,
 * *out keeps its value and ERR_OK is returned. */
err_code sjson_get_int(const json_t *obj, const char *key, long long min,
                      long long max, int required, long long *out,
                      struct err *e);

/* Read obj[key] as a boolean (absent and not required: *out unchanged). */
err_code sjson_get_bool(const json_t *obj, const char *key, int required,
                       int *out, struct err *e);

/* Refuse any key of obj not in the NULL-terminated list `allowed`, so typos
 * in requests are errors rather than silently ignored. */
err_code sjson_only_keys(const json_t *obj, const char *const *allowed,
                        struct err *e);

#endif
