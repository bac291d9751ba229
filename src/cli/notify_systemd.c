/*
 * notify_systemd.c - notify.h through libsystemd's sd_notify: READY=1 and
 * STOPPING=1 with a STATUS= line for systemctl status.  sd_notify does
 * nothing (and returns 0) when NOTIFY_SOCKET is unset, so a daemon run by
 * hand behaves the same.
 */
#include <systemd/sd-daemon.h>

#include "log.h"
#include "notify.h"

/* Contract: notify.h.  A failure to notify is logged: systemd then times
 * the start out, and the log says why. */
void
notify_ready(void)
{
    int rc = sd_notify(0, "READY=1\nSTATUS=ready: database and tokens "
                       "answer");

    if (rc < 0)
        log_event(LOG_WARN, "notify_failed", "state=READY errno=%d", -rc);
}

/* Contract: notify.h. */
void
notify_stopping(void)
{
    (void)sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}
