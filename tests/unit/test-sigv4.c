/* Unit tests of the signer's pieces and contracts, and of each stage on AWS's documented
 * example. The stage-by-stage comparison with botocore over the request table is
 * test-sigv4.py. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/aws/sigv4.h"
#include "common/urlcode.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define TOKEN "FQoGZXIvYXdzEXAMPLEsessiontoken//+=="

static void creds_init(AwsCredentials *c, const char *token) {
        memset(c, 0, sizeof(*c));
        strcpy(c->access_key_id, "AKIDEXAMPLE");
        strcpy(c->secret_access_key, SECRET);
        strcpy(c->session_token, token ? token : "");
}

static char *encode(const char *s, bool keep_slash) {
        Buf b = BUF_INIT(4096);

        assert_int_equal(url_encode(&b, s, strlen(s), keep_slash), 0);
        return buf_steal(&b);
}

static void test_uri_encode(void **state) {
        char *s;

        s = encode("AZaz09-_.~", false);
        assert_string_equal(s, "AZaz09-_.~");
        free(s);
        s = encode("a b+c/d%=&é", true);
        assert_string_equal(s, "a%20b%2Bc/d%25%3D%26%C3%A9");
        free(s);
        s = encode("a/b", false);
        assert_string_equal(s, "a%2Fb");
        free(s);
}

static char *canon_uri(const char *path, const char *service) {
        Buf b = BUF_INIT(4096);

        assert_int_equal(sigv4_canonical_uri(&b, path, service), 0);
        return buf_steal(&b);
}

static void test_canonical_uri(void **state) {
        static const struct {
                const char *path, *service, *want;
        } t[] = {
                { "/", "sqs", "/" },
                { "/a//b/./c/../d", "sqs", "/a/b/d" },
                { "/a/b/", "sqs", "/a/b/" },
                { "/..", "sqs", "/" },
                { "/a b%", "sqs", "/a%2520b%2525" },    /* double encoding */
                { "/a b%", "s3", "/a%20b%25" },
                { "/k//./../x", "s3", "/k//./../x" },   /* S3: key kept as is */
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                char *s = canon_uri(t[i].path, t[i].service);
                assert_string_equal(s, t[i].want);
                free(s);
        }
}

static void test_canonical_query(void **state) {
        const SigV4Param q[] = {
                { "b", "2" }, { "a", "z" }, { "a", "y" }, { "uploads", NULL },
                { "k", "x/y z" }, { "a b", "" },
        };
        Buf b = BUF_INIT(4096);

        assert_int_equal(sigv4_canonical_query(&b, q, ELEMENTSOF(q)), 0);
        assert_string_equal(buf_str(&b), "a=y&a=z&a%20b=&b=2&k=x%2Fy%20z&uploads=");
        buf_done(&b);
}

/* AWS's documented example ("Examples of how to derive a signing key for Signature Version 4"
 * / the IAM ListUsers walk-through). */
static void test_derive_key_aws_example(void **state) {
        uint8_t key[32];
        char hex[65];

        assert_int_equal(sigv4_derive_key(SECRET, "20150830", "us-east-1", "iam", key), 0);
        for (int i = 0; i < 32; i++)
                sprintf(hex + 2 * i, "%02x", key[i]);
        assert_string_equal(hex, "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
}

static void test_sha256(void **state) {
        char h[65];

        sigv4_sha256_hex("", 0, h);
        assert_string_equal(h, SIGV4_EMPTY_SHA256);
        sigv4_sha256_hex(NULL, 0, h);
        assert_string_equal(h, SIGV4_EMPTY_SHA256);
}

static int sign(const SigV4Request *req, const char *token, const char *service,
                SigV4KeyCache *cache, SigV4Result *res, S3bError *err) {
        AwsCredentials c;

        creds_init(&c, token);
        return sigv4_sign(req, &c, "eu-west-1", service, 1796024696, cache, res, err);
}

static void test_add_headers(void **state) {
        SigV4Request req = { .method = "get", .host = "bkt.s3.eu-west-1.amazonaws.com",
                             .path = "/a b", .payload_hash = SIGV4_UNSIGNED_PAYLOAD };
        SigV4Result res = {};

        assert_int_equal(sign(&req, TOKEN, "s3", NULL, &res, NULL), 0);
        assert_string_equal(res.add[SIGV4_ADD_HOST].value, "bkt.s3.eu-west-1.amazonaws.com");
        assert_string_equal(res.add[SIGV4_ADD_DATE].value, res.amz_date);
        assert_string_equal(res.amz_date, "20261130T074456Z");
        assert_string_equal(res.add[SIGV4_ADD_CONTENT_SHA256].value, "UNSIGNED-PAYLOAD");
        assert_string_equal(res.add[SIGV4_ADD_SECURITY_TOKEN].value, TOKEN);
        assert_ptr_equal(res.add[SIGV4_ADD_AUTHORIZATION].value, res.authorization);
        assert_string_equal(res.url_path, "/a%20b");
        assert_string_equal(res.url_query, "");
        assert_non_null(strstr(res.canonical_request, "GET\n"));
        assert_non_null(strstr(res.authorization,
                               "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"));
        sigv4_result_done(&res);

        /* non-S3, long-term keys: neither optional header */
        assert_int_equal(sign(&req, NULL, "sqs", NULL, &res, NULL), 0);
        assert_null(res.add[SIGV4_ADD_CONTENT_SHA256].name);
        assert_null(res.add[SIGV4_ADD_SECURITY_TOKEN].name);
        sigv4_result_done(&res);
}

static void test_key_cache(void **state) {
        _cleanup_(sigv4_key_cache_freep) SigV4KeyCache *cache = NULL;
        SigV4Request req = { .method = "GET", .host = "h", .path = "/" };
        SigV4Result a = {}, b = {}, c = {};
        AwsCredentials other;

        assert_int_equal(sigv4_key_cache_new(&cache, NULL), 0);
        assert_int_equal(sign(&req, NULL, "sqs", NULL, &a, NULL), 0);
        assert_int_equal(sign(&req, NULL, "sqs", cache, &b, NULL), 0);
        sigv4_result_done(&b);
        assert_int_equal(sign(&req, NULL, "sqs", cache, &b, NULL), 0);   /* from the cache */
        assert_string_equal(a.signature, b.signature);
        /* another secret must not hit the cached key */
        creds_init(&other, NULL);
        other.secret_access_key[0] = 'X';
        assert_int_equal(sigv4_sign(&req, &other, "eu-west-1", "sqs", 1796024696, cache, &c,
                                    NULL), 0);
        assert_string_not_equal(a.signature, c.signature);
        /* ... and signs as the uncached path does (the cache's HMAC is re-prepared for the
         * new key), and back again for the first one */
        sigv4_result_done(&b);
        assert_int_equal(sigv4_sign(&req, &other, "eu-west-1", "sqs", 1796024696, NULL, &b,
                                    NULL), 0);
        assert_string_equal(b.signature, c.signature);
        sigv4_result_done(&b);
        assert_int_equal(sign(&req, NULL, "sqs", cache, &b, NULL), 0);
        assert_string_equal(a.signature, b.signature);
        /* another date: another signing key through the same cache */
        sigv4_result_done(&b);
        sigv4_result_done(&c);
        assert_int_equal(sigv4_sign(&req, &other, "eu-west-1", "sqs", 1796024696 + 86400, NULL,
                                    &b, NULL), 0);
        assert_int_equal(sigv4_sign(&req, &other, "eu-west-1", "sqs", 1796024696 + 86400, cache,
                                    &c, NULL), 0);
        assert_string_equal(b.signature, c.signature);
        sigv4_result_done(&a);
        sigv4_result_done(&b);
        sigv4_result_done(&c);
}

static void test_rejects_bad_input(void **state) {
        const SigV4Header crlf[] = { { "X-Amz-Meta-A", "x\r\nInjected: 1" } };
        const SigV4Header reserved[] = { { "Host", "evil" } };
        SigV4Request req = { .method = "GET", .host = "h", .path = "/" };
        SigV4Result res = {};
        S3bError err = {};
        AwsCredentials none = {};

        req.headers = crlf;
        req.n_headers = 1;
        assert_int_equal(sign(&req, TOKEN, "s3", NULL, &res, &err), -EINVAL);
        req.headers = reserved;
        assert_int_equal(sign(&req, TOKEN, "s3", NULL, &res, &err), -EINVAL);
        assert_null(strstr(err.message, SECRET));
        assert_null(strstr(err.message, TOKEN));
        req.n_headers = 0;
        req.path = "no-slash";
        assert_int_equal(sign(&req, TOKEN, "s3", NULL, &res, &err), -EINVAL);
        req.path = "/";
        assert_int_equal(sigv4_sign(&req, &none, "eu-west-1", "s3", 0, NULL, &res, &err),
                         -EINVAL);
        assert_int_equal(sign(&req, NULL, "", NULL, &res, &err), -EINVAL);
        /* *ret untouched on failure */
        assert_null(res.authorization);
}

/* AWS's documented walk-through (IAM ListUsers, 20150830T123600Z, us-east-1: "Examples of the
 * complete Signature Version 4 signing process"), one stage at a time, each fed the document's
 * own output of the stage before. */
#define DOC_TIME 1440938160
#define DOC_CR "GET\n/\nAction=ListUsers&Version=2010-05-08\n" \
        "content-type:application/x-www-form-urlencoded; charset=utf-8\n" \
        "host:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n" \
        "content-type;host;x-amz-date\n" SIGV4_EMPTY_SHA256
#define DOC_STS "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\n" \
        "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
#define DOC_SIG "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"

static void test_stage_canonical_request(void **state) {
        const SigV4Param q[] = { { "Version", "2010-05-08" }, { "Action", "ListUsers" } };
        const SigV4Header h[] = {
                { "Content-Type", "application/x-www-form-urlencoded;  charset=utf-8 " },
        };
        SigV4Request req = { .method = "GET", .host = "iam.amazonaws.com", .path = "/",
                             .query = q, .n_query = 2, .headers = h, .n_headers = 1 };
        _cleanup_(buf_done) Buf cr = BUF_INIT(4096), names = BUF_INIT(4096);
        SigV4Scope scope;
        S3bError err = {};

        sigv4_scope_init(&scope, DOC_TIME, "us-east-1", "iam");
        assert_string_equal(scope.amz_date, "20150830T123600Z");
        assert_string_equal(scope.date8, "20150830");
        assert_int_equal(sigv4_canonical_request(&cr, &names, &req, &scope, "",
                                                 SIGV4_EMPTY_SHA256, &err), 0);
        assert_string_equal(buf_str(&cr), DOC_CR);
        assert_string_equal(buf_str(&names), "content-type;host;x-amz-date");

        /* the session token is a signed header of its own, sorted in */
        buf_reset(&cr);
        buf_reset(&names);
        assert_int_equal(sigv4_canonical_request(&cr, &names, &req, &scope, TOKEN,
                                                 SIGV4_EMPTY_SHA256, &err), 0);
        assert_string_equal(buf_str(&names), "content-type;host;x-amz-date;x-amz-security-token");
        assert_non_null(strstr(buf_str(&cr), "\nx-amz-security-token:" TOKEN "\n"));
}

static void test_stage_string_to_sign(void **state) {
        _cleanup_(sigv4_key_cache_freep) SigV4KeyCache *cache = NULL;
        _cleanup_(buf_done) Buf sts = BUF_INIT(4096);
        SigV4Scope scope;

        sigv4_scope_init(&scope, DOC_TIME, "us-east-1", "iam");
        assert_int_equal(sigv4_string_to_sign(&sts, &scope, DOC_CR, strlen(DOC_CR), NULL, NULL), 0);
        assert_string_equal(buf_str(&sts), DOC_STS);
        /* the cache's own SHA-256 gives the same */
        assert_int_equal(sigv4_key_cache_new(&cache, NULL), 0);
        buf_reset(&sts);
        assert_int_equal(sigv4_string_to_sign(&sts, &scope, DOC_CR, strlen(DOC_CR), cache, NULL), 0);
        assert_string_equal(buf_str(&sts), DOC_STS);
}

static void test_stage_authorization(void **state) {
        _cleanup_(sigv4_key_cache_freep) SigV4KeyCache *cache = NULL;
        _cleanup_(buf_done) Buf auth = BUF_INIT(4096);
        SigV4Scope scope;
        uint8_t key[32];
        char sig[65];

        sigv4_scope_init(&scope, DOC_TIME, "us-east-1", "iam");
        assert_int_equal(sigv4_signing_key(NULL, SECRET, &scope, key, NULL), 0);
        assert_int_equal(sigv4_authorization(&auth, sig, key, DOC_STS, "AKIDEXAMPLE", &scope,
                                             "content-type;host;x-amz-date", NULL, NULL), 0);
        assert_string_equal(sig, DOC_SIG);
        assert_string_equal(buf_str(&auth),
                            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
                            "SignedHeaders=content-type;host;x-amz-date, Signature=" DOC_SIG);
        /* through the cache: derived once, then found */
        assert_int_equal(sigv4_key_cache_new(&cache, NULL), 0);
        for (int pass = 0; pass < 2; pass++) {
                memset(key, 0, sizeof(key));
                buf_reset(&auth);
                assert_int_equal(sigv4_signing_key(cache, SECRET, &scope, key, NULL), 0);
                assert_int_equal(sigv4_authorization(&auth, sig, key, DOC_STS, "AKIDEXAMPLE",
                                                     &scope, "content-type;host;x-amz-date",
                                                     cache, NULL), 0);
                assert_string_equal(sig, DOC_SIG);
        }
}

/* Every failure says why (the error contract), an oversized one included. */
static void test_stage_errors_have_messages(void **state) {
        const SigV4Header reserved[] = { { "X-Amz-Date", "20150830T123600Z" } };
        SigV4Request req = { .method = "GET", .host = "h", .path = "/", .headers = reserved,
                             .n_headers = 1 };
        _cleanup_(buf_done) Buf cr = BUF_INIT(4096), names = BUF_INIT(4096);
        _cleanup_free_ char *huge = malloc(300 * 1024);
        SigV4Result res = {};
        SigV4Scope scope;
        S3bError err = {};

        sigv4_scope_init(&scope, DOC_TIME, "us-east-1", "sqs");
        assert_int_equal(sigv4_canonical_request(&cr, &names, &req, &scope, NULL,
                                                 SIGV4_EMPTY_SHA256, &err), -EINVAL);
        assert_non_null(strstr(err.message, "X-Amz-Date"));
        s3b_error_clear(&err);
        req.n_headers = 0;
        assert_int_equal(sigv4_canonical_request(&cr, &names, &req, &scope, NULL, NULL, &err),
                         -EINVAL);
        assert_string_not_equal(err.message, "");

        /* a path over the signer's 256 KiB bound */
        assert_non_null(huge);
        memset(huge, 'a', 300 * 1024 - 1);
        huge[0] = '/';
        huge[300 * 1024 - 1] = '\0';
        req.path = huge;
        s3b_error_clear(&err);
        assert_int_equal(sign(&req, NULL, "sqs", NULL, &res, &err), -ENOBUFS);
        assert_non_null(strstr(err.message, "too large"));
        assert_null(res.authorization);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_uri_encode),
                cmocka_unit_test(test_canonical_uri),
                cmocka_unit_test(test_canonical_query),
                cmocka_unit_test(test_derive_key_aws_example),
                cmocka_unit_test(test_sha256),
                cmocka_unit_test(test_add_headers),
                cmocka_unit_test(test_key_cache),
                cmocka_unit_test(test_rejects_bad_input),
                cmocka_unit_test(test_stage_canonical_request),
                cmocka_unit_test(test_stage_string_to_sign),
                cmocka_unit_test(test_stage_authorization),
                cmocka_unit_test(test_stage_errors_have_messages),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
