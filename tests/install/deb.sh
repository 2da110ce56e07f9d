#!/bin/sh
# deb.sh build|test -- make deb, make deb-test (root, network).
#
# build: the working tree (tracked and untracked files, not the ignored
# ones) copied to DEB_DIR/osrca-VERSION (default DEB_DIR /var/tmp/osrca-deb,
# so that dpkg-buildpackage writes its results there and never beside the
# checkout), its build dependencies installed (apt-get build-dep), then
# `dpkg-buildpackage -us -uc -b` and `lintian` on the result.
# test: a fresh minimal Debian 12 root (tests/install/minroot.sh), the
# newest DEB_DIR/osrca_*.deb installed in it with `apt install ./FILE`,
# then `osrca analyze` of a bundled capture from /, with nothing else
# done; the root is removed unless DEB_KEEP=1.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/install/minroot.sh
out=${DEB_DIR:-/var/tmp/osrca-deb}
export DEBIAN_FRONTEND=noninteractive

deb_build()
{
    if ! command -v dpkg-buildpackage >/dev/null 2>&1 || ! command -v dh >/dev/null 2>&1 ||
        ! command -v lintian >/dev/null 2>&1; then
        [ "$(id -u)" = 0 ] || { echo "deb: install dpkg-dev debhelper lintian" >&2; return 1; }
        apt-get install -y -qq --no-install-recommends dpkg-dev debhelper lintian >/dev/null ||
            return 1
    fi
    ver=$(dpkg-parsechangelog -S Version) || return 1
    src="$out/osrca-$ver"
    rm -rf "$src" "$out"/osrca_"$ver"_*
    mkdir -p "$src"
    git ls-files -z --cached --others --exclude-standard |
        xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
        tar --null -T - -cf - | tar -C "$src" -xf - || return 1
    if ! (cd "$src" && dpkg-checkbuilddeps) 2>/dev/null; then
        [ "$(id -u)" = 0 ] || { (cd "$src" && dpkg-checkbuilddeps); return 1; }
        echo "deb: apt-get build-dep $src"
        apt-get build-dep -y -qq --no-install-recommends "$src" >/dev/null || return 1
    fi
    echo "deb: dpkg-buildpackage -us -uc -b in $src"
    (cd "$src" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1
    r=$?
    grep -E '^(dpkg-buildpackage|dpkg-deb|unit:|dpkg-genchanges)' "$out/build.log"
    [ "$r" = 0 ] || { tail -n 30 "$out/build.log"; echo "deb: build FAILED (log: $out/build.log)"; return 1; }
    ls -l "$out"/osrca_"$ver"_*.deb
    echo "deb: lintian"
    lintian -I --pedantic "$out"/osrca_"$ver"_*.changes
    echo "deb: lintian exit $?"
    return 0
}

deb_test()
{
    deb=$(ls -t "$out"/osrca_*.deb 2>/dev/null | head -n 1)
    [ -n "$deb" ] || { echo "deb-test: no $out/osrca_*.deb: make deb first" >&2; return 1; }
    root=${DEB_ROOT:-/var/tmp/osrca-debtest}
    minroot_make "$root" || return 1
    trap 'minroot_umount "$root"' EXIT
    trap 'exit 130' INT TERM
    cp "$deb" "$root/root/" && cp testdata/s2p_novalidhost_capacity.pcap "$root/root/" || return 1
    minroot_mount "$root" || return 1
    name=$(basename "$deb")
    echo "deb-test: # apt install ./$name  (in /root of the minimal root)"
    t0=$(date +%s)
    minroot_run "$root" "cd /root && apt-get update -qq && apt install -y ./$name" \
        >"$root.apt.log" 2>&1
    r=$?
    tail -n 6 "$root.apt.log" | sed 's/^/  | /'
    echo "deb-test: apt install exit $r, $(($(date +%s) - t0)) s"
    rc=$r
    if [ "$r" = 0 ]; then
        echo "deb-test: # cd / && osrca analyze /root/s2p_novalidhost_capacity.pcap"
        minroot_run "$root" "cd / && TZ=UTC osrca analyze /root/s2p_novalidhost_capacity.pcap" \
            >"$root.analyze.log" 2>&1
        r=$?
        sed -n '1,/^$/p' "$root.analyze.log" | head -n 8 | sed 's/^/  | /'
        grep -E '^(FAILED|SLOW|  root cause|  category)' "$root.analyze.log" | head -n 6 |
            sed 's/^/  | /'
        tail -n 1 "$root.analyze.log" | sed 's/^/  | /'
        echo "deb-test: osrca analyze exit $r"
        [ "$r" = 0 ] && grep -q 'nova-novalidhost' "$root.analyze.log" || rc=1
        # the operator's copy in /etc/osrca/rules takes precedence
        echo "deb-test: # rules copied to /etc/osrca/rules, one hint changed"
        minroot_run "$root" 'mkdir -p /etc/osrca && cp -r /usr/share/osrca/rules /etc/osrca/ &&
            sed -i "s/No compute host fits the request/LOCAL RULES: no compute host fits/" \
                /etc/osrca/rules/faults.yaml && cd / &&
            osrca analyze /root/s2p_novalidhost_capacity.pcap | grep -m 1 "hint:.*LOCAL RULES" &&
            rm -r /etc/osrca' | cut -c 1-100 | sed 's/^/  | /'
        [ "$(minroot_run "$root" 'ls -d /etc/osrca 2>/dev/null')" = "" ] || rc=1
        minroot_run "$root" 'getent passwd osrca; ls /usr/share/osrca/rules /etc/default/osrca \
            /lib/systemd/system/osrca-live@.service /usr/share/man/man1/osrca.1.gz \
            /usr/share/man/man5/osrca-rules.5.gz' | sed 's/^/  | /'
    fi
    minroot_umount "$root"
    if [ "${DEB_KEEP:-0}" = 1 ]; then echo "deb-test: root kept in $root"; else rm -rf "$root"; fi
    [ "$rc" = 0 ] && echo "deb-test: ok" || echo "deb-test: FAILED"
    return "$rc"
}

case ${1:-} in
build) deb_build ;;
test) deb_test ;;
*) echo "usage: deb.sh build|test" >&2; exit 2 ;;
esac
