/*
 * util.h - small helpers shared by every layer: secure random bytes, hex,
 * base64, constant-time comparison, wiping, bounded number parsing, files,
 * UTF-8 repair.
 */
#ifndef SEALD_UTIL_H
#define SEALD_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"

/* Fill buf with len cryptographically secure random bytes. */
err_code util_random(void *buf, size_t len, struct err *e);

/* Constant-time equality of two equal-length buffers: 1 if equal, else 0. */
int util_ct_equal(const void *a, const void *b, size_t len);

/* Overwrite len bytes at p with zeros in a way the compiler keeps. */
void util_wipe(void *p, size_t len);

/* Lowercase hex of len bytes into out (must hold 2*len+1). */
void util_hex_encode(const uint8_t *in, size_t len, char *out);

/* The value of hex digit c (either case), or -1 if it is none. */
int util_hexval(char c);

/* Decode hex (either case) into out (cap bytes); *outlen gets the length.
 * Fails with ERR_INVALID on odd length, bad digits or overflow of cap. */
err_code util_hex_decode(const char *hex, uint8_t *out, size_t cap,
                         size_t *outlen, struct err *e);

/* Base64 (standard alphabet, padded).  *out is malloc'ed; caller frees. */
err_code util_b64_encode(const uint8_t *in, size_t len, char **out,
                         struct err *e);
err_code util_b64_decode(const char *in, size_t inlen, uint8_t **out,
                         size_t *outlen, struct err *e);

/* Parse a decimal integer in [min, max]; the whole string must be consumed. */
err_code util_parse_long(const char *s, long min, long max, long *out,
                         struct err *e);

/* Read a whole file of at most max bytes; *buf is malloc'ed, caller frees. */
err_code util_read_file(const char *path, size_t max, uint8_t **buf,
                        size_t *len, struct err *e);

/* Read a secret file (a key, a PIN) of at most max bytes straight into
 * secret memory (util_secret_alloc): no stdio buffer, no realloc, so no
 * copy is left behind.  *buf is NUL-terminated after its *len bytes; free
 * it with util_secret_free. */
err_code util_read_secret(const char *path, size_t max, uint8_t **buf,
                          size_t *len, struct err *e);

/* Memory for secrets: page-aligned, locked in RAM where the limit allows
 * (mlock; a refusal is not an error, the memory is still wiped), and kept
 * out of core dumps.  NULL when out of memory.  util_secret_free wipes it
 * and gives it back; NULL is fine. */
void *util_secret_alloc(size_t len);
void util_secret_free(void *p);

/* Write a file atomically (temp + fsync + rename) with the given mode. */
err_code util_write_file(const char *path, const void *buf, size_t len,
                         int mode, struct err *e);

/* Current time in milliseconds since the epoch (wall clock). */
int64_t util_now_ms(void);

/* Monotonic milliseconds, for durations. */
int64_t util_mono_ms(void);

/* Format t (UTC) as RFC 3339 "YYYY-MM-DDTHH:MM:SSZ" into out[21]. */
void util_time_rfc3339(time_t t, char out[21]);

/* Make s well-formed UTF-8 in place: every byte that does not belong to a
 * well-formed sequence (RFC 3629: no overlong form, no surrogate, nothing
 * above U+10FFFF, none cut off by the end of s, as a cut at a byte count
 * leaves it) becomes '?'; the length does not change.  Returns how many
 * bytes were replaced.  Text that goes into JSON or into a database's
 * TEXT column must be UTF-8 (jansson and PostgreSQL refuse anything
 * else). */
size_t util_utf8_repair(char *s);

/* 1 if s is well-formed UTF-8 (as util_utf8_repair judges it), else 0. */
int util_utf8_valid(const char *s);

/* Address lists: CIDRs ("10.0.0.0/8", "::1/128") or bare addresses (a
 * whole /32 or /128), separated by commas and/or spaces.  Check that list
 * is one (ERR_CONFIG naming the bad entry otherwise; an empty list is
 * one, matching nothing). */
err_code util_cidr_list_check(const char *list, struct err *e);

/* 1 if the IPv4 or IPv6 literal addr lies in a CIDR of list (checked with
 * util_cidr_list_check; a bad entry matches nothing), else 0.  An IPv4
 * address in IPv6 form (::ffff:a.b.c.d) is matched as IPv4. */
int util_cidr_match(const char *list, const char *addr);

#endif
