/* SPDX-License-Identifier: MIT */
/*
 * Starting vpnd for a subcommand that needs it running (up, killswitch):
 * a fork and an exec of "vpnd --client -c PROFILE IFNAME", whose parent
 * returns once the control socket is ready and whose messages reach our
 * stderr unchanged.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

/* $VPND, else the vpnd beside our own executable, else "vpnd" on PATH. */
static const char *vpnd_binary(char *buf, size_t len)
{
	const char *env = getenv("VPND");
	char *slash;
	ssize_t n;

	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", buf, len);
	if (n > 0 && (size_t)n < len) {
		buf[n] = '\0';
		slash = strrchr(buf, '/');
		if (slash && (size_t)(slash - buf) + sizeof("/vpnd") <= len) {
			strcpy(slash, "/vpnd");
			if (!access(buf, X_OK))
				return buf;
		}
	}
	return "vpnd";
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* waitpid() for at most @timeout_ms: 0 with *status, or -ETIMEDOUT. */
static int wait_child(pid_t pid, int *status, int timeout_ms)
{
	const struct timespec tick = { 0, 10 * 1000 * 1000 };
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	pid_t r;

	for (;;) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		nanosleep(&tick, NULL);
	}
}

static void vpnd_exec(const char *bin, const char *profile, const char *ifname)
{
	/* --client: a server config given by mistake is refused, not run. */
	char *const argv[] = { (char *)bin, "--client", "-c", (char *)profile,
			       (char *)ifname, NULL };

	if (strchr(bin, '/'))
		execv(bin, argv);
	else
		execvp(bin, argv);
	fprintf(stderr, "vpnctl: cannot run %s: %s\n", bin, strerror(errno));
	_exit(127);
}

/* Starts vpnd, which returns once its control socket is ready. */
static int vpnd_start(const char *profile, const char *ifname)
{
	char buf[PATH_MAX];
	const char *bin = vpnd_binary(buf, sizeof(buf));
	int status, ret;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "vpnctl: fork: %s\n", strerror(errno));
		return CTL_EXIT_FAILED;
	}
	if (!pid)
		vpnd_exec(bin, profile, ifname);
	ret = wait_child(pid, &status, CTL_START_TIMEOUT_MS);
	if (ret) {
		fprintf(stderr, "vpnctl: %s did not report ready within %d s\n",
			bin, CTL_START_TIMEOUT_MS / 1000);
		return CTL_EXIT_FAILED;
	}
	if (WIFEXITED(status) && !WEXITSTATUS(status))
		return CTL_EXIT_OK;
	if (WIFSIGNALED(status))
		fprintf(stderr, "vpnctl: %s was killed by signal %d\n", bin,
			WTERMSIG(status));
	else if (WEXITSTATUS(status) != 127)
		fprintf(stderr, "vpnctl: %s -c %s %s failed (exit status %d)\n",
			bin, profile, ifname, WEXITSTATUS(status));
	return CTL_EXIT_FAILED;
}

/* An absolute path, as vpnd may change its directory. */
static const char *profile_path(const char *profile, char *buf)
{
	if (profile[0] != '/' && realpath(profile, buf))
		return buf;
	return profile;
}

int ctl_connect_or_start(struct ctl_conn *c, const char *ifname,
			 const char *profile)
{
	char abs[PATH_MAX];
	int ret;

	ret = ctl_connect(c, ifname);
	if (ret && ctl_not_running(ret) && geteuid() != 0) {
		/* Starting vpnd chooses its profile: root's decision. */
		fprintf(stderr, "vpnctl: vpnd is not running on %s, and only "
				"root may start it with a profile ('sudo vpnctl "
				"up', or the vpnd-client service); members of "
				"the group vpnd use it once it runs\n",
			ifname);
		return CTL_EXIT_UNREACHABLE;
	}
	if (ret && ctl_not_running(ret)) {
		ret = vpnd_start(profile_path(profile ? profile :
					      CTL_PROFILE_DEFAULT, abs),
				 ifname);
		if (ret)
			return ret;
		ret = ctl_connect(c, ifname);
		if (ret)
			fprintf(stderr, "vpnctl: vpnd started, but its control "
					"socket does not answer\n");
	} else if (!ret && profile) {
		fprintf(stderr, "vpnctl: vpnd already runs on %s with its "
				"profile: -c %s is ignored ('vpnctl down' "
				"first to change profiles, which needs root)\n",
			ifname, profile);
	}
	if (ret)
		return ctl_report_connect(c, ret);
	return CTL_EXIT_OK;
}
