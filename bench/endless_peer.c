/*
 * The hostile target of the benchmark: a listener on loopback that sends every connection an
 * endless line, 'X' without a newline, as fast as the client reads, until the client closes
 * (write(2) then fails with EPIPE or ECONNRESET; SIGPIPE is ignored). One thread per connection.
 *
 *   endless_peer ADDR PORT
 *
 * Build: gcc -O2 -pthread endless_peer.c -o endless_peer
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char line[64 * 1024];

static void *stream(void *arg)
{
	int c = (int)(intptr_t)arg;

	while (write(c, line, sizeof(line)) > 0)
		;
	close(c);
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int one = 1, fd;

	if (argc != 3) {
		fprintf(stderr, "usage: endless_peer ADDR PORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	memset(line, 'X', sizeof(line));
	sa.sin_port = htons(atoi(argv[2]));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		perror("socket");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 4096)) {
		fprintf(stderr, "endless_peer: cannot listen on %s:%s: ", argv[1], argv[2]);
		perror("");
		return 1;
	}
	for (;;) {
		pthread_t t;
		int c = accept(fd, NULL, NULL);

		if (c < 0)
			continue;
		if (pthread_create(&t, NULL, stream, (void *)(intptr_t)c)) {
			close(c);
			continue;
		}
		pthread_detach(t);
	}
}
