/* `s3batchd validate [--pipeline NAME] FILE`: run a local file through exactly the parser and
 * schema the daemon uses, without AWS, so a data producer can check a file before uploading.
 * Rejected rows go to stdout as FILE:LINE: column N (name): reason, then the row; the verdict
 * and counts close the output. Exit 0 when the daemon would accept the file (no file-level
 * error, rejects ≤ max_rejected_rows), 1 when not, 2 on usage errors. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/csv.h"
#include "common/ingest.h"
#include "conf/config.h"
#include "daemon/commands.h"

#define READ_CHUNK (256u * 1024u)
#define RAW_SHOWN 160           /* bytes of a rejected row echoed back */
#define DEDUP_MAX_KEYS (16u * 1024u * 1024u)
#define DEDUP_BATCH 16

/* Distinct primary keys seen, to count the rows a later duplicate supersedes (the daemon's
 * batcher does the same: last row wins). 64-bit hashes in an open-addressing set; bounded. */
typedef struct KeySet {
        uint64_t *slots;        /* 0 = empty */
        size_t cap, n;
        bool full;
        uint64_t batch[DEDUP_BATCH];    /* hashes not looked up yet (keyset_queue) */
        unsigned n_batch;
} KeySet;

/* Eight bytes per step (multiply, rotate), the length mixed in first so that a short tail's
 * zero padding cannot make two keys equal, then MurmurHash3's 64-bit finaliser so the low bits
 * that pick a slot depend on every byte. A byte-wise FNV was a tenth of validate's time. */
static uint64_t hash_key(const char *p, size_t n) {
        const uint64_t k = UINT64_C(0x9e3779b97f4a7c15);
        uint64_t h = k ^ (uint64_t) n, w;

        for (; n >= 8; p += 8, n -= 8) {
                memcpy(&w, p, 8);
                h = (h ^ w) * k;
                h = (h << 31) | (h >> 33);
        }
        if (n > 0) {
                w = 0;
                memcpy(&w, p, n);
                h = (h ^ w) * k;
        }
        h ^= h >> 33;
        h *= UINT64_C(0xff51afd7ed558ccd);
        h ^= h >> 33;
        h *= UINT64_C(0xc4ceb9fe1a85ec53);
        h ^= h >> 33;
        return h ? h : 1;
}

/* Zeroed slots. From 2 MiB up, mapped on their own and marked for transparent huge pages:
 * lookups land anywhere in the table, and with 4 KiB pages nearly every one of them also
 * missed the TLB (16 MB of slots for 1M keys). */
#define SLOTS_MMAP_BYTES ((size_t) 2 << 20)

static uint64_t *slots_alloc(size_t cap) {
        size_t bytes = cap * sizeof(uint64_t);
        void *p;

        if (bytes < SLOTS_MMAP_BYTES)
                return calloc(cap, sizeof(uint64_t));
        p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
                return NULL;
        (void) madvise(p, bytes, MADV_HUGEPAGE);        /* a hint; without it, 4 KiB pages */
        return p;
}

static void slots_free(uint64_t *slots, size_t cap) {
        if (!slots)
                return;
        if (cap * sizeof(uint64_t) < SLOTS_MMAP_BYTES)
                free(slots);
        else
                munmap(slots, cap * sizeof(uint64_t));
}

/* 1 when the key was seen before, 0 when new, -ENOMEM. */
static int keyset_add_hash(KeySet *s, uint64_t h) {
        size_t i;

        if (s->n >= DEDUP_MAX_KEYS)
                s->full = true;         /* still answers for the keys it holds */
        else if (s->n * 2 >= s->cap) {
                size_t ncap = s->cap ? s->cap * 2 : 1024;
                uint64_t *slots;

                slots = slots_alloc(ncap);
                if (!slots)
                        return -ENOMEM;
                for (size_t k = 0; k < s->cap; k++)
                        if (s->slots[k]) {
                                for (i = s->slots[k] & (ncap - 1); slots[i]; i = (i + 1) & (ncap - 1))
                                        ;
                                slots[i] = s->slots[k];
                        }
                slots_free(s->slots, s->cap);
                s->slots = slots;
                s->cap = ncap;
        }
        for (i = h & (s->cap - 1); s->slots[i]; i = (i + 1) & (s->cap - 1))
                if (s->slots[i] == h)
                        return 1;
        if (s->full)
                return 0;
        s->slots[i] = h;
        s->n++;
        return 0;
}

/* Looks up the queued keys together: their slots are prefetched first, so the cache misses
 * overlap instead of coming one after the other. A file of many keys outgrows the cache (16 MB
 * of slots for a million keys) and a lookup per row was then a miss per row: a quarter of
 * validate's time on a 660k-row file. The keys keep their order, so the count is the same.
 * How many of them were seen before, or -ENOMEM. */
static int64_t keyset_flush(KeySet *s) {
        int64_t seen = 0;

        if (s->cap)
                for (unsigned k = 0; k < s->n_batch; k++)
                        __builtin_prefetch(&s->slots[s->batch[k] & (s->cap - 1)]);
        for (unsigned k = 0; k < s->n_batch; k++) {
                int r = keyset_add_hash(s, s->batch[k]);

                if (r < 0)
                        return r;
                seen += r;
        }
        s->n_batch = 0;
        return seen;
}

/* Queues a key; see keyset_flush(). */
static int64_t keyset_queue(KeySet *s, const char *p, size_t n) {
        s->batch[s->n_batch++] = hash_key(p, n);
        return s->n_batch == DEDUP_BATCH ? keyset_flush(s) : 0;
}

typedef struct Validate {
        const char *name;       /* file name as given, for messages */
        bool quiet;
        uint64_t superseded;
        KeySet keys;
} Validate;

/* Bytes from the file, one line, no terminal escapes; text that is not UTF-8 (utf8: of the
 * whole of which s may be the start) is shown byte by byte, not as mojibake. */
static void put_escaped(const char *s, size_t n, bool utf8) {
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];

                if (c == '\n')
                        fputs("\\n", stdout);
                else if (c == '\r')
                        fputs("\\r", stdout);
                else if (c == '\t')
                        fputs("\\t", stdout);
                else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8))
                        printf("\\x%02x", c);
                else
                        putchar(c);
        }
}

static void print_raw(const char *raw, size_t n, bool truncated) {
        size_t shown = MIN(n, (size_t) RAW_SHOWN);

        fputs("    | ", stdout);
        put_escaped(raw, shown, utf8_is_valid(raw, n));
        fputs(shown < n || truncated ? " ...\n" : "\n", stdout);
}

static int on_item(void *userdata, const IngestItem *it) {
        Validate *v = userdata;
        int64_t r = keyset_queue(&v->keys, it->key, it->key_len);

        if (r < 0)
                return (int) r;
        v->superseded += (uint64_t) r;
        return 0;
}

static int on_reject(void *userdata, const IngestReject *rj) {
        Validate *v = userdata;

        if (v->quiet)
                return 0;
        printf("%s:%" PRIu64 ": ", v->name, rj->line);
        if (rj->column > 0)
                printf("column %u%s%s%s: ", rj->column, rj->column_name ? " (" : "",
                       rj->column_name ? rj->column_name : "", rj->column_name ? ")" : "");
        else if (rj->column_name) {
                /* JSON Lines and ddb-json: a field, not a position */
                fputs("field ", stdout);
                put_escaped(rj->column_name, strlen(rj->column_name), true);
                fputs(": ", stdout);
        }
        printf("%s\n", rj->reason);
        print_raw(rj->raw, rj->raw_len, rj->raw_truncated);
        return 0;
}

/* The pipeline named, or the one the daemon would pick (config_find_pipeline: the first exact
 * match, else the first that takes the file as a gzipped one of its suffix) for the path or
 * its base name. There is no bucket locally, so a pipeline's bucket filter is not applied. */
static PipelineMatch match_file(const PipelineSpec *p, const char *file) {
        const char *bucket = p->match_bucket ? p->match_bucket : "";
        const char *base = strrchr(file, '/');
        PipelineMatch m = pipeline_spec_match(p, bucket, file);

        if (m != PIPELINE_MATCH_EXACT && base) {
                PipelineMatch b = pipeline_spec_match(p, bucket, base + 1);

                if (b != PIPELINE_MATCH_NONE)
                        m = b;
        }
        return m;
}

static const PipelineSpec *pick_pipeline(const Config *cfg, const char *name, const char *file) {
        const PipelineSpec *gzip = NULL;

        if (name)
                return config_find_pipeline_by_name(cfg, name);
        for (size_t i = 0; i < cfg->n_pipelines; i++) {
                PipelineMatch m = match_file(&cfg->pipelines[i], file);

                if (m == PIPELINE_MATCH_EXACT)
                        return &cfg->pipelines[i];
                if (m == PIPELINE_MATCH_GZIP && !gzip)
                        gzip = &cfg->pipelines[i];
        }
        return gzip;
}

static int run_file(const PipelineSpec *p, const char *file, Validate *v, IngestStats *st,
                    S3bError *err) {
        static const IngestCallbacks cb = { .on_item = on_item, .on_reject = on_reject };
        _cleanup_(ingest_freep) Ingest *in = NULL;
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *chunk = NULL;
        int r;

        if (strcmp(file, "-") != 0) {
                fd = open(file, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        return s3b_error_set(err, -errno, "cannot open: %s", strerror(errno));
        }
        chunk = malloc(READ_CHUNK);
        if (!chunk)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        r = ingest_new(p, NULL, strcmp(file, "-") ? file : NULL, &cb, v, &in, err);
        if (r < 0)
                return r;
        /* the daemon's verdicts without building the items' JSON, which validate never sends */
        ingest_set_verdict_only(in, true);
        for (;;) {
                ssize_t n = read(fd >= 0 ? fd : STDIN_FILENO, chunk, READ_CHUNK);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return s3b_error_set(err, -errno, "read failed: %s", strerror(errno));
                if (n == 0)
                        break;
                r = ingest_feed(in, chunk, (size_t) n, err);
                if (r < 0) {
                        ingest_get_stats(in, st);
                        return r;
                }
        }
        return ingest_finish(in, st, err);
}

int cmd_validate(const CommandArgs *a) {
        _cleanup_(config_unrefp) Config *cfg = NULL;
        ConfigDiag diag = {};
        const char *config = a->config_path, *pipeline = a->pipeline, *file = a->operands[0];
        const PipelineSpec *p;
        Validate v = {};
        IngestStats st = {};
        S3bError err = {};
        bool quiet = a->quiet, accepted;
        int r;

        r = config_load(config, &cfg, &diag);
        for (size_t i = 0; i < diag.n_lines; i++)
                fprintf(stderr, "%s\n", diag.lines[i]);
        config_diag_done(&diag);
        if (r < 0) {
                fprintf(stderr, "%s: configuration is not valid\n", config);
                return r;
        }
        p = pick_pipeline(cfg, pipeline, file);
        if (!p) {
                if (pipeline)
                        fprintf(stderr, "validate: no pipeline named '%s' in %s\n", pipeline, config);
                else
                        fprintf(stderr, "validate: no pipeline in %s matches '%s'; choose one with --pipeline\n",
                                config, file);
                return COMMAND_USAGE;
        }

        v.name = file;
        v.quiet = quiet;
        r = run_file(p, file, &v, &st, &err);
        {
                int64_t seen = keyset_flush(&v.keys);

                if (seen < 0 && r >= 0)
                        r = s3b_error_set(&err, (int) seen, "out of memory");
                else if (seen > 0)
                        v.superseded += (uint64_t) seen;
        }
        slots_free(v.keys.slots, v.keys.cap);
        fflush(stdout);
        if (r < 0) {
                size_t len = strlen(err.message);

                /* the message may quote the file (header names): escaped like a row */
                printf("%s: FILE ERROR: ", file);
                put_escaped(err.message, len, utf8_is_valid(err.message, len));
                putchar('\n');
        }
        accepted = r >= 0 && st.rows_rejected <= p->max_rejected_rows;
        printf("%s: pipeline '%s', table %s%s: %" PRIu64 " rows, %" PRIu64 " valid, %" PRIu64
               " rejected (at most %" PRIu64 " allowed), %" PRIu64 " superseded by a later row with the same key%s\n",
               file, p->name, p->table ? p->table : "-", st.gzip ? ", gzip" : "",
               st.rows_total, st.rows_valid, st.rows_rejected, p->max_rejected_rows, v.superseded,
               v.keys.full ? " (counted over the first keys only)" : "");
        printf("%s: %s\n", file, accepted ? "ACCEPTED" : "REJECTED");
        return accepted ? 0 : COMMAND_REJECTED;
}
