/* The C API's kernels against the loops a C or C++ programmer would write, in one process,
 * single-threaded (but for the resolver's pass, which reads a long buffer on every core), on
 * the same buffer: the real float values of the flat copies in ../shared/data (every
 * `.values.npy`), tiled to 16 Mi values, the copies smeared (see main).
 *
 * Baselines: memcpy of the buffer, and an Athena-style quantise loop (the rule of
 * CxxUtils::FloatCompressor: skip NaN/Inf, add half a step below the overflow guard, clear
 * the dropped bits) compiled with -O3 -march=native, branch-free so that it vectorises. Each row is the best of several runs of one call over
 * the whole buffer, refilled (untimed) before every run; the table prints its time over the
 * memcpy's and over the Athena loop's, each baseline timed in alternation with the row's call
 * (one of each per round), so that a shared machine's changing load falls on both sides.
 *
 *   cc -O3 -march=native -o capi_kernels benches/capi_kernels.c -Iinclude -Ltarget/release -lrefloat
 *   ./capi_kernels ../shared/data [values]        # values: 16777216 unless given
 */
#include "refloat.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Append the float32 values of one .npy file (little-endian '<f4', C order) to *pool. */
static void read_npy(const char *path, float **pool, size_t *len, size_t *cap) {
    FILE *f = fopen(path, "rb");
    if (!f) return;
    unsigned char head[10];
    if (fread(head, 1, 10, f) != 10 || memcmp(head, "\x93NUMPY", 6) != 0 || head[6] != 1) {
        fclose(f);
        return;
    }
    size_t hlen = (size_t)head[8] | ((size_t)head[9] << 8);
    char *dict = malloc(hlen + 1);
    if (fread(dict, 1, hlen, f) != hlen) hlen = 0;
    dict[hlen] = 0;
    int ok = strstr(dict, "'<f4'") != NULL;
    free(dict);
    if (!ok) {
        fclose(f);
        return;
    }
    float buf[4096];
    size_t n;
    while ((n = fread(buf, sizeof(float), 4096, f)) > 0) {
        if (*len + n > *cap) {
            *cap = 2 * (*len + n);
            *pool = realloc(*pool, *cap * sizeof(float));
        }
        memcpy(*pool + *len, buf, n * sizeof(float));
        *len += n;
    }
    fclose(f);
}

static void read_flat_dir(const char *dir, float **pool, size_t *len, size_t *cap) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l > 11 && strcmp(e->d_name + l - 11, ".values.npy") == 0) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            read_npy(path, pool, len, cap);
        }
    }
    closedir(d);
}

/* The Athena-style loop: CxxUtils::FloatCompressor's rule, written branch-free so that the
 * compiler vectorises it (benches/capi.sh builds it with -O3 -march=native): the fastest
 * plain C an Athena developer would write for the rule, the honest baseline. */
static void athena_quantise(float *data, size_t len, unsigned bits) {
    const uint32_t dropped = 23 - bits;
    const uint32_t rounding = dropped ? 1u << (dropped - 1) : 0;
    const uint32_t mask = ~((1u << dropped) - 1);
    const uint32_t vmax = 0x7f7fffffu - rounding;
    for (size_t i = 0; i < len; ++i) {
        uint32_t u;
        memcpy(&u, &data[i], 4);
        const uint32_t special = (u & 0x7f800000u) == 0x7f800000u;          /* NaN, Inf */
        const uint32_t add = (u & 0x7fffffffu) < vmax ? rounding : 0;       /* the overflow guard */
        const uint32_t r = (u + add) & mask;
        u = special ? u : r;
        memcpy(&data[i], &u, 4);
    }
}

typedef struct {
    const char *name;
    double best;
} row;

static int runs = 7;

/* Best time of `call` over the buffer, refilled from `src` before every run. */
#define TIME(best, src, buf, len, call)                           \
    do {                                                          \
        best = 1e30;                                              \
        for (int r_ = 0; r_ < runs; ++r_) {                       \
            memcpy(buf, src, (len) * sizeof(float));              \
            double t0_ = now();                                   \
            int rc_ = (call);                                     \
            double t_ = now() - t0_;                              \
            if (rc_ != REFLOAT_OK) {                              \
                fprintf(stderr, "%s: %s\n", #call, refloat_last_error()); \
                exit(1);                                          \
            }                                                     \
            if (t_ < best) best = t_;                             \
        }                                                         \
    } while (0)

/* Best times of `call` (buffer refilled from `src`) and of both baselines (the Athena loop and
 * memcpy over the originals), measured in alternation, run by run: a row's ratios compare
 * times taken in the same stretch of the machine's load, not minutes apart. */
#define TIME_WITH_BASELINES(best, best_athena, best_memcpy, src, buf, len, call)   \
    do {                                                                           \
        double b_a_ = 1e30, b_m_ = 1e30, b_c_ = 1e30, one_;                          \
        const int outer_ = runs;                                                   \
        runs = 1; /* one timing of each per round */                               \
        for (int r_ = 0; r_ < outer_; ++r_) {                                      \
            TIME(one_, orig, buf, len, athena_call(buf, len, bits));                 \
            if (one_ < b_a_) b_a_ = one_;                                              \
            TIME(one_, orig, buf, len, memcpy_call(other, buf, len));                \
            if (one_ < b_m_) b_m_ = one_;                                              \
            TIME(one_, src, buf, len, call);                                         \
            if (one_ < b_c_) b_c_ = one_;                                              \
        }                                                                          \
        runs = outer_;                                                             \
        best = b_c_;                                                               \
        best_athena = b_a_;                                                        \
        best_memcpy = b_m_;                                                        \
    } while (0)

static int athena_call(float *d, size_t n, unsigned bits) {
    athena_quantise(d, n, bits);
    return REFLOAT_OK;
}

static int memcpy_call(float *d, const float *s, size_t n) {
    memcpy(d, s, n * sizeof(float));
    return REFLOAT_OK;
}

int main(int argc, char **argv) {
    const char *data = argc > 1 ? argv[1] : "../shared/data";
    size_t n = argc > 2 ? (size_t)strtoull(argv[2], NULL, 10) : (size_t)1 << 24;
    if (argc > 3) runs = atoi(argv[3]);
    const unsigned bits = 10;
    float *pool = NULL;
    size_t len = 0, cap = 0;
    const char *stems[] = {"DAOD_PHYSLITE_21.2.108.0.art.pool.flat", "PHYSLITE_example.flat"};
    char dir[4096];
    for (int s = 0; s < 2; ++s) {
        snprintf(dir, sizeof dir, "%s/%s", data, stems[s]);
        read_flat_dir(dir, &pool, &len, &cap);
    }
    size_t finite = 0;
    for (size_t i = 0; i < len; ++i)
        if (pool[i] == pool[i] && pool[i] - pool[i] == 0) pool[finite++] = pool[i];
    if (finite == 0) {
        fprintf(stderr, "no real values found under %s (the .flat directories)\n", data);
        return 1;
    }
    float *orig = malloc(n * sizeof(float)), *stored = malloc(n * sizeof(float)),
          *buf = malloc(n * sizeof(float)), *other = malloc(n * sizeof(float));
    /* Tiled copies past the first are smeared by up to 2 % (integers, sentinels among them,
     * are kept): a long branch has a smooth density, where plain copies would repeat each
     * value thousands of times and make every stored value a spike to the resolver. */
    uint64_t lcg = 1;
    for (size_t i = 0; i < n; ++i) {
        float x = pool[i % finite];
        lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
        float u = (float)(lcg >> 40) / (float)(1u << 24) * 2.0f - 1.0f;
        orig[i] = (i < finite || x == (float)(long long)x) ? x : x * (1.0f + 0.02f * u);
    }
    free(pool);
    printf("%zu real values, tiled (smeared) to %zu; n = %u kept bits; best of %d runs; one "
           "thread but for the resolving pass\n",
           finite, n, bits, runs);

    double t_memcpy, t_athena, t;
    TIME(t_memcpy, orig, buf, n, memcpy_call(other, buf, n));
    TIME(t_athena, orig, buf, n, athena_call(buf, n, bits));
    printf("\n| call | mode | ms | x memcpy | x Athena loop (-O3 -march=native) |\n|---|---|---|---|---|\n");
    printf("| memcpy | | %.2f | 1 | %.2f |\n", 1e3 * t_memcpy, t_memcpy / t_athena);
    printf("| Athena-style quantise loop (-O3 -march=native, branch-free) | nearest | %.2f | %.2f | 1 |\n", 1e3 * t_athena,
           t_athena / t_memcpy);
    const refloat_rounding modes[] = {REFLOAT_NEAREST, REFLOAT_TRUNCATE, REFLOAT_NEAREST_EVEN,
                                      REFLOAT_CMS, REFLOAT_ROOT_FLOAT16, REFLOAT_BITROUND};
    const char *mode_names[] = {"nearest", "truncate", "nearest-even", "cms", "root-float16",
                                "bitround"};
    const refloat_method methods[] = {REFLOAT_MIDPOINT, REFLOAT_DITHER, REFLOAT_PRIOR_MEAN};
    const char *method_names[] = {"midpoint", "dither", "prior-mean (whole call)"};
    /* Each row's ratios are against the baselines timed in alternation with it (see
     * TIME_WITH_BASELINES), not against the two rows above. */
    double b_athena, b_memcpy;
    for (int m = 0; m < 6; ++m) {
        TIME_WITH_BASELINES(t, b_athena, b_memcpy, orig, buf, n,
                            refloat_quantise_f32(buf, n, bits, modes[m]));
        printf("| refloat_quantise_f32 | %s | %.2f | %.2f | %.2f |\n", mode_names[m], 1e3 * t,
               t / b_memcpy, t / b_athena);
        memcpy(stored, orig, n * sizeof(float));
        refloat_quantise_f32(stored, n, bits, modes[m]);
        for (int k = 0; k < 3; ++k) {
            if (k == 2 && m != 0) continue; /* prior-mean: one scheme is enough */
            TIME_WITH_BASELINES(t, b_athena, b_memcpy, stored, buf, n,
                                refloat_correct_f32(buf, n, bits, modes[m], methods[k], 7));
            printf("| refloat_correct_f32 %s | %s | %.2f | %.2f | %.2f |\n", method_names[k],
                   mode_names[m], 1e3 * t, t / b_memcpy, t / b_athena);
        }
        /* The two halves of that call: resolving the buffer, then the kernel alone with the
         * resolution (what code that corrects a branch piece by piece runs per piece). */
        refloat_resolve_options opt = refloat_resolve_options_default();
        opt.mantissa_bits = (int32_t)bits;
        opt.mode = modes[m];
        refloat_resolution *res = NULL;
        TIME_WITH_BASELINES(t, b_athena, b_memcpy, stored, buf, n,
                            (refloat_resolution_free(res), res = NULL,
                             refloat_resolve_f32(buf, n, &opt, &res)));
        printf("| refloat_resolve_f32 (all cores) | %s | %.2f | %.2f | %.2f |\n", mode_names[m],
               1e3 * t, t / b_memcpy, t / b_athena);
        for (int k = 0; k < 3; ++k) {
            if (k == 2 && m != 0) continue;
            TIME_WITH_BASELINES(t, b_athena, b_memcpy, stored, buf, n,
                                refloat_correct_resolved_f32(res, buf, n, methods[k], 7, NULL, 0,
                                                             NULL));
            printf("| refloat_correct_resolved_f32 %s | %s | %.2f | %.2f | %.2f |\n",
                   k == 2 ? "prior-mean" : method_names[k], mode_names[m], 1e3 * t,
                   t / b_memcpy, t / b_athena);
        }
        refloat_resolution_free(res);
    }
    free(orig);
    free(stored);
    free(buf);
    free(other);
    return 0;
}
