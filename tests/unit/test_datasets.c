/* test_datasets.c - the engine's data set knowledge beyond plain reading
 * (mlp.h): the one-file IDX check an upload runs (mlp_idx_check), the byte
 * budget and the gzip ratio check, the CSV header rule and byte order mark,
 * messages that name files relative to a base folder, the name rule, the
 * MNIST layout, probing, evenly spaced samples, and the training memory
 * estimate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include <cmocka.h>

#include "mlp.h"
#include "test_util.h"

static char g_dir[64];

static const char *tmp_path(const char *name) {
    return tu_path(g_dir, name);
}

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* An IDX file: labels (idx1) or images of rows x cols, header count n, body
 * of body_n samples (pixel and label values from the index), written as
 * `name` in the temp folder, gzipped when gz. */
static void write_idx(const char *name, int labels, uint32_t n, uint32_t rows, uint32_t cols,
                      size_t body_n, int gz) {
    size_t hdr = labels ? 8 : 16, per = labels ? 1 : (size_t)rows * cols;
    size_t len = hdr + body_n * per;
    unsigned char *b = malloc(len);
    assert_non_null(b);
    put_be32(b, labels ? 0x801 : 0x803);
    put_be32(b + 4, n);
    if (!labels) {
        put_be32(b + 8, rows);
        put_be32(b + 12, cols);
    }
    for (size_t i = 0; i < body_n * per; i++) b[hdr + i] = (unsigned char)(labels ? i % 5 : i * 7);
    tu_write_file(tmp_path(name), b, len, gz);
    free(b);
}

/* mlp_idx_check of tmp/name fails with `want` and a message holding needle. */
static void expect_check_error(const char *name, int labels, const mlp_load_opts *o,
                               mlp_status want, const char *needle) {
    mlp_idx_info info;
    mlp_error err = {{0}};
    mlp_status s = mlp_idx_check(tmp_path(name), labels, 1, o, &info, &err);
    if (s != want || !strstr(err.msg, needle))
        fail_msg("%s: status %d (want %d), message \"%s\" (want \"%s\")", name, s, want, err.msg,
                 needle);
}

static void test_idx_check_good_files(void **state) {
    (void)state;
    for (int gz = 0; gz < 2; gz++) {
        mlp_idx_info info;
        mlp_error err = {{0}};
        write_idx("ok-img", 0, 12, 3, 4, 12, gz);
        assert_int_equal(mlp_idx_check(tmp_path("ok-img"), 0, 1, NULL, &info, &err), MLP_OK);
        assert_int_equal(info.count, 12);
        assert_int_equal(info.features, 12);
        assert_int_equal(info.gzip, gz);
        write_idx("ok-lab", 1, 12, 0, 0, 12, gz);
        assert_int_equal(mlp_idx_check(tmp_path("ok-lab"), 1, 1, NULL, &info, &err), MLP_OK);
        assert_int_equal(info.classes, 5); /* labels 0..4 */
    }
}

/* Issue 12 item 14: what a lone upload used to pass with only its magic. */
static void test_idx_check_refusals(void **state) {
    (void)state;
    mlp_load_opts shown = {.shown_as = "train-images-idx3-ubyte.gz"};
    unsigned char h[10] = {0, 0, 8, 3, 0, 0, 0, 1, 0, 0};
    tu_write_file(tmp_path("short"), h, sizeof h, 0);
    expect_check_error("short", 0, &shown, MLP_EFORMAT,
                       "train-images-idx3-ubyte.gz: truncated header (10 of 16 bytes)");
    write_idx("zero", 0, 0, 28, 28, 0, 1);
    expect_check_error("zero", 0, NULL, MLP_EFORMAT, "declares 0 samples");
    write_idx("huge", 1, 1000000000u, 0, 0, 3, 1);
    expect_check_error("huge", 1, NULL, MLP_EFORMAT, "1000000000 samples (limit");
    write_idx("cut", 0, 100, 28, 28, 50, 1); /* dimensions against the bytes */
    expect_check_error("cut", 0, NULL, MLP_EFORMAT, "truncated: header declares 100 samples");
    write_idx("cut-plain", 0, 100, 28, 28, 50, 0);
    expect_check_error("cut-plain", 0, NULL, MLP_EFORMAT, "holds only 39200");
    write_idx("long", 1, 4, 0, 0, 6, 1);
    expect_check_error("long", 1, NULL, MLP_EFORMAT, "trailing data");

    /* A gzip whose trailer (CRC-32, then length) is wrong. */
    write_idx("crc.gz", 1, 64, 0, 0, 64, 1);
    size_t len;
    char *gz = tu_read_file(tmp_path("crc.gz"), &len);
    assert_non_null(gz);
    gz[len - 8] ^= 0x55;
    tu_write_file(tmp_path("crc.gz"), gz, len, 0);
    free(gz);
    mlp_load_opts lab = {.shown_as = "t10k-labels-idx1-ubyte.gz"};
    expect_check_error("crc.gz", 1, &lab, MLP_EFORMAT,
                       "t10k-labels-idx1-ubyte.gz: corrupt gzip data");
}

/* Issue 12 item 1: a small gzip claiming gigabytes is refused before any of
 * it is inflated or allocated. */
static void test_idx_budget_and_ratio(void **state) {
    (void)state;
    write_idx("bomb", 0, MLP_MAX_SAMPLES, 64, 64, 2, 1); /* 41 GB claimed */
    expect_check_error("bomb", 0, NULL, MLP_ETOOBIG, "the limit is 2147483648");
    mlp_load_opts small = {.max_bytes = 1000};
    write_idx("fits", 0, 100, 3, 3, 100, 1); /* 900 + 400 bytes in memory */
    expect_check_error("fits", 0, &small, MLP_ETOOBIG, "1300 bytes in memory; the limit is 1000");
    write_idx("ratio", 1, 5000000, 0, 0, 1, 1); /* 5 MB of labels in a ~40-byte gzip */
    expect_check_error("ratio", 1, NULL, MLP_EFORMAT, "gzip-compressed bytes can hold");
    /* The pair's budget counts pixels and labels. */
    write_idx("p-img", 0, 100, 3, 3, 100, 0);
    write_idx("p-lab", 1, 100, 0, 0, 100, 0);
    mlp_dataset *d = NULL;
    mlp_error err = {{0}};
    assert_int_equal(mlp_dataset_load_idx(tmp_path("p-img"), tmp_path("p-lab"), &small, &d, &err),
                     MLP_ETOOBIG);
    assert_null(d);
}

/* Messages name files relative to base_dir, never the base itself. */
static void test_messages_relative_to_base(void **state) {
    (void)state;
    char sub[128];
    snprintf(sub, sizeof sub, "%s/set", g_dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    write_idx("set/train-images-idx3-ubyte", 0, 10, 2, 2, 9, 0);
    write_idx("set/train-labels-idx1-ubyte.gz", 1, 10, 0, 0, 10, 1);
    mlp_load_opts o = {.base_dir = g_dir};
    mlp_dataset *d = NULL;
    mlp_error err = {{0}};
    assert_int_equal(mlp_dataset_load_path("set", "train", &o, &d, &err), MLP_EFORMAT);
    assert_non_null(strstr(err.msg, "set/train-images-idx3-ubyte: truncated"));
    assert_null(strstr(err.msg, g_dir));
    assert_int_equal(mlp_dataset_load_path("set", "test", &o, &d, &err), MLP_EIO);
    assert_non_null(strstr(err.msg, "set: no t10k-images-idx3-ubyte"));
    assert_null(strstr(err.msg, g_dir));
    tu_write_text(tmp_path("c.csv"), "0,1\n1,x\n");
    assert_int_equal(mlp_dataset_load_path("c.csv", "train", &o, &d, &err), MLP_EFORMAT);
    assert_non_null(strstr(err.msg, "c.csv:2: column 2"));
    assert_null(strstr(err.msg, g_dir));
    char path[160];
    snprintf(path, sizeof path, "%s/set", g_dir);
    assert_int_equal(mlp_mnist_find(&o, "set", MLP_MNIST_TRAIN_LABELS, path, sizeof path), 0);
    assert_string_equal(path, "set/train-labels-idx1-ubyte.gz");
    assert_int_equal(mlp_mnist_find(&o, "set", MLP_MNIST_TEST_LABELS, path, sizeof path), -1);
}

/* Issue 12 item 13: a BOM is not a header, and no row is dropped silently. */
static void test_csv_bom_and_header_rule(void **state) {
    (void)state;
    mlp_dataset *d = NULL;
    mlp_error err = {{0}};
    tu_write_text(tmp_path("bom.csv"), "\xEF\xBB\xBF"
                                       "1,0.5\n0,0.25\n1,1\n");
    assert_int_equal(mlp_dataset_load_csv(tmp_path("bom.csv"), 0, NULL, &d, &err), MLP_OK);
    assert_int_equal(d->n, 3);
    assert_int_equal(d->csv_header, 0);
    assert_int_equal(d->labels[0], 1);
    mlp_dataset_free(d);
    tu_write_text(tmp_path("bomh.csv"), "\xEF\xBB\xBF"
                                        "label,x\n1,0.5\n");
    assert_int_equal(mlp_dataset_load_csv(tmp_path("bomh.csv"), 0, NULL, &d, &err), MLP_OK);
    assert_int_equal(d->n, 1);
    assert_int_equal(d->csv_header, 1);
    mlp_dataset_free(d);
    /* A first line with a number in the label column is data: a bad cell
     * further on is an error, not a header. */
    tu_write_text(tmp_path("typo.csv"), "1,2,abc\n0,1,2\n");
    mlp_load_opts o = {.shown_as = "typo.csv"};
    assert_int_equal(mlp_dataset_load_csv(tmp_path("typo.csv"), 0, &o, &d, &err), MLP_EFORMAT);
    assert_string_equal(err.msg, "typo.csv:1: column 3: \"abc\" is not a number");
    assert_null(d);
    /* The byte budget applies to CSV too. */
    o = (mlp_load_opts){.max_bytes = 64};
    tu_write_text(tmp_path("big.csv"), "0,1,2,3\n1,1,2,3\n0,1,2,3\n1,1,2,3\n0,1,2,3\n");
    assert_int_equal(mlp_dataset_load_csv(tmp_path("big.csv"), 0, &o, &d, &err), MLP_ETOOBIG);
    assert_non_null(strstr(err.msg, "big.csv:5: 5 rows of 3 features"));
}

static void test_names_and_layout(void **state) {
    (void)state;
    static const char *const good[] = {"a", "mnist-digits", "x.y_z-1", "A9"};
    static const char *const bad[] = {"",
                                      ".",
                                      "..",
                                      ".hidden",
                                      "a/b",
                                      "a b",
                                      "ä",
                                      "12345678901234567890123456789012345678901234567890123456789"
                                      "0123456"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        assert_true(mlp_dataset_name_ok(good[i], strlen(good[i])));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_false(mlp_dataset_name_ok(bad[i], strlen(bad[i])));
    assert_false(mlp_dataset_name_ok("ab\0c", 4)); /* a NUL inside is not cut at */
    for (int f = 0; f < MLP_MNIST_FILES; f++) {
        char gz[64];
        snprintf(gz, sizeof gz, "%s.gz", mlp_mnist_file_name(f));
        assert_int_equal(mlp_mnist_file_from_name(mlp_mnist_file_name(f)), f);
        assert_int_equal(mlp_mnist_file_from_name(gz), f);
    }
    assert_int_equal(mlp_mnist_file_from_name("train-images-idx3-ubyte.zip"), -1);
    assert_int_equal(mlp_mnist_file_from_name("train-images"), -1);
    assert_string_equal(mlp_mnist_file_name(MLP_MNIST_TEST_IMAGES), "t10k-images-idx3-ubyte");
    assert_true(MLP_MNIST_IS_LABELS(MLP_MNIST_TRAIN_LABELS));
    assert_false(MLP_MNIST_IS_LABELS(MLP_MNIST_TEST_IMAGES));
}

static void test_probe_and_spaced(void **state) {
    (void)state;
    char sub[128];
    snprintf(sub, sizeof sub, "%s/pr", g_dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    write_idx("pr/train-images-idx3-ubyte.gz", 0, 20, 2, 3, 20, 1);
    write_idx("pr/train-labels-idx1-ubyte", 1, 20, 0, 0, 20, 0);
    mlp_load_opts o = {.base_dir = g_dir};
    mlp_dataset_info info;
    mlp_error err = {{0}};
    assert_int_equal(mlp_dataset_probe("pr", &o, &info, &err), MLP_OK);
    assert_int_equal(info.idx, 1);
    assert_int_equal(info.n_train, 20);
    assert_int_equal(info.n_test, 0);
    assert_int_equal(info.features, 6);
    assert_int_equal(info.classes, 5);
    assert_int_equal(info.mem_bytes, mlp_dataset_bytes(20, 6, 1));
    /* One test file alone is not a whole test pair. */
    write_idx("pr/t10k-images-idx3-ubyte", 0, 4, 2, 3, 4, 0);
    assert_int_equal(mlp_dataset_probe("pr", &o, &info, &err), MLP_EIO);
    assert_non_null(strstr(err.msg, "no t10k-labels-idx1-ubyte"));

    /* Samples 0, 5, 10, 15 of 20, exactly as the full load has them. */
    mlp_dataset *some = NULL, *all = NULL;
    size_t total = 0;
    assert_int_equal(mlp_dataset_load_rows("pr", "train", NULL, 4, &o, &some, &total, &err),
                     MLP_OK);
    assert_int_equal(mlp_dataset_load_path("pr", "train", &o, &all, &err), MLP_OK);
    assert_int_equal(total, 20);
    assert_int_equal(some->n, 4);
    for (size_t k = 0; k < 4; k++) {
        assert_int_equal(some->labels[k], all->labels[k * 5]);
        assert_memory_equal(some->x_u8 + k * 6, all->x_u8 + k * 5 * 6, 6);
    }
    mlp_dataset_free(some);
    /* Listed rows, in the order asked, repeats included; one beyond: EINVAL. */
    static const uint32_t pick[5] = {19, 3, 19, 0, 7};
    assert_int_equal(mlp_dataset_load_rows("pr", "train", pick, 5, &o, &some, &total, &err),
                     MLP_OK);
    assert_int_equal(some->n, 5);
    for (size_t k = 0; k < 5; k++) {
        assert_int_equal(some->labels[k], all->labels[pick[k]]);
        assert_memory_equal(some->x_u8 + k * 6, all->x_u8 + pick[k] * 6, 6);
    }
    mlp_dataset_free(some);
    static const uint32_t beyond[2] = {1, 20};
    assert_int_equal(mlp_dataset_load_rows("pr", "train", beyond, 2, &o, &some, &total, &err),
                     MLP_EINVAL);
    assert_string_equal(err.msg, "index 20 is beyond the split's 20 samples");
    assert_null(some);
    mlp_dataset_free(all);
    /* More asked than there are: all of them. */
    tu_write_text(tmp_path("s.csv"), "x,y\n0,1\n1,2\n");
    assert_int_equal(mlp_dataset_load_rows("s.csv", "train", NULL, 64, &o, &some, &total, &err),
                     MLP_OK);
    assert_int_equal(some->n, 2);
    assert_int_equal(total, 2);
    assert_true(some->x_f32[1] == 2.0f);
    mlp_dataset_free(some);
    assert_int_equal(mlp_dataset_probe("s.csv", &o, &info, &err), MLP_OK);
    assert_int_equal(info.csv_header, 1);
    assert_int_equal(info.n_train, 2);
}

/* Issue 12 item 2: the estimate counts what mlp_train allocates. */
static void test_train_memory(void **state) {
    (void)state;
    mlp_arch a;
    int hidden[2] = {512, 256};
    assert_int_equal(
        mlp_arch_make(&a, 784, hidden, 2, MLP_ACT_RELU, 10, MLP_LOSS_CROSS_ENTROPY, -1, NULL),
        MLP_OK);
    mlp_train_config c;
    mlp_train_config_default(&c);
    mlp_memory_estimate e, big;
    uint64_t data = mlp_dataset_bytes(60000, 784, 1);
    mlp_train_memory(&a, &c, 60000, data, &e);
    uint64_t n_params = mlp_arch_param_count(&a);
    assert_int_equal(e.params, n_params * 4);
    assert_int_equal(e.optimizer, 0); /* plain SGD keeps no state */
    assert_int_equal(e.dataset, data + 60000 * 4);
    assert_int_equal(e.total, e.params + e.optimizer + e.activations + e.dataset);
    /* Activations: at least x, every layer's output and the gradient. */
    assert_true(e.activations >= (128u * (784 + 512 + 256 + 10) + n_params) * 4);
    /* Adam keeps two moments; a batch 512 times larger, dropout and a
     * validation split grow the activations at least 512-fold. */
    c.optimizer = MLP_OPT_ADAM;
    c.batch_size = 65536;
    c.dropout = 0.5f;
    c.validation_split = 0.1f;
    mlp_train_memory(&a, &c, 60000, data, &big);
    assert_int_equal(big.optimizer, 2 * n_params * 4);
    assert_true(big.activations > 400 * (e.activations - n_params * 4));
    /* A batch larger than the data set counts as the data set. */
    c.batch_size = 100000;
    mlp_memory_estimate capped;
    mlp_train_memory(&a, &c, 60000, data, &capped);
    c.batch_size = 60000;
    mlp_train_memory(&a, &c, 60000, data, &big);
    assert_int_equal(capped.activations, big.activations);
}

static int make_dir(void **state) {
    (void)state;
    return tu_make_temp_dir(g_dir, sizeof g_dir, "datasets");
}

static int remove_dir(void **state) {
    (void)state;
    return tu_remove_tree(g_dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx_check_good_files),
        cmocka_unit_test(test_idx_check_refusals),
        cmocka_unit_test(test_idx_budget_and_ratio),
        cmocka_unit_test(test_messages_relative_to_base),
        cmocka_unit_test(test_csv_bom_and_header_rule),
        cmocka_unit_test(test_names_and_layout),
        cmocka_unit_test(test_probe_and_spaced),
        cmocka_unit_test(test_train_memory),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
