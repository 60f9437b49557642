/* Shared credentials and config files (~/.aws/credentials, ~/.aws/config).
 *
 * The format is the AWS CLI's INI dialect: "[name]" sections in the credentials file,
 * "[profile name]" (or "[default]") in the config file, "key = value" lines, full-line
 * comments starting with '#' or ';'. An indented line continues the previous key (nested
 * settings such as "s3 =\n  max_concurrent_requests = 20"), so it never defines a key of the
 * profile. There are no inline comments (Python's configparser, which the CLI uses, has none
 * by default). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "common/aws/credentials-provider.h"

#define PROFILE_FILE_MAX (1024 * 1024)
#define PROFILE_LINE_MAX 8192

typedef struct Profile {
        bool found;                     /* the section exists */
        char akid[AWS_ACCESS_KEY_ID_MAX + 1];
        char secret[AWS_SECRET_KEY_MAX + 1];
        char token[AWS_SESSION_TOKEN_MAX + 1];
        char region[AWS_REGION_MAX + 1];
        const char *unsupported;        /* first key we cannot honour, static */
} Profile;

static void profile_wipe(Profile *p) {
        OPENSSL_cleanse(p, sizeof(*p));
}

static char *strip(char *s) {
        char *e;

        while (*s == ' ' || *s == '\t')
                s++;
        e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
                *--e = '\0';
        return s;
}

/* Is "[...]" (already stripped of brackets and blanks) the wanted profile's section? */
static bool section_matches(const char *sec, const char *profile, bool config_style) {
        if (!config_style)
                return strcmp(sec, profile) == 0;
        /* botocore shlex-splits "profile NAME": blanks around either word do not count */
        while (*sec == ' ' || *sec == '\t')
                sec++;
        if (strncmp(sec, "profile", 7) == 0 && (sec[7] == ' ' || sec[7] == '\t')) {
                const char *name = sec + 8;
                size_t n;

                while (*name == ' ' || *name == '\t')
                        name++;
                n = strcspn(name, " \t");
                if (name[n + strspn(name + n, " \t")] != '\0')
                        return false;   /* three words: not a profile section */
                return n == strlen(profile) && strncmp(name, profile, n) == 0;
        }
        /* in the config file only the default profile may go without the "profile " prefix */
        return strcmp(profile, "default") == 0 && strcmp(sec, "default") == 0;
}

static const char *const unsupported_keys[] = {
        "role_arn", "credential_process", "sso_start_url", "sso_session",
        "web_identity_token_file", "credential_source",
};

static int apply_key(Profile *p, const char *key, const char *value) {
        if (strcmp(key, "aws_access_key_id") == 0)
                return aws_credentials_copy_field(p->akid, sizeof(p->akid), value);
        if (strcmp(key, "aws_secret_access_key") == 0)
                return aws_credentials_copy_field(p->secret, sizeof(p->secret), value);
        if (strcmp(key, "aws_session_token") == 0)
                return aws_credentials_copy_field(p->token, sizeof(p->token), value);
        if (strcmp(key, "region") == 0)
                return aws_credentials_copy_field(p->region, sizeof(p->region), value);
        for (size_t i = 0; i < ELEMENTSOF(unsupported_keys); i++)
                if (strcmp(key, unsupported_keys[i]) == 0 && !p->unsupported)
                        p->unsupported = unsupported_keys[i];
        return 0;
}

/* The lines of f (path, for messages) into *p; line is a PROFILE_LINE_MAX scratch buffer. */
static int profile_parse(FILE *f, const char *path, const char *profile, bool config_style,
                         Profile *p, char *line, S3bError *err) {
        bool in_section = false, seen_key = false;
        size_t total = 0, lineno = 0;

        while (fgets(line, PROFILE_LINE_MAX, f)) {
                size_t len = strlen(line);
                char *s, *eq;

                lineno++;
                total += len;
                if (total > PROFILE_FILE_MAX || (len == PROFILE_LINE_MAX - 1 && line[len - 1] != '\n')) {
                        return s3b_error_set(err, -EFBIG, "%s:%zu: file or line too long", path,
                                             lineno);
                }
                if (line[0] == ' ' || line[0] == '\t') {
                        /* continuation or nested key, unless nothing precedes it */
                        if (seen_key)
                                continue;
                }
                s = strip(line);
                if (!*s || *s == '#' || *s == ';')
                        continue;
                if (*s == '[') {
                        char *close = strrchr(s, ']');

                        if (!close) {
                                return s3b_error_set(err, -EINVAL, "%s:%zu: unterminated section",
                                                     path, lineno);
                        }
                        *close = '\0';
                        /* the name between the brackets is taken as is, blanks included, as
                         * configparser does */
                        in_section = section_matches(s + 1, profile, config_style);
                        if (in_section)
                                p->found = true;
                        seen_key = false;
                        continue;
                }
                eq = strchr(s, '=');
                if (!eq)
                        continue;       /* configparser would reject the file; we ignore the line */
                *eq = '\0';
                seen_key = true;
                if (!in_section)
                        continue;
                if (apply_key(p, strip(s), strip(eq + 1)) < 0)
                        return s3b_error_set(err, -E2BIG, "%s:%zu: value too long", path, lineno);
        }
        if (ferror(f))
                return s3b_error_set(err, -EIO, "cannot read %s", path);
        return 0;
}

/* Reads the profile's keys from one file into *p (keys already set are overwritten, as a later
 * duplicate section wins in configparser). A missing file is not an error. */
static int profile_read(const char *path, const char *profile, bool config_style, Profile *p,
                        S3bError *err) {
        _cleanup_free_ char *line = malloc(PROFILE_LINE_MAX);
        FILE *f;
        int r;

        if (!line)
                return s3b_error_set(err, -ENOMEM, "%s: out of memory", path);
        f = fopen(path, "re");
        if (!f) {
                if (errno == ENOENT || errno == ENOTDIR)
                        return 0;
                return s3b_error_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
        }
        r = profile_parse(f, path, profile, config_style, p, line, err);
        /* the lines held keys */
        OPENSSL_cleanse(line, PROFILE_LINE_MAX);
        fclose(f);
        return r;
}

static int file_path(const AwsEnv *env, const char *var, const char *leaf, char *out,
                     size_t size) {
        const char *v = aws_env_get(env, var), *home;
        int n;

        if (v) {
                n = snprintf(out, size, "%s", v);
        } else {
                home = aws_env_get(env, "HOME");
                if (!home)
                        return -ENOENT;
                n = snprintf(out, size, "%s/.aws/%s", home, leaf);
        }
        return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

static const char *profile_name(const AwsEnv *env, const char *profile, bool *ret_explicit) {
        const char *p = profile;

        if (!p)
                p = aws_env_get(env, "AWS_PROFILE");
        if (!p)
                p = aws_env_get(env, "AWS_DEFAULT_PROFILE");
        *ret_explicit = p != NULL;
        return p ? p : "default";
}

/* Reads both files; credentials file first, config values only fill what it left empty. */
static int profile_load(const AwsEnv *env, const char *name, Profile *ret, S3bError *err) {
        char cred_path[4096], conf_path[4096];
        _cleanup_(profile_wipe) Profile conf = {};
        bool have_cred, have_conf;
        int r;

        have_cred = file_path(env, "AWS_SHARED_CREDENTIALS_FILE", "credentials", cred_path,
                              sizeof(cred_path)) >= 0;
        have_conf = file_path(env, "AWS_CONFIG_FILE", "config", conf_path, sizeof(conf_path)) >= 0;
        if (have_cred) {
                r = profile_read(cred_path, name, false, ret, err);
                if (r < 0)
                        return r;
        }
        if (have_conf) {
                r = profile_read(conf_path, name, true, &conf, err);
                if (r < 0)
                        return r;
        }
        ret->found = ret->found || conf.found;
        if (!ret->akid[0] && !ret->secret[0] && (conf.akid[0] || conf.secret[0])) {
                memcpy(ret->akid, conf.akid, sizeof(conf.akid));
                memcpy(ret->secret, conf.secret, sizeof(conf.secret));
                memcpy(ret->token, conf.token, sizeof(conf.token));
        }
        /* the CLI reads region from the config file only */
        memcpy(ret->region, conf.region, sizeof(conf.region));
        if (!ret->unsupported)
                ret->unsupported = conf.unsupported;
        return 0;
}

/* The profile asked for (NULL: from the environment) from both files, and its name;
 * *ret_explicit when it was named rather than "default". */
static int profile_get(const AwsEnv *env, const char *profile, Profile *ret,
                       const char **ret_name, bool *ret_explicit, S3bError *err) {
        *ret_name = profile_name(env, profile, ret_explicit);
        return profile_load(env, *ret_name, ret, err);
}

int aws_credentials_from_profile(const AwsEnv *env, const char *profile, AwsCredentials *ret,
                                 S3bError *err) {
        _cleanup_(profile_wipe) Profile p = {};
        _cleanup_(aws_credentials_wipe) AwsCredentials c = {};
        const char *name;
        bool explicit;
        int r = profile_get(env, profile, &p, &name, &explicit, err);

        if (r < 0)
                return r;
        if (!p.found) {
                if (explicit)
                        return s3b_error_set(err, -EINVAL,
                                             "profile \"%.64s\" not found in the shared credentials or config file",
                                             name);
                return s3b_error_set(err, -ENOENT, "no profile \"%.64s\"", name);
        }
        if (p.akid[0] || p.secret[0]) {
                if (!p.akid[0] || !p.secret[0])
                        return s3b_error_set(err, -EINVAL,
                                             "profile \"%.64s\": aws_access_key_id and aws_secret_access_key must both be set",
                                             name);
                r = aws_credentials_fill(&c, p.akid, p.secret, p.token, 0, "profile", err);
                if (r < 0)
                        return r;
                *ret = c;
                return 0;
        }
        if (p.unsupported)
                return s3b_error_set(err, -EOPNOTSUPP,
                                     "profile \"%.64s\" uses %s, which s3batchd does not support",
                                     name, p.unsupported);
        return s3b_error_set(err, -ENOENT, "profile \"%.64s\" has no keys", name);
}

int aws_profile_region(const AwsEnv *env, const char *profile, char ret[AWS_REGION_MAX + 1],
                       S3bError *err) {
        _cleanup_(profile_wipe) Profile p = {};
        const char *name;
        bool explicit;
        int r = profile_get(env, profile, &p, &name, &explicit, err);

        if (r < 0)
                return r;
        if (!p.region[0])
                return s3b_error_set(err, -ENOENT, "profile \"%.64s\" sets no region", name);
        memcpy(ret, p.region, sizeof(p.region));
        return 0;
}
