/* `s3batchd infer-schema FILE [--format csv|jsonl] [--rows N]`: a first draft of a pipeline
 * from a sample of the data, printed as YAML at column 0 to paste under a pipeline (indented):
 * csv: (the sniffed delimiter), columns: (names, the narrowest type every sampled value fits,
 * required when no value was null, max_length rounded up, enum for small value sets) and a
 * suggested key: with a comment saying why. Offline; reads at most SAMPLE_MAX decoded bytes.
 * The draft accepts the rows it was drawn from; later rows may need a wider type. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/csv.h"
#include "common/inflate.h"
#include "common/jsonline.h"
#include "common/schema.h"
#include "daemon/commands.h"

#define SAMPLE_MAX (64u << 20)
#define ROWS_DEFAULT 1000
#define ENUM_MAX 10             /* at most this many distinct values make an enum */
#define MAX_COLS 1024

typedef struct Col {
        char *name;
        uint64_t present, nulls;
        bool not_bool, not_int, not_num, not_date, not_enum, json_obj, json_arr, json_scalar;
        size_t max_len;
        char *values[ENUM_MAX];
        size_t n_values;
        uint64_t *hashes;       /* one per row (0 = null) for the key suggestion */
} Col;

typedef struct Infer {
        Col cols[MAX_COLS];
        size_t n_cols;
        uint64_t rows, max_rows;
        Buf canon;
        bool header_done;
        size_t *map;            /* CSV: field position → column */
        int error;              /* the first failure (-ENOMEM): the draft would be wrong */
} Infer;

static Infer *infer_free(Infer *in) {
        if (!in)
                return NULL;
        for (size_t i = 0; i < in->n_cols; i++) {
                free(in->cols[i].name);
                free(in->cols[i].hashes);
                for (size_t k = 0; k < in->cols[i].n_values; k++)
                        free(in->cols[i].values[k]);
        }
        buf_done(&in->canon);
        free(in->map);
        free(in);
        return NULL;
}
DEFINE_CLEANUP_FUNC(Infer *, infer_free);

static uint64_t hash(const char *p, size_t n) {
        uint64_t h = UINT64_C(14695981039346656037);

        for (size_t i = 0; i < n; i++)
                h = (h ^ (unsigned char) p[i]) * UINT64_C(1099511628211);
        return h ? h : 1;
}

/* The column of that name, added when new; NULL when there are MAX_COLS already or memory
 * ran out (in->error). */
static Col *col_add(Infer *in, const char *name, size_t n) {
        Col *c;

        for (size_t i = 0; i < in->n_cols; i++)
                /* names that differ in case only are one column (header_match case_insensitive) */
                if (strlen(in->cols[i].name) == n && strncasecmp(in->cols[i].name, name, n) == 0)
                        return &in->cols[i];
        if (in->n_cols == MAX_COLS)
                return NULL;
        c = &in->cols[in->n_cols++];
        c->name = strndup(name, n);
        c->hashes = calloc(in->max_rows, sizeof(uint64_t));
        if (!c->name || !c->hashes) {
                in->error = -ENOMEM;
                return NULL;
        }
        return c;
}

/* One non-null text value. */
static void see_text(Infer *in, Col *c, const char *v, size_t n, bool from_json_string) {
        bool b;

        c->present++;
        c->hashes[in->rows] = hash(v, n);
        if (from_json_string || schema_parse_boolean(v, n, &b) || (n == 1 && (v[0] == '0' || v[0] == '1')))
                c->not_bool = true;
        if (schema_parse_number(v, n, true, &in->canon, NULL))
                c->not_int = true;
        if (schema_parse_number(v, n, false, &in->canon, NULL))
                c->not_num = true;
        if (schema_check_date(v, n))
                c->not_date = true;
        c->max_len = MAX(c->max_len, n);
        if (c->not_enum)
                return;
        for (size_t i = 0; i < c->n_values; i++)
                if (strlen(c->values[i]) == n && memcmp(c->values[i], v, n) == 0)
                        return;
        if (c->n_values == ENUM_MAX || n > 64 || memchr(v, '\0', n) || !utf8_is_valid(v, n)) {
                c->not_enum = true;
                return;
        }
        c->values[c->n_values] = strndup(v, n);
        if (!c->values[c->n_values++])
                in->error = -ENOMEM;
}

static bool csv_null(const char *v, size_t n) {
        return n == 0 || (n == 4 && memcmp(v, "NULL", 4) == 0);
}

static int on_csv_row(void *userdata, const CsvRow *row) {
        Infer *in = userdata;

        if (row->error != CSV_ROW_OK)
                return 0;
        if (!in->header_done) {
                in->map = calloc(row->n_fields ? row->n_fields : 1, sizeof(size_t));
                if (!in->map)
                        return -ENOMEM;
                for (size_t i = 0; i < row->n_fields; i++) {
                        Col *c = col_add(in, row->fields[i].data, row->fields[i].len);

                        if (!c)
                                return in->error < 0 ? in->error : -E2BIG;
                        in->map[i] = (size_t) (c - in->cols);
                }
                in->header_done = true;
                return 0;
        }
        if (in->rows == in->max_rows)
                return 0;
        if (row->n_fields != in->n_cols)
                return 0;       /* `validate` will say why; it is no sample of the shape */
        for (size_t i = 0; i < row->n_fields; i++) {
                Col *c = &in->cols[in->map[i]];

                if (csv_null(row->fields[i].data, row->fields[i].len))
                        c->nulls++;
                else
                        see_text(in, c, row->fields[i].data, row->fields[i].len, false);
        }
        in->rows++;
        return in->error;
}

static void on_json_line(Infer *in, JsonLine *jl, const char *line, size_t n) {
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        const char *why, *t;
        const cJSON *ch;
        size_t tn;

        if (in->rows == in->max_rows || json_line_parse(jl, line, n, &root, &why) != 0 ||
            !cJSON_IsObject(root))
                return;
        cJSON_ArrayForEach(ch, root) {
                Col *c = col_add(in, ch->string, strlen(ch->string));

                if (!c && in->error < 0)
                        return;
                if (!c)
                        continue;
                if (cJSON_IsNull(ch)) {
                        c->nulls++;
                        continue;
                }
                if (json_number_text(ch, &t, &tn)) {
                        see_text(in, c, t, tn, false);
                        c->not_bool = c->not_date = c->not_enum = true;
                        c->json_scalar = true;
                } else if (json_is_text(ch)) {
                        see_text(in, c, ch->valuestring, strlen(ch->valuestring), true);
                        /* a JSON string column takes strings only: not a number column */
                        c->not_int = c->not_num = true;
                        c->json_scalar = true;
                } else if (cJSON_IsBool(ch)) {
                        see_text(in, c, cJSON_IsTrue(ch) ? "true" : "false", 4 + !cJSON_IsTrue(ch), false);
                        c->not_int = c->not_num = c->not_date = c->not_enum = true;
                        c->not_bool = false;
                        c->json_scalar = true;
                } else {
                        char *txt = cJSON_PrintUnformatted(ch);

                        c->present++;
                        c->hashes[in->rows] = txt ? hash(txt, strlen(txt)) : 1;
                        free(txt);
                        *(cJSON_IsObject(ch) ? &c->json_obj : &c->json_arr) = true;
                }
        }
        in->rows++;
}

static int collect(void *userdata, const void *data, size_t n) {
        Buf *b = userdata;

        if (b->len + n > SAMPLE_MAX)
                n = SAMPLE_MAX - b->len;
        return n ? buf_append(b, data, n) : 0;
}

static int read_sample(const char *file, Buf *out) {
        _cleanup_close_ int fd = strcmp(file, "-") ? open(file, O_RDONLY | O_CLOEXEC) : -1;
        Inflater *z = NULL;
        char chunk[65536];
        bool first = true;
        int r = 0;

        if (strcmp(file, "-") && fd < 0) {
                r = -errno;
                fprintf(stderr, "infer-schema: cannot open %s: %s\n", file, strerror(-r));
                return r;
        }
        for (;;) {
                ssize_t n = read(fd >= 0 ? fd : STDIN_FILENO, chunk, sizeof(chunk));

                if (n <= 0 || out->len >= SAMPLE_MAX)
                        break;
                if (first && gzip_has_magic(chunk, (size_t) n) && inflater_new(collect, out, &z) < 0)
                        return -ENOMEM;
                first = false;
                r = z ? inflater_feed(z, chunk, (size_t) n, NULL) : collect(out, chunk, (size_t) n);
                if (r < 0)
                        break;
        }
        inflater_free(z);
        /* a cut-off sample loses its last partial line, which would otherwise look short */
        if (out->len >= SAMPLE_MAX)
                while (out->len > 0 && out->data[out->len - 1] != '\n')
                        out->len--;
        return 0;
}

/* The delimiter that splits the first line (outside quotes) most often. */
static char sniff(const char *s, size_t n) {
        static const char cand[] = { ',', ';', '|', '\t' };
        size_t count[4] = {}, best = 0;
        bool q = false;

        for (size_t i = 0; i < n && (q || s[i] != '\n'); i++) {
                if (s[i] == '"')
                        q = !q;
                for (size_t k = 0; !q && k < 4; k++)
                        count[k] += s[i] == cand[k];
        }
        for (size_t k = 1; k < 4; k++)
                if (count[k] > count[best])
                        best = k;
        return cand[best];
}

static void put_q(const char *s) {
        putchar('"');
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;

                if (c == '"' || c == '\\')
                        printf("\\%c", c);
                else if (c < 0x20 || c == 0x7f)
                        printf("\\x%02x", c);
                else
                        putchar(c);
        }
        putchar('"');
}

/* "Student ID" → "student_id": the attribute a loose header name would want. Returns 1 with
 * *ret set, 0 with *ret NULL when the name is already plain, or -ENOMEM. */
static int attribute_for(const char *name, char **ret) {
        char *a = strdup(name);
        bool plain = true;

        *ret = NULL;
        if (!a)
                return -ENOMEM;
        for (char *p = a; *p; p++) {
                if (*p == ' ' || *p == '-') {
                        *p = '_';
                        plain = false;
                } else if (*p >= 'A' && *p <= 'Z') {
                        *p = (char) (*p - 'A' + 'a');
                        plain = false;
                }
        }
        if (plain) {
                free(a);
                return 0;
        }
        *ret = a;
        return 1;
}

static bool mixed(const Col *c) {
        return c->json_obj + c->json_arr + c->json_scalar > 1;
}

static const char *type_of(const Col *c) {
        /* mixed kinds fit no one type: the container is the likelier intent (flagged) */
        if (c->json_obj)
                return "map";
        if (c->json_arr)
                return "list";
        if (c->present == 0)
                return "string";
        if (!c->not_bool)
                return "boolean";
        if (!c->not_int)
                return "integer";
        if (!c->not_num)
                return "number";
        if (!c->not_date)
                return "date";
        /* an enum needs repetition to be a guess worth making */
        if (!c->not_enum && c->n_values <= ENUM_MAX && c->present >= 2 * c->n_values && c->n_values >= 2)
                return "enum";
        return "string";
}

static bool keyable(const Col *c, uint64_t rows) {
        const char *t = type_of(c);

        return c->present == rows && c->nulls == 0 && strcmp(t, "boolean") && strcmp(t, "map") &&
               strcmp(t, "list");
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return (x > y) - (x < y);
}

/* No two rows share the value (or the pair of values) as far as 64-bit hashes tell. */
static bool unique(const Col *a, const Col *b, uint64_t rows) {
        _cleanup_free_ uint64_t *h = malloc((rows ? rows : 1) * sizeof(uint64_t));

        if (!h)
                return false;
        for (uint64_t i = 0; i < rows; i++)
                h[i] = a->hashes[i] * 31 + (b ? b->hashes[i] * UINT64_C(0x9e3779b97f4a7c15) : 0);
        qsort(h, rows, sizeof(*h), cmp_u64);
        for (uint64_t i = 1; i < rows; i++)
                if (h[i] == h[i - 1])
                        return false;
        return true;
}

/* The attribute for c (*tmp holds it when it differs from the name); NULL on -ENOMEM. */
static const char *attr_of(const Col *c, char **tmp) {
        if (attribute_for(c->name, tmp) < 0)
                return NULL;
        return *tmp ? *tmp : c->name;
}

static void put_attr(const Col *c, char **tmp, int *error) {
        const char *a = attr_of(c, tmp);

        if (!a)
                *error = -ENOMEM;
        put_q(a ? a : c->name);
}

static int print_key(const Infer *in) {
        _cleanup_free_ char *a1 = NULL, *a2 = NULL;
        size_t n = MIN(in->n_cols, (size_t) 8);
        int r = 0;

        for (size_t i = 0; i < in->n_cols; i++)
                if (keyable(&in->cols[i], in->rows) && unique(&in->cols[i], NULL, in->rows)) {
                        printf("# suggested key: %s is present and distinct in all %llu sampled rows\nkey:\n  partition: ",
                               in->cols[i].name, (unsigned long long) in->rows);
                        put_attr(&in->cols[i], &a1, &r);
                        putchar('\n');
                        return r;
                }
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < n; j++)
                        if (i != j && keyable(&in->cols[i], in->rows) && keyable(&in->cols[j], in->rows) &&
                            unique(&in->cols[i], &in->cols[j], in->rows)) {
                                printf("# suggested key: no column is distinct on its own; %s with %s is, "
                                       "in all %llu sampled rows\nkey:\n  partition: ",
                                       in->cols[i].name, in->cols[j].name, (unsigned long long) in->rows);
                                put_attr(&in->cols[i], &a1, &r);
                                fputs("\n  sort: ", stdout);
                                put_attr(&in->cols[j], &a2, &r);
                                putchar('\n');
                                return r;
                        }
        printf("# no key suggested: no column or pair of columns is distinct and never null in the sample\n");
        return 0;
}

static size_t round_up(size_t n) {
        size_t r = 8;

        while (r < n && r < 409600)
                r *= 2;
        return MIN(r, (size_t) 409600);
}

static int print_columns(const Infer *in) {
        fputs("columns:\n", stdout);
        for (size_t i = 0; i < in->n_cols; i++) {
                const Col *c = &in->cols[i];
                const char *t = type_of(c);
                _cleanup_free_ char *attr = NULL;

                if (attribute_for(c->name, &attr) < 0)
                        return -ENOMEM;
                if (mixed(c))
                        printf("  # %s: the sample mixes JSON kinds; no one type accepts every row\n", c->name);
                fputs("  - { name: ", stdout);
                put_q(c->name);
                if (attr) {
                        fputs(", attribute: ", stdout);
                        put_q(attr);
                }
                printf(", type: %s", t);
                if (c->present == in->rows && c->nulls == 0 && in->rows > 0)
                        fputs(", required: true", stdout);
                if (strcmp(t, "string") == 0 && c->max_len > 0)
                        printf(", max_length: %zu", round_up(c->max_len));
                if (strcmp(t, "enum") == 0) {
                        fputs(", values: [", stdout);
                        for (size_t k = 0; k < c->n_values; k++) {
                                fputs(k ? ", " : "", stdout);
                                put_q(c->values[k]);
                        }
                        putchar(']');
                }
                fputs(" }\n", stdout);
        }
        return 0;
}

/* --rows and --format: 0, or COMMAND_USAGE with the reason printed. */
static int parse_options(const CommandArgs *a, uint64_t *ret_rows, bool *ret_jsonl) {
        const char *fmt = a->format ? a->format : "csv";
        char *end;

        *ret_rows = ROWS_DEFAULT;
        if (a->rows) {
                unsigned long long v = strtoull(a->rows, &end, 10);

                if (!*a->rows || *end || v == 0 || v > 1000000) {
                        fprintf(stderr, "infer-schema: --rows takes 1 to 1000000\n");
                        return COMMAND_USAGE;
                }
                *ret_rows = v;
        }
        if (strcmp(fmt, "csv") && strcmp(fmt, "jsonl")) {
                fprintf(stderr, "infer-schema: --format takes csv or jsonl\n");
                return COMMAND_USAGE;
        }
        *ret_jsonl = strcmp(fmt, "jsonl") == 0;
        return 0;
}

static int infer_jsonl(Infer *in, const Buf *sample) {
        JsonLine jl;
        size_t at = 0;

        json_line_init(&jl, SAMPLE_MAX * 4);
        while (at < sample->len && in->rows < in->max_rows && in->error >= 0) {
                const char *nl = memchr(sample->data + at, '\n', sample->len - at);
                size_t n = (nl ? (size_t) (nl - sample->data) : sample->len) - at;

                if (at == 0 && n >= 3 && memcmp(sample->data, "\xef\xbb\xbf", 3) == 0)
                        on_json_line(in, &jl, sample->data + 3, n - 3);
                else
                        on_json_line(in, &jl, sample->data + at, n);
                at += n + 1;
        }
        json_line_done(&jl);
        return in->error;
}

/* 0, -ENOMEM, or -EBADMSG when no header row could be read. */
static int infer_csv(Infer *in, const Buf *sample, char delim) {
        CsvOptions o = { .max_fields = MAX_COLS, .delimiter = delim };
        CsvParser *p = NULL;
        int r;

        r = csv_parser_new(&o, on_csv_row, in, &p);
        if (r >= 0)
                r = csv_parser_feed(p, sample->data, sample->len);
        if (r >= 0)
                r = csv_parser_finish(p);
        csv_parser_free(p);
        if (in->error < 0)
                return in->error;
        return r < 0 || !in->header_done ? -EBADMSG : 0;
}

static int print_draft(const Infer *in, const char *file, bool jsonl, char delim) {
        int r;

        printf("# drafted by s3batchd infer-schema from %s (%llu rows sampled): paste under a pipeline\n",
               file, (unsigned long long) in->rows);
        if (jsonl)
                printf("format: jsonl\n");
        printf("csv:\n");
        if (!jsonl) {
                printf("  delimiter: ");
                put_q(delim == '\t' ? "tab" : (char[]) { delim, 0 });
                printf("\n  header: required\n");
        }
        printf("  header_match: case_insensitive\n");
        r = print_columns(in);
        if (r >= 0)
                r = print_key(in);
        return r;
}

/* 0 with the draft printed; COMMAND_USAGE; COMMAND_REJECTED when the sample has no shape to
 * draw (no header, no column); a negative errno when the file cannot be read or memory ran
 * out. */
int cmd_infer_schema(const CommandArgs *a) {
        const char *file = a->operands[0];
        _cleanup_(infer_freep) Infer *in = calloc(1, sizeof(*in));
        _cleanup_(buf_done) Buf sample = BUF_INIT(SAMPLE_MAX + 1);
        bool jsonl = false;
        char delim = ',';
        int r;

        if (!in)
                return -ENOMEM;
        in->canon = (Buf) BUF_INIT(1 << 20);
        r = parse_options(a, &in->max_rows, &jsonl);
        if (r != 0)
                return r;
        r = read_sample(file, &sample);
        if (r < 0)
                return r;
        if (!jsonl)
                delim = sniff(buf_str(&sample), sample.len);
        r = jsonl ? infer_jsonl(in, &sample) : infer_csv(in, &sample, delim);
        if (r == -EBADMSG) {
                fprintf(stderr, "infer-schema: %s: no CSV header row could be read\n", file);
                return COMMAND_REJECTED;
        }
        if (r < 0) {
                fprintf(stderr, "infer-schema: %s: %s\n", file, strerror(-r));
                return r;
        }
        if (in->n_cols == 0) {
                fprintf(stderr, "infer-schema: %s: no columns found in the sample\n", file);
                return COMMAND_REJECTED;
        }
        r = print_draft(in, file, jsonl, delim);
        if (r < 0)
                fprintf(stderr, "infer-schema: %s: %s\n", file, strerror(-r));
        return r;
}
