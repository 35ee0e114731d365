/* daemon.c - start, stop and wait for a real mlpd daemon (see daemon.h; the
 * client side - HTTP, job helpers, files - is client.c). */
#include "daemon.h"

#include <curl/curl.h>
#include <errno.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

void sleep_millis(int ms) {
    struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static const char *mlpd_bin(void) {
    const char *b = getenv("MLPD_BIN");
    return b && *b ? b : "build/mlpd";
}

/* The repository root: the working directory if it has migrations/, else
 * the nearest parent of the binary that has. */
static int find_repo(char *out, size_t cap) {
    struct stat sb;
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) && stat("migrations", &sb) == 0 && strlen(cwd) < cap) {
        snprintf(out, cap, "%s", cwd);
        return 0;
    }
    char bin[PATH_MAX];
    if (!realpath(mlpd_bin(), bin)) return -1;
    for (char *slash; (slash = strrchr(bin, '/')) && slash != bin;) {
        *slash = '\0';
        char probe[PATH_MAX + 16];
        snprintf(probe, sizeof probe, "%s/migrations", bin);
        if (stat(probe, &sb) == 0 && strlen(bin) < cap) {
            snprintf(out, cap, "%s", bin);
            return 0;
        }
    }
    return -1;
}

static int read_port(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int port = -1;
    if (fscanf(f, "%d", &port) != 1) port = -1;
    fclose(f);
    return port;
}

/* fork/exec the daemon in d->dir and wait until /readyz answers 200. */
static int launch(mlpd_daemon *d) {
    char port_file[340];
    snprintf(port_file, sizeof port_file, "%s/port", d->dir);
    unlink(port_file);
    char migrations[300], web[300], api[300];
    snprintf(migrations, sizeof migrations, "%s/migrations", d->repo);
    snprintf(web, sizeof web, "%s/web", d->repo);
    snprintf(api, sizeof api, "%s/api", d->repo);
    const char *argv[40];
    int n = 0;
    argv[n++] = mlpd_bin();
    argv[n++] = "serve";
    argv[n++] = "--port";
    argv[n++] = "0";
    argv[n++] = "--port-file";
    argv[n++] = port_file;
    argv[n++] = "--db";
    argv[n++] = d->db;
    argv[n++] = "--data-dir";
    argv[n++] = d->data_dir;
    argv[n++] = "--migrations";
    argv[n++] = migrations;
    argv[n++] = "--web-dir";
    argv[n++] = web;
    argv[n++] = "--api-dir";
    argv[n++] = api;
    for (int i = 0; i < d->n_extra; i++) argv[n++] = d->extra[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
            close(fd);
        }
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    d->pid = pid;
    double t0 = now_seconds();
    while (now_seconds() - t0 < 20) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            fprintf(stderr, "daemon exited during start-up (status %d)\n", status);
            d->pid = 0;
            d->start_exit = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            daemon_dump_log(d);
            return -1;
        }
        if (d->port <= 0 || access(port_file, R_OK) == 0) d->port = read_port(port_file);
        if (d->port > 0 && access(port_file, R_OK) == 0) {
            http_result r;
            if (http_do(d, "GET", "/readyz", NULL, NULL, 0, NULL, 2, &r) == 0 && r.status == 200) {
                http_result_free(&r);
                return 0;
            }
            http_result_free(&r);
        }
        sleep_millis(20);
    }
    fprintf(stderr, "daemon did not become ready within 20 s\n");
    daemon_dump_log(d);
    daemon_kill(d);
    return -1;
}

const char *test_pg_uri(void) {
    const char *u = getenv("MLPD_TEST_PG_URI");
    return u && *u ? u : NULL;
}

/* One statement on the cluster's maintenance database (the URI's own). */
static int pg_admin(const char *sql) {
    PGconn *c = PQconnectdb(test_pg_uri());
    PGresult *r = PQstatus(c) == CONNECTION_OK ? PQexec(c, sql) : NULL;
    int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return ok ? 0 : -1;
}

/* With MLPD_TEST_PG_URI set, a daemon gets a database of its own in that
 * cluster (so every test starts from an empty store, as with a fresh SQLite
 * file): d->db becomes the URI with the database name replaced. */
static int pg_create_db(mlpd_daemon *d) {
    static int counter;
    const char *uri = test_pg_uri();
    const char *slash = strrchr(uri, '/');
    if (!slash || strchr(slash, '?')) {
        fprintf(stderr, "MLPD_TEST_PG_URI must end in /dbname (no query): %s\n", uri);
        return -1;
    }
    snprintf(d->pg_name, sizeof d->pg_name, "mlpdt_%d_%d", (int)getpid(), ++counter);
    snprintf(d->db, sizeof d->db, "%.*s/%s", (int)(slash - uri), uri, d->pg_name);
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", d->pg_name);
    return pg_admin(sql);
}

int daemon_schema_ahead(const mlpd_daemon *d) {
    if (d->pg_name[0]) {
        PGconn *c = PQconnectdb(d->db);
        PGresult *r = PQstatus(c) == CONNECTION_OK
                          ? PQexec(c, "INSERT INTO mlpd_schema_migrations VALUES "
                                      "((SELECT max(version) + 1 FROM mlpd_schema_migrations),"
                                      " 'future.sql', 0)")
                          : NULL;
        int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok) fprintf(stderr, "schema ahead: %s", PQerrorMessage(c));
        PQclear(r);
        PQfinish(c);
        return ok ? 0 : -1;
    }
    sqlite3 *db = NULL;
    int version = -1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open_v2(d->db, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", version + 1);
    int ok = version > 0 && sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
    if (!ok) fprintf(stderr, "schema ahead: %s\n", db ? sqlite3_errmsg(db) : "cannot open");
    sqlite3_close(db);
    return ok ? 0 : -1;
}

int daemon_start(mlpd_daemon *d, const char *const *extra) {
    memset(d, 0, sizeof *d);
    if (find_repo(d->repo, sizeof d->repo) != 0) {
        fprintf(stderr, "cannot find the repository root (run from it or set MLPD_BIN)\n");
        return -1;
    }
    snprintf(d->dir, sizeof d->dir, "/tmp/mlpd-test-XXXXXX");
    if (!mkdtemp(d->dir)) return -1;
    snprintf(d->data_dir, sizeof d->data_dir, "%s/data", d->dir);
    snprintf(d->db, sizeof d->db, "%s/mlpd.db", d->dir);
    if (test_pg_uri() && pg_create_db(d) != 0) return -1;
    snprintf(d->log, sizeof d->log, "%s/daemon.log", d->dir);
    if (mkdir(d->data_dir, 0755) != 0) return -1;
    char src[PATH_MAX], dst[400];
    snprintf(src, sizeof src, "%s/data/mnist-digits", d->repo);
    snprintf(dst, sizeof dst, "%s/mnist-digits", d->data_dir);
    if (symlink(src, dst) != 0) return -1;
    for (int i = 0; extra && extra[i] && i < 8; i++)
        snprintf(d->extra[d->n_extra++], sizeof d->extra[0], "%s", extra[i]);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return launch(d);
}

int daemon_restart(mlpd_daemon *d) {
    if (d->pid) daemon_stop(d);
    d->port = 0;
    return launch(d);
}

int daemon_wait(mlpd_daemon *d, double timeout_s) {
    if (!d->pid) return -1;
    double t0 = now_seconds();
    int status = 0;
    while (now_seconds() - t0 < timeout_s) {
        pid_t w = waitpid(d->pid, &status, WNOHANG);
        if (w == d->pid) {
            d->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        sleep_millis(10);
    }
    fprintf(stderr, "daemon did not exit within %.0f s\n", timeout_s);
    daemon_kill(d);
    return -1;
}

int daemon_stop(mlpd_daemon *d) {
    if (!d->pid) return -1;
    kill(d->pid, SIGTERM);
    return daemon_wait(d, 30);
}

void daemon_kill(mlpd_daemon *d) {
    if (!d->pid) return;
    kill(d->pid, SIGKILL);
    waitpid(d->pid, NULL, 0);
    d->pid = 0;
}

void daemon_cleanup(mlpd_daemon *d) {
    if (d->pid) daemon_kill(d);
    if (d->dir[0] && !getenv("MLPD_TEST_KEEP")) remove_tree(d->dir);
    if (d->pg_name[0] && !getenv("MLPD_TEST_KEEP")) {
        char sql[128];
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", d->pg_name);
        pg_admin(sql);
        d->pg_name[0] = '\0';
    }
}

int daemon_finish(mlpd_daemon *d) {
    int rc = daemon_stop(d);
    if (rc != 0) daemon_dump_log(d);
    daemon_cleanup(d);
    return rc == 0 ? 0 : -1;
}

int serve_exit_status(const char *const *env, const char *const *args) {
    const char *argv[32] = {mlpd_bin(),   "serve",
                            "--port",     "0",
                            "--db",       "/nonexistent-dir/x.db",
                            "--data-dir", "/nonexistent-dir/data"};
    int n = 8;
    for (int i = 0; args && args[i] && n < 31; i++) argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        for (int i = 0; env && env[i]; i++) putenv((char *)env[i]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void daemon_dump_log(const mlpd_daemon *d) {
    FILE *f = fopen(d->log, "r");
    if (!f) return;
    fprintf(stderr, "---- %s ----\n", d->log);
    char line[1024];
    while (fgets(line, sizeof line, f)) fputs(line, stderr);
    fclose(f);
}
