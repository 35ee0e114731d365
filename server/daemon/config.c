/* config.c - `mlpd serve` settings as one table of rows (name, MLPD_*
 * variable, type, destination, default, limits, help), read by the option
 * engine of server/util/cli_args.h for defaults, variables, flags and --help,
 * so the four never disagree. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "cli_args.h"
#include "http.h"
#include "model_ref.h"
#include "router.h"

/* One row per setting: flag name (without --), variable, default, help. */
#define STR(n, field, env, def, help)                                                              \
    { n, CLI_STRING, c->field, 0, 0, 0, NULL, "STR", help, env, def, sizeof c->field }
#define INT(n, field, lo, hi, env, def, help)                                                      \
    { n, CLI_INT, &c->field, lo, hi, 0, NULL, NULL, help, env, def, 0 }
#define FLOAT(n, field, lo, hi, env, def, help)                                                    \
    { n, CLI_FLOAT, &c->field, lo, hi, 0, NULL, NULL, help, env, def, 0 }
#define SIZE(n, field, env, def, help)                                                             \
    { n, CLI_SIZE, &c->field, 0, 0, 0, NULL, NULL, help, env, def, 0 }
#define FLAG(n, field, env, def, help)                                                             \
    { n, CLI_FLAG, &c->field, 0, 0, 0, NULL, NULL, help, env, def, 0 }
/* A raw token: from the environment only (a flag would show it in ps). */
#define SECRET(n, field, env, help)                                                                \
    { n, CLI_STRING, c->field, 0, 0, CLI_SECRET, NULL, NULL, help, env, "", sizeof c->field }

enum { N_ROWS = 48 };

/* The rows for c, ended by a row whose name is NULL. */
static void settings(serve_config *c, cli_option t[N_ROWS]) {
    const cli_option rows[] = {
        STR("bind", bind, "MLPD_BIND", "127.0.0.1", "IPv4 address to listen on"),
        INT("port", port, 0, 65535, "MLPD_PORT", "8080", "TCP port (0: any free port)"),
        STR("db", db, "MLPD_DB", "data/mlpd.db",
            "SQLite database file, or a postgresql://user:pass@host:port/db URI"),
        STR("data-dir", data_dir, "MLPD_DATA_DIR", "data",
            "folder of data sets (scanned at start)"),
        STR("migrations", migrations, "MLPD_MIGRATIONS", "migrations",
            "folder of NNN_*.sql schema migrations"),
        STR("web-dir", web_dir, "MLPD_WEB_DIR", "web", "dashboard files served at /"),
        STR("api-dir", api_dir, "MLPD_API_DIR", "api", "folder holding openapi.yaml"),
        STR("port-file", port_file, "MLPD_PORT_FILE", "",
            "write the bound port to this file once listening"),
        INT("workers", workers, 1, 256, "MLPD_WORKERS", "2", "HTTP worker threads"),
        INT("max-jobs", max_jobs, 1, 64, "MLPD_MAX_JOBS", "1", "training jobs running at once"),
        INT("max-queue", max_queue, 0, 100000, "MLPD_MAX_QUEUE", "16",
            "queued jobs accepted before 429"),
        INT("blas-threads", blas_threads, 0, 256, "MLPD_BLAS_THREADS", "0",
            "OpenBLAS threads for training while no predictions are served (one while they are; "
            "0: OpenBLAS' default, one per core)"),
        SIZE("max-body", max_body, "MLPD_MAX_BODY", "1M", "largest JSON request body"),
        SIZE("max-upload", max_upload, "MLPD_MAX_UPLOAD", "64M",
             "largest model or data set upload"),
        INT("max-predict-batch", max_predict_batch, 1, 1000000, "MLPD_MAX_PREDICT_BATCH", "256",
            "rows per POST /predict"),
        STR("max-predict-body", max_predict_body_arg, "MLPD_MAX_PREDICT_BODY", "auto",
            "largest body of an inference request (/predict, /explain, v1, v2); auto: room for "
            "--max-predict-batch rows of 784 values at 16 bytes each, and at least --max-body"),
        INT("max-connections", max_connections, 1, 1000000, "MLPD_MAX_CONNECTIONS", "512",
            "open connections"),
        INT("timeout", timeout, 1, 86400, "MLPD_TIMEOUT", "60", "idle connection timeout, seconds"),
        FLAG("quiet", quiet, "MLPD_QUIET", "0", "no per-request log lines"),
        INT("max-streams", max_streams, 1, 100000, "MLPD_MAX_STREAMS", "32",
            "open job event streams before 503"),
        INT("max-params", max_params, 1, 268435456, "MLPD_MAX_PARAMS", "16777216",
            "weights + biases of a network to train (over it: 422)"),
        INT("max-epochs", max_epochs, 1, 10000, "MLPD_MAX_EPOCHS", "1000",
            "epochs of one training job (over it: 422)"),
        SIZE("max-dataset-bytes", max_dataset_bytes, "MLPD_MAX_DATASET_BYTES", "2G",
             "largest data set decoded in memory (an upload over it: 413)"),
        SIZE("max-job-memory", max_job_memory, "MLPD_MAX_JOB_MEMORY", "50%",
             "estimated memory of one training job: parameters, optimizer, batch, data; N% of "
             "RAM or bytes (over it: 422)"),
        STR("management-token-file", management_token_file, "MLPD_MANAGEMENT_TOKEN_FILE", "",
            "file holding the management bearer token"),
        STR("token-file", management_token_file, NULL, NULL, "same as --management-token-file"),
        STR("inference-token-file", inference_token_file, "MLPD_INFERENCE_TOKEN_FILE", "",
            "file holding the inference bearer token"),
        SECRET("management-token", management_token, "MLPD_MANAGEMENT_TOKEN",
               "the management bearer token itself"),
        SECRET("inference-token", inference_token, "MLPD_INFERENCE_TOKEN",
               "the inference bearer token itself"),
        STR("cors-origins", cors_origins, "MLPD_CORS_ORIGINS", "",
            "comma-separated browser origins allowed to call the API"),
        INT("predict-batch-rows", predict_batch_rows, 0, 4096, "MLPD_PREDICT_BATCH_ROWS", "64",
            "rows predicted together from concurrent requests (0: no batching)"),
        INT("predict-batch-delay-us", predict_batch_delay_us, 0, 1000000,
            "MLPD_PREDICT_BATCH_DELAY_US", "0",
            "longest wait for a fuller prediction batch, microseconds"),
        INT("predict-batch-gap-us", predict_batch_gap_us, 0, 1000000, "MLPD_PREDICT_BATCH_GAP_US",
            "0", "with a delay: stop waiting once no request came for this long"),
        STR("default-alias", default_alias, "MLPD_DEFAULT_ALIAS", "production",
            "alias a request naming a model without a version uses (\"\" = always the latest)"),
        INT("keep-step-metrics", keep_step_metrics, 0, 1000000000, "MLPD_KEEP_STEP_METRICS", "1000",
            "step-level metrics (step_loss) kept per run, thinned evenly as it trains (0: all)"),
        FLOAT("max-precision-drop", max_precision_drop, 0, 100, "MLPD_MAX_PRECISION_DROP", "0.3",
              "largest test accuracy loss, in percentage points, a model version may take to "
              "serve in bf16 or int8 (more: 422)"),
        STR("role", role, "MLPD_ROLE", "all",
            "all: answer HTTP and train; api: answer HTTP, never train; trainer: train, answer "
            "only /healthz, /readyz and /metrics"),
        STR("node-name", node_name, "MLPD_NODE_NAME", "",
            "this daemon's name on the jobs it trains (\"\": hostname:port)"),
        INT("lease-seconds", lease_seconds, 3, 3600, "MLPD_LEASE_SECONDS", "30",
            "a training daemon renews its claim on a job every third of this; a job whose claim "
            "is older is queued again by any daemon"),
        INT("shutdown-delay", shutdown_delay, 0, 600, "MLPD_SHUTDOWN_DELAY", "0",
            "seconds a SIGTERM'd daemon keeps serving, /readyz 503 and every answer closing its "
            "connection, before it closes its listener: let load balancers take it out first "
            "(docs/scale-out.md)"),
        STR("balance", balance, "MLPD_HTTP_BALANCE", "fewest",
            "how connections reach the HTTP workers: fewest (one acceptor, each to the worker "
            "with the fewest open), reuseport (kernel hash), pool (libmicrohttpd's thread pool)"),
        {0},
    };
    _Static_assert(sizeof rows / sizeof rows[0] <= N_ROWS, "N_ROWS too small");
    memcpy(t, rows, sizeof rows);
}

int serve_parse_size(const char *s, size_t *out) {
    return cli_parse_size(s, out);
}

void serve_config_default(serve_config *c) {
    memset(c, 0, sizeof *c);
    cli_option t[N_ROWS];
    settings(c, t);
    char err[160];
    cli_set_defaults(t, err, sizeof err); /* the defaults are tested: they parse */
}

static const char USAGE[] = "mlpd serve [options]";
static const char SUMMARY[] =
    "Runs the HTTP daemon: training jobs, predictions, models, data sets, dashboard.\n"
    "Each option can also be set by its environment variable (flags win).";

void serve_config_usage(FILE *f) {
    serve_config c;
    serve_config_default(&c);
    cli_option t[N_ROWS];
    settings(&c, t);
    cli_print_help(f, USAGE, SUMMARY, t);
}

/* What no single row can check: names another layer owns the rules of, and
 * --max-predict-body ("auto" or a size). */
static int check_names(serve_config *c, char *err, size_t errlen) {
    if (c->default_alias[0] && !api_model_name_ok(c->default_alias)) {
        snprintf(err, errlen,
                 "--default-alias: '%s' is not an alias (a letter, then up to 63 of "
                 "A-Z a-z 0-9 . _ -)",
                 c->default_alias);
        return 2;
    }
    if (strcmp(c->role, "all") && strcmp(c->role, "api") && strcmp(c->role, "trainer")) {
        snprintf(err, errlen, "--role: expected all, api or trainer, got '%s'", c->role);
        return 2;
    }
    if (strcmp(c->max_predict_body_arg, "auto") &&
        serve_parse_size(c->max_predict_body_arg, &c->max_predict_body) != 0) {
        snprintf(err, errlen, "--max-predict-body: expected auto or a size like 4M, got '%s'",
                 c->max_predict_body_arg);
        return 2;
    }
    if (http_balance_parse(c->balance) < 0) {
        snprintf(err, errlen, "--balance: expected fewest, reuseport or pool, got '%s'",
                 c->balance);
        return 2;
    }
    return 0;
}

int serve_config_parse(serve_config *c, int argc, char **argv, FILE *out, char *err,
                       size_t errlen) {
    cli_option t[N_ROWS];
    settings(c, t);
    if (cli_parse_env(t, err, errlen) != CLI_OK) return 2;
    int rc = cli_parse(t, argc, argv, err, errlen);
    if (rc == CLI_HELP) {
        cli_print_help(out, USAGE, SUMMARY, t);
        return 1;
    }
    if (rc != CLI_OK) return 2;
    return check_names(c, err, errlen);
}

size_t serve_predict_body_limit(const serve_config *c) {
    if (c->max_predict_body) return c->max_predict_body;
    size_t derived = (size_t)c->max_predict_batch * PREDICT_ROW_VALUES * PREDICT_VALUE_BYTES + 4096;
    return derived > c->max_body ? derived : c->max_body;
}

void serve_config_rest(const serve_config *c, rest_config *out) {
    *out = (rest_config){.data_dir = c->data_dir,
                         .web_dir = c->web_dir,
                         .api_dir = c->api_dir,
                         .max_epochs = c->max_epochs,
                         .max_params = c->max_params,
                         .max_dataset_bytes = c->max_dataset_bytes,
                         .max_job_memory = c->max_job_memory,
                         .max_predict_batch = c->max_predict_batch,
                         .default_alias = c->default_alias,
                         .max_precision_drop = c->max_precision_drop,
                         .trainer_only = !strcmp(c->role, "trainer"),
                         .quiet = c->quiet};
}

void serve_config_auth(const serve_config *c, auth_sources *out) {
    *out = (auth_sources){.management_token = c->management_token,
                          .management_token_file = c->management_token_file,
                          .inference_token = c->inference_token,
                          .inference_token_file = c->inference_token_file};
}
