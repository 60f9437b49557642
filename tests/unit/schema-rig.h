/* Test rig for the formats tests (test-jsonline, test-ddbvalue, test-mapping): a PipelineSpec
 * built in code (freed by pipeline_spec_done()), its Schema, and one row at a time through it
 * as CSV fields, a JSON Lines object or a ddb-json line. Include after cmocka.h. */
#pragma once

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonline.h"
#include "common/schema.h"

typedef struct Rig {
        PipelineSpec p;
        Schema *s;
        ItemBuilder item;
        Buf key;
        SchemaReject rj;
        JsonLine jl;
        cJSON *attrs;           /* the last item, parsed, for rig_attr() */
        cJSON *root;            /* the last JSON line: a reject's column_name may point into it */
        char *printed;
} Rig;

static inline ColumnSpec *rig_column(Rig *r, const char *name, ColumnType t, bool required) {
        PipelineSpec *p = &r->p;
        ColumnSpec *c;

        p->columns = realloc(p->columns, (p->n_columns + 1) * sizeof(*p->columns));
        assert_non_null(p->columns);
        c = &p->columns[p->n_columns++];
        *c = (ColumnSpec) { .name = strdup(name), .type = t, .required = required };
        return c;
}

static inline ComputedSpec *rig_computed(Rig *r, const char *attribute, ComputedKind k) {
        PipelineSpec *p = &r->p;
        ComputedSpec *c;

        p->computed = realloc(p->computed, (p->n_computed + 1) * sizeof(*p->computed));
        assert_non_null(p->computed);
        c = &p->computed[p->n_computed++];
        *c = (ComputedSpec) { .attribute = strdup(attribute), .kind = k };
        return c;
}

/* A pipeline with the loader's default null values ("" and "NULL"). */
static inline void rig_init(Rig *r, InputFormat f, const char *partition, const char *sort) {
        static const char *const nulls[] = { "", "NULL" };

        *r = (Rig) { .p = { .name = strdup("t"), .format = f }, .key = BUF_INIT(1 << 20) };
        csv_spec_init(&r->p.csv);
        r->p.csv.null_values = calloc(3, sizeof(char *));
        assert_non_null(r->p.csv.null_values);
        for (size_t i = 0; i < 2; i++)
                r->p.csv.null_values[i] = strdup(nulls[i]);
        r->p.csv.n_null_values = 2;
        r->p.partition_key = strdup(partition);
        r->p.sort_key = sort ? strdup(sort) : NULL;
        item_builder_init(&r->item, 8 << 20);
        json_line_init(&r->jl, 16 << 20);
}

/* schema_new() of the spec as built so far; its return. */
static inline int rig_compile(Rig *r, const TableShape *t, S3bError *err) {
        return schema_new(&r->p, t, &r->s, err);
}

static inline void rig_start(Rig *r) {
        S3bError err = {};
        int ret = rig_compile(r, NULL, &err);

        if (ret != 0)
                fail_msg("schema_new: %d %s", ret, err.message);
}

static inline void rig_done(Rig *r) {
        schema_free(r->s);
        item_builder_done(&r->item);
        buf_done(&r->key);
        json_line_done(&r->jl);
        cJSON_Delete(r->attrs);
        cJSON_Delete(r->root);
        free(r->printed);
        pipeline_spec_done(&r->p);
}

static inline int rig_check(Rig *r, int ret) {
        assert_true(ret == 0 || ret == 1);
        if (ret == 0) {
                cJSON_Delete(r->attrs);
                r->attrs = cJSON_Parse(r->item.json.data);
                assert_non_null(r->attrs);
        }
        return ret;
}

/* One CSV row (fields end with NULL) starting on `line`. 0 item, 1 reject. */
static inline int rig_csv(Rig *r, uint64_t line, const char *const *fields) {
        CsvField f[64];
        size_t n = 0;

        for (; fields[n]; n++)
                f[n] = (CsvField) { .data = fields[n], .len = strlen(fields[n]) };
        return rig_check(r, schema_row_at(r->s, f, n, line, &r->item, &r->key, &r->rj));
}

/* One line of JSON text, parsed as the ingest does; the line must be valid JSON. */
static inline int rig_line(Rig *r, const char *text) {
        const char *why = NULL;
        int ret;

        cJSON_Delete(r->root);
        r->root = NULL;
        ret = json_line_parse(&r->jl, text, strlen(text), &r->root, &why);
        if (ret != 0)
                fail_msg("json_line_parse: %d %s: %s", ret, why ? why : "", text);
        ret = r->p.format == FORMAT_DDB_JSON ? schema_row_ddb(r->s, r->root, &r->item, &r->key, &r->rj)
                                             : schema_row_json(r->s, r->root, 7, &r->item, &r->key, &r->rj);
        return rig_check(r, ret);
}

/* The last item's attribute `name` as compact JSON ({"S":"x"}), or NULL when absent. */
static inline const char *rig_attr(Rig *r, const char *name) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->attrs, name);

        free(r->printed);
        r->printed = v ? cJSON_PrintUnformatted(v) : NULL;
        return r->printed;
}

#define assert_attr(r, name, json) do { \
                const char *_got = rig_attr((r), (name)); \
                if (!_got || strcmp(_got, (json)) != 0) \
                        fail_msg("attribute %s: got %s, want %s", (name), _got ? _got : "(absent)", (json)); \
        } while (0)

#define assert_rejected(r, ret, part) do { \
                int _ret = (ret); \
                if (_ret != 1) \
                        fail_msg("accepted (%d) where '%s' was expected: %s", _ret, (part), (r)->item.json.data); \
                if (!strstr((r)->rj.reason, (part))) \
                        fail_msg("reason '%s' lacks '%s'", (r)->rj.reason, (part)); \
        } while (0)

static inline char *rig_repeat(const char *unit, size_t times, const char *head, const char *tail) {
        size_t ul = strlen(unit), hl = strlen(head), tl = strlen(tail);
        char *v = malloc(hl + ul * times + tl + 1), *p = v;

        assert_non_null(v);
        memcpy(p, head, hl);
        p += hl;
        for (size_t i = 0; i < times; i++, p += ul)
                memcpy(p, unit, ul);
        memcpy(p, tail, tl + 1);
        return v;
}
