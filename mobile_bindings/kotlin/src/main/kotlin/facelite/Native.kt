package facelite

import java.nio.ByteBuffer

/**
 * The JNI functions of `libfacelite_jni` (mobile_bindings/kotlin/jni/facelite_jni.c).
 * Loaded from the system property `facelite.jni.library` (an absolute path) when set,
 * else `System.loadLibrary("facelite_jni")` (java.library.path; on Android the APK's jniLibs).
 */
internal object Native {
    init {
        val path = System.getProperty("facelite.jni.library")
        if (path != null) System.load(path) else System.loadLibrary("facelite_jni")
    }

    @JvmStatic external fun create(bundlesDir: String?, paths: Array<String?>, variant: String?, accelerator: Int,
                                   threads: Int, minFaceScore: Double, maxFaces: Int, skin: Boolean,
                                   restore: Boolean, runningMode: Int, detectEvery: Int, expressionEvery: Int,
                                   skinEvery: Int, smoothing: Boolean): Long
    @JvmStatic external fun destroy(handle: Long)
    @JvmStatic external fun stage(handle: Long, stage: Int): String?
    @JvmStatic external fun engine(handle: Long, stage: Int): Array<String?>?
    @JvmStatic external fun analyzePixels(handle: Long, buffer: ByteBuffer?, array: ByteArray?, offset: Int, width: Int,
                                          height: Int, rowStride: Int, format: Int, video: Boolean,
                                          timestampMs: Long): Int
    @JvmStatic external fun analyzeFile(handle: Long, path: String, video: Boolean, timestampMs: Long): Int
    @JvmStatic external fun reset(handle: Long)
    @JvmStatic external fun decode(path: String, size: IntArray): ByteArray
    @JvmStatic external fun imageSize(handle: Long): IntArray
    @JvmStatic external fun video(handle: Long): LongArray?
    @JvmStatic external fun boxes(handle: Long): DoubleArray
    @JvmStatic external fun points(handle: Long): FloatArray
    @JvmStatic external fun regionSizes(handle: Long): IntArray?
    @JvmStatic external fun regionName(index: Int): String?
    @JvmStatic external fun labels(handle: Long, stage: Int): Array<String>?
    @JvmStatic external fun scores(handle: Long, stage: Int): FloatArray?
    @JvmStatic external fun concernName(index: Int): String?
    @JvmStatic external fun bandName(index: Int): String?
    @JvmStatic external fun skinNumbers(handle: Long, face: Int): DoubleArray?
    @JvmStatic external fun skinStrings(handle: Long, face: Int): Array<String?>?
    @JvmStatic external fun timings(handle: Long): DoubleArray
    @JvmStatic external fun resultJson(handle: Long, exact: Boolean): String?
}
