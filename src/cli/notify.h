/*
 * notify.h - telling the service manager how the daemon is: ready,
 * stopping.  notify_systemd.c sends it to systemd (sd_notify), or
 * notify_none.c does nothing when seald is built with -DSEALD_SYSTEMD=OFF;
 * CMake picks one of the two files.
 */
#ifndef SEALD_NOTIFY_H
#define SEALD_NOTIFY_H

/* Tell the service manager that seald is ready: call only once the
 * database and every token answer.  No effect outside a Type=notify unit
 * (NOTIFY_SOCKET unset). */
void notify_ready(void);

/* Tell the service manager that seald is stopping. */
void notify_stopping(void);

#endif
