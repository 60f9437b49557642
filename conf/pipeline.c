/* Pipelines: YAML → PipelineSpec (match, table, CSV dialect, columns, key) and the checks that
 * need several of them at once: key columns exist and can be DynamoDB keys, column names are
 * unique the way the header matches them (case-insensitively), no pipeline reads what the
 * daemon itself writes to archive/errors, and no pipeline is hidden behind an earlier one. */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/schema.h"
#include "conf/load.h"

#define MAX_PIPELINES 256
#define MAX_COLUMNS 1024
#define MAX_ENUM_VALUES 1000
#define MAX_NULL_VALUES 64
#define MAX_STRING_BYTES (400 * 1024)   /* DynamoDB's item size limit bounds any one value */
/* The default reorder window: S3 delivers event notifications "typically in seconds" (S3 User
 * Guide, "Amazon S3 Event Notifications"), so a few seconds catch most late arrivals. */
#define ORDERING_WINDOW_DEFAULT 5u
#define ORDERING_WINDOW_MAX 300

/* ---- CSV dialect ---- */

static bool parse_delimiter(const char *s, char *ret) {
        static const struct { const char *name; char c; } table[] = {
                { ",", ',' }, { ";", ';' }, { "|", '|' }, { "\t", '\t' },
                { "\\t", '\t' }, { "tab", '\t' },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (strcmp(s, table[i].name) == 0) {
                        *ret = table[i].c;
                        return true;
                }
        return false;
}

static void load_delimiter(Loader *ld, const YNode *csv, const char *path, CsvSpec *c) {
        const YNode *v = load_field(ld, csv, path, "delimiter", false);
        char p[LOAD_PATH_MAX], q[80];
        const char *s;

        if (!v)
                return;
        load_join(p, path, "delimiter");
        s = load_scalar(ld, v, p);
        if (s && !parse_delimiter(s, &c->delimiter))
                load_report(ld, v, p, "unsupported delimiter '%s' (expected one of: \",\" \";\" \"|\" \"\\t\" or tab)",
                            diag_quote(s, q, sizeof(q)));
}

static char **strv_new(Loader *ld, size_t n) {
        char **v = calloc(n ? n : 1, sizeof(char *));

        if (!v)
                ld->oom = true;
        return v;
}

/* null_values are taken literally: a plain NULL or ~ in the list means that text, not
 * YAML's null, because that is what the CSV files contain. */
static void load_null_values(Loader *ld, const YNode *v, const char *path, CsvSpec *c) {
        char p[LOAD_PATH_MAX];

        if (!load_expect(ld, v, path, YNODE_SEQUENCE))
                return;
        if (v->n_items > MAX_NULL_VALUES) {
                load_report(ld, v, path, "at most %d null values", MAX_NULL_VALUES);
                return;
        }
        c->null_values = strv_new(ld, v->n_items);
        if (!c->null_values)
                return;
        for (size_t i = 0; i < v->n_items; i++) {
                const char *s = load_scalar(ld, v->items[i], load_index(p, path, i));

                if (s && strlen(s) > 1024)
                        load_report(ld, v->items[i], p, "too long (at most 1024 bytes)");
                else if (s && (c->null_values[c->n_null_values] = load_strdup(ld, s)))
                        c->n_null_values++;
        }
}

static void default_null_values(Loader *ld, CsvSpec *c) {
        c->null_values = strv_new(ld, 2);
        if (!c->null_values)
                return;
        c->null_values[0] = load_strdup(ld, "");
        c->null_values[1] = load_strdup(ld, "NULL");
        c->n_null_values = c->null_values[0] && c->null_values[1] ? 2 : 0;
        if (c->n_null_values == 0) {
                free(c->null_values[0]);
                free(c->null_values[1]);
        }
}

static void load_row_limits(Loader *ld, const YNode *csv, const char *path, CsvSpec *c) {
        uint64_t row = c->max_row_bytes, field = 0;
        char p[LOAD_PATH_MAX];

        load_get_u64(ld, csv, path, "max_row_bytes", 1024, 64 * 1024 * 1024, &row);
        c->max_row_bytes = (size_t) row;
        if (!load_get_u64(ld, csv, path, "max_field_bytes", 1, 64 * 1024 * 1024, &field)) {
                c->max_field_bytes = c->max_row_bytes;
                return;
        }
        if (field > row)
                load_report(ld, ynode_get(csv, "max_field_bytes"), load_join(p, path, "max_field_bytes"),
                            "larger than max_row_bytes (%zu)", c->max_row_bytes);
        c->max_field_bytes = (size_t) field;
}

static void load_csv(Loader *ld, const YNode *pl, const char *ppath, CsvSpec *c) {
        static const char *const keys[] = { "delimiter", "header", "header_match", "null_values",
                                            "compression", "max_row_bytes", "max_field_bytes", NULL };
        static const char *const headers[] = { "required", "absent", NULL };
        const char *matches[_HEADER_MATCH_MAX + 1] = { NULL };
        static const char *const compressions[] = { "auto", "none", "gzip", NULL };
        const YNode *v = load_field(ld, pl, ppath, "csv", false), *nv;
        char path[LOAD_PATH_MAX], p[LOAD_PATH_MAX];
        int k;

        if (!v || !load_expect(ld, v, load_join(path, ppath, "csv"), YNODE_MAPPING)) {
                default_null_values(ld, c);
                return;
        }
        load_check_keys(ld, v, path, keys);
        load_delimiter(ld, v, path, c);
        if (load_get_choice(ld, v, path, "header", headers, &k))
                c->header = (HeaderMode) k;
        if (load_get_choice(ld, v, path, "compression", compressions, &k))
                c->compression = (Compression) k;
        for (int i = 0; i < _HEADER_MATCH_MAX; i++)
                matches[i] = header_match_to_string((HeaderMatch) i);
        if (load_get_choice(ld, v, path, "header_match", matches, &k))
                c->header_match = (HeaderMatch) k;
        nv = ynode_get(v, "null_values");
        if (nv)
                load_null_values(ld, nv, load_join(p, path, "null_values"), c);
        else
                default_null_values(ld, c);
        load_row_limits(ld, v, path, c);
}

/* ---- columns ---- */

static void load_pattern(Loader *ld, const YNode *col, const char *path, ColumnSpec *c) {
        char p[LOAD_PATH_MAX], err[128];
        regex_t re;
        int r;

        if (!load_get_string(ld, col, path, "pattern", false, 1024, NULL, &c->pattern))
                return;
        load_join(p, path, "pattern");
        if (c->type != COLUMN_STRING && c->type != COLUMN_STRING_SET) {
                load_report(ld, ynode_get(col, "pattern"), p, "only allowed for type string or string_set");
                return;
        }
        r = regcomp(&re, c->pattern, REG_EXTENDED | REG_NOSUB);
        if (r != 0) {
                regerror(r, &re, err, sizeof(err));
                load_report(ld, ynode_get(col, "pattern"), p,
                            "not a valid POSIX extended regular expression: %s", err);
                return;
        }
        regfree(&re);
        /* regexec() searches: "A[0-9]{5}" accepts "xA123456y" */
        if (c->pattern[0] != '^' || c->pattern[strlen(c->pattern) - 1] != '$')
                load_warn(ld, ynode_get(col, "pattern"), p,
                          "not anchored, so it may match anywhere in the value; write ^...$ to match the whole value");
}

static void add_enum_value(Loader *ld, const YNode *v, const char *path, ColumnSpec *c) {
        const char *s = load_scalar(ld, v, path);
        char q[80];

        if (!s)
                return;
        if (!s[0] || strlen(s) > 1024) {
                load_report(ld, v, path, "an enum value must be 1 to 1024 bytes");
                return;
        }
        for (size_t j = 0; j < c->n_enum_values; j++)
                if (strcmp(c->enum_values[j], s) == 0) {
                        load_report(ld, v, path, "'%s' is listed twice", diag_quote(s, q, sizeof(q)));
                        return;
                }
        c->enum_values[c->n_enum_values] = load_strdup(ld, s);
        if (c->enum_values[c->n_enum_values])
                c->n_enum_values++;
}

static void load_enum_values(Loader *ld, const YNode *col, const char *path, ColumnSpec *c) {
        const YNode *v = load_field(ld, col, path, "values", false);
        char p[LOAD_PATH_MAX], ip[LOAD_PATH_MAX];

        if (!v) {
                if (c->type == COLUMN_ENUM)
                        load_report(ld, ynode_get(col, "values") ? ynode_get(col, "values") : col,
                                    path, "type enum needs its 'values: [...]'");
                return;
        }
        load_join(p, path, "values");
        if (c->type != COLUMN_ENUM) {
                load_report(ld, v, p, "only allowed for type enum");
                return;
        }
        if (!load_expect(ld, v, p, YNODE_SEQUENCE))
                return;
        if (v->n_items == 0 || v->n_items > MAX_ENUM_VALUES) {
                load_report(ld, v, p, "an enum needs 1 to %d values", MAX_ENUM_VALUES);
                return;
        }
        c->enum_values = strv_new(ld, v->n_items);
        for (size_t i = 0; c->enum_values && i < v->n_items; i++)
                add_enum_value(ld, v->items[i], load_index(ip, p, i), c);
}

static void only_for(Loader *ld, const YNode *col, const char *path, const char *key,
                     bool allowed, const char *types) {
        const YNode *v = ynode_get(col, key);
        char p[LOAD_PATH_MAX];

        if (v && !allowed)
                load_report(ld, v, load_join(p, path, key), "only allowed for type %s", types);
}

static void load_bounds(Loader *ld, const YNode *col, const char *path, ColumnSpec *c) {
        bool numeric = c->type == COLUMN_INTEGER || c->type == COLUMN_NUMBER;
        char p[LOAD_PATH_MAX];

        only_for(ld, col, path, "min", numeric, "integer or number");
        only_for(ld, col, path, "max", numeric, "integer or number");
        if (!numeric)
                return;
        c->has_min = load_get_double(ld, col, path, "min", &c->min);
        c->has_max = load_get_double(ld, col, path, "max", &c->max);
        if (c->has_min && c->has_max && c->min > c->max)
                load_report(ld, ynode_get(col, "max"), load_join(p, path, "max"),
                            "smaller than min");
}

static bool is_set_type(ColumnType t) {
        return t == COLUMN_STRING_SET || t == COLUMN_NUMBER_SET;
}

/* A default must be a value the column accepts: checked here once, not refused on every row. */
static void load_default(Loader *ld, const YNode *col, const char *path, ColumnSpec *c) {
        static const ColumnType scalar[] = { COLUMN_STRING, COLUMN_INTEGER, COLUMN_NUMBER,
                                             COLUMN_BOOLEAN, COLUMN_DATE, COLUMN_ENUM };
        const char *d, *why = NULL;
        char p[LOAD_PATH_MAX];
        bool ok = false, b;
        Buf canon = BUF_INIT(64 * 1024);

        if (!load_get_string(ld, col, path, "default", false, 1024, NULL, &c->default_value) || !c->default_value)
                return;
        load_join(p, path, "default");
        for (size_t i = 0; i < ELEMENTSOF(scalar); i++)
                ok = ok || c->type == scalar[i];
        if (!ok) {
                load_report(ld, ynode_get(col, "default"), p, "only allowed for scalar types (not sets, map or list)");
                return;
        }
        if (c->required) {
                load_report(ld, ynode_get(col, "default"), p, "a required column never uses its default");
                return;
        }
        d = c->default_value;
        switch (c->type) {
        case COLUMN_INTEGER:
        case COLUMN_NUMBER:
                why = schema_parse_number(d, strlen(d), c->type == COLUMN_INTEGER, &canon, NULL);
                if (!why && ((c->has_min && strtod(canon.data, NULL) < c->min) ||
                             (c->has_max && strtod(canon.data, NULL) > c->max)))
                        why = "outside min/max";
                break;
        case COLUMN_BOOLEAN:
                why = schema_parse_boolean(d, strlen(d), &b);
                break;
        case COLUMN_DATE:
                why = schema_check_date(d, strlen(d));
                break;
        case COLUMN_ENUM:
                why = "not one of the values";
                for (size_t i = 0; i < c->n_enum_values; i++)
                        if (strcmp(c->enum_values[i], d) == 0)
                                why = NULL;
                break;
        default:
                if (c->max_length && strlen(d) > c->max_length)
                        why = "longer than max_length";
                break;
        }
        buf_done(&canon);
        if (why)
                load_report(ld, ynode_get(col, "default"), p, "not a valid %s value: %s",
                            column_type_to_string(c->type), why);
}

static void load_mapping(Loader *ld, const YNode *col, const char *path, ColumnSpec *c) {
        char p[LOAD_PATH_MAX];
        bool omit = true;

        if (load_get_string(ld, col, path, "attribute", false, 255, NULL, &c->attribute) && c->attribute &&
            !c->attribute[0])
                load_report(ld, ynode_get(col, "attribute"), load_join(p, path, "attribute"),
                            "must not be empty");
        if (load_get_bool(ld, col, path, "omit_if_null", &omit))
                c->keep_null = !omit;
        only_for(ld, col, path, "separator", is_set_type(c->type), "string_set or number_set");
        if (is_set_type(c->type) &&
            load_get_string(ld, col, path, "separator", false, 16, NULL, &c->separator) && c->separator &&
            !c->separator[0])
                load_report(ld, ynode_get(col, "separator"), load_join(p, path, "separator"),
                            "must not be empty");
        load_default(ld, col, path, c);
}

static void load_column(Loader *ld, const YNode *col, const char *path, ColumnSpec *c) {
        static const char *const keys[] = { "name", "attribute", "type", "required", "pattern",
                                            "max_length", "values", "min", "max", "separator",
                                            "omit_if_null", "default", NULL };
        const char *types[_COLUMN_TYPE_MAX + 1] = { NULL };
        char p[LOAD_PATH_MAX];
        const YNode *t;
        uint64_t max_len;
        int k;

        if (!load_expect(ld, col, path, YNODE_MAPPING))
                return;
        load_check_keys(ld, col, path, keys);
        /* DynamoDB key attribute names are at most 255 bytes; hold every column to it */
        if (load_get_string(ld, col, path, "name", true, 255, NULL, &c->name) && c->name &&
            !c->name[0])
                load_report(ld, ynode_get(col, "name"), load_join(p, path, "name"),
                            "must not be empty");
        for (int i = 0; i < _COLUMN_TYPE_MAX; i++)
                types[i] = column_type_to_string((ColumnType) i);
        c->type = COLUMN_STRING;
        t = load_field(ld, col, path, "type", false);
        if (t) {
                /* every check below depends on the type */
                if (!load_choice(ld, t, load_join(p, path, "type"), types, &k))
                        return;
                c->type = (ColumnType) k;
        }
        load_get_bool(ld, col, path, "required", &c->required);
        load_pattern(ld, col, path, c);
        only_for(ld, col, path, "max_length", c->type == COLUMN_STRING || c->type == COLUMN_STRING_SET,
                 "string or string_set");
        if ((c->type == COLUMN_STRING || c->type == COLUMN_STRING_SET) &&
            load_get_u64(ld, col, path, "max_length", 1, MAX_STRING_BYTES, &max_len))
                c->max_length = (size_t) max_len;
        load_enum_values(ld, col, path, c);
        load_bounds(ld, col, path, c);
        load_mapping(ld, col, path, c);
}

/* The header is matched to columns case-insensitively, so "Course" and "course" collide. */
static void check_column_names(Loader *ld, const YNode *cols, const char *path,
                               const PipelineSpec *p) {
        char ip[LOAD_PATH_MAX], np[LOAD_PATH_MAX], q[80];

        for (size_t i = 1; i < p->n_columns; i++) {
                if (!p->columns[i].name)
                        continue;
                for (size_t j = 0; j < i; j++) {
                        const YNode *first = ynode_get(cols->items[j], "name");

                        if (!p->columns[j].name || (strcasecmp(p->columns[i].name, p->columns[j].name) &&
                            !header_matches(p->csv.header_match, p->columns[j].name, p->columns[i].name,
                                            strlen(p->columns[i].name))))
                                continue;
                        load_report(ld, ynode_get(cols->items[i], "name"),
                                    load_join(np, load_index(ip, path, i), "name"),
                                    "duplicate column '%s' (line %u; header names match case-insensitively)",
                                    diag_quote(p->columns[i].name, q, sizeof(q)), first->line);
                        break;
                }
                for (size_t j = 0; j < i; j++) {
                        const char *a = column_spec_attribute(&p->columns[i]);

                        if (!p->columns[j].name || strcmp(a, column_spec_attribute(&p->columns[j])) != 0)
                                continue;
                        load_report(ld, cols->items[i], load_index(ip, path, i),
                                    "attribute '%s' is written by column %zu too; an item has each attribute once",
                                    diag_quote(a, q, sizeof(q)), j);
                        break;
                }
        }
}

/* *ret_bad[i] marks columns that had errors, so the key checks don't pile a second,
 * misleading message on top ("must be required" after "required: yes" was refused). */
static void load_columns(Loader *ld, const YNode *pl, const char *ppath, PipelineSpec *p,
                         bool **ret_bad) {
        bool ddb = p->format == FORMAT_DDB_JSON;
        const YNode *v = load_field(ld, pl, ppath, "columns", !ddb);
        char path[LOAD_PATH_MAX], ip[LOAD_PATH_MAX];
        bool *bad;

        if (!v && ddb)
                *ret_bad = calloc(1, sizeof(bool));
        if (v && ddb) {
                load_report(ld, v, load_join(path, ppath, "columns"),
                            "format ddb-json writes each item as it is: columns do not apply");
                return;
        }
        if (!v || !load_expect(ld, v, load_join(path, ppath, "columns"), YNODE_SEQUENCE))
                return;
        if (v->n_items == 0 || v->n_items > MAX_COLUMNS) {
                load_report(ld, v, path, "a pipeline needs 1 to %d columns", MAX_COLUMNS);
                return;
        }
        p->columns = calloc(v->n_items, sizeof(*p->columns));
        if (!p->columns) {
                ld->oom = true;
                return;
        }
        p->n_columns = v->n_items;
        bad = calloc(v->n_items, sizeof(bool));
        if (!bad) {
                ld->oom = true;
                return;
        }
        for (size_t i = 0; i < v->n_items; i++) {
                size_t before = diag_count(&ld->diag);

                load_column(ld, v->items[i], load_index(ip, path, i), &p->columns[i]);
                bad[i] = diag_count(&ld->diag) != before;
        }
        check_column_names(ld, v, path, p);
        *ret_bad = bad;
}

/* ---- computed attributes ---- */

static void load_ttl(Loader *ld, const YNode *v, const char *path, const PipelineSpec *p,
                     ComputedSpec *c) {
        static const char *const keys[] = { "from", "add_days", NULL };
        char fp[LOAD_PATH_MAX], q[80];
        uint64_t days = 0;
        char *from = NULL;
        int i;

        if (!load_expect(ld, v, path, YNODE_MAPPING))
                return;
        load_check_keys(ld, v, path, keys);
        c->kind = COMPUTED_TTL;
        load_get_u64(ld, v, path, "add_days", 0, 36500, &days);
        c->add_days = (int64_t) days;
        if (!load_get_string(ld, v, path, "from", true, 255, NULL, &from) || !from)
                return;
        if (strcmp(from, "ingested_at") == 0) {
                free(from);
                return;
        }
        i = pipeline_spec_column_index(p, from);
        if (i < 0 || p->columns[i].type != COLUMN_DATE)
                load_report(ld, ynode_get(v, "from"), load_join(fp, path, "from"),
                            "'%s' is neither ingested_at nor a column of type date",
                            diag_quote(from, q, sizeof(q)));
        c->ttl_column = from;
}

static void load_one_computed(Loader *ld, const YNode *v, const char *path, const PipelineSpec *p,
                              ComputedSpec *c) {
        static const char *const keys[] = { "attribute", "from", "constant", "ttl", NULL };
        const char *sources[_SOURCE_MAX + 1] = { NULL };
        char tp[LOAD_PATH_MAX];
        int n = 0, k;

        if (!load_expect(ld, v, path, YNODE_MAPPING))
                return;
        load_check_keys(ld, v, path, keys);
        if (load_get_string(ld, v, path, "attribute", true, 255, NULL, &c->attribute) && c->attribute &&
            !c->attribute[0])
                load_report(ld, ynode_get(v, "attribute"), load_join(tp, path, "attribute"), "must not be empty");
        for (int i = 0; i < _SOURCE_MAX; i++)
                sources[i] = computed_source_to_string((ComputedSource) i);
        n = !!ynode_get(v, "from") + !!ynode_get(v, "constant") + !!ynode_get(v, "ttl");
        if (n != 1) {
                load_report(ld, v, path, "give exactly one of from, constant and ttl");
                return;
        }
        if (load_get_choice(ld, v, path, "from", sources, &k)) {
                c->kind = COMPUTED_SOURCE;
                c->source = (ComputedSource) k;
        } else if (ynode_get(v, "constant")) {
                c->kind = COMPUTED_CONSTANT;
                load_get_string(ld, v, path, "constant", true, 1024, NULL, &c->constant);
        } else if (ynode_get(v, "ttl"))
                load_ttl(ld, ynode_get(v, "ttl"), load_join(tp, path, "ttl"), p, c);
}

static void load_computed(Loader *ld, const YNode *pl, const char *ppath, PipelineSpec *p) {
        const YNode *v = load_field(ld, pl, ppath, "computed", false);
        char path[LOAD_PATH_MAX], ip[LOAD_PATH_MAX], q[80];

        if (!v || !load_expect(ld, v, load_join(path, ppath, "computed"), YNODE_SEQUENCE))
                return;
        if (p->format == FORMAT_DDB_JSON) {
                load_report(ld, v, path, "format ddb-json writes each item as it is: computed does not apply");
                return;
        }
        if (v->n_items > MAX_COLUMNS) {
                load_report(ld, v, path, "at most %d computed attributes", MAX_COLUMNS);
                return;
        }
        p->computed = calloc(v->n_items ? v->n_items : 1, sizeof(*p->computed));
        if (!p->computed) {
                ld->oom = true;
                return;
        }
        p->n_computed = v->n_items;
        for (size_t i = 0; i < v->n_items; i++) {
                const char *a;

                load_one_computed(ld, v->items[i], load_index(ip, path, i), p, &p->computed[i]);
                a = p->computed[i].attribute;
                if (!a)
                        continue;
                if (pipeline_spec_attribute_index(p, a) >= 0 || pipeline_spec_computed_index(p, a) < (int) i)
                        load_report(ld, v->items[i], ip, "attribute '%s' is written by a column or an "
                                    "earlier computed attribute too", diag_quote(a, q, sizeof(q)));
        }
}

/* ---- key ---- */

static int find_column(const PipelineSpec *p, const char *name, bool nocase) {
        for (size_t i = 0; i < p->n_columns; i++)
                if (p->columns[i].name && (nocase ? strcasecmp(p->columns[i].name, name) == 0
                                                  : strcmp(p->columns[i].name, name) == 0))
                        return (int) i;
        return -1;
}

/* DynamoDB key attributes must be S, N or B and present in every item. */
static void check_key_column(Loader *ld, const YNode *v, const char *path, const PipelineSpec *p,
                             const bool *bad, const char *name) {
        int i = pipeline_spec_attribute_index(p, name);
        char q[80];

        if (p->format == FORMAT_DDB_JSON || (i < 0 && pipeline_spec_computed_index(p, name) >= 0))
                return;
        if (i < 0 && (i = find_column(p, name, false)) >= 0) {
                load_report(ld, v, path, "column '%s' writes attribute '%s': a key names the attribute",
                            diag_quote(name, q, sizeof(q)), column_spec_attribute(&p->columns[i]));
                return;
        }
        if (i < 0) {
                int j = find_column(p, name, true);

                if (j >= 0)
                        load_report(ld, v, path, "no column named '%s' (did you mean '%s'? key names are case-sensitive)",
                                    diag_quote(name, q, sizeof(q)), p->columns[j].name);
                else
                        load_report(ld, v, path, "no column named '%s' in columns",
                                    diag_quote(name, q, sizeof(q)));
                return;
        }
        if (bad[i])
                return;
        if (p->columns[i].type == COLUMN_BOOLEAN)
                load_report(ld, v, path, "column '%s' is a boolean; DynamoDB keys must be strings or numbers",
                            diag_quote(name, q, sizeof(q)));
        else if (table_key_type_of_column(p->columns[i].type) == 0)
                load_report(ld, v, path, "column '%s' is a %s; DynamoDB keys must be strings or numbers",
                            diag_quote(name, q, sizeof(q)), column_type_to_string(p->columns[i].type));
        else if (!p->columns[i].required)
                load_report(ld, v, path, "key column '%s' must be 'required: true' (every item needs its key)",
                            diag_quote(name, q, sizeof(q)));
}

static void load_key(Loader *ld, const YNode *pl, const char *ppath, PipelineSpec *p,
                     const bool *bad) {
        static const char *const keys[] = { "partition", "sort", NULL };
        const YNode *v = load_field(ld, pl, ppath, "key", true);
        char path[LOAD_PATH_MAX], kp[LOAD_PATH_MAX];

        if (!v || !load_expect(ld, v, load_join(path, ppath, "key"), YNODE_MAPPING))
                return;
        load_check_keys(ld, v, path, keys);
        if (load_get_string(ld, v, path, "partition", true, 255, NULL, &p->partition_key) &&
            p->partition_key && bad)
                check_key_column(ld, ynode_get(v, "partition"), load_join(kp, path, "partition"),
                                 p, bad, p->partition_key);
        if (!load_get_string(ld, v, path, "sort", false, 255, NULL, &p->sort_key) || !p->sort_key)
                return;
        load_join(kp, path, "sort");
        if (p->partition_key && strcmp(p->partition_key, p->sort_key) == 0)
                load_report(ld, ynode_get(v, "sort"), kp, "the sort key must differ from the partition key");
        else if (bad)
                check_key_column(ld, ynode_get(v, "sort"), kp, p, bad, p->sort_key);
}

/* ---- ordering ---- */

/* group: prefix | { regex: "..." } */
static void load_order_group(Loader *ld, const YNode *v, const char *path, OrderingSpec *o) {
        static const char *const keys[] = { "regex", NULL };
        static const char *const groups[] = { "prefix", NULL };
        char p[LOAD_PATH_MAX], err[128];
        regex_t re;
        int r, k;

        if (v->type == YNODE_SCALAR) {
                (void) load_choice(ld, v, path, groups, &k);
                return;
        }
        if (!load_expect(ld, v, path, YNODE_MAPPING))
                return;
        load_check_keys(ld, v, path, keys);
        if (!load_get_string(ld, v, path, "regex", true, 1024, NULL, &o->group_regex) || !o->group_regex)
                return;
        r = regcomp(&re, o->group_regex, REG_EXTENDED);
        if (r != 0) {
                regerror(r, &re, err, sizeof(err));
                load_report(ld, ynode_get(v, "regex"), load_join(p, path, "regex"),
                            "not a valid POSIX extended regular expression: %s", err);
                free(o->group_regex);
                o->group_regex = NULL;
                return;
        }
        regfree(&re);
}

/* ordering: none | per_prefix | global, or { mode: ..., group: ..., window: N }. The short
 * form takes the defaults: group by prefix, ORDERING_WINDOW_DEFAULT seconds. */
static void load_ordering(Loader *ld, const YNode *pl, const char *ppath, OrderingSpec *o) {
        static const char *const keys[] = { "mode", "group", "window", NULL };
        static const char *const modes[] = { "none", "per_prefix", "global", NULL };
        const YNode *v = load_field(ld, pl, ppath, "ordering", false), *m, *g;
        char path[LOAD_PATH_MAX], p[LOAD_PATH_MAX];
        int k;

        o->mode = ORDERING_NONE;
        o->window = 0;
        if (!v)
                return;
        load_join(path, ppath, "ordering");
        if (v->type == YNODE_SCALAR) {
                if (load_choice(ld, v, path, modes, &k))
                        o->mode = (OrderingMode) k;
                o->window = o->mode == ORDERING_NONE ? 0 : ORDERING_WINDOW_DEFAULT;
                return;
        }
        if (!load_expect(ld, v, path, YNODE_MAPPING))
                return;
        load_check_keys(ld, v, path, keys);
        m = load_field(ld, v, path, "mode", true);
        if (!m || !load_choice(ld, m, load_join(p, path, "mode"), modes, &k))
                return;
        o->mode = (OrderingMode) k;
        o->window = o->mode == ORDERING_NONE ? 0 : ORDERING_WINDOW_DEFAULT;
        g = ynode_get(v, "group");
        if (g && o->mode != ORDERING_PER_PREFIX)
                load_report(ld, g, load_join(p, path, "group"), "only allowed with mode per_prefix");
        else if (g)
                load_order_group(ld, g, load_join(p, path, "group"), o);
        if (ynode_get(v, "window") && o->mode == ORDERING_NONE)
                load_report(ld, ynode_get(v, "window"), load_join(p, path, "window"),
                            "only allowed with mode per_prefix or global");
        else
                load_get_unsigned(ld, v, path, "window", 0, ORDERING_WINDOW_MAX, &o->window);
}

/* ---- one pipeline ---- */

static void load_match(Loader *ld, const YNode *pl, const char *ppath, PipelineSpec *p) {
        static const char *const keys[] = { "bucket", "prefix", "suffix", NULL };
        const YNode *v = load_field(ld, pl, ppath, "match", false);
        char path[LOAD_PATH_MAX];

        if (v && load_expect(ld, v, load_join(path, ppath, "match"), YNODE_MAPPING)) {
                load_check_keys(ld, v, path, keys);
                load_get_string(ld, v, path, "bucket", false, 63, check_bucket_name, &p->match_bucket);
                load_get_string(ld, v, path, "prefix", false, 1024, check_key_prefix, &p->match_prefix);
                load_get_string(ld, v, path, "suffix", false, 1024, check_key_suffix, &p->match_suffix);
        }
        if (!p->match_prefix)
                p->match_prefix = load_strdup(ld, "");
        if (!p->match_suffix)
                p->match_suffix = load_strdup(ld, "");
}

/* The daemon compiles every pipeline at start; what passes here must compile there too, so
 * a clean pipeline is handed to the same compiler as a last check. */
static void check_compiles(Loader *ld, const YNode *pl, const char *path, const PipelineSpec *p) {
        _cleanup_(schema_freep) Schema *s = NULL;
        S3bError err;
        int r;

        s3b_error_clear(&err);
        r = schema_new(p, NULL, &s, &err);
        if (r == -ENOMEM)
                ld->oom = true;
        else if (r < 0)
                load_report(ld, pl, path, "%s", err.message);
}

/* Bounds of the flow-control keys (the man page test reads them from here). */
#define CAPACITY_UNITS_MAX 100000000    /* WCU/s: far above any table's quota */
#define INSTANCES_MAX 1024
#define CONCURRENCY_MAX 32
_Static_assert(CONCURRENCY_MAX == WRITE_CONCURRENCY_MAX, "the writer's lane cap");
/* split_bytes up to S3's largest object, 5 TiB (S3 User Guide, "Uploading objects") */
#define SPLIT_BYTES_MAX 5497558138880
#define SPLIT_WORKERS_MIN 2
#define SPLIT_WORKERS_MAX 16

/* write_capacity: { units_per_second: N, instances: M } */
static void load_write_capacity(Loader *ld, const YNode *pl, const char *ppath, PipelineSpec *p) {
        static const char *const keys[] = { "units_per_second", "instances", NULL };
        const YNode *v = load_field(ld, pl, ppath, "write_capacity", false);
        char path[LOAD_PATH_MAX];

        p->write_instances = 1;
        if (!v || !load_expect(ld, v, load_join(path, ppath, "write_capacity"), YNODE_MAPPING))
                return;
        load_check_keys(ld, v, path, keys);
        if (!load_field(ld, v, path, "units_per_second", true))
                return;
        load_get_u64(ld, v, path, "units_per_second", 1, CAPACITY_UNITS_MAX, &p->write_capacity);
        load_get_unsigned(ld, v, path, "instances", 1, INSTANCES_MAX, &p->write_instances);
}

static bool is_auto(const YNode *v) {
        return v && v->type == YNODE_SCALAR && strcmp(v->value, "auto") == 0;
}

static void load_pipeline(Loader *ld, const YNode *pl, const char *path, PipelineSpec *p) {
        static const char *const keys[] = { "name", "match", "table", "format", "csv", "columns",
                                            "computed", "key", "max_rejected_rows", "write_mode",
                                            "ordering", "write_capacity", "write_concurrency",
                                            "split_bytes", "split_workers", NULL };
        static const char *const modes[] = { "stream", "validate_first", NULL };
        const char *formats[_FORMAT_MAX + 1] = { NULL };
        size_t before = diag_count(&ld->diag);
        _cleanup_free_ bool *bad = NULL;
        int k;

        csv_spec_init(&p->csv);
        if (!load_expect(ld, pl, path, YNODE_MAPPING))
                return;
        load_check_keys(ld, pl, path, keys);
        load_get_string(ld, pl, path, "name", true, 64, check_pipeline_name, &p->name);
        load_match(ld, pl, path, p);
        load_get_string(ld, pl, path, "table", true, 255, check_table_name, &p->table);
        for (int i = 0; i < _FORMAT_MAX; i++)
                formats[i] = input_format_to_string((InputFormat) i);
        if (load_get_choice(ld, pl, path, "format", formats, &k))
                p->format = (InputFormat) k;
        load_csv(ld, pl, path, &p->csv);
        load_columns(ld, pl, path, p, &bad);
        load_computed(ld, pl, path, p);
        load_key(ld, pl, path, p, bad);
        load_get_u64(ld, pl, path, "max_rejected_rows", 0, UINT64_MAX, &p->max_rejected_rows);
        if (load_get_choice(ld, pl, path, "write_mode", modes, &k))
                p->write_mode = (WriteMode) k;
        load_ordering(ld, pl, path, &p->ordering);
        load_write_capacity(ld, pl, path, p);
        /* write_concurrency: auto (0) | 1..32 */
        if (!is_auto(ynode_get(pl, "write_concurrency")))
                load_get_unsigned(ld, pl, path, "write_concurrency", 1, CONCURRENCY_MAX, &p->write_concurrency);
        p->split_bytes = SPLIT_BYTES_DEFAULT;
        p->split_workers = SPLIT_WORKERS_DEFAULT;
        load_get_u64(ld, pl, path, "split_bytes", 0, SPLIT_BYTES_MAX, &p->split_bytes);
        load_get_unsigned(ld, pl, path, "split_workers", SPLIT_WORKERS_MIN, SPLIT_WORKERS_MAX, &p->split_workers);
        if (diag_count(&ld->diag) == before && !ld->oom)
                check_compiles(ld, pl, path, p);
}

/* ---- across pipelines ---- */

static bool starts_with(const char *s, const char *p) {
        return strncmp(s, p, strlen(p)) == 0;
}

static bool ends_with(const char *s, const char *p) {
        size_t n = strlen(s), m = strlen(p);

        return n >= m && strcmp(s + n - m, p) == 0;
}

static bool same_bucket(const char *match_bucket, const char *bucket) {
        return !match_bucket || (bucket && strcmp(match_bucket, bucket) == 0);
}

/* A file the pipeline took (key K = match.prefix + …) is copied to loc.prefix + K. That copy
 * is fed back to the pipeline exactly when loc.prefix + match.prefix starts with
 * match.prefix; the suffix is kept, so it matches too. */
static void check_loop(Loader *ld, const YNode *pl, const char *path, const PipelineSpec *p,
                       const ConfigLocation *loc, const char *what) {
        _cleanup_free_ char *joined = NULL;
        const YNode *at = ynode_get(pl, "match") ? ynode_get(pl, "match") : pl;
        char mp[LOAD_PATH_MAX];

        if (!loc->bucket || !loc->prefix || !p->match_prefix || !same_bucket(p->match_bucket, loc->bucket))
                return;
        if (asprintf(&joined, "%s%s", loc->prefix, p->match_prefix) < 0) {
                ld->oom = true;
                return;
        }
        if (!starts_with(joined, p->match_prefix))
                return;
        if (!p->match_bucket)
                load_report(ld, at, at == pl ? path : load_join(mp, path, "match"),
                            "matches any bucket, so files moved to %s (s3://%s/%s) would be "
                            "loaded again if that bucket notifies the queue; set match.bucket",
                            what, loc->bucket, loc->prefix);
        else
                load_report(ld, at, load_join(mp, path, "match"),
                            "files moved to %s (s3://%s/%s) would match this pipeline again; "
                            "use another bucket or a prefix outside the pipeline's",
                            what, loc->bucket, loc->prefix);
}

/* a's keys are all b's too: same or no bucket filter on b, a's prefix and suffix extend b's */
static bool match_within(const PipelineSpec *a, const PipelineSpec *b) {
        return (!b->match_bucket || (a->match_bucket && strcmp(a->match_bucket, b->match_bucket) == 0)) &&
               starts_with(a->match_prefix, b->match_prefix) && ends_with(a->match_suffix, b->match_suffix);
}

/* Some key is both a's and b's: the buckets can agree, one prefix extends the other, and so
 * does one suffix ("in/" + "x" + ".csv" is "in/x.csv" for prefixes "in/", "" and suffixes
 * ".csv", ""). */
static bool match_overlaps(const PipelineSpec *a, const PipelineSpec *b) {
        return (!a->match_bucket || !b->match_bucket || strcmp(a->match_bucket, b->match_bucket) == 0) &&
               (starts_with(a->match_prefix, b->match_prefix) || starts_with(b->match_prefix, a->match_prefix)) &&
               (ends_with(a->match_suffix, b->match_suffix) || ends_with(b->match_suffix, a->match_suffix));
}

static const char *longer(const char *x, const char *y) {
        return strlen(x) >= strlen(y) ? x : y;
}

/* Pipelines are tried in order, so what the notification filter delivers to a later pipeline
 * can be taken by an earlier one. Knowable offline from the matches alone: a later pipeline
 * whose every key an earlier one takes is dead (an error); one that shares some keys with an
 * earlier one, neither being the narrower, loses those keys (a warning: listing the narrower
 * pipeline first is the usual intent, and it draws none). The gzip matches of a suffix
 * ("x.csv.gz" for ".csv") give way to exact ones (config_find_pipeline), so they shadow
 * nothing. */
static void check_shadowed(Loader *ld, const YNode *seq, const Config *c, size_t j) {
        const PipelineSpec *b = &c->pipelines[j];
        char path[LOAD_PATH_MAX];

        if (!b->match_prefix || !b->match_suffix)
                return;
        for (size_t i = 0; i < j; i++) {
                const PipelineSpec *a = &c->pipelines[i];

                if (!a->name || !a->match_prefix || !a->match_suffix)
                        continue;
                if (match_within(b, a)) {
                        load_report(ld, seq->items[j], load_index(path, "pipelines", j),
                                    "can never match: pipeline '%s' (line %u) comes first and takes every file it would",
                                    a->name, seq->items[i]->line);
                        return;
                }
                if (!match_within(a, b) && match_overlaps(a, b)) {
                        load_warn(ld, seq->items[j], load_index(path, "pipelines", j),
                                  "keys like '%.200s...%.200s' match this pipeline and '%s' (line %u), "
                                  "which comes first and takes them; list the narrower pipeline first",
                                  longer(a->match_prefix, b->match_prefix),
                                  longer(a->match_suffix, b->match_suffix), a->name, seq->items[i]->line);
                        return;
                }
        }
}

static void check_names_unique(Loader *ld, const YNode *seq, const Config *c, size_t j) {
        char ip[LOAD_PATH_MAX], path[LOAD_PATH_MAX];

        for (size_t i = 0; i < j; i++)
                if (c->pipelines[i].name && strcmp(c->pipelines[i].name, c->pipelines[j].name) == 0) {
                        load_report(ld, ynode_get(seq->items[j], "name"),
                                    load_join(path, load_index(ip, "pipelines", j), "name"),
                                    "duplicate pipeline name '%s' (first at line %u)",
                                    c->pipelines[j].name, ynode_get(seq->items[i], "name")->line);
                        return;
                }
}

/* The budget is the table's, shared by every pipeline that writes it (flowctl.h): they must
 * say the same, or which one applied would depend on which file came last. */
static void check_budget_agrees(Loader *ld, const YNode *seq, const Config *c, size_t j) {
        const PipelineSpec *p = &c->pipelines[j];
        char path[LOAD_PATH_MAX];

        for (size_t i = 0; i < j; i++) {
                const PipelineSpec *q = &c->pipelines[i];

                if (!q->table || !p->table || strcmp(q->table, p->table) != 0)
                        continue;
                if (q->write_capacity == p->write_capacity &&
                    pipeline_spec_write_budget(q) == pipeline_spec_write_budget(p))
                        continue;
                load_index(path, "pipelines", j);
                load_report(ld, ynode_get(seq->items[j], "write_capacity") ?
                                ynode_get(seq->items[j], "write_capacity") : seq->items[j], path,
                            "writes table '%s' like pipeline '%s' but with another write_capacity "
                            "(a table has one budget: give both the same)", p->table,
                            q->name ? q->name : "?");
                return;
        }
}

static void check_across(Loader *ld, const YNode *seq, const Config *c) {
        char path[LOAD_PATH_MAX];

        for (size_t j = 0; j < c->n_pipelines; j++) {
                if (!c->pipelines[j].name)
                        continue;
                load_index(path, "pipelines", j);
                check_names_unique(ld, seq, c, j);
                check_loop(ld, seq->items[j], path, &c->pipelines[j], &c->archive, "the archive");
                check_loop(ld, seq->items[j], path, &c->pipelines[j], &c->errors, "the error bucket");
                check_shadowed(ld, seq, c, j);
                check_budget_agrees(ld, seq, c, j);
        }
}

void load_pipelines(Loader *ld, const YNode *root, Config *c) {
        const YNode *v = load_field(ld, root, "", "pipelines", true);
        char path[LOAD_PATH_MAX];

        if (!v || !load_expect(ld, v, "pipelines", YNODE_SEQUENCE))
                return;
        if (v->n_items == 0 || v->n_items > MAX_PIPELINES) {
                load_report(ld, v, "pipelines", "1 to %d pipelines are required", MAX_PIPELINES);
                return;
        }
        c->pipelines = calloc(v->n_items, sizeof(*c->pipelines));
        if (!c->pipelines) {
                ld->oom = true;
                return;
        }
        c->n_pipelines = v->n_items;
        for (size_t i = 0; i < v->n_items; i++)
                load_pipeline(ld, v->items[i], load_index(path, "pipelines", i), &c->pipelines[i]);
        check_across(ld, v, c);
}
