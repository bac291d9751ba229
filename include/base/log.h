/*
 * log.h - structured logging: one line per event, "ts=... level=... event=..."
 * followed by key=value pairs, to stderr or a file.  Thread-safe; SIGHUP
 * handling calls log_reopen() so logrotate can move the file away.
 */
#ifndef SEALD_LOG_H
#define SEALD_LOG_H

#include "err.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Open the log: path NULL or "" means stderr.  level is "debug".."error". */
err_code log_open(const char *path, const char *level, struct err *e);

/* Reopen the same file (after rotation).  No-op for stderr. */
err_code log_reopen(struct err *e);

/* The line format: "text" (key=value, the default) or "json" (one JSON
 * object per line: "ts", "level", "event", then the same keys as the text
 * format, integers as numbers and everything else as strings; a line
 * over 4 KiB loses its last fields and ends with "truncated":1).
 * ERR_CONFIG for any other name. */
err_code log_format_set(const char *format, struct err *e);

/* Close the file, fall back to stderr. */
void log_close(void);

/* Write one event.  fmt gives the key=value part: its literal text (keys,
 * spaces, constant values) as written, and each conversion replaced by its
 * argument.  Write string values as a bare key=%s, never quoted in fmt:
 * every %s value is escaped by the log module itself (written bare when it
 * is only letters, digits and -._:/@+~%, and otherwise double-quoted with
 * '"', '\' and control bytes escaped), so no value, whoever supplied it,
 * can end its field, forge another field or start a line.  Conversions
 * understood: %s, %d %i %u %x with no length or l, ll (and %zu %zx), %%;
 * no flags, widths or precisions.  Anything else ends the line with
 * log_format_error=1.  A line longer than 4 KiB is cut, its last value
 * closed, and marked truncated=1. */
void log_event(enum log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
