/*
 * The tcp_connect target of the benchmark: a listener on loopback that accepts each connection
 * and closes it at once, counting them. A connection to STATS_PORT answers "HTTP/1.0 200 OK"
 * with that count, so a round's successful probes are the count's difference around the round:
 * the target, not the exporter, says which probes succeeded. (The TLS target is tls_peer.rs.)
 *
 *   peer ADDR PORT STATS_PORT
 *
 * Build: gcc -O2 -pthread peer.c -o peer
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static atomic_ulong served;
static int listen_fd;

static int listen_on(const char *addr, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		perror("socket");
		exit(1);
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 4096)) {
		fprintf(stderr, "peer: cannot listen on %s:%d: ", addr, port);
		perror("");
		exit(1);
	}
	return fd;
}

/*
 * Answers every connection to the stats port with the served count. The request is read first:
 * closing a socket with unread data sends RST instead of FIN (tcp(7)), which can make the client
 * lose the answer.
 */
static void *stats(void *arg)
{
	int fd = *(int *)arg;
	char buf[1024];

	for (;;) {
		int c = accept(fd, NULL, NULL);

		if (c < 0)
			continue;
		if (read(c, buf, sizeof(buf)) < 0)
			perror("stats read");
		int n = snprintf(buf, sizeof(buf),
				 "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n%lu\n",
				 atomic_load(&served));
		if (write(c, buf, n) < 0)
			perror("stats write");
		close(c);
	}
	return NULL;
}

static void serve_tcp(void)
{
	for (;;) {
		int c = accept(listen_fd, NULL, NULL);

		if (c < 0)
			continue;
		close(c);
		atomic_fetch_add(&served, 1);
	}
}

int main(int argc, char **argv)
{
	pthread_t t;
	int stats_fd;

	if (argc != 4) {
		fprintf(stderr, "usage: peer ADDR PORT STATS_PORT\n");
		return 2;
	}
	listen_fd = listen_on(argv[1], atoi(argv[2]));
	stats_fd = listen_on(argv[1], atoi(argv[3]));
	pthread_create(&t, NULL, stats, &stats_fd);
	serve_tcp();
	return 0;
}
