/* TableCache: a small array searched linearly — a config has a handful of tables. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/aws/dynamodb.h"
#include "daemon/tablecache.h"

typedef struct Entry {
        char *table;            /* NULL = free slot */
        usec_t fetched;
        TableShape *shape;
} Entry;

struct TableCache {
        usec_t ttl;
        Entry entries[TABLECACHE_MAX_TABLES];
};

TableCache *tablecache_new(usec_t ttl) {
        TableCache *c = calloc(1, sizeof(*c));

        if (c)
                c->ttl = ttl;
        return c;
}

static void entry_clear(Entry *e) {
        free(e->table);
        free(e->shape);
        *e = (Entry) {};
}

TableCache *tablecache_free(TableCache *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < TABLECACHE_MAX_TABLES; i++)
                entry_clear(&c->entries[i]);
        free(c);
        return NULL;
}

/* The entry for table, else a free slot, else the one fetched longest ago. */
static Entry *slot_for(TableCache *c, const char *table) {
        Entry *free_slot = NULL, *oldest = &c->entries[0];

        for (size_t i = 0; i < TABLECACHE_MAX_TABLES; i++) {
                Entry *e = &c->entries[i];

                if (e->table && strcmp(e->table, table) == 0)
                        return e;
                if (!e->table && !free_slot)
                        free_slot = e;
                if (e->table && e->fetched < oldest->fetched)
                        oldest = e;
        }
        return free_slot ? free_slot : oldest;
}

int tablecache_get(TableCache *c, AwsClient *client, const char *table, usec_t now,
                   const TableShape **ret, S3bError *err) {
        Entry *e = slot_for(c, table);
        int r;

        if (e->table && strcmp(e->table, table) == 0 && now - e->fetched < c->ttl) {
                *ret = e->shape;
                return 0;
        }
        if (!e->table || strcmp(e->table, table) != 0) {
                entry_clear(e);
                e->table = strdup(table);
                e->shape = malloc(sizeof(*e->shape));
                if (!e->table || !e->shape) {
                        entry_clear(e);
                        return s3b_error_set(err, -ENOMEM, "out of memory");
                }
        }
        r = dynamodb_describe_table(client, table, e->shape, err);
        if (r < 0) {
                entry_clear(e);
                return r;
        }
        e->fetched = now;
        *ret = e->shape;
        return 0;
}
