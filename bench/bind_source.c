/*
 * bind_source.c - LD_PRELOAD shim for bench/http_bench's floods: every
 * IPv4 TCP socket the process connects is first bound to a source address
 * from $BENCH_SOURCE_ADDR, so that a load generator that cannot choose its
 * source (wrk) reaches seald on loopback from other client addresses than
 * the signing load.  That is how an attacker looks from the daemon's side:
 * other addresses, with their own rate limits and lockouts, while the
 * signing clients keep theirs.
 *
 * $BENCH_SOURCE_ADDR is one address (127.0.0.2: every connection from it)
 * or a range "A.B.C.D+N" (127.0.1.1+64: each new connection from the next
 * of the 64 addresses from 127.0.1.1 up, round the range again after the
 * last), for a flood from many addresses (the refusal phase uses one, the
 * public verification phase many).
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
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);

static atomic_uint next_source;

/* The source address of this connection from spec (see above) into *out;
 * 0 if spec is not one. */
static int
pick_source(const char *spec, struct in_addr *out)
{
    char first[INET_ADDRSTRLEN];
    const char *plus = strchr(spec, '+');
    size_t len = plus ? (size_t)(plus - spec) : strlen(spec);
    unsigned long n = 1;

    if (len >= sizeof(first))
        return 0;
    memcpy(first, spec, len);
    first[len] = '\0';
    if (inet_pton(AF_INET, first, out) != 1)
        return 0;
    if (plus != NULL && ((n = strtoul(plus + 1, NULL, 10)) < 1 ||
                         n > 65536))
        return 0;
    if (n > 1)
        out->s_addr = htonl(ntohl(out->s_addr) +
                            atomic_fetch_add(&next_source, 1) % n);
    return 1;
}

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
        if (pick_source(src, &sin.sin_addr))
            (void)bind(fd, (const struct sockaddr *)&sin, sizeof(sin));
    }
    return real(fd, addr, len);
}
