/* fuzz_baseline.c -- libFuzzer target for reading a baseline of usual
 * durations back (rca/baseline.c, --baseline FILE): the input is the
 * document; what loads is then used (a usual asked, saved again). Any
 * crash, leak or unbounded work is a bug. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rca/baseline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct baseline *b = baseline_new(64, NULL);
    if (!b)
        return 0;
    char err[256];
    if (baseline_load_buf(b, (const char *)data, size, err, sizeof(err)) == 0) {
        uint64_t n;
        baseline_usual(b, "op|server create", &n);
        FILE *f = fopen("/dev/null", "w");
        if (f) {
            baseline_save(b, f);
            fclose(f);
        }
    }
    baseline_free(b);
    return 0;
}
