/* packed.c - the small-batch prediction kernel and its weight layout.
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
 * broadcast input value times two 8-float vectors updates 16 outputs. The
 * last panel is zero-padded to 16 outputs. A layer (O, I) takes
 * ceil(O/16) * 16 * I floats.
 *
 * Kernel: y (B,O) += x (B,I) W^T by register tiles of up to 6 rows x 16
 * outputs (12 accumulators, 2 weight vectors, 1 broadcast: 15 of the 16 AVX
 * registers), over blocks of KC inputs so a panel block (KC x 16 floats,
 * 16 KiB) stays in L1 while every row block of the batch passes over it.
 * Below SMALL_ROWS rows the inputs are not blocked: each panel is then read
 * as one stream, which is what bounds a one- or two-row product.
 *
 * Built for AVX2 + FMA through target attributes and chosen at run time
 * (mlp_model_pack packs nothing on other CPUs, and forward() falls back to
 * CBLAS). Results differ from sgemm's only by float summation order.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_X86_KERNEL 1
#include <immintrin.h>
#else
#define HAVE_X86_KERNEL 0
#endif

#define NR         16  /* outputs per panel: two 8-float vectors */
#define MR         6   /* rows per register tile */
#define KC         256 /* inputs per block: a 16 KiB panel block stays in L1 */
#define SMALL_ROWS 2   /* up to this many rows, inputs are not blocked */

static size_t panel_floats(int In, int O) {
    return (size_t)((O + NR - 1) / NR) * NR * (size_t)In;
}

int mlp_packed_supported(void) {
#if HAVE_X86_KERNEL
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

const char *mlp_kernel_name(void) {
    return mlp_packed_supported() ? "avx2-fma" : "cblas";
}

mlp_status mlp_model_pack(mlp_model *m, mlp_error *err) {
    if (!m) return mlp_fail(err, MLP_EINVAL, "no model to pack");
    if (m->packed || !mlp_packed_supported()) return MLP_OK;
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
        for (int p0 = 0; p0 < O; p0 += NR)
            for (int k = 0; k < In; k++)
                for (int j = 0; j < NR; j++)
                    *dst++ = p0 + j < O ? W[(size_t)(p0 + j) * In + k] : 0.0f;
    }
    m->packed = p;
    return MLP_OK;
}

void mlp_model_unpack(mlp_model *m) {
    if (!m) return;
    free(m->packed);
    m->packed = NULL;
}

const float *mlp_packed_layer(const mlp_model *m, int layer) {
    if (!m->packed) return NULL;
    const float *p = m->packed;
    for (int l = 0; l < layer; l++) p += panel_floats(m->arch.sizes[l], m->arch.sizes[l + 1]);
    return p;
}

#if HAVE_X86_KERNEL

/* c (rb rows, stride ldc, 16 columns) += x (rb rows, stride ldx) [0..kc) times
 * the panel block w (kc x 16). rb is a constant in each inlined copy, so the
 * unused accumulators vanish. */
__attribute__((target("avx2,fma"), always_inline)) static inline void
tile(int rb, float *c, int ldc, const float *x, int ldx, const float *w, int kc) {
    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00,
           a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00;
/* One row's update of a tile: its input k broadcast, times both weight vectors. */
#define TILE_ROW(i)                                                                                \
    if (rb > (i)) {                                                                                \
        v = _mm256_broadcast_ss(x + (size_t)(i) * (size_t)ldx + k);                                \
        a##i##0 = _mm256_fmadd_ps(v, w0, a##i##0);                                                 \
        a##i##1 = _mm256_fmadd_ps(v, w1, a##i##1);                                                 \
    }
    for (int k = 0; k < kc; k++) {
        __m256 w0 = _mm256_loadu_ps(w + (size_t)k * NR);
        __m256 w1 = _mm256_loadu_ps(w + (size_t)k * NR + 8);
        __m256 v;
        TILE_ROW(0) TILE_ROW(1) TILE_ROW(2) TILE_ROW(3) TILE_ROW(4) TILE_ROW(5)
    }
#undef TILE_ROW
    __m256 acc[MR][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31}, {a40, a41}, {a50, a51}};
    for (int i = 0; i < rb; i++) {
        float *ci = c + (size_t)i * ldc;
        _mm256_storeu_ps(ci, _mm256_add_ps(_mm256_loadu_ps(ci), acc[i][0]));
        _mm256_storeu_ps(ci + 8, _mm256_add_ps(_mm256_loadu_ps(ci + 8), acc[i][1]));
    }
}

/* One row: two independent accumulator pairs over alternate inputs, so the
 * loop is not one chain of dependent FMAs (4 cycles each); one row is bound
 * by reading the weights, which this streams panel by panel. Measured on the
 * first reference layer: 28-30 us, as OpenBLAS' sgemv. */
__attribute__((target("avx2,fma"))) static void tile_one_row(float *c, const float *x,
                                                             const float *w, int kc) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0;
    int k = 0;
    for (; k + 2 <= kc; k += 2) {
        __m256 v = _mm256_broadcast_ss(x + k), u = _mm256_broadcast_ss(x + k + 1);
        a0 = _mm256_fmadd_ps(v, _mm256_loadu_ps(w + (size_t)k * NR), a0);
        a1 = _mm256_fmadd_ps(v, _mm256_loadu_ps(w + (size_t)k * NR + 8), a1);
        b0 = _mm256_fmadd_ps(u, _mm256_loadu_ps(w + (size_t)(k + 1) * NR), b0);
        b1 = _mm256_fmadd_ps(u, _mm256_loadu_ps(w + (size_t)(k + 1) * NR + 8), b1);
    }
    if (k < kc) {
        __m256 v = _mm256_broadcast_ss(x + k);
        a0 = _mm256_fmadd_ps(v, _mm256_loadu_ps(w + (size_t)k * NR), a0);
        a1 = _mm256_fmadd_ps(v, _mm256_loadu_ps(w + (size_t)k * NR + 8), a1);
    }
    _mm256_storeu_ps(c, _mm256_add_ps(_mm256_loadu_ps(c), _mm256_add_ps(a0, b0)));
    _mm256_storeu_ps(c + 8, _mm256_add_ps(_mm256_loadu_ps(c + 8), _mm256_add_ps(a1, b1)));
}

__attribute__((target("avx2,fma"))) static void tile_rows(int rb, float *c, int ldc, const float *x,
                                                          int ldx, const float *w, int kc) {
    switch (rb) {
    case 6: tile(6, c, ldc, x, ldx, w, kc); break;
    case 5: tile(5, c, ldc, x, ldx, w, kc); break;
    case 4: tile(4, c, ldc, x, ldx, w, kc); break;
    case 3: tile(3, c, ldc, x, ldx, w, kc); break;
    case 2: tile(2, c, ldc, x, ldx, w, kc); break;
    default: tile_one_row(c, x, w, kc); break;
    }
}

/* y (B,O) += x (B,In) W^T from the packed panels Wp. */
static void packed_gemm(float *y, const float *x, const float *Wp, int B, int In, int O) {
    int kb = B <= SMALL_ROWS ? In : KC;
    float edge[MR * NR]; /* the last, partial panel's outputs */
    for (int k0 = 0; k0 < In; k0 += kb) {
        int kc = In - k0 < kb ? In - k0 : kb;
        for (int p0 = 0; p0 < O; p0 += NR) {
            const float *w = Wp + (size_t)p0 * In + (size_t)k0 * NR;
            for (int r = 0; r < B; r += MR) {
                int rb = B - r < MR ? B - r : MR;
                const float *xr = x + (size_t)r * In + k0;
                if (p0 + NR <= O) {
                    tile_rows(rb, y + (size_t)r * O + p0, O, xr, In, w, kc);
                    continue;
                }
                memset(edge, 0, sizeof edge);
                tile_rows(rb, edge, NR, xr, In, w, kc);
                for (int i = 0; i < rb; i++)
                    for (int j = 0; p0 + j < O; j++)
                        y[(size_t)(r + i) * O + p0 + j] += edge[i * NR + j];
            }
        }
    }
}

#else

static void packed_gemm(float *y, const float *x, const float *Wp, int B, int In, int O) {
    (void)y, (void)x, (void)Wp, (void)B, (void)In, (void)O; /* never packed here */
}

#endif

void mlp_dense_packed_forward(float *y, const float *x, const float *Wp, const float *b,
                              mlp_act act, int B, int In, int O) {
    for (int i = 0; i < B; i++) memcpy(y + (size_t)i * O, b, (size_t)O * sizeof *y);
    packed_gemm(y, x, Wp, B, In, O);
    mlp_act_rows(y, act, B, O);
}
