/* mlp_modelfile.h - part of mlp.h: model files: buffers, files, optimizer state, checksum.
 *
 * Include "mlp.h", never this file: mlp.h is the engine's one public header
 * and includes its parts in dependency order (the general contracts are
 * written at its top). */
#ifndef MLP_MODELFILE_H
#define MLP_MODELFILE_H

#ifndef MLP_H_INSIDE
#error "include mlp.h, not the parts of it"
#endif

/* ---- model files ------------------------------------------------------------------ */
/* The format is documented byte by byte in docs/model-format.md.
 * Serialise into a new buffer (*buf, *len; the caller free()s *buf). */
mlp_status mlp_model_to_buffer(const mlp_model *m, unsigned char **buf, size_t *len,
                               mlp_error *err);
/* Parse a buffer; rejects a wrong magic or version, truncation, a bad checksum,
 * absurd sizes. The caller frees *out with mlp_model_free(). */
mlp_status mlp_model_from_buffer(const unsigned char *buf, size_t len, mlp_model **out,
                                 mlp_error *err);
/* File versions of the two above. Save writes to a temporary file in the same
 * folder, fsyncs it and renames it over `path`, so a reader never sees half a file. */
mlp_status mlp_model_save(const mlp_model *m, const char *path, mlp_error *err);
mlp_status mlp_model_load(const char *path, mlp_model **out, mlp_error *err);
/* The same with an optimizer state (format version 2, which only files holding
 * a state use; a model without one is written as version 1). `state` may be
 * NULL (saves version 1). The state's n must equal m's n_params. */
mlp_status mlp_model_to_buffer_with_state(const mlp_model *m, const mlp_optim_state *state,
                                          unsigned char **buf, size_t *len, mlp_error *err);
mlp_status mlp_model_save_with_state(const mlp_model *m, const mlp_optim_state *state,
                                     const char *path, mlp_error *err);
/* Read a version 1 or 2 file; *state (if not NULL) receives the file's state,
 * or an empty one (n = 0) for a file without. Free with mlp_optim_state_free. */
mlp_status mlp_model_from_buffer_with_state(const unsigned char *buf, size_t len, mlp_model **out,
                                            mlp_optim_state *state, mlp_error *err);
mlp_status mlp_model_load_with_state(const char *path, mlp_model **out, mlp_optim_state *state,
                                     mlp_error *err);
/* The checksum of a model file as mlpd reports it: the CRC-32 stored in its
 * trailer, which covers every byte before it (docs/model-format.md). Call
 * it on a buffer mlp_model_from_buffer() accepted; 0 when len < 4. (A CRC
 * taken over the whole file, trailer included, is the same constant for
 * every file: CRC-32's residue.) */
uint32_t mlp_model_checksum(const unsigned char *buf, size_t len);

#endif /* MLP_MODELFILE_H */
