/* common.c -- rules directory lookup and loading for the commands (see
 * common.h). */
#include "cli/common.h"

#include <errno.h>

#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/mem.h"

/* An installed osrca's rules: the operator's copy, else the packaged one
 * (the Makefile defines OSRCA_SHARE_RULES from PREFIX). */
#define OSRCA_ETC_RULES "/etc/osrca/rules"
#ifndef OSRCA_SHARE_RULES
#define OSRCA_SHARE_RULES "/usr/local/share/osrca/rules"
#endif

static int is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

const char *common_find_rules(const char *given, char *buf, size_t len)
{
    if (given)
        return given;
    const char *env = getenv("OSRCA_RULES");
    if (env && *env)
        return env;
    if (is_dir("rules"))
        return "rules";
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(buf, len, "%s/../rules", exe);
            if (is_dir(buf))
                return buf;
        }
    }
    if (is_dir(OSRCA_ETC_RULES))
        return OSRCA_ETC_RULES;
    return OSRCA_SHARE_RULES;
}

struct rules *common_load_rules(const char *given, struct stats *st)
{
    char buf[PATH_MAX + 16], err[512];
    const char *dir = common_find_rules(given, buf, sizeof(buf));
    struct rules *r = rules_load_dir(dir, st, err, sizeof(err));
    if (!r)
        fprintf(stderr, "osrca: rules: %s\n", err);
    return r;
}

int common_parse_snaplen(const char *cmd, const char *arg, int *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(arg, &end, 10);
    if (errno || end == arg || *end || v < 64 || v > 262144) {
        fprintf(stderr, "osrca %s: --snaplen %s: expected 64..262144\n", cmd, arg);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int common_parse_secs(const char *cmd, const char *opt, const char *arg, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || *end || end == arg || !(v >= 0 && v <= 86400)) {
        fprintf(stderr, "osrca %s: %s %s: expected seconds 0..86400\n", cmd, opt, arg);
        return -1;
    }
    *out = v;
    return 0;
}

#define HEAP_HUGE ((size_t)64 << 20)
#define HUGE_PAGE ((uintptr_t)2 << 20)

/* Grow the heap by HEAP_HUGE now and ask for transparent huge pages on the
 * new part. Returns 1 when the advice was taken. */
static int heap_huge(void)
{
    const char *env = getenv("OSRCA_HUGEPAGES");
    if (MEM_ASAN || (env && strcmp(env, "0") == 0))
        return 0; /* ASan's allocator has no heap to grow */
    /* blocks of 64 KiB (below the mmap threshold, so from the heap top)
     * until the top runs out and the heap grows by the pad; a top of more
     * than 16 MiB left by the set-up is left alone */
    mallopt(M_TOP_PAD, (int)HEAP_HUGE);
    void *blk[256];
    size_t nb = 0;
    char *end0 = sbrk(0), *end = end0;
    while (nb < sizeof(blk) / sizeof(blk[0]) && end == end0 && end0 != (char *)-1) {
        if (!(blk[nb] = malloc(64 << 10)))
            break;
        nb++;
        end = sbrk(0);
    }
    for (size_t i = 0; i < nb; i++)
        free(blk[i]);
    if (end == end0 || end == (char *)-1)
        return 0;
    uintptr_t a = ((uintptr_t)end0 + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    return (uintptr_t)end > a && madvise((void *)a, (uintptr_t)end - a, MADV_HUGEPAGE) == 0;
}

int common_heap_for_packets(void)
{
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    int huge = heap_huge();
    mallopt(M_TOP_PAD, 8 << 20);
    return huge;
}

uint64_t common_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
