/*
 * Power-cut shim for the durability test (LD_PRELOAD).
 *
 * A process kill never loses a write the kernel has accepted; a power cut loses every write that
 * was not synced. This shim makes the difference visible: before each write or truncate of a file
 * under $POWERCUT_DIR it appends the bytes about to be overwritten (and the old size) to an undo log
 * ($POWERCUT_LOG); an fsync/fdatasync of the file appends a SYNC record, which makes everything
 * before it for that file durable. After the process is SIGKILLed, tests/powercut/undo.py replays
 * the log backwards and restores each file to its state at its last sync: what a disk would hold
 * after the power went out.
 *
 * Record format (little endian): u8 kind ('W' write/truncate, 'S' sync), u32 path length, path,
 * then for 'W': i64 offset, i64 old file size, u32 old byte count, old bytes.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_FD 4096

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = -1;
static const char *watch_dir;
static size_t watch_len;
static signed char tracked[MAX_FD]; /* 0 unknown, 1 tracked, -1 not tracked */
static char paths[MAX_FD][PATH_MAX];

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static int (*real_ftruncate)(int, off_t);
static int (*real_ftruncate64)(int, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_close)(int);

static void init(void) {
    if (real_write) return;
    real_write = dlsym(RTLD_NEXT, "write");
    real_pwrite = dlsym(RTLD_NEXT, "pwrite");
    real_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
    real_ftruncate = dlsym(RTLD_NEXT, "ftruncate");
    real_ftruncate64 = dlsym(RTLD_NEXT, "ftruncate64");
    real_fsync = dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    real_close = dlsym(RTLD_NEXT, "close");
    watch_dir = getenv("POWERCUT_DIR");
    watch_len = watch_dir ? strlen(watch_dir) : 0;
    const char *log_path = getenv("POWERCUT_LOG");
    if (log_path) log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

/* Is fd a file under the watched directory? Cached per fd until close(). Call with the lock held. */
static int is_tracked(int fd) {
    if (fd < 0 || fd >= MAX_FD || fd == log_fd || !watch_len || log_fd < 0) return 0;
    if (tracked[fd] == 0) {
        char link[64];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, paths[fd], PATH_MAX - 1);
        if (n > 0) paths[fd][n] = 0;
        tracked[fd] = (n > 0 && (size_t)n > watch_len && strncmp(paths[fd], watch_dir, watch_len) == 0) ? 1 : -1;
    }
    return tracked[fd] == 1;
}

static void put(const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = real_write(log_fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            abort(); /* an incomplete undo log would make the test lie: fail loudly */
        }
        p += n;
        len -= (size_t)n;
    }
}

static void put_header(char kind, int fd) {
    uint32_t plen = (uint32_t)strlen(paths[fd]);
    put(&kind, 1);
    put(&plen, 4);
    put(paths[fd], plen);
}

/* Log what [offset, offset+len) holds now, and the size, before it is overwritten. */
static void save_old(int fd, off_t offset, size_t len) {
    struct stat st;
    if (fstat(fd, &st) != 0) abort();
    int64_t off64 = offset, size64 = st.st_size;
    size_t have = offset < st.st_size ? (size_t)(st.st_size - offset) : 0;
    if (have > len) have = len;
    char *old = malloc(have ? have : 1);
    size_t got = 0;
    while (got < have) {
        ssize_t n = pread(fd, old + got, have - got, offset + (off_t)got);
        if (n <= 0) abort();
        got += (size_t)n;
    }
    /* one record, one write(): a kill lands before or after it, rarely inside (undo.py drops a torn tail) */
    uint32_t count = (uint32_t)have, plen = (uint32_t)strlen(paths[fd]);
    size_t total = 1 + 4 + plen + 8 + 8 + 4 + have;
    char *rec = malloc(total), *q = rec;
    *q++ = 'W';
    memcpy(q, &plen, 4); q += 4;
    memcpy(q, paths[fd], plen); q += plen;
    memcpy(q, &off64, 8); q += 8;
    memcpy(q, &size64, 8); q += 8;
    memcpy(q, &count, 4); q += 4;
    memcpy(q, old, have);
    put(rec, total);
    free(rec);
    free(old);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t offset) {
    init();
    pthread_mutex_lock(&lock);
    if (is_tracked(fd)) save_old(fd, offset, count);
    ssize_t n = real_pwrite64(fd, buf, count, offset);
    pthread_mutex_unlock(&lock);
    return n;
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
    init();
    pthread_mutex_lock(&lock);
    if (is_tracked(fd)) save_old(fd, offset, count);
    ssize_t n = real_pwrite(fd, buf, count, offset);
    pthread_mutex_unlock(&lock);
    return n;
}

ssize_t write(int fd, const void *buf, size_t count) {
    init();
    pthread_mutex_lock(&lock);
    if (is_tracked(fd)) {
        off_t at = lseek(fd, 0, SEEK_CUR);
        if (at >= 0) save_old(fd, at, count);
    }
    ssize_t n = real_write(fd, buf, count);
    pthread_mutex_unlock(&lock);
    return n;
}

static int truncate_with(int (*real)(int, off_t), int fd, off_t length) {
    init();
    pthread_mutex_lock(&lock);
    if (is_tracked(fd)) {
        struct stat st;
        if (fstat(fd, &st) != 0) abort();
        /* shrinking loses the tail, growing adds zeros: either way the old tail and size undo it */
        save_old(fd, length, st.st_size > length ? (size_t)(st.st_size - length) : 0);
    }
    int rc = real(fd, length);
    pthread_mutex_unlock(&lock);
    return rc;
}

int ftruncate(int fd, off_t length) { init(); return truncate_with(real_ftruncate, fd, length); }
int ftruncate64(int fd, off_t length) { init(); return truncate_with(real_ftruncate64, fd, length); }

static int sync_with(int (*real)(int), int fd) {
    init();
    int rc = real(fd);
    pthread_mutex_lock(&lock);
    if (rc == 0 && is_tracked(fd)) put_header('S', fd);
    pthread_mutex_unlock(&lock);
    return rc;
}

int fsync(int fd) { init(); return sync_with(real_fsync, fd); }
int fdatasync(int fd) { init(); return sync_with(real_fdatasync, fd); }

int close(int fd) {
    init();
    pthread_mutex_lock(&lock);
    if (fd >= 0 && fd < MAX_FD) tracked[fd] = 0;
    pthread_mutex_unlock(&lock);
    return real_close(fd);
}
