/* main.c - the mlpd binary: dispatches to its subcommands. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "serve.h"
#include "version.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"serve", cmd_serve, "run the HTTP daemon (training jobs, predictions, dashboard)"},
    {"train", cmd_train, "train a network offline and write a model file"},
    {"eval", cmd_eval, "evaluate a model file on a data set's test split"},
    {"predict", cmd_predict, "classify CSV rows of features with a model file"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: mlpd <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'mlpd <command> --help' describes a command's options; 'mlpd --version' "
               "prints the version.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        return cmd_version();
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "mlpd: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
