/* regions.c: forehead, nose, cheeks, under-eye bands and chin as polygons (regions.h).
 *
 * The geometry and its reasons are facelite/regions.py's docstring; this file repeats
 * the arithmetic. A Python float `f` times a float32 vector is float32(f) times it in
 * float32 (numpy 2's rule for Python scalars); norms are float32 sqrt(x*x + y*y). */
#include <math.h>
#include <string.h>

#include "regions.h"

static const char *const NAMES[FL_REGION_COUNT] = {"forehead",       "nose",            "left_cheek", "right_cheek",
                                                   "left_under_eye", "right_under_eye", "chin"};
static const size_t COUNTS[FL_REGION_COUNT] = {20, 7, 10, 10, 8, 8, 10};

const char *fl_region_name(size_t index) { return index < FL_REGION_COUNT ? NAMES[index] : NULL; }

size_t fl_region_points(size_t index) { return index < FL_REGION_COUNT ? COUNTS[index] : 0; }

double fl_polygon_area(const float *xy, size_t n)
{
    double a = 0.0, b = 0.0;
    for (size_t i = 0; i < n; i++) {
        const size_t j = (i + 1) % n;
        a += (double)xy[2 * i] * (double)xy[2 * j + 1];
        b += (double)xy[2 * i + 1] * (double)xy[2 * j];
    }
    return 0.5 * fabs(a - b);
}

void fl_hidden_cheeks(const float regions[2 * FL_REGION_POINTS_TOTAL], int hidden[FL_REGION_COUNT])
{
    const size_t left_cheek = 2, right_cheek = 3; /* fl_region_name order */
    const double left = fl_polygon_area(regions + 2 * fl_region_offset(left_cheek), fl_region_points(left_cheek));
    const double right = fl_polygon_area(regions + 2 * fl_region_offset(right_cheek), fl_region_points(right_cheek));
    const double widest = right > left ? right : left;
    for (size_t r = 0; r < FL_REGION_COUNT; r++) hidden[r] = 0;
    hidden[left_cheek] = left < FL_CHEEK_VISIBLE_RATIO * widest;
    hidden[right_cheek] = right < FL_CHEEK_VISIBLE_RATIO * widest;
}

size_t fl_region_offset(size_t index)
{
    size_t offset = 0;
    for (size_t i = 0; i < index && i < FL_REGION_COUNT; i++) offset += COUNTS[i];
    return offset;
}

typedef struct vec {
    float x, y;
} vec;

static vec pt(const float *p, int i) { return (vec){p[2 * i], p[2 * i + 1]}; }
static vec add(vec a, vec b) { return (vec){a.x + b.x, a.y + b.y}; }
static vec sub(vec a, vec b) { return (vec){a.x - b.x, a.y - b.y}; }
static vec scale(vec a, float f) { return (vec){a.x * f, a.y * f}; }
static vec half(vec a) { return (vec){a.x / 2.0f, a.y / 2.0f}; }
static float norm(vec v) { return sqrtf(v.x * v.x + v.y * v.y); } /* np.linalg.norm of a float32 pair */

/* p[i] + f * (target - p[i]) */
static vec toward(const float *p, int i, vec target, double f)
{
    return add(pt(p, i), scale(sub(target, pt(p, i)), (float)f));
}

/* Mean of points first..last-1 in float32, summed in order (numpy's axis-0 mean). */
static vec mean(const float *p, int first, int last)
{
    vec s = pt(p, first);
    for (int i = first + 1; i < last; i++) s = add(s, pt(p, i));
    return (vec){s.x / (float)(last - first), s.y / (float)(last - first)};
}

/* The band under one eye: lid points (outer to inner corner) lifted by 0.08 eye widths,
 * then the same points in reverse lowered by 0.35 eye widths: 8 points. */
static void under_eye(const float *p, const int lid[4], vec up, vec *out)
{
    double eye_w = (double)norm(sub(pt(p, lid[0]), pt(p, lid[3])));
    vec lift = scale(up, (float)(0.08 * eye_w)), drop = scale(up, (float)(0.35 * eye_w));
    for (int k = 0; k < 4; k++) out[k] = sub(pt(p, lid[k]), lift);
    for (int k = 0; k < 4; k++) out[4 + k] = sub(out[3 - k], drop);
}

/* A cheek: the under-eye band's bottom edge (outer to inner), the nose side, the mouth
 * corner pulled 30% towards it, the jaw points pulled 25% towards the nose tip: 10 points. */
static void cheek(const float *p, const vec *under, int nose_side, int mouth_corner, const int jaw[4], vec *out)
{
    vec nose_tip = pt(p, 30);
    for (int k = 0; k < 4; k++) out[k] = under[7 - k];
    out[4] = pt(p, nose_side);
    out[5] = toward(p, mouth_corner, pt(p, nose_side), 0.3);
    for (int k = 0; k < 4; k++) out[6 + k] = toward(p, jaw[k], nose_tip, 0.25);
}

static float clip(float v, float hi)
{
    /* np.clip(v, 0, hi): NaN stays NaN */
    return v < 0.0f ? 0.0f : (v > hi ? hi : v);
}

void fl_face_regions(const float p[2 * FL_LANDMARK_COUNT], int width, int height, float out[2 * FL_REGION_POINTS_TOTAL])
{
    vec r[FL_REGION_POINTS_TOTAL];
    vec brow_centre = mean(p, 17, 27);
    vec v = sub(brow_centre, pt(p, 33));
    float n = norm(v);
    vec up = (double)n > 1e-6 ? (vec){v.x / n, v.y / n} : (vec){0.0f, -1.0f};
    double brow_to_nose = (double)n;
    vec nose_tip = pt(p, 30);

    vec *forehead = r + fl_region_offset(0);
    vec low = scale(up, (float)(0.12 * brow_to_nose)), high = scale(up, (float)(0.7 * brow_to_nose));
    for (int k = 0; k < 10; k++) forehead[k] = add(pt(p, 17 + k), low);
    for (int k = 0; k < 10; k++) forehead[10 + k] = add(pt(p, 26 - k), high);

    vec *nose = r + fl_region_offset(1);
    nose[0] = half(add(pt(p, 27), pt(p, 39)));
    for (int k = 0; k < 5; k++) nose[1 + k] = pt(p, 31 + k);
    nose[6] = half(add(pt(p, 27), pt(p, 42)));

    static const int right_lid[4] = {36, 41, 40, 39}, left_lid[4] = {45, 46, 47, 42};
    vec *left_under = r + fl_region_offset(4), *right_under = r + fl_region_offset(5);
    under_eye(p, right_lid, up, right_under);
    under_eye(p, left_lid, up, left_under);

    static const int right_jaw[4] = {4, 3, 2, 1}, left_jaw[4] = {12, 13, 14, 15};
    cheek(p, left_under, 35, 54, left_jaw, r + fl_region_offset(2));
    cheek(p, right_under, 31, 48, right_jaw, r + fl_region_offset(3));

    vec *chin = r + fl_region_offset(6);
    double lip_drop = 0.2 * (double)norm(sub(pt(p, 57), pt(p, 8)));
    vec lip = scale(up, (float)lip_drop);
    for (int k = 0; k < 5; k++) chin[k] = toward(p, 6 + k, nose_tip, 0.1);
    for (int k = 0; k < 5; k++) chin[5 + k] = sub(pt(p, 55 + k), lip);

    const float max_x = (float)(width - 1), max_y = (float)(height - 1);
    for (size_t i = 0; i < FL_REGION_POINTS_TOTAL; i++) {
        out[2 * i] = clip(r[i].x, max_x);
        out[2 * i + 1] = clip(r[i].y, max_y);
    }
}

/* -- pixels of a polygon (docs/skin.md section 1) ------------------------------------------ */

static int clamp_edge(double v, int limit) { return v < 0.0 ? 0 : v > (double)limit ? limit : (int)v; }

fl_pixel_box fl_polygon_box(const float *xy, size_t n, int width, int height)
{
    fl_pixel_box box = {0, 0, 0, 0};
    if (n < 3) return box;
    double min_x = INFINITY, max_x = -INFINITY, min_y = INFINITY, max_y = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double x = xy[2 * i], y = xy[2 * i + 1];
        if (!isfinite(x) || !isfinite(y)) return box;
        min_x = fmin(min_x, x), max_x = fmax(max_x, x);
        min_y = fmin(min_y, y), max_y = fmax(max_y, y);
    }
    box.x0 = clamp_edge(floor(min_x), width);
    box.x1 = clamp_edge(floor(max_x) + 1.0, width);
    box.y0 = clamp_edge(floor(min_y), height);
    box.y1 = clamp_edge(floor(max_y) + 1.0, height);
    return box;
}

/* Every edge crossing a row toggles `bit` in the pixels left of the crossing: an odd
 * number of toggles is the even-odd rule's "inside". */
void fl_polygon_rasterize(const float *xy, size_t n, fl_pixel_box box, uint8_t *mask, size_t stride, uint8_t bit)
{
    if (box.x1 <= box.x0 || box.y1 <= box.y0) return;
    size_t width = (size_t)(box.x1 - box.x0);
    for (int y = box.y0; y < box.y1; y++) {
        const double cy = (double)y + 0.5;
        uint8_t *row = mask + (size_t)(y - box.y0) * stride;
        for (size_t i = 0; i < n; i++) {
            const size_t j = i + 1 < n ? i + 1 : 0;
            const double ax = xy[2 * i], ay = xy[2 * i + 1], bx = xy[2 * j], by = xy[2 * j + 1];
            if ((ay > cy) == (by > cy)) continue;
            const double xc = ax + ((cy - ay) * (bx - ax)) / (by - ay);
            for (size_t c = 0; c < width; c++) {
                if ((double)box.x0 + (double)c + 0.5 < xc) row[c] ^= bit;
                else break; /* centres only grow along the row */
            }
        }
    }
}
