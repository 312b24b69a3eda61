/* SPDX-License-Identifier: MIT */
/*
 * vpnd's command line, as wireguard-go's: `vpnd [-f] IFNAME` creates the
 * TUN interface and the UAPI socket, and unless told to stay in the
 * foreground, returns to its caller only once both are ready (exit 0), or
 * with a message saying why not (exit 1).
 *
 * Under systemd (a Type=notify unit, with -f) it says READY=1 once it
 * serves, and for `--up` once the first handshake or the bounded wait for
 * it is over; see notify.h.
 *
 * Before any key exists the process makes itself undumpable and locks its
 * memory, so that no secret reaches a core file or swap.
 */
#include <errno.h>
#include <linux/capability.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <ev.h>

#include <vpn/version.h>

#include "confsrc.h"
#include "control.h"
#include "crypto.h"
#include "device.h"
#include "notify.h"
#include "rundir.h"
#include "server.h"
#include "uapisock.h"

#define DEFAULT_ROLE_IFNAME "vpnd0"

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"Usage: %s [-f/--foreground] INTERFACE-NAME\n"
		"       %s [-f] [--client] [--up] -c CLIENT-OR-SERVER-CONF [INTERFACE-NAME]\n"
		"       %s --killswitch-boot\n"
		"       %s --version | --help\n\n"
		"Creates the TUN interface INTERFACE-NAME and serves the WireGuard\n"
		"userspace API on /var/run/wireguard/INTERFACE-NAME.sock, for wg(8)\n"
		"and wg-quick(8).  Without -f (or WG_PROCESS_FOREGROUND=1) it\n"
		"returns once the interface is ready and goes on in the background.\n\n"
		"Environment: LOG_LEVEL=error|verbose|silent, VPND_LOG_SENSITIVE=1\n"
		"to put keys and addresses in log lines (the server role reads\n"
		"log_sensitive from its config instead).\n\n"
		"With -c, vpnd runs the client role (a profile with dns and a\n"
		"server list; vpnctl talks to it) or the server role (a config\n"
		"with [peer NAME] sections), on INTERFACE-NAME (default "
		DEFAULT_ROLE_IFNAME ").  --client refuses anything but a\n"
		"client profile, as vpnctl asks.  --up connects a client to the\n"
		"profile's server at start, as `vpnctl up` would.  A server config\n"
		"may also be read from standard input (-c -) or from a systemd\n"
		"credential (-c cred:NAME, the file NAME in $CREDENTIALS_DIRECTORY).\n\n"
		"Under systemd (Type=notify, with -f) vpnd reports READY=1 once\n"
		"it serves (with --up: after the first handshake, or after\n"
		"VPND_UP_TIMEOUT seconds without one), STATUS= lines, STOPPING=1,\n"
		"and pings the watchdog when WatchdogSec= asks for it.\n\n"
		"--killswitch-boot, for the boot unit: blocks every packet\n"
		"outside a tunnel when the kill switch's state file asks for it\n"
		"(lockdown, a connection that was wanted, or a missing or corrupt\n"
		"file), then exits.  VPND_STATEDIR (default /var/lib/vpnd) is\n"
		"where that file is.\n",
		prog, prog, prog, prog);
}

/* Returns -errno when memory cannot be locked, 0 when all is done. */
/* CAP_IPC_LOCK in our effective set: locked memory without a limit. */
static bool can_lock_unlimited(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2] = { { 0 } };

	if (syscall(SYS_capget, &hdr, data))
		return false;
	return data[CAP_IPC_LOCK / 32].effective & (1U << (CAP_IPC_LOCK % 32));
}

static int harden(void)
{
	struct rlimit none = { 0, 0 }, lock;

	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	setrlimit(RLIMIT_CORE, &none);
	/*
	 * MCL_FUTURE counts every later allocation against RLIMIT_MEMLOCK:
	 * under a finite limit (8 MiB by default) the daemon would lock
	 * fine at start and then fail to allocate once it grows (a TUN
	 * queue, a peer table).  Lock only what can stay locked.
	 */
	if (!can_lock_unlimited()) {
		if (getrlimit(RLIMIT_MEMLOCK, &lock))
			return -errno;
		if (lock.rlim_cur != RLIM_INFINITY) {
			lock.rlim_cur = lock.rlim_max;
			if (lock.rlim_max != RLIM_INFINITY ||
			    setrlimit(RLIMIT_MEMLOCK, &lock))
				return -ENOMEM;
		}
	}
	/* On fault, so locking does not fault in every mapping at once. */
	if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT))
		return -errno;
	return 0;
}

static const char *tun_error(int err)
{
	switch (err) {
	case -ENOENT:
	case -ENODEV:
		return "no /dev/net/tun (is the tun module available?)";
	case -EPERM:
	case -EACCES:
		return "permission denied (needs CAP_NET_ADMIN)";
	case -EBUSY:
	case -EEXIST:
	case -EINVAL:
		return "the name is taken by another interface";
	case -ENAMETOOLONG:
		return "the name is too long (at most 15 characters)";
	default:
		return strerror(-err);
	}
}

/* Tells a waiting parent how start-up went: one byte, 0 for ready. */
static void report(int fd, int status)
{
	unsigned char b = (unsigned char)status;

	if (fd < 0)
		return;
	if (write(fd, &b, 1) < 0)
		fprintf(stderr, "vpnd: cannot report to the parent: %s\n",
			strerror(errno));
	close(fd);
}

/* Returns in the child (with the write end of the status pipe); the
 * parent exits here with the child's status. */
static int daemonize(void)
{
	int fds[2];
	unsigned char b = 1;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC)) {
		perror("vpnd: pipe");
		exit(1);
	}
	pid = fork();
	if (pid < 0) {
		perror("vpnd: fork");
		exit(1);
	}
	if (pid > 0) {
		close(fds[1]);
		if (read(fds[0], &b, 1) != 1)
			b = 1;
		exit(b ? 1 : 0);
	}
	close(fds[0]);
	setsid();
	return fds[1];
}

static void detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

/*
 * Started with standard descriptors closed, our own descriptors would take
 * their numbers and later be clobbered by detach_stdio(): fill them first.
 */
static void ensure_stdio(void)
{
	int fd;

	do {
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	} while (fd >= 0 && fd <= STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

enum role {
	ROLE_UNKNOWN,
	ROLE_ENGINE,
	ROLE_CLIENT,
	ROLE_SERVER,
};

/*
 * Which role a config file asks for: a server config has [peer NAME]
 * sections or server-only keys; anything else readable is a client
 * profile, whose own loader then says precisely what is wrong with it.
 */
static enum role role_of(const char *path)
{
	FILE *f = fopen(path, "re");
	char line[1024];
	enum role r = ROLE_CLIENT;

	if (!f)
		return ROLE_UNKNOWN;
	while (fgets(line, sizeof(line), f)) {
		char *p = line;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!strncasecmp(p, "[peer", 5) ||
		    !strncasecmp(p, "listen_port", 11) ||
		    !strncasecmp(p, "private_key_file", 16) ||
		    !strncasecmp(p, "nat", 3)) {
			r = ROLE_SERVER;
			break;
		}
	}
	explicit_bzero(line, sizeof(line));
	fclose(f);
	return r;
}

/* READY=1 for what serves once the sockets are open; a client started
 * with --up says it when the first handshake, or the wait, is over. */
static void notify_started(const struct device *dev,
			   const struct client *client,
			   const struct server *server, bool want_up)
{
	if (server)
		notify_ready("server on %s, UDP port %u", dev->ifname,
			     (unsigned int)dev->listen_port);
	else if (client && !want_up)
		notify_ready("disconnected; vpnctl up connects %s",
			     dev->ifname);
	else if (!client)
		notify_ready("engine on %s; wg(8) configures it", dev->ifname);
}

/*
 * Resolves -c's argument (a path, "-" or "cred:NAME", confsrc.c) and
 * chooses the role from what it holds.  Returns ROLE_UNKNOWN after saying
 * why on stderr.
 */
static enum role role_choose(const char *prog, const char *arg,
			     bool want_client, struct confsrc *src)
{
	char err[CONF_ERR_LEN];
	enum role role;

	if (confsrc_open(src, arg, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return ROLE_UNKNOWN;
	}
	role = role_of(src->path);
	if (role == ROLE_UNKNOWN) {
		fprintf(stderr, "%s: %s: cannot read it, or it is neither "
				"a client profile nor a server config\n",
			prog, src->path);
		return ROLE_UNKNOWN;
	}
	if (role == ROLE_SERVER && want_client) {
		fprintf(stderr, "%s: %s: a server config (it has [peer] "
				"sections or server keys), not a client "
				"profile\n",
			prog, src->path);
		return ROLE_UNKNOWN;
	}
	/* vpnctl reads the profile too: it must stay a file. */
	if (role == ROLE_CLIENT && strcmp(src->path, arg)) {
		fprintf(stderr, "%s: %s: a client profile must be a file "
				"(vpnctl reads it as well)\n",
			prog, arg);
		return ROLE_UNKNOWN;
	}
	return role;
}

static void role_stop(struct client *client, struct server *server)
{
	if (client)
		client_stop(client);
	if (server) {
		server_stop(server);
		free(server);
	}
}

int main(int argc, char **argv)
{
	const char *prog = argv[0], *ifname = NULL, *env, *conf = NULL;
	bool foreground = false, want_client = false, want_up = false;
	enum role role = ROLE_ENGINE;
	struct client *client = NULL;
	struct server *server = NULL;
	struct device *dev;
	struct ev_loop *loop;
	struct confsrc src = { .map = NULL };
	char err[RUNDIR_ERR_LEN];
	ev_timer watchdog_w;
	int status_fd = -1, lock_err, ret, i;

	ensure_stdio();
	if (argc == 2 && !strcmp(argv[1], "--killswitch-boot"))
		return client_killswitch_boot() ? 1 : 0;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-v")) {
			printf("vpnd v%s\n", VPN_VERSION);
			return 0;
		}
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout, prog);
			return 0;
		}
		if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--foreground"))
			foreground = true;
		else if (!strcmp(argv[i], "-c") && i + 1 < argc && !conf)
			conf = argv[++i];
		else if (!strcmp(argv[i], "--client"))
			want_client = true;
		else if (!strcmp(argv[i], "--up"))
			want_up = true;
		else if (argv[i][0] == '-' || ifname) {
			usage(stderr, prog);
			return 1;
		} else {
			ifname = argv[i];
		}
	}
	if (conf) {
		if (!ifname)
			ifname = DEFAULT_ROLE_IFNAME;
	} else if (want_client || want_up) {
		usage(stderr, prog);
		return 1;
	}
	if (!ifname) {
		usage(stderr, prog);
		return 1;
	}
	env = getenv("WG_PROCESS_FOREGROUND");
	if (env && !strcmp(env, "1"))
		foreground = true;

	signal(SIGPIPE, SIG_IGN);
	/* A daemon that forks is not the process its unit watches: the
	 * parent's exit status is its readiness. */
	if (!foreground) {
		unsetenv("NOTIFY_SOCKET");
		status_fd = daemonize();
	}
	/* After the fork: memory locks are not inherited by a child. */
	lock_err = harden();
	if (wg_init()) {
		fprintf(stderr, "%s: cannot initialise libsodium\n", prog);
		report(status_fd, 1);
		return 1;
	}
	/* Standard input is read here, in the process that keeps it. */
	if (conf) {
		role = role_choose(prog, conf, want_client, &src);
		if (role == ROLE_SERVER && want_up)
			fprintf(stderr, "%s: %s: --up is for a client profile, "
					"and this is a server config\n",
				prog, conf);
		if (role == ROLE_UNKNOWN || (role == ROLE_SERVER && want_up)) {
			confsrc_close(&src);
			report(status_fd, 1);
			return 1;
		}
	}
	/*
	 * A server holds the keys of many users' sessions for as long as it
	 * runs: it does not run with memory that could be swapped out.
	 */
	if (lock_err && role == ROLE_SERVER) {
		fprintf(stderr, "%s: cannot lock memory (%s): the server role "
				"needs CAP_IPC_LOCK or an unlimited "
				"RLIMIT_MEMLOCK (LimitMEMLOCK=infinity), so that "
				"no key can be swapped out\n",
			prog, strerror(-lock_err));
		confsrc_close(&src);
		report(status_fd, 1);
		return 1;
	}
	if (lock_err)
		fprintf(stderr, "%s: warning: cannot lock memory (%s); keys "
				"could be swapped out\n",
			prog, strerror(-lock_err));

	/* A bad config file must change nothing: it is read first. */
	if (role == ROLE_CLIENT) {
		client = calloc(1, sizeof(*client));
		if (!client || client_load(client, src.path)) {
			role_stop(client, NULL);
			client_free(client);
			report(status_fd, 1);
			return 1;
		}
	} else if (role == ROLE_SERVER) {
		server = calloc(1, sizeof(*server));
		ret = !server || server_load(server, src.path);
		confsrc_close(&src);
		if (ret) {
			role_stop(NULL, server);
			report(status_fd, 1);
			return 1;
		}
	}

	dev = calloc(1, sizeof(*dev));
	loop = ev_default_loop(EVFLAG_AUTO);
	if (!dev || !loop) {
		fprintf(stderr, "%s: out of memory\n", prog);
		report(status_fd, 1);
		return 1;
	}
	ret = device_init(dev, loop, ifname);
	if (ret) {
		fprintf(stderr, "%s: cannot create interface %s: %s\n", prog,
			ifname, tun_error(ret));
		goto fail;
	}
	if (client && (ret = client_start(client, dev)))
		goto fail;
	if (server && (ret = server_start(server, dev)))
		goto fail;
	ret = uapisock_open(dev, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "%s: %s\n", prog, err);
		goto fail;
	}
	if (client && want_up && (ret = client_connect(client)))
		goto fail;
	log_msg(dev, LOG_LEVEL_VERBOSE, "device started");
	if (!foreground)
		detach_stdio();
	report(status_fd, 0);
	notify_started(dev, client, server, want_up);
	notify_watchdog_start(loop, &watchdog_w);
	ev_run(loop, 0);

	notify_stopping();
	log_msg(dev, LOG_LEVEL_VERBOSE, "shutting down");
	role_stop(client, server);
	uapisock_close(dev);
	device_destroy(dev);
	free(dev);
	client_free(client);
	ev_loop_destroy(loop);
	return 0;
fail:
	report(status_fd, 1);
	notify_stopping();
	role_stop(client, server);
	uapisock_close(dev);
	device_destroy(dev);
	free(dev);
	client_free(client);
	return 1;
}
