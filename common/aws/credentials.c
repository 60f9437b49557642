/* The provider chain and its shared, refreshed cache. See credentials.h for the contract.
 *
 * Locking: `synced` (the cached credentials and the refresh bookkeeping) is guarded by
 * `mutex` and only ever held for a copy. The network is used by a single refreshing thread at
 * a time, under `io_mutex`, which also owns the chain's HttpClient and IMDS session; readers
 * never wait on it while usable credentials exist. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>

#include "common/aws/credentials-provider.h"
#include "common/aws/credentials.h"
#include "common/time-util.h"

#define REFRESH_AHEAD_DEFAULT_S 300
#define RETRY_MIN_S             5
#define RETRY_MAX_S             60

/* The only variables the chain reads: copied at creation. */
static const char *const env_names[] = {
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
        "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
        "HOME",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        "AWS_EC2_METADATA_DISABLED", "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
        "AWS_REGION", "AWS_DEFAULT_REGION",
};

struct AwsCredentialsChain {
        char *env_strv[ELEMENTSOF(env_names) + 1];
        AwsEnv env;
        char *profile;
        AwsMetadataOptions md;
        char *container_base_url;
        int64_t refresh_ahead_s;
        int64_t (*now)(void *userdata);
        void *now_userdata;
        HttpClientOptions http_opts;
        char *ca_file;
        char *user_agent;

        pthread_mutex_t io_mutex;       /* the refresher's network state below */
        HttpClient *http;
        AwsImds *imds;                  /* NULL when IMDS is disabled */
        bool imds_disabled;

        pthread_mutex_t mutex;
        pthread_cond_t cond;
        struct {
                AwsCredentials current;
                bool refreshing;
                bool invalidated;
                uint64_t generation;    /* bumped after every refresh attempt */
                uint64_t version;       /* bumped whenever `current` changes; never 0 */
                int64_t next_attempt;   /* no ahead-of-time refresh before this */
                int64_t backoff_s;
                int last_error;
                char last_message[sizeof(((S3bError *) 0)->message)];
                char region[AWS_REGION_MAX + 1];
        } synced;
};

/* The default clock of the chain (tests pass their own): UTC seconds, as expirations are. */
static int64_t realtime_s(void *userdata) {
        return (int64_t) (now(CLOCK_REALTIME) / USEC_PER_SEC);
}

static int64_t chain_now(AwsCredentialsChain *c) {
        return c->now(c->now_userdata);
}

char *aws_secret_free(char *s) {
        if (s)
                OPENSSL_clear_free(s, strlen(s));
        return NULL;
}

AwsCredentialsChain *aws_credentials_chain_free(AwsCredentialsChain *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; c->env_strv[i]; i++)
                aws_secret_free(c->env_strv[i]);
        free(c->profile);
        free(c->container_base_url);
        free(c->ca_file);
        free(c->user_agent);
        http_client_free(c->http);
        aws_imds_free(c->imds);
        pthread_mutex_destroy(&c->io_mutex);
        pthread_mutex_destroy(&c->mutex);
        pthread_cond_destroy(&c->cond);
        OPENSSL_cleanse(&c->synced, sizeof(c->synced));
        free(c);
        return NULL;
}

static int snapshot_env(AwsCredentialsChain *c, const AwsEnv *env) {
        size_t n = 0;

        for (size_t i = 0; i < ELEMENTSOF(env_names); i++) {
                const char *v = aws_env_get(env, env_names[i]);

                if (!v)
                        continue;
                if (asprintf(&c->env_strv[n], "%s=%s", env_names[i], v) < 0) {
                        c->env_strv[n] = NULL;
                        return -ENOMEM;
                }
                n++;
        }
        c->env = aws_env_strv(c->env_strv);
        return 0;
}

static int dup_opt(const char *s, char **ret) {
        *ret = NULL;
        if (!s)
                return 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int aws_credentials_chain_new(AwsCredentialsChain **ret, const AwsCredentialsOptions *opts,
                              S3bError *err) {
        _cleanup_(aws_credentials_chain_freep) AwsCredentialsChain *c = NULL;
        int r;

        if (!opts || !opts->env.get)
                return s3b_error_set(err, -EINVAL, "credentials: no environment given");
        if (opts->refresh_ahead_s < 0 || opts->metadata_timeout_ms < 0 ||
            opts->metadata_attempts < 0 || opts->metadata_attempts > 10)
                return s3b_error_set(err, -EINVAL, "credentials: invalid option");
        c = calloc(1, sizeof(*c));
        if (!c)
                return s3b_error_set(err, -ENOMEM, "credentials: out of memory");
        pthread_mutex_init(&c->io_mutex, NULL);
        pthread_mutex_init(&c->mutex, NULL);
        pthread_cond_init(&c->cond, NULL);
        c->synced.version = 1;  /* a caller's zeroed version never matches */
        c->now = opts->now ? opts->now : realtime_s;
        c->now_userdata = opts->now_userdata;
        c->refresh_ahead_s = opts->refresh_ahead_s ? opts->refresh_ahead_s
                                                   : REFRESH_AHEAD_DEFAULT_S;
        if (snapshot_env(c, &opts->env) < 0 || dup_opt(opts->profile, &c->profile) < 0 ||
            dup_opt(opts->container_base_url, &c->container_base_url) < 0)
                return s3b_error_set(err, -ENOMEM, "credentials: out of memory");
        c->md = (AwsMetadataOptions) {
                .timeout_ms = opts->metadata_timeout_ms,
                .attempts = opts->metadata_attempts,
                .container_base_url = c->container_base_url,
        };
        if (opts->http) {
                c->http_opts = *opts->http;
                if (dup_opt(opts->http->ca_file, &c->ca_file) < 0 ||
                    dup_opt(opts->http->user_agent, &c->user_agent) < 0)
                        return s3b_error_set(err, -ENOMEM, "credentials: out of memory");
                c->http_opts.ca_file = c->ca_file;
                c->http_opts.user_agent = c->user_agent;
        }
        /* the metadata endpoints are link-local: never through a proxy */
        c->http_opts.no_proxy = true;
        c->http_opts.cancel = NULL;
        r = aws_imds_new(&c->imds, &c->env, &c->md, err);
        if (r == -ENOENT) {
                c->imds_disabled = true;
                s3b_error_clear(err);
        } else if (r < 0) {
                return r;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

static int ensure_http(AwsCredentialsChain *c, S3bError *err) {
        if (c->http)
                return 0;
        return http_client_new(&c->http, &c->http_opts, err);
}

/* Runs the providers in order. Called with io_mutex held. */
static int resolve_locked(AwsCredentialsChain *c, AwsCredentials *ret, S3bError *err) {
        int r;

        r = aws_credentials_from_env(&c->env, ret, err);
        if (r != -ENOENT)
                return r;
        r = aws_credentials_from_profile(&c->env, c->profile, ret, err);
        if (r != -ENOENT)
                return r;
        r = ensure_http(c, err);
        if (r < 0)
                return r;
        r = aws_credentials_from_container(&c->env, c->http, &c->md, ret, err);
        if (r != -ENOENT)
                return r;
        if (c->imds_disabled)
                return s3b_error_set(err, -ENOENT,
                                     "no AWS credentials: none in the environment, the shared files or the container, and IMDS is disabled");
        r = aws_imds_credentials(c->imds, c->http, chain_now(c), ret, err);
        /* off EC2 this is where a machine without any configuration ends up: say so */
        if (r < 0)
                s3b_error_prefix(err, "no AWS credentials in the environment, the shared files or the container, and IMDS failed");
        return r;
}

static int refresh(AwsCredentialsChain *c, AwsCredentials *ret, S3bError *err) {
        int r;

        pthread_mutex_lock(&c->io_mutex);
        r = resolve_locked(c, ret, err);
        pthread_mutex_unlock(&c->io_mutex);
        return r;
}

static bool needs_refresh_locked(AwsCredentialsChain *c, int64_t now) {
        const AwsCredentials *cur = &c->synced.current;

        if (!aws_credentials_usable(cur, now) || c->synced.invalidated)
                return true;
        return cur->expiration != 0 && now >= cur->expiration - c->refresh_ahead_s;
}

/* Under mutex: what happened to a refresh attempt. */
static void record_locked(AwsCredentialsChain *c, int r, const AwsCredentials *fresh,
                          const S3bError *e, int64_t now) {
        if (r >= 0) {
                c->synced.current = *fresh;
                c->synced.version++;
                c->synced.invalidated = false;
                c->synced.backoff_s = 0;
                c->synced.next_attempt = 0;
                c->synced.last_error = 0;
                c->synced.last_message[0] = '\0';
        } else {
                c->synced.backoff_s = c->synced.backoff_s ? MIN(c->synced.backoff_s * 2, RETRY_MAX_S)
                                                          : RETRY_MIN_S;
                c->synced.next_attempt = now + c->synced.backoff_s;
                c->synced.last_error = r;
                snprintf(c->synced.last_message, sizeof(c->synced.last_message), "%s",
                         e->message[0] ? e->message : "credentials refresh failed");
        }
        c->synced.generation++;
        c->synced.refreshing = false;
        pthread_cond_broadcast(&c->cond);
}

/* Under mutex: hands the current credentials to a caller. A caller with a kept copy
 * (version != NULL) is copied to only when they changed since its last copy: the signer asks
 * once per request, and copying (and later wiping) 8.5 KB each time was a tenth of the write
 * path's instructions. */
static void deliver_locked(AwsCredentialsChain *c, AwsCredentials *ret, uint64_t *version) {
        if (version && *version == c->synced.version)
                return;
        *ret = c->synced.current;
        if (version)
                *version = c->synced.version;
}

/* Waits while another thread refreshes. 1 when the current credentials were delivered, 0
 * when this thread must refresh (the mutex still held, refreshing set), or a negative errno
 * when the refresh it waited for failed and nothing valid is left. Under mutex. */
static int use_or_claim_locked(AwsCredentialsChain *c, AwsCredentials *ret, uint64_t *version,
                               S3bError *err) {
        uint64_t waited_for = 0;
        bool waited = false;

        for (;;) {
                int64_t now = chain_now(c);
                bool usable = aws_credentials_usable(&c->synced.current, now);

                if (usable && (!needs_refresh_locked(c, now) || c->synced.refreshing ||
                               now < c->synced.next_attempt)) {
                        /* fresh enough, or someone else refreshes, or we are backing off:
                         * the current ones are still valid, use them */
                        deliver_locked(c, ret, version);
                        return 1;
                }
                if (!usable && waited && c->synced.generation != waited_for)
                        /* we waited for a refresh and it failed: report its error */
                        return s3b_error_set(err, c->synced.last_error, "%s",
                                             c->synced.last_message);
                if (!c->synced.refreshing)
                        break;
                waited = true;
                waited_for = c->synced.generation;
                pthread_cond_wait(&c->cond, &c->mutex);
        }
        c->synced.refreshing = true;
        return 0;
}

/* This thread refreshes (refreshing is set): the network without the mutex, then the result
 * recorded and handed out. Called and returns with the mutex held. */
static int refresh_and_deliver_locked(AwsCredentialsChain *c, AwsCredentials *ret,
                                      uint64_t *version, S3bError *err) {
        _cleanup_(aws_credentials_wipe) AwsCredentials fresh = {};
        S3bError e = {};
        int64_t now;
        int r;

        pthread_mutex_unlock(&c->mutex);
        r = refresh(c, &fresh, &e);
        pthread_mutex_lock(&c->mutex);
        now = chain_now(c);
        record_locked(c, r, &fresh, &e, now);
        if (aws_credentials_usable(&c->synced.current, now)) {
                /* a failed refresh keeps the old credentials until they expire */
                deliver_locked(c, ret, version);
                return 0;
        }
        if (r >= 0)
                return s3b_error_set(err, -EKEYEXPIRED, "%s credentials are already expired",
                                     fresh.source ? fresh.source : "new");
        return s3b_error_set(err, r, "%s", e.message);
}

static int chain_get(AwsCredentialsChain *c, AwsCredentials *ret, uint64_t *version,
                     S3bError *err) {
        int r;

        pthread_mutex_lock(&c->mutex);
        r = use_or_claim_locked(c, ret, version, err);
        if (r == 0)
                r = refresh_and_deliver_locked(c, ret, version, err);
        pthread_mutex_unlock(&c->mutex);
        return r < 0 ? r : 0;
}

int aws_credentials_chain_get(AwsCredentialsChain *c, AwsCredentials *ret, S3bError *err) {
        return chain_get(c, ret, NULL, err);
}

int aws_credentials_chain_get_cached(AwsCredentialsChain *c, AwsCredentials *cache,
                                     uint64_t *version, S3bError *err) {
        return chain_get(c, cache, version, err);
}

void aws_credentials_chain_invalidate(AwsCredentialsChain *c) {
        pthread_mutex_lock(&c->mutex);
        c->synced.invalidated = true;
        c->synced.next_attempt = 0;
        pthread_mutex_unlock(&c->mutex);
}

int aws_credentials_chain_region(AwsCredentialsChain *c, char ret[AWS_REGION_MAX + 1],
                                 S3bError *err) {
        char region[AWS_REGION_MAX + 1];
        const char *v;
        int r;

        v = aws_env_get(&c->env, "AWS_REGION");
        if (!v)
                v = aws_env_get(&c->env, "AWS_DEFAULT_REGION");
        if (v) {
                if (strlen(v) > AWS_REGION_MAX)
                        return s3b_error_set(err, -EINVAL, "AWS_REGION is too long");
                memcpy(ret, v, strlen(v) + 1);
                return 0;
        }
        r = aws_profile_region(&c->env, c->profile, region, err);
        if (r != -ENOENT) {
                if (r >= 0)
                        memcpy(ret, region, sizeof(region));
                return r;
        }
        pthread_mutex_lock(&c->mutex);
        if (c->synced.region[0]) {
                memcpy(ret, c->synced.region, sizeof(region));
                pthread_mutex_unlock(&c->mutex);
                return 0;
        }
        pthread_mutex_unlock(&c->mutex);
        if (c->imds_disabled)
                return s3b_error_set(err, -ENOENT,
                                     "no region: set one in the configuration, AWS_REGION or the profile");
        s3b_error_clear(err);
        pthread_mutex_lock(&c->io_mutex);
        r = ensure_http(c, err);
        if (r >= 0)
                r = aws_imds_region(c->imds, c->http, chain_now(c), region, err);
        pthread_mutex_unlock(&c->io_mutex);
        if (r < 0)
                return s3b_error_prefix(err, "no region configured, and none from IMDS");
        pthread_mutex_lock(&c->mutex);
        memcpy(c->synced.region, region, sizeof(region));
        pthread_mutex_unlock(&c->mutex);
        memcpy(ret, region, sizeof(region));
        return 0;
}
