/* KeySet: a multiset of 64-bit key hashes of fixed capacity, for the writer's key-order check
 * (writer.c): the hashes of the keys of every batch in flight, each with how many of those
 * batches hold it. A new batch looks up its 25 keys here instead of comparing them with every
 * key of every batch in flight (25 × 25 × window compares, 20,000 at a window of 32).
 *
 * Open addressing with linear probing and deletion by backward shift (Knuth, TAOCP vol. 3,
 * 6.4, Algorithm R), so lookups never meet tombstones. Holds at most KEYSET_CAPACITY distinct
 * hashes (the writer needs WRITER_WINDOW_MAX × WRITER_BATCH_MAX = 800); keyset_add() beyond
 * that returns -ENOSPC. Plain data, zero-initialised = empty; no locking (the writer's lock
 * covers it). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define KEYSET_BITS 11
#define KEYSET_SLOTS (1u << KEYSET_BITS)
#define KEYSET_CAPACITY (KEYSET_SLOTS / 2)      /* under half full: short probe runs */

typedef struct KeySet {
        uint64_t hash[KEYSET_SLOTS];
        uint32_t count[KEYSET_SLOTS];   /* 0: empty slot */
        unsigned n;                     /* distinct hashes held */
} KeySet;

bool keyset_has(const KeySet *ks, uint64_t h);
/* Counts one more holder of h. 0, or -ENOSPC when h is new and the set is full. */
int keyset_add(KeySet *ks, uint64_t h);
/* Counts one holder less; h leaves the set with its last holder. Unknown h: nothing. */
void keyset_remove(KeySet *ks, uint64_t h);
