/* A tiny reader for 1-D little-endian .npy files (<f4, <i8): the flat copies of real ATLAS
 * branches (values and per-event counts) that the examples and tests read. C and C++ (with
 * std::vector helpers in namespace npy). */
#ifndef REFLOAT_EXAMPLES_NPY_H
#define REFLOAT_EXAMPLES_NPY_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Read a 1-D array of dtype `descr` ("<f4" or "<i8") from `path`. Returns a malloc'd buffer
 * (free it) and its element count in *n, or NULL with a message on stderr. */
static void *npy_read(const char *path, const char *descr, size_t *n) {
    FILE *f = fopen(path, "rb");
    unsigned char magic[8];
    char *header = NULL, *p;
    size_t header_len, elem, count;
    void *data = NULL;
    if (!f) {
        fprintf(stderr, "npy: cannot open %s\n", path);
        return NULL;
    }
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, "\x93NUMPY", 6) != 0) {
        fprintf(stderr, "npy: %s is not a .npy file\n", path);
        goto fail;
    }
    if (magic[6] == 1) {
        unsigned char l[2];
        if (fread(l, 1, 2, f) != 2) goto fail;
        header_len = (size_t)l[0] | ((size_t)l[1] << 8);
    } else {
        unsigned char l[4];
        if (fread(l, 1, 4, f) != 4) goto fail;
        header_len = (size_t)l[0] | ((size_t)l[1] << 8) | ((size_t)l[2] << 16) | ((size_t)l[3] << 24);
    }
    header = (char *)calloc(header_len + 1, 1);
    if (!header || fread(header, 1, header_len, f) != header_len) goto fail;
    p = strstr(header, "'descr': '");
    if (!p || strncmp(p + 10, descr, strlen(descr)) != 0) {
        fprintf(stderr, "npy: %s does not hold %s: %s\n", path, descr, header);
        goto fail;
    }
    if (strstr(header, "'fortran_order': True")) goto fail;
    p = strstr(header, "'shape': (");
    if (!p) goto fail;
    count = strtoull(p + 10, NULL, 10);
    elem = (size_t)(descr[2] - '0');
    data = malloc(count * elem + 1);
    if (!data || fread(data, elem, count, f) != count) {
        fprintf(stderr, "npy: %s is truncated\n", path);
        free(data);
        data = NULL;
        goto fail;
    }
    *n = count;
fail:
    free(header);
    fclose(f);
    return data;
}

#ifdef __cplusplus
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace npy {

/// npy_read into a std::vector; throws std::runtime_error naming the file.
template <class T>
std::vector<T> read(const std::string& path, const char* descr) {
    size_t n = 0;
    T* p = static_cast<T*>(npy_read(path.c_str(), descr, &n));
    if (!p) throw std::runtime_error("cannot read " + path);
    std::vector<T> v(p, p + n);
    free(p);
    return v;
}

/// The per-event vectors of flat branch `branch` in `dir` (NAME.values.npy, NAME.counts.npy),
/// as an xAOD aux store hands them out; throws if the counts do not match the values.
inline std::vector<std::vector<float>> events(const std::string& dir, const std::string& branch) {
    const auto values = read<float>(dir + "/" + branch + ".values.npy", "<f4");
    const auto counts = read<std::int64_t>(dir + "/" + branch + ".counts.npy", "<i8");
    std::vector<std::vector<float>> out;
    size_t start = 0;
    for (std::int64_t n : counts) {
        if (n < 0 || start + static_cast<size_t>(n) > values.size())
            throw std::runtime_error(branch + ": counts do not match the values");
        out.emplace_back(values.begin() + static_cast<std::ptrdiff_t>(start),
                         values.begin() + static_cast<std::ptrdiff_t>(start + static_cast<size_t>(n)));
        start += static_cast<size_t>(n);
    }
    return out;
}

}  // namespace npy
#endif

#endif
