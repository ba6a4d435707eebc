/*
 * image.h: pixels in memory (the caller's buffers) and image decoding (spec step 1).
 *
 * Why here: a phone hands facelite pixels it already holds (an Android `Bitmap` is RGBA
 * in memory, an iOS `CVPixelBuffer` of kCVPixelFormatType_32BGRA is BGRA, both with a row
 * stride), while the runner and the tests decode files. Both must reach the same BGR
 * pixels as the Python runtime's `facelite.image.load_image`, so `fl_image` describes any
 * caller-owned buffer without copying it, and the decoder applies the same rules as
 * Python: JPEG (libjpeg-turbo, integer IDCT, fancy upsampling, EXIF orientation applied)
 * and PNG (libpng; 16-bit samples keep their high byte, alpha dropped, grey and palette
 * expanded) to 8-bit BGR, with the 50 megapixel limit read from the header before any
 * decoding, a 64 MiB cap on encoded bytes, and truncated JPEGs refused. As OpenCV does,
 * the EXIF orientation of a JPEG (its APP1 "Exif" segment) and of a PNG (its eXIf chunk,
 * before or after the image data) is applied, so the pixels are upright.
 *
 * Example:
 *
 *     fl_decoded_image img;
 *     fl_error err;
 *     fl_decoded_image_init(&img);
 *     if (fl_image_load("face.jpg", &img, &err) != FL_OK) {
 *         fprintf(stderr, "error: %s\n", err.message);   // "face.jpg: truncated JPEG ..."
 *         return 2;
 *     }
 *     // img.image: BGR, img.image.width x img.image.height, ready for fl_prepare()
 *     fl_decoded_image_release(&img);
 */
#ifndef FACELITE_IMAGE_H
#define FACELITE_IMAGE_H

#include "facelite/facelite.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ----------------------------------------------------------------------------------
 * Pixels in memory
 * -------------------------------------------------------------------------------- */

/** Byte order of one pixel in a caller's buffer, 8 bits per channel. Alpha is ignored
 *  (dropped, never blended), as `facelite.image.to_bgr8` does. */
typedef enum fl_pixel_format {
    FL_PIXELS_GRAY = 1, /**< one byte: luma */
    FL_PIXELS_RGB = 2,
    FL_PIXELS_BGR = 3,  /**< what the decoder and OpenCV produce */
    FL_PIXELS_RGBA = 4, /**< Android Bitmap ARGB_8888 in memory */
    FL_PIXELS_BGRA = 5  /**< iOS CVPixelBuffer kCVPixelFormatType_32BGRA */
} fl_pixel_format;

/** A view of caller-owned pixels; nothing is copied and nothing is freed. */
typedef struct fl_image {
    const uint8_t *pixels; /**< first byte of the top row */
    int width;             /**< 1 or more */
    int height;            /**< 1 or more */
    size_t stride;         /**< bytes from one row to the next, at least width * channels */
    fl_pixel_format format;
} fl_image;

/** Channels per pixel of `format` (1, 3 or 4); 0 for a value outside the enum. */
FL_API int fl_pixel_format_channels(fl_pixel_format format);

/** "gray", "rgb", "bgr", "rgba", "bgra" ("unknown" outside the enum). */
FL_API const char *fl_pixel_format_name(fl_pixel_format format);

/** FL_OK when `image` describes a usable buffer (non-NULL pixels, sizes from 1, a known
 *  format, a stride holding a row, no size overflow); FL_ERR_INVALID_ARGUMENT saying
 *  which field is wrong otherwise. */
FL_API fl_status fl_image_check(const fl_image *image, fl_error *err);

/* ----------------------------------------------------------------------------------
 * Decoding (docs/preprocessing.md step 1)
 * -------------------------------------------------------------------------------- */

/** Largest image decoded, width x height (`facelite.image.MAX_PIXELS`). */
#define FL_IMAGE_MAX_PIXELS 50000000LL
/** Largest encoded image accepted, in bytes (`facelite.image.MAX_FILE_BYTES`). */
#define FL_IMAGE_MAX_BYTES (64LL * 1024 * 1024)
/** Most scans a JPEG may have (`facelite.image.MAX_JPEG_SCANS`). */
#define FL_JPEG_MAX_SCANS 256
/** Most chunks a PNG may have (`facelite.image.MAX_PNG_CHUNKS`). */
#define FL_PNG_MAX_CHUNKS 200000

/** Formats whose header facelite reads (`facelite.image.ACCEPTED_FORMATS`). This decoder
 *  decodes JPEG and PNG; the others are recognised and refused with FL_ERR_UNSUPPORTED
 *  (convert them to PNG or JPEG, or decode them yourself and pass an `fl_image`). */
typedef enum fl_image_format {
    FL_IMAGE_JPEG = 1,
    FL_IMAGE_PNG = 2,
    FL_IMAGE_BMP = 3,
    FL_IMAGE_WEBP = 4,
    FL_IMAGE_TIFF = 5,
    FL_IMAGE_GIF = 6
} fl_image_format;

/** "JPEG", "PNG", "BMP", "WebP", "TIFF", "GIF". */
FL_API const char *fl_image_format_name(fl_image_format format);

/** What an encoded image's header declares, read without decoding. */
typedef struct fl_image_header {
    fl_image_format format;
    int64_t width;   /**< before the EXIF orientation */
    int64_t height;
    int orientation; /**< JPEG EXIF orientation 1-8 (1: none or absent); 1 for PNG, whose eXIf
                          chunk may follow the pixels (see fl_decoded_image.orientation) */
} fl_image_header;

/** Read the format, size and (JPEG) orientation from `data`, as
 *  `facelite.image.read_header` does; formats facelite does not read are refused by
 *  name (FL_ERR_IMAGE_INVALID), BMP, WebP, TIFF and GIF as not decoded here
 *  (FL_ERR_UNSUPPORTED). `where` names the input in messages (NULL: "image"). */
FL_API fl_status fl_image_read_header(const void *data, size_t size, const char *where, fl_image_header *out,
                                      fl_error *err);

/** Decoded BGR pixels, owned by this struct and reused by the next decode into it.
 *  Initialise with `fl_decoded_image_init`, free with `fl_decoded_image_release`. */
typedef struct fl_decoded_image {
    fl_image image;  /**< the pixels: FL_PIXELS_BGR, stride width * 3, upright */
    int orientation; /**< the EXIF orientation that was applied (1: none) */
    /* private: buffers kept between decodes */
    uint8_t *pixels_;
    size_t pixels_capacity_;
    uint8_t *work_;
    size_t work_capacity_;
} fl_decoded_image;

FL_API void fl_decoded_image_init(fl_decoded_image *image);
/** Free the buffers (the struct may then be decoded into again). */
FL_API void fl_decoded_image_release(fl_decoded_image *image);

/**
 * Decode JPEG or PNG bytes to upright 8-bit BGR, as `facelite.image.decode_image` does.
 *
 * Checked before decoding: at most FL_IMAGE_MAX_BYTES, a recognised format, a size from
 * 1x1 to FL_IMAGE_MAX_PIXELS read from the header, a JPEG reaching its end-of-image
 * marker in at most FL_JPEG_MAX_SCANS scans, a PNG's chunks within the file (IHDR first,
 * IDAT present, IEND reached, at most FL_PNG_MAX_CHUNKS). After: the pixels have the
 * header's size.
 * Errors: FL_ERR_IMAGE_INVALID (damaged, refused, too large), FL_ERR_UNSUPPORTED (BMP,
 * WebP, TIFF, GIF), FL_ERR_NO_MEMORY. `out`'s buffers grow when needed and are reused;
 * libjpeg-turbo and libpng allocate their own working state on each call.
 */
FL_API fl_status fl_image_decode(const void *data, size_t size, const char *where, fl_decoded_image *out,
                                 fl_error *err);

/** `fl_image_decode` of the file at `path`: a regular file only (FIFOs, devices, sockets
 *  and folders are refused from `stat` before opening), opened non-blocking and checked
 *  again, at most FL_IMAGE_MAX_BYTES (FL_ERR_IO for those problems). The file's bytes
 *  are read into a temporary buffer, freed before returning. */
FL_API fl_status fl_image_load(const char *path, fl_decoded_image *out, fl_error *err);

#ifdef __cplusplus
}
#endif

#endif /* FACELITE_IMAGE_H */
