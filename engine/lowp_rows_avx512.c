/* lowp_rows_avx512.c - the per-row steps around a reduced-precision layer
 * product in AVX-512: inputs to bf16 pairs or int8 quads, and C back to
 * float32 outputs. The AVX-512 and AMX variants use them; the others use
 * lowp.c's plain C, which they must equal bit for bit:
 *
 * - bf16: vcvtne2ps2bf16 rounds as mlp_bf16_round does (nearest even,
 *   denormals to signed zero, NaN quieted), and 32 consecutive floats give
 *   the 16 words of pairs in lowp.c's order (low half the even input);
 * - int8: the same maximum, scale (127 / max in float32) and rounding
 *   ((v * inv + 1.5 * 2^23) - 1.5 * 2^23, separate multiply and adds);
 * - outputs: b + c, or b + (sx * scale) * (c - 128 * sum), in that order.
 *
 * Why: at batch 128 these loops in scalar C took more time than the AMX
 * products themselves (54% of a bf16 prediction in perf).
 */
#include <string.h>

#include "internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define TARGET      __attribute__((target("avx512f,avx512bw")))
#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))

/* Lanes [0, n) of 16 (n may exceed 16). */
static inline __mmask16 first(int n) {
    return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1u);
}

BF16_TARGET void mlp_lowp_avx512_round_rows(uint32_t *xw, const float *x, int B, int In) {
    int np = mlp_lowp_words(2, In);
    for (int i = 0; i < B; i++) {
        const float *r = x + (size_t)i * In;
        uint32_t *w = xw + (size_t)i * np;
        for (int k = 0; k < 2 * np; k += 32) {
            /* Masked loads read zeros past In: the odd last pair's high half
             * and the padding words. */
            __m512 lo = _mm512_maskz_loadu_ps(first(In - k > 0 ? In - k : 0), r + k);
            __m512 hi = _mm512_maskz_loadu_ps(first(In - k - 16 > 0 ? In - k - 16 : 0), r + k + 16);
            __m512i pairs = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
            _mm512_mask_storeu_epi32(w + k / 2, first(np - k / 2), pairs);
        }
    }
}

TARGET void mlp_lowp_avx512_quantize_rows(uint32_t *xw, float *sx, const float *x, int B, int In) {
    int nq = mlp_lowp_words(4, In);
    const __m512 magic = _mm512_set1_ps(12582912.0f);
    for (int i = 0; i < B; i++) {
        const float *r = x + (size_t)i * In;
        /* Four running maxima (no one long chain); a NaN is skipped, as the
         * C loop skips it. */
        __m512 m0 = _mm512_setzero_ps(), m1 = m0, m2 = m0, m3 = m0;
        int k = 0;
        for (; k + 64 <= In; k += 64) {
            m0 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(r + k)), m0);
            m1 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(r + k + 16)), m1);
            m2 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(r + k + 32)), m2);
            m3 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(r + k + 48)), m3);
        }
        for (; k < In; k += 16)
            m0 = _mm512_max_ps(_mm512_abs_ps(_mm512_maskz_loadu_ps(first(In - k), r + k)), m0);
        float amax =
            _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(m0, m1), _mm512_max_ps(m2, m3)));
        float inv = amax > 0.0f ? 127.0f / amax : 1.0f;
        sx[i] = amax > 0.0f ? amax / 127.0f : 1.0f;
        uint8_t *b = (uint8_t *)(xw + (size_t)i * nq);
        __m512 vinv = _mm512_set1_ps(inv);
        for (k = 0; k < 4 * nq; k += 16) {
            /* Past In: zero, stored as 128 like the C loop's padding. */
            __m512 v = _mm512_maskz_loadu_ps(first(In - k > 0 ? In - k : 0), r + k);
            v = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(v, vinv), magic), magic);
            __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(v), _mm512_set1_epi32(128));
            /* The narrowing to bytes in registers, then a plain store: the
             * masked narrowing store was a third of an int8 batch of 128. */
            __m128i bytes = _mm512_cvtepi32_epi8(q);
            if (4 * nq - k >= 16)
                _mm_storeu_si128((__m128i *)(b + k), bytes);
            else {
                uint8_t last[16];
                _mm_storeu_si128((__m128i *)last, bytes);
                memcpy(b + k, last, (size_t)(4 * nq - k));
            }
        }
    }
}

TARGET void mlp_lowp_avx512_finish_bf16(float *y, const float *c, int ldc, const float *b, int B,
                                        int O) {
    for (int i = 0; i < B; i++)
        for (int j = 0; j < O; j += 16) {
            __mmask16 k = first(O - j);
            __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(k, b + j),
                                     _mm512_maskz_loadu_ps(k, c + (size_t)i * ldc + j));
            _mm512_mask_storeu_ps(y + (size_t)i * O + j, k, v);
        }
}

TARGET void mlp_lowp_avx512_finish_int8(float *y, const int32_t *c, int ldc, const float *b,
                                        const float *sx, const float *scale, const int32_t *sum,
                                        int B, int O) {
    for (int i = 0; i < B; i++) {
        __m512 s = _mm512_set1_ps(sx[i]);
        for (int j = 0; j < O; j += 16) {
            __mmask16 k = first(O - j);
            __m512i acc =
                _mm512_sub_epi32(_mm512_maskz_loadu_epi32(k, c + (size_t)i * ldc + j),
                                 _mm512_slli_epi32(_mm512_maskz_loadu_epi32(k, sum + j), 7));
            __m512 t = _mm512_mul_ps(_mm512_mul_ps(s, _mm512_maskz_loadu_ps(k, scale + j)),
                                     _mm512_cvtepi32_ps(acc));
            _mm512_mask_storeu_ps(y + (size_t)i * O + j, k,
                                  _mm512_add_ps(_mm512_maskz_loadu_ps(k, b + j), t));
        }
    }
}

#else /* not x86-64: the variants using these are never chosen */

void mlp_lowp_avx512_round_rows(uint32_t *xw, const float *x, int B, int In) {
    (void)xw, (void)x, (void)B, (void)In;
}
void mlp_lowp_avx512_quantize_rows(uint32_t *xw, float *sx, const float *x, int B, int In) {
    (void)xw, (void)sx, (void)x, (void)B, (void)In;
}
void mlp_lowp_avx512_finish_bf16(float *y, const float *c, int ldc, const float *b, int B, int O) {
    (void)y, (void)c, (void)ldc, (void)b, (void)B, (void)O;
}
void mlp_lowp_avx512_finish_int8(float *y, const int32_t *c, int ldc, const float *b,
                                 const float *sx, const float *scale, const int32_t *sum, int B,
                                 int O) {
    (void)y, (void)c, (void)ldc, (void)b, (void)sx, (void)scale, (void)sum, (void)B, (void)O;
}
#endif
