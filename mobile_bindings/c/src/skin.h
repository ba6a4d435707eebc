/* skin.h: a face's skin measures, `facelite.skin.skin_result` in C (not installed).
 *
 * `acne_severity` is the acne classifier's expected grade, sum of i * p_i over its labels
 * in order (0 = the first label). `redness` is "redness v1" (docs/skin.md): the mean
 * CIELAB a* over each region's pixels and over the union of the skin regions, every step
 * in double in the order the spec writes, so the Python reference's bits come out. */
#ifndef FACELITE_SRC_SKIN_H
#define FACELITE_SRC_SKIN_H

#include <stdint.h>

#include "facelite/analyzer.h"
#include "regions.h"

/** What redness needs between calls: the sRGB -> linear table and a region mask over the
 *  face's regions' bounding box (grown, never shrunk). */
typedef struct fl_redness {
    double linear[256];
    uint8_t *mask;
    size_t capacity;
} fl_redness;

/** Fill the table (docs/skin.md 2.1); the mask starts empty. */
void fl_redness_init(fl_redness *r);
void fl_redness_release(fl_redness *r);

/** a* of one 8-bit sRGB pixel (docs/skin.md 2.2-2.3). */
double fl_a_star(const fl_redness *r, uint8_t red, uint8_t green, uint8_t blue);

/** `skin.redness`: every region's mean a* into `out->region_redness` (fl_region_name
 *  order) and the skin regions' union's into `out->redness` (NaN where no pixel), for the
 *  packed polygons `regions` (fl_face_regions) on `image` (any pixel format). Fails only
 *  when the mask cannot grow (FL_ERR_NO_MEMORY). */
fl_status fl_face_redness(fl_redness *r, const fl_image *image, const float regions[2 * FL_REGION_POINTS_TOTAL],
                          fl_skin *out, fl_error *err);

/** `skin.acne_severity`: sum of i * p_i in double, in label order. */
double fl_acne_severity(const float *scores, size_t count);

/** The acne fields of `out` for a face whose acne classification is `acne` (NULL: no acne
 *  stage); the redness fields are left alone. */
void fl_skin_acne(const fl_classification *acne, fl_skin *out);

#endif
