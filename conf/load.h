/* Internal to conf/: the pieces of the YAML → Config mapping shared by config.c (top level,
 * AWS, queue, locations, notify, cross-checks) and pipeline.c (pipelines, CSV, columns, key).
 *
 * Every load_get_* helper (one key of a mapping) reports its own problem at the offending node, as
 * "PATH: message" where PATH is the dotted location ("pipelines[0].csv.delimiter"), and
 * returns false, so callers simply go on to the next key: one run reports everything.
 * Out-parameters are left untouched on failure, so defaults survive. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "conf/check.h"
#include "conf/config.h"
#include "conf/diag.h"
#include "conf/ytree.h"

#define LOAD_PATH_MAX 192
#define LOAD_STRING_MAX 4096    /* longest plain string setting; keys/prefixes are ≤ 1024 */

typedef struct Loader {
        DiagList diag;
        bool oom;
} Loader;

typedef const char *(*CheckFn)(const char *s, char why[static CHECK_WHY_MAX]);

void load_report(Loader *ld, const YNode *n, const char *path, const char *fmt, ...)
        _printf_(4, 5);
void load_warn(Loader *ld, const YNode *n, const char *path, const char *fmt, ...) _printf_(4, 5);
char *load_strdup(Loader *ld, const char *s);

const char *load_join(char buf[static LOAD_PATH_MAX], const char *base, const char *key);
const char *load_index(char buf[static LOAD_PATH_MAX], const char *base, size_t i);

bool load_expect(Loader *ld, const YNode *v, const char *path, YNodeType type);
void load_check_keys(Loader *ld, const YNode *map, const char *path, const char *const *known);
const YNode *load_field(Loader *ld, const YNode *map, const char *path, const char *key,
                        bool required);
const char *load_scalar(Loader *ld, const YNode *v, const char *path);

bool load_get_string(Loader *ld, const YNode *map, const char *path, const char *key, bool required,
                     size_t max, CheckFn check, char **out);
bool load_get_u64(Loader *ld, const YNode *map, const char *path, const char *key, uint64_t min,
                  uint64_t max, uint64_t *out);
bool load_get_unsigned(Loader *ld, const YNode *map, const char *path, const char *key, unsigned min,
                       unsigned max, unsigned *out);
bool load_get_bool(Loader *ld, const YNode *map, const char *path, const char *key, bool *out);
bool load_get_double(Loader *ld, const YNode *map, const char *path, const char *key, double *out);
/* names is NULL-terminated; *out is the index of the match */
bool load_get_choice(Loader *ld, const YNode *map, const char *path, const char *key,
                     const char *const *names, int *out);
bool load_choice(Loader *ld, const YNode *v, const char *path, const char *const *names,
                 int *out);

void load_pipelines(Loader *ld, const YNode *root, Config *c);
