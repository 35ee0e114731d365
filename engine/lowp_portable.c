/* lowp_portable.c - the reduced-precision tiles in plain C (lowp.c has the
 * layouts and the driver).
 *
 * Any CPU runs them, and they are the reference of each precision's
 * arithmetic that the vector variants are tested against: bf16 products of
 * two bfloat16 values are exact in float32, so `acc + x * w` here equals the
 * fused multiply-add of vdpbf16ps and of the AVX2 variant step by step; int8
 * sums are exact integers.
 */
#include <string.h>

#include "internal.h"

#define NR MLP_PACKED_NR
#define MR 4

static int supported(void) {
    return 1;
}

static inline float lo(uint32_t w) {
    uint32_t u = w << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline float hi(uint32_t w) {
    uint32_t u = w & 0xffff0000u;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* One pair into one accumulator: high half first, as vdpbf16ps. */
static inline float pair(float acc, uint32_t x, uint32_t w) {
    acc += hi(x) * hi(w);
    return acc + lo(x) * lo(w);
}

static void bf16_rows(int rb, float *c, int ldc, const uint32_t *x, int ldx, const uint32_t *w,
                      int np) {
    float acc[MR][NR];
    memset(acc, 0, sizeof acc);
    for (int kp = 0; kp < np; kp++)
        for (int i = 0; i < rb; i++) {
            uint32_t xv = x[(size_t)i * ldx + kp];
            for (int j = 0; j < NR; j++) acc[i][j] = pair(acc[i][j], xv, w[(size_t)kp * NR + j]);
        }
    for (int i = 0; i < rb; i++)
        for (int j = 0; j < NR; j++) c[(size_t)i * ldc + j] += acc[i][j];
}

static void bf16_one(float *c, const uint32_t *x, const uint32_t *w, int np) {
    float a[4][NR];
    memset(a, 0, sizeof a);
    int kp = 0;
    for (; kp + 4 <= np; kp += 4)
        for (int s = 0; s < 4; s++)
            for (int j = 0; j < NR; j++)
                a[s][j] = pair(a[s][j], x[kp + s], w[(size_t)(kp + s) * NR + j]);
    for (; kp < np; kp++)
        for (int j = 0; j < NR; j++) a[0][j] = pair(a[0][j], x[kp], w[(size_t)kp * NR + j]);
    for (int j = 0; j < NR; j++) c[j] += (a[0][j] + a[1][j]) + (a[2][j] + a[3][j]);
}

static void int8_rows(int rb, int32_t *c, int ldc, const uint32_t *x, int ldx, const uint32_t *w,
                      int nq) {
    for (int i = 0; i < rb; i++) {
        const uint8_t *xi = (const uint8_t *)(x + (size_t)i * ldx);
        int32_t acc[NR] = {0};
        for (int kq = 0; kq < nq; kq++) {
            const int8_t *wk = (const int8_t *)(w + (size_t)kq * NR);
            int32_t x0 = xi[4 * kq], x1 = xi[4 * kq + 1], x2 = xi[4 * kq + 2], x3 = xi[4 * kq + 3];
            /* One output's four products per step: the compiler vectorises over j. */
            for (int j = 0; j < NR; j++)
                acc[j] +=
                    x0 * wk[4 * j] + x1 * wk[4 * j + 1] + x2 * wk[4 * j + 2] + x3 * wk[4 * j + 3];
        }
        for (int j = 0; j < NR; j++) c[(size_t)i * ldc + j] += acc[j];
    }
}

const mlp_bf16_kernel mlp_bf16_kernel_portable = {.name = "portable",
                                                  .option = "portable",
                                                  .mr = MR,
                                                  .supported = supported,
                                                  .rows = bf16_rows,
                                                  .one = bf16_one};
const mlp_int8_kernel mlp_int8_kernel_portable = {
    .name = "portable", .option = "portable", .mr = MR, .supported = supported, .rows = int8_rows};
