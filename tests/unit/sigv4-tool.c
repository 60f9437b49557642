/* sigv4-tool: signs requests described as JSON and prints every stage, for test-sigv4.py to
 * compare with botocore.
 *
 * stdin: a JSON array of
 *   {"method","host","path","query":[[k,v|null]…],"headers":[[name,value]…],
 *    "body": str, "body_repeat": n (body repeated n times), "payload_hash": str|null,
 *    "access_key","secret","token","region","service","time": unix seconds,
 *    "ref": {"canonical_request","string_to_sign","signed_headers"} (optional: botocore's)}
 * stdout: a JSON array of
 *   {"canonical_request","string_to_sign","signature","authorization","url_path","url_query",
 *    "add": {name: value}} or {"error": code, "message": str} — sigv4_sign end to end —
 *   and, when "ref" was given, each stage run alone on botocore's output of the stage before:
 *   "stage_canonical_request", "stage_signed_headers" (from the request),
 *   "stage_string_to_sign" (from ref.canonical_request), "stage_signature",
 *   "stage_authorization" (from ref.string_to_sign and ref.signed_headers), and
 *   "<stage>_error" when a stage failed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include <time.h>

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

/* The request of `in`: the strings are borrowed from the JSON, the arrays owned here
 * (free_request). */
typedef struct ToolRequest {
        SigV4Request req;
        AwsCredentials creds;
        SigV4Param *q, *h;
        SigV4Header *hh;
        char *body;
        const char *region, *service;
        time_t time;
} ToolRequest;

static void free_request(ToolRequest *t) {
        free(t->hh);
        free(t->q);
        free(t->h);
        free(t->body);
        aws_credentials_wipe(&t->creds);
}

static void load_request(const cJSON *in, ToolRequest *t) {
        const char *b = str_or(in, "body", "");
        const cJSON *rep = cJSON_GetObjectItemCaseSensitive(in, "body_repeat");
        size_t repeat = cJSON_IsNumber(rep) ? (size_t) rep->valuedouble : 1, blen = strlen(b);

        *t = (ToolRequest) {};
        snprintf(t->creds.access_key_id, sizeof(t->creds.access_key_id), "%s",
                 str_or(in, "access_key", ""));
        snprintf(t->creds.secret_access_key, sizeof(t->creds.secret_access_key), "%s",
                 str_or(in, "secret", ""));
        snprintf(t->creds.session_token, sizeof(t->creds.session_token), "%s",
                 str_or(in, "token", ""));
        t->body = malloc(blen * repeat + 1);
        if (!t->body)
                abort();
        for (size_t i = 0; i < repeat; i++)
                memcpy(t->body + i * blen, b, blen);
        t->body[blen * repeat] = '\0';
        t->req.method = str_or(in, "method", "GET");
        t->req.host = str_or(in, "host", "");
        t->req.path = str_or(in, "path", "/");
        t->req.payload_hash = str_or(in, "payload_hash", NULL);
        t->req.body = t->body;
        t->req.body_len = blen * repeat;
        if (pairs(cJSON_GetObjectItemCaseSensitive(in, "query"), &t->q, &t->req.n_query) < 0 ||
            pairs(cJSON_GetObjectItemCaseSensitive(in, "headers"), &t->h, &t->req.n_headers) < 0)
                abort();
        t->req.query = t->q;
        /* SigV4Param and SigV4Header have the same shape: name/value pairs */
        t->hh = calloc(t->req.n_headers + 1, sizeof(*t->hh));
        if (!t->hh)
                abort();
        for (size_t i = 0; i < t->req.n_headers; i++)
                t->hh[i] = (SigV4Header) { t->h[i].key, t->h[i].value ? t->h[i].value : "" };
        t->req.headers = t->hh;
        t->region = str_or(in, "region", "");
        t->service = str_or(in, "service", "");
        t->time = (time_t) cJSON_GetObjectItemCaseSensitive(in, "time")->valuedouble;
}

static void add_error(cJSON *out, const char *stage, int r, const S3bError *err) {
        char name[64];

        snprintf(name, sizeof(name), "%s_error", stage);
        cJSON_AddStringToObject(out, name, err->message[0] ? err->message : strerror(-r));
}

/* Each stage on its own, fed with botocore's output of the stage before ("ref"), so a wrong
 * stage shows alone instead of spoiling every stage after it. */
static void stages(const cJSON *in, ToolRequest *t, cJSON *out) {
        const cJSON *ref = cJSON_GetObjectItemCaseSensitive(in, "ref");
        const char *ref_cr = str_or(ref, "canonical_request", ""),
                   *ref_sts = str_or(ref, "string_to_sign", ""),
                   *ref_names = str_or(ref, "signed_headers", "");
        _cleanup_(buf_done) Buf cr = BUF_INIT(1 << 20), names = BUF_INIT(4096),
                                sts = BUF_INIT(4096), auth = BUF_INIT(4096);
        char payload[65], sig[65];
        uint8_t key[32];
        SigV4Scope scope;
        S3bError err = {};
        int r;

        sigv4_scope_init(&scope, t->time, t->region, t->service);
        if (t->req.payload_hash)
                snprintf(payload, sizeof(payload), "%s", t->req.payload_hash);
        else
                sigv4_sha256_hex(t->req.body, t->req.body_len, payload);
        r = sigv4_canonical_request(&cr, &names, &t->req, &scope, t->creds.session_token,
                                    payload, &err);
        if (r < 0)
                add_error(out, "stage_canonical_request", r, &err);
        cJSON_AddStringToObject(out, "stage_canonical_request", buf_str(&cr));
        cJSON_AddStringToObject(out, "stage_signed_headers", buf_str(&names));
        r = sigv4_string_to_sign(&sts, &scope, ref_cr, strlen(ref_cr), NULL, &err);
        if (r < 0)
                add_error(out, "stage_string_to_sign", r, &err);
        cJSON_AddStringToObject(out, "stage_string_to_sign", buf_str(&sts));
        r = sigv4_signing_key(NULL, t->creds.secret_access_key, &scope, key, &err);
        if (r >= 0)
                r = sigv4_authorization(&auth, sig, key, ref_sts, t->creds.access_key_id, &scope,
                                        ref_names, NULL, &err);
        if (r < 0)
                add_error(out, "stage_authorization", r, &err);
        else
                cJSON_AddStringToObject(out, "stage_signature", sig);
        cJSON_AddStringToObject(out, "stage_authorization", buf_str(&auth));
}

/* sigv4_sign end to end, twice through the cache: the cached key must sign alike. */
static void whole(ToolRequest *t, cJSON *out) {
        _cleanup_(sigv4_key_cache_freep) SigV4KeyCache *cache = NULL;
        _cleanup_(sigv4_result_done) SigV4Result res = {};
        S3bError err = {};
        cJSON *add;
        int r = sigv4_key_cache_new(&cache, &err);

        for (int pass = 0; pass < 2 && r >= 0; pass++) {
                sigv4_result_done(&res);
                r = sigv4_sign(&t->req, &t->creds, t->region, t->service, t->time, cache, &res,
                               &err);
        }
        if (r < 0) {
                cJSON_AddNumberToObject(out, "error", r);
                cJSON_AddStringToObject(out, "message", err.message);
                return;
        }
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

static cJSON *sign_one(const cJSON *in) {
        cJSON *out = cJSON_CreateObject();
        ToolRequest t;

        if (!out)
                abort();
        load_request(in, &t);
        whole(&t, out);
        if (cJSON_GetObjectItemCaseSensitive(in, "ref"))
                stages(in, &t, out);
        free_request(&t);
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
