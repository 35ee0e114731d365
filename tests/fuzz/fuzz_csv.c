/* fuzz_csv.c - libFuzzer target for the CSV reader, mlp_dataset_load_csv.
 *
 * The reader takes a path, so each input is written to a memory file
 * (memfd) and read back through /proc/self/fd/N: no disk, nothing left over.
 *
 * Properties checked on every input (abort() makes libFuzzer report it):
 * - the reader never crashes, leaks or touches memory it does not own
 *   (ASan/UBSan);
 * - a refusal is MLP_EFORMAT (or MLP_ENOMEM) with a message and no data set;
 * - an accepted file gives a well-formed data set: 1 <= features <= limit,
 *   float features only, all finite, labels in [0, classes), classes equal
 *   to max(2, 1 + the largest label);
 * - scale_255 changes nothing but the features, each divided by 255;
 * - writing the data set back as CSV ("%d,%.9g,...") and reading that gives
 *   the same data set, bit for bit.
 *
 * Run: `make fuzz` (all targets) or build/fuzz/fuzz_csv tests/fuzz/corpus/csv.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mem_file.h"
#include "mlp.h"

static mem_file input_file = MEM_FILE_INIT, again_file = MEM_FILE_INIT;

static void check_refusal(mlp_status s, const mlp_dataset *d, const mlp_error *err) {
    check(s == MLP_EFORMAT || s == MLP_ENOMEM);
    check(d == NULL);
    check(err->msg[0] != '\0');
}

static void check_dataset(const mlp_dataset *d) {
    check(d->n >= 1 && d->n <= MLP_MAX_SAMPLES);
    check(d->features >= 1 && d->features <= MLP_MAX_FEATURES);
    check(d->x_f32 != NULL && d->x_u8 == NULL && d->labels != NULL);
    int32_t top = 0;
    for (size_t i = 0; i < d->n; i++) {
        check(d->labels[i] >= 0 && d->labels[i] < MLP_MAX_OUTPUT);
        if (d->labels[i] > top) top = d->labels[i];
    }
    check(d->classes == (top + 1 < 2 ? 2 : top + 1));
    for (size_t i = 0; i < d->n * (size_t)d->features; i++) check(isfinite(d->x_f32[i]));
}

/* The scaled load must match the plain one with every feature / 255. The
 * tolerance allows the division to be done in float or in double. */
static void check_scaled(const mlp_dataset *plain, const mlp_dataset *scaled) {
    check(scaled->n == plain->n && scaled->features == plain->features &&
          scaled->classes == plain->classes);
    check(memcmp(scaled->labels, plain->labels, plain->n * sizeof *plain->labels) == 0);
    for (size_t i = 0; i < plain->n * (size_t)plain->features; i++) {
        float want = plain->x_f32[i] / 255.0f, got = scaled->x_f32[i];
        check(fabsf(got - want) <= fabsf(want) * 4 * FLT_EPSILON + FLT_MIN);
    }
}

/* Write d as CSV text; %.9g is enough digits to give back every float. */
static char *dataset_to_csv(const mlp_dataset *d, size_t *len) {
    size_t cap = 64 + d->n * (16 + (size_t)d->features * 18), used = 0;
    char *text = malloc(cap);
    check(text != NULL);
    for (size_t i = 0; i < d->n; i++) {
        used += (size_t)snprintf(text + used, cap - used, "%d", (int)d->labels[i]);
        for (int j = 0; j < d->features; j++)
            used += (size_t)snprintf(text + used, cap - used, ",%.9g",
                                     (double)d->x_f32[i * (size_t)d->features + (size_t)j]);
        used += (size_t)snprintf(text + used, cap - used, "\n");
        check(used < cap);
    }
    *len = used;
    return text;
}

static void check_round_trip(const mlp_dataset *d) {
    size_t len;
    char *text = dataset_to_csv(d, &len);
    mlp_dataset *back = NULL;
    mlp_error err = {{0}};
    mlp_status s = mlp_dataset_load_csv(mem_file_put(&again_file, "fuzz_csv_again", text, len), 0,
                                        NULL, &back, &err);
    check(s == MLP_OK && back != NULL);
    check(back->n == d->n && back->features == d->features && back->classes == d->classes);
    check(memcmp(back->labels, d->labels, d->n * sizeof *d->labels) == 0);
    check(memcmp(back->x_f32, d->x_f32, d->n * (size_t)d->features * sizeof *d->x_f32) == 0);
    mlp_dataset_free(back);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = mem_file_put(&input_file, "fuzz_csv", data, size);
    mlp_dataset *plain = NULL, *scaled = NULL;
    mlp_error err = {{0}}, err_scaled = {{0}};

    mlp_status s = mlp_dataset_load_csv(path, 0, NULL, &plain, &err);
    mlp_status s_scaled = mlp_dataset_load_csv(path, 1, NULL, &scaled, &err_scaled);
    check(s == s_scaled);
    if (s != MLP_OK) {
        check_refusal(s, plain, &err);
        check_refusal(s_scaled, scaled, &err_scaled);
        /* Scaling happens after parsing: the reason must be the same. */
        check(strcmp(err.msg, err_scaled.msg) == 0);
        return 0;
    }
    check(plain != NULL && scaled != NULL);
    check_dataset(plain);
    check_dataset(scaled);
    check_scaled(plain, scaled);
    check_round_trip(plain);
    mlp_dataset_free(plain);
    mlp_dataset_free(scaled);
    return 0;
}
