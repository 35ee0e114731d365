/* mem_file.h - helpers shared by the fuzz targets whose readers take paths:
 * an input is written to a memory file (memfd) and read back through
 * /proc/self/fd/N, so nothing touches the disk or is left over. */
#ifndef MLPD_FUZZ_MEM_FILE_H
#define MLPD_FUZZ_MEM_FILE_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* A broken property aborts: libFuzzer reports the input. */
static inline void check(int ok) {
    if (!ok) abort();
}

/* One memory file per role, created on first use and rewritten for every
 * input (the harness runs inputs one at a time). */
typedef struct {
    int fd;
    char path[64];
} mem_file;

#define MEM_FILE_INIT                                                                              \
    { -1, "" }

/* Replace the contents of f with data[0..size) and return its path. */
static inline const char *mem_file_put(mem_file *f, const char *name, const void *data,
                                       size_t size) {
    if (f->fd < 0) {
        f->fd = memfd_create(name, MFD_CLOEXEC);
        check(f->fd >= 0);
        snprintf(f->path, sizeof f->path, "/proc/self/fd/%d", f->fd);
    }
    check(ftruncate(f->fd, 0) == 0);
    const char *p = data;
    for (size_t done = 0; done < size;) {
        ssize_t n = pwrite(f->fd, p + done, size - done, (off_t)done);
        check(n > 0);
        done += (size_t)n;
    }
    return f->path;
}

#endif /* MLPD_FUZZ_MEM_FILE_H */
