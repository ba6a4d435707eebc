package facelite.android

import android.graphics.Bitmap
import facelite.AnalysisResult
import facelite.FaceLite
import facelite.Image
import facelite.PixelFormat
import java.nio.ByteBuffer

/**
 * A Bitmap's pixels as a facelite [Image] (one copy into a direct buffer, which the C core
 * then reads in place). ARGB_8888 bitmaps are RGBA in memory; other configs are converted
 * to ARGB_8888 first. Alpha is ignored, so a translucent bitmap's premultiplied colours
 * are what is analysed: pass opaque photos (camera frames and decoded JPEGs are).
 */
fun Bitmap.toFaceLiteImage(): Image {
    val bitmap = if (config == Bitmap.Config.ARGB_8888) this else copy(Bitmap.Config.ARGB_8888, false)
    val buffer = ByteBuffer.allocateDirect(bitmap.rowBytes * bitmap.height)
    bitmap.copyPixelsToBuffer(buffer)
    buffer.rewind()
    return Image(buffer, bitmap.width, bitmap.height, bitmap.rowBytes, PixelFormat.RGBA)
}

/** Analyse a Bitmap: `faceLite.analyze(bitmap)`. */
fun FaceLite.analyze(bitmap: Bitmap): AnalysisResult = analyze(bitmap.toFaceLiteImage())

/** VIDEO mode: a Bitmap as the next frame at [timestampMs] (camera frames: prefer CameraX's
 *  RGBA `ImageProxy` buffer, read without this copy; see the README). */
fun FaceLite.analyzeVideoFrame(bitmap: Bitmap, timestampMs: Long): AnalysisResult =
    analyzeVideoFrame(bitmap.toFaceLiteImage(), timestampMs)
