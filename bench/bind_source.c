/*
 * bind_source.c - LD_PRELOAD shim for bench/http_bench's refusal flood:
 * every IPv4 TCP socket the process connects is first bound to the source
 * address in $BENCH_SOURCE_ADDR (for instance 127.0.0.2), so that a load
 * generator that cannot choose its source (wrk) reaches seald on loopback
 * from another client address than the signing load.  That is how an
 * attacker looks from the daemon's side: another address, with its own
 * rate limit and lockout, while the signing clients keep theirs.
 *
 * Bench-only: loaded into wrk, never into seald.  Without the variable, or
 * for anything but IPv4, connect() is passed through untouched.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE        /* RTLD_NEXT */
#endif
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);

int
connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    static connect_fn real;
    const char *src = getenv("BENCH_SOURCE_ADDR");
    struct sockaddr_in sin;

    if (real == NULL)
        real = (connect_fn)dlsym(RTLD_NEXT, "connect");
    if (real == NULL)
        return -1;
    if (src != NULL && addr != NULL && addr->sa_family == AF_INET) {
        memset(&sin, 0, sizeof(sin));
        sin.sin_family = AF_INET;
        sin.sin_port = 0;
        /* a failed bind leaves the kernel's choice: the flood then comes
         * from the signer's address, which the summary line shows */
        if (inet_pton(AF_INET, src, &sin.sin_addr) == 1)
            (void)bind(fd, (const struct sockaddr *)&sin, sizeof(sin));
    }
    return real(fd, addr, len);
}
