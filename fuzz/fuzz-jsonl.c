/* Fuzz target for JSON Lines through ingest (inflate, line splitter, jsonline, schema with
 * sets, map, list, defaults and computed attributes). The first byte picks small row limits,
 * forced gzip and a key column type; the rest is the object. It is fed whole and cut where the
 * second byte says: both runs must give the same items, rejects and verdict (the chunking
 * property as an oracle). Every item must be balanced JSON without raw control characters,
 * within DynamoDB's 400 KB, with a key; rows add up. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/ingest.h"
#include "fuzz/fuzz-item.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifndef FUZZ_FORMAT
#define FUZZ_FORMAT FORMAT_JSONL
#endif

static char *xstrdup(const char *s) {
        char *p = strdup(s);

        if (!p)
                abort();
        return p;
}

static void add(PipelineSpec *p, const char *name, ColumnType t, bool required) {
        p->columns[p->n_columns++] = (ColumnSpec) { .name = xstrdup(name), .type = t, .required = required };
}

static void make_spec(PipelineSpec *p, uint8_t mode) {
        *p = (PipelineSpec) { .name = xstrdup("fuzz"), .format = FUZZ_FORMAT };
        csv_spec_init(&p->csv);
        if (mode & 1)
                p->csv.max_row_bytes = p->csv.max_field_bytes = 64;
        if (mode & 2)
                p->csv.compression = COMPRESSION_GZIP;
        p->csv.header_match = (HeaderMatch) ((mode >> 2) % _HEADER_MATCH_MAX);
        p->csv.null_values = calloc(1, sizeof(char *));
        if (!p->csv.null_values)
                abort();
        p->csv.null_values[p->csv.n_null_values++] = xstrdup("NULL");
        p->partition_key = xstrdup("id");
        if (FUZZ_FORMAT == FORMAT_DDB_JSON) {
                if (mode & 16)
                        p->sort_key = xstrdup("sk");
                return;
        }
        p->columns = calloc(8, sizeof(ColumnSpec));
        p->computed = calloc(2, sizeof(ComputedSpec));
        if (!p->columns || !p->computed)
                abort();
        add(p, "id", mode & 16 ? COLUMN_NUMBER : COLUMN_STRING, true);
        add(p, "tags", COLUMN_STRING_SET, false);
        add(p, "nums", COLUMN_NUMBER_SET, false);
        add(p, "meta", COLUMN_MAP, false);
        add(p, "list", COLUMN_LIST, false);
        add(p, "ok", COLUMN_BOOLEAN, false);
        add(p, "day", COLUMN_DATE, false);
        add(p, "nick", COLUMN_STRING, false);
        p->columns[7].default_value = xstrdup("none");
        p->columns[6].keep_null = true;
        p->columns[1].separator = xstrdup(",");
        p->computed[p->n_computed++] = (ComputedSpec) { .attribute = xstrdup("line"), .kind = COMPUTED_SOURCE,
                                                         .source = SOURCE_LINE };
        p->computed[p->n_computed++] = (ComputedSpec) { .attribute = xstrdup("exp"), .kind = COMPUTED_TTL,
                                                         .ttl_column = xstrdup("day"), .add_days = 3 };
        p->sort_key = xstrdup("line");
}

static int on_item(void *userdata, const IngestItem *it) {
        Buf *out = userdata;

        fuzz_check_item_json(it->json, it->json_len);
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
        buf_printf(out, "R%llu:%s:%s:", (unsigned long long) r->line, r->column_name ? r->column_name : "",
                   r->reason);
        buf_append(out, r->raw, r->raw_len);
        return buf_append_char(out, '\n') < 0 ? -1 : 0;
}

static int run(const PipelineSpec *spec, const uint8_t *data, size_t size, size_t cut, Buf *out) {
        static const IngestCallbacks cb = { .on_item = on_item, .on_reject = on_reject };
        const IngestSource src = { .key = "fuzz.jsonl", .etag = "e", .ingested_at = 1767225600 };
        Ingest *in = NULL;
        IngestStats st;
        int r;

        if (ingest_new(spec, NULL, "fuzz.jsonl", &cb, out, &in, NULL) < 0 || ingest_set_source(in, &src) < 0)
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
        /* corrupt gzip may surface after a different number of rows; the verdict must agree */
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
