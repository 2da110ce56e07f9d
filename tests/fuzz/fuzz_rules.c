/* fuzz_rules.c -- libFuzzer target for the rules loader (rca/rules_load.c):
 * the input becomes the only *.yaml of a private temp dir, which is then
 * loaded (and checked with rules_check_dir when the load fails). Any crash,
 * leak or unbounded work is a bug. Seeds: tests/fuzz/seeds.py (one rules
 * item each); run with -max_len=2048 (tests/fuzz/run.sh). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rca/rules_load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static char file[96];
static int shm; /* dir is on /dev/shm */

static void cleanup(void)
{
    unlink(file);
    rmdir(dir);
}

static void count_cb(void *ctx, const char *msg)
{
    (*(int *)ctx)++;
    (void)msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        /* tmpfs when there is one: no disk writeback per input */
        shm = access("/dev/shm", W_OK) == 0;
        const char *base = shm ? "/dev/shm" : "/tmp";
        snprintf(dir, sizeof(dir), "%s/fuzz_rules_XXXXXX", base);
        if (!mkdtemp(dir))
            abort();
        snprintf(file, sizeof(file), "%s/rules.yaml", dir);
        atexit(cleanup);
    }
    if (!shm)
        unlink(file); /* a new file, not a truncated one: ext4 flushes those on close */
    FILE *f = fopen(file, "wb");
    if (!f)
        return 0;
    if (size && fwrite(data, 1, size, f) != size) {
        fclose(f);
        return 0;
    }
    fclose(f);
    char err[512];
    struct rules *r = rules_load_dir(dir, NULL, err, sizeof(err));
    if (r) {
        /* exercise the compiled patterns once */
        const char *subj[RULES_F_COUNT] = {"rpc_failure", "500", "NoValidHost", "nova.exception",
                                           "No valid host was found. ", "x.error", "nova-api",
                                           "server create", "select_destinations"};
        (void)rules_fault_find(r, subj);
        rules_free(r);
    } else {
        /* the check path reports every error, not just the first; a file
         * that loads has none, and loading it again would only halve the
         * rate */
        int n = 0;
        int errs = rules_check_dir(dir, count_cb, &n);
        if (errs < 1 || errs != n)
            abort(); /* the load failed: the check must report that many errors */
    }
    return 0;
}
