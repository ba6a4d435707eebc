/* quality.c: the capture quality gate (quality.h); reasons in facelite/quality.py. */
#include <math.h>

#include "quality.h"
#include "skin_measures.h"

/* The skin crop's eye places (`skin_measures.SKIN_EYES` x fractions) and side. */
#define SKIN_EYE_LEFT_X 0.36
#define SKIN_EYE_RIGHT_X 0.64
#define SKIN_CROP_SIZE FL_SKIN_CROP_SIZE
/* `quality.FRAME_MARGIN`: room the face needs around its landmarks. */
#define FRAME_MARGIN 0.05

/* What a failed check means for restoration (`quality.RESTORABLE_CHECKS`,
 * `quality.RESTORATION_TOLERATES`). */
enum { BLOCKS = 0, REPAIRED = 1, TOLERATED = 2 };

typedef struct rule {
    const char *code;
    double threshold;
    int at_least;
    int restoration; /* BLOCKS, REPAIRED or TOLERATED */
    const char *message;
} rule;

#define CROP_FACE_SCALE_PX ((SKIN_EYE_RIGHT_X - SKIN_EYE_LEFT_X) * SKIN_CROP_SIZE)

/* `quality.CHECK_RULES`, in fl_check_code order. */
static const rule RULES[FL_CHECK_COUNT] = {
    {"face_too_small", CROP_FACE_SCALE_PX / 2, 1, 0, "Move closer: your face is too small in the picture."},
    {"low_resolution", 64.0, 1, TOLERATED, "Move closer or use the main camera: your face has too few pixels."},
    {"head_turned", 25.0, 0, 0, "Look straight at the camera: your head is turned."},
    {"head_tilted", 28.0, 0, 0, "Hold your head level: don't tilt it sideways, up or down."},
    {"eyes_closed", 0.15, 1, 0, "Keep your eyes open."},
    {"occluded", 0.29, 0, 0, "Keep your whole face in the frame and uncovered (hair, hands, mask)."},
    {"blur", 9.6, 1, 0, "Hold still and let the camera focus on your face."},
    {"noisy", 3.3, 0, REPAIRED, "Add light: the picture is grainy."},
    {"underexposed", 0.001, 1, BLOCKS, "Face the light: your face is too dark."},
    {"overexposed", 0.6, 0, 0, "Move out of direct light: parts of your face are washed out."},
    {"colour_cast", 0.25, 0, 0, "Use daylight or white light: the light is strongly coloured."},
    {"uneven_light", 1.8, 0, 0, "Face the light so both sides of your face are lit evenly."},
};

static const char *const MEASURES[FL_CAPTURE_COUNT] = {
    "sharpness", "noise", "skin_lightness", "clipped_fraction", "dark_fraction", "cast", "light_asymmetry",
    "sclera_pixels", "bright_fraction"};

/* Image check -> the capture measure it reads (`quality.CAPTURE_CHECKS`). */
static const struct {
    fl_check_code check;
    fl_capture_measure measure;
} CAPTURE_CHECKS[] = {
    {FL_CHECK_BLUR, FL_CAPTURE_SHARPNESS},           {FL_CHECK_NOISY, FL_CAPTURE_NOISE},
    {FL_CHECK_UNDEREXPOSED, FL_CAPTURE_BRIGHT_FRACTION}, {FL_CHECK_OVEREXPOSED, FL_CAPTURE_CLIPPED_FRACTION},
    {FL_CHECK_COLOUR_CAST, FL_CAPTURE_CAST},         {FL_CHECK_UNEVEN_LIGHT, FL_CAPTURE_LIGHT_ASYMMETRY},
};

/* `quality.POSE_POINTS` and `quality.HEAD_MODEL` (scripts/make_head_model.py). */
#define POSE_COUNT 33
static const int POSE_POINTS[POSE_COUNT] = {17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33,
                                            34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 54};
static const double HEAD_MODEL[POSE_COUNT][3] = {
    {-0.9316, -0.3104, 0.3011},  {-0.7921, -0.4388, 0.1371},  {-0.5912, -0.4814, 0.0051},  {-0.3787, -0.4565, -0.0979},
    {-0.1829, -0.3779, -0.1647}, {0.1829, -0.3779, -0.1647},  {0.3787, -0.4565, -0.0979},  {0.5912, -0.4814, 0.0051},
    {0.7921, -0.4388, 0.1371},   {0.9316, -0.3104, 0.3011},   {0.0000, -0.1489, -0.1636},  {0.0000, 0.0388, -0.2595},
    {0.0000, 0.2240, -0.3659},   {0.0000, 0.4150, -0.4719},   {-0.2499, 0.5659, -0.1506},  {-0.1312, 0.6093, -0.2209},
    {0.0000, 0.6422, -0.2614},   {0.1312, 0.6093, -0.2209},   {0.2499, 0.5659, -0.1506},   {-0.7054, -0.1019, 0.1848},
    {-0.5740, -0.1658, 0.1079},  {-0.4273, -0.1660, 0.0846},  {-0.2855, -0.0806, 0.0966},  {-0.4301, -0.0597, 0.1019},
    {-0.5777, -0.0598, 0.1258},  {0.2855, -0.0806, 0.0966},   {0.4273, -0.1660, 0.0846},   {0.5740, -0.1658, 0.1079},
    {0.7054, -0.1019, 0.1848},   {0.5777, -0.0598, 0.1258},   {0.4301, -0.0597, 0.1019},   {-0.4607, 0.9381, 0.2503},
    {0.4607, 0.9381, 0.2503},
};

const char *fl_check_name(fl_check_code code) { return code < FL_CHECK_COUNT ? RULES[code].code : NULL; }
const char *fl_check_message(fl_check_code code) { return code < FL_CHECK_COUNT ? RULES[code].message : NULL; }
double fl_check_threshold(fl_check_code code) { return code < FL_CHECK_COUNT ? RULES[code].threshold : NAN; }
int fl_check_at_least(fl_check_code code) { return code < FL_CHECK_COUNT && RULES[code].at_least; }
int fl_check_restorable(fl_check_code code) { return code < FL_CHECK_COUNT && RULES[code].restoration == REPAIRED; }
int fl_check_restoration_tolerates(fl_check_code code)
{
    return code < FL_CHECK_COUNT && RULES[code].restoration == TOLERATED;
}
const char *fl_capture_measure_name(fl_capture_measure measure)
{
    return measure < FL_CAPTURE_COUNT ? MEASURES[measure] : NULL;
}

/* math.degrees: x * (180 / pi). */
static double degrees(double radians) { return radians * (180.0 / 3.14159265358979323846); }

/* v / sqrt(v . v); NaN components for a zero vector (as numpy's 0 / 0). */
static void unit(const double v[3], double out[3])
{
    const double n = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    for (int i = 0; i < 3; i++) out[i] = v[i] / n;
}

void fl_head_pose_estimate(const float points[2 * FL_LANDMARK_COUNT], fl_head_pose *out)
{
    double model[POSE_COUNT][3], mean_m[3] = {0, 0, 0}, mean_p[2] = {0, 0}, p[POSE_COUNT][2];
    for (int k = 0; k < POSE_COUNT; k++) {
        for (int a = 0; a < 3; a++) mean_m[a] += HEAD_MODEL[k][a];
        for (int a = 0; a < 2; a++) mean_p[a] += (double)points[2 * POSE_POINTS[k] + a];
    }
    for (int a = 0; a < 3; a++) mean_m[a] /= POSE_COUNT;
    for (int a = 0; a < 2; a++) mean_p[a] /= POSE_COUNT;
    for (int k = 0; k < POSE_COUNT; k++) {
        for (int a = 0; a < 3; a++) model[k][a] = HEAD_MODEL[k][a] - mean_m[a];
        for (int a = 0; a < 2; a++) p[k][a] = (double)points[2 * POSE_POINTS[k] + a] - mean_p[a];
    }
    /* Gram matrix XᵀX of the centred model and its inverse (adjugate over determinant). */
    double g[3][3], inv[3][3], xtp[3][2], rows[2][3];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double s = 0.0;
            for (int k = 0; k < POSE_COUNT; k++) s += model[k][i] * model[k][j];
            g[i][j] = s;
        }
    inv[0][0] = g[1][1] * g[2][2] - g[1][2] * g[2][1];
    inv[0][1] = g[0][2] * g[2][1] - g[0][1] * g[2][2];
    inv[0][2] = g[0][1] * g[1][2] - g[0][2] * g[1][1];
    inv[1][0] = g[1][2] * g[2][0] - g[1][0] * g[2][2];
    inv[1][1] = g[0][0] * g[2][2] - g[0][2] * g[2][0];
    inv[1][2] = g[0][2] * g[1][0] - g[0][0] * g[1][2];
    inv[2][0] = g[1][0] * g[2][1] - g[1][1] * g[2][0];
    inv[2][1] = g[0][1] * g[2][0] - g[0][0] * g[2][1];
    inv[2][2] = g[0][0] * g[1][1] - g[0][1] * g[1][0];
    const double det = g[0][0] * inv[0][0] + g[0][1] * inv[1][0] + g[0][2] * inv[2][0];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) inv[i][j] /= det;
    /* Aᵀ = (XᵀX)⁻¹ · (Xᵀ p): rows[r] = s · R[r]. */
    for (int i = 0; i < 3; i++)
        for (int a = 0; a < 2; a++) {
            double s = 0.0;
            for (int k = 0; k < POSE_COUNT; k++) s += model[k][i] * p[k][a];
            xtp[i][a] = s;
        }
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < 3; i++) rows[r][i] = inv[i][0] * xtp[0][r] + inv[i][1] * xtp[1][r] + inv[i][2] * xtp[2][r];
    /* The nearest orthonormal pair: normalise, then split the angle between the rows evenly. */
    double u1[3], u2[3], sum[3], diff[3], a[3], b[3], e1[3], e2[3];
    unit(rows[0], u1);
    unit(rows[1], u2);
    for (int i = 0; i < 3; i++) sum[i] = u1[i] + u2[i], diff[i] = u1[i] - u2[i];
    unit(sum, a);
    unit(diff, b);
    for (int i = 0; i < 3; i++) e1[i] = (a[i] + b[i]) / sqrt(2.0), e2[i] = (a[i] - b[i]) / sqrt(2.0);
    const double e3z = e1[0] * e2[1] - e1[1] * e2[0];
    /* The face's forward direction (the model's -z) in camera axes. */
    const double fx = -e1[2], fy = -e2[2], fz = -e3z;
    out->yaw = degrees(atan2(fx, -fz));
    out->pitch = degrees(atan2(-fy, hypot(fx, fz)));
    out->roll = degrees(atan2(e2[0], e1[0]));
}

double fl_face_scale(const float points[2 * FL_LANDMARK_COUNT])
{
    double m[6];
    fl_skin_crop_matrix(points, SKIN_CROP_SIZE, m);
    return CROP_FACE_SCALE_PX / hypot(m[0], m[3]);
}

static double dist(const float *points, int i, int j)
{
    return hypot((double)points[2 * i] - (double)points[2 * j], (double)points[2 * i + 1] - (double)points[2 * j + 1]);
}

static double eye_ratio(const float *p, int p1, int p2, int p3, int p4, int p5, int p6)
{
    const double width = dist(p, p1, p4);
    return width > 0 ? (dist(p, p2, p6) + dist(p, p3, p5)) / (2.0 * width) : 0.0;
}

double fl_eye_aspect_ratio(const float points[2 * FL_LANDMARK_COUNT])
{
    return (eye_ratio(points, 36, 37, 38, 39, 40, 41) + eye_ratio(points, 45, 44, 43, 42, 47, 46)) / 2.0;
}

double fl_face_unseen(const float points[2 * FL_LANDMARK_COUNT], const double *box, int width, int height)
{
    float minx = points[0], maxx = points[0], miny = points[1], maxy = points[1];
    for (int i = 1; i < FL_LANDMARK_COUNT; i++) {
        minx = fminf(minx, points[2 * i]), maxx = fmaxf(maxx, points[2 * i]);
        miny = fminf(miny, points[2 * i + 1]), maxy = fmaxf(maxy, points[2 * i + 1]);
    }
    /* datasets.extent_box: (x, y, w, h), and grown by FRAME_MARGIN of its size per side */
    const double x = minx, y = miny, w = (double)maxx - minx, h = (double)maxy - miny;
    if (!(w * h > 0)) return 1.0;
    const double gx = x - FRAME_MARGIN * w, gy = y - FRAME_MARGIN * h;
    const double gw = w * (1 + 2 * FRAME_MARGIN), gh = h * (1 + 2 * FRAME_MARGIN);
    const double inside_w = fmax(0.0, fmin(gx + gw, (double)width) - fmax(gx, 0.0));
    const double inside_h = fmax(0.0, fmin(gy + gh, (double)height) - fmax(gy, 0.0));
    double unseen = 1.0 - inside_w * inside_h / (gw * gh);
    if (box != NULL) {
        const double ix = fmax(0.0, fmin(x + w, box[0] + box[2]) - fmax(x, box[0]));
        const double iy = fmax(0.0, fmin(y + h, box[1] + box[3]) - fmax(y, box[1]));
        const double uni = w * h + box[2] * box[3] - ix * iy;
        unseen += uni > 0 ? 1.0 - ix * iy / uni : 1.0;
    }
    return unseen;
}

static int passes(fl_check_code code, double value)
{
    if (!isfinite(value)) return 0;
    return RULES[code].at_least ? value >= RULES[code].threshold : value <= RULES[code].threshold;
}

void fl_assess_capture(const float points[2 * FL_LANDMARK_COUNT], const double *box, int width, int height,
                       const fl_capture *capture, fl_capture_quality *out)
{
    double values[FL_CHECK_COUNT];
    int ran[FL_CHECK_COUNT] = {0};
    fl_head_pose_estimate(points, &out->pose);
    const double scale = fl_face_scale(points);
    values[FL_CHECK_FACE_TOO_SMALL] = scale;
    values[FL_CHECK_LOW_RESOLUTION] = scale;
    values[FL_CHECK_HEAD_TURNED] = fabs(out->pose.yaw);
    values[FL_CHECK_HEAD_TILTED] = isfinite(out->pose.pitch + out->pose.roll)
                                       ? fmax(fabs(out->pose.pitch), fabs(out->pose.roll))
                                       : NAN;
    values[FL_CHECK_EYES_CLOSED] = fl_eye_aspect_ratio(points);
    values[FL_CHECK_OCCLUDED] = fl_face_unseen(points, box, width, height);
    for (int c = FL_CHECK_FACE_TOO_SMALL; c <= FL_CHECK_OCCLUDED; c++) ran[c] = 1;
    if (capture != NULL)
        for (size_t i = 0; i < sizeof CAPTURE_CHECKS / sizeof CAPTURE_CHECKS[0]; i++)
            if (capture->present & (1u << CAPTURE_CHECKS[i].measure)) {
                values[CAPTURE_CHECKS[i].check] = capture->values[CAPTURE_CHECKS[i].measure];
                ran[CAPTURE_CHECKS[i].check] = 1;
            }
    int failed = 0, repaired = 0, blocking = 0;
    out->count = 0;
    for (int c = 0; c < FL_CHECK_COUNT; c++) {
        if (!ran[c]) continue;
        fl_quality_check *check = &out->checks[out->count++];
        check->code = (fl_check_code)c;
        check->passed = passes((fl_check_code)c, values[c]);
        check->value = isfinite(values[c]) ? values[c] : NAN;
        check->threshold = RULES[c].threshold;
        if (!check->passed) {
            failed++;
            repaired += RULES[c].restoration == REPAIRED;
            blocking += RULES[c].restoration == BLOCKS;
        }
    }
    out->reliable = failed == 0;
    out->restorable = repaired > 0 && blocking == 0;
}
