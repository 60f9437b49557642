/* TableShape checks against a pipeline. See tableshape.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/tableshape.h"

char table_key_type_of_column(ColumnType t) {
        switch (t) {
        case COLUMN_INTEGER:
        case COLUMN_NUMBER:
                return 'N';
        case COLUMN_STRING:
        case COLUMN_DATE:
        case COLUMN_ENUM:
                return 'S';
        default:        /* BOOL, SS, NS, M, L: no key can be one */
                return 0;
        }
}

const char *table_index_kind(const TableIndex *ix) {
        return ix->local ? "LSI" : "GSI";
}

static const char *type_name(char t) {
        switch (t) {
        case 'S':
                return "S (string)";
        case 'N':
                return "N (number)";
        case 'B':
                return "B (binary)";
        case 0:
                return "BOOL (boolean)";
        default:
                return "a set, M or L";
        }
}

/* The type p writes into attribute `name` (a column's or a computed one), 0 for a type no key
 * can have, or -1 when p never writes it: an attribute no one writes is never in an item,
 * which DynamoDB allows for index keys (sparse index). ddb-json items carry their own types,
 * checked per row. */
static int written_type(const PipelineSpec *p, const char *name, const char **ret_noun,
                        const char **ret_what) {
        int i = pipeline_spec_attribute_index(p, name);

        if (p->format == FORMAT_DDB_JSON)
                return -1;
        if (i >= 0) {
                ColumnType ct = p->columns[i].type;

                *ret_noun = "column";
                *ret_what = column_type_to_string(ct);
                /* a boolean says BOOL; sets, M and L a type of their own */
                return ct == COLUMN_BOOLEAN ? 0 : table_key_type_of_column(ct) ? table_key_type_of_column(ct) : 1;
        }
        i = pipeline_spec_computed_index(p, name);
        if (i < 0)
                return -1;
        *ret_noun = "computed attribute";
        *ret_what = computed_spec_type(&p->computed[i]) == 'N' ? "a number" : "a string";
        return computed_spec_type(&p->computed[i]);
}

static int check_attr(const PipelineSpec *p, const char *table, const char *what,
                      const TableKeyAttr *a, S3bError *err) {
        const char *noun = "", *kind = "";
        int t;

        if (!a->name[0] || (t = written_type(p, a->name, &noun, &kind)) < 0)
                return 0;
        if (t == a->type)
                return 0;
        return s3b_error_set(err, -EINVAL,
                             "pipeline '%s': table %s declares %s %s as %s, but %s %s is %s and "
                             "writes %s; DynamoDB would refuse every row that has a value",
                             p->name ? p->name : "", table, what, a->name, type_name(a->type),
                             noun, a->name, kind, type_name((char) t));
}

int table_shape_check_spec(const TableShape *t, const PipelineSpec *p, S3bError *err) {
        const char *want_sort = p->sort_key ? p->sort_key : "";
        const char *table = p->table ? p->table : "";
        char what[TABLE_NAME_MAX + 32];
        int r;

        if (strcmp(t->hash.name, p->partition_key ? p->partition_key : "") != 0 ||
            strcmp(t->range.name, want_sort) != 0)
                return s3b_error_set(err, -EINVAL,
                                     "pipeline '%s': table %s has key (%s%s%s) but the pipeline says (%s%s%s)",
                                     p->name ? p->name : "", table, t->hash.name,
                                     t->range.name[0] ? ", " : "", t->range.name,
                                     p->partition_key ? p->partition_key : "",
                                     want_sort[0] ? ", " : "", want_sort);
        r = check_attr(p, table, "partition key", &t->hash, err);
        if (r >= 0)
                r = check_attr(p, table, "sort key", &t->range, err);
        for (size_t i = 0; r >= 0 && i < t->n_indexes; i++) {
                const TableIndex *ix = &t->indexes[i];

                snprintf(what, sizeof(what), "%s %s key", table_index_kind(ix), ix->name);
                r = check_attr(p, table, what, &ix->hash, err);
                if (r >= 0)
                        r = check_attr(p, table, what, &ix->range, err);
        }
        return r;
}
