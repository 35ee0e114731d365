/* cpu_quota.c - see cpu_quota.h. */
#include "cpu_quota.h"

#include <stdio.h>
#include <string.h>

/* Cores for quota/period microseconds, rounded up; 0 when not a limit. */
static int cores_for(long long quota, long long period) {
    if (quota <= 0 || period <= 0) return 0;
    long long n = (quota + period - 1) / period;
    return n > 4096 ? 4096 : (int)n;
}

static int read_line(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int ok = fgets(buf, (int)cap, f) != NULL;
    fclose(f);
    return ok ? 0 : -1;
}

int cpu_quota_cores(const char *root) {
    char path[512], line[128];
    snprintf(path, sizeof path, "%s/cpu.max", root);
    if (read_line(path, line, sizeof line) == 0) {
        long long quota, period;
        if (!strncmp(line, "max", 3)) return 0;
        return sscanf(line, "%lld %lld", &quota, &period) == 2 ? cores_for(quota, period) : 0;
    }
    long long quota = 0, period = 0;
    snprintf(path, sizeof path, "%s/cpu/cpu.cfs_quota_us", root);
    if (read_line(path, line, sizeof line) != 0 || sscanf(line, "%lld", &quota) != 1) return 0;
    snprintf(path, sizeof path, "%s/cpu/cpu.cfs_period_us", root);
    if (read_line(path, line, sizeof line) != 0 || sscanf(line, "%lld", &period) != 1) return 0;
    return cores_for(quota, period);
}
