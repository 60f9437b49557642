/* Fuzz target for the split reader's boundaries (common/csvsplit.h): the input parsed as byte
 * ranges, planned the way daemon/split.c plans them, must give exactly the single stream's
 * rows, rejects and line numbers (fuzz/csvsplit-check.h is the oracle; any difference aborts).
 *
 * The first four bytes pick the plan: CSV or JSON Lines, the delimiter, a small max_row_bytes
 * (so oversized rows are skipped across boundaries), the number of ranges, the look-behind, the
 * probe window and the chunk size; the offsets are spread like the daemon's (size / n * i)
 * and jittered by the following bytes. The rest is the object. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz/csvsplit-check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char delims[] = { ',', ';', '|', '\t' };
        SplitCheckPlan pl;
        SplitCheckStats st = {};
        char why[256];
        const char *d;
        size_t n;

        if (size < 4 || size > (1u << 20))
                return 0;
        pl = (SplitCheckPlan) {
                .lines = data[0] & 1,
                .csv = { .delimiter = delims[(data[0] >> 1) & 3],
                         .max_row_bytes = data[0] & 8 ? 8u + (data[1] & 31) : 0 },
                .n = 2 + (data[1] >> 5) * 2,
                .look_behind = data[2] & 63,
                .probe_window = 1 + (size_t) data[3] * 4,
                .chunk = 1 + (data[2] >> 6) * 37,
        };
        d = (const char *) data + 4;
        n = size - 4;
        for (unsigned i = 1; i < pl.n; i++) {
                size_t o = n / pl.n * i + (i < n % pl.n ? i : n % pl.n);
                size_t jitter = n ? (size_t) (unsigned char) d[(i * 7) % n] % 16 : 0;

                o = o + jitter < n ? o + jitter : o;
                pl.offsets[i] = o < pl.offsets[i - 1] ? pl.offsets[i - 1] : o;
        }
        if (split_check(&pl, d, n, &st, why, sizeof(why)) != 0) {
                fprintf(stderr, "split parse differs from the single stream: %s\n", why);
                abort();
        }
        return 0;
}
