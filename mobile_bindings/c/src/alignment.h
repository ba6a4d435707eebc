/* alignment.h: eye alignment, the C twin of `facelite.align` (not installed).
 *
 * A similarity transform (rotation, scale, shift; no shear) putting the eye centres at
 * (0.30, 0.38) and (0.70, 0.38) of a size x size crop, computed in double as numpy does,
 * from eye centres averaged in float32 as numpy does; the crop is resampled with
 * `fl_warp_affine` (docs/preprocessing.md step 3.4). */
#ifndef FACELITE_SRC_ALIGNMENT_H
#define FACELITE_SRC_ALIGNMENT_H

#include "facelite/analyzer.h"
#include "facelite/preprocess.h"

/** `align.eye_centres`: (image-left eye, image-right eye) centres, means of iBUG points
 *  36-41 and 42-47 in float32. */
void fl_eye_centres(const float points[2 * FL_LANDMARK_COUNT], float left[2], float right[2]);

/** `align.similarity_from_eyes`: the 2x3 row-major matrix taking the eye centres to their
 *  places in a size x size crop. */
void fl_similarity_from_eyes(const float left[2], const float right[2], int size, double matrix[6]);

/** `align.similarity_from_eyes` with any places: the 2x3 similarity taking `src0`, `src1`
 *  to `dst0`, `dst1` (pixels), as numpy computes it; the skin crop's framing
 *  (skin_measures.c) passes its own places. */
void fl_similarity_between(const double src0[2], const double src1[2], const double dst0[2], const double dst1[2],
                           double matrix[6]);

/** `align.align_face`: the size x size aligned crop of the face whose landmarks are
 *  `points`, with `image`'s channels, into `dst` (rows `size * channels` bytes); the
 *  matrix used goes to `matrix` when not NULL. */
fl_status fl_align_face(const fl_image *image, const float points[2 * FL_LANDMARK_COUNT], int size, uint8_t *dst,
                        double matrix[6], fl_error *err);

#endif
