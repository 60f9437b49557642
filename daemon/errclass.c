/* The table behind errclass.h. AWS error codes first (they say the most), then the errno the
 * shared path gave (transport failures, statuses without a body such as a HEAD's 404). */
#include <errno.h>
#include <string.h>

#include "common/aws/retry.h"
#include "common/util.h"
#include "daemon/errclass.h"

typedef struct CodeClass {
        const char *code;
        ErrClass class;
} CodeClass;

static const CodeClass by_code[] = {
        /* S3 (S3 API Reference, "Error responses") */
        { "PreconditionFailed", ERRCLASS_SUPERSEDED },
        { "NoSuchKey", ERRCLASS_GONE },
        { "NoSuchVersion", ERRCLASS_GONE },
        { "NoSuchBucket", ERRCLASS_CONFIG },
        { "AccessDenied", ERRCLASS_CONFIG },
        { "AllAccessDisabled", ERRCLASS_CONFIG },
        { "InvalidObjectState", ERRCLASS_CONFIG },      /* archived (Glacier): restore it first */
        { "InvalidAccessKeyId", ERRCLASS_CONFIG },
        { "SignatureDoesNotMatch", ERRCLASS_CONFIG },
        { "AccountProblem", ERRCLASS_CONFIG },
        { "KMS.DisabledException", ERRCLASS_CONFIG },
        { "KMS.NotFoundException", ERRCLASS_CONFIG },
        { "KMS.AccessDeniedException", ERRCLASS_CONFIG },
        { "ConditionalRequestConflict", ERRCLASS_TRANSIENT },
        { "MetadataTooLarge", ERRCLASS_FINAL },
        /* DynamoDB (DynamoDB API Reference, "Common errors" and BatchWriteItem) */
        { "ResourceNotFoundException", ERRCLASS_CONFIG },
        { "AccessDeniedException", ERRCLASS_CONFIG },
        { "UnrecognizedClientException", ERRCLASS_CONFIG },
        { "MissingAuthenticationToken", ERRCLASS_CONFIG },
        { "KMSAccessDeniedException", ERRCLASS_CONFIG },
        { "KMSDisabledException", ERRCLASS_CONFIG },
        { "KMSNotFoundException", ERRCLASS_CONFIG },
        { "ValidationException", ERRCLASS_FINAL },
        { "ItemCollectionSizeLimitExceededException", ERRCLASS_FINAL },
        { "ResourceInUseException", ERRCLASS_TRANSIENT },       /* table being updated */
        { "ProvisionedThroughputExceededException", ERRCLASS_TRANSIENT },
        { "RequestLimitExceeded", ERRCLASS_TRANSIENT },
        { "ThrottlingException", ERRCLASS_TRANSIENT },
        /* SNS (SNS API Reference, "Publish": Errors) */
        { "NotFound", ERRCLASS_CONFIG },
        { "NotFoundException", ERRCLASS_CONFIG },
        { "AuthorizationError", ERRCLASS_CONFIG },
        { "InvalidSecurity", ERRCLASS_CONFIG },
        { "KMSAccessDenied", ERRCLASS_CONFIG },
        { "KMSDisabled", ERRCLASS_CONFIG },
        { "KMSNotFound", ERRCLASS_CONFIG },
        { "EndpointDisabled", ERRCLASS_CONFIG },
        /* every service: credentials that expired are refreshed by the chain */
        { "ExpiredToken", ERRCLASS_TRANSIENT },
        { "ExpiredTokenException", ERRCLASS_TRANSIENT },
        { "RequestExpired", ERRCLASS_TRANSIENT },
};

static const char *const names[_ERRCLASS_MAX] = {
        [ERRCLASS_TRANSIENT] = "transient",
        [ERRCLASS_CONFIG] = "configuration",
        [ERRCLASS_SUPERSEDED] = "superseded",
        [ERRCLASS_GONE] = "gone",
        [ERRCLASS_FINAL] = "final",
};

const char *errclass_to_string(ErrClass c) {
        return c < _ERRCLASS_MAX ? names[c] : "unknown";
}

ErrClass errclass_of(const S3bError *e) {
        if (!e)
                return ERRCLASS_TRANSIENT;
        if (e->aws_code[0])
                for (size_t i = 0; i < ELEMENTSOF(by_code); i++)
                        if (strcmp(e->aws_code, by_code[i].code) == 0)
                                return by_code[i].class;
        switch (e->code) {
        case -ESTALE:
                return ERRCLASS_SUPERSEDED;
        case -ENOENT:
                /* a 404 without a code (HEAD has no body): the object, as far as we know */
                return ERRCLASS_GONE;
        case -EACCES:
                return ERRCLASS_CONFIG;
        case -EINVAL:
        case -E2BIG:
                /* A 4xx the table does not know says our request is wrong for this setup,
                 * not that the file is bad: keep the file for a person to look at (the
                 * message ends in the dead-letter queue) rather than fail it. */
                return e->http_status >= 400 && e->http_status < 500 ? ERRCLASS_CONFIG :
                                                                        ERRCLASS_TRANSIENT;
        default:
                return ERRCLASS_TRANSIENT;
        }
}
