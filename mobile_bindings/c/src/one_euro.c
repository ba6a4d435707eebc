/* one_euro.c: the One Euro filter (one_euro.h), docs/video.md's formula in its order. */
#include <math.h>

#include "one_euro.h"

#define PI 3.14159265358979323846 /* math.pi */

void fl_one_euro_init(fl_one_euro *f, size_t count, double min_cutoff, double beta, double d_cutoff)
{
    for (size_t i = 0; i < count; i++) {
        fl_one_euro one = {min_cutoff, beta, d_cutoff, 0, 0.0, 0.0, 0.0};
        f[i] = one;
    }
}

/* `smoothing.alpha`: 1 / (1 + 1 / (2π · cutoff · dt)), left to right. */
static double alpha(double cutoff, double dt)
{
    return 1.0 / (1.0 + 1.0 / (2.0 * PI * cutoff * dt));
}

void fl_one_euro_filter(fl_one_euro *filters, size_t count, double *values, double t)
{
    for (size_t i = 0; i < count; i++) {
        fl_one_euro *f = &filters[i];
        const double x = values[i];
        if (!f->started) {
            f->started = 1, f->t_prev = t, f->x_prev = x, f->dx_prev = 0.0;
            continue;
        }
        const double dt = t - f->t_prev;
        const double a_d = alpha(f->d_cutoff, dt);
        const double dx = (x - f->x_prev) / dt;
        const double dx_hat = a_d * dx + (1.0 - a_d) * f->dx_prev;
        const double cutoff = f->min_cutoff + f->beta * fabs(dx_hat);
        const double a = alpha(cutoff, dt);
        const double x_hat = a * x + (1.0 - a) * f->x_prev;
        f->t_prev = t, f->x_prev = x_hat, f->dx_prev = dx_hat;
        values[i] = x_hat;
    }
}

double fl_interocular_distance(const double p[136])
{
    double left[2] = {0.0, 0.0}, right[2] = {0.0, 0.0};
    for (int k = 0; k < 6; k++) { /* summed in point order, then / 6 */
        left[0] += p[2 * (36 + k)], left[1] += p[2 * (36 + k) + 1];
        right[0] += p[2 * (42 + k)], right[1] += p[2 * (42 + k) + 1];
    }
    const double dx = right[0] / 6.0 - left[0] / 6.0, dy = right[1] / 6.0 - left[1] / 6.0;
    return sqrt(dx * dx + dy * dy);
}

void fl_point_smoother_init(fl_point_smoother *s)
{
    s->has_scale = 0;
    s->scale = 0.0;
    fl_one_euro_init(s->filters, 136, FL_POINT_MIN_CUTOFF, FL_POINT_BETA, FL_POINT_D_CUTOFF);
}

void fl_point_smoother_apply(fl_point_smoother *s, const double raw[136], double t, double out[136])
{
    if (!s->has_scale) {
        const double iod = fl_interocular_distance(raw);
        s->scale = FL_SMOOTHING_MIN_SCALE > iod ? FL_SMOOTHING_MIN_SCALE : iod; /* Python's max(iod, MIN_SCALE) */
        s->has_scale = 1;
    }
    for (int i = 0; i < 136; i++) out[i] = raw[i] / s->scale;
    fl_one_euro_filter(s->filters, 136, out, t);
    for (int i = 0; i < 136; i++) out[i] = out[i] * s->scale;
}

size_t fl_score_smooth(fl_one_euro *filters, size_t count, const float *scores, double t, double *out)
{
    size_t best = 0;
    for (size_t i = 0; i < count; i++) out[i] = (double)scores[i];
    fl_one_euro_filter(filters, count, out, t);
    for (size_t i = 1; i < count; i++) /* np.argmax: the first of equal maxima */
        if (out[i] > out[best]) best = i;
    return best;
}
