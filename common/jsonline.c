/* JSON Lines: the number-preserving scan in front of cJSON. See jsonline.h. */
#include <errno.h>
#include <string.h>

#include "common/csv.h"
#include "common/jsonline.h"

#define NUMBER_MARK '\xff'

void json_line_init(JsonLine *j, size_t max) {
        j->text = (Buf) BUF_INIT(max);
}

void json_line_done(JsonLine *j) {
        buf_done(&j->text);
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

/* Length of the JSON number at s[0..n) (RFC 8259 §6), 0 when it is none. */
static size_t number_len(const char *s, size_t n) {
        size_t i = 0, d;

        if (i < n && s[i] == '-')
                i++;
        if (i < n && s[i] == '0')
                i++;
        else {
                for (d = i; i < n && is_digit(s[i]); i++)
                        ;
                if (i == d)
                        return 0;
        }
        if (i < n && s[i] == '.') {
                for (d = ++i; i < n && is_digit(s[i]); i++)
                        ;
                if (i == d)
                        return 0;
        }
        if (i < n && (s[i] == 'e' || s[i] == 'E')) {
                i++;
                if (i < n && (s[i] == '+' || s[i] == '-'))
                        i++;
                for (d = i; i < n && is_digit(s[i]); i++)
                        ;
                if (i == d)
                        return 0;
        }
        return i;
}

/* Bytes JSON allows outside strings, numbers aside: structure, whitespace, literal letters. */
static bool structural(char c) {
        return strchr("{}[]:, \t\r\ntruefalsn", c) != NULL && c != '\0';
}

/* The scan of jsonline.h into j->text. 0, 1 (ret_why), or < 0. */
static int rewrite(JsonLine *j, const char *s, size_t n, const char **ret_why) {
        Buf *b = &j->text;
        bool in_str = false;
        size_t i = 0;
        int r;

        buf_reset(b);
        r = buf_reserve(b, n + 16);
        if (r < 0)
                return r;
        while (i < n) {
                char c = s[i];
                size_t k;

                if (in_str) {
                        if ((unsigned char) c < 0x20) {
                                *ret_why = "a control character in a string (JSON needs it escaped)";
                                return 1;
                        }
                        if (c == '\\') {
                                if (i + 5 < n && memcmp(s + i + 1, "u0000", 5) == 0) {
                                        *ret_why = "\\u0000 in a string is not supported";
                                        return 1;
                                }
                                k = MIN((size_t) 2, n - i);
                        } else {
                                in_str = c != '"';
                                k = 1;
                        }
                        r = buf_append(b, s + i, k);
                        i += k;
                } else if (c == '"') {
                        in_str = true;
                        r = buf_append_char(b, c);
                        i++;
                } else if (c == '-' || is_digit(c)) {
                        k = number_len(s + i, n - i);
                        if (k == 0) {
                                *ret_why = "not valid JSON: a malformed number";
                                return 1;
                        }
                        /* a number where an object key goes would pass as a string key */
                        for (size_t w = i + k; w < n && strchr(" \t\r\n:", s[w]); w++)
                                if (s[w] == ':') {
                                        *ret_why = "not valid JSON: an object key must be a string";
                                        return 1;
                                }
                        r = buf_append(b, "\"\xff", 2);
                        if (r >= 0)
                                r = buf_append(b, s + i, k);
                        if (r >= 0)
                                r = buf_append_char(b, '"');
                        i += k;
                } else if (structural(c)) {
                        r = buf_append_char(b, c);
                        i++;
                } else {
                        *ret_why = "not valid JSON: an unexpected character outside a string";
                        return 1;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

int json_line_parse(JsonLine *j, const char *line, size_t n, cJSON **ret, const char **ret_why) {
        cJSON *root;
        int r;

        if (!utf8_is_valid(line, n)) {
                *ret_why = "not valid UTF-8";
                return 1;
        }
        r = rewrite(j, line, n, ret_why);
        if (r != 0)
                return r;
        root = cJSON_ParseWithOpts(buf_str(&j->text), NULL, true);
        if (!root) {
                /* cJSON says "no" for malformed text and for an allocation failure alike;
                 * a line within max_row_bytes is small, so take it as malformed */
                *ret_why = "not valid JSON";
                return 1;
        }
        *ret = root;
        return 0;
}

bool json_number_text(const cJSON *v, const char **ret, size_t *ret_len) {
        if (!cJSON_IsString(v) || !v->valuestring || v->valuestring[0] != NUMBER_MARK)
                return false;
        *ret = v->valuestring + 1;
        *ret_len = strlen(v->valuestring + 1);
        return true;
}

bool json_is_text(const cJSON *v) {
        return cJSON_IsString(v) && v->valuestring && v->valuestring[0] != NUMBER_MARK;
}

const char *json_kind(const cJSON *v) {
        const char *t;
        size_t n;

        if (json_number_text(v, &t, &n))
                return "a number";
        if (cJSON_IsString(v))
                return "a string";
        if (cJSON_IsBool(v))
                return "a boolean";
        if (cJSON_IsNull(v))
                return "null";
        if (cJSON_IsArray(v))
                return "an array";
        return "an object";
}
