/* metrics.h - the daemon's Prometheus metrics (text format 0.0.4).
 *
 * Counters are atomics bumped on the request path (no lock, no store write);
 * gauges (jobs by status, training speed, memory) are read when scraped.
 * Families (docs/api.md lists them with their meaning): mlpd_build_info;
 * mlpd_http_requests_total{route,method,code} and the
 * mlpd_http_request_duration_seconds histogram; per listener
 * mlpd_http_listener_{connections,requests}_total; the mlpd_predict_*
 * counters and, per {model, version}, mlpd_predict_model_{rows,executions,requests}_total
 * and the mlpd_predict_queue_seconds histogram; mlpd_models_cached; mlpd_jobs{status}; mlpd_train_samples_total;
 * the mlpd_epoch_duration_seconds and mlpd_job_duration_seconds histograms;
 * the standard process_* families; mlpd_uptime_seconds.
 */
#ifndef MLPD_METRICS_H
#define MLPD_METRICS_H

#include <stdatomic.h>
#include <stddef.h>

struct app;

typedef struct mlpd_metrics {
    atomic_uint_fast64_t predictions; /* rows */
    atomic_uint_fast64_t prediction_requests;
} mlpd_metrics;

void metrics_init(mlpd_metrics *m);
/* Count one answered POST /predict of `rows` rows. */
void metrics_count_prediction(mlpd_metrics *m, int rows);

/* The whole exposition as a malloc'ed string (*len bytes); NULL on ENOMEM. */
char *metrics_render(struct app *a, size_t *len);

#endif /* MLPD_METRICS_H */
