/*
 * The raw connect limit: how many TCP connections per second this machine opens and closes on
 * loopback with no exporter in the way. THREADS threads each loop socket(2), connect(2),
 * close(2) against ADDR:PORT for SECONDS, the same work one tcp_connect probe asks of the
 * kernel, with the same concurrency the load generator gives the exporters.
 *
 *   connect_limit ADDR PORT THREADS SECONDS      prints "<connects per second> <failures>"
 *
 * Build: gcc -O2 -pthread connect_limit.c -o connect_limit
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in target = { .sin_family = AF_INET };
static atomic_ulong ok, failed;
static atomic_int stop;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *loop(void *unused)
{
	(void)unused;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd >= 0 && connect(fd, (struct sockaddr *)&target, sizeof(target)) == 0)
			atomic_fetch_add_explicit(&ok, 1, memory_order_relaxed);
		else
			atomic_fetch_add_explicit(&failed, 1, memory_order_relaxed);
		if (fd >= 0)
			close(fd);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 5 || inet_pton(AF_INET, argv[1], &target.sin_addr) != 1) {
		fprintf(stderr, "usage: connect_limit ADDR PORT THREADS SECONDS\n");
		return 2;
	}
	target.sin_port = htons(atoi(argv[2]));
	int threads = atoi(argv[3]);
	double seconds = atof(argv[4]);
	pthread_t *t = calloc(threads, sizeof(*t));

	if (!t || threads < 1 || seconds <= 0)
		return 2;
	double start = now();

	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, loop, NULL);
	usleep((useconds_t)(seconds * 1e6));
	atomic_store(&stop, 1);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	double elapsed = now() - start;

	printf("%.0f %lu\n", atomic_load(&ok) / elapsed, atomic_load(&failed));
	return 0;
}
