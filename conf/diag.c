#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/diag.h"

void diag_list_init(DiagList *l, const char *file) {
        *l = (DiagList) { .file = file };
}

void diag_list_done(DiagList *l) {
        for (size_t i = 0; i < l->n_entries; i++)
                free(l->entries[i].text);
        free(l->entries);
        l->entries = NULL;
        l->n_entries = 0;
        l->n_dropped = 0;
}

static char *format_line(const char *file, unsigned line, unsigned column, const char *fmt,
                         va_list ap) _printf_(4, 0);
static char *format_line(const char *file, unsigned line, unsigned column, const char *fmt,
                         va_list ap) {
        _cleanup_free_ char *msg = NULL;
        char *text = NULL;
        int r;

        if (vasprintf(&msg, fmt, ap) < 0)
                return NULL;
        if (line > 0)
                r = asprintf(&text, "%s:%u:%u: %s", file, line, column, msg);
        else
                r = asprintf(&text, "%s: %s", file, msg);
        return r < 0 ? NULL : text;
}

static void diag_addv(DiagList *l, bool warning, unsigned line, unsigned column,
                      const char *fmt, va_list ap) _printf_(5, 0);
static void diag_addv(DiagList *l, bool warning, unsigned line, unsigned column,
                      const char *fmt, va_list ap) {
        DiagEntry *v;
        char *text;

        if (!warning)
                l->n_errors++;
        if (l->n_entries >= DIAG_MAX) {
                l->n_dropped++;
                return;
        }
        text = format_line(l->file, line, column, fmt, ap);
        v = text ? realloc(l->entries, (l->n_entries + 1) * sizeof(*v)) : NULL;
        if (!v) {
                free(text);
                l->oom = true;
                l->n_dropped++;
                return;
        }
        l->entries = v;
        v[l->n_entries] = (DiagEntry) {
                .line = line, .column = column, .warning = warning, .seq = l->n_entries,
                .text = text,
        };
        l->n_entries++;
}

void diag_add(DiagList *l, unsigned line, unsigned column, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        diag_addv(l, false, line, column, fmt, ap);
        va_end(ap);
}

void diag_warn(DiagList *l, unsigned line, unsigned column, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        diag_addv(l, true, line, column, fmt, ap);
        va_end(ap);
}

static int entry_cmp(const void *a, const void *b) {
        const DiagEntry *x = a, *y = b;

        if (x->line != y->line)
                return x->line < y->line ? -1 : 1;
        if (x->column != y->column)
                return x->column < y->column ? -1 : 1;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int strv_push(char ***lines, size_t *n, char *line) {
        char **v = realloc(*lines, (*n + 1) * sizeof(*v));

        if (!v)
                return -ENOMEM;
        *lines = v;
        v[(*n)++] = line;
        return 0;
}

static int diag_push(ConfigDiag *out, const DiagEntry *e) {
        if (e->warning)
                return strv_push(&out->warnings, &out->n_warnings, e->text);
        return strv_push(&out->lines, &out->n_lines, e->text);
}

int diag_list_move(DiagList *l, ConfigDiag *out) {
        int r = l->oom ? -ENOMEM : 0;

        if (l->n_entries > 0)
                qsort(l->entries, l->n_entries, sizeof(*l->entries), entry_cmp);
        for (size_t i = 0; i < l->n_entries; i++) {
                if (diag_push(out, &l->entries[i]) < 0) {
                        free(l->entries[i].text);
                        r = -ENOMEM;
                }
                l->entries[i].text = NULL;
        }
        if (l->n_dropped > 0 && !l->oom) {
                char *more = NULL;

                if (asprintf(&more, "%s: too many problems, %zu more not shown", l->file,
                             l->n_dropped) < 0 ||
                    strv_push(&out->lines, &out->n_lines, more) < 0) {
                        free(more);
                        r = -ENOMEM;
                }
        }
        diag_list_done(l);
        return r;
}

const char *diag_quote(const char *s, char *buf, size_t size) {
        size_t o = 0, limit = MIN(size, 64) - 4;

        for (; *s && o < limit; s++) {
                unsigned char c = (unsigned char) *s;

                if (c < 0x20 || c == 0x7f) {
                        if (o + 4 > limit)
                                break;
                        o += (size_t) snprintf(buf + o, size - o, "\\x%02x", c);
                } else
                        buf[o++] = (char) c;
        }
        if (*s) {
                /* don't cut a UTF-8 sequence in half */
                while (o > 0 && ((unsigned char) *s & 0xc0) == 0x80) {
                        o--;
                        s--;
                }
                memcpy(buf + o, "...", 4);
        } else
                buf[o] = '\0';
        return buf;
}
