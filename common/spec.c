#include <stdlib.h>
#include <string.h>

#include "common/spec.h"

static void strv_free(char **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

void column_spec_done(ColumnSpec *c) {
        free(c->name);
        free(c->pattern);
        strv_free(c->enum_values, c->n_enum_values);
        memset(c, 0, sizeof(*c));
}

void csv_spec_init(CsvSpec *c) {
        *c = (CsvSpec) {
                .delimiter = ',',
                .header = HEADER_REQUIRED,
                .compression = COMPRESSION_AUTO,
                .max_row_bytes = 400 * 1024,
                .max_field_bytes = 400 * 1024,
        };
}

void csv_spec_done(CsvSpec *c) {
        strv_free(c->null_values, c->n_null_values);
        c->null_values = NULL;
        c->n_null_values = 0;
}

void pipeline_spec_done(PipelineSpec *p) {
        free(p->name);
        free(p->match_bucket);
        free(p->match_prefix);
        free(p->match_suffix);
        free(p->table);
        csv_spec_done(&p->csv);
        for (size_t i = 0; i < p->n_columns; i++)
                column_spec_done(&p->columns[i]);
        free(p->columns);
        free(p->partition_key);
        free(p->sort_key);
        free(p->ordering.group_regex);
        memset(p, 0, sizeof(*p));
}

int pipeline_spec_column_index(const PipelineSpec *p, const char *name) {
        for (size_t i = 0; i < p->n_columns; i++)
                if (strcmp(p->columns[i].name, name) == 0)
                        return (int) i;
        return -1;
}

static bool has_prefix(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool has_suffix(const char *s, const char *suffix) {
        size_t n = strlen(s), m = strlen(suffix);

        return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* A key ending in match_suffix + ".gz" — the gzipped file producers upload as "x.csv.gz" for a
 * ".csv" pipeline — is that pipeline's too when it may read gzip. Not when the suffix is empty
 * (it matches already) or names a compressed file itself (".csv.gz.gz" is no one's intent). */
static bool matches_gzipped(const PipelineSpec *p, const char *key) {
        size_t n = strlen(key), m;

        if (p->csv.compression == COMPRESSION_NONE || !p->match_suffix || !p->match_suffix[0] ||
            has_suffix(p->match_suffix, ".gz") || !has_suffix(key, ".gz"))
                return false;
        m = strlen(p->match_suffix);
        return n >= m + 3 && memcmp(key + n - 3 - m, p->match_suffix, m) == 0;
}

PipelineMatch pipeline_spec_match(const PipelineSpec *p, const char *bucket, const char *key) {
        if (p->match_bucket && strcmp(p->match_bucket, bucket) != 0)
                return PIPELINE_MATCH_NONE;
        if (p->match_prefix && !has_prefix(key, p->match_prefix))
                return PIPELINE_MATCH_NONE;
        if (!p->match_suffix || has_suffix(key, p->match_suffix))
                return PIPELINE_MATCH_EXACT;
        return matches_gzipped(p, key) ? PIPELINE_MATCH_GZIP : PIPELINE_MATCH_NONE;
}

bool pipeline_spec_matches(const PipelineSpec *p, const char *bucket, const char *key) {
        return pipeline_spec_match(p, bucket, key) != PIPELINE_MATCH_NONE;
}

static const char *const column_type_names[_COLUMN_TYPE_MAX] = {
        [COLUMN_STRING] = "string",
        [COLUMN_INTEGER] = "integer",
        [COLUMN_NUMBER] = "number",
        [COLUMN_BOOLEAN] = "boolean",
        [COLUMN_DATE] = "date",
        [COLUMN_ENUM] = "enum",
};

const char *column_type_to_string(ColumnType t) {
        return t >= 0 && t < _COLUMN_TYPE_MAX ? column_type_names[t] : NULL;
}

ColumnType column_type_from_string(const char *s) {
        for (int i = 0; i < _COLUMN_TYPE_MAX; i++)
                if (strcmp(column_type_names[i], s) == 0)
                        return (ColumnType) i;
        return (ColumnType) -1;
}

const char *ordering_mode_to_string(OrderingMode m) {
        static const char *const names[] = {
                [ORDERING_NONE] = "none", [ORDERING_PER_PREFIX] = "per_prefix", [ORDERING_GLOBAL] = "global",
        };

        return m >= 0 && m < _ORDERING_MODE_MAX ? names[m] : NULL;
}
