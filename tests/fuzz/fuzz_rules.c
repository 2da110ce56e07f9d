/* fuzz_rules.c -- libFuzzer target for the rules loader (rca/rules_load.c):
 * the input becomes the only *.yaml of a private temp dir, which is then
 * loaded and checked. Any crash, leak or unbounded work is a bug. */
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

static void count_cb(void *ctx, const char *msg)
{
    (*(int *)ctx)++;
    (void)msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "/tmp/fuzz_rules_XXXXXX");
        if (!mkdtemp(dir))
            abort();
        snprintf(file, sizeof(file), "%s/rules.yaml", dir);
    }
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
    }
    int n = 0;
    (void)rules_check_dir(dir, count_cb, &n);
    return 0;
}
