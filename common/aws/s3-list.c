/* S3 ListObjectsV2, one page per call; keys asked URL-encoded and decoded with urlcode.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/aws/s3-internal.h"
#include "common/aws/xml.h"
#include "common/urlcode.h"

/* 1000 keys of up to 1 KiB each, URL-encoded (≤ 3×), plus per-entry elements. */
#define S3_LIST_BODY_MAX (8u * 1024 * 1024)
#define S3_LIST_NODES_MAX 50000u

void s3_object_list_done(S3ObjectList *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n_objects; i++)
                free(l->objects[i].key);
        free(l->objects);
        free(l->next_token);
        *l = (S3ObjectList) {};
}

/* encoding-type=url values: form-encoded, '+' for space (urlcode.h). A bad escape makes the
 * whole page malformed rather than a key that names another object. */
static int decode_key(const char *s, char **ret) {
        size_t n = strlen(s);
        _cleanup_free_ char *out = malloc(n + 1);
        ssize_t k;

        if (!out)
                return -ENOMEM;
        k = url_decode(s, n, out, n + 1);
        if (k < 0)
                return -EBADMSG;
        if ((size_t) k != strlen(out))
                return -EBADMSG;        /* %00: no key holds a NUL */
        *ret = TAKE_PTR(out);
        return 0;
}

static int entry_from_xml(const XmlNode *e, bool encoded, S3ListEntry *o, S3bError *err) {
        const char *key = xml_text(xml_child(e, "Key"));
        int r;

        if (!*key || !s3_parse_u64(xml_text(xml_child(e, "Size")), &o->size))
                return s3b_error_set(err, -EBADMSG, "an entry without Key or Size");
        if (encoded)
                r = decode_key(key, &o->key);
        else
                r = (o->key = strdup(key)) ? 0 : -ENOMEM;
        if (r == -ENOMEM)
                return s3b_error_set(err, r, "out of memory");
        if (r < 0)
                return s3b_error_set(err, r, "a key that is not URL-encoded");
        s3_unquote_etag(xml_text(xml_child(e, "ETag")), o->etag, sizeof(o->etag));
        return 0;
}

static int list_from_xml(const XmlNode *root, S3ObjectList *l, S3bError *err) {
        bool encoded = strcmp(xml_text(xml_child(root, "EncodingType")), "url") == 0;
        const char *token = xml_text(xml_child(root, "NextContinuationToken"));
        size_t n = 0;
        int r;

        if (strcmp(root->name, "ListBucketResult") != 0)
                return s3b_error_set(err, -EBADMSG, "expected <ListBucketResult>");
        for (const XmlNode *e = xml_child(root, "Contents"); e; e = xml_next_same(e))
                n++;
        l->objects = calloc(MAX(n, (size_t) 1), sizeof(*l->objects));
        if (!l->objects)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        for (const XmlNode *e = xml_child(root, "Contents"); e; e = xml_next_same(e)) {
                r = entry_from_xml(e, encoded, &l->objects[l->n_objects], err);
                if (r < 0)
                        return r;
                l->n_objects++;
        }
        if (strcmp(xml_text(xml_child(root, "IsTruncated")), "true") == 0) {
                /* without a token the caller would ask for the first page forever */
                if (!*token)
                        return s3b_error_set(err, -EBADMSG, "truncated without NextContinuationToken");
                if (!(l->next_token = strdup(token)))
                        return s3b_error_set(err, -ENOMEM, "out of memory");
        }
        return 0;
}

static int list_send(AwsClient *c, const char *bucket, const char *prefix, const char *token,
                     unsigned max_keys, HttpResponse *resp, S3bError *err) {
        SigV4Param q[5];
        size_t nq = 0;
        char mk[16];

        if (max_keys > S3_LIST_MAX_KEYS)
                return s3b_error_set(err, -EINVAL, "max_keys over 1000");
        q[nq++] = (SigV4Param) { "list-type", "2" };
        q[nq++] = (SigV4Param) { "encoding-type", "url" };
        if (prefix && *prefix)
                q[nq++] = (SigV4Param) { "prefix", prefix };
        if (token && *token)
                q[nq++] = (SigV4Param) { "continuation-token", token };
        if (max_keys) {
                snprintf(mk, sizeof(mk), "%u", max_keys);
                q[nq++] = (SigV4Param) { "max-keys", mk };
        }
        return s3_send(c, bucket, NULL, &(AwsRequest) {
                        .method = "GET", .query = q, .n_query = nq, .body_max = S3_LIST_BODY_MAX,
                }, resp, err);
}

int s3_list_objects_v2(AwsClient *c, const char *bucket, const char *prefix,
                       const char *continuation_token, unsigned max_keys, S3ObjectList *ret,
                       S3bError *err) {
        _cleanup_(xml_freep) XmlNode *root = NULL;
        _cleanup_(s3_object_list_done) S3ObjectList l = {};
        _cleanup_(http_response_done) HttpResponse resp = HTTP_RESPONSE_INIT;
        int r;

        r = s3_check_names("ListObjectsV2", bucket, NULL, err);
        if (r >= 0)
                r = list_send(c, bucket, prefix, continuation_token, max_keys, &resp, err);
        if (r >= 0)
                r = xml_parse(resp.body.data ? resp.body.data : "", resp.body.len,
                              S3_LIST_NODES_MAX, &root, err);
        if (r >= 0)
                r = list_from_xml(root, &l, err);
        if (r < 0)
                return s3b_error_prefix(err, "S3 ListObjectsV2 s3://%s/%s", bucket,
                                        prefix ? prefix : "");
        *ret = l;
        l = (S3ObjectList) {};
        return 0;
}
