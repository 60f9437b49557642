/* Batcher for BatchWriteItem. See writer.h for the contract.
 *
 * Why synchronous batches rather than a window of concurrent ones: a window needs its own
 * HTTP handles per job and must keep two batches naming the same key ordered, while the
 * daemon already runs `workers` jobs in parallel, each with its own connection. Measured on
 * dynalite the server, not the client, is the ceiling (docs/DESIGN.md, "Writer"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/writer.h"

typedef struct Pending {
        char *key;
        char *item;
} Pending;

struct Writer {
        WriterOps ops;
        void *ud;
        unsigned max_attempts;
        Pending batch[WRITER_BATCH_MAX];
        size_t n;
        WriterStats stats;
};

static void pending_clear(Writer *w) {
        for (size_t i = 0; i < w->n; i++) {
                free(w->batch[i].key);
                free(w->batch[i].item);
                w->batch[i] = (Pending) {};
        }
        w->n = 0;
}

Writer *writer_free(Writer *w) {
        if (!w)
                return NULL;
        pending_clear(w);
        free(w);
        return NULL;
}

Writer *writer_new(const WriterOps *ops, void *ud, unsigned max_attempts) {
        Writer *w = calloc(1, sizeof(*w));

        if (!w)
                return NULL;
        w->ops = *ops;
        w->ud = ud;
        w->max_attempts = max_attempts ? max_attempts : 1;
        return w;
}

/* Keeps only the entries listed in idx (ascending or not), in their original order. */
static int keep_only(Writer *w, const size_t *idx, size_t n_idx) {
        bool keep[WRITER_BATCH_MAX] = {};
        size_t j = 0;

        for (size_t i = 0; i < n_idx; i++) {
                if (idx[i] >= w->n)
                        return -EBADMSG;        /* the service named an item we did not send */
                keep[idx[i]] = true;
        }
        for (size_t i = 0; i < w->n; i++) {
                if (keep[i]) {
                        w->batch[j++] = w->batch[i];
                        continue;
                }
                free(w->batch[i].key);
                free(w->batch[i].item);
        }
        for (size_t i = j; i < w->n; i++)
                w->batch[i] = (Pending) {};
        w->n = j;
        return 0;
}

int writer_flush(Writer *w, S3bError *err) {
        unsigned attempt = 0;
        int r;

        while (w->n > 0) {
                const char *items[WRITER_BATCH_MAX];
                _cleanup_free_ size_t *unprocessed = NULL;
                size_t n_unprocessed = 0, sent = w->n;

                if (attempt > 0) {
                        if (attempt >= w->max_attempts) {
                                char last[sizeof(err->message)] = "";

                                if (err)
                                        memcpy(last, err->message, sizeof(last));
                                return s3b_error_set(err, -EIO,
                                                     "%zu item(s) not written after %u attempts (last: %s)",
                                                     w->n, attempt, last[0] ? last : "unknown");
                        }
                        w->stats.retries++;
                        if (w->ops.backoff) {
                                r = w->ops.backoff(w->ud, attempt);
                                if (r < 0)
                                        return s3b_error_set(err, r, "write cancelled");
                        }
                }
                attempt++;

                for (size_t i = 0; i < w->n; i++)
                        items[i] = w->batch[i].item;
                w->stats.batches++;
                r = w->ops.send(w->ud, items, w->n, &unprocessed, &n_unprocessed, err);
                if (r < 0) {
                        if (!w->ops.retryable || !w->ops.retryable(w->ud, r, err))
                                return r;
                        continue;
                }
                if (n_unprocessed > sent)
                        return s3b_error_set(err, -EBADMSG, "more unprocessed items than sent");
                w->stats.written += sent - n_unprocessed;
                if (n_unprocessed == 0) {
                        pending_clear(w);
                        break;
                }
                r = keep_only(w, unprocessed, n_unprocessed);
                if (r < 0)
                        return s3b_error_set(err, r, "UnprocessedItems names an item not sent");
                s3b_error_set(err, 0, "UnprocessedItems");
        }
        if (err)
                s3b_error_clear(err);
        return 0;
}

int writer_add(Writer *w, const char *key, const char *item_json, S3bError *err) {
        char *k, *it;

        for (size_t i = 0; i < w->n; i++) {
                if (strcmp(w->batch[i].key, key) != 0)
                        continue;
                it = strdup(item_json);
                if (!it)
                        return s3b_error_set(err, -ENOMEM, "out of memory");
                free(w->batch[i].item);
                w->batch[i].item = it;
                w->stats.superseded++;
                return 0;
        }

        if (w->n == WRITER_BATCH_MAX) {
                int r = writer_flush(w, err);
                if (r < 0)
                        return r;
        }
        k = strdup(key);
        it = strdup(item_json);
        if (!k || !it) {
                free(k);
                free(it);
                return s3b_error_set(err, -ENOMEM, "out of memory");
        }
        w->batch[w->n++] = (Pending) { .key = k, .item = it };
        return 0;
}

const WriterStats *writer_stats(const Writer *w) {
        return &w->stats;
}
