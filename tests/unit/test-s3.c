/* The S3 service files against a scripted server: what each call puts on the wire (method,
 * path, query, If-Match, Range, copy headers, the multipart requests and body) and how each
 * answer reads back (resume, 412 → -ESTALE, HEAD's info, a 200 that is an <Error>, pages). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/aws/s3.h"
#include "aws-fixture.h"

#define MiB (UINT64_C(1) << 20)

static const char precondition_failed[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>PreconditionFailed</Code>"
        "<Message>At least one of the pre-conditions you specified did not hold</Message>"
        "<RequestId>R412</RequestId></Error>";

static void s3_fixture(Fixture *f, unsigned max_attempts, const S3Options *s3) {
        AwsContextOptions o = {};

        if (s3)
                s3_options_set(&o, s3);
        fixture_start_with(f, max_attempts, &o);
}

/* The request line's target: "GET /bkt/key?x=y" without " HTTP/1.1". */
static void assert_request_line(const Fixture *f, size_t i, const char *want) {
        const char *h = f->server.requests[i];
        size_t n = strlen(want);

        if (strncmp(h, want, n) != 0 || strncmp(h + n, " HTTP/1.1\r\n", 11) != 0)
                fail_msg("request %zu: want \"%s\", got \"%.*s\"", i, want,
                         (int) strcspn(h, "\r"), h);
}

static void assert_header(const Fixture *f, size_t i, const char *name, const char *want) {
        char buf[512];
        const char *v = request_header(f->server.requests[i], name, buf, sizeof(buf));

        if (!want) {
                if (v)
                        fail_msg("request %zu: %s: %s not expected", i, name, v);
                return;
        }
        if (!v || strcmp(v, want) != 0)
                fail_msg("request %zu: %s: want \"%s\", got \"%s\"", i, name, want, v ? v : "(none)");
}

typedef struct Sink {
        char data[256];
        size_t len;
} Sink;

static int sink_write(void *userdata, const void *data, size_t n) {
        Sink *s = userdata;

        assert_true(s->len + n < sizeof(s->data));
        memcpy(s->data + s->len, data, n);
        s->len += n;
        return 0;
}

/* A GET cut after 4 bytes continues with Range from byte 4 and If-Match the pinned ETag;
 * the caller sees each byte once. */
static void test_get_if_match_and_resume(void **state) {
        Fixture f = { .server = { .n_script = 2, .script = {
                { 200, "ETag: \"abc\"\r\nContent-Type: text/csv\r\n", "0123456789", .cut = 4 },
                { 206, "ETag: \"abc\"\r\nContent-Range: bytes 4-9/10\r\n", "456789" },
        } } };
        S3Version v = { .etag = "abc" };
        S3ObjectInfo info;
        Sink sink = {};
        S3bError err = {};

        s3_fixture(&f, 3, NULL);
        assert_int_equal(s3_get_object(f.client, "in-bkt", "dir/a b.csv", &v, NULL, sink_write,
                                       &sink, &info, &err), 0);
        assert_int_equal(sink.len, 10);
        assert_memory_equal(sink.data, "0123456789", 10);
        assert_int_equal(f.server.served, 2);
        assert_request_line(&f, 0, "GET /in-bkt/dir/a%20b.csv");
        assert_header(&f, 0, "If-Match", "\"abc\"");
        assert_header(&f, 0, "Range", NULL);
        assert_request_line(&f, 1, "GET /in-bkt/dir/a%20b.csv");
        assert_header(&f, 1, "If-Match", "\"abc\"");
        assert_header(&f, 1, "Range", "bytes=4-");
        assert_int_equal(info.size, 10);
        assert_string_equal(info.etag, "abc");
        fixture_stop(&f);
}

/* A resumed answer that starts anywhere but the next byte is refused, not appended. */
static void test_get_resume_must_continue(void **state) {
        Fixture f = { .server = { .n_script = 2, .script = {
                { 200, "ETag: \"abc\"\r\n", "0123456789", .cut = 4 },
                { 200, "ETag: \"abc\"\r\n", "0123456789" },
        } } };
        Sink sink = {};
        S3bError err = {};

        s3_fixture(&f, 3, NULL);
        assert_int_equal(s3_get_object(f.client, "in-bkt", "k", NULL, NULL, sink_write, &sink,
                                       NULL, &err), -EPROTO);
        assert_int_equal(sink.len, 4);
        assert_header(&f, 1, "If-Match", "\"abc\"");    /* the first answer's ETag */
        fixture_stop(&f);
}

static void test_get_412_is_stale(void **state) {
        Fixture f = { .server = { .n_script = 1, .script = {
                { 412, "Content-Type: application/xml\r\n", precondition_failed },
        } } };
        S3Version v = { .etag = "old", .version_id = "v1" };
        Sink sink = {};
        S3bError err = {};

        s3_fixture(&f, 3, NULL);
        assert_int_equal(s3_get_object(f.client, "in-bkt", "k", &v, "bytes=0-99", sink_write,
                                       &sink, NULL, &err), -ESTALE);
        assert_int_equal(f.server.served, 1);           /* not retried */
        assert_string_equal(err.aws_code, "PreconditionFailed");
        assert_request_line(&f, 0, "GET /in-bkt/k?versionId=v1");
        assert_header(&f, 0, "If-Match", "\"old\"");
        assert_header(&f, 0, "Range", "bytes=0-99");
        assert_int_equal(sink.len, 0);
        fixture_stop(&f);
}

static void test_head(void **state) {
        Fixture f = { .server = { .n_script = 2, .script = {
                { 200, "ETag: \"e1-2\"\r\nx-amz-version-id: v9\r\nContent-Type: text/csv\r\n"
                       "x-amz-meta-Origin: s3://a/b\r\n", NULL, .head_length = 12345 },
                { 404, NULL, NULL },
        } } };
        S3ObjectInfo info;
        S3bError err = {};

        s3_fixture(&f, 3, NULL);
        assert_int_equal(s3_head_object(f.client, "bkt", "k+1", &(S3Version) { .version_id = "v9" },
                                        &info, &err), 0);
        assert_request_line(&f, 0, "HEAD /bkt/k%2B1?versionId=v9");
        assert_header(&f, 0, "If-Match", NULL);
        assert_int_equal(info.size, 12345);
        assert_string_equal(info.etag, "e1-2");
        assert_string_equal(info.version_id, "v9");
        assert_string_equal(info.content_type, "text/csv");
        assert_string_equal(s3_object_info_meta(&info, "origin"), "s3://a/b");
        assert_int_equal(s3_head_object(f.client, "bkt", "gone", NULL, &info, &err), -ENOENT);
        assert_int_equal(err.http_status, 404);
        fixture_stop(&f);
}

/* If-Match on DELETE: 204 deletes, 412 leaves the newer object alone, 404 says it is gone. */
static void test_conditional_delete(void **state) {
        Fixture f = { .server = { .n_script = 3, .script = {
                { 204, NULL, NULL },
                { 412, NULL, precondition_failed },
                { 404, NULL, "<Error><Code>NoSuchKey</Code><Message>x</Message></Error>" },
        } } };
        S3Version v = { .etag = "e1" };
        S3bError err = {};

        s3_fixture(&f, 3, NULL);
        assert_int_equal(s3_delete_object(f.client, "bkt", "k", &v, &err), 0);
        assert_int_equal(s3_delete_object(f.client, "bkt", "k", &v, &err), -ESTALE);
        assert_int_equal(s3_delete_object(f.client, "bkt", "k", &v, &err), -ENOENT);
        assert_string_equal(err.aws_code, "NoSuchKey");
        for (size_t i = 0; i < 3; i++) {
                assert_request_line(&f, i, "DELETE /bkt/k");
                assert_header(&f, i, "If-Match", "\"e1\"");
        }
        fixture_stop(&f);
}

static void test_put(void **state) {
        Fixture f = { .server = { .n_script = 1, .script = { { 200, "ETag: \"x\"\r\n", NULL } } } };
        S3bError err = {};
        char sha[65];

        s3_fixture(&f, 3, NULL);
        assert_int_equal(s3_put_object(f.client, "bkt", "r/report.json", "{\"rows\":1}", 10,
                                       "application/json", &err), 0);
        assert_request_line(&f, 0, "PUT /bkt/r/report.json");
        assert_header(&f, 0, "Content-Type", "application/json");
        assert_string_equal(f.server.bodies[0], "{\"rows\":1}");
        /* the body's SHA-256 is signed, not UNSIGNED-PAYLOAD */
        sigv4_sha256_hex("{\"rows\":1}", 10, sha);
        assert_header(&f, 0, "x-amz-content-sha256", sha);
        fixture_stop(&f);
}

/* At or under the threshold: HEAD, then one CopyObject pinned to the headed ETag. */
static void test_copy_single(void **state) {
        Fixture f = { .server = { .n_script = 2, .script = {
                { 200, "ETag: \"src1\"\r\nx-amz-meta-a: b\r\n", NULL, .head_length = 5 * MiB },
                { 200, NULL, "<CopyObjectResult><ETag>\"src1\"</ETag></CopyObjectResult>" },
        } } };
        S3Options so = { .multipart_copy_threshold = 5 * MiB };
        S3bError err = {};

        s3_fixture(&f, 3, &so);
        assert_int_equal(s3_copy_object(f.client, "src-bkt", "in/a b.csv", NULL, "dst-bkt",
                                        "out/a b.csv", &err), 0);
        assert_int_equal(f.server.served, 2);
        assert_request_line(&f, 0, "HEAD /src-bkt/in/a%20b.csv");
        assert_request_line(&f, 1, "PUT /dst-bkt/out/a%20b.csv");
        assert_header(&f, 1, "x-amz-copy-source", "src-bkt/in/a%20b.csv");
        assert_header(&f, 1, "x-amz-copy-source-if-match", "\"src1\"");
        assert_header(&f, 1, "x-amz-metadata-directive", NULL);
        fixture_stop(&f);
}

static const char initiated[] =
        "<InitiateMultipartUploadResult><Bucket>dst</Bucket><Key>k</Key>"
        "<UploadId>U1</UploadId></InitiateMultipartUploadResult>";

/* Over the threshold: parts of copy_part_size, each pinned, then Complete with their ETags. */
static void test_copy_multipart(void **state) {
        Fixture f = { .server = { .n_script = 6, .script = {
                { 200, "ETag: \"src2\"\r\nx-amz-meta-a: b\r\nContent-Type: text/csv\r\n", NULL,
                  .head_length = 12 * MiB },
                { 200, NULL, initiated },
                { 200, NULL, "<CopyPartResult><ETag>\"p1\"</ETag></CopyPartResult>" },
                { 200, NULL, "<CopyPartResult><ETag>\"p2\"</ETag></CopyPartResult>" },
                { 200, NULL, "<CopyPartResult><ETag>\"p3\"</ETag></CopyPartResult>" },
                { 200, NULL, "<CompleteMultipartUploadResult><ETag>\"m-3\"</ETag>"
                             "</CompleteMultipartUploadResult>" },
        } } };
        S3Options so = { .multipart_copy_threshold = 5 * MiB, .copy_part_size = 5 * MiB };
        static const char *ranges[] = { "bytes=0-5242879", "bytes=5242880-10485759",
                                        "bytes=10485760-12582911" };
        S3bError err = {};
        char line[64];

        s3_fixture(&f, 3, &so);
        assert_int_equal(s3_copy_object(f.client, "src-bkt", "k", NULL, "dst-bkt", "k2", &err), 0);
        assert_int_equal(f.server.served, 6);
        assert_request_line(&f, 1, "POST /dst-bkt/k2?uploads=");
        assert_header(&f, 1, "x-amz-meta-a", "b");      /* a new upload must be told */
        assert_header(&f, 1, "Content-Type", "text/csv");
        for (size_t i = 0; i < 3; i++) {
                snprintf(line, sizeof(line), "PUT /dst-bkt/k2?partNumber=%zu&uploadId=U1", i + 1);
                assert_request_line(&f, 2 + i, line);
                assert_header(&f, 2 + i, "x-amz-copy-source", "src-bkt/k");
                assert_header(&f, 2 + i, "x-amz-copy-source-range", ranges[i]);
                assert_header(&f, 2 + i, "x-amz-copy-source-if-match", "\"src2\"");
        }
        assert_request_line(&f, 5, "POST /dst-bkt/k2?uploadId=U1");
        assert_non_null(strstr(f.server.bodies[5],
                "<Part><PartNumber>1</PartNumber><ETag>&quot;p1&quot;</ETag></Part>"
                "<Part><PartNumber>2</PartNumber><ETag>&quot;p2&quot;</ETag></Part>"
                "<Part><PartNumber>3</PartNumber><ETag>&quot;p3&quot;</ETag></Part>"
                "</CompleteMultipartUpload>"));
        fixture_stop(&f);
}

/* A part whose 200 is an <Error> fails the copy, and the upload is aborted. */
static void test_copy_multipart_error_in_200_aborts(void **state) {
        Fixture f = { .server = { .n_script = 4, .script = {
                { 200, "ETag: \"src2\"\r\n", NULL, .head_length = 12 * MiB },
                { 200, NULL, initiated },
                { 200, NULL, "<Error><Code>InternalError</Code><Message>retry</Message></Error>" },
                { 204, NULL, NULL },
        } } };
        S3Options so = { .multipart_copy_threshold = 5 * MiB, .copy_part_size = 5 * MiB };
        S3bError err = {};

        s3_fixture(&f, 1, &so);
        assert_int_equal(s3_copy_object(f.client, "src-bkt", "k", NULL, "dst-bkt", "k2", &err), -EIO);
        assert_string_equal(err.aws_code, "InternalError");
        assert_int_equal(f.server.served, 4);
        assert_request_line(&f, 3, "DELETE /dst-bkt/k2?uploadId=U1");
        fixture_stop(&f);
}

/* The source named by ETag: a HEAD answering 412 stops the copy before anything is written. */
static void test_copy_source_stale(void **state) {
        Fixture f = { .server = { .n_script = 1, .script = { { 412, NULL, NULL } } } };
        S3CopyOptions o = { .source = &(S3Version) { .etag = "old" } };
        S3bError err = {};

        s3_fixture(&f, 3, NULL);
        assert_int_equal(s3_copy_object(f.client, "src-bkt", "k", &o, "dst-bkt", "k2", &err),
                         -ESTALE);
        assert_header(&f, 0, "If-Match", "\"old\"");
        assert_int_equal(f.server.served, 1);
        fixture_stop(&f);
}

static void test_list_pagination(void **state) {
        Fixture f = { .server = { .n_script = 3, .script = {
                { 200, NULL, "<ListBucketResult><EncodingType>url</EncodingType>"
                             "<IsTruncated>true</IsTruncated><NextContinuationToken>t/1+=</NextContinuationToken>"
                             "<Contents><Key>in/a+b%2Bc.csv</Key><Size>10</Size><ETag>\"e1\"</ETag></Contents>"
                             "<Contents><Key>in/%C3%A9t%C3%A9.csv</Key><Size>0</Size><ETag>\"e2\"</ETag></Contents>"
                             "</ListBucketResult>" },
                { 200, NULL, "<ListBucketResult><EncodingType>url</EncodingType>"
                             "<IsTruncated>false</IsTruncated>"
                             "<Contents><Key>in/z.csv</Key><Size>7</Size><ETag>\"e3\"</ETag></Contents>"
                             "</ListBucketResult>" },
                { 200, NULL, "<ListBucketResult><EncodingType>url</EncodingType>"
                             "<IsTruncated>false</IsTruncated>"
                             "<Contents><Key>in/%zz</Key><Size>7</Size></Contents>"
                             "</ListBucketResult>" },
        } } };
        S3ObjectList page = {}, next = {}, bad = {};
        S3bError err = {};

        s3_fixture(&f, 3, NULL);
        assert_int_equal(s3_list_objects_v2(f.client, "bkt", "in/", NULL, 2, &page, &err), 0);
        assert_request_line(&f, 0, "GET /bkt?encoding-type=url&list-type=2&max-keys=2&prefix=in%2F");
        assert_int_equal(page.n_objects, 2);
        assert_string_equal(page.objects[0].key, "in/a b+c.csv");
        assert_int_equal(page.objects[0].size, 10);
        assert_string_equal(page.objects[0].etag, "e1");
        assert_string_equal(page.objects[1].key, "in/\xc3\xa9t\xc3\xa9.csv");
        assert_string_equal(page.next_token, "t/1+=");
        assert_int_equal(s3_list_objects_v2(f.client, "bkt", "in/", page.next_token, 0, &next, &err), 0);
        assert_request_line(&f, 1, "GET /bkt?continuation-token=t%2F1%2B%3D&encoding-type=url"
                                   "&list-type=2&prefix=in%2F");
        assert_int_equal(next.n_objects, 1);
        assert_string_equal(next.objects[0].key, "in/z.csv");
        assert_null(next.next_token);                   /* the last page */
        /* a bad escape is a malformed page, not a key that names another object */
        assert_int_equal(s3_list_objects_v2(f.client, "bkt", NULL, NULL, 0, &bad, &err), -EBADMSG);
        assert_null(bad.objects);
        s3_object_list_done(&page);
        s3_object_list_done(&next);
        fixture_stop(&f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_get_if_match_and_resume),
                cmocka_unit_test(test_get_resume_must_continue),
                cmocka_unit_test(test_get_412_is_stale),
                cmocka_unit_test(test_head),
                cmocka_unit_test(test_conditional_delete),
                cmocka_unit_test(test_put),
                cmocka_unit_test(test_copy_single),
                cmocka_unit_test(test_copy_multipart),
                cmocka_unit_test(test_copy_multipart_error_in_200_aborts),
                cmocka_unit_test(test_copy_source_stale),
                cmocka_unit_test(test_list_pagination),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
