/* Per-table write limiters. See flowctl.h.
 *
 * The bucket: tokens refill at the allowed rate up to one second's worth (the depth: a burst
 * after a quiet spell is at most one second of budget, so over any span T the table sees at
 * most rate·(T + 1 s)). A reservation takes its tokens at once, even into debt, and waits
 * until the bucket would have held them: later reservations wait behind the debt, so lanes
 * of every job are served in order without a queue of their own. A batch bigger than the
 * bucket waits for a full bucket and leaves it in debt.
 *
 * The adaptive rate follows the SDKs' adaptive mode, with one change (cut_locked): the rate
 * that W is taken from is what the table accepted (consumed WCU) in half-second buckets,
 * smoothed 0.8; on a throttle W = that rate, rate = 0.7·W (at least FLOW_MIN_RATE); after
 * it, rate(t) = 0.4·(t − K)³ + W with K = ∛(W·0.3/0.4), so the rate is back at W after K
 * seconds, flat around W, and only then probes above it; never above twice the rate we were
 * sending at (a limiter that was idle must not grant a rate it never tried). */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/time-util.h"
#include "daemon/flowctl.h"

#define FLOW_BETA 0.7           /* multiplicative decrease (SDK adaptive mode) */
#define FLOW_SCALE 0.4          /* CUBIC scale constant C (SDK adaptive mode) */
#define FLOW_SMOOTH 0.8         /* weight of the newest measured-rate sample */
#define FLOW_MEASURE_S 0.5      /* measured-rate bucket */
/* WCU/s: the adaptive rate's floor. A table that accepts nothing for a while (all throttled,
 * all unprocessed) must not take the rate to zero: it could never measure its way back. */
#define FLOW_MIN_RATE 10.0
#define FLOW_DEPTH_S 1.0        /* bucket depth: one second of the rate */
#define FLOW_TABLE_MAX 1024     /* table names ≤ 255, ARNs ≤ 1024 */

struct FlowLimiter {
        char *table;
        FlowCtl *fc;
        pthread_mutex_t lock;
        struct {
                double budget;
                /* bucket, only meaningful while a rate applies */
                bool limited;
                double tokens;
                double refilled_at;
                /* adaptive */
                bool adaptive;
                double fill;            /* the adaptive rate */
                double w_max;           /* rate where the last throttle happened */
                double cut_at;          /* time of the last cut */
                /* measured rates: accepted (consumed) and sent (reserved), per active bucket */
                double measure_bucket;
                double measure_sum;
                double sent_sum;
                double measured;
                double sent;
                uint64_t throttles;
                double consumed;
        } synced;
};

struct FlowCtl {
        FlowClockFn clock;
        void *clock_ud;
        pthread_mutex_t lock;
        FlowLimiter *limiters[FLOWCTL_TABLES_MAX];
        size_t n;
};

static double monotonic_s(void *ud) {
        return (double) now(CLOCK_MONOTONIC) / USEC_PER_SEC;
}

static double now_s(const FlowLimiter *l) {
        return l->fc->clock(l->fc->clock_ud);
}

FlowCtl *flowctl_new(FlowClockFn clock, void *clock_ud) {
        FlowCtl *fc = calloc(1, sizeof(*fc));

        if (!fc)
                return NULL;
        fc->clock = clock ? clock : monotonic_s;
        fc->clock_ud = clock_ud;
        pthread_mutex_init(&fc->lock, NULL);
        return fc;
}

FlowCtl *flowctl_free(FlowCtl *fc) {
        if (!fc)
                return NULL;
        for (size_t i = 0; i < fc->n; i++) {
                pthread_mutex_destroy(&fc->limiters[i]->lock);
                free(fc->limiters[i]->table);
                free(fc->limiters[i]);
        }
        pthread_mutex_destroy(&fc->lock);
        free(fc);
        return NULL;
}

double flow_cubic_rate(double w_max, double t) {
        double k = cbrt(w_max * (1.0 - FLOW_BETA) / FLOW_SCALE);

        return FLOW_SCALE * (t - k) * (t - k) * (t - k) + w_max;
}

/* 0 = unlimited. */
static double rate_locked(const FlowLimiter *l) {
        double r = l->synced.budget;

        if (l->synced.adaptive)
                r = r > 0 ? fmin(r, l->synced.fill) : l->synced.fill;
        return r;
}

static void refill_locked(FlowLimiter *l, double now) {
        double rate = rate_locked(l);

        if (rate <= 0) {
                l->synced.limited = false;
                return;
        }
        if (!l->synced.limited) {
                /* A budget starts with a full bucket; a first throttle with an empty one. */
                l->synced.limited = true;
                l->synced.tokens = l->synced.adaptive ? 0 : rate * FLOW_DEPTH_S;
                l->synced.refilled_at = now;
                return;
        }
        if (now > l->synced.refilled_at) {
                l->synced.tokens = fmin(rate * FLOW_DEPTH_S,
                                        l->synced.tokens + (now - l->synced.refilled_at) * rate);
                l->synced.refilled_at = now;
        }
}

FlowLimiter *flowctl_table(FlowCtl *fc, const char *table, double budget_wcu) {
        FlowLimiter *l = NULL;

        if (!table || strlen(table) > FLOW_TABLE_MAX)
                return NULL;
        pthread_mutex_lock(&fc->lock);
        for (size_t i = 0; i < fc->n; i++)
                if (strcmp(fc->limiters[i]->table, table) == 0) {
                        l = fc->limiters[i];
                        break;
                }
        if (!l && fc->n < FLOWCTL_TABLES_MAX) {
                l = calloc(1, sizeof(*l));
                if (l && !(l->table = strdup(table))) {
                        free(l);
                        l = NULL;
                }
                if (l) {
                        l->fc = fc;
                        pthread_mutex_init(&l->lock, NULL);
                        fc->limiters[fc->n++] = l;
                }
        }
        pthread_mutex_unlock(&fc->lock);
        if (!l)
                return NULL;

        pthread_mutex_lock(&l->lock);
        if (budget_wcu >= 0 && l->synced.budget != budget_wcu) {
                double now = now_s(l);

                refill_locked(l, now);
                l->synced.budget = budget_wcu > 0 ? budget_wcu : 0;
                refill_locked(l, now);
        }
        pthread_mutex_unlock(&l->lock);
        return l;
}

void flowctl_foreach(FlowCtl *fc, void (*fn)(void *ud, const char *table, const FlowStats *st),
                     void *ud) {
        pthread_mutex_lock(&fc->lock);
        for (size_t i = 0; i < fc->n; i++) {
                FlowStats st = flow_stats(fc->limiters[i]);

                fn(ud, fc->limiters[i]->table, &st);
        }
        pthread_mutex_unlock(&fc->lock);
}

const char *flow_table(const FlowLimiter *l) {
        return l->table;
}

double flow_reserve(FlowLimiter *l, double cost, double *ret_sent_at) {
        double now, rate, need, wait = 0;

        pthread_mutex_lock(&l->lock);
        now = now_s(l);
        refill_locked(l, now);
        rate = rate_locked(l);
        if (rate > 0) {
                need = fmin(cost, rate * FLOW_DEPTH_S);
                if (l->synced.tokens < need)
                        wait = (need - l->synced.tokens) / rate;
                l->synced.tokens -= cost;
        }
        pthread_mutex_unlock(&l->lock);
        if (ret_sent_at)
                *ret_sent_at = now + wait;
        return wait;
}

/* Half-second buckets, smoothed. A gap of idle buckets is not averaged in: the rates are
 * those of the time the table was written, so a throttle after a quiet spell does not read
 * a rate near zero. */
static void measure_locked(FlowLimiter *l, double now, double consumed, double sent) {
        double bucket = floor(now / FLOW_MEASURE_S) * FLOW_MEASURE_S;

        l->synced.measure_sum += consumed;
        l->synced.sent_sum += sent;
        if (bucket > l->synced.measure_bucket) {
                double span = l->synced.measure_bucket > 0 ?
                        fmin(bucket - l->synced.measure_bucket, FLOW_MEASURE_S) : 0;

                if (span > 0) {
                        l->synced.measured = l->synced.measure_sum / span * FLOW_SMOOTH +
                                             l->synced.measured * (1 - FLOW_SMOOTH);
                        l->synced.sent = l->synced.sent_sum / span * FLOW_SMOOTH +
                                         l->synced.sent * (1 - FLOW_SMOOTH);
                }
                l->synced.measure_sum = 0;
                l->synced.sent_sum = 0;
                l->synced.measure_bucket = bucket;
        }
}

/* The rate the table took lately: the smoothed samples, or before the first one closed, the
 * bucket being filled. 0 when nothing is known yet. */
static double accepted_locked(const FlowLimiter *l, double now) {
        double elapsed = now - l->synced.measure_bucket;

        if (l->synced.measured > 0)
                return l->synced.measured;
        return l->synced.measure_bucket > 0 && elapsed >= 0.05 ?
                l->synced.measure_sum / fmin(elapsed, FLOW_MEASURE_S) : 0;
}

/* W is what the table accepted (consumed WCU/s), not our previous rate: the table keeps
 * throttling for a while after an overshoot (DynamoDB's and the proxy's windows are seconds,
 * our round trips milliseconds), and cutting our own rate again on each of those answers
 * would compound 0.7ⁿ down to nothing; cutting to 0.7 of what was accepted is idempotent
 * within one storm. */
static void cut_locked(FlowLimiter *l, double now) {
        double w = accepted_locked(l, now);
        double current = rate_locked(l);

        if (w <= 0 && current > 0)
                w = current;
        if (w <= 0 && l->synced.sent_sum <= 0 && l->synced.sent <= 0)
                return;         /* nothing measured yet: wait for the first sample */
        l->synced.w_max = w;
        l->synced.fill = fmax(w * FLOW_BETA, FLOW_MIN_RATE);
        l->synced.cut_at = now;
        if (!l->synced.adaptive) {
                l->synced.adaptive = true;
                l->synced.limited = false;      /* restart the bucket, empty */
        }
        refill_locked(l, now);
        /* Tokens above the new depth belong to the old rate. */
        l->synced.tokens = fmin(l->synced.tokens, rate_locked(l) * FLOW_DEPTH_S);
}

static void grow_locked(FlowLimiter *l, double now) {
        double r = flow_cubic_rate(fmax(l->synced.w_max, FLOW_MIN_RATE), now - l->synced.cut_at);

        /* as the SDKs: never more than twice what we were sending */
        if (l->synced.sent > 0)
                r = fmin(r, 2 * l->synced.sent);
        /* Never below the level of the cut itself: growth only. */
        l->synced.fill = fmax(fmax(r, l->synced.fill), FLOW_MIN_RATE);
}

void flow_done(FlowLimiter *l, double reserved, double consumed, bool throttled, double sent_at) {
        double now;

        pthread_mutex_lock(&l->lock);
        now = now_s(l);
        refill_locked(l, now);
        if (l->synced.limited) {
                double rate = rate_locked(l);

                l->synced.tokens = fmin(rate * FLOW_DEPTH_S, l->synced.tokens + reserved - consumed);
        }
        l->synced.consumed += consumed;
        measure_locked(l, now, consumed, reserved);
        if (throttled) {
                l->synced.throttles++;
                if (!l->synced.adaptive || sent_at >= l->synced.cut_at)
                        cut_locked(l, now);
        } else if (l->synced.adaptive)
                grow_locked(l, now);
        pthread_mutex_unlock(&l->lock);
}

FlowStats flow_stats(FlowLimiter *l) {
        FlowStats st;

        pthread_mutex_lock(&l->lock);
        st = (FlowStats) {
                .budget = l->synced.budget,
                .rate = rate_locked(l),
                .measured = l->synced.measured,
                .adaptive = l->synced.adaptive,
                .throttles = l->synced.throttles,
                .consumed = l->synced.consumed,
        };
        pthread_mutex_unlock(&l->lock);
        return st;
}
