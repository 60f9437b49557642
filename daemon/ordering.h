/* Ordering: which waiting file may start now, for pipelines with `ordering:` and for FIFO queues.
 *
 * Files are put into groups. A group runs one *unit* at a time: for a standard queue the unit
 * is one file (a job), for a FIFO queue the whole SQS message (its jobs start together, and
 * the group is busy until the message is deleted or released). While a unit of a group runs,
 * the group's other items wait here, sorted by their OrderKey; when the unit is done, the
 * earliest one is next.
 *
 * Standard queues deliver in no particular order (Amazon SQS Developer Guide, "Amazon SQS
 * standard queues": "best-effort ordering"), so an item may also wait until its
 * `eligible_at` — its receive plus the pipeline's `window` — for earlier files of its group
 * still on their way. Nothing ever waits for a file that has not been received: every wait
 * ends, either at a time or when a running unit ends, so waiting cannot deadlock.
 *
 * Group names: ordering_group_for() builds them from the pipeline and the key, ordering_fifo_group()
 * from a FIFO MessageGroupId; the two never collide.
 *
 * Pure bookkeeping on the main loop's thread: no threads, no I/O; times are CLOCK_MONOTONIC µs
 * given by the caller. Items and units are the caller's pointers, never touched. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/spec.h"
#include "common/util.h"

/* Where an item belongs in its group. Borrowed strings; ordering_add() copies them. */
typedef struct OrderKey {
        /* FIFO: the message's SequenceNumber (decimal, up to 128 bits); NULL otherwise */
        const char *fifo_sequence;
        /* S3 eventTime in µs since the epoch; valid only if has_time */
        int64_t time_usec;
        bool has_time;
        /* the S3 event's sequencer (hex); NULL or "" when unknown */
        const char *sequencer;
} OrderKey;

/* < 0, 0, > 0: FIFO sequence numbers first (numerically), then eventTime, then the sequencer
 * (right-padded with zeros: S3 User Guide, "Event message structure"). 0 when nothing tells. */
int ordering_key_cmp(const OrderKey *a, const OrderKey *b);

/* ISO 8601 UTC time as S3 and EventBridge write it ("2026-11-29T06:33:56.737Z",
 * "2026-11-29T06:33:56Z", also with an offset "+01:00") → µs since the epoch. -EINVAL otherwise. */
int ordering_parse_time(const char *s, int64_t *ret_usec);

/* The group of bucket/key in pipeline p: 0 and *ret NULL when the pipeline is not ordered,
 * 0 and *ret (caller frees) otherwise, -ENOMEM. per_prefix: the key up to its last '/', or
 * with group.regex the first capture group (the whole match when it has none); keys the
 * regex does not match share one group. */
int ordering_group_for(const PipelineSpec *p, const char *key, char **ret);
/* The group of a FIFO message: its MessageGroupId, apart from every pipeline's groups. */
int ordering_fifo_group(const char *message_group_id, char **ret);

typedef struct Ordering Ordering;

int ordering_new(Ordering **ret);                       /* 0 or -ENOMEM */
/* Drops what still waits (the caller should have taken it first: ordering_take_any). */
Ordering *ordering_free(Ordering *o);
DEFINE_CLEANUP_FUNC(Ordering *, ordering_free);

/* Puts item (of unit) into group, to wait. The arrival order breaks ties of equal keys.
 * 0 or -ENOMEM (then nothing was added). */
int ordering_add(Ordering *o, const char *group, const OrderKey *key, const void *unit, void *item,
                 uint64_t eligible_at_usec);

/* An item that may start now, removed from its group, or NULL: the earliest item of a group
 * that runs nothing and whose eligible_at has come (its unit then runs), or another item of
 * the unit a group runs. Call until NULL. */
void *ordering_pop_ready(Ordering *o, uint64_t now);

/* unit is done: its group may start the next one. False when unit runs in no group. */
bool ordering_done(Ordering *o, const void *unit);
/* Removes the waiting items of the group unit runs in, one per call, earliest first (to hand
 * them back when unit failed, so they do not overtake it); NULL when none is left. */
void *ordering_take_behind(Ordering *o, const void *unit);
/* Removes any waiting item (shutdown); NULL when none is left. */
void *ordering_take_any(Ordering *o);

/* The earliest eligible_at of a group that waits only for time; UINT64_MAX when none. */
uint64_t ordering_next_due(const Ordering *o);
unsigned ordering_n_waiting(const Ordering *o);
