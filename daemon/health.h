/* ThreadHealth: what a helper thread of the daemon is doing, for the watchdog.
 *
 * The main loop pings systemd's watchdog only when the loop itself runs (the ping is its own
 * timer) AND every helper thread that must make progress does: a thread is healthy while it
 * waits for work (and says so at least every `tick`), or while the one call it is in has not
 * outlived the budget it declared for it. A thread stuck in a call, or dead, stops the pings,
 * and systemd restarts the service. Lock-free: one writer (the thread), any readers. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "common/time-util.h"

typedef struct ThreadHealth {
        const char *name;               /* "receiver", "sqs-heartbeat", ... */
        atomic_uint_fast64_t busy_since;        /* 0 when waiting */
        atomic_uint_fast64_t budget;            /* µs the current call may take */
        atomic_uint_fast64_t idle_seen;         /* last time it said "waiting" */
        uint64_t tick;                  /* µs between two "waiting" of an idle thread; 0: may
                                         * wait without ticking (woken only by work) */
} ThreadHealth;

static inline void health_init(ThreadHealth *h, const char *name, uint64_t tick) {
        h->name = name;
        h->tick = tick;
        atomic_init(&h->busy_since, 0);
        atomic_init(&h->budget, 0);
        atomic_init(&h->idle_seen, now(CLOCK_MONOTONIC));
}

static inline void health_busy(ThreadHealth *h, uint64_t budget_usec) {
        if (!h)
                return;
        atomic_store(&h->budget, budget_usec);
        atomic_store(&h->busy_since, now(CLOCK_MONOTONIC));
}

static inline void health_idle(ThreadHealth *h) {
        if (!h)
                return;
        atomic_store(&h->busy_since, 0);
        atomic_store(&h->idle_seen, now(CLOCK_MONOTONIC));
}

/* Whether h is healthy at now; slack covers scheduling delays. */
static inline bool health_ok(const ThreadHealth *h, uint64_t now, uint64_t slack) {
        uint64_t since = atomic_load(&h->busy_since);

        if (since)
                return now <= since + atomic_load(&h->budget) + slack;
        if (h->tick == 0)
                return true;
        return now <= atomic_load(&h->idle_seen) + h->tick + slack;
}
