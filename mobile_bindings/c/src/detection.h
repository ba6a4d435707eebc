/* detection.h: face boxes from a heatmap detection bundle (not installed).
 *
 * The C twin of `facelite.detection` (heatmap decoding, NMS, the box margin) and of
 * `facelite.tasks.DetectionTask`/`HeatmapDecoder` (which output plays which role, the
 * manifest's operating point, mapping boxes back to the image). Boxes are doubles, as
 * Python's floats; heatmap values are float32, as numpy's. */
#ifndef FACELITE_SRC_DETECTION_H
#define FACELITE_SRC_DETECTION_H

#include <stddef.h>

#include "facelite/analyzer.h"
#include "facelite/facelite.h"
#include "facelite/preprocess.h"

/** Channel roles of a packed output without `output.channels` (`tasks.PACKED_CHANNELS`). */
enum { FL_CH_HEATMAP = 0, FL_CH_SIZE_W, FL_CH_SIZE_H, FL_CH_OFFSET_X, FL_CH_OFFSET_Y, FL_CH_COUNT };

/** How one detection bundle's outputs become boxes (`tasks.HeatmapDecoder`). */
typedef struct fl_detection_decoder {
    int packed;               /* 1: one (Hs, Ws, C) output whose channels have roles */
    size_t packed_output;     /* its index */
    int packed_channels;      /* its C */
    int channel[FL_CH_COUNT]; /* packed: channel of each role, -1 when absent */
    size_t heatmap_output, size_output, offset_output; /* separate outputs */
    int has_offset;
    int grid_w, grid_h; /* heatmap cells */
    int stride;         /* input pixels per cell */
    int input_w, input_h;
    int logits;              /* output.heatmap_activation == "logits": apply the sigmoid */
    double score_threshold;  /* as Python's float ... */
    float score_threshold32; /* ... and as numpy compares it with float32 heatmaps */
    double iou_threshold;
    double containment_threshold; /* output.containment_threshold; 0 when absent: NMS by IoU only */
    size_t max_boxes;
    double box_margin; /* output.box_margin: removed by fl_box_to_extent */
    fl_box *candidates; /* grid_w * grid_h, reused */
} fl_detection_decoder;

/** The decoder of `bundle` run by `model` (`DetectionTask.decoder` with its
 *  `output_roles`): `min_score` < 0 takes the operating point of the model's variant
 *  (output.score_threshold_by_variant[variant], else output.score_threshold, else 0.5),
 *  output.iou_threshold (else 0.4) and output.containment_threshold (else none: 0).
 *  FL_ERR_BUNDLE_INVALID when the outputs' roles cannot
 *  be told apart or their shapes do not fit. Free with `fl_detection_decoder_free`. */
fl_status fl_detection_decoder_init(fl_detection_decoder *d, const fl_bundle *bundle, const fl_model *model,
                                    double min_score, size_t max_boxes, fl_error *err);
void fl_detection_decoder_free(fl_detection_decoder *d);

/** The last invoke's outputs -> boxes in model-input pixels, best first, after NMS, at
 *  most d->max_boxes of them in `out` (which holds that many); returns how many. */
size_t fl_detection_decode(fl_detection_decoder *d, fl_model *model, fl_box *out);

/** `detection.decode_heatmap` over plain arrays (Hs x Ws heatmap, Hs x Ws x 2 sizes and
 *  optional offsets, each element `*_step` floats apart, rows `grid_w` elements long):
 *  candidates (grid_w * grid_h of them) are the local maxima above the threshold; the
 *  boxes kept by NMS go to `out` (at most max_boxes). */
size_t fl_decode_heatmap(const float *heat, size_t heat_step, const float *size_w, const float *size_h,
                         size_t size_step, const float *offset_x, const float *offset_y, size_t offset_step,
                         int grid_w, int grid_h, int stride, int input_w, int input_h, int logits,
                         float score_threshold, double iou_threshold, double containment_threshold,
                         size_t max_boxes, fl_box *candidates, fl_box *out);

/** `metrics.iou`: intersection over union (0 when the union is empty). */
double fl_box_iou(const fl_box *a, const fl_box *b);

/** `detection.containment`: the share of the smaller box's area inside the other (0 when either is empty). */
double fl_box_containment(const fl_box *a, const fl_box *b);

/** `detection.nms`: sort `boxes` by score, best first (stably: ties keep their order),
 *  then keep each box overlapping no kept one by more than `iou_threshold` and, when
 *  `containment_threshold` > 0, with less than that share of the smaller of the two
 *  inside the other; at most `max_boxes`, copied to `out`. Returns how many were kept. */
size_t fl_nms(fl_box *boxes, size_t n, double iou_threshold, double containment_threshold, size_t max_boxes,
              fl_box *out);

/** `HeatmapDecoder.to_image`: model-input boxes -> image boxes through `placement`,
 *  boxes under the score threshold dropped, clipped to the image, slivers (<= 1 px)
 *  dropped, at most d->max_boxes; in place, returns how many remain. */
size_t fl_detection_to_image(const fl_detection_decoder *d, const fl_placement *placement, int width, int height,
                             fl_box *boxes, size_t n);

/** `Box.clipped`: the part of `box` inside a width x height image. */
fl_box fl_box_clipped(fl_box box, int width, int height);

/** `detection.box_to_extent`: undo a detector's training margin (a box grown by `margin`
 *  per side -> the inner box). */
fl_box fl_box_to_extent(fl_box box, double margin);

#endif
