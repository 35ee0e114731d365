/* rng.c - the engine's seeded random numbers: xoshiro256** seeded by splitmix64.
 *
 * Both generators are the public-domain designs of Blackman and Vigna
 * (https://prng.di.unimi.it/): splitmix64 spreads one 64-bit seed over the
 * 256-bit state so that nearby seeds give unrelated streams, and xoshiro256**
 * produces the stream. Everything here is integer or IEEE arithmetic with a
 * fixed order, so a seed gives the same numbers on every machine.
 */
#include <math.h>

#include "mlp.h"

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

void mlp_rng_seed(mlp_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
    /* splitmix64 never yields four zero words in a row, so the state is valid. */
}

uint64_t mlp_rng_next(mlp_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* The top 24 bits, scaled: every float in [0, 1) on a 2^-24 grid, never 1. */
float mlp_rng_uniform(mlp_rng *r) {
    return (float)(mlp_rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

/* Box-Muller on two 53-bit uniforms; the second variate is dropped so the
 * generator needs no state beyond s[4]. u1 is shifted into (0, 1] so log()
 * stays finite. */
float mlp_rng_normal(mlp_rng *r) {
    const double two_pi = 6.283185307179586476925;
    double u1 = ((double)(mlp_rng_next(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (double)(mlp_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(two_pi * u2));
}

/* Fisher-Yates, from the end. The modulo bias is below n / 2^64: negligible
 * for any array that fits in memory. */
void mlp_rng_shuffle(mlp_rng *r, uint32_t *a, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(mlp_rng_next(r) % (uint64_t)i);
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}
