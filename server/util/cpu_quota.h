/* cpu_quota.h - how many cores the process may use under a CPU quota.
 *
 * A container started with `--cpus 1` on a 2-core machine still sees 2 cores
 * (nproc, sched_getaffinity): the limit is a CFS quota in the cgroup, and
 * threads beyond it only queue for their turn. OpenBLAS sizes its pool by the
 * cores it sees, so the daemon caps it with this.
 */
#ifndef MLPD_CPU_QUOTA_H
#define MLPD_CPU_QUOTA_H

/* The quota as whole cores, rounded up (1.5 CPUs -> 2), read from the cgroup
 * v2 file <root>/cpu.max ("max 100000" or "150000 100000") or, failing that,
 * the v1 files <root>/cpu/cpu.cfs_quota_us and cpu.cfs_period_us. root is
 * "/sys/fs/cgroup" for the process itself (its own cgroup is the root inside
 * a container). Returns 0 when there is no quota or it cannot be read. */
int cpu_quota_cores(const char *root);

#endif /* MLPD_CPU_QUOTA_H */
