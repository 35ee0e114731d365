/* test_cli_args.c - the strict option parser and number helpers of
 * server/util/cli_args.c: what is accepted, what is refused, and that every
 * refusal names the flag. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli_args.h"

/* ---- numbers ------------------------------------------------------------------ */

static void test_parse_long(void **state) {
    (void)state;
    long v = 0;
    assert_int_equal(cli_parse_long("42", 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(cli_parse_long("-3", -5, 5, &v), 0);
    assert_int_equal(v, -3);
    assert_int_equal(cli_parse_long("100", 0, 100, &v), 0); /* bounds are inclusive */
    assert_int_equal(cli_parse_long("0", 0, 100, &v), 0);
    v = 7;
    const char *bad[] = {
        "", " 42", "42 ", "4x", "x4", "1.5", "101", "-1", "0x10", "99999999999999999999999", NULL};
    for (const char **s = bad; *s; s++) {
        assert_int_equal(cli_parse_long(*s, 0, 100, &v), -1);
        assert_int_equal(v, 7); /* untouched on failure */
    }
    assert_int_equal(cli_parse_long(NULL, 0, 100, &v), -1);
}

static void test_parse_u64(void **state) {
    (void)state;
    uint64_t v = 0;
    assert_int_equal(cli_parse_u64("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(cli_parse_u64("18446744073709551615", &v), 0);
    assert_true(v == UINT64_MAX);
    const char *bad[] = {"", "-1", "+1", " 1", "1 ", "18446744073709551616", "1e3", NULL};
    for (const char **s = bad; *s; s++) assert_int_equal(cli_parse_u64(*s, &v), -1);
}

static void test_parse_double(void **state) {
    (void)state;
    double v = 0;
    assert_int_equal(cli_parse_double("0.5", 0, 1, 0, 0, &v), 0);
    assert_true(v == 0.5);
    assert_int_equal(cli_parse_double("1e-3", 0, 1, 0, 0, &v), 0);
    assert_true(fabs(v - 1e-3) < 1e-18);
    assert_int_equal(cli_parse_double("0", 0, 1, 0, 0, &v), 0);
    assert_int_equal(cli_parse_double("1", 0, 1, 0, 0, &v), 0);
    /* Open bounds exclude the bound itself, and only it. */
    assert_int_equal(cli_parse_double("0", 0, 1, 1, 0, &v), -1);
    assert_int_equal(cli_parse_double("1", 0, 1, 0, 1, &v), -1);
    assert_int_equal(cli_parse_double("0.999", 0, 1, 0, 1, &v), 0);
    assert_int_equal(cli_parse_double("1e-9", 0, 1, 1, 0, &v), 0);
    const char *bad[] = {"",     "nan",  "NaN",  "inf", "-inf", "1e999", "1e-400",
                         "0.5x", " 0.5", "0.5 ", "abc", "-0.1", "1.01",  NULL};
    for (const char **s = bad; *s; s++) assert_int_equal(cli_parse_double(*s, 0, 1, 0, 0, &v), -1);
}

static void test_parse_int_list(void **state) {
    (void)state;
    cli_int_list l;
    assert_int_equal(cli_parse_int_list("512,256", 1, 4096, &l), 0);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.v[0], 512);
    assert_int_equal(l.v[1], 256);
    assert_int_equal(cli_parse_int_list("8", 1, 4096, &l), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.v[0], 8);
    const char *bad[] = {"", ",", "8,", ",8", "8,,9", "8, 9", "0", "4097", "8,x", "-8", NULL};
    for (const char **s = bad; *s; s++) {
        l.n = 99;
        assert_int_equal(cli_parse_int_list(*s, 1, 4096, &l), -1);
        assert_int_equal(l.n, 99); /* untouched on failure */
    }
    /* CLI_LIST_MAX items fit, one more does not. */
    char buf[256] = "";
    for (int i = 0; i < CLI_LIST_MAX; i++) strcat(buf, i ? ",7" : "7");
    assert_int_equal(cli_parse_int_list(buf, 1, 10, &l), 0);
    assert_int_equal(l.n, CLI_LIST_MAX);
    strcat(buf, ",7");
    assert_int_equal(cli_parse_int_list(buf, 1, 10, &l), -1);
}

/* ---- the option table ---------------------------------------------------------- */

static const char *const COLOURS[] = {"red", "green", NULL};

typedef struct {
    int n, flag;
    float x;
    uint64_t seed;
    const char *s, *colour, *req;
    cli_int_list list;
} opts_t;

/* The table under test; d holds the defaults. */
static void make_table(opts_t *d, cli_option *t) {
    memset(d, 0, sizeof *d);
    d->n = 5;
    d->x = 0.25f;
    d->seed = 9;
    d->colour = "red";
    d->list.n = 2;
    d->list.v[0] = 3;
    d->list.v[1] = 4;
    const cli_option table[] = {
        {"n", CLI_INT, &d->n, 1, 10, 0, NULL, NULL, "a count", NULL, NULL, 0},
        {"x", CLI_FLOAT, &d->x, 0, 1, CLI_MAX_OPEN, NULL, "P", "a share", NULL, NULL, 0},
        {"flag", CLI_FLAG, &d->flag, 0, 0, 0, NULL, NULL, "a switch", NULL, NULL, 0},
        {"seed", CLI_U64, &d->seed, 0, 0, 0, NULL, NULL, "a seed", NULL, NULL, 0},
        {"s", CLI_STRING, &d->s, 0, 0, 0, NULL, "TEXT", "a string", NULL, NULL, 0},
        {"colour", CLI_CHOICE, &d->colour, 0, 0, 0, COLOURS, NULL, "a colour", NULL, NULL, 0},
        {"list", CLI_INT_LIST, &d->list, 1, 100, 0, NULL, NULL, "widths", NULL, NULL, 0},
        {"req", CLI_STRING, &d->req, 0, 0, CLI_REQUIRED, NULL, "FILE", "needed", NULL, NULL, 0},
        {NULL, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, 0},
    };
    memcpy(t, table, sizeof table);
}

#define N_TABLE 9

/* Parse a NULL-terminated argument list (argv[0] = "cmd" is added). */
static int parse(const cli_option *t, char *err, size_t errlen, ...) {
    char *argv[32] = {"cmd"};
    int argc = 1;
    va_list ap;
    va_start(ap, errlen);
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 31;) argv[argc++] = a;
    va_end(ap);
    err[0] = '\0';
    return cli_parse(t, argc, argv, err, errlen);
}

static void test_parse_all_kinds(void **state) {
    (void)state;
    opts_t d;
    cli_option t[N_TABLE];
    make_table(&d, t);
    char err[256];
    int rc = parse(t, err, sizeof err, "--n", "7", "--x=0.5", "--flag", "--seed", "123", "--s",
                   "hello", "--colour", "green", "--list=10,20,30", "--req", "f.bin", NULL);
    assert_int_equal(rc, CLI_OK);
    assert_int_equal(d.n, 7);
    assert_true(d.x == 0.5f);
    assert_int_equal(d.flag, 1);
    assert_true(d.seed == 123);
    assert_string_equal(d.s, "hello");
    assert_string_equal(d.colour, "green");
    assert_ptr_equal(d.colour, COLOURS[1]); /* points at the table's name */
    assert_int_equal(d.list.n, 3);
    assert_int_equal(d.list.v[2], 30);
    assert_string_equal(d.req, "f.bin");
}

static void test_defaults_kept_and_last_wins(void **state) {
    (void)state;
    opts_t d;
    cli_option t[N_TABLE];
    make_table(&d, t);
    char err[256];
    assert_int_equal(parse(t, err, sizeof err, "--req", "a", "--n", "2", "--n", "3", NULL), CLI_OK);
    assert_int_equal(d.n, 3);
    assert_true(d.x == 0.25f);
    assert_int_equal(d.flag, 0);
    assert_true(d.seed == 9);
    assert_null(d.s);
    assert_string_equal(d.colour, "red");
    assert_int_equal(d.list.n, 2);
}

static void test_help(void **state) {
    (void)state;
    opts_t d;
    cli_option t[N_TABLE];
    make_table(&d, t);
    char err[256];
    /* --help wins even when other arguments are wrong or missing. */
    assert_int_equal(parse(t, err, sizeof err, "--help", NULL), CLI_HELP);
    assert_int_equal(parse(t, err, sizeof err, "--n", "1", "-h", NULL), CLI_HELP);
    assert_int_equal(parse(t, err, sizeof err, "--n", "abc", "--bogus", "--help", NULL), CLI_HELP);
}

/* Each bad command line gives CLI_USAGE with a message containing `needle`. */
static void test_refusals_name_the_flag(void **state) {
    (void)state;
    static const struct {
        const char *args[4];
        const char *needle;
    } cases[] = {
        {{"--nope", "1"}, "--nope"},
        {{"--nope=1"}, "--nope"},
        {{"--n"}, "--n needs a value"},
        {{"--n", "abc"}, "--n: 'abc'"},
        {{"--n", "11"}, "--n: '11'"},
        {{"--n", "0"}, "[1, 10]"},
        {{"--x", "1"}, "--x: '1' is not a number in [0, 1)"},
        {{"--x", "nan"}, "--x"},
        {{"--flag=1"}, "--flag takes no value"},
        {{"--seed", "-4"}, "--seed"},
        {{"--s", ""}, "--s: empty value"},
        {{"--colour", "blue"}, "'blue' is not one of red, green"},
        {{"--list", "1,,2"}, "--list"},
        {{"stray"}, "unexpected argument 'stray'"},
        {{"--"}, "unexpected argument '--'"},
        {{"-n", "3"}, "unexpected argument '-n'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        opts_t d;
        cli_option t[N_TABLE];
        make_table(&d, t);
        char *argv[8] = {"cmd", "--req", "r"};
        int argc = 3;
        for (int k = 0; k < 4 && cases[i].args[k]; k++) argv[argc++] = (char *)cases[i].args[k];
        char err[256] = "";
        int rc = cli_parse(t, argc, argv, err, sizeof err);
        if (rc != CLI_USAGE || !strstr(err, cases[i].needle))
            fail_msg("case %zu (%s): rc %d, message \"%s\", expected \"%s\"", i, cases[i].args[0],
                     rc, err, cases[i].needle);
    }
}

static void test_required(void **state) {
    (void)state;
    opts_t d;
    cli_option t[N_TABLE];
    make_table(&d, t);
    char err[256];
    assert_int_equal(parse(t, err, sizeof err, "--n", "2", NULL), CLI_USAGE);
    assert_non_null(strstr(err, "--req is required"));
    /* A small err buffer is filled, truncated, and terminated. */
    char tiny[8];
    assert_int_equal(parse(t, tiny, sizeof tiny, NULL), CLI_USAGE);
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
}

static void test_print_help_shows_defaults(void **state) {
    (void)state;
    opts_t d;
    cli_option t[N_TABLE];
    make_table(&d, t);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    cli_print_help(f, "cmd --req FILE [options]", "Does things.", t);
    fclose(f);
    const char *want[] = {"usage: cmd --req FILE [options]",
                          "Does things.",
                          "--n N",
                          "a count [default: 5]",
                          "--x P",
                          "[default: 0.25]",
                          "--flag ",
                          "--seed N",
                          "[default: 9]",
                          "(one of red|green) [default: red]",
                          "--list N,N,...",
                          "[default: 3,4]",
                          "--req FILE",
                          "needed (required)",
                          "--help",
                          NULL};
    for (const char **w = want; *w; w++)
        if (!strstr(text, *w)) fail_msg("help lacks \"%s\":\n%s", *w, text);
    /* A string option without a default shows none. */
    assert_null(strstr(text, "a string [default"));
    /* Defaults shown are the destinations' current values. */
    free(text);
    d.n = 8;
    f = open_memstream(&text, &len);
    cli_print_help(f, "cmd", NULL, t);
    fclose(f);
    assert_non_null(strstr(text, "a count [default: 8]"));
    free(text);
}

/* ---- settings: default texts, environment variables, buffers, sizes ------------------- */

typedef struct {
    char host[8];
    int port, quiet;
    size_t body;
    char secret[16];
} settings_t;

static void settings_table(settings_t *c, cli_option *t) {
    const cli_option rows[] = {
        {"host", CLI_STRING, c->host, 0, 0, 0, NULL, NULL, "a host", "T_HOST", "lo",
         sizeof c->host},
        {"port", CLI_INT, &c->port, 0, 65535, 0, NULL, NULL, "a port", "T_PORT", "8080", 0},
        {"quiet", CLI_FLAG, &c->quiet, 0, 0, 0, NULL, NULL, "be quiet", "T_QUIET", "0", 0},
        {"body", CLI_SIZE, &c->body, 0, 0, 0, NULL, NULL, "a size", "T_BODY", "1M", 0},
        {"secret", CLI_STRING, c->secret, 0, 0, CLI_SECRET, NULL, NULL, "a token", "T_SECRET", "",
         sizeof c->secret},
        {NULL, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, 0},
    };
    memcpy(t, rows, sizeof rows);
}

static void test_settings(void **state) {
    (void)state;
    settings_t c;
    cli_option t[6];
    char err[200] = "";
    memset(&c, 0x55, sizeof c);
    settings_table(&c, t);
    assert_int_equal(cli_set_defaults(t, err, sizeof err), 0);
    assert_string_equal(c.host, "lo");
    assert_int_equal(c.port, 8080);
    assert_int_equal(c.quiet, 0);
    assert_int_equal(c.body, 1 << 20);
    assert_string_equal(c.secret, "");
    /* Variables, then flags; an empty variable counts as unset. */
    setenv("T_PORT", "9000", 1);
    setenv("T_HOST", "", 1);
    setenv("T_QUIET", "yes", 1);
    setenv("T_BODY", "64K", 1);
    setenv("T_SECRET", "s3cr3t", 1);
    assert_int_equal(cli_parse_env(t, err, sizeof err), CLI_OK);
    assert_int_equal(c.port, 9000);
    assert_string_equal(c.host, "lo");
    assert_int_equal(c.quiet, 1);
    assert_int_equal(c.body, 64 << 10);
    assert_string_equal(c.secret, "s3cr3t");
    /* A switch with a variable takes its values after '='; a buffer may be emptied. */
    assert_int_equal(parse(t, err, sizeof err, "--port", "9100", "--quiet=false", "--host=", NULL),
                     CLI_OK);
    assert_int_equal(c.port, 9100);
    assert_int_equal(c.quiet, 0);
    assert_string_equal(c.host, "");
    /* Refusals name the variable or the flag. */
    setenv("T_BODY", "lots", 1);
    assert_int_equal(cli_parse_env(t, err, sizeof err), CLI_USAGE);
    assert_non_null(strstr(err, "T_BODY"));
    setenv("T_BODY", "1M", 1);
    setenv("T_SECRET", "", 1); /* a secret meant and not given */
    assert_int_equal(cli_parse_env(t, err, sizeof err), CLI_USAGE);
    assert_non_null(strstr(err, "T_SECRET"));
    assert_int_equal(parse(t, err, sizeof err, "--secret", "x", NULL), CLI_USAGE);
    assert_non_null(strstr(err, "unknown option '--secret'"));
    assert_int_equal(parse(t, err, sizeof err, "--host", "toolonghost", NULL), CLI_USAGE);
    assert_non_null(strstr(err, "--host: value too long"));
    assert_int_equal(parse(t, err, sizeof err, "--body", "0", NULL), CLI_USAGE);
    assert_non_null(strstr(err, "--body"));
    unsetenv("T_PORT");
    unsetenv("T_HOST");
    unsetenv("T_QUIET");
    unsetenv("T_BODY");
    unsetenv("T_SECRET");
    /* Help shows the default texts and the variables. */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cli_print_help(f, "cmd", NULL, t);
    fclose(f);
    const char *want[] = {"a port [default: 8080] (in 0..65535; T_PORT)",
                          "--body SIZE",
                          "a size [default: 1M] (T_BODY)",
                          "(environment only)",
                          "a token (T_SECRET)",
                          NULL};
    for (const char **w = want; *w; w++)
        if (!strstr(text, *w)) fail_msg("help lacks \"%s\":\n%s", *w, text);
    free(text);
}

static void test_parse_size(void **state) {
    (void)state;
    size_t v = 0;
    assert_int_equal(cli_parse_size("1048576", &v), 0);
    assert_int_equal(v, 1048576);
    assert_int_equal(cli_parse_size("2g", &v), 0);
    assert_true(v == (size_t)2 << 30);
    assert_int_equal(cli_parse_size("1MiB", &v), 0);
    assert_int_equal(v, 1 << 20);
    const char *bad[] = {"", "0", "-5", "+5", " 5", "12Q", "1MX", "99999999999999999999G", NULL};
    for (const char **s = bad; *s; s++) assert_int_equal(cli_parse_size(*s, &v), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_long),
        cmocka_unit_test(test_parse_u64),
        cmocka_unit_test(test_parse_double),
        cmocka_unit_test(test_parse_int_list),
        cmocka_unit_test(test_parse_all_kinds),
        cmocka_unit_test(test_defaults_kept_and_last_wins),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_refusals_name_the_flag),
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_print_help_shows_defaults),
        cmocka_unit_test(test_settings),
        cmocka_unit_test(test_parse_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
