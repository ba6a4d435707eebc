/* tasks.c: the rules a loaded model must meet for its bundle's task, checked once it is loaded.
 *
 * The C twin of `facelite.tasks.require_engine`: what no manifest schema can say because it
 * needs the model itself — a classifier gives one score per label, a landmarks model 136
 * values, a detector's outputs can be told apart, an image_to_image model an output.scale x
 * image (restoration.c), a skin_metrics model the values its manifest lays out (skin_measures.c). The runner and the analyzer both call it,
 * so a re-signed bundle with a shortened label list is refused the same way everywhere.
 */
#include "facelite/facelite.h"

#include "classification.h"
#include "detection.h"
#include "landmarks.h"
#include "restoration.h"
#include "skin_measures.h"

FL_API fl_status fl_model_check_task(const fl_bundle *bundle, const fl_model *model, fl_error *err)
{
    switch (fl_bundle_task(bundle)) {
    case FL_TASK_CLASSIFICATION:
        return fl_classification_check(bundle, model, err);
    case FL_TASK_LANDMARKS:
        return fl_landmarks_check(bundle, model, err);
    case FL_TASK_DETECTION: {
        fl_detection_decoder decoder;
        fl_status status = fl_detection_decoder_init(&decoder, bundle, model, -1.0, 1, err);
        if (status == FL_OK) fl_detection_decoder_free(&decoder);
        return status;
    }
    case FL_TASK_IMAGE_TO_IMAGE:
        return fl_restoration_check(bundle, model, err);
    case FL_TASK_SKIN_METRICS:
        return fl_skin_metrics_check(bundle, model, err);
    }
    return FL_OK;
}
