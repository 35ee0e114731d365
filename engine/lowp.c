/* lowp.c - reduced-precision prediction (bf16, int8): weight layouts, the
 * layer driver shared by every instruction-set variant, and their choice.
 *
 * Why: at batch 1 a prediction is bound by reading the weights (2.1 MB of
 * float32 for 784-512-256-10, more than a 2 MB L2); bf16 halves that and
 * int8 quarters it, and CPUs with AVX512-BF16 / AVX512-VNNI multiply those
 * types natively (mlp.h defines each precision's arithmetic).
 *
 * One driver for every variant: it converts a layer's input rows (bf16
 * rounding, or int8 quantization per row), clears an accumulator block C
 * (B rows x outputs padded to 16), walks panels and row tiles exactly as
 * packed.c does, and finishes C into y (bias, int8 scales, activation).
 * Variants only supply the tiles (lowp_avx512.c, lowp_avx2.c,
 * lowp_portable.c), so they sum in the same order: int8 results are
 * bit-identical across variants, bf16 ones the same up to denormals.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define NR         MLP_PACKED_NR
#define KCW        128 /* input words per block: a 8 KiB panel block stays in L1 */
#define SMALL_ROWS 2   /* up to this many rows, inputs are not blocked */

struct mlp_lowp {
    mlp_precision p;
    int n_layers;
    uint32_t *w[MLP_MAX_LAYERS];  /* panels, as internal.h describes */
    float *scale[MLP_MAX_LAYERS]; /* int8: per output (padded to 16) */
    int32_t *sum[MLP_MAX_LAYERS]; /* int8: per output, sum of its int8 weights */
};

/* Best first: the automatic choice is the first the CPU supports. */
static const mlp_bf16_kernel *const bf16_kernels[] = {&mlp_bf16_kernel_amx, &mlp_bf16_kernel_avx512,
                                                      &mlp_bf16_kernel_avx2,
                                                      &mlp_bf16_kernel_portable};
static const mlp_int8_kernel *const int8_kernels[] = {&mlp_int8_kernel_amx, &mlp_int8_kernel_avx512,
                                                      &mlp_int8_kernel_avx2,
                                                      &mlp_int8_kernel_portable};
enum { N_VARIANTS = 4 };
static const mlp_bf16_kernel *bf16_active;
static const mlp_int8_kernel *int8_active;

/* The first supported variant of the family `want` names, else the best. */
#define CHOOSE(list, want, out)                                                                    \
    do {                                                                                           \
        (out) = NULL;                                                                              \
        for (int i_ = 0; i_ < N_VARIANTS && !(out); i_++)                                          \
            if (want && !strcmp(want, list[i_]->option) && list[i_]->supported())                  \
                (out) = list[i_];                                                                  \
        for (int i_ = 0; i_ < N_VARIANTS && !(out); i_++)                                          \
            if (list[i_]->supported()) (out) = list[i_];                                           \
    } while (0)

void mlp_lowp_select(const char *want) {
    CHOOSE(bf16_kernels, want, bf16_active);
    CHOOSE(int8_kernels, want, int8_active);
}

const char *mlp_kernel_name_for(mlp_precision p) {
    const char *f32 = mlp_kernel_name(); /* makes the choice on first use */
    if (p == MLP_PRECISION_BF16) return bf16_active->name;
    if (p == MLP_PRECISION_INT8) return int8_active->name;
    return f32;
}

static const char *const names[MLP_PRECISIONS] = {"float32", "bf16", "int8"};

const char *mlp_precision_name(mlp_precision p) {
    return (unsigned)p < MLP_PRECISIONS ? names[p] : "?";
}

int mlp_precision_from_name(const char *name, mlp_precision *out) {
    for (int i = 0; name && i < MLP_PRECISIONS; i++)
        if (!strcmp(name, names[i])) {
            *out = (mlp_precision)i;
            return 0;
        }
    return -1;
}

uint16_t mlp_bf16_round(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7f800000u) == 0) return (uint16_t)((u >> 16) & 0x8000u);        /* zero, denormal */
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static int padded(int O) {
    return (O + NR - 1) / NR * NR;
}

static int words(mlp_precision p, int In) {
    return mlp_lowp_words(p == MLP_PRECISION_BF16 ? 2 : 4, In);
}

static void lowp_free(struct mlp_lowp *q) {
    if (!q) return;
    for (int l = 0; l < q->n_layers; l++) free(q->w[l]), free(q->scale[l]), free(q->sum[l]);
    free(q);
}

void mlp_lowp_drop(mlp_model *m) {
    for (int i = 0; i < 2; i++) {
        lowp_free(m->lowp[i]);
        m->lowp[i] = NULL;
    }
}

static void pack_bf16(uint32_t *dst, const float *W, int In, int O) {
    int np = words(MLP_PRECISION_BF16, In);
    for (int p0 = 0; p0 < O; p0 += NR)
        for (int kp = 0; kp < np; kp++)
            for (int j = 0; j < NR; j++) {
                const float *row = W + (size_t)(p0 + j) * In;
                int k = 2 * kp, in = p0 + j < O;
                uint32_t lo = in && k < In ? mlp_bf16_round(row[k]) : 0;
                uint32_t hi = in && k + 1 < In ? mlp_bf16_round(row[k + 1]) : 0;
                *dst++ = lo | hi << 16;
            }
}

static void pack_int8(struct mlp_lowp *q, int l, const float *W, int In, int O) {
    int nq = words(MLP_PRECISION_INT8, In), Op = padded(O);
    for (int j = 0; j < Op; j++) {
        float amax = 0.0f;
        for (int k = 0; j < O && k < In; k++) amax = fmaxf(amax, fabsf(W[(size_t)j * In + k]));
        q->scale[l][j] = amax > 0.0f ? amax / 127.0f : 1.0f;
    }
    uint32_t *dst = q->w[l];
    for (int p0 = 0; p0 < O; p0 += NR)
        for (int kq = 0; kq < nq; kq++)
            for (int j = 0; j < NR; j++) {
                uint32_t word = 0;
                for (int t = 0; t < 4; t++) {
                    int k = 4 * kq + t, o = p0 + j;
                    long v = 0;
                    if (o < O && k < In) {
                        v = lrintf(W[(size_t)o * In + k] / q->scale[l][o]);
                        v = v > 127 ? 127 : v < -127 ? -127 : v;
                        q->sum[l][o] += (int32_t)v;
                    }
                    word |= (uint32_t)(uint8_t)(int8_t)v << (8 * t);
                }
                *dst++ = word;
            }
}

mlp_status mlp_model_pack_precision(mlp_model *m, mlp_precision p, mlp_error *err) {
    if (!m) return mlp_fail(err, MLP_EINVAL, "no model to pack");
    if (p == MLP_PRECISION_F32) return MLP_OK;
    if (p != MLP_PRECISION_BF16 && p != MLP_PRECISION_INT8)
        return mlp_fail(err, MLP_EINVAL, "unknown precision %d", (int)p);
    if (m->lowp[p - 1]) return MLP_OK;
    struct mlp_lowp *q = calloc(1, sizeof *q);
    if (!q) return mlp_fail(err, MLP_ENOMEM, "out of memory for the %s weights", names[p]);
    q->p = p;
    q->n_layers = m->arch.n_layers;
    for (int l = 0; l < q->n_layers; l++) {
        int In = m->arch.sizes[l], O = m->arch.sizes[l + 1], Op = padded(O);
        void *w = NULL;
        size_t bytes = (size_t)Op * (size_t)words(p, In) * sizeof(uint32_t);
        if (posix_memalign(&w, 64, bytes) != 0) w = NULL;
        q->w[l] = w;
        if (p == MLP_PRECISION_INT8) {
            q->scale[l] = malloc((size_t)Op * sizeof(float));
            q->sum[l] = calloc((size_t)Op, sizeof(int32_t));
        }
        if (!q->w[l] || (p == MLP_PRECISION_INT8 && (!q->scale[l] || !q->sum[l]))) {
            lowp_free(q);
            return mlp_fail(err, MLP_ENOMEM, "out of memory for the %s weights", names[p]);
        }
        if (p == MLP_PRECISION_BF16)
            pack_bf16(q->w[l], m->W[l], In, O);
        else
            pack_int8(q, l, m->W[l], In, O);
    }
    m->lowp[p - 1] = q;
    return MLP_OK;
}

int mlp_model_has_precision(const mlp_model *m, mlp_precision p) {
    if (p == MLP_PRECISION_F32) return 1;
    return (p == MLP_PRECISION_BF16 || p == MLP_PRECISION_INT8) && m->lowp[p - 1];
}

/* Widest layer input in words, widest padded output, over m's layers. */
static void widest(const mlp_model *m, int *in_words, int *out_pad) {
    *in_words = *out_pad = 0;
    for (int l = 0; l < m->arch.n_layers; l++) {
        int w = words(MLP_PRECISION_BF16, m->arch.sizes[l]), o = padded(m->arch.sizes[l + 1]);
        *in_words = w > *in_words ? w : *in_words;
        *out_pad = o > *out_pad ? o : *out_pad;
    }
}

size_t mlp_lowp_scratch_floats(const mlp_model *m, int batch) {
    if (!m->lowp[0] && !m->lowp[1]) return 0;
    int in_words, out_pad;
    widest(m, &in_words, &out_pad);
    return (size_t)batch * ((size_t)in_words + (size_t)out_pad + 1);
}

/* Layer inputs as bf16 pairs: xw (B, np). */
static void round_rows(uint32_t *xw, const float *x, int B, int In) {
    int np = words(MLP_PRECISION_BF16, In);
    for (int i = 0; i < B; i++) {
        const float *r = x + (size_t)i * In;
        for (int kp = 0; kp < np; kp++) {
            uint32_t lo = 2 * kp < In ? mlp_bf16_round(r[2 * kp]) : 0;
            uint32_t hi = 2 * kp + 1 < In ? mlp_bf16_round(r[2 * kp + 1]) : 0;
            xw[(size_t)i * np + kp] = lo | hi << 16;
        }
    }
}

/* Layer inputs quantized per row: xw (B, nq) bytes q + 128 with q =
 * round(x / s) in [-127, 127], s = max|x| / 127 (1 for an all-zero row);
 * sx (B) = s. Padding bytes are 128 (zero); their weights are zero anyway. */
static void quantize_rows(uint32_t *xw, float *sx, const float *x, int B, int In) {
    int nq = words(MLP_PRECISION_INT8, In);
    for (int i = 0; i < B; i++) {
        const float *r = x + (size_t)i * In;
        /* Plain comparisons and the 1.5 * 2^23 rounding trick (nearest, ties
         * to even, exact for |v| <= 2^22) instead of fmaxf and lrintf: the
         * loops vectorise; those library calls were half of a batch-1 int8
         * prediction. */
        float m[8] = {0}, amax = 0.0f;
        int k = 0;
        for (; k + 8 <= In; k += 8) /* eight running maxima: no one long chain */
            for (int t = 0; t < 8; t++) {
                float a = r[k + t] < 0.0f ? -r[k + t] : r[k + t];
                m[t] = a > m[t] ? a : m[t];
            }
        for (; k < In; k++) {
            float a = r[k] < 0.0f ? -r[k] : r[k];
            m[0] = a > m[0] ? a : m[0];
        }
        for (int t = 0; t < 8; t++) amax = m[t] > amax ? m[t] : amax;
        float inv = amax > 0.0f ? 127.0f / amax : 1.0f;
        sx[i] = amax > 0.0f ? amax / 127.0f : 1.0f;
        uint8_t *b = (uint8_t *)(xw + (size_t)i * nq);
        for (int k = 0; k < In; k++) {
            float v = (r[k] * inv + 12582912.0f) - 12582912.0f; /* |v| <= 127 */
            b[k] = (uint8_t)((int32_t)v + 128);
        }
        for (int k = In; k < 4 * nq; k++) b[k] = 128;
    }
}

/* C (B, Op) += x (B, nw words) times the panels W, by a variant's tiles;
 * `one` (bf16 only) for a batch of one row. */
#define DRIVE(kn, C, xw, W, B, nw, O, one_call)                                                    \
    do {                                                                                           \
        int Op_ = padded(O), kb_ = (B) <= SMALL_ROWS ? (nw) : KCW;                                 \
        for (int k0 = 0; k0 < (nw); k0 += kb_) {                                                   \
            int kc = (nw)-k0 < kb_ ? (nw)-k0 : kb_;                                                \
            for (int p0 = 0; p0 < (O); p0 += NR) {                                                 \
                const uint32_t *w = (W) + (size_t)p0 * (nw) + (size_t)k0 * NR;                     \
                if ((B) == 1 && one_call) {                                                        \
                    one_call((C) + p0, (xw) + k0, w, kc);                                          \
                    continue;                                                                      \
                }                                                                                  \
                for (int r = 0; r < (B); r += (kn)->mr) {                                          \
                    int rb = (B)-r < (kn)->mr ? (B)-r : (kn)->mr;                                  \
                    (kn)->rows(rb, (C) + (size_t)r * Op_ + p0, Op_, (xw) + (size_t)r * (nw) + k0,  \
                               (nw), w, kc);                                                       \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    } while (0)

void mlp_lowp_forward_layer(const mlp_model *m, mlp_precision p, int l, float *y, const float *x,
                            mlp_act act, int B, float *scratch) {
    mlp_kernel_name(); /* chooses the variants on first use */
    const struct mlp_lowp *q = m->lowp[p - 1];
    int In = m->arch.sizes[l], O = m->arch.sizes[l + 1], Op = padded(O), nw = words(p, In);
    int in_words, out_pad;
    widest(m, &in_words, &out_pad);
    uint32_t *xw = (uint32_t *)scratch;
    void *C = scratch + (size_t)B * in_words;
    float *sx = scratch + (size_t)B * ((size_t)in_words + (size_t)out_pad);
    const float *b = m->b[l];
    if (p == MLP_PRECISION_BF16) {
        const mlp_bf16_kernel *kn = bf16_active;
        float *c = C;
        if (kn->convert)
            kn->convert(xw, x, B, In);
        else
            round_rows(xw, x, B, In);
        if (kn->gemm)
            kn->gemm(c, Op, xw, nw, q->w[l], B, nw, O);
        else {
            memset(C, 0, (size_t)B * Op * sizeof(float));
            DRIVE(kn, c, xw, q->w[l], B, nw, O, kn->one);
        }
        if (kn->finish)
            kn->finish(y, c, Op, b, B, O);
        else
            for (int i = 0; i < B; i++)
                for (int j = 0; j < O; j++) y[(size_t)i * O + j] = b[j] + c[(size_t)i * Op + j];
    } else {
        const mlp_int8_kernel *kn = int8_active;
        int32_t *c = C;
        void (*no_one)(int32_t *, const uint32_t *, const uint32_t *, int) = NULL;
        if (kn->convert)
            kn->convert(xw, sx, x, B, In);
        else
            quantize_rows(xw, sx, x, B, In);
        if (kn->gemm)
            kn->gemm(c, Op, xw, nw, q->w[l], B, nw, O);
        else {
            memset(C, 0, (size_t)B * Op * sizeof(float));
            DRIVE(kn, c, xw, q->w[l], B, nw, O, no_one);
        }
        if (kn->finish)
            kn->finish(y, c, Op, b, sx, q->scale[l], q->sum[l], B, O);
        else
            for (int i = 0; i < B; i++)
                for (int j = 0; j < O; j++) {
                    int32_t s = c[(size_t)i * Op + j] - 128 * q->sum[l][j];
                    y[(size_t)i * O + j] = b[j] + sx[i] * q->scale[l][j] * (float)s;
                }
    }
    mlp_act_rows(y, act, B, O);
}
