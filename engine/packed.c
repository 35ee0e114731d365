/* packed.c - the small-batch prediction kernel: weight layout, driver, and
 * the run-time choice of its instruction set.
 *
 * Why: a prediction batch is a few rows (the daemon's batcher sees 1-64), and
 * OpenBLAS' sgemm repacks the whole weight matrix on every call (1.6 MB for
 * the reference network's first layer): at 16 rows the packing was a third
 * of the product's time in the daemon's profile. Weights do not change while
 * serving, so they are packed once (mlp_model_pack) and the kernel reads them
 * as they are.
 *
 * Layout: per layer, panels of NR = 16 outputs; inside a panel, for each
 * input k, the 16 weights W[p + j][k] (j = 0..15) are contiguous, so one
 * broadcast input value times one 16-float row (one zmm, two ymm) updates 16
 * outputs. The last panel is zero-padded to 16 outputs. A layer (O, I) takes
 * ceil(O/16) * 16 * I floats.
 *
 * Driver: y (B,O) += x (B,I) W^T by register tiles of up to mr rows x 16
 * outputs (mr is the variant's: 12 for AVX-512's 32 registers, 6 for AVX2's
 * 16, 4 portable), or mr rows x 32 outputs over two adjacent whole panels
 * where the variant has such a tile (AVX-512: each broadcast input then
 * feeds two FMAs, which took the first reference layer at 128 rows from
 * ~155 to ~190 GFLOP/s on one core), over blocks of KC inputs so a panel
 * block (KC x 16 floats, 16 KiB; 32 KiB for a pair) stays in L1 while every
 * row block of the batch passes over it. Row blocks are the same for both
 * tile widths, so an output's additions do not depend on whether its panel
 * was paired (which depends on the range of panels computed).
 * Below SMALL_ROWS rows the inputs are not blocked: each panel is then read
 * as one stream, which is what bounds a one- or two-row product.
 *
 * Split: mlp_dense_packed_panels computes any range of whole panels, with
 * the bits the whole layer gives them, so split.c can share a layer's
 * panels between cores (pool.c).
 *
 * Variants (one tile function each, same layout, so a model is packed once
 * whatever runs it): packed_avx512.c, packed_avx2.c, packed_portable.c.
 * Chosen once per process: avx512 > avx2-fma > portable by what the CPU
 * supports (__builtin_cpu_supports), unless MLPD_KERNEL=avx512|avx2|portable
 * asks for one; a request the CPU cannot run falls back to the best it can,
 * and mlp_kernel_name() says so. Results differ from sgemm's only by float
 * summation order.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define KC         256 /* inputs per block: a 16 KiB panel block stays in L1 */
#define SMALL_ROWS 2   /* up to this many rows, inputs are not blocked */

/* Best first: the automatic choice is the first the CPU supports. */
static const mlp_packed_kernel *const kernels[] = {
    &mlp_packed_kernel_avx512,
    &mlp_packed_kernel_avx2,
    &mlp_packed_kernel_portable,
};
enum { N_KERNELS = sizeof kernels / sizeof kernels[0] };

static const mlp_packed_kernel *active;
static char active_name[96];
static pthread_once_t chosen = PTHREAD_ONCE_INIT;
static void choose_from_env(void);

static size_t panel_floats(int In, int O) {
    return (size_t)((O + MLP_PACKED_NR - 1) / MLP_PACKED_NR) * MLP_PACKED_NR * (size_t)In;
}

static const char *select_kernel(const char *want) {
    const mlp_packed_kernel *best = NULL, *asked = NULL;
    for (int i = 0; i < N_KERNELS; i++) {
        if (!best && kernels[i]->supported()) best = kernels[i];
        if (want && !strcmp(want, kernels[i]->option)) asked = kernels[i];
    }
    active = asked && asked->supported() ? asked : best;
    mlp_lowp_select(want && *want ? want : NULL);
    if (!want || !*want || active == asked)
        snprintf(active_name, sizeof active_name, "%s", active->name);
    else
        snprintf(active_name, sizeof active_name, "%s (MLPD_KERNEL=%.16s %s)", active->name, want,
                 asked ? "unsupported by this CPU" : "unknown");
    return active_name;
}

const char *mlp_kernel_select(const char *want) {
    pthread_once(&chosen, choose_from_env); /* so a later first use keeps this choice */
    return select_kernel(want);
}

int mlp_kernel_is(const char *option) {
    mlp_kernel_name();
    return !strcmp(active->option, option);
}

static void choose_from_env(void) {
    select_kernel(getenv("MLPD_KERNEL"));
}

const char *mlp_kernel_name(void) {
    pthread_once(&chosen, choose_from_env);
    return active_name;
}

mlp_status mlp_model_pack(mlp_model *m, mlp_error *err) {
    if (!m) return mlp_fail(err, MLP_EINVAL, "no model to pack");
    if (m->packed) return MLP_OK;
    const mlp_arch *a = &m->arch;
    size_t total = 0;
    for (int l = 0; l < a->n_layers; l++) total += panel_floats(a->sizes[l], a->sizes[l + 1]);
    void *p = NULL;
    if (posix_memalign(&p, 64, total * sizeof(float)) != 0)
        return mlp_fail(err, MLP_ENOMEM, "out of memory for the packed weights (%zu floats)",
                        total);
    float *dst = p;
    for (int l = 0; l < a->n_layers; l++) {
        int In = a->sizes[l], O = a->sizes[l + 1];
        const float *W = m->W[l];
        for (int p0 = 0; p0 < O; p0 += MLP_PACKED_NR)
            for (int k = 0; k < In; k++)
                for (int j = 0; j < MLP_PACKED_NR; j++)
                    *dst++ = p0 + j < O ? W[(size_t)(p0 + j) * In + k] : 0.0f;
    }
    m->packed = p;
    return MLP_OK;
}

void mlp_model_unpack(mlp_model *m) {
    if (!m) return;
    free(m->packed);
    m->packed = NULL;
    mlp_lowp_drop(m);
}

const float *mlp_packed_layer(const mlp_model *m, int layer) {
    if (!m->packed) return NULL;
    const float *p = m->packed;
    for (int l = 0; l < layer; l++) p += panel_floats(m->arch.sizes[l], m->arch.sizes[l + 1]);
    return p;
}

/* y (B,O) += x (B,In) W^T for the outputs of panels [pa, pb) of Wp, by
 * kernel kn's tiles. Each output gets the same additions in the same order
 * whatever range it is computed in (input blocks outer), so a layer split
 * by panels gives the bits of the whole layer. */
static void packed_gemm(const mlp_packed_kernel *kn, float *y, const float *x, const float *Wp,
                        int B, int In, int O, int pa, int pb) {
    enum { NR = MLP_PACKED_NR };
    int kb = B <= SMALL_ROWS ? In : KC, mr = kn->mr;
    float edge[MLP_PACKED_MAX_MR * NR]; /* the last, partial panel's outputs */
    for (int k0 = 0; k0 < In; k0 += kb) {
        int kc = In - k0 < kb ? In - k0 : kb;
        int end = pb * NR < O ? pb * NR : O;
        for (int p0 = pa * NR; p0 < end; p0 += NR) {
            const float *w = Wp + (size_t)p0 * In + (size_t)k0 * NR;
            if (kn->tile_rows2 && p0 + 2 * NR <= end) { /* two whole panels */
                for (int r = 0; r < B; r += mr) {
                    int rb = B - r < mr ? B - r : mr;
                    kn->tile_rows2(rb, y + (size_t)r * O + p0, O, x + (size_t)r * In + k0, In, w,
                                   (size_t)NR * In, kc);
                }
                p0 += NR;
                continue;
            }
            for (int r = 0; r < B; r += mr) {
                int rb = B - r < mr ? B - r : mr;
                const float *xr = x + (size_t)r * In + k0;
                if (p0 + NR <= O) {
                    kn->tile_rows(rb, y + (size_t)r * O + p0, O, xr, In, w, kc);
                    continue;
                }
                memset(edge, 0, sizeof edge);
                kn->tile_rows(rb, edge, NR, xr, In, w, kc);
                for (int i = 0; i < rb; i++)
                    for (int j = 0; p0 + j < O; j++)
                        y[(size_t)(r + i) * O + p0 + j] += edge[i * NR + j];
            }
        }
    }
}

void mlp_dense_packed_panels(float *y, const float *x, const float *Wp, const float *b, mlp_act act,
                             int B, int In, int O, int pa, int pb) {
    mlp_kernel_name(); /* chooses the kernel on first use */
    int c0 = pa * MLP_PACKED_NR, c1 = pb * MLP_PACKED_NR < O ? pb * MLP_PACKED_NR : O;
    if (c0 >= c1) return;
    for (int i = 0; i < B; i++)
        memcpy(y + (size_t)i * O + c0, b + c0, (size_t)(c1 - c0) * sizeof *y);
    packed_gemm(active, y, x, Wp, B, In, O, pa, pb);
    if (c0 == 0 && c1 == O)
        mlp_act_rows(y, act, B, O);
    else /* an elementwise activation (the caller's contract) */
        for (int i = 0; i < B; i++) mlp_act_rows(y + (size_t)i * O + c0, act, 1, c1 - c0);
}

void mlp_dense_packed_forward(float *y, const float *x, const float *Wp, const float *b,
                              mlp_act act, int B, int In, int O) {
    mlp_dense_packed_panels(y, x, Wp, b, act, B, In, O, 0, mlp_packed_panels(O));
}
