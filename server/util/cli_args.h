/* cli_args.h - strict command-line parsing for mlpd's offline commands.
 *
 * A command describes its options as a table of cli_option; cli_parse() fills
 * the destinations and refuses anything doubtful (unknown option, missing or
 * malformed value, value out of range, stray positional argument), always
 * naming the offending flag in err. Destinations hold the defaults before
 * parsing, so cli_print_help() shows the real defaults, never a copy of them.
 *
 * The number helpers accept the whole string or nothing: no leading or
 * trailing blanks or garbage, no overflow, no NaN or infinity.
 *
 * Used by server/cli/cmd_train.c, cmd_eval.c and cmd_predict.c and by daemon/config.c. No global state.
 */
#ifndef MLPD_CLI_ARGS_H
#define MLPD_CLI_ARGS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* cli_parse() results, chosen to be process exit statuses. */
#define CLI_OK    0
#define CLI_HELP  1 /* --help / -h was given: print help, exit 0 */
#define CLI_USAGE 2 /* a usage error, described in err */

typedef enum {
    CLI_FLAG,    /* no value; sets *(int *)dest = 1 */
    CLI_INT,     /* int *dest, within [min, max] */
    CLI_U64,     /* uint64_t *dest (decimal); within [min, max] when max > 0 */
    CLI_FLOAT,   /* float *dest, within min/max (see flags) */
    CLI_STRING,  /* const char **dest = the argv string (not copied) */
    CLI_CHOICE,  /* const char **dest = the matching entry of choices */
    CLI_INT_LIST /* cli_int_list *dest: comma-separated ints within [min, max] */
} cli_kind;

#define CLI_REQUIRED 1u /* the option must be given */
#define CLI_MIN_OPEN 2u /* CLI_FLOAT: value must be > min (not >=) */
#define CLI_MAX_OPEN 4u /* CLI_FLOAT: value must be < max (not <=) */
#define CLI_NEGATE   8u /* CLI_FLAG: sets *(int *)dest = 0 ("--no-shuffle") */

#define CLI_LIST_MAX 16
typedef struct {
    int n;
    int v[CLI_LIST_MAX];
} cli_int_list;

typedef struct {
    const char *name; /* long name without "--" */
    cli_kind kind;
    void *dest;                 /* see cli_kind */
    double min, max;            /* CLI_INT, CLI_FLOAT, CLI_INT_LIST ranges */
    unsigned flags;             /* CLI_REQUIRED | CLI_MIN_OPEN | CLI_MAX_OPEN */
    const char *const *choices; /* CLI_CHOICE: NULL-terminated names */
    const char *metavar;        /* shown in help ("N", "DIR"); NULL: from kind */
    const char *help;           /* one line */
} cli_option;

/* Parse argv[1..argc-1] (argv[0] is the command name) against opts, an array
 * ended by an entry whose name is NULL. Accepts "--name value" and
 * "--name=value"; a repeated option keeps its last value. Returns CLI_HELP if
 * --help or -h appears anywhere, else CLI_OK, or CLI_USAGE with a one-line
 * reason in err that names the flag ("--lr: 'abc' is not a number"). On
 * CLI_USAGE some destinations may already have been written. */
int cli_parse(const cli_option *opts, int argc, char **argv, char *err, size_t errlen);

/* Print "usage: <usage>", the summary, then one line per option with its
 * help text and its current value as the default. */
void cli_print_help(FILE *f, const char *usage, const char *summary, const cli_option *opts);

/* ---- number helpers: 0 on success, -1 on a malformed or out-of-range string --- */
int cli_parse_long(const char *s, long min, long max, long *out);
int cli_parse_u64(const char *s, uint64_t *out);
/* A finite number within [min, max]; with open_min/open_max the bound itself
 * is excluded. */
int cli_parse_double(const char *s, double min, double max, int open_min, int open_max,
                     double *out);
/* "512,256" -> {512, 256}: 1..CLI_LIST_MAX items within [min, max], no empty
 * item, no blanks. */
int cli_parse_int_list(const char *s, long min, long max, cli_int_list *out);

#endif /* MLPD_CLI_ARGS_H */
