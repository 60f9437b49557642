/* URL encoding, one set of rules for the whole tree.
 *
 * Encoding follows the SigV4 rules, the strictest that AWS asks of a client: every byte
 * except the RFC 3986 unreserved characters A-Z a-z 0-9 - _ . ~ becomes %XX with upper-case
 * hex; a space is %20, never '+'; '/' is kept only where the caller says it separates path
 * segments (IAM User Guide, "Create a canonical request for Signature Version 4":
 * UriEncode(); S3 object keys in a path keep their '/'). A string encoded this way is also
 * what S3 wants in x-amz-copy-source and what SNS/SQS Query forms accept.
 *
 * Decoding follows the application/x-www-form-urlencoded flavour that S3 writes: '+' is a
 * space and %XX is the byte XX (hex in either case). That is how S3 encodes object keys in
 * event notifications (S3 User Guide, "Event message structure": "red flower.jpg" arrives as
 * "red+flower.jpg") and in ListObjectsV2 answers asked with encoding-type=url (botocore
 * decodes those with unquote_plus). A literal '+' arrives as %2B, so both rules are applied
 * in one left-to-right pass. A '%' not followed by two hex digits is refused, not passed
 * through: a key read wrongly would name another object. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/buf.h"

/* Appends the encoding of s[0..n) to out; '/' kept when keep_slash. 0, or -ENOBUFS/-ENOMEM
 * from the Buf (out then holds a prefix of the encoding). */
int url_encode(Buf *out, const char *s, size_t n, bool keep_slash);

/* Decodes in[0..n) into out (NUL-terminated). Returns the decoded length (which may hold NUL
 * bytes from %00: the caller decides whether it accepts them), -EINVAL for a '%' without two
 * hex digits after it, -ENOBUFS when the result and its NUL do not fit out_size. out is
 * unspecified on failure. The decoding is never longer than the input, so out_size n + 1
 * always fits. */
ssize_t url_decode(const char *in, size_t n, char *out, size_t out_size);
