/* AWS credentials: the snapshot every signer uses, and the standard provider chain.
 *
 * The chain tries, in the order of the AWS SDKs:
 *   1. environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN;
 *   2. shared files: AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials) then AWS_CONFIG_FILE
 *      (~/.aws/config, "[profile NAME]" sections), profile from AWS_PROFILE or "default";
 *   3. container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on 169.254.170.2) or
 *      AWS_CONTAINER_CREDENTIALS_FULL_URI (loopback or https only), with
 *      AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE);
 *   4. EC2 instance metadata, IMDSv2 only (unless AWS_EC2_METADATA_DISABLED=true), endpoint from
 *      AWS_EC2_METADATA_SERVICE_ENDPOINT.
 * A provider that is not configured passes to the next; a provider that is configured but fails
 * (a partial key pair, an unknown explicit AWS_PROFILE, an unreachable container endpoint) stops
 * the chain with its error, as botocore does, so a broken setup never silently picks up another
 * identity.
 *
 * The environment is an explicit input (AwsEnv), read once when the chain is created: no
 * getenv() from worker threads, and tests vary it freely.
 *
 * One chain is shared by all threads. Readers get an AwsCredentials by value under a short
 * mutex, or keep their own copy that is refreshed only when the chain's changes (the
 * per-thread signer: aws_credentials_chain_get_cached). Temporary credentials are refreshed `refresh_ahead_s` before Expiration by the one
 * thread that notices first while the others keep using the current ones; a failed refresh
 * keeps the current credentials until they expire and is retried with a doubling backoff.
 * Only when no valid credentials exist do callers wait for the refresh.
 *
 * Secrets (secret key, session token, container authorization token) never appear in any error
 * message, and are wiped with OPENSSL_cleanse when released. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/aws/http.h"
#include "common/error.h"
#include "common/util.h"

#define AWS_ACCESS_KEY_ID_MAX   128
#define AWS_SECRET_KEY_MAX      128
/* STS documents no maximum; IMDS role tokens are ~1.3 KB, the largest seen in the wild ~4 KB. */
#define AWS_SESSION_TOKEN_MAX   8192
#define AWS_REGION_MAX          64

/* A snapshot, copied by value. Strings are NUL-terminated; session_token is "" for long-term
 * keys. Never print secret_access_key or session_token; wipe with aws_credentials_wipe(). */
typedef struct AwsCredentials {
        char access_key_id[AWS_ACCESS_KEY_ID_MAX + 1];
        char secret_access_key[AWS_SECRET_KEY_MAX + 1];
        char session_token[AWS_SESSION_TOKEN_MAX + 1];
        int64_t expiration;             /* UTC seconds; 0: does not expire */
        const char *source;             /* static: "environment", "profile", "container",
                                         * "imds"; safe to log */
} AwsCredentials;

/* OPENSSL_cleanse of the whole struct. */
void aws_credentials_wipe(AwsCredentials *c);
DEFINE_CLEANUP_FUNC(AwsCredentials *, aws_credentials_wipe);

/* Zeroes and frees a heap string that held a secret (a token, an environment entry with a
 * key); NULL-safe, returns NULL. */
char *aws_secret_free(char *s);
DEFINE_CLEANUP_FUNC(char *, aws_secret_free);
/* Has a key pair and, if temporary, is not expired at `now` (UTC seconds). */
bool aws_credentials_usable(const AwsCredentials *c, int64_t now);

/* ---- Environment input ---- */

typedef const char *(*AwsGetenvFn)(void *userdata, const char *name);
typedef struct AwsEnv {
        AwsGetenvFn get;
        void *userdata;
} AwsEnv;

/* The process environment (getenv). Only for daemon/main.c, before threads start. */
AwsEnv aws_env_process(void);
/* A NULL-terminated "NAME=value" array, borrowed (tests). */
AwsEnv aws_env_strv(char *const *strv);
/* NULL when unset or empty (the SDKs treat an empty variable as unset). */
const char *aws_env_get(const AwsEnv *env, const char *name);

/* ---- The chain ---- */

typedef struct AwsCredentialsOptions {
        AwsEnv env;                     /* required; read during aws_credentials_chain_new */
        const char *profile;            /* overrides AWS_PROFILE; NULL: AWS_PROFILE or "default" */
        long metadata_timeout_ms;       /* per IMDS/ECS request; 0: 1000 (as the SDKs) */
        int metadata_attempts;          /* per IMDS/ECS request; 0: 2 */
        int64_t refresh_ahead_s;        /* 0: 300 */
        /* "http://169.254.170.2": the host RELATIVE_URI is appended to. NULL: that; tests set a
         * local server. */
        const char *container_base_url;
        /* Clock (UTC seconds) for expiry decisions; NULL: CLOCK_REALTIME. Tests move time. */
        int64_t (*now)(void *userdata);
        void *now_userdata;
        /* Options of the chain's own HttpClient (used only by the thread that refreshes);
         * NULL: defaults. */
        const HttpClientOptions *http;
} AwsCredentialsOptions;

typedef struct AwsCredentialsChain AwsCredentialsChain;

/* Snapshots the environment and settings; does no I/O. Errors: -ENOMEM, -EINVAL (bad option,
 * bad AWS_EC2_METADATA_SERVICE_ENDPOINT / container URI). */
int aws_credentials_chain_new(AwsCredentialsChain **ret, const AwsCredentialsOptions *opts,
                              S3bError *err);
AwsCredentialsChain *aws_credentials_chain_free(AwsCredentialsChain *c);
DEFINE_CLEANUP_FUNC(AwsCredentialsChain *, aws_credentials_chain_free);

/* Thread-safe. Copies usable credentials into *ret, resolving or refreshing them first when
 * needed (see the top of this file). Errors: -ENOENT (no provider configured: message lists
 * what was tried), -EACCES (a provider refused, e.g. ECS 403 / IMDS no role), -ETIMEDOUT,
 * -ECONNREFUSED, -EHOSTUNREACH, -EIO (HTTP 5xx), -EBADMSG (garbage credentials document),
 * -EINVAL (partial or malformed configuration), -EOPNOTSUPP (profile uses role_arn/sso/
 * credential_process), -EKEYEXPIRED (the provider handed out already expired credentials).
 * *ret untouched on failure. */
int aws_credentials_chain_get(AwsCredentialsChain *c, AwsCredentials *ret, S3bError *err);

/* As aws_credentials_chain_get(), into a copy the caller keeps between calls: *cache is
 * overwritten only when the chain's credentials changed since the copy *version stands for
 * (start with both zeroed). For a per-thread signer, which asks once per request: no 8.5 KB
 * copy and wipe each time. The caller wipes *cache (aws_credentials_wipe) when done with it.
 * On failure *cache and *version are untouched. */
int aws_credentials_chain_get_cached(AwsCredentialsChain *c, AwsCredentials *cache,
                                     uint64_t *version, S3bError *err);

/* Marks the current credentials for refresh at the next get (e.g. AWS answered ExpiredToken);
 * they stay in use until a refresh succeeds or they expire. Thread-safe. */
void aws_credentials_chain_invalidate(AwsCredentialsChain *c);

/* Region for a daemon whose config names none: AWS_REGION, AWS_DEFAULT_REGION, the profile's
 * "region" in the config file, then the IMDS instance identity document (unless IMDS is
 * disabled). Thread-safe; the IMDS answer is cached. Errors: -ENOENT, and the IMDS ones. */
int aws_credentials_chain_region(AwsCredentialsChain *c, char ret[AWS_REGION_MAX + 1],
                                 S3bError *err);
