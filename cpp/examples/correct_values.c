/* correct_values.c: the C API on one real branch.
 *
 * Reads a branch's flat copy (NAME.values.npy), compresses it as a derivation would (keeping
 * BITS mantissa bits, rounding ROUNDING), infers the kept bits back from the data, corrects it
 * with the interval midpoint, checks the invariant (every corrected value re-quantises to its
 * stored value) and reports the mean squared error against the original before and after.
 * For truncated data the midpoint must cut the error (theory: to about 1/4); the program
 * fails otherwise.
 *
 * usage: correct_values FLAT_DIR BRANCH [BITS [nearest|truncate|nearest-even]]
 */
#include "refloat.h"
#include "npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, int status) {
    fprintf(stderr, "%s: %s (%s)\n", what, refloat_last_error(), refloat_status_str(status));
    return 1;
}

int main(int argc, char **argv) {
    char path[4096];
    size_t n = 0, i;
    unsigned bits = 10;
    uint32_t inferred = 0;
    refloat_rounding mode = REFLOAT_TRUNCATE;
    float *original, *data, *stored;
    double mse_stored = 0, mse_corrected = 0;
    int rc;
    refloat_correction_report report;

    if (argc < 3) {
        fprintf(stderr, "usage: %s FLAT_DIR BRANCH [BITS [nearest|truncate|nearest-even]]\n", argv[0]);
        return 2;
    }
    if (argc > 3) bits = (unsigned)strtoul(argv[3], NULL, 10);
    if (argc > 4) mode = strcmp(argv[4], "nearest") == 0        ? REFLOAT_NEAREST
                         : strcmp(argv[4], "nearest-even") == 0 ? REFLOAT_NEAREST_EVEN
                                                                : REFLOAT_TRUNCATE;
    snprintf(path, sizeof path, "%s/%s.values.npy", argv[1], argv[2]);
    original = (float *)npy_read(path, "<f4", &n);
    if (!original) return 2;
    data = (float *)malloc(n * sizeof(float) + 1);
    stored = (float *)malloc(n * sizeof(float) + 1);
    memcpy(data, original, n * sizeof(float));

    /* what the derivation did */
    if ((rc = refloat_quantise_f32(data, n, bits, mode)) != REFLOAT_OK) return fail("quantise", rc);
    memcpy(stored, data, n * sizeof(float));
    /* the bit count is not in the file: infer it from the whole branch */
    if ((rc = refloat_infer_mantissa_bits_f32(data, n, &inferred)) != REFLOAT_OK) return fail("infer", rc);
    /* correct in place, then check the invariant */
    rc = refloat_correct_report_f32(data, n, inferred, mode, REFLOAT_MIDPOINT, 0, &report);
    if (rc != REFLOAT_OK) return fail("correct", rc);
    if ((rc = refloat_verify_f32(data, stored, n, inferred, mode)) != REFLOAT_OK) return fail("verify", rc);

    for (i = 0; i < n; i++) {
        double ds = (double)stored[i] - original[i], dc = (double)data[i] - original[i];
        mse_stored += ds * ds;
        mse_corrected += dc * dc;
    }
    printf("refloat %s: %s, %zu values stored with %u bits, inferred %u; %zu corrected, %zu exact\n",
           refloat_version(), argv[2], n, bits, (unsigned)inferred, report.corrected, report.left_exact);
    printf("MSE vs original: stored %.6g, corrected %.6g, ratio %.3f\n", mse_stored / n, mse_corrected / n,
           mse_stored > 0 ? mse_corrected / mse_stored : 1.0);
    free(original);
    free(data);
    free(stored);
    if (mode == REFLOAT_TRUNCATE && inferred == bits && !(mse_corrected < 0.5 * mse_stored)) {
        fprintf(stderr, "the midpoint did not reduce the error of truncated data\n");
        return 1;
    }
    return 0;
}
