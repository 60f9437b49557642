/* sigv4-bench: signs the daemon's hot-path request (one DynamoDB BatchWriteItem of 25 rows,
 * session credentials, through a key cache, as client.c does) N times, for
 *     valgrind --tool=callgrind build/gcc/tests/unit/sigv4-bench 1000
 * to count instructions per signature before and after a change to the signer.
 * usage: sigv4-bench [N]   (default 1000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/aws/sigv4.h"

int main(int argc, char **argv) {
        _cleanup_(sigv4_key_cache_freep) SigV4KeyCache *cache = NULL;
        static const SigV4Header headers[] = {
                { "Content-Type", "application/x-amz-json-1.0" },
                { "X-Amz-Target", "DynamoDB_20120810.BatchWriteItem" },
        };
        AwsCredentials creds = {};
        Buf body = BUF_INIT(1 << 20);
        long n = argc > 1 ? atol(argv[1]) : 1000;
        unsigned long check = 0;

        snprintf(creds.access_key_id, sizeof(creds.access_key_id), "ASIAEXAMPLEEXAMPLE00");
        snprintf(creds.secret_access_key, sizeof(creds.secret_access_key),
                 "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        for (size_t i = 0; i < 600; i++)        /* a session token of typical length */
                creds.session_token[i] = (char) ('A' + i % 26);
        if (sigv4_key_cache_new(&cache, NULL) < 0 ||
            buf_append_str(&body, "{\"RequestItems\":{\"PRELIM_STUDENT_DATA\":[") < 0)
                return 2;
        for (int i = 0; i < 25; i++)
                if (buf_printf(&body, "%s{\"PutRequest\":{\"Item\":{\"student_id\":{\"S\":\"%d\"},"
                               "\"first_name\":{\"S\":\"Ada\"},\"last_name\":{\"S\":\"Lovelace\"},"
                               "\"course\":{\"S\":\"MATH101\"},\"grade\":{\"N\":\"%d\"}}}}",
                               i ? "," : "", 1000 + i, 50 + i) < 0)
                        return 2;
        if (buf_append_str(&body, "]}}") < 0)
                return 2;
        for (long i = 0; i < n; i++) {
                SigV4Result res = {};
                SigV4Request req = {
                        .method = "POST", .host = "dynamodb.eu-west-1.amazonaws.com", .path = "/",
                        .headers = headers, .n_headers = ELEMENTSOF(headers),
                        .body = body.data, .body_len = body.len,
                };

                if (sigv4_sign(&req, &creds, "eu-west-1", "dynamodb", 1796024696 + i, cache, &res,
                               NULL) < 0)
                        return 1;
                check += (unsigned char) res.signature[0];
                sigv4_result_done(&res);
        }
        printf("%ld signatures, %zu-byte body, check %lu\n", n, body.len, check);
        buf_done(&body);
        return 0;
}
