/* Credentials providers and chain, against tests/world/fake-metadata.py (IMDSv2 + container
 * endpoint) started on a free loopback port, and against profile files in a temp dir.
 *
 * Every error message any call produced is kept and, at the end, searched for every secret the
 * test or the server handed out: secrets must never reach a message. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "common/aws/credentials-provider.h"
#include "common/aws/credentials.h"
#include "pyserver.h"

#define ENV_SECRET "envSecret/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define ENV_TOKEN "envSessionToken//+=="
#define FILE_SECRET "fileSecret/abc+def"
#define ECS_AUTH "ecs-auth-token-s3cr3t"

static PyServer server;
/* the fake server is on loopback: whatever proxy the environment names does not apply */
static const HttpClientOptions test_http = { .no_proxy = true };
static char base_url[64];
static char tmpdir[64] = "/tmp/test-credentials-XXXXXX";
static Buf all_errors = BUF_INIT(4 * 1024 * 1024);
static int64_t fake_now;

static int64_t test_clock(void *userdata) {
        return __atomic_load_n(&fake_now, __ATOMIC_SEQ_CST);
}

static void keep_error(const S3bError *e) {
        buf_printf(&all_errors, "%s\n", e->message);
}

/* ---- the fake metadata server ---- */

static int start_server(void **state) {
        assert_int_equal(pyserver_start(&server, TEST_SRCDIR "/tests/world/fake-metadata.py", NULL), 0);
        snprintf(base_url, sizeof(base_url), "%s", server.url);
        assert_non_null(mkdtemp(tmpdir));
        return 0;
}

static int stop_server(void **state) {
        char cmd[128];

        pyserver_stop(&server);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
                return -1;
        return 0;
}

static void admin(const char *json) {
        _cleanup_(http_client_freep) HttpClient *http = NULL;
        HttpResponse resp;
        char url[128];
        HttpRequest req = { .method = "POST", .url = url, .body = json, .body_len = strlen(json) };

        snprintf(url, sizeof(url), "%s/_admin/config", base_url);
        http_response_init(&resp);
        assert_int_equal(http_client_new(&http, &test_http, NULL), 0);
        assert_int_equal(http_client_send(http, &req, &resp, NULL), 0);
        assert_int_equal(resp.status, 200);
        http_response_done(&resp);
}

static void reset_server(void) {
        admin("{\"reset_stats\": true, \"role\": \"s3batchd-role\", \"region\": \"eu-west-3\","
              " \"expire_in\": 21600, \"expiration\": null, \"delay\": 0, \"token_delay\": 0,"
              " \"fail_status\": 0, \"fail_count\": -1, \"garbage\": \"\", \"ecs_token\": \"\"}");
}

static int stat_of(const char *kind) {
        _cleanup_(http_client_freep) HttpClient *http = NULL;
        HttpResponse resp;
        char url[128];
        HttpRequest req = { .method = "GET", .url = url };
        cJSON *doc, *v;
        int n;

        snprintf(url, sizeof(url), "%s/_admin/stats", base_url);
        http_response_init(&resp);
        assert_int_equal(http_client_new(&http, &test_http, NULL), 0);
        assert_int_equal(http_client_send(http, &req, &resp, NULL), 0);
        doc = cJSON_Parse(buf_str(&resp.body));
        v = cJSON_GetObjectItemCaseSensitive(doc, kind);
        n = cJSON_IsNumber(v) ? v->valueint : 0;
        cJSON_Delete(doc);
        http_response_done(&resp);
        return n;
}

static int setup_test(void **state) {
        reset_server();
        __atomic_store_n(&fake_now, (int64_t) time(NULL), __ATOMIC_SEQ_CST);
        return 0;
}

static void write_file(const char *name, const char *content) {
        char path[256];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
        f = fopen(path, "w");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
}

/* ---- environment ---- */

static void test_env(void **state) {
        char *full[] = { "AWS_ACCESS_KEY_ID=AKIAENV", "AWS_SECRET_ACCESS_KEY=" ENV_SECRET,
                         "AWS_SESSION_TOKEN=" ENV_TOKEN, NULL };
        char *partial[] = { "AWS_ACCESS_KEY_ID=AKIAENV", "AWS_SECRET_ACCESS_KEY=", NULL };
        char *none[] = { "HOME=/nonexistent", NULL };
        AwsEnv env = aws_env_strv(full);
        AwsCredentials c = {};
        S3bError e = {};

        assert_int_equal(aws_credentials_from_env(&env, &c, &e), 0);
        assert_string_equal(c.access_key_id, "AKIAENV");
        assert_string_equal(c.secret_access_key, ENV_SECRET);
        assert_string_equal(c.session_token, ENV_TOKEN);
        assert_int_equal(c.expiration, 0);
        assert_string_equal(c.source, "environment");
        assert_true(aws_credentials_usable(&c, 0));
        aws_credentials_wipe(&c);
        assert_false(aws_credentials_usable(&c, 0));

        /* an empty variable counts as unset: half a key pair is an error, not a fallthrough */
        env = aws_env_strv(partial);
        assert_int_equal(aws_credentials_from_env(&env, &c, &e), -EINVAL);
        keep_error(&e);
        assert_non_null(strstr(e.message, "AWS_SECRET_ACCESS_KEY"));
        env = aws_env_strv(none);
        assert_int_equal(aws_credentials_from_env(&env, &c, &e), -ENOENT);
        keep_error(&e);
}

/* ---- shared files ---- */

static void test_profile_files(void **state) {
        char cred[256], conf[256], home[256];
        AwsCredentials c = {};
        S3bError e = {};
        char region[AWS_REGION_MAX + 1];

        write_file("credentials",
                   "# comment\n"
                   "; another comment\n"
                   "[default]\n"
                   "aws_access_key_id = AKIADEFAULT\n"
                   "aws_secret_access_key=" FILE_SECRET "\n"
                   "\n"
                   "[work]   \r\n"
                   "aws_access_key_id   =   AKIAWORK   \r\n"
                   "aws_secret_access_key\t=\t" FILE_SECRET "work\r\n"
                   "aws_session_token = tok/work==\r\n"
                   "s3 =\n"
                   "  aws_access_key_id = NESTED\n"
                   "[half]\n"
                   "aws_access_key_id = AKIAHALF\n"
                   "[ default ]\n"    /* not "default": configparser keeps the blanks */
                   "aws_access_key_id = AKIABLANKS\n"
                   "[assume]\n"
                   "region = ignored-here\n");
        write_file("config",
                   "[default]\n"
                   "region = eu-central-1\n"
                   "[profile   cfgonly]\n"
                   "aws_access_key_id = AKIACFG\n"
                   "aws_secret_access_key = " FILE_SECRET "cfg\n"
                   "region = ap-south-1\n"
                   "[cfgnoprefix]\n"
                   "aws_access_key_id = AKIAWRONG\n"
                   "aws_secret_access_key = wrong\n"
                   "[profile assume]\n"
                   "role_arn = arn:aws:iam::123456789012:role/x\n"
                   "source_profile = default\n");
        snprintf(cred, sizeof(cred), "AWS_SHARED_CREDENTIALS_FILE=%s/credentials", tmpdir);
        snprintf(conf, sizeof(conf), "AWS_CONFIG_FILE=%s/config", tmpdir);
        {
                char *v[] = { cred, conf, NULL };
                AwsEnv env = aws_env_strv(v);

                assert_int_equal(aws_credentials_from_profile(&env, NULL, &c, &e), 0);
                assert_string_equal(c.access_key_id, "AKIADEFAULT");
                assert_string_equal(c.secret_access_key, FILE_SECRET);
                assert_string_equal(c.session_token, "");
                assert_string_equal(c.source, "profile");

                /* whitespace, CRLF, and a nested key that must not override */
                assert_int_equal(aws_credentials_from_profile(&env, "work", &c, &e), 0);
                assert_string_equal(c.access_key_id, "AKIAWORK");
                assert_string_equal(c.secret_access_key, FILE_SECRET "work");
                assert_string_equal(c.session_token, "tok/work==");

                /* keys only in the config file, under [profile x] */
                assert_int_equal(aws_credentials_from_profile(&env, "cfgonly", &c, &e), 0);
                assert_string_equal(c.access_key_id, "AKIACFG");
                assert_int_equal(aws_profile_region(&env, "cfgonly", region, &e), 0);
                assert_string_equal(region, "ap-south-1");
                assert_int_equal(aws_profile_region(&env, NULL, region, &e), 0);
                assert_string_equal(region, "eu-central-1");
                /* region in the credentials file does not count */
                assert_int_equal(aws_profile_region(&env, "assume", region, &e), -ENOENT);

                /* "[x]" without "profile " is not a profile in the config file */
                assert_int_equal(aws_credentials_from_profile(&env, "cfgnoprefix", &c, &e), -EINVAL);
                keep_error(&e);
                assert_int_equal(aws_credentials_from_profile(&env, "half", &c, &e), -EINVAL);
                keep_error(&e);
                assert_int_equal(aws_credentials_from_profile(&env, "assume", &c, &e), -EOPNOTSUPP);
                keep_error(&e);
                assert_non_null(strstr(e.message, "role_arn"));
                assert_int_equal(aws_credentials_from_profile(&env, "nosuch", &c, &e), -EINVAL);
                keep_error(&e);
        }
        {
                char profile[] = "AWS_PROFILE=work";
                char *v[] = { cred, conf, profile, NULL };
                AwsEnv env = aws_env_strv(v);

                assert_int_equal(aws_credentials_from_profile(&env, NULL, &c, &e), 0);
                assert_string_equal(c.access_key_id, "AKIAWORK");
        }
        {
                /* default paths under $HOME/.aws, and missing files are not an error */
                char dir[256];
                char *v[] = { home, NULL };
                AwsEnv env = aws_env_strv(v);

                snprintf(dir, sizeof(dir), "%s/.aws", tmpdir);
                snprintf(home, sizeof(home), "HOME=%s", tmpdir);
                assert_int_equal(aws_credentials_from_profile(&env, NULL, &c, &e), -ENOENT);
                keep_error(&e);
                assert_int_equal(mkdir(dir, 0700), 0);
                write_file(".aws/credentials", "[default]\naws_access_key_id=AKIAHOME\naws_secret_access_key=" FILE_SECRET "\n");
                assert_int_equal(aws_credentials_from_profile(&env, NULL, &c, &e), 0);
                assert_string_equal(c.access_key_id, "AKIAHOME");
        }
        aws_credentials_wipe(&c);
}

/* ---- container ---- */

static void test_container_relative(void **state) {
        char *v[] = { "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/0123-abcd", NULL };
        AwsEnv env = aws_env_strv(v);
        AwsMetadataOptions o = { .container_base_url = base_url };
        _cleanup_(http_client_freep) HttpClient *http = NULL;
        AwsCredentials c = {};
        S3bError e = {};

        admin("{\"expiration\": 1893456000}");  /* 2030-01-01T00:00:00Z */
        assert_int_equal(http_client_new(&http, &test_http, NULL), 0);
        assert_int_equal(aws_credentials_from_container(&env, http, &o, &c, &e), 0);
        assert_string_equal(c.source, "container");
        assert_int_equal(strncmp(c.access_key_id, "ASIAFAKE", 8), 0);
        assert_int_equal(strncmp(c.secret_access_key, "fakeSecret/", 11), 0);
        assert_int_equal(strncmp(c.session_token, "fakeSessionToken+", 17), 0);
        assert_int_equal(c.expiration, 1893456000);
        assert_int_equal(stat_of("container"), 1);
        aws_credentials_wipe(&c);
}

static void test_container_full_uri_token(void **state) {
        char full[128], tokfile[256], tokpath[200];
        _cleanup_(http_client_freep) HttpClient *http = NULL;
        AwsCredentials c = {};
        S3bError e = {};

        assert_int_equal(http_client_new(&http, &test_http, NULL), 0);
        admin("{\"ecs_token\": \"" ECS_AUTH "\"}");
        snprintf(full, sizeof(full), "AWS_CONTAINER_CREDENTIALS_FULL_URI=%s/ecs/creds", base_url);
        {
                char *v[] = { full, "AWS_CONTAINER_AUTHORIZATION_TOKEN=" ECS_AUTH, NULL };
                AwsEnv env = aws_env_strv(v);

                assert_int_equal(aws_credentials_from_container(&env, http, NULL, &c, &e), 0);
        }
        {
                char *v[] = { full, "AWS_CONTAINER_AUTHORIZATION_TOKEN=wrong", NULL };
                AwsEnv env = aws_env_strv(v);

                assert_int_equal(aws_credentials_from_container(&env, http, NULL, &c, &e), -EACCES);
                keep_error(&e);
        }
        {
                /* the file wins over the variable, and its trailing newline is not sent */
                char *v[] = { full, "AWS_CONTAINER_AUTHORIZATION_TOKEN=wrong", tokfile, NULL };
                AwsEnv env = aws_env_strv(v);

                snprintf(tokpath, sizeof(tokpath), "%s/ecs-token", tmpdir);
                snprintf(tokfile, sizeof(tokfile), "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=%s",
                         tokpath);
                write_file("ecs-token", ECS_AUTH "\n");
                assert_int_equal(aws_credentials_from_container(&env, http, NULL, &c, &e), 0);
        }
        assert_int_equal(stat_of("container_401"), 1);

        /* plain http only to loopback / the ECS agents */
        static const char *const bad[] = {
                "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://169.254.170.2.evil.example/creds",
                "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://example.com/creds",
                "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://user@127.0.0.1/creds",
                "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1.example.com/",
                "AWS_CONTAINER_CREDENTIALS_FULL_URI=ftp://127.0.0.1/",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *v[] = { (char *) bad[i], NULL };
                AwsEnv env = aws_env_strv(v);

                assert_int_equal(aws_credentials_from_container(&env, http, NULL, &c, &e), -EINVAL);
                keep_error(&e);
        }
        aws_credentials_wipe(&c);
}

/* ---- IMDSv2 ---- */

static AwsImds *imds_at_server(long timeout_ms) {
        char ep[128];
        char *v[] = { ep, NULL };
        AwsEnv env = aws_env_strv(v);
        AwsMetadataOptions o = { .timeout_ms = timeout_ms };
        AwsImds *m = NULL;

        snprintf(ep, sizeof(ep), "AWS_EC2_METADATA_SERVICE_ENDPOINT=%s/", base_url);
        assert_int_equal(aws_imds_new(&m, &env, &o, NULL), 0);
        return m;
}

static void test_imds_token_flow(void **state) {
        _cleanup_(aws_imds_freep) AwsImds *m = imds_at_server(0);
        _cleanup_(http_client_freep) HttpClient *http = NULL;
        AwsCredentials c = {};
        S3bError e = {};
        char region[AWS_REGION_MAX + 1];

        assert_int_equal(http_client_new(&http, &test_http, NULL), 0);
        assert_int_equal(aws_imds_credentials(m, http, 0, &c, &e), 0);
        assert_string_equal(c.source, "imds");
        assert_int_equal(strncmp(c.access_key_id, "ASIAFAKE", 8), 0);
        assert_true(c.expiration > time(NULL) + 3600);
        assert_int_equal(aws_imds_credentials(m, http, 0, &c, &e), 0);
        assert_int_equal(aws_imds_region(m, http, 0, region, &e), 0);
        assert_string_equal(region, "eu-west-3");
        /* one session token for all of it, never a request without one */
        assert_int_equal(stat_of("token"), 1);
        assert_int_equal(stat_of("401"), 0);
        assert_int_equal(stat_of("role_list"), 2);
        assert_int_equal(stat_of("imds_credentials"), 2);

        /* stale token: IMDS answers 401, we fetch a new token and succeed */
        admin("{\"expire_tokens\": true}");
        assert_int_equal(aws_imds_credentials(m, http, 0, &c, &e), 0);
        assert_int_equal(stat_of("401"), 1);
        assert_int_equal(stat_of("token"), 2);
        aws_credentials_wipe(&c);
}

static void test_imds_disabled_and_no_role(void **state) {
        char *v[] = { "AWS_EC2_METADATA_DISABLED=true", NULL };
        char *badep[] = { "AWS_EC2_METADATA_SERVICE_ENDPOINT=169.254.169.254", NULL };
        AwsEnv env = aws_env_strv(v);
        _cleanup_(aws_imds_freep) AwsImds *m = NULL;
        _cleanup_(http_client_freep) HttpClient *http = NULL;
        AwsCredentials c = {};
        S3bError e = {};

        assert_int_equal(aws_imds_new(&m, &env, NULL, &e), -ENOENT);
        env = aws_env_strv(badep);
        assert_int_equal(aws_imds_new(&m, &env, NULL, &e), -EINVAL);
        m = imds_at_server(0);
        assert_int_equal(http_client_new(&http, &test_http, NULL), 0);
        admin("{\"role\": \"\"}");
        assert_int_equal(aws_imds_credentials(m, http, 0, &c, &e), -ENOENT);
        keep_error(&e);
}

static void test_imds_timeout(void **state) {
        _cleanup_(aws_imds_freep) AwsImds *m = imds_at_server(300);
        _cleanup_(http_client_freep) HttpClient *http = NULL;
        struct timespec a, b;
        AwsCredentials c = {};
        S3bError e = {};
        double elapsed;

        assert_int_equal(http_client_new(&http, &test_http, NULL), 0);
        admin("{\"token_delay\": 1.5}");
        clock_gettime(CLOCK_MONOTONIC, &a);
        assert_int_equal(aws_imds_credentials(m, http, 0, &c, &e), -ETIMEDOUT);
        clock_gettime(CLOCK_MONOTONIC, &b);
        keep_error(&e);
        elapsed = (double) (b.tv_sec - a.tv_sec) + (double) (b.tv_nsec - a.tv_nsec) / 1e9;
        /* two attempts of 300 ms, not the server's 1.5 s */
        assert_true(elapsed < 1.2);
        assert_int_equal(stat_of("token"), 2);
}

static void test_imds_garbage_and_errors(void **state) {
        static const struct {
                const char *knobs;
                int want;
        } t[] = {
                { "{\"garbage\": \"text\"}", -EBADMSG },
                { "{\"garbage\": \"truncated\"}", -EBADMSG },
                { "{\"garbage\": \"missing\"}", -EBADMSG },
                { "{\"garbage\": \"code\"}", -EACCES },
                { "{\"fail_status\": 500}", -EIO },
                /* one 500, then the second attempt succeeds */
                { "{\"fail_status\": 500, \"fail_count\": 1}", 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_(aws_imds_freep) AwsImds *m = imds_at_server(0);
                _cleanup_(http_client_freep) HttpClient *http = NULL;
                AwsCredentials c = {};
                S3bError e = {};

                reset_server();
                admin(t[i].knobs);
                assert_int_equal(http_client_new(&http, &test_http, NULL), 0);
                assert_int_equal(aws_imds_credentials(m, http, 0, &c, &e), t[i].want);
                if (t[i].want < 0)
                        keep_error(&e);
                aws_credentials_wipe(&c);
        }
}

/* ---- the chain ---- */

typedef struct ChainEnv {
        char ep[128], rel[128], cred[256], conf[256];
        char *v[16];
} ChainEnv;

/* which: bit 1 env keys, 2 profile files, 4 container, 8 IMDS (else disabled) */
static AwsCredentialsChain *chain_with(ChainEnv *ce, unsigned which) {
        AwsCredentialsOptions o = {
                .now = test_clock,
                .metadata_timeout_ms = 500,
                .container_base_url = base_url,
        };
        AwsCredentialsChain *chain = NULL;
        size_t n = 0;
        S3bError e = {};

        snprintf(ce->ep, sizeof(ce->ep), "AWS_EC2_METADATA_SERVICE_ENDPOINT=%s", base_url);
        snprintf(ce->rel, sizeof(ce->rel), "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/x");
        snprintf(ce->cred, sizeof(ce->cred), "AWS_SHARED_CREDENTIALS_FILE=%s/chain-credentials", tmpdir);
        snprintf(ce->conf, sizeof(ce->conf), "AWS_CONFIG_FILE=%s/chain-config", tmpdir);
        write_file("chain-credentials", "[default]\naws_access_key_id=AKIAFILE\naws_secret_access_key=" FILE_SECRET "\n");
        write_file("chain-config", "[default]\nregion = sa-east-1\n");
        ce->v[n++] = "HOME=/nonexistent";
        if (which & 1) {
                ce->v[n++] = "AWS_ACCESS_KEY_ID=AKIAENV";
                ce->v[n++] = "AWS_SECRET_ACCESS_KEY=" ENV_SECRET;
        }
        if (which & 2) {
                ce->v[n++] = ce->cred;
                ce->v[n++] = ce->conf;
        }
        if (which & 4)
                ce->v[n++] = ce->rel;
        if (which & 8)
                ce->v[n++] = ce->ep;
        else
                ce->v[n++] = "AWS_EC2_METADATA_DISABLED=true";
        ce->v[n] = NULL;
        o.env = aws_env_strv(ce->v);
        assert_int_equal(aws_credentials_chain_new(&chain, &o, &e), 0);
        /* the chain copied what it needs: scribbling over our strings changes nothing */
        return chain;
}

static void test_chain_order(void **state) {
        static const struct {
                unsigned which;
                const char *source;
        } t[] = {
                { 1 | 2 | 4 | 8, "environment" },
                { 2 | 4 | 8, "profile" },
                { 4 | 8, "container" },
                { 8, "imds" },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                ChainEnv ce;
                _cleanup_(aws_credentials_chain_freep) AwsCredentialsChain *chain =
                        chain_with(&ce, t[i].which);
                AwsCredentials c = {};
                S3bError e = {};

                memset(&ce, 'x', sizeof(ce));   /* the snapshot must not point into it */
                assert_int_equal(aws_credentials_chain_get(chain, &c, &e), 0);
                assert_string_equal(c.source, t[i].source);
                aws_credentials_wipe(&c);
        }
        {
                ChainEnv ce;
                _cleanup_(aws_credentials_chain_freep) AwsCredentialsChain *chain = chain_with(&ce, 0);
                AwsCredentials c = {};
                S3bError e = {};

                assert_int_equal(aws_credentials_chain_get(chain, &c, &e), -ENOENT);
                keep_error(&e);
        }
        {
                /* a provider that is configured but broken stops the chain: an unknown
                 * AWS_PROFILE must not silently become the instance role */
                char *v[] = { "AWS_PROFILE=nosuch", "HOME=/nonexistent", NULL, NULL };
                char ep[128];
                AwsCredentialsOptions o = { .now = test_clock };
                _cleanup_(aws_credentials_chain_freep) AwsCredentialsChain *chain = NULL;
                AwsCredentials c = {};
                S3bError e = {};

                snprintf(ep, sizeof(ep), "AWS_EC2_METADATA_SERVICE_ENDPOINT=%s", base_url);
                v[2] = ep;
                int before = stat_of("imds_credentials");

                o.env = aws_env_strv(v);
                assert_int_equal(aws_credentials_chain_new(&chain, &o, &e), 0);
                assert_int_equal(aws_credentials_chain_get(chain, &c, &e), -EINVAL);
                keep_error(&e);
                assert_non_null(strstr(e.message, "nosuch"));
                assert_int_equal(stat_of("imds_credentials"), before);
        }
}

static void test_chain_region(void **state) {
        ChainEnv ce;
        char region[AWS_REGION_MAX + 1];
        S3bError e = {};

        {
                _cleanup_(aws_credentials_chain_freep) AwsCredentialsChain *chain = chain_with(&ce, 2 | 8);

                assert_int_equal(aws_credentials_chain_region(chain, region, &e), 0);
                assert_string_equal(region, "sa-east-1");
        }
        {
                _cleanup_(aws_credentials_chain_freep) AwsCredentialsChain *chain = chain_with(&ce, 8);

                assert_int_equal(aws_credentials_chain_region(chain, region, &e), 0);
                assert_string_equal(region, "eu-west-3");
                assert_int_equal(aws_credentials_chain_region(chain, region, &e), 0);
                assert_int_equal(stat_of("identity"), 1);       /* cached */
        }
        {
                _cleanup_(aws_credentials_chain_freep) AwsCredentialsChain *chain = chain_with(&ce, 0);

                assert_int_equal(aws_credentials_chain_region(chain, region, &e), -ENOENT);
                keep_error(&e);
        }
        {
                char *v[] = { "AWS_REGION=us-west-2", "AWS_DEFAULT_REGION=eu-north-1", NULL };
                AwsCredentialsOptions o = { .env = aws_env_strv(v) };
                _cleanup_(aws_credentials_chain_freep) AwsCredentialsChain *chain = NULL;

                assert_int_equal(aws_credentials_chain_new(&chain, &o, &e), 0);
                assert_int_equal(aws_credentials_chain_region(chain, region, &e), 0);
                assert_string_equal(region, "us-west-2");
        }
}

static void set_expiration(int64_t t) {
        char json[64];

        snprintf(json, sizeof(json), "{\"expiration\": %lld}", (long long) t);
        admin(json);
}

static void test_chain_refresh_ahead(void **state) {
        ChainEnv ce;
        _cleanup_(aws_credentials_chain_freep) AwsCredentialsChain *chain = chain_with(&ce, 8);
        AwsCredentials a = {}, b = {}, c = {};
        int64_t t0 = fake_now;
        S3bError e = {};

        set_expiration(t0 + 3600);
        assert_int_equal(aws_credentials_chain_get(chain, &a, &e), 0);
        assert_int_equal(a.expiration, t0 + 3600);
        /* well before expiry: served from the cache */
        fake_now = t0 + 1000;
        assert_int_equal(aws_credentials_chain_get(chain, &b, &e), 0);
        assert_string_equal(a.access_key_id, b.access_key_id);
        assert_int_equal(stat_of("imds_credentials"), 1);
        /* inside the 5 minutes before Expiration: refreshed */
        set_expiration(t0 + 7200);
        fake_now = t0 + 3600 - 200;
        assert_int_equal(aws_credentials_chain_get(chain, &c, &e), 0);
        assert_string_not_equal(a.access_key_id, c.access_key_id);
        assert_int_equal(c.expiration, t0 + 7200);
        assert_int_equal(stat_of("imds_credentials"), 2);
        /* invalidate forces one more refresh */
        aws_credentials_chain_invalidate(chain);
        assert_int_equal(aws_credentials_chain_get(chain, &b, &e), 0);
        assert_string_not_equal(b.access_key_id, c.access_key_id);
        assert_int_equal(stat_of("imds_credentials"), 3);
        aws_credentials_wipe(&a);
        aws_credentials_wipe(&b);
        aws_credentials_wipe(&c);
}

/* A kept copy is refreshed exactly when the chain's credentials change: the signer then signs
 * with the new ones, and in between nothing is copied over it. */
static void test_chain_cached_copy(void **state) {
        ChainEnv ce;
        _cleanup_(aws_credentials_chain_freep) AwsCredentialsChain *chain = chain_with(&ce, 8);
        AwsCredentials kept = {}, direct = {};
        char first[AWS_ACCESS_KEY_ID_MAX + 1];
        uint64_t version = 0, v1;
        int64_t t0 = fake_now;
        S3bError e = {};

        set_expiration(t0 + 3600);
        assert_int_equal(aws_credentials_chain_get_cached(chain, &kept, &version, &e), 0);
        assert_string_equal(kept.source, "imds");
        assert_true(kept.access_key_id[0]);
        assert_int_not_equal(version, 0);
        v1 = version;
        snprintf(first, sizeof(first), "%s", kept.access_key_id);
        /* unchanged chain: the copy is left alone (a marker written into it survives) */
        kept.access_key_id[0] = '#';
        fake_now = t0 + 1000;
        assert_int_equal(aws_credentials_chain_get_cached(chain, &kept, &version, &e), 0);
        assert_int_equal(kept.access_key_id[0], '#');
        assert_int_equal(version, v1);
        /* a refresh (here: inside the 5 minutes before Expiration) replaces the copy */
        set_expiration(t0 + 7200);
        fake_now = t0 + 3600 - 200;
        assert_int_equal(aws_credentials_chain_get_cached(chain, &kept, &version, &e), 0);
        assert_int_not_equal(version, v1);
        assert_string_not_equal(kept.access_key_id, first);
        assert_int_equal(kept.expiration, t0 + 7200);
        assert_int_equal(aws_credentials_chain_get(chain, &direct, &e), 0);
        assert_string_equal(kept.access_key_id, direct.access_key_id);
        assert_string_equal(kept.secret_access_key, direct.secret_access_key);
        assert_string_equal(kept.session_token, direct.session_token);
        /* invalidation (an ExpiredToken answer) too */
        v1 = version;
        aws_credentials_chain_invalidate(chain);
        assert_int_equal(aws_credentials_chain_get_cached(chain, &kept, &version, &e), 0);
        assert_int_not_equal(version, v1);
        assert_string_not_equal(kept.access_key_id, direct.access_key_id);
        /* a second kept copy (another thread's) starts from zero and gets the same */
        {
                AwsCredentials other = {};
                uint64_t ov = 0;

                assert_int_equal(aws_credentials_chain_get_cached(chain, &other, &ov, &e), 0);
                assert_int_equal(ov, version);
                assert_string_equal(other.access_key_id, kept.access_key_id);
                aws_credentials_wipe(&other);
        }
        aws_credentials_wipe(&kept);
        aws_credentials_wipe(&direct);
}

static void test_chain_refresh_failure_keeps_old(void **state) {
        ChainEnv ce;
        _cleanup_(aws_credentials_chain_freep) AwsCredentialsChain *chain = chain_with(&ce, 8);
        AwsCredentials a = {}, b = {};
        int64_t t0 = fake_now;
        S3bError e = {};

        set_expiration(t0 + 3600);
        assert_int_equal(aws_credentials_chain_get(chain, &a, &e), 0);
        admin("{\"fail_status\": 500}");
        fake_now = t0 + 3600 - 100;
        /* the refresh fails, the old credentials are still valid: they are returned */
        assert_int_equal(aws_credentials_chain_get(chain, &b, &e), 0);
        assert_string_equal(a.access_key_id, b.access_key_id);
        assert_int_equal(stat_of("imds_credentials"), 3);       /* 1 + 2 attempts */
        /* within the backoff: no new attempt */
        assert_int_equal(aws_credentials_chain_get(chain, &b, &e), 0);
        assert_int_equal(stat_of("imds_credentials"), 3);
        /* after it: one more attempt, still failing, still the old ones */
        fake_now += 6;
        assert_int_equal(aws_credentials_chain_get(chain, &b, &e), 0);
        assert_string_equal(a.access_key_id, b.access_key_id);
        assert_int_equal(stat_of("imds_credentials"), 5);
        /* once they really expire the failure surfaces */
        fake_now = t0 + 3600;
        assert_int_equal(aws_credentials_chain_get(chain, &b, &e), -EIO);
        keep_error(&e);
        /* and the service coming back heals it */
        admin("{\"fail_status\": 0}");
        set_expiration(t0 + 7200);
        assert_int_equal(aws_credentials_chain_get(chain, &b, &e), 0);
        assert_string_not_equal(a.access_key_id, b.access_key_id);
        aws_credentials_wipe(&a);
        aws_credentials_wipe(&b);
}

typedef struct Reader {
        AwsCredentialsChain *chain;
        AwsCredentials got;
        int r;
} Reader;

static void *reader_thread(void *p) {
        Reader *rd = p;
        S3bError e = {};

        rd->r = aws_credentials_chain_get(rd->chain, &rd->got, &e);
        return NULL;
}

static void test_chain_threads_single_refresh(void **state) {
        ChainEnv ce;
        _cleanup_(aws_credentials_chain_freep) AwsCredentialsChain *chain = chain_with(&ce, 8);
        pthread_t th[8];
        Reader rd[8];

        /* slow IMDS: the first caller fetches, the other seven wait for it instead of
         * stampeding the metadata service */
        admin("{\"delay\": 0.3}");
        for (size_t i = 0; i < ELEMENTSOF(th); i++) {
                rd[i] = (Reader) { .chain = chain };
                assert_int_equal(pthread_create(&th[i], NULL, reader_thread, &rd[i]), 0);
        }
        for (size_t i = 0; i < ELEMENTSOF(th); i++)
                pthread_join(th[i], NULL);
        for (size_t i = 0; i < ELEMENTSOF(th); i++) {
                assert_int_equal(rd[i].r, 0);
                assert_string_equal(rd[i].got.access_key_id, rd[0].got.access_key_id);
        }
        for (size_t i = 0; i < ELEMENTSOF(th); i++)
                aws_credentials_wipe(&rd[i].got);
        assert_int_equal(stat_of("imds_credentials"), 1);
}

static double mono_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void test_chain_refresh_does_not_stall_readers(void **state) {
        ChainEnv ce;
        _cleanup_(aws_credentials_chain_freep) AwsCredentialsChain *chain = chain_with(&ce, 8);
        struct timespec pause = { 0, 20 * 1000 * 1000 };
        AwsCredentials a = {}, b = {};
        int64_t t0 = fake_now;
        S3bError e = {};
        pthread_t th;
        Reader rd;
        double t;

        set_expiration(t0 + 3600);
        assert_int_equal(aws_credentials_chain_get(chain, &a, &e), 0);
        /* due for refresh, and IMDS is slow (2 × 0.4 s): one reader refreshes… */
        admin("{\"delay\": 0.4}");
        set_expiration(t0 + 7200);
        fake_now = t0 + 3600 - 100;
        rd = (Reader) { .chain = chain };
        assert_int_equal(pthread_create(&th, NULL, reader_thread, &rd), 0);
        /* wait until the refresh is really in flight (IMDS saw the role listing) */
        for (int i = 0; i < 100 && stat_of("role_list") < 2; i++)
                nanosleep(&pause, NULL);
        assert_int_equal(stat_of("role_list"), 2);
        /* …the others keep the still-valid credentials without waiting for it */
        t = mono_s();
        assert_int_equal(aws_credentials_chain_get(chain, &b, &e), 0);
        assert_true(mono_s() - t < 0.1);
        assert_string_equal(a.access_key_id, b.access_key_id);
        pthread_join(th, NULL);
        assert_int_equal(rd.r, 0);
        assert_string_not_equal(rd.got.access_key_id, a.access_key_id);
        assert_int_equal(rd.got.expiration, t0 + 7200);
        aws_credentials_wipe(&a);
        aws_credentials_wipe(&b);
        aws_credentials_wipe(&rd.got);
}

static void test_iso8601(void **state) {
        int64_t t;

        assert_int_equal(aws_parse_iso8601("2030-01-01T00:00:00Z", &t), 0);
        assert_int_equal(t, 1893456000);
        assert_int_equal(aws_parse_iso8601("2030-01-01T00:00:00.123Z", &t), 0);
        assert_int_equal(t, 1893456000);
        assert_int_equal(aws_parse_iso8601("2030-01-01T02:00:00+02:00", &t), 0);
        assert_int_equal(t, 1893456000);
        assert_int_equal(aws_parse_iso8601("2030-01-01 00:00:00Z", &t), -EINVAL);
        assert_int_equal(aws_parse_iso8601("2030-13-01T00:00:00Z", &t), -EINVAL);
        assert_int_equal(aws_parse_iso8601("2030-01-01T00:00:00", &t), -EINVAL);
        assert_int_equal(aws_parse_iso8601("2030-01-01T00:00:00Zjunk", &t), -EINVAL);
}

/* Runs last: no message any test kept carries a secret. */
static void test_no_secret_in_errors(void **state) {
        static const char *const secrets[] = {
                ENV_SECRET, ENV_TOKEN, FILE_SECRET, ECS_AUTH, "fakeSecret", "fakeSessionToken",
        };

        assert_true(all_errors.len > 500);      /* the tests above did produce messages */
        for (size_t i = 0; i < ELEMENTSOF(secrets); i++)
                if (strstr(buf_str(&all_errors), secrets[i]))
                        fail_msg("secret %s found in: %s", secrets[i], buf_str(&all_errors));
        buf_done(&all_errors);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_env, setup_test),
                cmocka_unit_test_setup(test_profile_files, setup_test),
                cmocka_unit_test_setup(test_container_relative, setup_test),
                cmocka_unit_test_setup(test_container_full_uri_token, setup_test),
                cmocka_unit_test_setup(test_imds_token_flow, setup_test),
                cmocka_unit_test_setup(test_imds_disabled_and_no_role, setup_test),
                cmocka_unit_test_setup(test_imds_timeout, setup_test),
                cmocka_unit_test_setup(test_imds_garbage_and_errors, setup_test),
                cmocka_unit_test_setup(test_chain_order, setup_test),
                cmocka_unit_test_setup(test_chain_region, setup_test),
                cmocka_unit_test_setup(test_chain_refresh_ahead, setup_test),
                cmocka_unit_test_setup(test_chain_cached_copy, setup_test),
                cmocka_unit_test_setup(test_chain_refresh_failure_keeps_old, setup_test),
                cmocka_unit_test_setup(test_chain_threads_single_refresh, setup_test),
                cmocka_unit_test_setup(test_chain_refresh_does_not_stall_readers, setup_test),
                cmocka_unit_test(test_iso8601),
                cmocka_unit_test(test_no_secret_in_errors),
        };

        /* libcurl takes proxies from the process environment: a dead one here proves the
         * metadata requests never go through a proxy */
        setenv("http_proxy", "http://127.0.0.1:9", 1);
        setenv("HTTP_PROXY", "http://127.0.0.1:9", 1);
        unsetenv("no_proxy");
        unsetenv("NO_PROXY");
        return cmocka_run_group_tests(tests, start_server, stop_server);
}
