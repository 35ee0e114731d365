/* modelfile.c - model files: serialise a model to bytes and back, and save /
 * load them atomically. The format is specified byte by byte in
 * docs/model-format.md; in short (every integer little-endian):
 *
 *   "MLPD" | u32 version | u32 n_layers | u32 loss | u32 sizes[n_layers+1]
 *   | u32 act[n_layers] | u64 n_params | f32 params[n_params]
 *   | version 2 only: u32 optimizer | u32 buffers | u64 step | f32 state[buffers*n_params]
 *   | u32 crc32
 *
 * Version 2 exists only to carry an optimizer state for warm starts; a model
 * without one is still written as version 1, so files stay readable by builds
 * that know only version 1, and every version 1 file stays loadable.
 * params are model->params as they are in memory: W[0] (out, in) row-major,
 * b[0], W[1], b[1], ... The CRC32 (zlib's, the one gzip and PNG use) covers
 * every byte before it. Encoding goes through explicit byte shifts, so the
 * file is the same on big- and little-endian hosts.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "io_internal.h"
#include "mlp.h"

_Static_assert(sizeof(float) == 4, "model files store IEEE-754 binary32 floats");

#define MODEL_MAGIC   "MLPD"
#define MODEL_VERSION 1u  /* weights only */
#define STATE_VERSION 2u  /* weights and an optimizer state */
#define STATE_HEADER  16u /* optimizer, buffers, step */
#define FIXED_HEADER  16u /* magic, version, n_layers, loss */

/* ---- codes stored in the file (fixed forever, independent of enum order) ---- */

static const mlp_act act_by_code[] = {MLP_ACT_RELU, MLP_ACT_SIGMOID, MLP_ACT_TANH, MLP_ACT_SOFTMAX,
                                      MLP_ACT_LINEAR};
static const mlp_loss loss_by_code[] = {MLP_LOSS_CROSS_ENTROPY, MLP_LOSS_MSE};
static const mlp_optimizer opt_by_code[] = {MLP_OPT_SGD, MLP_OPT_MOMENTUM, MLP_OPT_ADAM,
                                            MLP_OPT_ADAMW};
#define N_OPT_CODES  (sizeof opt_by_code / sizeof opt_by_code[0])
#define N_ACT_CODES  (sizeof act_by_code / sizeof act_by_code[0])
#define N_LOSS_CODES (sizeof loss_by_code / sizeof loss_by_code[0])

static int act_code(mlp_act a) {
    for (unsigned i = 0; i < N_ACT_CODES; i++)
        if (act_by_code[i] == a) return (int)i;
    return -1;
}

static int opt_code(mlp_optimizer o) {
    for (unsigned i = 0; i < N_OPT_CODES; i++)
        if (opt_by_code[i] == o) return (int)i;
    return -1;
}

/* Buffers of n_params floats each optimizer keeps (sgd none, momentum one, adam two). */
static uint32_t opt_buffers(mlp_optimizer o) {
    return o == MLP_OPT_ADAM || o == MLP_OPT_ADAMW ? 2u : o == MLP_OPT_MOMENTUM ? 1u : 0u;
}

static int loss_code(mlp_loss l) {
    for (unsigned i = 0; i < N_LOSS_CODES; i++)
        if (loss_by_code[i] == l) return (int)i;
    return -1;
}

/* Bytes of the header (magic through n_params) for n_layers layers. */
static size_t header_bytes(uint32_t n_layers) {
    return FIXED_HEADER + 4u * ((size_t)n_layers + 1) + 4u * n_layers + 8u;
}

/* ---- buffer ---- */

mlp_status mlp_model_to_buffer(const mlp_model *m, unsigned char **buf, size_t *len,
                               mlp_error *err) {
    return mlp_model_to_buffer_with_state(m, NULL, buf, len, err);
}

/* Check a state to be written with m (as the weights, it must read back). */
static mlp_status state_fits(const mlp_model *m, const mlp_optim_state *st, mlp_error *err) {
    uint32_t nb = opt_buffers(st->kind);
    if (opt_code(st->kind) < 0 || st->n != m->n_params || st->step < 0 || (nb >= 1 && !st->m) ||
        (nb == 2 && !st->v))
        return mlp_io_fail(err, MLP_EINVAL,
                           "to_buffer: the optimizer state does not fit the model");
    for (size_t i = 0; i < st->n * nb; i++) {
        float f = i < st->n ? st->m[i] : st->v[i - st->n];
        if (!isfinite(f))
            return mlp_io_fail(err, MLP_ENUMERIC,
                               "to_buffer: optimizer state %zu is NaN or infinite; not saved", i);
    }
    return MLP_OK;
}

mlp_status mlp_model_to_buffer_with_state(const mlp_model *m, const mlp_optim_state *st,
                                          unsigned char **buf, size_t *len, mlp_error *err) {
    if (!m || !buf || !len)
        return mlp_io_fail(err, MLP_EINVAL, "to_buffer: model, buf and len are required");
    *buf = NULL;
    *len = 0;
    mlp_status s = mlp_arch_validate(&m->arch, err);
    if (s != MLP_OK) return s;
    const mlp_arch *a = &m->arch;
    if (m->n_params != mlp_arch_param_count(a))
        return mlp_io_fail(err, MLP_EINVAL, "to_buffer: model holds %zu parameters, arch needs %zu",
                           m->n_params, mlp_arch_param_count(a));
    /* A file must load back, and load refuses non-finite weights. */
    for (size_t i = 0; i < m->n_params; i++)
        if (!isfinite(m->params[i]))
            return mlp_io_fail(err, MLP_ENUMERIC,
                               "to_buffer: parameter %zu is NaN or infinite; not saved", i);

    if (st && st->n == 0) st = NULL; /* an empty state is no state */
    if (st && (s = state_fits(m, st, err)) != MLP_OK) return s;
    uint32_t nb = st ? opt_buffers(st->kind) : 0;

    size_t n_layers = (size_t)a->n_layers;
    size_t total = header_bytes((uint32_t)n_layers) + 4u * m->n_params + 4u;
    if (st) total += STATE_HEADER + 4u * (size_t)nb * m->n_params;
    unsigned char *out = malloc(total), *p = out;
    if (!out) return mlp_io_fail(err, MLP_ENOMEM, "to_buffer: out of memory for %zu bytes", total);
    memcpy(p, MODEL_MAGIC, 4);
    p += 4;
    p = mlp_put32(p, st ? STATE_VERSION : MODEL_VERSION);
    p = mlp_put32(p, (uint32_t)n_layers);
    p = mlp_put32(p, (uint32_t)loss_code(a->loss));
    for (size_t l = 0; l <= n_layers; l++) p = mlp_put32(p, (uint32_t)a->sizes[l]);
    for (size_t l = 0; l < n_layers; l++) p = mlp_put32(p, (uint32_t)act_code(a->act[l]));
    p = mlp_put32(p, (uint32_t)(m->n_params & 0xffffffffu));
    p = mlp_put32(p, (uint32_t)((uint64_t)m->n_params >> 32));
    for (size_t i = 0; i < m->n_params; i++) p = mlp_put32(p, mlp_float_bits(m->params[i]));
    if (st) {
        p = mlp_put32(p, (uint32_t)opt_code(st->kind));
        p = mlp_put32(p, nb);
        p = mlp_put32(p, (uint32_t)((uint64_t)st->step & 0xffffffffu));
        p = mlp_put32(p, (uint32_t)((uint64_t)st->step >> 32));
        for (size_t i = 0; i < st->n * nb; i++)
            p = mlp_put32(p, mlp_float_bits(i < st->n ? st->m[i] : st->v[i - st->n]));
    }
    mlp_put32(p, (uint32_t)crc32_z(0L, out, (z_size_t)(p - out)));
    *buf = out;
    *len = total;
    return MLP_OK;
}

/* Decode and check the architecture from a header known to be complete. */
static mlp_status decode_arch(const unsigned char *buf, uint32_t n_layers, mlp_arch *a,
                              mlp_error *err) {
    const unsigned char *p = buf + FIXED_HEADER;
    uint32_t loss = mlp_get32(buf + 12);

    memset(a, 0, sizeof *a);
    a->n_layers = (int)n_layers;
    if (loss >= N_LOSS_CODES)
        return mlp_io_fail(err, MLP_EFORMAT, "unknown loss code %u", (unsigned)loss);
    a->loss = loss_by_code[loss];
    for (uint32_t l = 0; l <= n_layers; l++, p += 4) {
        uint32_t size = mlp_get32(p);
        if (size > INT_MAX)
            return mlp_io_fail(err, MLP_EFORMAT, "layer width %u at position %u is absurd",
                               (unsigned)size, (unsigned)l);
        a->sizes[l] = (int)size;
    }
    for (uint32_t l = 0; l < n_layers; l++, p += 4) {
        uint32_t code = mlp_get32(p);
        if (code >= N_ACT_CODES)
            return mlp_io_fail(err, MLP_EFORMAT, "unknown activation code %u for layer %u",
                               (unsigned)code, (unsigned)l);
        a->act[l] = act_by_code[code];
    }
    mlp_status s = mlp_arch_validate(a, err);
    if (s != MLP_OK) return mlp_io_prefix(err, MLP_EFORMAT, "invalid architecture");
    return MLP_OK;
}

mlp_status mlp_model_from_buffer(const unsigned char *buf, size_t len, mlp_model **out,
                                 mlp_error *err) {
    return mlp_model_from_buffer_with_state(buf, len, out, NULL, err);
}

/* Bytes of a version 2 state section for n_params, after reading its header
 * at p (which must hold STATE_HEADER bytes); 0 for a bad optimizer code or
 * buffer count. */
static size_t state_bytes(const unsigned char *p, uint64_t n_params) {
    uint32_t code = mlp_get32(p), nb = mlp_get32(p + 4);
    if (code >= N_OPT_CODES || nb != opt_buffers(opt_by_code[code])) return 0;
    return STATE_HEADER + 4u * (size_t)nb * (size_t)n_params;
}

/* Decode a checked state section at p into *st (allocating its buffers). */
static mlp_status decode_state(const unsigned char *p, size_t n_params, mlp_optim_state *st,
                               mlp_error *err) {
    uint32_t nb = mlp_get32(p + 4);
    uint64_t step = (uint64_t)mlp_get32(p + 8) | (uint64_t)mlp_get32(p + 12) << 32;
    if (step > (uint64_t)INT64_MAX)
        return mlp_io_fail(err, MLP_EFORMAT, "optimizer step count %llu is absurd",
                           (unsigned long long)step);
    const unsigned char *f = p + STATE_HEADER;
    for (size_t i = 0; i < nb * n_params; i++)
        if (!isfinite(mlp_bits_float(mlp_get32(f + 4 * i))))
            return mlp_io_fail(err, MLP_EFORMAT, "optimizer state %zu is NaN or infinite", i);
    if (!st) return MLP_OK;
    st->kind = opt_by_code[mlp_get32(p)];
    st->step = (int64_t)step;
    st->n = n_params;
    if (nb > 0) {
        st->m = malloc(4u * nb * n_params);
        if (!st->m) return mlp_io_fail(err, MLP_ENOMEM, "out of memory for the optimizer state");
        for (size_t i = 0; i < nb * n_params; i++) st->m[i] = mlp_bits_float(mlp_get32(f + 4 * i));
        if (nb == 2) st->v = st->m + n_params;
    }
    return MLP_OK;
}

mlp_status mlp_model_from_buffer_with_state(const unsigned char *buf, size_t len, mlp_model **out,
                                            mlp_optim_state *st, mlp_error *err) {
    if (!out) return mlp_io_fail(err, MLP_EINVAL, "from_buffer: no output pointer");
    *out = NULL;
    if (st) memset(st, 0, sizeof *st);
    if (!buf && len > 0) return mlp_io_fail(err, MLP_EINVAL, "from_buffer: no buffer");
    if (len == 0) return mlp_io_fail(err, MLP_EFORMAT, "empty model file");
    if (len < 4 ? memcmp(buf, MODEL_MAGIC, len) != 0 : memcmp(buf, MODEL_MAGIC, 4) != 0)
        return mlp_io_fail(err, MLP_EFORMAT, "not a model file (wrong magic, expected \"MLPD\")");
    if (len < FIXED_HEADER)
        return mlp_io_fail(err, MLP_EFORMAT, "truncated header (%zu bytes)", len);
    uint32_t version = mlp_get32(buf + 4);
    if (version != MODEL_VERSION && version != STATE_VERSION)
        return mlp_io_fail(err, MLP_EFORMAT,
                           "unsupported model format version %u (this build reads %u and %u)",
                           (unsigned)version, MODEL_VERSION, STATE_VERSION);
    uint32_t n_layers = mlp_get32(buf + 8);
    if (n_layers < 1 || n_layers > MLP_MAX_LAYERS)
        return mlp_io_fail(err, MLP_EFORMAT, "layer count %u outside 1..%d", (unsigned)n_layers,
                           MLP_MAX_LAYERS);
    size_t hdr = header_bytes(n_layers);
    if (len < hdr)
        return mlp_io_fail(err, MLP_EFORMAT, "truncated header (%zu of %zu bytes)", len, hdr);
    uint64_t n_params = (uint64_t)mlp_get32(buf + hdr - 8) | (uint64_t)mlp_get32(buf + hdr - 4)
                                                                 << 32;
    if (n_params > MLP_MAX_PARAMS)
        return mlp_io_fail(err, MLP_EFORMAT, "parameter count %llu exceeds the limit of %u",
                           (unsigned long long)n_params, MLP_MAX_PARAMS);
    size_t weights_end = hdr + 4u * (size_t)n_params, total = weights_end + 4u;
    if (version == STATE_VERSION) {
        if (len < weights_end + STATE_HEADER)
            return mlp_io_fail(err, MLP_EFORMAT, "truncated: %zu bytes, the state header is cut",
                               len);
        size_t sb = state_bytes(buf + weights_end, n_params);
        if (sb == 0) return mlp_io_fail(err, MLP_EFORMAT, "unknown optimizer code or buffer count");
        total += sb;
    }
    if (len < total)
        return mlp_io_fail(err, MLP_EFORMAT, "truncated: %zu of %zu bytes", len, total);
    if (len > total)
        return mlp_io_fail(err, MLP_EFORMAT, "%zu bytes of trailing garbage after the checksum",
                           len - total);
    uint32_t want = mlp_get32(buf + total - 4);
    uint32_t have = (uint32_t)crc32_z(0L, buf, (z_size_t)(total - 4));
    if (want != have)
        return mlp_io_fail(err, MLP_EFORMAT, "bad checksum (stored %08x, computed %08x)",
                           (unsigned)want, (unsigned)have);

    /* The checksum only proves the bytes are as written; a well-formed file
     * may still describe something this engine refuses. */
    mlp_arch arch;
    mlp_status s = decode_arch(buf, n_layers, &arch, err);
    if (s != MLP_OK) return s;
    if (n_params != mlp_arch_param_count(&arch))
        return mlp_io_fail(err, MLP_EFORMAT,
                           "parameter count %llu does not match the architecture (%zu)",
                           (unsigned long long)n_params, mlp_arch_param_count(&arch));
    const unsigned char *p = buf + hdr;
    for (size_t i = 0; i < n_params; i++)
        if (!isfinite(mlp_bits_float(mlp_get32(p + 4 * i))))
            return mlp_io_fail(err, MLP_EFORMAT, "parameter %zu is NaN or infinite", i);
    if (version == STATE_VERSION) {
        s = decode_state(buf + weights_end, (size_t)n_params, st, err);
        if (s != MLP_OK) {
            mlp_optim_state_free(st);
            return s;
        }
    }

    mlp_model *m = NULL;
    s = mlp_model_create(&arch, MLP_INIT_GLOROT_UNIFORM, 0, &m, err);
    if (s != MLP_OK) {
        mlp_optim_state_free(st);
        return s;
    }
    for (size_t i = 0; i < n_params; i++) m->params[i] = mlp_bits_float(mlp_get32(p + 4 * i));
    *out = m;
    return MLP_OK;
}

/* ---- files ---- */

/* Write all of buf to fd, retrying short writes and EINTR. */
static int write_all(int fd, const unsigned char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* fsync the folder holding `path` so the rename itself survives a crash.
 * Best effort: some file systems refuse to fsync a directory. */
static void sync_parent(const char *path) {
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

mlp_status mlp_model_save(const mlp_model *m, const char *path, mlp_error *err) {
    return mlp_model_save_with_state(m, NULL, path, err);
}

mlp_status mlp_model_save_with_state(const mlp_model *m, const mlp_optim_state *state,
                                     const char *path, mlp_error *err) {
    unsigned char *buf = NULL;
    size_t len = 0;
    char tmp[4096];

    if (!path) return mlp_io_fail(err, MLP_EINVAL, "save: no path");
    mlp_status s = mlp_model_to_buffer_with_state(m, state, &buf, &len, err);
    if (s != MLP_OK) return s;
    /* The temporary file sits beside the target so rename() stays within
     * one file system and is atomic. */
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        free(buf);
        return mlp_io_fail(err, MLP_EINVAL, "save: path too long");
    }
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        s = mlp_io_fail(err, MLP_EIO, "%s: cannot create a temporary file: %s", path,
                        strerror(errno));
        free(buf);
        return s;
    }
    /* mkstemp makes 0600 files; a model is an ordinary readable file. */
    if (fchmod(fd, 0644) != 0 || write_all(fd, buf, len) != 0 || fsync(fd) != 0) {
        s = mlp_io_fail(err, MLP_EIO, "%s: write failed: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        free(buf);
        return s;
    }
    free(buf);
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        s = mlp_io_fail(err, MLP_EIO, "%s: cannot replace: %s", path, strerror(errno));
        unlink(tmp);
        return s;
    }
    sync_parent(path);
    return MLP_OK;
}

mlp_status mlp_model_load(const char *path, mlp_model **out, mlp_error *err) {
    return mlp_model_load_with_state(path, out, NULL, err);
}

mlp_status mlp_model_load_with_state(const char *path, mlp_model **out, mlp_optim_state *state,
                                     mlp_error *err) {
    /* Largest possible valid file: the biggest header, MLP_MAX_PARAMS floats
     * of weights and two buffers of state. */
    const size_t max_len =
        header_bytes(MLP_MAX_LAYERS) + 12u * (size_t)MLP_MAX_PARAMS + STATE_HEADER + 4u;
    struct stat st;
    if (state) memset(state, 0, sizeof *state);

    if (!out) return mlp_io_fail(err, MLP_EINVAL, "load: no output pointer");
    *out = NULL;
    if (!path) return mlp_io_fail(err, MLP_EINVAL, "load: no path");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return mlp_io_fail(err, MLP_EIO, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        mlp_status s = mlp_io_fail(err, MLP_EIO, "%s: not a regular file", path);
        close(fd);
        return s;
    }
    if ((uint64_t)st.st_size > max_len) {
        close(fd);
        return mlp_io_fail(err, MLP_EFORMAT, "%s: %lld bytes is larger than any model file", path,
                           (long long)st.st_size);
    }
    /* One byte more than the size stat reported: a file that grew while we
     * read shows up as trailing garbage rather than being silently cut. */
    size_t cap = (size_t)st.st_size + 1, len = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return mlp_io_fail(err, MLP_ENOMEM, "%s: out of memory for %zu bytes", path, cap);
    }
    while (len < cap) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            mlp_status s = mlp_io_fail(err, MLP_EIO, "%s: read failed: %s", path, strerror(errno));
            free(buf);
            close(fd);
            return s;
        }
        if (n == 0) break;
        len += (size_t)n;
    }
    close(fd);
    mlp_status s = mlp_model_from_buffer_with_state(buf, len, out, state, err);
    free(buf);
    if (s != MLP_OK) return mlp_io_prefix(err, s, path);
    return MLP_OK;
}

uint32_t mlp_model_checksum(const unsigned char *buf, size_t len) {
    return buf && len >= 4 ? mlp_get32(buf + len - 4) : 0;
}
