/*
 * The raw connect limit: how many TCP connections per second this machine opens and closes on
 * loopback with no exporter in the way. THREADS threads each keep DEPTH non-blocking connects
 * in flight with epoll(7), and close each connection as soon as it is open: the same work one
 * tcp_connect probe asks of the kernel (socket, connect, wait for writable, SO_ERROR, close),
 * done the way an event-driven exporter does it, with nothing else.
 *
 *   connect_limit ADDR PORT THREADS DEPTH SECONDS   prints "<connects per second> <failures>"
 *
 * Build: gcc -O2 -pthread connect_limit.c -o connect_limit
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in target = { .sin_family = AF_INET };
static atomic_ulong ok, failed;
static atomic_int stop;
static int depth;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Starts one connect; a connect that completes at once is counted and closed here. */
static void start(int ep)
{
	for (;;) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			atomic_fetch_add_explicit(&failed, 1, memory_order_relaxed);
			usleep(1000);
			continue;
		}
		if (connect(fd, (struct sockaddr *)&target, sizeof(target)) == 0) {
			atomic_fetch_add_explicit(&ok, 1, memory_order_relaxed);
			close(fd);
			if (atomic_load_explicit(&stop, memory_order_relaxed))
				return;
			continue;
		}
		if (errno == EINPROGRESS) {
			struct epoll_event ev = { .events = EPOLLOUT, .data.fd = fd };

			if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0)
				return;
		}
		atomic_fetch_add_explicit(&failed, 1, memory_order_relaxed);
		close(fd);
	}
}

static void *loop(void *unused)
{
	struct epoll_event evs[64];
	int ep = epoll_create1(EPOLL_CLOEXEC);

	(void)unused;
	for (int i = 0; i < depth; i++)
		start(ep);
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		int n = epoll_wait(ep, evs, 64, 100);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd, err = 0;
			socklen_t len = sizeof(err);

			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
			atomic_fetch_add_explicit(err ? &failed : &ok, 1, memory_order_relaxed);
			close(fd);
			start(ep);
		}
	}
	close(ep);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 6 || inet_pton(AF_INET, argv[1], &target.sin_addr) != 1) {
		fprintf(stderr, "usage: connect_limit ADDR PORT THREADS DEPTH SECONDS\n");
		return 2;
	}
	target.sin_port = htons(atoi(argv[2]));
	int threads = atoi(argv[3]);
	double seconds = atof(argv[5]);
	pthread_t *t = calloc(threads, sizeof(*t));

	depth = atoi(argv[4]);
	if (!t || threads < 1 || depth < 1 || seconds <= 0)
		return 2;
	double start_time = now();

	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, loop, NULL);
	usleep((useconds_t)(seconds * 1e6));
	atomic_store(&stop, 1);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	double elapsed = now() - start_time;

	printf("%.0f %lu\n", atomic_load(&ok) / elapsed, atomic_load(&failed));
	return 0;
}
