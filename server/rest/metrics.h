/* metrics.h - the daemon's Prometheus metrics (text format 0.0.4).
 *
 * Counters are atomics bumped on the request path (no lock, no store write);
 * gauges (jobs by status, training speed, memory) are read when scraped.
 * Families:
 *   mlpd_http_requests_total{route,method,status}   counter, status = "2xx".."5xx"
 *   mlpd_http_request_duration_seconds{route,method} histogram
 *   mlpd_predictions_total                          counter, rows classified
 *   mlpd_prediction_requests_total                  counter
 *   mlpd_predict_batches_total                      counter, batcher forward passes
 *   mlpd_predict_batched_requests_total             counter, requests it answered
 *   mlpd_predict_batched_rows_total                 counter, rows it predicted
 *   mlpd_http_listener_connections_total{listener}  counter, per HTTP worker thread
 *   mlpd_http_listener_requests_total{listener}     counter, per HTTP worker thread
 *   mlpd_jobs{status}                               gauge, runs per status
 *   mlpd_train_samples_per_second                   gauge, over running jobs
 *   mlpd_models_cached                              gauge
 *   mlpd_uptime_seconds                             gauge
 *   process_resident_memory_bytes                   gauge, from /proc/self/statm
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

/* Resident set size of this process in bytes, 0 if unknown. */
long long metrics_rss_bytes(void);

#endif /* MLPD_METRICS_H */
