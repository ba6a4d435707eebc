/* files.c: regular, size-capped input files (see files.h). */
#define _POSIX_C_SOURCE 200809L
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "status.h"

static const char *article(const char *noun)
{
    return strchr("aeiou", noun[0]) ? "an" : "a";
}

static fl_status check(const char *path, const struct stat *st, uint64_t max_bytes, const char *kind,
                       int allow_empty, fl_error *err)
{
    const char *what = NULL;
    if (S_ISDIR(st->st_mode))
        return fl_fail(err, FL_ERR_IO, "%s: is a directory, expected %s %s file", path, article(kind), kind);
    if (S_ISFIFO(st->st_mode)) what = "a FIFO (named pipe)";
    else if (S_ISCHR(st->st_mode)) what = "a character device";
    else if (S_ISBLK(st->st_mode)) what = "a block device";
    else if (S_ISSOCK(st->st_mode)) what = "a socket";
    else if (!S_ISREG(st->st_mode)) what = "not a regular file";
    if (what)
        return fl_fail(err, FL_ERR_IO,
                       "%s: is %s, not %s %s file; facelite reads regular files only (save the stream to a file first)",
                       path, what, article(kind), kind);
    if (st->st_size == 0 && !allow_empty)
        return fl_fail(err, FL_ERR_IO, "%s: is empty (0 bytes), not %s %s", path, article(kind), kind);
    if ((uint64_t)st->st_size > max_bytes)
        return fl_fail(err, FL_ERR_IO, "%s: is %lld bytes, over the %llu MiB limit for %s %s file", path,
                       (long long)st->st_size, (unsigned long long)(max_bytes >> 20), article(kind), kind);
    return FL_OK;
}

static fl_status open_checked(const char *path, uint64_t max_bytes, const char *kind, int allow_empty, int *fd_out,
                              size_t *size, fl_error *err)
{
    struct stat st;
    if (path == NULL) return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "no %s path given (NULL)", kind);
    if (stat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return fl_fail(err, FL_ERR_IO, "%s: no such %s file; check the path", path, kind);
        return fl_fail(err, FL_ERR_IO, "%s: cannot be read (%s); check the path and its permissions", path,
                       strerror(errno));
    }
    fl_status s = check(path, &st, max_bytes, kind, allow_empty, err);
    if (s != FL_OK) return s;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return fl_fail(err, FL_ERR_IO, "%s: cannot be read (%s); check the path and its permissions", path,
                       strerror(errno));
    if (fstat(fd, &st) != 0 || (s = check(path, &st, max_bytes, kind, allow_empty, err)) != FL_OK) {
        close(fd);
        return s != FL_OK ? s : fl_fail(err, FL_ERR_IO, "%s: cannot be read (%s)", path, strerror(errno));
    }
    *fd_out = fd;
    *size = (size_t)st.st_size;
    return FL_OK;
}

fl_status fl_file_map(const char *path, uint64_t max_bytes, const char *kind, int allow_empty, fl_mapped_file *out,
                      fl_error *err)
{
    int fd = -1;     /* set by open_checked on success; initialised for gcc -O3's flow analysis */
    size_t size = 0;
    out->data = NULL;
    out->size = 0;
    fl_status s = open_checked(path, max_bytes, kind, allow_empty, &fd, &size, err);
    if (s != FL_OK) return s;
    if (size) {
        void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return fl_fail(err, e == ENOMEM ? FL_ERR_NO_MEMORY : FL_ERR_IO, "%s: cannot be mapped (%s)", path,
                           strerror(e));
        }
        out->data = p;
    }
    close(fd); /* the mapping keeps the file */
    out->size = size;
    return FL_OK;
}

void fl_file_unmap(fl_mapped_file *file)
{
    if (file->data != NULL) munmap((void *)file->data, file->size);
    file->data = NULL;
    file->size = 0;
}

fl_status fl_file_read(const char *path, uint64_t max_bytes, const char *kind, uint8_t **data, size_t *size,
                       fl_error *err)
{
    int fd = -1;     /* as in fl_file_map */
    size_t n = 0;
    *data = NULL;
    *size = 0;
    fl_status s = open_checked(path, max_bytes, kind, 1, &fd, &n, err);
    if (s != FL_OK) return s;
    uint8_t *buf = malloc(n ? n : 1);
    if (buf == NULL) {
        close(fd);
        return fl_fail(err, FL_ERR_NO_MEMORY, "%s: out of memory for %zu bytes", path, n);
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (r <= 0) break; /* the file shrank: take what is there */
        got += (size_t)r;
    }
    close(fd);
    *data = buf;
    *size = got;
    return FL_OK;
}
