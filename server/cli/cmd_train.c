/* cmd_train.c - `mlpd train`: train a network offline and write a model file.
 *
 * Loads the train split of --data, builds the network (or starts from
 * --warm-start), trains it with Keras-style progress on stdout, evaluates the
 * test split when the data has one, and saves the model atomically to --out.
 * Exit status: 0 done, 1 failure (data, training, saving), 2 usage error.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_args.h"
#include "commands.h"
#include "mlp.h"
#include "progress.h"

static const char *const ACT_NAMES[] = {"relu", "sigmoid", "tanh", "linear", NULL};
static const char *const OUT_ACT_NAMES[] = {"softmax", "sigmoid", "linear", NULL};
static const char *const LOSS_NAMES[] = {"cross_entropy", "mse", NULL};
static const char *const OPT_NAMES[] = {"sgd", "momentum", "adam", NULL};
static const char *const INIT_NAMES[] = {"glorot_uniform", "he_normal", NULL};

/* Everything the command line decides, with the reference recipe as defaults. */
typedef struct {
    const char *data, *out, *warm_start;
    cli_int_list hidden;
    const char *activation, *out_activation, *loss, *optimizer, *init;
    int nesterov, no_shuffle;
    uint64_t seed;
    mlp_train_config cfg;
} train_opts;

static void opts_default(train_opts *o) {
    memset(o, 0, sizeof *o);
    o->hidden.n = 2;
    o->hidden.v[0] = 512;
    o->hidden.v[1] = 256;
    o->activation = "relu";
    o->loss = "cross_entropy";
    o->optimizer = "sgd";
    o->init = "glorot_uniform";
    mlp_train_config_default(&o->cfg);
    o->seed = o->cfg.seed;
}

static int on_batch(const mlp_progress *p, const mlp_model *m, void *user) {
    (void)m;
    progress_batch(user, p);
    return 0;
}

static int on_epoch(const mlp_progress *p, const mlp_model *m, void *user) {
    (void)m;
    progress_epoch(user, p);
    return 0;
}

/* The model to train: fresh from the flags, or the warm-start file checked
 * against the data's widths. Returns an exit status (0 ok). */
static int make_model(const train_opts *o, const mlp_dataset *d, mlp_model **out) {
    mlp_error err = {{0}};
    if (o->warm_start) {
        if (mlp_model_load(o->warm_start, out, &err) != MLP_OK) {
            fprintf(stderr, "mlpd train: --warm-start %s: %s\n", o->warm_start, err.msg);
            return 1;
        }
        const mlp_arch *a = &(*out)->arch;
        if (a->sizes[0] != d->features || a->sizes[a->n_layers] < d->classes) {
            fprintf(stderr,
                    "mlpd train: --warm-start %s takes %d inputs and %d classes; the data has "
                    "%d features and %d classes\n",
                    o->warm_start, a->sizes[0], a->sizes[a->n_layers], d->features, d->classes);
            mlp_model_free(*out);
            *out = NULL;
            return 1;
        }
        return 0;
    }
    mlp_act act;
    mlp_loss loss;
    mlp_init init;
    mlp_act out_act;
    int out_act_arg = -1;
    /* The names were checked by cli_parse against the same lists. */
    mlp_act_from_name(o->activation, &act);
    mlp_loss_from_name(o->loss, &loss);
    mlp_init_from_name(o->init, &init);
    if (o->out_activation && mlp_act_from_name(o->out_activation, &out_act) == 0)
        out_act_arg = (int)out_act;
    mlp_arch arch;
    if (mlp_arch_make(&arch, d->features, o->hidden.v, o->hidden.n, act, d->classes, loss,
                      out_act_arg, &err) != MLP_OK) {
        fprintf(stderr, "mlpd train: %s\n", err.msg);
        return 2;
    }
    if (mlp_model_create(&arch, init, o->seed, out, &err) != MLP_OK) {
        fprintf(stderr, "mlpd train: %s\n", err.msg);
        return 1;
    }
    return 0;
}

/* Test loss and accuracy when the data has a test split (a CSV file has none). */
static void report_test(const char *data, const mlp_model *m) {
    struct stat st;
    if (stat(data, &st) != 0 || !S_ISDIR(st.st_mode)) return;
    mlp_error err = {{0}};
    mlp_dataset *test = NULL;
    if (mlp_dataset_load_path(data, "test", &test, &err) != MLP_OK) {
        printf("no test split: %s\n", err.msg);
        return;
    }
    mlp_eval_result r;
    memset(&r, 0, sizeof r);
    if (mlp_evaluate(m, test, &r, &err) == MLP_OK)
        printf("test_loss: %.4f - test_accuracy: %.4f (%zu samples)\n", r.loss, r.accuracy, r.n);
    else
        fprintf(stderr, "mlpd train: test split: %s\n", err.msg);
    mlp_eval_result_free(&r);
    mlp_dataset_free(test);
}

static void print_arch(FILE *f, const mlp_model *m) {
    for (int l = 0; l <= m->arch.n_layers; l++) fprintf(f, "%s%d", l ? "-" : "", m->arch.sizes[l]);
}

int cmd_train(int argc, char **argv) {
    train_opts o;
    opts_default(&o);
    mlp_train_config *c = &o.cfg;
    const cli_option opts[] = {
        {"data", CLI_STRING, &o.data, 0, 0, CLI_REQUIRED, NULL, "DIR|FILE",
         "MNIST-style IDX folder or CSV file (label first)"},
        {"out", CLI_STRING, &o.out, 0, 0, CLI_REQUIRED, NULL, "FILE", "model file to write"},
        {"hidden", CLI_INT_LIST, &o.hidden, 1, MLP_MAX_HIDDEN, 0, NULL, NULL,
         "hidden layer widths"},
        {"activation", CLI_CHOICE, &o.activation, 0, 0, 0, ACT_NAMES, NULL,
         "hidden layers' activation"},
        {"output-activation", CLI_CHOICE, &o.out_activation, 0, 0, 0, OUT_ACT_NAMES, NULL,
         "output activation; by default softmax for cross_entropy, linear for mse"},
        {"loss", CLI_CHOICE, &o.loss, 0, 0, 0, LOSS_NAMES, NULL, "loss function"},
        {"init", CLI_CHOICE, &o.init, 0, 0, 0, INIT_NAMES, NULL, "weight initialisation"},
        {"optimizer", CLI_CHOICE, &o.optimizer, 0, 0, 0, OPT_NAMES, NULL, "optimizer"},
        {"lr", CLI_FLOAT, &c->lr, 0, 1000, CLI_MIN_OPEN, NULL, NULL, "learning rate"},
        {"momentum", CLI_FLOAT, &c->momentum, 0, 1, CLI_MAX_OPEN, NULL, NULL,
         "momentum (optimizer momentum)"},
        {"nesterov", CLI_FLAG, &o.nesterov, 0, 0, 0, NULL, NULL,
         "Nesterov momentum (optimizer momentum)"},
        {"batch", CLI_INT, &c->batch_size, 1, 1 << 20, 0, NULL, NULL, "batch size"},
        {"epochs", CLI_INT, &c->epochs, 1, 100000, 0, NULL, NULL, "epochs"},
        {"seed", CLI_U64, &o.seed, 0, 0, 0, NULL, NULL,
         "seed of initialisation, shuffling and dropout"},
        {"l1", CLI_FLOAT, &c->l1, 0, 1000, 0, NULL, NULL, "L1 penalty on weights"},
        {"l2", CLI_FLOAT, &c->l2, 0, 1000, 0, NULL, NULL, "L2 penalty on weights"},
        {"dropout", CLI_FLOAT, &c->dropout, 0, 1, CLI_MAX_OPEN, NULL, "P",
         "dropout rate on hidden layers"},
        {"val", CLI_FLOAT, &c->validation_split, 0, 1, CLI_MAX_OPEN, NULL, "SHARE",
         "share of the train split held out for validation (the last samples)"},
        {"patience", CLI_INT, &c->patience, 0, 100000, 0, NULL, NULL,
         "stop after N epochs without improvement and restore the best weights (0: off)"},
        {"no-shuffle", CLI_FLAG, &o.no_shuffle, 0, 0, 0, NULL, NULL,
         "keep the samples' order in every epoch"},
        {"warm-start", CLI_STRING, &o.warm_start, 0, 0, 0, NULL, "FILE",
         "start from this model's weights (architecture flags are then ignored)"},
        {NULL, 0, NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    char msg[512];
    int rc = cli_parse(opts, argc, argv, msg, sizeof msg);
    if (rc == CLI_HELP) {
        cli_print_help(stdout, "mlpd train --data DIR|FILE --out FILE [options]",
                       "Train a network offline (Keras' defaults: 512,256 relu, softmax, "
                       "cross-entropy, SGD) and write a model file.",
                       opts);
        return 0;
    }
    if (rc != CLI_OK) {
        fprintf(stderr, "mlpd train: %s\n", msg);
        return 2;
    }
    mlp_optimizer_from_name(o.optimizer, &c->optimizer);
    c->nesterov = o.nesterov;
    c->shuffle = !o.no_shuffle;
    c->seed = o.seed;
    if (o.nesterov && c->optimizer != MLP_OPT_MOMENTUM) {
        fprintf(stderr, "mlpd train: --nesterov needs --optimizer momentum\n");
        return 2;
    }
    mlp_error err = {{0}};
    if (mlp_train_config_validate(c, &err) != MLP_OK) {
        fprintf(stderr, "mlpd train: %s\n", err.msg);
        return 2;
    }

    mlp_dataset *train = NULL;
    if (mlp_dataset_load_path(o.data, "train", &train, &err) != MLP_OK) {
        fprintf(stderr, "mlpd train: --data %s: %s\n", o.data, err.msg);
        return 1;
    }
    mlp_model *m = NULL;
    rc = make_model(&o, train, &m);
    if (rc != 0) {
        mlp_dataset_free(train);
        return rc;
    }
    printf("Training ");
    print_arch(stdout, m);
    printf(" (%zu parameters) on %zu samples, %s, lr %g, batch %d, %d epochs\n", m->n_params,
           train->n, o.optimizer, (double)c->lr, c->batch_size, c->epochs);
    fflush(stdout);

    progress_bar pb;
    progress_init(&pb, stdout, 0);
    c->on_batch = pb.tty ? on_batch : NULL;
    c->on_epoch = on_epoch;
    c->user = &pb;
    mlp_train_result res;
    memset(&res, 0, sizeof res);
    mlp_status st = mlp_train(m, train, c, &res, &err);
    mlp_dataset_free(train);
    if (st != MLP_OK) {
        fprintf(stderr, "mlpd train: training failed after %d epochs: %s\n", res.epochs_run,
                err.msg[0] ? err.msg : mlp_status_str(st));
        mlp_model_free(m);
        return 1;
    }
    if (res.stopped_early)
        printf("Early stopping after epoch %d: restored the weights of epoch %d\n", res.epochs_run,
               res.best_epoch);

    report_test(o.data, m);
    if (mlp_model_save(m, o.out, &err) != MLP_OK) {
        fprintf(stderr, "mlpd train: --out %s: %s\n", o.out, err.msg);
        mlp_model_free(m);
        return 1;
    }
    printf("Saved %s\n", o.out);
    mlp_model_free(m);
    return 0;
}
