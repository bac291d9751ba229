/*
 * faultvfs.c - the fault-injecting SQLite VFS of the tests (faultvfs.h):
 * a shim over the default VFS that forwards every call, counts xWrite and
 * xSync, and fails the armed ones.  This file owns the shim, its counters
 * and, in the LD_PRELOAD build (FAULTVFS_PRELOAD), its control file.
 *
 * The control file (LD_PRELOAD build only).  SEALD_FAULTVFS_CTL names a
 * file that holds one line: "off", or "write N" and/or "sync N" (e.g.
 * "write 3", "sync 1", "write 2 sync 1"); "N+" instead of N fails the Nth
 * and every later one.  Before counting each xWrite and each xSync, the
 * shim stat()s the file (one system call, no read) and, when its inode,
 * size, mtime or ctime differ from the last look, reads it and re-arms
 * as faultvfs_arm would: the counters start again from that call, so
 * "write 1" fails the first write made after the file changed.  Replace
 * the file by rename() to be sure a change is seen.  A missing file, or
 * one that does not parse, means "off" (the latter is reported on
 * stderr).  Each injected fault and each re-arm is reported on stderr as
 * a line starting "faultvfs:".  Without SEALD_FAULTVFS_CTL the shim is
 * installed but never fails.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "faultvfs.h"

/* One open file: our methods, then the wrapped VFS's file (its
 * szOsFile bytes) right after this struct. */
struct fv_file {
    sqlite3_file  base;       /* pMethods: &fv_io, or NULL if not open */
    sqlite3_file *real;
    const char   *name;       /* for the stderr reports; may be NULL */
};

/* What is armed and what has been counted, under lock. */
static struct {
    pthread_mutex_t lock;
    long            write_n, sync_n;    /* 0: never */
    int             write_from, sync_from;
    struct faultvfs_counts n;
} fv = {.lock = PTHREAD_MUTEX_INITIALIZER};

static sqlite3_vfs *fv_real;            /* the wrapped VFS */
static sqlite3_vfs  fv_vfs;
static pthread_once_t fv_once = PTHREAD_ONCE_INIT;
static int          fv_install_rc = SQLITE_ERROR;

#define REAL(f) (((struct fv_file *)(f))->real)

/* Set what is armed and zero the counters; the caller holds fv.lock. */
static void
fv_set(long write_n, int write_from, long sync_n, int sync_from)
{
    fv.write_n = write_n > 0 ? write_n : 0;
    fv.sync_n = sync_n > 0 ? sync_n : 0;
    fv.write_from = write_from;
    fv.sync_from = sync_from;
    memset(&fv.n, 0, sizeof(fv.n));
}

#ifdef FAULTVFS_PRELOAD
/* ---- the control file ---- */

static char ctl_path[4096];
static struct {
    int             seen;       /* 1: the fields below describe a look */
    int             present;
    dev_t           dev;
    ino_t           ino;
    off_t           size;
    struct timespec mtime, ctime;
} ctl_last;

/* Parse "N" or "N+" at *p into *n and *from; 0 on a bad number. */
static int
ctl_number(const char *p, long *n, int *from)
{
    char *end;

    errno = 0;
    *n = strtol(p, &end, 10);
    if (errno != 0 || end == p || *n < 0)
        return 0;
    *from = *end == '+';
    return 1;
}

/* Arm from the control file's text (see the top of the file); the
 * caller holds fv.lock. */
static void
ctl_apply(const char *text)
{
    char buf[256], *tok, *save = NULL;
    long wn = 0, sn = 0;
    int wf = 0, sf = 0, ok = 1;

    snprintf(buf, sizeof(buf), "%s", text);
    for (tok = strtok_r(buf, " \t\r\n", &save); tok != NULL && ok;
         tok = strtok_r(NULL, " \t\r\n", &save)) {
        if (strcmp(tok, "off") == 0) {
            wn = sn = 0;
        } else if (strcmp(tok, "write") == 0 || strcmp(tok, "sync") == 0) {
            int w = tok[0] == 'w';
            const char *num = strtok_r(NULL, " \t\r\n", &save);
            ok = num != NULL &&
                 ctl_number(num, w ? &wn : &sn, w ? &wf : &sf);
        } else {
            ok = 0;
        }
    }
    if (!ok) {
        fprintf(stderr, "faultvfs: %s: cannot parse, off\n", ctl_path);
        wn = sn = 0;
    }
    fv_set(wn, wf, sn, sf);
    fprintf(stderr, "faultvfs: armed write %ld%s sync %ld%s\n", fv.write_n,
            fv.write_from ? "+" : "", fv.sync_n, fv.sync_from ? "+" : "");
}

/* Re-read the control file if it changed since the last look; the
 * caller holds fv.lock.  One stat() when nothing changed. */
static void
ctl_poll(void)
{
    struct stat st;
    char text[256];
    size_t len = 0;
    FILE *f;
    int present;

    if (ctl_path[0] == '\0')
        return;
    present = stat(ctl_path, &st) == 0;
    if (ctl_last.seen && present == ctl_last.present &&
        (!present ||
         (st.st_dev == ctl_last.dev && st.st_ino == ctl_last.ino &&
          st.st_size == ctl_last.size &&
          st.st_mtim.tv_sec == ctl_last.mtime.tv_sec &&
          st.st_mtim.tv_nsec == ctl_last.mtime.tv_nsec &&
          st.st_ctim.tv_sec == ctl_last.ctime.tv_sec &&
          st.st_ctim.tv_nsec == ctl_last.ctime.tv_nsec)))
        return;
    ctl_last.seen = 1;
    ctl_last.present = present;
    if (present) {
        ctl_last.dev = st.st_dev;
        ctl_last.ino = st.st_ino;
        ctl_last.size = st.st_size;
        ctl_last.mtime = st.st_mtim;
        ctl_last.ctime = st.st_ctim;
    }
    text[0] = '\0';
    if (present && (f = fopen(ctl_path, "r")) != NULL) {
        len = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
    }
    text[len] = '\0';
    ctl_apply(text[0] != '\0' ? text : "off");
}

/* Installed when the library is loaded: SEALD_FAULTVFS_CTL (may be
 * unset: then nothing is ever failed) names the control file. */
__attribute__((constructor)) static void
fv_preload(void)
{
    const char *p = getenv("SEALD_FAULTVFS_CTL");
    int rc;

    if (p != NULL)
        snprintf(ctl_path, sizeof(ctl_path), "%s", p);
    if ((rc = faultvfs_install()) != SQLITE_OK)
        fprintf(stderr, "faultvfs: cannot register: %s\n",
                sqlite3_errstr(rc));
}
#else
static void
ctl_poll(void)
{
}
#endif

/* Count one call and say whether it is to fail: *count is the counter,
 * n and from what is armed for it, *failed the failure counter. */
static int
fv_hit(long *count, long n, int from, long *failed)
{
    int hit;

    *count += 1;
    hit = n > 0 && (from ? *count >= n : *count == n);
    if (hit)
        *failed += 1;
    return hit;
}

/* ---- the file methods: forward, except the failed write or sync ---- */

static int
fv_close(sqlite3_file *f)
{
    int rc = REAL(f)->pMethods->xClose(REAL(f));

    f->pMethods = NULL;
    return rc;
}

static int
fv_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xRead(REAL(f), buf, amt, off);
}

static int
fv_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
    const char *name = ((struct fv_file *)f)->name;
    long nth;
    int hit;

    pthread_mutex_lock(&fv.lock);
    ctl_poll();
    hit = fv_hit(&fv.n.writes, fv.write_n, fv.write_from,
                 &fv.n.failed_writes);
    nth = fv.n.writes;
    pthread_mutex_unlock(&fv.lock);
    if (hit) {
#ifdef FAULTVFS_PRELOAD
        fprintf(stderr, "faultvfs: failed write #%ld (%d bytes at %lld, "
                "%s)\n", nth, amt, (long long)off, name ? name : "temp");
#else
        (void)nth;
        (void)name;
#endif
        return SQLITE_IOERR_WRITE;
    }
    return REAL(f)->pMethods->xWrite(REAL(f), buf, amt, off);
}

static int
fv_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int
fv_sync(sqlite3_file *f, int flags)
{
    const char *name = ((struct fv_file *)f)->name;
    long nth;
    int hit;

    pthread_mutex_lock(&fv.lock);
    ctl_poll();
    hit = fv_hit(&fv.n.syncs, fv.sync_n, fv.sync_from, &fv.n.failed_syncs);
    nth = fv.n.syncs;
    pthread_mutex_unlock(&fv.lock);
    if (hit) {
#ifdef FAULTVFS_PRELOAD
        fprintf(stderr, "faultvfs: failed sync #%ld (%s)\n", nth,
                name ? name : "temp");
#else
        (void)nth;
        (void)name;
#endif
        return SQLITE_IOERR_FSYNC;
    }
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int
fv_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int
fv_lock(sqlite3_file *f, int level)
{
    return REAL(f)->pMethods->xLock(REAL(f), level);
}

static int
fv_unlock(sqlite3_file *f, int level)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), level);
}

static int
fv_check_reserved(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int
fv_file_control(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int
fv_sector_size(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int
fv_device_chars(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

/* The shared-memory and mmap methods exist only from iVersion 2 and 3 of
 * the wrapped methods: without them, answer as a VFS lacking them. */
static int
fv_shm_map(sqlite3_file *f, int page, int size, int extend,
           void volatile **pp)
{
    const sqlite3_io_methods *m = REAL(f)->pMethods;

    if (m->iVersion < 2 || m->xShmMap == NULL)
        return SQLITE_IOERR_SHMMAP;
    return m->xShmMap(REAL(f), page, size, extend, pp);
}

static int
fv_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    const sqlite3_io_methods *m = REAL(f)->pMethods;

    if (m->iVersion < 2 || m->xShmLock == NULL)
        return SQLITE_IOERR_SHMLOCK;
    return m->xShmLock(REAL(f), offset, n, flags);
}

static void
fv_shm_barrier(sqlite3_file *f)
{
    const sqlite3_io_methods *m = REAL(f)->pMethods;

    if (m->iVersion >= 2 && m->xShmBarrier != NULL)
        m->xShmBarrier(REAL(f));
}

static int
fv_shm_unmap(sqlite3_file *f, int del)
{
    const sqlite3_io_methods *m = REAL(f)->pMethods;

    if (m->iVersion < 2 || m->xShmUnmap == NULL)
        return SQLITE_OK;
    return m->xShmUnmap(REAL(f), del);
}

static int
fv_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp)
{
    const sqlite3_io_methods *m = REAL(f)->pMethods;

    if (m->iVersion < 3 || m->xFetch == NULL) {
        *pp = NULL;
        return SQLITE_OK;
    }
    return m->xFetch(REAL(f), off, amt, pp);
}

static int
fv_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    const sqlite3_io_methods *m = REAL(f)->pMethods;

    if (m->iVersion < 3 || m->xUnfetch == NULL)
        return SQLITE_OK;
    return m->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods fv_io = {
    3,
    fv_close, fv_read, fv_write, fv_truncate, fv_sync, fv_file_size,
    fv_lock, fv_unlock, fv_check_reserved, fv_file_control, fv_sector_size,
    fv_device_chars, fv_shm_map, fv_shm_lock, fv_shm_barrier, fv_shm_unmap,
    fv_fetch, fv_unfetch,
};

/* ---- the VFS methods: xOpen wraps the file, the rest forward ---- */

static int
fv_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file,
        int flags, int *out_flags)
{
    struct fv_file *f = (struct fv_file *)file;
    int rc;

    (void)vfs;
    f->real = (sqlite3_file *)(f + 1);
    f->name = name;
    rc = fv_real->xOpen(fv_real, name, f->real, flags, out_flags);
    /* SQLite reads pMethods even after a failed open: NULL unless the
     * wrapped file needs closing. */
    f->base.pMethods = f->real->pMethods != NULL ? &fv_io : NULL;
    return rc;
}

static int
fv_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    (void)vfs;
    return fv_real->xDelete(fv_real, name, sync_dir);
}

static int
fv_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs;
    return fv_real->xAccess(fv_real, name, flags, out);
}

static int
fv_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    (void)vfs;
    return fv_real->xFullPathname(fv_real, name, n, out);
}

static void *
fv_dl_open(sqlite3_vfs *vfs, const char *name)
{
    (void)vfs;
    return fv_real->xDlOpen(fv_real, name);
}

static void
fv_dl_error(sqlite3_vfs *vfs, int n, char *msg)
{
    (void)vfs;
    fv_real->xDlError(fv_real, n, msg);
}

static void (*fv_dl_sym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
    (void)vfs;
    return fv_real->xDlSym(fv_real, h, sym);
}

static void
fv_dl_close(sqlite3_vfs *vfs, void *h)
{
    (void)vfs;
    fv_real->xDlClose(fv_real, h);
}

static int
fv_randomness(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return fv_real->xRandomness(fv_real, n, out);
}

static int
fv_sleep(sqlite3_vfs *vfs, int us)
{
    (void)vfs;
    return fv_real->xSleep(fv_real, us);
}

static int
fv_current_time(sqlite3_vfs *vfs, double *out)
{
    (void)vfs;
    return fv_real->xCurrentTime(fv_real, out);
}

static int
fv_last_error(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return fv_real->xGetLastError ? fv_real->xGetLastError(fv_real, n, out)
                                  : 0;
}

static int
fv_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    double d;
    int rc;

    (void)vfs;
    if (fv_real->iVersion >= 2 && fv_real->xCurrentTimeInt64 != NULL)
        return fv_real->xCurrentTimeInt64(fv_real, out);
    rc = fv_real->xCurrentTime(fv_real, &d);
    *out = (sqlite3_int64)(d * 86400000.0);
    return rc;
}

/* pthread_once body of faultvfs_install. */
static void
fv_install_once(void)
{
    if ((fv_install_rc = sqlite3_initialize()) != SQLITE_OK)
        return;
    if ((fv_real = sqlite3_vfs_find(NULL)) == NULL) {
        fv_install_rc = SQLITE_ERROR;
        return;
    }
    memset(&fv_vfs, 0, sizeof(fv_vfs));
    /* Version 2: the system-call hooks of version 3 are the wrapped
     * VFS's business and are not offered through the shim. */
    fv_vfs.iVersion = 2;
    fv_vfs.szOsFile = (int)sizeof(struct fv_file) + fv_real->szOsFile;
    fv_vfs.mxPathname = fv_real->mxPathname;
    fv_vfs.zName = FAULTVFS_NAME;
    fv_vfs.xOpen = fv_open;
    fv_vfs.xDelete = fv_delete;
    fv_vfs.xAccess = fv_access;
    fv_vfs.xFullPathname = fv_full_pathname;
    fv_vfs.xDlOpen = fv_dl_open;
    fv_vfs.xDlError = fv_dl_error;
    fv_vfs.xDlSym = fv_dl_sym;
    fv_vfs.xDlClose = fv_dl_close;
    fv_vfs.xRandomness = fv_randomness;
    fv_vfs.xSleep = fv_sleep;
    fv_vfs.xCurrentTime = fv_current_time;
    fv_vfs.xGetLastError = fv_last_error;
    fv_vfs.xCurrentTimeInt64 = fv_current_time64;
    fv_install_rc = sqlite3_vfs_register(&fv_vfs, 1);
}

int
faultvfs_install(void)
{
    pthread_once(&fv_once, fv_install_once);
    return fv_install_rc;
}

void
faultvfs_arm(long write_n, long sync_n)
{
    faultvfs_install();
    pthread_mutex_lock(&fv.lock);
    fv_set(write_n, 0, sync_n, 0);
    pthread_mutex_unlock(&fv.lock);
}

void
faultvfs_arm_from(long write_n, long sync_n)
{
    faultvfs_install();
    pthread_mutex_lock(&fv.lock);
    fv_set(write_n, 1, sync_n, 1);
    pthread_mutex_unlock(&fv.lock);
}

void
faultvfs_disarm(void)
{
    pthread_mutex_lock(&fv.lock);
    fv_set(0, 0, 0, 0);
    pthread_mutex_unlock(&fv.lock);
}

void
faultvfs_counts(struct faultvfs_counts *out)
{
    pthread_mutex_lock(&fv.lock);
    *out = fv.n;
    pthread_mutex_unlock(&fv.lock);
}
