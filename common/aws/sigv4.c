/* SigV4 signer. See sigv4.h for the rules; this file only explains the non-obvious.
 *
 * Every intermediate string is built in a bounded Buf: the request description comes from our
 * own code, but object keys and header values come from S3 events, i.e. from outside. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/aws/sigv4.h"

/* Generous: an S3 key is ≤ 1024 bytes (×3 encoded, ×3 again), a session token ≤ 8 KiB. */
#define SIGV4_STRING_MAX (256 * 1024)
#define SIGV4_CACHE_SLOTS 8

typedef struct KeySlot {
        bool used;
        uint8_t secret_digest[32];      /* sha256 of the secret: the cache never holds it */
        char date8[9];
        char region[AWS_REGION_MAX + 1];
        char service[64];
        uint8_t key[32];
} KeySlot;

struct SigV4KeyCache {
        KeySlot slot[SIGV4_CACHE_SLOTS];
        unsigned next;                  /* round-robin victim */
};

/* A header as it enters the canonical form. */
typedef struct CanonHeader {
        char *name;                     /* lowercased, owned */
        const char *value;              /* raw, borrowed */
        size_t order;                   /* position given: keeps repeated values in order */
} CanonHeader;

int sigv4_key_cache_new(SigV4KeyCache **ret) {
        SigV4KeyCache *c = calloc(1, sizeof(*c));

        if (!c)
                return -ENOMEM;
        *ret = c;
        return 0;
}

SigV4KeyCache *sigv4_key_cache_free(SigV4KeyCache *c) {
        if (!c)
                return NULL;
        OPENSSL_cleanse(c, sizeof(*c));
        free(c);
        return NULL;
}

/* The canonical request carries the session token in its x-amz-security-token line. */
static void free_wiped(char *s) {
        if (s) {
                OPENSSL_cleanse(s, strlen(s));
                free(s);
        }
}

static void buf_wipe_done(Buf *b) {
        if (b->data)
                OPENSSL_cleanse(b->data, b->cap);
        buf_done(b);
}

void sigv4_result_done(SigV4Result *r) {
        if (!r)
                return;
        free_wiped(r->canonical_request);
        free(r->string_to_sign);
        free(r->authorization);
        free(r->url_path);
        free(r->url_query);
        free(r->_host);
        free_wiped(r->_token);
        memset(r, 0, sizeof(*r));
}

static bool is_unreserved(unsigned char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_' || c == '.' || c == '~';
}

int sigv4_uri_encode(Buf *out, const char *s, size_t n, bool keep_slash) {
        static const char hex[] = "0123456789ABCDEF";
        int r;

        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];

                if (is_unreserved(c) || (keep_slash && c == '/')) {
                        r = buf_append_char(out, (char) c);
                } else {
                        char e[3] = { '%', hex[c >> 4], hex[c & 15] };
                        r = buf_append(out, e, sizeof(e));
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

/* RFC 3986 5.2.4 dot-segment removal, plus dropping empty segments: what AWS (and botocore's
 * remove_dot_segments) do to non-S3 paths. Keeps a leading and a trailing '/'. */
static int normalize_path(Buf *out, const char *p) {
        size_t n = strlen(p), nseg = 0, *ends = NULL;
        const char *seg = p;
        bool trailing = n > 0 && p[n - 1] == '/';
        int r = 0;

        /* ends[k] = out->len after segment k was appended, for popping on ".." */
        ends = calloc(n / 2 + 2, sizeof(*ends));
        if (!ends)
                return -ENOMEM;
        r = buf_append_char(out, '/');
        while (r >= 0 && *seg) {
                const char *slash = strchr(seg, '/');
                size_t len = slash ? (size_t) (slash - seg) : strlen(seg);

                if (len == 0 || (len == 1 && seg[0] == '.')) {
                        /* dropped */
                } else if (len == 2 && seg[0] == '.' && seg[1] == '.') {
                        if (nseg > 0)
                                nseg--;
                        out->len = nseg > 0 ? ends[nseg - 1] : 1;
                        out->data[out->len] = '\0';
                } else {
                        if (nseg > 0)
                                r = buf_append_char(out, '/');
                        if (r >= 0)
                                r = buf_append(out, seg, len);
                        ends[nseg++] = out->len;
                }
                seg += len + (slash ? 1 : 0);
        }
        if (r >= 0 && trailing && nseg > 0)
                r = buf_append_char(out, '/');
        free(ends);
        return r;
}

int sigv4_canonical_uri(Buf *out, const char *raw_path, const char *service) {
        Buf once = BUF_INIT(SIGV4_STRING_MAX), norm = BUF_INIT(SIGV4_STRING_MAX);
        int r;

        r = sigv4_uri_encode(&once, raw_path, strlen(raw_path), true);
        if (r < 0)
                goto finish;
        if (strcmp(service, "s3") == 0) {
                /* S3 signs the key exactly as it is in the URL: no normalisation, one encoding. */
                r = buf_append(out, buf_str(&once), once.len);
                goto finish;
        }
        /* Other services: the URL path (encoded once) is normalised and encoded again, so a
         * '%' in the raw path appears as %2525 in the canonical request. */
        r = normalize_path(&norm, buf_str(&once));
        if (r < 0)
                goto finish;
        r = sigv4_uri_encode(out, buf_str(&norm), norm.len, true);
finish:
        buf_done(&once);
        buf_done(&norm);
        return r;
}

typedef struct EncodedParam {
        char *key;
        char *value;
} EncodedParam;

static int cmp_param(const void *a, const void *b) {
        const EncodedParam *x = a, *y = b;
        int c = strcmp(x->key, y->key);

        return c ? c : strcmp(x->value, y->value);
}

static int encode_dup(const char *s, char **ret) {
        Buf b = BUF_INIT(SIGV4_STRING_MAX);
        int r;

        r = sigv4_uri_encode(&b, s ? s : "", s ? strlen(s) : 0, false);
        if (r >= 0)
                r = buf_append(&b, "", 0);      /* an empty value still needs storage */
        if (r < 0) {
                buf_done(&b);
                return r;
        }
        *ret = buf_steal(&b);
        return 0;
}

int sigv4_canonical_query(Buf *out, const SigV4Param *query, size_t n_query) {
        EncodedParam *p = NULL;
        size_t i;
        int r = 0;

        if (n_query == 0)
                return 0;
        p = calloc(n_query, sizeof(*p));
        if (!p)
                return -ENOMEM;
        for (i = 0; i < n_query && r >= 0; i++) {
                r = encode_dup(query[i].key, &p[i].key);
                if (r >= 0)
                        r = encode_dup(query[i].value, &p[i].value);
        }
        if (r < 0)
                goto finish;
        /* Sorting the encoded forms, not the raw ones, is what AWS specifies: they differ for
         * keys with characters below '%' (e.g. ' ' vs '!'). */
        qsort(p, n_query, sizeof(*p), cmp_param);
        for (i = 0; i < n_query && r >= 0; i++)
                r = buf_printf(out, "%s%s=%s", i ? "&" : "", p[i].key, p[i].value);
finish:
        for (i = 0; i < n_query; i++) {
                free(p[i].key);
                free(p[i].value);
        }
        free(p);
        return r;
}

void sigv4_sha256_hex(const void *data, size_t n, char out[65]) {
        static const char hex[] = "0123456789abcdef";
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int len = 0;

        if (!EVP_Digest(data ? data : "", n, md, &len, EVP_sha256(), NULL) || len != 32) {
                /* only on a broken OpenSSL; an all-zero hash makes the signature fail loudly */
                memset(md, 0, sizeof(md));
                len = 32;
        }
        for (unsigned int i = 0; i < len; i++) {
                out[2 * i] = hex[md[i] >> 4];
                out[2 * i + 1] = hex[md[i] & 15];
        }
        out[64] = '\0';
}

static int hmac(const void *key, size_t keylen, const char *msg, uint8_t out[32]) {
        unsigned int len = 0;

        if (!HMAC(EVP_sha256(), key, (int) keylen, (const unsigned char *) msg, strlen(msg), out,
                  &len) || len != 32)
                return -EIO;
        return 0;
}

int sigv4_derive_key(const char *secret, const char *date8, const char *region,
                     const char *service, uint8_t ret_key[32]) {
        char k0[4 + AWS_SECRET_KEY_MAX + 1];
        uint8_t a[32], b[32];
        int r;

        if (strlen(secret) > AWS_SECRET_KEY_MAX)
                return -EINVAL;
        snprintf(k0, sizeof(k0), "AWS4%s", secret);
        r = hmac(k0, strlen(k0), date8, a);
        if (r >= 0)
                r = hmac(a, sizeof(a), region, b);
        if (r >= 0)
                r = hmac(b, sizeof(b), service, a);
        if (r >= 0)
                r = hmac(a, sizeof(a), "aws4_request", ret_key);
        OPENSSL_cleanse(k0, sizeof(k0));
        OPENSSL_cleanse(a, sizeof(a));
        OPENSSL_cleanse(b, sizeof(b));
        return r;
}

static int signing_key(SigV4KeyCache *cache, const char *secret, const char *date8,
                       const char *region, const char *service, uint8_t ret_key[32]) {
        uint8_t digest[32];
        unsigned int dlen = 0;
        KeySlot *s;
        int r;

        if (!cache)
                return sigv4_derive_key(secret, date8, region, service, ret_key);
        if (strlen(region) > AWS_REGION_MAX || strlen(service) >= sizeof(s->service))
                return sigv4_derive_key(secret, date8, region, service, ret_key);
        if (!EVP_Digest(secret, strlen(secret), digest, &dlen, EVP_sha256(), NULL))
                return -EIO;
        for (size_t i = 0; i < SIGV4_CACHE_SLOTS; i++) {
                s = &cache->slot[i];
                if (s->used && memeq_ct(s->secret_digest, digest, 32) &&
                    strcmp(s->date8, date8) == 0 && strcmp(s->region, region) == 0 &&
                    strcmp(s->service, service) == 0) {
                        memcpy(ret_key, s->key, 32);
                        return 0;
                }
        }
        s = &cache->slot[cache->next++ % SIGV4_CACHE_SLOTS];
        OPENSSL_cleanse(s, sizeof(*s));
        r = sigv4_derive_key(secret, date8, region, service, s->key);
        if (r < 0)
                return r;
        memcpy(s->secret_digest, digest, 32);
        snprintf(s->date8, sizeof(s->date8), "%s", date8);
        snprintf(s->region, sizeof(s->region), "%s", region);
        snprintf(s->service, sizeof(s->service), "%s", service);
        s->used = true;
        memcpy(ret_key, s->key, 32);
        return 0;
}

void sigv4_format_date(time_t now, char out[17]) {
        struct tm tm;

        gmtime_r(&now, &tm);
        strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* Headers proxies and libcurl may rewrite: signing them would break the signature (botocore's
 * SIGNED_HEADERS_BLACKLIST). */
static bool header_unsigned(const char *lname) {
        return strcmp(lname, "user-agent") == 0 || strcmp(lname, "expect") == 0 ||
               strcmp(lname, "x-amzn-trace-id") == 0;
}

/* Headers the signer adds itself; a caller passing one is a bug. */
static bool header_reserved(const char *lname) {
        return strcmp(lname, "host") == 0 || strcmp(lname, "x-amz-date") == 0 ||
               strcmp(lname, "authorization") == 0 ||
               strcmp(lname, "x-amz-security-token") == 0 ||
               strcmp(lname, "x-amz-content-sha256") == 0;
}

static int cmp_header(const void *a, const void *b) {
        const CanonHeader *x = a, *y = b;
        int c = strcmp(x->name, y->name);

        if (c)
                return c;
        return x->order < y->order ? -1 : x->order > y->order;
}

/* Trimmed, inner whitespace runs collapsed to one space (botocore: ' '.join(v.split())). */
static int append_header_value(Buf *out, const char *v) {
        bool pending_space = false, any = false;
        int r = 0;

        for (; *v && r >= 0; v++) {
                if (*v == ' ' || *v == '\t' || *v == '\v' || *v == '\f') {
                        pending_space = any;
                        continue;
                }
                if (pending_space)
                        r = buf_append_char(out, ' ');
                if (r >= 0)
                        r = buf_append_char(out, *v);
                pending_space = false;
                any = true;
        }
        return r;
}

static bool has_crlf(const char *s) {
        return strpbrk(s, "\r\n") != NULL;
}

static char *lowercase_dup(const char *s) {
        char *d = strdup(s);

        for (char *p = d; p && *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                        *p = (char) (*p - 'A' + 'a');
        return d;
}

/* Appends "name:value\n"… to canon and "name;name…" to signed_names. */
static int canonical_headers(const SigV4Request *req, const SigV4Header *own, size_t n_own,
                             Buf *canon, Buf *signed_names, S3bError *err) {
        size_t n = 0, total = n_own + req->n_headers;
        CanonHeader *h;
        int r = 0;

        h = calloc(total, sizeof(*h));
        if (!h)
                return -ENOMEM;
        for (size_t i = 0; i < total; i++) {
                const SigV4Header *src = i < n_own ? &own[i] : &req->headers[i - n_own];
                char *lname;

                if (!src->name || !*src->name || !src->value || has_crlf(src->name) ||
                    has_crlf(src->value) || strchr(src->name, ':')) {
                        r = s3b_error_set(err, -EINVAL, "sigv4: invalid header name or value");
                        goto finish;
                }
                lname = lowercase_dup(src->name);
                if (!lname) {
                        r = -ENOMEM;
                        goto finish;
                }
                if (i >= n_own && header_reserved(lname)) {
                        r = s3b_error_set(err, -EINVAL, "sigv4: header %s is set by the signer",
                                          lname);
                        free(lname);
                        goto finish;
                }
                if (header_unsigned(lname)) {
                        free(lname);
                        continue;
                }
                h[n++] = (CanonHeader) { .name = lname, .value = src->value, .order = i };
        }
        qsort(h, n, sizeof(*h), cmp_header);
        for (size_t i = 0; i < n && r >= 0; i++) {
                bool repeat = i > 0 && strcmp(h[i].name, h[i - 1].name) == 0;
                bool last = i + 1 == n || strcmp(h[i].name, h[i + 1].name) != 0;

                if (!repeat) {
                        r = buf_printf(canon, "%s:", h[i].name);
                        if (r >= 0 && signed_names->len > 0)
                                r = buf_append_char(signed_names, ';');
                        if (r >= 0)
                                r = buf_append_str(signed_names, h[i].name);
                } else {
                        r = buf_append_char(canon, ',');
                }
                if (r >= 0)
                        r = append_header_value(canon, h[i].value);
                if (r >= 0 && last)
                        r = buf_append_char(canon, '\n');
        }
finish:
        for (size_t i = 0; i < n; i++)
                free(h[i].name);
        free(h);
        return r;
}

static int check_input(const SigV4Request *req, const AwsCredentials *creds, const char *region,
                       const char *service, S3bError *err) {
        if (!req->method || !*req->method || !req->host || !*req->host || !req->path ||
            req->path[0] != '/')
                return s3b_error_set(err, -EINVAL, "sigv4: request needs method, host and a path starting with '/'");
        if (has_crlf(req->host) || strpbrk(req->method, " \r\n"))
                return s3b_error_set(err, -EINVAL, "sigv4: invalid method or host");
        if (!creds || !creds->access_key_id[0] || !creds->secret_access_key[0])
                return s3b_error_set(err, -EINVAL, "sigv4: no credentials");
        if (!region || !*region || !service || !*service || strchr(region, '/') ||
            strchr(service, '/'))
                return s3b_error_set(err, -EINVAL, "sigv4: region and service are required");
        if (req->payload_hash && strlen(req->payload_hash) > 64)
                return s3b_error_set(err, -EINVAL, "sigv4: payload hash too long");
        return 0;
}

int sigv4_sign(const SigV4Request *req, const AwsCredentials *creds, const char *region,
               const char *service, time_t now, SigV4KeyCache *cache, SigV4Result *ret,
               S3bError *err) {
        Buf cr = BUF_INIT(SIGV4_STRING_MAX), sts = BUF_INIT(SIGV4_STRING_MAX),
            names = BUF_INIT(SIGV4_STRING_MAX), headers = BUF_INIT(SIGV4_STRING_MAX),
            auth = BUF_INIT(SIGV4_STRING_MAX), path = BUF_INIT(SIGV4_STRING_MAX),
            query = BUF_INIT(SIGV4_STRING_MAX);
        SigV4Result res = {};
        SigV4Header own[4];
        size_t n_own = 0;
        bool s3 = service && strcmp(service, "s3") == 0;
        bool session = creds && creds->session_token[0];
        char cr_hash[65], date8[9];
        uint8_t key[32], sig[32];
        int r;

        r = check_input(req, creds, region, service, err);
        if (r < 0)
                return r;

        sigv4_format_date(now, res.amz_date);
        memcpy(date8, res.amz_date, 8);
        date8[8] = '\0';
        if (req->payload_hash)
                snprintf(res._payload_hash, sizeof(res._payload_hash), "%s", req->payload_hash);
        else
                sigv4_sha256_hex(req->body, req->body_len, res._payload_hash);
        res._host = strdup(req->host);
        if (!res._host || (session && !(res._token = strdup(creds->session_token)))) {
                r = -ENOMEM;
                goto fail;
        }

        own[n_own++] = (SigV4Header) { "host", req->host };
        own[n_own++] = (SigV4Header) { "x-amz-date", res.amz_date };
        if (session)
                own[n_own++] = (SigV4Header) { "x-amz-security-token", res._token };
        if (s3)
                own[n_own++] = (SigV4Header) { "x-amz-content-sha256", res._payload_hash };

        /* canonical request */
        for (const char *m = req->method; *m && r >= 0; m++)
                r = buf_append_char(&cr, (char) (*m >= 'a' && *m <= 'z' ? *m - 'a' + 'A' : *m));
        if (r >= 0)
                r = buf_append_char(&cr, '\n');
        if (r >= 0)
                r = sigv4_uri_encode(&path, req->path, strlen(req->path), true);
        if (r >= 0)
                r = sigv4_canonical_uri(&cr, req->path, service);
        if (r >= 0)
                r = sigv4_canonical_query(&query, req->query, req->n_query);
        if (r >= 0)
                r = buf_printf(&cr, "\n%s\n", buf_str(&query));
        if (r >= 0)
                r = canonical_headers(req, own, n_own, &headers, &names, err);
        if (r >= 0)
                r = buf_printf(&cr, "%s\n%s\n%s", buf_str(&headers), buf_str(&names),
                               res._payload_hash);
        if (r < 0)
                goto fail;

        /* string to sign */
        sigv4_sha256_hex(cr.data, cr.len, cr_hash);
        r = buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", res.amz_date,
                       date8, region, service, cr_hash);
        if (r < 0)
                goto fail;

        /* signature */
        r = signing_key(cache, creds->secret_access_key, date8, region, service, key);
        if (r >= 0)
                r = hmac(key, sizeof(key), buf_str(&sts), sig);
        OPENSSL_cleanse(key, sizeof(key));
        if (r < 0)
                goto fail;
        for (size_t i = 0; i < 32; i++)
                snprintf(res.signature + 2 * i, 3, "%02x", sig[i]);

        r = buf_printf(&auth,
                       "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, Signature=%s",
                       creds->access_key_id, date8, region, service, buf_str(&names),
                       res.signature);
        if (r < 0)
                goto fail;

        res.canonical_request = buf_steal(&cr);
        res.string_to_sign = buf_steal(&sts);
        res.authorization = buf_steal(&auth);
        res.url_path = buf_steal(&path);
        res.url_query = buf_steal(&query);
        if (!res.canonical_request || !res.string_to_sign || !res.authorization ||
            !res.url_path || !res.url_query) {
                r = -ENOMEM;
                goto fail;
        }
        buf_done(&names);
        buf_wipe_done(&headers);
        *ret = res;
        /* add[] points into *ret, so it is filled only once the struct is in place */
        ret->add[SIGV4_ADD_HOST].name = "Host";
        ret->add[SIGV4_ADD_HOST].value = ret->_host;
        ret->add[SIGV4_ADD_DATE].name = "X-Amz-Date";
        ret->add[SIGV4_ADD_DATE].value = ret->amz_date;
        ret->add[SIGV4_ADD_AUTHORIZATION].name = "Authorization";
        ret->add[SIGV4_ADD_AUTHORIZATION].value = ret->authorization;
        if (s3) {
                ret->add[SIGV4_ADD_CONTENT_SHA256].name = "X-Amz-Content-Sha256";
                ret->add[SIGV4_ADD_CONTENT_SHA256].value = ret->_payload_hash;
        }
        if (session) {
                ret->add[SIGV4_ADD_SECURITY_TOKEN].name = "X-Amz-Security-Token";
                ret->add[SIGV4_ADD_SECURITY_TOKEN].value = ret->_token;
        }
        return 0;

fail:
        if (r == -ENOBUFS)
                s3b_error_set(err, r, "sigv4: request too large to sign");
        else if (err && err->code == 0)
                s3b_error_set(err, r, "sigv4: signing failed");
        buf_wipe_done(&cr);
        buf_done(&sts);
        buf_done(&names);
        buf_wipe_done(&headers);
        buf_done(&auth);
        buf_done(&path);
        buf_done(&query);
        sigv4_result_done(&res);
        return r;
}
