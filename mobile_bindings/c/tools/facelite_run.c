/*
 * facelite-run: the native runner. Times one bundle variant through libfacelite and checks it
 * against its golden vectors, printing the keys `facelite-bench` reads (the same as the Python
 * reference runner, facelite_bench.device_runner).
 *
 *   facelite-run BUNDLE [--variant V] [--accelerator auto|cpu|gpu|npu] [--threads N]
 *                [--runs N] [--warmup N] [--golden] [--outputs OUT.npy] [--json]
 *                [--allow-unsigned] [--trusted-keys PATH]... [--no-development-key] [--progress]
 *   facelite-run BUNDLES_DIR --analyze --input IMAGE|DIR [--input ...] [--skin [--restore]] [--variant V]
 *                [--accelerator A] [--threads N] [--runs N] [--warmup N] [--max-faces N] [--min-score S] [--json]
 *   facelite-run BUNDLES_DIR --analyze --video FRAME... [--fps F | --timestamps MS,MS,...]
 *                [--detect-every N] [--expression-every N] [--skin-every N] [--no-smoothing] [--exact]
 *                [--skin [--restore]] [--variant V] [--accelerator A] [--threads N] [--max-faces N] [--min-score S]
 *
 * --analyze runs the face pipeline (facelite/analyzer.h) over the bundles of BUNDLES_DIR
 * (<name>/<name>.flb) and prints the document `facelite analyze IMAGE|DIR [--skin [--restore]] --json` prints
 * (several --input: the folder form, "inputs" instead of "dir", images in the order given,
 * folders expanded), plus a "pipeline" object (analyzer init, first analysis, cold start,
 * and with --runs the latency of the first image analysed again, peak RSS). --max-faces N keeps
 * at most N faces per image or frame, highest detector score first (default FL_DEFAULT_MAX_FACES),
 * and --min-score S the faces scoring at least S, 0 to 1 (default: the detector bundle's
 * threshold): `facelite analyze`'s flags of the same names, into fl_analyzer_options'
 * `max_faces` and `min_face_score`.
 *
 * --video runs VIDEO mode (docs/video.md: tracking, smoothing) over image files as the
 * frames of one clip, in the order given (the C core has no video decoder: a phone hands
 * camera frames to `fl_analyze_video_frame`), stamped round(i * 1000 / fps) ms (--fps,
 * default 30) or with the given --timestamps. It prints a JSON line per frame as it comes
 * (`facelite analyze VIDEO --jsonl`'s: "frame", then the result with "timestamp_ms" and each
 * face's "track_id"; plus "image" and "detections", how many times the detector ran on the
 * frame), then a summary line (frames, detections, tracks, engines, per-frame latency).
 * --exact writes every number unrounded (for parity checks).
 *
 * Exit 0 on success, 2 for a bad bundle or argument (the message says which), 1 otherwise.
 * With --golden on the CPU, a variant that does not reproduce its goldens is a bad bundle too
 * (as `facelite verify` judges it): exit 2, the document keeping the figures. Errors are
 * `error: ...` lines on stderr and, with --json, {"error", "exit_code", "kind"} on stdout.
 * With --json stdout holds exactly one JSON document.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "facelite/analyzer.h"
#include "facelite/facelite.h"

#define MAX_KEYS 64
#define MAX_KEY_FILE (64 * 1024)
#define MAX_INPUTS 4096
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x) /* a number macro as a string literal, for USAGE */

typedef struct args {
    const char *bundle;
    const char *variant;
    fl_accelerator accelerator;
    int threads, runs, warmup;
    int golden, json, progress;
    int analyze, skin, restore, runs_given, warmup_given;
    int video, exact, smoothing, detect_every, expression_every, skin_every; /* --video */
    int max_faces;    /* --max-faces; 0: unset (fl_analyzer_options_init's FL_DEFAULT_MAX_FACES) */
    double min_score; /* --min-score; negative: unset (the detector bundle's threshold) */
    double fps;
    const char *timestamps;
    const char **frames; /* --video's files, in order (pointers into argv) */
    int n_frames;
    const char *inputs[MAX_INPUTS]; /* --input, in order */
    int n_inputs;
    const char *outputs;
    fl_bundle_options options;
    fl_public_key keys[MAX_KEYS];
} args;

typedef struct failure {
    int exit_code;
    char message[FL_ERROR_MESSAGE_MAX + 256];
} failure;

static int fail(failure *f, int exit_code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof f->message, fmt, ap);
    va_end(ap);
    f->exit_code = exit_code;
    return exit_code;
}

static int fail_status(failure *f, const fl_error *err)
{
    return fail(f, fl_status_is_user_error(err->code) ? 2 : 1, "%s", err->message);
}

static const char USAGE[] =
    "usage: facelite-run BUNDLE [--variant V] [--accelerator auto|cpu|gpu|npu] [--threads N]\n"
    "                    [--runs N] [--warmup N] [--golden] [--outputs OUT.npy] [--json]\n"
    "                    [--allow-unsigned] [--trusted-keys PATH]... [--no-development-key] [--progress]\n"
    "       facelite-run BUNDLES_DIR --analyze --input IMAGE|DIR [--input ...] [--skin [--restore]]\n"
    "                    [--variant V] [--accelerator A] [--threads N] [--runs N] [--warmup N]\n"
    "                    [--max-faces N] [--min-score S] [--json]\n"
    "       facelite-run BUNDLES_DIR --analyze --video FRAME... [--fps F | --timestamps MS,MS,...]\n"
    "                    [--detect-every N] [--expression-every N] [--skin-every N] [--no-smoothing]\n"
    "                    [--exact] [--skin [--restore]] [--variant V] [--accelerator A] [--threads N]\n"
    "                    [--max-faces N] [--min-score S]\n"
    "\n"
    "Times one variant of a facelite bundle in LiteRT (init, first, warm-up and timed invokes,\n"
    "peak RSS) and, with --golden, compares its outputs on the bundle's golden inputs with the\n"
    "outputs the reference runtime recorded for that variant (as `facelite verify` does).\n"
    "--outputs writes the raw outputs on the golden inputs as a float32 .npy (N, values).\n"
    "Defaults: variant auto, accelerator cpu, 1 thread, 50 runs, 5 warm-up runs; a trusted\n"
    "signature is required (the development key is trusted, with a warning).\n"
    "\n"
    "--analyze runs the face pipeline over BUNDLES_DIR/<name>/<name>.flb (face_detector and\n"
    "landmarks required; expression when present) on an image or every image of a folder tree,\n"
    "printing what `facelite analyze --json` prints; several --input paths give one document\n"
    "listing every image. --skin adds each face's skin report (skin_metrics required; acne\n"
    "when its bundle grades face crops), --restore lets it restore low-resolution crops.\n"
    "--runs N times the first image N more times. Defaults there: no timed runs.\n"
    "--max-faces N keeps at most N faces per image (or frame), highest detector score first\n"
    "(default " STRINGIFY(FL_DEFAULT_MAX_FACES) "); --min-score S drops faces scoring under S, 0 to 1\n"
    "(default: the detector bundle's threshold for the variant it runs); as `facelite analyze`.\n"
    "\n"
    "--video analyses the image files given as the frames of one clip in VIDEO mode (faces\n"
    "tracked and smoothed, docs/video.md), stamped round(i * 1000 / fps) ms (default 30 fps) or\n"
    "with --timestamps; a JSON line per frame, then a summary line. --detect-every,\n"
    "--expression-every, --skin-every (defaults 15, 1, 10) and --no-smoothing set the VIDEO\n"
    "options; --exact prints numbers unrounded.\n";

/* -- arguments ------------------------------------------------------------------------------ */

static int parse_int(const char *option, const char *text, int low, int high, int *out, failure *f)
{
    char *end = NULL;
    errno = 0;
    long v = text ? strtol(text, &end, 10) : 0;
    if (text == NULL || *text == '\0' || *end != '\0' || errno || v < low || v > high) {
        if (high == INT_MAX) /* no bound of the runner's own: the library checks its own */
            return fail(f, 2, "%s %s: give a whole number, %d or more", option, text ? text : "(missing)", low);
        return fail(f, 2, "%s %s: give a whole number from %d to %d", option, text ? text : "(missing)", low, high);
    }
    *out = (int)v;
    return 0;
}

/* --min-score: a detector score from 0 to 1, as `facelite analyze --min-score` takes
 * (cli.detector_score; NaN refused on both sides: it would silently drop every face). */
static int parse_score(const char *option, const char *text, double *out, failure *f)
{
    char *end = NULL;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || !(v >= 0.0 && v <= 1.0))
        return fail(f, 2, "%s %s: give a detector score from 0 to 1 (without it: the detector bundle's threshold)",
                    option, text);
    *out = v;
    return 0;
}

static int add_key_file(args *a, const char *path, failure *f)
{
    if (a->options.trusted_key_count >= MAX_KEYS) return fail(f, 2, "%s: more than %d trusted keys", path, MAX_KEYS);
    FILE *file = fopen(path, "rb");
    if (file == NULL) return fail(f, 2, "%s: no such trusted key file (%s)", path, strerror(errno));
    char *text = malloc(MAX_KEY_FILE + 1);
    size_t n = text ? fread(text, 1, MAX_KEY_FILE + 1, file) : 0;
    fclose(file);
    if (text == NULL) return fail(f, 1, "out of memory reading %s", path);
    if (n > MAX_KEY_FILE) {
        free(text);
        return fail(f, 2, "%s: too large for a PEM key file", path);
    }
    fl_error err;
    fl_status st = fl_public_key_from_pem(text, n, &a->keys[a->options.trusted_key_count], &err);
    free(text);
    if (st != FL_OK) return fail(f, 2, "%s: %s", path, err.message);
    a->options.trusted_key_count++;
    return 0;
}

/* A key file, or every *.pub file of a folder (facelite.signing.key_files). */
static int add_keys(args *a, const char *path, failure *f)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return fail(f, 2, "%s: no such trusted key file or folder; pass PEM public key files or folders of *.pub files",
                    path);
    if (!S_ISDIR(st.st_mode)) return add_key_file(a, path, f);
    DIR *dir = opendir(path);
    if (dir == NULL) return fail(f, 2, "%s: cannot be read (%s)", path, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(dir)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".pub") != 0) continue;
        char file[PATH_MAX];
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        if (stat(file, &st) == 0 && S_ISREG(st.st_mode)) rc = add_key_file(a, file, f);
    }
    closedir(dir);
    return rc;
}

static int parse_args(int argc, char **argv, args *a, failure *f)
{
    memset(a, 0, sizeof *a);
    fl_bundle_options_init(&a->options);
    a->options.trusted_keys = a->keys;
    a->accelerator = FL_ACCELERATOR_CPU;
    a->threads = 1;
    a->runs = 50;
    a->warmup = 5;
    a->fps = 30.0;
    a->smoothing = 1, a->detect_every = 15, a->expression_every = 1, a->skin_every = 10;
    a->min_score = -1.0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        int takes_value = 1, rc = 0;
        if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
            fputs(USAGE, stdout);
            exit(0);
        } else if (strcmp(o, "--json") == 0) {
            a->json = 1, takes_value = 0;
        } else if (strcmp(o, "--golden") == 0) {
            a->golden = 1, takes_value = 0;
        } else if (strcmp(o, "--progress") == 0) {
            a->progress = 1, takes_value = 0;
        } else if (strcmp(o, "--analyze") == 0) {
            a->analyze = 1, takes_value = 0;
        } else if (strcmp(o, "--skin") == 0) {
            a->skin = 1, takes_value = 0;
        } else if (strcmp(o, "--restore") == 0) {
            a->restore = 1, takes_value = 0;
        } else if (strcmp(o, "--video") == 0) { /* the frames: every argument after it up to the next option */
            a->video = 1, takes_value = 0;
            a->frames = (const char **)argv + i + 1;
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) a->n_frames++, i++;
        } else if (strcmp(o, "--exact") == 0) {
            a->exact = 1, takes_value = 0;
        } else if (strcmp(o, "--no-smoothing") == 0) {
            a->smoothing = 0, takes_value = 0;
        } else if (strcmp(o, "--allow-unsigned") == 0) {
            a->options.signature = FL_SIGNATURE_OPTIONAL, takes_value = 0;
        } else if (strcmp(o, "--no-development-key") == 0) {
            a->options.trust_development_key = 0, takes_value = 0;
        } else if (value == NULL && strncmp(o, "--", 2) == 0) {
            return fail(f, 2, "%s needs a value; see facelite-run --help", o);
        } else if (strcmp(o, "--variant") == 0) {
            a->variant = value;
        } else if (strcmp(o, "--accelerator") == 0) {
            fl_error err;
            if (fl_accelerator_parse(value, &a->accelerator, &err) != FL_OK) return fail(f, 2, "--accelerator: %s", err.message);
        } else if (strcmp(o, "--threads") == 0) {
            rc = parse_int(o, value, 0, 256, &a->threads, f);
        } else if (strcmp(o, "--runs") == 0) {
            rc = parse_int(o, value, 0, 10000000, &a->runs, f);
            a->runs_given = 1;
        } else if (strcmp(o, "--input") == 0) {
            if (a->n_inputs == MAX_INPUTS) return fail(f, 2, "more than %d --input paths", MAX_INPUTS);
            a->inputs[a->n_inputs++] = value;
        } else if (strcmp(o, "--warmup") == 0) {
            rc = parse_int(o, value, 0, 1000000, &a->warmup, f);
            a->warmup_given = 1;
        } else if (strcmp(o, "--outputs") == 0) {
            a->outputs = value;
        } else if (strcmp(o, "--fps") == 0) {
            char *end = NULL;
            a->fps = strtod(value, &end);
            if (*end != '\0' || !(a->fps > 0.0 && a->fps <= 1000.0))
                return fail(f, 2, "--fps %s: give frames per second, more than 0 and at most 1000", value);
        } else if (strcmp(o, "--timestamps") == 0) {
            a->timestamps = value;
        } else if (strcmp(o, "--detect-every") == 0) {
            rc = parse_int(o, value, 1, 1000000, &a->detect_every, f);
        } else if (strcmp(o, "--expression-every") == 0) {
            rc = parse_int(o, value, 1, 1000000, &a->expression_every, f);
        } else if (strcmp(o, "--skin-every") == 0) {
            rc = parse_int(o, value, 1, 1000000, &a->skin_every, f);
        } else if (strcmp(o, "--max-faces") == 0) {
            rc = parse_int(o, value, 1, INT_MAX, &a->max_faces, f);
        } else if (strcmp(o, "--min-score") == 0) {
            rc = parse_score(o, value, &a->min_score, f);
        } else if (strcmp(o, "--trusted-keys") == 0) {
            rc = add_keys(a, value, f);
        } else if (o[0] == '-' && o[1] != '\0') {
            return fail(f, 2, "unknown option %s; see facelite-run --help", o);
        } else if (a->bundle == NULL) {
            a->bundle = o, takes_value = 0;
        } else {
            return fail(f, 2, "one bundle at a time: got %s and %s", a->bundle, o);
        }
        if (rc) return rc;
        i += takes_value;
    }
    if (a->bundle == NULL) return fail(f, 2, "no bundle given; usage: facelite-run BUNDLE [options] (see --help)");
    if (a->n_inputs && !a->analyze) return fail(f, 2, "--input is for --analyze; see facelite-run --help");
    if ((a->skin || a->restore) && !a->analyze) return fail(f, 2, "--skin and --restore are for --analyze");
    if ((a->max_faces || a->min_score >= 0.0) && !a->analyze)
        return fail(f, 2, "--max-faces and --min-score are for --analyze");
    if (a->video && !a->analyze) return fail(f, 2, "--video is for --analyze; see facelite-run --help");
    if (a->video && a->n_inputs) return fail(f, 2, "--video FRAME... and --input: give one of the two");
    if (a->video && a->n_frames == 0) return fail(f, 2, "--video needs the frames' image files after it");
    if ((a->exact || a->timestamps || !a->smoothing) && !a->video)
        return fail(f, 2, "--exact, --timestamps and --no-smoothing are for --analyze --video");
    if (a->analyze && !a->video && !a->n_inputs) return fail(f, 2, "--analyze needs --input IMAGE|DIR or --video FRAME...");
    if (a->analyze && (a->golden || a->outputs))
        return fail(f, 2, "--analyze runs the whole pipeline; --golden and --outputs are for one bundle");
    if (a->analyze) { /* facelite analyze's defaults: no timed repeats unless asked */
        if (!a->runs_given) a->runs = 0;
        if (!a->warmup_given) a->warmup = a->runs_given ? a->warmup : 0;
    }
    const char *env = getenv("FACELITE_TRUSTED_KEYS"); /* as facelite.signing.TRUSTED_KEYS_ENV */
    if (env != NULL && *env) {
        char *copy = strdup(env);
        if (copy == NULL) return fail(f, 1, "out of memory");
        int rc = 0;
        for (char *save = NULL, *p = strtok_r(copy, ":", &save); p && rc == 0; p = strtok_r(NULL, ":", &save))
            rc = add_keys(a, p, f);
        free(copy);
        if (rc) return rc;
    }
    return 0;
}

/* -- measuring -------------------------------------------------------------------------------- */

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Resident set size in MB from /proc/self/status (`key` VmRSS or VmHWM), getrusage as a fallback. */
static double rss_mb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, key, n) == 0 && line[n] == ':') {
            fclose(f);
            return atof(line + n + 1) / 1024.0;
        }
    }
    if (f) fclose(f);
    struct rusage u;
    return getrusage(RUSAGE_SELF, &u) == 0 ? (double)u.ru_maxrss / 1024.0 : 0.0;
}

static double round_to(double v, int decimals)
{
    double scale = pow(10.0, decimals);
    return nearbyint(v * scale) / scale;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy.percentile's default (linear) on sorted values. */
static double percentile(const double *sorted, size_t n, double p)
{
    double rank = p / 100.0 * (double)(n - 1);
    size_t lo = (size_t)floor(rank), hi = (size_t)ceil(rank);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - (double)lo);
}

/* avg, p50, p90, p99 and std of `n` timings (sorted here) into `doc`, plus min and max with
 * `with_range`; nulls when there are none. One summary for every latency the runner prints. */
static void add_latency_summary(cJSON *doc, double *samples, size_t n, int with_range)
{
    static const char *const keys[] = {"avg_ms", "p50_ms", "p90_ms", "p99_ms", "std_ms", "min_ms", "max_ms"};
    const size_t n_keys = with_range ? 7 : 5;
    if (n == 0) {
        for (size_t k = 0; k < n_keys; k++) cJSON_AddNullToObject(doc, keys[k]);
        return;
    }
    double sum = 0.0, var = 0.0;
    for (size_t i = 0; i < n; i++) sum += samples[i];
    double mean = sum / (double)n;
    for (size_t i = 0; i < n; i++) var += (samples[i] - mean) * (samples[i] - mean);
    qsort(samples, n, sizeof *samples, compare_doubles);
    double values[7] = {mean, percentile(samples, n, 50), percentile(samples, n, 90), percentile(samples, n, 99),
                        sqrt(var / (double)n), samples[0], samples[n - 1]};
    for (size_t k = 0; k < n_keys; k++) cJSON_AddNumberToObject(doc, keys[k], round_to(values[k], 4));
}

static void progress(const args *a, int done, int total, const char *stage)
{
    if (a->progress) {
        fprintf(stderr, "progress %d %d %s\n", done, total, stage);
        fflush(stderr);
    }
}

static int add_latency(cJSON *doc, fl_model *model, const args *a, failure *f)
{
    fl_error err;
    double t0 = now_ms();
    if (fl_model_invoke(model, &err) != FL_OK) return fail_status(f, &err);
    double first = now_ms() - t0, warm = 0.0;
    for (int i = 0; i < a->warmup; i++) {
        t0 = now_ms();
        if (fl_model_invoke(model, &err) != FL_OK) return fail_status(f, &err);
        warm += now_ms() - t0;
    }
    double *samples = malloc(((size_t)a->runs + 1) * sizeof *samples);
    if (samples == NULL) return fail(f, 1, "out of memory for %d timings", a->runs);
    double last = now_ms();
    for (int i = 0; i < a->runs; i++) {
        t0 = now_ms();
        if (fl_model_invoke(model, &err) != FL_OK) {
            free(samples);
            return fail_status(f, &err);
        }
        samples[i] = now_ms() - t0;
        if (a->progress && samples[i] + t0 - last > 250.0) {
            progress(a, i + 1, a->runs, "timing");
            last = now_ms();
        }
    }
    progress(a, a->runs, a->runs, "timing");
    cJSON_AddNumberToObject(doc, "first_ms", round_to(first, 4));
    if (a->warmup)
        cJSON_AddNumberToObject(doc, "warmup_avg_ms", round_to(warm / a->warmup, 4));
    else
        cJSON_AddNullToObject(doc, "warmup_avg_ms");
    cJSON *list = cJSON_AddArrayToObject(doc, "samples_ms");
    for (int i = 0; i < a->runs; i++) cJSON_AddItemToArray(list, cJSON_CreateNumber(round_to(samples[i], 4)));
    add_latency_summary(doc, samples, (size_t)a->runs, 1);
    free(samples);
    return 0;
}

/* -- goldens ------------------------------------------------------------------------------------ */

/* Outputs of `model` on every golden tensor, one row per sample: output 0 alone when it alone
 * matches the goldens' size (facelite.verify._match_golden), else all outputs concatenated. */
static int golden_outputs(fl_model *model, const fl_array *tensors, size_t want_per_row, float **rows,
                          size_t *per_row, failure *f)
{
    fl_error err;
    size_t n = (size_t)tensors->shape[0], sample = tensors->count / n, total = 0, first = 0;
    for (size_t k = 0; k < fl_model_output_count(model); k++) {
        fl_tensor_info info;
        fl_model_output_info(model, k, &info, NULL);
        total += info.count;
        if (k == 0) first = info.count;
    }
    int only_first = want_per_row == 0 ? 0 : first == want_per_row;
    *per_row = only_first ? first : total;
    if (want_per_row && *per_row != want_per_row)
        return fail(f, 2, "the model's outputs (%zu values per sample) do not match the goldens (%zu per sample)",
                    total, want_per_row);
    *rows = malloc(n * *per_row * sizeof **rows);
    if (*rows == NULL) return fail(f, 1, "out of memory for the golden outputs");
    for (size_t i = 0; i < n; i++) {
        if (fl_model_run(model, (const float *)tensors->data + i * sample, sample, &err) != FL_OK) {
            free(*rows);
            return fail_status(f, &err);
        }
        size_t at = 0;
        for (size_t k = 0; k < (only_first ? 1 : fl_model_output_count(model)); k++) {
            size_t count;
            const float *out = fl_model_output(model, k, &count);
            if (out == NULL) {
                free(*rows);
                return fail(f, 1, "output %zu could not be read", k);
            }
            memcpy(*rows + i * *per_row + at, out, count * sizeof *out);
            at += count;
        }
    }
    return 0;
}

static int write_npy(const char *path, const float *data, size_t rows, size_t cols, failure *f)
{
    char header[128];
    int n = snprintf(header, sizeof header, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }", rows,
                     cols);
    size_t total = 10 + (size_t)n + 1, pad = (64 - total % 64) % 64;
    FILE *file = fopen(path, "wb");
    if (file == NULL) return fail(f, 2, "%s: cannot be written (%s)", path, strerror(errno));
    unsigned short len = (unsigned short)((size_t)n + pad + 1);
    unsigned char preamble[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(len & 0xFF),
                                  (unsigned char)(len >> 8)};
    int ok = fwrite(preamble, 1, 10, file) == 10 && fwrite(header, 1, (size_t)n, file) == (size_t)n;
    for (size_t i = 0; i < pad && ok; i++) ok = fputc(' ', file) != EOF;
    ok = ok && fputc('\n', file) != EOF && fwrite(data, sizeof *data, rows * cols, file) == rows * cols;
    ok = fclose(file) == 0 && ok;
    return ok ? 0 : fail(f, 1, "%s: writing failed (%s)", path, strerror(errno));
}

/* The parity tolerance of facelite.verify: own goldens (PARITY_TOLERANCES), else the fp32
 * goldens with LEGACY_TOLERANCES; a manifest's verify.tolerance may only tighten max_abs_err. */
static void tolerance(const char *variant, int own, const fl_model *model, double *max_abs, double *top1)
{
    static const struct {
        const char *name;
        double parity, legacy, parity_top1, legacy_top1;
    } table[] = {{"fp32", 1e-4, 1e-4, 1.0, 1.0},
                 {"fp16", 1e-3, 1e-2, NAN, NAN},
                 {"dynamic", 5e-3, 0.15, NAN, 0.75},
                 {"int8", NAN, 0.25, NAN, 0.75}};
    size_t k = 3;
    for (size_t i = 0; i < 4; i++)
        if (strcmp(variant, table[i].name) == 0) k = i;
    *max_abs = own ? table[k].parity : table[k].legacy;
    *top1 = own ? table[k].parity_top1 : table[k].legacy_top1;
    if (isnan(*max_abs)) { /* int8: three steps of its first output's quantization */
        fl_tensor_info info;
        *max_abs = fl_model_output_info(model, 0, &info, NULL) == FL_OK && info.quantized ? 3.0 * info.scale : 0.02;
    }
}

static int manifest_tolerance(const fl_bundle *bundle, const char *variant, double *value)
{
    size_t size;
    const char *text = fl_bundle_manifest_json(bundle, &size);
    cJSON *doc = text ? cJSON_ParseWithLength(text, size) : NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
                                             cJSON_GetObjectItemCaseSensitive(doc, "verify"), "tolerance"),
                                         variant),
        "max_abs_err");
    int found = cJSON_IsNumber(v);
    if (found) *value = v->valuedouble;
    cJSON_Delete(doc);
    return found;
}

static size_t argmax(const float *row, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (row[i] > row[best]) best = i;
    return best;
}

static int add_golden(cJSON *doc, fl_bundle *bundle, fl_model *model, const args *a, failure *f)
{
    fl_error err;
    fl_array *tensors = NULL, *reference = NULL;
    const char *variant = fl_model_get_info(model)->variant;
    progress(a, 0, 1, "parity");
    if (!fl_bundle_has_golden(bundle)) return fail(f, 2, "%s: bundle has no golden vectors", fl_bundle_path(bundle));
    for (size_t i = 0; i < fl_bundle_variant_count(bundle); i++) { /* every golden member is sound, as verify checks */
        fl_variant_info v;
        fl_bundle_variant_at(bundle, i, &v, NULL);
        if (fl_bundle_golden_outputs(bundle, v.name, &reference, &err) != FL_OK) return fail_status(f, &err);
        fl_array_destroy(reference);
        reference = NULL;
    }
    if (fl_bundle_golden_tensors(bundle, &tensors, &err) != FL_OK) return fail_status(f, &err);
    if (fl_bundle_golden_outputs(bundle, variant, &reference, &err) != FL_OK) {
        fl_array_destroy(tensors);
        return fail_status(f, &err);
    }
    int own = reference != NULL;
    if (!own && fl_bundle_golden_outputs(bundle, "fp32", &reference, &err) != FL_OK) {
        fl_array_destroy(tensors);
        return fail_status(f, &err);
    }
    size_t n = (size_t)tensors->shape[0], per_row = 0;
    float *rows = NULL;
    int rc = golden_outputs(model, tensors, reference->count / n, &rows, &per_row, f);
    fl_array_destroy(tensors);
    if (rc) {
        fl_array_destroy(reference);
        return rc;
    }
    double tol, top1_tol, asked;
    tolerance(variant, own, model, &tol, &top1_tol);
    if (manifest_tolerance(bundle, variant, &asked) && asked < tol) tol = asked;
    const float *ref = reference->data;
    double max_err = 0.0, sum_err = 0.0, sq = 0.0, lo = INFINITY, hi = -INFINITY;
    size_t mismatches = 0, agree = 0;
    for (size_t i = 0; i < n; i++) {
        double row_max = 0.0;
        for (size_t j = 0; j < per_row; j++) {
            double d = fabs((double)rows[i * per_row + j] - (double)ref[i * per_row + j]);
            if (isnan(d)) d = INFINITY;  /* a NaN output or golden never passes (numpy's max is nan there) */
            row_max = d > row_max ? d : row_max;
            sum_err += d;
            sq += d * d;
            lo = fmin(lo, ref[i * per_row + j]);
            hi = fmax(hi, ref[i * per_row + j]);
        }
        max_err = row_max > max_err ? row_max : max_err;
        mismatches += row_max > tol;
        agree += argmax(rows + i * per_row, per_row) == argmax(ref + i * per_row, per_row);
    }
    size_t values = n * per_row;
    cJSON *g = cJSON_AddObjectToObject(doc, "golden");
    cJSON_AddNumberToObject(g, "n", (double)n);
    cJSON_AddNumberToObject(g, "max_abs_err", max_err);
    cJSON_AddNumberToObject(g, "mean_abs_err", values ? sum_err / (double)values : 0.0);
    cJSON_AddNumberToObject(g, "mismatches", (double)mismatches);
    double mse = values ? sq / (double)values : 0.0, peak = hi - lo > 0 ? hi - lo : 1.0;
    if (mse == 0.0)
        cJSON_AddNullToObject(g, "psnr_db");
    else
        cJSON_AddNumberToObject(g, "psnr_db", round_to(10.0 * log10(peak * peak / mse), 3));
    int ok = max_err <= tol;
    if (fl_bundle_task(bundle) == FL_TASK_CLASSIFICATION) {
        double share = n ? (double)agree / (double)n : 0.0;
        cJSON_AddNumberToObject(g, "top1_agreement", share);
        if (!isnan(top1_tol)) ok = ok && share >= top1_tol;
    }
    cJSON *t = cJSON_AddObjectToObject(g, "tolerance");
    cJSON_AddNumberToObject(t, "max_abs_err", tol);
    if (isnan(top1_tol))
        cJSON_AddNullToObject(t, "top1_agreement");
    else
        cJSON_AddNumberToObject(t, "top1_agreement", top1_tol);
    cJSON_AddStringToObject(g, "against", own ? variant : "fp32");
    cJSON_AddBoolToObject(g, "ok", ok);
    free(rows);
    fl_array_destroy(reference);
    progress(a, 1, 1, "parity");
    /* On the CPU, goldens not reproduced mean a broken bundle (facelite verify refuses it); a GPU
     * or NPU computes differently, so there the figures are reported and the run succeeds. */
    if (!ok && fl_model_get_info(model)->accelerator == FL_ACCELERATOR_CPU)
        return fail(f, 2, "%s: variant '%s' does not reproduce its goldens (%s outputs): max_abs_err %.3g (allowed "
                    "%.3g)%s; rebuild the bundle or re-download it", fl_bundle_path(bundle), variant,
                    own ? variant : "fp32", max_err, tol, mismatches ? "" : ", top-1 agreement too low");
    return 0;
}

static int dump_outputs(fl_bundle *bundle, fl_model *model, const char *path, failure *f)
{
    fl_error err;
    fl_array *tensors;
    if (!fl_bundle_has_golden(bundle)) return fail(f, 2, "%s: bundle has no golden vectors", fl_bundle_path(bundle));
    if (fl_bundle_golden_tensors(bundle, &tensors, &err) != FL_OK) return fail_status(f, &err);
    float *rows;
    size_t per_row, n = (size_t)tensors->shape[0];
    int rc = golden_outputs(model, tensors, 0, &rows, &per_row, f);
    fl_array_destroy(tensors);
    if (rc) return rc;
    rc = write_npy(path, rows, n, per_row, f);
    free(rows);
    return rc;
}

/* -- the run ------------------------------------------------------------------------------------- */

/* The input timed: the first golden tensor, else a fixed pseudo-random one in [-1, 1]. */
static int timing_input(fl_bundle *bundle, fl_model *model, failure *f)
{
    fl_error err;
    fl_tensor_info info;
    fl_model_input_info(model, 0, &info, NULL);
    float *x = malloc(info.count * sizeof *x);
    if (x == NULL) return fail(f, 1, "out of memory");
    fl_array *tensors = NULL;
    if (fl_bundle_has_golden(bundle)) {
        if (fl_bundle_golden_tensors(bundle, &tensors, &err) != FL_OK) {
            free(x);
            return fail_status(f, &err);
        }
        if (tensors->count / (size_t)tensors->shape[0] != info.count) {
            fl_array_destroy(tensors);
            free(x);
            return fail(f, 2, "the golden inputs do not fit the model's input (%zu values)", info.count);
        }
        memcpy(x, tensors->data, info.count * sizeof *x);
        fl_array_destroy(tensors);
    } else {
        unsigned long long state = 0x9E3779B97F4A7C15ull;
        for (size_t i = 0; i < info.count; i++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            x[i] = (float)((double)(state >> 11) / 9007199254740992.0 * 2.0 - 1.0);
        }
    }
    int rc = fl_model_set_input(model, x, info.count, &err) == FL_OK ? 0 : fail_status(f, &err);
    free(x);
    return rc;
}

static void add_signature(cJSON *doc, const fl_signature_info *s)
{
    cJSON *o = cJSON_AddObjectToObject(doc, "signature");
    cJSON_AddBoolToObject(o, "signed", s->is_signed);
    if (s->key_id[0])
        cJSON_AddStringToObject(o, "key_id", s->key_id);
    else
        cJSON_AddNullToObject(o, "key_id");
    cJSON_AddBoolToObject(o, "valid", s->valid);
    cJSON_AddBoolToObject(o, "trusted", s->trusted);
    cJSON_AddBoolToObject(o, "development_key", s->development_key);
    cJSON_AddBoolToObject(o, "required", s->required);
    if (s->warning)
        cJSON_AddStringToObject(o, "warning", s->warning);
    else
        cJSON_AddNullToObject(o, "warning");
}

static int run(const args *a, cJSON *doc, failure *f)
{
    fl_error err;
    fl_bundle *bundle = NULL;
    fl_model *model = NULL;
    double start = now_ms();
    if (fl_bundle_open(a->bundle, &a->options, &bundle, &err) != FL_OK) return fail_status(f, &err);
    const fl_signature_info *sig = fl_bundle_signature(bundle);
    if (sig->warning) fprintf(stderr, "warning: %s\n", sig->warning);
    double baseline = rss_mb("VmRSS");
    int rc = 0;
    if (fl_model_create(bundle, a->variant, a->accelerator, a->threads, &model, &err) != FL_OK
        || fl_model_check_task(bundle, model, &err) != FL_OK) {
        rc = fail_status(f, &err);
        goto done;
    }
    const fl_model_info *info = fl_model_get_info(model);
    cJSON_AddNumberToObject(doc, "init_ms", round_to(info->init_ms, 4));
    if ((rc = timing_input(bundle, model, f)) != 0 || (rc = add_latency(doc, model, a, f)) != 0) goto done;
    double peak = rss_mb("VmHWM");
    cJSON_AddNumberToObject(doc, "peak_rss_mb", round_to(peak, 2));
    cJSON_AddNumberToObject(doc, "baseline_rss_mb", round_to(baseline, 2));
    cJSON_AddNumberToObject(doc, "peak_rss_delta_mb", round_to(peak > baseline ? peak - baseline : 0.0, 2));
    cJSON_AddStringToObject(doc, "accelerator", fl_accelerator_name(info->accelerator));
    cJSON_AddStringToObject(doc, "accelerator_requested", fl_accelerator_name(info->accelerator_requested));
    if (info->fallback_reason)
        cJSON_AddStringToObject(doc, "fallback_reason", info->fallback_reason);
    else
        cJSON_AddNullToObject(doc, "fallback_reason");
    cJSON_AddStringToObject(doc, "variant", info->variant);
    cJSON_AddStringToObject(doc, "runtime", "litert-c");
    cJSON_AddNumberToObject(doc, "runs", a->runs);
    cJSON_AddNumberToObject(doc, "warmup", a->warmup);
    cJSON_AddNumberToObject(doc, "threads", a->threads);
    cJSON_AddNumberToObject(doc, "pid", (double)getpid());
    if (a->golden && (rc = add_golden(doc, bundle, model, a, f)) != 0) goto done;
    if (a->outputs && (rc = dump_outputs(bundle, model, a->outputs, f)) != 0) goto done;
    cJSON_AddStringToObject(doc, "bundle", fl_bundle_name(bundle));
    add_signature(doc, sig);
    cJSON_AddStringToObject(doc, "runner", "facelite-run");
    cJSON_AddStringToObject(doc, "facelite_version", fl_version());
    cJSON_AddNumberToObject(doc, "wall_s", round_to((now_ms() - start) / 1000.0, 3));
done:
    fl_model_destroy(model);
    fl_bundle_destroy(bundle);
    return rc;
}

/* -- --analyze: the face pipeline (facelite/analyzer.h) ------------------------------------------ */

static double process_start_ms = -1.0; /* main()'s first instant: "cold start" is measured from it */

typedef struct path_list {
    char **items;
    size_t n, cap;
} path_list;

static void free_paths(path_list *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->items[i]);
    free(l->items);
}

static int push_path(path_list *l, const char *path, failure *f)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        char **items = realloc(l->items, cap * sizeof *items);
        if (items == NULL) return fail(f, 1, "out of memory listing images");
        l->items = items, l->cap = cap;
    }
    if ((l->items[l->n] = strdup(path)) == NULL) return fail(f, 1, "out of memory listing images");
    l->n++;
    return 0;
}

/* The suffixes facelite.datasets.IMAGE_EXTENSIONS lists, compared lower-case. */
static int is_image_name(const char *name)
{
    static const char *const suffixes[] = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"};
    const char *dot = strrchr(name, '.');
    char lower[8];
    size_t n = dot ? strlen(dot) : 0;
    if (n < 2 || n >= sizeof lower || dot == name) return 0;
    for (size_t i = 0; i <= n; i++) lower[i] = (char)(dot[i] >= 'A' && dot[i] <= 'Z' ? dot[i] - 'A' + 'a' : dot[i]);
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++)
        if (strcmp(lower, suffixes[i]) == 0) return 1;
    return 0;
}

/* Every image file under `dir` (sub-folders too, hidden names skipped), as datasets.list_images. */
static int collect_images(const char *dir, path_list *out, int depth, failure *f)
{
    if (depth > 64) return fail(f, 2, "%s: folders nested more than 64 deep", dir);
    DIR *d = opendir(dir);
    if (d == NULL) return fail(f, 2, "%s: cannot be read (%s)", dir, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[PATH_MAX];
        struct stat st;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path || stat(path, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            rc = collect_images(path, out, depth + 1, f);
        } else if (S_ISREG(st.st_mode) && is_image_name(e->d_name)) {
            rc = push_path(out, path, f);
        }
    }
    closedir(d);
    return rc;
}

/* Python's Path ordering: component by component. */
static int compare_paths(const void *pa, const void *pb)
{
    const char *a = *(char *const *)pa, *b = *(char *const *)pb;
    while (*a && *b) {
        size_t na = strcspn(a, "/"), nb = strcspn(b, "/");
        int c = strncmp(a, b, na < nb ? na : nb);
        if (c != 0) return c;
        if (na != nb) return na < nb ? -1 : 1;
        a += na + (a[na] == '/');
        b += nb + (b[nb] == '/');
    }
    return (*a != '\0') - (*b != '\0');
}

/* The result's document (`AnalysisResult.to_json`, rounded as the Python CLI rounds). */
static cJSON *result_doc(const fl_result *r)
{
    size_t n = fl_result_json(r, FL_JSON_ROUNDED, NULL, 0);
    char *text = n ? malloc(n + 1) : NULL;
    cJSON *doc = NULL;
    if (text != NULL && fl_result_json(r, FL_JSON_ROUNDED, text, n + 1) == n) doc = cJSON_Parse(text);
    free(text);
    return doc;
}

/* Every number under `node` as raw text that reads back bit for bit (the fewest digits from
 * 15 that do, as Python's repr): cJSON's own printing may drop the last ulp. */
static void exact_numbers(cJSON *node)
{
    cJSON *item = node ? node->child : NULL;
    while (item != NULL) {
        cJSON *next = item->next;
        if (cJSON_IsNumber(item) && isfinite(item->valuedouble)) {
            char text[40];
            for (int digits = 15; digits <= 17; digits++) {
                snprintf(text, sizeof text, "%.*g", digits, item->valuedouble);
                if (strtod(text, NULL) == item->valuedouble) break;
            }
            cJSON *raw = cJSON_CreateRaw(text);
            if (raw != NULL) { /* the key moves to the replacement */
                raw->string = item->string;
                raw->type |= item->type & cJSON_StringIsConst;
                item->string = NULL;
                cJSON_ReplaceItemViaPointer(node, item, raw);
            }
        } else {
            exact_numbers(item);
        }
        item = next;
    }
}

/* `image` first, then the result's keys, as `facelite analyze` orders them. */
static int add_entry(cJSON *entry, const char *path, const fl_result *r, failure *f)
{
    cJSON *doc = result_doc(r);
    if (doc == NULL) return fail(f, 1, "out of memory printing the result of %s", path);
    cJSON_AddStringToObject(entry, "image", path);
    while (doc->child != NULL) {
        cJSON *item = cJSON_DetachItemViaPointer(doc, doc->child);
        cJSON_AddItemToObject(entry, item->string, item);
    }
    cJSON_Delete(doc);
    return 0;
}

/* `analyzer.info` as the CLI prints it: EngineInfo per stage that runs a bundle. */
static void add_engines(cJSON *doc, const fl_analyzer *an)
{
    cJSON *engines = cJSON_AddObjectToObject(doc, "engines");
    for (int s = 0; s < FL_STAGE_COUNT; s++) {
        const fl_model_info *info = fl_analyzer_model_info(an, (fl_stage)s);
        if (info == NULL) continue;
        cJSON *e = cJSON_AddObjectToObject(engines, fl_stage_bundle_name((fl_stage)s));
        cJSON_AddStringToObject(e, "variant", info->variant);
        cJSON_AddStringToObject(e, "accelerator_requested", fl_accelerator_name(info->accelerator_requested));
        cJSON_AddStringToObject(e, "accelerator", fl_accelerator_name(info->accelerator));
        if (info->fallback_reason)
            cJSON_AddStringToObject(e, "fallback_reason", info->fallback_reason);
        else
            cJSON_AddNullToObject(e, "fallback_reason");
        cJSON_AddNumberToObject(e, "num_threads", info->threads);
        cJSON_AddNumberToObject(e, "init_ms", round_to(info->init_ms, 4));
        cJSON_AddStringToObject(e, "runtime", "litert-c");
    }
}

/* The first image analysed again `runs` times after `warmup` runs: latency keys. */
static int add_pipeline_latency(cJSON *pipeline, fl_analyzer *an, const char *path, const args *a, failure *f)
{
    fl_error err;
    const fl_result *r;
    double warm = 0.0;
    for (int i = 0; i < a->warmup; i++) {
        double t0 = now_ms();
        if (fl_analyze_file(an, path, &r, &err) != FL_OK) return fail_status(f, &err);
        warm += now_ms() - t0;
    }
    double *samples = malloc(((size_t)a->runs + 1) * sizeof *samples);
    if (samples == NULL) return fail(f, 1, "out of memory for %d timings", a->runs);
    for (int i = 0; i < a->runs; i++) {
        double t0 = now_ms();
        if (fl_analyze_file(an, path, &r, &err) != FL_OK) {
            free(samples);
            return fail_status(f, &err);
        }
        samples[i] = now_ms() - t0;
    }
    cJSON_AddNumberToObject(pipeline, "runs", a->runs);
    cJSON_AddNumberToObject(pipeline, "warmup", a->warmup);
    if (a->warmup)
        cJSON_AddNumberToObject(pipeline, "warmup_avg_ms", round_to(warm / a->warmup, 4));
    else
        cJSON_AddNullToObject(pipeline, "warmup_avg_ms");
    add_latency_summary(pipeline, samples, (size_t)a->runs, 0);
    free(samples);
    return 0;
}

/* The image files of `input`: itself, or every image of its folder tree, sorted. */
static int add_input(const char *input, path_list *files, failure *f)
{
    struct stat st;
    if (stat(input, &st) != 0) return fail(f, 2, "%s: no such file or folder; check the path", input);
    if (!S_ISDIR(st.st_mode)) {
        return push_path(files, input, f);
    }
    size_t before = files->n;
    int rc = collect_images(input, files, 0, f);
    if (rc == 0 && files->n == before)
        rc = fail(f, 2, "%s: no image in the folder or its sub-folders (.jpg, .jpeg, .png, .bmp, .webp, .tif, "
                        ".tiff, .gif); check the path", input);
    if (rc == 0) qsort(files->items + before, files->n - before, sizeof *files->items, compare_paths);
    return rc;
}

/* The analyzer options both --analyze forms take from the command line (`facelite analyze`:
 * skin only with --skin). */
static void analyzer_options(const args *a, fl_analyzer_options *options)
{
    fl_analyzer_options_init(options);
    options->bundles_dir = a->bundle;
    options->bundle_options = &a->options;
    options->variant = a->variant;
    options->accelerator = a->accelerator;
    options->threads = a->threads;
    options->skin = a->skin;
    options->restore = a->restore;
    options->min_face_score = a->min_score;
    if (a->max_faces) options->max_faces = a->max_faces;
}

static int run_analyze(const args *a, cJSON *doc, failure *f)
{
    fl_error err;
    fl_analyzer_options options;
    fl_analyzer *an = NULL;
    path_list files = {NULL, 0, 0};
    struct stat st;
    int rc = 0;
    for (int i = 0; i < a->n_inputs && rc == 0; i++) rc = add_input(a->inputs[i], &files, f);
    if (rc != 0) goto done;
    /* One image file: the single-image document; otherwise the folder form. */
    const int folder_form = !(a->n_inputs == 1 && stat(a->inputs[0], &st) == 0 && !S_ISDIR(st.st_mode));
    const char *input = a->inputs[0];
    analyzer_options(a, &options);
    double t0 = now_ms();
    if (fl_analyzer_create(&options, &an, &err) != FL_OK) {
        rc = fail_status(f, &err);
        goto done;
    }
    double init = now_ms() - t0, first = 0.0, cold = 0.0;
    const char *timed = NULL;
    if (!folder_form) {
        const fl_result *r;
        t0 = now_ms();
        if (fl_analyze_file(an, input, &r, &err) != FL_OK) {
            rc = fail_status(f, &err);
            goto done;
        }
        first = now_ms() - t0;
        cold = now_ms() - process_start_ms;
        if ((rc = add_entry(doc, input, r, f)) != 0) goto done;
        add_engines(doc, an);
        timed = input;
    } else {
        cJSON *images = cJSON_CreateArray();
        int failed = 0;
        for (size_t i = 0; i < files.n && rc == 0; i++) {
            const fl_result *r;
            cJSON *entry = cJSON_CreateObject();
            t0 = now_ms();
            if (fl_analyze_file(an, files.items[i], &r, &err) == FL_OK) {
                if (i == 0) first = now_ms() - t0, cold = now_ms() - process_start_ms;
                if (timed == NULL) timed = files.items[i];
                rc = add_entry(entry, files.items[i], r, f);
            } else if (fl_status_is_user_error(err.code)) {
                cJSON_AddStringToObject(entry, "image", files.items[i]);
                cJSON_AddStringToObject(entry, "error", err.message);
                failed++;
            } else {
                rc = fail_status(f, &err);
            }
            cJSON_AddItemToArray(images, entry);
        }
        if (a->n_inputs == 1) {
            cJSON_AddStringToObject(doc, "dir", input);
        } else {
            cJSON *inputs = cJSON_AddArrayToObject(doc, "inputs");
            for (int i = 0; inputs && i < a->n_inputs; i++)
                cJSON_AddItemToArray(inputs, cJSON_CreateString(a->inputs[i]));
        }
        cJSON_AddNumberToObject(doc, "n_images", (double)files.n);
        cJSON_AddNumberToObject(doc, "n_failed", failed);
        cJSON *stages = cJSON_AddObjectToObject(doc, "stages");
        for (int s = 0; s < FL_STAGE_COUNT; s++)
            cJSON_AddStringToObject(stages, s == FL_STAGE_DETECTOR ? "detector" : fl_stage_bundle_name((fl_stage)s),
                                    fl_analyzer_stage(an, (fl_stage)s));
        add_engines(doc, an);
        cJSON_AddItemToObject(doc, "images", images);
        if (rc == 0 && failed == (int)files.n)
            rc = fail(f, 2, "%s: every image failed; see the per-file errors", a->n_inputs == 1 ? input : "--input");
        if (rc != 0) goto done;
    }
    cJSON *pipeline = cJSON_AddObjectToObject(doc, "pipeline");
    cJSON_AddNumberToObject(pipeline, "init_ms", round_to(init, 4));
    cJSON_AddNumberToObject(pipeline, "first_ms", round_to(first, 4));
    cJSON_AddNumberToObject(pipeline, "cold_start_ms", round_to(cold, 4));
    if (timed != NULL && (rc = add_pipeline_latency(pipeline, an, timed, a, f)) != 0) goto done;
    cJSON_AddNumberToObject(pipeline, "peak_rss_mb", round_to(rss_mb("VmHWM"), 2));
    cJSON_AddNumberToObject(pipeline, "threads", a->threads);
    cJSON_AddStringToObject(pipeline, "runner", "facelite-run");
done:
    exact_numbers(doc);
    fl_analyzer_destroy(an);
    free_paths(&files);
    return rc;
}

/* -- --analyze --video: VIDEO mode over image files as frames ------------------------------------ */

/* The frames' timestamps: --timestamps as given, else round(i * 1000 / fps) (Python's round). */
static int frame_timestamps(const args *a, int64_t *out, failure *f)
{
    if (a->timestamps == NULL) {
        for (int i = 0; i < a->n_frames; i++) out[i] = (int64_t)nearbyint((double)i * 1000.0 / a->fps);
        return 0;
    }
    const char *p = a->timestamps;
    int n = 0;
    while (*p != '\0') {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || (*end != ',' && *end != '\0') || n == a->n_frames)
            return fail(f, 2, "--timestamps %s: give one whole number of milliseconds per frame (%d), separated by "
                              "commas", a->timestamps, a->n_frames);
        out[n++] = (int64_t)v;
        p = *end == ',' ? end + 1 : end;
    }
    if (n != a->n_frames)
        return fail(f, 2, "--timestamps: %d given for %d frames; give one per frame", n, a->n_frames);
    return 0;
}

/* One frame's line: "frame", "image", "detections", then the result document. */
static int print_frame(int index, const char *path, const fl_result *r, const args *a, failure *f)
{
    fl_json_style style = a->exact ? FL_JSON_EXACT : FL_JSON_ROUNDED;
    size_t n = fl_result_json(r, style, NULL, 0);
    char *text = n ? malloc(n + 1) : NULL;
    cJSON *doc = text != NULL && fl_result_json(r, style, text, n + 1) == n ? cJSON_Parse(text) : NULL;
    free(text);
    cJSON *line = cJSON_CreateObject();
    if (doc == NULL || line == NULL) {
        cJSON_Delete(doc);
        cJSON_Delete(line);
        return fail(f, 1, "out of memory printing frame %d", index);
    }
    cJSON_AddNumberToObject(line, "frame", index);
    while (doc->child != NULL) {
        cJSON *item = cJSON_DetachItemViaPointer(doc, doc->child);
        cJSON_AddItemToObject(line, item->string, item);
    }
    cJSON_Delete(doc);
    cJSON_AddStringToObject(line, "image", path);
    cJSON_AddNumberToObject(line, "detections", fl_result_detections(r));
    exact_numbers(line);
    char *out = cJSON_PrintUnformatted(line);
    cJSON_Delete(line);
    if (out == NULL) return fail(f, 1, "out of memory printing frame %d", index);
    puts(out);
    fflush(stdout);
    free(out);
    return 0;
}

static int run_video(const args *a, cJSON *doc, failure *f)
{
    fl_error err;
    fl_analyzer_options options;
    fl_analyzer *an = NULL;
    int64_t *stamps = malloc((size_t)a->n_frames * sizeof *stamps);
    double *samples = malloc((size_t)a->n_frames * sizeof *samples);
    int rc = stamps && samples ? frame_timestamps(a, stamps, f) : fail(f, 1, "out of memory for %d frames", a->n_frames);
    if (rc != 0) goto done;
    analyzer_options(a, &options);
    options.running_mode = FL_RUNNING_MODE_VIDEO;
    options.detect_every_n_frames = a->detect_every;
    options.expression_every_n_frames = a->expression_every;
    options.skin_every_n_frames = a->skin_every;
    options.smoothing = a->smoothing;
    double t0 = now_ms();
    if (fl_analyzer_create(&options, &an, &err) != FL_OK) {
        rc = fail_status(f, &err);
        goto done;
    }
    double init = now_ms() - t0;
    long detections = 0;
    int64_t tracks = 0;
    for (int i = 0; i < a->n_frames && rc == 0; i++) {
        const fl_result *r;
        t0 = now_ms();
        if (fl_analyze_video_frame_file(an, a->frames[i], stamps[i], &r, &err) != FL_OK) {
            rc = fail(f, fl_status_is_user_error(err.code) ? 2 : 1, "frame %d (%s): %s", i, a->frames[i], err.message);
            break;
        }
        samples[i] = now_ms() - t0;
        detections += fl_result_detections(r);
        for (size_t k = 0; k < fl_result_face_count(r); k++)
            if (fl_result_track_id(r, k) + 1 > tracks) tracks = fl_result_track_id(r, k) + 1;
        rc = print_frame(i, a->frames[i], r, a, f);
    }
    if (rc != 0) goto done;
    cJSON_AddNumberToObject(doc, "n_frames", a->n_frames);
    cJSON_AddStringToObject(doc, "running_mode", "video");
    cJSON_AddNumberToObject(doc, "detections_run", (double)detections);
    cJSON_AddNumberToObject(doc, "tracks_started", (double)tracks);
    add_engines(doc, an);
    cJSON *pipeline = cJSON_AddObjectToObject(doc, "pipeline");
    cJSON_AddNumberToObject(pipeline, "init_ms", round_to(init, 4));
    cJSON_AddNumberToObject(pipeline, "first_ms", round_to(samples[0], 4));
    add_latency_summary(pipeline, samples, (size_t)a->n_frames, 0);
    cJSON_AddNumberToObject(pipeline, "peak_rss_mb", round_to(rss_mb("VmHWM"), 2));
    cJSON_AddNumberToObject(pipeline, "threads", a->threads);
    cJSON_AddStringToObject(pipeline, "runner", "facelite-run");
done:
    fl_analyzer_destroy(an);
    free(stamps);
    free(samples);
    return rc;
}

/* A number of the analysis document (made raw text by exact_numbers), NaN when absent. */
static double number_in(const cJSON *object, const char *key)
{
    const cJSON *v = key ? cJSON_GetObjectItemCaseSensitive(object, key) : object;
    if (cJSON_IsNumber(v)) return v->valuedouble;
    if (cJSON_IsRaw(v) && strcmp(v->valuestring, "null") != 0) return strtod(v->valuestring, NULL);
    return NAN;
}

/* Print `text` less its trailing spaces, then a newline (Python's str.rstrip()). */
static void print_stripped(const char *text)
{
    size_t n = strlen(text);
    while (n > 0 && text[n - 1] == ' ') n--;
    printf("%.*s\n", (int)n, text);
}

/* One row of `cli.skin_lines`' table: the label, then per concern the score and band or "-". */
static void print_skin_row(const char *label, const cJSON *scores)
{
    char line[512];
    size_t at = (size_t)snprintf(line, sizeof line, "    %-16s", label);
    for (int c = 0; c < FL_CONCERN_COUNT && at < sizeof line; c++) {
        const cJSON *score = cJSON_GetObjectItemCaseSensitive(scores, fl_concern_name((fl_concern)c));
        const cJSON *band = cJSON_GetObjectItemCaseSensitive(score, "band");
        if (score != NULL)
            at += (size_t)snprintf(line + at, sizeof line - at, "%3.0f %-10s", number_in(score, "score"),
                                   cJSON_IsString(band) ? band->valuestring : "");
        else
            at += (size_t)snprintf(line + at, sizeof line - at, "%3s %-10s", "-", "");
    }
    print_stripped(line);
}

/* `cli.skin_lines`: a face's skin report as text (verdict, tone, a table of scores and bands),
 * each line indented by four spaces. */
static void print_skin(const cJSON *skin)
{
    const cJSON *tone = cJSON_GetObjectItemCaseSensitive(skin, "tone"), *check, *region;
    const cJSON *checks = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(skin, "quality"), "checks");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(skin, "reliable"))) {
        printf("    skin: reliable");
    } else {
        printf("    skin: NOT reliable:");
        cJSON_ArrayForEach(check, checks)
        {
            const cJSON *message = cJSON_GetObjectItemCaseSensitive(check, "message");
            if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(check, "passed")) && cJSON_IsString(message))
                printf(" %s", message->valuestring);
        }
    }
    printf("%s\n", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(skin, "restored")) ? " (restored)" : "");
    const cJSON *category = cJSON_GetObjectItemCaseSensitive(tone, "category");
    if (cJSON_IsString(category))
        printf("    tone: %s (ITA %.0f deg)\n", category->valuestring, number_in(tone, "ita_deg"));
    else
        printf("    tone: not measured\n");
    char header[256];
    size_t at = (size_t)snprintf(header, sizeof header, "    %16s", "");
    for (int c = 0; c < FL_CONCERN_COUNT && at < sizeof header; c++)
        at += (size_t)snprintf(header + at, sizeof header - at, "%-14s", fl_concern_name((fl_concern)c));
    print_stripped(header);
    print_skin_row("face", cJSON_GetObjectItemCaseSensitive(skin, "face"));
    cJSON_ArrayForEach(region, cJSON_GetObjectItemCaseSensitive(skin, "regions")) print_skin_row(region->string, region);
}

/* `facelite analyze`'s human summary (cli._summary) of one image entry. */
static void print_entry(const cJSON *entry)
{
    const cJSON *image = cJSON_GetObjectItemCaseSensitive(entry, "image");
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(entry, "error");
    const char *name = cJSON_IsString(image) ? image->valuestring : "?";
    if (cJSON_IsString(error)) {
        printf("%s: error: %s\n", name, error->valuestring);
        return;
    }
    const cJSON *faces = cJSON_GetObjectItemCaseSensitive(entry, "faces");
    const cJSON *detector = cJSON_GetObjectItemCaseSensitive(entry, "detector");
    printf("%s: %d face(s) [%s]\n", name, cJSON_GetArraySize(faces),
           cJSON_IsString(detector) ? detector->valuestring : "");
    int i = 0;
    const cJSON *face;
    cJSON_ArrayForEach(face, faces)
    {
        const cJSON *box = cJSON_GetObjectItemCaseSensitive(face, "box");
        const cJSON *expr = cJSON_GetObjectItemCaseSensitive(face, "expression");
        const cJSON *skin = cJSON_GetObjectItemCaseSensitive(face, "skin");
        printf("  face %d: box %.0f,%.0f %.0fx%.0f score %.2f", i++, number_in(box, "x"), number_in(box, "y"),
               number_in(box, "w"), number_in(box, "h"), number_in(box, "score"));
        const cJSON *top = cJSON_GetObjectItemCaseSensitive(expr, "top");
        if (cJSON_IsString(cJSON_GetArrayItem(top, 0)))
            printf("  expression %s %.2f", cJSON_GetArrayItem(top, 0)->valuestring,
                   number_in(cJSON_GetArrayItem(top, 1), NULL));
        printf("\n");
        if (cJSON_IsObject(skin)) print_skin(skin);
    }
}

static void print_analysis(const cJSON *doc)
{
    const cJSON *images = cJSON_GetObjectItemCaseSensitive(doc, "images"), *entry;
    if (images == NULL) {
        print_entry(doc);
    } else {
        cJSON_ArrayForEach(entry, images) print_entry(entry);
    }
    const cJSON *pipeline = cJSON_GetObjectItemCaseSensitive(doc, "pipeline");
    static const char *const keys[] = {"init_ms", "first_ms", "cold_start_ms", "avg_ms", "p50_ms", "peak_rss_mb"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        double v = number_in(pipeline, keys[k]);
        if (!isnan(v)) printf("%-16s %.4f\n", keys[k], v);
    }
}

static void print_human(const cJSON *doc)
{
    static const char *const keys[] = {"variant", "accelerator", "fallback_reason", "init_ms", "first_ms",
                                       "warmup_avg_ms", "avg_ms", "p50_ms", "p90_ms", "p99_ms", "std_ms",
                                       "peak_rss_mb"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, keys[i]);
        if (cJSON_IsString(v)) printf("%-16s %s\n", keys[i], v->valuestring);
        else if (cJSON_IsNumber(v)) printf("%-16s %.4f\n", keys[i], v->valuedouble);
    }
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(doc, "golden");
    if (g) {
        char *text = cJSON_PrintUnformatted(g);
        if (text) printf("%-16s %s\n", "golden", text);
        free(text);
    }
}

int main(int argc, char **argv)
{
    args a;
    failure f = {0, ""};
    process_start_ms = now_ms();
    int json = 0;
    for (int i = 1; i < argc; i++) json |= strcmp(argv[i], "--json") == 0;
    cJSON *doc = cJSON_CreateObject();
    int rc = doc == NULL ? fail(&f, 1, "out of memory") : parse_args(argc, argv, &a, &f);
    if (rc == 0) rc = a.video ? run_video(&a, doc, &f) : a.analyze ? run_analyze(&a, doc, &f) : run(&a, doc, &f);
    if (rc != 0) {
        fprintf(stderr, "error: %s\n", f.message);
        if (json && cJSON_GetObjectItemCaseSensitive(doc, "golden")) { /* measured, then failed its goldens */
            cJSON_AddStringToObject(doc, "error", f.message);
            cJSON_AddNumberToObject(doc, "exit_code", rc);
            cJSON_AddStringToObject(doc, "kind", rc == 2 ? "user" : "internal");
            char *text = cJSON_PrintUnformatted(doc);
            if (text) puts(text);
            free(text);
        } else if (json) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "error", f.message);
            cJSON_AddNumberToObject(e, "exit_code", rc);
            cJSON_AddStringToObject(e, "kind", rc == 2 ? "user" : "internal");
            char *text = cJSON_PrintUnformatted(e);
            if (text) puts(text);
            free(text);
            cJSON_Delete(e);
        }
    } else if (a.json || a.video) { /* --video: the summary line after the frames' */
        char *text = cJSON_PrintUnformatted(doc);
        if (text == NULL) {
            fprintf(stderr, "error: out of memory printing the result\n");
            rc = 1;
        } else {
            puts(text);
            free(text);
        }
    } else if (a.analyze) {
        print_analysis(doc);
    } else {
        print_human(doc);
    }
    cJSON_Delete(doc);
    return rc;
}
