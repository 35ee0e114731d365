/* cmd_train.c - `mlpd train`: train a network offline and write a model file.
 *
 * Loads the train split of --data, builds the network (or starts from
 * --warm-start), trains it with Keras-style progress on stdout, evaluates the
 * test split when the data has one, and saves the model atomically to --out.
 * Exit status: 0 done, 1 failure (data, training, saving), 2 usage error.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_args.h"
#include "cmd_common.h"
#include "commands.h"
#include "mlp.h"
#include "progress.h"
#include "recipe_options.h"

/* What the command line decides: the files, and the recipe (its options and
 * defaults come from the engine's table, see recipe_options.h). */
typedef struct {
    const char *data, *out, *warm_start;
    mlp_recipe recipe;
} train_opts;

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

/* The model to train: fresh from the recipe, or the warm-start file checked
 * against the data's widths (mlp_warm_start_check, the daemon's rule too),
 * with the optimizer state the file may hold in *state. Returns an exit
 * status (0 ok). */
static int make_model(const train_opts *o, const mlp_dataset *d, mlp_model **out,
                      mlp_optim_state *state) {
    mlp_error err = {{0}};
    const mlp_recipe *r = &o->recipe;
    if (o->warm_start) {
        if (mlp_model_load_with_state(o->warm_start, out, state, &err) != MLP_OK ||
            mlp_warm_start_check(&(*out)->arch, d->features, d->classes, NULL, &err) != MLP_OK) {
            cli_fail_path("train", "warm-start", o->warm_start, err.msg);
            mlp_model_free(*out);
            *out = NULL;
            return 1;
        }
        return 0;
    }
    mlp_arch arch;
    if (mlp_arch_make(&arch, d->features, r->hidden, r->n_hidden, r->activation, d->classes,
                      r->loss, r->output_activation, &err) != MLP_OK) {
        fprintf(stderr, "mlpd train: %s\n", err.msg);
        return 2;
    }
    if (mlp_model_create(&arch, r->init, r->train.seed, out, &err) != MLP_OK) {
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
    if (mlp_dataset_load_path(data, "test", NULL, &test, &err) != MLP_OK) {
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

/* bytes as "12.3 KiB" / "4.5 MiB" / "1.2 GiB" into buf. */
static const char *human_bytes(uint64_t bytes, char *buf, size_t cap) {
    static const char *const units[] = {"KiB", "MiB", "GiB"};
    double v = (double)bytes / 1024.0;
    int u = 0;
    while (v >= 1024.0 && u < 2) v /= 1024.0, u++;
    snprintf(buf, cap, "%.1f %s", v, units[u]);
    return buf;
}

/* Say the job's memory estimate (the daemon's, mlp_train_memory) and refuse
 * one larger than the machine's physical memory. 0, or -1 (message printed). */
static int check_memory(const mlp_model *m, const mlp_dataset *d, const mlp_train_config *c) {
    mlp_memory_estimate e;
    mlp_train_memory(&m->arch, c, d->n, mlp_dataset_bytes(d->n, d->features, d->x_u8 != NULL), &e);
    char t[32], p[32], o[32], a[32], ds[32], ram_s[32];
    printf("Memory: about %s (parameters %s, optimizer %s, batch %s, data %s)\n",
           human_bytes(e.total, t, sizeof t), human_bytes(e.params, p, sizeof p),
           human_bytes(e.optimizer, o, sizeof o), human_bytes(e.activations, a, sizeof a),
           human_bytes(e.dataset, ds, sizeof ds));
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    uint64_t ram = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
    if (ram && e.total > ram) {
        fprintf(stderr,
                "mlpd train: this training would need about %s, more than this machine's %s of "
                "memory: lower --batch or the layer widths\n",
                t, human_bytes(ram, ram_s, sizeof ram_s));
        return -1;
    }
    return 0;
}

static void print_arch(FILE *f, const mlp_model *m) {
    for (int l = 0; l <= m->arch.n_layers; l++) fprintf(f, "%s%d", l ? "-" : "", m->arch.sizes[l]);
}

/* Can --out take the model? It is saved at the end through a temporary file
 * in the same folder (mlp_model_save): try that now, so that a long run is
 * never wasted on a path that cannot take its result. 0, or -1 with why. */
static int out_writable(const char *path, char *why, size_t cap) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(why, cap, "is a folder, not a file");
        return -1;
    }
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= (int)sizeof tmp) {
        snprintf(why, cap, "path too long");
        return -1;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(why, cap, "cannot write there: %s", strerror(errno));
        return -1;
    }
    close(fd);
    unlink(tmp);
    return 0;
}

/* "Training 784-512-256-10 (535818 parameters) on 54000 samples (6000 held
 * out for validation), sgd, lr 0.01, batch 128, 10 epochs" */
static void print_header(const mlp_model *m, const mlp_dataset *d, const mlp_train_config *c) {
    size_t rows = mlp_train_rows(d->n, c->validation_split);
    printf("Training ");
    print_arch(stdout, m);
    printf(" (%zu parameters) on %zu samples", m->n_params, rows);
    if (rows < d->n) printf(" (%zu held out for validation)", d->n - rows);
    printf(", %s, lr %g, batch %d, %d epoch%s\n", mlp_optimizer_name(c->optimizer), (double)c->lr,
           c->batch_size, c->epochs, c->epochs == 1 ? "" : "s");
    fflush(stdout);
}

/* Parse argv into *o. Returns -1 to go on, else the exit status. */
static int parse_args(train_opts *o, int argc, char **argv) {
    memset(o, 0, sizeof *o);
    mlp_recipe_default(&o->recipe);
    cli_option opts[4 + RECIPE_OPTIONS_MAX] = {
        {.name = "data",
         .kind = CLI_STRING,
         .dest = &o->data,
         .flags = CLI_REQUIRED,
         .metavar = "DIR|FILE",
         .help = "MNIST-style IDX folder or CSV file (label first)"},
        {.name = "out",
         .kind = CLI_STRING,
         .dest = &o->out,
         .flags = CLI_REQUIRED,
         .metavar = "FILE",
         .help = "model file to write"},
        {.name = "warm-start",
         .kind = CLI_STRING,
         .dest = &o->warm_start,
         .metavar = "FILE",
         .help = "start from this model's weights (the network options are then ignored)"},
    };
    size_t n = 3;
    recipe_options ro;
    char msg[512];
    if (recipe_options_add(&ro, &o->recipe, opts, &n, sizeof opts / sizeof opts[0]) != 0) {
        fprintf(stderr, "mlpd train: the recipe has more options than this command holds\n");
        return 1;
    }
    int rc = cli_parse(opts, argc, argv, msg, sizeof msg);
    if (rc == CLI_HELP) {
        cli_print_help(stdout, "mlpd train --data DIR|FILE --out FILE [options]",
                       "Train a network offline (Keras' defaults: 512,256 relu, softmax, "
                       "cross-entropy, SGD) and write a model file.",
                       opts);
        return 0;
    }
    if (rc == CLI_OK) rc = recipe_options_finish(&ro, &o->recipe, msg, sizeof msg);
    if (rc != CLI_OK) {
        fprintf(stderr, "mlpd train: %s\n", msg);
        return 2;
    }
    return -1;
}

int cmd_train(int argc, char **argv) {
    train_opts o;
    int rc = parse_args(&o, argc, argv);
    if (rc >= 0) return rc;
    mlp_train_config *c = &o.recipe.train;
    mlp_error err = {{0}};
    char why[300];
    if (out_writable(o.out, why, sizeof why) != 0) {
        cli_fail_path("train", "out", o.out, why);
        return 1;
    }
    mlp_dataset *train = NULL;
    if (mlp_dataset_load_path(o.data, "train", NULL, &train, &err) != MLP_OK) {
        cli_fail_path("train", "data", o.data, err.msg);
        return 1;
    }
    /* Augmentation needs images: say so before anything is built (usage: 2). */
    const char *member = NULL;
    if (mlp_augment_check(&c->augment, train->features, &member, &err) != MLP_OK) {
        fprintf(stderr, "mlpd train: --%s: %s\n",
                mlp_recipe_field_named(member) ? mlp_recipe_field_named(member)->flag : member,
                err.msg);
        mlp_dataset_free(train);
        return 2;
    }
    mlp_model *m = NULL;
    /* As the daemon's jobs: a warm start continues the file's optimizer state
     * when the optimizer is the same, and the saved file keeps the new one. */
    mlp_optim_state state_in = {0}, state_out = {0};
    rc = make_model(&o, train, &m, &state_in);
    if (rc != 0) {
        mlp_optim_state_free(&state_in);
        mlp_dataset_free(train);
        return rc;
    }
    c->init_state = mlp_optim_state_fits(&state_in, c->optimizer) ? &state_in : NULL;
    c->state_out = &state_out;
    print_header(m, train, c);
    if (check_memory(m, train, c) != 0) {
        mlp_dataset_free(train);
        mlp_model_free(m);
        return 2;
    }
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
    mlp_optim_state_free(&state_in);
    if (st != MLP_OK) {
        fprintf(stderr, "mlpd train: training failed after %d epoch%s: %s\n", res.epochs_run,
                res.epochs_run == 1 ? "" : "s", err.msg[0] ? err.msg : mlp_status_str(st));
        mlp_optim_state_free(&state_out);
        mlp_model_free(m);
        return 1;
    }
    if (res.stopped_early)
        printf("Early stopping after epoch %d: restored the weights of epoch %d\n", res.epochs_run,
               res.best_epoch);

    report_test(o.data, m);
    /* SGD keeps no buffers: its models stay version 1 files. */
    st = mlp_model_save_with_state(m, state_out.m ? &state_out : NULL, o.out, &err);
    mlp_optim_state_free(&state_out);
    if (st != MLP_OK) {
        cli_fail_path("train", "out", o.out, err.msg);
        mlp_model_free(m);
        return 1;
    }
    printf("Saved %s\n", o.out);
    mlp_model_free(m);
    return 0;
}
