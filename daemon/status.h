/* What a job ended as, and how two uploads of one key are ordered: the words the job, its
 * outcome, the loop, ordering and the commands share. Kept apart from job.c so that a module
 * that only names a result (outcome.c, ordering.c, loop.c) does not depend on the job that
 * produces it. */
#pragma once

#include <stdbool.h>

typedef enum JobStatus {
        JOB_PENDING,
        JOB_SUCCESS,            /* all rows written, file archived */
        JOB_PARTIAL,            /* valid rows written, file archived, report in error bucket */
        JOB_FAILURE,            /* file moved to the error bucket with <key>.error.json */
        JOB_DONE_BEFORE,        /* inbound gone, a copy of this ETag in archive/error: done earlier */
        JOB_GONE,               /* inbound gone and not found anywhere: nothing to do */
        JOB_SUPERSEDED,         /* a newer upload replaced the object: its own event loads it */
        JOB_RETRY,              /* transient trouble (throttling, 5xx, network): redeliver later */
        JOB_CONFIG_ERROR,       /* a resource is missing or not ours: file and message stay */
        JOB_CANCELLED,          /* stopped by shutdown before finishing: redeliver */
        _JOB_STATUS_MAX,
} JobStatus;

/* Whether the SQS record is finished (its message may be deleted once all records are). */
static inline bool job_status_is_final(JobStatus s) {
        return s == JOB_SUCCESS || s == JOB_PARTIAL || s == JOB_FAILURE || s == JOB_DONE_BEFORE ||
               s == JOB_GONE || s == JOB_SUPERSEDED;
}

const char *job_status_to_string(JobStatus s);   /* "SUCCESS", "PARTIAL", "FAILURE", ... */

/* S3 sequencers order the events of one key: the greater is later, after right-padding the
 * shorter with zeros (S3 User Guide, "Event message structure"). < 0, 0, > 0 like strcmp;
 * 0 also when either is empty (no order known). */
int job_sequencer_cmp(const char *a, const char *b);
