/* packed_portable.c - the packed kernel's tiles in plain C, for any CPU
 * (packed.c has the layout and the driver).
 *
 * So a CPU without AVX2 still reads the packed layout instead of going
 * through sgemm's per-call repacking. The inner loop is 16 independent
 * multiply-adds on contiguous floats, which the compiler vectorises with the
 * baseline instruction set (SSE2 on x86-64, NEON on AArch64). Tiles of up to
 * 4 rows: 64 accumulators, as many as 16 baseline vector registers hold.
 */
#include <string.h>

#include "internal.h"

#define NR MLP_PACKED_NR
#define MR 4

static int supported(void) {
    return 1;
}

/* rb is a constant in each inlined copy, so the row loop unrolls. */
static inline __attribute__((always_inline)) void tile(int rb, float *c, int ldc, const float *x,
                                                       int ldx, const float *w, int kc) {
    float acc[MR][NR];
    memset(acc, 0, sizeof acc);
    for (int k = 0; k < kc; k++) {
        const float *wk = w + (size_t)k * NR;
#pragma GCC unroll 4
        for (int i = 0; i < rb; i++) {
            float v = x[(size_t)i * ldx + k];
#pragma GCC unroll 16
            for (int j = 0; j < NR; j++) acc[i][j] += v * wk[j];
        }
    }
    for (int i = 0; i < rb; i++)
        for (int j = 0; j < NR; j++) c[(size_t)i * ldc + j] += acc[i][j];
}

static void tile_rows(int rb, float *c, int ldc, const float *x, int ldx, const float *w, int kc) {
    switch (rb) {
    case 4: tile(4, c, ldc, x, ldx, w, kc); break;
    case 3: tile(3, c, ldc, x, ldx, w, kc); break;
    case 2: tile(2, c, ldc, x, ldx, w, kc); break;
    default: tile(1, c, ldc, x, ldx, w, kc); break;
    }
}

const mlp_packed_kernel mlp_packed_kernel_portable = {"portable", "portable", MR,
                                                      supported,  tile_rows,  NULL};
