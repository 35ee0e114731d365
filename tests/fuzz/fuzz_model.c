/* fuzz_model.c - libFuzzer target for the model-file parser, mlp_model_from_buffer.
 *
 * Each input is parsed twice: as it is, and with its last four bytes
 * replaced by the right CRC32 of the rest. Random bytes almost never carry a
 * valid checksum, so without the second pass the fuzzer would only ever test
 * the checksum check; with it, the header and architecture checks behind it
 * are reached too.
 *
 * Properties checked on every parse (abort() makes libFuzzer report it):
 * - the parser never crashes, leaks or reads outside the buffer (ASan/UBSan);
 * - a refusal is MLP_EFORMAT (or MLP_ENOMEM) with a message and no model;
 * - an accepted buffer gives a model whose arch validates and whose
 *   parameter count matches it, and serialising that model with the
 *   optimizer state read beside it gives back the very same bytes (the
 *   format has one encoding per model and state: version 1 without a
 *   state, version 2 with one); the loader that skips the state reads the
 *   same weights;
 * - the model can run: mlp_predict on one row of zeros stays inside its
 *   scratch buffer and names a class in [0, outputs) ([0, 2) for a single
 *   output unit, which the engine reads as a binary classifier).
 *
 * Run: `make fuzz` (all targets) or build/fuzz/fuzz_model tests/fuzz/corpus/model.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "mlp.h"

/* Names the failed property, so a crash report says which one broke. */
#define check(ok)                                                                                  \
    do {                                                                                           \
        if (!(ok)) {                                                                               \
            fprintf(stderr, "fuzz_model: check failed at line %d: %s\n", __LINE__, #ok);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void run_once(const mlp_model *m) {
    int inputs = m->arch.sizes[0], outputs = m->arch.sizes[m->arch.n_layers];
    float *x = calloc((size_t)inputs, sizeof *x);
    float *probs = malloc((size_t)outputs * sizeof *probs);
    size_t n_scratch = mlp_scratch_floats(m, 1);
    float *scratch = malloc((n_scratch ? n_scratch : 1) * sizeof *scratch);
    check(x && probs && scratch);
    int label = -1;
    mlp_predict(m, x, 1, probs, &label, scratch);
    /* A single output unit is a binary classifier: label 0 or 1 (output >= 0.5). */
    check(label >= 0 && label < (outputs == 1 ? 2 : outputs));
    free(x);
    free(probs);
    free(scratch);
}

static void parse_and_check(const uint8_t *buf, size_t len) {
    mlp_model *m = NULL;
    mlp_optim_state st;
    mlp_error err = {{0}};
    mlp_status s = mlp_model_from_buffer_with_state(buf, len, &m, &st, &err);
    if (s != MLP_OK) {
        check(s == MLP_EFORMAT || s == MLP_ENOMEM);
        check(m == NULL && err.msg[0] != '\0');
        check(mlp_model_from_buffer(buf, len, &m, NULL) == s && m == NULL);
        return;
    }
    check(m != NULL);
    check(mlp_arch_validate(&m->arch, NULL) == MLP_OK);
    check(m->n_params == mlp_arch_param_count(&m->arch));
    check(st.n == 0 || st.n == m->n_params);

    /* One encoding per model: weights and state (version 2 when a state came
     * with the file, version 1 otherwise) give back the very same bytes. */
    unsigned char *again = NULL;
    size_t again_len = 0;
    check(mlp_model_to_buffer_with_state(m, &st, &again, &again_len, NULL) == MLP_OK);
    check(again_len == len && memcmp(again, buf, len) == 0);
    free(again);

    /* The loader without a state reads the same weights from the same file. */
    mlp_model *plain = NULL;
    check(mlp_model_from_buffer(buf, len, &plain, NULL) == MLP_OK && plain != NULL);
    check(plain->n_params == m->n_params &&
          memcmp(plain->params, m->params, m->n_params * sizeof *m->params) == 0);
    mlp_model_free(plain);

    run_once(m);
    mlp_optim_state_free(&st);
    mlp_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* An exact-size copy, so ASan catches a read one byte past the end. */
    uint8_t *buf = malloc(size ? size : 1);
    check(buf != NULL);
    if (size) memcpy(buf, data, size);
    parse_and_check(size ? buf : NULL, size);

    if (size >= 4) {
        uint32_t crc = (uint32_t)crc32_z(0L, buf, (z_size_t)(size - 4));
        for (int i = 0; i < 4; i++) buf[size - 4 + (size_t)i] = (uint8_t)(crc >> (8 * i));
        if (memcmp(buf, data, size) != 0) parse_and_check(buf, size);
    }
    free(buf);
    return 0;
}
