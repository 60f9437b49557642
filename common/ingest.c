/* Ingest: inflate → csv → schema → item, wired with callbacks.
 *
 * The only buffering is the parser's one-row carry and the inflater's 64 KiB window; the item
 * JSON and key live in buffers reused from row to row. Compression is decided on the first two
 * bytes when the spec says auto and the key does not end in .gz, so those are held back until
 * the second byte arrives (a chunk may be one byte long). */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "common/csv.h"
#include "common/inflate.h"
#include "common/ingest.h"
#include "common/item.h"
#include "common/jsonline.h"
#include "common/schema.h"

typedef enum Mode {
        MODE_DETECT,
        MODE_PLAIN,
        MODE_GZIP,
} Mode;

struct Ingest {
        const PipelineSpec *spec;
        IngestCallbacks cb;
        void *userdata;
        Schema *schema;
        CsvParser *csv;
        Inflater *z;
        Mode mode;
        unsigned char held[2];  /* bytes held back while detecting */
        size_t n_held;
        unsigned char head[2];  /* the first two decoded bytes, for a UTF-16 byte order mark */
        size_t n_head;
        bool header_done;
        bool failed;
        bool verdict_only;      /* items are sized and checked, not written (ingest_set_verdict_only) */
        S3bError *err;          /* the current call's, for the parser callback */
        ItemBuilder item;
        Buf key;
        IngestStats stats;
        /* JSON Lines and ddb-json: the line being gathered (at most max_row_bytes of it) */
        Buf line;
        size_t max_row;
        bool line_long;         /* the line passed max_row_bytes: the rest is skipped */
        uint64_t lines;         /* line breaks seen */
        JsonLine jl;
};

Ingest *ingest_free(Ingest *in) {
        if (!in)
                return NULL;
        csv_parser_free(in->csv);
        inflater_free(in->z);
        schema_free(in->schema);
        item_builder_done(&in->item);
        buf_done(&in->key);
        buf_done(&in->line);
        json_line_done(&in->jl);
        free(in);
        return NULL;
}

static int emit(Ingest *in, const IngestReject *rj) {
        in->stats.rows_rejected++;
        return in->cb.on_reject ? in->cb.on_reject(in->userdata, rj) : 0;
}

static int emit_reject(Ingest *in, const CsvRow *row, unsigned column, const char *column_name,
                       const char *reason) {
        IngestReject rj = {
                .line = row->line,
                .column = column,
                .column_name = column_name,
                .reason = reason,
                .raw = row->raw,
                .raw_len = row->raw_len,
                .raw_truncated = row->raw_truncated,
        };

        return emit(in, &rj);
}

static int emit_item(Ingest *in, uint64_t line) {
        IngestItem it = {
                .json = in->verdict_only ? NULL : in->item.json.data,
                .json_len = in->verdict_only ? 0 : in->item.json.len,
                .key = in->key.data,
                .key_len = in->key.len,
                .line = line,
                .size = in->item.size,
        };

        in->stats.rows_valid++;
        return in->cb.on_item ? in->cb.on_item(in->userdata, &it) : 0;
}

static int on_header(Ingest *in, const CsvRow *row) {
        int r;

        if (row->error != CSV_ROW_OK)
                return s3b_error_set(in->err, -EBADMSG, "line %llu: header row: %s%s",
                                     (unsigned long long) row->line,
                                     csv_row_error_to_string(row->error),
                                     row->error == CSV_ROW_NUL
                                             ? " (a UTF-16 or binary file? convert it to UTF-8)" : "");
        r = schema_bind_header(in->schema, row->fields, row->n_fields, in->err);
        if (r < 0)
                return s3b_error_prefix(in->err, "line %llu", (unsigned long long) row->line);
        in->header_done = true;
        if (in->cb.on_header) {
                r = in->cb.on_header(in->userdata, row->raw, row->raw_len);
                if (r < 0)
                        return s3b_error_set(in->err, r, "line %llu: aborted by the header callback",
                                             (unsigned long long) row->line);
        }
        return 0;
}

/* Verdict only: the one item whose JSON might not have fitted is built in full to know
 * (item_builder_set_size_only()). The schema's row functions start from scratch on each call. */
static bool rebuild_in_full(Ingest *in, int r) {
        if (r != -E2BIG || !in->verdict_only)
                return false;
        item_builder_set_size_only(&in->item, false);
        return true;
}

static int csv_verdict(Ingest *in, const CsvRow *row, SchemaReject *rj) {
        int r = schema_row_at(in->schema, row->fields, row->n_fields, row->line, &in->item, &in->key, rj);

        if (rebuild_in_full(in, r)) {
                r = schema_row_at(in->schema, row->fields, row->n_fields, row->line, &in->item, &in->key, rj);
                item_builder_set_size_only(&in->item, true);
        }
        return r;
}

static int on_row(void *userdata, const CsvRow *row) {
        Ingest *in = userdata;
        SchemaReject rj;
        int r;

        if (in->spec->csv.header == HEADER_REQUIRED && !in->header_done)
                return on_header(in, row);
        /* Everything after the quote is one field: rejecting that "row" would drop every row
         * in it, however many, as a single reject (and its raw is cut at max_row_bytes). */
        if (row->error == CSV_ROW_UNTERMINATED_QUOTE) {
                const char *name = schema_column_name_at(in->schema, row->error_column);

                return s3b_error_set(in->err, -EBADMSG,
                                     "line %llu: column %u%s%s%s: unterminated quoted field: the quote "
                                     "is still open at the end of the file, so the rows after it "
                                     "cannot be told apart",
                                     (unsigned long long) row->line, row->error_column,
                                     name ? " (" : "", name ? name : "", name ? ")" : "");
        }

        in->stats.rows_total++;
        if (row->error != CSV_ROW_OK)
                r = emit_reject(in, row, row->error_column,
                                schema_column_name_at(in->schema, row->error_column),
                                csv_row_error_to_string(row->error));
        else {
                r = csv_verdict(in, row, &rj);
                if (r < 0)
                        return s3b_error_set(in->err, r, "line %llu: %s",
                                             (unsigned long long) row->line, strerror(-r));
                if (r > 0)
                        r = emit_reject(in, row, rj.column, rj.column_name, rj.reason);
                else
                        r = emit_item(in, row->line);
        }
        if (r < 0)
                return s3b_error_set(in->err, r, "line %llu: aborted by the caller",
                                     (unsigned long long) row->line);
        return 0;
}

/* ---- JSON Lines and ddb-json: one value per line ---- */

static bool blank(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
                        return false;
        return true;
}

static int json_verdict(Ingest *in, const cJSON *root, uint64_t line, SchemaReject *sr) {
        return in->spec->format == FORMAT_DDB_JSON
                       ? schema_row_ddb(in->schema, root, &in->item, &in->key, sr)
                       : schema_row_json(in->schema, root, line, &in->item, &in->key, sr);
}

/* One complete line (without its \n): parsed, checked, handed on. */
static int on_line(Ingest *in, uint64_t line) {
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        const char *data = in->line.data ? in->line.data : "";
        size_t n = in->line.len;
        IngestReject rj = { .line = line, .raw = data, .raw_len = n, .raw_truncated = in->line_long };
        SchemaReject sr;
        int r;

        if (n > 0 && data[n - 1] == '\r' && !in->line_long)
                n--;
        /* a UTF-8 byte order mark at the start of the file is no part of the first line */
        if (line == 1 && n >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
                data += 3;
                n -= 3;
        }
        rj.raw = data;
        rj.raw_len = n;
        /* empty lines are skipped, as in CSV; a line cut short is never blank */
        if (!in->line_long && blank(data, n))
                return 0;
        in->stats.rows_total++;
        if (in->line_long) {
                rj.reason = csv_row_error_to_string(CSV_ROW_ROW_TOO_LONG);
                r = emit(in, &rj);
        } else if ((r = json_line_parse(&in->jl, data, n, &root, &rj.reason)) != 0) {
                if (r < 0)
                        return s3b_error_set(in->err, r, "line %llu: %s", (unsigned long long) line, strerror(-r));
                r = emit(in, &rj);
        } else {
                r = json_verdict(in, root, line, &sr);
                if (rebuild_in_full(in, r)) {
                        r = json_verdict(in, root, line, &sr);
                        item_builder_set_size_only(&in->item, true);
                }
                if (r < 0)
                        return s3b_error_set(in->err, r, "line %llu: %s", (unsigned long long) line, strerror(-r));
                if (r > 0) {
                        rj.column_name = sr.column_name;
                        rj.reason = sr.reason;
                        r = emit(in, &rj);
                } else
                        r = emit_item(in, line);
        }
        if (r < 0)
                return s3b_error_set(in->err, r, "line %llu: aborted by the caller", (unsigned long long) line);
        return 0;
}

/* Splits decoded bytes into lines. A line is kept up to max_row_bytes; past that it is a
 * rejected row and the rest of it is skipped without being stored. */
static int lines_feed(Ingest *in, const char *d, size_t n) {
        while (n > 0) {
                const char *nl = memchr(d, '\n', n);
                size_t take = nl ? (size_t) (nl - d) : n, room;
                int r;

                room = in->line.len < in->max_row ? in->max_row - in->line.len : 0;
                if (take > room)
                        in->line_long = true;
                r = buf_append(&in->line, d, MIN(take, room));
                if (r < 0)
                        return s3b_error_set(in->err, r, "line %llu: %s", (unsigned long long) in->lines + 1,
                                             strerror(-r));
                if (!nl)
                        break;
                r = on_line(in, ++in->lines);
                if (r < 0)
                        return r;
                buf_reset(&in->line);
                in->line_long = false;
                d = nl + 1;
                n -= take + 1;
        }
        return 0;
}

static int lines_finish(Ingest *in) {
        int r = 0;

        if (in->line.len > 0 || in->line_long)
                r = on_line(in, ++in->lines);
        buf_reset(&in->line);
        in->line_long = false;
        return r;
}

/* Decoded bytes to the parser. A UTF-16 file is refused on its byte order mark, once, rather
 * than with a "NUL byte" reject on every row (or a header error that does not say why). The
 * mark is checked before any byte reaches the parser, and one byte alone never ends a row. */
static int to_parser(Ingest *in, const void *data, size_t n) {
        const unsigned char *d = data;

        for (size_t i = 0; i < n && in->n_head < 2; i++) {
                in->head[in->n_head++] = d[i];
                if (in->n_head == 2 && ((in->head[0] == 0xff && in->head[1] == 0xfe) ||
                                        (in->head[0] == 0xfe && in->head[1] == 0xff)))
                        return s3b_error_set(in->err, -EBADMSG,
                                             "UTF-16 is not supported (the file starts with the byte "
                                             "order mark %02X %02X); convert it to UTF-8",
                                             in->head[0], in->head[1]);
        }
        in->stats.bytes_decoded += n;
        if (in->spec->format != FORMAT_CSV)
                return lines_feed(in, data, n);
        return csv_parser_feed(in->csv, data, n);
}

static int to_csv(void *userdata, const void *data, size_t n) {
        return to_parser(userdata, data, n);
}

int ingest_new(const PipelineSpec *spec, const TableShape *table, const char *object_key,
               const IngestCallbacks *cb, void *userdata, Ingest **ret, S3bError *err) {
        _cleanup_(ingest_freep) Ingest *in = NULL;
        size_t max_row = spec->csv.max_row_bytes ? spec->csv.max_row_bytes : 400 * 1024;
        size_t names = 0;
        CsvOptions opts = {
                .delimiter = spec->csv.delimiter,
                .max_row_bytes = max_row,
                .max_field_bytes = spec->csv.max_field_bytes,
                .max_fields = MAX((size_t) 1024, 2 * spec->n_columns),
        };
        int r;

        in = calloc(1, sizeof(*in));
        if (!in)
                return s3b_error_set(err, -ENOMEM, "out of memory for the ingest");
        in->spec = spec;
        in->cb = *cb;
        in->userdata = userdata;
        r = schema_new(spec, table, &in->schema, err);
        if (r < 0)
                return r;
        r = csv_parser_new(&opts, on_row, in, &in->csv);
        if (r < 0)
                return s3b_error_set(err, r, "pipeline '%s': invalid CSV delimiter",
                                     spec->name ? spec->name : "");
        for (size_t i = 0; i < spec->n_columns; i++)
                names += strlen(spec->columns[i].name) * JSON_ESCAPE_MAX + 16;
        /* the item can never need more: every value byte escaped, every name once */
        item_builder_init(&in->item, max_row * JSON_ESCAPE_MAX + names + 64);
        buf_init(&in->key, 2 * (max_row + 64));
        buf_init(&in->line, max_row + 1);
        json_line_init(&in->jl, 4 * max_row + 64);
        in->max_row = max_row;
        r = schema_set_source(in->schema, object_key, NULL, (int64_t) time(NULL));
        if (r < 0)
                return s3b_error_set(err, r, "out of memory copying the object key");

        switch (spec->csv.compression) {
        case COMPRESSION_GZIP:
                in->mode = MODE_GZIP;
                break;
        case COMPRESSION_NONE:
                in->mode = MODE_PLAIN;
                break;
        default: {
                size_t kl = object_key ? strlen(object_key) : 0;

                in->mode = kl >= 3 && strcmp(object_key + kl - 3, ".gz") == 0 ? MODE_GZIP
                                                                               : MODE_DETECT;
                break;
        }
        }
        if (in->mode == MODE_GZIP) {
                r = inflater_new(to_csv, in, &in->z);
                if (r < 0)
                        return s3b_error_set(err, r, "gzip: %s", strerror(-r));
        }
        *ret = TAKE_PTR(in);
        return 0;
}

static int push(Ingest *in, const void *data, size_t n) {
        int r;

        if (n == 0)
                return 0;
        if (in->mode == MODE_GZIP)
                r = inflater_feed(in->z, data, n, in->err);
        else
                r = to_parser(in, data, n);
        if (r < 0 && in->err->code == 0)
                s3b_error_set(in->err, r, "CSV parser: %s", strerror(-r));
        return r;
}

/* Settles auto-detection once two bytes are known (or the input ended). */
static int detect(Ingest *in, bool at_end) {
        int r;

        if (in->n_held < 2 && !at_end)
                return 0;
        if (gzip_has_magic(in->held, in->n_held)) {
                r = inflater_new(to_csv, in, &in->z);
                if (r < 0)
                        return s3b_error_set(in->err, r, "gzip: %s", strerror(-r));
                in->mode = MODE_GZIP;
        } else
                in->mode = MODE_PLAIN;
        r = push(in, in->held, in->n_held);
        in->n_held = 0;
        return r;
}

/* How every ingest_feed() and ingest_finish() ends: a failure is final, and the caller's
 * S3bError is borrowed only for the call. */
static int settle(Ingest *in, int r) {
        if (r < 0)
                in->failed = true;
        in->err = NULL;
        return r;
}

static int feed(Ingest *in, const unsigned char *p, size_t n) {
        in->stats.bytes_in += n;
        while (in->mode == MODE_DETECT && n > 0) {
                int r;

                in->held[in->n_held++] = *p++;
                n--;
                r = detect(in, false);
                if (r < 0)
                        return r;
        }
        return push(in, p, n);
}

int ingest_feed(Ingest *in, const void *data, size_t n, S3bError *err) {
        S3bError dummy;

        if (in->failed)
                return s3b_error_set(err, -EINVAL, "ingest already failed");
        in->err = err ? err : &dummy;
        s3b_error_clear(in->err);
        return settle(in, feed(in, data, n));
}

static int finish(Ingest *in) {
        int r;

        if (in->mode == MODE_DETECT) {
                r = detect(in, true);
                if (r < 0)
                        return r;
        }
        if (in->mode == MODE_GZIP && in->z) {
                r = inflater_finish(in->z, in->err);
                if (r < 0)
                        return r;
        }
        r = in->spec->format == FORMAT_CSV ? csv_parser_finish(in->csv) : lines_finish(in);
        if (r < 0)
                return in->err->code == 0 ? s3b_error_set(in->err, r, "CSV parser: %s", strerror(-r))
                                          : r;
        if (in->spec->format == FORMAT_CSV && in->spec->csv.header == HEADER_REQUIRED && !in->header_done)
                return s3b_error_set(in->err, -EBADMSG, "no header row: the file is empty");
        return 0;
}

int ingest_finish(Ingest *in, IngestStats *ret_stats, S3bError *err) {
        S3bError dummy;
        int r;

        if (in->failed)
                r = s3b_error_set(err, -EINVAL, "ingest already failed");
        else {
                in->err = err ? err : &dummy;
                s3b_error_clear(in->err);
                r = finish(in);
        }
        r = settle(in, r);
        in->stats.gzip = in->mode == MODE_GZIP;
        if (ret_stats)
                *ret_stats = in->stats;
        return r;
}

int ingest_set_source(Ingest *in, const IngestSource *src) {
        return schema_set_source(in->schema, src->key, src->etag,
                                 src->ingested_at ? src->ingested_at : (int64_t) time(NULL));
}

void ingest_set_verdict_only(Ingest *in, bool on) {
        in->verdict_only = on;
        item_builder_set_size_only(&in->item, on);
}

void ingest_get_stats(const Ingest *in, IngestStats *ret_stats) {
        *ret_stats = in->stats;
        ret_stats->gzip = in->mode == MODE_GZIP;
}

bool ingest_at_row_start(const Ingest *in) {
        if (in->mode == MODE_GZIP || in->n_held > 0)
                return false;
        if (in->spec->format != FORMAT_CSV)
                return in->line.len == 0 && !in->line_long;
        return csv_parser_at_row_start(in->csv);
}
