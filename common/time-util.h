/* One clock reader and one set of units for the whole tree, in the style of systemd's
 * time-util.h: every duration is a usec_t, every conversion goes through USEC_PER_*, so a
 * reader never has to count zeros in `* 1000000ULL`. */
#pragma once

#include <stdint.h>
#include <time.h>

typedef uint64_t usec_t;

#define USEC_INFINITY ((usec_t) UINT64_MAX)
#define NSEC_PER_USEC ((uint64_t) 1000ULL)
#define USEC_PER_MSEC ((usec_t) 1000ULL)
#define USEC_PER_SEC ((usec_t) 1000000ULL)
#define NSEC_PER_SEC ((uint64_t) 1000000000ULL)
#define MSEC_PER_SEC ((uint64_t) 1000ULL)

static inline usec_t timespec_load(const struct timespec *ts) {
        return (usec_t) ts->tv_sec * USEC_PER_SEC + (usec_t) ts->tv_nsec / NSEC_PER_USEC;
}

static inline struct timespec timespec_store(usec_t u) {
        return (struct timespec){
                .tv_sec = (time_t) (u / USEC_PER_SEC),
                .tv_nsec = (long) ((u % USEC_PER_SEC) * NSEC_PER_USEC),
        };
}

/* CLOCK_MONOTONIC and CLOCK_REALTIME cannot fail with a valid clock id (clock_gettime(2));
 * the memset keeps a broken libc from handing back stack garbage. */
static inline usec_t now(clockid_t clock) {
        struct timespec ts = { 0 };

        (void) clock_gettime(clock, &ts);
        return timespec_load(&ts);
}
