/* The C API from C, on the real data: every result is compared bit for bit with what the
 * Rust core computed (expected .npy files written by tests/ffi_c.rs), and every error path is
 * exercised. Built with -Wall -Wextra -Werror and run under ASan/UBSan by tests/ffi_c.rs.
 *
 * usage: test_capi CASES_FILE VERSION
 * CASES_FILE lines: values.npy counts.npy bits mode method seed expect_prefix inferred corrected left_exact non_finite
 */
#include "refloat.h"
#include "npy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef REFLOAT_TEST_HOOKS
void refloat_test_inject_panic(int on); /* debug builds only, not in the header */
#endif

static int failures = 0;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                  \
            fprintf(stderr, "\n");                                         \
            failures++;                                                    \
        }                                                                  \
    } while (0)

#define CHECK_STATUS(call, expected)                                                       \
    do {                                                                                   \
        int rc_ = (call);                                                                  \
        CHECK(rc_ == (expected), "%s returned %d (%s), expected %d; last error: %s", #call, rc_, \
              refloat_status_str(rc_), (int)(expected), refloat_last_error());             \
    } while (0)

static uint32_t bits_of(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

/* Index of the first bitwise difference, or -1. */
static long first_difference(const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (bits_of(a[i]) != bits_of(b[i])) return (long)i;
    return -1;
}

static float *load_expected(const char *prefix, const char *what, size_t n) {
    char path[4096];
    size_t m = 0;
    float *v;
    snprintf(path, sizeof path, "%s.%s.npy", prefix, what);
    v = (float *)npy_read(path, "<f4", &m);
    if (!v || m != n) {
        fprintf(stderr, "cannot load %s (%zu values, expected %zu)\n", path, m, n);
        exit(2);
    }
    return v;
}

static float *copy(const float *v, size_t n) {
    float *c = (float *)malloc(n * sizeof *c + 1);
    memcpy(c, v, n * sizeof *c);
    return c;
}

static void run_case(const char *values_path, unsigned bits, int mode_i, int method_i, unsigned long long seed,
                     const char *prefix, long inferred_expected, size_t n_corrected, size_t n_exact,
                     size_t n_nonfinite) {
    refloat_rounding mode = (refloat_rounding)mode_i;
    refloat_method method = (refloat_method)method_i;
    size_t n = 0;
    float *original = (float *)npy_read(values_path, "<f4", &n);
    float *stored, *lo, *hi, *res, *corrected, *e;
    refloat_correction_report report;
    uint32_t inferred = 12345;
    long d;
    if (!original) exit(2);

    /* quantise */
    stored = copy(original, n);
    CHECK_STATUS(refloat_quantise_f32(stored, n, bits, mode), REFLOAT_OK);
    e = load_expected(prefix, "quantised", n);
    d = first_difference(stored, e, n);
    CHECK(d < 0, "%s: quantised[%ld] differs from the Rust core", values_path, d);
    free(e);

    /* infer */
    if (inferred_expected >= 0) {
        CHECK_STATUS(refloat_infer_mantissa_bits_f32(stored, n, &inferred), REFLOAT_OK);
        CHECK(inferred == (uint32_t)inferred_expected, "%s: inferred %u, core says %ld", values_path, inferred,
              inferred_expected);
        CHECK(inferred <= bits, "inferred more bits than were kept");
    } else {
        CHECK_STATUS(refloat_infer_mantissa_bits_f32(stored, n, &inferred), REFLOAT_CANNOT_INFER_BITS);
        CHECK(inferred == 12345, "output written on error");
    }

    /* intervals: equal to the core's, and each original inside its own */
    lo = (float *)malloc(n * sizeof(float) + 1);
    hi = (float *)malloc(n * sizeof(float) + 1);
    CHECK_STATUS(refloat_interval_f32(stored, n, bits, mode, lo, hi), REFLOAT_OK);
    e = load_expected(prefix, "lo", n);
    d = first_difference(lo, e, n);
    CHECK(d < 0, "%s: lo[%ld] differs", values_path, d);
    free(e);
    e = load_expected(prefix, "hi", n);
    d = first_difference(hi, e, n);
    CHECK(d < 0, "%s: hi[%ld] differs", values_path, d);
    free(e);
    for (size_t i = 0; i < n; i++)
        if (isfinite(original[i]))
            CHECK(lo[i] <= original[i] && original[i] <= hi[i], "%s: original[%zu] outside its interval",
                  values_path, i);

    /* residuals */
    res = (float *)malloc(n * sizeof(float) + 1);
    CHECK_STATUS(refloat_residual_f32(original, stored, n, res), REFLOAT_OK);
    e = load_expected(prefix, "residual", n);
    d = first_difference(res, e, n);
    CHECK(d < 0, "%s: residual[%ld] differs", values_path, d);
    free(e);

    /* correction */
    corrected = copy(stored, n);
    memset(&report, 0xAB, sizeof report);
    CHECK_STATUS(refloat_correct_report_f32(corrected, n, bits, mode, method, seed, &report), REFLOAT_OK);
    e = load_expected(prefix, "corrected", n);
    d = first_difference(corrected, e, n);
    CHECK(d < 0, "%s: corrected[%ld] differs from the Rust core (method %d)", values_path, d, method_i);
    free(e);
    CHECK(report.corrected == n_corrected && report.left_exact == n_exact && report.non_finite == n_nonfinite,
          "%s: report %zu/%zu/%zu, core says %zu/%zu/%zu", values_path, report.corrected, report.left_exact,
          report.non_finite, n_corrected, n_exact, n_nonfinite);
    /* the invariant: re-quantising gives the stored value back */
    CHECK_STATUS(refloat_verify_f32(corrected, stored, n, bits, mode), REFLOAT_OK);
    {
        float *again = copy(corrected, n);
        CHECK_STATUS(refloat_quantise_f32(again, n, bits, mode), REFLOAT_OK);
        d = first_difference(again, stored, n);
        CHECK(d < 0, "%s: corrected[%ld] does not re-quantise to its stored value", values_path, d);
        free(again);
    }
    /* refloat_correct_f32 gives the same bits as the report variant */
    {
        float *plain = copy(stored, n);
        CHECK_STATUS(refloat_correct_f32(plain, n, bits, mode, method, seed), REFLOAT_OK);
        CHECK(first_difference(plain, corrected, n) < 0, "refloat_correct_f32 differs from refloat_correct_report_f32");
        free(plain);
    }

    /* not-quantised input: the original values (when they differ from the stored ones) */
    if (bits < 23 && first_difference(original, stored, n) >= 0) {
        float *orig = copy(original, n);
        CHECK_STATUS(refloat_correct_f32(orig, n, bits, mode, method, seed), REFLOAT_NOT_QUANTISED);
        CHECK(strstr(refloat_last_error(), "is not a stored value") != NULL, "message: %s", refloat_last_error());
        CHECK(first_difference(orig, original, n) < 0, "data written although the call failed");
        free(orig);
    }

    free(original);
    free(stored);
    free(lo);
    free(hi);
    free(res);
    free(corrected);
}

static void error_paths(const char *version) {
    float v[4] = {1.5f, -2.25f, 3.0f, 0.1f};
    float out[4] = {-7.0f, -7.0f, -7.0f, -7.0f};
    float out2[8];
    uint32_t bits = 77;
    refloat_correction_report report = {1, 2, 3, 4, 5, 6, 7};

    /* NULL with a non-zero length */
    CHECK_STATUS(refloat_quantise_f32(NULL, 4, 10, REFLOAT_NEAREST), REFLOAT_NULL_PARAMETER);
    CHECK(strstr(refloat_last_error(), "data is NULL") != NULL, "%s", refloat_last_error());
    CHECK_STATUS(refloat_quantise_f64(NULL, 1, 10, REFLOAT_NEAREST), REFLOAT_NULL_PARAMETER);
    CHECK_STATUS(refloat_correct_f32(NULL, 4, 10, REFLOAT_NEAREST, REFLOAT_MIDPOINT, 0), REFLOAT_NULL_PARAMETER);
    CHECK_STATUS(refloat_interval_f32(v, 4, 10, REFLOAT_TRUNCATE, out, NULL), REFLOAT_NULL_PARAMETER);
    CHECK(strstr(refloat_last_error(), "hi is NULL") != NULL, "%s", refloat_last_error());
    CHECK(out[0] == -7.0f, "lo written although the call failed");
    CHECK_STATUS(refloat_residual_f32(v, NULL, 4, out), REFLOAT_NULL_PARAMETER);
    CHECK(strstr(refloat_last_error(), "stored is NULL") != NULL, "%s", refloat_last_error());
    CHECK_STATUS(refloat_infer_mantissa_bits_f32(v, 4, NULL), REFLOAT_NULL_PARAMETER);
    CHECK_STATUS(refloat_correct_report_f32(v, 4, 23, REFLOAT_NEAREST, REFLOAT_MIDPOINT, 0, NULL),
                 REFLOAT_NULL_PARAMETER);
    /* NULL with length 0 is an empty buffer */
    CHECK_STATUS(refloat_quantise_f32(NULL, 0, 10, REFLOAT_NEAREST), REFLOAT_OK);
    CHECK(strcmp(refloat_last_error(), "") == 0, "success must clear the message");
    CHECK_STATUS(refloat_correct_report_f32(NULL, 0, 10, REFLOAT_NEAREST, REFLOAT_DITHER, 1, &report), REFLOAT_OK);
    CHECK(report.corrected == 0 && report.left_exact == 0 && report.non_finite == 0, "empty report");

    /* bits out of range */
    CHECK_STATUS(refloat_quantise_f32(v, 4, 24, REFLOAT_NEAREST), REFLOAT_MANTISSA_BITS_OUT_OF_RANGE);
    CHECK(strstr(refloat_last_error(), "24") != NULL, "%s", refloat_last_error());
    CHECK_STATUS(refloat_interval_f32(v, 4, 1000, REFLOAT_NEAREST, out, out2), REFLOAT_MANTISSA_BITS_OUT_OF_RANGE);
    CHECK_STATUS(refloat_quantise_f64(NULL, 0, 53, REFLOAT_NEAREST), REFLOAT_MANTISSA_BITS_OUT_OF_RANGE);
    CHECK(v[0] == 1.5f && v[3] == 0.1f, "data written although the call failed");

    /* enum values that are not enumerators */
    CHECK_STATUS(refloat_quantise_f32(v, 4, 10, (refloat_rounding)7), REFLOAT_INVALID_ARGUMENT);
    CHECK_STATUS(refloat_correct_f32(v, 4, 23, REFLOAT_NEAREST, (refloat_method)3, 0), REFLOAT_INVALID_ARGUMENT);
    CHECK(strstr(refloat_last_error(), "method 3") != NULL, "%s", refloat_last_error());

    /* not quantised: 0.1f has all mantissa bits */
    CHECK_STATUS(refloat_correct_f32(v, 4, 10, REFLOAT_NEAREST, REFLOAT_MIDPOINT, 0), REFLOAT_NOT_QUANTISED);
    CHECK(strstr(refloat_last_error(), "index 3") != NULL, "%s", refloat_last_error());
    CHECK(v[0] == 1.5f && v[1] == -2.25f && v[2] == 3.0f && v[3] == 0.1f, "data written although the call failed");
    CHECK_STATUS(refloat_interval_f32(v, 4, 10, REFLOAT_NEAREST, out, out2), REFLOAT_NOT_QUANTISED);
    CHECK(out[0] == -7.0f, "lo written although the call failed");

    /* overlapping outputs */
    CHECK_STATUS(refloat_interval_f32(v, 3, 10, REFLOAT_NEAREST, out2, out2 + 1), REFLOAT_INVALID_ARGUMENT);
    CHECK(strstr(refloat_last_error(), "overlap") != NULL, "%s", refloat_last_error());

    /* cannot infer from powers of two and zeros */
    {
        float p2[3] = {0.0f, 1.0f, -4.0f};
        CHECK_STATUS(refloat_infer_mantissa_bits_f32(p2, 3, &bits), REFLOAT_CANNOT_INFER_BITS);
        CHECK(bits == 77, "output written on error");
        CHECK_STATUS(refloat_infer_mantissa_bits_f32(v, 3, &bits), REFLOAT_OK);
        CHECK(bits == 3, "1.5, -2.25, 3.0 keep 3 bits, got %u", bits);
    }

    /* strings */
    CHECK(strcmp(refloat_version(), version) == 0, "version %s, expected %s", refloat_version(), version);
    CHECK(strcmp(refloat_status_str(REFLOAT_OK), "success") == 0, "%s", refloat_status_str(REFLOAT_OK));
    CHECK(strcmp(refloat_status_str(-5), "unknown status") == 0, "%s", refloat_status_str(-5));
    CHECK(REFLOAT_NULL_PARAMETER == 1 && REFLOAT_PANIC == 2 && REFLOAT_NOT_QUANTISED == 6, "status numbers moved");

#ifdef REFLOAT_TEST_HOOKS
    /* a panic inside the boundary comes back as a status, never as an unwind into C */
    refloat_test_inject_panic(1);
    CHECK_STATUS(refloat_quantise_f32(v, 4, 10, REFLOAT_NEAREST), REFLOAT_PANIC);
    CHECK(strstr(refloat_last_error(), "panic") != NULL, "%s", refloat_last_error());
    CHECK(v[3] == 0.1f, "data written by a call that panicked first");
    refloat_test_inject_panic(1);
    CHECK_STATUS(refloat_correct_report_f32(v, 4, 23, REFLOAT_NEAREST, REFLOAT_MIDPOINT, 0, &report), REFLOAT_PANIC);
    /* and the library keeps working */
    CHECK_STATUS(refloat_quantise_f32(v, 4, 10, REFLOAT_NEAREST), REFLOAT_OK);
    printf("panic boundary: checked\n");
#endif
}

int main(int argc, char **argv) {
    FILE *cases;
    char values[4096], counts[4096], prefix[4096];
    unsigned bits;
    int mode, method, n_cases = 0;
    unsigned long long seed;
    long inferred;
    size_t nc, ne, nn;
    if (argc != 3) {
        fprintf(stderr, "usage: %s CASES_FILE VERSION\n", argv[0]);
        return 2;
    }
    error_paths(argv[2]);
    cases = fopen(argv[1], "r");
    if (!cases) {
        fprintf(stderr, "cannot open %s\n", argv[1]);
        return 2;
    }
    while (fscanf(cases, "%4095s %4095s %u %d %d %llu %4095s %ld %zu %zu %zu", values, counts, &bits, &mode, &method,
                  &seed, prefix, &inferred, &nc, &ne, &nn) == 11) {
        run_case(values, bits, mode, method, seed, prefix, inferred, nc, ne, nn);
        n_cases++;
    }
    fclose(cases);
    printf("%d real-data cases, %d failures\n", n_cases, failures);
    if (n_cases == 0) return 2;
    return failures == 0 ? 0 : 1;
}
