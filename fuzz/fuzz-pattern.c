/* Differential fuzz target for common/pattern: the input is "REGEX\0VALUE". Whenever glibc's
 * regcomp() accepts the regex, pattern_new() must too, and pattern_match() must give
 * regexec()'s verdict on the value — the bit-parallel fast path may never disagree. */
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pattern.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const uint8_t *nul = memchr(data, '\0', size);
        char re[65], *value;
        size_t re_len, value_len;
        Pattern *p = NULL;
        regex_t ref;
        int want, got;

        if (!nul || (re_len = (size_t) (nul - data)) >= sizeof(re))
                return 0;
        /* nested big intervals make regcomp() itself explode; not what this target is about */
        if (memchr(data, '(', re_len) && memchr(data, '{', re_len))
                return 0;
        memcpy(re, data, re_len);
        re[re_len] = '\0';
        /* stacked quantifiers (a+++..., a{9}{9}) send glibc itself into exponential time; the
         * fast path leaves them to regexec() anyway */
        for (size_t i = 1; i < re_len; i++)
                if (strchr("*+?{", re[i]) && strchr("*+?}", re[i - 1]))
                        return 0;
        /* so do big interval bounds, which regcomp() expands: {2,4444} */
        for (size_t i = 0; i < re_len; i++)
                if ((re[i] == '{' || re[i] == ',') && strtol(re + i + 1, NULL, 10) > 64)
                        return 0;
        value_len = size - re_len - 1;
        if (memchr(nul + 1, '\0', value_len))
                return 0;       /* the schema rejects values with NUL before matching */
        value = malloc(value_len + 1);
        if (!value)
                return 0;
        memcpy(value, nul + 1, value_len);
        value[value_len] = '\0';

        if (regcomp(&ref, re, REG_EXTENDED | REG_NOSUB) != 0) {
                if (pattern_new(re, &p, NULL, 0) >= 0)
                        abort();        /* accepted what regcomp refuses */
                free(value);
                return 0;
        }
        if (pattern_new(re, &p, NULL, 0) < 0)
                abort();
        want = regexec(&ref, value, 0, NULL, 0) == 0;
        got = pattern_match(p, value, value_len);
        if (got != want) {
                fprintf(stderr, "/%s/ on \"%s\": pattern_match %d (fast %d), regexec %d\n", re, value,
                        got, pattern_is_fast(p), want);
                abort();
        }
        pattern_free(p);
        regfree(&ref);
        free(value);
        return 0;
}
