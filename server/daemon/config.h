/* config.h - the settings of `mlpd serve`: defaults, MLPD_* environment
 * variables, command-line flags (in increasing precedence).
 */
#ifndef MLPD_CONFIG_H
#define MLPD_CONFIG_H

#include <stddef.h>
#include <stdio.h>

typedef struct serve_config {
    char bind[64];         /* --bind / MLPD_BIND, IPv4 address */
    int port;              /* --port / MLPD_PORT; 0 = any free port */
    char db[512];          /* --db / MLPD_DB */
    char data_dir[512];    /* --data-dir / MLPD_DATA_DIR */
    char migrations[512];  /* --migrations / MLPD_MIGRATIONS */
    char web_dir[512];     /* --web-dir / MLPD_WEB_DIR */
    char api_dir[512];     /* --api-dir / MLPD_API_DIR (holds openapi.yaml) */
    char port_file[512];   /* --port-file / MLPD_PORT_FILE: write the bound port there, "" = no */
    int workers;           /* --workers: HTTP threads */
    int max_jobs;          /* --max-jobs: runs training at once */
    int max_queue;         /* --max-queue: queued runs accepted */
    int blas_threads;      /* --blas-threads: OpenBLAS threads per training job, 0 = as is */
    size_t max_body;       /* --max-body: JSON request bodies, bytes */
    size_t max_upload;     /* --max-upload: model / dataset uploads, bytes */
    int max_predict_batch; /* --max-predict-batch: rows per POST /predict */
    char max_predict_body_arg[24]; /* --max-predict-body: a size, or "auto" */
    size_t max_predict_body;       /* its bytes; 0 = auto (derived, see below) */
    int max_connections;           /* --max-connections */
    int timeout;                   /* --timeout: idle connection timeout, seconds */
    int quiet;                     /* --quiet / MLPD_QUIET=1: no per-request log lines */
    int max_streams;               /* --max-streams: open GET /jobs/{id}/events streams */
    int max_params; /* --max-params: weights + biases of a network trained by POST /train */
    int max_epochs; /* --max-epochs: epochs of one training job */
    size_t max_dataset_bytes; /* --max-dataset-bytes: a data set decoded in memory */
    size_t max_job_memory;    /* --max-job-memory: a training job's estimated memory */
    /* Access control (auth.h). Raw tokens come from the environment only (a
     * flag would show them in ps); files from flags or the environment. */
    char management_token[260]; /* MLPD_MANAGEMENT_TOKEN */
    char management_token_file
        [512]; /* --management-token-file (--token-file) / MLPD_MANAGEMENT_TOKEN_FILE */
    char inference_token[260];      /* MLPD_INFERENCE_TOKEN */
    char inference_token_file[512]; /* --inference-token-file / MLPD_INFERENCE_TOKEN_FILE */
    char cors_origins[2048];        /* --cors-origins / MLPD_CORS_ORIGINS (cors.h); "" = off */
    /* Prediction batching (batcher.h) and the listeners (http.h). */
    int predict_batch_rows;     /* --predict-batch-rows: rows per batch, 0 = no batcher */
    int predict_batch_delay_us; /* --predict-batch-delay-us: wait for a fuller batch, 0 = never */
    int predict_batch_gap_us; /* --predict-batch-gap-us: stop waiting after this idle gap, 0 = off */
    char balance[16];         /* --balance / MLPD_HTTP_BALANCE: http_balance name (http.h) */
    char default_alias[65];   /* --default-alias: the alias unversioned requests use, "" = none */
    int keep_step_metrics;    /* --keep-step-metrics: step_loss rows kept per run, 0 = all */
    float max_precision_drop; /* --max-precision-drop: accuracy points bf16/int8 may lose */
    char role[16];            /* --role: all, api (never trains) or trainer (health/metrics only) */
    char node_name[128];      /* --node-name: worker name on claimed jobs, "" = hostname:port */
    int lease_seconds;        /* --lease-seconds: job claims expire after this unless renewed */
    int shutdown_delay;       /* --shutdown-delay: seconds serving, not ready, after SIGTERM */
} serve_config;

/* The body limit of the inference routes: --max-predict-body, or when 0
 * room for a full batch (--max-predict-batch) of MNIST rows written as JSON:
 * PREDICT_ROW_VALUES values of up to PREDICT_VALUE_BYTES characters each
 * ("0.123456789012, "), plus 4 KiB for the rest; never below --max-body.
 * 256 rows: 3.2 MB, so the batch limit, not the body limit, is what a
 * client of real images meets first. */
#define PREDICT_ROW_VALUES  784
#define PREDICT_VALUE_BYTES 16
size_t serve_predict_body_limit(const serve_config *c);

/* The parts of the settings that the layers below read (borrowing c's
 * strings): the REST layer's settings and where the access tokens come from. */
struct rest_config;
struct auth_sources;
void serve_config_rest(const serve_config *c, struct rest_config *out);
void serve_config_auth(const serve_config *c, struct auth_sources *out);

/* The defaults (see --help). */
void serve_config_default(serve_config *c);

/* Apply MLPD_* variables (an empty variable is ignored), then argv (argv[0] is "serve"). Returns 0 to run,
 * 1 when --help was printed to out, 2 on a usage error (message in err). */
int serve_config_parse(serve_config *c, int argc, char **argv, FILE *out, char *err, size_t errlen);

/* Print the options with their variables and defaults. */
void serve_config_usage(FILE *f);

/* Parse a size such as "1048576", "64K", "1M", "1MiB", "2G" into bytes
 * (cli_parse_size: the syntax of --max-body and --max-upload).
 * Returns 0 or -1 when malformed or zero. */
int serve_parse_size(const char *s, size_t *out);

#endif /* MLPD_CONFIG_H */
