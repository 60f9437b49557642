/* The credentials snapshot, the environment input, and the environment provider. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "common/aws/credentials-provider.h"
#include "common/aws/credentials.h"

void aws_credentials_wipe(AwsCredentials *c) {
        if (c)
                OPENSSL_cleanse(c, sizeof(*c));
}

bool aws_credentials_usable(const AwsCredentials *c, int64_t now) {
        if (!c || !c->access_key_id[0] || !c->secret_access_key[0])
                return false;
        return c->expiration == 0 || now < c->expiration;
}

static const char *process_get(void *userdata, const char *name) {
        return getenv(name);
}

AwsEnv aws_env_process(void) {
        return (AwsEnv) { .get = process_get };
}

static const char *strv_get(void *userdata, const char *name) {
        size_t n = strlen(name);

        for (char *const *e = userdata; e && *e; e++)
                if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
                        return *e + n + 1;
        return NULL;
}

AwsEnv aws_env_strv(char *const *strv) {
        return (AwsEnv) { .get = strv_get, .userdata = (void *) strv };
}

const char *aws_env_get(const AwsEnv *env, const char *name) {
        const char *v;

        if (!env || !env->get)
                return NULL;
        v = env->get(env->userdata, name);
        return v && *v ? v : NULL;
}

int aws_credentials_copy_field(char *dst, size_t size, const char *s) {
        size_t n = strlen(s);

        if (n >= size)
                return -E2BIG;
        memcpy(dst, s, n + 1);
        return 0;
}

int aws_credentials_fill(AwsCredentials *c, const char *akid, const char *secret,
                         const char *token, int64_t expiration, const char *source,
                         S3bError *err) {
        if (aws_credentials_copy_field(c->access_key_id, sizeof(c->access_key_id), akid) < 0 ||
            aws_credentials_copy_field(c->secret_access_key, sizeof(c->secret_access_key),
                                       secret) < 0 ||
            aws_credentials_copy_field(c->session_token, sizeof(c->session_token),
                                       token ? token : "") < 0) {
                aws_credentials_wipe(c);
                return s3b_error_set(err, -E2BIG, "%s credentials: a field is too long", source);
        }
        c->expiration = expiration;
        c->source = source;
        return 0;
}

int aws_credentials_from_env(const AwsEnv *env, AwsCredentials *ret, S3bError *err) {
        const char *akid = aws_env_get(env, "AWS_ACCESS_KEY_ID");
        const char *secret = aws_env_get(env, "AWS_SECRET_ACCESS_KEY");
        _cleanup_(aws_credentials_wipe) AwsCredentials c = {};
        int r;

        if (!akid && !secret)
                return s3b_error_set(err, -ENOENT, "AWS_ACCESS_KEY_ID is not set");
        if (!akid || !secret)
                return s3b_error_set(err, -EINVAL,
                                     "environment: %s is set but %s is not",
                                     akid ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                                     akid ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
        r = aws_credentials_fill(&c, akid, secret, aws_env_get(env, "AWS_SESSION_TOKEN"), 0,
                                 "environment", err);
        if (r < 0)
                return r;
        *ret = c;
        return 0;
}
