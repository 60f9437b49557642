#include <errno.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/pattern.h"

/* What glibc says, the reference. */
static int reference(const char *re, const char *s) {
        regex_t r;
        int m;

        if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB) != 0)
                return -1;
        m = regexec(&r, s, 0, NULL, 0) == 0;
        regfree(&r);
        return m;
}

static void agree(const char *re, const char *s) {
        Pattern *p = NULL;
        int want = reference(re, s), got;

        if (want < 0) {
                assert_int_equal(pattern_new(re, &p, NULL, 0), -EINVAL);
                return;
        }
        assert_int_equal(pattern_new(re, &p, NULL, 0), 0);
        got = pattern_match(p, s, strlen(s));
        if (got != want)
                fail_msg("pattern /%s/ on \"%s\": fast=%d says %d, regexec says %d", re, s,
                         pattern_is_fast(p), got, want);
        pattern_free(p);
}

static void test_examples(void **state) {
        static const struct {
                const char *re;
                bool fast;
                const char *yes[4], *no[4];
        } cases[] = {
                { "^A[0-9]{5}$", true, { "A00001", "A99999" }, { "A0001", "A000011", "xA00001", "" } },
                { "[0-9]{3}", true, { "123", "a1234b" }, { "12", "1a2b3" } },
                { "^[^@ ]+@[^@ ]+\\.[a-z]{2,}$", true, { "a@b.io", "first.last@x.co.uk" },
                  { "a@b", "a b@c.io", "@b.io", "a@b.c" } },
                { "^(CS|MATH)[0-9]+$", false, { "CS101", "MATH200" }, { "PHYS1", "CS" } },
                { "^[[:alpha:]]+$", false, { "abc" }, { "ab1" } },
                { "^x*y?z+$", true, { "z", "xxyzz", "yz" }, { "xy", "", "yyz" } },
                { "^a.c$", true, { "abc", "a.c", "axc" }, { "ac", "abbc" } },
                { "^\\.\\*$", true, { ".*" }, { "ab" } },
                { "^[]a-]{2}$", true, { "]-", "aa" }, { "b]", "]" } },
                { "^$", true, { "" }, { "a" } },
                { "", true, { "", "anything" }, { NULL } },
                { "^a{0}b$", true, { "b" }, { "ab" } },
                { "^a{2,}$", true, { "aa", "aaaaa" }, { "a", "" } },
                { "^[a-z]{0,40}!$", true, { "!", "abc!" }, { "ABC!", "abc" } },
                { "\\w+", false, { "abc" }, { "!!" } },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Pattern *p = NULL;

                assert_int_equal(pattern_new(cases[i].re, &p, NULL, 0), 0);
                if (pattern_is_fast(p) != cases[i].fast)
                        fail_msg("/%s/ fast=%d", cases[i].re, pattern_is_fast(p));
                for (size_t k = 0; k < 4 && cases[i].yes[k]; k++) {
                        assert_int_equal(pattern_match(p, cases[i].yes[k], strlen(cases[i].yes[k])), 1);
                        agree(cases[i].re, cases[i].yes[k]);
                }
                for (size_t k = 0; k < 4 && cases[i].no[k]; k++) {
                        assert_int_equal(pattern_match(p, cases[i].no[k], strlen(cases[i].no[k])), 0);
                        agree(cases[i].re, cases[i].no[k]);
                }
                pattern_free(p);
        }
}

static void test_invalid(void **state) {
        Pattern *p = NULL;
        char msg[128] = "";

        assert_int_equal(pattern_new("A[0-9", &p, msg, sizeof(msg)), -EINVAL);
        assert_true(strlen(msg) > 0);
        assert_int_equal(pattern_new("a{3,1}", &p, NULL, 0), -EINVAL);
        assert_null(p);
}

/* Values longer than the pattern, bounds not crossing a 64-bit word, and a value that is
 * not NUL-terminated: only n bytes are read. */
static void test_bounds(void **state) {
        Pattern *p = NULL;
        char buf[8] = { 'A', '0', '0', '0', '0', '1', 'x', 'x' };

        assert_int_equal(pattern_new("^A[0-9]{5}$", &p, NULL, 0), 0);
        assert_int_equal(pattern_match(p, buf, 6), 1);
        assert_int_equal(pattern_match(p, buf, 7), 0);
        pattern_free(p);
        assert_int_equal(pattern_new("^a{63}$", &p, NULL, 0), 0);
        assert_true(pattern_is_fast(p));
        pattern_free(p);
        assert_int_equal(pattern_new("^a{64}$", &p, NULL, 0), 0);
        assert_false(pattern_is_fast(p));          /* too many positions: regexec */
        pattern_free(p);
}

/* Random patterns from the fast subset and around it, random values: always the same verdict
 * as regexec(). */
static void test_differential(void **state) {
        static const char *const atoms[] = {
                "a", "b", "c", ".", "[ab]", "[^a]", "[a-c]", "[]a]", "[^]b]", "\\.", "-", "0",
                "[0-9]", "[a-]", "x", "(a|b)", "[[:digit:]]", "\\w",
        };
        static const char *const quants[] = { "", "", "", "*", "+", "?", "{2}", "{0,2}", "{1,}", "{0}", "{3,5}" };
        static const char alphabet[] = "abc.-0x9]";
        unsigned seed = 1129;
        size_t checked = 0, fast = 0;

        for (int round = 0; round < 3000; round++) {
                char re[256] = "", s[32];
                size_t n_atoms = (size_t) rand_r(&seed) % 6, len;
                Pattern *p = NULL;
                regex_t ref;

                if (rand_r(&seed) % 2)
                        strcat(re, "^");
                for (size_t k = 0; k < n_atoms; k++) {
                        strcat(re, atoms[rand_r(&seed) % ELEMENTSOF(atoms)]);
                        strcat(re, quants[rand_r(&seed) % ELEMENTSOF(quants)]);
                }
                if (rand_r(&seed) % 2)
                        strcat(re, "$");
                /* compiled once per pattern, checked on a dozen values */
                if (regcomp(&ref, re, REG_EXTENDED | REG_NOSUB) != 0) {
                        assert_int_equal(pattern_new(re, &p, NULL, 0), -EINVAL);
                        continue;
                }
                assert_int_equal(pattern_new(re, &p, NULL, 0), 0);
                for (int v = 0; v < 12; v++) {
                        int want, got;

                        len = (size_t) rand_r(&seed) % 10;
                        for (size_t i = 0; i < len; i++)
                                s[i] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
                        s[len] = '\0';
                        want = regexec(&ref, s, 0, NULL, 0) == 0;
                        got = pattern_match(p, s, len);
                        if (got != want)
                                fail_msg("pattern /%s/ on \"%s\": fast=%d says %d, regexec says %d", re, s,
                                         pattern_is_fast(p), got, want);
                        checked++;
                }
                fast += pattern_is_fast(p);
                pattern_free(p);
                regfree(&ref);
        }
        /* most patterns must exercise the fast matcher, or the test proves nothing */
        assert_true(checked > 20000);
        assert_true(fast > 1000);
}

/* The anchored loop without skippable positions (the schemas' usual ^...$ and ^... shapes,
 * unrolled by two): patterns of literals, classes, + and {n} / {n,} only, values of every
 * length up to 24 so both the pairs and the odd tail run, always regexec()'s verdict. */
static void test_differential_anchored(void **state) {
        static const char *const atoms[] = {
                "O", "a", "@", "\\.", "[0-9]", "[^@ ]", "[a-z]", ".", "[a.@]",
        };
        static const char *const quants[] = { "", "", "+", "{2}", "{3}", "{1,}", "{2,}" };
        static const char alphabet[] = "Oa@. 05z";
        unsigned seed = 4711;
        size_t checked = 0, matched = 0;

        for (int round = 0; round < 2000; round++) {
                char re[256] = "^", s[32];
                size_t n_atoms = 1 + (size_t) rand_r(&seed) % 5;
                Pattern *p = NULL;
                regex_t ref;

                for (size_t k = 0; k < n_atoms; k++) {
                        strcat(re, atoms[rand_r(&seed) % ELEMENTSOF(atoms)]);
                        strcat(re, quants[rand_r(&seed) % ELEMENTSOF(quants)]);
                }
                if (rand_r(&seed) % 4)
                        strcat(re, "$");
                assert_int_equal(regcomp(&ref, re, REG_EXTENDED | REG_NOSUB), 0);
                assert_int_equal(pattern_new(re, &p, NULL, 0), 0);
                assert_true(pattern_is_fast(p));
                for (int v = 0; v < 16; v++) {
                        size_t len = (size_t) rand_r(&seed) % 25;
                        int want, got;

                        /* half the values built from the pattern's own bytes, so some match */
                        for (size_t i = 0; i < len; i++)
                                s[i] = v % 2 ? alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)]
                                             : "O0a@."[rand_r(&seed) % 5];
                        s[len] = '\0';
                        want = regexec(&ref, s, 0, NULL, 0) == 0;
                        got = pattern_match(p, s, len);
                        if (got != want)
                                fail_msg("pattern /%s/ on \"%s\": says %d, regexec says %d", re, s, got, want);
                        checked++;
                        matched += (size_t) want;
                }
                pattern_free(p);
                regfree(&ref);
        }
        /* both verdicts, many times, or the test proves nothing */
        assert_true(checked > 30000);
        assert_true(matched > 1000 && matched < checked - 1000);
}

/* pattern_match_excludes_nul(): where it says so, no value with a NUL matches (schema.c then
 * looks for the NUL only after a no-match), whatever the pattern's classes; elsewhere false. */
static void test_excludes_nul(void **state) {
        static const char *const atoms[] = { "a", ".", "[^a]", "[^]]", "[a-z]", "\\.", "0" };
        static const char *const quants[] = { "", "+", "*", "?", "{2}", "{0,3}" };
        static const char *const no[] = { "a", "^a", "a$", "^(a|b)$", "^[[:alpha:]]$", "" };
        unsigned seed = 99;
        size_t nul_values = 0;

        for (size_t i = 0; i < ELEMENTSOF(no); i++) {
                Pattern *p = NULL;

                assert_int_equal(pattern_new(no[i], &p, NULL, 0), 0);
                assert_false(pattern_match_excludes_nul(p));
                pattern_free(p);
        }
        for (int round = 0; round < 1000; round++) {
                char re[128] = "^", s[16];
                size_t n_atoms = 1 + (size_t) rand_r(&seed) % 4;
                Pattern *p = NULL;

                for (size_t k = 0; k < n_atoms; k++) {
                        strcat(re, atoms[rand_r(&seed) % ELEMENTSOF(atoms)]);
                        strcat(re, quants[rand_r(&seed) % ELEMENTSOF(quants)]);
                }
                strcat(re, "$");
                assert_int_equal(pattern_new(re, &p, NULL, 0), 0);
                assert_true(pattern_match_excludes_nul(p));
                for (int v = 0; v < 8; v++) {
                        size_t len = 1 + (size_t) rand_r(&seed) % 8;

                        for (size_t i = 0; i < len; i++)
                                s[i] = "a0.z]"[rand_r(&seed) % 5];
                        s[rand_r(&seed) % len] = '\0';
                        if (pattern_match(p, s, len) != 0)
                                fail_msg("/%s/ matches a value with a NUL (%zu bytes)", re, len);
                        nul_values++;
                }
                pattern_free(p);
        }
        assert_true(nul_values == 8000);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_examples),
                cmocka_unit_test(test_invalid),
                cmocka_unit_test(test_bounds),
                cmocka_unit_test(test_differential),
                cmocka_unit_test(test_differential_anchored),
                cmocka_unit_test(test_excludes_nul),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
