/* test_readers.c - IDX and CSV readers and mlp_dataset_load_path().
 *
 * Small files are written to a temporary folder (plain and gzipped), read
 * back and compared with what was written; then every malformed case the
 * readers promise to refuse is built and checked for MLP_EFORMAT (or EIO /
 * EINVAL) with a message that says what is wrong. Last, the real data sets
 * made by `make data` must load with their known sizes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "mlp.h"
#include "test_util.h"

static char g_dir[64]; /* this run's temporary folder */

/* ---- helpers ------------------------------------------------------------------ */

static const char *tmp_path(const char *name) {
    return tu_path(g_dir, name);
}

static void write_file(const char *name, const void *buf, size_t len, int gzip) {
    tu_write_file(tmp_path(name), buf, len, gzip);
}

static void write_text(const char *name, const char *text) {
    tu_write_text(tmp_path(name), text);
}

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint8_t pixel_at(size_t i, size_t j) {
    return (uint8_t)((i * 31 + j * 7 + 3) % 256);
}
static uint8_t label_at(size_t i) {
    return (uint8_t)((i * 3) % 7);
}

/* An idx3 images file with n samples of rows x cols (header values as
 * given; the body holds body_n samples). Caller frees; *len gets the size. */
static unsigned char *idx_images(uint32_t magic, uint32_t n, uint32_t rows, uint32_t cols,
                                 size_t body_n, size_t *len) {
    size_t features = (size_t)rows * cols;
    *len = 16 + body_n * features;
    unsigned char *b = malloc(*len);
    assert_non_null(b);
    put_be32(b, magic);
    put_be32(b + 4, n);
    put_be32(b + 8, rows);
    put_be32(b + 12, cols);
    for (size_t i = 0; i < body_n; i++)
        for (size_t j = 0; j < features; j++) b[16 + i * features + j] = pixel_at(i, j);
    return b;
}

static unsigned char *idx_labels(uint32_t magic, uint32_t n, size_t body_n, size_t *len) {
    *len = 8 + body_n;
    unsigned char *b = malloc(*len);
    assert_non_null(b);
    put_be32(b, magic);
    put_be32(b + 4, n);
    for (size_t i = 0; i < body_n; i++) b[8 + i] = label_at(i);
    return b;
}

/* idx_images() written to the temp folder as `name` (gzipped when gz). */
static void write_images(const char *name, uint32_t magic, uint32_t n, uint32_t rows, uint32_t cols,
                         size_t body_n, int gz) {
    size_t len;
    unsigned char *b = idx_images(magic, n, rows, cols, body_n, &len);
    write_file(name, b, len, gz);
    free(b);
}

/* idx_labels() written to the temp folder as `name` (gzipped when gz). */
static void write_labels(const char *name, uint32_t magic, uint32_t n, size_t body_n, int gz) {
    size_t len;
    unsigned char *b = idx_labels(magic, n, body_n, &len);
    write_file(name, b, len, gz);
    free(b);
}

/* Write a consistent pair img_name/lab_name of n samples rows x cols. */
static void write_pair(const char *img_name, const char *lab_name, uint32_t n, uint32_t rows,
                       uint32_t cols, int gz_img, int gz_lab) {
    write_images(img_name, 0x803, n, rows, cols, n, gz_img);
    write_labels(lab_name, 0x801, n, n, gz_lab);
}

/* Load an IDX pair from the temp folder, expecting failure `want`; the error
 * message must contain `needle`. */
static void expect_idx_error(const char *img, const char *lab, mlp_status want,
                             const char *needle) {
    char img_path[256], lab_path[256];
    mlp_dataset *d = (mlp_dataset *)1;
    mlp_error err = {{0}};
    snprintf(img_path, sizeof img_path, "%s/%s", g_dir, img);
    snprintf(lab_path, sizeof lab_path, "%s/%s", g_dir, lab);
    mlp_status s = mlp_dataset_load_idx(img_path, lab_path, NULL, &d, &err);
    if (s != want || !strstr(err.msg, needle))
        fail_msg("status %d (want %d), message \"%s\" (want \"%s\")", s, want, err.msg, needle);
    assert_null(d);
}

static void expect_csv_error(const char *text, const char *needle) {
    mlp_dataset *d = (mlp_dataset *)1;
    mlp_error err = {{0}};
    write_text("bad.csv", text);
    mlp_status s = mlp_dataset_load_csv(tmp_path("bad.csv"), 0, NULL, &d, &err);
    if (s != MLP_EFORMAT || !strstr(err.msg, needle))
        fail_msg("csv %.40s...: status %d, message \"%s\" (want \"%s\")", text, s, err.msg, needle);
    assert_null(d);
}

static void check_idx_content(const mlp_dataset *d, size_t n, int features) {
    assert_int_equal(d->n, n);
    assert_int_equal(d->features, features);
    assert_non_null(d->x_u8);
    assert_null(d->x_f32);
    int32_t max = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(d->labels[i], label_at(i));
        if (d->labels[i] > max) max = d->labels[i];
        for (int j = 0; j < features; j++)
            assert_int_equal(d->x_u8[i * (size_t)features + (size_t)j], pixel_at(i, (size_t)j));
    }
    assert_int_equal(d->classes, max + 1 < 2 ? 2 : max + 1);
}

/* ---- IDX: good files ---------------------------------------------------------------- */

static void test_idx_plain_and_gzip(void **state) {
    (void)state;
    static const int gz[4][2] = {{0, 0}, {1, 1}, {1, 0}, {0, 1}};
    for (int k = 0; k < 4; k++) {
        mlp_dataset *d = NULL;
        mlp_error err = {{0}};
        write_pair("a-img", "a-lab", 9, 3, 4, gz[k][0], gz[k][1]);
        mlp_status s = mlp_dataset_load_idx(tmp_path("a-img"), tmp_path("a-lab"), NULL, &d, &err);
        if (s != MLP_OK) fail_msg("gzip %d/%d: %s", gz[k][0], gz[k][1], err.msg);
        check_idx_content(d, 9, 12);
        mlp_dataset_free(d);
    }
}

/* Bigger than the reader's first 4 MiB chunk, so its buffer has to grow. */
static void test_idx_large_grows_buffer(void **state) {
    (void)state;
    mlp_dataset *d = NULL;
    mlp_error err = {{0}};
    write_pair("big-img", "big-lab", 7000, 28, 28, 1, 0);
    assert_int_equal(mlp_dataset_load_idx(tmp_path("big-img"), tmp_path("big-lab"), NULL, &d, &err),
                     MLP_OK);
    check_idx_content(d, 7000, 784);
    mlp_dataset_free(d);
}

static void test_gather(void **state) {
    (void)state;
    mlp_dataset *d = NULL;
    mlp_error err = {{0}};
    write_pair("g-img", "g-lab", 6, 2, 3, 0, 0);
    assert_int_equal(mlp_dataset_load_idx(tmp_path("g-img"), tmp_path("g-lab"), NULL, &d, &err),
                     MLP_OK);
    const uint32_t idx[3] = {5, 0, 3};
    float x[3 * 6];
    int32_t y[3];
    mlp_dataset_gather(d, idx, 3, x, y);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(y[i], label_at(idx[i]));
        for (int j = 0; j < 6; j++)
            assert_true(x[i * 6 + j] == (float)pixel_at(idx[i], (size_t)j) / 255.0f);
    }
    float x2[3 * 6];
    mlp_dataset_gather(d, idx, 3, x2, NULL); /* labels are optional */
    assert_memory_equal(x, x2, sizeof x);
    mlp_dataset_free(d);

    write_text("g.csv", "1,0.5,-2\n0,3,4e-3\n");
    assert_int_equal(mlp_dataset_load_csv(tmp_path("g.csv"), 0, NULL, &d, &err), MLP_OK);
    const uint32_t rows[2] = {1, 0};
    float xf[4];
    mlp_dataset_gather(d, rows, 2, xf, y);
    assert_true(xf[0] == 3.0f && xf[1] == 4e-3f && xf[2] == 0.5f && xf[3] == -2.0f);
    assert_int_equal(y[0], 0);
    assert_int_equal(y[1], 1);
    mlp_dataset_free(d);
    mlp_dataset_free(NULL);
}

/* ---- IDX: malformed files --------------------------------------------------------------- */

static void test_idx_truncated_images(void **state) {
    (void)state;
    size_t len, llen;
    unsigned char *img = idx_images(0x803, 10, 4, 4, 10, &len);
    unsigned char *lab = idx_labels(0x801, 10, 10, &llen);
    write_file("t-lab", lab, llen, 0);
    for (int gz = 0; gz < 2; gz++) {
        write_file("t-img", img, len - 1, gz); /* one pixel short */
        expect_idx_error("t-img", "t-lab", MLP_EFORMAT, "truncated");
        write_file("t-img", img, 16 + 4 * 16 + 5, gz); /* mid-sample */
        expect_idx_error("t-img", "t-lab", MLP_EFORMAT, "truncated");
        write_file("t-img", img, 10, gz); /* inside the header */
        expect_idx_error("t-img", "t-lab", MLP_EFORMAT, "truncated header");
    }
    write_file("t-img", img, len, 0);
    write_file("t-lab", lab, llen - 3, 1); /* labels short */
    expect_idx_error("t-img", "t-lab", MLP_EFORMAT, "truncated");
    free(img);
    free(lab);
}

/* A gzip stream cut in the middle of its compressed data. */
static void test_idx_corrupt_gzip(void **state) {
    (void)state;
    size_t len;
    write_pair("c-img", "c-lab", 50, 8, 8, 1, 0);
    char *buf = tu_read_file(tmp_path("c-img"), &len);
    assert_true(len > 40);
    write_file("c-img", buf, len / 2, 0); /* raw bytes: still a gzip header, half a stream */
    free(buf);
    expect_idx_error("c-img", "c-lab", MLP_EFORMAT, "c-img");
}

static void test_idx_lying_header(void **state) {
    (void)state;
    /* Both headers promise 1000 samples; the files hold 5. */
    write_images("l-img", 0x803, 1000, 28, 28, 5, 0);
    write_labels("l-lab", 0x801, 1000, 1000, 0);
    expect_idx_error("l-img", "l-lab", MLP_EFORMAT, "holds only 3920");
    /* The biggest count allowed, on a tiny gzipped file (the gzip bomb of
     * issue 12: 41 GB claimed): refused by the byte budget before reading. */
    write_images("l-img", 0x803, MLP_MAX_SAMPLES, 64, 64, 2, 1);
    write_labels("l-lab", 0x801, MLP_MAX_SAMPLES, 2, 1);
    expect_idx_error("l-img", "l-lab", MLP_ETOOBIG, "the limit is 2147483648");
    /* Within the budget (78 MB) but more than deflate can pack into this
     * little gzip: refused without inflating. */
    write_images("l-img", 0x803, 100000, 28, 28, 2, 1);
    write_labels("l-lab", 0x801, 100000, 2, 1);
    expect_idx_error("l-img", "l-lab", MLP_EFORMAT, "gzip-compressed bytes can hold");
}

static void test_idx_trailing_data(void **state) {
    (void)state;
    write_images("x-img", 0x803, 4, 2, 2, 5, 1); /* one extra sample */
    write_labels("x-lab", 0x801, 4, 4, 0);
    expect_idx_error("x-img", "x-lab", MLP_EFORMAT, "trailing data");
}

static void test_idx_count_mismatch(void **state) {
    (void)state;
    write_images("m-img", 0x803, 6, 2, 2, 6, 0);
    write_labels("m-lab", 0x801, 5, 5, 0);
    expect_idx_error("m-img", "m-lab", MLP_EFORMAT, "6 images but");
}

static void test_idx_wrong_magic(void **state) {
    (void)state;
    write_pair("w-img", "w-lab", 3, 2, 2, 0, 0);
    /* Labels passed as images and images as labels. */
    expect_idx_error("w-lab", "w-img", MLP_EFORMAT, "wrong magic 0x00000801");
    write_images("w-img", 0x00000c03, 3, 2, 2, 3, 1); /* int32 pixels */
    expect_idx_error("w-img", "w-lab", MLP_EFORMAT, "wrong magic 0x00000c03");
    write_text("w-img", "hello, this is not an IDX file\n");
    expect_idx_error("w-img", "w-lab", MLP_EFORMAT, "wrong magic");
}

static void test_idx_absurd_sizes(void **state) {
    (void)state;
    write_images("s-img", 0x803, 2, 100000, 100000, 0, 0);
    write_labels("s-lab", 0x801, 2, 2, 0);
    expect_idx_error("s-img", "s-lab", MLP_EFORMAT, "100000x100000");

    write_images("s-img", 0x803, 2, 0, 28, 0, 0);
    expect_idx_error("s-img", "s-lab", MLP_EFORMAT, "0x28");

    write_images("s-img", 0x803, MLP_MAX_SAMPLES + 1, 1, 1, 0, 0);
    expect_idx_error("s-img", "s-lab", MLP_EFORMAT, "samples (limit");

    write_images("s-img", 0x803, 0, 28, 28, 0, 0);
    expect_idx_error("s-img", "s-lab", MLP_EFORMAT, "0 samples");
}

static void test_idx_empty_and_missing(void **state) {
    (void)state;
    write_pair("e-img", "e-lab", 3, 2, 2, 0, 0);
    write_file("empty", "", 0, 0);
    expect_idx_error("empty", "e-lab", MLP_EFORMAT, "empty file");
    expect_idx_error("e-img", "empty", MLP_EFORMAT, "empty file");
    write_file("empty.gz", "", 0, 1); /* a valid gzip stream of nothing */
    expect_idx_error("empty.gz", "e-lab", MLP_EFORMAT, "empty file");
    expect_idx_error("no-such-file", "e-lab", MLP_EIO, "No such file");
}

/* ---- CSV ----------------------------------------------------------------------------------- */

static void test_csv_good(void **state) {
    (void)state;
    mlp_dataset *d = NULL;
    mlp_error err = {{0}};
    write_text("ok.csv", "label, a, b, c\r\n"
                         "\n"
                         "2, 0, 127.5, 255\r\n"
                         "   \n"
                         "0,1e2,-0.25,\t3\n"
                         "4,0,0,0"); /* last line without a newline */
    assert_int_equal(mlp_dataset_load_csv(tmp_path("ok.csv"), 0, NULL, &d, &err), MLP_OK);
    assert_int_equal(d->n, 3);
    assert_int_equal(d->features, 3);
    assert_int_equal(d->classes, 5);
    assert_null(d->x_u8);
    const float want[9] = {0, 127.5f, 255, 100, -0.25f, 3, 0, 0, 0};
    const int32_t want_labels[3] = {2, 0, 4};
    assert_memory_equal(d->x_f32, want, sizeof want);
    assert_memory_equal(d->labels, want_labels, sizeof want_labels);
    mlp_dataset_free(d);

    /* No header; scaled by 1/255; a single class still gives 2 classes. */
    write_text("ok2.csv", "0,255,51\n0,0,102\n");
    assert_int_equal(mlp_dataset_load_csv(tmp_path("ok2.csv"), 1, NULL, &d, &err), MLP_OK);
    assert_int_equal(d->n, 2);
    assert_int_equal(d->classes, 2);
    assert_true(d->x_f32[0] == 1.0f && d->x_f32[1] == 51.0f / 255.0f);
    assert_true(d->x_f32[2] == 0.0f && d->x_f32[3] == 102.0f / 255.0f);
    mlp_dataset_free(d);
}

static void test_csv_malformed(void **state) {
    (void)state;
    expect_csv_error("", "empty file");
    expect_csv_error("\n\n  \n", "empty file");
    expect_csv_error("label,x1,x2\n", "no data rows after the header");
    expect_csv_error("label,x1,x2\n\n1,2,3\n0,x,3\n", ":4: column 2: \"x\" is not a number");
    expect_csv_error("1,2,3\n0,2,3abc\n", ":2: column 3: \"3abc\" is not a number");
    expect_csv_error("1,2,3\n0,,3\n", ":2: column 2: \"\" is not a number");
    expect_csv_error("1,2,3\n0,2,3\n1,2\n", ":3: ragged row: 2 cells, but line 1 has 3");
    expect_csv_error("1,2,3\n0,2,3,4\n", ":2: ragged row: 4 cells");
    expect_csv_error("a,b,c\n1,2\n", ":2: ragged row: 2 cells, but line 1 has 3");
    expect_csv_error("1,2,3\n-1,2,3\n", ":2: column 1: label -1 is negative");
    expect_csv_error("1.5,2,3\n", ":1: column 1: label 1.5 is not an integer");
    expect_csv_error("1,2,3\n1024,2,3\n", ":2: column 1: label 1024 is out of range");
    expect_csv_error("1,2,nan\n", ":1: column 3: \"nan\" is not a finite number");
    expect_csv_error("1,2,3\n1,-inf,3\n", ":2: column 2: \"-inf\" is not a finite number");
    expect_csv_error("1,1e39,3\n", "column 2: \"1e39\" is not a finite number");
    expect_csv_error("1\n2\n", ":1: a row needs a label and at least one feature");

    mlp_dataset *d = (mlp_dataset *)1;
    mlp_error err = {{0}};
    static const char with_nul[] = "1,2\n0,2\0,3\n";
    write_file("nul.csv", with_nul, sizeof with_nul - 1, 0);
    assert_int_equal(mlp_dataset_load_csv(tmp_path("nul.csv"), 0, NULL, &d, &err), MLP_EFORMAT);
    assert_null(d);
    assert_non_null(strstr(err.msg, ":2: contains a NUL byte"));
    assert_int_equal(mlp_dataset_load_csv(tmp_path("missing.csv"), 0, NULL, &d, &err), MLP_EIO);
    assert_null(d);
    assert_non_null(strstr(err.msg, "missing.csv"));
}

/* A header or row wider than MLP_MAX_FEATURES is refused. */
static void test_csv_too_wide(void **state) {
    (void)state;
    size_t cells = MLP_MAX_FEATURES + 2, cap = cells * 2 + 2;
    char *text = malloc(cap);
    assert_non_null(text);
    for (size_t i = 0; i < cells; i++) {
        text[2 * i] = '1';
        text[2 * i + 1] = ',';
    }
    text[2 * cells - 1] = '\n';
    text[2 * cells] = '\0';
    expect_csv_error(text, "features (limit)");
    free(text);
}

/* ---- load_path --------------------------------------------------------------------------------- */

static void test_load_path(void **state) {
    (void)state;
    char dir[128];
    snprintf(dir, sizeof dir, "%s/mnist", g_dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    write_pair("mnist/train-images-idx3-ubyte.gz", "mnist/train-labels-idx1-ubyte", 8, 2, 3, 1, 0);
    write_pair("mnist/t10k-images-idx3-ubyte", "mnist/t10k-labels-idx1-ubyte.gz", 5, 2, 3, 0, 1);
    mlp_dataset *d = NULL;
    mlp_error err = {{0}};
    assert_int_equal(mlp_dataset_load_path(dir, "train", NULL, &d, &err), MLP_OK);
    check_idx_content(d, 8, 6);
    mlp_dataset_free(d);
    assert_int_equal(mlp_dataset_load_path(dir, "test", NULL, &d, &err), MLP_OK);
    check_idx_content(d, 5, 6);
    mlp_dataset_free(d);

    assert_int_equal(mlp_dataset_load_path(dir, "valid", NULL, &d, &err), MLP_EINVAL);
    assert_null(d);
    assert_non_null(strstr(err.msg, "unknown split"));
    assert_int_equal(mlp_dataset_load_path(g_dir, "train", NULL, &d, &err), MLP_EIO);
    assert_non_null(strstr(err.msg, "no train-images-idx3-ubyte"));
    assert_int_equal(mlp_dataset_load_path(tmp_path("nowhere"), "train", NULL, &d, &err), MLP_EIO);

    write_text("p.csv", "y,a\n1,0.5\n3,0.25\n");
    assert_int_equal(mlp_dataset_load_path(tmp_path("p.csv"), "train", NULL, &d, &err), MLP_OK);
    assert_int_equal(d->n, 2);
    assert_int_equal(d->classes, 4);
    assert_true(d->x_f32[0] == 0.5f && d->x_f32[1] == 0.25f); /* unscaled */
    mlp_dataset_free(d);
    assert_int_equal(mlp_dataset_load_path(tmp_path("p.csv"), "test", NULL, &d, &err), MLP_EINVAL);
    assert_null(d);
}

/* ---- the real data sets (make data) ------------------------------------------------------------- */

static void check_real(const char *dir, const char *split, size_t n) {
    mlp_dataset *d = NULL;
    mlp_error err = {{0}};
    mlp_status s = mlp_dataset_load_path(dir, split, NULL, &d, &err);
    if (s != MLP_OK) fail_msg("%s %s: %s (run `make data` first)", dir, split, err.msg);
    assert_int_equal(d->n, n);
    assert_int_equal(d->features, 784);
    assert_int_equal(d->classes, 10);
    assert_non_null(d->x_u8);
    /* Every class occurs, and the images are not blank. */
    size_t per_class[10] = {0}, nonzero = 0;
    for (size_t i = 0; i < d->n; i++) per_class[d->labels[i]]++;
    for (int c = 0; c < 10; c++) assert_true(per_class[c] > 0);
    for (size_t i = 0; i < d->n * 784; i++) nonzero += d->x_u8[i] != 0;
    assert_true(nonzero > d->n * 784 / 10);
    mlp_dataset_free(d);
}

static void test_real_data(void **state) {
    (void)state;
    const char *root = getenv("MLPD_DATA_DIR") ? getenv("MLPD_DATA_DIR") : "data";
    char path[512];
    snprintf(path, sizeof path, "%s/mnist-digits", root);
    check_real(path, "train", 8000);
    check_real(path, "test", 2000);
    snprintf(path, sizeof path, "%s/fashion-mnist", root);
    check_real(path, "train", 60000);
    check_real(path, "test", 10000);
}

/* ---- fixture ------------------------------------------------------------------------------------- */

static int make_dir(void **state) {
    (void)state;
    return tu_make_temp_dir(g_dir, sizeof g_dir, "readers");
}

static int remove_dir(void **state) {
    (void)state;
    return tu_remove_tree(g_dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx_plain_and_gzip),
        cmocka_unit_test(test_idx_large_grows_buffer),
        cmocka_unit_test(test_gather),
        cmocka_unit_test(test_idx_truncated_images),
        cmocka_unit_test(test_idx_corrupt_gzip),
        cmocka_unit_test(test_idx_lying_header),
        cmocka_unit_test(test_idx_trailing_data),
        cmocka_unit_test(test_idx_count_mismatch),
        cmocka_unit_test(test_idx_wrong_magic),
        cmocka_unit_test(test_idx_absurd_sizes),
        cmocka_unit_test(test_idx_empty_and_missing),
        cmocka_unit_test(test_csv_good),
        cmocka_unit_test(test_csv_malformed),
        cmocka_unit_test(test_csv_too_wide),
        cmocka_unit_test(test_load_path),
        cmocka_unit_test(test_real_data),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
