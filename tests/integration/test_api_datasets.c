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
#include "expect.h"

static mlpd_daemon D;

static int setup(void **state) {
    (void)state;
    return daemon_start(&D, NULL);
}

static int teardown(void **state) {
    (void)state;
    return daemon_finish(&D);
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
    cJSON *l = expect_json(&D, "/datasets", 200);
    cJSON *ds = cJSON_GetObjectItemCaseSensitive(l, "datasets");
    cJSON *d, *digits = NULL;
    cJSON_ArrayForEach(d, ds) if (!strcmp(json_str(d, "name"), "mnist-digits")) digits = d;
    assert_non_null(digits);
    assert_int_equal((int)json_num(digits, "n_train"), 8000);
    assert_int_equal((int)json_num(digits, "n_test"), 2000);
    assert_int_equal((int)json_num(digits, "features"), 784);
    assert_int_equal((int)json_num(digits, "classes"), 10);
    assert_string_equal(json_str(digits, "format"), "idx");
    /* a packaged set's class names are known */
    cJSON *names = cJSON_GetObjectItemCaseSensitive(digits, "class_names");
    assert_int_equal(cJSON_GetArraySize(names), 10);
    assert_string_equal(cJSON_GetArrayItem(names, 7)->valuestring, "7");
    cJSON_Delete(l);
    cJSON *one = expect_json(&D, "/datasets/mnist-digits", 200);
    assert_int_equal((int)json_num(one, "n_train"), 8000);
    cJSON_Delete(one);
    cJSON_Delete(expect_json(&D, "/datasets/no-such-set", 404));
}

static void test_csv_upload_registers_and_trains(void **state) {
    (void)state;
    char *csv = make_csv(90);
    /* class names: one per class, in label order, or refused with nothing kept */
    static const char *const bad[] = {"?name=tiny-4&classes=low,high", "?name=tiny-4&classes=a,,c",
                                      "?name=tiny-4&classes=a,b%22,c"};
    for (int i = 0; i < 3; i++) {
        http_result b = upload(bad[i], csv, strlen(csv));
        assert_int_equal(b.status, 422);
        assert_non_null(strstr(b.body, "classes"));
        http_result_free(&b);
    }
    cJSON_Delete(expect_json(&D, "/datasets/tiny-4", 404));
    http_result r = upload("?name=tiny-3&classes=low,middle,high", csv, strlen(csv));
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
    cJSON *names = cJSON_GetObjectItemCaseSensitive(j, "class_names");
    assert_int_equal(cJSON_GetArraySize(names), 3);
    assert_string_equal(cJSON_GetArrayItem(names, 1)->valuestring, "middle");
    cJSON_Delete(j);
    http_result_free(&r);
    char file[400];
    snprintf(file, sizeof file, "%s/tiny-3.csv", D.data_dir);
    struct stat sb;
    assert_int_equal(stat(file, &sb), 0);
    assert_int_equal((size_t)sb.st_size, strlen(csv));
    cJSON_Delete(expect_json(&D, "/datasets/tiny-3", 200));

    /* data sets are immutable: the same name again conflicts */
    r = upload("?name=tiny-3", csv, strlen(csv));
    assert_int_equal(r.status, 409);
    http_result_free(&r);
    free(csv);

    /* 4 features are no image: augmentation is refused at submit, for a job
     * and for a sweep's base, naming the member */
    static const char *const aug[][3] = {
        {"/train", "{\"dataset\":\"tiny-3\",\"augment\":{\"hflip\":true}}", "/augment/hflip"},
        {"/train", "{\"dataset\":\"tiny-3\",\"augment\":{\"hflip\":true,\"shift\":1}}",
         "/augment/shift"},
        {"/sweeps",
         "{\"base\":{\"dataset\":\"tiny-3\",\"validation_split\":0.2,\"augment\":{\"shift\":1}},"
         "\"space\":{\"learning_rate\":[0.1,0.2]}}",
         "/base/augment/shift"},
    };
    for (int i = 0; i < 3; i++) {
        cJSON *p = expect_problem(&D, "POST", aug[i][0], "application/json", aug[i][1],
                                  strlen(aug[i][1]), NULL, 422, NULL);
        expect_problem_pointer(p, aug[i][2]);
        expect_detail_mentions(p, "square images");
        cJSON_Delete(p);
    }

    /* train on it and predict 4-wide rows */
    int64_t id = train_job(&D, "{\"dataset\":\"tiny-3\",\"hidden\":[8],\"epochs\":30,"
                               "\"batch_size\":10,\"learning_rate\":0.5,\"seed\":1}");
    assert_true(id > 0);
    cJSON *job = expect_job_end(&D, id, 60, "succeeded");
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
    assert_string_equal(json_str(pred, "class_name"), "middle"); /* the data set's name for it */
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(pred, "probabilities")),
                     3);
    cJSON_Delete(j);
    http_result_free(&p);

    /* Deleting the upload removes it and its file; the finished job keeps its name. */
    assert_int_equal(request_status(&D, "DELETE", "/datasets/tiny-3", NULL, NULL, 0, NULL), 204);
    assert_int_equal(stat(file, &sb), -1);
    cJSON_Delete(expect_json(&D, "/datasets/tiny-3", 404));
    assert_int_equal(request_status(&D, "DELETE", "/datasets/tiny-3", NULL, NULL, 0, NULL), 404);
    /* A set found in the data folder is not deleted from the API: its files stay. */
    cJSON_Delete(
        expect_problem(&D, "DELETE", "/datasets/mnist-digits", NULL, NULL, 0, NULL, 409, NULL));
    cJSON_Delete(expect_json(&D, "/datasets/mnist-digits", 200));
}

static void test_bad_uploads_leave_nothing_behind(void **state) {
    (void)state;
    static const char ragged[] = "0,0.1,0.2\n1,0.3\n";
    http_result r = upload("?name=ragged", ragged, sizeof ragged - 1);
    assert_int_equal(r.status, 422);
    assert_string_equal(r.content_type, "application/problem+json");
    http_result_free(&r);
    cJSON_Delete(expect_json(&D, "/datasets/ragged", 404));
    char file[400];
    struct stat sb;
    snprintf(file, sizeof file, "%s/ragged.csv", D.data_dir);
    assert_int_not_equal(stat(file, &sb), 0);

    static const char ok[] = "0,1\n1,2\n";
    const char *bad_names[] = {
        "",
        "?name=",
        "?name=..%2Fescape",
        "?name=a%2Fb",
        "?name=.hidden",
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
    assert_int_equal(
        http_do(&D, "POST", "/datasets?name=x", "application/json", ok, sizeof ok - 1, NULL, 0, &r),
        0);
    assert_int_equal(r.status, 415);
    http_result_free(&r);
    /* an existing IDX folder's name is taken too */
    r = upload("?name=mnist-digits", ok, sizeof ok - 1);
    assert_int_equal(r.status, 409);
    http_result_free(&r);
}

/* The bytes of a file of data/mnist-digits (caller frees). */
static unsigned char *read_digits_file(const char *name, size_t *len) {
    char rel[128];
    snprintf(rel, sizeof rel, "data/mnist-digits/%s", name);
    unsigned char *buf = repo_file_bytes(&D, rel, len);
    assert_non_null(buf);
    return buf;
}

/* PUT one IDX file; returns the parsed answer and its status. */
static cJSON *put_file(const char *name, const char *file, const unsigned char *buf, size_t len,
                       long *status) {
    char path[256];
    snprintf(path, sizeof path, "/datasets/%s/files/%s", name, file);
    http_result r;
    assert_int_equal(http_do(&D, "PUT", path, "application/octet-stream", buf, len, NULL, 0, &r),
                     0);
    *status = r.status;
    cJSON *j = http_result_json(&r);
    if (!j) fprintf(stderr, "PUT %s -> %ld %s\n", path, r.status, r.body);
    http_result_free(&r);
    assert_non_null(j);
    return j;
}

static void test_idx_upload_file_by_file(void **state) {
    (void)state;
    size_t li, ll, ti, tl, gl;
    unsigned char *img = read_digits_file("train-images-idx3-ubyte", &li);
    unsigned char *lab = read_digits_file("train-labels-idx1-ubyte", &ll);
    unsigned char *timg = read_digits_file("t10k-images-idx3-ubyte", &ti);
    unsigned char *tlab = read_digits_file("t10k-labels-idx1-ubyte", &tl);
    unsigned char *lab_gz = gzip_bytes(lab, ll, &gl);
    assert_non_null(lab_gz);
    long st;
    cJSON *j;

    /* a labels file in the images slot is refused by its magic */
    j = put_file("digits2", "train-images-idx3-ubyte", lab, ll, &st);
    assert_int_equal(st, 422);
    cJSON_Delete(j);
    j = put_file("digits2", "train-images-idx3-ubyte", img, li, &st);
    assert_int_equal(st, 201);
    assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "complete")));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "files")), 1);
    cJSON_Delete(j);
    /* test labels (2,000) do not fit the train images (8,000) */
    j = put_file("digits2", "train-labels-idx1-ubyte", tlab, tl, &st);
    assert_int_equal(st, 422);
    cJSON_Delete(j);
    j = put_file("digits2", "t10k-images-idx3-ubyte", timg, ti, &st);
    assert_int_equal(st, 201);
    cJSON_Delete(j);
    /* the train pair is whole, the test pair is not: not complete yet */
    j = put_file("digits2", "train-labels-idx1-ubyte.gz", lab_gz, gl, &st);
    assert_int_equal(st, 201);
    assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "complete")));
    cJSON_Delete(j);
    cJSON_Delete(expect_json(&D, "/datasets/digits2", 404));
    j = put_file("digits2", "t10k-labels-idx1-ubyte", tlab, tl, &st);
    assert_int_equal(st, 201);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "complete")));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "files")), 4);
    cJSON *ds = cJSON_GetObjectItemCaseSensitive(j, "dataset");
    assert_int_equal((int)json_num(ds, "n_train"), 8000);
    assert_int_equal((int)json_num(ds, "n_test"), 2000);
    assert_int_equal((int)json_num(ds, "features"), 784);
    assert_int_equal((int)json_num(ds, "classes"), 10);
    assert_string_equal(json_str(ds, "source"), "upload");
    cJSON_Delete(j);
    /* registered: immutable */
    j = put_file("digits2", "t10k-labels-idx1-ubyte", tlab, tl, &st);
    assert_int_equal(st, 409);
    cJSON_Delete(j);
    /* unknown slots */
    j = put_file("digits2", "train-images", img, 16, &st);
    assert_int_equal(st, 404);
    cJSON_Delete(j);
    free(img), free(lab), free(timg), free(tlab), free(lab_gz);

    /* the runner trains on it (the labels are read through gzip) */
    int64_t id = train_job(&D, "{\"dataset\":\"digits2\",\"hidden\":[8],\"epochs\":1}");
    assert_true(id > 0);
    j = expect_job_end(&D, id, 60, "succeeded");
    assert_true(json_num(j, "test_accuracy") > 0.3);
    cJSON_Delete(j);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_and_get_the_digits),
        cmocka_unit_test(test_csv_upload_registers_and_trains),
        cmocka_unit_test(test_bad_uploads_leave_nothing_behind),
        cmocka_unit_test(test_idx_upload_file_by_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
