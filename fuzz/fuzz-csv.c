/* Fuzz target for the whole file → items path (inflate, csv, schema, item) through ingest.
 *
 * The first byte picks the dialect: delimiter, header or not, small row limits (so the limit
 * paths are reached by short inputs), a typed pipeline instead of the reference one, forced
 * gzip. The rest is the object. It is fed twice, once whole and once cut where the second byte
 * says, and both runs must produce the same items, rejects and verdict — the chunking
 * property as an oracle, not just "does not crash". (When the file fails, only the verdict is
 * compared: rows before a gzip corruption are streamed out as zlib happens to deliver them.) Items must be valid JSON-ish: balanced
 * braces and no raw control characters. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/ingest.h"

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

static void check_json(const char *j, size_t n) {
        int depth = 0;
        bool in_str = false;

        if (strlen(j) != n || n < 2 || j[0] != '{' || j[n - 1] != '}')
                abort();
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) j[i];

                if (c < 0x20)
                        abort();
                if (in_str) {
                        if (c == '\\')
                                i++;
                        else if (c == '"')
                                in_str = false;
                        continue;
                }
                if (c == '"')
                        in_str = true;
                else if (c == '{')
                        depth++;
                else if (c == '}' && --depth < 0)
                        abort();
        }
        if (depth != 0 || in_str)
                abort();
}

static int on_item(void *userdata, const IngestItem *it) {
        Buf *out = userdata;

        check_json(it->json, it->json_len);
        if (it->key_len == 0 || it->size > 400 * 1024)
                abort();
        buf_printf(out, "I%llu:", (unsigned long long) it->line);
        buf_append(out, it->key, it->key_len);
        buf_append(out, it->json, it->json_len);
        return buf_append_char(out, '\n') < 0 ? -1 : 0;
}

static int on_reject(void *userdata, const IngestReject *r) {
        Buf *out = userdata;

        if (!r->reason || (r->raw_len > 0 && !r->raw))
                abort();
        buf_printf(out, "R%llu:%u:%s:", (unsigned long long) r->line, r->column, r->reason);
        buf_append(out, r->raw, r->raw_len);
        return buf_append_char(out, '\n') < 0 ? -1 : 0;
}

static int run(const PipelineSpec *spec, const uint8_t *data, size_t size, size_t cut, Buf *out) {
        static const IngestCallbacks cb = { .on_item = on_item, .on_reject = on_reject };
        Ingest *in = NULL;
        IngestStats st;
        int r;

        if (ingest_new(spec, NULL, "fuzz.csv", &cb, out, &in, NULL) < 0)
                abort();
        r = ingest_feed(in, data, cut, NULL);
        if (r >= 0)
                r = ingest_feed(in, data + cut, size - cut, NULL);
        if (r >= 0)
                r = ingest_finish(in, &st, NULL);
        if (r >= 0 && st.rows_total != st.rows_valid + st.rows_rejected)
                abort();
        buf_printf(out, "=%d\n", r < 0 ? r : 0);
        ingest_free(in);
        return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        PipelineSpec spec;
        Buf whole = BUF_INIT(64 << 20), cut = BUF_INIT(64 << 20);
        int r_whole, r_cut;
        size_t at;

        if (size < 2 || size > 1 << 20)
                return 0;
        make_spec(&spec, data[0]);
        at = data[1] % (size - 1);
        data += 2;
        size -= 2;

        r_whole = run(&spec, data, size, 0, &whole);
        r_cut = run(&spec, data, size, MIN(at, size), &cut);
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
        pipeline_spec_done(&spec);
        return 0;
}
