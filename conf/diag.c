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

void diag_add(DiagList *l, unsigned line, unsigned column, const char *fmt, ...) {
        DiagEntry *v;
        char *text;
        va_list ap;

        if (l->n_entries >= DIAG_MAX) {
                l->n_dropped++;
                return;
        }
        va_start(ap, fmt);
        text = format_line(l->file, line, column, fmt, ap);
        va_end(ap);
        v = text ? realloc(l->entries, (l->n_entries + 1) * sizeof(*v)) : NULL;
        if (!v) {
                free(text);
                l->oom = true;
                l->n_dropped++;
                return;
        }
        l->entries = v;
        v[l->n_entries] = (DiagEntry) {
                .line = line, .column = column, .seq = l->n_entries, .text = text,
        };
        l->n_entries++;
}

static int entry_cmp(const void *a, const void *b) {
        const DiagEntry *x = a, *y = b;

        if (x->line != y->line)
                return x->line < y->line ? -1 : 1;
        if (x->column != y->column)
                return x->column < y->column ? -1 : 1;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int diag_push(ConfigDiag *out, char *line) {
        char **v = realloc(out->lines, (out->n_lines + 1) * sizeof(*v));

        if (!v)
                return -ENOMEM;
        out->lines = v;
        v[out->n_lines++] = line;
        return 0;
}

int diag_list_move(DiagList *l, ConfigDiag *out) {
        int r = l->oom ? -ENOMEM : 0;

        if (l->n_entries > 0)
                qsort(l->entries, l->n_entries, sizeof(*l->entries), entry_cmp);
        for (size_t i = 0; i < l->n_entries; i++) {
                if (diag_push(out, l->entries[i].text) < 0) {
                        free(l->entries[i].text);
                        r = -ENOMEM;
                }
                l->entries[i].text = NULL;
        }
        if (l->n_dropped > 0 && !l->oom) {
                char *more = NULL;

                if (asprintf(&more, "%s: too many errors, %zu more not shown", l->file,
                             l->n_dropped) < 0 || diag_push(out, more) < 0) {
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
