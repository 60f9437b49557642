/* Schema: column checks and item marshalling.
 *
 * The per-row path does no allocation once warm: attribute names are escaped once (ItemName),
 * patterns compiled once (Pattern), and the scratch buffers (canonical number, key parts, the
 * reason text) keep their memory from row to row. Numbers are
 * checked by hand rather than with strtod(), which accepts hex, "nan", "inf" and spaces and
 * rounds to a double; DynamoDB keeps up to 38 decimal digits exactly. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/ddbvalue.h"
#include "common/jsonline.h"
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
        ItemName name;          /* the attribute's (column_spec_attribute()) */
        const char *sep;        /* sets: the separator */
        size_t sep_len;
        Pattern *pattern;       /* or NULL */
        size_t *enum_lens;      /* enum: strlen of each value (no strlen per value per row) */
        bool is_key;
        ItemType item_type;     /* column_item_type() of its type, once */
        /* DynamoDB's key rules on an S value (tableshape.h), checked only when key_rules */
        bool key_rules;
        unsigned key_max;       /* table key: 2048 (partition) or 1024 (sort); 0 = not one */
        const char *key_what;   /* "partition key", "sort key" */
        char *index;            /* "GSI by_name" when an index key attribute, else NULL */
        unsigned index_max;     /* 2048, or 1024 when some index has it as its sort key */
} SchemaColumn;

/* One column's value in the row being checked, whatever the format. */
typedef struct SchemaCell {
        const char *data;       /* the text (a JSON number's literal, "true"/"false") */
        size_t len;
        const cJSON *json;      /* JSON Lines: an array or object value, else NULL */
        bool null;
        unsigned pos;           /* 1-based CSV field position; 0 in JSON Lines */
} SchemaCell;

typedef struct SchemaComputed {
        const ComputedSpec *spec;
        ItemName name;
        int ttl_col;            /* TTL from this date column, -1 = from ingested_at */
        const char *key_what;   /* "partition key" / "sort key", NULL when not a key */
        unsigned key_max;
        char num[32];           /* the row's N value (line, TTL) */
} SchemaComputed;

/* A key part as the dedup key wants it. */
typedef struct KeyPart {
        char type;              /* 'S', 'N', 'B'; 0 = not set */
        const char *v;
        size_t n;
        bool ready;             /* N: its value-unique form is already in key_pk / key_sk */
} KeyPart;

/* ddb-json: DynamoDB's rules for one key or index key attribute, from the pipeline's key and
 * (when given) the table's shape, kept because each row carries its own types. */
typedef struct DdbKeyRule {
        char name[TABLE_NAME_MAX + 1];
        char type;              /* 'S', 'N', 'B' declared by the table; 0 = unknown (no table) */
        unsigned max;           /* 2048 or 1024 */
        char what[TABLE_NAME_MAX + 32];
        int key;                /* 0 partition key, 1 sort key, -1 an index key (may be absent) */
} DdbKeyRule;

struct Schema {
        const PipelineSpec *spec;
        SchemaColumn *columns;
        size_t n_columns;
        int pk, sk;             /* column indexes; -1 when the key is computed (or no sort key) */
        int pk_comp, sk_comp;   /* computed indexes of the key, or -1 */
        size_t *map;            /* CSV position → column index */
        size_t n_map;
        SchemaCell *cells;      /* per column */
        size_t *order;          /* columns in the order the row gives them (JSON: configured) */
        SchemaComputed *computed;
        size_t n_computed;
        char *src_key, *src_etag;       /* the object's, or NULL when unknown */
        int64_t ingested_at;            /* epoch seconds */
        char ingested_iso[32];
        Buf av;                 /* scratch: one set/map/list AttributeValue */
        Buf setkeys;            /* scratch: number set elements' comparable forms */
        KeyPart parts[2];
        void *spans;            /* scratch: set element spans */
        size_t spans_cap;
        JsonLine jl;            /* map/list cells given as JSON text */
        DdbConv conv;
        DdbKeyRule *ddb_rules;
        size_t n_ddb_rules;
        const char *why_column; /* JSON Lines: the column a reject is about */
        Buf canon;              /* canonical number */
        size_t num_size;        /* its DynamoDB size (item_number_size()) */
        Buf key_pk, key_sk;     /* value-unique numbers for the key (KeyPart.ready) */
        Buf elem_key;           /* scratch: a number set element's value-unique form */
        Buf reason;
        size_t *null_lens;      /* strlen of each csv.null_values entry */
        uint64_t null_len_mask; /* bit n: some null value is n bytes long (n < 63); bit 63: longer */
};

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

/* "E<exp>" by hand at d (room reserved), returning the end: buf_printf's vsnprintf was a fifth
 * of validate's time on a file with numeric keys (it runs for every number key, once per row). */
static char *put_exp(char *d, long exp) {
        char tmp[24], *p = tmp + sizeof(tmp);
        unsigned long x = exp < 0 ? 0ul - (unsigned long) exp : (unsigned long) exp;

        do
                *--p = (char) ('0' + x % 10);
        while ((x /= 10) > 0);
        if (exp < 0)
                *--p = '-';
        *--p = 'E';
        memcpy(d, p, (size_t) (tmp + sizeof(tmp) - p));
        return d + (tmp + sizeof(tmp) - p);
}

/* buf_reset() and buf_reserve() for the per-number path, the common case without a call. */
static inline void buf_reset_fast(Buf *b) {
        b->len = 0;
        if (b->data)
                b->data[0] = '\0';
}

static inline int buf_room(Buf *b, size_t n) {
        return b->cap - b->len > n ? 0 : buf_reserve(b, n);
}

/* Ends b's text at d, which points into its reserved room. */
static void buf_end_at(Buf *b, char *d) {
        b->len = (size_t) (d - b->data);
        b->data[b->len] = '\0';
}

/* A number's text taken apart: where its integer and fraction digits are, its sign and its
 * exponent. Digit k of the mantissa is the integer digits first, then the fraction's. */
typedef struct NumText {
        const char *v;
        size_t int_start, int_end, frac_start, frac_end;
        size_t first, last;     /* mantissa digits: the first and last non-zero (SIZE_MAX: none) */
        long exp;
        bool neg, has_exp;
} NumText;

static inline char num_digit(const NumText *t, size_t k) {
        size_t int_len = t->int_end - t->int_start;

        return k < int_len ? t->v[t->int_start + k] : t->v[t->frac_start + k - int_len];
}

/* Digits from v[*io_i] on, the k-th of the mantissa first: notes the first and last non-zero. */
static void num_digits(const char *v, size_t n, size_t *io_i, size_t k, NumText *t) {
        size_t i = *io_i;

        for (; i < n && is_digit(v[i]); i++, k++)
                if (v[i] != '0') {
                        if (t->first == SIZE_MAX)
                                t->first = k;
                        t->last = k;
                }
        *io_i = i;
}

/* [+-]digits[.digits][(e|E)[+-]digits], the fraction and exponent only when !integral. False
 * when v is not one. The significant digits are found in the same pass. */
static bool num_lex(const char *v, size_t n, bool integral, NumText *t) {
        size_t i = 0;

        *t = (NumText) { .v = v, .first = SIZE_MAX };
        if (i < n && (v[i] == '+' || v[i] == '-'))
                t->neg = v[i++] == '-';
        t->int_start = i;
        num_digits(v, n, &i, 0, t);
        t->int_end = t->frac_start = t->frac_end = i;
        if (!integral && i < n && v[i] == '.') {
                t->frac_start = ++i;
                num_digits(v, n, &i, t->int_end - t->int_start, t);
                t->frac_end = i;
        }
        if (t->int_end == t->int_start && t->frac_end == t->frac_start)
                return false;
        if (!integral && i < n && (v[i] == 'e' || v[i] == 'E')) {
                size_t exp_start;
                bool exp_neg = false;

                t->has_exp = true;
                i++;
                if (i < n && (v[i] == '+' || v[i] == '-'))
                        exp_neg = v[i++] == '-';
                exp_start = i;
                while (i < n && is_digit(v[i])) {
                        if (t->exp < 1000000)   /* anything this big is out of range anyway */
                                t->exp = t->exp * 10 + (v[i] - '0');
                        i++;
                }
                if (i == exp_start)
                        return false;
                if (exp_neg)
                        t->exp = -t->exp;
        }
        return i == n;
}

/* The canonical text: sign, the integer part without leading zeros ("0" when there is none),
 * the fraction without trailing zeros, the exponent as written. first/last: the first and
 * last non-zero mantissa digits. Written at d, in room reserved (the text's length + 24),
 * byte by byte rather than through buf_append(): numbers are short, the calls were most of
 * the cost. Returns the end. */
static char *num_put_canon(const NumText *t, size_t first, size_t last, char *d) {
        size_t int_len = t->int_end - t->int_start, s = first < int_len ? first : int_len;

        if (t->neg)
                *d++ = '-';
        if (s == int_len)
                *d++ = '0';
        for (size_t k = s; k < int_len; k++)
                *d++ = t->v[t->int_start + k];
        if (last >= int_len) {
                *d++ = '.';
                for (size_t k = 0; k < last - int_len + 1; k++)
                        *d++ = t->v[t->frac_start + k];
        }
        if (t->has_exp && t->exp != 0)
                d = put_exp(d, t->exp);
        return d;
}

/* The key form: sign, the significant digits, E and the power of ten of the first. */
static char *num_put_key(const NumText *t, size_t first, size_t last, long e10, char *d) {
        if (t->neg)
                *d++ = '-';
        for (size_t k = first; k <= last; k++)
                *d++ = num_digit(t, k);
        return put_exp(d, e10);
}

/* The common case, a plain integer of 1 to 15 digits without a leading zero: num_lex()'s
 * result without its branches, and the value, an exact double (2^53 > 10^15) equal to what
 * canon_to_double() gives for the canonical text, which is the text itself. False for
 * anything else, which num_lex() takes. */
static bool num_lex_plain(const char *v, size_t n, NumText *t, double *ret_x) {
        uint64_t m = 0;
        size_t last = 0;

        if (n == 0 || n > 15 || v[0] == '0')
                return false;
        for (size_t i = 0; i < n; i++) {
                unsigned d = (unsigned) (unsigned char) v[i] - '0';

                if (d > 9)
                        return false;
                m = m * 10 + d;
                if (d)
                        last = i;
        }
        *t = (NumText) { .v = v, .int_end = n, .frac_start = n, .frac_end = n, .first = 0, .last = last };
        *ret_x = (double) m;
        return true;
}

/* schema_parse_number(), and the number's DynamoDB size (item_number_size()) in *ret_size,
 * from the digits it has found anyway; *ret_x the value when a plain integer gave it for
 * free, else NAN. */
static const char *parse_number(const char *v, size_t n, bool integral, Buf *canon, Buf *key,
                                size_t *ret_size, double *ret_x) {
        size_t first, last;
        NumText t;
        long e10;

        *ret_x = NAN;
        if (!num_lex_plain(v, n, &t, ret_x) && !num_lex(v, n, integral, &t))
                return integral ? "not an integer" : "not a number";
        first = t.first;
        last = t.last;

        buf_reset_fast(canon);
        if (key)
                buf_reset_fast(key);
        if (first == SIZE_MAX) {
                if (buf_append_char(canon, '0') < 0 || (key && buf_append_char(key, '0') < 0))
                        return "number too long";
                *ret_size = item_number_size_digits(0, 1, false);
                return NULL;
        }
        if (last - first + 1 > N_MAX_DIGITS)
                return "more than 38 significant digits";
        e10 = (long) (t.int_end - t.int_start) - (long) first - 1 + t.exp;
        if (e10 < N_MIN_EXP || e10 > N_MAX_EXP)
                return "magnitude out of DynamoDB's range (1E-130 to 9.99E+125)";

        if (buf_room(canon, n + 24) < 0 || (key && buf_room(key, n + 24) < 0))
                return "number too long";
        buf_end_at(canon, num_put_canon(&t, first, last, canon->data));
        if (key)
                buf_end_at(key, num_put_key(&t, first, last, e10, key->data));
        *ret_size = item_number_size_digits(e10, last - first + 1, t.neg);
        return NULL;
}

const char *schema_parse_number(const char *v, size_t n, bool integral, Buf *canon, Buf *key) {
        size_t size;
        double x;

        return parse_number(v, n, integral, canon, key, &size, &x);
}

/* strncasecmp(lower, v, n) == 0 for a lower-case word of n bytes, inline: the call was most of
 * a boolean's cost. ASCII folding only, as strncasecmp() in the C locale the daemon runs in. */
static bool ascii_caseeq(const char *lower, const char *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                char c = v[i];

                if (c >= 'A' && c <= 'Z')
                        c = (char) (c - 'A' + 'a');
                if (c != lower[i])
                        return false;
        }
        return true;
}

const char *schema_parse_boolean(const char *v, size_t n, bool *ret) {
        static const struct {
                const char *s;
                size_t n;
                bool value;
        } words[] = {
                { "true", 4, true }, { "false", 5, false }, { "1", 1, true },
                { "0", 1, false }, { "yes", 3, true }, { "no", 2, false },
        };

        /* lengths kept beside the words: no strlen() per word per value */
        for (size_t i = 0; i < ELEMENTSOF(words); i++)
                if (words[i].n == n && ascii_caseeq(words[i].s, v, n)) {
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

static bool is_collection(ColumnType t) {
        return t == COLUMN_STRING_SET || t == COLUMN_NUMBER_SET || t == COLUMN_MAP || t == COLUMN_LIST;
}

Schema *schema_free(Schema *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_columns; i++) {
                item_name_done(&s->columns[i].name);
                pattern_free(s->columns[i].pattern);
                free(s->columns[i].enum_lens);
                free(s->columns[i].index);
        }
        for (size_t i = 0; i < s->n_computed; i++)
                item_name_done(&s->computed[i].name);
        free(s->computed);
        free(s->columns);
        free(s->map);
        free(s->cells);
        free(s->order);
        free(s->null_lens);
        free(s->src_key);
        free(s->src_etag);
        free(s->spans);
        free(s->ddb_rules);
        buf_done(&s->canon);
        buf_done(&s->key_pk);
        buf_done(&s->key_sk);
        buf_done(&s->elem_key);
        buf_done(&s->reason);
        buf_done(&s->av);
        buf_done(&s->setkeys);
        json_line_done(&s->jl);
        ddb_conv_done(&s->conv);
        free(s);
        return NULL;
}

/* The key attribute `name`: a column's (by attribute name) or a computed one. */
static int find_key(Schema *s, const char *name, const char *what, int *ret_col, int *ret_comp,
                    S3bError *err) {
        const PipelineSpec *spec = s->spec;
        int i = pipeline_spec_attribute_index(spec, name);

        *ret_col = *ret_comp = -1;
        if (i < 0) {
                *ret_comp = pipeline_spec_computed_index(spec, name);
                if (*ret_comp >= 0)
                        return 0;
                return s3b_error_set(err, -EINVAL, "pipeline '%s': %s '%s' is not a column",
                                     spec->name ? spec->name : "", what, name);
        }
        if (table_key_type_of_column(spec->columns[i].type) == 0)
                return s3b_error_set(err, -EINVAL,
                                     "pipeline '%s': %s '%s' is %s; DynamoDB keys are S or N",
                                     spec->name ? spec->name : "", what, name,
                                     column_type_to_string(spec->columns[i].type));
        s->columns[i].is_key = true;
        *ret_col = i;
        return 0;
}

/* Marks the column that writes index key attribute `a` (if any) with the index's rules. */
static int mark_index_attr(Schema *s, const TableIndex *ix, const TableKeyAttr *a, unsigned max,
                           S3bError *err) {
        int i = a->name[0] ? pipeline_spec_attribute_index(s->spec, a->name) : -1;
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
                return s3b_error_set(err, -ENOMEM, "out of memory naming index %s", ix->name);
        }
        c->index_max = max;
        return 0;
}

/* The per-column key rules: computed once here so a row pays one flag test per field. */
static int setup_key_rules(Schema *s, const TableShape *table, S3bError *err) {
        int r;

        if (s->pk >= 0) {
                s->columns[s->pk].key_max = DYNAMO_PARTITION_KEY_MAX;
                s->columns[s->pk].key_what = "partition key";
        } else {
                s->computed[s->pk_comp].key_max = DYNAMO_PARTITION_KEY_MAX;
                s->computed[s->pk_comp].key_what = "partition key";
        }
        if (s->sk >= 0) {
                s->columns[s->sk].key_max = DYNAMO_SORT_KEY_MAX;
                s->columns[s->sk].key_what = "sort key";
        } else if (s->sk_comp >= 0) {
                s->computed[s->sk_comp].key_max = DYNAMO_SORT_KEY_MAX;
                s->computed[s->sk_comp].key_what = "sort key";
        }
        for (size_t i = 0; table && i < table->n_indexes; i++) {
                const TableIndex *ix = &table->indexes[i];

                r = mark_index_attr(s, ix, &ix->hash, DYNAMO_PARTITION_KEY_MAX, err);
                if (r >= 0)
                        r = mark_index_attr(s, ix, &ix->range, DYNAMO_SORT_KEY_MAX, err);
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


/* A computed key attribute whose value is known now — a constant — is checked now: every row
 * would carry the same bad value, so it is the pipeline's fault, not a row's. Key values are
 * 1 to 2048 bytes as a partition key, 1 to 1024 as a sort key (DynamoDB Developer Guide,
 * "Service, account, and table quotas"), index keys included. The other computed values are
 * checked per row (add_computed()); an S3 key is at most 1024 bytes, within every limit. */
static int check_computed_keys(Schema *s, const TableShape *table, S3bError *err) {
        const char *pipeline = s->spec->name ? s->spec->name : "";

        for (size_t i = 0; i < s->n_computed; i++) {
                const SchemaComputed *c = &s->computed[i];
                const char *v = c->spec->constant ? c->spec->constant : "";
                size_t n = strlen(v);

                if (c->spec->kind != COMPUTED_CONSTANT)
                        continue;
                if (c->key_what && (n == 0 || n > c->key_max))
                        return s3b_error_set(err, -EINVAL, "pipeline '%s': %s %s is a constant of %zu bytes; "
                                             "DynamoDB allows 1 to %u", pipeline, c->key_what,
                                             c->spec->attribute, n, c->key_max);
                for (size_t k = 0; table && k < table->n_indexes; k++) {
                        const TableIndex *ix = &table->indexes[k];
                        bool hash = strcmp(ix->hash.name, c->spec->attribute) == 0;
                        unsigned max = hash ? DYNAMO_PARTITION_KEY_MAX : DYNAMO_SORT_KEY_MAX;

                        if ((hash || strcmp(ix->range.name, c->spec->attribute) == 0) && (n == 0 || n > max))
                                return s3b_error_set(err, -EINVAL, "pipeline '%s': %s %s key %s is a constant of "
                                                     "%zu bytes; DynamoDB allows 1 to %u", pipeline,
                                                     table_index_kind(ix), ix->name, c->spec->attribute, n, max);
                }
        }
        return 0;
}

/* ddb-json: the key and index key rules kept for the rows, which carry their own types. */
static int setup_ddb_rules(Schema *s, const TableShape *table, S3bError *err) {
        const PipelineSpec *spec = s->spec;
        size_t n = 2 + (table ? 2 * table->n_indexes : 0);

        s->ddb_rules = calloc(n, sizeof(*s->ddb_rules));
        if (!s->ddb_rules)
                return s3b_error_set(err, -ENOMEM, "out of memory for the key rules");
        for (int k = 0; k < 2; k++) {
                const char *name = k == 0 ? spec->partition_key : spec->sort_key;
                DdbKeyRule *r = &s->ddb_rules[s->n_ddb_rules];

                if (!name)
                        continue;
                snprintf(r->name, sizeof(r->name), "%s", name);
                snprintf(r->what, sizeof(r->what), "%s", k == 0 ? "partition key" : "sort key");
                r->max = k == 0 ? DYNAMO_PARTITION_KEY_MAX : DYNAMO_SORT_KEY_MAX;
                r->type = table ? (k == 0 ? table->hash.type : table->range.type) : 0;
                r->key = k;
                s->n_ddb_rules++;
        }
        for (size_t i = 0; table && i < table->n_indexes; i++) {
                const TableIndex *ix = &table->indexes[i];

                for (int k = 0; k < 2; k++) {
                        const TableKeyAttr *a = k == 0 ? &ix->hash : &ix->range;
                        DdbKeyRule *r = &s->ddb_rules[s->n_ddb_rules++];

                        if (!a->name[0]) {
                                s->n_ddb_rules--;
                                continue;
                        }
                        snprintf(r->name, sizeof(r->name), "%s", a->name);
                        snprintf(r->what, sizeof(r->what), "%s %s key", table_index_kind(ix), ix->name);
                        r->max = k == 0 ? DYNAMO_PARTITION_KEY_MAX : DYNAMO_SORT_KEY_MAX;
                        r->type = a->type;
                        r->key = -1;
                }
        }
        return 0;
}

static int setup_columns(Schema *s, S3bError *err) {
        const PipelineSpec *spec = s->spec;
        int r;

        s->columns = calloc(spec->n_columns ? spec->n_columns : 1, sizeof(*s->columns));
        s->map = calloc(spec->n_columns ? spec->n_columns : 1, sizeof(*s->map));
        s->cells = calloc(spec->n_columns ? spec->n_columns : 1, sizeof(*s->cells));
        s->order = calloc(spec->n_columns ? spec->n_columns : 1, sizeof(*s->order));
        if (!s->columns || !s->map || !s->cells || !s->order)
                return s3b_error_set(err, -ENOMEM, "out of memory for %zu columns", spec->n_columns);
        s->n_columns = spec->n_columns;
        for (size_t i = 0; i < spec->n_columns; i++) {
                const ColumnSpec *cs = &spec->columns[i];
                SchemaColumn *c = &s->columns[i];

                c->spec = cs;
                c->item_type = column_item_type(cs->type);
                r = item_name_init(&c->name, column_spec_attribute(cs));
                if (r < 0)
                        return s3b_error_set(err, r, "column '%s': %s", cs->name, strerror(-r));
                c->sep = cs->separator ? cs->separator : "|";
                c->sep_len = strlen(c->sep);
                if (c->sep_len == 0)
                        return s3b_error_set(err, -EINVAL, "column '%s': empty separator", cs->name);
                if ((cs->type == COLUMN_STRING || cs->type == COLUMN_STRING_SET) && cs->pattern) {
                        char msg[128] = "";

                        r = pattern_new(cs->pattern, &c->pattern, msg, sizeof(msg));
                        if (r == -EINVAL)
                                return s3b_error_set(err, -EINVAL, "column '%s': pattern '%s': %s",
                                                     cs->name, cs->pattern, msg);
                        if (r < 0)
                                return s3b_error_set(err, r, "column '%s': pattern: %s", cs->name,
                                                     strerror(-r));
                }
                if (cs->type == COLUMN_ENUM && cs->n_enum_values) {
                        c->enum_lens = calloc(cs->n_enum_values, sizeof(*c->enum_lens));
                        if (!c->enum_lens)
                                return s3b_error_set(err, -ENOMEM, "out of memory");
                        for (size_t k = 0; k < cs->n_enum_values; k++)
                                c->enum_lens[k] = strlen(cs->enum_values[k]);
                }
                s->map[i] = s->order[i] = i;
        }
        s->n_map = spec->n_columns;
        return 0;
}

static int setup_computed(Schema *s, S3bError *err) {
        const PipelineSpec *spec = s->spec;
        int r;

        s->computed = calloc(spec->n_computed ? spec->n_computed : 1, sizeof(*s->computed));
        if (!s->computed)
                return s3b_error_set(err, -ENOMEM, "out of memory for %zu computed attributes",
                                     spec->n_computed);
        s->n_computed = spec->n_computed;
        for (size_t i = 0; i < spec->n_computed; i++) {
                SchemaComputed *c = &s->computed[i];

                c->spec = &spec->computed[i];
                c->ttl_col = -1;
                r = item_name_init(&c->name, c->spec->attribute);
                if (r < 0)
                        return s3b_error_set(err, r, "computed '%s': %s", c->spec->attribute,
                                             strerror(-r));
                if (c->spec->kind == COMPUTED_TTL && c->spec->ttl_column) {
                        c->ttl_col = pipeline_spec_column_index(spec, c->spec->ttl_column);
                        if (c->ttl_col < 0 || spec->columns[c->ttl_col].type != COLUMN_DATE)
                                return s3b_error_set(err, -EINVAL,
                                                     "computed '%s': ttl.from '%s' is not a date column",
                                                     c->spec->attribute, c->spec->ttl_column);
                }
        }
        return 0;
}

static void format_iso(int64_t t, char buf[static 32]) {
        time_t tt = (time_t) t;
        struct tm tm;

        if (!gmtime_r(&tt, &tm) || strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(buf, 32, "1970-01-01T00:00:00Z");
}

int schema_set_source(Schema *s, const char *key, const char *etag, int64_t ingested_at) {
        char *k = NULL, *e = NULL;

        if ((key && key[0] && !(k = strdup(key))) || (etag && etag[0] && !(e = strdup(etag)))) {
                free(k);
                return -ENOMEM;
        }
        free(s->src_key);
        free(s->src_etag);
        s->src_key = k;
        s->src_etag = e;
        s->ingested_at = ingested_at;
        format_iso(ingested_at, s->ingested_iso);
        return 0;
}

int schema_new(const PipelineSpec *spec, const TableShape *table, Schema **ret, S3bError *err) {
        _cleanup_(schema_freep) Schema *s = NULL;
        size_t field_max = spec->csv.max_field_bytes ? spec->csv.max_field_bytes
                                                     : spec->csv.max_row_bytes;
        size_t row_max = spec->csv.max_row_bytes ? spec->csv.max_row_bytes : 400 * 1024;
        bool ddb = spec->format == FORMAT_DDB_JSON;
        int r;

        if ((spec->n_columns == 0 && !ddb) || !spec->partition_key)
                return s3b_error_set(err, -EINVAL, "pipeline '%s' has no columns or no partition key",
                                     spec->name ? spec->name : "");
        if (field_max == 0)
                field_max = 400 * 1024;
        s = calloc(1, sizeof(*s));
        if (!s)
                return s3b_error_set(err, -ENOMEM, "out of memory for the schema");
        s->spec = spec;
        s->pk = s->sk = s->pk_comp = s->sk_comp = -1;
        /* allocated before any early return, so schema_free() finds them initialised */
        buf_init(&s->canon, field_max + 32);
        buf_init(&s->key_pk, field_max + 32);
        buf_init(&s->key_sk, field_max + 32);
        buf_init(&s->elem_key, field_max + 32);
        buf_init(&s->reason, 1024);
        /* a set or map value is at most its row, escaped */
        buf_init(&s->av, row_max * JSON_ESCAPE_MAX + 64);
        buf_init(&s->setkeys, 2 * row_max + 64);
        json_line_init(&s->jl, 4 * row_max + 64);
        ddb_conv_init(&s->conv);
        r = schema_set_source(s, NULL, NULL, 0);
        if (r < 0)
                return s3b_error_set(err, r, "out of memory for the schema");
        r = setup_columns(s, err);
        if (r >= 0)
                r = setup_computed(s, err);
        if (r < 0)
                return r;
        s->null_lens = calloc(spec->csv.n_null_values + 1, sizeof(*s->null_lens));
        if (!s->null_lens)
                return s3b_error_set(err, -ENOMEM, "out of memory for the null values");
        for (size_t i = 0; i < spec->csv.n_null_values; i++) {
                s->null_lens[i] = strlen(spec->csv.null_values[i]);
                s->null_len_mask |= UINT64_C(1) << MIN(s->null_lens[i], (size_t) 63);
        }
        if (ddb) {
                r = setup_ddb_rules(s, table, err);
                if (r >= 0 && table)
                        r = table_shape_check_spec(table, spec, err);
                if (r < 0)
                        return r;
        } else {
                r = find_key(s, spec->partition_key, "partition key", &s->pk, &s->pk_comp, err);
                if (r >= 0 && spec->sort_key)
                        r = find_key(s, spec->sort_key, "sort key", &s->sk, &s->sk_comp, err);
                if (r >= 0 && table)
                        r = table_shape_check_spec(table, spec, err);
                if (r >= 0)
                        r = setup_key_rules(s, table, err);
                if (r >= 0)
                        r = check_computed_keys(s, table, err);
                if (r < 0)
                        return r;
        }
        /* small now, grown to the longest value seen: the row path soon stops allocating */
        if (buf_reserve(&s->canon, 64) < 0 ||
            buf_reserve(&s->key_pk, 64) < 0 || buf_reserve(&s->key_sk, 64) < 0 ||
            buf_reserve(&s->reason, 256) < 0)
                return s3b_error_set(err, -ENOMEM, "out of memory for the row buffers");
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

/* The column whose name the header (or JSON field) name h names, or n_columns. */
static size_t column_named(const Schema *s, const char *h, size_t n) {
        HeaderMatch m = s->spec->csv.header_match;

        for (size_t j = 0; j < s->n_columns; j++)
                if (header_matches(m, s->columns[j].spec->name, h, n))
                        return j;
        return s->n_columns;
}

int schema_bind_header(Schema *s, const CsvField *fields, size_t n, S3bError *err) {
        _cleanup_free_ size_t *map = NULL;
        _cleanup_free_ bool *seen = NULL;
        _cleanup_(buf_done) Buf missing = BUF_INIT(2048), unknown = BUF_INIT(2048),
                                repeated = BUF_INIT(2048);

        map = calloc(n ? n : 1, sizeof(*map));
        seen = calloc(s->n_columns ? s->n_columns : 1, sizeof(*seen));
        if (!map || !seen)
                return s3b_error_set(err, -ENOMEM, "out of memory binding %zu header fields", n);
        for (size_t i = 0; i < n; i++) {
                size_t j = column_named(s, fields[i].data, fields[i].len);

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
        if (missing.len || unknown.len || repeated.len)
                return s3b_error_set(err, -EBADMSG,
                                     "header does not match the columns of pipeline '%s':%s%s%s%s%s%s",
                                     s->spec->name ? s->spec->name : "",
                                     missing.len ? " missing: " : "", buf_str(&missing),
                                     unknown.len ? (missing.len ? "; unknown: " : " unknown: ") : "",
                                     buf_str(&unknown),
                                     repeated.len ? (missing.len || unknown.len ? "; repeated: " : " repeated: ") : "",
                                     buf_str(&repeated));
        free(s->map);
        s->map = TAKE_PTR(map);
        s->n_map = n;
        return 0;
}

/* Runs for every field: most values are ruled out by their length alone. */
static bool is_null_slow(const Schema *s, const char *data, size_t len) {
        const CsvSpec *csv = &s->spec->csv;

        for (size_t i = 0; i < csv->n_null_values; i++)
                if (s->null_lens[i] == len && memcmp(csv->null_values[i], data, len) == 0)
                        return true;
        return false;
}

/* Runs for every field: the length test inline, which settles most values (a null value is
 * rarely as long as a real one). */
static inline bool is_null(const Schema *s, const char *data, size_t len) {
        if (!(s->null_len_mask & (UINT64_C(1) << MIN(len, (size_t) 63))))
                return false;
        return is_null_slow(s, data, len);
}

/* A canonical number (schema_parse_number(): [-]digits[.digits][E[-]digits]) as the double
 * strtod() gives, without strtod when the exact fast path applies (Clinger, "How to read
 * floating point numbers accurately", 1990): at most 15 significant digits make an integer
 * that a double holds exactly, 10^0..10^22 are exact doubles too, and one IEEE multiplication
 * or division rounds correctly, so the result is strtod's to the bit. glibc's strtod takes
 * its multi-precision path even for "1234.56": it was a tenth of validate's time. */
static double canon_to_double(const char *v, size_t n) {
        static const double pow10[] = {
                1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
        };
        uint64_t m = 0;
        unsigned digits = 0;
        long e = 0;
        bool neg = false, frac = false;
        size_t i = 0;
        double x;

        if (i < n && v[i] == '-')
                neg = v[i++] == '-';
        for (; i < n; i++) {
                if (v[i] == '.') {
                        frac = true;
                        continue;
                }
                if (!is_digit(v[i]))
                        break;
                if (m == 0 && v[i] == '0') {
                        e -= frac;      /* leading zeros are no significant digits */
                        continue;
                }
                if (++digits > 15)
                        return strtod(v, NULL);
                m = m * 10 + (uint64_t) (v[i] - '0');
                e -= frac;
        }
        if (i < n) {            /* 'E', then the exponent (in range, or the parse failed) */
                long x10 = 0;
                bool eneg = false;

                if (++i < n && v[i] == '-')
                        eneg = true, i++;
                for (; i < n; i++) {
                        if (x10 > 1000)
                                return strtod(v, NULL);
                        x10 = x10 * 10 + (v[i] - '0');
                }
                e += eneg ? -x10 : x10;
        }
        if (m == 0)
                return neg ? -0.0 : 0.0;
        if (e < -22 || e > 22)
                return strtod(v, NULL);
        x = e < 0 ? (double) m / pow10[-e] : (double) m * pow10[e];
        return neg ? -x : x;
}

/* x: the value when parse_number() knew it, else NAN (then read from the canonical text). */
static bool check_bounds(Schema *s, const ColumnSpec *cs, const Buf *canon, double x, const char **ret) {
        if (!cs->has_min && !cs->has_max)
                return true;
        /* only a min of 0 or below (an amount's usual bound): a value without a '-' is never
         * under it, and its conversion (a division for "12.50") is not needed */
        if (!cs->has_max && cs->min <= 0 && canon->data[0] != '-')
                return true;
        if (isnan(x))
                x = canon_to_double(canon->data, canon->len);
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
static int key_append(Buf *key, char t, const char *v, size_t n) {
        char head[32], *p = head + sizeof(head);
        size_t x = n, hl;
        int r;

        *--p = ':';
        do
                *--p = (char) ('0' + x % 10);
        while ((x /= 10) > 0);
        *--p = t;
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


/* A string's own rules (max_length, pattern): a string column's value or one element of a
 * string set. NULL or the reason. */
static const char *check_string(Schema *s, const SchemaColumn *c, const char *v, size_t n, int *ret_r) {
        const ColumnSpec *cs = c->spec;
        bool nul_first;
        int r;

        *ret_r = 0;
        if (cs->max_length && n > cs->max_length)
                return reason(s, "longer than %zu bytes (%zu)", cs->max_length, n);
        if (!c->pattern)
                return NULL;
        /* POSIX regexes cannot see past a NUL; such a value never matches rather than
         * matching on its prefix. Where a match rules NULs out, only a no-match looks. */
        nul_first = !pattern_match_excludes_nul(c->pattern);
        if (nul_first && memchr(v, '\0', n))
                return "contains a NUL byte";
        r = pattern_match(c->pattern, v, n);
        if (r < 0) {
                *ret_r = r;
                return NULL;
        }
        if (r == 0 && !nul_first && memchr(v, '\0', n))
                return "contains a NUL byte";
        return r == 0 ? reason(s, "does not match pattern %s", cs->pattern) : NULL;
}

/* Where a number key column's value-unique form goes, or NULL for any other column. */
static Buf *key_buf(Schema *s, const SchemaColumn *c) {
        if (!c->is_key)
                return NULL;
        return s->pk >= 0 && c == &s->columns[s->pk] ? &s->key_pk : &s->key_sk;
}

/* Checks one non-null scalar value against its column. 0 with the value as DynamoDB gets it
 * in *ret_v (possibly normalised, in a scratch buffer), 1 with *ret_why, or < 0. */
static int check_value(Schema *s, const SchemaColumn *c, const char *data, size_t len,
                       const char **ret_v, size_t *ret_len, const char **ret_why) {
        const ColumnSpec *cs = c->spec;
        const char *why = NULL;
        bool b = false;
        double x;
        int r = 0;

        *ret_v = data;
        *ret_len = len;
        switch (cs->type) {
        case COLUMN_STRING:
                why = check_string(s, c, data, len, &r);
                if (r < 0)
                        return r;
                break;
        case COLUMN_INTEGER:
        case COLUMN_NUMBER:
                /* a key column's value-unique form in the same pass (build_key() takes it) */
                why = parse_number(data, len, cs->type == COLUMN_INTEGER, &s->canon, key_buf(s, c),
                                   &s->num_size, &x);
                if (!why)
                        check_bounds(s, cs, &s->canon, x, &why);
                *ret_v = s->canon.data;
                *ret_len = s->canon.len;
                break;
        case COLUMN_BOOLEAN:
                why = schema_parse_boolean(data, len, &b);
                if (!why) {
                        *ret_v = b ? "true" : "false";
                        *ret_len = b ? 4 : 5;
                }
                break;
        case COLUMN_DATE:
                why = schema_check_date(data, len);
                break;
        case COLUMN_ENUM:
                why = "not one of the enum values";
                for (size_t k = 0; k < cs->n_enum_values; k++)
                        if (c->enum_lens[k] == len && memcmp(cs->enum_values[k], data, len) == 0) {
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

/* One set element: its comparable form first, so mem_span_cmp() sorts an array of these. */
typedef struct Span {
        MemSpan s;
        size_t off;             /* into the element's base (the cell, or s->setkeys) */
} Span;

static int span_add(Schema *s, size_t i, Span sp) {
        if (i == s->spans_cap) {
                size_t cap = s->spans_cap ? 2 * s->spans_cap : 64;
                Span *p = realloc(s->spans, cap * sizeof(Span));

                if (!p)
                        return -ENOMEM;
                s->spans = p;
                s->spans_cap = cap;
        }
        ((Span *) s->spans)[i] = sp;
        return 0;
}

/* The next element of a set cell: the separator-split text, or a JSON array's elements.
 * 1 with v and n, 0 at the end, -1 with *ret_why when an element is not text. */
typedef struct ElemIter {
        const char *p, *end;
        const cJSON *j;
        bool started, done;
} ElemIter;

static int next_elem(const SchemaColumn *c, ElemIter *it, const char **v, size_t *n, const char **ret_why) {
        const char *e;

        if (it->done)
                return 0;
        if (it->j) {
                it->j = it->started ? it->j->next : it->j->child;
                it->started = true;
                if (!it->j)
                        return it->done = true, 0;
                if (json_number_text(it->j, v, n))
                        return c->spec->type == COLUMN_NUMBER_SET ? 1 : (*ret_why = "a string set element is a number", -1);
                if (!json_is_text(it->j)) {
                        *ret_why = "a set element must be a string or a number";
                        return -1;
                }
                *v = it->j->valuestring;
                *n = strlen(*v);
                return 1;
        }
        e = c->sep_len == 1 ? memchr(it->p, c->sep[0], (size_t) (it->end - it->p))
                            : memmem(it->p, (size_t) (it->end - it->p), c->sep, c->sep_len);
        *v = it->p;
        *n = (size_t) ((e ? e : it->end) - it->p);
        if (e)
                it->p = e + c->sep_len;
        else
                it->done = true;
        return 1;
}

/* string_set / number_set → {"SS":[...]} / {"NS":[...]} in s->av. Elements are not trimmed;
 * a set must not repeat a value ("Supported data types and naming rules"), so a duplicate
 * rejects the row rather than being dropped without a word. */
static int build_set(Schema *s, const SchemaColumn *c, const SchemaCell *cell, size_t *ret_size,
                     const char **ret_why) {
        bool numbers = c->spec->type == COLUMN_NUMBER_SET;
        /* a JSON cell has no text (data NULL): no arithmetic on it */
        ElemIter it = { .p = cell->data, .end = cell->data ? cell->data + cell->len : NULL,
                        .j = cell->json };
        const char *v;
        size_t n, count = 0, size = 0;
        Span *sp;
        int r, e;

        buf_reset(&s->av);
        buf_reset(&s->setkeys);
        r = buf_append_str(&s->av, numbers ? "{\"NS\":[" : "{\"SS\":[");
        while (r >= 0 && (e = next_elem(c, &it, &v, &n, ret_why)) > 0) {
                const char *why;

                if (numbers) {
                        size_t off = s->setkeys.len;

                        why = schema_parse_number(v, n, false, &s->canon, &s->elem_key);
                        if (why) {
                                *ret_why = reason(s, "set element '%.*s': %s", (int) MIN(n, (size_t) 64), v, why);
                                return 1;
                        }
                        r = buf_append(&s->setkeys, s->elem_key.data, s->elem_key.len);
                        if (r >= 0)
                                r = span_add(s, count, (Span) { { NULL, s->elem_key.len }, off });
                        size += item_number_size(s->canon.data, s->canon.len);
                        v = s->canon.data;
                        n = s->canon.len;
                } else {
                        why = check_string(s, c, v, n, &r);
                        if (r < 0)
                                return r;
                        if (why) {
                                /* why may be in s->reason, which reason() writes over */
                                char sub[256];

                                snprintf(sub, sizeof(sub), "%s", why);
                                *ret_why = reason(s, "set element '%.*s': %s", (int) MIN(n, (size_t) 64), v, sub);
                                return 1;
                        }
                        r = span_add(s, count, (Span) { { v, n }, 0 });
                        size += n;
                }
                if (r >= 0 && count > 0)
                        r = buf_append_char(&s->av, ',');
                if (r >= 0)
                        r = buf_append_char(&s->av, '"');
                if (r >= 0)
                        r = json_escape_append(&s->av, v, n);
                if (r >= 0)
                        r = buf_append_char(&s->av, '"');
                count++;
        }
        if (r < 0)
                return r;
        if (e < 0)
                return 1;
        if (count == 0) {
                *ret_why = "an empty set (DynamoDB has no empty sets)";
                return 1;
        }
        sp = s->spans;
        if (numbers)
                for (size_t i = 0; i < count; i++)
                        sp[i].s.p = s->setkeys.data + sp[i].off;
        qsort(sp, count, sizeof(Span), mem_span_cmp);
        for (size_t i = 1; i < count; i++)
                if (mem_span_cmp(&sp[i - 1], &sp[i]) == 0) {
                        *ret_why = numbers ? "the set holds the same number twice (DynamoDB sets are unique)"
                                           : reason(s, "the set holds '%.*s' twice (DynamoDB sets are unique)",
                                                    (int) MIN(sp[i].s.n, (size_t) 64), sp[i].s.p);
                        return 1;
                }
        r = buf_append_str(&s->av, "]}");
        *ret_size = size;
        return r < 0 ? r : 0;
}

/* map / list → {"M":...} / {"L":...} in s->av, from the JSON value or the cell's JSON text. */
static int build_doc(Schema *s, const SchemaColumn *c, const SchemaCell *cell, size_t *ret_size,
                     const char **ret_why) {
        _cleanup_(cJSON_Deletep) cJSON *parsed = NULL;
        bool map = c->spec->type == COLUMN_MAP;
        const cJSON *v = cell->json;
        int r;

        if (!v) {
                r = json_line_parse(&s->jl, cell->data, cell->len, &parsed, ret_why);
                if (r != 0)
                        return r;
                v = parsed;
        }
        if (map ? !cJSON_IsObject(v) : !cJSON_IsArray(v)) {
                *ret_why = map ? "not a JSON object (type map)" : "not a JSON array (type list)";
                return 1;
        }
        buf_reset(&s->av);
        *ret_size = 0;
        return ddb_from_json(&s->conv, v, &s->av, ret_size, ret_why);
}

/* A date's instant in epoch seconds; the value passed schema_check_date(). */
static int64_t date_epoch(const char *v, size_t n) {
        int64_t y = 0, m = 0, d = 0, hh = 0, mi = 0, ss = 0, off = 0, era, yoe, doy, doe;

        for (int i = 0; i < 4; i++)
                y = y * 10 + (v[i] - '0');
        m = (v[5] - '0') * 10 + (v[6] - '0');
        d = (v[8] - '0') * 10 + (v[9] - '0');
        if (n > 10) {
                size_t i = 19;

                hh = (v[11] - '0') * 10 + (v[12] - '0');
                mi = (v[14] - '0') * 10 + (v[15] - '0');
                ss = (v[17] - '0') * 10 + (v[18] - '0');
                if (i < n && v[i] == '.')
                        while (++i < n && is_digit(v[i]))
                                ;
                if (i < n && (v[i] == '+' || v[i] == '-'))
                        off = (v[i] == '-' ? -1 : 1) *
                              (((v[i + 1] - '0') * 10 + (v[i + 2] - '0')) * 3600 +
                               ((v[i + 4] - '0') * 10 + (v[i + 5] - '0')) * 60);
        }
        /* days from 1970-01-01 in the proleptic Gregorian calendar (era of 400 years) */
        y -= m <= 2;
        era = (y >= 0 ? y : y - 399) / 400;
        yoe = y - era * 400;
        doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return (era * 146097 + doe - 719468) * 86400 + hh * 3600 + mi * 60 + ss - off;
}

/* The dedup key from the key parts. 0, 1 (ret_why), or < 0. */
static int build_key(Schema *s, Buf *key, const char **ret_why) {
        buf_reset(key);
        for (int k = 0; k < 2; k++) {
                const KeyPart *p = &s->parts[k];
                int r;

                if (!p->type)
                        continue;
                if (p->type == 'N') {
                        Buf *kb = k == 0 ? &s->key_pk : &s->key_sk;

                        if (!p->ready && schema_parse_number(p->v, p->n, false, &s->canon, kb)) {
                                *ret_why = "key is not a number";
                                return 1;
                        }
                        r = key_append(key, 'N', kb->data, kb->len);
                } else
                        r = key_append(key, p->type, p->v, p->n);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* DynamoDB's length and emptiness rules for a key or index key S value (tableshape.h):
 * a row that breaks them would fail its whole BatchWriteItem with a ValidationException. */
static const char *key_rules(Schema *s, const SchemaColumn *c, size_t n) {
        const char *name = column_spec_attribute(c->spec);

        if (c->key_max && n > c->key_max)
                return reason(s, "%s %s is %zu bytes; DynamoDB allows %u", c->key_what,
                              name, n, c->key_max);
        if (!c->index)
                return NULL;
        if (n == 0)
                return reason(s, "%s key %s is empty", c->index, name);
        if (n > c->index_max)
                return reason(s, "%s key %s is %zu bytes; DynamoDB allows %u", c->index,
                              name, n, c->index_max);
        return NULL;
}

/* An item_add*() result as a row outcome: past the item's bound the row is rejected. */
static inline int item_outcome(int r, const char **ret_why) {
        if (r == -ENOBUFS) {
                *ret_why = "item too large";
                return 1;
        }
        return r < 0 ? r : 0;
}

/* One column's non-null value into the item. 0, 1 (ret_why), or < 0. */
static int add_value(Schema *s, size_t col, const SchemaCell *cell, ItemBuilder *item,
                     const char **ret_why) {
        const SchemaColumn *c = &s->columns[col];
        ColumnType t = c->spec->type;
        const char *v;
        size_t vlen, size = 0;
        int r;

        if (is_collection(t)) {
                r = t == COLUMN_MAP || t == COLUMN_LIST ? build_doc(s, c, cell, &size, ret_why)
                                                        : build_set(s, c, cell, &size, ret_why);
                if (r != 0)
                        return r;
                return item_outcome(item_add_raw(item, &c->name, s->av.data, s->av.len, size),
                                    ret_why);
        }
        if (cell->json) {
                *ret_why = reason(s, "expected a %s, found %s", column_type_to_string(t), json_kind(cell->json));
                return 1;
        }
        r = check_value(s, c, cell->data, cell->len, &v, &vlen, ret_why);
        if (r != 0)
                return r;
        if (c->is_key) {
                if (cell->len == 0) {
                        *ret_why = "key attribute is empty";
                        return 1;
                }
                s->parts[(int) col == s->pk ? 0 : 1] = (KeyPart) {
                        c->item_type == ITEM_N ? 'N' : 'S', cell->data, cell->len, c->item_type == ITEM_N,
                };
        }
        if (c->key_rules && (*ret_why = key_rules(s, c, vlen)))
                return 1;
        if (c->item_type == ITEM_N)     /* sized by its parse, not scanned again */
                return item_outcome(item_add_sized(item, &c->name, ITEM_N, v, vlen, s->num_size), ret_why);
        return item_outcome(item_add(item, &c->name, c->item_type, v, vlen), ret_why);
}

/* The computed attributes, after the columns. 0, 1 (ret_why), or < 0. */
static int add_computed(Schema *s, uint64_t line, ItemBuilder *item, const char **ret_why) {
        for (size_t i = 0; i < s->n_computed; i++) {
                SchemaComputed *c = &s->computed[i];
                const ComputedSpec *cs = c->spec;
                const char *v = NULL;
                char type = computed_spec_type(cs);
                int r;

                switch (cs->kind) {
                case COMPUTED_CONSTANT:
                        v = cs->constant;
                        break;
                case COMPUTED_TTL: {
                        int64_t base = s->ingested_at;

                        if (c->ttl_col >= 0) {
                                const SchemaCell *cell = &s->cells[c->ttl_col];

                                /* no date, no expiry: the item stays (but a key must be there) */
                                if (cell->null || cell->json || schema_check_date(cell->data, cell->len)) {
                                        if (!c->key_what)
                                                continue;
                                        *ret_why = reason(s, "%s %s: its date %s is null", c->key_what,
                                                          cs->attribute, cs->ttl_column);
                                        return 1;
                                }
                                base = date_epoch(cell->data, cell->len);
                        }
                        /* "Time to Live (TTL)": a Number holding epoch seconds */
                        snprintf(c->num, sizeof(c->num), "%lld", (long long) (base + cs->add_days * 86400));
                        v = c->num;
                        break;
                }
                default:
                        switch (cs->source) {
                        case SOURCE_KEY:
                                v = s->src_key;
                                break;
                        case SOURCE_ETAG:
                                v = s->src_etag;
                                break;
                        case SOURCE_LINE:
                                snprintf(c->num, sizeof(c->num), "%llu", (unsigned long long) line);
                                v = c->num;
                                break;
                        default:
                                v = s->ingested_iso;
                                break;
                        }
                }
                if (!v) {
                        if (c->key_what) {
                                *ret_why = reason(s, "%s %s: the %s is not known here", c->key_what,
                                                  cs->attribute, computed_source_to_string(cs->source));
                                return 1;
                        }
                        continue;
                }
                if (c->key_what) {
                        size_t n = strlen(v);

                        if (n == 0 || (type == 'S' && n > c->key_max)) {
                                *ret_why = reason(s, "%s %s is %zu bytes; DynamoDB allows 1 to %u",
                                                  c->key_what, cs->attribute, n, c->key_max);
                                return 1;
                        }
                        s->parts[(int) i == s->pk_comp ? 0 : 1] = (KeyPart) { type, v, n };
                }
                r = item_outcome(item_add(item, &c->name, type == 'N' ? ITEM_N : ITEM_S, v, strlen(v)),
                                 ret_why);
                if (r != 0)
                        return r;
        }
        return 0;
}

/* The cells (s->cells, visited in s->order) into the item and key. */
static int build_row(Schema *s, size_t n_order, uint64_t line, ItemBuilder *item, Buf *key,
                     SchemaReject *ret_reject) {
        const char *why = NULL;
        unsigned pos = 0;
        int r;

        s->parts[0] = s->parts[1] = (KeyPart) {};
        s->why_column = NULL;
        r = item_begin(item);
        if (r < 0)
                return r;
        for (size_t k = 0; k < n_order; k++) {
                size_t col = s->order[k];
                const SchemaCell *cell = &s->cells[col];
                const SchemaColumn *c = &s->columns[col];
                SchemaCell dflt;

                pos = cell->pos;
                s->why_column = c->spec->name;
                if (cell->null) {
                        if (c->is_key || c->spec->required) {
                                why = c->is_key ? "key attribute is null" : "required value is null";
                                goto reject;
                        }
                        if (c->spec->default_value) {
                                dflt = (SchemaCell) { .data = c->spec->default_value,
                                                      .len = strlen(c->spec->default_value), .pos = pos };
                                cell = &dflt;
                        } else if (c->spec->keep_null) {
                                r = item_add_raw(item, &c->name, "{\"NULL\":true}", 13, 1);
                                if (r == -ENOBUFS) {
                                        why = "item too large";
                                        goto reject;
                                }
                                if (r < 0)
                                        return r;
                                continue;
                        } else
                                continue;
                }
                r = add_value(s, col, cell, item, &why);
                if (r < 0)
                        return r;
                if (r > 0)
                        goto reject;
        }
        pos = 0;
        s->why_column = NULL;
        r = add_computed(s, line, item, &why);
        if (r < 0)
                return r;
        if (r > 0)
                goto reject;
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
        r = build_key(s, key, &why);
        if (r <= 0)
                return r;
        /* the one way out for a rejected row (a goto as the single exit, not for cleanup) */
reject:
        *ret_reject = (SchemaReject) {
                .column = pos,
                .column_name = pos > 0 ? schema_column_name_at(s, pos) : s->why_column,
                .reason = why,
        };
        return 1;
}

int schema_row_at(Schema *s, const CsvField *fields, size_t n, uint64_t line, ItemBuilder *item,
                  Buf *key, SchemaReject *ret_reject) {
        if (n != s->n_map) {
                unsigned pos = (unsigned) MIN(n, s->n_map) + 1;

                *ret_reject = (SchemaReject) {
                        .column = pos,
                        .column_name = schema_column_name_at(s, pos),
                        .reason = reason(s, "expected %zu fields, found %zu", s->n_map, n),
                };
                return 1;
        }
        for (size_t i = 0; i < n; i++) {
                size_t col = s->map[i];

                s->cells[col] = (SchemaCell) {
                        .data = fields[i].data, .len = fields[i].len,
                        .null = is_null(s, fields[i].data, fields[i].len), .pos = (unsigned) i + 1,
                };
                s->order[i] = col;
        }
        return build_row(s, n, line, item, key, ret_reject);
}

int schema_row(Schema *s, const CsvField *fields, size_t n, ItemBuilder *item, Buf *key,
               SchemaReject *ret_reject) {
        return schema_row_at(s, fields, n, 0, item, key, ret_reject);
}

static int json_reject(Schema *s, const char *column, const char *why, SchemaReject *ret_reject) {
        *ret_reject = (SchemaReject) { .column_name = column, .reason = why };
        (void) s;
        return 1;
}

/* A JSON value into a cell: scalars as text (a string's text is also checked against
 * null_values, as a CSV field would be), arrays and objects kept for sets, maps and lists. */
static const char *json_cell(Schema *s, const SchemaColumn *c, const cJSON *v, SchemaCell *cell) {
        ColumnType t = c->spec->type;
        const char *text;
        size_t n;

        *cell = (SchemaCell) {};
        if (cJSON_IsNull(v)) {
                cell->null = true;
                return NULL;
        }
        if (json_number_text(v, &text, &n)) {
                if (t != COLUMN_INTEGER && t != COLUMN_NUMBER && t != COLUMN_NUMBER_SET)
                        return reason(s, "expected %s, found a number", column_type_to_string(t));
                cell->data = text;
                cell->len = n;
                return NULL;
        }
        if (cJSON_IsBool(v)) {
                if (t != COLUMN_BOOLEAN)
                        return reason(s, "expected %s, found a boolean", column_type_to_string(t));
                cell->data = cJSON_IsTrue(v) ? "true" : "false";
                cell->len = strlen(cell->data);
                return NULL;
        }
        if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
                if (!is_collection(t) || (cJSON_IsObject(v) && t != COLUMN_MAP) ||
                    (cJSON_IsArray(v) && t == COLUMN_MAP))
                        return reason(s, "expected %s, found %s", column_type_to_string(t), json_kind(v));
                cell->json = v;
                return NULL;
        }
        cell->data = v->valuestring;
        cell->len = strlen(v->valuestring);
        cell->null = is_null(s, cell->data, cell->len);
        return NULL;
}

int schema_row_json(Schema *s, const cJSON *obj, uint64_t line, ItemBuilder *item, Buf *key,
                    SchemaReject *ret_reject) {
        const cJSON *ch;
        const char *why;

        if (!cJSON_IsObject(obj))
                return json_reject(s, NULL, "not a JSON object", ret_reject);
        for (size_t j = 0; j < s->n_columns; j++) {
                s->cells[j] = (SchemaCell) { .null = true };
                s->order[j] = j;
        }
        s->n_map = s->n_columns;
        /* fields no column names are left out: JSON producers add fields over time */
        cJSON_ArrayForEach(ch, obj) {
                size_t j = column_named(s, ch->string, strlen(ch->string));
                SchemaCell *cell = &s->cells[j];

                if (j == s->n_columns)
                        continue;
                if (cell->data || cell->json || cell->len == 1)
                        return json_reject(s, s->columns[j].spec->name,
                                           "the field is given twice", ret_reject);
                why = json_cell(s, &s->columns[j], ch, cell);
                if (why)
                        return json_reject(s, s->columns[j].spec->name, why, ret_reject);
                if (cell->null)
                        cell->len = 1;  /* marks "seen" for the twice check; a null has no text */
        }
        for (size_t j = 0; j < s->n_columns; j++)
                if (s->cells[j].null)
                        s->cells[j].len = 0;
        return build_row(s, s->n_columns, line, item, key, ret_reject);
}

static const DdbKeyRule *ddb_rule(const Schema *s, const char *name) {
        for (size_t i = 0; i < s->n_ddb_rules; i++)
                if (strcmp(s->ddb_rules[i].name, name) == 0)
                        return &s->ddb_rules[i];
        return NULL;
}

/* A key or index key attribute of a ddb-json item: type and length. */
static const char *ddb_key_check(Schema *s, const DdbKeyRule *kr, const char *type, const cJSON *av) {
        const char *v = av->child->valuestring;
        long n;

        if (strlen(type) != 1 || !strchr("SNB", type[0]))
                return reason(s, "%s %s is %s; DynamoDB keys are S, N or B", kr->what, kr->name, type);
        if (kr->type && kr->type != type[0])
                return reason(s, "%s %s is %s; the table declares %c", kr->what, kr->name, type, kr->type);
        n = type[0] == 'B' ? ddb_base64_len(v, strlen(v)) : (long) strlen(v);
        if (n == 0)
                return reason(s, "%s %s is empty", kr->what, kr->name);
        if (type[0] != 'N' && (unsigned long) n > kr->max)
                return reason(s, "%s %s is %ld bytes; DynamoDB allows %u", kr->what, kr->name, n, kr->max);
        if (kr->key >= 0)
                s->parts[kr->key] = (KeyPart) { type[0], v, strlen(v) };
        return NULL;
}

int schema_row_ddb(Schema *s, const cJSON *line_obj, ItemBuilder *item, Buf *key,
                   SchemaReject *ret_reject) {
        const cJSON *it = line_obj ? line_obj->child : NULL, *ch;
        const char *why = NULL, *type;
        int r;

        s->parts[0] = s->parts[1] = (KeyPart) {};
        if (!cJSON_IsObject(line_obj) || !it || it->next || strcmp(it->string, "Item") != 0 ||
            !cJSON_IsObject(it))
                return json_reject(s, NULL, "expected {\"Item\": {...}}, one item per line as DynamoDB exports it",
                                   ret_reject);
        r = item_begin(item);
        if (r < 0)
                return r;
        cJSON_ArrayForEach(ch, it) {
                const DdbKeyRule *kr;
                size_t size = 0;
                ItemName name;

                if (!ch->string[0])
                        return json_reject(s, NULL, "an attribute name is empty", ret_reject);
                for (const cJSON *o = it->child; o != ch; o = o->next)
                        if (strcmp(o->string, ch->string) == 0)
                                return json_reject(s, ch->string, "the attribute is given twice", ret_reject);
                buf_reset(&s->av);
                r = ddb_check_av(&s->conv, ch, &s->av, &size, &type, &why);
                if (r < 0)
                        return r;
                if (r > 0)
                        return json_reject(s, ch->string, why, ret_reject);
                kr = ddb_rule(s, ch->string);
                if (kr && (why = ddb_key_check(s, kr, type, ch)))
                        return json_reject(s, ch->string, why, ret_reject);
                r = item_name_init(&name, ch->string);
                if (r < 0)
                        return r;
                r = item_add_raw(item, &name, s->av.data, s->av.len, size);
                item_name_done(&name);
                if (r == -ENOBUFS)
                        return json_reject(s, NULL, "item too large", ret_reject);
                if (r < 0)
                        return r;
        }
        for (int k = 0; k < 2; k++) {
                const char *name = k == 0 ? s->spec->partition_key : s->spec->sort_key;

                if (name && !s->parts[k].type)
                        return json_reject(s, name, reason(s, "the item has no %s %s",
                                                           k == 0 ? "partition key" : "sort key", name),
                                           ret_reject);
        }
        r = item_end(item);
        if (r == -ENOBUFS)
                return json_reject(s, NULL, "item too large", ret_reject);
        if (r < 0)
                return r;
        if (item->size > ITEM_MAX_SIZE)
                return json_reject(s, NULL, reason(s, "item is %zu bytes, over DynamoDB's 400 KB limit", item->size),
                                   ret_reject);
        r = build_key(s, key, &why);
        if (r > 0)
                return json_reject(s, NULL, why, ret_reject);
        return r;
}
