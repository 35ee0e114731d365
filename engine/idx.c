/* idx.c - reads MNIST's IDX files: idx3-ubyte images and idx1-ubyte labels,
 * plain or gzip-compressed. The one place that knows the format.
 *
 * IDX layout (all integers big-endian uint32):
 *   magic 0x00000803 (ubyte, 3 dims) | count | rows | cols | count*rows*cols bytes
 *   magic 0x00000801 (ubyte, 1 dim)  | count | count bytes
 *
 * Compression is decided by content: zlib's gz* reader inflates a gzip stream
 * and passes any other file through unchanged. A header is never trusted for
 * allocation. Before a byte of the body is read, what it declares is held
 * against the limits (samples, pixels, the caller's byte budget) and against
 * what the file can hold: a plain file's length exactly, a gzip file's length
 * times deflate's best ratio (1032:1), so a small gzip "bomb" claiming
 * gigabytes is refused without inflating it. The body buffer then grows only
 * as real bytes arrive, so a lying header costs at most what the file holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "io_internal.h"

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_FIRST_CHUNK  (4u << 20) /* body buffer starts at 4 MiB, then doubles */
#define IDX_MAX_READ     (1u << 30) /* gzread() takes an unsigned and returns an int */
#define IDX_STREAM_CHUNK (64u << 10)
/* Deflate codes at most 258 bytes in about 2 bits: no gzip member inflates
 * to more than ~1032 times its size (zlib's FAQ); the slack covers headers. */
#define GZIP_MAX_RATIO 1032u
#define GZIP_SLACK     1024u

typedef struct {
    const char *name; /* for messages */
    gzFile f;
    int labels;          /* idx1 labels, else idx3 images */
    uint32_t count;      /* samples */
    uint32_t rows, cols; /* images only */
    int gzip;
    uint64_t file_bytes; /* on disk */
} idx_file;

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static size_t header_len(const idx_file *x) {
    return x->labels ? 8 : 16;
}

static uint64_t body_len(const idx_file *x) {
    return x->labels ? x->count : (uint64_t)x->count * x->rows * x->cols;
}

/* Report a read failure of f: corrupt gzip data, or an I/O error. */
static mlp_status gz_failure(const idx_file *x, mlp_error *err) {
    int code = Z_OK;
    const char *why = gzerror(x->f, &code);
    if (code == Z_ERRNO)
        return mlp_io_fail(err, MLP_EIO, "%s: read failed: %s", x->name, strerror(errno));
    return mlp_io_fail(err, MLP_EFORMAT, "%s: corrupt gzip data (%s)", x->name,
                       why ? why : "unknown zlib error");
}

/* Read up to `want` bytes into buf; *got receives how many arrived before the
 * end of the data. Read errors and corrupt compressed data (a bad CRC-32 or
 * length in the gzip trailer included) are reported. */
static mlp_status read_some(const idx_file *x, unsigned char *buf, size_t want, size_t *got,
                            mlp_error *err) {
    *got = 0;
    while (*got < want) {
        size_t ask = want - *got;
        if (ask > IDX_MAX_READ) ask = IDX_MAX_READ;
        int n = gzread(x->f, buf + *got, (unsigned)ask);
        if (n < 0) return gz_failure(x, err);
        if (n == 0) break;
        *got += (size_t)n;
    }
    int code = Z_OK;
    gzerror(x->f, &code);
    /* A gzip stream cut short yields its data, then Z_BUF_ERROR. */
    if (code != Z_OK && code != Z_STREAM_END) return gz_failure(x, err);
    return MLP_OK;
}

/* Open path (under o->base_dir) through zlib, noting its size and whether it
 * is gzip (its first two bytes 1f 8b, as zlib decides). */
static mlp_status idx_fopen(idx_file *x, const char *path, const mlp_load_opts *o, mlp_error *err) {
    char full[4096];
    if (mlp_io_path(o, path, full, sizeof full) != 0)
        return mlp_io_fail(err, MLP_EINVAL, "%s: path too long", x->name);
    int fd = open(full, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        mlp_status s = mlp_io_fail(err, MLP_EIO, "%s: cannot open: %s", x->name, strerror(errno));
        if (fd >= 0) close(fd);
        return s;
    }
    unsigned char magic[2] = {0, 0};
    x->file_bytes = (uint64_t)st.st_size;
    x->gzip = pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    x->f = gzdopen(fd, "rb");
    if (!x->f) {
        close(fd);
        return mlp_io_fail(err, MLP_ENOMEM, "%s: cannot open: out of memory", x->name);
    }
    gzbuffer(x->f, 128u * 1024u);
    return MLP_OK;
}

static const char *items(const idx_file *x) {
    return x->labels ? "labels" : "pixels";
}

static mlp_status short_body(const idx_file *x, uint64_t want, uint64_t have, mlp_error *err) {
    return mlp_io_fail(err, MLP_EFORMAT,
                       "%s: truncated: header declares %u samples (%llu %s) but the file holds "
                       "only %llu",
                       x->name, (unsigned)x->count, (unsigned long long)want, items(x),
                       (unsigned long long)have);
}

static mlp_status extra_body(const idx_file *x, uint64_t want, mlp_error *err) {
    return mlp_io_fail(err, MLP_EFORMAT, "%s: trailing data after the %llu %s its header declares",
                       x->name, (unsigned long long)want, items(x));
}

/* What the header declares against what the file can hold and the budget. */
static mlp_status idx_fits(const idx_file *x, uint64_t max_bytes, mlp_error *err) {
    uint64_t body = body_len(x), total = header_len(x) + body;
    uint64_t mem = mlp_dataset_bytes(x->count, x->labels ? 0 : (int)(x->rows * x->cols), 1);
    if (mem > max_bytes)
        return mlp_io_fail(err, MLP_ETOOBIG,
                           "%s: header declares %u samples, %llu bytes in memory; the limit is "
                           "%llu bytes",
                           x->name, (unsigned)x->count, (unsigned long long)mem,
                           (unsigned long long)max_bytes);
    uint64_t have = x->file_bytes - header_len(x); /* the header was read whole */
    if (!x->gzip && have < body) return short_body(x, body, have, err);
    if (!x->gzip && have > body) return extra_body(x, body, err);
    if (x->gzip && total > x->file_bytes * GZIP_MAX_RATIO + GZIP_SLACK)
        return mlp_io_fail(err, MLP_EFORMAT,
                           "%s: header declares %llu bytes, more than %llu gzip-compressed bytes "
                           "can hold",
                           x->name, (unsigned long long)total, (unsigned long long)x->file_bytes);
    return MLP_OK;
}

/* Open `path` and check its header: magic, then one count (labels) or a
 * count and rows/cols (images), each within the engine's limits, then
 * idx_fits. */
static mlp_status idx_open(idx_file *x, const char *path, const char *name, int labels,
                           const mlp_load_opts *o, mlp_error *err) {
    const uint32_t magic = labels ? IDX_MAGIC_LABELS : IDX_MAGIC_IMAGES;
    unsigned char hdr[16];
    size_t got = 0;
    memset(x, 0, sizeof *x);
    x->name = name;
    x->labels = labels;
    mlp_status s = idx_fopen(x, path, o, err);
    if (s == MLP_OK) s = read_some(x, hdr, header_len(x), &got, err);
    if (s != MLP_OK) return s;
    if (got == 0)
        return mlp_io_fail(err, MLP_EFORMAT, "%s: empty file, expected an IDX header", name);
    if (got >= 4 && be32(hdr) != magic)
        return mlp_io_fail(
            err, MLP_EFORMAT, "%s: wrong magic 0x%08x (expected 0x%08x, IDX ubyte %s)", name,
            (unsigned)be32(hdr), (unsigned)magic, labels ? "labels (idx1)" : "images (idx3)");
    if (got < header_len(x))
        return mlp_io_fail(err, MLP_EFORMAT, "%s: truncated header (%zu of %zu bytes)", name, got,
                           header_len(x));
    x->count = be32(hdr + 4);
    if (x->count == 0) return mlp_io_fail(err, MLP_EFORMAT, "%s: header declares 0 samples", name);
    if (x->count > MLP_MAX_SAMPLES)
        return mlp_io_fail(err, MLP_EFORMAT, "%s: header declares %u samples (limit %u)", name,
                           (unsigned)x->count, (unsigned)MLP_MAX_SAMPLES);
    if (!labels) {
        x->rows = be32(hdr + 8);
        x->cols = be32(hdr + 12);
        uint64_t features = (uint64_t)x->rows * x->cols;
        if (features == 0 || features > MLP_MAX_FEATURES)
            return mlp_io_fail(err, MLP_EFORMAT,
                               "%s: header declares %ux%u images (need 1 to %u pixels)", name,
                               (unsigned)x->rows, (unsigned)x->cols, (unsigned)MLP_MAX_FEATURES);
    }
    return idx_fits(x, mlp_io_max_bytes(o), err);
}

static void idx_close(idx_file *x) {
    if (x->f) gzclose(x->f);
    x->f = NULL;
}

/* After `want` body bytes have arrived (have): no fewer, and nothing after. */
static mlp_status idx_check_end(const idx_file *x, uint64_t want, uint64_t have, mlp_error *err) {
    unsigned char extra;
    size_t got = 0;
    if (have < want) return short_body(x, want, have, err);
    mlp_status s = read_some(x, &extra, 1, &got, err);
    return s == MLP_OK && got != 0 ? extra_body(x, want, err) : s;
}

/* Read exactly `want` body bytes into a new buffer (*out, caller frees), and
 * check that nothing follows them. The buffer doubles from IDX_FIRST_CHUNK as
 * data arrives rather than trusting `want` up front. */
static mlp_status idx_read_body(const idx_file *x, size_t want, unsigned char **out,
                                mlp_error *err) {
    size_t cap = want < IDX_FIRST_CHUNK ? want : IDX_FIRST_CHUNK, have = 0, got = 0;
    unsigned char *buf = malloc(cap), *grown;
    mlp_status s;

    *out = NULL;
    if (!buf) return mlp_io_fail(err, MLP_ENOMEM, "%s: out of memory for %zu bytes", x->name, cap);
    for (;;) {
        s = read_some(x, buf + have, cap - have, &got, err);
        if (s != MLP_OK) goto fail;
        have += got;
        if (have < cap || cap == want) break; /* end of data, or everything promised has arrived */
        size_t next = cap > want / 2 ? want : cap * 2;
        grown = realloc(buf, next);
        if (!grown) {
            s = mlp_io_fail(err, MLP_ENOMEM, "%s: out of memory for %zu bytes", x->name, next);
            goto fail;
        }
        buf = grown;
        cap = next;
    }
    s = idx_check_end(x, want, have, err);
    if (s != MLP_OK) goto fail;
    *out = buf;
    return MLP_OK;
fail:
    free(buf);
    return s;
}

/* Read the whole body in fixed chunks, keeping nothing but the largest byte
 * (the classes of a labels file). */
static mlp_status idx_stream_body(const idx_file *x, int *max_byte, mlp_error *err) {
    unsigned char *buf = malloc(IDX_STREAM_CHUNK);
    if (!buf) return mlp_io_fail(err, MLP_ENOMEM, "%s: out of memory", x->name);
    uint64_t want = body_len(x), have = 0;
    size_t got = 0;
    mlp_status s = MLP_OK;
    int max = 0;
    while (have < want) {
        size_t ask = want - have < IDX_STREAM_CHUNK ? (size_t)(want - have) : IDX_STREAM_CHUNK;
        s = read_some(x, buf, ask, &got, err);
        if (s != MLP_OK || got == 0) break;
        for (size_t i = 0; x->labels && i < got; i++) max = buf[i] > max ? buf[i] : max;
        have += got;
    }
    free(buf);
    if (s == MLP_OK) s = idx_check_end(x, want, have, err);
    *max_byte = max;
    return s;
}

mlp_status mlp_idx_check(const char *path, int labels, int full, const mlp_load_opts *o,
                         mlp_idx_info *info, mlp_error *err) {
    idx_file x;
    if (!path || !info) return mlp_io_fail(err, MLP_EINVAL, "idx_check: path and info required");
    memset(info, 0, sizeof *info);
    mlp_status s = idx_open(&x, path, mlp_io_shown(o, path), labels != 0, o, err);
    int max = 0;
    if (s == MLP_OK && full) s = idx_stream_body(&x, &max, err);
    if (s == MLP_OK) {
        info->labels = x.labels;
        info->count = x.count;
        info->rows = x.rows;
        info->cols = x.cols;
        info->features = (int)(x.rows * x.cols);
        info->classes = full && x.labels ? (max + 1 < 2 ? 2 : max + 1) : 0;
        info->gzip = x.gzip;
    }
    idx_close(&x);
    return s;
}

/* Both headers, counts equal, the pair within the budget. */
static mlp_status open_pair(idx_file *img, idx_file *lab, const char *images_path,
                            const char *labels_path, const mlp_load_opts *o, mlp_error *err) {
    memset(lab, 0, sizeof *lab);
    mlp_status s = idx_open(img, images_path, images_path, 0, o, err);
    if (s == MLP_OK) s = idx_open(lab, labels_path, labels_path, 1, o, err);
    if (s == MLP_OK && img->count != lab->count)
        s = mlp_io_fail(err, MLP_EFORMAT, "%s holds %u images but %s holds %u labels", images_path,
                        (unsigned)img->count, labels_path, (unsigned)lab->count);
    /* The labels are read as bytes, then widened: count them twice. */
    uint64_t mem = mlp_dataset_bytes(img->count, (int)(img->rows * img->cols), 1) + img->count;
    if (s == MLP_OK && mem > mlp_io_max_bytes(o))
        s = mlp_io_fail(err, MLP_ETOOBIG, "%s: %u samples need %llu bytes; the limit is %llu",
                        images_path, (unsigned)img->count, (unsigned long long)mem,
                        (unsigned long long)mlp_io_max_bytes(o));
    return s;
}

static mlp_status new_set(size_t n, int features, mlp_dataset **out, mlp_error *err) {
    mlp_dataset *d = calloc(1, sizeof *d);
    if (d) d->labels = malloc((n ? n : 1) * sizeof *d->labels);
    if (!d || !d->labels) {
        mlp_dataset_free(d);
        return mlp_io_fail(err, MLP_ENOMEM, "load_idx: out of memory for %zu labels", n);
    }
    d->n = n;
    d->features = features;
    *out = d;
    return MLP_OK;
}

mlp_status mlp_dataset_load_idx(const char *images_path, const char *labels_path,
                                const mlp_load_opts *o, mlp_dataset **out, mlp_error *err) {
    idx_file img, lab;
    unsigned char *pixels = NULL, *label_bytes = NULL;
    mlp_dataset *d = NULL;

    if (!out) return mlp_io_fail(err, MLP_EINVAL, "load_idx: no output pointer");
    *out = NULL;
    if (!images_path || !labels_path)
        return mlp_io_fail(err, MLP_EINVAL, "load_idx: images and labels paths are required");
    /* Both headers first: a count mismatch is found before any body is read. */
    mlp_status s = open_pair(&img, &lab, images_path, labels_path, o, err);
    size_t n = img.count, features = (size_t)img.rows * img.cols;
    if (s == MLP_OK) s = idx_read_body(&lab, n, &label_bytes, err);
    if (s == MLP_OK) s = idx_read_body(&img, n * features, &pixels, err);
    if (s == MLP_OK) s = new_set(n, (int)features, &d, err);
    if (s == MLP_OK) {
        for (size_t i = 0; i < n; i++) d->labels[i] = label_bytes[i];
        d->classes = mlp_io_classes_from_labels(d->labels, n);
        d->x_u8 = pixels;
        pixels = NULL;
        *out = d;
    }
    idx_close(&img);
    idx_close(&lab);
    free(pixels);
    free(label_bytes);
    return s;
}

/* Decode row `index` of the pair into row k of d (forward seeks only when
 * rows are taken in increasing order). */
static mlp_status read_row(idx_file *img, idx_file *lab, size_t index, mlp_dataset *d, size_t k,
                           mlp_error *err) {
    size_t f = (size_t)d->features, got = 0;
    unsigned char label;
    if (gzseek(img->f, (z_off_t)(16 + index * f), SEEK_SET) < 0 ||
        gzseek(lab->f, (z_off_t)(8 + index), SEEK_SET) < 0)
        return mlp_io_fail(err, MLP_EFORMAT, "%s: cannot seek to sample %zu", img->name, index);
    mlp_status s = read_some(img, d->x_u8 + k * f, f, &got, err);
    if (s == MLP_OK && got != f)
        return mlp_io_fail(err, MLP_EFORMAT, "%s: ends before sample %zu", img->name, index);
    if (s == MLP_OK) s = read_some(lab, &label, 1, &got, err);
    if (s == MLP_OK && got != 1)
        return mlp_io_fail(err, MLP_EFORMAT, "%s: ends before label %zu", lab->name, index);
    if (s == MLP_OK) d->labels[k] = label;
    return s;
}

/* qsort order of (row << 32 | slot) pairs: by row, then slot. */
static int by_row_pair(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Read the selected rows into d in increasing row order; a repeated row is
 * copied from its first reading. */
static mlp_status read_rows(idx_file *img, idx_file *lab, const uint32_t *rows, int take,
                            mlp_dataset *d, mlp_error *err) {
    size_t n = img->count, f = (size_t)d->features;
    uint64_t *order = malloc((size_t)(take ? take : 1) * sizeof *order);
    if (!order) return mlp_io_fail(err, MLP_ENOMEM, "load_rows: out of memory");
    for (int k = 0; k < take; k++)
        order[k] = (uint64_t)mlp_io_row(rows, take, n, k) << 32 | (uint32_t)k;
    qsort(order, (size_t)take, sizeof *order, by_row_pair);
    mlp_status s = MLP_OK;
    for (int i = 0; s == MLP_OK && i < take; i++) {
        size_t row = (size_t)(order[i] >> 32), k = (uint32_t)order[i];
        if (i > 0 && (order[i - 1] >> 32) == row) {
            size_t first = (uint32_t)order[i - 1];
            memcpy(d->x_u8 + k * f, d->x_u8 + first * f, f);
            d->labels[k] = d->labels[first];
        } else {
            s = read_row(img, lab, row, d, k, err);
        }
    }
    free(order);
    return s;
}

mlp_status mlp_idx_load_rows(const char *images_path, const char *labels_path, const uint32_t *rows,
                             int count, const mlp_load_opts *o, mlp_dataset **out, size_t *total,
                             mlp_error *err) {
    idx_file img, lab;
    mlp_dataset *d = NULL;
    *out = NULL;
    mlp_status s = open_pair(&img, &lab, images_path, labels_path, o, err);
    size_t n = img.count, features = (size_t)img.rows * img.cols;
    int take = mlp_io_row_count(rows, count, n);
    if (s == MLP_OK) s = mlp_io_rows_check(rows, take, n, err);
    if (s == MLP_OK) s = new_set((size_t)take, (int)features, &d, err);
    if (s == MLP_OK && !(d->x_u8 = malloc((size_t)take * features + 1)))
        s = mlp_io_fail(err, MLP_ENOMEM, "load_rows: out of memory");
    if (s == MLP_OK) s = read_rows(&img, &lab, rows, take, d, err);
    if (s == MLP_OK) {
        d->classes = mlp_io_classes_from_labels(d->labels, (size_t)take);
        *out = d;
        *total = n;
    } else {
        mlp_dataset_free(d);
    }
    idx_close(&img);
    idx_close(&lab);
    return s;
}
