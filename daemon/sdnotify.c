/* sd_notify wrapper. Kept free of state so any thread can call it and tests need nothing but
 * a socket and $NOTIFY_SOCKET. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <systemd/sd-daemon.h>

#include "common/time-util.h"
#include "daemon/sdnotify.h"

#define STATUS_MAX 512u

/* Copies s into buf with every newline turned into a space: the notify protocol is one
 * assignment per line, so a status carrying text from a file or an error must stay one line. */
static void one_line(char *buf, size_t bufsz, const char *s) {
        size_t i = 0;

        for (; s[i] && i + 1 < bufsz; i++)
                buf[i] = (s[i] == '\n' || s[i] == '\r') ? ' ' : s[i];
        buf[i] = '\0';
}

static int notify_with_status(const char *what, const char *status) {
        char line[STATUS_MAX];

        if (!status)
                return sd_notify(0, what);
        one_line(line, sizeof(line), status);
        return sd_notifyf(0, "%s\nSTATUS=%s", what, line);
}

int sdnotify_ready(const char *status) {
        return notify_with_status("READY=1", status);
}

int sdnotify_stopping(const char *status) {
        return notify_with_status("STOPPING=1", status);
}

int sdnotify_reloading(void) {
        return sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64, now(CLOCK_MONOTONIC));
}

int sdnotify_status(const char *fmt, ...) {
        char raw[STATUS_MAX], line[STATUS_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(raw, sizeof(raw), fmt, ap);
        va_end(ap);
        one_line(line, sizeof(line), raw);
        return sd_notifyf(0, "STATUS=%s", line);
}

uint64_t sdnotify_watchdog_usec(void) {
        uint64_t usec = 0;

        /* checks WATCHDOG_PID too, so a child that inherited the variables does not ping */
        if (sd_watchdog_enabled(0, &usec) <= 0)
                return 0;
        return usec;
}

int sdnotify_watchdog(void) {
        if (sdnotify_watchdog_usec() == 0)
                return 0;
        return sd_notify(0, "WATCHDOG=1");
}

int sdnotify_extend_timeout(uint64_t usec) {
        return sd_notifyf(0, "EXTEND_TIMEOUT_USEC=%" PRIu64, usec);
}
