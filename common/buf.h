/* Buf: a growable byte buffer with a hard cap.
 *
 * Everything that grows from network or file input goes through a Buf whose `max` is set by
 * its owner, so a hostile or broken peer can only make an append fail with -ENOBUFS, never
 * exhaust memory (curl's dynbuf idea). The data is always NUL-terminated for convenience;
 * len does not count the terminator. A Buf is embedded by value; buf_done() releases it (also
 * as `_cleanup_(buf_done) Buf b = BUF_INIT(max);`).
 *
 * Errors are codes only (-ENOBUFS past max, -ENOMEM), never an S3bError: a Buf sits under
 * every message path, and only its owner knows what it was building, so the owner writes the
 * message (common/error.h). */
#pragma once

#include <stddef.h>
#include "common/util.h"

typedef struct Buf {
        char *data;
        size_t len;
        size_t cap;
        size_t max;     /* bytes of payload allowed, excluding the NUL */
} Buf;

#define BUF_INIT(m) { .data = NULL, .len = 0, .cap = 0, .max = (m) }

void buf_init(Buf *b, size_t max);
void buf_done(Buf *b);
void buf_reset(Buf *b);                                       /* len = 0, keeps memory */
int buf_reserve(Buf *b, size_t extra);                        /* -ENOBUFS past max, -ENOMEM */
int buf_append(Buf *b, const void *p, size_t n);
int buf_append_str(Buf *b, const char *s);
int buf_append_char(Buf *b, char c);
int buf_printf(Buf *b, const char *fmt, ...) _printf_(2, 3);
const char *buf_str(const Buf *b);                            /* "" when empty */
char *buf_steal(Buf *b);                                      /* caller frees; Buf is reset */
