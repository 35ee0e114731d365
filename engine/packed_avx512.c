/* packed_avx512.c - the packed kernel's tiles for AVX-512F (packed.c has the
 * layout and the driver).
 *
 * One 16-float panel row is one zmm register, so a row of a tile takes one
 * accumulator instead of two: a tile is up to 12 rows x 16 outputs (12
 * accumulators, 1 weight vector, 1 broadcast: 14 of the 32 zmm registers),
 * which halves how often a panel block is read for a batch of 12-64 rows
 * compared with AVX2's 6-row tiles. Pairs of whole panels take a 12 x 32
 * tile (tile2), which halves the broadcasts per FMA. Built through target
 * attributes; packed.c runs it only where __builtin_cpu_supports("avx512f")
 * holds.
 */
#include "internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define NR MLP_PACKED_NR
#define MR 12

static int supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}

/* rb is a constant in each inlined copy, so the unused accumulators vanish. */
__attribute__((target("avx512f"), always_inline)) static inline void
tile(int rb, float *c, int ldc, const float *x, int ldx, const float *w, int kc) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0,
           a8 = a0, a9 = a0, a10 = a0, a11 = a0;
/* One row's update of a tile: its input k broadcast, times the weight row. */
#define TILE_ROW(i)                                                                                \
    if (rb > (i)) a##i = _mm512_fmadd_ps(_mm512_set1_ps(x[(size_t)(i) * (size_t)ldx + k]), wk, a##i)
    for (int k = 0; k < kc; k++) {
        __m512 wk = _mm512_loadu_ps(w + (size_t)k * NR);
        TILE_ROW(0);
        TILE_ROW(1);
        TILE_ROW(2);
        TILE_ROW(3);
        TILE_ROW(4);
        TILE_ROW(5);
        TILE_ROW(6);
        TILE_ROW(7);
        TILE_ROW(8);
        TILE_ROW(9);
        TILE_ROW(10);
        TILE_ROW(11);
    }
#undef TILE_ROW
    __m512 acc[MR] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11};
    for (int i = 0; i < rb; i++) {
        float *ci = c + (size_t)i * ldc;
        _mm512_storeu_ps(ci, _mm512_add_ps(_mm512_loadu_ps(ci), acc[i]));
    }
}

/* Two panels at once: tile's sums for the panel blocks w and w + ws, each
 * row's input broadcast once for both (24 accumulators, 2 weight vectors,
 * 1 broadcast: 27 of the 32 registers), so a k step is 14 loads for 24 FMAs
 * instead of 13 for 12. Each output's sum is tile's, FMA for FMA. */
__attribute__((target("avx512f"), always_inline)) static inline void
tile2(int rb, float *c, int ldc, const float *x, int ldx, const float *w, size_t ws, int kc) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0,
           a8 = a0, a9 = a0, a10 = a0, a11 = a0;
    __m512 b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0, b6 = a0, b7 = a0, b8 = a0, b9 = a0,
           b10 = a0, b11 = a0;
#define TILE_ROW2(i)                                                                               \
    do {                                                                                           \
        if (rb > (i)) {                                                                            \
            __m512 v = _mm512_set1_ps(x[(size_t)(i) * (size_t)ldx + k]);                           \
            a##i = _mm512_fmadd_ps(v, w0, a##i);                                                   \
            b##i = _mm512_fmadd_ps(v, w1, b##i);                                                   \
        }                                                                                          \
    } while (0)
    for (int k = 0; k < kc; k++) {
        __m512 w0 = _mm512_loadu_ps(w + (size_t)k * NR),
               w1 = _mm512_loadu_ps(w + ws + (size_t)k * NR);
        TILE_ROW2(0);
        TILE_ROW2(1);
        TILE_ROW2(2);
        TILE_ROW2(3);
        TILE_ROW2(4);
        TILE_ROW2(5);
        TILE_ROW2(6);
        TILE_ROW2(7);
        TILE_ROW2(8);
        TILE_ROW2(9);
        TILE_ROW2(10);
        TILE_ROW2(11);
    }
#undef TILE_ROW2
    __m512 acc[MR][2] = {{a0, b0}, {a1, b1}, {a2, b2}, {a3, b3}, {a4, b4},   {a5, b5},
                         {a6, b6}, {a7, b7}, {a8, b8}, {a9, b9}, {a10, b10}, {a11, b11}};
    for (int i = 0; i < rb; i++) {
        float *ci = c + (size_t)i * ldc;
        _mm512_storeu_ps(ci, _mm512_add_ps(_mm512_loadu_ps(ci), acc[i][0]));
        _mm512_storeu_ps(ci + NR, _mm512_add_ps(_mm512_loadu_ps(ci + NR), acc[i][1]));
    }
}

/* One row: four independent accumulators over inputs k mod 4, so the loop is
 * not one chain of dependent FMAs; a row is bound by streaming the weights. */
__attribute__((target("avx512f"))) static void tile_one_row(float *c, const float *x,
                                                            const float *w, int kc) {
    __m512 a = _mm512_setzero_ps(), b = a, d = a, e = a;
    int k = 0;
    for (; k + 4 <= kc; k += 4) {
        const float *wk = w + (size_t)k * NR;
        a = _mm512_fmadd_ps(_mm512_set1_ps(x[k]), _mm512_loadu_ps(wk), a);
        b = _mm512_fmadd_ps(_mm512_set1_ps(x[k + 1]), _mm512_loadu_ps(wk + NR), b);
        d = _mm512_fmadd_ps(_mm512_set1_ps(x[k + 2]), _mm512_loadu_ps(wk + 2 * NR), d);
        e = _mm512_fmadd_ps(_mm512_set1_ps(x[k + 3]), _mm512_loadu_ps(wk + 3 * NR), e);
    }
    for (; k < kc; k++)
        a = _mm512_fmadd_ps(_mm512_set1_ps(x[k]), _mm512_loadu_ps(w + (size_t)k * NR), a);
    __m512 sum = _mm512_add_ps(_mm512_add_ps(a, b), _mm512_add_ps(d, e));
    _mm512_storeu_ps(c, _mm512_add_ps(_mm512_loadu_ps(c), sum));
}

__attribute__((target("avx512f"))) static void tile_rows(int rb, float *c, int ldc, const float *x,
                                                         int ldx, const float *w, int kc) {
    switch (rb) {
    case 12: tile(12, c, ldc, x, ldx, w, kc); break;
    case 11: tile(11, c, ldc, x, ldx, w, kc); break;
    case 10: tile(10, c, ldc, x, ldx, w, kc); break;
    case 9: tile(9, c, ldc, x, ldx, w, kc); break;
    case 8: tile(8, c, ldc, x, ldx, w, kc); break;
    case 7: tile(7, c, ldc, x, ldx, w, kc); break;
    case 6: tile(6, c, ldc, x, ldx, w, kc); break;
    case 5: tile(5, c, ldc, x, ldx, w, kc); break;
    case 4: tile(4, c, ldc, x, ldx, w, kc); break;
    case 3: tile(3, c, ldc, x, ldx, w, kc); break;
    case 2: tile(2, c, ldc, x, ldx, w, kc); break;
    default: tile_one_row(c, x, w, kc); break;
    }
}

__attribute__((target("avx512f"))) static void
tile_rows2(int rb, float *c, int ldc, const float *x, int ldx, const float *w, size_t ws, int kc) {
    switch (rb) {
    case 12: tile2(12, c, ldc, x, ldx, w, ws, kc); break;
    case 11: tile2(11, c, ldc, x, ldx, w, ws, kc); break;
    case 10: tile2(10, c, ldc, x, ldx, w, ws, kc); break;
    case 9: tile2(9, c, ldc, x, ldx, w, ws, kc); break;
    case 8: tile2(8, c, ldc, x, ldx, w, ws, kc); break;
    case 7: tile2(7, c, ldc, x, ldx, w, ws, kc); break;
    case 6: tile2(6, c, ldc, x, ldx, w, ws, kc); break;
    case 5: tile2(5, c, ldc, x, ldx, w, ws, kc); break;
    case 4: tile2(4, c, ldc, x, ldx, w, ws, kc); break;
    case 3: tile2(3, c, ldc, x, ldx, w, ws, kc); break;
    case 2: tile2(2, c, ldc, x, ldx, w, ws, kc); break;
    default: /* the one-row scheme, panel by panel: tile_rows' bits */
        tile_one_row(c, x, w, kc);
        tile_one_row(c + NR, x, w + ws, kc);
        break;
    }
}

#else /* not x86-64: never chosen */

static int supported(void) {
    return 0;
}

static void tile_rows(int rb, float *c, int ldc, const float *x, int ldx, const float *w, int kc) {
    (void)rb, (void)c, (void)ldc, (void)x, (void)ldx, (void)w, (void)kc;
}

static void tile_rows2(int rb, float *c, int ldc, const float *x, int ldx, const float *w,
                       size_t ws, int kc) {
    (void)rb, (void)c, (void)ldc, (void)x, (void)ldx, (void)w, (void)ws, (void)kc;
}

#define MR 12
#endif

const mlp_packed_kernel mlp_packed_kernel_avx512 = {"avx512",  "avx512",  MR,
                                                    supported, tile_rows, tile_rows2};
