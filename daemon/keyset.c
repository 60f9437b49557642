/* KeySet: see keyset.h. */
#include <errno.h>
#include <stddef.h>

#include "daemon/keyset.h"

static size_t home(uint64_t h) {
        /* Fibonacci hashing: the top bits of h × 2^64/φ spread any input */
        return (size_t) ((h * 0x9e3779b97f4a7c15ull) >> (64 - KEYSET_BITS));
}

/* h's slot, or the empty slot that ends its probe run. */
static size_t find(const KeySet *ks, uint64_t h) {
        size_t i = home(h);

        while (ks->count[i] > 0 && ks->hash[i] != h)
                i = (i + 1) & (KEYSET_SLOTS - 1);
        return i;
}

bool keyset_has(const KeySet *ks, uint64_t h) {
        return ks->count[find(ks, h)] > 0;
}

int keyset_add(KeySet *ks, uint64_t h) {
        size_t i = find(ks, h);

        if (ks->count[i] == 0) {
                if (ks->n >= KEYSET_CAPACITY)
                        return -ENOSPC;
                ks->hash[i] = h;
                ks->n++;
        }
        ks->count[i]++;
        return 0;
}

void keyset_remove(KeySet *ks, uint64_t h) {
        size_t i = find(ks, h), j = i;

        if (ks->count[i] == 0 || --ks->count[i] > 0)
                return;
        ks->n--;
        /* Close the hole at i: move back each later entry of the run whose home does not lie
         * cyclically in (i, j] (it would be unreachable past the hole otherwise). */
        for (;;) {
                size_t k;

                j = (j + 1) & (KEYSET_SLOTS - 1);
                if (ks->count[j] == 0)
                        break;
                k = home(ks->hash[j]);
                if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
                        continue;
                ks->hash[i] = ks->hash[j];
                ks->count[i] = ks->count[j];
                i = j;
        }
        ks->count[i] = 0;
}
