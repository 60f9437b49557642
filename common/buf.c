#include <errno.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

void buf_init(Buf *b, size_t max) {
        *b = (Buf) BUF_INIT(max);
}

void buf_done(Buf *b) {
        free(b->data);
        b->data = NULL;
        b->len = b->cap = 0;
}

void buf_reset(Buf *b) {
        b->len = 0;
        if (b->data)
                b->data[0] = '\0';
}

int buf_reserve(Buf *b, size_t extra) {
        size_t need, ncap;
        char *p;

        if (extra > b->max || b->len > b->max - extra)
                return -ENOBUFS;
        need = b->len + extra + 1;
        if (need <= b->cap)
                return 0;
        ncap = b->cap ? b->cap : 256;
        while (ncap < need)
                ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
        if (ncap > b->max + 1)
                ncap = b->max + 1;
        p = realloc(b->data, ncap);
        if (!p)
                return -ENOMEM;
        b->data = p;
        b->cap = ncap;
        return 0;
}

int buf_append(Buf *b, const void *p, size_t n) {
        int r = buf_reserve(b, n);

        if (r < 0)
                return r;
        if (n)
                memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
}

int buf_append_str(Buf *b, const char *s) {
        return buf_append(b, s, strlen(s));
}

int buf_append_char(Buf *b, char c) {
        return buf_append(b, &c, 1);
}

int buf_printf(Buf *b, const char *fmt, ...) {
        va_list ap;
        int n, r;

        va_start(ap, fmt);
        n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -EINVAL;
        r = buf_reserve(b, (size_t) n);
        if (r < 0)
                return r;
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t) n;
        return 0;
}

const char *buf_str(const Buf *b) {
        return b->data ? b->data : "";
}

char *buf_steal(Buf *b) {
        char *p = b->data;

        if (!p)
                p = strdup("");
        b->data = NULL;
        b->len = b->cap = 0;
        return p;
}
