#!/bin/sh
# setup.sh [fuzz] -- make sure the build dependencies are installed (Debian
# 12); with `fuzz`, also clang and its fuzzer runtime. As root, missing
# packages are installed with apt-get; otherwise the exact command to run is
# printed and the script fails.
set -u
missing=""
need_pkg() { # pkg-config module, Debian package
    pkg-config --exists "$1" 2>/dev/null || missing="$missing $2"
}
command -v pkg-config >/dev/null 2>&1 || missing="$missing pkg-config"
command -v cc >/dev/null 2>&1 || missing="$missing gcc"
# gcc only recommends the C library's headers
[ -e /usr/include/stdio.h ] || missing="$missing libc6-dev"
command -v make >/dev/null 2>&1 || missing="$missing make"
# the bad-input suite (tests/badinput): generator and peak-RSS measurement
command -v python3 >/dev/null 2>&1 || missing="$missing python3"
[ -x /usr/bin/time ] || missing="$missing time"
# the pictures' tests (tests/pictures.sh): Graphviz renders the service
# map's DOT, xmllint checks the SVG documents osrca writes
command -v dot >/dev/null 2>&1 || missing="$missing graphviz"
command -v xmllint >/dev/null 2>&1 || missing="$missing libxml2-utils"
# the traces' test (tests/otlp): Node.js and npm read osrca's OTLP with the
# official definitions' generated code
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
# the report's test (tests/report): a real browser renders it
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
# the sensors' bus (tests/bus): hiredis (loaded at run time, the header to
# build) and a real redis-server the tests start on loopback
command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"
if command -v pkg-config >/dev/null 2>&1; then
    need_pkg libpcap libpcap-dev
    need_pkg libndpi libndpi-dev
    need_pkg jansson libjansson-dev
    need_pkg libpcre2-8 libpcre2-dev
    need_pkg yaml-0.1 libyaml-dev
    need_pkg check check
    need_pkg zlib zlib1g-dev
    need_pkg libcurl libcurl4-openssl-dev
    need_pkg libmicrohttpd libmicrohttpd-dev
    need_pkg hiredis libhiredis-dev
else
    missing="$missing libpcap-dev libndpi-dev libjansson-dev libpcre2-dev libyaml-dev check zlib1g-dev libcurl4-openssl-dev libmicrohttpd-dev libhiredis-dev"
fi
# `setup.sh fuzz` (make fuzz-smoke, part of make check): clang and the
# libFuzzer/ASan/UBSan runtimes, which Debian ships in libclang-rt-N-dev, a
# package clang only recommends. Checked by building a tiny fuzz target.
if [ "${1:-}" = fuzz ]; then
    rt=libclang-rt-14-dev # Debian 12's clang is clang-14
    if command -v clang >/dev/null 2>&1; then
        v=$(clang -dumpversion 2>/dev/null | cut -d. -f1)
        [ -n "$v" ] && rt="libclang-rt-$v-dev"
        t=$(mktemp -d)
        printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
            'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
            'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
            >"$t/t.c"
        clang -fsanitize=fuzzer,address,undefined -o "$t/t" "$t/t.c" >/dev/null 2>&1 ||
            missing="$missing $rt"
        rm -rf "$t"
    else
        missing="$missing clang $rt"
    fi
fi
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || { echo "setup: apt-get update failed" >&2; exit 1; }
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
        { echo "setup: apt-get install$missing failed" >&2; exit 1; }
    exit 0
fi
echo "setup: missing build dependencies. Install them as root (or with sudo) with:" >&2
echo "  apt-get update && apt-get install -y --no-install-recommends$missing" >&2
exit 1
