// facelite-android: the JVM core (../src/main/kotlin, tested on the host) plus Bitmap and
// asset helpers, and the native libraries: libfacelite (../../c) and the JNI glue
// (../jni/facelite_jni.c), built by the NDK through src/main/cpp/CMakeLists.txt.
plugins {
    id("com.android.library") version "8.5.2"
    id("org.jetbrains.kotlin.android") version "1.9.24"
}

android {
    namespace = "facelite.android"
    compileSdk = 34
    ndkVersion = "26.3.11579264"

    defaultConfig {
        minSdk = 26
        ndk { abiFilters += listOf("arm64-v8a") }
        externalNativeBuild {
            cmake {
                // Where the arm64 dependencies were installed (README.md: cJSON, libsodium,
                // libjpeg-turbo, libpng) and LiteRT's arm64 libLiteRt.so.
                arguments += listOf(
                    "-DFACELITE_DEPS_PREFIX=${project.findProperty("faceliteDepsPrefix") ?: ""}",
                    "-DLITERT_LIB=${project.findProperty("litertLib") ?: ""}"
                )
            }
        }
    }
    externalNativeBuild {
        cmake { path = file("src/main/cpp/CMakeLists.txt") }
    }
    sourceSets["main"].java.srcDirs("../src/main/kotlin", "src/main/kotlin")
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions { jvmTarget = "17" }
}
