/* train_codec_fixture.h - helpers of the POST /train codec tests
 * (test_codec_train.c, test_codec_train_bodies.c): decode a string, compare
 * two requests member by member, assert a refusal. Include after <cmocka.h>:
 * the helpers assert. */
#ifndef MLPD_TRAIN_CODEC_FIXTURE_H
#define MLPD_TRAIN_CODEC_FIXTURE_H

#include <string.h>

#include "train_request.h"

static inline int decode(const char *json, api_train_request *r, api_problem *p) {
    memset(p, 0, sizeof *p);
    return api_train_request_decode(json, strlen(json), r, p);
}

/* Every decoded member of a and b is equal (padding and callbacks aside). */
static inline void assert_same_request(const api_train_request *a, const api_train_request *b) {
    assert_string_equal(a->dataset, b->dataset);
    assert_int_equal(a->recipe.n_hidden, b->recipe.n_hidden);
    for (int i = 0; i < a->recipe.n_hidden; i++)
        assert_int_equal(a->recipe.hidden[i], b->recipe.hidden[i]);
    assert_int_equal(a->recipe.activation, b->recipe.activation);
    assert_int_equal(a->recipe.output_activation, b->recipe.output_activation);
    assert_int_equal(a->recipe.loss, b->recipe.loss);
    assert_int_equal(a->recipe.init, b->recipe.init);
    const mlp_train_config *x = &a->recipe.train, *y = &b->recipe.train;
    assert_int_equal(x->optimizer, y->optimizer);
    assert_true(x->lr == y->lr);
    assert_true(x->momentum == y->momentum);
    assert_int_equal(x->nesterov, y->nesterov);
    assert_true(x->beta1 == y->beta1);
    assert_true(x->beta2 == y->beta2);
    assert_true(x->epsilon == y->epsilon);
    assert_true(x->l1 == y->l1);
    assert_true(x->l2 == y->l2);
    assert_true(x->dropout == y->dropout);
    assert_int_equal(x->batch_size, y->batch_size);
    assert_int_equal(x->epochs, y->epochs);
    assert_int_equal(x->shuffle, y->shuffle);
    assert_true(x->validation_split == y->validation_split);
    assert_int_equal(x->patience, y->patience);
    assert_true(x->min_delta == y->min_delta);
    assert_int_equal(x->restore_best, y->restore_best);
    assert_true(x->seed == y->seed);
    assert_true(a->warm_start_model == b->warm_start_model);
}

/* Decode must refuse `json` with `status` and, for 422, name `pointer`. */
static inline void assert_refused(const char *json, int status, const char *pointer) {
    api_train_request r;
    api_problem p;
    int rc = decode(json, &r, &p);
    if (rc != -1 || p.status != status || (pointer && strcmp(p.pointer, pointer))) {
        fail_msg("body %.200s: rc %d status %d pointer '%s' detail '%s' (wanted %d '%s')", json, rc,
                 p.status, p.pointer, p.detail, status, pointer ? pointer : "");
    }
    assert_true(p.detail[0] != '\0');
    assert_string_equal(p.type,
                        status == 400 ? "/problems/malformed-json" : "/problems/invalid-field");
}

#endif /* MLPD_TRAIN_CODEC_FIXTURE_H */
