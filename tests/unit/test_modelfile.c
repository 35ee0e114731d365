/* test_modelfile.c - model files (docs/model-format.md).
 *
 * Round trips through a buffer and a file must give bit-identical
 * parameters and the same architecture; the bytes must follow the documented
 * layout; and every corruption - each byte flipped, every truncation,
 * trailing bytes, a wrong magic or version, absurd sizes or codes even under
 * a correctly recomputed checksum - must be refused with MLP_EFORMAT.
 */
#include <dirent.h>
#include <math.h>
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

static char g_dir[64];

/* ---- helpers ------------------------------------------------------------------ */

static mlp_model *make_model(int inputs, const int *hidden, int n_hidden, int outputs,
                             mlp_loss loss, uint64_t seed) {
    mlp_arch a;
    mlp_model *m = NULL;
    mlp_error err = {{0}};
    if (mlp_arch_make(&a, inputs, hidden, n_hidden, MLP_ACT_TANH, outputs, loss, -1, &err) !=
        MLP_OK)
        fail_msg("arch: %s", err.msg);
    if (mlp_model_create(&a, MLP_INIT_GLOROT_UNIFORM, seed, &m, &err) != MLP_OK)
        fail_msg("create: %s", err.msg);
    /* Non-zero biases too, so their position in the file is checked. */
    for (int l = 0; l < a.n_layers; l++)
        for (int j = 0; j < a.sizes[l + 1]; j++)
            m->b[l][j] = 0.125f * (float)(j + 1) - 0.01f * (float)l;
    return m;
}

static void assert_same_model(const mlp_model *a, const mlp_model *b) {
    assert_int_equal(a->arch.n_layers, b->arch.n_layers);
    assert_int_equal(a->arch.loss, b->arch.loss);
    for (int l = 0; l <= a->arch.n_layers; l++)
        assert_int_equal(a->arch.sizes[l], b->arch.sizes[l]);
    for (int l = 0; l < a->arch.n_layers; l++) assert_int_equal(a->arch.act[l], b->arch.act[l]);
    assert_int_equal(a->n_params, b->n_params);
    assert_memory_equal(a->params, b->params, a->n_params * sizeof(float));
    /* W and b must point at the right places of the new allocation. */
    for (int l = 0; l < a->arch.n_layers; l++) {
        assert_true(b->W[l] - b->params == a->W[l] - a->params);
        assert_true(b->b[l] - b->params == a->b[l] - a->params);
    }
}

static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* Recompute the trailing CRC32 after an edit, as a careful forger would. */
static void reseal(unsigned char *buf, size_t len) {
    put_le32(buf + len - 4, (uint32_t)crc32(0L, buf, (uInt)(len - 4)));
}

static void expect_reject(const unsigned char *buf, size_t len, const char *needle,
                          const char *what) {
    mlp_model *m = (mlp_model *)1;
    mlp_error err = {{0}};
    mlp_status s = mlp_model_from_buffer(buf, len, &m, &err);
    if (s != MLP_EFORMAT || (needle && !strstr(err.msg, needle)))
        fail_msg("%s: status %d, message \"%s\" (want \"%s\")", what, s, err.msg,
                 needle ? needle : "any");
    assert_null(m);
}

/* A small serialised model: 3 -> 4 -> 2 softmax. Caller frees. */
static unsigned char *small_file(size_t *len, mlp_model **model) {
    const int hidden[1] = {4};
    mlp_model *m = make_model(3, hidden, 1, 2, MLP_LOSS_CROSS_ENTROPY, 7);
    unsigned char *buf = NULL;
    mlp_error err = {{0}};
    assert_int_equal(mlp_model_to_buffer(m, &buf, len, &err), MLP_OK);
    if (model)
        *model = m;
    else
        mlp_model_free(m);
    return buf;
}

/* Offsets in the small model's file (docs/model-format.md). */
enum { OFF_VERSION = 4, OFF_LAYERS = 8, OFF_LOSS = 12, OFF_SIZES = 16 };
#define SMALL_LAYERS 2
#define OFF_ACTS     (OFF_SIZES + 4 * (SMALL_LAYERS + 1))
#define OFF_NPARAMS  (OFF_ACTS + 4 * SMALL_LAYERS)
#define OFF_PARAMS   (OFF_NPARAMS + 8)

/* ---- round trips and layout ------------------------------------------------------ */

static void test_buffer_round_trip(void **state) {
    (void)state;
    const int hidden[3] = {64, 17, 5};
    mlp_model *m = make_model(784, hidden, 3, 10, MLP_LOSS_CROSS_ENTROPY, 42);
    unsigned char *buf = NULL;
    size_t len = 0;
    mlp_model *back = NULL;
    mlp_error err = {{0}};
    assert_int_equal(mlp_model_to_buffer(m, &buf, &len, &err), MLP_OK);
    assert_int_equal(len, 16 + 4 * 5 + 4 * 4 + 8 + 4 * m->n_params + 4);
    assert_int_equal(mlp_model_from_buffer(buf, len, &back, &err), MLP_OK);
    assert_same_model(m, back);
    mlp_model_free(back);
    free(buf);
    mlp_model_free(m);

    /* An mse model with a sigmoid output and no hidden layer. */
    mlp_arch a;
    assert_int_equal(
        mlp_arch_make(&a, 5, NULL, 0, MLP_ACT_RELU, 3, MLP_LOSS_MSE, MLP_ACT_SIGMOID, &err),
        MLP_OK);
    assert_int_equal(mlp_model_create(&a, MLP_INIT_HE_NORMAL, 3, &m, &err), MLP_OK);
    assert_int_equal(mlp_model_to_buffer(m, &buf, &len, &err), MLP_OK);
    assert_int_equal(mlp_model_from_buffer(buf, len, &back, &err), MLP_OK);
    assert_same_model(m, back);
    mlp_model_free(back);
    free(buf);
    mlp_model_free(m);
}

/* The bytes are exactly what docs/model-format.md says, little-endian. */
static void test_documented_layout(void **state) {
    (void)state;
    size_t len;
    mlp_model *m;
    unsigned char *buf = small_file(&len, &m);
    assert_memory_equal(buf, "MLPD", 4);
    assert_int_equal(le32(buf + OFF_VERSION), 1);
    assert_int_equal(le32(buf + OFF_LAYERS), 2);
    assert_int_equal(le32(buf + OFF_LOSS), 0); /* cross_entropy */
    assert_int_equal(le32(buf + OFF_SIZES), 3);
    assert_int_equal(le32(buf + OFF_SIZES + 4), 4);
    assert_int_equal(le32(buf + OFF_SIZES + 8), 2);
    assert_int_equal(le32(buf + OFF_ACTS), 2);     /* tanh */
    assert_int_equal(le32(buf + OFF_ACTS + 4), 3); /* softmax */
    assert_int_equal(le32(buf + OFF_NPARAMS), 26); /* 4*3+4 + 2*4+2 */
    assert_int_equal(le32(buf + OFF_NPARAMS + 4), 0);
    assert_int_equal(len, OFF_PARAMS + 4 * 26 + 4);
    for (size_t i = 0; i < 26; i++) {
        uint32_t bits;
        memcpy(&bits, &m->params[i], 4);
        assert_int_equal(le32(buf + OFF_PARAMS + 4 * i), bits);
    }
    /* b[0] follows W[0] (4 x 3): its first value is the one make_model set. */
    uint32_t b0;
    float want = 0.125f;
    memcpy(&b0, &want, 4);
    assert_int_equal(le32(buf + OFF_PARAMS + 4 * 12), b0);
    assert_int_equal(le32(buf + len - 4), (uint32_t)crc32(0L, buf, (uInt)(len - 4)));
    free(buf);
    mlp_model_free(m);
}

static int count_dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void test_file_round_trip(void **state) {
    (void)state;
    char path[128];
    const int hidden[2] = {32, 16};
    mlp_model *m = make_model(20, hidden, 2, 4, MLP_LOSS_CROSS_ENTROPY, 9);
    mlp_model *m2 = make_model(20, hidden, 2, 4, MLP_LOSS_CROSS_ENTROPY, 10);
    mlp_model *back = NULL;
    mlp_error err = {{0}};
    snprintf(path, sizeof path, "%s/model.mlpd", g_dir);

    assert_int_equal(mlp_model_save(m, path, &err), MLP_OK);
    assert_int_equal(mlp_model_load(path, &back, &err), MLP_OK);
    assert_same_model(m, back);
    mlp_model_free(back);
    /* Saving over an existing file replaces it and leaves no temporary behind. */
    assert_int_equal(mlp_model_save(m2, path, &err), MLP_OK);
    assert_int_equal(mlp_model_load(path, &back, &err), MLP_OK);
    assert_same_model(m2, back);
    assert_int_equal(count_dir_entries(g_dir), 1);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    mlp_model_free(back);

    /* A folder that does not exist: EIO, nothing created. */
    char bad[160];
    snprintf(bad, sizeof bad, "%s/no/such/dir/model.mlpd", g_dir);
    assert_int_equal(mlp_model_save(m, bad, &err), MLP_EIO);
    assert_non_null(strstr(err.msg, "no/such/dir"));
    assert_int_equal(unlink(path), 0);
    mlp_model_free(m);
    mlp_model_free(m2);
}

/* ---- corruptions ---------------------------------------------------------------------- */

static void test_every_byte_flipped(void **state) {
    (void)state;
    size_t len;
    unsigned char *buf = small_file(&len, NULL);
    char what[64];
    for (size_t i = 0; i < len; i++) {
        for (int k = 0; k < 2; k++) {
            unsigned char keep = buf[i];
            buf[i] ^= k ? 0xff : 0x01;
            snprintf(what, sizeof what, "byte %zu ^ %s", i, k ? "0xff" : "0x01");
            expect_reject(buf, len, NULL, what);
            buf[i] = keep;
        }
    }
    /* A flip in the payload specifically trips the checksum. */
    buf[OFF_PARAMS + 10] ^= 0x20;
    expect_reject(buf, len, "bad checksum", "payload flip");
    buf[OFF_PARAMS + 10] ^= 0x20;
    buf[len - 2] ^= 0x01;
    expect_reject(buf, len, "bad checksum", "checksum flip");
    free(buf);
}

static void test_truncation_and_trailing(void **state) {
    (void)state;
    size_t len;
    unsigned char *buf = small_file(&len, NULL);
    char what[64];
    for (size_t cut = 0; cut < len; cut++) {
        snprintf(what, sizeof what, "cut to %zu of %zu", cut, len);
        expect_reject(buf, cut,
                      cut == 0  ? "empty"
                      : cut < 4 ? "truncated header"
                                : "truncated",
                      what);
    }
    unsigned char *longer = malloc(len + 3);
    assert_non_null(longer);
    memcpy(longer, buf, len);
    memset(longer + len, 0, 3);
    expect_reject(longer, len + 1, "1 bytes of trailing garbage", "one extra byte");
    expect_reject(longer, len + 3, "trailing garbage", "three extra bytes");
    free(longer);
    free(buf);
}

static void test_magic_and_version(void **state) {
    (void)state;
    size_t len;
    unsigned char *buf = small_file(&len, NULL);
    buf[3] = 'X';
    expect_reject(buf, len, "wrong magic", "magic");
    expect_reject((const unsigned char *)"PK\x03\x04", 4, "wrong magic", "a zip file");
    buf[3] = 'D';
    put_le32(buf + OFF_VERSION, 3);
    reseal(buf, len);
    expect_reject(buf, len, "unsupported model format version 3", "version bump");
    /* Version 2 promises an optimizer state after the weights. */
    put_le32(buf + OFF_VERSION, 2);
    reseal(buf, len);
    expect_reject(buf, len, "state header is cut", "version 2 without a state");
    put_le32(buf + OFF_VERSION, 0);
    reseal(buf, len);
    expect_reject(buf, len, "version 0", "version zero");
    free(buf);
}

/* A model saved with an Adam state is a version 2 file of the documented
 * size; it loads with or without asking for the state, the state reads back
 * bit for bit, and a version 1 file gives an empty state. */
static void test_state_round_trip(void **state) {
    (void)state;
    size_t len1, len;
    mlp_model *m = NULL, *back = NULL;
    unsigned char *v1 = small_file(&len1, &m), *buf = NULL;
    mlp_error err = {{0}};
    mlp_optim_state st = {.kind = MLP_OPT_ADAM, .step = 5000000000LL, .n = m->n_params};
    st.m = malloc(2 * m->n_params * sizeof(float));
    assert_non_null(st.m);
    st.v = st.m + m->n_params;
    for (size_t i = 0; i < 2 * m->n_params; i++) st.m[i] = (float)i * 0.25f - 3.0f;
    assert_int_equal(mlp_model_to_buffer_with_state(m, &st, &buf, &len, &err), MLP_OK);
    assert_int_equal(len, len1 + 16 + 8 * m->n_params);
    assert_int_equal(le32(buf + OFF_VERSION), 2);
    size_t off = OFF_PARAMS + 4 * m->n_params; /* the state section */
    assert_int_equal(le32(buf + off), 2);      /* adam's code */
    assert_int_equal(le32(buf + off + 4), 2);  /* two buffers */
    assert_int_equal(le32(buf + off + 8) | (uint64_t)le32(buf + off + 12) << 32, 5000000000ULL);

    mlp_optim_state got;
    assert_int_equal(mlp_model_from_buffer_with_state(buf, len, &back, &got, &err), MLP_OK);
    assert_same_model(m, back);
    assert_int_equal(got.kind, MLP_OPT_ADAM);
    assert_true(got.step == st.step);
    assert_int_equal(got.n, m->n_params);
    assert_memory_equal(got.m, st.m, 2 * m->n_params * sizeof(float));
    assert_ptr_equal(got.v, got.m + got.n);
    mlp_optim_state_free(&got);
    mlp_model_free(back);
    assert_int_equal(mlp_model_from_buffer(buf, len, &back, &err), MLP_OK); /* state ignored */
    assert_same_model(m, back);
    mlp_model_free(back);
    assert_int_equal(mlp_model_from_buffer_with_state(v1, len1, &back, &got, &err), MLP_OK);
    assert_int_equal(got.n, 0);
    assert_null(got.m);
    mlp_model_free(back);

    /* Damaged state sections, resealed: unknown optimizer, wrong buffer count. */
    put_le32(buf + off, 9);
    reseal(buf, len);
    expect_reject(buf, len, "unknown optimizer", "optimizer code 9");
    put_le32(buf + off, 1); /* momentum keeps one buffer, the file says two */
    reseal(buf, len);
    expect_reject(buf, len, "buffer count", "momentum with two buffers");
    put_le32(buf + off, 2);
    put_le32(buf + off + 16, 0x7fc00000u); /* a NaN first moment */
    reseal(buf, len);
    expect_reject(buf, len, "NaN", "NaN state");
    /* A state that does not fit the model is not written. */
    st.n = m->n_params - 1;
    free(buf);
    buf = NULL;
    assert_int_equal(mlp_model_to_buffer_with_state(m, &st, &buf, &len, &err), MLP_EINVAL);
    assert_null(buf);
    free(st.m);
    free(v1);
    mlp_model_free(m);
}

/* Sealed with a correct checksum, yet describing something absurd. */
static void test_absurd_but_sealed(void **state) {
    (void)state;
    size_t len;
    unsigned char *orig = small_file(&len, NULL);
    unsigned char *buf = malloc(len);
    assert_non_null(buf);
    static const struct {
        size_t off;
        uint32_t value;
        const char *needle;
    } cases[] = {
        {OFF_SIZES + 4, 100000, "invalid architecture"},       /* hidden width 100000 */
        {OFF_SIZES, 0, "invalid architecture"},                /* input width 0 */
        {OFF_SIZES + 8, 0xffffffffu, "absurd"},                /* output width 2^32-1 */
        {OFF_SIZES + 4, 5, "does not match the architecture"}, /* sizes vs n_params */
        {OFF_ACTS, 7, "unknown activation code 7"},
        {OFF_ACTS, 3, "invalid architecture"},     /* softmax on a hidden layer */
        {OFF_ACTS + 4, 0, "invalid architecture"}, /* relu output with cross_entropy */
        {OFF_LOSS, 9, "unknown loss code 9"},
        {OFF_LAYERS, 0, "layer count 0"},
        {OFF_LAYERS, 17, "layer count 17"},
        {OFF_NPARAMS + 4, 1, "exceeds the limit"},             /* 2^32 + 26 params */
        {OFF_NPARAMS, 27, "truncated"},                        /* claims one float more */
        {OFF_NPARAMS, 25, "trailing garbage"},                 /* one float fewer */
        {OFF_PARAMS + 8, 0x7fc00000u, "NaN or infinite"},      /* a NaN weight */
        {OFF_PARAMS + 12 * 4, 0xff800000u, "NaN or infinite"}, /* -inf bias */
    };
    char what[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(buf, orig, len);
        put_le32(buf + cases[i].off, cases[i].value);
        reseal(buf, len);
        snprintf(what, sizeof what, "case %zu (offset %zu = %u)", i, cases[i].off,
                 (unsigned)cases[i].value);
        expect_reject(buf, len, cases[i].needle, what);
    }
    free(buf);
    free(orig);
}

static void test_empty_and_missing_files(void **state) {
    (void)state;
    char path[128];
    mlp_model *m = (mlp_model *)1;
    mlp_error err = {{0}};
    snprintf(path, sizeof path, "%s/empty.mlpd", g_dir);
    tu_write_file(path, "", 0, 0);
    assert_int_equal(mlp_model_load(path, &m, &err), MLP_EFORMAT);
    assert_null(m);
    assert_non_null(strstr(err.msg, "empty.mlpd: empty model file"));
    unlink(path);

    snprintf(path, sizeof path, "%s/missing.mlpd", g_dir);
    m = (mlp_model *)1;
    assert_int_equal(mlp_model_load(path, &m, &err), MLP_EIO);
    assert_null(m);
    assert_non_null(strstr(err.msg, "No such file"));
    assert_int_equal(mlp_model_load(g_dir, &m, &err), MLP_EIO); /* a folder */

    /* A corrupted file on disk is named in the message. */
    size_t len;
    unsigned char *buf = small_file(&len, NULL);
    buf[OFF_PARAMS] ^= 0x40;
    snprintf(path, sizeof path, "%s/bad.mlpd", g_dir);
    tu_write_file(path, buf, len, 0);
    assert_int_equal(mlp_model_load(path, &m, &err), MLP_EFORMAT);
    assert_non_null(strstr(err.msg, "bad.mlpd: bad checksum"));
    unlink(path);
    free(buf);
}

/* A model with a NaN weight is refused by the writer (it could not be read back). */
static void test_save_refuses_nan(void **state) {
    (void)state;
    mlp_model *m;
    size_t len;
    unsigned char *buf = small_file(&len, &m);
    free(buf);
    m->params[5] = NAN;
    buf = (unsigned char *)1;
    mlp_error err = {{0}};
    assert_int_equal(mlp_model_to_buffer(m, &buf, &len, &err), MLP_ENUMERIC);
    assert_null(buf);
    assert_non_null(strstr(err.msg, "parameter 5"));
    mlp_model_free(m);
}

/* ---- fixture --------------------------------------------------------------------------------- */

static int make_dir(void **state) {
    (void)state;
    return tu_make_temp_dir(g_dir, sizeof g_dir, "modelfile");
}

static int remove_dir(void **state) {
    (void)state;
    return tu_remove_tree(g_dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buffer_round_trip),       cmocka_unit_test(test_documented_layout),
        cmocka_unit_test(test_file_round_trip),         cmocka_unit_test(test_every_byte_flipped),
        cmocka_unit_test(test_truncation_and_trailing), cmocka_unit_test(test_magic_and_version),
        cmocka_unit_test(test_state_round_trip),        cmocka_unit_test(test_absurd_but_sealed),
        cmocka_unit_test(test_empty_and_missing_files), cmocka_unit_test(test_save_refuses_nan),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
