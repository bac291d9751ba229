/*
 * faultvfs.h - a test-only SQLite VFS that fails the Nth write or the Nth
 * fsync (tests/fault/faultvfs.c).
 *
 * It wraps the VFS that was the default when it was installed, forwards
 * every call to it, and is registered as the new default, so every
 * database opened afterwards with a NULL VFS name (seald's store does)
 * goes through it.  It counts xWrite and xSync calls on every file of
 * every connection in the process (database, WAL, journals, temp files)
 * and, when armed, answers the chosen one with SQLITE_IOERR_WRITE or
 * SQLITE_IOERR_FSYNC without doing it.
 *
 * Two builds of the same file: linked into a unit test, it is installed
 * and armed by the functions below; built as libseald_faultvfs.so
 * (FAULTVFS_PRELOAD) for LD_PRELOAD into the daemon, a constructor
 * installs it and a control file arms it (see faultvfs.c).
 */
#ifndef SEALD_FAULTVFS_H
#define SEALD_FAULTVFS_H

#define FAULTVFS_NAME "seald-faultvfs"

/* What the shim has counted since it was last armed or disarmed. */
struct faultvfs_counts {
    long writes;          /* xWrite calls, the failed ones included */
    long syncs;           /* xSync calls, the failed ones included  */
    long failed_writes;   /* of those, answered SQLITE_IOERR_WRITE  */
    long failed_syncs;    /* of those, answered SQLITE_IOERR_FSYNC  */
};

/* Register the shim as the default VFS, wrapping the current default.
 * Idempotent and thread-safe; must run before the database is opened
 * (connections opened earlier keep their VFS).  Returns SQLITE_OK or the
 * SQLite error of the registration. */
int faultvfs_install(void);

/* Reset the counters and fail the write_n-th xWrite and the sync_n-th
 * xSync from now on, each once (counted from 1; 0 = never).  Installs the
 * shim if it is not yet. */
void faultvfs_arm(long write_n, long sync_n);

/* As faultvfs_arm, but the write_n-th xWrite and every later one fail,
 * and likewise the sync_n-th xSync and every later one (a disk that has
 * gone away). */
void faultvfs_arm_from(long write_n, long sync_n);

/* Reset the counters and fail nothing (the counting goes on). */
void faultvfs_disarm(void);

/* The counters since the last arm or disarm. */
void faultvfs_counts(struct faultvfs_counts *out);

#endif
