#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"

void s3b_error_clear(S3bError *e) {
        if (e)
                memset(e, 0, sizeof(*e));
}

int s3b_error_setv(S3bError *e, int code, const char *fmt, va_list ap) {
        if (!e)
                return code;
        e->code = code;
        vsnprintf(e->message, sizeof(e->message), fmt, ap);
        return code;
}

int s3b_error_set(S3bError *e, int code, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        s3b_error_setv(e, code, fmt, ap);
        va_end(ap);
        return code;
}

int s3b_error_prefix(S3bError *e, const char *fmt, ...) {
        char old[sizeof(e->message)], pre[sizeof(e->message)];
        va_list ap;

        if (!e)
                return 0;
        memcpy(old, e->message, sizeof(old));
        va_start(ap, fmt);
        vsnprintf(pre, sizeof(pre), fmt, ap);
        va_end(ap);
        /* the separator is ours: a caller's trailing ": " made "...table T: : ..." */
        for (size_t n = strlen(pre); n > 0 && (pre[n - 1] == ':' || pre[n - 1] == ' '); n--)
                pre[n - 1] = '\0';
        /* truncation is fine: the message is for humans */
        if (snprintf(e->message, sizeof(e->message), "%s: %s", pre, old) < 0)
                e->message[0] = '\0';
        return e->code;
}
