/* jobs_worker.c - training one run: load its dataset, build or warm-start its
 * model, train with callbacks that record progress, store the model.
 *
 * What is recorded when (so that a SIGKILL loses at most the epoch in progress):
 * - every epoch: the metrics loss, accuracy, val_loss, val_accuracy, seconds,
 *   learning_rate (NaN ones skipped), the run's progress row and its
 *   checkpoint (the engine's: weights, optimizer, generator and schedule
 *   state), in one transaction. A run claimed again (rescued, or queued again
 *   by a restart or a drain) continues after that epoch and ends with the
 *   weights an uninterrupted run would have;
 * - every STEP_METRIC_INTERVAL batches: "step_loss" (the batch's) and
 *   "step_accuracy" (the epoch's running accuracy) metrics, held in memory
 *   and committed with the next progress row or epoch (a transaction is an
 *   fsync: one per step metric cost the job up to a quarter of its speed
 *   when the disk was slow);
 * - at most every PROGRESS_WRITE_SECONDS during an epoch: the progress row;
 * - every batch: the in-memory live state only (jobs_get_live);
 * - at a successful end: the model, the test metrics and the status
 *   succeeded, in one transaction (a crash leaves no model of a failed run).
 *   The model file keeps the optimizer's state when the optimizer has one
 *   (momentum, adam, adamw: model format version 2), and a warm start from it
 *   with an optimizer of the same kind continues that state, so chained jobs
 *   step like one run; plain SGD models stay version 1 files.
 * A run whose "running" status cannot be written (e.g. a full disk) is not
 * trained: it ends failed with the store's reason. The callbacks that record
 * progress are jobs_progress.c's.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "clock.h"
#include "encode.h"
#include "evaluation.h"
#include "jobs_progress.h"

/* printf into why[0..cap): the reason a run failed, as recorded with it. */
__attribute__((format(printf, 3, 4))) static void set_why(char *why, size_t cap, const char *fmt,
                                                          ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
}

/* ---- network shape -------------------------------------------------------------------- */

static int make_arch(const api_train_request *req, int features, int classes, mlp_arch *a,
                     mlp_error *e) {
    const mlp_recipe *r = &req->recipe;
    if (mlp_arch_make(a, features, r->hidden, r->n_hidden, r->activation, classes, r->loss,
                      r->output_activation, e) != MLP_OK)
        return -1;
    return mlp_arch_validate(a, e) == MLP_OK ? 0 : -1;
}

/* The warm-start model `id`, parsed, and its optimizer state if `state` is
 * not NULL (empty for a file without). MLPD_ENOTFOUND, the store's code, or
 * MLPD_EINTERNAL for a file the engine refuses; the reason in err. */
static int load_store_model(jobs *j, int64_t id, mlp_model **out, mlp_optim_state *state,
                            mlpd_error *err) {
    unsigned char *buf = NULL;
    size_t len = 0;
    mlpd_error se = {0};
    int rc = store_model_file(j->cfg.st, id, &buf, &len, &se);
    if (rc == MLPD_ENOTFOUND)
        return mlpd_fail(err, rc, "warm-start model %lld not found", (long long)id);
    if (rc != MLPD_OK) return mlpd_fail(err, rc, "store: %s", se.msg);
    mlp_error e = {{0}};
    mlp_status ms = mlp_model_from_buffer_with_state(buf, len, out, state, &e);
    free(buf);
    if (ms != MLP_OK)
        return mlpd_fail(err, MLPD_EINTERNAL, "warm-start model %lld is unreadable: %s",
                         (long long)id, e.msg);
    return MLPD_OK;
}

int jobs_check_request(jobs *j, const api_train_request *req, mlpd_error *err) {
    store_dataset ds;
    mlpd_error se = {0};
    int rc = store_dataset_get(j->cfg.st, req->dataset, &ds, &se);
    if (rc == MLPD_ENOTFOUND) return mlpd_fail(err, rc, "dataset '%s' not found", req->dataset);
    if (rc != MLPD_OK) return mlpd_fail(err, rc, "store: %s", se.msg);
    mlp_arch want;
    mlp_error e = {{0}};
    if (make_arch(req, ds.features, ds.classes, &want, &e) != 0)
        rc = mlpd_fail(err, MLPD_ECONFLICT,
                       "the network does not fit dataset '%s' (%d features, %d classes): %s",
                       ds.name, ds.features, ds.classes, e.msg);
    store_dataset_clear(&ds);
    if (rc != MLPD_OK || req->warm_start_model <= 0) return rc;
    mlp_model *m = NULL;
    rc = load_store_model(j, req->warm_start_model, &m, NULL, err);
    if (rc == MLPD_OK && mlp_warm_start_check(&m->arch, want.sizes[0], want.sizes[want.n_layers],
                                              &want, &e) != MLP_OK) {
        rc = mlpd_fail(err, MLPD_ECONFLICT, "warm-start model %lld does not fit: %s",
                       (long long)req->warm_start_model, e.msg);
    }
    mlp_model_free(m);
    return rc;
}

/* ---- JSON written with the model ---------------------------------------------------------- */

static void add_finite(cJSON *o, const char *key, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
}

static char *metrics_json(const mlp_train_result *r, double test_loss, double test_acc,
                          double train_seconds) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "epochs_run", r->epochs_run);
    cJSON_AddNumberToObject(o, "best_epoch", r->best_epoch);
    cJSON_AddBoolToObject(o, "stopped_early", r->stopped_early);
    add_finite(o, "loss", r->last.loss);
    add_finite(o, "accuracy", r->last.accuracy);
    add_finite(o, "val_loss", r->last.val_loss);
    add_finite(o, "val_accuracy", r->last.val_accuracy);
    add_finite(o, "test_loss", test_loss);
    add_finite(o, "test_accuracy", test_acc);
    add_finite(o, "train_seconds", train_seconds);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* ---- one run ---------------------------------------------------------------------------------- */

/* Everything one run holds; released by run_release. */
typedef struct {
    store_dataset ds;
    mlp_dataset *train, *test;
    mlp_model *model;
    unsigned char *ckpt; /* the run's checkpoint to resume from, or NULL */
    size_t ckpt_len;
    int ckpt_epoch;
    mlp_optim_state state_in;  /* the warm-start file's optimizer state, or empty */
    mlp_optim_state state_out; /* the run's final optimizer state */
} run_res;

static void run_release(run_res *r) {
    free(r->ckpt);
    mlp_optim_state_free(&r->state_in);
    mlp_optim_state_free(&r->state_out);
    store_dataset_clear(&r->ds);
    mlp_dataset_free(r->train);
    mlp_dataset_free(r->test);
    mlp_model_free(r->model);
}

/* Load the data and make the model. 0, or -1 with the reason in why. */
static int prepare(jobs *j, const job *jb, run_res *r, char *why, size_t cap) {
    const api_train_request *req = &jb->req;
    mlpd_error se = {0};
    int rc = store_dataset_get(j->cfg.st, req->dataset, &r->ds, &se);
    if (rc != MLPD_OK) {
        set_why(why, cap, rc == MLPD_ENOTFOUND ? "dataset '%s' not found" : "store: %s",
                rc == MLPD_ENOTFOUND ? req->dataset : se.msg);
        return -1;
    }
    /* The path is relative to the data dir and must stay inside it. */
    if (r->ds.path[0] == '/' || strstr(r->ds.path, "..")) {
        set_why(why, cap, "dataset '%s' has a path outside the data dir", r->ds.name);
        return -1;
    }
    /* Read under the data dir, so that messages name files relative to it
     * (a job's error is shown to API clients: no server path in it). */
    mlp_load_opts lo = {.base_dir = j->data_dir, .max_bytes = j->cfg.max_dataset_bytes};
    mlp_error e = {{0}};
    if (mlp_dataset_load_path(r->ds.path, "train", &lo, &r->train, &e) != MLP_OK ||
        (r->ds.n_test > 0 &&
         mlp_dataset_load_path(r->ds.path, "test", &lo, &r->test, &e) != MLP_OK)) {
        set_why(why, cap, "dataset '%s': %s", r->ds.name, e.msg);
        return -1;
    }
    if (r->train->features != r->ds.features || r->train->classes > r->ds.classes) {
        set_why(why, cap,
                "dataset '%s' changed on disk: %d features, %d classes (registered %d, %d)",
                r->ds.name, r->train->features, r->train->classes, r->ds.features, r->ds.classes);
        return -1;
    }
    mlp_arch arch;
    if (make_arch(req, r->ds.features, r->ds.classes, &arch, &e) != 0) {
        set_why(why, cap, "network: %s", e.msg);
        return -1;
    }
    if (req->warm_start_model > 0) {
        mlpd_error me = {0};
        if (load_store_model(j, req->warm_start_model, &r->model, &r->state_in, &me) != MLPD_OK) {
            set_why(why, cap, "%s", me.msg);
            return -1;
        }
        if (mlp_warm_start_check(&r->model->arch, r->ds.features, r->ds.classes, &arch, &e) !=
            MLP_OK) {
            set_why(why, cap, "warm-start model %lld no longer fits: %s",
                    (long long)req->warm_start_model, e.msg);
            return -1;
        }
    } else if (mlp_model_create(&arch, req->recipe.init, req->recipe.train.seed, &r->model, &e) !=
               MLP_OK) {
        set_why(why, cap, "model: %s", e.msg);
        return -1;
    }
    rc = store_run_checkpoint(j->cfg.st, jb->run_id, &r->ckpt, &r->ckpt_len, &r->ckpt_epoch, &se);
    if (rc != MLPD_OK && rc != MLPD_ENOTFOUND) {
        set_why(why, cap, "store: %s", se.msg);
        return -1;
    }
    return 0;
}

/* Evaluate, serialise and store the trained model, finishing the run as
 * succeeded in the same transaction (store_run_succeed). 0 or -1 + why. */
static int save_result(jobs *j, const job *jb, run_res *r, const mlp_train_result *res,
                       double train_seconds, char *why, size_t cap) {
    double test_loss = NAN, test_acc = NAN;
    mlp_error e = {{0}};
    if (r->test) {
        mlp_eval_result ev;
        memset(&ev, 0, sizeof ev);
        if (mlp_evaluate(r->model, r->test, &ev, &e) != MLP_OK) {
            set_why(why, cap, "test evaluation: %s", e.msg);
            return -1;
        }
        test_loss = ev.loss;
        test_acc = ev.accuracy;
        mlp_eval_result_free(&ev);
    }
    unsigned char *buf = NULL;
    size_t len = 0;
    /* SGD keeps no buffers: its models stay version 1 files. */
    const mlp_optim_state *st = r->state_out.m ? &r->state_out : NULL;
    if (mlp_model_to_buffer_with_state(r->model, st, &buf, &len, &e) != MLP_OK) {
        set_why(why, cap, "model file: %s", e.msg);
        return -1;
    }
    char crc[9];
    snprintf(crc, sizeof crc, "%08x", (unsigned)mlp_model_checksum(buf, len));
    char *config = api_train_request_encode(&jb->req);
    store_model meta = {.run_id = jb->run_id,
                        .name = (char *)jb->req.model_name,
                        .arch_json = api_encode_arch_json(&r->model->arch),
                        .config_json = config,
                        .metrics_json = metrics_json(res, test_loss, test_acc, train_seconds),
                        .checksum = crc,
                        .n_params = (int64_t)r->model->n_params};
    int64_t model_id = 0;
    mlpd_error se = {0};
    int rc = -1;
    store_model_derived derived;
    char *report = NULL;
    float *mean = NULL;
    mlpd_error de = {0};
    if (evaluation_derive(r->model, r->ds.name, r->train, r->test, &derived, &report, &mean, &de) !=
        MLPD_OK)
        jobs_logf(j, "job %lld: %s (stored without it)", (long long)jb->run_id, de.msg);
    if (!meta.arch_json || !meta.config_json || !meta.metrics_json)
        set_why(why, cap, "out of memory");
    else if (store_run_succeed(j->cfg.st, jb->run_id, &meta, buf, len, test_loss, test_acc,
                               &derived, &model_id, &se) != MLPD_OK)
        set_why(why, cap, "store: %s", se.msg);
    else
        rc = 0;
    free(report);
    free(mean);
    free(buf);
    free(meta.arch_json);
    free(config);
    free(meta.metrics_json);
    if (rc == 0 && j->cfg.model_saved) j->cfg.model_saved(j->cfg.model_saved_user);
    if (rc == 0)
        jobs_logf(j, "job %lld succeeded: model %lld, test_accuracy=%.4f", (long long)jb->run_id,
                  (long long)model_id, test_acc);
    return rc;
}

/* Record a run's end (not a success: that is store_run_succeed's). Should
 * the store refuse even with its reserve spent (a disk still full), try again
 * with a growing pause while the runner runs, so that the run does not stay
 * "running" once space is back; on shutdown give up: the next start queues
 * it again (jobs.h, crash recovery). */
static void record_end(jobs *j, const job *jb, run_status final, const char *error) {
    mlpd_error se = {0};
    int delay_ms = 100, waited_ms = 0, logged = 0;
    for (;;) {
        int rc = store_run_set_status(j->cfg.st, jb->run_id, final, error, &se);
        if (rc == MLPD_OK || rc == MLPD_ENOTFOUND) break;
        if (!logged++)
            jobs_logf(j, "job %lld: cannot record its end yet (%s); retrying",
                      (long long)jb->run_id, se.msg);
        for (waited_ms = 0; waited_ms < delay_ms && !atomic_load(&j->stopping); waited_ms += 50)
            sleep_ms(50);
        if (atomic_load(&j->stopping)) {
            jobs_logf(j, "job %lld: its end is left to the next start's recovery",
                      (long long)jb->run_id);
            return;
        }
        if (delay_ms < 5000) delay_ms *= 2;
    }
    if (logged) jobs_logf(j, "job %lld: its end is recorded", (long long)jb->run_id);
}

void jobs_run_one(jobs *j, job *jb) {
    double t_begin = mono_seconds();
    char why[400] = ""; /* the claim (store_run_claim) recorded the run running */
    jobs_logf(j, "job %lld started: dataset %s", (long long)jb->run_id, jb->req.dataset);
    pthread_mutex_lock(&jb->live_mu);
    jb->live.epochs = jb->req.recipe.train.epochs;
    jb->live.eta_seconds = NAN;
    pthread_mutex_unlock(&jb->live_mu);

    run_res r;
    memset(&r, 0, sizeof r);
    train_ctx c;
    train_ctx_init(&c, j, jb);
    mlp_train_result res;
    memset(&res, 0, sizeof res);
    mlp_status ts = MLP_EINVAL;
    int ok = !why[0] && prepare(j, jb, &r, why, sizeof why) == 0;
    if (ok && !train_ctx_should_stop(&c)) {
        mlp_train_config cfg = jb->req.recipe.train;
        cfg.init_state = mlp_optim_state_fits(&r.state_in, cfg.optimizer) ? &r.state_in : NULL;
        cfg.state_out = &r.state_out;
        cfg.on_batch = train_ctx_on_batch;
        cfg.on_epoch = train_ctx_on_epoch;
        cfg.user = &c;
        cfg.checkpoint = 1;
        cfg.resume = r.ckpt;
        cfg.resume_len = r.ckpt_len;
        if (r.ckpt)
            jobs_logf(j, "job %lld resumes after epoch %d (its checkpoint)", (long long)jb->run_id,
                      r.ckpt_epoch);
        train_ctx_start(&c);
        mlp_error e = {{0}};
        ts = mlp_train(r.model, r.train, &cfg, &res, &e);
        train_ctx_flush(&c); /* stopped mid-epoch: keep what it measured */
        if (ts != MLP_OK && ts != MLP_ESTOPPED) {
            snprintf(why, sizeof why, "training: %s", e.msg);
            ok = 0;
        }
    }
    double train_seconds = c.t_start > 0 ? mono_seconds() - c.t_start : 0;

    /* Decide the outcome; from here a cancel is refused (MLPD_ECONFLICT). */
    job_stop_reason stop = jobs_enter_finishing(j, jb);
    run_status final = RUN_FAILED;
    const char *error = why;
    if (stop == JOB_STOP_LOST) {
        /* Another daemon holds the run now: write nothing more of it. */
        run_release(&r);
        hist_observe(&j->counters.job_seconds, mono_seconds() - t_begin);
        jobs_logf(j, "job %lld abandoned: its lease went to another daemon", (long long)jb->run_id);
        return;
    } else if (stop == JOB_STOP_CANCEL) {
        final = RUN_CANCELLED;
        error = jb->cancel_why[0] ? jb->cancel_why : NULL;
    } else if (stop == JOB_STOP_SHUTDOWN && !(ok && ts == MLP_OK)) {
        /* Queued again, to continue from its last checkpoint on the next
         * start or another daemon; a run whose training had completed is
         * still saved below. */
        final = ok ? RUN_QUEUED : RUN_FAILED;
        error = ok ? NULL : why;
    } else if (c.store_failed[0]) {
        error = c.store_failed;
    } else if (ok && ts == MLP_OK) {
        if (save_result(j, jb, &r, &res, train_seconds, why, sizeof why) == 0)
            final = RUN_SUCCEEDED;
        error = final == RUN_SUCCEEDED ? NULL : why;
    } else if (ok) {
        error = "training stopped"; /* MLP_ESTOPPED without a reason of ours */
    }
    run_release(&r);
    /* A success was recorded with its model; any other end is recorded here. */
    if (final != RUN_SUCCEEDED) record_end(j, jb, final, error);
    hist_observe(&j->counters.job_seconds, mono_seconds() - t_begin);
    if (final != RUN_SUCCEEDED)
        jobs_logf(j, "job %lld %s%s%s", (long long)jb->run_id, run_status_name(final),
                  error ? ": " : "", error ? error : "");
}
