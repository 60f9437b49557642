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
        case COLUMN_BOOLEAN:
                return 0;
        default:
                return 'S';
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
        default:
                return "BOOL (boolean)";
        }
}

/* The column of p that writes attribute `name`, or NULL: an attribute no column writes is
 * never in an item, which DynamoDB allows for index keys (sparse index). */
static const ColumnSpec *column_of(const PipelineSpec *p, const char *name) {
        int i = pipeline_spec_column_index(p, name);

        return i < 0 ? NULL : &p->columns[i];
}

static int check_attr(const PipelineSpec *p, const char *table, const char *what,
                      const TableKeyAttr *a, S3bError *err) {
        const ColumnSpec *c;
        char t;

        if (!a->name[0] || !(c = column_of(p, a->name)))
                return 0;
        t = table_key_type_of_column(c->type);
        if (t == a->type)
                return 0;
        return s3b_error_set(err, -EINVAL,
                             "pipeline '%s': table %s declares %s %s as %s, but column %s is %s and "
                             "writes %s; DynamoDB would refuse every row that has a value",
                             p->name ? p->name : "", table, what, a->name, type_name(a->type),
                             a->name, column_type_to_string(c->type), type_name(t));
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
