/* augment.c - training-time augmentation of square images (contract in
 * mlp_train.h, mlp_augment): left-right flips and shifts of a batch's copy,
 * drawn from the run's generator so that a run stays reproducible.
 *
 * Why these two: for clothing and digits alike a shift of a pixel or two is
 * still the same class, and clothing is (nearly) symmetric left-right; they
 * are what lets an MLP on Fashion-MNIST generalise past ~0.907 (docs/recipes).
 * Images only: a CSV of unrelated features must not be mirrored, so the
 * data's width must be a square of at least 8 x 8 (mlp_augment_check; the
 * smallest images in use, scikit-learn's digits, are 8 x 8, and a 2 x 2 or
 * 3 x 3 "image" is far more likely a handful of unrelated features).
 */
#include <math.h>
#include <string.h>

#include "internal.h"

int mlp_image_side(int features) {
    if (features < MLP_MIN_IMAGE_SIDE * MLP_MIN_IMAGE_SIDE) return 0;
    int side = (int)lround(sqrt((double)features));
    return side * side == features ? side : 0;
}

mlp_status mlp_augment_check(const mlp_augment *a, int features, const char **member,
                             mlp_error *err) {
    if (member) *member = NULL;
    if (!a->hflip && a->shift == 0) return MLP_OK;
    const char *name = a->shift ? "augment.shift" : "augment.hflip";
    int side = mlp_image_side(features);
    if (member) *member = name;
    if (side == 0)
        return mlp_fail(err, MLP_EINVAL,
                        "%s needs square images (side x side pixels, side at least %d); the data "
                        "has %d features",
                        name, MLP_MIN_IMAGE_SIDE, features);
    if (a->shift >= side)
        return mlp_fail(err, MLP_EINVAL, "augment.shift must be below the image side (%d); got %d",
                        side, a->shift);
    if (member) *member = NULL;
    return MLP_OK;
}

void mlp_augment_image(const float *src, float *dst, int side, int flip, int dx, int dy) {
    for (int r = 0; r < side; r++) {
        int sr = r - dy;
        float *out = dst + (size_t)r * (size_t)side;
        if (sr < 0 || sr >= side) {
            memset(out, 0, (size_t)side * sizeof *out);
            continue;
        }
        const float *in = src + (size_t)sr * (size_t)side;
        for (int c = 0; c < side; c++) {
            int sc = c - dx;
            if (sc < 0 || sc >= side)
                out[c] = 0.0f;
            else
                out[c] = in[flip ? side - 1 - sc : sc];
        }
    }
}

/* A uniform whole number in [-s, s]; the modulo bias is below (2s+1) / 2^64. */
static int offset(mlp_rng *rng, int s) {
    return (int)(mlp_rng_next(rng) % (uint64_t)(2 * s + 1)) - s;
}

void mlp_augment_batch(const mlp_augment *a, int side, float *x, int count, mlp_rng *rng,
                       float *tmp) {
    size_t n = (size_t)side * (size_t)side;
    for (int i = 0; i < count; i++) {
        int flip = a->hflip ? (int)(mlp_rng_next(rng) >> 63) : 0;
        int dx = a->shift ? offset(rng, a->shift) : 0;
        int dy = a->shift ? offset(rng, a->shift) : 0;
        if (!flip && dx == 0 && dy == 0) continue;
        float *row = x + (size_t)i * n;
        memcpy(tmp, row, n * sizeof *tmp);
        mlp_augment_image(tmp, row, side, flip, dx, dy);
    }
}
