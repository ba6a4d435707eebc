/* clock.h: milliseconds on the monotonic clock, for the pipeline's per-stage timings (not
 * installed). */
#ifndef FACELITE_SRC_CLOCK_H
#define FACELITE_SRC_CLOCK_H

#include <time.h>

static inline double fl_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1e6;
}

#endif
