/* idx.c - reads MNIST's IDX files: idx3-ubyte images and idx1-ubyte labels,
 * plain or gzip-compressed.
 *
 * IDX layout (all integers big-endian uint32):
 *   magic 0x00000803 (ubyte, 3 dims) | count | rows | cols | count*rows*cols bytes
 *   magic 0x00000801 (ubyte, 1 dim)  | count | count bytes
 *
 * Compression is decided by content: zlib's gz* reader inflates a gzip stream
 * and passes any other file through unchanged. A file whose header promises
 * more or fewer bytes than it holds is MLP_EFORMAT. A header is never trusted
 * for allocation: absurd sizes are refused up front, and the body buffer
 * grows only as real bytes arrive, so a lying header costs at most what the
 * file actually holds.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "io_internal.h"
#include "mlp.h"

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_FIRST_CHUNK  (4u << 20) /* body buffer starts at 4 MiB, then doubles */
#define IDX_MAX_READ     (1u << 30) /* gzread() takes an unsigned and returns an int */

typedef struct {
    const char *path;
    gzFile f;
    uint32_t count;      /* samples */
    uint32_t rows, cols; /* images only */
} idx_file;

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Report a read failure of f: corrupt gzip data, or an I/O error. */
static mlp_status gz_failure(const idx_file *x, mlp_error *err) {
    int code = Z_OK;
    const char *why = gzerror(x->f, &code);
    if (code == Z_ERRNO)
        return mlp_io_fail(err, MLP_EIO, "%s: read failed: %s", x->path, strerror(errno));
    return mlp_io_fail(err, MLP_EFORMAT, "%s: corrupt gzip data (%s)", x->path,
                       why ? why : "unknown zlib error");
}

/* Read up to `want` bytes into buf; *got receives how many arrived before the
 * end of the data. Read errors and corrupt compressed data are reported. */
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

/* Open `path` and check its header: `magic`, then one count (labels) or a
 * count and 28x28-style rows/cols (images), each within the engine's limits. */
static mlp_status idx_open(idx_file *x, const char *path, uint32_t magic, mlp_error *err) {
    const int ndims = (int)(magic & 0xffu);
    unsigned char hdr[16];
    size_t hdr_len = 4 + 4 * (size_t)ndims, got = 0;
    mlp_status s;

    memset(x, 0, sizeof *x);
    x->path = path;
    errno = 0;
    x->f = gzopen(path, "rb");
    if (!x->f)
        return mlp_io_fail(err, errno ? MLP_EIO : MLP_ENOMEM, "%s: cannot open: %s", path,
                           errno ? strerror(errno) : "out of memory");
    gzbuffer(x->f, 128u * 1024u);
    s = read_some(x, hdr, hdr_len, &got, err);
    if (s != MLP_OK) return s;
    if (got == 0)
        return mlp_io_fail(err, MLP_EFORMAT, "%s: empty file, expected an IDX header", path);
    if (got >= 4 && be32(hdr) != magic)
        return mlp_io_fail(err, MLP_EFORMAT,
                           "%s: wrong magic 0x%08x (expected 0x%08x, IDX ubyte %s)", path,
                           (unsigned)be32(hdr), (unsigned)magic,
                           magic == IDX_MAGIC_IMAGES ? "images (idx3)" : "labels (idx1)");
    if (got < hdr_len)
        return mlp_io_fail(err, MLP_EFORMAT, "%s: truncated header (%zu of %zu bytes)", path, got,
                           hdr_len);

    x->count = be32(hdr + 4);
    if (x->count == 0) return mlp_io_fail(err, MLP_EFORMAT, "%s: header declares 0 samples", path);
    if (x->count > MLP_MAX_SAMPLES)
        return mlp_io_fail(err, MLP_EFORMAT, "%s: header declares %u samples (limit %u)", path,
                           (unsigned)x->count, (unsigned)MLP_MAX_SAMPLES);
    if (ndims == 3) {
        x->rows = be32(hdr + 8);
        x->cols = be32(hdr + 12);
        uint64_t features = (uint64_t)x->rows * x->cols;
        if (features == 0 || features > MLP_MAX_FEATURES)
            return mlp_io_fail(err, MLP_EFORMAT,
                               "%s: header declares %ux%u images (need 1 to %u pixels)", path,
                               (unsigned)x->rows, (unsigned)x->cols, (unsigned)MLP_MAX_FEATURES);
    }
    return MLP_OK;
}

/* Read exactly `want` body bytes into a new buffer (*out, caller frees), and
 * check that nothing follows them. The buffer doubles from IDX_FIRST_CHUNK as
 * data arrives rather than trusting `want` up front. `what` names the items
 * for messages ("labels", "pixels"). */
static mlp_status idx_read_body(const idx_file *x, size_t want, const char *what,
                                unsigned char **out, mlp_error *err) {
    size_t cap = want < IDX_FIRST_CHUNK ? want : IDX_FIRST_CHUNK, have = 0, got = 0;
    unsigned char *buf = malloc(cap), *grown, extra;
    mlp_status s;

    *out = NULL;
    if (!buf) return mlp_io_fail(err, MLP_ENOMEM, "%s: out of memory for %zu bytes", x->path, cap);
    for (;;) {
        s = read_some(x, buf + have, cap - have, &got, err);
        if (s != MLP_OK) goto fail;
        have += got;
        if (have < cap || cap == want) break; /* end of data, or everything promised has arrived */
        size_t next = cap > want / 2 ? want : cap * 2;
        grown = realloc(buf, next);
        if (!grown) {
            s = mlp_io_fail(err, MLP_ENOMEM, "%s: out of memory for %zu bytes", x->path, next);
            goto fail;
        }
        buf = grown;
        cap = next;
    }
    if (have < want) {
        s = mlp_io_fail(err, MLP_EFORMAT,
                        "%s: truncated: header declares %u samples (%zu %s) but the file "
                        "holds only %zu",
                        x->path, (unsigned)x->count, want, what, have);
        goto fail;
    }
    s = read_some(x, &extra, 1, &got, err);
    if (s != MLP_OK) goto fail;
    if (got != 0) {
        s = mlp_io_fail(err, MLP_EFORMAT, "%s: trailing data after the %zu %s its header declares",
                        x->path, want, what);
        goto fail;
    }
    *out = buf;
    return MLP_OK;
fail:
    free(buf);
    return s;
}

static void idx_close(idx_file *x) {
    if (x->f) gzclose(x->f);
    x->f = NULL;
}

mlp_status mlp_dataset_load_idx(const char *images_path, const char *labels_path, mlp_dataset **out,
                                mlp_error *err) {
    idx_file img, lab;
    unsigned char *pixels = NULL, *label_bytes = NULL;
    mlp_dataset *d = NULL;
    mlp_status s;

    if (!out) return mlp_io_fail(err, MLP_EINVAL, "load_idx: no output pointer");
    *out = NULL;
    if (!images_path || !labels_path)
        return mlp_io_fail(err, MLP_EINVAL, "load_idx: images and labels paths are required");

    /* Both headers first: a count mismatch is found before any body is read. */
    memset(&lab, 0, sizeof lab);
    s = idx_open(&img, images_path, IDX_MAGIC_IMAGES, err);
    if (s == MLP_OK) s = idx_open(&lab, labels_path, IDX_MAGIC_LABELS, err);
    if (s == MLP_OK && img.count != lab.count)
        s = mlp_io_fail(err, MLP_EFORMAT, "%s holds %u images but %s holds %u labels", images_path,
                        (unsigned)img.count, labels_path, (unsigned)lab.count);
    if (s != MLP_OK) goto done;

    size_t n = img.count, features = (size_t)img.rows * img.cols;
    s = idx_read_body(&lab, n, "labels", &label_bytes, err);
    if (s == MLP_OK) s = idx_read_body(&img, n * features, "pixels", &pixels, err);
    if (s != MLP_OK) goto done;

    d = calloc(1, sizeof *d);
    if (d) d->labels = malloc(n * sizeof *d->labels);
    if (!d || !d->labels) {
        s = mlp_io_fail(err, MLP_ENOMEM, "load_idx: out of memory for %zu labels", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++) d->labels[i] = label_bytes[i];
    d->n = n;
    d->features = (int)features;
    d->classes = mlp_io_classes_from_labels(d->labels, n);
    d->x_u8 = pixels;
    pixels = NULL;
    *out = d;
    d = NULL;
done:
    idx_close(&img);
    idx_close(&lab);
    free(pixels);
    free(label_bytes);
    mlp_dataset_free(d);
    return s;
}
