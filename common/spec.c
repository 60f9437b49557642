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
        free(c->attribute);
        free(c->default_value);
        free(c->separator);
        free(c->pattern);
        strv_free(c->enum_values, c->n_enum_values);
        memset(c, 0, sizeof(*c));
}

void computed_spec_done(ComputedSpec *c) {
        free(c->attribute);
        free(c->constant);
        free(c->ttl_column);
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
        for (size_t i = 0; i < p->n_computed; i++)
                computed_spec_done(&p->computed[i]);
        free(p->computed);
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

const char *column_spec_attribute(const ColumnSpec *c) {
        return c->attribute ? c->attribute : c->name;
}

int pipeline_spec_attribute_index(const PipelineSpec *p, const char *name) {
        for (size_t i = 0; i < p->n_columns; i++)
                if (p->columns[i].name && strcmp(column_spec_attribute(&p->columns[i]), name) == 0)
                        return (int) i;
        return -1;
}

int pipeline_spec_computed_index(const PipelineSpec *p, const char *name) {
        for (size_t i = 0; i < p->n_computed; i++)
                if (p->computed[i].attribute && strcmp(p->computed[i].attribute, name) == 0)
                        return (int) i;
        return -1;
}

char computed_spec_type(const ComputedSpec *c) {
        if (c->kind == COMPUTED_TTL || (c->kind == COMPUTED_SOURCE && c->source == SOURCE_LINE))
                return 'N';
        return 'S';
}

static const char *const format_names[_FORMAT_MAX] = {
        [FORMAT_CSV] = "csv", [FORMAT_JSONL] = "jsonl", [FORMAT_DDB_JSON] = "ddb-json",
};

const char *input_format_to_string(InputFormat f) {
        return f >= 0 && f < _FORMAT_MAX ? format_names[f] : NULL;
}

static const char *const source_names[_SOURCE_MAX] = {
        [SOURCE_KEY] = "source_key", [SOURCE_ETAG] = "source_etag",
        [SOURCE_LINE] = "source_line", [SOURCE_INGESTED_AT] = "ingested_at",
};

const char *computed_source_to_string(ComputedSource s) {
        return s >= 0 && s < _SOURCE_MAX ? source_names[s] : NULL;
}

static const char *const header_match_names[_HEADER_MATCH_MAX] = {
        [HEADER_MATCH_CASE_INSENSITIVE] = "case_insensitive",
        [HEADER_MATCH_EXACT] = "exact",
        [HEADER_MATCH_LOOSE] = "loose",
};

const char *header_match_to_string(HeaderMatch m) {
        return m >= 0 && m < _HEADER_MATCH_MAX ? header_match_names[m] : NULL;
}

static bool loose_skip(char c) {
        return c == ' ' || c == '\t' || c == '_' || c == '-';
}

static char ascii_lower(char c) {
        return c >= 'A' && c <= 'Z' ? (char) (c - 'A' + 'a') : c;
}

bool header_matches(HeaderMatch m, const char *name, const char *h, size_t n) {
        size_t i = 0, j = 0, nl = strlen(name);

        switch (m) {
        case HEADER_MATCH_EXACT:
                return nl == n && memcmp(name, h, n) == 0;
        case HEADER_MATCH_LOOSE:
                for (;;) {
                        while (i < nl && loose_skip(name[i]))
                                i++;
                        while (j < n && loose_skip(h[j]))
                                j++;
                        if (i == nl || j == n)
                                return i == nl && j == n;
                        if (ascii_lower(name[i++]) != ascii_lower(h[j++]))
                                return false;
                }
        default:
                if (nl != n)
                        return false;
                for (; i < n; i++)
                        if (ascii_lower(name[i]) != ascii_lower(h[i]))
                                return false;
                return true;
        }
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
        [COLUMN_STRING_SET] = "string_set",
        [COLUMN_NUMBER_SET] = "number_set",
        [COLUMN_MAP] = "map",
        [COLUMN_LIST] = "list",
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
