/* Inflight: the table of SQS messages the daemon holds, and the clock arithmetic around them.
 *
 * It is the one owner of every receipt handle (the PollerMessage inside each entry): the
 * queue side only gets copies for one call. For each message it knows when the message
 * becomes visible again at the latest we can prove (visible_at), when its next visibility
 * extension is due (half a visibility timeout ahead, or one second after a failed one, so a
 * failed extension is redone before the message lapses), how far the 12-hour ceiling still
 * lets it be extended, when to warn that a job will outlive that ceiling, and how long a
 * message whose jobs are not all final stays hidden before its retry.
 *
 * SQS counts the ceiling from the receive: "you can continue to call ChangeMessageVisibility
 * to extend the visibility timeout to a maximum of 12 hours. If you try to extend the
 * visibility timeout beyond the maximum, your request is rejected." (Amazon SQS Developer
 * Guide, "Visibility timeout"; SQS API Reference, ChangeMessageVisibility). The table never
 * asks past it: receive times are taken when the ReceiveMessage call *started* (never later
 * than SQS's own), and every request keeps INFLIGHT_CEILING_MARGIN_USEC (longer than an
 * extension call may take) in hand. After the ceiling the message becomes visible and is
 * received again, by this daemon or another; the job that still runs finishes, and the second
 * run of a version-safe job finds the file done or redoes it idempotently
 * (docs/DESIGN.md, "Life of a message").
 *
 * Pure bookkeeping: no threads, no I/O; every function takes the time (CLOCK_MONOTONIC µs).
 * Used by the main loop only. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/util.h"
#include "daemon/poller.h"

/* 12 hours (Amazon SQS Developer Guide, "Visibility timeout"). A test build shortens it with
 * -DSQS_VISIBILITY_CEILING_S=N (the s3batchd-short-ceiling test binary); the shipped binary
 * cannot be changed at run time. */
#ifndef SQS_VISIBILITY_CEILING_S
#define SQS_VISIBILITY_CEILING_S 43200u
#endif

/* An extension call may take at most this (then it is abandoned and redone). */
#define INFLIGHT_CALL_TIMEOUT_MAX_USEC (5ULL * USEC_PER_SEC)
#define INFLIGHT_CALL_TIMEOUT_MIN_USEC (1ULL * USEC_PER_SEC)
/* Kept between any requested visibility and the ceiling: covers the call's own duration. */
#define INFLIGHT_CEILING_MARGIN_USEC (INFLIGHT_CALL_TIMEOUT_MAX_USEC + USEC_PER_SEC)
/* Gap before an extension that failed is tried again. */
#define INFLIGHT_RETRY_GAP_USEC (1ULL * USEC_PER_SEC)

typedef enum InflightSettle {
        INFLIGHT_WORKING,               /* jobs running: kept invisible */
        INFLIGHT_DELETING,              /* delete sent: still kept invisible until it is done */
        INFLIGHT_RELEASING,             /* release sent: no more extensions */
} InflightSettle;

typedef struct InflightMsg {
        struct InflightMsg *prev, *next;
        uint64_t id;                    /* unique in this table, never 0 */
        PollerMessage *msg;             /* owned: the receipt handle's one owner */
        uint64_t received_usec;         /* the receive call's start */
        uint64_t visible_at_usec;       /* lower bound of when it becomes visible again */
        uint64_t retry_at_usec;         /* after a failed extension; 0: none pending */
        unsigned extend_failures;       /* in a row */
        bool extending;                 /* an extension is out */
        bool ceiling_reached;           /* cannot be extended any further */
        bool ceiling_warned;
        InflightSettle settle;
        unsigned settle_attempts;
        uint64_t settle_retry_at_usec;  /* a delete that failed as a call: send again then */
        bool release_deferred;          /* release decided, not sent yet (see loop.c) */
        unsigned release_timeout;

        /* the loop's job bookkeeping */
        unsigned n_running;             /* jobs handed to the pool and not back yet */
        bool all_final;
        bool cancelled;
        /* ordered processing (daemon/ordering.h) */
        unsigned n_waiting;             /* of n_running: jobs waiting for their turn */
        bool slot_lent;                 /* its receive slot was lent to the receiver meanwhile */
        bool release_now;               /* FIFO: behind a message that failed: visible at once */
        unsigned retry_floor;           /* behind a file that failed: come back after it (s) */
} InflightMsg;

typedef struct InflightOptions {
        unsigned visibility_timeout;    /* seconds the receive asked for; ≥ 1 */
        unsigned retry_delay_min;       /* seconds, ≥ 1 */
        unsigned retry_delay_max;       /* seconds, ≥ retry_delay_min */
        uint64_t ceiling_usec;          /* 0: SQS_VISIBILITY_CEILING_S */
} InflightOptions;

typedef struct Inflight Inflight;

int inflight_new(const InflightOptions *o, Inflight **ret);     /* 0 or -ENOMEM */
/* Frees every entry and its message. */
Inflight *inflight_free(Inflight *t);
DEFINE_CLEANUP_FUNC(Inflight *, inflight_free);

/* Takes m (received at m->received_usec) and returns its entry; NULL on ENOMEM, and m stays
 * the caller's. */
InflightMsg *inflight_add(Inflight *t, PollerMessage *m);
InflightMsg *inflight_find(Inflight *t, uint64_t id);
/* Unlinks and frees the entry with its message. */
void inflight_remove(Inflight *t, InflightMsg *m);
InflightMsg *inflight_first(Inflight *t);       /* then ->next */
unsigned inflight_count(const Inflight *t);

uint64_t inflight_ceiling_at(const Inflight *t, const InflightMsg *m);

/* When m's next extension is due; UINT64_MAX when none will be (released, one out, ceiling). */
uint64_t inflight_extend_due(const Inflight *t, const InflightMsg *m);
/* The earliest inflight_extend_due() of the table. */
uint64_t inflight_next_due(const Inflight *t);

/* Plans m's extension at now: returns true with the visibility to ask for (seconds, never
 * past the ceiling minus the margin) and the call's time limit (it must end before the
 * message lapses), and marks it out; false when it cannot gain anything any more (the
 * ceiling is reached: m->ceiling_reached is set). */
bool inflight_plan_extend(Inflight *t, InflightMsg *m, uint64_t now, unsigned *ret_timeout,
                          uint64_t *ret_call_timeout_usec);
/* The extension asked for at sent_usec came back (ok or not) at now. */
void inflight_extended(Inflight *t, InflightMsg *m, uint64_t sent_usec, unsigned timeout, bool ok,
                       uint64_t now);

/* True once per message, ahead of the ceiling: when the time left to it drops below
 * min(max(2 × visibility timeout, 15 min), ceiling / 2). */
bool inflight_ceiling_warning(Inflight *t, InflightMsg *m, uint64_t now);

/* Seconds a message whose jobs are not all final stays hidden before it comes back:
 * min(retry_delay_min · 2^(receive count − 1), retry_delay_max), never past the ceiling. */
unsigned inflight_retry_delay(const Inflight *t, const InflightMsg *m, uint64_t now);
