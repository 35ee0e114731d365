/* status.c - names of status codes and of the engine's enums.
 *
 * The name tables are the single place where the strings used on the command
 * line, in JSON and in model files are spelled; the *_from_name functions are
 * their exact inverses (case-sensitive, no aliases).
 */
#include <string.h>

#include "mlp.h"

const char *mlp_status_str(mlp_status s) {
    switch (s) {
    case MLP_OK: return "ok";
    case MLP_EINVAL: return "invalid argument";
    case MLP_ENOMEM: return "out of memory";
    case MLP_EIO: return "input/output error";
    case MLP_EFORMAT: return "malformed data";
    case MLP_ESTOPPED: return "stopped by callback";
    case MLP_ENUMERIC: return "numeric error (loss not finite)";
    case MLP_ETOOBIG: return "data set too large";
    }
    return "unknown status";
}

/* Tables indexed by the enum value; the enums are dense and start at 0. */
static const char *const act_names[] = {"relu", "sigmoid", "tanh", "softmax", "linear"};
static const char *const loss_names[] = {"cross_entropy", "mse"};
static const char *const init_names[] = {"glorot_uniform", "he_normal"};
static const char *const optimizer_names[] = {"sgd", "momentum", "adam", "adamw"};
static const char *const lr_kind_names[] = {"constant", "step", "exponential", "cosine",
                                            "reduce_on_plateau"};
static const char *const metric_names[] = {"val_loss", "val_accuracy", "loss", "accuracy"};
static const char *const mode_names[] = {"auto", "min", "max"};
static const char *const explain_method_names[] = {"saliency", "gradient_x_input",
                                                   "integrated_gradients", "smoothgrad"};
static const char *const explain_output_names[] = {"probability", "logit"};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Index of `name` in table[0..n-1], or -1 (also for NULL). */
static int find_name(const char *const *table, int n, const char *name) {
    if (!name) return -1;
    for (int i = 0; i < n; i++)
        if (strcmp(table[i], name) == 0) return i;
    return -1;
}

/* A value outside the table gives "?" rather than reading past it. */
static const char *name_at(const char *const *table, int n, int v) {
    return (v >= 0 && v < n) ? table[v] : "?";
}

const char *mlp_act_name(mlp_act a) {
    return name_at(act_names, COUNT(act_names), (int)a);
}
const char *mlp_loss_name(mlp_loss l) {
    return name_at(loss_names, COUNT(loss_names), (int)l);
}
const char *mlp_init_name(mlp_init i) {
    return name_at(init_names, COUNT(init_names), (int)i);
}
const char *mlp_optimizer_name(mlp_optimizer o) {
    return name_at(optimizer_names, COUNT(optimizer_names), (int)o);
}
const char *mlp_lr_kind_name(mlp_lr_kind k) {
    return name_at(lr_kind_names, COUNT(lr_kind_names), (int)k);
}
const char *mlp_metric_name(mlp_metric m) {
    return name_at(metric_names, COUNT(metric_names), (int)m);
}
const char *mlp_mode_name(mlp_mode m) {
    return name_at(mode_names, COUNT(mode_names), (int)m);
}

int mlp_act_from_name(const char *name, mlp_act *out) {
    int i = find_name(act_names, COUNT(act_names), name);
    if (i < 0) return -1;
    *out = (mlp_act)i;
    return 0;
}

int mlp_loss_from_name(const char *name, mlp_loss *out) {
    int i = find_name(loss_names, COUNT(loss_names), name);
    if (i < 0) return -1;
    *out = (mlp_loss)i;
    return 0;
}

int mlp_init_from_name(const char *name, mlp_init *out) {
    int i = find_name(init_names, COUNT(init_names), name);
    if (i < 0) return -1;
    *out = (mlp_init)i;
    return 0;
}

int mlp_optimizer_from_name(const char *name, mlp_optimizer *out) {
    int i = find_name(optimizer_names, COUNT(optimizer_names), name);
    if (i < 0) return -1;
    *out = (mlp_optimizer)i;
    return 0;
}

const char *mlp_explain_method_name(mlp_explain_method m) {
    return name_at(explain_method_names, COUNT(explain_method_names), (int)m);
}
const char *mlp_explain_output_name(mlp_explain_output o) {
    return name_at(explain_output_names, COUNT(explain_output_names), (int)o);
}

int mlp_explain_method_from_name(const char *name, mlp_explain_method *out) {
    int i = find_name(explain_method_names, COUNT(explain_method_names), name);
    if (i < 0) return -1;
    *out = (mlp_explain_method)i;
    return 0;
}

int mlp_explain_output_from_name(const char *name, mlp_explain_output *out) {
    int i = find_name(explain_output_names, COUNT(explain_output_names), name);
    if (i < 0) return -1;
    *out = (mlp_explain_output)i;
    return 0;
}

int mlp_lr_kind_from_name(const char *name, mlp_lr_kind *out) {
    int i = find_name(lr_kind_names, COUNT(lr_kind_names), name);
    if (i < 0) return -1;
    *out = (mlp_lr_kind)i;
    return 0;
}

int mlp_metric_from_name(const char *name, mlp_metric *out) {
    int i = find_name(metric_names, COUNT(metric_names), name);
    if (i < 0) return -1;
    *out = (mlp_metric)i;
    return 0;
}

int mlp_mode_from_name(const char *name, mlp_mode *out) {
    int i = find_name(mode_names, COUNT(mode_names), name);
    if (i < 0) return -1;
    *out = (mlp_mode)i;
    return 0;
}

/* ---- error messages (internal.h) ---- */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

mlp_status mlp_fail(mlp_error *err, mlp_status s, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return s;
}
