/* fuzz_idx.c - libFuzzer target for the IDX reader: mlp_dataset_load_idx and
 * the one-file check mlp_idx_check (what an upload runs).
 *
 * An input holds both files of a pair:
 *
 *   u32 little-endian k | k bytes: the images file | the rest: the labels file
 *
 * (k is clamped to what follows it). Each file is written to a memory file
 * (memfd) and read through /proc/self/fd/N, since the reader takes paths.
 *
 * Properties checked on every input (abort() makes libFuzzer report it):
 * - the reader never crashes, leaks or touches memory it does not own
 *   (ASan/UBSan), and never allocates more than the files can fill;
 * - a refusal is MLP_EFORMAT, MLP_ETOOBIG (over FUZZ_MAX_BYTES) or
 *   MLP_ENOMEM, with a message and no data set;
 * - mlp_idx_check (full) of each file agrees: an accepted pair passes both
 *   checks with the same count, dimensions and classes, and a file the
 *   check refuses never makes a pair that loads;
 * - an accepted pair gives n = the header's count, features = rows * cols,
 *   pixels as uint8 only, labels in [0, classes), classes = max(2, 1 + the
 *   largest label);
 * - for files that are not gzip-compressed, the pixels and labels are
 *   exactly the bytes after the headers (16 and 8 bytes).
 *
 * Run: `make fuzz` (all targets) or build/fuzz/fuzz_idx tests/fuzz/corpus/idx.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mem_file.h"
#include "mlp.h"

#define IMAGES_HEADER  16
#define LABELS_HEADER  8
#define FUZZ_MAX_BYTES (64u << 20) /* well under the fuzzer's RSS limit */

static mem_file images_file = MEM_FILE_INIT, labels_file = MEM_FILE_INIT;

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int is_gzip(const uint8_t *p, size_t len) {
    return len >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

/* For a plain (not compressed) pair, what the reader returned must be the
 * files' own bytes. */
static void check_plain_bytes(const mlp_dataset *d, const uint8_t *img, size_t img_len,
                              const uint8_t *lab, size_t lab_len) {
    size_t pixels = d->n * (size_t)d->features;
    if (!is_gzip(img, img_len)) {
        check(img_len == IMAGES_HEADER + pixels);
        check(be32(img + 4) == d->n &&
              (size_t)be32(img + 8) * be32(img + 12) == (size_t)d->features);
        check(memcmp(d->x_u8, img + IMAGES_HEADER, pixels) == 0);
    }
    if (!is_gzip(lab, lab_len)) {
        check(lab_len == LABELS_HEADER + d->n);
        check(be32(lab + 4) == d->n);
        for (size_t i = 0; i < d->n; i++) check(d->labels[i] == lab[LABELS_HEADER + i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    size_t img_len =
        (size_t)data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16 | (size_t)data[3] << 24;
    if (img_len > size - 4) img_len = size - 4;
    const uint8_t *img = data + 4, *lab = img + img_len;
    size_t lab_len = size - 4 - img_len;

    const char *img_path = mem_file_put(&images_file, "fuzz_idx_images", img, img_len);
    const char *lab_path = mem_file_put(&labels_file, "fuzz_idx_labels", lab, lab_len);
    mlp_load_opts lo = {.max_bytes = FUZZ_MAX_BYTES};
    mlp_dataset *d = NULL;
    mlp_error err = {{0}}, ierr = {{0}}, lerr = {{0}};
    mlp_idx_info ii, li;
    mlp_status si = mlp_idx_check(img_path, 0, 1, &lo, &ii, &ierr);
    mlp_status sl = mlp_idx_check(lab_path, 1, 1, &lo, &li, &lerr);
    check(si == MLP_OK || ierr.msg[0] != '\0');
    check(sl == MLP_OK || lerr.msg[0] != '\0');
    mlp_status s = mlp_dataset_load_idx(img_path, lab_path, &lo, &d, &err);
    if (s != MLP_OK) {
        check(s == MLP_EFORMAT || s == MLP_ETOOBIG || s == MLP_ENOMEM);
        check(d == NULL && err.msg[0] != '\0');
        return 0;
    }
    check(si == MLP_OK && sl == MLP_OK);
    check(ii.count == d->n && li.count == d->n && ii.features == d->features);
    check(li.classes == d->classes);
    check(d != NULL);
    check(d->n >= 1 && d->n <= MLP_MAX_SAMPLES);
    check(d->features >= 1 && d->features <= MLP_MAX_FEATURES);
    check(d->x_u8 != NULL && d->x_f32 == NULL && d->labels != NULL);
    int32_t top = 0;
    for (size_t i = 0; i < d->n; i++) {
        check(d->labels[i] >= 0 && d->labels[i] <= 255);
        if (d->labels[i] > top) top = d->labels[i];
    }
    check(d->classes == (top + 1 < 2 ? 2 : top + 1));
    /* Touch every pixel so ASan checks the whole block is ours. */
    size_t sum = 0, pixels = d->n * (size_t)d->features;
    for (size_t i = 0; i < pixels; i++) sum += d->x_u8[i];
    check(sum <= 255 * pixels);
    check_plain_bytes(d, img, img_len, lab, lab_len);
    mlp_dataset_free(d);
    return 0;
}
