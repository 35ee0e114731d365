/* commands.h - the subcommands of the mlpd binary. Each takes the arguments
 * after its name (argv[0] is the subcommand) and returns the process exit
 * status: 0 success, 1 failure, 2 usage error. */
#ifndef MLPD_COMMANDS_H
#define MLPD_COMMANDS_H

int cmd_train(int argc, char **argv);   /* server/cmd_train.c */
int cmd_eval(int argc, char **argv);    /* server/cmd_eval.c */
int cmd_predict(int argc, char **argv); /* server/cmd_predict.c */
int cmd_serve(int argc, char **argv);   /* server/serve.c */

#endif
