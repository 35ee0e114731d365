/* config.c - `mlpd serve` settings: one table of options drives defaults,
 * environment variables, flags and --help, so the four never disagree. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "http.h"
#include "model_ref.h"
#include "router.h"

typedef enum { OPT_STR, OPT_INT, OPT_SIZE, OPT_FLAG } opt_kind;

typedef struct {
    const char *flag; /* "--bind"; NULL: environment only (secrets) */
    const char *env;  /* "MLPD_BIND"; NULL: an alias flag of the row above */
    opt_kind kind;
    size_t offset;    /* into serve_config */
    size_t cap;       /* OPT_STR: buffer size */
    long long lo, hi; /* OPT_INT bounds */
    const char *def;  /* default as text (for --help and serve_config_default) */
    const char *help;
} option;

#define STR(field)         OPT_STR, offsetof(serve_config, field), sizeof(((serve_config *)0)->field), 0, 0
#define INT(field, lo, hi) OPT_INT, offsetof(serve_config, field), 0, lo, hi
#define SIZE(field)        OPT_SIZE, offsetof(serve_config, field), 0, 1, 0
#define FLAG(field)        OPT_FLAG, offsetof(serve_config, field), 0, 0, 1

static const option options[] = {
    {"--bind", "MLPD_BIND", STR(bind), "127.0.0.1", "IPv4 address to listen on"},
    {"--port", "MLPD_PORT", INT(port, 0, 65535), "8080", "TCP port (0: any free port)"},
    {"--db", "MLPD_DB", STR(db), "data/mlpd.db", "SQLite database file"},
    {"--data-dir", "MLPD_DATA_DIR", STR(data_dir), "data",
     "folder of data sets (scanned at start)"},
    {"--migrations", "MLPD_MIGRATIONS", STR(migrations), "migrations",
     "folder of NNN_*.sql schema migrations"},
    {"--web-dir", "MLPD_WEB_DIR", STR(web_dir), "web", "dashboard files served at /"},
    {"--api-dir", "MLPD_API_DIR", STR(api_dir), "api", "folder holding openapi.yaml"},
    {"--port-file", "MLPD_PORT_FILE", STR(port_file), "",
     "write the bound port to this file once listening"},
    {"--workers", "MLPD_WORKERS", INT(workers, 1, 256), "2", "HTTP worker threads"},
    {"--max-jobs", "MLPD_MAX_JOBS", INT(max_jobs, 1, 64), "1", "training jobs running at once"},
    {"--max-queue", "MLPD_MAX_QUEUE", INT(max_queue, 0, 100000), "16",
     "queued jobs accepted before 429"},
    {"--blas-threads", "MLPD_BLAS_THREADS", INT(blas_threads, 0, 256), "0",
     "OpenBLAS threads for training while no predictions are served (one while they are; 0: "
     "OpenBLAS' default, one per core)"},
    {"--max-body", "MLPD_MAX_BODY", SIZE(max_body), "1M", "largest JSON request body"},
    {"--max-upload", "MLPD_MAX_UPLOAD", SIZE(max_upload), "64M",
     "largest model or data set upload"},
    {"--max-predict-batch", "MLPD_MAX_PREDICT_BATCH", INT(max_predict_batch, 1, 1000000), "256",
     "rows per POST /predict"},
    {"--max-connections", "MLPD_MAX_CONNECTIONS", INT(max_connections, 1, 1000000), "512",
     "open connections"},
    {"--timeout", "MLPD_TIMEOUT", INT(timeout, 1, 86400), "60", "idle connection timeout, seconds"},
    {"--quiet", "MLPD_QUIET", FLAG(quiet), "0", "no per-request log lines"},
    {"--max-streams", "MLPD_MAX_STREAMS", INT(max_streams, 1, 100000), "32",
     "open job event streams before 503"},
    {"--max-params", "MLPD_MAX_PARAMS", INT(max_params, 1, 268435456), "16777216",
     "weights + biases of a network to train"},
    {"--max-epochs", "MLPD_MAX_EPOCHS", INT(max_epochs, 1, 10000), "1000",
     "epochs of one training job"},
    {"--management-token-file", "MLPD_MANAGEMENT_TOKEN_FILE", STR(management_token_file), "",
     "file holding the management bearer token"},
    {"--token-file", NULL, STR(management_token_file), "", "same as --management-token-file"},
    {"--inference-token-file", "MLPD_INFERENCE_TOKEN_FILE", STR(inference_token_file), "",
     "file holding the inference bearer token"},
    {NULL, "MLPD_MANAGEMENT_TOKEN", STR(management_token), "",
     "the management bearer token itself"},
    {NULL, "MLPD_INFERENCE_TOKEN", STR(inference_token), "", "the inference bearer token itself"},
    {"--cors-origins", "MLPD_CORS_ORIGINS", STR(cors_origins), "",
     "comma-separated browser origins allowed to call the API"},
    {"--predict-batch-rows", "MLPD_PREDICT_BATCH_ROWS", INT(predict_batch_rows, 0, 4096), "64",
     "rows predicted together from concurrent requests (0: no batching)"},
    {"--predict-batch-delay-us", "MLPD_PREDICT_BATCH_DELAY_US",
     INT(predict_batch_delay_us, 0, 1000000), "0",
     "longest wait for a fuller prediction batch, microseconds"},
    {"--predict-batch-gap-us", "MLPD_PREDICT_BATCH_GAP_US", INT(predict_batch_gap_us, 0, 1000000),
     "0", "with a delay: stop waiting once no request came for this long"},
    {"--default-alias", "MLPD_DEFAULT_ALIAS", STR(default_alias), "production",
     "alias a request naming a model without a version uses (\"\" = always the latest)"},
    {"--balance", "MLPD_HTTP_BALANCE", STR(balance), "fewest",
     "how connections reach the HTTP workers: fewest (one acceptor, each to the worker with the "
     "fewest open), reuseport (kernel hash), pool (libmicrohttpd's thread pool)"},
};
#define N_OPTIONS (sizeof options / sizeof options[0])

int serve_parse_size(const char *s, size_t *out) {
    if (!s || !*s) return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || s[0] == '-') return -1;
    unsigned long long mul = 1;
    if (*end) {
        switch (*end) {
        case 'k':
        case 'K': mul = 1ull << 10; break;
        case 'm':
        case 'M': mul = 1ull << 20; break;
        case 'g':
        case 'G': mul = 1ull << 30; break;
        default: return -1;
        }
        end++;
        if (!strcasecmp(end, "ib") || !strcasecmp(end, "b")) end += strlen(end);
        if (*end) return -1;
    }
    if (v == 0 || v > SIZE_MAX / mul) return -1;
    *out = (size_t)(v * mul);
    return 0;
}

/* Set one option from text; 0 or -1 with a message. */
static int apply(serve_config *c, const option *o, const char *val, const char *from, char *err,
                 size_t errlen) {
    char *field = (char *)c + o->offset;
    switch (o->kind) {
    case OPT_STR:
        if (strlen(val) >= o->cap) {
            snprintf(err, errlen, "%s: value too long", from);
            return -1;
        }
        strcpy(field, val);
        return 0;
    case OPT_INT: {
        errno = 0;
        char *end;
        long long v = strtoll(val, &end, 10);
        if (errno || end == val || *end || v < o->lo || v > o->hi) {
            snprintf(err, errlen, "%s: expected an integer in [%lld, %lld], got '%s'", from, o->lo,
                     o->hi, val);
            return -1;
        }
        *(int *)field = (int)v;
        return 0;
    }
    case OPT_SIZE:
        if (serve_parse_size(val, (size_t *)field) != 0) {
            snprintf(err, errlen, "%s: expected a size such as 1048576, 512K or 64M, got '%s'",
                     from, val);
            return -1;
        }
        return 0;
    case OPT_FLAG:
        *(int *)field = !(val[0] == '0' || !strcasecmp(val, "false") || !strcasecmp(val, "no"));
        return 0;
    }
    return -1;
}

void serve_config_default(serve_config *c) {
    memset(c, 0, sizeof *c);
    char ignored[64];
    for (size_t i = 0; i < N_OPTIONS; i++)
        apply(c, &options[i], options[i].def, "default", ignored, sizeof ignored);
}

void serve_config_usage(FILE *f) {
    fprintf(f, "usage: mlpd serve [options]\n\n"
               "Runs the HTTP daemon: training jobs, predictions, models, data sets, dashboard.\n"
               "Each option can also be set by its environment variable (flags win).\n\n");
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const option *o = &options[i];
        char left[64];
        snprintf(left, sizeof left, "%s%s", o->flag ? o->flag : "(environment only)",
                 !o->flag || o->kind == OPT_FLAG ? ""
                 : o->kind == OPT_STR            ? " STR"
                 : o->kind == OPT_SIZE           ? " SIZE"
                                                 : " N");
        if (!o->env)
            fprintf(f, "  %-29s %s\n", left, o->help);
        else
            fprintf(f, "  %-29s %s (%s, default %s)\n", left, o->help, o->env,
                    o->def[0] ? o->def : "none");
    }
    fprintf(f, "  %-29s this text\n", "--help");
}

int serve_config_parse(serve_config *c, int argc, char **argv, FILE *out, char *err,
                       size_t errlen) {
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const char *v = options[i].env ? getenv(options[i].env) : NULL;
        /* A secret set but empty (MLPD_MANAGEMENT_TOKEN="") is a token
         * meant and not given: refused like an empty token file, never read
         * as "no token" (which opens every route). Other empty variables
         * count as unset (compose passes ${VAR:-} through). */
        if (v && !*v && !options[i].flag) {
            snprintf(err, errlen,
                     "%s is set but empty: give the token, or unset it to run "
                     "without one",
                     options[i].env);
            return 2;
        }
        if (v && *v && apply(c, &options[i], v, options[i].env, err, errlen) != 0) return 2;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            serve_config_usage(out);
            return 1;
        }
        const char *eq = strchr(arg, '=');
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        const option *o = NULL;
        for (size_t k = 0; k < N_OPTIONS; k++)
            if (options[k].flag && strlen(options[k].flag) == name_len &&
                !strncmp(options[k].flag, arg, name_len))
                o = &options[k];
        if (!o) {
            snprintf(err, errlen, "unknown option '%s' (see mlpd serve --help)", arg);
            return 2;
        }
        const char *val;
        if (o->kind == OPT_FLAG)
            val = eq ? eq + 1 : "1";
        else if (eq)
            val = eq + 1;
        else if (i + 1 < argc)
            val = argv[++i];
        else {
            snprintf(err, errlen, "%s needs a value", o->flag);
            return 2;
        }
        if (apply(c, o, val, o->flag, err, errlen) != 0) return 2;
    }
    if (c->default_alias[0] && !api_model_name_ok(c->default_alias)) {
        snprintf(err, errlen,
                 "--default-alias: '%s' is not an alias (a letter, then up to 63 of "
                 "A-Z a-z 0-9 . _ -)",
                 c->default_alias);
        return 2;
    }
    if (http_balance_parse(c->balance) < 0) {
        snprintf(err, errlen, "--balance: expected fewest, reuseport or pool, got '%s'",
                 c->balance);
        return 2;
    }
    return 0;
}

void serve_config_rest(const serve_config *c, rest_config *out) {
    *out = (rest_config){.data_dir = c->data_dir,
                         .web_dir = c->web_dir,
                         .api_dir = c->api_dir,
                         .max_epochs = c->max_epochs,
                         .max_params = c->max_params,
                         .max_predict_batch = c->max_predict_batch,
                         .default_alias = c->default_alias,
                         .quiet = c->quiet};
}

void serve_config_auth(const serve_config *c, auth_sources *out) {
    *out = (auth_sources){.management_token = c->management_token,
                          .management_token_file = c->management_token_file,
                          .inference_token = c->inference_token,
                          .inference_token_file = c->inference_token_file};
}
