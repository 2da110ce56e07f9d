/* common.c -- rules directory lookup and loading for the commands (see
 * common.h). */
#include "cli/common.h"

#include <errno.h>

#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    return "rules";
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

void common_heap_for_packets(void)
{
    mallopt(M_TOP_PAD, 8 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
}
