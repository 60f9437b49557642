/* SigV4 signer. See sigv4.h for the rules; this file only explains the non-obvious.
 *
 * sigv4_sign() runs the three stages of AWS's "Create a signed AWS API request" in order —
 * canonical request, string to sign, signature + Authorization — each a public function that
 * reads only its inputs, as aws-c-auth's aws_signing.c does, so each is compared with
 * botocore's own intermediate string on its own (tests/unit/test-sigv4.py).
 *
 * Every intermediate string is built in a bounded Buf: the request description comes from our
 * own code, but object keys and header values come from S3 events, i.e. from outside.
 *
 * The signer is on the hot path (one signature per DynamoDB batch of 25 rows), so it appends
 * runs rather than characters, never formats with printf, and takes OpenSSL's HMAC and SHA-256
 * from the key cache instead of fetching them on every call. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/aws/sigv4.h"
#include "common/cleanup.h"
#include "common/urlcode.h"

/* Generous: an S3 key is ≤ 1024 bytes (×3 encoded, ×3 again), a session token ≤ 8 KiB. */
#define SIGV4_STRING_MAX (256 * 1024)
#define SIGV4_CACHE_SLOTS 8
#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"

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
        EVP_MAC_CTX *hmac;              /* HMAC-SHA256, re-keyed for each use */
        EVP_MD *sha256;
        EVP_MD_CTX *md;                 /* re-initialised for each hash */
        /* HMAC-SHA256 under the last signing key, its two padded key blocks already hashed:
         * one signature then costs two context copies, where re-keying EVP_MAC (init,
         * update, final through the provider) was most of a signature's own instructions.
         * Both hold key material: the contexts are freed (OpenSSL clears them) and
         * prep_key wiped with the cache. */
        EVP_MD_CTX *ipad, *opad;
        uint8_t prep_key[32];
        bool prepared;
};

/* A header as it enters the canonical form; everything borrowed from the request. */
typedef struct CanonHeader {
        const char *name;               /* any case; compared and written lowercased */
        size_t name_len;
        const char *value;              /* raw */
        size_t order;                   /* position given: keeps repeated values in order */
} CanonHeader;

/* A fresh HMAC-SHA256 context, not yet keyed; NULL on failure. */
static EVP_MAC_CTX *hmac_ctx_new(void) {
        _cleanup_(EVP_MAC_freep) EVP_MAC *mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
        _cleanup_(EVP_MAC_CTX_freep) EVP_MAC_CTX *ctx = NULL;
        char digest[] = OSSL_DIGEST_NAME_SHA2_256;
        OSSL_PARAM params[] = {
                OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                OSSL_PARAM_construct_end(),
        };

        /* the context holds its own reference to mac */
        if (mac)
                ctx = EVP_MAC_CTX_new(mac);
        if (!ctx || !EVP_MAC_CTX_set_params(ctx, params))
                return NULL;
        return TAKE_PTR(ctx);
}

int sigv4_key_cache_new(SigV4KeyCache **ret, S3bError *err) {
        _cleanup_(sigv4_key_cache_freep) SigV4KeyCache *c = calloc(1, sizeof(*c));

        if (!c)
                return s3b_error_set(err, -ENOMEM, "sigv4: out of memory");
        c->hmac = hmac_ctx_new();
        c->sha256 = EVP_MD_fetch(NULL, OSSL_DIGEST_NAME_SHA2_256, NULL);
        c->md = EVP_MD_CTX_new();
        c->ipad = EVP_MD_CTX_new();
        c->opad = EVP_MD_CTX_new();
        if (!c->hmac || !c->sha256 || !c->md || !c->ipad || !c->opad)
                return s3b_error_set(err, -EIO, "sigv4: OpenSSL offers no HMAC-SHA256");
        *ret = TAKE_PTR(c);
        return 0;
}

SigV4KeyCache *sigv4_key_cache_free(SigV4KeyCache *c) {
        if (!c)
                return NULL;
        EVP_MAC_CTX_free(c->hmac);
        EVP_MD_CTX_free(c->md);
        EVP_MD_CTX_free(c->ipad);
        EVP_MD_CTX_free(c->opad);
        EVP_MD_free(c->sha256);
        OPENSSL_cleanse(c, sizeof(*c));
        free(c);
        return NULL;
}

/* The canonical request carries the session token in its x-amz-security-token line. */
static void buf_done_wiped(Buf *b) {
        if (b->data)
                OPENSSL_cleanse(b->data, b->cap);
        buf_done(b);
}

void sigv4_result_done(SigV4Result *r) {
        if (!r)
                return;
        if (r->canonical_request)
                OPENSSL_clear_free(r->canonical_request, strlen(r->canonical_request));
        if (r->_token)
                OPENSSL_clear_free(r->_token, strlen(r->_token));
        free(r->string_to_sign);
        free(r->authorization);
        free(r->url_path);
        free(r->url_query);
        free(r->_host);
        memset(r, 0, sizeof(*r));
}

/* RFC 3986 5.2.4 dot-segment removal, plus dropping empty segments: what AWS (and botocore's
 * remove_dot_segments) do to non-S3 paths. Keeps a leading and a trailing '/'. */
static int normalize_path(Buf *out, const char *p) {
        size_t n = strlen(p), nseg = 0;
        _cleanup_free_ size_t *ends = NULL;
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
        return r;
}

int sigv4_canonical_uri(Buf *out, const char *raw_path, const char *service) {
        _cleanup_(buf_done) Buf once = BUF_INIT(SIGV4_STRING_MAX);
        _cleanup_(buf_done) Buf norm = BUF_INIT(SIGV4_STRING_MAX);
        int r;

        /* S3 signs the key exactly as it is in the URL: no normalisation, one encoding. */
        if (strcmp(service, "s3") == 0)
                return url_encode(out, raw_path, strlen(raw_path), true);
        /* Other services: the URL path (encoded once) is normalised and encoded again, so a
         * '%' in the raw path appears as %2525 in the canonical request. */
        r = url_encode(&once, raw_path, strlen(raw_path), true);
        if (r >= 0)
                r = normalize_path(&norm, buf_str(&once));
        if (r >= 0)
                r = url_encode(out, buf_str(&norm), norm.len, true);
        return r;
}

/* Offsets into one arena Buf: its data moves while it grows, offsets do not. */
typedef struct EncodedParam {
        size_t key, value;
        const char *arena;
} EncodedParam;

static int cmp_param(const void *a, const void *b) {
        const EncodedParam *x = a, *y = b;
        int c = strcmp(x->arena + x->key, y->arena + y->key);

        return c ? c : strcmp(x->arena + x->value, y->arena + y->value);
}

/* Appends the encoding of s and its NUL to arena; *ret_off is where it starts. */
static int encode_into(Buf *arena, const char *s, size_t *ret_off) {
        int r;

        *ret_off = arena->len;
        r = url_encode(arena, s ? s : "", s ? strlen(s) : 0, false);
        if (r >= 0)
                r = buf_append(arena, "", 1);   /* the NUL between strings */
        return r;
}

int sigv4_canonical_query(Buf *out, const SigV4Param *query, size_t n_query) {
        _cleanup_(buf_done) Buf arena = BUF_INIT(SIGV4_STRING_MAX);
        _cleanup_free_ EncodedParam *p = NULL;
        int r = 0;

        if (n_query == 0)
                return 0;
        p = calloc(n_query, sizeof(*p));
        if (!p)
                return -ENOMEM;
        for (size_t i = 0; i < n_query && r >= 0; i++) {
                r = encode_into(&arena, query[i].key, &p[i].key);
                if (r >= 0)
                        r = encode_into(&arena, query[i].value, &p[i].value);
        }
        for (size_t i = 0; i < n_query; i++)
                p[i].arena = arena.data;
        /* sorted by encoded key, then encoded value, in byte order ("Create a canonical
         * request": sort the encoded parameter names; botocore sorts the encoded pairs) */
        if (r >= 0)
                qsort(p, n_query, sizeof(*p), cmp_param);
        for (size_t i = 0; i < n_query && r >= 0; i++) {
                if (i)
                        r = buf_append_char(out, '&');
                if (r >= 0)
                        r = buf_append_str(out, arena.data + p[i].key);
                if (r >= 0)
                        r = buf_append_char(out, '=');
                if (r >= 0)
                        r = buf_append_str(out, arena.data + p[i].value);
        }
        return r;
}

static void hex_lower(const uint8_t *in, size_t n, char *out) {
        static const char hex[] = "0123456789abcdef";

        for (size_t i = 0; i < n; i++) {
                out[2 * i] = hex[in[i] >> 4];
                out[2 * i + 1] = hex[in[i] & 15];
        }
        out[2 * n] = '\0';
}

/* With the cache's digest and context; cache NULL: the default SHA-256 (looked up by
 * OpenSSL on each call) in a context of its own. */
static void sha256_hex(SigV4KeyCache *cache, const void *data, size_t n, char out[65]) {
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        bool ok;

        if (cache)
                ok = EVP_DigestInit_ex2(cache->md, cache->sha256, NULL) &&
                     EVP_DigestUpdate(cache->md, data ? data : "", n) &&
                     EVP_DigestFinal_ex(cache->md, d, &len);
        else
                ok = EVP_Digest(data ? data : "", n, d, &len, EVP_sha256(), NULL);
        if (!ok || len != 32)
                /* only on a broken OpenSSL; an all-zero hash makes the signature fail loudly */
                memset(d, 0, sizeof(d));
        hex_lower(d, 32, out);
}

void sigv4_sha256_hex(const void *data, size_t n, char out[65]) {
        sha256_hex(NULL, data, n, out);
}

/* HMAC-SHA256 with ctx (re-keyed: OpenSSL 3 fetches the digest again for every new context,
 * a third of a signature's cost outside the hashing itself), or with a context of its own when
 * ctx is NULL. */
static int hmac(EVP_MAC_CTX *ctx, const void *key, size_t keylen, const void *msg, size_t n,
                uint8_t out[32]) {
        _cleanup_(EVP_MAC_CTX_freep) EVP_MAC_CTX *own = NULL;
        size_t len = 0;

        if (!ctx)
                ctx = own = hmac_ctx_new();
        if (!ctx || !EVP_MAC_init(ctx, key, keylen, NULL) || !EVP_MAC_update(ctx, msg, n) ||
            !EVP_MAC_final(ctx, out, &len, 32) || len != 32)
                return -EIO;
        return 0;
}

/* RFC 2104 with a 32-byte key (shorter than SHA-256's 64-byte block: zero-padded). */
static int hmac_prepare(SigV4KeyCache *c, const uint8_t key[32]) {
        uint8_t pad[64];
        bool ok;

        if (c->prepared && memeq_ct(c->prep_key, key, 32))
                return 0;
        c->prepared = false;
        for (size_t i = 0; i < sizeof(pad); i++)
                pad[i] = (uint8_t) ((i < 32 ? key[i] : 0) ^ 0x36);
        ok = EVP_DigestInit_ex2(c->ipad, c->sha256, NULL) && EVP_DigestUpdate(c->ipad, pad, 64);
        for (size_t i = 0; i < sizeof(pad); i++)
                pad[i] = (uint8_t) ((i < 32 ? key[i] : 0) ^ 0x5c);
        ok = ok && EVP_DigestInit_ex2(c->opad, c->sha256, NULL) &&
             EVP_DigestUpdate(c->opad, pad, 64);
        OPENSSL_cleanse(pad, sizeof(pad));
        if (!ok)
                return -EIO;
        memcpy(c->prep_key, key, 32);
        c->prepared = true;
        return 0;
}

/* HMAC-SHA256(key, msg) from the prepared pads: H(K^opad || H(K^ipad || msg)). */
static int hmac_prepared(SigV4KeyCache *c, const uint8_t key[32], const void *msg, size_t n,
                         uint8_t out[32]) {
        uint8_t inner[32];
        unsigned int len = 0, len2 = 0;
        bool ok;

        if (hmac_prepare(c, key) < 0)
                return -EIO;
        ok = EVP_MD_CTX_copy_ex(c->md, c->ipad) && EVP_DigestUpdate(c->md, msg, n) &&
             EVP_DigestFinal_ex(c->md, inner, &len) && len == 32 &&
             EVP_MD_CTX_copy_ex(c->md, c->opad) && EVP_DigestUpdate(c->md, inner, 32) &&
             EVP_DigestFinal_ex(c->md, out, &len2) && len2 == 32;
        OPENSSL_cleanse(inner, sizeof(inner));
        return ok ? 0 : -EIO;
}

static int derive_key(EVP_MAC_CTX *mac, const char *secret, const char *date8, const char *region,
                      const char *service, uint8_t ret_key[32]) {
        char k0[4 + AWS_SECRET_KEY_MAX + 1];
        uint8_t a[32], b[32];
        size_t n = strlen(secret);
        int r;

        if (n > AWS_SECRET_KEY_MAX)
                return -EINVAL;
        memcpy(k0, "AWS4", 4);
        memcpy(k0 + 4, secret, n);
        r = hmac(mac, k0, 4 + n, date8, strlen(date8), a);
        if (r >= 0)
                r = hmac(mac, a, sizeof(a), region, strlen(region), b);
        if (r >= 0)
                r = hmac(mac, b, sizeof(b), service, strlen(service), a);
        if (r >= 0)
                r = hmac(mac, a, sizeof(a), "aws4_request", strlen("aws4_request"), ret_key);
        OPENSSL_cleanse(k0, sizeof(k0));
        OPENSSL_cleanse(a, sizeof(a));
        OPENSSL_cleanse(b, sizeof(b));
        return r;
}

int sigv4_derive_key(const char *secret, const char *date8, const char *region,
                     const char *service, uint8_t ret_key[32]) {
        return derive_key(NULL, secret, date8, region, service, ret_key);
}

static KeySlot *cache_lookup(SigV4KeyCache *cache, const uint8_t digest[32],
                             const SigV4Scope *scope) {
        for (size_t i = 0; i < SIGV4_CACHE_SLOTS; i++) {
                KeySlot *s = &cache->slot[i];

                if (s->used && memeq_ct(s->secret_digest, digest, 32) &&
                    strcmp(s->date8, scope->date8) == 0 && strcmp(s->region, scope->region) == 0 &&
                    strcmp(s->service, scope->service) == 0)
                        return s;
        }
        return NULL;
}

static int cached_key(SigV4KeyCache *cache, const char *secret, const SigV4Scope *scope,
                      uint8_t ret_key[32]) {
        uint8_t digest[32];
        unsigned int dlen = 0;
        KeySlot *s;
        int r;

        if (!EVP_DigestInit_ex2(cache->md, cache->sha256, NULL) ||
            !EVP_DigestUpdate(cache->md, secret, strlen(secret)) ||
            !EVP_DigestFinal_ex(cache->md, digest, &dlen))
                return -EIO;
        s = cache_lookup(cache, digest, scope);
        if (!s) {
                s = &cache->slot[cache->next++ % SIGV4_CACHE_SLOTS];
                OPENSSL_cleanse(s, sizeof(*s));
                r = derive_key(cache->hmac, secret, scope->date8, scope->region, scope->service,
                               s->key);
                if (r < 0)
                        return r;
                memcpy(s->secret_digest, digest, 32);
                memcpy(s->date8, scope->date8, sizeof(s->date8));
                snprintf(s->region, sizeof(s->region), "%s", scope->region);
                snprintf(s->service, sizeof(s->service), "%s", scope->service);
                s->used = true;
        }
        memcpy(ret_key, s->key, 32);
        return 0;
}

int sigv4_signing_key(SigV4KeyCache *cache, const char *secret, const SigV4Scope *scope,
                      uint8_t ret_key[32], S3bError *err) {
        int r;

        /* a region or service too long for a slot is signed, just not cached */
        if (cache && strlen(scope->region) <= AWS_REGION_MAX &&
            strlen(scope->service) < sizeof(((KeySlot *) NULL)->service))
                r = cached_key(cache, secret, scope, ret_key);
        else
                r = derive_key(NULL, secret, scope->date8, scope->region, scope->service, ret_key);
        if (r == -EINVAL)
                return s3b_error_set(err, r, "sigv4: secret access key too long");
        if (r < 0)
                return s3b_error_set(err, r, "sigv4: HMAC-SHA256 failed in OpenSSL");
        return 0;
}

void sigv4_format_date(time_t now, char out[17]) {
        struct tm tm;

        gmtime_r(&now, &tm);
        strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

void sigv4_scope_init(SigV4Scope *ret, time_t now, const char *region, const char *service) {
        *ret = (SigV4Scope) { .region = region, .service = service };
        sigv4_format_date(now, ret->amz_date);
        memcpy(ret->date8, ret->amz_date, 8);
        ret->date8[8] = '\0';
}

/* Headers proxies and libcurl may rewrite: signing them would break the signature (botocore's
 * SIGNED_HEADERS_BLACKLIST). */
static bool header_unsigned(const char *name) {
        return strcasecmp(name, "user-agent") == 0 || strcasecmp(name, "expect") == 0 ||
               strcasecmp(name, "x-amzn-trace-id") == 0;
}

/* Headers the signer adds itself; a caller passing one is a bug. */
static bool header_reserved(const char *name) {
        return strcasecmp(name, "host") == 0 || strcasecmp(name, "x-amz-date") == 0 ||
               strcasecmp(name, "authorization") == 0 ||
               strcasecmp(name, "x-amz-security-token") == 0 ||
               strcasecmp(name, "x-amz-content-sha256") == 0;
}

static char ascii_lower(char c) {
        return c >= 'A' && c <= 'Z' ? (char) (c - 'A' + 'a') : c;
}

/* Lowercased byte order, whatever the locale. */
static int cmp_name(const CanonHeader *x, const CanonHeader *y) {
        size_t n = MIN(x->name_len, y->name_len);

        for (size_t i = 0; i < n; i++) {
                unsigned char a = (unsigned char) ascii_lower(x->name[i]);
                unsigned char b = (unsigned char) ascii_lower(y->name[i]);

                if (a != b)
                        return a < b ? -1 : 1;
        }
        return x->name_len < y->name_len ? -1 : x->name_len > y->name_len;
}

static int cmp_header(const void *a, const void *b) {
        const CanonHeader *x = a, *y = b;
        int c = cmp_name(x, y);

        if (c)
                return c;
        return x->order < y->order ? -1 : x->order > y->order;
}

static int append_lower(Buf *out, const char *s, size_t n) {
        int r = buf_reserve(out, n);

        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                out->data[out->len++] = ascii_lower(s[i]);
        out->data[out->len] = '\0';
        return 0;
}

/* Trimmed, inner whitespace runs collapsed to one space (botocore: ' '.join(v.split())). */
static int append_header_value(Buf *out, const char *v) {
        static const char ws[] = " \t\v\f";
        bool first = true;
        int r = 0;

        while (r >= 0) {
                size_t n;

                v += strspn(v, ws);
                n = strcspn(v, ws);
                if (n == 0)
                        break;
                if (!first)
                        r = buf_append_char(out, ' ');
                if (r >= 0)
                        r = buf_append(out, v, n);
                v += n;
                first = false;
        }
        return r;
}

static bool has_crlf(const char *s) {
        return strpbrk(s, "\r\n") != NULL;
}

/* The signer's own headers first, then the caller's, minus the never-signed ones. */
static int collect_headers(const SigV4Request *req, const SigV4Header *own, size_t n_own,
                           CanonHeader *h, size_t *ret_n, S3bError *err) {
        size_t n = 0;

        for (size_t i = 0; i < n_own + req->n_headers; i++) {
                const SigV4Header *src = i < n_own ? &own[i] : &req->headers[i - n_own];

                if (!src->name || !*src->name || !src->value || has_crlf(src->name) ||
                    has_crlf(src->value) || strchr(src->name, ':'))
                        return s3b_error_set(err, -EINVAL, "sigv4: invalid header name or value");
                if (i >= n_own && header_reserved(src->name))
                        return s3b_error_set(err, -EINVAL, "sigv4: header %.64s is set by the signer",
                                             src->name);
                if (header_unsigned(src->name))
                        continue;
                h[n++] = (CanonHeader) { .name = src->name, .name_len = strlen(src->name),
                                         .value = src->value, .order = i };
        }
        qsort(h, n, sizeof(*h), cmp_header);
        *ret_n = n;
        return 0;
}

/* Appends "name:value[,value]\n"… to canon and "name;name…" to signed_names. */
static int canonical_headers(const SigV4Request *req, const SigV4Header *own, size_t n_own,
                             Buf *canon, Buf *signed_names, S3bError *err) {
        _cleanup_free_ CanonHeader *h = calloc(n_own + req->n_headers, sizeof(*h));
        size_t n = 0;
        int r;

        if (!h)
                return s3b_error_set(err, -ENOMEM, "sigv4: out of memory");
        r = collect_headers(req, own, n_own, h, &n, err);
        for (size_t i = 0; i < n && r >= 0; i++) {
                bool repeat = i > 0 && cmp_name(&h[i], &h[i - 1]) == 0;
                bool last = i + 1 == n || cmp_name(&h[i], &h[i + 1]) != 0;

                if (!repeat) {
                        r = append_lower(canon, h[i].name, h[i].name_len);
                        if (r >= 0)
                                r = buf_append_char(canon, ':');
                        if (r >= 0 && signed_names->len > 0)
                                r = buf_append_char(signed_names, ';');
                        if (r >= 0)
                                r = append_lower(signed_names, h[i].name, h[i].name_len);
                } else {
                        r = buf_append_char(canon, ',');
                }
                if (r >= 0)
                        r = append_header_value(canon, h[i].value);
                if (r >= 0 && last)
                        r = buf_append_char(canon, '\n');
        }
        return r;
}

static int check_request(const SigV4Request *req, S3bError *err) {
        if (!req->method || !*req->method || !req->host || !*req->host || !req->path ||
            req->path[0] != '/')
                return s3b_error_set(err, -EINVAL, "sigv4: request needs method, host and a path starting with '/'");
        if (has_crlf(req->host) || strpbrk(req->method, " \r\n"))
                return s3b_error_set(err, -EINVAL, "sigv4: invalid method or host");
        if (req->payload_hash && strlen(req->payload_hash) > 64)
                return s3b_error_set(err, -EINVAL, "sigv4: payload hash too long");
        return 0;
}

static int check_input(const SigV4Request *req, const AwsCredentials *creds, const char *region,
                       const char *service, S3bError *err) {
        if (!creds || !creds->access_key_id[0] || !creds->secret_access_key[0])
                return s3b_error_set(err, -EINVAL, "sigv4: no credentials");
        if (!region || !*region || !service || !*service || strchr(region, '/') ||
            strchr(service, '/'))
                return s3b_error_set(err, -EINVAL, "sigv4: region and service are required");
        return check_request(req, err);
}

/* -ENOBUFS and -ENOMEM from a Buf, as a message; others already carry theirs. */
static int buf_error(S3bError *err, int r, const char *what) {
        if (r == -ENOBUFS)
                return s3b_error_set(err, r, "sigv4: %s too large to sign", what);
        if (r == -ENOMEM)
                return s3b_error_set(err, r, "sigv4: out of memory");
        return r;
}

/* Appends the strings of a NULL-terminated list. */
static int append_all(Buf *out, const char *const *parts) {
        int r = 0;

        for (; *parts && r >= 0; parts++)
                r = buf_append_str(out, *parts);
        return r;
}

int sigv4_canonical_request(Buf *out, Buf *ret_signed_headers, const SigV4Request *req,
                            const SigV4Scope *scope, const char *session_token,
                            const char *payload_hash, S3bError *err) {
        SigV4Header own[4];
        size_t n_own = 0;
        int r;

        r = check_request(req, err);
        if (r < 0)
                return r;
        if (!payload_hash || !*payload_hash || strlen(payload_hash) > 64)
                return s3b_error_set(err, -EINVAL, "sigv4: payload hash missing or too long");
        own[n_own++] = (SigV4Header) { "host", req->host };
        own[n_own++] = (SigV4Header) { "x-amz-date", scope->amz_date };
        if (session_token && *session_token)
                own[n_own++] = (SigV4Header) { "x-amz-security-token", session_token };
        if (strcmp(scope->service, "s3") == 0)
                own[n_own++] = (SigV4Header) { "x-amz-content-sha256", payload_hash };

        /* one allocation for the usual request; a longer one still grows */
        r = buf_reserve(out, 1024 + strlen(req->path) + (session_token ? strlen(session_token) : 0));
        for (const char *m = req->method; *m && r >= 0; m++)
                r = buf_append_char(out, (char) (*m >= 'a' && *m <= 'z' ? *m - 'a' + 'A' : *m));
        if (r >= 0)
                r = buf_append_char(out, '\n');
        if (r >= 0)
                r = sigv4_canonical_uri(out, req->path, scope->service);
        if (r >= 0)
                r = buf_append_char(out, '\n');
        if (r >= 0)
                r = sigv4_canonical_query(out, req->query, req->n_query);
        if (r >= 0)
                r = buf_append_char(out, '\n');
        if (r < 0)
                return buf_error(err, r, "request");
        r = canonical_headers(req, own, n_own, out, ret_signed_headers, err);
        if (r >= 0)
                r = append_all(out, (const char *const[]) {
                        "\n", buf_str(ret_signed_headers), "\n", payload_hash, NULL });
        return buf_error(err, r, "request");
}

/* "<date8>/<region>/<service>/aws4_request" */
static int append_scope(Buf *out, const SigV4Scope *scope) {
        return append_all(out, (const char *const[]) {
                scope->date8, "/", scope->region, "/", scope->service, "/aws4_request", NULL });
}

int sigv4_string_to_sign(Buf *out, const SigV4Scope *scope, const char *canonical_request,
                         size_t len, SigV4KeyCache *cache, S3bError *err) {
        char hash[65];
        int r;

        sha256_hex(cache, canonical_request, len, hash);
        r = append_all(out, (const char *const[]) {
                SIGV4_ALGORITHM "\n", scope->amz_date, "\n", NULL });
        if (r >= 0)
                r = append_scope(out, scope);
        if (r >= 0)
                r = append_all(out, (const char *const[]) { "\n", hash, NULL });
        return buf_error(err, r, "string to sign");
}

int sigv4_authorization(Buf *out, char ret_signature[65], const uint8_t key[32],
                        const char *string_to_sign, const char *access_key_id,
                        const SigV4Scope *scope, const char *signed_headers,
                        SigV4KeyCache *cache, S3bError *err) {
        uint8_t sig[32];
        char hex[65];
        int r;

        if (cache)
                r = hmac_prepared(cache, key, string_to_sign, strlen(string_to_sign), sig);
        else
                r = hmac(NULL, key, 32, string_to_sign, strlen(string_to_sign), sig);
        if (r < 0)
                return s3b_error_set(err, r, "sigv4: HMAC-SHA256 failed in OpenSSL");
        hex_lower(sig, sizeof(sig), hex);
        r = append_all(out, (const char *const[]) {
                SIGV4_ALGORITHM " Credential=", access_key_id, "/", NULL });
        if (r >= 0)
                r = append_scope(out, scope);
        if (r >= 0)
                r = append_all(out, (const char *const[]) {
                        ", SignedHeaders=", signed_headers, ", Signature=", hex, NULL });
        if (r < 0)
                return buf_error(err, r, "Authorization header");
        memcpy(ret_signature, hex, sizeof(hex));
        return 0;
}

/* The parts of the result known before signing: date, payload hash, Host and token copies. */
static int result_prepare(SigV4Result *res, const SigV4Request *req, const AwsCredentials *creds,
                          const SigV4Scope *scope, SigV4KeyCache *cache, S3bError *err) {
        memcpy(res->amz_date, scope->amz_date, sizeof(res->amz_date));
        if (req->payload_hash)
                snprintf(res->_payload_hash, sizeof(res->_payload_hash), "%s", req->payload_hash);
        else
                sha256_hex(cache, req->body, req->body_len,
                           res->_payload_hash);
        res->_host = strdup(req->host);
        if (!res->_host || (creds->session_token[0] &&
                            !(res->_token = strdup(creds->session_token))))
                return s3b_error_set(err, -ENOMEM, "sigv4: out of memory");
        return 0;
}

/* The URL's query is the canonical one: the third line of the canonical request (no line
 * before it can hold a '\n': the method is checked, the path is percent-encoded). */
static char *query_of(const char *canonical_request) {
        const char *q = strchr(canonical_request, '\n');

        q = q ? strchr(q + 1, '\n') : NULL;
        return q ? strndup(q + 1, strcspn(q + 1, "\n")) : NULL;
}

/* Takes the strings into *ret and points add[] at them. */
static int result_finish(SigV4Result *res, Buf *cr, Buf *sts, Buf *auth, Buf *path,
                         bool s3, SigV4Result *ret, S3bError *err) {
        res->url_query = query_of(buf_str(cr));
        res->canonical_request = buf_steal(cr);
        res->string_to_sign = buf_steal(sts);
        res->authorization = buf_steal(auth);
        res->url_path = buf_steal(path);
        if (!res->canonical_request || !res->string_to_sign || !res->authorization ||
            !res->url_path || !res->url_query)
                return s3b_error_set(err, -ENOMEM, "sigv4: out of memory");
        *ret = *res;
        *res = (SigV4Result) {};
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
        if (ret->_token) {
                ret->add[SIGV4_ADD_SECURITY_TOKEN].name = "X-Amz-Security-Token";
                ret->add[SIGV4_ADD_SECURITY_TOKEN].value = ret->_token;
        }
        return 0;
}

int sigv4_sign(const SigV4Request *req, const AwsCredentials *creds, const char *region,
               const char *service, time_t now, SigV4KeyCache *cache, SigV4Result *ret,
               S3bError *err) {
        _cleanup_(buf_done_wiped) Buf cr = BUF_INIT(SIGV4_STRING_MAX);
        _cleanup_(buf_done) Buf names = BUF_INIT(SIGV4_STRING_MAX);
        _cleanup_(buf_done) Buf sts = BUF_INIT(SIGV4_STRING_MAX);
        _cleanup_(buf_done) Buf auth = BUF_INIT(SIGV4_STRING_MAX);
        _cleanup_(buf_done) Buf path = BUF_INIT(SIGV4_STRING_MAX);
        _cleanup_(sigv4_result_done) SigV4Result res = {};
        SigV4Scope scope;
        uint8_t key[32];
        int r;

        r = check_input(req, creds, region, service, err);
        if (r < 0)
                return r;
        sigv4_scope_init(&scope, now, region, service);
        r = result_prepare(&res, req, creds, &scope, cache, err);
        if (r >= 0)
                r = sigv4_canonical_request(&cr, &names, req, &scope, creds->session_token,
                                            res._payload_hash, err);
        if (r >= 0)
                r = sigv4_string_to_sign(&sts, &scope, cr.data, cr.len, cache, err);
        if (r >= 0)
                r = sigv4_signing_key(cache, creds->secret_access_key, &scope, key, err);
        if (r < 0)
                return r;
        r = sigv4_authorization(&auth, res.signature, key, buf_str(&sts),
                                creds->access_key_id, &scope, buf_str(&names), cache, err);
        OPENSSL_cleanse(key, sizeof(key));
        if (r >= 0)
                r = buf_error(err, url_encode(&path, req->path, strlen(req->path), true),
                              "path");
        if (r < 0)
                return r;
        return result_finish(&res, &cr, &sts, &auth, &path, strcmp(service, "s3") == 0, ret, err);
}
