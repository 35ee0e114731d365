/* test_dataset_limits.c - data sets and models against the hardening of
 * issue 12: gzip bombs refused before inflating (413/422) and uploads checked
 * in constant memory (the daemon's peak RSS is read from /proc), each lone
 * IDX file validated whole with an error naming it, no server path in any
 * error (CSV and IDX refusals, samples, job errors), the CSV header rule and
 * byte order mark, a name that collides with another set's file, the job
 * memory budget (--max-job-memory) and the data set budget
 * (--max-dataset-bytes), and model checksums that differ between models.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

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

/* The daemon's peak resident set (VmHWM), in KiB. */
static long peak_rss_kib(const mlpd_daemon *d) {
    char path[64], line[256];
    long kib = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)d->pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
    fclose(f);
    assert_true(kib > 0);
    return kib;
}

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* An IDX file (labels or images 28x28) whose header says `count` and whose
 * body is `body` zero bytes, gzipped when gz. Caller frees. */
static unsigned char *idx_file(int labels, uint32_t count, size_t body, int gz, size_t *len) {
    size_t hdr = labels ? 8 : 16;
    unsigned char *raw = calloc(1, hdr + body);
    assert_non_null(raw);
    put_be32(raw, labels ? 0x801 : 0x803);
    put_be32(raw + 4, count);
    if (!labels) put_be32(raw + 8, 28), put_be32(raw + 12, 28);
    if (!gz) {
        *len = hdr + body;
        return raw;
    }
    unsigned char *z = gzip_bytes(raw, hdr + body, len);
    free(raw);
    assert_non_null(z);
    return z;
}

/* PUT an IDX file; the problem (status want) or NULL for 201. */
static cJSON *put_idx(const mlpd_daemon *d, const char *set, const char *file,
                      const unsigned char *b, size_t len, long want) {
    char path[160];
    snprintf(path, sizeof path, "/datasets/%s/files/%s", set, file);
    if (want == 201) {
        assert_int_equal(request_status(d, "PUT", path, "application/octet-stream", b, len, NULL),
                         201);
        return NULL;
    }
    return expect_problem(d, "PUT", path, "application/octet-stream", b, len, NULL, want, NULL);
}

/* A problem's detail names no server path. */
static void expect_no_server_path(const cJSON *p, const mlpd_daemon *d) {
    const char *detail = json_str(p, "detail");
    assert_non_null(detail);
    if (strstr(detail, d->dir) || strstr(detail, "/tmp/"))
        fail_msg("a server path in \"%s\"", detail);
}

static void test_gzip_bombs(void **state) {
    (void)state;
    size_t len;
    /* 10^7 images of 64x64 (41 GB) claimed in about a kilobyte. */
    unsigned char *raw = calloc(1, 16 + (1u << 20));
    assert_non_null(raw);
    put_be32(raw, 0x803), put_be32(raw + 4, 10000000), put_be32(raw + 8, 64);
    put_be32(raw + 12, 64);
    unsigned char *bomb = gzip_bytes(raw, 16 + (1u << 20), &len);
    free(raw);
    long before = peak_rss_kib(&D);
    cJSON *p = put_idx(&D, "bomb", "train-images-idx3-ubyte.gz", bomb, len, 413);
    expect_detail_mentions(p, "train-images-idx3-ubyte.gz: header declares 10000000 samples");
    expect_detail_mentions(p, "--max-dataset-bytes");
    cJSON_Delete(p);
    free(bomb);
    /* Within the budget but more than deflate can pack in these bytes. */
    bomb = idx_file(0, 60000, 16, 1, &len);
    p = put_idx(&D, "bomb", "train-images-idx3-ubyte.gz", bomb, len, 422);
    expect_detail_mentions(p, "gzip-compressed bytes can hold");
    cJSON_Delete(p);
    free(bomb);
    /* An honest 94 MB of zeros in ~90 KB: accepted, checked as a stream. */
    bomb = idx_file(0, 120000, 120000u * 784u, 1, &len);
    assert_true(len < 200000);
    assert_null(put_idx(&D, "bomb", "train-images-idx3-ubyte.gz", bomb, len, 201));
    free(bomb);
    long after = peak_rss_kib(&D);
    printf("gzip bombs: peak RSS %ld KiB before, %ld KiB after (94 MB decoded)\n", before, after);
    assert_true(after - before < 32 * 1024);
}

/* Issue 12 item 14: each file is validated whole, alone, and named. */
static void test_lone_idx_files(void **state) {
    (void)state;
    size_t len;
    unsigned char *b = idx_file(1, 5, 5, 0, &len);
    cJSON *p = put_idx(&D, "lone", "train-labels-idx1-ubyte", b, 6, 422); /* header cut */
    expect_detail_mentions(p, "train-labels-idx1-ubyte: truncated header (6 of 8 bytes)");
    expect_no_server_path(p, &D);
    cJSON_Delete(p);
    free(b);
    b = idx_file(1, 0, 0, 1, &len);
    p = put_idx(&D, "lone", "train-labels-idx1-ubyte.gz", b, len, 422);
    expect_detail_mentions(p, "train-labels-idx1-ubyte.gz: header declares 0 samples");
    cJSON_Delete(p);
    free(b);
    b = idx_file(1, 1000000000u, 4, 1, &len);
    p = put_idx(&D, "lone", "train-labels-idx1-ubyte.gz", b, len, 422);
    expect_detail_mentions(p, "1000000000 samples (limit");
    cJSON_Delete(p);
    free(b);
    b = idx_file(0, 100, 50 * 784, 1, &len); /* dimensions against the bytes */
    p = put_idx(&D, "lone", "t10k-images-idx3-ubyte.gz", b, len, 422);
    expect_detail_mentions(p, "t10k-images-idx3-ubyte.gz: truncated: header declares 100");
    cJSON_Delete(p);
    free(b);
    b = idx_file(1, 300, 300, 1, &len);
    b[len - 6] ^= 0x42; /* the gzip trailer's CRC-32 */
    p = put_idx(&D, "lone", "t10k-labels-idx1-ubyte.gz", b, len, 422);
    expect_detail_mentions(p, "t10k-labels-idx1-ubyte.gz: corrupt gzip data");
    cJSON_Delete(p);
    free(b);
    cJSON *st = expect_json(&D, "/datasets/lone", 404);
    cJSON_Delete(st);
    assert_int_equal(upload_temporaries(D.data_dir), 0);
}

static long post_csv(const mlpd_daemon *d, const char *name, const char *csv, cJSON **answer) {
    char path[128];
    snprintf(path, sizeof path, "/datasets?name=%s", name);
    http_result r;
    assert_int_equal(http_do(d, "POST", path, "text/csv", csv, strlen(csv), NULL, 0, &r), 0);
    *answer = http_result_json(&r);
    long status = r.status;
    http_result_free(&r);
    assert_non_null(*answer);
    return status;
}

/* Issue 12 items 13 and 18: BOM, header rule, a name that is another set's file. */
static void test_csv_rows_and_names(void **state) {
    (void)state;
    cJSON *j;
    assert_int_equal(post_csv(&D, "bom",
                              "\xEF\xBB\xBF"
                              "1,0.5\n0,0.25\n1,1\n",
                              &j),
                     201);
    assert_int_equal((int)json_num(j, "n_train"), 3); /* none dropped */
    assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "header")));
    cJSON_Delete(j);
    assert_int_equal(post_csv(&D, "hdr", "label,x\n1,0.5\n0,0.25\n", &j), 201);
    assert_int_equal((int)json_num(j, "n_train"), 2);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "header")));
    cJSON_Delete(j);
    assert_int_equal(post_csv(&D, "typo", "1,2,abc\n0,1,2\n", &j), 422);
    expect_detail_mentions(j, "typo.csv:1: column 3: \"abc\" is not a number");
    expect_no_server_path(j, &D);
    cJSON_Delete(j);
    /* "bom.csv" is the file of data set "bom". */
    assert_int_equal(post_csv(&D, "bom.csv", "0,1\n1,2\n", &j), 409);
    expect_detail_mentions(j, "file of data set 'bom'");
    cJSON_Delete(j);
}

/* Issue 12 item 9: a file changed on disk after registration. */
static void test_no_server_paths(void **state) {
    (void)state;
    cJSON *j;
    assert_int_equal(post_csv(&D, "later", "0,1\n1,2\n0,3\n1,4\n", &j), 201);
    cJSON_Delete(j);
    char path[600];
    snprintf(path, sizeof path, "%s/later.csv", D.data_dir);
    assert_int_equal(write_text_file(path, "0,1\n1,oops\n"), 0);
    j = expect_problem(&D, "GET", "/datasets/later/samples", NULL, NULL, 0, NULL, 500, NULL);
    expect_detail_mentions(j, "later.csv:2: column 2");
    expect_no_server_path(j, &D);
    cJSON_Delete(j);
    int64_t id = train_job(&D, "{\"dataset\":\"later\",\"hidden\":[4],\"epochs\":1}");
    assert_true(id > 0);
    j = expect_job_end(&D, id, 60, "failed");
    const char *err = json_str(j, "error");
    assert_non_null(err);
    assert_non_null(strstr(err, "later.csv:2: column 2"));
    assert_null(strstr(err, D.dir));
    cJSON_Delete(j);
}

/* Issue 12 item 12: the payload's CRC, different for different models. */
static void test_model_checksums_differ(void **state) {
    (void)state;
    static const int hidden[1] = {16};
    char sums[2][16];
    for (int k = 0; k < 2; k++) {
        size_t len;
        unsigned char *m = model_file_bytes(hidden, 1, 100 + (uint64_t)k, &len);
        assert_non_null(m);
        http_result r;
        char path[64];
        snprintf(path, sizeof path, "/models?name=crc%d", k);
        assert_int_equal(http_do(&D, "POST", path, "application/octet-stream", m, len, NULL, 0, &r),
                         0);
        assert_int_equal(r.status, 201);
        cJSON *j = http_result_json(&r);
        snprintf(sums[k], sizeof sums[k], "%s", json_str(j, "checksum"));
        char want[16];
        snprintf(want, sizeof want, "%08lx", crc32(0L, m, (uInt)len - 4));
        assert_string_equal(sums[k], want);
        cJSON_Delete(j);
        http_result_free(&r);
        free(m);
    }
    assert_string_not_equal(sums[0], sums[1]);
    assert_string_not_equal(sums[0], "2144df1c");
}

/* --max-job-memory and --max-dataset-bytes on a daemon of their own. */
static void test_memory_budgets(void **state) {
    (void)state;
    static const char *const extra[] = {"--max-job-memory", "64M", "--max-dataset-bytes", "1M",
                                        NULL};
    mlpd_daemon small;
    assert_int_equal(daemon_start(&small, extra), 0);
    /* mnist-digits decodes to 7.9 MB: not registered under a 1 MiB budget. */
    cJSON_Delete(expect_json(&small, "/datasets/mnist-digits", 404));
    size_t cap = 30000 * 40 + 1, n = 0;
    char *csv = malloc(cap);
    assert_non_null(csv);
    for (int i = 0; i < 30000; i++)
        n += (size_t)sprintf(csv + n, "%d,1,2,3,4,5,6,7,8,9,%d\n", i % 2, i % 7);
    cJSON *j;
    assert_int_equal(post_csv(&small, "wide", csv, &j), 413); /* 30000 x 44 bytes */
    expect_detail_mentions(j, "the limit of 1048576 bytes");
    cJSON_Delete(j);
    csv[20000 * 22] = '\0'; /* 20000 rows fit */
    assert_int_equal(post_csv(&small, "fits", csv, &j), 201);
    cJSON_Delete(j);
    free(csv);
    static const char big[] = "{\"dataset\":\"fits\",\"hidden\":[1024,1024],\"batch_size\":16384}";
    j = expect_problem(&small, "POST", "/train", "application/json", big, sizeof big - 1, NULL, 422,
                       NULL);
    expect_detail_mentions(j, "this job would need about");
    expect_detail_mentions(j, "the limit is 64.0 MiB (--max-job-memory)");
    cJSON_Delete(j);
    int64_t id = train_job(&small, "{\"dataset\":\"fits\",\"hidden\":[1024,1024],\"epochs\":1}");
    assert_true(id > 0);
    cancel_job(&small, id);
    cJSON_Delete(wait_job(&small, id, 60));
    assert_int_equal(daemon_finish(&small), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gzip_bombs),
        cmocka_unit_test(test_lone_idx_files),
        cmocka_unit_test(test_csv_rows_and_names),
        cmocka_unit_test(test_no_server_paths),
        cmocka_unit_test(test_model_checksums_differ),
        cmocka_unit_test(test_memory_budgets),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
