/* YAML → YNode tree, with positions and the config-file rules described in ytree.h.
 *
 * The raw bytes are checked before libyaml sees them: libyaml reports encoding problems as
 * a byte offset without a line, and silently accepts UTF-16, while an operator wants
 * "binary file" or "invalid UTF-8 at 3:14". Nodes are attached to their parent as soon as
 * they start, so whatever happens the tree owns every node and one ynode_free() cleans up. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/cleanup.h"
#include "conf/ytree.h"

typedef struct Builder {
        DiagList *diag;
        const char *data;
        size_t len;
        YNode *root;
        YNode *stack[YTREE_MAX_DEPTH];
        size_t depth;
        size_t n_nodes;
        unsigned n_documents;
        bool invalid;           /* a rule was broken, keep going to report more */
} Builder;

static unsigned clamp_u(size_t v) {
        return v >= UINT_MAX ? UINT_MAX : (unsigned) v;
}

/* ---- raw text checks ---- */

/* Length of the valid UTF-8 sequence at s (≥ 1 byte available), or 0 when invalid:
 * overlong forms, surrogates and code points past U+10FFFF are all rejected. */
static size_t utf8_len(const unsigned char *s, size_t avail) {
        uint32_t cp;
        size_t n;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                n = 2, cp = s[0] & 0x1f;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                n = 3, cp = s[0] & 0x0f;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                n = 4, cp = s[0] & 0x07;
        else
                return 0;
        if (n > avail)
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return n;
}

/* Walks the text the way libyaml counts positions (code points, CR LF = one break) and
 * stops at `stop` or at the first byte no config file has; *ret_off is where it stopped. */
static void text_scan(const char *data, size_t len, size_t stop, size_t *ret_off,
                      unsigned *ret_line, unsigned *ret_col) {
        const unsigned char *s = (const unsigned char *) data;
        size_t line = 1, col = 1, i = 0;

        /* a UTF-8 byte order mark is not a column (libyaml skips it too) */
        if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
                i = 3;
        while (i < len && i < stop) {
                size_t n = utf8_len(s + i, len - i);

                if (n == 0 || s[i] == 0x7f || (s[i] < 0x20 && s[i] != '\t' && s[i] != '\n' &&
                                               s[i] != '\r'))
                        break;
                if (s[i] == '\n' || (s[i] == '\r' && (i + 1 >= len || s[i + 1] != '\n')))
                        line++, col = 1;
                else if (s[i] != '\r')
                        col++;
                i += n;
        }
        *ret_off = i;
        *ret_line = clamp_u(line);
        *ret_col = clamp_u(col);
}

static bool check_text(Builder *b) {
        const unsigned char *s = (const unsigned char *) b->data;
        unsigned line, col;
        size_t off;

        text_scan(b->data, b->len, SIZE_MAX, &off, &line, &col);
        if (off >= b->len)
                return true;
        if (s[off] == 0)
                diag_add(b->diag, line, col, "NUL byte: this is a binary file, not YAML");
        else if (s[off] < 0x20 || s[off] == 0x7f)
                diag_add(b->diag, line, col,
                         "control character 0x%02x is not allowed (binary file?)", s[off]);
        else
                diag_add(b->diag, line, col, "invalid UTF-8 (byte 0x%02x); the file must be UTF-8",
                         s[off]);
        return false;
}

/* ---- tree ---- */

YNode *ynode_free(YNode *n) {
        if (!n)
                return NULL;
        free(n->value);
        for (size_t i = 0; i < n->n_pairs; i++) {
                ynode_free(n->pairs[i].key);
                ynode_free(n->pairs[i].value);
        }
        free(n->pairs);
        for (size_t i = 0; i < n->n_items; i++)
                ynode_free(n->items[i]);
        free(n->items);
        free(n);
        return NULL;
}

const YNode *ynode_get(const YNode *map, const char *key) {
        if (!map || map->type != YNODE_MAPPING)
                return NULL;
        for (size_t i = 0; i < map->n_pairs; i++) {
                const YNode *k = map->pairs[i].key;

                if (k->type == YNODE_SCALAR && strcmp(k->value, key) == 0)
                        return map->pairs[i].value;
        }
        return NULL;
}

bool ynode_is_null(const YNode *n) {
        static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };

        if (!n || n->type != YNODE_SCALAR || !n->plain)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(nulls); i++)
                if (strcmp(n->value, nulls[i]) == 0)
                        return true;
        return false;
}

const char *ynode_kind(const YNode *n) {
        if (ynode_is_null(n))
                return "nothing (null)";
        switch (n->type) {
        case YNODE_MAPPING:
                return "a mapping";
        case YNODE_SEQUENCE:
                return "a list";
        default:
                return "a scalar";
        }
}

static YNode *node_new(YNodeType type, const yaml_mark_t *m) {
        YNode *n = calloc(1, sizeof(*n));

        if (!n)
                return NULL;
        n->type = type;
        n->line = clamp_u(m->line + 1);
        n->column = clamp_u(m->column + 1);
        return n;
}

static void check_duplicate(Builder *b, const YNode *map, const YNode *key) {
        char q[80];

        if (key->type != YNODE_SCALAR) {
                diag_add(b->diag, key->line, key->column, "mapping keys must be plain strings");
                b->invalid = true;
                return;
        }
        for (size_t i = 0; i < map->n_pairs; i++) {
                const YNode *k = map->pairs[i].key;

                if (k->type == YNODE_SCALAR && strcmp(k->value, key->value) == 0) {
                        diag_add(b->diag, key->line, key->column,
                                 "duplicate key '%s' (first defined at line %u, column %u)",
                                 diag_quote(key->value, q, sizeof(q)), k->line, k->column);
                        b->invalid = true;
                        return;
                }
        }
}

/* Grows *v for element n + 1, doubling at powers of two so that a long list costs O(n)
 * copies, not O(n²) — the count alone tells when the capacity is full. */
static int grow(void **v, size_t n, size_t size) {
        void *p;

        if (n >= 4 && (n & (n - 1)) != 0)
                return 0;
        p = realloc(*v, (n < 4 ? 4 : 2 * n) * size);
        if (!p)
                return -ENOMEM;
        *v = p;
        return 0;
}

static int map_add(Builder *b, YNode *map, YNode *n) {
        if (map->n_pairs > 0 && !map->pairs[map->n_pairs - 1].value) {
                map->pairs[map->n_pairs - 1].value = n;
                return 0;
        }
        if (map->n_pairs >= YTREE_MAX_PAIRS) {
                diag_add(b->diag, n->line, n->column, "more than %d keys in one mapping",
                         YTREE_MAX_PAIRS);
                return -EINVAL;
        }
        check_duplicate(b, map, n);
        if (grow((void **) &map->pairs, map->n_pairs, sizeof(*map->pairs)) < 0)
                return -ENOMEM;
        map->pairs[map->n_pairs++] = (YPair) { .key = n };
        return 0;
}

static int seq_add(YNode *seq, YNode *n) {
        if (grow((void **) &seq->items, seq->n_items, sizeof(*seq->items)) < 0)
                return -ENOMEM;
        seq->items[seq->n_items++] = n;
        return 0;
}

/* Hands n to its parent (or makes it the root); n is owned by the tree even on failure. */
static int attach(Builder *b, YNode *n) {
        YNode *parent = b->depth > 0 ? b->stack[b->depth - 1] : NULL;
        int r;

        if (!parent) {
                b->root = n;
                return 0;
        }
        if (parent->type == YNODE_SEQUENCE)
                r = seq_add(parent, n);
        else
                r = map_add(b, parent, n);
        if (r < 0)
                ynode_free(n);
        return r;
}

static int create_node(Builder *b, YNodeType type, const yaml_mark_t *m, YNode **ret) {
        YNode *n;

        if (++b->n_nodes > YTREE_MAX_NODES) {
                diag_add(b->diag, clamp_u(m->line + 1), clamp_u(m->column + 1),
                         "more than %d values: this is not a configuration file",
                         YTREE_MAX_NODES);
                return -EINVAL;
        }
        n = node_new(type, m);
        if (!n)
                return -ENOMEM;
        *ret = n;
        return 0;
}

/* A scalar is attached only once its text is set: as a key it is checked for duplicates. */
static int add_scalar(Builder *b, const yaml_mark_t *m, const char *v, size_t len, bool plain,
                      YNode **ret) {
        YNode *n;
        int r;

        r = create_node(b, YNODE_SCALAR, m, &n);
        if (r < 0)
                return r;
        n->value = strndup(v, len);
        if (!n->value) {
                ynode_free(n);
                return -ENOMEM;
        }
        n->len = len;
        n->plain = plain;
        r = attach(b, n);
        if (r < 0)
                return r;
        *ret = n;
        return 0;
}

static void check_props(Builder *b, const yaml_mark_t *m, const yaml_char_t *anchor,
                        const yaml_char_t *tag) {
        char q[80];

        if (anchor) {
                diag_add(b->diag, clamp_u(m->line + 1), clamp_u(m->column + 1),
                         "anchors and aliases are not supported (found '&%s'): write the value out",
                         diag_quote((const char *) anchor, q, sizeof(q)));
                b->invalid = true;
        }
        if (tag) {
                diag_add(b->diag, clamp_u(m->line + 1), clamp_u(m->column + 1),
                         "YAML tags are not supported (found '%s')",
                         diag_quote((const char *) tag, q, sizeof(q)));
                b->invalid = true;
        }
}

static int on_scalar(Builder *b, const yaml_event_t *e) {
        YNode *n;
        int r;

        check_props(b, &e->start_mark, e->data.scalar.anchor, e->data.scalar.tag);
        r = add_scalar(b, &e->start_mark, (const char *) e->data.scalar.value,
                       e->data.scalar.length, e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE, &n);
        if (r < 0)
                return r;
        if (strlen(n->value) != n->len) {
                /* "\0" in a double-quoted string: C strings would silently cut it */
                diag_add(b->diag, n->line, n->column, "NUL character in a value is not allowed");
                b->invalid = true;
        }
        return 0;
}

static int on_alias(Builder *b, const yaml_event_t *e) {
        char q[80];
        YNode *n;

        diag_add(b->diag, clamp_u(e->start_mark.line + 1), clamp_u(e->start_mark.column + 1),
                 "anchors and aliases are not supported (found '*%s'): write the value out",
                 diag_quote((const char *) e->data.alias.anchor, q, sizeof(q)));
        b->invalid = true;
        /* a placeholder keeps the key/value pairing of the parent intact */
        return add_scalar(b, &e->start_mark, "", 0, false, &n);
}

static int on_start(Builder *b, const yaml_event_t *e, YNodeType type) {
        YNode *n;
        int r;

        if (type == YNODE_MAPPING)
                check_props(b, &e->start_mark, e->data.mapping_start.anchor,
                            e->data.mapping_start.tag);
        else
                check_props(b, &e->start_mark, e->data.sequence_start.anchor,
                            e->data.sequence_start.tag);
        if (b->depth >= YTREE_MAX_DEPTH) {
                diag_add(b->diag, clamp_u(e->start_mark.line + 1),
                         clamp_u(e->start_mark.column + 1), "nesting deeper than %d levels",
                         YTREE_MAX_DEPTH);
                return -EINVAL;
        }
        r = create_node(b, type, &e->start_mark, &n);
        if (r < 0)
                return r;
        r = attach(b, n);
        if (r < 0)
                return r;
        b->stack[b->depth++] = n;
        return 0;
}

static int on_document(Builder *b, const yaml_event_t *e) {
        if (++b->n_documents > 1) {
                diag_add(b->diag, clamp_u(e->start_mark.line + 1),
                         clamp_u(e->start_mark.column + 1),
                         "a second YAML document: the file must hold exactly one");
                return -EINVAL;
        }
        return 0;
}

/* Returns 1 at the end of the stream, 0 to go on, or a negative error. */
static int on_event(Builder *b, const yaml_event_t *e) {
        switch (e->type) {
        case YAML_STREAM_END_EVENT:
                return 1;
        case YAML_DOCUMENT_START_EVENT:
                return on_document(b, e);
        case YAML_SCALAR_EVENT:
                return on_scalar(b, e);
        case YAML_ALIAS_EVENT:
                return on_alias(b, e);
        case YAML_MAPPING_START_EVENT:
                return on_start(b, e, YNODE_MAPPING);
        case YAML_SEQUENCE_START_EVENT:
                return on_start(b, e, YNODE_SEQUENCE);
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
                if (b->depth > 0)
                        b->depth--;
                return 0;
        default:
                return 0;
        }
}

static int parser_error(Builder *b, const yaml_parser_t *p) {
        unsigned line = clamp_u(p->problem_mark.line + 1), col = clamp_u(p->problem_mark.column + 1);
        const char *problem = p->problem ? p->problem : "unknown error";

        if (p->error == YAML_MEMORY_ERROR)
                return -ENOMEM;
        if (p->error == YAML_READER_ERROR) {
                size_t off;

                /* reader errors carry only a byte offset */
                text_scan(b->data, b->len, p->problem_offset, &off, &line, &col);
        }
        if (p->context)
                diag_add(b->diag, line, col, "YAML syntax error: %s (%s at line %u, column %u)",
                         problem, p->context, clamp_u(p->context_mark.line + 1),
                         clamp_u(p->context_mark.column + 1));
        else
                diag_add(b->diag, line, col, "YAML syntax error: %s", problem);
        return -EINVAL;
}

static int run_parser(Builder *b) {
        /* p before pp: cleanups run in reverse order, so pp's runs while p is still alive */
        yaml_parser_t p;
        _cleanup_(yaml_parser_deletep) yaml_parser_t *pp = NULL;

        if (!yaml_parser_initialize(&p))
                return -ENOMEM;
        pp = &p;
        yaml_parser_set_input_string(&p, (const unsigned char *) b->data, b->len);
        yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
        for (;;) {
                yaml_event_t e;
                int r;

                if (!yaml_parser_parse(&p, &e))
                        return parser_error(b, &p);
                r = on_event(b, &e);
                yaml_event_delete(&e);
                if (r < 0)
                        return r;
                if (r > 0)
                        return 0;
        }
}

int ytree_parse(const char *data, size_t len, DiagList *diag, YNode **ret) {
        Builder b = { .diag = diag, .data = data, .len = len };
        int r;

        if (len > YTREE_MAX_BYTES) {
                diag_add(diag, 0, 0, "file too large (%zu bytes, at most %d)", len,
                         YTREE_MAX_BYTES);
                return -EINVAL;
        }
        if (!check_text(&b))
                return -EINVAL;
        r = run_parser(&b);
        if (r >= 0 && !b.root) {
                diag_add(diag, 1, 1, "the file is empty: no YAML document");
                r = -EINVAL;
        }
        if (r >= 0 && b.invalid)
                r = -EINVAL;
        if (r < 0) {
                ynode_free(b.root);
                return r;
        }
        *ret = b.root;
        return 0;
}
