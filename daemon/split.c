/* The split reader: plan the ranges of a big object, read them in parallel, merge. See split.h.
 *
 * Phases, all pinned to the job's ETag:
 *   1. head: a GET of the first bytes (at most a header row): size, Content-Encoding, gzip
 *      magic, the header row itself (fed to every range but the first before its bytes);
 *   2. probes, one per range i > 0: a ranged GET from SPLIT_LOOK_BEHIND before its nominal
 *      offset, to at most probe_window after it, scanned under every quote state; it stops
 *      at the first proven boundary;
 *   3. only for starts not proven: the transfer function of every segment to their left, in
 *      parallel (one memchr-speed read of those bytes), composed from the start of the
 *      object; then the first record end at or after the offset under that exact state;
 *   4. the ranges, one thread each: GET [start, next start), parse, write, count line breaks;
 *      a range that is not the last checks its parse ends on a record boundary;
 *   5. merge: counters summed, rejects added to the job's report in file order with their
 *      line numbers shifted by the line breaks of the ranges before.
 * Memory: per range one parser, one writer and its window, and the rejects it logged (capped
 * at the report's share); the planner holds one probe state. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/aws/dynamodb.h"
#include "common/aws/retry.h"
#include "common/aws/s3.h"
#include "common/buf.h"
#include "common/csv.h"
#include "common/csvsplit.h"
#include "common/ingest.h"
#include "common/log.h"
#include "daemon/jobclients.h"
#include "daemon/metrics.h"
#include "daemon/split.h"
#include "daemon/writer.h"

#define SPLIT_RANGES_MAX 16u
/* How far before its offset a probe starts: time for the hypotheses to converge before it,
 * so the range starts at the first record after its offset, not at a later one. */
#define SPLIT_LOOK_BEHIND (64u * 1024u)
/* How far after its offset a probe looks for a proof at least (and two rows more). */
#define SPLIT_PROBE_MIN (1024u * 1024u)
/* Rejected rows kept in full per job (as job.c's report); each range keeps its share. */
#define SPLIT_REPORT_MAX (16u * 1024u * 1024u)
/* A private code: a scan found what it looked for and ended its GET early. */
#define SPLIT_FOUND (-EALREADY)

typedef struct Split {
        Job *job;
        const JobEnv *env;
        const TableShape *table;
        bool write;
        S3Version v;
        uint64_t size;
        unsigned n;
        uint64_t offsets[SPLIT_RANGES_MAX + 1];
        uint64_t starts[SPLIT_RANGES_MAX + 1];
        bool proven[SPLIT_RANGES_MAX];
        CsvTransfer transfers[SPLIT_RANGES_MAX];
        size_t bom;                     /* a UTF-8 byte order mark at the start: 3, else 0 */
        char *prefix;                   /* fed to ranges i > 0: the header row + "\n", or "\n" */
        size_t prefix_len;
        uint64_t prefix_lines;
        atomic_bool stop;               /* a range failed: the others end early */
        atomic_uint_fast64_t rejects;   /* over all ranges, for max_rejected_rows */
        atomic_uint_fast64_t bytes;     /* every GET's bytes */
} Split;

bool split_wanted(const Job *j) {
        const PipelineSpec *s = j->spec;
        size_t kl = strlen(j->key);

        if (s->split_bytes == 0 || j->size < 0 || (uint64_t) j->size < s->split_bytes || !j->etag[0])
                return false;
        if (s->csv.compression == COMPRESSION_GZIP || (kl >= 3 && strcmp(j->key + kl - 3, ".gz") == 0))
                return false;
        for (size_t i = 0; i < s->n_computed; i++)
                if (s->computed[i].kind == COMPUTED_SOURCE && s->computed[i].source == SOURCE_LINE)
                        return false;
        return (uint64_t) j->size >= 2u * s->split_workers;
}

static bool csv_mode(const Split *sp) {
        return sp->job->spec->format == FORMAT_CSV;
}

static size_t max_row(const Split *sp) {
        return sp->job->spec->csv.max_row_bytes ? sp->job->spec->csv.max_row_bytes : 400 * 1024;
}

static bool stopping(const Split *sp) {
        return atomic_load(&sp->stop) || (sp->env->cancel && atomic_load(sp->env->cancel));
}

/* A ranged GET of [from, to) of the pinned version; SPLIT_FOUND from fn ends it early, and
 * counts as success. */
static int get_range(Split *sp, AwsClient *c, uint64_t from, uint64_t to, S3DataFn fn, void *ud,
                     S3ObjectInfo *ret_info, S3bError *err) {
        char range[64];
        int r;

        if (from >= to)
                return 0;
        snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, from, to - 1);
        r = s3_get_object(c, sp->job->bucket, sp->job->key, &sp->v, range, fn, ud, ret_info, err);
        if (r == SPLIT_FOUND) {
                s3b_error_clear(err);
                return 1;
        }
        return r;
}

/* ---- 1. head ---- */

typedef struct Head {
        Split *sp;
        CsvParser *csv;
        Buf header;
        bool have_header, bad;
        unsigned char first[3];
        size_t n_first;
} Head;

static int head_row(void *ud, const CsvRow *row) {
        Head *h = ud;

        if (h->have_header)
                return 0;
        if (row->error != CSV_ROW_OK || buf_append(&h->header, row->raw, row->raw_len) < 0)
                h->bad = true;
        h->have_header = true;
        return 0;
}

static int head_data(void *ud, const void *data, size_t n) {
        Head *h = ud;

        atomic_fetch_add(&h->sp->bytes, n);
        for (size_t i = 0; i < n && h->n_first < 3; i++)
                h->first[h->n_first++] = ((const unsigned char *) data)[i];
        return h->csv ? csv_parser_feed(h->csv, data, n) : 0;
}

/* 1 when the file can be split (prefix set), 0 to stream it, < 0 with err. */
static int plan_head(Split *sp, S3bError *err) {
        const PipelineSpec *s = sp->job->spec;
        bool header = csv_mode(sp) && s->csv.header == HEADER_REQUIRED;
        CsvOptions o = { .delimiter = s->csv.delimiter, .max_row_bytes = max_row(sp) };
        Head h = { .sp = sp, .header = BUF_INIT(max_row(sp) + 2) };
        S3ObjectInfo info;
        uint64_t want = header ? MIN(sp->size, max_row(sp) + 8) : 3;
        int r;

        if (header && csv_parser_new(&o, head_row, &h, &h.csv) < 0)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        r = get_range(sp, sp->env->client, 0, MIN(want, sp->size), head_data, &h, &info, err);
        csv_parser_free(h.csv);
        if (r < 0)
                goto out;
        r = 0;
        /* a deflate stream has no record boundaries to start a range at */
        if (strstr(info.content_encoding, "gzip") || (h.n_first >= 2 && h.first[0] == 0x1f && h.first[1] == 0x8b))
                goto out;
        if (info.size != sp->size)
                goto out;       /* not the size the event said: let the stream decide */
        sp->bom = csv_split_bom((const char *) h.first, h.n_first);
        if (header && (!h.have_header || h.bad))
                goto out;       /* no header bound within the first bytes: stream, and fail as usual */
        if (buf_append_char(&h.header, '\n') < 0) {
                r = s3b_error_set(err, -ENOMEM, "out of memory");
                goto out;
        }
        sp->prefix_len = h.header.len;
        sp->prefix = buf_steal(&h.header);
        if (!sp->prefix) {
                r = s3b_error_set(err, -ENOMEM, "out of memory");
                goto out;
        }
        for (size_t i = 0; i < sp->prefix_len; i++)
                sp->prefix_lines += sp->prefix[i] == '\n';
        r = 1;
out:
        buf_done(&h.header);
        return r;
}

/* ---- 2. and 3. boundaries ---- */

typedef struct Scan {
        Split *sp;
        CsvSplit s;
        uint64_t at;            /* object offset of the next byte */
        uint64_t after;         /* boundaries only from here */
        uint64_t skip_to;       /* bytes before this are not scanned (the byte order mark) */
        bool find;
        uint64_t found;         /* offset just after the boundary, or UINT64_MAX */
} Scan;

static int scan_data(void *ud, const void *data, size_t n) {
        Scan *sc = ud;
        const char *d = data;
        size_t k;

        atomic_fetch_add(&sc->sp->bytes, n);
        if (stopping(sc->sp))
                return -ECANCELED;
        if (sc->at < sc->skip_to) {
                size_t skip = (size_t) MIN((uint64_t) n, sc->skip_to - sc->at);

                d += skip;
                n -= skip;
                sc->at += skip;
        }
        if (!sc->find) {
                csv_split_advance(&sc->s, d, n);
                sc->at += n;
                return 0;
        }
        k = csv_split_find(&sc->s, d, n, sc->after > sc->at ? (size_t) MIN((uint64_t) n, sc->after - sc->at) : 0);
        if (k <= n) {
                sc->found = sc->at + k;
                return SPLIT_FOUND;
        }
        sc->at += n;
        return 0;
}

static void scan_init(Split *sp, Scan *sc, uint64_t from, uint64_t after, bool find) {
        const PipelineSpec *s = sp->job->spec;

        *sc = (Scan) { .sp = sp, .at = from, .after = after, .find = find, .skip_to = sp->bom,
                       .found = UINT64_MAX };
        csv_split_init(&sc->s, s->csv.delimiter, !csv_mode(sp));
}

/* Probe for range i: 1 proven (sp->starts[i] set), 0 not, < 0 with err. */
static int probe(Split *sp, unsigned i, S3bError *err) {
        /* at most a quarter of a range back: a longer look-behind buys nothing a range that
         * short could use, and the start of the object (where the state is known) stays out
         * of reach of every probe but the first one's */
        uint64_t back = MIN((uint64_t) SPLIT_LOOK_BEHIND, sp->size / sp->n / 4);
        uint64_t o = sp->offsets[i], lb = o > back ? o - back : 0;
        uint64_t window = MAX((uint64_t) SPLIT_PROBE_MIN, 2 * (uint64_t) max_row(sp) + 2);
        Scan sc;
        int r;

        if (!csv_mode(sp)) {
                lb = o;         /* every line break ends a record: no look-behind needed */
                window = sp->size - o;
        }
        scan_init(sp, &sc, lb, o, true);
        if (lb <= sp->bom)
                csv_split_reset_exact(&sc.s, CSVQ_FIELD_START);  /* the start is known */
        r = get_range(sp, sp->env->client, lb, MIN(sp->size, o + window), scan_data, &sc, NULL, err);
        if (r < 0)
                return r;
        if (sc.found == UINT64_MAX)
                return !csv_mode(sp) ? (sp->starts[i] = sp->size, 1) : 0;
        sp->starts[i] = sc.found;
        return 1;
}

typedef struct Task {
        Split *sp;
        unsigned index;
        int r;
        S3bError err;
        pthread_t tid;
        bool started;
} Task;

static void *transfer_thread(void *ud) {
        Task *t = ud;
        Split *sp = t->sp;
        AwsClient *c = NULL;
        Scan sc;

        t->r = aws_client_new(sp->env->clients->aws, &c, &t->err);
        if (t->r >= 0 && sp->env->cancel)
                t->r = aws_client_set_cancel(c, sp->env->cancel, &t->err);
        if (t->r >= 0) {
                uint64_t from = MAX(sp->offsets[t->index], (uint64_t) sp->bom);
                uint64_t to = MAX(sp->offsets[t->index + 1], (uint64_t) sp->bom);

                scan_init(sp, &sc, from, 0, false);
                t->r = get_range(sp, c, from, to, scan_data, &sc, NULL, &t->err);
                sp->transfers[t->index] = csv_split_transfer(&sc.s);
        }
        aws_client_free(c);
        return NULL;
}

/* The starts no probe proved: exact states from the transfer functions of segments
 * 0..last-1, read in parallel, then the first record end after each offset. */
static int plan_exact(Split *sp, unsigned last, S3bError *err) {
        Task tasks[SPLIT_RANGES_MAX] = {};
        CsvQState state = CSVQ_FIELD_START;
        unsigned k = 0;
        int r = 0;

        for (unsigned j = 0; j < last; j++) {
                tasks[j] = (Task) { .sp = sp, .index = j };
                if (pthread_create(&tasks[j].tid, NULL, transfer_thread, &tasks[j]) != 0) {
                        atomic_store(&sp->stop, true);
                        r = s3b_error_set(err, -EAGAIN, "cannot start a thread");
                        break;
                }
                tasks[j].started = true;
        }
        for (unsigned j = 0; j < last; j++)
                if (tasks[j].started) {
                        pthread_join(tasks[j].tid, NULL);
                        if (tasks[j].r < 0 && r >= 0) {
                                *err = tasks[j].err;
                                r = tasks[j].r;
                        }
                }
        if (r < 0)
                return r;
        for (unsigned i = 1; i <= last; i++) {
                Scan sc;

                state = csv_transfer_apply(&sp->transfers[i - 1], state);
                if (sp->proven[i])
                        continue;
                /* from o: the first line break at or after it that ends a record */
                scan_init(sp, &sc, sp->offsets[i], sp->offsets[i], true);
                csv_split_reset_exact(&sc.s, state);
                r = get_range(sp, sp->env->client, MAX(sp->offsets[i], (uint64_t) sp->bom), sp->size,
                              scan_data, &sc, NULL, err);
                if (r < 0)
                        return r;
                sp->starts[i] = sc.found == UINT64_MAX ? sp->size : sc.found;
                k++;
        }
        return (int) k;
}

static int plan(Split *sp, S3bError *err) {
        unsigned last = 0;
        int r;

        for (unsigned i = 0; i <= sp->n; i++)
                sp->offsets[i] = sp->size / sp->n * i + MIN((uint64_t) i, sp->size % sp->n);
        sp->starts[0] = 0;
        sp->starts[sp->n] = sp->size;
        for (unsigned i = 1; i < sp->n; i++) {
                r = probe(sp, i, err);
                if (r < 0)
                        return r;
                sp->proven[i] = r > 0;
                if (!sp->proven[i])
                        last = i;
        }
        if (last > 0) {
                r = plan_exact(sp, last, err);
                if (r < 0)
                        return r;
        }
        /* a range whose first boundary lies past the next start is empty: its bytes belong
         * to its left neighbour, which reads on to the next start */
        for (unsigned i = sp->n - 1; i >= 1; i--)
                sp->starts[i] = MIN(sp->starts[i], sp->starts[i + 1]);
        return 0;
}

/* ---- 4. ranges ---- */

typedef struct Range {
        Split *sp;
        unsigned index;
        uint64_t start, end;
        JobClients clients;
        JobWriteTarget target;          /* the writer's userdata */
        JobEnv env;
        Ingest *in;
        Writer *writer;
        Buf log;                        /* logged rejects (see log_reject) */
        uint64_t logged, dropped;
        uint64_t newlines;
        IngestStats st;
        WriterStats ws;
        bool ingest_failed, write_failed, too_many, off_boundary, ran;
        int r;
        S3bError err, ingest_err, write_err;
        pthread_t tid;
} Range;

typedef struct LoggedReject {
        uint64_t line;
        unsigned column;
        bool truncated;
        uint32_t name_len, reason_len, raw_len;
} LoggedReject;

/* Lines are not known until the ranges to the left are counted: a reject is kept with its
 * range's own line until the merge. */
static int log_reject(Range *rg, const IngestReject *rej) {
        LoggedReject lr = {
                .line = rej->line - rg->sp->prefix_lines * (rg->index > 0),
                .column = rej->column,
                .truncated = rej->raw_truncated,
                .name_len = rej->column_name ? (uint32_t) strlen(rej->column_name) : UINT32_MAX,
                .reason_len = rej->reason ? (uint32_t) strlen(rej->reason) : 0,
                .raw_len = rej->raw ? (uint32_t) rej->raw_len : 0,
        };
        size_t mark = rg->log.len;
        int r;

        if (rg->dropped > 0)
                goto drop;
        r = buf_append(&rg->log, &lr, sizeof(lr));
        if (r >= 0 && rej->column_name)
                r = buf_append(&rg->log, rej->column_name, lr.name_len);
        if (r >= 0)
                r = buf_append(&rg->log, rej->reason ? rej->reason : "", lr.reason_len);
        if (r >= 0)
                r = buf_append(&rg->log, rej->raw ? rej->raw : "", lr.raw_len);
        if (r == -ENOMEM)
                return r;
        if (r >= 0) {
                rg->logged++;
                return 0;
        }
        rg->log.len = mark;
drop:
        rg->dropped++;
        return 0;
}

static int on_item(void *ud, const IngestItem *item) {
        Range *rg = ud;
        int r;

        if (!rg->writer)
                return 0;
        r = writer_add_sized(rg->writer, item->key, item->json, item->size, &rg->write_err);
        if (r < 0)
                rg->write_failed = true;
        return r;
}

static int on_reject(void *ud, const IngestReject *rej) {
        Range *rg = ud;
        int r = log_reject(rg, rej);

        if (r < 0)
                return r;
        if (atomic_fetch_add(&rg->sp->rejects, 1) + 1 > rg->sp->job->spec->max_rejected_rows) {
                rg->too_many = true;
                return -EDQUOT;
        }
        return 0;
}

static int range_data(void *ud, const void *data, size_t n) {
        Range *rg = ud;
        const char *d = data, *end = d + n;
        int r;

        if (stopping(rg->sp))
                return -ECANCELED;
        atomic_fetch_add(&rg->sp->bytes, n);
        for (const char *p = d; (p = memchr(p, '\n', (size_t) (end - p))); p++)
                rg->newlines++;
        r = ingest_feed(rg->in, data, n, &rg->ingest_err);
        if (r < 0 && !rg->write_failed && !rg->too_many)
                rg->ingest_failed = true;
        return r;
}

static int range_setup(Range *rg) {
        Split *sp = rg->sp;
        Job *j = sp->job;
        IngestCallbacks cb = { .on_item = on_item, .on_reject = on_reject };
        int r;

        r = job_clients_init(&rg->clients, sp->env->clients->aws, sp->env->cancel, &rg->err);
        if (r < 0)
                return r;
        r = ingest_new(j->spec, sp->table, j->key, &cb, rg, &rg->in, &rg->ingest_err);
        if (r >= 0 && ingest_set_source(rg->in, &(IngestSource) { .key = j->key, .etag = j->etag }) < 0)
                r = s3b_error_set(&rg->ingest_err, -ENOMEM, "out of memory");
        if (r < 0) {
                rg->ingest_failed = true;
                return r;
        }
        if (sp->write) {
                rg->target = (JobWriteTarget) { .clients = &rg->clients, .table = j->spec->table };
                rg->writer = job_writer_new(j, sp->env, &rg->target, sp->n);
                if (!rg->writer)
                        return s3b_error_set(&rg->err, -ENOMEM, "out of memory");
        }
        /* the header, so the columns bind as in range 0; a byte order mark in the range is
         * then data, as in the single stream */
        if (rg->index > 0) {
                r = ingest_feed(rg->in, sp->prefix, sp->prefix_len, &rg->ingest_err);
                if (r < 0)
                        rg->ingest_failed = true;
        }
        return r;
}

static void *range_thread(void *ud) {
        Range *rg = ud;
        Split *sp = rg->sp;
        int r;

        r = range_setup(rg);
        if (r >= 0)
                r = get_range(sp, rg->clients.client, rg->start, rg->end, range_data, rg, NULL, &rg->err);
        /* The left neighbour of a range must end exactly where the right one starts. */
        if (r >= 0 && rg->end < sp->size && !ingest_at_row_start(rg->in)) {
                rg->off_boundary = true;
                r = s3b_error_set(&rg->err, -EIO, "internal error: split range %u [%" PRIu64 ", %" PRIu64
                                  ") does not end on a record boundary; not written further", rg->index,
                                  rg->start, rg->end);
        }
        if (r >= 0) {
                r = ingest_finish(rg->in, &rg->st, &rg->ingest_err);
                if (r < 0)
                        rg->ingest_failed = true;
        } else if (rg->in)
                ingest_get_stats(rg->in, &rg->st);
        if (r >= 0 && rg->writer) {
                r = writer_flush(rg->writer, &rg->write_err);
                if (r < 0)
                        rg->write_failed = true;
        }
        if (rg->writer) {
                writer_drain(rg->writer);
                rg->ws = writer_stats(rg->writer);
        }
        rg->r = r;
        if (r < 0)
                atomic_store(&sp->stop, true);
        return NULL;
}

/* ---- 5. merge ---- */

static int merge_rejects(Range *ranges, unsigned n, Report *report) {
        uint64_t lines_before = 0;

        for (unsigned i = 0; i < n; i++) {
                const Range *rg = &ranges[i];
                size_t at = 0;

                for (uint64_t k = 0; k < rg->logged; k++) {
                        LoggedReject lr;
                        IngestReject rej;
                        const char *p;
                        int r;

                        memcpy(&lr, rg->log.data + at, sizeof(lr));
                        p = rg->log.data + at + sizeof(lr);
                        rej = (IngestReject) { .line = lr.line + lines_before, .column = lr.column,
                                               .raw_truncated = lr.truncated };
                        if (lr.name_len != UINT32_MAX) {
                                rej.column_name = strndup(p, lr.name_len);
                                p += lr.name_len;
                        }
                        rej.reason = strndup(p, lr.reason_len);
                        rej.raw = p + lr.reason_len;
                        rej.raw_len = lr.raw_len;
                        r = rej.reason && (lr.name_len == UINT32_MAX || rej.column_name) ?
                                report_add(report, &rej) : -ENOMEM;
                        free((char *) rej.column_name);
                        free((char *) rej.reason);
                        if (r < 0)
                                return r;
                        at = (size_t) (rej.raw + lr.raw_len - rg->log.data);
                }
                report_add_dropped(report, rg->dropped);
                lines_before += rg->newlines;
        }
        return 0;
}

/* The job's verdict from its ranges, as one stream would have given it: a superseded version
 * first, then shutdown, then the leftmost range's own failure. */
static SplitResult verdict(Split *sp, Range *ranges, unsigned n, S3bError *ret_err) {
        Job *j = sp->job;

        for (unsigned i = 0; i < n; i++)
                if (ranges[i].r == -ESTALE || ranges[i].err.code == -ESTALE) {
                        *ret_err = ranges[i].err;
                        return SPLIT_AWS_FAILED;
                }
        if (sp->env->cancel && atomic_load(sp->env->cancel))
                return SPLIT_CANCELLED;
        for (unsigned i = 0; i < n; i++) {
                Range *rg = &ranges[i];

                if (rg->r >= 0 || rg->r == -ECANCELED)
                        continue;       /* stopped because another range failed */
                return job_read_failure(j, rg->too_many, rg->write_failed ? &rg->write_err : NULL,
                                        rg->ingest_failed ? &rg->ingest_err : NULL, &rg->err, ret_err) ?
                        SPLIT_FILE_FAILED : SPLIT_AWS_FAILED;
        }
        return SPLIT_OK;
}

static SplitResult run_ranges(Split *sp, Report *report, S3bError *ret_err) {
        _cleanup_free_ Range *ranges = calloc(SPLIT_RANGES_MAX, sizeof(Range));
        Job *j = sp->job;
        SplitResult res;
        unsigned started = 0;

        if (!ranges) {
                s3b_error_set(ret_err, -ENOMEM, "out of memory");
                return SPLIT_AWS_FAILED;
        }
        for (unsigned i = 0; i < sp->n; i++) {
                Range *rg = &ranges[i];

                *rg = (Range) { .sp = sp, .index = i, .start = sp->starts[i], .end = sp->starts[i + 1],
                                .log = BUF_INIT(SPLIT_REPORT_MAX / sp->n) };
                if (rg->start == rg->end)
                        continue;       /* handed back to its left neighbour */
                if (pthread_create(&rg->tid, NULL, range_thread, rg) != 0) {
                        rg->r = s3b_error_set(&rg->err, -EAGAIN, "cannot start a thread");
                        atomic_store(&sp->stop, true);
                        continue;
                }
                rg->ran = true;
                started++;
        }
        for (unsigned i = 0; i < sp->n; i++)
                if (ranges[i].ran)
                        pthread_join(ranges[i].tid, NULL);

        j->rows_total = j->rows_written = j->rows_superseded = 0;
        for (unsigned i = 0; i < sp->n; i++) {
                Range *rg = &ranges[i];

                j->rows_total += rg->st.rows_total;
                j->rows_written += rg->ws.written;
                j->rows_superseded += rg->ws.superseded;
                j->consumed_wcu += rg->ws.consumed;
                if (rg->writer)
                        job_report_writes(sp->job, sp->env, &rg->ws);
        }
        res = verdict(sp, ranges, sp->n, ret_err);
        if (merge_rejects(ranges, sp->n, report) < 0 && res == SPLIT_OK) {
                s3b_error_set(ret_err, -ENOMEM, "out of memory");
                res = SPLIT_AWS_FAILED;
        }
        j->rows_rejected = report_count(report);
        for (unsigned i = 0; i < sp->n; i++) {
                writer_free(ranges[i].writer);
                ingest_free(ranges[i].in);
                job_clients_done(&ranges[i].clients);
                buf_done(&ranges[i].log);
        }
        (void) started;
        return res;
}

static void log_plan(const Split *sp) {
        char starts[SPLIT_RANGES_MAX * 24] = "";
        unsigned proven = 0, empty = 0;
        size_t at = 0;

        for (unsigned i = 0; i < sp->n; i++) {
                proven += i > 0 && sp->proven[i];
                empty += sp->starts[i] == sp->starts[i + 1];
                at += (size_t) snprintf(starts + at, sizeof(starts) - at, "%s%" PRIu64, i ? " " : "",
                                        sp->starts[i]);
        }
        log_info_f(sp->env->log, LOG_FIELDS(LOG_STR("BUCKET", sp->job->bucket),
                                            LOG_STR("OBJECT_KEY", sp->job->key)),
                   "Reading s3://%s/%s (%" PRIu64 " bytes) as %u ranges starting at %s: %u start(s) "
                   "proven by a probe, %u from the exact state, %u empty", sp->job->bucket, sp->job->key,
                   sp->size, sp->n, starts, proven, sp->n - 1 - proven, empty);
}

SplitResult split_read(Job *j, const JobEnv *env, const TableShape *table, Report *report, bool write,
                       S3bError *ret_err) {
        Split sp = {
                .job = j, .env = env, .table = table, .write = write,
                .v = { .etag = j->etag, .version_id = j->version_id },
                .size = j->size >= 0 ? (uint64_t) j->size : 0,
                .n = MIN(j->spec->split_workers, SPLIT_RANGES_MAX),
        };
        SplitResult res = SPLIT_UNSPLIT;
        S3bError err = {};
        int r;

        if (!split_wanted(j) || !env->clients)
                return SPLIT_UNSPLIT;
        r = plan_head(&sp, &err);
        if (r > 0)
                r = plan(&sp, &err);
        else if (r == 0)
                goto out;       /* streamed instead */
        if (r < 0) {
                if (r == -ECANCELED || (env->cancel && atomic_load(env->cancel)))
                        res = SPLIT_CANCELLED;
                else {
                        *ret_err = err;
                        res = SPLIT_AWS_FAILED;
                }
                goto out;
        }
        log_plan(&sp);
        res = run_ranges(&sp, report, ret_err);
out:
        j->bytes_read += atomic_load(&sp.bytes);
        free(sp.prefix);
        return res;
}
