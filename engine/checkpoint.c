/* checkpoint.c - a training run's state between two epochs, as bytes
 * (mlp_train_config.checkpoint / .resume; docs/model-format.md,
 * "Checkpoints"). Every integer little-endian, doubles as their IEEE-754 bits:
 *
 *   "MLCK" | u32 version (1) | u32 epoch | u32 best_epoch | u64 global_step
 *   | u64 optimizer step | u64 rng[4]
 *   | f64 watch.best | u32 watch.wait                  (early stopping)
 *   | f64 plateau.best | u32 plateau.wait | f32 plateau.lr | u32 plateau.cooldown
 *   | f64 last[7] (loss, accuracy, val_loss, val_accuracy, learning_rate,
 *                  seconds, samples_per_sec) | u32 last.steps | u32 last.improved
 *   | u64 n_order | u32 order[n_order]                 (the shuffle order)
 *   | u32 has_best | f32 best[n_params] when has_best  (restore_best's weights)
 *   | u64 model_len | model file (weights + optimizer state, modelfile.c)
 *   | u32 crc32 of every byte before it
 *
 * The model file inside carries its own checks; the outer CRC covers the rest.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "internal.h"
#include "io_internal.h"

#define CKPT_MAGIC   "MLCK"
#define CKPT_VERSION 1u
#define N_LAST       7

static unsigned char *put64(unsigned char *p, uint64_t v) {
    p = mlp_put32(p, (uint32_t)(v & 0xffffffffu));
    return mlp_put32(p, (uint32_t)(v >> 32));
}

static uint64_t get64(const unsigned char *p) {
    return (uint64_t)mlp_get32(p) | (uint64_t)mlp_get32(p + 4) << 32;
}

static unsigned char *put_f64(unsigned char *p, double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return put64(p, u);
}

static double get_f64(const unsigned char *p) {
    uint64_t u = get64(p);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* Bytes before the order array. */
#define FIXED_BYTES (4 + 4 + 4 + 4 + 8 + 8 + 32 + 12 + 20 + 8 * N_LAST + 8 + 8)

mlp_status mlp_ckpt_encode(const mlp_model *m, const mlp_optim *o, const mlp_ckpt *c,
                           unsigned char **buf, size_t *len, mlp_error *err) {
    *buf = NULL;
    *len = 0;
    mlp_optim_state view = {.kind = o->kind, .step = o->t, .n = o->n, .m = o->m, .v = o->v};
    unsigned char *model = NULL;
    size_t model_len = 0;
    mlp_status s = mlp_model_to_buffer_with_state(m, o->m ? &view : NULL, &model, &model_len, err);
    if (s != MLP_OK) return s;
    size_t best_bytes = c->best ? 4 * m->n_params : 0;
    size_t total = FIXED_BYTES + 4 * c->n_order + 4 + best_bytes + 8 + model_len + 4;
    unsigned char *out = malloc(total), *p = out;
    if (!out) {
        free(model);
        return mlp_fail(err, MLP_ENOMEM, "out of memory for a checkpoint of %zu bytes", total);
    }
    memcpy(p, CKPT_MAGIC, 4);
    p = mlp_put32(p + 4, CKPT_VERSION);
    p = mlp_put32(p, (uint32_t)c->epoch);
    p = mlp_put32(p, (uint32_t)c->best_epoch);
    p = put64(p, (uint64_t)c->global_step);
    p = put64(p, (uint64_t)o->t);
    for (int i = 0; i < 4; i++) p = put64(p, c->rng.s[i]);
    p = put_f64(p, c->watch.best);
    p = mlp_put32(p, (uint32_t)c->watch.wait);
    p = put_f64(p, c->plateau.watch.best);
    p = mlp_put32(p, (uint32_t)c->plateau.watch.wait);
    p = mlp_put32(p, mlp_float_bits(c->plateau.lr));
    p = mlp_put32(p, (uint32_t)c->plateau.cooldown_left);
    const mlp_progress *l = &c->last;
    const double last[N_LAST] = {l->loss,          l->accuracy, l->val_loss,       l->val_accuracy,
                                 l->learning_rate, l->seconds,  l->samples_per_sec};
    for (int i = 0; i < N_LAST; i++) p = put_f64(p, last[i]);
    p = mlp_put32(p, (uint32_t)l->steps);
    p = mlp_put32(p, (uint32_t)l->improved);
    p = put64(p, (uint64_t)c->n_order);
    for (size_t i = 0; i < c->n_order; i++) p = mlp_put32(p, c->order[i]);
    p = mlp_put32(p, c->best ? 1u : 0u);
    for (size_t i = 0; c->best && i < m->n_params; i++)
        p = mlp_put32(p, mlp_float_bits(c->best[i]));
    p = put64(p, (uint64_t)model_len);
    memcpy(p, model, model_len);
    p += model_len;
    free(model);
    p = mlp_put32(p, (uint32_t)crc32_z(0L, out, (z_size_t)(p - out)));
    *buf = out;
    *len = (size_t)(p - out);
    return MLP_OK;
}

static int same_arch(const mlp_arch *a, const mlp_arch *b) {
    if (a->n_layers != b->n_layers || a->loss != b->loss) return 0;
    for (int l = 0; l < a->n_layers; l++)
        if (a->sizes[l] != b->sizes[l] || a->act[l] != b->act[l]) return 0;
    return a->sizes[a->n_layers] == b->sizes[b->n_layers];
}

/* The model file inside the checkpoint into m's weights and o's state. */
static mlp_status restore_model(const unsigned char *bytes, size_t n, mlp_model *m, mlp_optim *o,
                                mlp_error *err) {
    mlp_model *saved = NULL;
    mlp_optim_state st;
    mlp_status s = mlp_model_from_buffer_with_state(bytes, n, &saved, &st, err);
    if (s != MLP_OK) return s;
    int buffers = mlp_optim_buffers(o->kind);
    if (!same_arch(&saved->arch, &m->arch) || saved->n_params != m->n_params)
        s = mlp_fail(err, MLP_EINVAL, "the checkpoint is of another network");
    else if ((buffers > 0) != (st.n > 0) || (st.n > 0 && mlp_optim_buffers(st.kind) != buffers))
        s = mlp_fail(err, MLP_EINVAL, "the checkpoint's optimizer state is not %s's",
                     mlp_optimizer_name(o->kind));
    if (s == MLP_OK) {
        memcpy(m->params, saved->params, m->n_params * sizeof(float));
        if (buffers > 0) memcpy(o->m, st.m, (size_t)buffers * m->n_params * sizeof(float));
    }
    mlp_optim_state_free(&st);
    mlp_model_free(saved);
    return s;
}

mlp_status mlp_ckpt_decode(const unsigned char *buf, size_t len, mlp_model *m, mlp_optim *o,
                           mlp_ckpt *c, mlp_error *err) {
    if (!buf || len < FIXED_BYTES + 4 + 8 + 4 || memcmp(buf, CKPT_MAGIC, 4) != 0)
        return mlp_fail(err, MLP_EFORMAT, "not a checkpoint (%zu bytes)", len);
    if (mlp_get32(buf + 4) != CKPT_VERSION)
        return mlp_fail(err, MLP_EFORMAT, "checkpoint version %u (this build reads %u)",
                        (unsigned)mlp_get32(buf + 4), CKPT_VERSION);
    if (mlp_get32(buf + len - 4) != (uint32_t)crc32_z(0L, buf, (z_size_t)(len - 4)))
        return mlp_fail(err, MLP_EFORMAT, "checkpoint checksum mismatch");
    const unsigned char *p = buf + 8, *end = buf + len - 4;
    c->epoch = (int)mlp_get32(p);
    c->best_epoch = (int)mlp_get32(p + 4);
    c->global_step = (long)get64(p + 8);
    long opt_t = (long)get64(p + 16);
    p += 24;
    for (int i = 0; i < 4; i++, p += 8) c->rng.s[i] = get64(p);
    c->watch.best = get_f64(p);
    c->watch.wait = (int)mlp_get32(p + 8);
    c->plateau.watch.best = get_f64(p + 12);
    c->plateau.watch.wait = (int)mlp_get32(p + 20);
    c->plateau.lr = mlp_bits_float(mlp_get32(p + 24));
    c->plateau.cooldown_left = (int)mlp_get32(p + 28);
    p += 32;
    double last[N_LAST];
    for (int i = 0; i < N_LAST; i++, p += 8) last[i] = get_f64(p);
    mlp_progress *l = &c->last;
    l->loss = l->epoch_loss = last[0];
    l->accuracy = l->epoch_accuracy = last[1];
    l->val_loss = last[2];
    l->val_accuracy = last[3];
    l->learning_rate = last[4];
    l->seconds = last[5];
    l->samples_per_sec = last[6];
    l->steps = (long)mlp_get32(p);
    l->improved = (int)mlp_get32(p + 4);
    l->epoch = c->epoch;
    l->step = l->steps;
    l->global_step = c->global_step;
    uint64_t n_order = get64(p + 8);
    p += 16;
    if (n_order != c->n_order || (size_t)(end - p) < 4 * n_order + 4)
        return mlp_fail(err, MLP_EINVAL, "the checkpoint shuffles %llu rows, this run %zu",
                        (unsigned long long)n_order, c->n_order);
    for (size_t i = 0; i < c->n_order; i++, p += 4) {
        c->order[i] = mlp_get32(p);
        if (c->order[i] >= c->n_order)
            return mlp_fail(err, MLP_EFORMAT, "checkpoint: row %u out of range", c->order[i]);
    }
    uint32_t has_best = mlp_get32(p);
    p += 4;
    if (has_best) {
        if ((size_t)(end - p) < 4 * m->n_params + 8)
            return mlp_fail(err, MLP_EFORMAT, "checkpoint truncated in its best weights");
        for (size_t i = 0; c->best && i < m->n_params; i++)
            c->best[i] = mlp_bits_float(mlp_get32(p + 4 * i));
        p += 4 * m->n_params;
    }
    if ((size_t)(end - p) < 8) return mlp_fail(err, MLP_EFORMAT, "checkpoint truncated");
    uint64_t model_len = get64(p);
    p += 8;
    if (model_len != (uint64_t)(end - p))
        return mlp_fail(err, MLP_EFORMAT, "checkpoint: model of %llu bytes where %zu remain",
                        (unsigned long long)model_len, (size_t)(end - p));
    mlp_status s = restore_model(p, (size_t)model_len, m, o, err);
    if (s == MLP_OK) o->t = opt_t;
    return s;
}
