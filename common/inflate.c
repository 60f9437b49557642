/* Streaming gunzip on zlib's inflate().
 *
 * windowBits 15 + 16 accepts the gzip wrapper only (no raw or zlib streams sneaking in). After
 * Z_STREAM_END the stream is reset and the next input byte must start another member: zlib then
 * reports "incorrect header check" for trailing garbage, which we want to be an error rather
 * than silently ignored data. */
#include <errno.h>
#include <string.h>
#include <zlib.h>

#include "common/inflate.h"

#define INFLATER_CHUNK (64u * 1024u)

struct Inflater {
        z_stream zs;
        bool zs_ready;
        bool in_member;         /* bytes of a member were read and its end not yet seen */
        bool saw_member;        /* at least one complete member */
        bool member_ended;      /* Z_STREAM_END seen: reset before the next byte */
        uint64_t bytes_out;
        InflaterOutFn fn;
        void *userdata;
        unsigned char out[INFLATER_CHUNK];
};

bool gzip_has_magic(const void *data, size_t n) {
        const unsigned char *p = data;

        return n >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

int inflater_new(InflaterOutFn fn, void *userdata, Inflater **ret) {
        Inflater *z = calloc(1, sizeof(*z));

        if (!z)
                return -ENOMEM;
        if (inflateInit2(&z->zs, 15 + 16) != Z_OK) {
                free(z);
                return -ENOMEM;
        }
        z->zs_ready = true;
        z->fn = fn;
        z->userdata = userdata;
        *ret = z;
        return 0;
}

Inflater *inflater_free(Inflater *z) {
        if (!z)
                return NULL;
        if (z->zs_ready)
                inflateEnd(&z->zs);
        free(z);
        return NULL;
}

uint64_t inflater_bytes_out(const Inflater *z) {
        return z->bytes_out;
}

static int corrupt(Inflater *z, int zr, S3bError *err) {
        if (zr == Z_MEM_ERROR)
                return s3b_error_set(err, -ENOMEM, "gzip: out of memory");
        return s3b_error_set(err, -EBADMSG, "corrupt gzip data after %llu decompressed bytes: %s",
                             (unsigned long long) z->bytes_out,
                             z->zs.msg ? z->zs.msg : "invalid stream");
}

int inflater_feed(Inflater *z, const void *data, size_t n, S3bError *err) {
        const unsigned char *in = data;

        while (n > 0) {
                /* avail_in is 32-bit: feed large chunks in slices */
                uInt slice = (uInt) MIN(n, (size_t) UINT32_MAX);

                z->zs.next_in = (unsigned char *) in;
                z->zs.avail_in = slice;
                in += slice;
                n -= slice;
                for (;;) {
                        size_t produced;
                        int zr, r;

                        if (z->member_ended) {
                                if (z->zs.avail_in == 0)
                                        break;
                                if (inflateReset(&z->zs) != Z_OK)
                                        return corrupt(z, Z_STREAM_ERROR, err);
                                z->member_ended = false;
                        }
                        if (z->zs.avail_in > 0)
                                z->in_member = true;
                        z->zs.next_out = z->out;
                        z->zs.avail_out = sizeof(z->out);
                        zr = inflate(&z->zs, Z_NO_FLUSH);
                        if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
                                return corrupt(z, zr, err);
                        produced = sizeof(z->out) - z->zs.avail_out;
                        if (produced > 0) {
                                z->bytes_out += produced;
                                r = z->fn(z->userdata, z->out, produced);
                                if (r < 0)
                                        return r;
                        }
                        if (zr == Z_STREAM_END) {
                                z->member_ended = true;
                                z->in_member = false;
                                z->saw_member = true;
                                continue;
                        }
                        /* a full output window may hide more output; otherwise zlib wants input */
                        if (z->zs.avail_out != 0 && z->zs.avail_in == 0)
                                break;
                        if (zr == Z_BUF_ERROR && produced == 0)
                                return corrupt(z, zr, err);     /* input left, no progress */
                }
        }
        return 0;
}

int inflater_finish(Inflater *z, S3bError *err) {
        if (z->in_member)
                return s3b_error_set(err, -EBADMSG,
                                     "truncated gzip data: the stream ends inside a member after %llu decompressed bytes",
                                     (unsigned long long) z->bytes_out);
        if (!z->saw_member)
                return s3b_error_set(err, -EBADMSG, "empty gzip data");
        return 0;
}
