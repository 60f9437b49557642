/* Config: the daemon's whole configuration, loaded from one YAML file.
 *
 * config_load() parses with libyaml, keeping every scalar's line:column, and runs every check
 * (types, ranges, unknown keys, key columns exist, regexes compile, ARNs/URLs well formed). It
 * either returns a complete, valid Config or reports *all* problems it found, each as
 * "FILE:LINE:COLUMN: message", through ConfigDiag — never half a config.
 * A Config is immutable after load; the daemon swaps whole Configs on SIGHUP and jobs keep a
 * reference (config_ref/config_unref) to the one they started with. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"
#include "common/spec.h"
#include "common/util.h"

typedef enum LogLevel {
        LOG_LEVEL_ERROR = 3,    /* syslog priorities, so journald gets them as they are */
        LOG_LEVEL_WARNING = 4,
        LOG_LEVEL_NOTICE = 5,
        LOG_LEVEL_INFO = 6,
        LOG_LEVEL_DEBUG = 7,
} LogLevel;

enum {
        NOTIFY_ON_SUCCESS = 1 << 0,
        NOTIFY_ON_PARTIAL = 1 << 1,
        NOTIFY_ON_FAILURE = 1 << 2,
        NOTIFY_ON_SUPERSEDED = 1 << 3,  /* a newer upload replaced the file before it was done */
};

typedef struct ConfigAws {
        char *region;           /* NULL: AWS_REGION / AWS_DEFAULT_REGION, then IMDS */
        char *profile;          /* NULL: AWS_PROFILE or "default" */
        char *endpoint_sqs;     /* NULL: AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL, then the region's */
        char *endpoint_s3;
        char *endpoint_dynamodb;
        char *endpoint_sns;
        bool s3_force_path_style;
        /* PEM file of the CAs to trust for HTTPS instead of the system's, an absolute path
         * checked readable at load. NULL: AWS_CA_BUNDLE, then the system store. */
        char *ca_bundle;
        unsigned max_attempts;          /* default 3 */
        unsigned max_attempts_batch;    /* BatchWriteItem; default 10 */
        unsigned connect_timeout_ms;    /* default 3000 */
        unsigned request_timeout_ms;    /* a stalled transfer is aborted after this; default 30000 */
} ConfigAws;

typedef struct ConfigQueue {
        char *url;
        unsigned wait_seconds;          /* 1..20, default 20 */
        unsigned max_messages;          /* 1..10, default 10 */
        unsigned visibility_timeout;    /* seconds, 1..43200, default 300 */
        unsigned max_receive_count;     /* default 5 */
        /* A message whose jobs are not all final comes back after
         * min(retry_delay_min · 2^(receive count − 1), retry_delay_max) seconds. */
        unsigned retry_delay_min;       /* 1..43200, default 30 */
        unsigned retry_delay_max;       /* retry_delay_min..43200, default 900 */
} ConfigQueue;

typedef struct ConfigLocation {
        char *bucket;
        char *prefix;                   /* "" when unset */
} ConfigLocation;

typedef struct ConfigNotify {
        char *topic_arn;                /* NULL: no notifications */
        unsigned on;                    /* NOTIFY_ON_* mask, default all */
} ConfigNotify;

typedef struct Config {
        unsigned n_ref;
        char *path;                     /* file it was loaded from */
        ConfigAws aws;
        ConfigQueue queue;
        unsigned workers;               /* 1..256, default 4 */
        unsigned shutdown_grace;        /* seconds, default 60 */
        LogLevel log_level;             /* default info */
        char *metrics_file;             /* NULL: no metrics */
        ConfigLocation archive;
        ConfigLocation errors;
        ConfigNotify notify;
        PipelineSpec *pipelines;
        size_t n_pipelines;
} Config;

/* Collected diagnostics, each already formatted "FILE:LINE:COLUMN: message" (the message
 * starts with the setting's dotted path, "pipelines[0].csv.delimiter: ..."), in file order,
 * at most 100 plus a "too many errors" line. Zero-initialize; loads append to it. */
typedef struct ConfigDiag {
        char **lines;
        size_t n_lines;
        /* "FILE:LINE:COLUMN: warning: message": legal but probably not meant (an unanchored
         * pattern, an archive prefix without '/'). Also filled on success; log them. */
        char **warnings;
        size_t n_warnings;
} ConfigDiag;

void config_diag_done(ConfigDiag *d);

/* Loads and checks path. Returns 0 and *ret (n_ref = 1), or a negative errno: -EINVAL when
 * the file was read but is invalid (diag has ≥ 1 line), another code when it could not be
 * read (diag has one line "FILE: reason"). */
int config_load(const char *path, Config **ret, ConfigDiag *diag);

/* The same for a file already in memory (tests, fuzzing, a config received some other way):
 * name is what diagnostics print and what Config.path holds; data need not be
 * NUL-terminated. Diagnostics are appended to diag (zero-initialize it before first use). */
int config_load_from_string(const char *name, const char *data, size_t len, Config **ret,
                            ConfigDiag *diag);

Config *config_ref(Config *c);
Config *config_unref(Config *c);        /* frees on the last reference; returns NULL */
DEFINE_CLEANUP_FUNC(Config *, config_unref);

/* Writes the effective configuration, every default filled in, as YAML that loads back to
 * an equal Config (for `check-config --dump` and support). Holds no secrets: none are
 * configured in the file. */
void config_dump(const Config *c, FILE *f);

/* First pipeline whose match accepts bucket/key as written, else the first that takes it as a
 * gzipped file of its suffix ("x.csv.gz" for ".csv", see pipeline_spec_match), else NULL. */
const PipelineSpec *config_find_pipeline(const Config *c, const char *bucket, const char *key);
const PipelineSpec *config_find_pipeline_by_name(const Config *c, const char *name);
