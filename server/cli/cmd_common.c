/* cmd_common.c - what the offline commands share: parsing their options,
 * loading the model file, wording a failure about a file (contracts in
 * commands.h). */
#include <stdio.h>
#include <string.h>

#include "cmd_common.h"
#include "commands.h"
#include "version.h"

void cli_fail_path(const char *cmd, const char *flag, const char *path, const char *why) {
    size_t n = strlen(path);
    if (!strncmp(why, path, n) && !strncmp(why + n, ": ", 2)) why += n + 2;
    fprintf(stderr, "mlpd %s: --%s %s: %s\n", cmd, flag, path, why);
}

int cli_command_parse(const char *cmd, const cli_option *opts, int argc, char **argv,
                      const char *usage, const char *summary) {
    char msg[512];
    int rc = cli_parse(opts, argc, argv, msg, sizeof msg);
    if (rc == CLI_HELP) {
        cli_print_help(stdout, usage, summary, opts);
        return 0;
    }
    if (rc != CLI_OK) {
        fprintf(stderr, "mlpd %s: %s\n", cmd, msg);
        return 2;
    }
    return -1;
}

mlp_model *cli_load_model(const char *cmd, const char *path) {
    mlp_error err = {{0}};
    mlp_model *m = NULL;
    if (mlp_model_load(path, &m, &err) == MLP_OK) return m;
    cli_fail_path(cmd, "model", path, err.msg);
    return NULL;
}

int cmd_version(void) {
    printf("mlpd %s\nprediction kernels: float32 %s (split over up to %d cores when idle), "
           "bf16 %s, int8 %s\n",
           MLPD_VERSION, mlp_kernel_name(), mlp_predict_cores(),
           mlp_kernel_name_for(MLP_PRECISION_BF16), mlp_kernel_name_for(MLP_PRECISION_INT8));
    return 0;
}
