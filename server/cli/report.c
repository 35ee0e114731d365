/* report.c - how the offline commands word a failure about a file (contract
 * in commands.h). */
#include <stdio.h>
#include <string.h>

#include "commands.h"

void cli_fail_path(const char *cmd, const char *flag, const char *path, const char *why) {
    size_t n = strlen(path);
    if (!strncmp(why, path, n) && !strncmp(why + n, ": ", 2)) why += n + 2;
    fprintf(stderr, "mlpd %s: --%s %s: %s\n", cmd, flag, path, why);
}
