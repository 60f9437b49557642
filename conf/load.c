/* Typed accessors over the YNode tree for the config loader: each one checks the node's
 * shape and value, reports at the exact node, and never stops the load. Integers are parsed
 * with strtoull behind explicit digit, end and range checks (no atoi: "20s" or "1e3" must be
 * an error, not 20 or 1). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/load.h"

void load_report(Loader *ld, const YNode *n, const char *path, const char *fmt, ...) {
        char msg[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (path && path[0])
                diag_add(&ld->diag, n->line, n->column, "%s: %s", path, msg);
        else
                diag_add(&ld->diag, n->line, n->column, "%s", msg);
}

void load_warn(Loader *ld, const YNode *n, const char *path, const char *fmt, ...) {
        char msg[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        diag_warn(&ld->diag, n->line, n->column, "warning: %s: %s", path, msg);
}

char *load_strdup(Loader *ld, const char *s) {
        char *d = strdup(s);

        if (!d)
                ld->oom = true;
        return d;
}

const char *load_join(char buf[static LOAD_PATH_MAX], const char *base, const char *key) {
        char q[80];

        if (base[0])
                snprintf(buf, LOAD_PATH_MAX, "%s.%s", base, diag_quote(key, q, sizeof(q)));
        else
                snprintf(buf, LOAD_PATH_MAX, "%s", diag_quote(key, q, sizeof(q)));
        return buf;
}

const char *load_index(char buf[static LOAD_PATH_MAX], const char *base, size_t i) {
        snprintf(buf, LOAD_PATH_MAX, "%s[%zu]", base, i);
        return buf;
}

static const char *type_name(YNodeType t) {
        return t == YNODE_MAPPING ? "a mapping" : t == YNODE_SEQUENCE ? "a list" : "a scalar";
}

bool load_expect(Loader *ld, const YNode *v, const char *path, YNodeType type) {
        if (v->type == type && !ynode_is_null(v))
                return true;
        load_report(ld, v, path, "expected %s, got %s", type_name(type), ynode_kind(v));
        return false;
}

static bool is_known(const char *key, const char *const *known) {
        for (size_t i = 0; known[i]; i++)
                if (strcmp(key, known[i]) == 0)
                        return true;
        return false;
}

/* Keys that are only valid in one section, to tell "right key, wrong place" from a typo. */
static const char *home_of(const char *key) {
        static const struct { const char *key, *home; } homes[] = {
                { "url", "under 'queue'" }, { "wait_seconds", "under 'queue'" }, { "max_messages", "under 'queue'" },
                { "visibility_timeout", "under 'queue'" }, { "max_receive_count", "under 'queue'" },
                { "region", "under 'aws'" }, { "profile", "under 'aws'" }, { "endpoints", "under 'aws'" },
                { "s3_force_path_style", "under 'aws'" }, { "max_attempts", "under 'aws'" },
                { "connect_timeout_ms", "under 'aws'" }, { "request_timeout_ms", "under 'aws'" },
                { "topic_arn", "under 'notify'" }, { "on", "under 'notify'" },
                { "table", "in a pipeline" }, { "columns", "in a pipeline" }, { "match", "in a pipeline" },
                { "write_mode", "in a pipeline" }, { "max_rejected_rows", "in a pipeline" },
                { "delimiter", "under a pipeline's 'csv'" }, { "header", "under a pipeline's 'csv'" },
                { "null_values", "under a pipeline's 'csv'" }, { "compression", "under a pipeline's 'csv'" },
                { "partition", "under a pipeline's 'key'" }, { "sort", "under a pipeline's 'key'" },
                { "suffix", "under a pipeline's 'match'" }, { "type", "in a column" },
                { "required", "in a column" }, { "pattern", "in a column" }, { "max_length", "in a column" },
        };

        for (size_t i = 0; i < ELEMENTSOF(homes); i++)
                if (strcmp(homes[i].key, key) == 0)
                        return homes[i].home;
        return NULL;
}

void load_check_keys(Loader *ld, const YNode *map, const char *path, const char *const *known) {
        char p[LOAD_PATH_MAX];

        for (size_t i = 0; i < map->n_pairs; i++) {
                const YNode *k = map->pairs[i].key;
                const char *hint;

                if (k->type != YNODE_SCALAR || is_known(k->value, known))
                        continue;
                hint = check_suggest(k->value, known);
                load_join(p, path, k->value);
                if (hint)
                        load_report(ld, k, p, "unknown key, did you mean '%s'?", hint);
                else if (home_of(k->value))
                        load_report(ld, k, p, "unknown key here: it belongs %s",
                                    home_of(k->value));
                else
                        load_report(ld, k, p, "unknown key");
        }
}

const YNode *load_field(Loader *ld, const YNode *map, const char *path, const char *key,
                        bool required) {
        const YNode *v = ynode_get(map, key);
        char p[LOAD_PATH_MAX];

        if (v && !ynode_is_null(v))
                return v;
        if (!required)
                return NULL;
        if (v)
                load_report(ld, v, load_join(p, path, key), "a value is required");
        else
                load_report(ld, map, path, "missing required key '%s'", key);
        return NULL;
}

const char *load_scalar(Loader *ld, const YNode *v, const char *path) {
        if (v->type == YNODE_SCALAR)
                return v->value;
        load_report(ld, v, path, "expected a single value, got %s", ynode_kind(v));
        return NULL;
}

static bool text_ok(Loader *ld, const YNode *v, const char *path, const char *s, size_t max) {
        if (strlen(s) > max) {
                load_report(ld, v, path, "too long (%zu bytes, at most %zu)", strlen(s), max);
                return false;
        }
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p < 0x20 || *p == 0x7f) {
                        load_report(ld, v, path, "control characters are not allowed");
                        return false;
                }
        return true;
}

bool load_get_string(Loader *ld, const YNode *map, const char *path, const char *key, bool required,
                     size_t max, CheckFn check, char **out) {
        const YNode *v = load_field(ld, map, path, key, required);
        char p[LOAD_PATH_MAX], why[CHECK_WHY_MAX], q[80];
        const char *s;

        if (!v)
                return false;
        load_join(p, path, key);
        s = load_scalar(ld, v, p);
        if (!s || !text_ok(ld, v, p, s, max))
                return false;
        if (check && check(s, why)) {
                load_report(ld, v, p, "invalid value '%s': %s", diag_quote(s, q, sizeof(q)), why);
                return false;
        }
        free(*out);
        *out = load_strdup(ld, s);
        return true;
}

/* 0, -EINVAL (not a decimal integer) or -ERANGE (negative or past 2^64-1). */
static int parse_u64(const char *s, uint64_t *ret) {
        const char *digits = s[0] == '-' ? s + 1 : s;
        unsigned long long v;
        char *end;

        if (*digits < '0' || *digits > '9')
                return -EINVAL;
        for (const char *p = digits; *p; p++)
                if (*p < '0' || *p > '9')
                        return -EINVAL;
        if (digits != s)
                return -ERANGE;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE || *end)
                return -ERANGE;
        *ret = v;
        return 0;
}

static const char *number_scalar(Loader *ld, const YNode *v, const char *path, const char *what) {
        char q[80];

        if (v->type != YNODE_SCALAR) {
                load_report(ld, v, path, "expected %s, got %s", what, ynode_kind(v));
                return NULL;
        }
        if (!v->plain) {
                load_report(ld, v, path, "expected %s, got the quoted string \"%s\" (remove the quotes)",
                            what, diag_quote(v->value, q, sizeof(q)));
                return NULL;
        }
        return v->value;
}

static void report_range(Loader *ld, const YNode *v, const char *path, uint64_t min,
                         uint64_t max) {
        char q[80];

        diag_quote(v->value, q, sizeof(q));
        if (max == UINT64_MAX)
                load_report(ld, v, path, "must be at least %" PRIu64 ", got %s", min, q);
        else
                load_report(ld, v, path, "must be between %" PRIu64 " and %" PRIu64 ", got %s",
                            min, max, q);
}

bool load_get_u64(Loader *ld, const YNode *map, const char *path, const char *key, uint64_t min,
                  uint64_t max, uint64_t *out) {
        const YNode *v = load_field(ld, map, path, key, false);
        char p[LOAD_PATH_MAX], q[80];
        const char *s;
        uint64_t x = 0;
        int r;

        if (!v)
                return false;
        load_join(p, path, key);
        s = number_scalar(ld, v, p, "an integer");
        if (!s)
                return false;
        r = parse_u64(s, &x);
        if (r == -EINVAL) {
                load_report(ld, v, p, "expected an integer, got '%s'", diag_quote(s, q, sizeof(q)));
                return false;
        }
        if (r < 0 || x < min || x > max) {
                report_range(ld, v, p, min, max);
                return false;
        }
        *out = x;
        return true;
}

bool load_get_unsigned(Loader *ld, const YNode *map, const char *path, const char *key, unsigned min,
                       unsigned max, unsigned *out) {
        uint64_t x;

        if (!load_get_u64(ld, map, path, key, min, max, &x))
                return false;
        *out = (unsigned) x;
        return true;
}

bool load_get_bool(Loader *ld, const YNode *map, const char *path, const char *key, bool *out) {
        static const char *const yes[] = { "true", "True", "TRUE" }, *const no[] = { "false", "False", "FALSE" };
        const YNode *v = load_field(ld, map, path, key, false);
        char p[LOAD_PATH_MAX], q[80];
        const char *s;

        if (!v)
                return false;
        load_join(p, path, key);
        s = number_scalar(ld, v, p, "true or false");
        if (!s)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcmp(s, yes[i]) == 0 || strcmp(s, no[i]) == 0) {
                        *out = strcmp(s, yes[i]) == 0;
                        return true;
                }
        /* YAML 1.1's yes/no/on/off are deliberately not booleans here */
        load_report(ld, v, p, "expected true or false, got '%s'", diag_quote(s, q, sizeof(q)));
        return false;
}

bool load_get_double(Loader *ld, const YNode *map, const char *path, const char *key, double *out) {
        const YNode *v = load_field(ld, map, path, key, false);
        char p[LOAD_PATH_MAX], q[80];
        const char *s;
        char *end;
        double x;

        if (!v)
                return false;
        load_join(p, path, key);
        s = number_scalar(ld, v, p, "a number");
        if (!s)
                return false;
        errno = 0;
        x = strtod(s, &end);
        if (end == s || *end || errno == ERANGE || !isfinite(x) || strpbrk(s, "xXpP")) {
                load_report(ld, v, p, "expected a finite decimal number, got '%s'",
                            diag_quote(s, q, sizeof(q)));
                return false;
        }
        *out = x;
        return true;
}

static void names_list(char *buf, size_t size, const char *const *names) {
        size_t o = 0;

        buf[0] = '\0';
        for (size_t i = 0; names[i] && o < size; i++)
                o += (size_t) snprintf(buf + o, size - o, "%s%s", i ? ", " : "", names[i]);
}

bool load_choice(Loader *ld, const YNode *v, const char *path, const char *const *names,
                 int *out) {
        char q[80], list[256];
        const char *s = load_scalar(ld, v, path), *hint;

        if (!s)
                return false;
        for (int i = 0; names[i]; i++)
                if (strcmp(s, names[i]) == 0) {
                        *out = i;
                        return true;
                }
        names_list(list, sizeof(list), names);
        hint = check_suggest(s, names);
        load_report(ld, v, path, "unknown value '%s' (expected one of: %s)%s%s%s",
                    diag_quote(s, q, sizeof(q)), list, hint ? ", did you mean '" : "",
                    hint ? hint : "", hint ? "'?" : "");
        return false;
}

bool load_get_choice(Loader *ld, const YNode *map, const char *path, const char *key,
                     const char *const *names, int *out) {
        const YNode *v = load_field(ld, map, path, key, false);
        char p[LOAD_PATH_MAX];

        if (!v)
                return false;
        return load_choice(ld, v, load_join(p, path, key), names, out);
}
