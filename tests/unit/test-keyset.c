/* KeySet: a multiset of hashes with backward-shift deletion, checked against a plain array
 * under random churn, with hashes chosen to pile up in one probe run that wraps around the
 * end of the table. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "daemon/keyset.h"

static uint64_t rng(uint64_t *s) {
        /* splitmix64 */
        uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
}

/* the slot a hash starts from, as keyset.c computes it */
static unsigned home(uint64_t h) {
        return (unsigned) ((h * 0x9e3779b97f4a7c15ull) >> (64 - KEYSET_BITS));
}

#define N_CAND 200

static void churn(uint64_t seed, bool clustered) {
        static KeySet ks;
        uint64_t cand[N_CAND], s = seed;
        unsigned ref[N_CAND] = {};

        memset(&ks, 0, sizeof(ks));
        for (size_t i = 0; i < N_CAND; i++) {
                uint64_t h;

                do
                        h = rng(&s);
                /* clustered: homes in the last 4 and first 4 slots, so one long run wraps */
                while (clustered && home(h) >= 4 && home(h) < KEYSET_SLOTS - 4);
                cand[i] = h;
        }
        for (unsigned op = 0; op < 20000; op++) {
                size_t i = rng(&s) % N_CAND;

                if (rng(&s) % 2) {
                        assert_int_equal(keyset_add(&ks, cand[i]), 0);
                        ref[i]++;
                } else {
                        keyset_remove(&ks, cand[i]);
                        if (ref[i] > 0)
                                ref[i]--;
                }
                if (op % 7 == 0 || op > 19900) {
                        unsigned distinct = 0;

                        for (size_t k = 0; k < N_CAND; k++) {
                                assert_int_equal(keyset_has(&ks, cand[k]), ref[k] > 0);
                                distinct += ref[k] > 0;
                        }
                        assert_int_equal(ks.n, distinct);
                }
        }
        /* everything out: the table is empty again */
        for (size_t k = 0; k < N_CAND; k++)
                while (ref[k]-- > 0)
                        keyset_remove(&ks, cand[k]);
        for (size_t k = 0; k < KEYSET_SLOTS; k++)
                assert_int_equal(ks.count[k], 0);
        assert_int_equal(ks.n, 0);
}

static void test_churn_spread(void **state) {
        churn(1, false);
        churn(2, false);
}

static void test_churn_one_wrapping_run(void **state) {
        churn(3, true);
        churn(4, true);
}

static void test_full(void **state) {
        static KeySet ks;
        uint64_t s = 5;

        for (unsigned i = 0; i < KEYSET_CAPACITY; i++)
                assert_int_equal(keyset_add(&ks, rng(&s) | 1), 0);
        assert_int_equal(keyset_add(&ks, 2), -ENOSPC);
        assert_false(keyset_has(&ks, 2));
        /* a second holder of a hash already in is not a new entry */
        s = 5;
        assert_int_equal(keyset_add(&ks, rng(&s) | 1), 0);
        keyset_remove(&ks, 4);          /* unknown: nothing happens */
        assert_int_equal(ks.n, KEYSET_CAPACITY);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_churn_spread),
                cmocka_unit_test(test_churn_one_wrapping_run),
                cmocka_unit_test(test_full),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
