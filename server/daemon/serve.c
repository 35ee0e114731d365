/* serve.c - `mlpd serve`: start-up, the wait for a signal, orderly shutdown.
 *
 * Start: settings (config.h), tokens (auth.h) and CORS origins (cors.h) ->
 * store_open -> datasets_scan -> jobs_start -> sweeps_start -> model cache, router,
 * event-stream hub -> listen. Listening beyond loopback without tokens is
 * allowed but logged as a warning. The bound port is logged
 * and, with --port-file, written to a file (for --port 0).
 *
 * Signals: SIGTERM/SIGINT handlers only count; the main thread waits in
 * sigsuspend(). On the first signal it drains: readiness turns false and
 * answers close their connections; after --shutdown-delay seconds of serving
 * like that (load balancers take the daemon out meanwhile) the listener
 * closes (MHD_quiesce_daemon), the job runner stops (running jobs
 * are queued again, to resume from their checkpoints), event streams end, in-flight requests get a
 * few seconds, then MHD stops and the store closes; exit 0. A second signal
 * during that exits at once with status 1.
 */
#include <cblas.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "auth.h"
#include "config.h"
#include "cpu_quota.h"
#include "cors.h"
#include "http.h"
#include "jobs.h"
#include "sweeps.h"
#include "log.h"
#include "metrics.h"
#include "mlp.h"
#include "model_cache.h"
#include "model_stats.h"
#include "registry.h"
#include "router.h"
#include "serve.h"
#include "datasets.h"
#include "store.h"
#include "web_assets.h"

#define DRAIN_SECONDS        5.0
#define MODEL_CACHE_CAPACITY 16

/* Start-up state for the signal handler (the only globals of the daemon). */
static volatile sig_atomic_t signals_seen;

static void on_signal(int sig) {
    (void)sig;
    if (++signals_seen >= 2) _exit(1);
}

/* The job runner's view of prediction traffic (jobs_config.serving). */
static uint64_t predictions_answered(void *user) {
    return atomic_load_explicit(&((mlpd_metrics *)user)->prediction_requests, memory_order_relaxed);
}

/* The job runner committed a model: "the latest model" may have changed. */
static void model_saved(void *user) {
    model_cache_models_changed(user);
}

/* If dir/probe does not exist, look for <binary's dir>/../<name> and
 * <binary's dir>/../../<name> (build/mlpd, build/<x>/mlpd) and use it. */
static void resolve_dir(char *dir, size_t cap, const char *probe, const char *name) {
    char path[PATH_MAX + 64 + 32];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, probe);
    if (stat(path, &sb) == 0) return;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return;
    *slash = '\0';
    static const char *const ups[] = {"..", "../.."};
    for (size_t i = 0; i < 2; i++) {
        char cand[PATH_MAX + 32];
        snprintf(cand, sizeof cand, "%s/%s/%s", exe, ups[i], name);
        snprintf(path, sizeof path, "%s/%s", cand, probe);
        if (stat(path, &sb) == 0 && strlen(cand) < cap) {
            memcpy(dir, cand, strlen(cand) + 1);
            return;
        }
    }
}

/* Write the port to path atomically (temp file + rename). */
static int write_port_file(const char *path, int port) {
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0) return -1;
    return rename(tmp, path);
}

/* 127.0.0.0/8 only: anything else is reachable from other hosts. */
static int is_loopback(const char *ipv4) {
    return !strncmp(ipv4, "127.", 4);
}

/* SIGTERM and SIGINT are handled by the main thread only: blocked here until
 * cmd_serve waits for them with sigsuspend(old). SIGPIPE is ignored. */
static void install_signals(sigset_t *old) {
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigaddset(&term, SIGINT);
    pthread_sigmask(SIG_BLOCK, &term, old);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Process-wide settings of OpenBLAS and malloc. */
static void tune_process(const serve_config *cfg) {
    /* OpenBLAS' thread count is process-wide. Predictions on packed models
     * (up to MLP_PACKED_MAX_ROWS rows) never call OpenBLAS, so
     * training may use every core while nothing is served, and drops to one
     * thread while predictions are answered (jobs.h). Under a CPU quota (a
     * container's --cpus) "every core" means the quota, not the cores the
     * process sees: more threads would only wait for their share. */
    if (cfg->blas_threads > 0) {
        openblas_set_num_threads(cfg->blas_threads);
    } else {
        int quota = cpu_quota_cores("/sys/fs/cgroup");
        if (quota > 0 && quota < openblas_get_num_threads()) {
            openblas_set_num_threads(quota);
            log_info("CPU quota of %d core(s): OpenBLAS limited to %d thread(s)", quota, quota);
        }
    }
    log_info("OpenBLAS threads %d (core %s); prediction kernel %s", openblas_get_num_threads(),
             openblas_get_corename(), mlp_kernel_name());

    /* Fixed malloc thresholds. glibc raises its mmap threshold to the size of
     * the largest mmap'd block freed so far, and its trim threshold to twice
     * that: after a model file (2 MB) is read and freed, up to 4 MB of freed
     * heap stayed resident in each thread's arena. Serving one model went
     * from 20.7 to 16.6 MiB with these (make bench:
     * tests/bench/section_5_memory.sh). 1 MiB and not glibc's initial 128 KiB:
     * OpenBLAS mallocs and frees a 516 KiB job array in every multi-threaded
     * sgemm, which then cost an mmap, page faults and an munmap (with TLB
     * shootdowns to the other core) per product. */
    mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
}

/* What another daemon on the same database did (store_listen's thread). */
static void on_store_event(void *user, store_event ev, int64_t id) {
    app *a = user;
    if (ev == STORE_EVENT_MODELS)
        model_cache_changed_elsewhere(a->models);
    else
        jobs_on_event(a->jobs, ev, id);
}

/* --node-name, or hostname:port (the configured port) when empty. */
static void node_name(const serve_config *cfg, char *out, size_t cap) {
    if (cfg->node_name[0]) {
        snprintf(out, cap, "%s", cfg->node_name);
        return;
    }
    char host[64] = "localhost";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    snprintf(out, cap, "%s:%d", host, cfg->port);
}

/* Everything the handlers use, bottom up: store, data sets, model cache and
 * registry, job runner, dashboard files, router, event streams. 0, or -1
 * after logging why (what started is freed by stop_services); -2 when the
 * store cannot be used as configured (a PostgreSQL URI that is malformed,
 * unreachable or refused; a schema newer than this binary, on either store):
 * a setting to fix, like any refused flag, which exits 2. */
static int start_services(app *a, const serve_config *cfg, mlpd_metrics *metrics,
                          web_assets **web) {
    mlpd_error se = {0};
    char db_shown[sizeof cfg->db];
    store_path_display(cfg->db, db_shown, sizeof db_shown);
    if (store_open(cfg->db, cfg->migrations, &a->st, &se) != MLPD_OK) {
        log_error("cannot open the store %s: %s", db_shown, se.msg);
        return store_path_is_uri(cfg->db) || se.code == MLPD_ECONFLICT ? -2 : -1;
    }
    store_set_keep_step_metrics(a->st, cfg->keep_step_metrics);
    int found = datasets_scan(a->st, cfg->data_dir, cfg->max_dataset_bytes, &se);
    if (found < 0)
        log_error("scanning %s: %s", cfg->data_dir, se.msg);
    else
        log_info("data dir %s: %d data set(s)", cfg->data_dir, found);
    batcher_options bo = {.max_rows = cfg->predict_batch_rows,
                          .max_delay_us = cfg->predict_batch_delay_us,
                          .idle_gap_us = cfg->predict_batch_gap_us};
    /* Before the job runner, which tells it about the models jobs make. */
    a->models = model_cache_create(a->st, MODEL_CACHE_CAPACITY, &bo);
    a->registry = registry_create(a->st, cfg->default_alias);
    a->stats = model_stats_create();
    if (a->models && a->registry) model_cache_attach_registry(a->models, a->registry);
    if (!a->models || !a->registry || !a->stats) {
        log_error("cannot start: out of memory");
        return -1;
    }
    char node[160];
    node_name(cfg, node, sizeof node);
    jobs_config jc = {.st = a->st,
                      .data_dir = cfg->data_dir,
                      .max_dataset_bytes = cfg->max_dataset_bytes,
                      .max_running = cfg->max_jobs,
                      .api_only = !strcmp(cfg->role, "api"),
                      .node_name = node,
                      .lease_seconds = cfg->lease_seconds,
                      .max_queued = cfg->max_queue,
                      .blas_threads = cfg->blas_threads,
                      .serving = predictions_answered,
                      .serving_user = metrics,
                      .model_saved = model_saved,
                      .model_saved_user = a->models,
                      .log = log_job,
                      .log_user = NULL};
    if (jobs_start(&jc, &a->jobs, &se) != MLPD_OK) {
        log_error("cannot start the job runner: %s", se.msg);
        return -1;
    }
    /* After the job runner: its recovery settles the children first. */
    sweeps_config wc = {.st = a->st,
                        .jobs = a->jobs,
                        .max_active = cfg->max_queue > 0 ? cfg->max_queue : 1,
                        .node = node,
                        .lease_seconds = cfg->lease_seconds,
                        .log = log_job,
                        .log_user = NULL};
    if (sweeps_start(&wc, &a->sweeps, &se) != MLPD_OK) {
        log_error("cannot start the sweep scheduler: %s", se.msg);
        return -1;
    }
    /* Other daemons on a shared database: their jobs and model changes. */
    if (store_listen(a->st, on_store_event, a, &se) != MLPD_OK) {
        log_error("cannot listen to the store: %s", se.msg);
        return -1;
    }
    /* Only the dashboard's own files are served from the web dir. */
    mlpd_error we = {0};
    if (web_assets_load(cfg->web_dir, web, &we) != MLPD_OK)
        log_error("the dashboard is not served: %s", we.msg);
    a->web = *web;
    a->router = router_create(cfg->max_body, cfg->max_upload, serve_predict_body_limit(cfg));
    a->sse = sse_hub_create(cfg->max_streams, &se);
    if (!a->router || !a->sse) {
        log_error("cannot start: %s", a->sse ? "out of memory" : se.msg);
        return -1;
    }
    return 0;
}

/* Free what start_services started (NULLs are fine); the job runner is
 * stopped first if it still runs. */
static void stop_services(app *a, web_assets *web) {
    sweeps_free(a->sweeps);
    if (a->st) store_listen_stop(a->st); /* its callback uses the runner and the cache */
    jobs_free(a->jobs);
    sse_hub_free(a->sse);
    model_cache_free(a->models);
    registry_free(a->registry);
    model_stats_free(a->stats);
    router_free(a->router);
    web_assets_free(web);
    if (a->st) store_close(a->st);
}

/* The start-up lines: where, who may call, and a warning when the daemon is
 * reachable beyond loopback without tokens. */
static void log_listening(const serve_config *cfg, const auth_keys *keys, const cors_policy *cors,
                          int port) {
    char db_shown[sizeof cfg->db];
    store_path_display(cfg->db, db_shown, sizeof db_shown);
    log_info("listening on http://%s:%d (workers %d, max jobs %d, db %s, data %s)", cfg->bind, port,
             cfg->workers, cfg->max_jobs, db_shown, cfg->data_dir);
    log_info("prediction kernel: %s, split over up to %d cores when idle (bf16: %s, int8: %s)",
             mlp_kernel_name(), mlp_predict_cores(), mlp_kernel_name_for(MLP_PRECISION_BF16),
             mlp_kernel_name_for(MLP_PRECISION_INT8));
    log_info("access: %s; CORS: %s",
             !auth_enabled(keys)                           ? "open (no tokens)"
             : keys->management_len && keys->inference_len ? "management and inference tokens"
             : keys->management_len                        ? "management token only"
                                    : "inference token only (management locked)",
             cors_enabled(cors) ? cfg->cors_origins : "off");
    if (!is_loopback(cfg->bind) && !auth_enabled(keys))
        log_error("warning: listening on %s beyond loopback without tokens: anyone who can reach "
                  "it may train, upload and delete (set MLPD_MANAGEMENT_TOKEN or "
                  "--management-token-file, see docs/security.md)",
                  cfg->bind);
}

/* Wait for SIGTERM/SIGINT, then shut down in order: readiness false and
 * keep-alive off; for `delay` seconds (--shutdown-delay) everything is still
 * served, so a load balancer polling /readyz takes the daemon out of its pool
 * before anything is refused; then no new connections, jobs stopped at a
 * batch boundary, streams ended, requests in flight drained (DRAIN_SECONDS at
 * most), the server stopped. sigsuspend unblocks the signals only while
 * waiting, so one cannot slip in between the check and the wait. */
static void serve_until_signal(app *a, http_server *http, int delay, const sigset_t *old) {
    while (!signals_seen) sigsuspend(old);
    pthread_sigmask(SIG_SETMASK, old, NULL); /* a second signal now exits at once */
    atomic_store(&a->draining, 1);
    http_server_end_keepalive(http);
    if (delay > 0) {
        log_info("shutting down: not ready, still serving for %d s", delay);
        sleep_ms(delay * 1000); /* a second signal's handler exits during it */
    }
    log_info("shutting down: draining");
    atomic_store(&a->stopping, 1);
    http_server_quiesce(http);
    sweeps_stop(a->sweeps); /* before the runner: no child is queued while it stops */
    jobs_stop(a->jobs);
    sse_hub_stop(a->sse);
    int left = http_server_drain(http, DRAIN_SECONDS);
    if (left > 0) log_info("closing %d request(s) still in flight", left);
    http_server_stop(http);
}

int cmd_serve(int argc, char **argv) {
    serve_config cfg;
    serve_config_default(&cfg);
    char err[512] = "";
    int prc = serve_config_parse(&cfg, argc, argv, stdout, err, sizeof err);
    if (prc == 1) return 0;
    if (prc != 0) {
        fprintf(stderr, "mlpd serve: %s\n", err);
        return 2;
    }
    /* These stay on this stack frame, which outlives the server. */
    auth_keys keys;
    cors_policy cors;
    auth_sources tokens;
    rest_config rest;
    serve_config_auth(&cfg, &tokens);
    if (auth_keys_load(&keys, &tokens, err, sizeof err) != 0 ||
        cors_policy_parse(&cors, cfg.cors_origins, err, sizeof err) != 0) {
        fprintf(stderr, "mlpd serve: %s\n", err);
        return 2;
    }
    resolve_dir(cfg.api_dir, sizeof cfg.api_dir, "openapi.yaml", "api");
    resolve_dir(cfg.web_dir, sizeof cfg.web_dir, "index.html", "web");
    resolve_dir(cfg.migrations, sizeof cfg.migrations, ".", "migrations");
    serve_config_rest(&cfg, &rest);
    if (mkdir(cfg.data_dir, 0755) != 0 && errno != EEXIST) {
        log_error("cannot create data dir %s: %s", cfg.data_dir, strerror(errno));
        return 1;
    }
    sigset_t old;
    install_signals(&old);

    int rc = 1;
    http_server *http = NULL;
    web_assets *web = NULL;
    mlpd_metrics metrics;
    metrics_init(&metrics);
    app a;
    memset(&a, 0, sizeof a);
    a.cfg = &rest;
    a.auth = &keys;
    a.cors = &cors;
    a.metrics = &metrics;
    a.started_at = wall_seconds();
    atomic_init(&a.draining, 0);
    atomic_init(&a.stopping, 0);
    atomic_init(&a.http, NULL);
    tune_process(&cfg);
    int started = start_services(&a, &cfg, &metrics, &web);
    if (started != 0) {
        if (started == -2) rc = 2;
        goto out;
    }

    http_options ho = {.bind = cfg.bind,
                       .port = cfg.port,
                       .workers = cfg.workers,
                       .max_connections = cfg.max_connections,
                       .timeout_seconds = cfg.timeout,
                       .balance = http_balance_parse(cfg.balance)};
    http_handler handler = router_http_handler(&a);
    mlpd_error he = {0};
    http_server_start(&ho, &handler, &http, &he);
    atomic_store(&a.http, http);
    if (!http) {
        log_error("%s", he.msg);
        goto out;
    }
    int port = http_server_port(http);
    log_listening(&cfg, &keys, &cors, port);
    if (cfg.port_file[0] && write_port_file(cfg.port_file, port) != 0)
        log_error("cannot write the port file %s: %s", cfg.port_file, strerror(errno));
    serve_until_signal(&a, http, cfg.shutdown_delay, &old);
    http = NULL;
    rc = 0;
out:
    if (http) {
        sse_hub_stop(a.sse);
        http_server_stop(http);
    }
    stop_services(&a, web);
    if (rc == 0) log_info("stopped");
    if (cfg.port_file[0]) unlink(cfg.port_file);
    return rc;
}
