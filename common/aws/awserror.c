/* Error documents of the three AWS protocols we speak. Parsing is best effort by design: a
 * proxy's HTML 502 page or a truncated body must still produce an S3bError with the status
 * and request id, never a second failure. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/aws/awserror.h"
#include "common/aws/xml.h"
#include "common/cleanup.h"

/* Throttling error codes across SQS, S3, DynamoDB and SNS (the SDKs' standard retry mode
 * list). RequestThrottled* are matched by prefix below. */
static const char *const throttling_codes[] = {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "Throttled",                    /* SNS Publish, HTTP 429 */
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
        "TooManyRequestsException",
        "RequestThrottledException",
        "TransactionInProgressException",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
};

static const char *const not_found_codes[] = {
        "NoSuchKey",
        "NoSuchBucket",
        "NoSuchUpload",
        "NotFound",
        "ResourceNotFoundException",
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
        "NotFoundException",
};

static bool in_list(const char *code, const char *const *list, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(code, list[i]) == 0)
                        return true;
        return false;
}

bool aws_error_code_is_throttling(const char *code) {
        if (!code || !*code)
                return false;
        return in_list(code, throttling_codes, ELEMENTSOF(throttling_codes)) ||
               strncmp(code, "RequestThrottled", 16) == 0;
}

void aws_error_code_normalize(const char *raw, char *out, size_t n) {
        const char *hash, *start;
        size_t len;

        if (n == 0)
                return;
        if (!raw) {
                out[0] = '\0';
                return;
        }
        hash = strrchr(raw, '#');
        start = hash ? hash + 1 : raw;
        start += strspn(start, " \t");
        len = strcspn(start, ":; \t\r\n");
        if (len >= n)
                len = n - 1;
        memcpy(out, start, len);
        out[len] = '\0';
}

int aws_error_errno(long status, const char *code) {
        code = code ? code : "";
        if (in_list(code, not_found_codes, ELEMENTSOF(not_found_codes)))
                return -ENOENT;
        if (status == 429 || aws_error_code_is_throttling(code))
                return -EAGAIN;
        /* S3 conditional requests: the object is not the version the request names (S3 User
         * Guide, "Add preconditions to S3 operations with conditional requests"). */
        if (status == 412 || strcmp(code, "PreconditionFailed") == 0)
                return -ESTALE;
        /* A concurrent PUT/DELETE raced a conditional request: S3 says to retry it. */
        if (strcmp(code, "ConditionalRequestConflict") == 0)
                return -EBUSY;
        if (strcmp(code, "RequestTimeout") == 0 || strcmp(code, "RequestTimeoutException") == 0)
                return -ETIMEDOUT;
        if (strcmp(code, "EntityTooLarge") == 0 || status == 413)
                return -E2BIG;
        if (strcmp(code, "InvalidRange") == 0 || status == 416)
                return -ERANGE;
        if (status == 404)
                return -ENOENT;
        if (status == 401 || status == 403)
                return -EACCES;
        if (status >= 500 && status <= 599)
                return -EIO;
        if (status >= 400 && status <= 499)
                return -EINVAL;
        return -EPROTO;
}

static void copy_str(char *dst, size_t n, const char *src) {
        snprintf(dst, n, "%s", src ? src : "");
}

/* AWS's own wording may carry newlines and, for SigV4 failures, the whole canonical request —
 * which includes the session token header. Keep the sentence, drop the echo. */
static void sanitize_message(char *m) {
        static const char *const cut_at[] = {
                "The Canonical String for this request",
                "The canonical string for this request",
                "The String-to-Sign should have been",
        };

        for (size_t i = 0; i < ELEMENTSOF(cut_at); i++) {
                char *p = strstr(m, cut_at[i]);

                if (p)
                        *p = '\0';
        }
        for (char *p = m; *p; p++)
                if ((unsigned char) *p < ' ' || *p == 0x7f)
                        *p = ' ';
        for (size_t n = strlen(m); n > 0 && m[n - 1] == ' '; n--)
                m[n - 1] = '\0';
}

/* What the parsers found; the final S3bError is built from it in one place. */
typedef struct Found {
        char code[64];
        char message[400];
        char request_id[96];
} Found;

static void found_from_json(Found *f, const char *body, size_t n) {
        _cleanup_(cJSON_Deletep) cJSON *root = cJSON_ParseWithLength(body, n);
        const cJSON *t, *m;

        if (!cJSON_IsObject(root))
                return;
        t = cJSON_GetObjectItemCaseSensitive(root, "__type");
        if (!cJSON_IsString(t))
                t = cJSON_GetObjectItemCaseSensitive(root, "code");
        if (cJSON_IsString(t))
                aws_error_code_normalize(t->valuestring, f->code, sizeof(f->code));
        m = cJSON_GetObjectItemCaseSensitive(root, "message");
        if (!cJSON_IsString(m))
                m = cJSON_GetObjectItemCaseSensitive(root, "Message");
        if (!cJSON_IsString(m))
                m = cJSON_GetObjectItemCaseSensitive(root, "errorMessage");
        if (cJSON_IsString(m))
                copy_str(f->message, sizeof(f->message), m->valuestring);
}

/* Returns the <Error> element of any of the XML error shapes, or NULL. */
static const XmlNode *find_error_element(const XmlNode *root) {
        if (strcmp(root->name, "Error") == 0)
                return root;
        if (strcmp(root->name, "ErrorResponse") == 0)
                return xml_child(root, "Error");
        if (strcmp(root->name, "Response") == 0)
                return xml_path(root, "Errors/Error");
        return NULL;
}

static void found_from_xml_error(Found *f, const XmlNode *root, const XmlNode *e) {
        const XmlNode *rid;

        aws_error_code_normalize(xml_text(xml_child(e, "Code")), f->code, sizeof(f->code));
        copy_str(f->message, sizeof(f->message), xml_text(xml_child(e, "Message")));
        rid = xml_child(e, "RequestId");
        if (!rid)
                rid = xml_child(root, "RequestId");
        if (!rid)
                rid = xml_child(root, "RequestID");
        copy_str(f->request_id, sizeof(f->request_id), xml_text(rid));
}

static bool looks_like_xml(const char *body, size_t n) {
        size_t i = 0;

        while (i < n && strchr(" \t\r\n", body[i]))
                i++;
        return i < n && body[i] == '<';
}

static int fill(S3bError *err, long status, const AwsErrorHeaders *h, Found *f) {
        int code;

        if (!f->code[0] && h && h->error_type)
                aws_error_code_normalize(h->error_type, f->code, sizeof(f->code));
        if (!f->code[0] && h && h->query_error)
                aws_error_code_normalize(h->query_error, f->code, sizeof(f->code));
        code = aws_error_errno(status, f->code);
        if (!err)
                return code;

        sanitize_message(f->message);
        err->code = code;
        err->http_status = status;
        copy_str(err->aws_code, sizeof(err->aws_code), f->code);
        /* the header is authoritative; the body's id is the fallback (S3 puts it in both) */
        if (h && h->request_id && *h->request_id)
                copy_str(err->request_id, sizeof(err->request_id), h->request_id);
        else
                copy_str(err->request_id, sizeof(err->request_id), f->request_id);
        if (f->code[0] && f->message[0])
                snprintf(err->message, sizeof(err->message), "%s: %s (HTTP %ld)", f->code,
                         f->message, status);
        else if (f->code[0])
                snprintf(err->message, sizeof(err->message), "%s (HTTP %ld)", f->code, status);
        else
                snprintf(err->message, sizeof(err->message), "HTTP %ld without an AWS error body",
                         status);
        return code;
}

int aws_error_from_response(S3bError *err, long status, const AwsErrorHeaders *h,
                            const char *body, size_t n) {
        Found f = {};

        if (body && n > 0) {
                if (looks_like_xml(body, n)) {
                        _cleanup_(xml_freep) XmlNode *root = NULL;
                        const XmlNode *e;

                        if (xml_parse(body, n, 1000, &root, NULL) >= 0 &&
                            (e = find_error_element(root)))
                                found_from_xml_error(&f, root, e);
                } else
                        found_from_json(&f, body, n);
        }
        return fill(err, status, h, &f);
}

int aws_error_from_xml_200(S3bError *err, long status, const AwsErrorHeaders *h,
                           const char *body, size_t n) {
        _cleanup_(xml_freep) XmlNode *root = NULL;
        Found f = {};

        if (!body || !looks_like_xml(body, n) || xml_parse(body, n, 0, &root, NULL) < 0)
                return -EBADMSG;
        if (strcmp(root->name, "Error") != 0)
                return 0;
        found_from_xml_error(&f, root, root);
        /* a 200 carrying <Error> is a server-side failure mid-request (AWS: "the copy could
         * fail after the 200 was sent"); without a code, treat it as an internal error */
        if (!f.code[0])
                copy_str(f.code, sizeof(f.code), "InternalError");
        fill(err, status, h, &f);
        if (err)
                err->code = aws_error_errno(500, f.code);
        return 1;
}
