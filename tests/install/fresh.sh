#!/bin/sh
# fresh.sh -- make fresh-test: the README's two commands, as root, on a
# fresh minimal Debian 12 (debootstrap --variant=minbase: no make, no
# compiler). The root goes to FRESH_ROOT (default /var/tmp/osrca-fresh,
# made anew; downloaded packages kept in /var/tmp/osrca-debcache), the
# repository's committed HEAD is cloned into it, in /srv/osrca
# (uncommitted changes are not tested), then each command runs in chroot
# with /proc, /sys and /dev mounted: first `demo` as the user nobody, which
# must stop at once printing the apt-get line, then both as root; its last lines and how long it took are printed, the whole
# output is in FRESH_ROOT.<target>.log (beside the root). The mounts are always
# undone; the root is removed at the end unless FRESH_KEEP=1.
# Needs root, network, and debootstrap (installed when missing).
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/install/minroot.sh
root=${FRESH_ROOT:-/var/tmp/osrca-fresh}
minroot_make "$root" || exit 1
trap 'minroot_umount "$root"' EXIT
trap 'exit 130' INT TERM
git clone -q . "$root/srv/osrca" || exit 1
echo "fresh: repository at $(git rev-parse --short HEAD) cloned into $root/srv/osrca"
minroot_mount "$root" || exit 1
rc=0
echo "fresh: # sh tests/make.sh demo   (as nobody)"
minroot_run "$root" "cd /srv/osrca && setpriv --reuid=65534 --regid=65534 --clear-groups \
    sh tests/make.sh demo" >"$root.nobody.log" 2>&1
r=$?
sed 's/^/  | /' "$root.nobody.log"
echo "fresh: as nobody: exit $r (expected 1)"
[ "$r" = 1 ] || rc=1
for target in demo check; do
    cmd="sh tests/make.sh $target"
    echo "fresh: # $cmd"
    t0=$(date +%s)
    minroot_run "$root" "cd /srv/osrca && $cmd" >"$root.$target.log" 2>&1
    r=$?
    t1=$(date +%s)
    tail -n "${FRESH_TAIL:-12}" "$root.$target.log" | sed 's/^/  | /'
    echo "fresh: '$cmd' exit $r, $((t1 - t0)) s"
    [ "$r" = 0 ] || rc=1
done
minroot_umount "$root"
if [ "${FRESH_KEEP:-0}" = 1 ]; then
    echo "fresh: root kept in $root"
else
    rm -rf "$root"
fi
[ "$rc" = 0 ] && echo "fresh: ok" || echo "fresh: FAILED"
exit $rc
