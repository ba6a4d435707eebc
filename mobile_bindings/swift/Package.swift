// swift-tools-version:5.9
// FaceLite for Swift: a thin layer over the C core's header (facelite/analyzer.h), not
// built in this repository (no Apple toolchain here); see README.md for the build.
import PackageDescription

let package = Package(
    name: "FaceLite",
    platforms: [.iOS(.v15), .macOS(.v13)],
    products: [.library(name: "FaceLite", targets: ["FaceLite"])],
    targets: [
        // libfacelite and its dependencies as one static library per platform, with the C
        // headers and CFacelite/module.modulemap (README.md, "Build").
        .binaryTarget(name: "CFacelite", path: "CFacelite.xcframework"),
        .target(name: "FaceLite", dependencies: ["CFacelite"], path: "Sources/FaceLite",
                linkerSettings: [.linkedFramework("CoreVideo"), .linkedLibrary("c++")]),
    ]
)
