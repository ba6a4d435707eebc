/* skin.c: the per-face skin analysis (skin.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "clock.h"
#include "regions.h"
#include "skin.h"
#include "status.h"

static fl_status reserve(fl_skin_analyzer *s, size_t count, int size, fl_error *err)
{
    const size_t crop = (size_t)size * (size_t)size * 4;
    if (!fl_buffer_reserve((void **)&s->slots, &s->slots_capacity, count * sizeof *s->slots) ||
        !fl_buffer_reserve((void **)&s->crops, &s->crops_capacity, count * crop))
        return fl_fail(err, FL_ERR_NO_MEMORY, "out of memory for %zu faces' skin crops", count);
    return FL_OK;
}

void fl_skin_analyzer_release(fl_skin_analyzer *s)
{
    free(s->slots);
    free(s->crops);
    s->slots = NULL, s->crops = NULL;
    s->slots_capacity = s->crops_capacity = 0;
}

/* Face i's crop, in the pixel format of its slot. */
static fl_image crop_image(const fl_skin_analyzer *s, size_t i, int size)
{
    const size_t bytes = (size_t)size * (size_t)size * 4;
    const fl_pixel_format format = s->slots[i].format;
    fl_image image = {s->crops + i * bytes, size, size, (size_t)size * (size_t)fl_pixel_format_channels(format), format};
    return image;
}

static fl_status measure(fl_skin_analyzer *s, size_t i, int size, fl_error *err)
{
    fl_image crop = crop_image(s, i, size);
    return fl_skin_measure_crop(s->measurer, crop.pixels, crop.format, s->slots[i].points, &s->slots[i].raw, err);
}

/* `quality.assess_capture` with the face's capture measures (matched by name). */
static void assess(const fl_skin_face *face, const fl_raw_skin *raw, int width, int height, fl_capture_quality *out)
{
    fl_capture capture = {{0}, 0};
    for (int k = 0; k < FL_CAPTURE_COUNT; k++) {
        for (size_t j = 0; j < FL_SKIN_CAPTURE_COUNT; j++) {
            if (strcmp(fl_capture_measure_name((fl_capture_measure)k), fl_skin_capture_name(j)) != 0) continue;
            capture.values[k] = raw->capture[j];
            capture.present |= 1u << k;
        }
    }
    fl_assess_capture(face->points, face->box, width, height, &capture, out);
}

/* `SkinAnalyzer._restore`: the faces whose slot says `restored`, restored (`fl_restore_face`),
 * measured and gated again; the restored report is reliable only when it passes every check
 * (`low_resolution` is a property of the photo, which restoration does not change). */
static fl_status restore(fl_skin_analyzer *s, const fl_image *image, fl_skin_face *faces, size_t count, int size,
                         fl_error *err)
{
    for (size_t i = 0; i < count; i++) {
        if (!s->slots[i].restored) continue;
        fl_skin_slot *slot = &s->slots[i];
        slot->format = FL_PIXELS_BGR;
        fl_image to = crop_image(s, i, size);
        fl_status st = fl_restore_face(s->restorer, image, faces[i].points, size, (uint8_t *)to.pixels, to.stride,
                                       slot->points, err);
        if (st != FL_OK) return st;
    }
    for (size_t i = 0; i < count; i++) {
        fl_skin_slot *slot = &s->slots[i];
        if (!slot->restored) continue;
        fl_status st = measure(s, i, size, err);
        if (st != FL_OK) return st;
        assess(&faces[i], &slot->raw, image->width, image->height, &slot->quality);
    }
    return FL_OK;
}

fl_status fl_skin_analyze_faces(fl_skin_analyzer *s, const fl_image *image, fl_skin_face *faces, size_t count,
                                fl_scratch *scratch, fl_timings *t, fl_error *err)
{
    double *stages[] = {&t->skin_crop_ms, &t->skin_measures_ms, &t->quality_ms, &t->restoration_ms, &t->acne_ms};
    for (size_t k = 0; k < sizeof stages / sizeof stages[0]; k++) *stages[k] = NAN;
    t->skin_ms = 0.0;
    if (count == 0) return FL_OK;
    const int size = fl_skin_measurer_size(s->measurer);
    fl_status st = reserve(s, count, size, err);
    if (st != FL_OK) return st;

    double t0 = fl_now_ms();
    for (size_t i = 0; i < count && st == FL_OK; i++) {
        double matrix[6];
        s->slots[i].format = image->format;
        s->slots[i].restored = 0;
        fl_image crop = crop_image(s, i, size);
        st = fl_skin_crop(image, faces[i].points, size, (uint8_t *)crop.pixels, matrix, s->slots[i].points, err);
    }
    t->skin_crop_ms = fl_now_ms() - t0;
    if (st != FL_OK) return st;

    t0 = fl_now_ms();
    for (size_t i = 0; i < count && st == FL_OK; i++) st = measure(s, i, size, err);
    t->skin_measures_ms = fl_now_ms() - t0;
    if (st != FL_OK) return st;

    t0 = fl_now_ms();
    int any_restored = 0;
    for (size_t i = 0; i < count; i++) {
        fl_skin_slot *slot = &s->slots[i];
        assess(&faces[i], &slot->raw, image->width, image->height, &slot->quality);
        slot->restored = s->restorer != NULL && slot->quality.restorable;
        any_restored |= slot->restored;
    }
    t->quality_ms = fl_now_ms() - t0;

    if (any_restored) {
        t0 = fl_now_ms();
        if ((st = restore(s, image, faces, count, size, err)) != FL_OK) return st;
        t->restoration_ms = fl_now_ms() - t0;
    }

    if (s->acne.model != NULL) {
        t0 = fl_now_ms();
        for (size_t i = 0; i < count && st == FL_OK; i++) {
            fl_image crop = crop_image(s, i, size);
            st = fl_acne_grade_crop(&s->acne, &crop, s->slots[i].points, scratch, faces[i].acne, err);
            for (size_t k = 0; st == FL_OK && k < s->acne.labels; k++)
                faces[i].acne_scores[k] = (float)s->acne.combined[k];
        }
        t->acne_ms = fl_now_ms() - t0;
        if (st != FL_OK) return st;
    }

    for (size_t i = 0; i < count; i++) {
        const char *models[2 * FL_SKIN_MODEL_MAX];
        size_t n = 0;
        models[2 * n] = s->measurer_name, models[2 * n + 1] = s->measurer_version, n++;
        if (s->acne.model != NULL) models[2 * n] = s->acne_name, models[2 * n + 1] = s->acne_version, n++;
        const fl_skin_slot *slot = &s->slots[i];
        if (slot->restored) models[2 * n] = s->restorer_name, models[2 * n + 1] = s->restorer_version, n++;
        float regions[2 * FL_REGION_POINTS_TOTAL];
        int hidden[FL_REGION_COUNT];
        fl_face_regions(slot->points, size, size, regions);
        fl_hidden_cheeks(regions, hidden);
        fl_skin_report_build(&s->scores, &slot->raw, &slot->quality, s->acne.model ? faces[i].acne : NULL, models, n,
                             slot->restored, hidden, faces[i].report);
    }
    for (size_t k = 0; k < sizeof stages / sizeof stages[0]; k++)
        if (!isnan(*stages[k])) t->skin_ms += *stages[k];
    return fl_ok(err);
}

/* Row `row`'s measure called `name` (`REGION_MEASURES`), NaN when the row has none. */
static double measure_named(const fl_raw_skin *raw, size_t row, const char *name)
{
    for (size_t k = 0; k < FL_SKIN_MEASURE_COUNT; k++)
        if (strcmp(fl_skin_measure_name(k), name) == 0) return raw->regions[row][k];
    return NAN;
}

/* `measured(row)` of `build_report`: the row has pixels. */
static int measured(const fl_raw_skin *raw, size_t row)
{
    return measure_named(raw, row, "pixels") > 0.0;
}

/* The measures a score reads, of row `row` of the raw measures. */
static fl_scored_measures scored(const fl_raw_skin *raw, size_t row)
{
    fl_scored_measures out = {
        measure_named(raw, row, "redness"),      measure_named(raw, row, "spot_fraction"),
        measure_named(raw, row, "spot_contrast"), measure_named(raw, row, "lightness_sd"),
        measure_named(raw, row, "b_star_sd"),     measure_named(raw, row, "texture"),
        measure_named(raw, row, "shine"),
    };
    return out;
}

void fl_skin_report_build(const fl_score_table *table, const fl_raw_skin *raw, const fl_capture_quality *quality,
                          const fl_acne_grade *acne, const char *const *models, size_t model_count, int restored,
                          const int *hidden, fl_skin_report *out)
{
    memset(out, 0, sizeof *out);
    out->reliable = quality->reliable;
    out->restored = restored;
    out->check_count = quality->count < FL_SKIN_CHECK_MAX ? quality->count : FL_SKIN_CHECK_MAX;
    for (size_t k = 0; k < out->check_count; k++) {
        const fl_quality_check *c = &quality->checks[k];
        fl_skin_check *o = &out->checks[k];
        o->code = fl_check_name(c->code);
        o->passed = c->passed;
        o->value = c->value;
        o->threshold = c->threshold;
        o->message = fl_check_message(c->code);
    }
    const fl_scored_measures none = {NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    const int face_measured = measured(raw, FL_SKIN_FACE_ROW);
    fl_scored_measures face = face_measured ? scored(raw, FL_SKIN_FACE_ROW) : none;
    fl_region_scores(table, FL_SKIN_FACE_REGION, &face, acne ? acne->severity : NAN, out->face);
    for (size_t r = 0; r < FL_REGION_COUNT; r++) {
        out->region_measured[r] = measured(raw, r) && !(hidden && hidden[r]);
        if (!out->region_measured[r]) continue;
        fl_scored_measures m = scored(raw, r);
        fl_region_scores(table, r, &m, acne && acne->has_region[r] ? acne->per_region[r] : NAN, out->regions[r]);
    }
    out->has_tone = face_measured && isfinite(raw->tone_ita);
    out->ita_deg = out->has_tone ? raw->tone_ita : NAN;
    out->tone = out->has_tone ? fl_ita_category(raw->tone_ita) : NULL;
    out->lighting_count = FL_SKIN_LIGHTING_COUNT < FL_SKIN_LIGHTING_MAX ? FL_SKIN_LIGHTING_COUNT : FL_SKIN_LIGHTING_MAX;
    for (size_t k = 0; k < out->lighting_count; k++) {
        out->lighting_names[k] = fl_skin_lighting_name(k);
        out->lighting[k] = raw->lighting[k];
    }
    out->model_count = model_count < FL_SKIN_MODEL_MAX ? model_count : FL_SKIN_MODEL_MAX;
    for (size_t k = 0; k < out->model_count; k++) {
        out->model_names[k] = models[2 * k];
        out->model_versions[k] = models[2 * k + 1];
    }
}
