/* test_engine_checkpoint.c - mlp_train's checkpoints: a run resumed from
 * the checkpoint of any epoch ends with exactly the weights of the
 * uninterrupted run (memcmp of every parameter), and takes the same
 * checkpoints after it, for plain SGD and for Adam with dropout, a
 * validation split, reduce_on_plateau and early stopping with restore_best;
 * damaged bytes and a checkpoint of another network or data size are
 * refused.
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

#include "engine_fixtures.h"

#define EPOCHS 6

/* Every epoch's checkpoint, copied (on_epoch sees it only during the call). */
typedef struct {
    unsigned char *bytes[EPOCHS + 1];
    size_t len[EPOCHS + 1];
    int first, last; /* epochs seen */
} kept;

static int keep(const mlp_progress *p, const mlp_model *m, void *user) {
    (void)m;
    kept *k = user;
    assert_non_null(p->checkpoint);
    assert_true(p->epoch >= 1 && p->epoch <= EPOCHS);
    k->bytes[p->epoch] = malloc(p->checkpoint_len);
    assert_non_null(k->bytes[p->epoch]);
    memcpy(k->bytes[p->epoch], p->checkpoint, p->checkpoint_len);
    k->len[p->epoch] = p->checkpoint_len;
    if (!k->first) k->first = p->epoch;
    k->last = p->epoch;
    return 0;
}

static void kept_free(kept *k) {
    for (int e = 0; e <= EPOCHS; e++) free(k->bytes[e]);
    memset(k, 0, sizeof *k);
}

static void config(mlp_train_config *c, int rich) {
    mlp_train_config_default(c);
    c->epochs = EPOCHS;
    c->batch_size = 16;
    c->seed = 5;
    c->checkpoint = 1;
    c->on_epoch = keep;
    if (!rich) return;
    c->optimizer = MLP_OPT_ADAM;
    c->lr = 0.01f;
    c->dropout = 0.3f;
    c->validation_split = 0.2f;
    c->schedule.type = MLP_LR_PLATEAU;
    c->schedule.patience = 1;
    c->schedule.factor = 0.5f;
    c->patience = 3;
    c->restore_best = 1;
    c->monitor = MLP_METRIC_VAL_ACCURACY;
    c->min_delta = 0.5f; /* no epoch beats the first by that much: stops early */
}

/* Two checkpoints equal but for the epoch's timing (seconds and
 * samples_per_sec: bytes 136-151, see checkpoint.c) and so the trailing CRC. */
static void assert_same_but_timing(unsigned char *a, unsigned char *b, size_t len) {
    assert_true(len > 160);
    memset(a + 136, 0, 16);
    memset(b + 136, 0, 16);
    assert_memory_equal(a, b, len - 4);
}

/* The uninterrupted run, then a resume from each epoch's checkpoint. */
static void resume_case(int rich) {
    mlp_dataset d = make_blobs(300, 3, 0);
    mlp_train_config c;
    config(&c, rich);
    kept ref = {0};
    c.user = &ref;
    mlp_model *a = make_model(12, MLP_ACT_RELU, 9);
    mlp_train_result ra;
    mlp_error err;
    assert_int_equal(mlp_train(a, &d, &c, &ra, &err), MLP_OK);
    assert_int_equal(ref.first, 1);
    assert_int_equal(ref.last, ra.epochs_run);
    if (rich) assert_true(ra.stopped_early && ra.best_epoch < ra.epochs_run);
    for (int k = 1; k <= ra.epochs_run; k++) {
        kept again = {0};
        mlp_train_config rc = c;
        rc.user = &again;
        rc.resume = ref.bytes[k];
        rc.resume_len = ref.len[k];
        mlp_model *b = make_model(12, MLP_ACT_RELU, 77); /* its own weights are replaced */
        mlp_train_result rb;
        if (mlp_train(b, &d, &rc, &rb, &err) != MLP_OK) fail_msg("resume at %d: %s", k, err.msg);
        assert_memory_equal(a->params, b->params, a->n_params * sizeof(float));
        assert_int_equal(rb.epochs_run, ra.epochs_run);
        assert_int_equal(rb.best_epoch, ra.best_epoch);
        assert_int_equal(rb.stopped_early, ra.stopped_early);
        assert_true(rb.last.loss == ra.last.loss);
        /* the epochs after k are trained again, and checkpointed alike */
        assert_int_equal(again.first, k < ra.epochs_run ? k + 1 : 0);
        for (int e = k + 1; e <= ra.epochs_run; e++) {
            assert_int_equal(again.len[e], ref.len[e]);
            unsigned char *r = malloc(ref.len[e]);
            assert_non_null(r);
            memcpy(r, ref.bytes[e], ref.len[e]); /* ref's own bytes stay whole */
            assert_same_but_timing(again.bytes[e], r, ref.len[e]);
            free(r);
        }
        kept_free(&again);
        mlp_model_free(b);
    }
    printf("  %s: %d epochs, checkpoint %zu bytes, resumed from each: same weights\n",
           rich ? "adam+dropout+plateau+early stop" : "sgd", ra.epochs_run, ref.len[1]);
    kept_free(&ref);
    mlp_model_free(a);
    free_blobs(&d);
}

static void test_resume_sgd(void **state) {
    (void)state;
    resume_case(0);
}

static void test_resume_adam_dropout_plateau_early_stop(void **state) {
    (void)state;
    resume_case(1);
}

static void test_bad_checkpoints_refused(void **state) {
    (void)state;
    mlp_dataset d = make_blobs(300, 3, 0), small = make_blobs(200, 3, 0);
    mlp_train_config c;
    config(&c, 0);
    kept ref = {0};
    c.user = &ref;
    c.epochs = 2;
    mlp_model *a = make_model(12, MLP_ACT_RELU, 9);
    mlp_error err;
    assert_int_equal(mlp_train(a, &d, &c, NULL, &err), MLP_OK);
    mlp_train_config rc = c;
    kept none = {0};
    rc.user = &none;
    rc.resume = ref.bytes[1];
    rc.resume_len = ref.len[1];
    /* one flipped byte */
    ref.bytes[1][40] ^= 1;
    assert_int_equal(mlp_train(a, &d, &rc, NULL, &err), MLP_EFORMAT);
    ref.bytes[1][40] ^= 1;
    /* another network */
    mlp_model *wide = make_model(13, MLP_ACT_RELU, 9);
    assert_int_equal(mlp_train(wide, &d, &rc, NULL, &err), MLP_EINVAL);
    assert_non_null(strstr(err.msg, "another network"));
    /* other data: another number of rows to shuffle */
    assert_int_equal(mlp_train(a, &small, &rc, NULL, &err), MLP_EINVAL);
    assert_non_null(strstr(err.msg, "rows"));
    /* another optimizer */
    rc.optimizer = MLP_OPT_MOMENTUM;
    assert_int_equal(mlp_train(a, &d, &rc, NULL, &err), MLP_EINVAL);
    /* after the run's last epoch: nothing to train, the weights are the checkpoint's */
    rc = c;
    rc.user = &none;
    rc.resume = ref.bytes[2];
    rc.resume_len = ref.len[2];
    mlp_model *b = make_model(12, MLP_ACT_RELU, 1);
    mlp_train_result rb;
    assert_int_equal(mlp_train(b, &d, &rc, &rb, &err), MLP_OK);
    assert_int_equal(rb.epochs_run, 2);
    assert_int_equal(none.first, 0);
    assert_memory_equal(a->params, b->params, a->n_params * sizeof(float));
    rc.epochs = 1; /* a checkpoint beyond the run's epochs */
    assert_int_equal(mlp_train(b, &d, &rc, NULL, &err), MLP_EINVAL);
    kept_free(&ref);
    mlp_model_free(a);
    mlp_model_free(b);
    mlp_model_free(wide);
    free_blobs(&d);
    free_blobs(&small);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_sgd),
        cmocka_unit_test(test_resume_adam_dropout_plateau_early_stop),
        cmocka_unit_test(test_bad_checkpoints_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
