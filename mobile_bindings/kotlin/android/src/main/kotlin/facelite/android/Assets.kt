package facelite.android

import android.content.Context
import java.io.File

/**
 * The app's bundles as files: `assets/<assetDir>/<name>/<name>.flb` copied once into
 * `noBackupFilesDir/<assetDir>` (again only when the APK was updated), returning that
 * folder for `Options(bundlesDir = ...)`. The C core maps bundle files; assets compressed
 * in the APK cannot be mapped in place (keep `.flb` uncompressed with
 * `androidResources { noCompress += "flb" }` to make the copy cheap).
 */
fun Context.faceLiteBundlesDir(assetDir: String = "facelite"): String {
    val target = File(noBackupFilesDir, assetDir)
    val stamp = File(target, ".apk_update_time")
    val updated = packageManager.getPackageInfo(packageName, 0).lastUpdateTime.toString()
    if (stamp.isFile && stamp.readText() == updated) return target.path
    for (name in assets.list(assetDir).orEmpty()) {
        val member = "$assetDir/$name/$name.flb"
        val out = File(target, "$name/$name.flb")
        out.parentFile?.mkdirs()
        assets.open(member).use { input -> out.outputStream().use { input.copyTo(it) } }
    }
    stamp.writeText(updated)
    return target.path
}
