/* Batcher for BatchWriteItem with a window of batches in flight. See writer.h.
 *
 * The job thread fills the pending batch; a full batch is handed to a lane thread, which runs
 * the whole BatchWriteItem + UnprocessedItems loop for it. The window exists because each call
 * waits a round trip on the server (docs/DESIGN.md, "The job"): with one batch at a time a
 * single large file is bound by latency, not by anyone's throughput.
 *
 * Every attempt goes through attempt_once(): the table's flow limiter (flowctl.h) paces it,
 * its round trip and outcome feed the adaptive window (Window, window_feedback_locked()),
 * whose current size window_locked() computes for dispatch(). */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/mailbox.h"
#include "common/time-util.h"
#include "daemon/flowctl.h"
#include "daemon/keyset.h"
#include "daemon/writer.h"

/* One row: its key and item ("key\0item\0") in its batch's arena, and a hash of the key. The
 * hash makes the two per-row key comparisons (de-duplication in the pending batch, conflicts
 * with batches in flight) integer compares; only equal hashes compare the strings. Offsets,
 * not pointers: the arena moves when it grows. */
typedef struct Pending {
        size_t off;                     /* where "key\0item\0" starts in the arena */
        size_t size;                    /* bytes reserved there (a superseding row reuses them
                                         * when it fits) */
        size_t item;                    /* the item's offset from off */
        uint64_t hash;
        unsigned wcu;           /* estimated: 1 per started KB of the item's size */
} Pending;

/* One allocation for all rows of a batch instead of one per row: the worker allocates, a lane
 * frees, and glibc's cross-thread frees were a visible share of the write path. */
#define ARENA_START 8192

typedef struct Batch {
        struct Batch *inflight_next;    /* in the in-flight list, until it is done */
        Pending items[WRITER_BATCH_MAX];
        size_t n;
        /* Once dispatched, the keys' hashes are copied here and stay put while the lane drops
         * written items from items[]: the key-order check reads them from another thread. Two
         * keys with the same hash count as the same key there: a batch then waits for one it
         * did not need to, which costs time, never order. */
        uint64_t key_hash[WRITER_BATCH_MAX];
        size_t n_keys;
        char *arena;
        size_t arena_len, arena_cap;
        size_t waste;                   /* bytes of superseded rows left in the arena */
} Batch;

_Static_assert(WRITER_WINDOW_MAX * WRITER_BATCH_MAX <= KEYSET_CAPACITY,
               "the in-flight key set must hold every key of a full window");

typedef struct Lane {
        struct Writer *w;
        unsigned index;
        pthread_t thread;
} Lane;

/* The adaptive window (writer.h). cwnd is fractional so that +1/cwnd per call adds one per
 * window of calls. */
typedef struct Window {
        bool adaptive;
        double cwnd;
        double ssthresh;        /* slow start below it */
        double min_rtt;         /* seconds, lowest seen; 0 before the first call */
        double batch_wcu;       /* average WCU of a batch (EWMA), for the flow ceiling */
        unsigned since_cut;     /* calls since the last decrease */
        unsigned max_seen;
} Window;

struct Writer {
        WriterOps ops;
        void *ud;
        unsigned max_attempts;
        unsigned window;                /* fixed window, or the adaptive one's cap */
        FlowLimiter *flow;
        Batch *pending;                 /* being filled by the caller */
        uint64_t superseded;            /* caller's thread only */
        Lane lanes[WRITER_WINDOW_MAX];
        unsigned n_lanes;               /* threads started (0 when window is 1) */
        Mailbox *queue;                 /* dispatched batches, until a lane takes one */
        /* The caller's thread sleeps here for a batch's end (or a larger window): a lane posts
         * it only when caller_waits says it sleeps. A condition variable cost one useless
         * FUTEX_WAKE per wait: glibc re-locks the mutex on the way out of pthread_cond_wait
         * as if contended (see common/mailbox.c). */
        sem_t caller_wake;

        struct {
                pthread_mutex_t lock;
                bool caller_waits;      /* asleep on caller_wake; cleared by who posts it */
                Batch *inflight;        /* queued or being sent, for the key-order rule */
                KeySet inflight_keys;   /* their key_hash[] (keyset.h) */
                unsigned n_inflight;
                WriterStats stats;
                Window win;
                int error;
                S3bError err;
        } synced;
};

static double mono_s(void) {
        return (double) now(CLOCK_MONOTONIC) / USEC_PER_SEC;
}

/* Batches allowed in flight now. */
static unsigned window_locked(const Writer *w) {
        const Window *win = &w->synced.win;
        double limit;

        if (!win->adaptive)
                return w->window;
        limit = floor(win->cwnd);
        if (w->flow && win->min_rtt > 0 && win->batch_wcu > 0) {
                double rate = flow_stats(w->flow).rate;

                /* Little's law: what the table's rate can keep busy, plus one */
                if (rate > 0)
                        limit = fmin(limit, ceil(rate * win->min_rtt / win->batch_wcu) + 1);
        }
        return (unsigned) fmax(1, fmin(limit, w->window));
}

typedef enum Signal {
        SIGNAL_NONE,            /* a call that failed for another reason: no news */
        SIGNAL_OK,
        SIGNAL_THROTTLED,
} Signal;

static void window_feedback_locked(Writer *w, double rtt, double batch_wcu, Signal sig) {
        Window *win = &w->synced.win;
        bool may_cut;

        win->batch_wcu = win->batch_wcu > 0 ? 0.9 * win->batch_wcu + 0.1 * batch_wcu : batch_wcu;
        if (!win->adaptive || sig == SIGNAL_NONE)
                return;
        if (sig == SIGNAL_OK && rtt > 0 && (win->min_rtt == 0 || rtt < win->min_rtt))
                win->min_rtt = rtt;
        win->since_cut++;
        may_cut = win->since_cut >= win->cwnd;
        if (sig == SIGNAL_THROTTLED) {
                if (may_cut) {
                        win->cwnd = fmax(1, win->cwnd / 2);
                        win->ssthresh = win->cwnd;
                        win->since_cut = 0;
                }
        } else if (rtt > 2 * win->min_rtt + 0.001) {
                if (may_cut) {
                        win->cwnd = fmax(1, win->cwnd * 0.9);
                        win->ssthresh = win->cwnd;
                        win->since_cut = 0;
                }
        } else if (rtt <= 1.5 * win->min_rtt + 0.001) {
                win->cwnd += win->cwnd < win->ssthresh ? 1 : 1 / win->cwnd;
                win->cwnd = fmin(win->cwnd, w->window);
        }
        if ((unsigned) win->cwnd > win->max_seen)
                win->max_seen = (unsigned) win->cwnd;
}

/* Sleeps the caller's thread until a lane reports a batch's end or a larger window; called
 * and returns with the lock held. The caller re-checks what it waits for, as with a condition
 * variable. */
static void wait_caller_locked(Writer *w) {
        w->synced.caller_waits = true;
        pthread_mutex_unlock(&w->synced.lock);
        while (sem_wait(&w->caller_wake) < 0 && errno == EINTR)
                ;
        pthread_mutex_lock(&w->synced.lock);
}

/* After something the caller may wait for changed: whether to wake it, which only a sleeping
 * caller needs, once per sleep (a wake-up costs a system call and a context switch). */
static bool caller_to_wake_locked(Writer *w) {
        bool post = w->synced.caller_waits;

        w->synced.caller_waits = false;
        return post;
}

/* With post from caller_to_wake_locked(), outside the lock: the woken caller does not block
 * again on a mutex still held. The Writer outlives this call: writer_free() joins the lanes
 * first. */
static void wake_caller(Writer *w, bool post) {
        if (post)
                sem_post(&w->caller_wake);
}

static void window_feedback(Writer *w, double rtt, double batch_wcu, Signal sig) {
        unsigned before;
        bool post;

        pthread_mutex_lock(&w->synced.lock);
        before = window_locked(w);
        window_feedback_locked(w, rtt, batch_wcu, sig);
        /* Only a larger window may let the caller dispatch; the batch's end wakes it anyway
         * (finish_locked). */
        post = window_locked(w) > before && caller_to_wake_locked(w);
        pthread_mutex_unlock(&w->synced.lock);
        wake_caller(w, post);
}

static int flow_sleep(Writer *w, unsigned lane, double seconds) {
        uint64_t ms = (uint64_t) ceil(seconds * 1000);

        if (ms == 0)
                return 0;
        if (w->ops.sleep)
                return w->ops.sleep(w->ud, lane, ms);
        nanosleep(&(struct timespec) { (time_t) (ms / 1000), (long) (ms % 1000) * 1000000L }, NULL);
        return 0;
}

static void batch_free(Batch *b) {
        if (!b)
                return;
        free(b->arena);
        free(b);
}

static const char *pending_key(const Batch *b, const Pending *p) {
        return b->arena + p->off;
}

static const char *pending_item(const Batch *b, const Pending *p) {
        return b->arena + p->off + p->item;
}

/* Keeps only the entries listed in idx, in their original order. */
static int keep_only(Batch *b, const size_t *idx, size_t n_idx) {
        bool keep[WRITER_BATCH_MAX] = {};
        size_t j = 0;

        for (size_t i = 0; i < n_idx; i++) {
                if (idx[i] >= b->n)
                        return -EBADMSG;        /* the service named an item we did not send */
                keep[idx[i]] = true;
        }
        for (size_t i = 0; i < b->n; i++) {
                if (keep[i])
                        b->items[j++] = b->items[i];
        }
        for (size_t i = j; i < b->n; i++)
                b->items[i] = (Pending) {};
        b->n = j;
        return 0;
}

static double batch_wcu(const Batch *b, const size_t *skip, size_t n_skip) {
        double sum = 0;

        for (size_t i = 0; i < b->n; i++)
                sum += b->items[i].wcu;
        for (size_t i = 0; i < n_skip; i++)
                if (skip[i] < b->n)
                        sum -= b->items[skip[i]].wcu;
        return sum;
}

/* One attempt: pace through the flow limiter, send, and tell the limiter and the window what
 * happened. Returns send()'s result. */
static int attempt_once(Writer *w, unsigned lane, Batch *b, WriterResult *res, WriterStats *st,
                        S3bError *err) {
        const char *items[WRITER_BATCH_MAX];
        double cost = batch_wcu(b, NULL, 0), sent_at = 0, t0, rtt, consumed;
        bool throttled;
        int r;

        if (w->flow) {
                r = flow_sleep(w, lane, flow_reserve(w->flow, cost, &sent_at));
                if (r < 0) {
                        flow_done(w->flow, cost, 0, false, sent_at);
                        return s3b_error_set(err, r, "write cancelled");
                }
        }
        for (size_t i = 0; i < b->n; i++)
                items[i] = pending_item(b, &b->items[i]);
        st->batches++;
        t0 = mono_s();
        r = w->ops.send(w->ud, lane, items, b->n, res, err);
        rtt = mono_s() - t0;
        if (r < 0) {
                throttled = w->ops.throttled && w->ops.throttled(w->ud, r, err);
                consumed = 0;
        } else {
                /* More than half unprocessed: the table is over its capacity (DynamoDB
                 * Developer Guide, "BatchWriteItem": unprocessed items mean throttling). */
                throttled = res->n_unprocessed * 2 > b->n;
                consumed = res->consumed >= 0 ? res->consumed :
                           batch_wcu(b, res->unprocessed, MIN(res->n_unprocessed, b->n));
                st->consumed += consumed;
        }
        st->throttles += throttled;
        if (w->flow)
                flow_done(w->flow, cost, consumed, throttled, sent_at);
        window_feedback(w, rtt, cost, throttled ? SIGNAL_THROTTLED : r < 0 ? SIGNAL_NONE : SIGNAL_OK);
        return r;
}

/* The whole life of one batch on one lane: send, re-send what came back unprocessed. */
static int send_batch(Writer *w, unsigned lane, Batch *b, WriterStats *st, S3bError *err) {
        unsigned attempt = 0;
        int r;

        while (b->n > 0) {
                WriterResult res = { .consumed = -1 };
                size_t sent = b->n;

                if (attempt > 0) {
                        if (attempt >= w->max_attempts) {
                                char last[sizeof(((S3bError *) NULL)->message)];

                                memcpy(last, err->message, sizeof(last));
                                return s3b_error_set(err, -EIO,
                                                     "%zu item(s) not written after %u attempts (last: %s)",
                                                     b->n, attempt, last[0] ? last : "unknown");
                        }
                        st->retries++;
                        if (w->ops.backoff) {
                                r = w->ops.backoff(w->ud, lane, attempt);
                                if (r < 0)
                                        return s3b_error_set(err, r, "write cancelled");
                        }
                }
                attempt++;

                r = attempt_once(w, lane, b, &res, st, err);
                if (r < 0) {
                        if (r == -ECANCELED || !w->ops.retryable || !w->ops.retryable(w->ud, r, err))
                                return r;
                        continue;
                }
                _cleanup_free_ size_t *unprocessed = res.unprocessed;
                if (res.n_unprocessed > sent)
                        return s3b_error_set(err, -EBADMSG, "more unprocessed items than sent");
                st->written += sent - res.n_unprocessed;
                if (res.n_unprocessed == 0)
                        break;
                r = keep_only(b, unprocessed, res.n_unprocessed);
                if (r < 0)
                        return s3b_error_set(err, r, "UnprocessedItems names an item not sent");
                s3b_error_set(err, 0, "UnprocessedItems");
        }
        return 0;
}

static void finish_locked(Writer *w, Batch *b, const WriterStats *st, int r, const S3bError *err) {
        Batch **p;

        w->synced.stats.written += st->written;
        w->synced.stats.batches += st->batches;
        w->synced.stats.retries += st->retries;
        w->synced.stats.throttles += st->throttles;
        w->synced.stats.consumed += st->consumed;
        if (r < 0 && w->synced.error == 0) {
                w->synced.error = r;
                w->synced.err = *err;
        }
        for (p = &w->synced.inflight; *p; p = &(*p)->inflight_next)
                if (*p == b) {
                        *p = b->inflight_next;
                        for (size_t i = 0; i < b->n_keys; i++)
                                keyset_remove(&w->synced.inflight_keys, b->key_hash[i]);
                        break;
                }
        w->synced.n_inflight--;
        /* the lane wakes the caller after the unlock (wake_caller) */
}

static void *lane_main(void *arg) {
        Lane *lane = arg;
        Writer *w = lane->w;

        Batch *b;

        /* SCHED_BATCH (sched(7)): a lane woken by a post no longer preempts the caller's
         * thread, which posted it mid-file and has the next batch to fill; it runs on the
         * other core or when the caller sleeps. Measured on daemon-e2e big: ~9% fewer task-
         * clock ms and ~10% fewer context switches; rows/s unchanged. Best effort: a failure
         * (a seccomp filter, say) leaves the lane as it was. */
        (void) pthread_setschedparam(pthread_self(), SCHED_BATCH, &(struct sched_param) { 0 });
        /* NULL once writer_free() closed the mailbox; by then nothing is in flight */
        while ((b = mailbox_wait(w->queue, MAILBOX_FOREVER))) {
                WriterStats st = {};
                S3bError err = {};
                bool failed, post;
                int r = 0;

                pthread_mutex_lock(&w->synced.lock);
                failed = w->synced.error < 0;
                pthread_mutex_unlock(&w->synced.lock);

                /* After a failure the job fails anyway: drop what is queued. */
                if (!failed)
                        r = send_batch(w, lane->index, b, &st, &err);

                pthread_mutex_lock(&w->synced.lock);
                finish_locked(w, b, &st, r, &err);
                post = caller_to_wake_locked(w);
                pthread_mutex_unlock(&w->synced.lock);
                wake_caller(w, post);
                batch_free(b);
        }
        return NULL;
}

/* Whether b names a key of a batch still in flight. With nothing in flight, nothing can
 * conflict, whatever the set says. */
static bool conflicts_locked(Writer *w, const Batch *b) {
        if (!w->synced.inflight)
                return false;
        for (size_t j = 0; j < b->n; j++)
                if (keyset_has(&w->synced.inflight_keys, b->items[j].hash))
                        return true;
        return false;
}

static int error_locked(Writer *w, S3bError *err) {
        if (err)
                *err = w->synced.err;
        return w->synced.error;
}

/* Lanes up to `want` (the current window): threads start as the window grows. */
static int start_lanes(Writer *w, unsigned want) {
        for (unsigned i = w->n_lanes; i < want; i++) {
                int r;

                w->lanes[i] = (Lane) { .w = w, .index = i };
                r = -pthread_create(&w->lanes[i].thread, NULL, lane_main, &w->lanes[i]);
                if (r < 0)
                        return r;
                w->n_lanes++;
        }
        return 0;
}

/* Hands the pending batch to a lane, or sends it here: when the window is 1, and for the last
 * batch of a file that never needed a lane (most files fit in one batch: no threads). */
static int dispatch(Writer *w, bool last, S3bError *err) {
        Batch *b = TAKE_PTR(w->pending);
        unsigned want;
        int r = 0;

        if (!b || b->n == 0) {
                batch_free(b);
                return 0;
        }

        if (w->n_lanes == 0 && !(w->window == 1 || last)) {
                pthread_mutex_lock(&w->synced.lock);
                want = window_locked(w);
                pthread_mutex_unlock(&w->synced.lock);
                r = start_lanes(w, MAX(want, 2u));
                if (r < 0 && w->n_lanes == 0) {
                        batch_free(b);
                        return s3b_error_set(err, r, "starting writer lanes: %s", strerror(-r));
                }
        }
        if (w->n_lanes == 0) {
                WriterStats st = {};

                pthread_mutex_lock(&w->synced.lock);
                w->synced.n_inflight++;
                pthread_mutex_unlock(&w->synced.lock);
                r = send_batch(w, 0, b, &st, err);
                pthread_mutex_lock(&w->synced.lock);
                /* not linked in the in-flight list: finish_locked finds nothing to unlink */
                finish_locked(w, b, &st, r, err);
                pthread_mutex_unlock(&w->synced.lock);
                batch_free(b);
                return r;
        }

        pthread_mutex_lock(&w->synced.lock);
        while (w->synced.error == 0 &&
               (w->synced.n_inflight >= window_locked(w) || conflicts_locked(w, b)))
                wait_caller_locked(w);
        want = window_locked(w);
        if (want > w->n_lanes && w->synced.error == 0) {
                /* the window grew past the lanes: start more (a failure keeps the ones there) */
                pthread_mutex_unlock(&w->synced.lock);
                (void) start_lanes(w, want);
                pthread_mutex_lock(&w->synced.lock);
        }
        if (w->synced.error < 0) {
                r = error_locked(w, err);
                pthread_mutex_unlock(&w->synced.lock);
                batch_free(b);
                return r;
        }
        for (size_t i = 0; i < b->n; i++)
                b->key_hash[i] = b->items[i].hash;
        b->n_keys = b->n;
        /* In the in-flight list before it is posted: a lane that finishes it must find it
         * there. Posted after the unlock, so the lanes do not queue on this lock while the
         * post wakes one of them. */
        b->inflight_next = w->synced.inflight;
        w->synced.inflight = b;
        for (size_t i = 0; i < b->n_keys; i++)
                /* cannot fail: at most WRITER_WINDOW_MAX × WRITER_BATCH_MAX keys in flight */
                (void) keyset_add(&w->synced.inflight_keys, b->key_hash[i]);
        w->synced.n_inflight++;
        pthread_mutex_unlock(&w->synced.lock);
        r = mailbox_post(w->queue, b);
        if (r < 0) {
                /* never queued: no lane has it, take it back out */
                pthread_mutex_lock(&w->synced.lock);
                finish_locked(w, b, &(WriterStats) {}, 0, NULL);
                pthread_mutex_unlock(&w->synced.lock);
                batch_free(b);
                return s3b_error_set(err, r, "handing a batch to a writer lane: %s", strerror(-r));
        }
        return 0;
}

Writer *writer_free(Writer *w) {
        if (!w)
                return NULL;
        mailbox_close(w->queue);
        for (unsigned i = 0; i < w->n_lanes; i++)
                pthread_join(w->lanes[i].thread, NULL);
        batch_free(w->pending);
        mailbox_free(w->queue);
        sem_destroy(&w->caller_wake);
        pthread_mutex_destroy(&w->synced.lock);
        free(w);
        return NULL;
}

Writer *writer_new_with(const WriterOps *ops, void *ud, const WriterOptions *o) {
        Writer *w = calloc(1, sizeof(*w));

        if (!w)
                return NULL;
        w->ops = *ops;
        w->ud = ud;
        w->max_attempts = o->max_attempts ? o->max_attempts : 1;
        w->flow = o->flow;
        /* the fixed window, or the adaptive one's ceiling */
        w->window = MIN(o->window ? o->window : o->window_max ? o->window_max : WRITER_WINDOW_MAX,
                        (unsigned) WRITER_WINDOW_MAX);
        w->synced.win = (Window) {
                .adaptive = o->window == 0,
                .cwnd = MIN((unsigned) WRITER_WINDOW_START, w->window),
                .ssthresh = w->window,
                .max_seen = o->window ? w->window : MIN((unsigned) WRITER_WINDOW_START, w->window),
        };
        if (mailbox_new(&w->queue) < 0) {
                free(w);
                return NULL;
        }
        pthread_mutex_init(&w->synced.lock, NULL);
        sem_init(&w->caller_wake, 0, 0);
        return w;
}

Writer *writer_new(const WriterOps *ops, void *ud, unsigned max_attempts, unsigned window) {
        return writer_new_with(ops, ud, &(WriterOptions) {
                .max_attempts = max_attempts,
                .window = MIN(MAX(window, 1u), (unsigned) WRITER_WINDOW_MAX),
        });
}

void writer_drain(Writer *w) {
        pthread_mutex_lock(&w->synced.lock);
        while (w->synced.n_inflight > 0)
                wait_caller_locked(w);
        pthread_mutex_unlock(&w->synced.lock);
}

int writer_flush(Writer *w, S3bError *err) {
        int r;

        r = dispatch(w, true, err);
        if (r < 0)
                return r;
        pthread_mutex_lock(&w->synced.lock);
        while (w->synced.n_inflight > 0)
                wait_caller_locked(w);
        r = error_locked(w, err);
        pthread_mutex_unlock(&w->synced.lock);
        if (r == 0 && err)
                s3b_error_clear(err);
        return r;
}

/* FNV-1a, 64 bits (Fowler, Noll, Vo): keys are short, and a collision only costs a string
 * compare here or a needless wait in conflicts_locked(). */
static uint64_t key_hash(const char *key, size_t n) {
        uint64_t h = 0xcbf29ce484222325ull;

        for (size_t i = 0; i < n; i++) {
                h ^= (unsigned char) key[i];
                h *= 0x100000001b3ull;
        }
        return h;
}

static int arena_reserve(Batch *b, size_t n) {
        size_t cap = b->arena_cap ? b->arena_cap : ARENA_START;
        char *a;

        if (b->arena_len + n <= b->arena_cap)
                return 0;
        while (cap < b->arena_len + n)
                cap *= 2;
        a = realloc(b->arena, cap);
        if (!a)
                return -ENOMEM;
        b->arena = a;
        b->arena_cap = cap;
        return 0;
}

/* Rows superseded by longer ones leave their old bytes behind: once those are more than half
 * the arena, the live rows move to a fresh one, so a key repeated without end stays bounded. */
static int arena_compact(Batch *b) {
        size_t len = b->arena_len - b->waste, at = 0;
        char *a = malloc(MAX(len, (size_t) ARENA_START));

        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < b->n; i++) {
                memcpy(a + at, b->arena + b->items[i].off, b->items[i].size);
                b->items[i].off = at;
                at += b->items[i].size;
        }
        free(b->arena);
        b->arena = a;
        b->arena_len = at;
        b->arena_cap = MAX(len, (size_t) ARENA_START);
        b->waste = 0;
        return 0;
}

/* Stores key and item as p (a new slot: size 0; or the row it supersedes). */
static int pending_set(Batch *b, Pending *p, const char *key, size_t key_len, const char *item,
                       uint64_t hash) {
        size_t item_len = strlen(item), need = key_len + item_len + 2;

        if (p->size < need) {
                if (arena_reserve(b, need) < 0)
                        return -ENOMEM;
                b->waste += p->size;
                p->off = b->arena_len;
                p->size = need;
                b->arena_len += need;
        }
        memcpy(b->arena + p->off, key, key_len + 1);
        memcpy(b->arena + p->off + key_len + 1, item, item_len + 1);
        p->item = key_len + 1;
        p->hash = hash;
        /* only a superseded row adds waste; a new one (p at items[n]) is not counted in n yet */
        if (p < b->items + b->n && b->waste > 65536 && b->waste * 2 > b->arena_len)
                return arena_compact(b);
        return 0;
}

int writer_add(Writer *w, const char *key, const char *item_json, S3bError *err) {
        return writer_add_sized(w, key, item_json, strlen(item_json), err);
}

int writer_add_sized(Writer *w, const char *key, const char *item_json, size_t item_size,
                     S3bError *err) {
        size_t key_len = strlen(key);
        uint64_t hash = key_hash(key, key_len);
        Batch *b = w->pending;
        int r;

        for (size_t i = 0; b && i < b->n; i++) {
                if (b->items[i].hash != hash || strcmp(pending_key(b, &b->items[i]), key) != 0)
                        continue;
                if (pending_set(b, &b->items[i], key, key_len, item_json, hash) < 0)
                        return s3b_error_set(err, -ENOMEM, "out of memory");
                b->items[i].wcu = flow_item_wcu(item_size);
                w->superseded++;
                return 0;
        }

        if (b && b->n == WRITER_BATCH_MAX) {
                r = dispatch(w, false, err);
                if (r < 0)
                        return r;
                b = NULL;
        }
        if (!b) {
                pthread_mutex_lock(&w->synced.lock);
                r = error_locked(w, err);
                pthread_mutex_unlock(&w->synced.lock);
                if (r < 0)
                        return r;
                b = w->pending = calloc(1, sizeof(Batch));
                if (!b)
                        return s3b_error_set(err, -ENOMEM, "out of memory");
        }
        b->items[b->n] = (Pending) {};
        if (pending_set(b, &b->items[b->n], key, key_len, item_json, hash) < 0)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        b->items[b->n++].wcu = flow_item_wcu(item_size);
        return 0;
}

WriterStats writer_stats(const Writer *w) {
        WriterStats st;
        Writer *mw = (Writer *) w;

        pthread_mutex_lock(&mw->synced.lock);
        st = w->synced.stats;
        st.window = window_locked(w);
        st.window_max = w->synced.win.max_seen;
        pthread_mutex_unlock(&mw->synced.lock);
        st.superseded = w->superseded;
        return st;
}
