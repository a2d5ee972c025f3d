/*
 * sd_notify.c — systemd's service notification protocol, written by hand
 * (no libsystemd): one datagram of "KEY=VALUE\n" lines to the AF_UNIX
 * socket named by $NOTIFY_SOCKET (a path, or "@name" for the abstract
 * namespace). Without $NOTIFY_SOCKET every call does nothing. The
 * watchdog interval is $WATCHDOG_USEC, for this process only when
 * $WATCHDOG_PID is unset or is our PID; pings go at half of it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "daemon.h"

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void sd_notify_send(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t len;
	size_t n;
	int fd;

	if (!path || !*path)
		return;
	n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof sa.sun_path) {
		log_warnx("daemon", "NOTIFY_SOCKET=\"%s\" is not a socket path; systemd is not told",
			  path);
		return;
	}
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract: no terminating NUL counted */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '/'));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_warnx("daemon", "sd_notify: socket: %s", strerror(errno));
		return;
	}
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0)
		log_warnx("daemon", "sd_notify to %s: %s", path, strerror(errno));
	close(fd);
}

void sd_notify_reloading(void)
{
	char msg[80];
	snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%lld\nSTATUS=reloading\n",
		 (long long)mono_us());
	sd_notify_send(msg);
}

int64_t sd_watchdog_interval_ms(void)
{
	const char *us = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	char *end;
	long long v;

	if (!us || !getenv("NOTIFY_SOCKET"))
		return 0;
	if (pid && *pid && strtoll(pid, NULL, 10) != (long long)getpid())
		return 0;
	errno = 0;
	v = strtoll(us, &end, 10);
	if (errno || *end || v <= 0)
		return 0;
	return v / 2000 > 0 ? v / 2000 : 1; /* half of it, in ms */
}
