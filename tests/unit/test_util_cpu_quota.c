/* test_util_cpu_quota.c - server/util/cpu_quota.c: the cores a CPU quota
 * allows, from cgroup v2 and v1 files laid out in a temporary folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "cpu_quota.h"
#include "test_util.h"

static char dir[64];

static int setup(void **state) {
    (void)state;
    return tu_make_temp_dir(dir, sizeof dir, "quota");
}

static int teardown(void **state) {
    (void)state;
    return tu_remove_tree(dir);
}

static void test_v2(void **state) {
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/cpu.max", dir);
    tu_write_text(path, "100000 100000\n"); /* --cpus 1 */
    assert_int_equal(cpu_quota_cores(dir), 1);
    tu_write_text(path, "150000 100000\n"); /* --cpus 1.5: two threads may run */
    assert_int_equal(cpu_quota_cores(dir), 2);
    tu_write_text(path, "50000 100000\n"); /* half a core still allows one */
    assert_int_equal(cpu_quota_cores(dir), 1);
    tu_write_text(path, "max 100000\n"); /* no quota */
    assert_int_equal(cpu_quota_cores(dir), 0);
    tu_write_text(path, "garbage\n");
    assert_int_equal(cpu_quota_cores(dir), 0);
    unlink(path);
}

static void test_v1_and_none(void **state) {
    (void)state;
    assert_int_equal(cpu_quota_cores(dir), 0); /* no files at all */
    char sub[128], path[160];
    snprintf(sub, sizeof sub, "%s/cpu", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", sub);
    tu_write_text(path, "200000\n");
    snprintf(path, sizeof path, "%s/cpu.cfs_period_us", sub);
    tu_write_text(path, "100000\n");
    assert_int_equal(cpu_quota_cores(dir), 2);
    snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", sub);
    tu_write_text(path, "-1\n"); /* v1's "no quota" */
    assert_int_equal(cpu_quota_cores(dir), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v2),
        cmocka_unit_test(test_v1_and_none),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
