/* serve.h - `mlpd serve`: the daemon's start-up, run and shutdown (serve.c). */
#ifndef MLPD_SERVE_H
#define MLPD_SERVE_H

/* Run the daemon with the arguments after "serve" (argv[0] is "serve").
 * Returns the process exit status: 0 after a clean shutdown, 1 when start-up
 * failed, 2 on a usage error. */
int cmd_serve(int argc, char **argv);

#endif /* MLPD_SERVE_H */
