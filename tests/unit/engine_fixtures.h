/* engine_fixtures.h - shared test data for the engine's unit tests.
 *
 * make_blobs(): a synthetic, linearly separable problem, 3 Gaussian blobs in
 * 4 dimensions (centres 2.8 to 3.9 units apart, standard deviation 0.5), made
 * from the engine's seeded RNG so every run sees the same samples; with
 * random_labels the labels carry no signal (something to overfit).
 * Include after <cmocka.h>.
 */
#ifndef MLPD_TESTS_ENGINE_FIXTURES_H
#define MLPD_TESTS_ENGINE_FIXTURES_H

#include <stdlib.h>

#include "internal.h"

#define FEATURES 4
#define CLASSES  3

/* A data set owned by the test (freed with free_blobs, not mlp_dataset_free). */
static inline mlp_dataset make_blobs(size_t n, uint64_t seed, int random_labels) {
    static const float centre[CLASSES][FEATURES] = {
        {1.5f, 0, 0, -1}, {-1.5f, 1.5f, 0, 1}, {0, -1.5f, 1.5f, 0}};
    mlp_dataset d = {.n = n, .features = FEATURES, .classes = CLASSES};
    d.x_f32 = malloc(n * FEATURES * sizeof(float));
    d.labels = malloc(n * sizeof(int32_t));
    assert_non_null(d.x_f32);
    assert_non_null(d.labels);
    mlp_rng r;
    mlp_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        int c = (int)(mlp_rng_next(&r) % CLASSES);
        for (int j = 0; j < FEATURES; j++)
            d.x_f32[i * FEATURES + j] = centre[c][j] + 0.5f * mlp_rng_normal(&r);
        d.labels[i] = random_labels ? (int32_t)(mlp_rng_next(&r) % CLASSES) : c;
    }
    return d;
}

static inline void free_blobs(mlp_dataset *d) {
    free(d->x_f32);
    free(d->labels);
}

/* FEATURES -> hidden (act) -> CLASSES softmax, cross-entropy, glorot_uniform. */
static inline mlp_model *make_model(int hidden, mlp_act act, uint64_t seed) {
    mlp_arch a;
    mlp_model *m = NULL;
    assert_int_equal(
        mlp_arch_make(&a, FEATURES, &hidden, 1, act, CLASSES, MLP_LOSS_CROSS_ENTROPY, -1, NULL),
        MLP_OK);
    assert_int_equal(mlp_model_create(&a, MLP_INIT_GLOROT_UNIFORM, seed, &m, NULL), MLP_OK);
    return m;
}

static inline mlp_eval_result eval(const mlp_model *m, const mlp_dataset *d) {
    mlp_eval_result e;
    mlp_error err;
    assert_int_equal(mlp_evaluate(m, d, &e, &err), MLP_OK);
    return e;
}

#endif /* MLPD_TESTS_ENGINE_FIXTURES_H */
