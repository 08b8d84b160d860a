/*
 * Benchmark peers on loopback: the targets the exporters probe.
 *
 *   peer tcp ADDR PORT STATS_PORT                  accept, close at once
 *   peer tls ADDR PORT STATS_PORT CERT KEY THREADS  TLS 1.3 handshake, then close
 *
 * Each counts the connections it served to the end (a completed accept for tcp, a completed
 * server handshake for tls). A connection to STATS_PORT answers "HTTP/1.0 200 OK" with that
 * count, so a round's successful probes are the count's difference around the round: the
 * target, not the exporter, says which probes succeeded.
 *
 * Build: gcc -O2 -pthread peer.c -o peer -lssl -lcrypto
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static atomic_ulong served;
static int listen_fd;
static SSL_CTX *ctx;

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

/* Answers every connection to the stats port with the served count. */
static void *stats(void *arg)
{
	int fd = *(int *)arg;
	char buf[128];

	for (;;) {
		int c = accept(fd, NULL, NULL);

		if (c < 0)
			continue;
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

static void *serve_tls(void *unused)
{
	(void)unused;
	for (;;) {
		int c = accept(listen_fd, NULL, NULL);

		if (c < 0)
			continue;
		SSL *ssl = SSL_new(ctx);

		SSL_set_fd(ssl, c);
		if (SSL_accept(ssl) == 1)
			atomic_fetch_add(&served, 1);
		else
			ERR_clear_error();
		SSL_free(ssl);
		close(c);
	}
	return NULL;
}

static void setup_tls(const char *cert, const char *key)
{
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		ERR_print_errors_fp(stderr);
		exit(1);
	}
	/* Probes close right after the handshake: no tickets, no resumption to skew the rounds. */
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
}

int main(int argc, char **argv)
{
	pthread_t t;
	int stats_fd;

	if (argc < 5 || (strcmp(argv[1], "tcp") && strcmp(argv[1], "tls")) ||
	    (!strcmp(argv[1], "tls") && argc != 8)) {
		fprintf(stderr, "usage: peer tcp ADDR PORT STATS_PORT\n"
				"       peer tls ADDR PORT STATS_PORT CERT KEY THREADS\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	listen_fd = listen_on(argv[2], atoi(argv[3]));
	stats_fd = listen_on(argv[2], atoi(argv[4]));
	pthread_create(&t, NULL, stats, &stats_fd);
	if (!strcmp(argv[1], "tcp")) {
		serve_tcp();
		return 0;
	}
	setup_tls(argv[5], argv[6]);
	int threads = atoi(argv[7]);

	for (int i = 1; i < threads; i++)
		pthread_create(&t, NULL, serve_tls, NULL);
	serve_tls(NULL);
	return 0;
}
