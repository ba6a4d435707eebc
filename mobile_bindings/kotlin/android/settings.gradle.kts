// The Android module of facelite's Kotlin binding, buildable on its own (not built in this
// repository's tests; see README.md). In an app, include this folder as a module instead.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositories {
        google()
        mavenCentral()
    }
}
rootProject.name = "facelite-android"
