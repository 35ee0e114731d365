/* cmd_eval.c - `mlpd eval`: a model file's loss, accuracy and confusion
 * matrix on a data set's test split (a CSV file: its only split).
 * Exit status: 0 done, 1 failure (files, widths), 2 usage error.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_args.h"
#include "cmd_common.h"
#include "commands.h"
#include "mlp.h"

/* Rows are true labels, columns predictions, as in mlp_eval_result. */
static void print_confusion(const mlp_eval_result *r) {
    int k = r->classes;
    printf("confusion matrix (rows: true label, columns: predicted):\n%6s", "");
    for (int j = 0; j < k; j++) printf(" %6d", j);
    printf(" %8s\n", "recall");
    for (int i = 0; i < k; i++) {
        unsigned long row = 0;
        const uint32_t *cells = r->confusion + (size_t)i * (size_t)k;
        for (int j = 0; j < k; j++) row += cells[j];
        printf("%6d", i);
        for (int j = 0; j < k; j++) printf(" %6u", cells[j]);
        if (row)
            printf(" %8.4f\n", (double)cells[i] / (double)row);
        else
            printf(" %8s\n", "-");
    }
}

int cmd_eval(int argc, char **argv) {
    const char *model_path = NULL, *data = NULL;
    const cli_option opts[] = {
        CLI_MODEL_OPTION(&model_path),
        {.name = "data",
         .kind = CLI_STRING,
         .dest = &data,
         .flags = CLI_REQUIRED,
         .metavar = "DIR|FILE",
         .help = "IDX folder (its test split is used) or CSV file (label first)"},
        {0},
    };
    int rc = cli_command_parse("eval", opts, argc, argv, "mlpd eval --model FILE --data DIR|FILE",
                               "Print a model's test loss, accuracy and confusion matrix.");
    if (rc >= 0) return rc;
    mlp_model *m = cli_load_model("eval", model_path);
    if (!m) return 1;
    mlp_error err = {{0}};
    struct stat st;
    const char *split = (stat(data, &st) == 0 && S_ISREG(st.st_mode)) ? "train" : "test";
    mlp_dataset *d = NULL;
    if (mlp_dataset_load_path(data, split, NULL, &d, &err) != MLP_OK) {
        cli_fail_path("eval", "data", data, err.msg);
        mlp_model_free(m);
        return 1;
    }
    const mlp_arch *a = &m->arch;
    if (d->features != a->sizes[0]) {
        fprintf(stderr, "mlpd eval: the model takes %d inputs; %s has %d features\n", a->sizes[0],
                data, d->features);
        mlp_dataset_free(d);
        mlp_model_free(m);
        return 1;
    }
    mlp_eval_result r;
    memset(&r, 0, sizeof r);
    rc = 0;
    if (mlp_evaluate(m, d, &r, &err) != MLP_OK) {
        fprintf(stderr, "mlpd eval: %s\n", err.msg);
        rc = 1;
    } else {
        printf("samples: %zu (%s split)\nloss: %.4f\naccuracy: %.4f\n", r.n, split, r.loss,
               r.accuracy);
        print_confusion(&r);
    }
    mlp_eval_result_free(&r);
    mlp_dataset_free(d);
    mlp_model_free(m);
    return rc;
}
