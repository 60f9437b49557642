/* Small macros every module uses: scoped cleanup and ownership hand-off.
 *
 * A type X with `X *x_free(X *x)` (NULL-safe, returns NULL) declares
 * `DEFINE_CLEANUP_FUNC(X *, x_free)` in its header, so callers write
 * `_cleanup_(x_freep) X *x = NULL;` and an early return never leaks.
 * Hand a value on with `*ret = TAKE_PTR(x);`. */
#pragma once

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _unused_ __attribute__((unused))
#define _warn_unused_result_ __attribute__((warn_unused_result))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define DEFINE_CLEANUP_FUNC(type, func)                                                            \
        static inline void func##p(type *p) {                                                      \
                if (*p)                                                                            \
                        func(*p);                                                                  \
        }

/* Returns the pointer and clears the variable, so its cleanup no longer frees it. */
#define TAKE_PTR(p)                                                                                \
        ({                                                                                         \
                __typeof__(p) _p_ = (p);                                                           \
                (p) = NULL;                                                                        \
                _p_;                                                                               \
        })

static inline void freep(void *p) {
        free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd) {
        if (*fd >= 0)
                close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

/* Orders two byte strings like memcmp(), a shorter one first when it is the other's prefix:
 * the order of sort keys and set elements (common/ddbvalue.c, common/schema.c). */
static inline int memcmp_len(const void *a, size_t an, const void *b, size_t bn) {
        int d = memcmp(a, b, MIN(an, bn));

        return d ? d : (an > bn) - (an < bn);
}

/* A borrowed byte string. mem_span_cmp() is its qsort order (memcmp_len), also for an array of
 * structs whose first member is a MemSpan. */
typedef struct MemSpan {
        const char *p;
        size_t n;
} MemSpan;

static inline int mem_span_cmp(const void *a, const void *b) {
        const MemSpan *x = a, *y = b;

        return memcmp_len(x->p, x->n, y->p, y->n);
}

/* Compare without leaking timing, for secrets and MACs. */
static inline int memeq_ct(const void *a, const void *b, size_t n) {
        const unsigned char *x = a, *y = b;
        unsigned char d = 0;
        for (size_t i = 0; i < n; i++)
                d |= x[i] ^ y[i];
        return d == 0;
}
