/* test_engine_augment.c - training-time augmentation (mlp_train.h,
 * mlp_augment): the flip and shift of a known 4x4 image, pixel by pixel;
 * the batch's draws in the documented order; the square-image check; and
 * that a run with augmentation is reproducible (same seed: the same weights,
 * memcmp) and resumes from any epoch's checkpoint to the uninterrupted run's
 * weights, with no reference framework involved.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

/* The 4x4 image 1..16, row by row. */
static const float IMG[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static void test_image_exact(void **state) {
    (void)state;
    float out[16];
    mlp_augment_image(IMG, out, 4, 0, 0, 0);
    assert_memory_equal(out, IMG, sizeof IMG);

    static const float flipped[16] = {4, 3, 2, 1, 8, 7, 6, 5, 12, 11, 10, 9, 16, 15, 14, 13};
    mlp_augment_image(IMG, out, 4, 1, 0, 0);
    assert_memory_equal(out, flipped, sizeof out);

    /* one right, one up: column 0 and the last row are moved in (0) */
    static const float right_up[16] = {0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15, 0, 0, 0, 0};
    mlp_augment_image(IMG, out, 4, 0, 1, -1);
    assert_memory_equal(out, right_up, sizeof out);

    /* two left, one down */
    static const float left_down[16] = {0, 0, 0, 0, 3, 4, 0, 0, 7, 8, 0, 0, 11, 12, 0, 0};
    mlp_augment_image(IMG, out, 4, 0, -2, 1);
    assert_memory_equal(out, left_down, sizeof out);

    /* flip first, then one right: out[r][c] = flipped[r][c - 1] */
    static const float flip_right[16] = {0, 4, 3, 2, 0, 8, 7, 6, 0, 12, 11, 10, 0, 16, 15, 14};
    mlp_augment_image(IMG, out, 4, 1, 1, 0);
    assert_memory_equal(out, flip_right, sizeof out);

    /* moved out entirely */
    static const float zero[16] = {0};
    mlp_augment_image(IMG, out, 4, 1, 0, 4);
    assert_memory_equal(out, zero, sizeof out);
}

/* The batch applies, row by row, the draws mlp.h documents: flip = top bit
 * of one draw, then dx and dy = draw % (2s+1) - s. */
static void test_batch_draws(void **state) {
    (void)state;
    enum { ROWS = 64 };
    float x[ROWS * 16], tmp[16];
    for (int i = 0; i < ROWS; i++) memcpy(x + i * 16, IMG, sizeof IMG);
    mlp_augment a = {.hflip = 1, .shift = 2};
    mlp_rng rng, mirror;
    mlp_rng_seed(&rng, 42);
    mlp_rng_seed(&mirror, 42);
    mlp_augment_batch(&a, 4, x, ROWS, &rng, tmp);
    int flips = 0, seen[5][5] = {{0}};
    for (int i = 0; i < ROWS; i++) {
        int flip = (int)(mlp_rng_next(&mirror) >> 63);
        int dx = (int)(mlp_rng_next(&mirror) % 5) - 2;
        int dy = (int)(mlp_rng_next(&mirror) % 5) - 2;
        float want[16];
        mlp_augment_image(IMG, want, 4, flip, dx, dy);
        assert_memory_equal(x + i * 16, want, sizeof want);
        flips += flip;
        seen[dx + 2][dy + 2] = 1;
    }
    /* the generator moved on by exactly three draws a row */
    assert_true(mlp_rng_next(&rng) == mlp_rng_next(&mirror));
    assert_true(flips > 16 && flips < 48);
    int cells = 0;
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) cells += seen[i][j];
    assert_true(cells >= 20); /* offsets cover -2..2 in both directions */

    /* flip only: one draw a row, no shift */
    mlp_augment f = {.hflip = 1, .shift = 0};
    mlp_rng_seed(&rng, 7);
    mlp_rng_seed(&mirror, 7);
    float one[16];
    memcpy(one, IMG, sizeof IMG);
    mlp_augment_batch(&f, 4, one, 1, &rng, tmp);
    float want[16];
    mlp_augment_image(IMG, want, 4, (int)(mlp_rng_next(&mirror) >> 63), 0, 0);
    assert_memory_equal(one, want, sizeof want);
    assert_true(mlp_rng_next(&rng) == mlp_rng_next(&mirror));
}

static void test_check(void **state) {
    (void)state;
    mlp_error err;
    const char *member = "x";
    mlp_augment off = {0}, flip = {.hflip = 1}, shift = {.shift = 2};
    assert_int_equal(mlp_image_side(784), 28);
    assert_int_equal(mlp_image_side(785), 0);
    assert_int_equal(mlp_image_side(1), 0);
    assert_int_equal(mlp_augment_check(&off, 5, &member, &err), MLP_OK);
    assert_null(member);
    assert_int_equal(mlp_augment_check(&flip, 784, &member, &err), MLP_OK);
    assert_null(member);
    assert_int_equal(mlp_augment_check(&flip, 64, &member, &err), MLP_OK);     /* 8 x 8 */
    assert_int_equal(mlp_augment_check(&flip, 49, &member, &err), MLP_EINVAL); /* 7 x 7 */
    assert_string_equal(member, "augment.hflip");
    assert_int_equal(mlp_augment_check(&flip, 4, &member, &err), MLP_EINVAL); /* 2 x 2 */
    assert_int_equal(mlp_augment_check(&flip, 785, &member, &err), MLP_EINVAL);
    assert_string_equal(member, "augment.hflip");
    assert_non_null(strstr(err.msg, "785 features"));
    assert_int_equal(mlp_augment_check(&shift, 10, &member, &err), MLP_EINVAL);
    assert_string_equal(member, "augment.shift");
    shift.shift = 28;
    assert_int_equal(mlp_augment_check(&shift, 784, &member, &err), MLP_EINVAL);
    assert_string_equal(member, "augment.shift");
    assert_non_null(strstr(err.msg, "side (28)"));
    shift.shift = 27;
    assert_int_equal(mlp_augment_check(&shift, 784, &member, &err), MLP_OK);
    /* the table's range: 0..16 */
    mlp_recipe r;
    mlp_recipe_default(&r);
    r.train.augment.shift = 17;
    const mlp_recipe_field *bad = NULL;
    assert_int_equal(mlp_recipe_validate(&r, &bad, &err), MLP_EINVAL);
    assert_non_null(bad);
    assert_string_equal(bad->name, "augment.shift");
    r.train.augment.shift = 0;
    r.train.augment.hflip = 2;
    assert_int_equal(mlp_recipe_validate(&r, &bad, &err), MLP_EINVAL);
    assert_string_equal(bad->name, "augment.hflip");
}

/* 400 8x8 images of two classes: a bar on the left or on the right half,
 * at a random row, with noise (from the engine's generator). */
#define SIDE 8
static mlp_dataset make_bars(size_t n) {
    mlp_dataset d = {.n = n, .features = SIDE * SIDE, .classes = 2};
    d.x_f32 = calloc(n * SIDE * SIDE, sizeof(float));
    d.labels = malloc(n * sizeof(int32_t));
    assert_non_null(d.x_f32);
    assert_non_null(d.labels);
    mlp_rng r;
    mlp_rng_seed(&r, 11);
    for (size_t i = 0; i < n; i++) {
        int c = (int)(mlp_rng_next(&r) % 2), row = (int)(mlp_rng_next(&r) % SIDE);
        float *img = d.x_f32 + i * SIDE * SIDE;
        for (int k = 0; k < SIDE * SIDE; k++) img[k] = 0.1f * mlp_rng_uniform(&r);
        for (int k = 0; k < SIDE / 2; k++) img[row * SIDE + (c ? SIDE / 2 + k : k)] = 1.0f;
        d.labels[i] = c;
    }
    return d;
}

static mlp_model *bars_model(uint64_t seed) {
    mlp_arch a;
    mlp_model *m = NULL;
    int hidden = 16;
    assert_int_equal(mlp_arch_make(&a, SIDE * SIDE, &hidden, 1, MLP_ACT_RELU, 2,
                                   MLP_LOSS_CROSS_ENTROPY, -1, NULL),
                     MLP_OK);
    assert_int_equal(mlp_model_create(&a, MLP_INIT_GLOROT_UNIFORM, seed, &m, NULL), MLP_OK);
    return m;
}

#define EPOCHS 4
typedef struct {
    unsigned char *bytes[EPOCHS + 1];
    size_t len[EPOCHS + 1];
} kept;

static int keep(const mlp_progress *p, const mlp_model *m, void *user) {
    (void)m;
    kept *k = user;
    free(k->bytes[p->epoch]); /* a later run into the same record replaces it */
    k->bytes[p->epoch] = malloc(p->checkpoint_len);
    assert_non_null(k->bytes[p->epoch]);
    memcpy(k->bytes[p->epoch], p->checkpoint, p->checkpoint_len);
    k->len[p->epoch] = p->checkpoint_len;
    return 0;
}

static void test_train_reproducible_and_resumable(void **state) {
    (void)state;
    mlp_dataset d = make_bars(400);
    mlp_train_config c;
    mlp_train_config_default(&c);
    c.epochs = EPOCHS;
    c.batch_size = 32;
    c.seed = 3;
    c.optimizer = MLP_OPT_ADAM;
    c.lr = 0.01f;
    c.dropout = 0.2f;
    c.augment.hflip = 1;
    c.augment.shift = 1;
    c.checkpoint = 1;
    c.on_epoch = keep;
    kept ref = {0};
    c.user = &ref;
    mlp_error err;
    mlp_model *a = bars_model(9), *b = bars_model(9), *plain = bars_model(9);
    assert_int_equal(mlp_train(a, &d, &c, NULL, &err), MLP_OK);
    mlp_train_config again = c;
    kept ignore = {0};
    again.user = &ignore;
    assert_int_equal(mlp_train(b, &d, &again, NULL, &err), MLP_OK);
    assert_memory_equal(a->params, b->params, a->n_params * sizeof(float));
    /* augmentation changes the run (and leaves the data set as it was) */
    mlp_dataset fresh = make_bars(400);
    assert_memory_equal(d.x_f32, fresh.x_f32, 400 * SIDE * SIDE * sizeof(float));
    mlp_train_config none = again;
    none.augment.hflip = 0;
    none.augment.shift = 0;
    assert_int_equal(mlp_train(plain, &d, &none, NULL, &err), MLP_OK);
    assert_memory_not_equal(a->params, plain->params, a->n_params * sizeof(float));
    /* resumed after each epoch: the uninterrupted run's weights */
    for (int k = 1; k < EPOCHS; k++) {
        mlp_train_config rc = again;
        rc.resume = ref.bytes[k];
        rc.resume_len = ref.len[k];
        mlp_model *r = bars_model(77);
        if (mlp_train(r, &d, &rc, NULL, &err) != MLP_OK) fail_msg("resume at %d: %s", k, err.msg);
        assert_memory_equal(a->params, r->params, a->n_params * sizeof(float));
        mlp_model_free(r);
    }
    /* a data set that is not square images is refused, naming the member */
    d.features = SIDE * SIDE - 1;
    mlp_model *odd = NULL;
    mlp_arch arch;
    int hidden = 4;
    assert_int_equal(mlp_arch_make(&arch, d.features, &hidden, 1, MLP_ACT_RELU, 2,
                                   MLP_LOSS_CROSS_ENTROPY, -1, NULL),
                     MLP_OK);
    assert_int_equal(mlp_model_create(&arch, MLP_INIT_GLOROT_UNIFORM, 1, &odd, NULL), MLP_OK);
    assert_int_equal(mlp_train(odd, &d, &none, NULL, &err), MLP_OK);
    assert_int_equal(mlp_train(odd, &d, &again, NULL, &err), MLP_EINVAL);
    assert_non_null(strstr(err.msg, "augment.shift"));
    for (int e = 0; e <= EPOCHS; e++) {
        free(ref.bytes[e]);
        free(ignore.bytes[e]);
    }
    mlp_model_free(odd);
    mlp_model_free(a);
    mlp_model_free(b);
    mlp_model_free(plain);
    free(d.x_f32);
    free(d.labels);
    free(fresh.x_f32);
    free(fresh.labels);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_image_exact),
        cmocka_unit_test(test_batch_draws),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_train_reproducible_and_resumable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
