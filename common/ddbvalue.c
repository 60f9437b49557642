/* AttributeValues from JSON. See ddbvalue.h.
 *
 * Recursion is bounded by DDB_MAX_DEPTH (DynamoDB's own nesting limit) on top of cJSON's
 * nesting limit, so a hostile line costs at most 33 frames here. Duplicates are found by
 * sorting (n log n), never by comparing all pairs: a 400 KB set can hold 200 000 elements. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/ddbvalue.h"
#include "common/jsonline.h"
#include "common/item.h"
#include "common/schema.h"

void ddb_conv_init(DdbConv *c) {
        c->canon = (Buf) BUF_INIT(64 * 1024);
        c->keys = (Buf) BUF_INIT(64u << 20);
}

void ddb_conv_done(DdbConv *c) {
        buf_done(&c->canon);
        buf_done(&c->keys);
}

static int put_str(Buf *out, const char *s, size_t n) {
        int r = buf_append_char(out, '"');

        if (r >= 0)
                r = json_escape_append(out, s, n);
        if (r >= 0)
                r = buf_append_char(out, '"');
        return r;
}

/* 1 when two spans are equal, 0 when not, -ENOMEM. Sorts sp. */
static int has_dup(MemSpan *sp, size_t n) {
        qsort(sp, n, sizeof(*sp), mem_span_cmp);
        for (size_t i = 1; i < n; i++)
                if (mem_span_cmp(&sp[i - 1], &sp[i]) == 0)
                        return 1;
        return 0;
}

static int object_keys_unique(const cJSON *obj, const char **ret_why) {
        _cleanup_free_ MemSpan *sp = NULL;
        size_t n = 0, i = 0;
        const cJSON *ch;

        cJSON_ArrayForEach(ch, obj)
                n++;
        if (n < 2)
                return 0;
        sp = malloc(n * sizeof(*sp));
        if (!sp)
                return -ENOMEM;
        cJSON_ArrayForEach(ch, obj)
                sp[i++] = (MemSpan) { ch->string, strlen(ch->string) };
        if (has_dup(sp, n)) {
                *ret_why = "a map has the same key twice";
                return 1;
        }
        return 0;
}

static bool key_ok(const cJSON *ch, const char **ret_why) {
        if (!ch->string) {
                *ret_why = "not valid JSON";
                return false;
        }
        return true;
}

/* Writes one element value (from_json, or check_av without its type). */
typedef int (*ElemFn)(DdbConv *c, const cJSON *v, unsigned depth, Buf *out, size_t *size,
                      const char **ret_why);

/* The elements of an M or L value, between its brackets: separators, a map element's quoted
 * name, and each value through fn one level deeper. *size gets DynamoDB's count for them: each
 * name's bytes, each value's size + 1. 0, 1 with *ret_why, or < 0. */
static int put_elements(DdbConv *c, const cJSON *v, bool map, unsigned depth, Buf *out,
                        size_t *size, ElemFn fn, const char **ret_why) {
        const cJSON *ch;
        bool first = true;

        cJSON_ArrayForEach(ch, v) {
                size_t sub = 0;
                int r = first ? 0 : buf_append_char(out, ',');

                first = false;
                if (r >= 0 && map) {
                        if (!key_ok(ch, ret_why))
                                return 1;
                        r = put_str(out, ch->string, strlen(ch->string));
                        if (r >= 0)
                                r = buf_append_char(out, ':');
                        *size += strlen(ch->string);
                }
                if (r < 0)
                        return r;
                r = fn(c, ch, depth + 1, out, &sub, ret_why);
                if (r != 0)
                        return r;
                *size += sub + 1;
        }
        return 0;
}

static int from_json(DdbConv *c, const cJSON *v, unsigned depth, Buf *out, size_t *size,
                     const char **ret_why) {
        const char *t, *why;
        size_t n;
        int r;

        if (json_number_text(v, &t, &n)) {
                why = schema_parse_number(t, n, false, &c->canon, NULL);
                if (why) {
                        *ret_why = why;
                        return 1;
                }
                r = buf_append_str(out, "{\"N\":\"");
                if (r >= 0)
                        r = buf_append(out, c->canon.data, c->canon.len);
                if (r >= 0)
                        r = buf_append_str(out, "\"}");
                *size += item_number_size(c->canon.data, c->canon.len);
                return r < 0 ? r : 0;
        }
        if (json_is_text(v)) {
                n = strlen(v->valuestring);
                r = buf_append_str(out, "{\"S\":");
                if (r >= 0)
                        r = put_str(out, v->valuestring, n);
                if (r >= 0)
                        r = buf_append_char(out, '}');
                *size += n;
                return r < 0 ? r : 0;
        }
        if (cJSON_IsBool(v) || cJSON_IsNull(v)) {
                *size += 1;
                r = buf_append_str(out, cJSON_IsNull(v) ? "{\"NULL\":true}"
                                        : cJSON_IsTrue(v) ? "{\"BOOL\":true}" : "{\"BOOL\":false}");
                return r < 0 ? r : 0;
        }
        if (depth >= DDB_MAX_DEPTH) {
                *ret_why = "nested deeper than DynamoDB's 32 levels";
                return 1;
        }
        if (cJSON_IsObject(v)) {
                r = object_keys_unique(v, ret_why);
                if (r != 0)
                        return r;
        }
        r = buf_append_str(out, cJSON_IsArray(v) ? "{\"L\":[" : "{\"M\":{");
        *size += 3;
        if (r >= 0)
                r = put_elements(c, v, cJSON_IsObject(v), depth, out, size, from_json, ret_why);
        if (r != 0)
                return r;
        r = buf_append_str(out, cJSON_IsArray(v) ? "]}" : "}}");
        return r < 0 ? r : 0;
}

int ddb_from_json(DdbConv *c, const cJSON *v, Buf *out, size_t *size, const char **ret_why) {
        return from_json(c, v, 0, out, size, ret_why);
}

static int b64_val(char ch) {
        if (ch >= 'A' && ch <= 'Z')
                return ch - 'A';
        if (ch >= 'a' && ch <= 'z')
                return ch - 'a' + 26;
        if (ch >= '0' && ch <= '9')
                return ch - '0' + 52;
        return ch == '+' ? 62 : ch == '/' ? 63 : -1;
}

long ddb_base64_len(const char *s, size_t n) {
        size_t pad = 0;

        if (n % 4 != 0)
                return -1;
        if (n > 0 && s[n - 1] == '=')
                pad = n > 1 && s[n - 2] == '=' ? 2 : 1;
        for (size_t i = 0; i < n - pad; i++)
                if (b64_val(s[i]) < 0)
                        return -1;
        /* the bits past the last byte must be zero, so one text per value */
        if (pad == 2 && (b64_val(s[n - 3]) & 0xf))
                return -1;
        if (pad == 1 && (b64_val(s[n - 2]) & 0x3))
                return -1;
        return (long) (n / 4 * 3 - pad);
}

/* One scalar of type t ("S", "N", "B") given as a JSON string: checked, sized, written. */
static int scalar(DdbConv *c, char t, const cJSON *v, Buf *out, size_t *size, Buf *keys,
                  MemSpan *ret_span, const char **ret_why) {
        const char *s;
        size_t n;
        long bl;
        int r;

        if (!json_is_text(v)) {
                *ret_why = t == 'S' ? "an S value must be a JSON string"
                         : t == 'N' ? "an N value must be a JSON string holding the number"
                                    : "a B value must be a base64 JSON string";
                return 1;
        }
        s = v->valuestring;
        n = strlen(s);
        if (t == 'N') {
                const char *why = schema_parse_number(s, n, false, &c->canon, keys ? keys : NULL);

                if (why) {
                        *ret_why = why;
                        return 1;
                }
                *size += item_number_size(c->canon.data, c->canon.len);
        } else if (t == 'B') {
                bl = ddb_base64_len(s, n);
                if (bl < 0) {
                        *ret_why = "a B value is not valid base64";
                        return 1;
                }
                *size += (size_t) bl;
        } else
                *size += n;
        if (ret_span)
                *ret_span = (MemSpan) { s, n };
        r = put_str(out, s, n);
        return r < 0 ? r : 0;
}

/* SS, NS, BS: a non-empty array of distinct values. */
static int set(DdbConv *c, char t, const cJSON *v, Buf *out, size_t *size, const char **ret_why) {
        _cleanup_free_ MemSpan *sp = NULL;
        _cleanup_free_ size_t *ends = NULL;
        size_t n = 0, i = 0;
        const cJSON *ch;
        int r;

        if (!cJSON_IsArray(v) || !v->child) {
                *ret_why = "a set must be a non-empty JSON array (DynamoDB has no empty sets)";
                return 1;
        }
        cJSON_ArrayForEach(ch, v)
                n++;
        sp = malloc(n * sizeof(*sp));
        ends = malloc(n * sizeof(*ends));
        if (!sp || !ends)
                return -ENOMEM;
        buf_reset(&c->keys);
        r = buf_append_char(out, '[');
        cJSON_ArrayForEach(ch, v) {
                Buf key = BUF_INIT(64 * 1024);

                if (r >= 0 && i > 0)
                        r = buf_append_char(out, ',');
                if (r < 0)
                        return r;
                r = scalar(c, t, ch, out, size, t == 'N' ? &key : NULL, &sp[i], ret_why);
                if (r == 0 && t == 'N') {
                        /* numbers compare by value: their normalised form */
                        size_t off = c->keys.len;

                        r = buf_append(&c->keys, key.data, key.len);
                        sp[i] = (MemSpan) { NULL, key.len };
                        ends[i] = off;
                }
                buf_done(&key);
                if (r != 0)
                        return r;
                i++;
        }
        if (t == 'N')
                for (i = 0; i < n; i++)
                        sp[i].p = c->keys.data + ends[i];
        if (has_dup(sp, n)) {
                *ret_why = "a set holds the same value twice (DynamoDB sets are unique)";
                return 1;
        }
        r = buf_append_char(out, ']');
        return r < 0 ? r : 0;
}

static int check_av(DdbConv *c, const cJSON *av, unsigned depth, Buf *out, size_t *size,
                    const char **ret_type, const char **ret_why);

static int check_elem(DdbConv *c, const cJSON *av, unsigned depth, Buf *out, size_t *size,
                      const char **ret_why) {
        const char *type;

        return check_av(c, av, depth, out, size, &type, ret_why);
}

static int check_av(DdbConv *c, const cJSON *av, unsigned depth, Buf *out, size_t *size,
                    const char **ret_type, const char **ret_why) {
        static const char *const types[] = { "S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS", "M", "L" };
        const cJSON *v = av ? av->child : NULL;
        const char *t = NULL;
        int r;

        if (!cJSON_IsObject(av) || !v || v->next) {
                *ret_why = "an attribute value must be an object with exactly one type, like {\"S\": \"text\"}";
                return 1;
        }
        for (size_t i = 0; i < ELEMENTSOF(types); i++)
                if (strcmp(v->string, types[i]) == 0)
                        t = types[i];
        if (!t) {
                *ret_why = "unknown attribute type (expected S, N, B, BOOL, NULL, SS, NS, BS, M or L)";
                return 1;
        }
        *ret_type = t;
        r = buf_printf(out, "{\"%s\":", t);
        if (r < 0)
                return r;
        if (strcmp(t, "BOOL") == 0 || strcmp(t, "NULL") == 0) {
                if (!cJSON_IsBool(v) || (t[0] == 'N' && !cJSON_IsTrue(v))) {
                        *ret_why = t[0] == 'N' ? "NULL must be true" : "BOOL must be true or false";
                        return 1;
                }
                *size += 1;
                r = buf_append_str(out, cJSON_IsTrue(v) ? "true}" : "false}");
                return r < 0 ? r : 0;
        }
        if (!t[1] && t[0] != 'M' && t[0] != 'L')
                r = scalar(c, t[0], v, out, size, NULL, NULL, ret_why);
        else if (t[1] == 'S')
                r = set(c, t[0], v, out, size, ret_why);
        else {
                bool map = t[0] == 'M';

                if (depth >= DDB_MAX_DEPTH) {
                        *ret_why = "nested deeper than DynamoDB's 32 levels";
                        return 1;
                }
                if (map ? !cJSON_IsObject(v) : !cJSON_IsArray(v)) {
                        *ret_why = map ? "an M value must be a JSON object" : "an L value must be a JSON array";
                        return 1;
                }
                if (map && (r = object_keys_unique(v, ret_why)) != 0)
                        return r;
                r = buf_append_char(out, map ? '{' : '[');
                *size += 3;
                if (r >= 0)
                        r = put_elements(c, v, map, depth, out, size, check_elem, ret_why);
                if (r == 0)
                        r = buf_append_char(out, map ? '}' : ']');
        }
        if (r != 0)
                return r;
        *ret_type = t;
        r = buf_append_char(out, '}');
        return r < 0 ? r : 0;
}

int ddb_check_av(DdbConv *c, const cJSON *av, Buf *out, size_t *size, const char **ret_type,
                 const char **ret_why) {
        return check_av(c, av, 0, out, size, ret_type, ret_why);
}
