/* cmd_common.h - what the offline commands (cmd_*.c) share; cmd_common.c. */
#ifndef MLPD_CMD_COMMON_H
#define MLPD_CMD_COMMON_H

#include "cli_args.h"
#include "mlp.h"

/* Print "mlpd <cmd>: --<flag> <path>: <why>" on stderr, naming the path once:
 * the engine's messages often start with it ("<path>: cannot open: ..."). */
void cli_fail_path(const char *cmd, const char *flag, const char *path, const char *why);

/* Parse argv (after the subcommand's name) against opts for `mlpd <cmd>`:
 * --help prints usage and summary with the options on stdout; a usage error
 * prints "mlpd <cmd>: <why>" on stderr. -1 to go on, else the exit status
 * to return (0 after --help, 2 after a usage error). */
int cli_command_parse(const char *cmd, const cli_option *opts, int argc, char **argv,
                      const char *usage, const char *summary);

/* The --model option every command that reads a model file takes. */
#define CLI_MODEL_OPTION(where)                                                                    \
    {                                                                                              \
        .name = "model", .kind = CLI_STRING, .dest = (where), .flags = CLI_REQUIRED,               \
        .metavar = "FILE", .help = "model file"                                                    \
    }

/* The model file at path (the --model of `mlpd <cmd>`; the caller frees it
 * with mlp_model_free), or NULL after printing why (cli_fail_path). */
mlp_model *cli_load_model(const char *cmd, const char *path);

#endif
