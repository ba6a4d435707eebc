/* regions.h: the seven skin-region polygons from 68 landmarks, `facelite.regions` in C
 * (not installed). Every value is computed in float32 in numpy's order (Python floats
 * meeting float32 arrays are rounded to float32 first, as numpy 2 does), and their pixels
 * by the rasterization rule of docs/skin.md (as `facelite.regions.region_mask`). */
#ifndef FACELITE_SRC_REGIONS_H
#define FACELITE_SRC_REGIONS_H

#include <stddef.h>
#include <stdint.h>

#include "facelite/analyzer.h"

/** Points of every region together (20 + 7 + 10 + 10 + 8 + 8 + 10). */
#define FL_REGION_POINTS_TOTAL 73

/** Region `index`'s first point in the packed layout and its point count. */
size_t fl_region_offset(size_t index);
size_t fl_region_points(size_t index);

/** `regions.face_regions(points, (width, height))`: every region's polygon, packed in
 *  `fl_region_name` order into `out` (FL_REGION_POINTS_TOTAL (x, y) pairs), clipped to
 *  [0, width - 1] x [0, height - 1]. */
void fl_face_regions(const float points[2 * FL_LANDMARK_COUNT], int width, int height,
                     float out[2 * FL_REGION_POINTS_TOTAL]);

/** `regions.CHEEK_VISIBLE_RATIO`: a cheek under this share of the other's area is hidden. */
#define FL_CHEEK_VISIBLE_RATIO 0.4

/** `regions.polygon_area`: the shoelace formula in double over the float32 vertices. */
double fl_polygon_area(const float *xy, size_t n);

/** `regions.hidden_cheeks` over packed `fl_face_regions` output: `hidden[r]` is 1 for a
 *  cheek whose area is under FL_CHEEK_VISIBLE_RATIO x the other cheek's, else 0. */
void fl_hidden_cheeks(const float regions[2 * FL_REGION_POINTS_TOTAL], int hidden[FL_REGION_COUNT]);

/** A polygon's pixel bounding box clipped to the image, [x0, x1) x [y0, y1)
 *  (docs/skin.md 1.2); empty (x1 <= x0 or y1 <= y0) for fewer than 3 vertices or a
 *  non-finite one. */
typedef struct fl_pixel_box {
    int x0, y0, x1, y1;
} fl_pixel_box;

fl_pixel_box fl_polygon_box(const float *xy, size_t n, int width, int height);

/** Rasterize the polygon `xy` (n (x, y) pairs) by docs/skin.md 1.1 over `box` (from
 *  `fl_polygon_box` or a larger box) into `mask[(y - box.y0) * stride + (x - box.x0)]`:
 *  `bit`, clear beforehand, ends set exactly in the pixels inside (each crossing edge
 *  toggles it left of the crossing); the other bits are left alone. */
void fl_polygon_rasterize(const float *xy, size_t n, fl_pixel_box box, uint8_t *mask, size_t stride, uint8_t bit);

#endif
