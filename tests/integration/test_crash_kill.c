/* test_crash_kill.c - SIGKILL at random moments, many times in a row.
 *
 * Each round restarts the daemon on the same database and data dir, lets a
 * short run finish (so finished runs pile up), starts a long run, then does
 * one of five things and SIGKILLs the daemon at a random moment in it:
 *   train     the long run is training (sometimes just after a cancel)
 *   epoch     right after the long run recorded an epoch
 *   csv       during a CSV data set upload (POST /datasets)
 *   idx       during an IDX data set upload (four PUTs)
 *   model     during a model upload (POST /models)
 * After each kill, with the daemon dead, the database is opened directly:
 * - PRAGMA integrity_check says "ok" and foreign_key_check finds nothing;
 * - every run that had ended before the round is unchanged, metrics included
 *   (a CRC of its row and metrics, taken at the round's start);
 * - every succeeded run has one "loss" metric per epoch and a model that
 *   points back at it; no model belongs to a run that did not succeed;
 * - every model's bytes match its size and CRC and parse as a model;
 * - every registered data set loads with the counts it was registered with;
 * then, restarted: the killed run is failed "interrupted" (or cancelled),
 * an upload answered 201 before the kill is there, and no upload temporary
 * is left in the data dir.
 * Rounds: MLPD_CRASH_ROUNDS (default 20); seed: MLPD_CRASH_SEED (default:
 * the time), printed so a failure can be replayed. Time: a round takes 2 to
 * 4 s; on a machine so busy that the rounds pass MLPD_CRASH_BUDGET seconds
 * (default 90), no new round starts once at least MIN_ROUNDS have run (the
 * figures printed say so), to keep CI bounded.
 */
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <zlib.h>

#include "daemon.h"
#include "mlp.h"

#define DEFAULT_ROUNDS 20
#define DEFAULT_BUDGET_S 90
#define MIN_ROUNDS (2 * N_KINDS)
#define MAX_RUNS 512
#define SHORT_JOB "{\"hidden\":[8],\"epochs\":2,\"batch_size\":128,\"seed\":1}"
#define LONG_JOB "{\"hidden\":[64],\"epochs\":1000,\"batch_size\":64,\"validation_split\":0.1}"

enum { K_TRAIN, K_EPOCH, K_CSV, K_IDX, K_MODEL, N_KINDS };
static const char *const kind_names[N_KINDS] = {"train", "epoch", "csv", "idx", "model"};

static uint64_t rng_state;
static uint64_t rnd(void) { /* splitmix64: enough for picking moments */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static int rnd_int(int n) { return (int)(rnd() % (uint64_t)n); }

static void sleep_ms(int ms) {
    struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* ---- the database, opened directly while the daemon is dead ---------------------------- */

/* First column of the first row of sql as text ("" when none); caller frees. */
static char *sql_text(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    int rc = sqlite3_step(st);
    assert_true(rc == SQLITE_ROW || rc == SQLITE_DONE);
    const unsigned char *t = rc == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
    char *s = strdup(t ? (const char *)t : "");
    sqlite3_finalize(st);
    return s;
}

static long long sql_int(sqlite3 *db, const char *sql) {
    char *s = sql_text(db, sql);
    long long v = atoll(s);
    free(s);
    return v;
}

/* A run's identity: its row and all its metrics, as a CRC. */
typedef struct {
    int64_t id;
    uLong crc;
    long long n_metrics;
} run_digest;

static void digest_run(sqlite3 *db, int64_t id, run_digest *out) {
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT quote(status)||quote(error)||quote(finished_at)||epoch||'/'||epochs||"
             "quote(loss)||quote(test_accuracy)||quote(model_id) FROM runs WHERE id=%lld",
             (long long)id);
    char *row = sql_text(db, sql);
    uLong crc = crc32(0L, (const Bytef *)row, (uInt)strlen(row));
    free(row);
    snprintf(sql, sizeof sql,
             "SELECT group_concat(id||key||epoch||step||quote(value)||quote(time), ';') FROM"
             " (SELECT * FROM metrics WHERE run_id=%lld ORDER BY id)",
             (long long)id);
    char *met = sql_text(db, sql);
    out->id = id;
    out->crc = crc32(crc, (const Bytef *)met, (uInt)strlen(met));
    free(met);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM metrics WHERE run_id=%lld", (long long)id);
    out->n_metrics = sql_int(db, sql);
}

/* Digests of every ended run (succeeded, failed, cancelled). */
static size_t digest_ended(sqlite3 *db, run_digest *out, size_t cap) {
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT id FROM runs WHERE status IN"
                                        " ('succeeded','failed','cancelled') ORDER BY id",
                                        -1, &st, NULL),
                     SQLITE_OK);
    int64_t ids[MAX_RUNS];
    size_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW && n < cap) ids[n++] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    for (size_t i = 0; i < n; i++) digest_run(db, ids[i], &out[i]);
    return n;
}

static sqlite3 *open_db(const mlpd_daemon *d) {
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(d->db, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

/* Every invariant of the header comment that the database alone can show.
 * Models and data sets are read whole only above the ids given (those made
 * since the round began; 0 for all), which keeps a round's cost flat. */
static void check_database(const mlpd_daemon *d, const run_digest *before, size_t n_before,
                           int64_t models_above, int64_t datasets_above, int *models_checked,
                           int *datasets_checked) {
    sqlite3 *db = open_db(d);
    char *ic = sql_text(db, "PRAGMA integrity_check");
    if (strcmp(ic, "ok")) fprintf(stderr, "integrity_check: %s\n", ic);
    assert_string_equal(ic, "ok");
    free(ic);
    char *fk = sql_text(db, "PRAGMA foreign_key_check");
    assert_string_equal(fk, "");
    free(fk);
    /* ended runs are untouched */
    for (size_t i = 0; i < n_before; i++) {
        run_digest now;
        digest_run(db, before[i].id, &now);
        if (now.crc != before[i].crc)
            fprintf(stderr, "run %lld changed after a kill (%lld metrics before, %lld now)\n",
                    (long long)before[i].id, before[i].n_metrics, now.n_metrics);
        assert_true(now.crc == before[i].crc);
    }
    /* succeeded <=> has its model; one loss metric per epoch */
    assert_int_equal(sql_int(db, "SELECT count(*) FROM models m LEFT JOIN runs r ON r.id=m.run_id"
                                 " WHERE m.run_id IS NOT NULL AND (r.status IS NOT 'succeeded'"
                                 " OR r.model_id IS NOT m.id)"),
                     0);
    assert_int_equal(sql_int(db, "SELECT count(*) FROM runs WHERE status='succeeded' AND"
                                 " (model_id IS NULL OR epoch != epochs OR epoch != (SELECT"
                                 " count(DISTINCT epoch) FROM metrics WHERE run_id=runs.id AND"
                                 " key='loss'))"),
                     0);
    assert_int_equal(sql_int(db, "SELECT count(*) FROM runs WHERE status IN ('succeeded','failed',"
                                 "'cancelled') AND finished_at IS NULL"),
                     0);
    /* models: complete bytes */
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT id, size_bytes, checksum, file FROM models"
                                            " WHERE id > ?1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, models_above);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *blob = sqlite3_column_blob(st, 3);
        int len = sqlite3_column_bytes(st, 3);
        assert_int_equal(len, sqlite3_column_int64(st, 1));
        char crc[16];
        snprintf(crc, sizeof crc, "%08lx", crc32(0L, blob, (uInt)len));
        assert_string_equal(crc, (const char *)sqlite3_column_text(st, 2));
        mlp_model *m = NULL;
        assert_int_equal(mlp_model_from_buffer(blob, (size_t)len, &m, NULL), MLP_OK);
        mlp_model_free(m);
        (*models_checked)++;
    }
    sqlite3_finalize(st);
    /* data sets: each loads with the counts it was registered with */
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT name, path, n_train, n_test FROM datasets"
                                            " WHERE id > ?1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, datasets_above);
    while (sqlite3_step(st) == SQLITE_ROW) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", d->data_dir, (const char *)sqlite3_column_text(st, 1));
        mlp_dataset *ds = NULL;
        mlp_error e = {{0}};
        if (mlp_dataset_load_path(path, "train", &ds, &e) != MLP_OK)
            fprintf(stderr, "data set %s: %s\n", sqlite3_column_text(st, 0), e.msg);
        assert_non_null(ds);
        assert_int_equal((long long)ds->n, sqlite3_column_int64(st, 2));
        mlp_dataset_free(ds);
        if (sqlite3_column_int64(st, 3) > 0) {
            assert_int_equal(mlp_dataset_load_path(path, "test", &ds, &e), MLP_OK);
            assert_int_equal((long long)ds->n, sqlite3_column_int64(st, 3));
            mlp_dataset_free(ds);
        }
        (*datasets_checked)++;
    }
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* ---- uploads on their own thread, so the kill can land in the middle ------------------ */

typedef struct {
    const mlpd_daemon *d;
    int kind;
    char name[32];
    const char *body;       /* csv or model bytes */
    size_t len;
    const char *idx_dir;    /* for K_IDX: the folder whose four files are sent */
    long status;            /* last answer; 0 when the connection broke */
    int64_t model_id;       /* K_MODEL answered 201 */
    int all_201;            /* every request was answered 201 */
    _Atomic double t_done;  /* when the last answer came (0 if none); read by the killer */
    double t_kill;          /* when the daemon was killed */
} upload_job;

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void *upload_main(void *arg) {
    upload_job *u = arg;
    http_result r;
    char path[256];
    u->all_201 = 1;
    if (u->kind == K_IDX) {
        /* Images first: a set is registered (and immutable) as soon as its
         * pairs are whole, so the test pair must not trail the train pair. */
        static const char *const files[4] = {"train-images-idx3-ubyte", "t10k-images-idx3-ubyte",
                                             "train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"};
        for (int i = 0; i < 4 && u->all_201; i++) {
            char src[512];
            size_t len = 0;
            snprintf(src, sizeof src, "%s/%s", u->idx_dir, files[i]);
            char *body = read_file(src, &len);
            snprintf(path, sizeof path, "/datasets/%s/files/%s", u->name, files[i]);
            memset(&r, 0, sizeof r);
            int rc = body ? http_do(u->d, "PUT", path, "application/octet-stream", body, len, NULL,
                                    30, &r)
                          : -1;
            free(body);
            u->status = rc == 0 ? r.status : 0;
            http_result_free(&r); /* filled even when the transfer failed */
            if (u->status != 201) u->all_201 = 0;
        }
    } else {
        int csv = u->kind == K_CSV;
        snprintf(path, sizeof path, csv ? "/datasets?name=%s" : "/models?name=%s", u->name);
        int rc = http_do(u->d, "POST", path, csv ? "text/csv" : "application/octet-stream",
                         u->body, u->len, NULL, 30, &r);
        u->status = rc == 0 ? r.status : 0;
        if (rc == 0 && !csv && r.status == 201) {
            cJSON *j = http_result_json(&r);
            u->model_id = (int64_t)json_num(j, "id");
            cJSON_Delete(j);
        }
        http_result_free(&r); /* filled even when the transfer failed */
        u->all_201 = u->status == 201;
    }
    u->t_done = now_seconds();
    return NULL;
}

/* ---- payloads ----------------------------------------------------------------------------- */

/* n rows of the digits as CSV (label, 784 features in [0,1]). */
static char *digits_csv(const mlpd_daemon *d, int n, size_t *len) {
    float *x;
    int *labels = malloc((size_t)n * sizeof *labels);
    assert_int_equal(load_test_digits(d, n, &x, labels), 0);
    char *s = malloc((size_t)n * 784 * 9 + 64);
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        k += (size_t)sprintf(s + k, "%d", labels[i]);
        for (int f = 0; f < 784; f++) k += (size_t)sprintf(s + k, ",%.3g", (double)x[i * 784 + f]);
        s[k++] = '\n';
    }
    s[k] = '\0';
    free(x);
    free(labels);
    *len = k;
    return s;
}

/* A model file of a 784-512-256-10 network (about 2 MB). */
static unsigned char *model_bytes(size_t *len) {
    int hidden[2] = {512, 256};
    mlp_arch a;
    assert_int_equal(mlp_arch_make(&a, 784, hidden, 2, MLP_ACT_RELU, 10, MLP_LOSS_CROSS_ENTROPY,
                                   -1, NULL),
                     MLP_OK);
    mlp_model *m = NULL;
    assert_int_equal(mlp_model_create(&a, MLP_INIT_HE_NORMAL, 42, &m, NULL), MLP_OK);
    unsigned char *buf = NULL;
    assert_int_equal(mlp_model_to_buffer(m, &buf, len, NULL), MLP_OK);
    mlp_model_free(m);
    return buf;
}

/* ---- HTTP helpers ---------------------------------------------------------------------------- */

static cJSON *get_json(const mlpd_daemon *d, const char *path, long *status) {
    http_result r;
    cJSON *j = NULL;
    *status = 0;
    if (http_get(d, path, &r) == 0) {
        *status = r.status;
        j = http_result_json(&r);
    }
    http_result_free(&r);
    return j;
}

/* The long run's status and epochs done. */
static const char *job_state(const mlpd_daemon *d, int64_t id, int *epoch, char *error,
                             size_t cap) {
    char path[64];
    long st;
    snprintf(path, sizeof path, "/jobs/%lld", (long long)id);
    cJSON *j = get_json(d, path, &st);
    static char status[32];
    snprintf(status, sizeof status, "%s", j && json_str(j, "status") ? json_str(j, "status") : "?");
    if (epoch) *epoch = j ? (int)json_num(j, "epoch") : -1;
    if (error) snprintf(error, cap, "%s", j && json_str(j, "error") ? json_str(j, "error") : "");
    cJSON_Delete(j);
    return status;
}

/* Cancel whatever is queued or running (left over from an earlier round) and
 * wait for it to end, so that this round's short run starts at once. */
static void settle_jobs(const mlpd_daemon *d) {
    for (int pass = 0; pass < 2; pass++) {
        long st;
        cJSON *list = get_json(d, pass ? "/jobs?status=running" : "/jobs?status=queued", &st);
        assert_int_equal(st, 200);
        cJSON *job;
        cJSON_ArrayForEach(job, cJSON_GetObjectItemCaseSensitive(list, "jobs")) {
            char path[64];
            int64_t id = (int64_t)json_num(job, "id");
            snprintf(path, sizeof path, "/jobs/%lld/cancel", (long long)id);
            http_result r;
            assert_int_equal(http_do(d, "POST", path, NULL, NULL, 0, NULL, 0, &r), 0);
            http_result_free(&r);
            cJSON *end = wait_job(d, id, 30);
            assert_non_null(end);
            cJSON_Delete(end);
        }
        cJSON_Delete(list);
    }
}

static int upload_leftovers(const char *dir, int depth) {
    DIR *dd = opendir(dir);
    if (!dd) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dd)) != NULL) {
        char path[1024];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (!strncmp(e->d_name, ".upload-", 8)) n++;
        else if (depth == 0 && e->d_name[0] != '.' && lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
            n += upload_leftovers(path, 1);
    }
    closedir(dd);
    return n;
}

/* Do the round's thing and SIGKILL the daemon in the middle of it; returns
 * the kill moment in ms after the thing began. For uploads, upload_delay_ms
 * is when to kill (-1: right after the answer); up->t_kill is set. */
static int kill_during(mlpd_daemon *d, int kind, int64_t long_id, upload_job *up,
                       int upload_delay_ms, int *asked_cancel) {
    int kill_ms = 0;
    double ts;
    pthread_t th;
    if (kind == K_TRAIN) {
        assert_int_equal(wait_job_progress(d, long_id, 1, 60), 0);
        kill_ms = rnd_int(1500);
        if (rnd_int(3) == 0) { /* a cancel in flight when the kill comes */
            http_result r;
            char path[64];
            snprintf(path, sizeof path, "/jobs/%lld/cancel", (long long)long_id);
            assert_int_equal(http_do(d, "POST", path, NULL, NULL, 0, NULL, 0, &r), 0);
            http_result_free(&r);
            *asked_cancel = 1;
            kill_ms = rnd_int(40);
        }
        sleep_ms(kill_ms);
    } else if (kind == K_EPOCH) { /* poll until an epoch more is recorded, then kill at once */
        assert_int_equal(wait_job_progress(d, long_id, 1, 60), 0);
        int e0 = 0, e = 0;
        job_state(d, long_id, &e0, NULL, 0);
        int want = e0 + 1 + rnd_int(2);
        ts = now_seconds();
        while (e < want && now_seconds() - ts < 30) job_state(d, long_id, &e, NULL, 0);
        assert_true(e >= want);
        kill_ms = (int)((now_seconds() - ts) * 1000);
    } else {
        ts = now_seconds();
        assert_int_equal(pthread_create(&th, NULL, upload_main, up), 0);
        if (upload_delay_ms < 0)
            while (up->t_done == 0 && now_seconds() - ts < 30) sleep_ms(1);
        else
            sleep_ms(upload_delay_ms);
        kill_ms = (int)((now_seconds() - ts) * 1000);
    }
    up->t_kill = now_seconds();
    daemon_kill(d);
    if (kind >= K_CSV) pthread_join(th, NULL);
    return kill_ms;
}

/* ---- the test --------------------------------------------------------------------------- */

static mlpd_daemon D; /* static: the teardown stops it when an assertion fails */

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
    size_t csv_len = 0, model_len = 0;
    char *csv = digits_csv(&D, 1000, &csv_len);
    unsigned char *model = model_bytes(&model_len);
    char idx_dir[400];
    snprintf(idx_dir, sizeof idx_dir, "%s/data/mnist-digits", D.repo);
    printf("payloads: csv %zu bytes, model %zu bytes, idx %s\n", csv_len, model_len, idx_dir);

    /* Calibrate: one undisturbed upload of each kind says how long it takes
     * here; kill moments are then drawn over 1.3 times that, so some land
     * in the body, some in the handler, some after the answer. */
    int upload_ms[N_KINDS] = {0};
    for (int kind = K_CSV; kind <= K_MODEL; kind++) {
        upload_job cal = {.d = &D, .kind = kind, .idx_dir = idx_dir,
                          .body = kind == K_CSV ? csv : (const char *)model,
                          .len = kind == K_CSV ? csv_len : model_len};
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
    int interrupted = 0, cancelled = 0;
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
        if (round > 1) assert_int_equal(daemon_restart(&D), 0);
        settle_jobs(&D);
        assert_int_equal(upload_leftovers(D.data_dir, 0), 0);
        sqlite3 *db = open_db(&D); /* WAL: reading beside the live daemon is safe */
        size_t n_before = digest_ended(db, before, MAX_RUNS);
        int64_t models_above = sql_int(db, "SELECT coalesce(max(id), 0) FROM models");
        int64_t datasets_above = sql_int(db, "SELECT coalesce(max(id), 0) FROM datasets");
        sqlite3_close(db);

        int64_t short_id = train_job(&D, SHORT_JOB);
        assert_true(short_id > 0);
        cJSON *j = wait_job(&D, short_id, 60);
        assert_string_equal(json_str(j, "status"), "succeeded");
        cJSON_Delete(j);
        int64_t long_id = train_job(&D, LONG_JOB);
        assert_true(long_id > 0);

        int kind = (round - 1) % N_KINDS;
        kinds[kind]++;
        upload_job up = {.d = &D, .kind = kind, .idx_dir = idx_dir,
                         .body = kind == K_CSV ? csv : (const char *)model,
                         .len = kind == K_CSV ? csv_len : model_len};
        snprintf(up.name, sizeof up.name, "r%d-%s", round, kind_names[kind]);
        int asked_cancel = 0;
        /* uploads: every 4th is killed right after its answer, the others at random */
        int delay = kinds[kind] % 4 == 0 ? -1 : rnd_int(upload_ms[kind] * 13 / 10 + 1);
        int kill_ms = kill_during(&D, kind, long_id, &up, delay, &asked_cancel);
        int threaded = kind >= K_CSV;
        int acked_before_kill =
            threaded && up.all_201 && up.t_done > 0 && up.t_done <= up.t_kill;
        kill_ms_sum += kill_ms;
        printf("round %2d: %-5s kill after %4d ms%s%s\n", round, kind_names[kind], kill_ms,
               asked_cancel ? " (cancel requested)" : "",
               threaded ? (acked_before_kill ? " (upload acknowledged)" : " (upload cut)") : "");

        check_database(&D, before, n_before, models_above, datasets_above, &models_checked,
                       &datasets_checked);

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
            /* still queued from before the kill: re-queued and running now */
            assert_true(!strcmp(st, "queued") || !strcmp(st, "running"));
        }
        if (acked_before_kill) {
            char path[96];
            long status;
            if (kind == K_MODEL)
                snprintf(path, sizeof path, "/models/%lld", (long long)up.model_id);
            else
                snprintf(path, sizeof path, "/datasets/%s", up.name);
            cJSON_Delete(get_json(&D, path, &status));
            assert_int_equal(status, 200);
            acked++;
        }
        assert_int_equal(upload_leftovers(D.data_dir, 0), 0);
    }
    double secs = now_seconds() - t0;
    printf("crash-kill: %d rounds in %.1f s (train %d, epoch %d, csv %d, idx %d, model %d);"
           " mean kill moment %lld ms\n",
           rounds, secs, kinds[K_TRAIN], kinds[K_EPOCH], kinds[K_CSV], kinds[K_IDX], kinds[K_MODEL],
           kill_ms_sum / rounds);
    printf("crash-kill: integrity_check ok %d/%d; killed runs: %d failed interrupted, %d cancelled;"
           " %d acknowledged uploads present; %d model and %d data set checks\n",
           rounds, rounds, interrupted, cancelled, acked, models_checked, datasets_checked);
    free(csv);
    free(model);
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
