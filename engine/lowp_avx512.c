/* lowp_avx512.c - the reduced-precision tiles for AVX512-BF16 (vdpbf16ps)
 * and AVX512-VNNI (vpdpbusd); lowp.c has the layouts and the driver.
 *
 * One panel block row of 16 outputs is one zmm in both layouts (16 words of
 * two bf16 or four int8), so a tile row is one accumulator: up to 12 rows.
 * Built through target attributes; chosen only where
 * __builtin_cpu_supports says the CPU has the extension.
 */
#include "internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define NR          MLP_PACKED_NR
#define MR          12
#define BF16_TARGET __attribute__((target("avx512f,avx512bf16")))
#define VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni")))

static int bf16_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
}

static int vnni_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vnni");
}

/* acc += the pairs of x (one word, broadcast) times the pairs of w. */
#define DP(acc, xword, wv)                                                                         \
    _mm512_dpbf16_ps((acc), (__m512bh)_mm512_set1_epi32((int)(xword)), (__m512bh)(wv))

BF16_TARGET __attribute__((always_inline)) static inline void
bf16_tile(int rb, float *c, int ldc, const uint32_t *x, int ldx, const uint32_t *w, int np) {
    __m512 a[MR];
    for (int i = 0; i < MR; i++) a[i] = _mm512_setzero_ps();
    for (int kp = 0; kp < np; kp++) {
        __m512i wv = _mm512_loadu_si512(w + (size_t)kp * NR);
#pragma GCC unroll 12
        for (int i = 0; i < MR; i++)
            if (i < rb) a[i] = DP(a[i], x[(size_t)i * ldx + kp], wv);
    }
    for (int i = 0; i < rb; i++) {
        float *ci = c + (size_t)i * ldc;
        _mm512_storeu_ps(ci, _mm512_add_ps(_mm512_loadu_ps(ci), a[i]));
    }
}

BF16_TARGET static void bf16_rows(int rb, float *c, int ldc, const uint32_t *x, int ldx,
                                  const uint32_t *w, int np) {
    switch (rb) {
    case 12: bf16_tile(12, c, ldc, x, ldx, w, np); break;
    case 11: bf16_tile(11, c, ldc, x, ldx, w, np); break;
    case 10: bf16_tile(10, c, ldc, x, ldx, w, np); break;
    case 9: bf16_tile(9, c, ldc, x, ldx, w, np); break;
    case 8: bf16_tile(8, c, ldc, x, ldx, w, np); break;
    case 7: bf16_tile(7, c, ldc, x, ldx, w, np); break;
    case 6: bf16_tile(6, c, ldc, x, ldx, w, np); break;
    case 5: bf16_tile(5, c, ldc, x, ldx, w, np); break;
    case 4: bf16_tile(4, c, ldc, x, ldx, w, np); break;
    case 3: bf16_tile(3, c, ldc, x, ldx, w, np); break;
    case 2: bf16_tile(2, c, ldc, x, ldx, w, np); break;
    default: bf16_tile(1, c, ldc, x, ldx, w, np); break;
    }
}

BF16_TARGET static void bf16_one(float *c, const uint32_t *x, const uint32_t *w, int np) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int kp = 0;
    for (; kp + 4 <= np; kp += 4) {
        const uint32_t *wk = w + (size_t)kp * NR;
        a0 = DP(a0, x[kp], _mm512_loadu_si512(wk));
        a1 = DP(a1, x[kp + 1], _mm512_loadu_si512(wk + NR));
        a2 = DP(a2, x[kp + 2], _mm512_loadu_si512(wk + 2 * NR));
        a3 = DP(a3, x[kp + 3], _mm512_loadu_si512(wk + 3 * NR));
    }
    for (; kp < np; kp++) a0 = DP(a0, x[kp], _mm512_loadu_si512(w + (size_t)kp * NR));
    __m512 s = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
    _mm512_storeu_ps(c, _mm512_add_ps(_mm512_loadu_ps(c), s));
}

#define DPB(acc, xword, wv) _mm512_dpbusd_epi32((acc), _mm512_set1_epi32((int)(xword)), (wv))

VNNI_TARGET __attribute__((always_inline)) static inline void
int8_tile(int rb, int32_t *c, int ldc, const uint32_t *x, int ldx, const uint32_t *w, int nq) {
    __m512i a[MR];
    for (int i = 0; i < MR; i++) a[i] = _mm512_setzero_si512();
    for (int kq = 0; kq < nq; kq++) {
        __m512i wv = _mm512_loadu_si512(w + (size_t)kq * NR);
#pragma GCC unroll 12
        for (int i = 0; i < MR; i++)
            if (i < rb) a[i] = DPB(a[i], x[(size_t)i * ldx + kq], wv);
    }
    for (int i = 0; i < rb; i++) {
        int32_t *ci = c + (size_t)i * ldc;
        _mm512_storeu_si512(ci, _mm512_add_epi32(_mm512_loadu_si512(ci), a[i]));
    }
}

/* One row: four accumulators (integer sums: the split changes nothing). */
VNNI_TARGET static void int8_one(int32_t *c, const uint32_t *x, const uint32_t *w, int nq) {
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    int kq = 0;
    for (; kq + 4 <= nq; kq += 4) {
        const uint32_t *wk = w + (size_t)kq * NR;
        a0 = DPB(a0, x[kq], _mm512_loadu_si512(wk));
        a1 = DPB(a1, x[kq + 1], _mm512_loadu_si512(wk + NR));
        a2 = DPB(a2, x[kq + 2], _mm512_loadu_si512(wk + 2 * NR));
        a3 = DPB(a3, x[kq + 3], _mm512_loadu_si512(wk + 3 * NR));
    }
    for (; kq < nq; kq++) a0 = DPB(a0, x[kq], _mm512_loadu_si512(w + (size_t)kq * NR));
    __m512i s = _mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3));
    _mm512_storeu_si512(c, _mm512_add_epi32(_mm512_loadu_si512(c), s));
}

VNNI_TARGET static void int8_rows(int rb, int32_t *c, int ldc, const uint32_t *x, int ldx,
                                  const uint32_t *w, int nq) {
    switch (rb) {
    case 12: int8_tile(12, c, ldc, x, ldx, w, nq); break;
    case 11: int8_tile(11, c, ldc, x, ldx, w, nq); break;
    case 10: int8_tile(10, c, ldc, x, ldx, w, nq); break;
    case 9: int8_tile(9, c, ldc, x, ldx, w, nq); break;
    case 8: int8_tile(8, c, ldc, x, ldx, w, nq); break;
    case 7: int8_tile(7, c, ldc, x, ldx, w, nq); break;
    case 6: int8_tile(6, c, ldc, x, ldx, w, nq); break;
    case 5: int8_tile(5, c, ldc, x, ldx, w, nq); break;
    case 4: int8_tile(4, c, ldc, x, ldx, w, nq); break;
    case 3: int8_tile(3, c, ldc, x, ldx, w, nq); break;
    case 2: int8_tile(2, c, ldc, x, ldx, w, nq); break;
    default: int8_one(c, x, w, nq); break;
    }
}

#else /* not x86-64: never chosen */

static int bf16_supported(void) {
    return 0;
}
static int vnni_supported(void) {
    return 0;
}
static void bf16_rows(int rb, float *c, int ldc, const uint32_t *x, int ldx, const uint32_t *w,
                      int np) {
    (void)rb, (void)c, (void)ldc, (void)x, (void)ldx, (void)w, (void)np;
}
static void bf16_one(float *c, const uint32_t *x, const uint32_t *w, int np) {
    (void)c, (void)x, (void)w, (void)np;
}
static void int8_rows(int rb, int32_t *c, int ldc, const uint32_t *x, int ldx, const uint32_t *w,
                      int nq) {
    (void)rb, (void)c, (void)ldc, (void)x, (void)ldx, (void)w, (void)nq;
}
#define MR 12
#endif

const mlp_bf16_kernel mlp_bf16_kernel_avx512 = {.name = "avx512-bf16",
                                                .option = "avx512",
                                                .mr = MR,
                                                .supported = bf16_supported,
                                                .rows = bf16_rows,
                                                .one = bf16_one,
                                                .convert = mlp_lowp_avx512_round_rows,
                                                .finish = mlp_lowp_avx512_finish_bf16};
const mlp_int8_kernel mlp_int8_kernel_avx512 = {.name = "avx512-vnni",
                                                .option = "avx512",
                                                .mr = MR,
                                                .supported = vnni_supported,
                                                .rows = int8_rows,
                                                .convert = mlp_lowp_avx512_quantize_rows,
                                                .finish = mlp_lowp_avx512_finish_int8};
