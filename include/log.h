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

/* Close the file, fall back to stderr. */
void log_close(void);

/* Write one event.  fmt produces the key=value part; values that may hold
 * spaces are written quoted (key="%s").  Control characters are escaped, so
 * a client-supplied value cannot forge extra lines. */
void log_event(enum log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
