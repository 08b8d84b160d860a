/*
 * The benchmark's far link: two layer-3 TUN devices, one in each of two network namespaces,
 * joined by threads that hold every packet a fixed delay before writing it into the other device
 * (the kernel here has no netem). Same design as tests/delay/line.rs: a reader stamps each packet
 * with CLOCK_MONOTONIC when it reads it; a writer sleeps until the packet is due and spins for the
 * last stretch. The four threads ask for SCHED_FIFO (root only; ignored when refused), so the link
 * keeps its round trip while the rest of the machine is busy: the link is the network under test,
 * not the program being measured.
 *
 *   delay_line NETNS_A NETNS_B DEV ONE_WAY_US
 *
 * Creates DEV in /run/netns/NETNS_A and in /run/netns/NETNS_B (setns(2) per thread, TUNSETIFF as
 * linux Documentation/networking/tuntap.rst describes) and forwards until killed. The caller
 * gives the devices their addresses and routes once "ready" is printed.
 *
 * Build: gcc -O2 -pthread delay_line.c -o delay_line
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define SLOTS 4096
#define MTU 2048 /* above the TUN device MTU of 1500 */
/* The last stretch before a due time that the writer spins instead of sleeping, ns. */
#define SPIN_NS 200000LL

struct packet {
	int64_t due;
	int len;
	unsigned char data[MTU];
};

/* One direction: a ring of packets from the reader to the writer. */
struct direction {
	int from, to;
	int64_t delay;
	struct packet *ring;
	unsigned head, tail; /* written by reader / writer, guarded by lock */
	pthread_mutex_t lock;
	pthread_cond_t more;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void realtime(void)
{
	struct sched_param p = { .sched_priority = 50 };

	pthread_setschedparam(pthread_self(), SCHED_FIFO, &p);
}

static int open_tun(const char *netns, const char *dev)
{
	char path[256];
	struct ifreq req;
	int ns, fd;

	snprintf(path, sizeof path, "/run/netns/%s", netns);
	ns = open(path, O_RDONLY | O_CLOEXEC);
	if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) {
		perror(path);
		exit(1);
	}
	close(ns);
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	memset(&req, 0, sizeof req);
	strncpy(req.ifr_name, dev, IFNAMSIZ - 1);
	req.ifr_flags = IFF_TUN | IFF_NO_PI;
	if (fd < 0 || ioctl(fd, TUNSETIFF, &req) != 0) {
		perror("TUNSETIFF");
		exit(1);
	}
	return fd;
}

static void *reader(void *arg)
{
	struct direction *d = arg;

	realtime();
	for (;;) {
		struct packet *p;
		unsigned slot;
		int n;

		pthread_mutex_lock(&d->lock);
		slot = d->head;
		pthread_mutex_unlock(&d->lock);
		p = &d->ring[slot % SLOTS];
		n = read(d->from, p->data, MTU);
		if (n <= 0)
			continue;
		p->due = now_ns() + d->delay;
		p->len = n;
		pthread_mutex_lock(&d->lock);
		if (d->head - d->tail < SLOTS - 1) /* a full ring drops the packet, as a queue would */
			d->head++;
		pthread_cond_signal(&d->more);
		pthread_mutex_unlock(&d->lock);
	}
	return NULL;
}

static void *writer(void *arg)
{
	struct direction *d = arg;

	realtime();
	for (;;) {
		struct packet *p;
		int64_t left;

		pthread_mutex_lock(&d->lock);
		while (d->tail == d->head)
			pthread_cond_wait(&d->more, &d->lock);
		p = &d->ring[d->tail % SLOTS];
		pthread_mutex_unlock(&d->lock);
		while ((left = p->due - now_ns()) > 0) {
			if (left > SPIN_NS) {
				struct timespec ts = { .tv_sec = (left - SPIN_NS) / 1000000000LL,
						       .tv_nsec = (left - SPIN_NS) % 1000000000LL };
				nanosleep(&ts, NULL);
			}
		}
		if (write(d->to, p->data, p->len) < 0) {
			/* a packet the kernel refuses is lost, as on a wire */
		}
		pthread_mutex_lock(&d->lock);
		d->tail++;
		pthread_mutex_unlock(&d->lock);
	}
	return NULL;
}

struct opener {
	const char *netns, *dev;
	int fd;
};

static void *open_in(void *arg)
{
	struct opener *o = arg;

	o->fd = open_tun(o->netns, o->dev);
	return NULL;
}

int main(int argc, char **argv)
{
	struct opener a, b;
	struct direction dir[2];
	pthread_t t;
	int i;

	if (argc != 5) {
		fprintf(stderr, "usage: %s NETNS_A NETNS_B DEV ONE_WAY_US\n", argv[0]);
		return 2;
	}
	a = (struct opener){ argv[1], argv[3], -1 };
	b = (struct opener){ argv[2], argv[3], -1 };
	/* setns changes only the calling thread: open each device from a thread of its own. */
	pthread_create(&t, NULL, open_in, &a);
	pthread_join(t, NULL);
	pthread_create(&t, NULL, open_in, &b);
	pthread_join(t, NULL);
	for (i = 0; i < 2; i++) {
		dir[i] = (struct direction){ .from = i ? b.fd : a.fd, .to = i ? a.fd : b.fd,
					     .delay = atoll(argv[4]) * 1000LL };
		dir[i].ring = calloc(SLOTS, sizeof(struct packet));
		pthread_mutex_init(&dir[i].lock, NULL);
		pthread_cond_init(&dir[i].more, NULL);
		if (!dir[i].ring)
			return 1;
		pthread_create(&t, NULL, reader, &dir[i]);
		pthread_create(&t, NULL, writer, &dir[i]);
	}
	printf("ready\n");
	fflush(stdout);
	pause();
	return 0;
}
