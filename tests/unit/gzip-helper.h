/* Test helper: gzip-compress like gzip(1) does (one member) and append to a Buf, so the
 * tests of the streaming inflater and of ingest build their inputs the same way.
 * Include after <cmocka.h>. */
#pragma once

#include <zlib.h>

#include "common/buf.h"

static inline void gzip_append(Buf *b, const void *data, size_t n, int level) {
        z_stream zs = {};
        size_t bound;

        assert_int_equal(deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
        bound = deflateBound(&zs, (uLong) n) + 32;
        assert_int_equal(buf_reserve(b, bound), 0);
        zs.next_in = (unsigned char *) data;
        zs.avail_in = (uInt) n;
        zs.next_out = (unsigned char *) b->data + b->len;
        zs.avail_out = (uInt) bound;
        assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
        b->len += bound - zs.avail_out;
        deflateEnd(&zs);
}
