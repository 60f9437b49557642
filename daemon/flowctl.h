/* Flow control: one write limiter per DynamoDB table, shared by every job and writer lane of
 * the process.
 *
 * A limiter has two limits and sends at the smaller:
 *   - the budget (`write_capacity` of the pipelines writing the table, divided by
 *     `instances`), in write capacity units per second: a token bucket one second deep;
 *   - the adaptive rate, off until the table first throttles us, then driven like the AWS
 *     SDKs' "adaptive" retry mode (AWS SDKs and Tools Reference Guide, "Retry behavior"):
 *     multiplied by 0.7 on a throttle, then grown back along a CUBIC curve (RFC 8312, with
 *     the SDKs' scale constant 0.4) towards and past the rate where the throttle happened,
 *     never above twice the rate really measured. Units are WCU/s instead of the SDKs'
 *     requests/s: a table's limit is in capacity units, and a batch costs 1..25·400 of them.
 *
 * Costs are write capacity units: 1 WCU per started KB of item size (DynamoDB Developer
 * Guide, "Read/write capacity mode" and "Item sizes and formats"). The writer reserves a
 * batch's estimated cost before each attempt (flow_reserve: how long to wait), then settles
 * it with what DynamoDB reports as consumed (ReturnConsumedCapacity: TOTAL) — an unprocessed
 * or throttled item costs nothing and its tokens come back.
 *
 * Time comes from a clock the caller may replace (tests use a fake one). A FlowCtl and its
 * limiters are thread-safe; limiters live as long as the FlowCtl. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

#define FLOWCTL_TABLES_MAX 256u         /* limiters per process; past it: no flow control */

/* Seconds on a monotonic clock. */
typedef double (*FlowClockFn)(void *ud);

typedef struct FlowCtl FlowCtl;
typedef struct FlowLimiter FlowLimiter;

typedef struct FlowStats {
        double budget;          /* WCU/s, 0 = none */
        double rate;            /* WCU/s the limiter allows now: min(budget, adaptive); 0 = unlimited */
        double measured;        /* WCU/s consumed, smoothed */
        bool adaptive;          /* the adaptive rate is on (the table throttled us) */
        uint64_t throttles;     /* throttled calls and mostly-unprocessed batches */
        double consumed;        /* WCU consumed in total */
} FlowStats;

/* clock NULL: CLOCK_MONOTONIC. NULL on ENOMEM. */
FlowCtl *flowctl_new(FlowClockFn clock, void *clock_ud);
FlowCtl *flowctl_free(FlowCtl *fc);
DEFINE_CLEANUP_FUNC(FlowCtl *, flowctl_free);

/* The limiter of `table` (created on first use) with its budget set to budget_wcu (0 = none;
 * negative = leave it as it is): the configuration of the job starting wins, so a reload
 * changes it for the next job (the configuration makes every pipeline of one table agree). Borrowed, valid until
 * flowctl_free(). NULL on ENOMEM or past FLOWCTL_TABLES_MAX tables. */
FlowLimiter *flowctl_table(FlowCtl *fc, const char *table, double budget_wcu);

/* Calls fn for each limiter (under the registry lock; fn must not call flowctl_table). */
void flowctl_foreach(FlowCtl *fc, void (*fn)(void *ud, const char *table, const FlowStats *st),
                     void *ud);

const char *flow_table(const FlowLimiter *l);

/* Reserves cost WCU now and returns the seconds to wait before sending (0: send at once).
 * Reservations queue: each one's wait accounts for those before it. *ret_sent_at: when the
 * call leaves once the wait is over, for flow_done(). */
double flow_reserve(FlowLimiter *l, double cost, double *ret_sent_at);

/* Ends a reservation of `reserved` WCU: `consumed` is what the call really cost (what
 * DynamoDB reported, or the estimate of the items it processed; 0 when throttled) and the
 * difference goes back into the bucket. `throttled`: the table throttled the call (the whole
 * call, or most of a batch came back unprocessed). One cut per round: a call sent before the
 * last cut does not cut again — it carries no news (TCP's one reduction per window). */
void flow_done(FlowLimiter *l, double reserved, double consumed, bool throttled, double sent_at);

FlowStats flow_stats(FlowLimiter *l);

/* Write capacity units of one item of `size` bytes (DynamoDB item size): 1 per started KB. */
static inline unsigned flow_item_wcu(size_t size) {
        return size == 0 ? 1u : (unsigned) ((size + 1023) / 1024);
}

/* The adaptive rule itself, for tests: the CUBIC rate `t` seconds after a throttle that cut
 * from w_max. */
double flow_cubic_rate(double w_max, double t);
