/* test_full_disk.c - a full disk gives clean errors, never corruption.
 *
 * The daemon's database and data dir live on a tmpfs of 8 MiB mounted for
 * the test (we run as root; if mount(2) is refused the test FAILS, saying
 * so: a skipped check would prove nothing). With the disk filled to the last
 * byte by a filler file:
 * - a run training at that moment ends failed with the store's reason at
 *   its next epoch (its end is written with the space the store holds back
 *   for that, store_reserve.c), or - should SQLite still find room in its
 *   WAL - trains on until cancelled; either way it ends;
 * - then, the disk filled again: CSV and IDX uploads, a model upload and a
 *   training request answer 507 Insufficient Storage as problem+json (type
 *   /problems/insufficient-storage), and no upload temporary is left behind;
 * - the daemon keeps answering (/healthz, /jobs).
 * Once the filler is deleted, uploads and training work again, the daemon
 * stops cleanly, PRAGMA integrity_check says "ok" and it starts again on the
 * same files.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "daemon.h"
#include "expect.h"

#define TMPFS_SIZE "8m"

static char mnt[64]; /* the tmpfs mount point */
static int mounted;
static mlpd_daemon D;
static int started;

static int setup(void **state) {
    (void)state;
    snprintf(mnt, sizeof mnt, "/tmp/mlpd-full-XXXXXX");
    if (!mkdtemp(mnt)) {
        fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=" TMPFS_SIZE ",mode=0755") != 0) {
        fprintf(stderr,
                "FAIL: cannot mount a tmpfs of %s on %s (%s): this test needs root (or "
                "CAP_SYS_ADMIN) to make a small full disk; it is not skipped\n",
                TMPFS_SIZE, mnt, strerror(errno));
        rmdir(mnt);
        return -1;
    }
    mounted = 1;
    printf("tmpfs of %s mounted on %s\n", TMPFS_SIZE, mnt);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    if (started) daemon_cleanup(&D); /* kills a daemon still running */
    if (mounted && umount(mnt) != 0) {
        fprintf(stderr, "umount %s: %s (detaching)\n", mnt, strerror(errno));
        umount2(mnt, MNT_DETACH);
    }
    rmdir(mnt);
    return 0;
}

/* ---- helpers ----------------------------------------------------------------------- */

static unsigned long long free_bytes(void) {
    struct statvfs sv;
    assert_int_equal(statvfs(mnt, &sv), 0);
    return (unsigned long long)sv.f_bavail * sv.f_frsize;
}

/* Write a filler file until the disk refuses; returns the bytes written. */
static long long fill_disk(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    assert_true(fd >= 0);
    static char block[65536];
    long long total = 0;
    size_t chunk = sizeof block;
    for (;;) {
        ssize_t w = write(fd, block, chunk);
        if (w > 0) {
            total += w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        assert_true(w == 0 || errno == ENOSPC);
        if (chunk == 1) break;
        chunk /= 2; /* down to the last byte */
    }
    close(fd);
    return total;
}

/* Send a request that needs disk space: the answer must be 507 problem+json
 * of type /problems/insufficient-storage (expect_problem checks the rest). */
static void expect_no_space(const char *method, const char *path, const char *ctype,
                            const void *body, size_t len) {
    cJSON *p = expect_problem(&D, method, path, ctype, body, len, NULL, 507, NULL);
    printf("  full disk: %-6s %-40s -> 507 %s\n", method, path, json_str(p, "detail"));
    assert_string_equal(json_str(p, "type"), "/problems/insufficient-storage");
    assert_string_equal(json_str(p, "title"), "Insufficient Storage");
    cJSON_Delete(p);
}

static long get_status(const char *path) {
    return request_status(&D, "GET", path, NULL, NULL, 0, NULL);
}

/* rows x 8 features, 3 classes, as CSV text (malloc'ed). */
static char *small_csv(int rows, size_t *len) {
    char *s = malloc((size_t)rows * 80 + 32);
    size_t n = (size_t)sprintf(s, "label,a,b,c,d,e,f,g,h\n");
    for (int i = 0; i < rows; i++) {
        n += (size_t)sprintf(s + n, "%d", i % 3);
        for (int f = 0; f < 8; f++)
            n += (size_t)sprintf(s + n, ",%.3f", (double)((i * 7 + f) % 10) / 10);
        s[n++] = '\n';
    }
    s[n] = '\0';
    *len = n;
    return s;
}

/* Status (and error) of a job: now, or once it has ended (wait_s > 0). */
static const char *job_status(int64_t id, double wait_s, char *error, size_t cap) {
    static char st[32];
    cJSON *j = NULL;
    if (wait_s > 0) {
        j = wait_job(&D, id, wait_s);
    } else {
        char path[64];
        snprintf(path, sizeof path, "/jobs/%lld", (long long)id);
        j = expect_json(&D, path, 200);
    }
    assert_non_null(j);
    snprintf(st, sizeof st, "%s", json_str(j, "status"));
    snprintf(error, cap, "%s", json_str(j, "error") ? json_str(j, "error") : "");
    cJSON_Delete(j);
    return st;
}

/* ---- the test ------------------------------------------------------------------------------ */

/* The run that was training when the disk filled: its next epoch's
 * metrics cannot be written, so it ends failed with the store's reason
 * (recorded through the store's reserve); should SQLite still find room,
 * it trains on and a cancel must end it. */
static void running_job_ends_cleanly(int64_t long_id) {
    char err[300];
    const char *st = "running";
    for (double t0 = now_seconds(); !strcmp(st, "running") && now_seconds() - t0 < 10;) {
        sleep_millis(50);
        st = job_status(long_id, 0, err, sizeof err);
    }
    if (!strcmp(st, "running")) {
        long c = cancel_job(&D, long_id); /* a running job's cancel needs no disk: a flag */
        assert_true(c == 202 || c == 409);
        st = job_status(long_id, 60, err, sizeof err);
        printf("  full disk: running job trained on; cancelled, it ended %s\n", st);
        assert_true(!strcmp(st, "cancelled") || !strcmp(st, "failed"));
    } else {
        printf("  full disk: running job ended by itself: %s: %s\n", st, err);
        assert_string_equal(st, "failed");
        assert_non_null(strstr(err, "full"));
    }
}

/* PRAGMA integrity_check on the database at path (the daemon stopped). */
static void assert_integrity_ok(const char *path) {
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    printf("integrity_check after the disk was freed: %s\n", sqlite3_column_text(q, 0));
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "ok");
    sqlite3_finalize(q);
    sqlite3_close(h);
}

static void test_full_disk_gives_clean_errors(void **state) {
    (void)state;
    char db[128], data[128], filler[128], link_to[512], link_at[160];
    snprintf(db, sizeof db, "--db=%s/mlpd.db", mnt);
    snprintf(data, sizeof data, "--data-dir=%s/data", mnt);
    snprintf(filler, sizeof filler, "%s/filler", mnt);
    const char *extra[] = {db, data, NULL};
    assert_int_equal(daemon_start(&D, extra), 0);
    started = 1;
    /* The digits stay outside the tmpfs (a symlink costs no space); a
     * restart registers them. */
    snprintf(link_to, sizeof link_to, "%s/data/mnist-digits", D.repo);
    snprintf(link_at, sizeof link_at, "%s/mnist-digits", data + strlen("--data-dir="));
    assert_int_equal(symlink(link_to, link_at), 0);
    assert_int_equal(daemon_restart(&D), 0);

    /* Before: a run and a data set that must survive. */
    int64_t ok_id = train_job(&D, "{\"hidden\":[8],\"epochs\":1}");
    assert_true(ok_id > 0);
    char err[300];
    assert_string_equal(job_status(ok_id, 60, err, sizeof err), "succeeded");
    size_t csv_len;
    char *csv = small_csv(2000, &csv_len);
    assert_int_equal(
        request_status(&D, "POST", "/datasets?name=before", "text/csv", csv, csv_len, NULL), 201);
    int64_t long_id = train_job(&D, "{\"hidden\":[64],\"epochs\":1000}");
    assert_true(long_id > 0);
    assert_int_equal(wait_job_progress(&D, long_id, 1, 60), 0);

    unsigned long long before = free_bytes();
    long long filled = fill_disk(filler);
    printf("disk: %llu bytes free, filler wrote %lld bytes, %llu free now\n", before, filled,
           free_bytes());
    assert_true(free_bytes() < 4096);

    running_job_ends_cleanly(long_id);

    /* The run's end may have spent the store's reserve: fill that space
     * too, so that what follows meets a disk full to the last byte. */
    filled += fill_disk(filler);
    assert_true(free_bytes() < 4096);

    /* Uploads: refused cleanly. */
    expect_no_space("POST", "/datasets?name=during", "text/csv", csv, csv_len);
    size_t img_len;
    unsigned char *img = repo_file_bytes(&D, "data/mnist-digits/t10k-images-idx3-ubyte", &img_len);
    assert_non_null(img);
    expect_no_space("PUT", "/datasets/during-idx/files/t10k-images-idx3-ubyte",
                    "application/octet-stream", img, img_len);
    free(img);
    size_t model_len;
    int hidden = 256; /* ~800 KB: more than the WAL's slack */
    unsigned char *model = model_file_bytes(&hidden, 1, 3, &model_len);
    assert_non_null(model);
    expect_no_space("POST", "/models?name=during", "application/octet-stream", model, model_len);
    assert_int_equal(upload_temporaries(data + strlen("--data-dir=")), 0);

    /* Training: refused cleanly (no room to be sure of recording its end). */
    const char *job = "{\"hidden\":[8],\"epochs\":1}";
    expect_no_space("POST", "/train", "application/json", job, strlen(job));
    assert_int_equal(get_status("/healthz"), 200);
    assert_int_equal(get_status("/jobs"), 200);
    assert_int_equal(get_status("/datasets/before"), 200);

    /* Space again: everything works. */
    assert_int_equal(unlink(filler), 0);
    assert_int_equal(
        request_status(&D, "POST", "/datasets?name=after", "text/csv", csv, csv_len, NULL), 201);
    assert_int_equal(request_status(&D, "POST", "/models?name=after", "application/octet-stream",
                                    model, model_len, NULL),
                     201);
    int64_t after = train_job(&D, "{\"hidden\":[8],\"epochs\":1}");
    assert_true(after > 0);
    assert_string_equal(job_status(after, 60, err, sizeof err), "succeeded");
    free(csv);
    free(model);

    assert_int_equal(daemon_stop(&D), 0);
    assert_integrity_ok(db + strlen("--db="));
    assert_int_equal(daemon_restart(&D), 0);
    assert_int_equal(get_status("/datasets/after"), 200);
    char path[64];
    snprintf(path, sizeof path, "/jobs/%lld", (long long)ok_id);
    assert_int_equal(get_status(path), 200);
    assert_int_equal(daemon_stop(&D), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_disk_gives_clean_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
