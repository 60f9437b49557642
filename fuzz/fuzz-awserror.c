/* AWS error documents come from the network (and from whatever proxy answers instead of AWS):
 * every byte string must give a well-formed S3bError, never a crash or an unterminated
 * string. The first byte picks the status class so one corpus covers 2xx-with-<Error>, 4xx
 * and 5xx handling; the rest is the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/aws/awserror.h"
#include "common/aws/xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_terminated(const S3bError *e) {
        if (!memchr(e->aws_code, 0, sizeof(e->aws_code)) ||
            !memchr(e->request_id, 0, sizeof(e->request_id)) ||
            !memchr(e->message, 0, sizeof(e->message)))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const long statuses[] = { 200, 400, 403, 404, 429, 500, 503 };
        AwsErrorHeaders h = { .request_id = "fuzz" };
        XmlNode *root = NULL;
        S3bError e = {};
        long status;
        int r;

        if (size < 1)
                return 0;
        status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
        data++;
        size--;

        r = aws_error_from_response(&e, status, &h, (const char *) data, size);
        if (r >= 0 || e.code != r || e.http_status != status)
                abort();
        check_terminated(&e);

        s3b_error_clear(&e);
        r = aws_error_from_xml_200(&e, 200, NULL, (const char *) data, size);
        if (r == 1 && e.code >= 0)
                abort();
        check_terminated(&e);

        if (xml_parse((const char *) data, size, 1000, &root, NULL) >= 0) {
                (void) xml_path(root, "Error/Code");
                xml_free(root);
        }
        return 0;
}
