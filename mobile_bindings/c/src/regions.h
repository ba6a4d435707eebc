/* regions.h: the seven skin-region polygons from 68 landmarks, `facelite.regions` in C
 * (not installed). Every value is computed in float32 in numpy's order (Python floats
 * meeting float32 arrays are rounded to float32 first, as numpy 2 does). */
#ifndef FACELITE_SRC_REGIONS_H
#define FACELITE_SRC_REGIONS_H

#include <stddef.h>

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

#endif
