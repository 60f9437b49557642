/* Fuzz target for the whole file → items path (inflate, csv, schema, item) through ingest.
 *
 * The first byte picks the dialect: delimiter, header or not, small row limits (so the limit
 * paths are reached by short inputs), a typed pipeline instead of the reference one, forced
 * gzip. The rest is the object. It is fed twice, once whole and once cut where the second byte
 * says, and both runs must produce the same items, rejects and verdict — the chunking
 * property as an oracle, not just "does not crash". (When the file fails, only the verdict is
 * compared: rows before a gzip corruption are streamed out as zlib happens to deliver them.)
 * Items must be valid JSON-ish: balanced braces and no raw control characters.
 *
 * Second oracle, for resynchronisation: an independent reference scan of the whole decoded
 * input (a four-state quote tracker, nothing else) lists where each record starts. Every item
 * and every reject must start on the line of the next such record, in order: no row is ever
 * made from the middle of a quoted field, none is lost or split, and a reject's raw bytes are
 * the bytes at that place. When the file succeeds the rows are exactly the non-empty records
 * (less the header); when it fails, a prefix of them. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/inflate.h"
#include "common/ingest.h"
#include "fuzz/fuzz-item.h"

#define ORACLE_MAX_DECODED (32u << 20)  /* past this the oracle checks the rows it scanned */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *xstrdup(const char *s) {
        char *p = strdup(s);

        if (!p)
                abort();
        return p;
}

static void add_column(PipelineSpec *p, const char *name, ColumnType t, bool required) {
        p->columns[p->n_columns++] = (ColumnSpec) { .name = xstrdup(name), .type = t, .required = required };
}

static void make_spec(PipelineSpec *p, uint8_t mode) {
        static const char delims[] = { ',', ';', '|', '\t' };

        *p = (PipelineSpec) { .name = xstrdup("fuzz") };
        csv_spec_init(&p->csv);
        p->csv.delimiter = delims[mode & 3];
        p->csv.header = mode & 4 ? HEADER_ABSENT : HEADER_REQUIRED;
        if (mode & 8)
                p->csv.max_row_bytes = p->csv.max_field_bytes = 48;
        if (mode & 32)
                p->csv.compression = COMPRESSION_GZIP;
        p->csv.null_values = calloc(2, sizeof(char *));
        if (!p->csv.null_values)
                abort();
        p->csv.null_values[p->csv.n_null_values++] = xstrdup("");
        p->csv.null_values[p->csv.n_null_values++] = xstrdup("NULL");
        p->columns = calloc(6, sizeof(ColumnSpec));
        if (!p->columns)
                abort();
        if (mode & 16) {
                static const char *const levels[] = { "UG", "PG" };

                add_column(p, "id", COLUMN_INTEGER, true);
                add_column(p, "at", COLUMN_NUMBER, false);
                add_column(p, "ok", COLUMN_BOOLEAN, false);
                add_column(p, "day", COLUMN_DATE, false);
                add_column(p, "level", COLUMN_ENUM, false);
                p->columns[4].enum_values = calloc(2, sizeof(char *));
                if (!p->columns[4].enum_values)
                        abort();
                for (size_t i = 0; i < 2; i++)
                        p->columns[4].enum_values[p->columns[4].n_enum_values++] = xstrdup(levels[i]);
                p->columns[1].has_min = p->columns[1].has_max = true;
                p->columns[1].min = -1e6;
                p->columns[1].max = 1e6;
                p->partition_key = xstrdup("id");
                p->sort_key = xstrdup("at");
        } else {
                /* the reference pipeline of conf/s3batchd.yaml */
                add_column(p, "student_id", COLUMN_STRING, true);
                add_column(p, "first_name", COLUMN_STRING, true);
                add_column(p, "last_name", COLUMN_STRING, true);
                add_column(p, "course", COLUMN_STRING, true);
                p->columns[0].pattern = xstrdup("^A[0-9]{5}$");
                p->columns[1].max_length = 64;
                p->partition_key = xstrdup("student_id");
                p->sort_key = xstrdup("course");
        }
}

/* The decoded input and where its records start, computed without the parser. */
typedef struct Oracle {
        Buf text;               /* decoded bytes, a leading UTF-8 BOM removed */
        bool complete;          /* the whole input was decoded (no gzip error, under the cap) */
        uint64_t *lines;        /* first physical line of each non-empty record, in order */
        size_t *offsets;        /* ... and its offset in text */
        size_t n, cap;
} Oracle;

static int oracle_collect(void *userdata, const void *data, size_t n) {
        Oracle *o = userdata;

        if (buf_append(&o->text, data, n) < 0) {
                o->complete = false;
                return -ENOBUFS;
        }
        return 0;
}

static void oracle_add(Oracle *o, uint64_t line, size_t start, size_t end) {
        /* an empty line (or only the \r of a CRLF) is no record */
        if (end == start || (end == start + 1 && o->text.data[start] == '\r'))
                return;
        if (o->n == o->cap) {
                o->cap = o->cap ? 2 * o->cap : 64;
                o->lines = realloc(o->lines, o->cap * sizeof(*o->lines));
                o->offsets = realloc(o->offsets, o->cap * sizeof(*o->offsets));
                if (!o->lines || !o->offsets)
                        abort();
        }
        o->lines[o->n] = line;
        o->offsets[o->n++] = start;
}

/* RFC 4180 quoting as the parser documents it (common/csv.h): a quote opens a field only as
 * its first byte, "" inside quotes is a quote, a lone one closes the field and anything after
 * it up to the delimiter is unquoted text. A record ends at a \n outside quotes. */
static void oracle_scan(Oracle *o, char delim) {
        enum { START, UNQUOTED, QUOTED, QUOTE_SEEN } st = START;
        const char *t = o->text.data ? o->text.data : "";
        size_t n = o->text.len, rec = 0;
        uint64_t line = 1, rec_line = 1;

        for (size_t i = 0; i < n; i++) {
                char c = t[i];

                if (c == '\n')
                        line++;
                switch (st) {
                case QUOTED:
                        if (c == '"')
                                st = QUOTE_SEEN;
                        continue;
                case QUOTE_SEEN:
                        if (c == '"') {
                                st = QUOTED;
                                continue;
                        }
                        break;
                case START:
                        if (c == '"') {
                                st = QUOTED;
                                continue;
                        }
                        break;
                case UNQUOTED:
                        break;
                }
                if (c == '\n') {
                        oracle_add(o, rec_line, rec, i);
                        rec = i + 1;
                        rec_line = line;
                        st = START;
                } else
                        st = c == delim ? START : UNQUOTED;
        }
        oracle_add(o, rec_line, rec, n);
}

static void oracle_init(Oracle *o, const PipelineSpec *spec, const uint8_t *data, size_t size) {
        Buf *b = &o->text;

        *o = (Oracle) { .text = BUF_INIT(ORACLE_MAX_DECODED), .complete = true };
        /* the same choice as ingest: forced, or auto on the magic (the key is fuzz.csv) */
        if (spec->csv.compression == COMPRESSION_GZIP ||
            (spec->csv.compression == COMPRESSION_AUTO && gzip_has_magic(data, size))) {
                Inflater *z = NULL;

                if (inflater_new(oracle_collect, o, &z) < 0)
                        abort();
                if (inflater_feed(z, data, size, NULL) < 0 || inflater_finish(z, NULL) < 0)
                        o->complete = false;
                inflater_free(z);
        } else if (buf_append(b, data, size) < 0)
                abort();
        if (b->len >= 3 && memcmp(b->data, "\xef\xbb\xbf", 3) == 0) {
                memmove(b->data, b->data + 3, b->len - 3);
                b->len -= 3;
        }
        oracle_scan(o, spec->csv.delimiter);
        /* a record cut off by a gzip error is not a record the parser will have seen end */
        if (!o->complete && o->n > 0)
                o->n--;
}

static void oracle_done(Oracle *o) {
        buf_done(&o->text);
        free(o->lines);
        free(o->offsets);
}

typedef struct Run {
        Buf *out;
        const Oracle *oracle;
        size_t next;            /* index in oracle->lines of the next row expected */
        size_t max_row;
        bool beyond;            /* a row past what the oracle scanned (it was incomplete) */
} Run;

/* A row (item or reject) starting at `line`: it must be the next record. */
static void check_row_start(Run *run, uint64_t line, const char *raw, size_t raw_len) {
        const Oracle *o = run->oracle;
        size_t i = run->next++;

        if (i >= o->n || run->beyond) {
                if (o->complete)
                        goto bad;
                run->beyond = true;     /* decoded further than the oracle could */
                return;
        }
        if (o->lines[i] != line)
                goto bad;
        if (raw && (raw_len > run->max_row || raw_len > o->text.len - o->offsets[i] ||
                    memcmp(o->text.data + o->offsets[i], raw, raw_len) != 0))
                goto bad;
        return;
bad:
        fprintf(stderr, "row at line %llu is not record #%zu of the reference scan (%s at line %llu)\n",
                (unsigned long long) line, i, i < o->n ? "it starts" : "there are only",
                i < o->n ? (unsigned long long) o->lines[i] : (unsigned long long) o->n);
        abort();
}

static int on_item(void *userdata, const IngestItem *it) {
        Run *run = userdata;
        Buf *out = run->out;

        fuzz_check_item_json(it->json, it->json_len);
        if (it->key_len == 0 || it->size > 400 * 1024)
                abort();
        check_row_start(run, it->line, NULL, 0);
        buf_printf(out, "I%llu:", (unsigned long long) it->line);
        buf_append(out, it->key, it->key_len);
        buf_append(out, it->json, it->json_len);
        return buf_append_char(out, '\n') < 0 ? -1 : 0;
}

static int on_reject(void *userdata, const IngestReject *r) {
        Run *run = userdata;
        Buf *out = run->out;

        if (!r->reason || (r->raw_len > 0 && !r->raw))
                abort();
        check_row_start(run, r->line, r->raw, r->raw_len);
        buf_printf(out, "R%llu:%u:%s:", (unsigned long long) r->line, r->column, r->reason);
        buf_append(out, r->raw, r->raw_len);
        return buf_append_char(out, '\n') < 0 ? -1 : 0;
}

static int run(const PipelineSpec *spec, const Oracle *oracle, const uint8_t *data, size_t size,
               size_t cut, Buf *out) {
        static const IngestCallbacks cb = { .on_item = on_item, .on_reject = on_reject };
        Run rs = {
                .out = out,
                .oracle = oracle,
                /* the header is the first record, and not a row */
                .next = spec->csv.header == HEADER_REQUIRED ? 1 : 0,
                .max_row = spec->csv.max_row_bytes ? spec->csv.max_row_bytes : 400 * 1024,
        };
        Ingest *in = NULL;
        IngestStats st;
        int r;

        if (ingest_new(spec, NULL, "fuzz.csv", &cb, &rs, &in, NULL) < 0)
                abort();
        r = ingest_feed(in, data, cut, NULL);
        if (r >= 0)
                r = ingest_feed(in, data + cut, size - cut, NULL);
        if (r >= 0)
                r = ingest_finish(in, &st, NULL);
        if (r >= 0 && st.rows_total != st.rows_valid + st.rows_rejected)
                abort();
        /* a file that passed: every record came out, none was swallowed */
        if (r >= 0 && oracle->complete && rs.next != oracle->n) {
                fprintf(stderr, "%zu rows came out, the reference scan has %zu records\n", rs.next, oracle->n);
                abort();
        }
        buf_printf(out, "=%d\n", r < 0 ? r : 0);
        ingest_free(in);
        return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        PipelineSpec spec;
        Oracle oracle;
        Buf whole = BUF_INIT(64 << 20), cut = BUF_INIT(64 << 20);
        int r_whole, r_cut;
        size_t at;

        if (size < 2 || size > 1 << 20)
                return 0;
        make_spec(&spec, data[0]);
        at = data[1] % (size - 1);
        data += 2;
        size -= 2;

        oracle_init(&oracle, &spec, data, size);
        r_whole = run(&spec, &oracle, data, size, 0, &whole);
        r_cut = run(&spec, &oracle, data, size, MIN(at, size), &cut);
        /* A file-level failure (corrupt gzip) may surface after a different number of rows
         * depending on where zlib sees the damage; the verdict must still be the same. */
        if (r_whole < 0 && r_cut == r_whole)
                goto finish;
        if (whole.len != cut.len || memcmp(buf_str(&whole), buf_str(&cut), whole.len) != 0) {
                fprintf(stderr, "chunking changed the outcome:\n--- whole\n%s--- cut at %zu\n%s",
                        buf_str(&whole), at, buf_str(&cut));
                abort();
        }
finish:
        buf_done(&whole);
        buf_done(&cut);
        oracle_done(&oracle);
        pipeline_spec_done(&spec);
        return 0;
}
