/* Job status names and the sequencer order. See status.h. */
#include <ctype.h>
#include <string.h>

#include "common/util.h"
#include "daemon/status.h"

static const char *const status_names[_JOB_STATUS_MAX] = {
        [JOB_PENDING] = "PENDING",
        [JOB_SUCCESS] = "SUCCESS",
        [JOB_PARTIAL] = "PARTIAL",
        [JOB_FAILURE] = "FAILURE",
        [JOB_DONE_BEFORE] = "DONE_BEFORE",
        [JOB_GONE] = "GONE",
        [JOB_SUPERSEDED] = "SUPERSEDED",
        [JOB_RETRY] = "RETRY",
        [JOB_CONFIG_ERROR] = "CONFIG_ERROR",
        [JOB_CANCELLED] = "CANCELLED",
};

const char *job_status_to_string(JobStatus s) {
        return s < _JOB_STATUS_MAX ? status_names[s] : "UNKNOWN";
}

int job_sequencer_cmp(const char *a, const char *b) {
        size_t na = strlen(a), nb = strlen(b), n = MAX(na, nb);

        if (na == 0 || nb == 0)
                return 0;
        for (size_t i = 0; i < n; i++) {
                int ca = toupper((unsigned char) (i < na ? a[i] : '0'));
                int cb = toupper((unsigned char) (i < nb ? b[i] : '0'));

                if (ca != cb)
                        return ca < cb ? -1 : 1;
        }
        return 0;
}
