/* Finding the first of a few byte values 8 bytes at a time (SWAR: SIMD within a register),
 * for the loops that skip plain bytes: the CSV scanner, its unescaping, the JSON escaper.
 * A mask has the high bit set in the lowest byte that matches and possibly in bytes above it
 * (a borrow only travels upwards from a match), never below it: so the lowest set bit of a
 * mask, or of several OR'ed together, is exactly the first match (Warren, "Hacker's Delight",
 * 6-1; Anderson, "Bit Twiddling Hacks", "Determine if a word has a byte equal to n").
 * Little-endian only (bytes_first()): BYTESCAN_WORDS says whether to use it. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define BYTESCAN_WORDS 1
#else
#define BYTESCAN_WORDS 0
#endif

#define BYTESCAN_ONES UINT64_C(0x0101010101010101)
#define BYTESCAN_HIGHS UINT64_C(0x8080808080808080)

static inline uint64_t bytes_load(const void *p) {
        uint64_t w;

        memcpy(&w, p, sizeof(w));
        return w;
}

/* Bytes of w equal to c. */
static inline uint64_t bytes_eq(uint64_t w, uint8_t c) {
        uint64_t x = w ^ (BYTESCAN_ONES * c);

        return (x - BYTESCAN_ONES) & ~x & BYTESCAN_HIGHS;
}

/* Bytes of w below c (c <= 0x80). */
static inline uint64_t bytes_lt(uint64_t w, uint8_t c) {
        return (w - BYTESCAN_ONES * c) & ~w & BYTESCAN_HIGHS;
}

/* Index of the first matching byte of a non-zero mask. */
static inline size_t bytes_first(uint64_t mask) {
        return (size_t) __builtin_ctzll(mask) / 8;
}
