/* test_api_datasets.c - data sets over HTTP: list, get, CSV upload (validated,
 * immutable, confined to the data dir), then training on the upload. */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "daemon.h"

static mlpd_daemon D;

static int setup(void **state) {
    (void)state;
    return daemon_start(&D, NULL);
}

static int teardown(void **state) {
    (void)state;
    int rc = daemon_stop(&D);
    daemon_cleanup(&D);
    return rc == 0 ? 0 : -1;
}

static cJSON *get_json(const char *path, long want) {
    http_result r;
    assert_int_equal(http_get(&D, path, &r), 0);
    assert_int_equal(r.status, want);
    cJSON *j = http_result_json(&r);
    http_result_free(&r);
    assert_non_null(j);
    return j;
}

static http_result upload(const char *query, const char *csv, size_t len) {
    char path[256];
    snprintf(path, sizeof path, "/datasets%s", query);
    http_result r;
    assert_int_equal(http_do(&D, "POST", path, "text/csv", csv, len, NULL, 0, &r), 0);
    return r;
}

/* Three separable classes of 4 features: class c has feature c high. */
static char *make_csv(int rows) {
    char *s = malloc((size_t)rows * 64 + 64);
    size_t n = (size_t)sprintf(s, "label,a,b,c,d\n");
    for (int i = 0; i < rows; i++) {
        int c = i % 3;
        float f[4] = {0.1f, 0.1f, 0.1f, (float)(i % 7) / 10.0f};
        f[c] = 0.9f - (float)(i % 5) / 50.0f;
        n += (size_t)sprintf(s + n, "%d,%.3f,%.3f,%.3f,%.3f\n", c, f[0], f[1], f[2], f[3]);
    }
    return s;
}

static int leftover_uploads(void) {
    DIR *dir = opendir(D.data_dir);
    int n = 0;
    struct dirent *e;
    while (dir && (e = readdir(dir)))
        if (!strncmp(e->d_name, ".upload", 7)) n++;
    if (dir) closedir(dir);
    return n;
}

static void test_list_and_get_the_digits(void **state) {
    (void)state;
    cJSON *l = get_json("/datasets", 200);
    cJSON *ds = cJSON_GetObjectItemCaseSensitive(l, "datasets");
    cJSON *d, *digits = NULL;
    cJSON_ArrayForEach(d, ds) if (!strcmp(json_str(d, "name"), "mnist-digits")) digits = d;
    assert_non_null(digits);
    assert_int_equal((int)json_num(digits, "n_train"), 8000);
    assert_int_equal((int)json_num(digits, "n_test"), 2000);
    assert_int_equal((int)json_num(digits, "features"), 784);
    assert_int_equal((int)json_num(digits, "classes"), 10);
    assert_string_equal(json_str(digits, "format"), "idx");
    cJSON_Delete(l);
    cJSON *one = get_json("/datasets/mnist-digits", 200);
    assert_int_equal((int)json_num(one, "n_train"), 8000);
    cJSON_Delete(one);
    cJSON_Delete(get_json("/datasets/no-such-set", 404));
}

static void test_csv_upload_registers_and_trains(void **state) {
    (void)state;
    char *csv = make_csv(90);
    http_result r = upload("?name=tiny-3", csv, strlen(csv));
    if (r.status != 201) fprintf(stderr, "%s\n", r.body);
    assert_int_equal(r.status, 201);
    char loc[64];
    assert_int_equal(http_result_header(&r, "Location", loc, sizeof loc), 0);
    assert_string_equal(loc, "/datasets/tiny-3");
    cJSON *j = http_result_json(&r);
    assert_string_equal(json_str(j, "name"), "tiny-3");
    assert_string_equal(json_str(j, "format"), "csv");
    assert_string_equal(json_str(j, "source"), "upload");
    assert_int_equal((int)json_num(j, "n_train"), 90);
    assert_int_equal((int)json_num(j, "n_test"), 0);
    assert_int_equal((int)json_num(j, "features"), 4);
    assert_int_equal((int)json_num(j, "classes"), 3);
    cJSON_Delete(j);
    http_result_free(&r);
    char file[400];
    snprintf(file, sizeof file, "%s/tiny-3.csv", D.data_dir);
    struct stat sb;
    assert_int_equal(stat(file, &sb), 0);
    assert_int_equal((size_t)sb.st_size, strlen(csv));
    cJSON_Delete(get_json("/datasets/tiny-3", 200));

    /* data sets are immutable: the same name again conflicts */
    r = upload("?name=tiny-3", csv, strlen(csv));
    assert_int_equal(r.status, 409);
    http_result_free(&r);
    free(csv);

    /* train on it and predict 4-wide rows */
    int64_t id = train_job(&D, "{\"dataset\":\"tiny-3\",\"hidden\":[8],\"epochs\":30,"
                               "\"batch_size\":10,\"learning_rate\":0.5,\"seed\":1}");
    assert_true(id > 0);
    cJSON *job = wait_job(&D, id, 60);
    assert_string_equal(json_str(job, "status"), "succeeded");
    int64_t model = (int64_t)json_num(job, "model_id");
    assert_true(json_num(job, "accuracy") > 0.9); /* separable: it learns them */
    cJSON_Delete(job);
    char body[128];
    snprintf(body, sizeof body, "{\"model\":%lld,\"input\":[0.1,0.9,0.1,0.3]}", (long long)model);
    http_result p;
    assert_int_equal(http_post_json(&D, "/predict", body, &p), 0);
    assert_int_equal(p.status, 200);
    j = http_result_json(&p);
    cJSON *pred = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "predictions"), 0);
    assert_int_equal((int)json_num(pred, "label"), 1);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(pred, "probabilities")), 3);
    cJSON_Delete(j);
    http_result_free(&p);
}

static void test_bad_uploads_leave_nothing_behind(void **state) {
    (void)state;
    static const char ragged[] = "0,0.1,0.2\n1,0.3\n";
    http_result r = upload("?name=ragged", ragged, sizeof ragged - 1);
    assert_int_equal(r.status, 422);
    assert_string_equal(r.content_type, "application/problem+json");
    http_result_free(&r);
    cJSON_Delete(get_json("/datasets/ragged", 404));
    char file[400];
    struct stat sb;
    snprintf(file, sizeof file, "%s/ragged.csv", D.data_dir);
    assert_int_not_equal(stat(file, &sb), 0);

    static const char ok[] = "0,1\n1,2\n";
    const char *bad_names[] = {"", "?name=", "?name=..%2Fescape", "?name=a%2Fb", "?name=.hidden",
                               "?name=%2Ftmp%2Fx",
                               "?name=a-name-that-is-far-too-long-to-be-accepted-by-the-daemon-at-all-ok"};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        r = upload(bad_names[i], ok, sizeof ok - 1);
        if (r.status != 422) fprintf(stderr, "name %s -> %ld\n", bad_names[i], r.status);
        assert_int_equal(r.status, 422);
        http_result_free(&r);
    }
    struct stat esc;
    snprintf(file, sizeof file, "%s/../escape.csv", D.data_dir);
    assert_int_not_equal(stat(file, &esc), 0);
    assert_int_equal(leftover_uploads(), 0);

    /* wrong content type */
    assert_int_equal(http_do(&D, "POST", "/datasets?name=x", "application/json", ok, sizeof ok - 1,
                             NULL, 0, &r), 0);
    assert_int_equal(r.status, 415);
    http_result_free(&r);
    /* an existing IDX folder's name is taken too */
    r = upload("?name=mnist-digits", ok, sizeof ok - 1);
    assert_int_equal(r.status, 409);
    http_result_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_and_get_the_digits),
        cmocka_unit_test(test_csv_upload_registers_and_trains),
        cmocka_unit_test(test_bad_uploads_leave_nothing_behind),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
