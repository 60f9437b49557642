/* sdnotify: what the daemon tells systemd about its life (sd_notify(3)).
 *
 * Thin and stateless: every call is a no-op returning 0 when $NOTIFY_SOCKET is unset (not
 * started by systemd, or `s3batchd process` from a shell). Return values are sd_notify()'s:
 * > 0 sent, 0 nothing to send to, < 0 a negative errno. The environment is never unset, so
 * every thread may call these; in practice only the main loop does.
 *
 * Order the unit expects (Type=notify): READY=1 once config, credentials and tables checked;
 * STATUS= now and then; WATCHDOG=1 from the poll loop; RELOADING=1 … READY=1 around SIGHUP;
 * STOPPING=1 as soon as SIGTERM arrives. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/util.h"

/* READY=1, plus STATUS=status when status is not NULL. */
int sdnotify_ready(const char *status);
/* RELOADING=1 with MONOTONIC_USEC=<CLOCK_MONOTONIC now>, which systemd ≥ 253 requires to
 * match a reload to its READY=1 (and older versions ignore). */
int sdnotify_reloading(void);
/* STOPPING=1, plus STATUS=status when not NULL. */
int sdnotify_stopping(const char *status);
/* STATUS=<formatted>. Newlines are replaced by spaces: a status built from a key or an error
 * message must not smuggle in another assignment such as READY=1. Truncated at 512 bytes. */
int sdnotify_status(const char *fmt, ...) _printf_(1, 2);
/* WATCHDOG=1, only when the service manager asked for it for this process
 * (sd_watchdog_enabled()); otherwise 0 and nothing sent. */
int sdnotify_watchdog(void);
/* The watchdog interval in µs the manager expects pings within, or 0 when not enabled. The
 * poll loop pings at half of it. */
uint64_t sdnotify_watchdog_usec(void);
/* EXTEND_TIMEOUT_USEC=usec: during a long shutdown grace, keeps systemd from killing us while
 * in-flight jobs are still making progress. */
int sdnotify_extend_timeout(uint64_t usec);
