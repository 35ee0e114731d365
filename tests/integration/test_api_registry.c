/* test_api_registry.c - the model registry over HTTP: versions numbered per
 * name (uploads and jobs), GET /models/{name}[/versions/{v}], aliases that
 * move, the default alias, the canary share, /predict by name, name@alias,
 * name/version and id, and the 409 for deleting an aliased version. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon.h"
#include "expect.h"

static mlpd_daemon D;
static int64_t ids[4]; /* ids[v] = model id of digits version v (1..3) */
static float *digit;   /* one test digit */

static int64_t upload(const char *name, uint64_t seed) {
    static const int hidden[] = {16};
    return upload_model_file(&D, name, hidden, 1, seed);
}

static int setup(void **state) {
    (void)state;
    if (daemon_start(&D, NULL) != 0) return -1;
    for (int v = 1; v <= 3; v++)
        if ((ids[v] = upload("digits", (uint64_t)v)) <= 0) return -1;
    return load_test_digits(&D, 1, &digit, NULL);
}

static int teardown(void **state) {
    (void)state;
    free(digit);
    return daemon_finish(&D);
}

/* POST /predict {"model": model_json, "input": digit}; returns the answer. */
static cJSON *predict(const char *model_json, long want) {
    size_t cap = 64 + strlen(model_json) + 784 * 16;
    char *body = malloc(cap);
    size_t n = (size_t)snprintf(body, cap, "{\"model\":%s,\"input\":[", model_json);
    for (int i = 0; i < 784; i++)
        n += (size_t)snprintf(body + n, cap - n, "%s%.6g", i ? "," : "", digit[i]);
    snprintf(body + n, cap - n, "]}");
    http_result r;
    assert_int_equal(http_post_json(&D, "/predict", body, &r), 0);
    free(body);
    if (r.status != want) fprintf(stderr, "predict %s: %ld %s\n", model_json, r.status, r.body);
    assert_int_equal(r.status, want);
    cJSON *j = http_result_json(&r);
    http_result_free(&r);
    assert_non_null(j);
    return j;
}

/* The version /predict says answered for model_json. */
static int answered(const char *model_json) {
    cJSON *j = predict(model_json, 200);
    int v = (int)json_num(j, "model_version");
    assert_string_equal(json_str(j, "model_name"), "digits");
    assert_int_equal((int64_t)json_num(j, "model"), ids[v]);
    cJSON_Delete(j);
    return v;
}

static long put_json(const char *path, const char *json) {
    return request_status(&D, "PUT", path, "application/json", json, strlen(json), NULL);
}

static void test_versions_are_numbered_per_name(void **state) {
    (void)state;
    cJSON *m = expect_json(&D, "/models/digits", 200);
    assert_string_equal(json_str(m, "name"), "digits");
    cJSON *vs = cJSON_GetObjectItemCaseSensitive(m, "versions");
    assert_int_equal(cJSON_GetArraySize(vs), 3);
    for (int v = 1; v <= 3; v++) {
        cJSON *e = cJSON_GetArrayItem(vs, v - 1);
        assert_int_equal((int)json_num(e, "version"), v);
        assert_int_equal((int64_t)json_num(e, "id"), ids[v]);
    }
    assert_int_equal((int)json_num(m, "latest_version"), 3);
    assert_int_equal((int)json_num(m, "default_version"), 3);
    assert_string_equal(json_str(m, "default_alias"), "production");
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(m, "canary")));
    cJSON_Delete(m);
    m = expect_json(&D, "/models/digits/versions/2", 200);
    assert_int_equal((int64_t)json_num(m, "id"), ids[2]);
    assert_int_equal((int)json_num(m, "version"), 2);
    cJSON_Delete(m);
    /* Numeric ids keep working, and say their name and version. */
    char path[64];
    snprintf(path, sizeof path, "/models/%lld", (long long)ids[1]);
    m = expect_json(&D, path, 200);
    assert_string_equal(json_str(m, "name"), "digits");
    assert_int_equal((int)json_num(m, "version"), 1);
    cJSON_Delete(m);
    cJSON_Delete(
        expect_problem(&D, "GET", "/models/digits/versions/9", NULL, NULL, 0, NULL, 404, NULL));
    cJSON_Delete(expect_problem(&D, "GET", "/models/nosuch", NULL, NULL, 0, NULL, 404, NULL));
    /* A name starts with a letter: an upload under "9lives" is refused. */
    cJSON_Delete(expect_problem(&D, "POST", "/models?name=9lives", "application/octet-stream", "x",
                                1, NULL, 422, NULL));
    /* /predict without a version: the latest; by id, name/version. */
    assert_int_equal(answered("\"digits\""), 3);
    assert_int_equal(answered("\"digits/1\""), 1);
    char idj[32];
    snprintf(idj, sizeof idj, "%lld", (long long)ids[2]);
    assert_int_equal(answered(idj), 2);
}

static void test_aliases_move_and_protect_versions(void **state) {
    (void)state;
    assert_int_equal(put_json("/models/digits/aliases/production", "{\"version\":1}"), 200);
    assert_int_equal(put_json("/models/digits/aliases/champion", "{\"version\":2}"), 200);
    assert_int_equal(answered("\"digits\""), 1); /* the default alias wins over the latest */
    assert_int_equal(answered("\"digits@champion\""), 2);
    assert_int_equal(answered("\"digits/3\""), 3);
    /* Rolling forward is moving the alias. */
    assert_int_equal(put_json("/models/digits/aliases/production", "{\"version\":3}"), 200);
    assert_int_equal(answered("\"digits\""), 3);
    cJSON *p =
        expect_problem(&D, "DELETE", "/models/digits/versions/2", NULL, NULL, 0, NULL, 409, NULL);
    expect_detail_mentions(p, "champion");
    cJSON_Delete(p);
    char path[64];
    snprintf(path, sizeof path, "/models/%lld", (long long)ids[2]);
    cJSON_Delete(expect_problem(&D, "DELETE", path, NULL, NULL, 0, NULL, 409, NULL));
    cJSON *m = expect_json(&D, "/models/digits", 200);
    cJSON *aliases = cJSON_GetObjectItemCaseSensitive(m, "aliases");
    assert_int_equal((int)json_num(aliases, "production"), 3);
    assert_int_equal((int)json_num(aliases, "champion"), 2);
    cJSON_Delete(m);
    /* Refusals: unknown version, bad body, bad alias, unknown alias. */
    assert_int_equal(put_json("/models/digits/aliases/x", "{\"version\":99}"), 404);
    assert_int_equal(put_json("/models/digits/aliases/x", "{\"version\":\"1\"}"), 422);
    assert_int_equal(put_json("/models/digits/aliases/x", "{"), 400);
    assert_int_equal(put_json("/models/digits/aliases/9x", "{\"version\":1}"), 422);
    assert_int_equal(put_json("/models/nosuch/aliases/x", "{\"version\":1}"), 404);
    /* Members other than version, or version twice, are refused (they were
     * ignored, the first version winning): nothing moves. */
    static const struct {
        const char *path, *body, *pointer, *mentions;
    } strict[] = {
        {"/models/digits/aliases/production", "{\"version\":1,\"versoin\":2}", "/versoin",
         "unknown field"},
        {"/models/digits/aliases/production", "{\"version\":1,\"version\":2}", "/version", "twice"},
        {"/models/digits/aliases/production", "[{\"version\":1}]", "", "JSON object"},
        {"/models/digits/canary", "{\"version\":1,\"percent\":10,\"share\":10}", "/share",
         "unknown field"},
        {"/models/digits/canary", "{\"version\":1,\"percent\":10,\"percent\":0}", "/percent",
         "twice"},
        {"/models/digits/canary", "{\"percent\":0,\"version\":\"one\"}", "/version", "integer"},
    };
    for (size_t i = 0; i < sizeof strict / sizeof strict[0]; i++) {
        cJSON *p = expect_problem(&D, "PUT", strict[i].path, "application/json", strict[i].body,
                                  strlen(strict[i].body), NULL, 422, NULL);
        if (strict[i].pointer[0]) expect_problem_pointer(p, strict[i].pointer);
        expect_detail_mentions(p, strict[i].mentions);
        cJSON_Delete(p);
    }
    assert_int_equal(answered("\"digits\""), 3);
    cJSON_Delete(predict("\"digits@nosuch\"", 404));
    cJSON_Delete(predict("\"nosuch\"", 404));
    cJSON_Delete(predict("\"digits/7\"", 404));
    cJSON_Delete(predict("\"di gits\"", 422));
    assert_int_equal(
        request_status(&D, "DELETE", "/models/digits/aliases/champion", NULL, NULL, 0, NULL), 204);
    assert_int_equal(
        request_status(&D, "DELETE", "/models/digits/aliases/champion", NULL, NULL, 0, NULL), 404);
    cJSON_Delete(predict("\"digits@champion\"", 404));
    expect_healthy(&D);
}

static void test_canary_takes_its_share(void **state) {
    (void)state;
    assert_int_equal(put_json("/models/digits/aliases/production", "{\"version\":3}"), 200);
    assert_int_equal(put_json("/models/digits/canary", "{\"version\":1,\"percent\":30}"), 200);
    int to_canary = 0, to_default = 0;
    for (int i = 0; i < 100; i++) {
        cJSON *j = predict("\"digits\"", 200);
        int v = (int)json_num(j, "model_version");
        int flagged = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "canary"));
        cJSON_Delete(j);
        assert_true(v == 1 || v == 3);
        assert_int_equal(flagged, v == 1);
        if (v == 1) to_canary++;
        if (v == 3) to_default++;
    }
    /* A counter, not a coin: any 100 consecutive requests give exactly 30. */
    assert_int_equal(to_canary, 30);
    assert_int_equal(to_default, 70);
    assert_int_equal(answered("\"digits/3\""), 3); /* a versioned request is never diverted */
    cJSON *m = expect_json(&D, "/models/digits", 200);
    cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "canary");
    assert_int_equal((int)json_num(c, "version"), 1);
    assert_int_equal((int)json_num(c, "percent"), 30);
    cJSON_Delete(m);
    assert_int_equal(put_json("/models/digits/canary", "{\"version\":1,\"percent\":-5}"), 422);
    assert_int_equal(put_json("/models/digits/canary", "{\"version\":1,\"percent\":101}"), 422);
    assert_int_equal(put_json("/models/digits/canary", "{\"version\":42,\"percent\":5}"), 404);
    assert_int_equal(put_json("/models/digits/canary", "{\"percent\":0}"), 200);
    for (int i = 0; i < 10; i++) assert_int_equal(answered("\"digits\""), 3);
    assert_int_equal(put_json("/models/digits/canary", "{\"version\":2,\"percent\":100}"), 200);
    assert_int_equal(answered("\"digits\""), 2);
    assert_int_equal(request_status(&D, "DELETE", "/models/digits/canary", NULL, NULL, 0, NULL),
                     204);
    assert_int_equal(answered("\"digits\""), 3);
}

static void test_train_names_the_next_version(void **state) {
    (void)state;
    int64_t job = 0;
    int64_t id =
        train_model(&D, "{\"model_name\":\"digits\",\"hidden\":[8],\"epochs\":1}", 120, &job);
    assert_true(id > 0);
    char path[64];
    snprintf(path, sizeof path, "/models/%lld", (long long)id);
    cJSON *m = expect_json(&D, path, 200);
    assert_string_equal(json_str(m, "name"), "digits");
    assert_int_equal((int)json_num(m, "version"), 4);
    cJSON_Delete(m);
    /* Without model_name: the dataset's name. */
    id = train_model(&D, "{\"hidden\":[8],\"epochs\":1}", 120, NULL);
    assert_true(id > 0);
    m = expect_json(&D, "/models/mnist-digits/versions/1", 200);
    assert_int_equal((int64_t)json_num(m, "id"), id);
    cJSON_Delete(m);
    const char bad[] = "{\"model_name\":\"1st\"}";
    cJSON *p = expect_problem(&D, "POST", "/train", "application/json", bad, sizeof bad - 1, NULL,
                              422, NULL);
    expect_problem_pointer(p, "/model_name");
    cJSON_Delete(p);
}

/* --default-alias names the alias unversioned requests use; "" turns
 * aliases off for them (always the latest); a malformed one stops the start. */
static void test_default_alias_flag(void **state) {
    (void)state;
    static const char *const champion[] = {"--default-alias", "champion", NULL};
    static const char *const none[] = {"--default-alias=", NULL};
    const char *const *flags[] = {champion, none};
    for (int k = 0; k < 2; k++) {
        mlpd_daemon saved = D, other;
        int64_t saved_ids[4];
        memcpy(saved_ids, ids, sizeof ids);
        assert_int_equal(daemon_start(&other, flags[k]), 0);
        D = other; /* upload() and answered() talk to D */
        int64_t first = upload("digits", 7), second = upload("digits", 8);
        assert_true(first > 0 && second > 0);
        ids[1] = first;
        ids[2] = second;
        assert_int_equal(put_json("/models/digits/aliases/champion", "{\"version\":1}"), 200);
        assert_int_equal(put_json("/models/digits/aliases/production", "{\"version\":1}"), 200);
        /* champion: its alias wins; "": the latest, whatever the aliases say. */
        assert_int_equal(answered("\"digits\""), k == 0 ? 1 : 2);
        cJSON *m = expect_json(&D, "/models/digits", 200);
        assert_string_equal(json_str(m, "default_alias"), k == 0 ? "champion" : "");
        cJSON_Delete(m);
        assert_int_equal(daemon_finish(&D), 0);
        D = saved;
        memcpy(ids, saved_ids, sizeof ids);
    }
    static const char *const bad[] = {"--default-alias", "9lives", NULL};
    assert_int_equal(serve_exit_status(NULL, bad), 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_versions_are_numbered_per_name),
        cmocka_unit_test(test_aliases_move_and_protect_versions),
        cmocka_unit_test(test_canary_takes_its_share),
        cmocka_unit_test(test_train_names_the_next_version),
        cmocka_unit_test(test_default_alias_flag),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
