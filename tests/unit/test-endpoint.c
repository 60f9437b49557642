#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/aws/endpoint.h"

/* A tiny environment: NULL-terminated pairs. */
static const char *test_env_get(void *userdata, const char *name) {
        const char *const *kv = userdata;

        for (; kv[0]; kv += 2)
                if (strcmp(kv[0], name) == 0)
                        return kv[1];
        return NULL;
}

static AwsEnv env_of(const char *const *kv) {
        return (AwsEnv) { .get = test_env_get, .userdata = (void *) kv };
}

static void test_parse(void **state) {
        AwsEndpoint e;

        assert_int_equal(aws_endpoint_parse("http://127.0.0.1:4566", true, &e, NULL), 0);
        assert_false(e.https);
        assert_string_equal(e.host, "127.0.0.1");
        assert_int_equal(e.port, 4566);
        assert_string_equal(e.path, "");
        assert_true(e.custom);

        assert_int_equal(aws_endpoint_parse("HTTPS://S3.Example.COM/base/", true, &e, NULL), 0);
        assert_true(e.https);
        assert_string_equal(e.host, "s3.example.com");
        assert_int_equal(e.port, 0);
        assert_string_equal(e.path, "/base");

        assert_int_equal(aws_endpoint_parse("http://[::1]:9000", true, &e, NULL), 0);
        assert_string_equal(e.host, "[::1]");
        assert_int_equal(e.port, 9000);

        /* a queue URL: its path is not a base path */
        assert_int_equal(aws_endpoint_parse("https://sqs.eu-west-1.amazonaws.com/123456789012/q",
                                            false, &e, NULL), 0);
        assert_string_equal(e.host, "sqs.eu-west-1.amazonaws.com");
        assert_string_equal(e.path, "");
}

static void test_parse_rejects(void **state) {
        static const char *const bad[] = {
                "ftp://host", "host:80", "http://", "http://:80", "http://h:0", "http://h:65536",
                "http://h:12a", "http://user:pw@h", "http://h/?x=1", "http://h/#f", "http://h h",
                "http://[::1", "http://[zz]:1", "http://h/a b",
        };
        AwsEndpoint e = { .port = 77 };
        S3bError err = {};

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                assert_int_equal(aws_endpoint_parse(bad[i], true, &e, &err), -EINVAL);
                assert_int_equal(e.port, 77);           /* untouched on failure */
        }
        assert_int_equal(aws_endpoint_parse(NULL, true, &e, &err), -EINVAL);
}

static void test_partitions(void **state) {
        AwsEndpoint e;

        assert_int_equal(aws_endpoint_default(AWS_SERVICE_SQS, "eu-west-1", &e, NULL), 0);
        assert_string_equal(e.host, "sqs.eu-west-1.amazonaws.com");
        assert_true(e.https);
        assert_false(e.custom);
        assert_int_equal(aws_endpoint_default(AWS_SERVICE_DYNAMODB, "cn-north-1", &e, NULL), 0);
        assert_string_equal(e.host, "dynamodb.cn-north-1.amazonaws.com.cn");
        assert_int_equal(aws_endpoint_default(AWS_SERVICE_SNS, "us-gov-west-1", &e, NULL), 0);
        assert_string_equal(e.host, "sns.us-gov-west-1.amazonaws.com");
        assert_int_equal(aws_endpoint_default(AWS_SERVICE_S3, "us-iso-east-1", &e, NULL), 0);
        assert_string_equal(e.host, "s3.us-iso-east-1.c2s.ic.gov");
        assert_string_equal(aws_partition_dns_suffix("us-isob-east-1"), "sc2s.sgov.gov");

        assert_int_equal(aws_endpoint_default(AWS_SERVICE_S3, "Eu-West-1", &e, NULL), -EINVAL);
        assert_int_equal(aws_endpoint_default(AWS_SERVICE_S3, "eu.evil.com/x", &e, NULL), -EINVAL);
        assert_int_equal(aws_endpoint_default(AWS_SERVICE_S3, "", &e, NULL), -EINVAL);
        assert_false(aws_region_is_valid("-eu"));
        assert_true(aws_region_is_valid("ap-southeast-2"));
}

static void test_resolve_order(void **state) {
        const char *const env[] = {
                "AWS_ENDPOINT_URL", "http://127.0.0.1:1000",
                "AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:2000",
                NULL,
        };
        const char *const ignore[] = {
                "AWS_ENDPOINT_URL", "http://127.0.0.1:1000",
                "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true",
                NULL,
        };
        const char *const empty_specific[] = {
                "AWS_ENDPOINT_URL_S3", "",
                "AWS_ENDPOINT_URL", "http://localhost:3000",
                NULL,
        };
        AwsEnv e = env_of(env), ig = env_of(ignore), es = env_of(empty_specific);
        AwsEndpoint ep;

        /* configured beats everything */
        assert_int_equal(aws_endpoint_resolve(AWS_SERVICE_SQS, "us-east-1", "http://10.0.0.1:9",
                                              &e, &ep, NULL), 0);
        assert_string_equal(ep.host, "10.0.0.1");
        /* service-specific variable beats the global one */
        assert_int_equal(aws_endpoint_resolve(AWS_SERVICE_SQS, "us-east-1", NULL, &e, &ep, NULL), 0);
        assert_int_equal(ep.port, 2000);
        assert_int_equal(aws_endpoint_resolve(AWS_SERVICE_DYNAMODB, "us-east-1", "", &e, &ep, NULL), 0);
        assert_int_equal(ep.port, 1000);
        /* an empty variable counts as unset */
        assert_int_equal(aws_endpoint_resolve(AWS_SERVICE_S3, "us-east-1", NULL, &es, &ep, NULL), 0);
        assert_string_equal(ep.host, "localhost");
        /* the opt-out, and no environment at all */
        assert_int_equal(aws_endpoint_resolve(AWS_SERVICE_SNS, "us-east-1", NULL, &ig, &ep, NULL), 0);
        assert_string_equal(ep.host, "sns.us-east-1.amazonaws.com");
        assert_int_equal(aws_endpoint_resolve(AWS_SERVICE_SNS, "us-east-1", NULL, NULL, &ep, NULL), 0);
        assert_false(ep.custom);
}

static void test_resolve_bad_env_names_source(void **state) {
        const char *const env[] = { "AWS_ENDPOINT_URL_DYNAMODB", "localhost:8000", NULL };
        AwsEnv e = env_of(env);
        AwsEndpoint ep;
        S3bError err = {};

        assert_int_equal(aws_endpoint_resolve(AWS_SERVICE_DYNAMODB, "us-east-1", NULL, &e, &ep, &err),
                         -EINVAL);
        assert_non_null(strstr(err.message, "AWS_ENDPOINT_URL_DYNAMODB"));
}

static void test_bucket_hostable(void **state) {
        assert_true(s3_bucket_is_virtual_hostable("my-bucket", true));
        assert_true(s3_bucket_is_virtual_hostable("abc", true));
        assert_true(s3_bucket_is_virtual_hostable("my.bucket", false));
        assert_false(s3_bucket_is_virtual_hostable("my.bucket", true));     /* TLS wildcard */
        assert_false(s3_bucket_is_virtual_hostable("ab", false));
        assert_false(s3_bucket_is_virtual_hostable("MyBucket", false));
        assert_false(s3_bucket_is_virtual_hostable("my_bucket", false));
        assert_false(s3_bucket_is_virtual_hostable("-bucket", false));
        assert_false(s3_bucket_is_virtual_hostable("bucket-", false));
        assert_false(s3_bucket_is_virtual_hostable("a..b", false));
        assert_false(s3_bucket_is_virtual_hostable("a.-b", false));
        assert_false(s3_bucket_is_virtual_hostable("192.168.1.1", false));
        assert_false(s3_bucket_is_virtual_hostable(NULL, false));
}

static void test_path_style(void **state) {
        AwsEndpoint aws, local, ip, named;

        assert_int_equal(aws_endpoint_default(AWS_SERVICE_S3, "eu-west-1", &aws, NULL), 0);
        assert_int_equal(aws_endpoint_parse("http://localhost:4566", true, &local, NULL), 0);
        assert_int_equal(aws_endpoint_parse("http://127.0.0.1:4566", true, &ip, NULL), 0);
        assert_int_equal(aws_endpoint_parse("https://minio.internal:9000", true, &named, NULL), 0);

        assert_false(s3_use_path_style(&aws, "inbound", false));
        assert_true(s3_use_path_style(&aws, "inbound", true));
        assert_true(s3_use_path_style(&aws, "in.bound", false));
        assert_true(s3_use_path_style(&local, "inbound", false));
        assert_true(s3_use_path_style(&ip, "inbound", false));
        assert_false(s3_use_path_style(&named, "inbound", false));
        assert_true(aws_endpoint_host_is_local(&local));
        assert_false(aws_endpoint_host_is_local(&named));
        assert_int_equal(aws_endpoint_parse("http://s3.localhost:4566", true, &named, NULL), 0);
        assert_false(s3_use_path_style(&named, "inbound", false));
}

static void test_host_and_url(void **state) {
        AwsEndpoint e;
        char host[300];
        Buf b = BUF_INIT(1024);

        assert_int_equal(aws_endpoint_parse("https://s3.eu-west-1.amazonaws.com:443", true, &e, NULL), 0);
        assert_int_equal(aws_endpoint_host_header(&e, "bkt", host, sizeof(host)), 0);
        assert_string_equal(host, "bkt.s3.eu-west-1.amazonaws.com");   /* default port omitted */
        assert_int_equal(aws_endpoint_parse("http://127.0.0.1:8000/pre", true, &e, NULL), 0);
        assert_int_equal(aws_endpoint_host_header(&e, NULL, host, sizeof(host)), 0);
        assert_string_equal(host, "127.0.0.1:8000");
        assert_int_equal(aws_endpoint_host_header(&e, NULL, host, 5), -ENAMETOOLONG);
        assert_int_equal(aws_endpoint_url(&e, NULL, "/k%20x", "a=1", &b), 0);
        assert_string_equal(buf_str(&b), "http://127.0.0.1:8000/pre/k%20x?a=1");
        buf_done(&b);
}

static void test_region_of_host(void **state) {
        char r[64];

        assert_int_equal(aws_endpoint_region_of_host("sqs.eu-west-1.amazonaws.com", "sqs", r, sizeof(r)), 0);
        assert_string_equal(r, "eu-west-1");
        assert_int_equal(aws_endpoint_region_of_host("sqs.cn-north-1.amazonaws.com.cn", "sqs", r, sizeof(r)), 0);
        assert_string_equal(r, "cn-north-1");
        assert_int_equal(aws_endpoint_region_of_host("ap-south-1.queue.amazonaws.com", "sqs", r, sizeof(r)), 0);
        assert_string_equal(r, "ap-south-1");
        assert_int_equal(aws_endpoint_region_of_host("queue.amazonaws.com", "sqs", r, sizeof(r)), 0);
        assert_string_equal(r, "us-east-1");
        assert_int_equal(aws_endpoint_region_of_host("sqs.us-east-1.localhost", "sqs", r, sizeof(r)), -ENOENT);
        assert_int_equal(aws_endpoint_region_of_host("sqs.eu-west-1.evil.com", "sqs", r, sizeof(r)), -ENOENT);
        assert_int_equal(aws_endpoint_region_of_host("127.0.0.1", "sqs", r, sizeof(r)), -ENOENT);
        assert_int_equal(aws_endpoint_region_of_host("sqs.EU.amazonaws.com", "sqs", r, sizeof(r)), -ENOENT);
        assert_int_equal(aws_endpoint_region_of_host("sns.eu-west-1.amazonaws.com", "sqs", r, sizeof(r)), -ENOENT);
        assert_int_equal(aws_endpoint_region_of_host("sqs.eu-west-1.amazonaws.com", "sqs", r, 4), -ENOENT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_parse_rejects),
                cmocka_unit_test(test_partitions),
                cmocka_unit_test(test_resolve_order),
                cmocka_unit_test(test_resolve_bad_env_names_source),
                cmocka_unit_test(test_bucket_hostable),
                cmocka_unit_test(test_path_style),
                cmocka_unit_test(test_host_and_url),
                cmocka_unit_test(test_region_of_host),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
