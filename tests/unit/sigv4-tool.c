/* sigv4-tool: signs requests described as JSON and prints every stage, for test-sigv4.py to
 * compare with botocore.
 *
 * stdin: a JSON array of
 *   {"method","host","path","query":[[k,v|null]…],"headers":[[name,value]…],
 *    "body": str, "body_repeat": n (body repeated n times), "payload_hash": str|null,
 *    "access_key","secret","token","region","service","time": unix seconds}
 * stdout: a JSON array of
 *   {"canonical_request","string_to_sign","signature","authorization","url_path","url_query",
 *    "add": {name: value}} or {"error": code, "message": str}. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "common/aws/sigv4.h"

static const char *str_or(const cJSON *o, const char *name, const char *dflt) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

        return cJSON_IsString(v) ? v->valuestring : dflt;
}

static int pairs(const cJSON *arr, SigV4Param **ret, size_t *ret_n) {
        size_t n = (size_t) cJSON_GetArraySize(arr), i = 0;
        SigV4Param *p = calloc(n + 1, sizeof(*p));
        const cJSON *e;

        if (!p)
                return -ENOMEM;
        cJSON_ArrayForEach(e, arr) {
                const cJSON *k = cJSON_GetArrayItem(e, 0), *v = cJSON_GetArrayItem(e, 1);

                p[i].key = cJSON_IsString(k) ? k->valuestring : "";
                p[i].value = cJSON_IsString(v) ? v->valuestring : NULL;
                i++;
        }
        *ret = p;
        *ret_n = n;
        return 0;
}

static cJSON *sign_one(const cJSON *in) {
        _cleanup_(sigv4_key_cache_freep) SigV4KeyCache *cache = NULL;
        _cleanup_(aws_credentials_wipep) AwsCredentials *cp = NULL;
        SigV4Param *q = NULL, *h = NULL;
        SigV4Request req = {};
        SigV4Result res = {};
        AwsCredentials creds = {};
        S3bError err = {};
        char *body = NULL;
        const char *b = str_or(in, "body", "");
        const cJSON *rep = cJSON_GetObjectItemCaseSensitive(in, "body_repeat");
        size_t repeat = cJSON_IsNumber(rep) ? (size_t) rep->valuedouble : 1, blen = strlen(b);
        cJSON *out = cJSON_CreateObject(), *add;
        int r;

        cp = &creds;
        snprintf(creds.access_key_id, sizeof(creds.access_key_id), "%s",
                 str_or(in, "access_key", ""));
        snprintf(creds.secret_access_key, sizeof(creds.secret_access_key), "%s",
                 str_or(in, "secret", ""));
        snprintf(creds.session_token, sizeof(creds.session_token), "%s",
                 str_or(in, "token", ""));
        body = malloc(blen * repeat + 1);
        if (!body || sigv4_key_cache_new(&cache, NULL) < 0)
                abort();
        for (size_t i = 0; i < repeat; i++)
                memcpy(body + i * blen, b, blen);
        body[blen * repeat] = '\0';

        req.method = str_or(in, "method", "GET");
        req.host = str_or(in, "host", "");
        req.path = str_or(in, "path", "/");
        req.payload_hash = str_or(in, "payload_hash", NULL);
        req.body = body;
        req.body_len = blen * repeat;
        if (pairs(cJSON_GetObjectItemCaseSensitive(in, "query"), &q, &req.n_query) < 0 ||
            pairs(cJSON_GetObjectItemCaseSensitive(in, "headers"), &h, &req.n_headers) < 0)
                abort();
        req.query = q;
        /* SigV4Param and SigV4Header have the same shape: name/value pairs */
        SigV4Header *hh = calloc(req.n_headers + 1, sizeof(*hh));
        if (!hh)
                abort();
        for (size_t i = 0; i < req.n_headers; i++)
                hh[i] = (SigV4Header) { h[i].key, h[i].value ? h[i].value : "" };
        req.headers = hh;

        /* sign twice through the cache: the cached key must give the same signature */
        for (int pass = 0; pass < 2; pass++) {
                sigv4_result_done(&res);
                r = sigv4_sign(&req, &creds, str_or(in, "region", ""), str_or(in, "service", ""),
                               (time_t) cJSON_GetObjectItemCaseSensitive(in, "time")->valuedouble,
                               cache, &res, &err);
                if (r < 0)
                        break;
        }
        if (r < 0) {
                cJSON_AddNumberToObject(out, "error", r);
                cJSON_AddStringToObject(out, "message", err.message);
        } else {
                cJSON_AddStringToObject(out, "canonical_request", res.canonical_request);
                cJSON_AddStringToObject(out, "string_to_sign", res.string_to_sign);
                cJSON_AddStringToObject(out, "signature", res.signature);
                cJSON_AddStringToObject(out, "authorization", res.authorization);
                cJSON_AddStringToObject(out, "url_path", res.url_path);
                cJSON_AddStringToObject(out, "url_query", res.url_query);
                add = cJSON_AddObjectToObject(out, "add");
                for (size_t i = 0; i < _SIGV4_ADD_MAX; i++)
                        if (res.add[i].name)
                                cJSON_AddStringToObject(add, res.add[i].name, res.add[i].value);
        }
        sigv4_result_done(&res);
        free(hh);
        free(q);
        free(h);
        free(body);
        return out;
}

int main(void) {
        Buf in = BUF_INIT(64 * 1024 * 1024);
        char chunk[65536];
        size_t n;
        cJSON *reqs, *outs, *e;
        char *s;

        while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
                if (buf_append(&in, chunk, n) < 0)
                        return 2;
        reqs = cJSON_Parse(buf_str(&in));
        buf_done(&in);
        if (!cJSON_IsArray(reqs)) {
                fprintf(stderr, "sigv4-tool: stdin must be a JSON array\n");
                return 2;
        }
        outs = cJSON_CreateArray();
        cJSON_ArrayForEach(e, reqs)
                cJSON_AddItemToArray(outs, sign_one(e));
        s = cJSON_PrintUnformatted(outs);
        puts(s);
        free(s);
        cJSON_Delete(outs);
        cJSON_Delete(reqs);
        return 0;
}
