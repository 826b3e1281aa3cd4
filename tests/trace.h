/* tests/trace.h - what the plain trace programs (tests/trace_*.c, compared line by line with
 * their Node.js twins in tests/js/) share: a check that counts failures without printing
 * on stdout (the program exits non-zero when one failed, which fails the comparison), and
 * the line printer. No Criterion: these are programs with their own main. */
#ifndef VOW_TEST_TRACE_H
#define VOW_TEST_TRACE_H

#include <stdio.h>

static int failures;

/* A call answered something unexpected: say where on stderr, count it. */
#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: unexpected: %s\n", __FILE__, __LINE__, #cond);                 \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static inline void log_line(const char *s) { printf("%s\n", s); }

#endif /* VOW_TEST_TRACE_H */
