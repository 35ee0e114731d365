/* mlp_precision.h - part of mlp.h: reduced-precision prediction (bf16, int8).
 *
 * Include "mlp.h", never this file: mlp.h is the engine's one public header
 * and includes its parts in dependency order (the general contracts are
 * written at its top). */
#ifndef MLP_PRECISION_H
#define MLP_PRECISION_H

#ifndef MLP_H_INSIDE
#error "include mlp.h, not the parts of it"
#endif

/* How a prediction computes (docs/precision.md):
 *   float32  the weights as trained (the reference)
 *   bf16     weights rounded to bfloat16 (round to nearest even), each layer's
 *            input rounded to bfloat16 too, products summed in float32: the
 *            arithmetic of AVX512-BF16's vdpbf16ps
 *   int8     weights in int8 with one scale per output (max |w| / 127), each
 *            layer's input quantized per row to 8 bits (scale max |x| / 127,
 *            zero point 128), products summed exactly in int32 (AVX512-VNNI's
 *            vpdpbusd), then scaled back to float32 with the bias added
 * Activations, softmax and everything between layers stay float32. Every
 * instruction-set variant of a precision computes the same arithmetic in the
 * same order (int8: bit-identical; bf16: the same up to float32 denormals). */
typedef enum {
    MLP_PRECISION_F32 = 0,
    MLP_PRECISION_BF16 = 1,
    MLP_PRECISION_INT8 = 2
} mlp_precision;
#define MLP_PRECISIONS 3
/* "float32" "bf16" "int8"; from_name returns 0 on success, -1 on an unknown name. */
const char *mlp_precision_name(mlp_precision p);
int mlp_precision_from_name(const char *name, mlp_precision *out);
/* Add the weights in precision p (bf16 or int8) to m, beside the float32
 * ones (which stay: a request may still ask for float32). Like mlp_model_pack:
 * writes m, call before m is shared; freed by mlp_model_free, dropped by
 * mlp_train and mlp_model_unpack. MLP_OK (also for float32, a no-op),
 * MLP_EINVAL, MLP_ENOMEM. */
mlp_status mlp_model_pack_precision(mlp_model *m, mlp_precision p, mlp_error *err);
/* 1 when a prediction in precision p runs as p on m (float32 always; others
 * once packed). */
int mlp_model_has_precision(const mlp_model *m, mlp_precision p);
/* The variant computing precision p: float32 as mlp_kernel_name(); bf16
 * "amx-bf16", "avx512-bf16", "avx2-fma" or "portable"; int8 "amx-int8",
 * "avx512-vnni", "avx2" or "portable", chosen once per process like
 * mlp_kernel_name() (MLPD_KERNEL's amx|avx512|avx2|portable names the family
 * for every precision; float32 has no amx member). */
const char *mlp_kernel_name_for(mlp_precision p);
/* As mlp_forward / mlp_predict, in precision p when m has it
 * (mlp_model_has_precision), else in float32. scratch: mlp_scratch_floats(m,
 * batch), which counts what the reduced precisions need once m has them. */
void mlp_forward_precision(const mlp_model *m, mlp_precision p, const float *x, int batch,
                           float *out, float *scratch);
void mlp_predict_precision(const mlp_model *m, mlp_precision p, const float *x, int batch,
                           float *probs, int *labels, float *scratch);

#endif /* MLP_PRECISION_H */
