/* test_util.h - helpers shared by the unit tests: a temporary folder per
 * test group and whole-file reads and writes inside it.
 *
 * Include after <cmocka.h>: the helpers that can fail assert with cmocka,
 * so a broken fixture fails the test that needed it (naming the file and
 * line of the helper) instead of corrupting what it checks. The functions
 * are static inline so that a test includes only what it uses without
 * unused-function warnings; none keeps state of its own.
 */
#ifndef MLPD_TEST_UTIL_H
#define MLPD_TEST_UTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zlib.h>

/* A new folder /tmp/mlpd-<tag>-XXXXXX, its path into dir (cap >= 64 is
 * plenty). 0, or -1 when it cannot be made (for use in a group setup). */
static inline int tu_make_temp_dir(char *dir, size_t cap, const char *tag) {
    if (snprintf(dir, cap, "/tmp/mlpd-%s-XXXXXX", tag) >= (int)cap) return -1;
    return mkdtemp(dir) ? 0 : -1;
}

static inline int tu_remove_entry(const char *path, const struct stat *sb, int flag,
                                  struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Remove dir and everything below it (links removed, not followed). 0 or
 * -1 (for use in a group teardown). An empty dir string is left alone. */
static inline int tu_remove_tree(const char *dir) {
    if (!dir[0]) return 0;
    return nftw(dir, tu_remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

/* dir/name in one of four rotating static buffers, so that one call may
 * take two or three of them (two files of one data set). */
static inline const char *tu_path(const char *dir, const char *name) {
    static char paths[4][256];
    static int next;
    char *path = paths[next++ % 4];
    snprintf(path, sizeof paths[0], "%s/%s", dir, name);
    return path;
}

/* Create or replace path with buf[0..len), gzip-compressed when gzip is set
 * (an empty gzip file is a valid stream of nothing). Asserts on failure. */
static inline void tu_write_file(const char *path, const void *buf, size_t len, int gzip) {
    if (gzip) {
        gzFile f = gzopen(path, "wb");
        assert_non_null(f);
        if (len > 0) assert_int_equal(gzwrite(f, buf, (unsigned)len), (int)len);
        assert_int_equal(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        if (len > 0) assert_int_equal(fwrite(buf, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
    }
}

/* Create or replace path with the text (no NUL written). Asserts on failure. */
static inline void tu_write_text(const char *path, const char *text) {
    tu_write_file(path, text, strlen(text), 0);
}

/* The whole file at path, malloc'ed with a NUL after its bytes (caller
 * frees); its size into *len when len is not NULL. Asserts on failure. */
static inline char *tu_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = NULL;
    size_t n = 0, cap = 0, got;
    char chunk[4096];
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (n + got + 1 > cap) {
            cap = (n + got + 1) * 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        memcpy(buf + n, chunk, got);
        n += got;
    }
    assert_int_equal(ferror(f), 0);
    fclose(f);
    if (!buf) buf = calloc(1, 1);
    assert_non_null(buf);
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

#endif /* MLPD_TEST_UTIL_H */
