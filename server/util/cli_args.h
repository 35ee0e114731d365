/* cli_args.h - mlpd's one option-table engine: the offline commands' flags
 * and `mlpd serve`'s settings (flags, MLPD_* variables, defaults, --help).
 *
 * A command describes its options as a table of cli_option (Valkey's
 * standardConfig habit: name, variable, type, destination, default, limits,
 * help in one row), and the functions below do the rest from it:
 *   cli_set_defaults()  each row's default text into its destination
 *   cli_parse_env()     each row's MLPD_* variable (an empty one counts as unset)
 *   cli_parse()         the command line (wins over the variables)
 *   cli_print_help()    one line per row, with its variable and its default
 * Everything doubtful is refused (unknown option, missing or malformed value,
 * value out of range, stray positional argument), always naming the flag or
 * the variable in err. A table without default texts keeps the destinations'
 * values as defaults, so help shows the real defaults, never a copy of them.
 *
 * The number helpers accept the whole string or nothing: no leading or
 * trailing blanks or garbage, no overflow, no NaN or infinity.
 *
 * Used by server/cli (train, eval, predict) and server/daemon/config.c. No
 * global state.
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
    CLI_FLAG,     /* no value; sets *(int *)dest = 1 */
    CLI_INT,      /* int *dest, within [min, max] */
    CLI_U64,      /* uint64_t *dest (decimal); within [min, max] when max > 0 */
    CLI_FLOAT,    /* float *dest, within min/max (see flags) */
    CLI_STRING,   /* const char **dest = the argv string (not copied) */
    CLI_CHOICE,   /* const char **dest = the matching entry of choices */
    CLI_INT_LIST, /* cli_int_list *dest: comma-separated ints within [min, max] */
    CLI_SIZE      /* size_t *dest: bytes, "1048576", "64K", "1M", "1MiB", "2G", "50%" of RAM; > 0 */
} cli_kind;

#define CLI_REQUIRED 1u /* the option must be given */
#define CLI_MIN_OPEN 2u /* CLI_FLOAT: value must be > min (not >=) */
#define CLI_MAX_OPEN 4u /* CLI_FLOAT: value must be < max (not <=) */
#define CLI_NEGATE   8u /* CLI_FLAG: sets *(int *)dest = 0 ("--no-shuffle") */
#define CLI_SECRET                                                                                 \
    16u /* from the environment only (a flag would show in ps), and a
                            variable set but empty is refused (a secret meant, not given) */

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
    const char *env;            /* its MLPD_* variable, or NULL. A CLI_FLAG with a variable
                                   also takes the variable's values as --flag=VALUE: 0, false
                                   and no clear it, anything else sets it */
    const char *def;            /* default as text (cli_set_defaults), or NULL: the
                                   destination already holds the default */
    size_t cap;                 /* CLI_STRING: 0, dest is a const char ** (the argv string,
                                   never empty); > 0, dest is a char[cap] that receives a
                                   copy (may be empty: "none") */
} cli_option;

/* Write each row's default text (def) into its destination; rows without
 * one are left alone. 0, or -1 with the row named in err when a default
 * does not parse (a mistake in the table). */
int cli_set_defaults(const cli_option *opts, char *err, size_t errlen);

/* Apply each row's environment variable, if set and not empty (a CLI_SECRET
 * set but empty is refused). CLI_OK, or CLI_USAGE with "MLPD_X: reason" in err. */
int cli_parse_env(const cli_option *opts, char *err, size_t errlen);

/* Parse argv[1..argc-1] (argv[0] is the command name) against opts, an array
 * ended by an entry whose name is NULL. Accepts "--name value" and
 * "--name=value"; a repeated option keeps its last value. Returns CLI_HELP if
 * --help or -h appears anywhere, else CLI_OK, or CLI_USAGE with a one-line
 * reason in err that names the flag ("--lr: 'abc' is not a number"). On
 * CLI_USAGE some destinations may already have been written. */
int cli_parse(const cli_option *opts, int argc, char **argv, char *err, size_t errlen);

/* Print "usage: <usage>", the summary, then one line per option with its
 * help text, its variable and its default (the def text, else the
 * destination's current value). */
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
/* A size in bytes (see CLI_SIZE), or "N%" (1..100) of the machine's physical
 * memory: 0, or -1 when malformed, zero or too big. */
int cli_parse_size(const char *s, size_t *out);

#endif /* MLPD_CLI_ARGS_H */
