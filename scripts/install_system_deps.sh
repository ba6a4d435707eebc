#!/bin/sh
# System packages facelite's tests and tools need (Debian/Ubuntu). Idempotent: installs
# only what is missing; safe to call from CI on every run. Needs root (or sudo).
#   adb                       - facelite-bench's adb:SERIAL devices (Debian's real adb client)
#   chromium chromium-driver  - facelite-bench UI tests in headless Chromium (selenium)
set -eu

PACKAGES="adb chromium chromium-driver"

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
