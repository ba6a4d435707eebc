package facelite

import java.nio.ByteBuffer

/** Byte order of one pixel (the C core's `fl_pixel_format`); alpha is ignored, never blended. */
enum class PixelFormat(internal val code: Int, val channels: Int) {
    GRAY(1, 1),
    RGB(2, 3),
    BGR(3, 3),
    /** Android `Bitmap.Config.ARGB_8888` as `copyPixelsToBuffer` writes it. */
    RGBA(4, 4),
    /** iOS `kCVPixelFormatType_32BGRA`. */
    BGRA(5, 4)
}

/**
 * Pixels the caller holds: [height] rows of [rowStride] bytes from [pixels]' position, each
 * row [width] pixels of [format]. Nothing is copied when the buffer is direct or backed by
 * an array.
 */
class Image(
    val pixels: ByteBuffer,
    val width: Int,
    val height: Int,
    val rowStride: Int,
    val format: PixelFormat
) {
    override fun toString() = "Image(${width}x$height $format, stride $rowStride)"
}
