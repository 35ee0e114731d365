/* daemon.h - integration-test harness: a real `mlpd serve` process
 * (daemon.c) and an HTTP client (libcurl) with job and file helpers to talk
 * to it (client.c). Assertions built on these are in expect.h.
 *
 * The binary is $MLPD_BIN (tests/run.sh exports it; default build/mlpd).
 * Each daemon runs in its own temporary folder holding its database, its
 * data dir (with a symlink to the repository's data/mnist-digits) and its
 * log; it listens on 127.0.0.1 with --port 0 and reports the port it got
 * through --port-file, so parallel test binaries never collide.
 *
 * Functions return 0 on success and -1 on failure after printing why to
 * stderr (the test then fails with its own assertion).
 */
#ifndef MLPD_TEST_DAEMON_H
#define MLPD_TEST_DAEMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

typedef struct {
    pid_t pid; /* 0 when not running */
    int port;
    char dir[256]; /* the daemon's temporary folder */
    char data_dir[320];
    char db[320];     /* SQLite file, or a PostgreSQL URI (MLPD_TEST_PG_URI) */
    char pg_name[64]; /* the PostgreSQL database made for this daemon, "" with SQLite */
    char log[320];
    char repo[256];    /* repository root (migrations/, api/, data/) */
    char extra[8][64]; /* extra serve flags kept across restarts */
    int n_extra;
    int start_exit; /* exit status when the last start failed because it exited */
} mlpd_daemon;

/* The PostgreSQL cluster the suite runs against (MLPD_TEST_PG_URI, set by
 * tests/run.sh for its PostgreSQL pass), NULL for SQLite. */
const char *test_pg_uri(void);
/* Create a fresh folder and start a daemon in it (with MLPD_TEST_PG_URI,
 * also a fresh database in that cluster, dropped by daemon_cleanup). extra: NULL-terminated
 * list of additional `serve` arguments (may be NULL), kept for restarts. */
int daemon_start(mlpd_daemon *d, const char *const *extra);
/* Start again in the same folder (same database and data dir). */
int daemon_restart(mlpd_daemon *d);
/* Make the stopped daemon's store one schema version newer than its
 * migrations (as a newer mlpd would leave it): SQLite's user_version, or a
 * row in PostgreSQL's mlpd_schema_migrations. 0 or -1. */
int daemon_schema_ahead(const mlpd_daemon *d);
/* SIGTERM and wait (up to 30 s); returns the exit status, -1 on a crash or timeout. */
int daemon_stop(mlpd_daemon *d);
/* Wait for the daemon to exit by itself (after a signal sent by the test);
 * returns its exit status, -1 on a crash or after timeout_s (then killed). */
int daemon_wait(mlpd_daemon *d, double timeout_s);
/* SIGKILL and reap. */
void daemon_kill(mlpd_daemon *d);
/* Stop if running, remove the folder. */
void daemon_cleanup(mlpd_daemon *d);
/* Print the daemon's log to stderr (for failures). */
void daemon_dump_log(const mlpd_daemon *d);
/* The usual end of a test group: stop (printing the log when the exit is
 * not clean), then remove the folder. 0 when the daemon exited with 0. */
int daemon_finish(mlpd_daemon *d);
/* Run `mlpd serve` on a database and data dir that do not exist, with the
 * "NAME=value" variables of env (NULL-terminated, may be NULL) added to its
 * environment and args (NULL-terminated, may be NULL) after the fixed flags;
 * its output goes to /dev/null. Returns its exit status (-1 if it did not
 * exit): 2 when the settings are refused before anything is opened, 1 when
 * they pass and the missing data dir stops it. */
int serve_exit_status(const char *const *env, const char *const *args);

/* ---- HTTP ------------------------------------------------------------------ */
typedef struct {
    long status; /* 0 when the request failed at transport level */
    char *body;  /* NUL-terminated */
    size_t len;
    char *headers; /* raw response headers */
    char content_type[128];
} http_result;

/* method "GET"/"POST"/..., body may be NULL. extra_header: one "Name: value"
 * line or NULL. timeout_s: whole transfer, 0 for the default of 60 s. */
int http_do(const mlpd_daemon *d, const char *method, const char *path, const char *content_type,
            const void *body, size_t len, const char *extra_header, long timeout_s, http_result *r);
/* The same with any number of "Name: value" header lines (NULL-terminated,
 * may be NULL; a Content-Type line among them sets the body's type). */
int http_do_lines(const mlpd_daemon *d, const char *method, const char *path, const void *body,
                  size_t len, const char *const *header_lines, long timeout_s, http_result *r);
int http_get(const mlpd_daemon *d, const char *path, http_result *r);
/* A growing, NUL-terminated buffer and the libcurl write callback
 * (CURLOPT_WRITEFUNCTION, user = the sink) that appends to it: for tests that
 * keep their own curl handle (keep-alive load). Free buf when done. */
typedef struct {
    char *buf;
    size_t len, cap;
} http_sink;
size_t http_sink_write(char *data, size_t size, size_t n, void *user);
int http_post_json(const mlpd_daemon *d, const char *path, const char *json, http_result *r);
void http_result_free(http_result *r);
/* Value of response header `name` (case-insensitive) copied into out, 0 or -1. */
int http_result_header(const http_result *r, const char *name, char *out, size_t cap);
/* The body parsed as JSON (caller deletes), NULL if it is not JSON. */
cJSON *http_result_json(const http_result *r);

/* ---- helpers on top ----------------------------------------------------------- */
/* POST /train with json; returns the new job id (> 0) or -1 when not 202. */
int64_t train_job(const mlpd_daemon *d, const char *json);
/* Poll GET /jobs/{id} until its status is final or timeout_s passes;
 * returns the last Job seen (caller deletes) or NULL. */
cJSON *wait_job(const mlpd_daemon *d, int64_t id, double timeout_s);
/* POST /train json and wait (timeout_s) for the job to succeed; returns its
 * model id (> 0), or -1 when it was refused or did not succeed. *job_id (may
 * be NULL) gets the job's id (-1 when refused). */
int64_t train_model(const mlpd_daemon *d, const char *json, double timeout_s, int64_t *job_id);
/* POST /jobs/{id}/cancel; the answer's status (202, 404, 409...), -1 when
 * the request failed. */
long cancel_job(const mlpd_daemon *d, int64_t id);
/* Poll until the job is running and has recorded at least min_metrics metrics. */
int wait_job_progress(const mlpd_daemon *d, int64_t id, int min_metrics, double timeout_s);
/* Number member of an object (NaN when absent or not a number). */
double json_num(const cJSON *o, const char *key);
/* String member (NULL when absent). */
const char *json_str(const cJSON *o, const char *key);

/* Test images of data/mnist-digits: n rows of 784 floats in [0,1] (caller
 * frees) and their labels (may be NULL). 0 or -1. */
int load_test_digits(const mlpd_daemon *d, int n, float **x, int *labels);
/* The first n test digits as CSV text (a label, then 784 features in [0,1],
 * no header), malloc'ed (caller frees), its length in *len; NULL on failure. */
char *digits_csv(const mlpd_daemon *d, int n, size_t *len);
/* {"model": model (omitted when 0), "input"/"inputs": rows} as a malloc'ed string. */
char *predict_body(int64_t model, const float *x, int rows, int width, int batch_form);

/* ---- files and sockets ---------------------------------------------------------------- */
/* The bytes of file `rel` under the repository root (e.g.
 * "data/mnist-digits/t10k-labels-idx1-ubyte"), malloc'ed (caller frees),
 * its size in *len; NULL when it cannot be read. */
unsigned char *repo_file_bytes(const mlpd_daemon *d, const char *rel, size_t *len);
/* gzip framing (as `gzip` writes it, not zlib's) of in[0..len), malloc'ed
 * (caller frees), its size in *out_len; NULL on failure. */
unsigned char *gzip_bytes(const void *in, size_t len, size_t *out_len);
/* A model file (mlp.h format) of a 784 -> hidden[0..n_hidden) -> 10 ReLU
 * network with He-initialised weights from seed, malloc'ed (caller frees),
 * its size in *len; NULL on failure. */
unsigned char *model_file_bytes(const int *hidden, int n_hidden, uint64_t seed, size_t *len);
/* POST such a model file to /models (registered under `name`, or unnamed
 * when name is NULL): its id, or -1 unless the answer is 201. */
int64_t upload_model_file(const mlpd_daemon *d, const char *name, const int *hidden, int n_hidden,
                          uint64_t seed);
/* Upload temporaries (".upload-*") in data_dir and its folders one level
 * down: what a finished or refused upload must never leave behind. */
int upload_temporaries(const char *data_dir);
/* Create or replace the file at path with text. 0 or -1. */
int write_text_file(const char *path, const char *text);
/* Remove dir and everything below it (links are removed, not followed). 0 or -1. */
int remove_tree(const char *dir);
/* A plain TCP connection to the daemon (for raw, hand-written requests);
 * the descriptor, or -1. */
int raw_connect(const mlpd_daemon *d);
/* One hand-written request on a new connection: what came back before the
 * server closed it or timeout_s passed (libcurl would normalise the
 * request). The status is 0 when no status line came. */
typedef struct {
    int status;
    int closed;      /* the server closed the connection */
    double seconds;  /* until the close, or timeout_s */
    char head[2048]; /* the response head, NUL-terminated */
    char body[2048]; /* the start of the body, NUL-terminated */
    char content_type[96];
} raw_reply;
int raw_exchange(const mlpd_daemon *d, const void *request, size_t len, double timeout_s,
                 raw_reply *out);

/* Seconds from a monotonic clock. */
double now_seconds(void);
/* Sleep ms milliseconds. */
void sleep_millis(int ms);

#endif /* MLPD_TEST_DAEMON_H */
