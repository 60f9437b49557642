/* Rejected-rows report. See report.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "daemon/report.h"

#define REPORT_HEADER "line,column,reason,row\n"

struct Report {
        Buf buf;
        uint64_t count;
        uint64_t dropped;
        bool finished;
};

Report *report_new(size_t max_bytes) {
        Report *r = calloc(1, sizeof(*r));

        if (!r)
                return NULL;
        buf_init(&r->buf, max_bytes < 4096 ? 4096 : max_bytes);
        if (buf_append_str(&r->buf, REPORT_HEADER) < 0)
                return report_free(r);
        return r;
}

Report *report_free(Report *r) {
        if (!r)
                return NULL;
        buf_done(&r->buf);
        free(r);
        return NULL;
}

void report_reset(Report *r) {
        buf_reset(&r->buf);
        (void) buf_append_str(&r->buf, REPORT_HEADER);
        r->count = r->dropped = 0;
        r->finished = false;
}

static bool needs_quotes(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r')
                        return true;
        return n > 0 && (s[0] == ' ' || s[n - 1] == ' ');
}

static int append_field(Buf *b, const char *s, size_t n) {
        int r;

        if (!needs_quotes(s, n))
                return buf_append(b, s, n);
        r = buf_append_char(b, '"');
        for (size_t i = 0; r >= 0 && i < n; i++) {
                if (s[i] == '"')
                        r = buf_append_char(b, '"');
                if (r >= 0)
                        r = buf_append_char(b, s[i]);
        }
        if (r >= 0)
                r = buf_append_char(b, '"');
        return r;
}

int report_add(Report *r, const IngestReject *rej) {
        size_t mark = r->buf.len;
        const char *reason = rej->reason ? rej->reason : "rejected";
        char col[32] = "";
        int k;

        r->count++;
        if (r->dropped > 0) {
                /* past the cap once: every later row is only counted */
                r->dropped++;
                return 0;
        }
        if (rej->column_name)
                ;
        else if (rej->column > 0)
                snprintf(col, sizeof(col), "%u", rej->column);

        k = buf_printf(&r->buf, "%" PRIu64 ",", rej->line);
        if (k >= 0)
                k = rej->column_name ? append_field(&r->buf, rej->column_name, strlen(rej->column_name))
                                     : buf_append_str(&r->buf, col);
        if (k >= 0)
                k = buf_append_char(&r->buf, ',');
        if (k >= 0)
                k = append_field(&r->buf, reason, strlen(reason));
        if (k >= 0)
                k = buf_append_char(&r->buf, ',');
        if (k >= 0)
                k = append_field(&r->buf, rej->raw ? rej->raw : "", rej->raw ? rej->raw_len : 0);
        if (k >= 0)
                k = buf_append_char(&r->buf, '\n');
        if (k == -ENOMEM)
                return k;
        if (k >= 0)
                return 0;
        /* -ENOBUFS: over the cap. Undo the half line and count from here on. */
        r->buf.len = mark;
        r->buf.data[mark] = '\0';
        r->dropped++;
        return 0;
}

void report_add_dropped(Report *r, uint64_t n) {
        r->count += n;
        r->dropped += n;
}

uint64_t report_count(const Report *r) {
        return r->count;
}

const char *report_finish(Report *r, size_t *ret_len) {
        if (!r->finished && r->dropped > 0) {
                /* The cap leaves room: the buffer max is only reached by row data. */
                r->buf.max += 128;
                (void) buf_printf(&r->buf, ",,\"%" PRIu64 " more rejected rows left out of this report\",\n",
                                  r->dropped);
        }
        r->finished = true;
        *ret_len = r->buf.len;
        return buf_str(&r->buf);
}
