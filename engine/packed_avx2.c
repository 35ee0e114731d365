/* packed_avx2.c - the packed kernel's tiles for AVX2 + FMA (packed.c has the
 * layout and the driver).
 *
 * A tile is up to 6 rows x 16 outputs: 12 accumulators, 2 weight vectors and
 * 1 broadcast, 15 of the 16 ymm registers. Built through target attributes,
 * so the rest of the engine keeps the baseline instruction set; packed.c runs
 * it only where __builtin_cpu_supports says the CPU has both extensions.
 */
#include "internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define NR MLP_PACKED_NR
#define MR 6

static int supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* rb is a constant in each inlined copy, so the unused accumulators vanish. */
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

#else /* not x86-64: never chosen */

static int supported(void) {
    return 0;
}

static void tile_rows(int rb, float *c, int ldc, const float *x, int ldx, const float *w, int kc) {
    (void)rb, (void)c, (void)ldc, (void)x, (void)ldx, (void)w, (void)kc;
}

#define MR 6
#endif

const mlp_packed_kernel mlp_packed_kernel_avx2 = {"avx2-fma", "avx2",    MR,
                                                  supported,  tile_rows, NULL};
