/* URL encoding and decoding (rules and their AWS sources in urlcode.h). */
#include <errno.h>

#include "common/urlcode.h"

static bool is_unreserved(unsigned char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_' || c == '.' || c == '~';
}

int url_encode(Buf *out, const char *s, size_t n, bool keep_slash) {
        static const char hex[] = "0123456789ABCDEF";
        int r;

        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];

                if (is_unreserved(c) || (keep_slash && c == '/'))
                        r = buf_append_char(out, (char) c);
                else
                        r = buf_append(out, (char[]) { '%', hex[c >> 4], hex[c & 15] }, 3);
                if (r < 0)
                        return r;
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
