/* check.h: the assertions of libfacelite's C tests (not a test itself: only test_*.c are). */
#ifndef FACELITE_TESTS_CHECK_H
#define FACELITE_TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "facelite/facelite.h"

static int check_failures = 0;

#define CHECK(cond, ...)                                                                        \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            check_failures++;                                                                   \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);            \
            fprintf(stderr, __VA_ARGS__);                                                       \
            fputc('\n', stderr);                                                                \
        }                                                                                       \
    } while (0)

/* 1 when `needle` is NULL or inside `message`. */
static inline int mentions(const char *message, const char *needle)
{
    return needle == NULL || strstr(message, needle) != NULL;
}

/* `st` is `want` and, when `needle` is not NULL, err's message contains it. */
#define CHECK_STATUS(st, want, err, needle)                                                     \
    CHECK((st) == (want) && mentions((err)->message, (needle)),                                 \
          "got %s (%s), wanted %s%s%s", fl_status_name(st), (err)->message, fl_status_name(want), \
          (needle) ? " with " : "", (needle) ? (const char *)(needle) : "")

static inline int check_done(const char *name)
{
    if (check_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
        return 1;
    }
    printf("%s: ok\n", name);
    return 0;
}

/* The repository root: $FACELITE_REPO, else the source dir CMake compiled in. */
static inline const char *repo_root(void)
{
    const char *env = getenv("FACELITE_REPO");
    return env && *env ? env : FACELITE_SOURCE_DIR;
}

/* A whole file in a new buffer (NULL on failure). */
static inline unsigned char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = n > 0 ? malloc((size_t)n) : NULL;
    if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
        free(data);
        data = NULL;
    }
    fclose(f);
    *size = data ? (size_t)n : 0;
    return data;
}

#endif
