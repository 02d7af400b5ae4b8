#!/usr/bin/env bash
# Installs what building and testing apr needs on Debian/Ubuntu, if it is missing.
# Usage: tools/install_deps.sh [extra]   (extra: cross compilers, qemu, clang, promtool,
# node for the CI-only checks). Does nothing when everything is present.
set -u
pkgs="libstb-dev curl"
[ "${1:-}" = extra ] && pkgs="$pkgs clang gcc-mingw-w64-x86-64 gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user libclang-rt-14-dev prometheus"
missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
# node and npm are often installed outside Debian's packages: look for the commands
if [ "${1:-}" = extra ]; then
  command -v node >/dev/null 2>&1 || missing="$missing nodejs"
  command -v npm >/dev/null 2>&1 || missing="$missing npm"
fi
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "apr: please install:$missing" >&2; exit 0
fi
SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO=sudo
echo "apr: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null 2>&1 || true
if ! $SUDO apt-get install -y -qq $missing >/dev/null 2>&1; then
  # one package that cannot be installed must not keep the others out
  for p in $missing; do
    $SUDO apt-get install -y -qq "$p" >/dev/null 2>&1 ||
      echo "apr: could not install $p (tests that need it are skipped)" >&2
  done
fi
exit 0
