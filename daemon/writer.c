/* Batcher for BatchWriteItem with a window of batches in flight. See writer.h.
 *
 * The job thread fills the pending batch; a full batch is handed to a lane thread, which runs
 * the whole BatchWriteItem + UnprocessedItems loop for it. The window exists because each call
 * waits a round trip on the server (docs/DESIGN.md, "The job"): with one batch at a time a
 * single large file is bound by latency, not by anyone's throughput. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mailbox.h"
#include "daemon/writer.h"

/* One row: its key and item in one allocation ("key\0item\0"), and a hash of the key. The
 * hash makes the two per-row key comparisons (de-duplication in the pending batch, conflicts
 * with batches in flight) integer compares; only equal hashes compare the strings. */
typedef struct Pending {
        char *mem;
        const char *item;               /* inside mem */
        uint64_t hash;
} Pending;

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
} Batch;

typedef struct Lane {
        struct Writer *w;
        unsigned index;
        pthread_t thread;
} Lane;

struct Writer {
        WriterOps ops;
        void *ud;
        unsigned max_attempts;
        unsigned window;
        Batch *pending;                 /* being filled by the caller */
        uint64_t superseded;            /* caller's thread only */
        Lane lanes[WRITER_WINDOW_MAX];
        unsigned n_lanes;               /* threads started (0 when window is 1) */
        Mailbox *queue;                 /* dispatched batches, until a lane takes one */

        struct {
                pthread_mutex_t lock;
                pthread_cond_t done;    /* a batch finished */
                Batch *inflight;        /* queued or being sent, for the key-order rule */
                unsigned n_inflight;
                WriterStats stats;
                int error;
                S3bError err;
        } synced;
};

static void batch_free(Batch *b) {
        if (!b)
                return;
        for (size_t i = 0; i < b->n; i++)
                free(b->items[i].mem);
        free(b);
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
                if (keep[i]) {
                        b->items[j++] = b->items[i];
                        continue;
                }
                free(b->items[i].mem);
        }
        for (size_t i = j; i < b->n; i++)
                b->items[i] = (Pending) {};
        b->n = j;
        return 0;
}

/* The whole life of one batch on one lane: send, re-send what came back unprocessed. */
static int send_batch(Writer *w, unsigned lane, Batch *b, WriterStats *st, S3bError *err) {
        unsigned attempt = 0;
        int r;

        while (b->n > 0) {
                const char *items[WRITER_BATCH_MAX];
                _cleanup_free_ size_t *unprocessed = NULL;
                size_t n_unprocessed = 0, sent = b->n;

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

                for (size_t i = 0; i < b->n; i++)
                        items[i] = b->items[i].item;
                st->batches++;
                r = w->ops.send(w->ud, lane, items, b->n, &unprocessed, &n_unprocessed, err);
                if (r < 0) {
                        if (!w->ops.retryable || !w->ops.retryable(w->ud, r, err))
                                return r;
                        continue;
                }
                if (n_unprocessed > sent)
                        return s3b_error_set(err, -EBADMSG, "more unprocessed items than sent");
                st->written += sent - n_unprocessed;
                if (n_unprocessed == 0)
                        break;
                r = keep_only(b, unprocessed, n_unprocessed);
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
        if (r < 0 && w->synced.error == 0) {
                w->synced.error = r;
                w->synced.err = *err;
        }
        for (p = &w->synced.inflight; *p; p = &(*p)->inflight_next)
                if (*p == b) {
                        *p = b->inflight_next;
                        break;
                }
        w->synced.n_inflight--;
        pthread_cond_broadcast(&w->synced.done);
}

static void *lane_main(void *arg) {
        Lane *lane = arg;
        Writer *w = lane->w;

        Batch *b;

        /* NULL once writer_free() closed the mailbox; by then nothing is in flight */
        while ((b = mailbox_wait(w->queue, MAILBOX_FOREVER))) {
                WriterStats st = {};
                S3bError err = {};
                bool failed;
                int r = 0;

                pthread_mutex_lock(&w->synced.lock);
                failed = w->synced.error < 0;
                pthread_mutex_unlock(&w->synced.lock);

                /* After a failure the job fails anyway: drop what is queued. */
                if (!failed)
                        r = send_batch(w, lane->index, b, &st, &err);

                pthread_mutex_lock(&w->synced.lock);
                finish_locked(w, b, &st, r, &err);
                pthread_mutex_unlock(&w->synced.lock);
                batch_free(b);
        }
        return NULL;
}

/* Whether b names a key of a batch still in flight (whose keys[] no lane touches). */
static bool conflicts_locked(Writer *w, const Batch *b) {
        for (const Batch *f = w->synced.inflight; f; f = f->inflight_next)
                for (size_t i = 0; i < f->n_keys; i++)
                        for (size_t j = 0; j < b->n; j++)
                                if (f->key_hash[i] == b->items[j].hash)
                                        return true;
        return false;
}

static int error_locked(Writer *w, S3bError *err) {
        if (err)
                *err = w->synced.err;
        return w->synced.error;
}

static int start_lanes(Writer *w) {
        for (unsigned i = w->n_lanes; i < w->window; i++) {
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
        int r = 0;

        if (!b || b->n == 0) {
                batch_free(b);
                return 0;
        }

        if (w->n_lanes == 0 && !(w->window == 1 || last)) {
                r = start_lanes(w);
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
               (w->synced.n_inflight >= w->window || conflicts_locked(w, b)))
                pthread_cond_wait(&w->synced.done, &w->synced.lock);
        if (w->synced.error < 0) {
                r = error_locked(w, err);
                pthread_mutex_unlock(&w->synced.lock);
                batch_free(b);
                return r;
        }
        for (size_t i = 0; i < b->n; i++)
                b->key_hash[i] = b->items[i].hash;
        b->n_keys = b->n;
        /* posted under the lock: a lane that finishes it must find it in the in-flight list */
        r = mailbox_post(w->queue, b);
        if (r < 0) {
                pthread_mutex_unlock(&w->synced.lock);
                batch_free(b);
                return s3b_error_set(err, r, "handing a batch to a writer lane: %s", strerror(-r));
        }
        b->inflight_next = w->synced.inflight;
        w->synced.inflight = b;
        w->synced.n_inflight++;
        pthread_mutex_unlock(&w->synced.lock);
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
        pthread_cond_destroy(&w->synced.done);
        pthread_mutex_destroy(&w->synced.lock);
        free(w);
        return NULL;
}

Writer *writer_new(const WriterOps *ops, void *ud, unsigned max_attempts, unsigned window) {
        Writer *w = calloc(1, sizeof(*w));

        if (!w)
                return NULL;
        w->ops = *ops;
        w->ud = ud;
        w->max_attempts = max_attempts ? max_attempts : 1;
        w->window = MIN(MAX(window, 1u), (unsigned) WRITER_WINDOW_MAX);
        if (mailbox_new(&w->queue) < 0) {
                free(w);
                return NULL;
        }
        pthread_mutex_init(&w->synced.lock, NULL);
        pthread_cond_init(&w->synced.done, NULL);
        return w;
}

void writer_drain(Writer *w) {
        pthread_mutex_lock(&w->synced.lock);
        while (w->synced.n_inflight > 0)
                pthread_cond_wait(&w->synced.done, &w->synced.lock);
        pthread_mutex_unlock(&w->synced.lock);
}

int writer_flush(Writer *w, S3bError *err) {
        int r;

        r = dispatch(w, true, err);
        if (r < 0)
                return r;
        pthread_mutex_lock(&w->synced.lock);
        while (w->synced.n_inflight > 0)
                pthread_cond_wait(&w->synced.done, &w->synced.lock);
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

static int pending_set(Pending *p, const char *key, size_t key_len, const char *item, uint64_t hash) {
        size_t item_len = strlen(item);
        char *mem = malloc(key_len + item_len + 2);

        if (!mem)
                return -ENOMEM;
        memcpy(mem, key, key_len + 1);
        memcpy(mem + key_len + 1, item, item_len + 1);
        free(p->mem);
        *p = (Pending) { .mem = mem, .item = mem + key_len + 1, .hash = hash };
        return 0;
}

int writer_add(Writer *w, const char *key, const char *item_json, S3bError *err) {
        size_t key_len = strlen(key);
        uint64_t hash = key_hash(key, key_len);
        Batch *b = w->pending;
        int r;

        for (size_t i = 0; b && i < b->n; i++) {
                if (b->items[i].hash != hash || strcmp(b->items[i].mem, key) != 0)
                        continue;
                if (pending_set(&b->items[i], key, key_len, item_json, hash) < 0)
                        return s3b_error_set(err, -ENOMEM, "out of memory");
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
        if (pending_set(&b->items[b->n], key, key_len, item_json, hash) < 0)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        b->n++;
        return 0;
}

WriterStats writer_stats(const Writer *w) {
        WriterStats st;
        Writer *mw = (Writer *) w;

        pthread_mutex_lock(&mw->synced.lock);
        st = w->synced.stats;
        pthread_mutex_unlock(&mw->synced.lock);
        st.superseded = w->superseded;
        return st;
}
