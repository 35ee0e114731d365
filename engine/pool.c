/* pool.c - helper threads that lend idle cores to one prediction at a time.
 *
 * Why: a batch-1 float32 forward pass of the reference network reads 2.1 MB
 * of packed weights, more than one core's L2 (2 MB on the Xeons measured):
 * it streams from L3 and is bound by that. Split by output panels over two
 * cores, each core reads the same half every time, and each half (1.05 MB)
 * stays in its core's L2 (split.c). Batches of 64-256 rows split the same
 * way use every core.
 *
 * One helper thread per extra core (MLPD_PREDICT_CORES, default the online
 * CPUs, at most MLP_POOL_MAX_PARTS), started on first use. A helper spins
 * for SPIN_NS after its last job (back-to-back predictions find it awake),
 * then sleeps on a futex. Lending is a try-acquire: a helper busy with
 * another caller's job is not waited for, and mlp_pool_leave() cancels a
 * job a helper has not started yet (its caller did the work itself) and
 * does not wait for one that has started: the job's memory is reference
 * counted and the helper stays unlendable until it has left. So a helper
 * that cannot run promptly (its core is busy) costs the caller a wake-up,
 * not a wait. Both are signs that the cores are busy. A helper taken back
 * cost a wake-up only: lending skips the next 1, 2, 4 ... 256 calls, fewer
 * after each on-time split. A caller that had to wait long for a helper's
 * claimed work (the helper lost its core midway: with another process on
 * that core this costs milliseconds, and such load usually lasts) pauses
 * lending for a time: 1 ms, doubling up to 1 s while it recurs within four
 * pauses, back to 1 ms after a quiet stretch.
 *
 * Linux only (futex); elsewhere the pool has no helpers and nothing splits.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

#define SPIN_NS      50000         /* a helper's spin after a job before it sleeps */
#define MIN_PAUSE_NS 1000000ull    /* lending pauses 1 ms after a late helper, */
#define MAX_PAUSE_NS 1000000000ull /* doubling up to 1 s while callers keep waiting */
#define MAX_SKIP     256           /* calls without lending after repeated late helpers */

enum { IDLE = 0, POSTED = 1, TAKEN = 2 };

typedef struct {
    _Alignas(64) atomic_int owned; /* 1 while a caller holds this helper */
    atomic_uint state;             /* IDLE, POSTED (job set), TAKEN (running it) */
    atomic_int sleeping;           /* 1 while in (or about to enter) futex wait */
    mlp_pool_job *job;             /* written by the owner before POSTED */
    int part;
} helper;

static helper helpers[MLP_POOL_MAX_PARTS - 1];
static int n_helpers;
static pthread_once_t started = PTHREAD_ONCE_INIT;
static _Atomic uint64_t pause_until; /* no lending before this mlp_now_ns() */
static _Atomic uint64_t pause_len;   /* length of the last pause */
static atomic_int skip_calls;        /* calls left without lending (after late helpers) */
static atomic_int skip_len;          /* length of the last such skip */
static _Thread_local int denied;     /* mlp_predict_split_here(0) on this thread */
static atomic_ulong n_lent, n_late;  /* helpers lent, of which never started */

uint64_t mlp_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

#ifdef __linux__
static void futex_wait(atomic_uint *word, unsigned expected) {
    syscall(SYS_futex, (unsigned *)word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

static void futex_wake(atomic_uint *word) {
    syscall(SYS_futex, (unsigned *)word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Wait for state POSTED: spin SPIN_NS, then sleep. */
static void wait_posted(helper *h) {
    uint64_t until = mlp_now_ns() + SPIN_NS;
    for (unsigned i = 1;; i++) {
        if (atomic_load_explicit(&h->state, memory_order_acquire) == POSTED) return;
        cpu_relax();
        if (i % 64 == 0 && mlp_now_ns() > until) break;
    }
    for (;;) {
        atomic_store(&h->sleeping, 1); /* seq_cst: pairs with the poster's check */
        if (atomic_load(&h->state) != POSTED) futex_wait(&h->state, IDLE);
        atomic_store(&h->sleeping, 0);
        if (atomic_load_explicit(&h->state, memory_order_acquire) == POSTED) return;
    }
}

static void *helper_main(void *arg) {
    helper *h = arg;
    pthread_setname_np(pthread_self(), "mlpd-core");
    for (;;) {
        wait_posted(h);
        unsigned posted = POSTED;
        /* The owner may have taken the job back meanwhile (state IDLE). */
        if (!atomic_compare_exchange_strong(&h->state, &posted, TAKEN)) continue;
        mlp_pool_job *job = h->job;
        job->run(job, h->part);
        atomic_store_explicit(&h->state, IDLE, memory_order_relaxed);
        atomic_fetch_sub_explicit(&job->refs, 1, memory_order_release); /* last touch of job */
        atomic_store_explicit(&h->owned, 0, memory_order_release);      /* lendable again */
    }
    return NULL;
}

/* MLPD_PREDICT_CORES when it is 1..MLP_POOL_MAX_PARTS (more than the online
 * CPUs is honoured: tests use it to run several helpers anywhere), else the
 * online CPUs, at most MLP_POOL_MAX_PARTS. */
static int cores_wanted(void) {
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    const char *env = getenv("MLPD_PREDICT_CORES");
    long want = env && *env ? strtol(env, NULL, 10) : 0;
    if (want < 1 || want > MLP_POOL_MAX_PARTS) want = online;
    if (want < 1) want = 1;
    return want > MLP_POOL_MAX_PARTS ? MLP_POOL_MAX_PARTS : (int)want;
}

static void start_helpers(void) {
    int want = mlp_predict_cores() - 1;
    /* Helpers take no signals: the daemon handles them on its own threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t ta;
    pthread_attr_init(&ta);
    pthread_attr_setstacksize(&ta, 256 * 1024); /* the job's data is the caller's */
    pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
    for (int i = 0; i < want; i++) {
        pthread_t t;
        if (pthread_create(&t, &ta, helper_main, &helpers[i]) != 0) break;
        n_helpers++;
    }
    pthread_attr_destroy(&ta);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}
#else
static int cores_wanted(void) {
    return 1;
}
static void start_helpers(void) {}
static void futex_wake(atomic_uint *word) {
    (void)word;
}
#endif

static int cores_counted;
static void count_cores(void) {
    cores_counted = cores_wanted();
}

int mlp_predict_cores(void) {
    static pthread_once_t counted = PTHREAD_ONCE_INIT;
    pthread_once(&counted, count_cores);
    return cores_counted;
}

void mlp_predict_split_here(int allow) {
    denied = !allow;
}

int mlp_pool_lend(mlp_pool_job *job, int max_helpers) {
    job->n_lent = 0;
    if (denied || max_helpers < 1) return 0;
    pthread_once(&started, start_helpers);
    if (n_helpers == 0) return 0;
    if (atomic_load_explicit(&skip_calls, memory_order_relaxed) > 0) {
        atomic_fetch_sub_explicit(&skip_calls, 1, memory_order_relaxed);
        return 0;
    }
    if (atomic_load_explicit(&pause_until, memory_order_relaxed) > mlp_now_ns()) return 0;
    for (int i = 0; i < n_helpers && job->n_lent < max_helpers; i++) {
        helper *h = &helpers[i];
        int free_ = 0;
        if (atomic_load_explicit(&h->owned, memory_order_relaxed) ||
            !atomic_compare_exchange_strong(&h->owned, &free_, 1))
            continue;
        h->job = job;
        h->part = 1 + job->n_lent;
        atomic_fetch_add_explicit(&job->refs, 1, memory_order_relaxed);
        job->lent[job->n_lent++] = i;
        atomic_store(&h->state, POSTED); /* seq_cst: pairs with the helper's `sleeping` */
        if (atomic_load(&h->sleeping)) futex_wake(&h->state);
    }
    return job->n_lent;
}

int mlp_pool_leave(mlp_pool_job *job, int slow) {
    int late = 0;
    for (int j = 0; j < job->n_lent; j++) {
        helper *h = &helpers[job->lent[j]];
        unsigned posted = POSTED;
        if (atomic_compare_exchange_strong(&h->state, &posted, IDLE)) {
            late++; /* never started: the caller did its part */
            atomic_fetch_sub_explicit(&job->refs, 1, memory_order_relaxed);
            atomic_store_explicit(&h->owned, 0, memory_order_release);
        } /* else it runs the job and drops its own reference when it leaves */
    }
    atomic_fetch_add_explicit(&n_lent, (unsigned long)job->n_lent, memory_order_relaxed);
    atomic_fetch_add_explicit(&n_late, (unsigned long)late, memory_order_relaxed);
    if (late && !slow) { /* cheap (a wake-up): skip 1, 2, 4 ... 256 calls */
        int len = atomic_load_explicit(&skip_len, memory_order_relaxed);
        len = len ? (len * 2 > MAX_SKIP ? MAX_SKIP : len * 2) : 1;
        atomic_store_explicit(&skip_len, len, memory_order_relaxed);
        atomic_store_explicit(&skip_calls, len, memory_order_relaxed);
    } else if (job->n_lent && !slow) { /* on time: skip fewer next time */
        atomic_store_explicit(&skip_len, atomic_load(&skip_len) / 2, memory_order_relaxed);
    }
    if (slow) {
        /* Costly (a wait for a descheduled helper). Again within four
         * pauses: pause twice as long; after a quiet stretch (the load went
         * away) start again from 1 ms. */
        uint64_t now = mlp_now_ns(), len = atomic_load_explicit(&pause_len, memory_order_relaxed);
        uint64_t until = atomic_load_explicit(&pause_until, memory_order_relaxed);
        len = len && now < until + 3 * len ? (len * 2 > MAX_PAUSE_NS ? MAX_PAUSE_NS : len * 2)
                                           : MIN_PAUSE_NS;
        atomic_store_explicit(&pause_len, len, memory_order_relaxed);
        atomic_store_explicit(&pause_until, now + len, memory_order_relaxed);
    }
    atomic_fetch_sub_explicit(&job->refs, 1, memory_order_release);
    return late;
}

void mlp_predict_split_counts(unsigned long *lent, unsigned long *late) {
    *lent = atomic_load_explicit(&n_lent, memory_order_relaxed);
    *late = atomic_load_explicit(&n_late, memory_order_relaxed);
}

void mlp_pool_backoff_reset(void) {
    atomic_store(&pause_len, 0);
    atomic_store(&pause_until, 0);
    atomic_store(&skip_len, 0);
    atomic_store(&skip_calls, 0);
}
