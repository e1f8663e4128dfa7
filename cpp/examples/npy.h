/* A tiny reader for 1-D little-endian .npy files (<f4, <i8): the flat copies of real ATLAS
 * branches (values and per-event counts) that the examples and tests read. C and C++. */
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

#endif
