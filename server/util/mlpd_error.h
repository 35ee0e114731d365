/* mlpd_error.h - the daemon's one error convention (store, datasets, jobs,
 * serving).
 *
 * A fallible server function returns an mlpd_status: MLPD_OK (0) on success,
 * a negative code otherwise, and, where it takes `mlpd_error *err`, fills err
 * (when not NULL) with the same code and a one-line reason. This mirrors the
 * engine's mlp_status / mlp_error (mlp.h), which the engine keeps because it
 * must not see server/. A layer passes a lower layer's code up unchanged
 * unless it knows better (a job whose dataset is missing is ENOTFOUND
 * whatever the store said).
 *
 * The codes are the outcomes a caller acts on differently, not the places
 * a failure came from. The REST layer turns them into HTTP statuses and
 * problem types in one place: route_reply_error (server/rest/route_errors.c).
 *
 * Not covered, on purpose: command-line and configuration parsing (usage
 * errors printed before the daemon runs; cli_args.h), the engine (mlp.h),
 * the REST layer's admission answers (auth.h: a refusal of the caller, not a
 * failure of an operation) and the API layer's decoders, whose api_problem
 * carries the status the contract gives each malformed body (api/problem.h).
 */
#ifndef MLPD_ERROR_H
#define MLPD_ERROR_H

typedef enum {
    MLPD_OK = 0,
    MLPD_ENOTFOUND = -1,  /* the named run, model or dataset does not exist */
    MLPD_ECONFLICT = -2,  /* the state forbids it: a job already ended, widths that differ */
    MLPD_EBUSY = -3,      /* at a limit for now (the job queue is full): retry later */
    MLPD_ENOSPC = -4,     /* the disk is full: the write was refused, nothing was lost */
    MLPD_ESTORE = -5,     /* the store failed (SQLite, its files, memory while reading) */
    MLPD_EIO = -6,        /* a file or folder outside the store (the data dir) failed */
    MLPD_EINTERNAL = -7,  /* anything else: out of memory, a thread that did not start, a
                            stored model the engine refuses, the daemon shutting down */
    MLPD_ELOCKED = -8,    /* another process holds the store's write lock past the busy
                            timeout (SQLITE_BUSY): nothing was written, retry later */
    MLPD_EINVAL = -9,     /* the request asks for what cannot be done with what it names: a
                            split the data set lacks, rows whose width the model does not take */
    MLPD_EUNLOADED = -10, /* the model is unloaded on purpose: load it again first */
    MLPD_EDRAINING = -11  /* the daemon is shutting down: retry on another or a restarted one */
} mlpd_status;

typedef struct {
    mlpd_status code; /* equals the function's return value */
    char msg[256];    /* the reason, one line, no trailing period */
} mlpd_error;

/* Fill err (NULL is fine) with code and the formatted reason; returns code,
 * so a failure reads `return mlpd_fail(err, MLPD_ESTORE, "...", ...);`. */
mlpd_status mlpd_fail(mlpd_error *err, mlpd_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* MLPD_ERROR_H */
