/* tool_one_euro.c: the C smoothing (one_euro.h) on numbers from stdin, for
 * tests/mobile_bindings/test_video_parity.py (not a ctest case).
 *
 *   tool_one_euro constants   print {"POINT_MIN_CUTOFF": ..., "POINT_BETA", "POINT_D_CUTOFF",
 *                             "SCORE_MIN_CUTOFF", "SCORE_BETA", "SCORE_D_CUTOFF", "MIN_SCALE"}
 *                             (the names of facelite.smoothing)
 *   tool_one_euro points      read lines "t x0 y0 ... x67 y67" (seconds, then one track's raw
 *                             points) and print each line's smoothed points (PointSmoother)
 *   tool_one_euro scores      read lines "t p0 p1 ..." (float32 probabilities) and print
 *                             "top s0 s1 ..." (ScoreSmoother)
 *
 * Numbers are printed with 17 significant digits (they read back bit for bit). Exit 0, or 2
 * for a usage error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "one_euro.h"

#define MAX_VALUES 256

/* One line of numbers into `values`; returns how many (-1 at the end of input). */
static int read_line(double *values)
{
    char line[16384];
    if (fgets(line, sizeof line, stdin) == NULL) return -1;
    int n = 0;
    char *p = line, *end;
    while (n < MAX_VALUES) {
        double v = strtod(p, &end);
        if (end == p) break;
        values[n++] = v;
        p = end;
    }
    return n;
}

static void print_values(const double *v, int n)
{
    for (int i = 0; i < n; i++) printf("%s%.17g", i ? " " : "", v[i]);
    printf("\n");
}

int main(int argc, char **argv)
{
    double in[MAX_VALUES], out[MAX_VALUES];
    int n;
    if (argc == 2 && strcmp(argv[1], "constants") == 0) {
        printf("{\"POINT_MIN_CUTOFF\": %.17g, \"POINT_BETA\": %.17g, \"POINT_D_CUTOFF\": %.17g, "
               "\"SCORE_MIN_CUTOFF\": %.17g, \"SCORE_BETA\": %.17g, \"SCORE_D_CUTOFF\": %.17g, \"MIN_SCALE\": %.17g}\n",
               FL_POINT_MIN_CUTOFF, FL_POINT_BETA, FL_POINT_D_CUTOFF, FL_SCORE_MIN_CUTOFF, FL_SCORE_BETA,
               FL_SCORE_D_CUTOFF, FL_SMOOTHING_MIN_SCALE);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "points") == 0) {
        fl_point_smoother smoother;
        fl_point_smoother_init(&smoother);
        while ((n = read_line(in)) >= 0) {
            if (n != 1 + 136) {
                fprintf(stderr, "error: a line of points has a time and 136 coordinates, not %d numbers\n", n);
                return 2;
            }
            fl_point_smoother_apply(&smoother, in + 1, in[0], out);
            print_values(out, 136);
        }
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "scores") == 0) {
        fl_one_euro filters[MAX_VALUES];
        float scores[MAX_VALUES];
        int count = -1;
        while ((n = read_line(in)) >= 0) {
            if (n < 2 || (count >= 0 && n - 1 != count)) {
                fprintf(stderr, "error: a line of scores has a time and the same number of scores each time\n");
                return 2;
            }
            if (count < 0) fl_one_euro_init(filters, (size_t)(count = n - 1), FL_SCORE_MIN_CUTOFF, FL_SCORE_BETA,
                                            FL_SCORE_D_CUTOFF);
            for (int i = 0; i < count; i++) scores[i] = (float)in[1 + i];
            out[0] = (double)fl_score_smooth(filters, (size_t)count, scores, in[0], out + 1);
            print_values(out, 1 + count);
        }
        return 0;
    }
    fprintf(stderr, "usage: tool_one_euro constants|points|scores (lines of numbers on stdin)\n");
    return 2;
}
