# minroot.sh -- sourced by fresh.sh and deb.sh: a minimal Debian 12 root
# file system to run commands in with chroot. Root only.

# The Debian mirror this machine's apt uses (deb.debian.org otherwise).
minroot_mirror()
{
    m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        /etc/apt/sources.list.d/*.sources 2>/dev/null |
        grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n 1 | tr -d ' ')
    echo "${m:-http://deb.debian.org/debian}"
}

# minroot_make DIR: DIR made anew as `debootstrap --variant=minbase
# bookworm`, with its packages cached in /var/tmp/osrca-debcache. Refuses
# a DIR with something still mounted below it.
minroot_make()
{
    [ "$(id -u)" = 0 ] || { echo "minroot: needs root (debootstrap, chroot)" >&2; return 1; }
    if grep -q " $1/" /proc/mounts; then
        echo "minroot: something is still mounted below $1" >&2
        return 1
    fi
    command -v debootstrap >/dev/null 2>&1 ||
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null ||
        return 1
    rm -rf "$1"
    mkdir -p /var/tmp/osrca-debcache
    mirror=$(minroot_mirror)
    echo "minroot: debootstrap --variant=minbase bookworm $1 $mirror"
    t0=$(date +%s)
    debootstrap --variant=minbase --cache-dir=/var/tmp/osrca-debcache bookworm "$1" "$mirror" \
        >"$1.debootstrap.log" 2>&1 ||
        { tail -n 5 "$1.debootstrap.log" >&2; return 1; }
    echo "minroot: done in $(($(date +%s) - t0)) s"
    # name service for apt-get inside
    cp /etc/resolv.conf "$1/etc/resolv.conf" 2>/dev/null
    return 0
}

# minroot_mount DIR: /proc, /sys and /dev (with /dev/pts, /dev/shm) in DIR.
minroot_mount()
{
    mount -t proc proc "$1/proc" &&
        mount -t sysfs sysfs "$1/sys" &&
        mount --rbind /dev "$1/dev" &&
        mount --make-rslave "$1/dev"
}

# minroot_umount DIR: undo minroot_mount (whatever part of it was done).
minroot_umount()
{
    for m in dev sys proc; do
        if grep -q " $1/$m " /proc/mounts; then
            umount -R "$1/$m" 2>/dev/null || umount -R -l "$1/$m"
        fi
    done
}

# minroot_run DIR SCRIPT: SCRIPT run by sh as root in DIR, in a clean
# environment.
minroot_run()
{
    chroot "$1" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 TERM=dumb /bin/sh -c "$2"
}
