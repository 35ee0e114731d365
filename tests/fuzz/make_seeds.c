/* make_seeds.c - writes the fuzz targets' seed files into tests/fuzz/corpus/.
 *
 *   make fuzz-seeds     (runs build/fuzz/make_seeds tests/fuzz/corpus)
 *
 * Seeds are small valid inputs, so the fuzzer starts from the formats' happy
 * paths: models serialised by mlp_model_to_buffer, IDX pairs (plain and
 * gzip) in fuzz_idx's "u32 k | images | labels" framing, and CSV files. Each
 * one is read back with the engine's own reader before it is written, so a
 * seed that the reader refuses is an error here, not a silent dud.
 * Regression inputs (crashes fixed) are added to the corpus by hand and are
 * not touched by this program.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "mlp.h"

static void die(const char *what, const char *why) {
    fprintf(stderr, "make_seeds: %s: %s\n", what, why);
    exit(1);
}

static void write_file(const char *dir, const char *sub, const char *name, const void *data,
                       size_t len) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
        die(path, "cannot write (does the folder exist?)");
    printf("wrote %s (%zu bytes)\n", path, len);
}

/* A memory file holding data, reachable by path (the readers take paths). */
static int mem_path(const void *data, size_t len, char *path, size_t cap) {
    int fd = memfd_create("seed", MFD_CLOEXEC);
    if (fd < 0 || write(fd, data, len) != (ssize_t)len) die("memfd", "cannot write");
    snprintf(path, cap, "/proc/self/fd/%d", fd);
    return fd;
}

/* ---- models ---------------------------------------------------------------------- */

static void model_seed(const char *dir, const char *name, int inputs, const int *hidden,
                       int n_hidden, mlp_act act, int outputs, mlp_loss loss, int out_act) {
    mlp_arch a;
    mlp_model *m = NULL, *back = NULL;
    mlp_error err = {{0}};
    unsigned char *buf = NULL;
    size_t len = 0;
    if (mlp_arch_make(&a, inputs, hidden, n_hidden, act, outputs, loss, out_act, &err) ||
        mlp_model_create(&a, MLP_INIT_GLOROT_UNIFORM, 7, &m, &err) ||
        mlp_model_to_buffer(m, &buf, &len, &err) || mlp_model_from_buffer(buf, len, &back, &err))
        die(name, err.msg);
    write_file(dir, "model", name, buf, len);
    free(buf);
    mlp_model_free(m);
    mlp_model_free(back);
}

static void model_seeds(const char *dir) {
    const int one[] = {3}, two[] = {4, 3}, deep[15] = {2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2};
    model_seed(dir, "softmax_2_3_2", 2, one, 1, MLP_ACT_RELU, 2, MLP_LOSS_CROSS_ENTROPY, -1);
    model_seed(dir, "linear_3_1", 3, NULL, 0, MLP_ACT_RELU, 1, MLP_LOSS_MSE, -1);
    model_seed(dir, "sigmoid_5_4_3_2", 5, two, 2, MLP_ACT_TANH, 2, MLP_LOSS_MSE, MLP_ACT_SIGMOID);
    model_seed(dir, "deep_16_layers", 1, deep, 15, MLP_ACT_SIGMOID, 3, MLP_LOSS_CROSS_ENTROPY, -1);
}

/* ---- IDX pairs -------------------------------------------------------------------- */

static unsigned char *put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
    return p + 4;
}

/* gzip-compress src into a new buffer (*len). */
static unsigned char *gzip(const unsigned char *src, size_t n, size_t *len) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        die("gzip", "deflateInit2 failed");
    size_t cap = deflateBound(&z, (uLong)n) + 32;
    unsigned char *out = malloc(cap);
    if (!out) die("gzip", "out of memory");
    z.next_in = (unsigned char *)src;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) die("gzip", "deflate did not finish");
    *len = z.total_out;
    deflateEnd(&z);
    return out;
}

/* Write one fuzz_idx input: n images of rows x cols (pixel i*7+j mod 256),
 * labels i mod classes; either file gzip-compressed on request. */
static void idx_seed(const char *dir, const char *name, uint32_t n, uint32_t rows, uint32_t cols,
                     int classes, int gz_images, int gz_labels) {
    size_t pixels = (size_t)n * rows * cols, img_len = 16 + pixels, lab_len = 8 + n;
    unsigned char *img = malloc(img_len), *lab = malloc(lab_len), *p;
    if (!img || !lab) die(name, "out of memory");
    p = put_be32(img, 0x00000803u);
    p = put_be32(p, n);
    p = put_be32(p, rows);
    p = put_be32(p, cols);
    for (size_t i = 0; i < pixels; i++) p[i] = (unsigned char)(i * 7 % 256);
    p = put_be32(lab, 0x00000801u);
    p = put_be32(p, n);
    for (uint32_t i = 0; i < n; i++) p[i] = (unsigned char)(i % (uint32_t)classes);
    if (gz_images) {
        unsigned char *z = gzip(img, img_len, &img_len);
        free(img);
        img = z;
    }
    if (gz_labels) {
        unsigned char *z = gzip(lab, lab_len, &lab_len);
        free(lab);
        lab = z;
    }

    char img_path[64], lab_path[64];
    int fd_img = mem_path(img, img_len, img_path, sizeof img_path);
    int fd_lab = mem_path(lab, lab_len, lab_path, sizeof lab_path);
    mlp_dataset *d = NULL;
    mlp_error err = {{0}};
    if (mlp_dataset_load_idx(img_path, lab_path, NULL, &d, &err) != MLP_OK) die(name, err.msg);
    mlp_dataset_free(d);
    close(fd_img);
    close(fd_lab);

    size_t len = 4 + img_len + lab_len;
    unsigned char *framed = malloc(len);
    if (!framed) die(name, "out of memory");
    framed[0] = (unsigned char)img_len;
    framed[1] = (unsigned char)(img_len >> 8);
    framed[2] = (unsigned char)(img_len >> 16);
    framed[3] = (unsigned char)(img_len >> 24);
    memcpy(framed + 4, img, img_len);
    memcpy(framed + 4 + img_len, lab, lab_len);
    write_file(dir, "idx", name, framed, len);
    free(framed);
    free(img);
    free(lab);
}

static void idx_seeds(const char *dir) {
    idx_seed(dir, "plain_3x2x2", 3, 2, 2, 3, 0, 0);
    idx_seed(dir, "plain_1x1x1", 1, 1, 1, 1, 0, 0);
    idx_seed(dir, "gzip_4x3x5", 4, 3, 5, 10, 1, 1);
    idx_seed(dir, "mixed_2x4x4", 2, 4, 4, 2, 0, 1);
}

/* ---- CSV ------------------------------------------------------------------------------ */

static void csv_seed(const char *dir, const char *name, const char *text) {
    char path[64];
    int fd = mem_path(text, strlen(text), path, sizeof path);
    mlp_dataset *d = NULL;
    mlp_error err = {{0}};
    if (mlp_dataset_load_csv(path, 0, NULL, &d, &err) != MLP_OK) die(name, err.msg);
    mlp_dataset_free(d);
    close(fd);
    write_file(dir, "csv", name, text, strlen(text));
}

static void csv_seeds(const char *dir) {
    csv_seed(dir, "header", "label,a,b,c\n0,1,2,3\n1,4.5,-6,7e2\n2,0,0,255\n");
    csv_seed(dir, "plain", "3,0.25,1\n0,-1e-3,2.5E+1\n");
    csv_seed(dir, "crlf_blank_spaces", "\r\n1 , 2\t,3 \r\n\n  \n0,4,5\r\n");
    csv_seed(dir, "no_final_newline", "1,255,0,128");
    csv_seed(dir, "hex_and_signs", "0,0x1p-3,+7,-0,.5,5.\n9,1,2,3,4,5\n");
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR (holding model/, idx/, csv/)\n", argv[0]);
        return 2;
    }
    model_seeds(argv[1]);
    idx_seeds(argv[1]);
    csv_seeds(argv[1]);
    return 0;
}
