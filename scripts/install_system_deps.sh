#!/bin/sh
# System packages facelite's tests and tools need (Debian/Ubuntu). Idempotent: installs
# only what is missing; safe to call from CI on every run. Needs root (or sudo).
#   adb                       - facelite-bench's adb:SERIAL devices (Debian's real adb client)
#   chromium chromium-driver  - facelite-bench UI tests in headless Chromium (selenium)
#   cmake pkg-config gcc libc6-dev make
#                             - building mobile_bindings/c (libfacelite, facelite-run) in the tests
#   libcjson-dev              - the C core's JSON parser (manifest, signature.json)
#   libsodium-dev             - the C core's sha256 and Ed25519 (variant checksums, bundle signatures)
#   libturbojpeg0-dev libpng-dev
#                             - the C core's image decoders (JPEG, PNG)
#   kotlin default-jdk-headless
#                             - the Kotlin binding (mobile_bindings/kotlin): kotlinc, javac's JNI headers
set -eu

PACKAGES="adb chromium chromium-driver cmake pkg-config gcc libc6-dev make libcjson-dev libsodium-dev libturbojpeg0-dev libpng-dev kotlin default-jdk-headless"

missing=""
for pkg in $PACKAGES; do
    if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        echo "install_system_deps: $pkg already installed"
    else
        missing="$missing $pkg"
    fi
done

if [ -z "$missing" ]; then
    echo "install_system_deps: nothing to do"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
echo "install_system_deps: installing$missing"
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
