/* test_crash_kill.c - SIGKILL at random moments, many times in a row.
 *
 * Each round works on the daemon the previous round restarted (same database
 * and data dir), lets a short run finish every SHORT_EVERY rounds (so
 * finished runs pile up), starts a long run, then does one of six things
 * and SIGKILLs the daemon at a random moment in it:
 *   train     the long run is training (sometimes just after a cancel)
 *   epoch     right after the long run recorded an epoch
 *   csv       during a CSV data set upload (POST /datasets)
 *   idx       during an IDX data set upload (four PUTs)
 *   model     during a model upload (POST /models)
 *   alias     while an alias is moved back and forth between two versions
 *             (PUT /models/{name}/aliases/{alias}, one request after another)
 * After each kill, with the daemon dead, the database is opened directly:
 * - PRAGMA integrity_check says "ok" and foreign_key_check finds nothing;
 * - every run that had ended before the round is unchanged, metrics included
 *   (a CRC of its row and metrics, taken at the round's start);
 * - every succeeded run has one "loss" metric per epoch and a model that
 *   points back at it; no model belongs to a run that did not succeed;
 * - every model's bytes match its size and CRC and parse as a model;
 * - every registered data set loads with the counts it was registered with;
 * - every acknowledged write is there: the epochs a client saw recorded
 *   before the kill (their "loss" metrics), the alias as its last answered
 *   PUT set it (or as the PUT in flight at the kill set it);
 * then, restarted: the killed run is queued again and resumes (or is
 * cancelled; failed "interrupted" only after 3 claims),
 * an upload answered 201 before the kill is there, and no upload temporary
 * is left in the data dir.
 * Rounds: MLPD_CRASH_ROUNDS (default 100); seed: MLPD_CRASH_SEED (default:
 * the time), printed so a failure can be replayed. Time: a round takes
 * about a second here (100 rounds: see the figure printed); on a machine so
 * busy that the rounds pass MLPD_CRASH_BUDGET seconds (default 240), no new
 * round starts once at least MIN_ROUNDS have run (the figures printed say
 * so), to keep CI bounded.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <zlib.h>

#include "crash_database.h"
#include "daemon.h"
#include "expect.h"
#include "mlp.h"

#define DEFAULT_ROUNDS   100
#define DEFAULT_BUDGET_S 240
#define SHORT_EVERY      6 /* rounds between short runs that finish */
#define ALIAS_MODEL      "crash-model"
#define MIN_ROUNDS       (2 * N_KINDS)
#define SHORT_JOB        "{\"hidden\":[8],\"epochs\":2,\"batch_size\":128,\"seed\":1}"
#define LONG_JOB         "{\"hidden\":[64],\"epochs\":1000,\"batch_size\":64,\"validation_split\":0.1}"

enum { K_TRAIN, K_EPOCH, K_CSV, K_IDX, K_MODEL, K_ALIAS, N_KINDS };
static const char *const kind_names[N_KINDS] = {"train", "epoch", "csv", "idx", "model", "alias"};

static mlpd_daemon D; /* static: the teardown stops it when an assertion fails */

static uint64_t rng_state;
static uint64_t rnd(void) { /* splitmix64: enough for picking moments */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static int rnd_int(int n) {
    return (int)(rnd() % (uint64_t)n);
}

/* ---- uploads on their own thread, so the kill can land in the middle ------------------ */

/* Images first: a set is registered (and immutable) as soon as its pairs are
 * whole, so the test pair must not trail the train pair. */
static const char *const idx_files[4] = {"train-images-idx3-ubyte", "t10k-images-idx3-ubyte",
                                         "train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"};

/* What every upload of a kind sends, made once. */
typedef struct {
    char *csv; /* 1000 digits */
    size_t csv_len;
    unsigned char *model; /* 784-512-256-10: about 2 MB */
    size_t model_len;
    unsigned char *idx[4]; /* data/mnist-digits' files, in idx_files order */
    size_t idx_len[4];
} payloads;

typedef struct {
    int kind;
    char name[32];
    const payloads *p;
    long status;            /* last answer; 0 when the connection broke */
    int64_t model_id;       /* K_MODEL answered 201 */
    int all_201;            /* every request was answered 201 */
    _Atomic double t_done;  /* when the last answer came (0 if none); read by the killer */
    double t_kill;          /* when the daemon was killed */
    _Atomic int stop;       /* K_ALIAS: the killer ran; stop sending */
    int alias_acked;        /* K_ALIAS: version of the last PUT answered 200 (0: none) */
    _Atomic int alias_sent; /* K_ALIAS: version of the PUT being sent */
} upload_job;

/* Send it (one request, four for K_IDX); no assertion: runs on its own thread. */
static void send_upload(upload_job *u, const char *method, const char *path, const char *type,
                        const void *body, size_t len) {
    http_result r;
    int rc = http_do(&D, method, path, type, body, len, NULL, 30, &r);
    u->status = rc == 0 ? r.status : 0;
    if (u->status == 201 && u->kind == K_MODEL) {
        cJSON *j = http_result_json(&r);
        u->model_id = (int64_t)json_num(j, "id");
        cJSON_Delete(j);
    }
    http_result_free(&r); /* filled even when the transfer failed */
    if (u->status != 201) u->all_201 = 0;
}

/* Move alias "live" of ALIAS_MODEL between versions 1 and 2 until stopped. */
static void alias_loop(upload_job *u) {
    for (int i = 0; !u->stop; i++) {
        int v = 1 + (i + (int)(rng_state & 1)) % 2;
        char body[32];
        snprintf(body, sizeof body, "{\"version\":%d}", v);
        u->alias_sent = v;
        http_result r;
        int rc = http_do(&D, "PUT", "/models/" ALIAS_MODEL "/aliases/live", "application/json",
                         body, strlen(body), NULL, 30, &r);
        long status = rc == 0 ? r.status : 0;
        http_result_free(&r);
        if (status != 200) break; /* the kill */
        u->alias_acked = v;
        u->t_done = now_seconds();
    }
}

static void *upload_main(void *arg) {
    upload_job *u = arg;
    const payloads *p = u->p;
    char path[256];
    u->all_201 = 1;
    if (u->kind == K_ALIAS) {
        alias_loop(u);
    } else if (u->kind == K_IDX) {
        for (int i = 0; i < 4 && u->all_201; i++) {
            snprintf(path, sizeof path, "/datasets/%s/files/%s", u->name, idx_files[i]);
            send_upload(u, "PUT", path, "application/octet-stream", p->idx[i], p->idx_len[i]);
        }
    } else if (u->kind == K_CSV) {
        snprintf(path, sizeof path, "/datasets?name=%s", u->name);
        send_upload(u, "POST", path, "text/csv", p->csv, p->csv_len);
    } else {
        snprintf(path, sizeof path, "/models?name=%s", u->name);
        send_upload(u, "POST", path, "application/octet-stream", p->model, p->model_len);
    }
    u->t_done = now_seconds();
    return NULL;
}

/* Writes a client saw acknowledged before the kill, in the database now (the
 * daemon dead): the epochs seen recorded, the alias as last answered (or as
 * the request in flight set it). Returns how many were checked. */
static int check_acknowledged(const mlpd_daemon *d, int kind, int64_t run, int epoch_seen,
                              const upload_job *up) {
    sqlite3 *db = open_db(d);
    char sql[256];
    int n = 0;
    if (kind == K_EPOCH) {
        snprintf(sql, sizeof sql,
                 "SELECT count(DISTINCT epoch) FROM metrics WHERE run_id=%lld AND key='loss'",
                 (long long)run);
        /* The job's "epoch" is the one in progress: those before it were
         * committed (on_epoch) before training moved on. */
        long long have = sql_int(db, sql);
        if (have < epoch_seen - 1)
            fail_msg("run %lld: %lld epochs recorded, epoch %d was seen in progress",
                     (long long)run, have, epoch_seen);
        n = 1;
    } else if (kind == K_ALIAS && up->alias_acked) {
        long long v = sql_int(db, "SELECT version FROM model_aliases WHERE name='" ALIAS_MODEL
                                  "' AND alias='live'");
        if (v != up->alias_acked && v != up->alias_sent)
            fail_msg("alias live is version %lld; last acknowledged %d, in flight %d", v,
                     up->alias_acked, up->alias_sent);
        n = 1;
    }
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    return n;
}

/* ---- jobs ---------------------------------------------------------------------------------- */

/* The long run's status and epochs done. */
static const char *job_state(const mlpd_daemon *d, int64_t id, int *epoch, char *error,
                             size_t cap) {
    char path[64];
    snprintf(path, sizeof path, "/jobs/%lld", (long long)id);
    cJSON *j = expect_json(d, path, 200);
    static char status[32];
    snprintf(status, sizeof status, "%s", json_str(j, "status") ? json_str(j, "status") : "?");
    if (epoch) *epoch = (int)json_num(j, "epoch");
    if (error) snprintf(error, cap, "%s", json_str(j, "error") ? json_str(j, "error") : "");
    cJSON_Delete(j);
    return status;
}

/* Cancel whatever is queued or running (left over from an earlier round) and
 * wait for it to end, so that this round's short run starts at once. */
static void settle_jobs(const mlpd_daemon *d) {
    for (int pass = 0; pass < 2; pass++) {
        cJSON *list = expect_json(d, pass ? "/jobs?status=running" : "/jobs?status=queued", 200);
        cJSON *job;
        cJSON_ArrayForEach(job, cJSON_GetObjectItemCaseSensitive(list, "jobs")) {
            int64_t id = (int64_t)json_num(job, "id");
            assert_true(cancel_job(d, id) > 0); /* 202, or 409 when it ended meanwhile */
            cJSON *end = wait_job(d, id, 30);
            assert_non_null(end);
            cJSON_Delete(end);
        }
        cJSON_Delete(list);
    }
}

/* Do the round's thing and SIGKILL the daemon in the middle of it; returns
 * the kill moment in ms after the thing began. For uploads, upload_delay_ms
 * is when to kill (-1: right after the answer); up->t_kill is set. */
static int kill_during(mlpd_daemon *d, int kind, int64_t long_id, upload_job *up,
                       int upload_delay_ms, int *asked_cancel, int *epoch_seen) {
    int kill_ms = 0;
    double ts;
    pthread_t th;
    if (kind == K_TRAIN) {
        assert_int_equal(wait_job_progress(d, long_id, 1, 60), 0);
        kill_ms = rnd_int(1500);
        if (rnd_int(3) == 0) { /* a cancel in flight when the kill comes */
            assert_true(cancel_job(d, long_id) > 0);
            *asked_cancel = 1;
            kill_ms = rnd_int(40);
        }
        sleep_millis(kill_ms);
    } else if (kind == K_EPOCH) { /* poll until an epoch more is recorded, then kill at once */
        assert_int_equal(wait_job_progress(d, long_id, 1, 60), 0);
        int e0 = 0, e = 0;
        job_state(d, long_id, &e0, NULL, 0);
        int want = e0 + 1 + rnd_int(2);
        ts = now_seconds();
        while (e < want && now_seconds() - ts < 30) job_state(d, long_id, &e, NULL, 0);
        assert_true(e >= want);
        *epoch_seen = e;
        kill_ms = (int)((now_seconds() - ts) * 1000);
    } else {
        ts = now_seconds();
        assert_int_equal(pthread_create(&th, NULL, upload_main, up), 0);
        if (upload_delay_ms < 0)
            while (up->t_done == 0 && now_seconds() - ts < 30) sleep_millis(1);
        else
            sleep_millis(upload_delay_ms);
        kill_ms = (int)((now_seconds() - ts) * 1000);
    }
    up->t_kill = now_seconds();
    daemon_kill(d);
    up->stop = 1;
    if (kind >= K_CSV) pthread_join(th, NULL);
    return kill_ms;
}

/* ---- the test --------------------------------------------------------------------------- */

static int teardown(void **state) {
    (void)state;
    daemon_cleanup(&D);
    return 0;
}

static void test_sigkill_at_random_moments(void **state) {
    (void)state;
    const char *env = getenv("MLPD_CRASH_ROUNDS");
    int rounds = env && atoi(env) > 0 ? atoi(env) : DEFAULT_ROUNDS;
    env = getenv("MLPD_CRASH_BUDGET");
    double budget = env && atof(env) > 0 ? atof(env) : DEFAULT_BUDGET_S;
    env = getenv("MLPD_CRASH_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
    rng_state = seed;
    printf("crash-kill: %d rounds, seed %llu (MLPD_CRASH_SEED to replay)\n", rounds,
           (unsigned long long)seed);

    assert_int_equal(daemon_start(&D, NULL), 0);
    payloads pl;
    static const int hidden[2] = {512, 256};
    pl.csv = digits_csv(&D, 1000, &pl.csv_len);
    pl.model = model_file_bytes(hidden, 2, 42, &pl.model_len);
    assert_true(pl.csv && pl.model);
    for (int i = 0; i < 4; i++) {
        char rel[96];
        snprintf(rel, sizeof rel, "data/mnist-digits/%s", idx_files[i]);
        pl.idx[i] = repo_file_bytes(&D, rel, &pl.idx_len[i]);
        assert_non_null(pl.idx[i]);
    }
    printf("payloads: csv %zu bytes, model %zu bytes, idx data/mnist-digits\n", pl.csv_len,
           pl.model_len);

    /* Calibrate: one undisturbed upload of each kind says how long it takes
     * here; kill moments are then drawn over 1.3 times that, so some land
     * in the body, some in the handler, some after the answer. */
    int upload_ms[N_KINDS] = {0};
    for (int v = 1; v <= 2; v++) {
        size_t len;
        unsigned char *m = model_file_bytes(hidden, 2, (uint64_t)v, &len);
        assert_int_equal(request_status(&D, "POST", "/models?name=" ALIAS_MODEL,
                                        "application/octet-stream", m, len, NULL),
                         201);
        free(m);
    }
    upload_ms[K_ALIAS] = 300; /* a few dozen PUTs */
    for (int kind = K_CSV; kind <= K_MODEL; kind++) {
        upload_job cal = {.kind = kind, .p = &pl};
        snprintf(cal.name, sizeof cal.name, "calibrate-%s", kind_names[kind]);
        double ts = now_seconds();
        upload_main(&cal);
        assert_true(cal.all_201);
        upload_ms[kind] = (int)((cal.t_done - ts) * 1000) + 1;
    }
    printf("undisturbed uploads: csv %d ms, idx %d ms, model %d ms\n", upload_ms[K_CSV],
           upload_ms[K_IDX], upload_ms[K_MODEL]);

    static run_digest before[MAX_RUNS];
    int kinds[N_KINDS] = {0}, models_checked = 0, datasets_checked = 0, acked = 0;
    int interrupted = 0, cancelled = 0, resumed = 0;
    long long kill_ms_sum = 0;
    double t0 = now_seconds();
    int planned = rounds;
    for (int round = 1; round <= rounds; round++) {
        if (round > MIN_ROUNDS && now_seconds() - t0 > budget) {
            printf("crash-kill: time budget of %.0f s spent: stopping after %d of %d rounds\n",
                   budget, round - 1, planned);
            rounds = round - 1;
            break;
        }
        settle_jobs(&D); /* the daemon the last round restarted */
        assert_int_equal(upload_temporaries(D.data_dir), 0);
        sqlite3 *db = open_db(&D); /* WAL: reading beside the live daemon is safe */
        size_t n_before = digest_ended(db, before, MAX_RUNS);
        int64_t models_above = sql_int(db, "SELECT coalesce(max(id), 0) FROM models");
        int64_t datasets_above = sql_int(db, "SELECT coalesce(max(id), 0) FROM datasets");
        sqlite3_close(db);

        if (round % SHORT_EVERY == 1) {
            int64_t short_id = train_job(&D, SHORT_JOB);
            assert_true(short_id > 0);
            cJSON_Delete(expect_job_end(&D, short_id, 60, "succeeded"));
        }
        int64_t long_id = train_job(&D, LONG_JOB);
        assert_true(long_id > 0);

        int kind = (round - 1) % N_KINDS;
        kinds[kind]++;
        upload_job up = {.kind = kind, .p = &pl};
        snprintf(up.name, sizeof up.name, "r%d-%s", round, kind_names[kind]);
        int asked_cancel = 0;
        /* uploads: every 4th is killed right after its answer, the others at random */
        int delay = kinds[kind] % 4 == 0 ? -1 : rnd_int(upload_ms[kind] * 13 / 10 + 1);
        int epoch_seen = 0;
        int kill_ms = kill_during(&D, kind, long_id, &up, delay, &asked_cancel, &epoch_seen);
        int threaded = kind >= K_CSV;
        int acked_before_kill =
            threaded && kind != K_ALIAS && up.all_201 && up.t_done > 0 && up.t_done <= up.t_kill;
        kill_ms_sum += kill_ms;
        printf("round %2d: %-5s kill after %4d ms%s%s\n", round, kind_names[kind], kill_ms,
               asked_cancel ? " (cancel requested)" : "",
               threaded ? (acked_before_kill ? " (upload acknowledged)" : " (upload cut)") : "");

        check_database(&D, before, n_before, models_above, datasets_above, &models_checked,
                       &datasets_checked);
        acked += check_acknowledged(&D, kind, long_id, epoch_seen, &up);

        assert_int_equal(daemon_restart(&D), 0);
        char err[256];
        const char *st = job_state(&D, long_id, NULL, err, sizeof err);
        if (!strcmp(st, "cancelled")) {
            assert_true(asked_cancel);
            cancelled++;
        } else if (!strcmp(st, "failed")) {
            assert_non_null(strstr(err, "interrupted"));
            interrupted++;
        } else {
            /* queued again by the restart (or still queued): running or about to */
            assert_true(!strcmp(st, "queued") || !strcmp(st, "running"));
            resumed++;
        }
        if (acked_before_kill) {
            char path[96];
            if (kind == K_MODEL)
                snprintf(path, sizeof path, "/models/%lld", (long long)up.model_id);
            else
                snprintf(path, sizeof path, "/datasets/%s", up.name);
            cJSON_Delete(expect_json(&D, path, 200));
            acked++;
        }
        assert_int_equal(upload_temporaries(D.data_dir), 0);
    }
    double secs = now_seconds() - t0;
    printf(
        "crash-kill: %d kills in %.1f s (train %d, epoch %d, csv %d, idx %d, model %d, alias %d);"
        " mean kill moment %lld ms\n",
        rounds, secs, kinds[K_TRAIN], kinds[K_EPOCH], kinds[K_CSV], kinds[K_IDX], kinds[K_MODEL],
        kinds[K_ALIAS], kill_ms_sum / rounds);
    printf("crash-kill: integrity_check ok %d/%d; killed runs: %d queued again to resume, %d failed"
           " interrupted, %d cancelled; %d acknowledged writes verified; %d model and %d data set"
           " checks\n",
           rounds, rounds, resumed, interrupted, cancelled, acked, models_checked,
           datasets_checked);
    free(pl.csv);
    free(pl.model);
    for (int i = 0; i < 4; i++) free(pl.idx[i]);
    assert_int_equal(daemon_stop(&D), 0);
    /* Last, everything at once: all models and data sets ever made. */
    sqlite3 *all = open_db(&D);
    size_t n_all = digest_ended(all, before, MAX_RUNS);
    sqlite3_close(all);
    int final_models = 0, final_datasets = 0;
    check_database(&D, before, n_all, 0, 0, &final_models, &final_datasets);
    printf("crash-kill: final check: %zu ended runs, %d models, %d data sets intact\n", n_all,
           final_models, final_datasets);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigkill_at_random_moments),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
