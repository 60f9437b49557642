/* URL encoding and decoding (rules and their AWS sources in urlcode.h). */
#include <errno.h>

#include "common/urlcode.h"

static bool is_unreserved(unsigned char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_' || c == '.' || c == '~';
}

int url_encode(Buf *out, const char *s, size_t n, bool keep_slash) {
        static const char hex[] = "0123456789ABCDEF";
        size_t i = 0;
        int r;

        while (i < n) {
                size_t run = i;

                /* the kept bytes in one append: most of a key is unreserved */
                while (run < n && (is_unreserved((unsigned char) s[run]) ||
                                   (keep_slash && s[run] == '/')))
                        run++;
                r = buf_append(out, s + i, run - i);
                if (r < 0 || run == n)
                        return r;
                unsigned char c = (unsigned char) s[run];
                char e[3] = { '%', hex[c >> 4], hex[c & 15] };

                r = buf_append(out, e, sizeof(e));
                if (r < 0)
                        return r;
                i = run + 1;
        }
        return 0;
}

static int unhex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

ssize_t url_decode(const char *in, size_t n, char *out, size_t out_size) {
        size_t o = 0;

        if (out_size == 0)
                return -ENOBUFS;
        for (size_t i = 0; i < n; i++) {
                char c = in[i];

                if (c == '+')
                        c = ' ';
                else if (c == '%') {
                        int hi, lo;

                        if (n - i < 3 || (hi = unhex(in[i + 1])) < 0 || (lo = unhex(in[i + 2])) < 0)
                                return -EINVAL;
                        c = (char) (hi << 4 | lo);
                        i += 2;
                }
                if (o >= out_size - 1)
                        return -ENOBUFS;
                out[o++] = c;
        }
        out[o] = '\0';
        return (ssize_t) o;
}
