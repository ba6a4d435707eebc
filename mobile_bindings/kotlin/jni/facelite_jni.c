/*
 * facelite_jni.c: the JNI glue between the Kotlin core (`facelite.Native`) and libfacelite.
 *
 * Why this shape: crossing JNI is slow per call and per object, so the glue never builds
 * Kotlin objects. It runs the C analyzer and hands back flat primitive arrays (boxes,
 * points, scores) that `facelite.FaceLite` assembles into data classes. The result stays
 * in the C analyzer between `analyze` and those reads; `FaceLite` serialises the calls.
 * Errors become `facelite.FaceLiteException(status, message)` with the C core's message.
 *
 * Build (host; the tests do this with the JDK's headers):
 *   cc -shared -fPIC -std=c11 -Wall -Wextra -Werror -I$JAVA_HOME/include -I$JAVA_HOME/include/linux \
 *      -Imobile_bindings/c/include mobile_bindings/kotlin/jni/facelite_jni.c -Lbuild -lfacelite \
 *      -o libfacelite_jni.so
 * Android: the same file in the app's CMake (see mobile_bindings/kotlin/android/README.md).
 */
#include <jni.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "facelite/analyzer.h"

typedef struct jni_analyzer {
    fl_analyzer *analyzer;
    const fl_result *result; /* the last analysis (owned by the analyzer) */
} jni_analyzer;

static jni_analyzer *from_handle(jlong handle) { return (jni_analyzer *)(intptr_t)handle; }

/* Throw facelite.FaceLiteException(status name, message). */
static void throw_error(JNIEnv *env, const char *status, const char *message)
{
    jclass cls = (*env)->FindClass(env, "facelite/FaceLiteException");
    if (cls == NULL) return; /* NoClassDefFoundError pending */
    jmethodID init = (*env)->GetMethodID(env, cls, "<init>", "(Ljava/lang/String;Ljava/lang/String;)V");
    jstring s = (*env)->NewStringUTF(env, status), m = (*env)->NewStringUTF(env, message);
    if (init != NULL && s != NULL && m != NULL) {
        jobject e = (*env)->NewObject(env, cls, init, s, m);
        if (e != NULL) (*env)->Throw(env, (jthrowable)e);
    }
}

static void throw_status(JNIEnv *env, const fl_error *err)
{
    throw_error(env, fl_status_name(err->code), err->message);
}

/* A Java string as modified UTF-8 (NULL for null); release with release_chars. */
static const char *chars(JNIEnv *env, jstring s) { return s ? (*env)->GetStringUTFChars(env, s, NULL) : NULL; }

static void release_chars(JNIEnv *env, jstring s, const char *c)
{
    if (s != NULL && c != NULL) (*env)->ReleaseStringUTFChars(env, s, c);
}

static jni_analyzer *checked(JNIEnv *env, jlong handle, int need_result)
{
    jni_analyzer *j = from_handle(handle);
    if (j == NULL || j->analyzer == NULL) {
        throw_error(env, "invalid_argument", "the FaceLite instance is closed");
        return NULL;
    }
    if (need_result && j->result == NULL) {
        throw_error(env, "invalid_argument", "no analysis yet: call analyze first");
        return NULL;
    }
    return j;
}

JNIEXPORT jlong JNICALL Java_facelite_Native_create(JNIEnv *env, jclass cls, jstring bundles_dir, jobjectArray paths,
                                                    jstring variant, jint accelerator, jint threads,
                                                    jdouble min_face_score, jint max_faces, jboolean skin,
                                                    jboolean restore, jint running_mode, jint detect_every,
                                                    jint expression_every, jint skin_every, jboolean smoothing)
{
    (void)cls;
    fl_analyzer_options o;
    fl_error err;
    jstring path_strings[FL_STAGE_COUNT] = {NULL};
    fl_analyzer_options_init(&o);
    o.bundles_dir = chars(env, bundles_dir);
    o.variant = chars(env, variant);
    o.accelerator = (fl_accelerator)accelerator;
    o.threads = threads;
    o.min_face_score = min_face_score;
    o.max_faces = max_faces;
    o.skin = skin == JNI_TRUE;
    o.restore = restore == JNI_TRUE;
    o.running_mode = (fl_running_mode)running_mode;
    o.detect_every_n_frames = detect_every;
    o.expression_every_n_frames = expression_every;
    o.skin_every_n_frames = skin_every;
    o.smoothing = smoothing == JNI_TRUE;
    jsize n = paths ? (*env)->GetArrayLength(env, paths) : 0;
    for (jsize i = 0; i < n && i < FL_STAGE_COUNT; i++) {
        path_strings[i] = (jstring)(*env)->GetObjectArrayElement(env, paths, i);
        o.bundle_paths[i] = chars(env, path_strings[i]);
    }
    jni_analyzer *j = calloc(1, sizeof *j);
    fl_status st = FL_ERR_NO_MEMORY;
    if (j == NULL)
        throw_error(env, "no_memory", "out of memory creating a FaceLite instance");
    else if ((st = fl_analyzer_create(&o, &j->analyzer, &err)) != FL_OK)
        throw_status(env, &err);
    release_chars(env, bundles_dir, o.bundles_dir);
    release_chars(env, variant, o.variant);
    for (int i = 0; i < FL_STAGE_COUNT; i++) release_chars(env, path_strings[i], o.bundle_paths[i]);
    if (st != FL_OK) {
        free(j);
        return 0;
    }
    return (jlong)(intptr_t)j;
}

JNIEXPORT void JNICALL Java_facelite_Native_destroy(JNIEnv *env, jclass cls, jlong handle)
{
    (void)env, (void)cls;
    jni_analyzer *j = from_handle(handle);
    if (j == NULL) return;
    fl_analyzer_destroy(j->analyzer);
    free(j);
}

JNIEXPORT jstring JNICALL Java_facelite_Native_stage(JNIEnv *env, jclass cls, jlong handle, jint stage)
{
    (void)cls;
    jni_analyzer *j = checked(env, handle, 0);
    const char *name = j ? fl_analyzer_stage(j->analyzer, (fl_stage)stage) : NULL;
    return name ? (*env)->NewStringUTF(env, name) : NULL;
}

/* The model info of a stage: {variant, accelerator, fallback reason} or null when skipped. */
JNIEXPORT jobjectArray JNICALL Java_facelite_Native_engine(JNIEnv *env, jclass cls, jlong handle, jint stage)
{
    (void)cls;
    jni_analyzer *j = checked(env, handle, 0);
    const fl_model_info *info = j ? fl_analyzer_model_info(j->analyzer, (fl_stage)stage) : NULL;
    if (info == NULL) return NULL;
    jclass string = (*env)->FindClass(env, "java/lang/String");
    jobjectArray out = string ? (*env)->NewObjectArray(env, 3, string, NULL) : NULL;
    if (out == NULL) return NULL;
    (*env)->SetObjectArrayElement(env, out, 0, (*env)->NewStringUTF(env, info->variant));
    (*env)->SetObjectArrayElement(env, out, 1, (*env)->NewStringUTF(env, fl_accelerator_name(info->accelerator)));
    if (info->fallback_reason)
        (*env)->SetObjectArrayElement(env, out, 2, (*env)->NewStringUTF(env, info->fallback_reason));
    return out;
}

/* What an analyze call returns: the number of faces, or -1 with the C core's error thrown. */
static jint faces_found(JNIEnv *env, const jni_analyzer *j, fl_status st, const fl_error *err)
{
    if (st != FL_OK) {
        throw_status(env, err);
        return -1;
    }
    return (jint)fl_result_face_count(j->result);
}

/* Analyse pixels from a direct ByteBuffer (`buffer`) or a byte array (`array`), from `offset`:
 * `fl_analyze`, or with `video` the next frame of the clip at `timestamp_ms`. */
JNIEXPORT jint JNICALL Java_facelite_Native_analyzePixels(JNIEnv *env, jclass cls, jlong handle, jobject buffer,
                                                          jbyteArray array, jint offset, jint width, jint height,
                                                          jint row_stride, jint format, jboolean video,
                                                          jlong timestamp_ms)
{
    (void)cls;
    jni_analyzer *j = checked(env, handle, 0);
    if (j == NULL) return -1;
    j->result = NULL;
    uint8_t *base = NULL;
    size_t available = 0;
    if (buffer != NULL) {
        base = (*env)->GetDirectBufferAddress(env, buffer);
        jlong capacity = (*env)->GetDirectBufferCapacity(env, buffer);
        available = capacity > 0 ? (size_t)capacity : 0;
    } else if (array != NULL) {
        available = (size_t)(*env)->GetArrayLength(env, array);
        base = (*env)->GetPrimitiveArrayCritical(env, array, NULL);
    }
    fl_error err;
    fl_status st;
    if (base == NULL) {
        throw_error(env, "invalid_argument", "pixels: pass a direct ByteBuffer or one backed by an array");
        return -1;
    }
    int channels = fl_pixel_format_channels((fl_pixel_format)format);
    size_t need = height > 0 && width > 0 && channels > 0
                      ? (size_t)(height - 1) * (size_t)row_stride + (size_t)width * (size_t)channels
                      : 0;
    if (offset < 0 || row_stride < 0 || need == 0 || (size_t)offset > available || need > available - (size_t)offset) {
        st = FL_ERR_INVALID_ARGUMENT;
        err.code = st;
        snprintf(err.message, sizeof err.message,
                 "pixels: %dx%d %s with a %d-byte row stride need %zu bytes from offset %d; the buffer holds %zu",
                 width, height, fl_pixel_format_name((fl_pixel_format)format), row_stride, need, offset, available);
    } else {
        fl_image image = {base + offset, width, height, (size_t)row_stride, (fl_pixel_format)format};
        st = video ? fl_analyze_video_frame(j->analyzer, &image, timestamp_ms, &j->result, &err)
                   : fl_analyze(j->analyzer, &image, &j->result, &err);
    }
    if (array != NULL) (*env)->ReleasePrimitiveArrayCritical(env, array, base, JNI_ABORT);
    return faces_found(env, j, st, &err);
}

/* `fl_analyze_file`, or with `video` `fl_analyze_video_frame_file` at `timestamp_ms`. */
JNIEXPORT jint JNICALL Java_facelite_Native_analyzeFile(JNIEnv *env, jclass cls, jlong handle, jstring path,
                                                        jboolean video, jlong timestamp_ms)
{
    (void)cls;
    jni_analyzer *j = checked(env, handle, 0);
    if (j == NULL) return -1;
    j->result = NULL;
    fl_error err;
    const char *p = chars(env, path);
    fl_status st = video ? fl_analyze_video_frame_file(j->analyzer, p, timestamp_ms, &j->result, &err)
                         : fl_analyze_file(j->analyzer, p, &j->result, &err);
    release_chars(env, path, p);
    return faces_found(env, j, st, &err);
}

/* A new clip (`fl_analyzer_reset`): the last result is gone with the tracks. */
JNIEXPORT void JNICALL Java_facelite_Native_reset(JNIEnv *env, jclass cls, jlong handle)
{
    (void)cls;
    jni_analyzer *j = checked(env, handle, 0);
    if (j == NULL) return;
    fl_analyzer_reset(j->analyzer);
    j->result = NULL;
}

/* Decode a JPEG/PNG file with the C core's decoder: BGR bytes, size[0] = width, size[1] = height. */
JNIEXPORT jbyteArray JNICALL Java_facelite_Native_decode(JNIEnv *env, jclass cls, jstring path, jintArray size)
{
    (void)cls;
    fl_decoded_image img;
    fl_error err;
    fl_decoded_image_init(&img);
    const char *p = chars(env, path);
    fl_status st = fl_image_load(p, &img, &err);
    release_chars(env, path, p);
    if (st != FL_OK) {
        throw_status(env, &err);
        return NULL;
    }
    size_t bytes = (size_t)img.image.width * (size_t)img.image.height * 3;
    jbyteArray out = bytes <= INT32_MAX ? (*env)->NewByteArray(env, (jsize)bytes) : NULL;
    if (out != NULL) {
        jint wh[2] = {img.image.width, img.image.height};
        (*env)->SetByteArrayRegion(env, out, 0, (jsize)bytes, (const jbyte *)img.image.pixels);
        (*env)->SetIntArrayRegion(env, size, 0, 2, wh);
    } else if (!(*env)->ExceptionCheck(env)) {
        throw_error(env, "no_memory", "the decoded image does not fit a Java byte array");
    }
    fl_decoded_image_release(&img);
    return out;
}

JNIEXPORT jintArray JNICALL Java_facelite_Native_imageSize(JNIEnv *env, jclass cls, jlong handle)
{
    (void)cls;
    jni_analyzer *j = checked(env, handle, 1);
    if (j == NULL) return NULL;
    jint wh[2] = {fl_result_image_width(j->result), fl_result_image_height(j->result)};
    jintArray out = (*env)->NewIntArray(env, 2);
    if (out) (*env)->SetIntArrayRegion(env, out, 0, 2, wh);
    return out;
}

/* VIDEO: the frame's timestamp, then each face's track id; null for an image. */
JNIEXPORT jlongArray JNICALL Java_facelite_Native_video(JNIEnv *env, jclass cls, jlong handle)
{
    (void)cls;
    jni_analyzer *j = checked(env, handle, 1);
    int64_t timestamp_ms;
    if (j == NULL || !fl_result_timestamp_ms(j->result, &timestamp_ms)) return NULL;
    size_t n = fl_result_face_count(j->result);
    jlong *v = malloc((1 + n) * sizeof *v);
    if (v == NULL) return NULL;
    v[0] = timestamp_ms;
    for (size_t i = 0; i < n; i++) v[1 + i] = fl_result_track_id(j->result, i);
    jlongArray out = (*env)->NewLongArray(env, (jsize)(1 + n));
    if (out) (*env)->SetLongArrayRegion(env, out, 0, (jsize)(1 + n), v);
    free(v);
    return out;
}

static jdoubleArray doubles(JNIEnv *env, const double *v, size_t n)
{
    jdoubleArray out = (*env)->NewDoubleArray(env, (jsize)n);
    if (out && n) (*env)->SetDoubleArrayRegion(env, out, 0, (jsize)n, v);
    return out;
}

/* x, y, w, h, score per face. */
JNIEXPORT jdoubleArray JNICALL Java_facelite_Native_boxes(JNIEnv *env, jclass cls, jlong handle)
{
    (void)cls;
    jni_analyzer *j = checked(env, handle, 1);
    if (j == NULL) return NULL;
    size_t n = fl_result_face_count(j->result);
    double *v = malloc((n ? n : 1) * 5 * sizeof *v);
    if (v == NULL) return NULL;
    for (size_t i = 0; i < n; i++) {
        const fl_box *b = fl_result_box(j->result, i);
        v[5 * i] = b->x, v[5 * i + 1] = b->y, v[5 * i + 2] = b->w, v[5 * i + 3] = b->h, v[5 * i + 4] = b->score;
    }
    jdoubleArray out = doubles(env, v, 5 * n);
    free(v);
    return out;
}

/* The 68 (x, y) pairs of every face, then its regions' points in fl_region_name order. */
JNIEXPORT jfloatArray JNICALL Java_facelite_Native_points(JNIEnv *env, jclass cls, jlong handle)
{
    (void)cls;
    jni_analyzer *j = checked(env, handle, 1);
    if (j == NULL) return NULL;
    size_t faces = fl_result_face_count(j->result), region_points = 0;
    for (size_t k = 0; k < FL_REGION_COUNT; k++) {
        size_t n = 0;
        if (faces) fl_result_region_at(j->result, 0, k, &n);
        region_points += n;
    }
    size_t per_face = 2 * (FL_LANDMARK_COUNT + region_points);
    jfloatArray out = (*env)->NewFloatArray(env, (jsize)(faces * per_face));
    for (size_t i = 0; out && i < faces; i++) {
        jsize at = (jsize)(i * per_face);
        (*env)->SetFloatArrayRegion(env, out, at, 2 * FL_LANDMARK_COUNT, fl_result_landmarks(j->result, i));
        at += 2 * FL_LANDMARK_COUNT;
        for (size_t k = 0; k < FL_REGION_COUNT; k++) {
            size_t n;
            const float *poly = fl_result_region_at(j->result, i, k, &n);
            (*env)->SetFloatArrayRegion(env, out, at, (jsize)(2 * n), poly);
            at += (jsize)(2 * n);
        }
    }
    return out;
}

/* Points per region, in fl_region_name order (the layout of `points`). */
JNIEXPORT jintArray JNICALL Java_facelite_Native_regionSizes(JNIEnv *env, jclass cls, jlong handle)
{
    (void)cls;
    jni_analyzer *j = checked(env, handle, 1);
    if (j == NULL || fl_result_face_count(j->result) == 0) return NULL;
    jint sizes[FL_REGION_COUNT];
    for (size_t k = 0; k < FL_REGION_COUNT; k++) {
        size_t n = 0;
        fl_result_region_at(j->result, 0, k, &n);
        sizes[k] = (jint)n;
    }
    jintArray out = (*env)->NewIntArray(env, FL_REGION_COUNT);
    if (out) (*env)->SetIntArrayRegion(env, out, 0, FL_REGION_COUNT, sizes);
    return out;
}

JNIEXPORT jstring JNICALL Java_facelite_Native_regionName(JNIEnv *env, jclass cls, jint index)
{
    (void)cls;
    const char *name = index >= 0 ? fl_region_name((size_t)index) : NULL;
    return name ? (*env)->NewStringUTF(env, name) : NULL;
}

static const fl_classification *classification(const fl_result *r, size_t face, jint stage)
{
    return stage == FL_STAGE_EXPRESSION ? fl_result_expression(r, face) : fl_result_acne(r, face);
}

/* The labels of a classification stage (from the last result's first face), or null. */
JNIEXPORT jobjectArray JNICALL Java_facelite_Native_labels(JNIEnv *env, jclass cls, jlong handle, jint stage)
{
    (void)cls;
    jni_analyzer *j = checked(env, handle, 1);
    const fl_classification *c = j && fl_result_face_count(j->result) ? classification(j->result, 0, stage) : NULL;
    if (c == NULL) return NULL;
    jclass string = (*env)->FindClass(env, "java/lang/String");
    jobjectArray out = string ? (*env)->NewObjectArray(env, (jsize)c->count, string, NULL) : NULL;
    for (size_t k = 0; out && k < c->count; k++)
        (*env)->SetObjectArrayElement(env, out, (jsize)k, (*env)->NewStringUTF(env, c->labels[k]));
    return out;
}

/* Every label's score, face after face, for a classification stage; null when it is skipped. */
JNIEXPORT jfloatArray JNICALL Java_facelite_Native_scores(JNIEnv *env, jclass cls, jlong handle, jint stage)
{
    (void)cls;
    jni_analyzer *j = checked(env, handle, 1);
    if (j == NULL) return NULL;
    size_t faces = fl_result_face_count(j->result);
    const fl_classification *first = faces ? classification(j->result, 0, stage) : NULL;
    if (first == NULL) return NULL;
    jfloatArray out = (*env)->NewFloatArray(env, (jsize)(faces * first->count));
    for (size_t i = 0; out && i < faces; i++)
        (*env)->SetFloatArrayRegion(env, out, (jsize)(i * first->count), (jsize)first->count,
                                    classification(j->result, i, stage)->scores);
    return out;
}

JNIEXPORT jstring JNICALL Java_facelite_Native_concernName(JNIEnv *env, jclass cls, jint index)
{
    (void)cls;
    const char *name = index >= 0 ? fl_concern_name((fl_concern)index) : NULL;
    return name ? (*env)->NewStringUTF(env, name) : NULL;
}

JNIEXPORT jstring JNICALL Java_facelite_Native_bandName(JNIEnv *env, jclass cls, jint index)
{
    (void)cls;
    const char *name = index >= 0 ? fl_band_name((fl_band)index) : NULL;
    return name ? (*env)->NewStringUTF(env, name) : NULL;
}

static const fl_skin_report *skin_of(JNIEnv *env, jlong handle, jint face)
{
    jni_analyzer *j = checked(env, handle, 1);
    return j && face >= 0 ? fl_result_skin(j->result, (size_t)face) : NULL;
}

/* A face's skin report as numbers (null when skin did not run), read by FaceLite.skinReport:
 * reliable, restored, ITA° (NaN: no tone), check count n, lighting count m; n x (passed,
 * value, threshold); for the face then each region in fl_region_name order: measured, then
 * per concern (score or NaN when not measured, band index, raw); m lighting values. */
JNIEXPORT jdoubleArray JNICALL Java_facelite_Native_skinNumbers(JNIEnv *env, jclass cls, jlong handle, jint face)
{
    (void)cls;
    const fl_skin_report *s = skin_of(env, handle, face);
    if (s == NULL) return NULL;
    double v[5 + 3 * FL_SKIN_CHECK_MAX + (FL_REGION_COUNT + 1) * (1 + 3 * FL_CONCERN_COUNT) + FL_SKIN_LIGHTING_MAX];
    size_t n = 0;
    v[n++] = s->reliable, v[n++] = s->restored, v[n++] = s->has_tone ? s->ita_deg : NAN;
    v[n++] = (double)s->check_count, v[n++] = (double)s->lighting_count;
    for (size_t k = 0; k < s->check_count; k++)
        v[n++] = s->checks[k].passed, v[n++] = s->checks[k].value, v[n++] = s->checks[k].threshold;
    for (size_t r = 0; r <= FL_REGION_COUNT; r++) {
        const fl_concern_score *scores = r == 0 ? s->face : s->regions[r - 1];
        v[n++] = r == 0 ? 1.0 : s->region_measured[r - 1];
        for (size_t c = 0; c < FL_CONCERN_COUNT; c++)
            v[n++] = scores[c].measured ? scores[c].score : NAN, v[n++] = scores[c].band, v[n++] = scores[c].raw;
    }
    for (size_t k = 0; k < s->lighting_count; k++) v[n++] = s->lighting[k];
    return doubles(env, v, n);
}

/* A face's skin report's strings (null when skin did not run): the tone category (null: no
 * tone), the n check codes, their n messages, the m lighting names, then (name, version)
 * of each model. */
JNIEXPORT jobjectArray JNICALL Java_facelite_Native_skinStrings(JNIEnv *env, jclass cls, jlong handle, jint face)
{
    (void)cls;
    const fl_skin_report *s = skin_of(env, handle, face);
    if (s == NULL) return NULL;
    const char *v[1 + 2 * FL_SKIN_CHECK_MAX + FL_SKIN_LIGHTING_MAX + 2 * FL_SKIN_MODEL_MAX];
    size_t n = 0;
    v[n++] = s->has_tone ? s->tone : NULL;
    for (size_t k = 0; k < s->check_count; k++) v[n++] = s->checks[k].code;
    for (size_t k = 0; k < s->check_count; k++) v[n++] = s->checks[k].message;
    for (size_t k = 0; k < s->lighting_count; k++) v[n++] = s->lighting_names[k];
    for (size_t k = 0; k < s->model_count; k++) v[n++] = s->model_names[k], v[n++] = s->model_versions[k];
    jclass string = (*env)->FindClass(env, "java/lang/String");
    jobjectArray out = string ? (*env)->NewObjectArray(env, (jsize)n, string, NULL) : NULL;
    for (size_t k = 0; out && k < n; k++)
        if (v[k] != NULL) (*env)->SetObjectArrayElement(env, out, (jsize)k, (*env)->NewStringUTF(env, v[k]));
    return out;
}

/* load, detect, landmarks, align_regions, expression, skin (all skin stages), total, smoothing
 * (ms; smoothing NaN for an image). */
JNIEXPORT jdoubleArray JNICALL Java_facelite_Native_timings(JNIEnv *env, jclass cls, jlong handle)
{
    (void)cls;
    jni_analyzer *j = checked(env, handle, 1);
    if (j == NULL) return NULL;
    const fl_timings *t = fl_result_timings(j->result);
    const double v[8] = {t->load_ms,       t->detect_ms, t->landmarks_ms, t->align_regions_ms,
                         t->expression_ms, t->skin_ms,   t->total_ms,     t->smoothing_ms};
    return doubles(env, v, 8);
}

/* `fl_result_json` of the last result (exact or rounded as `facelite analyze --json`). */
JNIEXPORT jstring JNICALL Java_facelite_Native_resultJson(JNIEnv *env, jclass cls, jlong handle, jboolean exact)
{
    (void)cls;
    jni_analyzer *j = checked(env, handle, 1);
    if (j == NULL) return NULL;
    fl_json_style style = exact ? FL_JSON_EXACT : FL_JSON_ROUNDED;
    size_t n = fl_result_json(j->result, style, NULL, 0);
    char *text = n ? malloc(n + 1) : NULL;
    jstring out = NULL;
    if (text != NULL && fl_result_json(j->result, style, text, n + 1) == n) out = (*env)->NewStringUTF(env, text);
    free(text);
    return out;
}
