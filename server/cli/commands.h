/* commands.h - the offline subcommands of the mlpd binary (the daemon's is
 * cmd_serve, daemon/serve.h). Each takes the arguments after its name
 * (argv[0] is the subcommand) and returns the process exit status: 0
 * success, 1 failure, 2 usage error. */
#ifndef MLPD_COMMANDS_H
#define MLPD_COMMANDS_H

int cmd_train(int argc, char **argv);   /* cmd_train.c */
int cmd_eval(int argc, char **argv);    /* cmd_eval.c */
int cmd_predict(int argc, char **argv); /* cmd_predict.c */
/* `mlpd --version`: the version, then the prediction kernels this CPU runs
 * and the cores a float32 prediction may use (cmd_common.c). Returns 0. */
int cmd_version(void);

#endif
