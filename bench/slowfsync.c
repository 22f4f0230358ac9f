/* A slower disk for T6: LD_PRELOAD this to add SLOW_FSYNC_US microseconds (default 2000) to
 * every fsync and fdatasync of the processes it is loaded into (the gateway and the naive loop
 * inherit it from `python -m bench`). The naive loop pays one fsync per alert, group commit one
 * per group, so T6 depends on what a flush costs; this shows how, on a machine whose own disk
 * flushes in 0.2 ms. Used for the README's table only, never by the test suite.
 *
 *   cc -shared -fPIC -O2 -o /tmp/slowfsync.so bench/slowfsync.c -ldl
 *   LD_PRELOAD=/tmp/slowfsync.so SLOW_FSYNC_US=2000 python -m bench --only T6 --no-record
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

static void wait_a_while(void) {
    const char *text = getenv("SLOW_FSYNC_US");
    long us = text ? atol(text) : 2000;
    struct timespec pause = { us / 1000000, (us % 1000000) * 1000 };
    nanosleep(&pause, NULL);
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    wait_a_while();
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    wait_a_while();
    return real(fd);
}
