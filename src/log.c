/*
 * log.c - the log sink.  One write(2) per line under a mutex, so lines from
 * worker threads never interleave; control bytes are escaped so that no
 * client-supplied value can start a forged line.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <limits.h>

#include "log.h"

#define LOG_LINE_MAX 4096

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = STDERR_FILENO;
static char log_path[PATH_MAX];
static enum log_level log_min = LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

static err_code
open_path(const char *path, int *fd, struct err *e)
{
    *fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (*fd < 0)
        return err_set(e, ERR_IO, "log file %s: %s", path, strerror(errno));
    return ERR_OK;
}

err_code
log_open(const char *path, const char *level, struct err *e)
{
    int fd = STDERR_FILENO, i;
    err_code rc;

    for (i = 0; i < 4; i++)
        if (level != NULL && strcmp(level, level_names[i]) == 0)
            log_min = (enum log_level)i;
    if (path != NULL && path[0] != '\0') {
        if (strlen(path) >= sizeof(log_path))
            return err_set(e, ERR_CONFIG, "log path too long");
        if ((rc = open_path(path, &fd, e)) != ERR_OK)
            return rc;
    }
    pthread_mutex_lock(&log_lock);
    if (log_fd != STDERR_FILENO)
        close(log_fd);
    log_fd = fd;
    snprintf(log_path, sizeof(log_path), "%s", path ? path : "");
    pthread_mutex_unlock(&log_lock);
    return ERR_OK;
}

err_code
log_reopen(struct err *e)
{
    int fd;
    err_code rc = ERR_OK;

    pthread_mutex_lock(&log_lock);
    if (log_path[0] != '\0') {
        if ((rc = open_path(log_path, &fd, e)) == ERR_OK) {
            close(log_fd);
            log_fd = fd;
        }
    }
    pthread_mutex_unlock(&log_lock);
    return rc;
}

void
log_close(void)
{
    pthread_mutex_lock(&log_lock);
    if (log_fd != STDERR_FILENO)
        close(log_fd);
    log_fd = STDERR_FILENO;
    log_path[0] = '\0';
    pthread_mutex_unlock(&log_lock);
}

void
log_event(enum log_level level, const char *event, const char *fmt, ...)
{
    char raw[LOG_LINE_MAX], line[LOG_LINE_MAX * 2];
    struct timespec ts;
    struct tm tm;
    size_t i, n = 0;
    va_list ap;
    int len;

    if (level < log_min)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    len = snprintf(raw, sizeof(raw),
                   "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s event=%s ",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                   tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                   level_names[level], event);
    if (len < 0 || (size_t)len >= sizeof(raw))
        return;
    va_start(ap, fmt);
    vsnprintf(raw + len, sizeof(raw) - (size_t)len, fmt, ap);
    va_end(ap);

    for (i = 0; raw[i] != '\0' && n + 5 < sizeof(line); i++) {
        unsigned char c = (unsigned char)raw[i];
        if (c < 0x20 || c == 0x7f)
            n += (size_t)snprintf(line + n, sizeof(line) - n, "\\x%02x", c);
        else
            line[n++] = (char)c;
    }
    line[n++] = '\n';

    pthread_mutex_lock(&log_lock);
    while (n > 0) {
        ssize_t w = write(log_fd, line, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        memmove(line, line + w, n - (size_t)w);
        n -= (size_t)w;
    }
    pthread_mutex_unlock(&log_lock);
}
