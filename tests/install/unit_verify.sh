#!/bin/sh
# unit_verify.sh -- make unit-verify: install osrca with PREFIX=/usr into a
# scratch root, then check the unit as installed there with
# `systemd-analyze verify` and print its exposure (`systemd-analyze
# security --offline`). verify needs ExecStart's executable to exist on
# this system; --root=SCRATCH would also need a whole system in there
# (sysinit.target, /bin/kill), so the copy checked differs from the
# installed unit in one thing only: ExecStart names the scratch root's
# binary. Exit 0 when verify succeeds and says nothing about the unit.
set -u
cd "$(dirname "$0")/../.."
command -v systemd-analyze >/dev/null 2>&1 || { echo "unit-verify: systemd-analyze missing (apt-get install systemd)" >&2; exit 2; }
root=$(mktemp -d /var/tmp/osrca-unit.XXXXXX)
trap 'rm -rf "$root"' EXIT
make --no-print-directory -s install PREFIX=/usr SYSTEMDUNITDIR=/lib/systemd/system \
    DESTDIR="$root" >/dev/null || exit 1
unit="$root/lib/systemd/system/osrca-live@.service"
# an instance of the template, as systemctl would start it
inst="$root/osrca-live@eth0.service"
sed "s|/usr/bin/osrca |$root/usr/bin/osrca |" "$unit" >"$inst"
echo "unit-verify: systemd-analyze verify --man=no osrca-live@eth0.service"
out=$(systemd-analyze verify --man=no "$inst" 2>&1)
rc=$?
# verify also loads this system's own units: their complaints are shown,
# marked, and do not count
ours=$(printf '%s\n' "$out" | grep -i osrca)
printf '%s\n' "$out" | grep -v -i osrca | grep . | sed 's/^/(this host, not osrca) /'
[ -n "$ours" ] && printf '%s\n' "$ours"
if [ "$rc" != 0 ] || [ -n "$ours" ]; then
    echo "unit-verify: FAILED (exit $rc)"
    exit 1
fi
echo "unit-verify: clean"
systemd-analyze security --offline=true "$inst" 2>/dev/null | tail -1
exit 0
