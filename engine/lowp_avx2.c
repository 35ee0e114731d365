/* lowp_avx2.c - the reduced-precision tiles for AVX2 + FMA (lowp.c has the
 * layouts and the driver), for CPUs without AVX512-BF16 / AVX512-VNNI.
 *
 * bf16: a word holds two bf16 of the same output; shifting it left 16 bits
 * gives the low one as a float32, masking the low half the high one, and a
 * fused multiply-add of two bf16 values is exact before its one rounding,
 * so each step equals vdpbf16ps' (high half first). Tiles of up to 4 rows:
 * 8 accumulators, 4 weight vectors, 2 broadcasts.
 * int8: AVX2's byte product (vpmaddubsw) saturates at 16 bits (255 * 127 * 2
 * does not fit), so weights are widened to int16 and multiplied by vpmaddwd,
 * exact in int32: 4 accumulators per row, tiles of up to 2 rows.
 */
#include "internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define NR      MLP_PACKED_NR
#define BF16_MR 4
#define INT8_MR 2
#define TARGET  __attribute__((target("avx2,fma")))

static int supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* The 8 words at p as (low halves, high halves) in float32. */
#define SPLIT(p, lo, hi)                                                                           \
    do {                                                                                           \
        __m256i v_ = _mm256_loadu_si256((const __m256i *)(p));                                     \
        lo = _mm256_castsi256_ps(_mm256_slli_epi32(v_, 16));                                       \
        hi = _mm256_castsi256_ps(_mm256_and_si256(v_, _mm256_set1_epi32((int)0xffff0000u)));       \
    } while (0)
#define XLO(xw) _mm256_castsi256_ps(_mm256_set1_epi32((int)((xw) << 16)))
#define XHI(xw) _mm256_castsi256_ps(_mm256_set1_epi32((int)((xw)&0xffff0000u)))

TARGET __attribute__((always_inline)) static inline void
bf16_tile(int rb, float *c, int ldc, const uint32_t *x, int ldx, const uint32_t *w, int np) {
    __m256 a[BF16_MR][2];
    for (int i = 0; i < BF16_MR; i++) a[i][0] = a[i][1] = _mm256_setzero_ps();
    for (int kp = 0; kp < np; kp++) {
        __m256 l0, h0, l1, h1;
        SPLIT(w + (size_t)kp * NR, l0, h0);
        SPLIT(w + (size_t)kp * NR + 8, l1, h1);
#pragma GCC unroll 4
        for (int i = 0; i < BF16_MR; i++) {
            if (i >= rb) continue;
            uint32_t xw = x[(size_t)i * ldx + kp];
            __m256 xh = XHI(xw), xl = XLO(xw);
            a[i][0] = _mm256_fmadd_ps(xl, l0, _mm256_fmadd_ps(xh, h0, a[i][0]));
            a[i][1] = _mm256_fmadd_ps(xl, l1, _mm256_fmadd_ps(xh, h1, a[i][1]));
        }
    }
    for (int i = 0; i < rb; i++) {
        float *ci = c + (size_t)i * ldc;
        _mm256_storeu_ps(ci, _mm256_add_ps(_mm256_loadu_ps(ci), a[i][0]));
        _mm256_storeu_ps(ci + 8, _mm256_add_ps(_mm256_loadu_ps(ci + 8), a[i][1]));
    }
}

TARGET static void bf16_rows(int rb, float *c, int ldc, const uint32_t *x, int ldx,
                             const uint32_t *w, int np) {
    switch (rb) {
    case 4: bf16_tile(4, c, ldc, x, ldx, w, np); break;
    case 3: bf16_tile(3, c, ldc, x, ldx, w, np); break;
    case 2: bf16_tile(2, c, ldc, x, ldx, w, np); break;
    default: bf16_tile(1, c, ldc, x, ldx, w, np); break;
    }
}

/* One pair into accumulators (lo8, hi8): high half first, as vdpbf16ps. */
#define PAIR(a, xw, p)                                                                             \
    do {                                                                                           \
        __m256 l0_, h0_, l1_, h1_, xh_ = XHI(xw), xl_ = XLO(xw);                                   \
        SPLIT(p, l0_, h0_);                                                                        \
        SPLIT((p) + 8, l1_, h1_);                                                                  \
        a[0] = _mm256_fmadd_ps(xl_, l0_, _mm256_fmadd_ps(xh_, h0_, a[0]));                         \
        a[1] = _mm256_fmadd_ps(xl_, l1_, _mm256_fmadd_ps(xh_, h1_, a[1]));                         \
    } while (0)

TARGET static void bf16_one(float *c, const uint32_t *x, const uint32_t *w, int np) {
    __m256 a0[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    __m256 a1[2] = {a0[0], a0[0]}, a2[2] = {a0[0], a0[0]}, a3[2] = {a0[0], a0[0]};
    int kp = 0;
    for (; kp + 4 <= np; kp += 4) {
        const uint32_t *wk = w + (size_t)kp * NR;
        PAIR(a0, x[kp], wk);
        PAIR(a1, x[kp + 1], wk + NR);
        PAIR(a2, x[kp + 2], wk + 2 * NR);
        PAIR(a3, x[kp + 3], wk + 3 * NR);
    }
    for (; kp < np; kp++) PAIR(a0, x[kp], w + (size_t)kp * NR);
    for (int h = 0; h < 2; h++) {
        __m256 s = _mm256_add_ps(_mm256_add_ps(a0[h], a1[h]), _mm256_add_ps(a2[h], a3[h]));
        _mm256_storeu_ps(c + 8 * h, _mm256_add_ps(_mm256_loadu_ps(c + 8 * h), s));
    }
}

/* Four unsigned bytes as four int16 in 64 bits, broadcast. */
static inline __attribute__((always_inline)) long long widen4(uint32_t v) {
    uint64_t e = (uint64_t)(v & 0xffu) | (uint64_t)(v >> 8 & 0xffu) << 16 |
                 (uint64_t)(v >> 16 & 0xffu) << 32 | (uint64_t)(v >> 24) << 48;
    return (long long)e;
}

/* Accumulator t of a row holds outputs 4t..4t+3 as two partial sums each. */
TARGET __attribute__((always_inline)) static inline void
int8_tile(int rb, int32_t *c, int ldc, const uint32_t *x, int ldx, const uint32_t *w, int nq) {
    __m256i a[INT8_MR][4];
    for (int i = 0; i < INT8_MR; i++)
        for (int t = 0; t < 4; t++) a[i][t] = _mm256_setzero_si256();
    for (int kq = 0; kq < nq; kq++) {
        const __m128i *wk = (const __m128i *)(w + (size_t)kq * NR);
        __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(wk));
        __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(wk + 1));
        __m256i w2 = _mm256_cvtepi8_epi16(_mm_loadu_si128(wk + 2));
        __m256i w3 = _mm256_cvtepi8_epi16(_mm_loadu_si128(wk + 3));
        for (int i = 0; i < INT8_MR; i++) {
            if (i >= rb) continue;
            __m256i xv = _mm256_set1_epi64x(widen4(x[(size_t)i * ldx + kq]));
            a[i][0] = _mm256_add_epi32(a[i][0], _mm256_madd_epi16(w0, xv));
            a[i][1] = _mm256_add_epi32(a[i][1], _mm256_madd_epi16(w1, xv));
            a[i][2] = _mm256_add_epi32(a[i][2], _mm256_madd_epi16(w2, xv));
            a[i][3] = _mm256_add_epi32(a[i][3], _mm256_madd_epi16(w3, xv));
        }
    }
    for (int i = 0; i < rb; i++) {
        int32_t part[2 * NR];
        for (int t = 0; t < 4; t++) _mm256_storeu_si256((__m256i *)(part + 8 * t), a[i][t]);
        for (int j = 0; j < NR; j++) c[(size_t)i * ldc + j] += part[2 * j] + part[2 * j + 1];
    }
}

TARGET static void int8_rows(int rb, int32_t *c, int ldc, const uint32_t *x, int ldx,
                             const uint32_t *w, int nq) {
    if (rb >= 2)
        int8_tile(2, c, ldc, x, ldx, w, nq);
    else
        int8_tile(1, c, ldc, x, ldx, w, nq);
}

#else /* not x86-64: never chosen */

static int supported(void) {
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
#define BF16_MR 4
#define INT8_MR 2
#endif

const mlp_bf16_kernel mlp_bf16_kernel_avx2 = {.name = "avx2-fma",
                                              .option = "avx2",
                                              .mr = BF16_MR,
                                              .supported = supported,
                                              .rows = bf16_rows,
                                              .one = bf16_one};
const mlp_int8_kernel mlp_int8_kernel_avx2 = {
    .name = "avx2", .option = "avx2", .mr = INT8_MR, .supported = supported, .rows = int8_rows};
