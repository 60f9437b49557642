/* libFuzzer target for SQS message bodies: s3_event_parse() must never crash, leak or read
 * past len, and whatever it accepts must hold the promises event.h makes about keys. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_record(const S3EventRecord *r, bool created) {
        size_t n = strlen(r->key);

        if (!r->bucket || !r->etag || !r->version_id || !r->sequencer || !r->event_name ||
            !r->event_time || !r->region)
                abort();
        if (created && (n == 0 || n > S3EVENT_KEY_MAX))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        S3EventBatch *b = NULL;
        S3bError err;
        int r;

        /* no terminator on purpose: the parser must honour size */
        char *copy = malloc(size ? size : 1);
        if (!copy)
                return 0;
        memcpy(copy, data, size);
        s3b_error_clear(&err);
        r = s3_event_parse(copy, size, &b, &err);
        if (r == S3EVENT_RECORDS) {
                if (!b)
                        abort();
                for (size_t i = 0; i < b->n_records; i++)
                        check_record(&b->records[i], true);
                for (size_t i = 0; i < b->n_ignored; i++)
                        check_record(&b->ignored[i], false);
        } else if (r < 0 && (b || err.message[0] == '\0'))
                abort();        /* a failure leaves *ret alone and always says why */
        s3_event_batch_free(b);
        free(copy);
        return 0;
}
