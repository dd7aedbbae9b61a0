/* The Linux peer for the TCP benchmarks: the kernel's TCP moving bulk data and opening and
 * closing short connections, measured the same way as fastpath's simulated network.
 *
 *   tcp_peer_ref sink PORT                  accept one connection, read to EOF, close
 *   tcp_peer_ref bulk ADDR PORT BYTES       connect, write BYTES, shut down, wait for the
 *                                           peer's close; prints "bytes seconds"
 *   tcp_peer_ref churn-server PORT COUNT    accept and close COUNT connections
 *   tcp_peer_ref churn ADDR PORT COUNT      COUNT times: connect, wait for the server's
 *                                           close, close; prints "count seconds"
 * IPv4 only. Exit status 0 on success; errors are printed with what failed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    fprintf(stderr, "tcp_peer_ref: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int listener(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_ANY)};
    if (fd < 0) die("socket");
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
    if (listen(fd, 4096) < 0) die("listen");
    return fd;
}

static int dial(const char *addr, int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (fd < 0) die("socket");
    if (inet_pton(AF_INET, addr, &a.sin_addr) != 1) { fprintf(stderr, "bad address %s\n", addr); exit(2); }
    while (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        if (errno != ECONNREFUSED) die("connect");
        usleep(1000);                       /* the server is still starting */
        close(fd);
        fd = socket(AF_INET, SOCK_STREAM, 0);
    }
    return fd;
}

static char buf[1 << 18];

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: see the header of tcp_peer_ref.c\n"); return 2; }
    if (!strcmp(argv[1], "sink")) {
        int l = listener(atoi(argv[2])), c = accept(l, NULL, NULL);
        if (c < 0) die("accept");
        ssize_t n;
        while ((n = read(c, buf, sizeof buf)) > 0) {}
        close(c);
        close(l);
        return 0;
    }
    if (!strcmp(argv[1], "bulk") && argc == 5) {
        long long total = atoll(argv[4]), sent = 0;
        int fd = dial(argv[2], atoi(argv[3]));
        memset(buf, 'x', sizeof buf);
        double t0 = now_s();
        while (sent < total) {
            ssize_t n = write(fd, buf, total - sent < (long long)sizeof buf ? total - sent : sizeof buf);
            if (n < 0) die("write");
            sent += n;
        }
        shutdown(fd, SHUT_WR);
        while (read(fd, buf, sizeof buf) > 0) {}   /* the sink closes after reading everything */
        printf("%lld %.6f\n", sent, now_s() - t0);
        close(fd);
        return 0;
    }
    if (!strcmp(argv[1], "churn-server") && argc == 4) {
        int l = listener(atoi(argv[2]));
        long count = atol(argv[3]);
        for (long i = 0; i < count; i++) {
            int c = accept(l, NULL, NULL);
            if (c < 0) die("accept");
            close(c);                       /* the server closes first: TIME-WAIT stays here */
        }
        close(l);
        return 0;
    }
    if (!strcmp(argv[1], "churn") && argc == 5) {
        long count = atol(argv[4]);
        double t0 = now_s();
        for (long i = 0; i < count; i++) {
            int fd = dial(argv[2], atoi(argv[3]));
            while (read(fd, buf, sizeof buf) > 0) {}
            close(fd);
        }
        printf("%ld %.6f\n", count, now_s() - t0);
        return 0;
    }
    fprintf(stderr, "usage: see the header of tcp_peer_ref.c\n");
    return 2;
}
