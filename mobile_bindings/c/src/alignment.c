/* alignment.c: eye centres, the similarity from the eyes, the aligned crop (alignment.h). */
#include <math.h>

#include "alignment.h"

#define EYE_LEFT_X 0.30
#define EYE_RIGHT_X 0.70
#define EYE_Y 0.38

/* numpy's mean over axis 0 of a few float32 rows: a float32 running sum, then one division. */
static void mean_points(const float *points, int first, int last, float out[2])
{
    for (int axis = 0; axis < 2; axis++) {
        float sum = points[2 * first + axis];
        for (int i = first + 1; i < last; i++) sum += points[2 * i + axis];
        out[axis] = sum / (float)(last - first);
    }
}

void fl_eye_centres(const float points[2 * FL_LANDMARK_COUNT], float left[2], float right[2])
{
    mean_points(points, 36, 42, left);
    mean_points(points, 42, 48, right);
}

void fl_similarity_from_eyes(const float left[2], const float right[2], int size, double m[6])
{
    const double src0[2] = {left[0], left[1]}, src1[2] = {right[0], right[1]};
    const double dst0[2] = {EYE_LEFT_X * size, EYE_Y * size}, dst1[2] = {EYE_RIGHT_X * size, EYE_Y * size};
    fl_similarity_between(src0, src1, dst0, dst1, m);
}

void fl_similarity_between(const double src0[2], const double src1[2], const double dst0[2], const double dst1[2],
                           double m[6])
{
    const double src0x = src0[0], src0y = src0[1], src1x = src1[0], src1y = src1[1];
    const double dst0x = dst0[0], dst0y = dst0[1], dst1x = dst1[0], dst1y = dst1[1];
    double dsx = src1x - src0x, dsy = src1y - src0y;
    const double ddx = dst1x - dst0x, ddy = dst1y - dst0y;
    double norm = hypot(dsx, dsy);
    if (norm < 1e-6) { /* degenerate eyes: identity scale about the point */
        dsx = 1.0;
        dsy = 0.0;
        norm = 1.0;
    }
    const double scale = hypot(ddx, ddy) / norm;
    const double angle = atan2(ddy, ddx) - atan2(dsy, dsx);
    const double c = scale * cos(angle), s = scale * sin(angle);
    m[0] = c;
    m[1] = -s;
    m[3] = s;
    m[4] = c;
    /* t = dst0 - rot @ src0: numpy's matmul (OpenBLAS dgemv) computes each row as
     * fma(rot[i][0], x, rot[i][1] * y), bit for bit on the reference machine. */
    m[2] = dst0x - fma(c, src0x, -s * src0y);
    m[5] = dst0y - fma(s, src0x, c * src0y);
}

fl_status fl_align_face(const fl_image *image, const float points[2 * FL_LANDMARK_COUNT], int size, uint8_t *dst,
                        double matrix[6], fl_error *err)
{
    float left[2], right[2];
    double m[6];
    fl_eye_centres(points, left, right);
    fl_similarity_from_eyes(left, right, size, m);
    if (matrix != NULL)
        for (int i = 0; i < 6; i++) matrix[i] = m[i];
    size_t stride = (size_t)size * (size_t)fl_pixel_format_channels(image->format);
    return fl_warp_affine(image, m, size, size, dst, stride, err);
}
