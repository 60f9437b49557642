/* Archive / error bucket moves, reports and the SNS summary. See outcome.h. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/aws/client.h"
#include "common/aws/s3.h"
#include "common/aws/sns.h"
#include "daemon/outcome.h"

#define SUBJECT_PREFIX "s3batchd "
#define SUBJECT_MAX 99                  /* SNS: "must be less than 100 characters" */

static inline void cjson_freep(cJSON **p) {
        cJSON_Delete(*p);
}

static char *join(const char *a, const char *b, const char *c) {
        char *s = NULL;

        if (asprintf(&s, "%s%s%s", a, b, c ? c : "") < 0)
                return NULL;
        return s;
}

static int set_location(char **dst, const char *bucket, const char *key) {
        char *s = NULL;

        if (asprintf(&s, "s3://%s/%s", bucket, key) < 0)
                return -ENOMEM;
        free(*dst);
        *dst = s;
        return 0;
}

static int put_text(const JobEnv *env, const char *bucket, const char *key, const char *data,
                    size_t len, const char *content_type, S3bError *err) {
        int r = s3_put_object(env->client, bucket, key, data, len, content_type, err);
        if (r < 0)
                s3b_error_prefix(err, "PutObject s3://%s/%s: ", bucket, key);
        return r;
}

int outcome_settle(Job *j, const JobEnv *env, Report *report, S3bError *err) {
        const Config *c = j->config;
        bool ok = j->status == JOB_SUCCESS || j->status == JOB_PARTIAL;
        const ConfigLocation *dst = ok ? &c->archive : &c->errors;
        _cleanup_free_ char *dst_key = join(dst->prefix ? dst->prefix : "", j->key, NULL);
        _cleanup_free_ char *err_base = join(c->errors.prefix ? c->errors.prefix : "", j->key, NULL);
        _cleanup_free_ char *report_key = NULL, *json_key = NULL, *json = NULL;
        const char *report_data = NULL;
        size_t report_len = 0;
        int r;

        if (!dst_key || !err_base)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        if (report && report_count(report) > 0)
                report_data = report_finish(report, &report_len);

        /* Reports first: if the copy then fails, a retry rewrites them identically. */
        if (report_data) {
                report_key = join(err_base, ".rejected.csv", NULL);
                if (!report_key)
                        return s3b_error_set(err, -ENOMEM, "out of memory");
                r = put_text(env, c->errors.bucket, report_key, report_data, report_len,
                             "text/csv; charset=utf-8", err);
                if (r < 0)
                        return r;
                if (set_location(&j->report_location, c->errors.bucket, report_key) < 0)
                        return s3b_error_set(err, -ENOMEM, "out of memory");
        }

        r = s3_copy_object(env->client, j->bucket, j->key, dst->bucket, dst_key, err);
        if (r < 0)
                return s3b_error_prefix(err, "CopyObject to s3://%s/%s: ", dst->bucket, dst_key);
        if (set_location(&j->location, dst->bucket, dst_key) < 0)
                return s3b_error_set(err, -ENOMEM, "out of memory");

        if (!ok) {
                json_key = join(err_base, ".error.json", NULL);
                json = outcome_summary_json(j);
                if (!json_key || !json)
                        return s3b_error_set(err, -ENOMEM, "out of memory");
                r = put_text(env, c->errors.bucket, json_key, json, strlen(json), "application/json", err);
                if (r < 0)
                        return r;
                if (!report_data && set_location(&j->report_location, c->errors.bucket, json_key) < 0)
                        return s3b_error_set(err, -ENOMEM, "out of memory");
        }

        r = s3_delete_object(env->client, j->bucket, j->key, err);
        if (r < 0 && r != -ENOENT)
                return s3b_error_prefix(err, "DeleteObject s3://%s/%s: ", j->bucket, j->key);
        return 0;
}

/* 1 when bucket/key exists; fills *location. */
static int find_in(Job *j, const JobEnv *env, const ConfigLocation *loc, S3bError *err) {
        _cleanup_free_ char *key = join(loc->prefix ? loc->prefix : "", j->key, NULL);
        S3ObjectInfo info = {};
        int r;

        if (!key)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        r = s3_head_object(env->client, loc->bucket, key, &info, err);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return s3b_error_prefix(err, "HeadObject s3://%s/%s: ", loc->bucket, key);
        if (set_location(&j->location, loc->bucket, key) < 0)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        return 1;
}

int outcome_find_done(Job *j, const JobEnv *env, S3bError *err) {
        int r;

        r = find_in(j, env, &j->config->archive, err);
        if (r != 0)
                return r;
        return find_in(j, env, &j->config->errors, err);
}

static unsigned notify_bit(JobStatus s) {
        switch (s) {
        case JOB_SUCCESS:
                return NOTIFY_ON_SUCCESS;
        case JOB_PARTIAL:
                return NOTIFY_ON_PARTIAL;
        case JOB_FAILURE:
                return NOTIFY_ON_FAILURE;
        default:
                return 0;
        }
}

int outcome_notify(Job *j, const JobEnv *env, S3bError *err) {
        const ConfigNotify *n = &j->config->notify;
        _cleanup_free_ char *json = NULL;
        char subject[SUBJECT_MAX + 1];
        const char *status = job_status_to_string(j->status);
        SnsAttribute attrs[] = {
                { .name = "status", .value = status },
                { .name = "pipeline", .value = j->spec->name },
        };
        int r;

        if (!n->topic_arn || !(n->on & notify_bit(j->status)))
                return 0;
        json = outcome_summary_json(j);
        if (!json)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        outcome_subject(j, subject, sizeof(subject));
        r = sns_publish(env->client, n->topic_arn, subject, json, attrs, ELEMENTSOF(attrs), NULL, err);
        if (r < 0)
                return r;
        j->notified = true;
        return 0;
}

char *outcome_summary_json(const Job *j) {
        _cleanup_(cjson_freep) cJSON *o = cJSON_CreateObject();
        bool ok = j->status == JOB_SUCCESS || j->status == JOB_PARTIAL;
        cJSON *added = NULL;

        if (!o)
                return NULL;
        added = cJSON_AddStringToObject(o, "status", job_status_to_string(j->status));
        added = added ? cJSON_AddStringToObject(o, "pipeline", j->spec->name) : NULL;
        added = added ? cJSON_AddStringToObject(o, "bucket", j->bucket) : NULL;
        added = added ? cJSON_AddStringToObject(o, "key", j->key) : NULL;
        added = added ? cJSON_AddStringToObject(o, "etag", j->etag) : NULL;
        added = added ? cJSON_AddNumberToObject(o, "rows_total", (double) j->rows_total) : NULL;
        added = added ? cJSON_AddNumberToObject(o, "rows_written", (double) j->rows_written) : NULL;
        added = added ? cJSON_AddNumberToObject(o, "rows_rejected", (double) j->rows_rejected) : NULL;
        added = added ? cJSON_AddNumberToObject(o, "rows_superseded", (double) j->rows_superseded) : NULL;
        if (added && j->location)
                added = cJSON_AddStringToObject(o, ok ? "archive_location" : "error_location", j->location);
        if (added && j->report_location)
                added = cJSON_AddStringToObject(o, "report_location", j->report_location);
        added = added ? cJSON_AddNumberToObject(o, "duration_ms", (double) j->duration_ms) : NULL;
        added = added ? cJSON_AddStringToObject(o, "reason", j->reason) : NULL;
        if (!added)
                return NULL;
        return cJSON_PrintUnformatted(o);
}

void outcome_subject(const Job *j, char *buf, size_t n) {
        char key[SUBJECT_MAX + 1];
        const char *status = job_status_to_string(j->status);
        size_t room, klen = 0, total = 0;
        const unsigned char *k = (const unsigned char *) j->key;

        /* Printable ASCII only: a non-ASCII character (a whole UTF-8 sequence) becomes one '?'. */
        size_t len = strlen(j->key);
        char *clean = malloc(len + 1);
        if (clean) {
                for (size_t i = 0; i < len; i++) {
                        if ((k[i] & 0xC0) == 0x80)
                                continue;
                        clean[total++] = (k[i] >= 0x20 && k[i] < 0x7f) ? (char) k[i] : '?';
                }
                clean[total] = '\0';
        }

        room = SUBJECT_MAX - strlen(SUBJECT_PREFIX) - strlen(status) - 1;
        if (!clean)
                snprintf(key, sizeof(key), "?");
        else if (total <= room)
                snprintf(key, sizeof(key), "%s", clean);
        else {
                /* Keep the end: the file name says more than the leading directories. */
                klen = room - 3;
                snprintf(key, sizeof(key), "...%s", clean + total - klen);
        }
        free(clean);
        snprintf(buf, n, SUBJECT_PREFIX "%s %s", status, key);
}
