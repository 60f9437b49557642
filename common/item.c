/* DynamoDB item JSON. The escape loop copies plain bytes eight at a time and only stops on
 * the few bytes JSON forbids raw; the buffer is reserved once per attribute for the worst
 * case so the loop writes without bounds checks. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "common/bytescan.h"
#include "common/item.h"

/* 1 = must be escaped in a JSON string (RFC 8259 §7) */
static const uint8_t json_special[256] = {
        [0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1, [0x06] = 1,
        [0x07] = 1, [0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1, [0x0c] = 1, [0x0d] = 1,
        [0x0e] = 1, [0x0f] = 1, [0x10] = 1, [0x11] = 1, [0x12] = 1, [0x13] = 1, [0x14] = 1,
        [0x15] = 1, [0x16] = 1, [0x17] = 1, [0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1,
        [0x1c] = 1, [0x1d] = 1, [0x1e] = 1, [0x1f] = 1, ['"'] = 1, ['\\'] = 1,
};

/* dst has room for n * JSON_ESCAPE_MAX bytes; returns the bytes written. Plain bytes are
 * copied as they are scanned: eight at a time (bytescan.h; a whole word is stored even when
 * only its first bytes are plain, the room for escapes covers the overhang), then one at a
 * time for the tail. Most values are a few bytes: no memcpy call per run. */
static size_t escape_into(char *dst, const char *s, size_t n) {
        static const char hex[] = "0123456789abcdef";
        char *d = dst;
        size_t i = 0;

        for (;;) {
                uint8_t c;

#if BYTESCAN_WORDS
                while (n - i >= 8) {
                        uint64_t w = bytes_load(s + i);
                        uint64_t m = bytes_lt(w, 0x20) | bytes_eq(w, '"') | bytes_eq(w, '\\');

                        memcpy(d, &w, 8);
                        if (m) {
                                size_t k = bytes_first(m);

                                d += k;
                                i += k;
                                goto special;
                        }
                        d += 8;
                        i += 8;
                }
#endif
                while (i < n && !json_special[(uint8_t) s[i]])
                        *d++ = s[i++];
                if (i == n)
                        break;
#if BYTESCAN_WORDS
special:
#endif
                c = (uint8_t) s[i++];
                *d++ = '\\';
                switch (c) {
                case '"':  *d++ = '"'; break;
                case '\\': *d++ = '\\'; break;
                case '\b': *d++ = 'b'; break;
                case '\f': *d++ = 'f'; break;
                case '\n': *d++ = 'n'; break;
                case '\r': *d++ = 'r'; break;
                case '\t': *d++ = 't'; break;
                default:
                        *d++ = 'u';
                        *d++ = '0';
                        *d++ = '0';
                        *d++ = hex[c >> 4];
                        *d++ = hex[c & 0xf];
                        break;
                }
        }
        return (size_t) (d - dst);
}

static size_t escaped_len(const char *s, size_t n) {
        size_t len = n;

        for (size_t i = 0; i < n; i++) {
                char c = s[i];

                if (!json_special[(uint8_t) c])
                        continue;
                len += c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' ||
                       c == '\t' ? 1 : 5;
        }
        return len;
}

int json_escape_append(Buf *b, const char *s, size_t n) {
        int r;

        if (n > SIZE_MAX / JSON_ESCAPE_MAX)
                return -ENOBUFS;
        r = buf_reserve(b, n * JSON_ESCAPE_MAX);
        if (r < 0)
                return r;
        b->len += escape_into(b->data + b->len, s, n);
        b->data[b->len] = '\0';
        return 0;
}

static const char *const open_value[] = {
        [ITEM_S] = "{\"S\":\"",
        [ITEM_N] = "{\"N\":\"",
        [ITEM_BOOL] = "{\"BOOL\":",
};

int item_name_init(ItemName *n, const char *name) {
        _cleanup_(buf_done) Buf b = BUF_INIT(SIZE_MAX / 2);
        _cleanup_(item_name_done) ItemName x = {};
        int r;

        r = buf_append_char(&b, '"');
        if (r >= 0)
                r = json_escape_append(&b, name, strlen(name));
        if (r >= 0)
                r = buf_append(&b, "\":", 2);
        if (r < 0)
                return r;
        x.json_len = b.len;
        x.size = strlen(name);
        for (size_t t = 0; t < ELEMENTSOF(open_value); t++) {
                _cleanup_(buf_done) Buf o = BUF_INIT(SIZE_MAX / 2);

                r = buf_append_char(&o, ',');
                if (r >= 0)
                        r = buf_append(&o, b.data, b.len);
                if (r >= 0)
                        r = buf_append_str(&o, open_value[t]);
                if (r < 0)
                        return r;
                x.open_len[t] = o.len - 1;
                x.open[t] = buf_steal(&o);
        }
        x.json = buf_steal(&b);
        *n = x;
        x = (ItemName) {};
        return 0;
}

void item_name_done(ItemName *n) {
        free(n->json);
        for (size_t t = 0; t < ELEMENTSOF(n->open); t++)
                free(n->open[t]);
        *n = (ItemName) {};
}

void item_builder_init(ItemBuilder *b, size_t max_json) {
        *b = (ItemBuilder) { .json = BUF_INIT(max_json) };
}

void item_builder_done(ItemBuilder *b) {
        buf_done(&b->json);
}

void item_builder_set_size_only(ItemBuilder *b, bool on) {
        b->size_only = on;
}

int item_begin(ItemBuilder *b) {
        buf_reset(&b->json);
        b->size = 0;
        b->n_attrs = 0;
        b->json_bound = 1;
        if (b->size_only)
                return 0;
        return buf_append_char(&b->json, '{');
}

/* Size only: n more bytes of JSON at most. 0 while the JSON would surely still fit in max
 * (the writing path's buf_reserve() test, on the bound instead of the length), else -E2BIG. */
static int bound_add(ItemBuilder *b, size_t n) {
        if (n > b->json.max || b->json_bound > b->json.max - n)
                return -E2BIG;
        b->json_bound += n;
        return 0;
}

static long floor_div2(long x) {
        return x >= 0 ? x / 2 : -((-x + 1) / 2);
}

size_t item_number_size(const char *v, size_t n) {
        size_t i = 0, digits = 0, int_digits = 0, first = SIZE_MAX, last = 0;
        bool neg = false, frac = false, exp_neg = false;
        long exp = 0, e_first;

        if (i < n && (v[i] == '-' || v[i] == '+'))
                neg = v[i++] == '-';
        /* significant digits: from the first non-zero digit to the last non-zero one of the
         * mantissa; where they sit relative to the decimal point matters too (below) */
        for (; i < n && v[i] != 'e' && v[i] != 'E'; i++) {
                if (v[i] == '.') {
                        frac = true;
                        continue;
                }
                if (v[i] < '0' || v[i] > '9')
                        continue;
                if (v[i] != '0') {
                        if (first == SIZE_MAX)
                                first = digits;
                        last = digits;
                }
                digits++;
                if (!frac)
                        int_digits++;
        }
        if (first == SIZE_MAX)
                return 1 + 1;   /* zero: one digit */
        if (i < n) {
                if (++i < n && (v[i] == '-' || v[i] == '+'))
                        exp_neg = v[i++] == '-';
                for (; i < n && v[i] >= '0' && v[i] <= '9'; i++)
                        if (exp < 1000000)
                                exp = exp * 10 + (v[i] - '0');
                if (exp_neg)
                        exp = -exp;
        }
        /* "Item sizes and formats" (DynamoDB developer guide) says *approximately* one byte
         * per two significant digits plus one. DynamoDB stores the digits in base 100, in
         * pairs aligned on the decimal point, so the count is the number of aligned pairs the
         * digits touch: 12.34 is |12|.|34| (two) but 1.234 is |_1|.|23|4_| (three). Plus one
         * byte, and one more for a negative number. dynalite, which mirrors DynamoDB's
         * accounting, counts the same. This is never less than the guide's approximation,
         * which undercounted by up to two bytes per number. */
        e_first = (long) int_digits - (long) first - 1 + exp;   /* power of ten of the first digit */
        return item_number_size_digits(e_first, last - first + 1, neg);
}

size_t item_number_size_digits(long e_first, size_t digits, bool neg) {
        long e_last = e_first - (long) (digits - 1);
        size_t pairs = (size_t) (floor_div2(e_first) - floor_div2(e_last) + 1);

        return 1 + pairs + (neg ? 1 : 0);
}

/* DynamoDB's size of one scalar value (its attribute name's bytes not included). */
static size_t value_size(ItemType t, const char *v, size_t n) {
        switch (t) {
        case ITEM_N:
                return item_number_size(v, n);
        case ITEM_BOOL:
                return 1;
        default:
                return n;
        }
}

/* item_add() without the JSON. need: the worst case the writing path reserves, which it also
 * checks first. */
static int item_measure(ItemBuilder *b, size_t size, size_t need) {
        int r = bound_add(b, need);

        if (r < 0)
                return r;
        b->size += size;
        b->n_attrs++;
        return 0;
}

int item_add(ItemBuilder *b, const ItemName *name, ItemType t, const char *v, size_t n) {
        return item_add_sized(b, name, t, v, n, value_size(t, v, n));
}

/* The writing half of item_add_sized(), not inlined into it: its register saves and
 * frame would otherwise be paid by the size-only path too, a third of its cost. need: the
 * worst case. */
__attribute__((noinline))
static int item_write(ItemBuilder *b, const ItemName *name, ItemType t, const char *v, size_t n,
                      size_t value_size, size_t need) {
        size_t olen = name->open_len[t];
        bool first = b->n_attrs == 0;
        char *d;
        int r;

        /* the buffer is warm after the first rows: skip the call when it already has room */
        r = b->json.cap - b->json.len > need ? 0 : buf_reserve(&b->json, need);
        if (r == -ENOBUFS) {
                /* the worst case does not fit: count what escaping really needs */
                need = 1 + olen + escaped_len(v, n) + 2;
                r = buf_reserve(&b->json, need);
        }
        if (r < 0)
                return r;
        d = b->json.data + b->json.len;
        /* ,"name":{"S":"  — the comma only between attributes */
        memcpy(d, name->open[t] + first, olen + !first);
        d += olen + !first;
        switch (t) {
        case ITEM_S:
                d += escape_into(d, v, n);
                memcpy(d, "\"}", 2);
                d += 2;
                break;
        case ITEM_N:
                d += escape_into(d, v, n);      /* a no-op for a real number, cheap */
                memcpy(d, "\"}", 2);
                d += 2;
                break;
        case ITEM_BOOL:
                memcpy(d, v, n);
                d += n;
                *d++ = '}';
                break;
        }
        b->size += name->size + value_size;
        b->json.len = (size_t) (d - b->json.data);
        b->json.data[b->json.len] = '\0';
        b->n_attrs++;
        return 0;
}

int item_add_sized(ItemBuilder *b, const ItemName *name, ItemType t, const char *v, size_t n,
                   size_t value_size) {
        size_t olen = name->open_len[t], need;

        if (t == ITEM_BOOL && !(n == 4 && memcmp(v, "true", 4) == 0) &&
            !(n == 5 && memcmp(v, "false", 5) == 0))
                return -EINVAL;
        /* n * 6 + olen + 64 cannot wrap while both are below SIZE_MAX / 8: the division only
         * for the (impossible in practice) rest */
        if ((n > SIZE_MAX / 8 || olen > SIZE_MAX / 8) && n > (SIZE_MAX - 64 - olen) / JSON_ESCAPE_MAX)
                return -ENOBUFS;
        need = 1 + olen + n * JSON_ESCAPE_MAX + 2;
        if (b->size_only)
                return item_measure(b, name->size + value_size, need);
        return item_write(b, name, t, v, n, value_size, need);
}

int item_add_raw(ItemBuilder *b, const ItemName *name, const char *av, size_t n, size_t value_size) {
        int r;

        if (b->size_only) {
                if (n > SIZE_MAX / 2 || name->json_len > SIZE_MAX / 4)
                        return -E2BIG;
                r = bound_add(b, (b->n_attrs > 0) + name->json_len + n);
                if (r < 0)
                        return r;
                b->size += name->size + value_size;
                b->n_attrs++;
                return 0;
        }

        if (b->n_attrs > 0 && (r = buf_append_char(&b->json, ',')) < 0)
                return r;
        r = buf_append(&b->json, name->json, name->json_len);
        if (r >= 0)
                r = buf_append(&b->json, av, n);
        if (r < 0)
                return r;
        b->size += name->size + value_size;
        b->n_attrs++;
        return 0;
}

int item_end(ItemBuilder *b) {
        if (b->size_only)
                return bound_add(b, 1);
        return buf_append_char(&b->json, '}');
}
