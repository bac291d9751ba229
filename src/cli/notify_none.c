/*
 * notify_none.c - notify.h for a build without libsystemd
 * (-DSEALD_SYSTEMD=OFF): there is no service manager to tell.
 */
#include "notify.h"

/* Contract: notify.h. */
void
notify_ready(void)
{
}

/* Contract: notify.h. */
void
notify_stopping(void)
{
}
