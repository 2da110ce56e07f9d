#!/bin/sh
# make.sh TARGET... -- the README's entry point, for a machine that may have
# nothing but Debian 12's base system (no make, no compiler): install what
# the targets need with tests/setup.sh (as root with apt-get; as another
# user it prints the exact install line and this stops with exit 1), then
# run make with the targets. `check` and the fuzz targets also need clang.
set -u
cd "$(dirname "$0")/.." || exit 2
extra=
for t in "$@"; do
    case $t in check | fuzz*) extra=fuzz ;; esac
done
sh tests/setup.sh $extra || exit 1
exec make "$@"
