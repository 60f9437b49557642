/* Inflater: streaming gunzip with a fixed output window.
 *
 * Decompresses gzip data fed in chunks of any size and hands the output on in pieces of at
 * most 64 KiB, so memory stays constant whatever the compression ratio. Concatenated gzip
 * members (what `cat a.gz b.gz` and parallel compressors produce) are one stream, as gzip -d
 * reads them. A corrupt stream, trailing bytes that are not another member, or a stream that
 * stops inside a member is a failure (-EBADMSG) with a message for the file's error report. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/util.h"

typedef struct Inflater Inflater;

/* Receives decompressed bytes, valid only during the call. Return < 0 to stop. */
typedef int (*InflaterOutFn)(void *userdata, const void *data, size_t n);

/* -ENOMEM, its only failure (zlib's inflateInit2 fails only for memory with fixed, valid
 * arguments), so no S3bError: the caller names it ("gzip: …", common/ingest). */
int inflater_new(InflaterOutFn fn, void *userdata, Inflater **ret);
Inflater *inflater_free(Inflater *z);
DEFINE_CLEANUP_FUNC(Inflater *, inflater_free);

/* 0; -EBADMSG for corrupt data; the output callback's negative value; -ENOMEM. */
int inflater_feed(Inflater *z, const void *data, size_t n, S3bError *err);

/* End of input: -EBADMSG when the data stopped inside a member or there was none. */
int inflater_finish(Inflater *z, S3bError *err);

uint64_t inflater_bytes_out(const Inflater *z);

/* The two magic bytes of a gzip member (RFC 1952); needs n >= 2 to say yes. */
bool gzip_has_magic(const void *data, size_t n);
