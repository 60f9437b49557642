/* Schema: column checks and item marshalling.
 *
 * The per-row path does no allocation once warm: attribute names are escaped once (ItemName),
 * patterns compiled once (Pattern), and the scratch buffers (canonical number, key parts, the
 * reason text) keep their memory from row to row. Numbers are
 * checked by hand rather than with strtod(), which accepts hex, "nan", "inf" and spaces and
 * rounds to a double; DynamoDB keeps up to 38 decimal digits exactly. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/pattern.h"
#include "common/schema.h"
#include "common/tableshape.h"

/* DynamoDB number limits ("Supported data types and naming rules" in the developer guide):
 * positive range 1E-130 to 9.9999999999999999999999999999999999999E+125. */
#define N_MAX_DIGITS 38
#define N_MIN_EXP (-130)
#define N_MAX_EXP 125

typedef struct SchemaColumn {
        const ColumnSpec *spec;
        ItemName name;
        Pattern *pattern;       /* or NULL */
        bool is_key;
        /* DynamoDB's key rules on an S value (tableshape.h), checked only when key_rules */
        bool key_rules;
        unsigned key_max;       /* table key: 2048 (partition) or 1024 (sort); 0 = not one */
        const char *key_what;   /* "partition key", "sort key" */
        char *index;            /* "GSI by_name" when an index key attribute, else NULL */
        unsigned index_max;     /* 2048, or 1024 when some index has it as its sort key */
} SchemaColumn;

struct Schema {
        const PipelineSpec *spec;
        SchemaColumn *columns;
        size_t n_columns;
        int pk, sk;             /* column indexes; sk = -1 without a sort key */
        size_t *map;            /* CSV position → column index */
        size_t n_map;
        Buf canon;              /* canonical number */
        Buf key_pk, key_sk;     /* value-unique numbers for the key */
        Buf reason;
        size_t *null_lens;      /* strlen of each csv.null_values entry */
        uint64_t null_len_mask; /* bit n: some null value is n bytes long (n < 63); bit 63: longer */
};

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

const char *schema_parse_number(const char *v, size_t n, bool integral, Buf *canon, Buf *key) {
        const char *what = integral ? "not an integer" : "not a number";
        size_t i = 0, int_start, int_end, frac_start, frac_end;
        size_t total, first = SIZE_MAX, last = 0, k;
        bool neg = false, has_exp = false, exp_neg = false;
        long exp = 0, e10;

        if (i < n && (v[i] == '+' || v[i] == '-'))
                neg = v[i++] == '-';
        int_start = i;
        while (i < n && is_digit(v[i]))
                i++;
        int_end = frac_start = frac_end = i;
        if (!integral && i < n && v[i] == '.') {
                frac_start = ++i;
                while (i < n && is_digit(v[i]))
                        i++;
                frac_end = i;
        }
        total = (int_end - int_start) + (frac_end - frac_start);
        if (total == 0)
                return what;
        if (!integral && i < n && (v[i] == 'e' || v[i] == 'E')) {
                size_t exp_start;

                has_exp = true;
                i++;
                if (i < n && (v[i] == '+' || v[i] == '-'))
                        exp_neg = v[i++] == '-';
                exp_start = i;
                while (i < n && is_digit(v[i])) {
                        if (exp < 1000000)      /* anything this big is out of range anyway */
                                exp = exp * 10 + (v[i] - '0');
                        i++;
                }
                if (i == exp_start)
                        return what;
                if (exp_neg)
                        exp = -exp;
        }
        if (i != n)
                return what;

        /* digit k of the mantissa, integer digits first, then the fraction's */
#define DIGIT(k) ((k) < int_end - int_start ? v[int_start + (k)] : v[frac_start + (k) - (int_end - int_start)])
        for (k = 0; k < total; k++)
                if (DIGIT(k) != '0') {
                        if (first == SIZE_MAX)
                                first = k;
                        last = k;
                }

        buf_reset(canon);
        if (key)
                buf_reset(key);
        if (first == SIZE_MAX) {
                if (buf_append_char(canon, '0') < 0 || (key && buf_append_char(key, '0') < 0))
                        return "number too long";
                return NULL;
        }
        if (last - first + 1 > N_MAX_DIGITS)
                return "more than 38 significant digits";
        e10 = (long) (int_end - int_start) - (long) first - 1 + exp;
        if (e10 < N_MIN_EXP || e10 > N_MAX_EXP)
                return "magnitude out of DynamoDB's range (1E-130 to 9.99E+125)";

        if (buf_reserve(canon, n + 24) < 0 || (key && buf_reserve(key, n + 24) < 0))
                return "number too long";
        if (neg)
                buf_append_char(canon, '-');
        /* integer part without leading zeros, "0" when there is none */
        {
                size_t int_len = int_end - int_start, s = first < int_len ? first : int_len;

                if (s == int_len)
                        buf_append_char(canon, '0');
                else
                        buf_append(canon, v + int_start + s, int_len - s);
                /* fraction without trailing zeros */
                if (last >= int_len) {
                        buf_append_char(canon, '.');
                        buf_append(canon, v + frac_start, last - int_len + 1);
                }
        }
        if (has_exp && exp != 0)
                buf_printf(canon, "E%ld", exp);

        if (key) {
                if (neg)
                        buf_append_char(key, '-');
                for (k = first; k <= last; k++)
                        buf_append_char(key, DIGIT(k));
                buf_printf(key, "E%ld", e10);
        }
#undef DIGIT
        return NULL;
}

const char *schema_parse_boolean(const char *v, size_t n, bool *ret) {
        static const struct {
                const char *s;
                bool value;
        } words[] = {
                { "true", true }, { "false", false }, { "1", true },
                { "0", false }, { "yes", true }, { "no", false },
        };

        for (size_t i = 0; i < ELEMENTSOF(words); i++)
                if (strlen(words[i].s) == n && strncasecmp(words[i].s, v, n) == 0) {
                        *ret = words[i].value;
                        return NULL;
                }
        return "not a boolean (true/false/1/0/yes/no)";
}

static bool digits_at(const char *v, size_t n, size_t at, size_t count, unsigned *ret) {
        unsigned x = 0;

        if (at + count > n)
                return false;
        for (size_t i = at; i < at + count; i++) {
                if (!is_digit(v[i]))
                        return false;
                x = x * 10 + (unsigned) (v[i] - '0');
        }
        *ret = x;
        return true;
}

static unsigned days_in_month(unsigned y, unsigned m) {
        static const unsigned days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

        return m == 2 && leap ? 29 : days[m - 1];
}

const char *schema_check_date(const char *v, size_t n) {
        const char *bad = "not an ISO 8601 date (YYYY-MM-DD or YYYY-MM-DDThh:mm:ss[.f](Z|±hh:mm))";
        unsigned y, mo, d, h, mi, s, oh, om;
        size_t i;

        if (!digits_at(v, n, 0, 4, &y) || n < 10 || v[4] != '-' || !digits_at(v, n, 5, 2, &mo) ||
            v[7] != '-' || !digits_at(v, n, 8, 2, &d))
                return bad;
        if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
                return "no such calendar day";
        if (n == 10)
                return NULL;
        if (v[10] != 'T' || !digits_at(v, n, 11, 2, &h) || n < 19 || v[13] != ':' ||
            !digits_at(v, n, 14, 2, &mi) || v[16] != ':' || !digits_at(v, n, 17, 2, &s))
                return bad;
        if (h > 23 || mi > 59 || s > 60)        /* 60: a leap second, as RFC 3339 allows */
                return "no such time of day";
        i = 19;
        if (i < n && v[i] == '.') {
                size_t start = ++i;

                while (i < n && is_digit(v[i]))
                        i++;
                if (i == start)
                        return bad;
        }
        if (i < n && v[i] == 'Z')
                return i + 1 == n ? NULL : bad;
        if (i < n && (v[i] == '+' || v[i] == '-')) {
                if (i + 6 != n || !digits_at(v, n, i + 1, 2, &oh) || v[i + 3] != ':' ||
                    !digits_at(v, n, i + 4, 2, &om))
                        return bad;
                if (oh > 23 || om > 59)
                        return "no such UTC offset";
                return NULL;
        }
        return "date-time without a time zone (Z or ±hh:mm)";
}

static ItemType column_item_type(ColumnType t) {
        switch (t) {
        case COLUMN_INTEGER:
        case COLUMN_NUMBER:
                return ITEM_N;
        case COLUMN_BOOLEAN:
                return ITEM_BOOL;
        default:
                return ITEM_S;
        }
}

Schema *schema_free(Schema *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_columns; i++) {
                item_name_done(&s->columns[i].name);
                pattern_free(s->columns[i].pattern);
                free(s->columns[i].index);
        }
        free(s->columns);
        free(s->map);
        free(s->null_lens);
        buf_done(&s->canon);
        buf_done(&s->key_pk);
        buf_done(&s->key_sk);
        buf_done(&s->reason);
        free(s);
        return NULL;
}

static int find_key(const PipelineSpec *spec, const char *name, const char *what, int *ret,
                    S3bError *err) {
        int i = pipeline_spec_column_index(spec, name);

        if (i < 0)
                return s3b_error_set(err, -EINVAL, "pipeline '%s': %s '%s' is not a column",
                                     spec->name ? spec->name : "", what, name);
        if (spec->columns[i].type == COLUMN_BOOLEAN)
                return s3b_error_set(err, -EINVAL,
                                     "pipeline '%s': %s '%s' is boolean; DynamoDB keys are S or N",
                                     spec->name ? spec->name : "", what, name);
        *ret = i;
        return 0;
}

/* Marks the column that writes index key attribute `a` (if any) with the index's rules. */
static int mark_index_attr(Schema *s, const TableIndex *ix, const TableKeyAttr *a, unsigned max) {
        int i = a->name[0] ? pipeline_spec_column_index(s->spec, a->name) : -1;
        SchemaColumn *c;

        if (i < 0)
                return 0;       /* never written: the index is sparse for it */
        c = &s->columns[i];
        /* named after the index with the strictest limit, which the message quotes */
        if (c->index && c->index_max <= max)
                return 0;
        free(c->index);
        if (asprintf(&c->index, "%s %s", table_index_kind(ix), ix->name) < 0) {
                c->index = NULL;
                return -ENOMEM;
        }
        c->index_max = max;
        return 0;
}

/* The per-column key rules: computed once here so a row pays one flag test per field. */
static int setup_key_rules(Schema *s, const TableShape *table) {
        int r;

        s->columns[s->pk].key_max = DYNAMO_PARTITION_KEY_MAX;
        s->columns[s->pk].key_what = "partition key";
        if (s->sk >= 0) {
                s->columns[s->sk].key_max = DYNAMO_SORT_KEY_MAX;
                s->columns[s->sk].key_what = "sort key";
        }
        for (size_t i = 0; table && i < table->n_indexes; i++) {
                const TableIndex *ix = &table->indexes[i];

                r = mark_index_attr(s, ix, &ix->hash, DYNAMO_PARTITION_KEY_MAX);
                if (r >= 0)
                        r = mark_index_attr(s, ix, &ix->range, DYNAMO_SORT_KEY_MAX);
                if (r < 0)
                        return r;
        }
        /* a number key is at most 38 digits, far below both limits, and never empty: only
         * string values need the checks (type mismatches were refused as a whole already) */
        for (size_t i = 0; i < s->n_columns; i++) {
                SchemaColumn *c = &s->columns[i];

                c->key_rules = (c->key_max || c->index) && column_item_type(c->spec->type) == ITEM_S;
        }
        return 0;
}

int schema_new(const PipelineSpec *spec, const TableShape *table, Schema **ret, S3bError *err) {
        _cleanup_(schema_freep) Schema *s = NULL;
        size_t field_max = spec->csv.max_field_bytes ? spec->csv.max_field_bytes
                                                     : spec->csv.max_row_bytes;
        int r;

        if (spec->n_columns == 0 || !spec->partition_key)
                return s3b_error_set(err, -EINVAL, "pipeline '%s' has no columns or no partition key",
                                     spec->name ? spec->name : "");
        if (field_max == 0)
                field_max = 400 * 1024;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->spec = spec;
        s->sk = -1;
        s->columns = calloc(spec->n_columns, sizeof(*s->columns));
        s->map = calloc(spec->n_columns, sizeof(*s->map));
        if (!s->columns || !s->map)
                return -ENOMEM;
        s->n_columns = spec->n_columns;
        for (size_t i = 0; i < spec->n_columns; i++) {
                const ColumnSpec *cs = &spec->columns[i];
                SchemaColumn *c = &s->columns[i];

                c->spec = cs;
                r = item_name_init(&c->name, cs->name);
                if (r < 0)
                        return r;
                if (cs->type == COLUMN_STRING && cs->pattern) {
                        char msg[128] = "";

                        r = pattern_new(cs->pattern, &c->pattern, msg, sizeof(msg));
                        if (r == -EINVAL)
                                return s3b_error_set(err, -EINVAL, "column '%s': pattern '%s': %s",
                                                     cs->name, cs->pattern, msg);
                        if (r < 0)
                                return r;
                }
                s->map[i] = i;
        }
        s->n_map = spec->n_columns;
        s->null_lens = calloc(spec->csv.n_null_values + 1, sizeof(*s->null_lens));
        if (!s->null_lens)
                return -ENOMEM;
        for (size_t i = 0; i < spec->csv.n_null_values; i++) {
                s->null_lens[i] = strlen(spec->csv.null_values[i]);
                s->null_len_mask |= UINT64_C(1) << MIN(s->null_lens[i], (size_t) 63);
        }
        r = find_key(spec, spec->partition_key, "partition key", &s->pk, err);
        if (r < 0)
                return r;
        s->columns[s->pk].is_key = true;
        if (spec->sort_key) {
                r = find_key(spec, spec->sort_key, "sort key", &s->sk, err);
                if (r < 0)
                        return r;
                s->columns[s->sk].is_key = true;
        }
        if (table) {
                r = table_shape_check_spec(table, spec, err);
                if (r < 0)
                        return r;
        }
        r = setup_key_rules(s, table);
        if (r < 0)
                return r;
        /* small now, grown to the longest value seen: the row path soon stops allocating */
        buf_init(&s->canon, field_max + 32);
        buf_init(&s->key_pk, field_max + 32);
        buf_init(&s->key_sk, field_max + 32);
        buf_init(&s->reason, 1024);
        if (buf_reserve(&s->canon, 64) < 0 ||
            buf_reserve(&s->key_pk, 64) < 0 || buf_reserve(&s->key_sk, 64) < 0 ||
            buf_reserve(&s->reason, 256) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(s);
        return 0;
}

size_t schema_n_columns(const Schema *s) {
        return s->n_columns;
}

const char *schema_column_name_at(const Schema *s, unsigned column) {
        if (column == 0 || column > s->n_map)
                return NULL;
        return s->columns[s->map[column - 1]].spec->name;
}

static void list_add(Buf *b, const char *name, size_t len) {
        buf_printf(b, "%s'%.*s'", b->len ? ", " : "", (int) MIN(len, (size_t) 128), name);
}

int schema_bind_header(Schema *s, const CsvField *fields, size_t n, S3bError *err) {
        _cleanup_free_ size_t *map = NULL;
        _cleanup_free_ bool *seen = NULL;
        Buf missing = BUF_INIT(2048), unknown = BUF_INIT(2048), repeated = BUF_INIT(2048);
        int r = 0;

        map = calloc(n ? n : 1, sizeof(*map));
        seen = calloc(s->n_columns, sizeof(*seen));
        if (!map || !seen)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                size_t j;

                for (j = 0; j < s->n_columns; j++) {
                        const char *name = s->columns[j].spec->name;

                        if (strlen(name) == fields[i].len &&
                            strncasecmp(name, fields[i].data, fields[i].len) == 0)
                                break;
                }
                if (j == s->n_columns)
                        list_add(&unknown, fields[i].data, fields[i].len);
                else if (seen[j])
                        list_add(&repeated, fields[i].data, fields[i].len);
                else {
                        seen[j] = true;
                        map[i] = j;
                }
        }
        for (size_t j = 0; j < s->n_columns; j++)
                if (!seen[j])
                        list_add(&missing, s->columns[j].spec->name, strlen(s->columns[j].spec->name));
        if (missing.len || unknown.len || repeated.len) {
                r = s3b_error_set(err, -EBADMSG,
                                  "header does not match the columns of pipeline '%s':%s%s%s%s%s%s",
                                  s->spec->name ? s->spec->name : "",
                                  missing.len ? " missing: " : "", buf_str(&missing),
                                  unknown.len ? (missing.len ? "; unknown: " : " unknown: ") : "",
                                  buf_str(&unknown),
                                  repeated.len ? (missing.len || unknown.len ? "; repeated: " : " repeated: ") : "",
                                  buf_str(&repeated));
                goto finish;
        }
        free(s->map);
        s->map = TAKE_PTR(map);
        s->n_map = n;
finish:
        buf_done(&missing);
        buf_done(&unknown);
        buf_done(&repeated);
        return r;
}

/* Runs for every field: most values are ruled out by their length alone. */
static bool is_null(const Schema *s, const CsvField *f) {
        const CsvSpec *csv = &s->spec->csv;

        if (!(s->null_len_mask & (UINT64_C(1) << MIN(f->len, (size_t) 63))))
                return false;
        for (size_t i = 0; i < csv->n_null_values; i++)
                if (s->null_lens[i] == f->len && memcmp(csv->null_values[i], f->data, f->len) == 0)
                        return true;
        return false;
}

static bool check_bounds(Schema *s, const ColumnSpec *cs, const Buf *canon, const char **ret) {
        double x;

        if (!cs->has_min && !cs->has_max)
                return true;
        x = strtod(canon->data, NULL);
        if (cs->has_min && x < cs->min) {
                *ret = "below the minimum";
                return false;
        }
        if (cs->has_max && x > cs->max) {
                *ret = "above the maximum";
                return false;
        }
        return true;
}

/* Key bytes: "<S|N><length>:<value>" per key attribute; by hand, this runs once per row. */
static int key_append(Buf *key, ItemType t, const char *v, size_t n) {
        char head[32], *p = head + sizeof(head);
        size_t x = n, hl;
        int r;

        *--p = ':';
        do
                *--p = (char) ('0' + x % 10);
        while ((x /= 10) > 0);
        *--p = t == ITEM_N ? 'N' : 'S';
        hl = (size_t) (head + sizeof(head) - p);
        if (key->cap - key->len <= hl + n) {
                r = buf_reserve(key, hl + n);
                if (r < 0)
                        return r;
        }
        memcpy(key->data + key->len, p, hl);
        memcpy(key->data + key->len + hl, v, n);
        key->len += hl + n;
        key->data[key->len] = '\0';
        return 0;
}

/* Formats a reason into the schema's buffer (valid until the next row). */
static const char *reason(Schema *s, const char *fmt, ...) _printf_(2, 3);
static const char *reason(Schema *s, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        if (vsnprintf(s->reason.data, s->reason.cap, fmt, ap) < 0)
                s->reason.data[0] = '\0';
        va_end(ap);
        return s->reason.data;
}

/* Checks one non-null value against its column. 0 with the value as DynamoDB gets it in
 * *ret_v (possibly normalised, in a scratch buffer), 1 with *ret_why, or < 0. */
static int check_value(Schema *s, const SchemaColumn *c, const CsvField *f, const char **ret_v,
                       size_t *ret_len, const char **ret_why) {
        const ColumnSpec *cs = c->spec;
        const char *why = NULL;
        bool b = false;
        int r;

        *ret_v = f->data;
        *ret_len = f->len;
        switch (cs->type) {
        case COLUMN_STRING:
                if (cs->max_length && f->len > cs->max_length)
                        why = reason(s, "longer than %zu bytes (%zu)", cs->max_length, f->len);
                else if (c->pattern) {
                        /* POSIX regexes cannot see past a NUL; such a value never matches
                         * rather than matching on its prefix */
                        if (memchr(f->data, '\0', f->len))
                                why = "contains a NUL byte";
                        else {
                                r = pattern_match(c->pattern, f->data, f->len);
                                if (r < 0)
                                        return r;
                                if (r == 0)
                                        why = reason(s, "does not match pattern %s", cs->pattern);
                        }
                }
                break;
        case COLUMN_INTEGER:
        case COLUMN_NUMBER:
                why = schema_parse_number(f->data, f->len, cs->type == COLUMN_INTEGER, &s->canon, NULL);
                if (!why)
                        check_bounds(s, cs, &s->canon, &why);
                *ret_v = s->canon.data;
                *ret_len = s->canon.len;
                break;
        case COLUMN_BOOLEAN:
                why = schema_parse_boolean(f->data, f->len, &b);
                if (!why) {
                        *ret_v = b ? "true" : "false";
                        *ret_len = b ? 4 : 5;
                }
                break;
        case COLUMN_DATE:
                why = schema_check_date(f->data, f->len);
                break;
        case COLUMN_ENUM:
                why = "not one of the enum values";
                for (size_t k = 0; k < cs->n_enum_values; k++)
                        if (strlen(cs->enum_values[k]) == f->len &&
                            memcmp(cs->enum_values[k], f->data, f->len) == 0) {
                                why = NULL;
                                break;
                        }
                break;
        default:
                why = "unsupported column type";
                break;
        }
        *ret_why = why;
        return why ? 1 : 0;
}

/* The dedup key from the key fields (pk always set: the binding covers every column and
 * null or empty keys were rejected). 0, 1 (ret_why), or < 0. */
static int build_key(Schema *s, const CsvField *pk, const CsvField *sk, Buf *key, const char **ret_why) {
        buf_reset(key);
        for (int k = 0; k < 2; k++) {
                const CsvField *f = k == 0 ? pk : sk;
                const ColumnSpec *cs;
                ItemType t;
                int r;

                if (!f)
                        continue;
                cs = s->columns[k == 0 ? s->pk : s->sk].spec;
                t = column_item_type(cs->type);
                if (t == ITEM_N) {
                        Buf *kb = k == 0 ? &s->key_pk : &s->key_sk;

                        if (schema_parse_number(f->data, f->len, cs->type == COLUMN_INTEGER, &s->canon, kb)) {
                                *ret_why = "key is not a number";
                                return 1;
                        }
                        r = key_append(key, t, kb->data, kb->len);
                } else
                        r = key_append(key, t, f->data, f->len);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* DynamoDB's length and emptiness rules for a key or index key S value (tableshape.h):
 * a row that breaks them would fail its whole BatchWriteItem with a ValidationException. */
static const char *key_rules(Schema *s, const SchemaColumn *c, size_t n) {
        if (c->key_max && n > c->key_max)
                return reason(s, "%s %s is %zu bytes; DynamoDB allows %u", c->key_what,
                              c->spec->name, n, c->key_max);
        if (!c->index)
                return NULL;
        if (n == 0)
                return reason(s, "%s key %s is empty", c->index, c->spec->name);
        if (n > c->index_max)
                return reason(s, "%s key %s is %zu bytes; DynamoDB allows %u", c->index,
                              c->spec->name, n, c->index_max);
        return NULL;
}

int schema_row(Schema *s, const CsvField *fields, size_t n, ItemBuilder *item, Buf *key,
               SchemaReject *ret_reject) {
        const CsvField *pk = NULL, *sk = NULL;
        const char *why = NULL;
        size_t pos = 0;
        int r;

        if (n != s->n_map) {
                pos = MIN(n, s->n_map) + 1;
                why = reason(s, "expected %zu fields, found %zu", s->n_map, n);
                goto reject;
        }
        r = item_begin(item);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                const CsvField *f = &fields[i];
                const SchemaColumn *c = &s->columns[s->map[i]];
                const char *v;
                size_t vlen;

                pos = i + 1;
                if (is_null(s, f)) {
                        if (c->is_key || c->spec->required) {
                                why = c->is_key ? "key attribute is null" : "required value is null";
                                goto reject;
                        }
                        continue;
                }
                r = check_value(s, c, f, &v, &vlen, &why);
                if (r < 0)
                        return r;
                if (r > 0)
                        goto reject;
                if (c->is_key) {
                        if (f->len == 0) {
                                why = "key attribute is empty";
                                goto reject;
                        }
                        if (s->map[i] == (size_t) s->pk)
                                pk = f;
                        else
                                sk = f;
                }
                if (c->key_rules && (why = key_rules(s, c, vlen)))
                        goto reject;
                r = item_add(item, &c->name, column_item_type(c->spec->type), v, vlen);
                if (r == -ENOBUFS) {
                        pos = 0;
                        why = "item too large";
                        goto reject;
                }
                if (r < 0)
                        return r;
        }
        pos = 0;
        r = item_end(item);
        if (r == -ENOBUFS) {
                why = "item too large";
                goto reject;
        }
        if (r < 0)
                return r;
        if (item->size > ITEM_MAX_SIZE) {
                why = reason(s, "item is %zu bytes, over DynamoDB's 400 KB limit", item->size);
                goto reject;
        }
        r = build_key(s, pk, sk, key, &why);
        if (r <= 0)
                return r;
reject:
        *ret_reject = (SchemaReject) {
                .column = (unsigned) pos,
                .column_name = pos > 0 ? schema_column_name_at(s, (unsigned) pos) : NULL,
                .reason = why,
        };
        return 1;
}
