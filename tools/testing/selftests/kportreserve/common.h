/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kportreserve selftests: helpers shared by the tests.
 *
 * The policy file, the helper programs next to the test binary, temporary
 * directories, credentials (dropping a capability, becoming an unprivileged
 * user), child processes and sockets.
 */

#ifndef KPR_COMMON_H
#define KPR_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest.h"

/* include/uapi/linux/prctl.h of a kernel with kportreserve. */
#ifndef PR_SET_NETWORK
#define PR_SET_NETWORK 82
#endif
#ifndef PR_GET_NETWORK
#define PR_GET_NETWORK 83
#endif
#ifndef PR_NETWORK_OFF
#define PR_NETWORK_OFF 1
#endif

#ifndef PR_SET_MM
#define PR_SET_MM 35
#endif
#ifndef PR_SET_MM_EXE_FILE
#define PR_SET_MM_EXE_FILE 13
#endif

#ifndef CAP_MAC_ADMIN
#define CAP_MAC_ADMIN 33
#endif

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

#define KPR_SECURITYFS "/sys/kernel/security"
#define KPR_POLICY KPR_SECURITYFS "/kportreserve/policy"
#define KPR_PORT_RANGE "/proc/sys/net/ipv4/ip_local_port_range"

/* The unprivileged user that the tests switch to. */
#define KPR_UID 1000
#define KPR_GID 1000
/* For run_as() and friends: keep the credentials of the test. */
#define KPR_SAME_UID ((uid_t)-1)

/* Exit codes of test children that failed before doing their job. */
#define KPR_EXIT_SETUP 200	/* could not set up (uid, pipes...) */
#define KPR_EXIT_EXEC 201	/* execve() failed */
#define KPR_EXIT_SKIP 202	/* a precondition is missing: skip */

/* Flags for bind_new(). */
#define KPR_REUSEADDR 0x1
#define KPR_REUSEPORT 0x2

/* Writes all of @buf; returns 0 or -errno. */
static inline int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= n;
	}
	return 0;
}

/*
 * Writes @text to the policy file in one transaction (one open file).
 * Returns 0, or -errno of the open() or of the first write() that failed.
 */
static inline int write_policy(const char *text)
{
	int fd, ret;

	fd = open(KPR_POLICY, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = write_all(fd, text, strlen(text));
	if (close(fd) && !ret)
		ret = -errno;
	return ret;
}

/* write_policy() of a formatted text. */
static inline __printf(1, 2) int policy_printf(const char *fmt, ...)
{
	char *text;
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (ret < 0)
		return -ENOMEM;
	ret = write_policy(text);
	free(text);
	return ret;
}

/* Reads a whole file; returns a NUL-terminated malloc()ed copy, or NULL. */
static inline char *read_file(const char *path)
{
	size_t size = 4096, len = 0;
	char *buf, *bigger;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	buf = malloc(size);
	if (!buf)
		goto fail;
	for (;;) {
		ssize_t n;

		if (len + 1 >= size) {
			size *= 2;
			bigger = realloc(buf, size);
			if (!bigger)
				goto fail;
			buf = bigger;
		}
		n = read(fd, buf + len, size - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0)
			break;
		len += n;
	}
	buf[len] = '\0';
	close(fd);
	return buf;

fail:
	err = errno;
	free(buf);
	close(fd);
	errno = err;
	return NULL;
}

/* The policy as read back (malloc()ed), or NULL with errno set. */
static inline char *read_policy(void)
{
	return read_file(KPR_POLICY);
}

/*
 * Makes sure that the policy file is there, mounting securityfs if needed.
 * Returns 0 or -errno (-ENOENT: kportreserve is not built in or not enabled).
 */
static inline int ensure_policy(void)
{
	if (access(KPR_POLICY, F_OK) == 0)
		return 0;
	/* securityfs always has "lsm": if it is there, so is securityfs. */
	if (access(KPR_SECURITYFS "/lsm", F_OK) == 0 ||
	    mount("securityfs", KPR_SECURITYFS, "securityfs", 0, NULL))
		return -ENOENT;
	return access(KPR_POLICY, F_OK) ? -errno : 0;
}

/* True if the policy was locked (a "lock" line is read back). */
static inline bool policy_locked(void)
{
	char *p = read_policy();
	bool locked;

	if (!p)
		return false;
	locked = !strncmp(p, "lock\n", 5) || strstr(p, "\nlock\n");
	free(p);
	return locked;
}

/*
 * Fixture set-up shared by the policy tests: skips without kportreserve or
 * with a locked policy, else starts from an empty policy. False if skipped.
 */
static inline bool policy_ready(struct __test_metadata *const _metadata)
{
	int err = ensure_policy();

	if (err)
		SKIP(return false, "%s: %s (kportreserve not enabled?)",
		     KPR_POLICY, strerror(-err));
	if (policy_locked())
		SKIP(return false, "the policy is locked until reboot");
	EXPECT_EQ(0, write_policy("clear\n"));
	return true;
}

/*
 * Puts in @buf the path of the program @name that sits next to the running
 * test binary; returns 0 or -errno (-ENOENT if it was not built).
 */
static inline int sibling_path(const char *name, char *buf, size_t size)
{
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return -errno;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return -EINVAL;
	*slash = '\0';
	if ((size_t)snprintf(buf, size, "%s/%s", self, name) >= size)
		return -ENAMETOOLONG;
	return access(buf, X_OK) ? -errno : 0;
}

/* Copies @src to the new file @dst, with @mode; returns 0 or -errno. */
static inline int copy_file(const char *src, const char *dst, mode_t mode)
{
	char buf[65536];
	int in, out, ret = 0;
	ssize_t n;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		ret = -errno;
		close(in);
		return ret;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		ret = write_all(out, buf, n);
		if (ret)
			break;
	}
	if (n < 0 && !ret)
		ret = -errno;
	if (!ret && fchmod(out, mode))
		ret = -errno;
	/* Closed before anyone runs it, or execve() fails with ETXTBSY. */
	if (close(out) && !ret)
		ret = -errno;
	close(in);
	return ret;
}

/* Writes @text to the new file @path, with @mode; returns 0 or -errno. */
static inline int write_new_file(const char *path, const char *text,
				 mode_t mode)
{
	int fd, ret;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	ret = write_all(fd, text, strlen(text));
	if (!ret && fchmod(fd, mode))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	return ret;
}

/*
 * Creates a directory /tmp/kpr-XXXXXX that every user may search (the tests
 * run helper copies from it as an unprivileged user); returns 0 or -errno.
 */
static inline int make_tmpdir(char *buf, size_t size)
{
	if (mkdir("/tmp", 01777) && errno != EEXIST)
		return -errno;
	if ((size_t)snprintf(buf, size, "/tmp/kpr-XXXXXX") >= size)
		return -ENAMETOOLONG;
	if (!mkdtemp(buf))
		return -errno;
	return chmod(buf, 0755) ? -errno : 0;
}

static inline int remove_one(const char *path,
			     const struct stat *st __maybe_unused,
			     int type __maybe_unused,
			     struct FTW *ftw __maybe_unused)
{
	return remove(path);
}

/* Removes @dir and everything under it. */
static inline void remove_tree(const char *dir)
{
	if (dir[0])
		nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * Removes @cap from the effective, permitted and inheritable sets of the
 * calling thread; returns 0 or -errno.
 */
static inline int drop_cap(int cap)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2] = {};
	unsigned int i = cap / 32, bit = 1U << (cap % 32);

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	data[i].effective &= ~bit;
	data[i].permitted &= ~bit;
	data[i].inheritable &= ~bit;
	return syscall(SYS_capset, &hdr, data) ? -errno : 0;
}

/* Becomes @uid:@gid, without supplementary groups; returns 0 or -errno. */
static inline int become_user(uid_t uid, gid_t gid)
{
	if (setgroups(0, NULL))
		return -errno;
	if (setresgid(gid, gid, gid))
		return -errno;
	if (setresuid(uid, uid, uid))
		return -errno;
	return 0;
}

/* Sets network access off for the calling thread; returns 0 or -errno. */
static inline int set_network_off(void)
{
	return prctl(PR_SET_NETWORK, PR_NETWORK_OFF, 0, 0, 0) ? -errno : 0;
}

/*
 * The exit status of @pid: its exit code, 128 + the signal that killed it, or
 * -errno if it cannot be waited for.
 */
static inline int wait_exit(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -ECHILD;
}

/*
 * Runs @fn(@arg) in a child process, as @uid (KPR_UID's group) unless @uid is
 * KPR_SAME_UID; returns what @fn returned (0..255) as the exit code, or -errno.
 */
static inline int run_in_child(uid_t uid, int (*fn)(void *), void *arg)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (uid != KPR_SAME_UID && become_user(uid, KPR_GID))
			_exit(KPR_EXIT_SETUP);
		_exit(fn(arg) & 0xff);
	}
	return wait_exit(pid);
}

/* A child process with its stdin and stdout connected to the test. */
struct kpr_proc {
	pid_t pid;
	int in;		/* its stdin */
	int out;	/* its stdout */
};

/*
 * Starts @path with @argv as @uid (unless KPR_SAME_UID), with network access
 * off if @netoff; returns its pid or -errno.  @proc may be NULL: stdin and
 * stdout are then inherited.
 */
static inline int spawn(struct kpr_proc *proc, uid_t uid, bool netoff,
			const char *path, char *const argv[])
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 };
	pid_t pid;

	if (proc && (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)))
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (proc && (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0))
			_exit(KPR_EXIT_SETUP);
		/* Keep the TAP output clean. */
		if (!proc) {
			int null = open("/dev/null", O_WRONLY);

			if (null < 0 || dup2(null, 1) < 0)
				_exit(KPR_EXIT_SETUP);
		}
		if (uid != KPR_SAME_UID && become_user(uid, KPR_GID))
			_exit(KPR_EXIT_SETUP);
		if (netoff && set_network_off())
			_exit(KPR_EXIT_SETUP);
		execv(path, argv);
		fprintf(stderr, "# execv %s: %s\n", path, strerror(errno));
		_exit(KPR_EXIT_EXEC);
	}
	if (proc) {
		close(in[0]);
		close(out[1]);
		proc->pid = pid;
		proc->in = in[1];
		proc->out = out[0];
	}
	return pid;
}

/*
 * Reads one line of the output of @proc into @buf, without its newline.
 * Returns its length, or -1 at end of file (the process ended).
 */
static inline int proc_read_line(struct kpr_proc *proc, char *buf, size_t size)
{
	size_t len = 0;

	while (len + 1 < size) {
		ssize_t n = read(proc->out, buf + len, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		if (buf[len] == '\n')
			break;
		len++;
	}
	buf[len] = '\0';
	return len;
}

/* Closes the stdin of @proc and waits for it; returns wait_exit(). */
static inline int proc_finish(struct kpr_proc *proc)
{
	int ret;

	close(proc->in);
	ret = wait_exit(proc->pid);
	close(proc->out);
	return ret;
}

/* Runs @path with @argv as @uid and waits for it; returns wait_exit(). */
static inline int run_as(uid_t uid, const char *path, char *const argv[])
{
	pid_t pid = spawn(NULL, uid, false, path, argv);

	return pid < 0 ? pid : wait_exit(pid);
}

/*
 * Finds kpr_bind next to the test (@kpr_bind, PATH_MAX bytes), makes a
 * temporary directory (@dir, 64 bytes) and a copy of kpr_bind in it (@copy,
 * PATH_MAX bytes) that no rule names.
 */
static inline void helper_setup(struct __test_metadata *const _metadata,
				char *kpr_bind, char *dir, char *copy)
{
	int err = sibling_path("kpr_bind", kpr_bind, PATH_MAX);

	ASSERT_EQ(0, err)
	{
		TH_LOG("kpr_bind next to the test: %s", strerror(-err));
	}
	ASSERT_EQ(0, make_tmpdir(dir, 64));
	snprintf(copy, PATH_MAX, "%s/kpr_bind", dir);
	ASSERT_EQ(0, copy_file(kpr_bind, copy, 0755));
}

/*
 * Runs @prog (kpr_bind, a copy, a link or a script) as @uid to bind
 * @addr:@port of @family and @type, with up to two options (NULL for none):
 * returns its exit code, 0 or the errno of the failure.
 */
static inline int run_bind(const char *prog, uid_t uid, const char *family,
			   const char *type, const char *addr,
			   unsigned short port, const char *opt1,
			   const char *opt2)
{
	char portstr[8];
	char *const argv[] = {
		(char *)prog, (char *)family, (char *)type, (char *)addr,
		portstr, (char *)opt1, (char *)opt2, NULL,
	};

	snprintf(portstr, sizeof(portstr), "%u", port);
	return run_as(uid, prog, argv);
}

/*
 * Runs @path with @argv as @uid, puts the first line of its output in @line;
 * returns wait_exit().
 */
static inline int run_output(uid_t uid, bool netoff, const char *path,
			     char *const argv[], char *line, size_t size)
{
	struct kpr_proc proc;
	int ret;

	ret = spawn(&proc, uid, netoff, path, argv);
	if (ret < 0)
		return ret;
	close(proc.in);
	proc.in = -1;
	if (proc_read_line(&proc, line, size) < 0)
		line[0] = '\0';
	return proc_finish(&proc);
}

/* Socket address helpers. */

struct kpr_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* Fills @out with @addr (numeric, of @family) and @port; 0 or -EINVAL. */
static inline int make_addr(int family, const char *addr, unsigned short port,
			    struct kpr_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1)
			return -EINVAL;
		out->len = sizeof(*sin);
		return 0;
	}
	if (family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1)
			return -EINVAL;
		out->len = sizeof(*sin6);
		return 0;
	}
	return -EINVAL;
}

/*
 * A new socket of @family and @type (SOCK_STREAM: TCP, SOCK_DGRAM: UDP);
 * IPv6 sockets are dual-stack.  Returns the descriptor or -errno.
 */
static inline int new_socket(int family, int type)
{
	int fd, zero = 0;

	fd = socket(family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero))) {
		zero = -errno;
		close(fd);
		return zero;
	}
	return fd;
}

/*
 * Binds a new socket to @addr and @port, with KPR_REUSE* @flags; returns the
 * socket, or -errno of the first call that failed.
 */
static inline int bind_new(int family, int type, const char *addr,
			   unsigned short port, int flags)
{
	struct kpr_addr a;
	int fd, one = 1, err;

	err = make_addr(family, addr, port, &a);
	if (err)
		return err;
	fd = new_socket(family, type);
	if (fd < 0)
		return fd;
	if ((flags & KPR_REUSEADDR) &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		goto fail;
	if ((flags & KPR_REUSEPORT) &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
		goto fail;
	if (bind(fd, (struct sockaddr *)&a.ss, a.len))
		goto fail;
	return fd;

fail:
	err = -errno;
	close(fd);
	return err;
}

/* bind_new() and close: returns 0 or the errno of the failure. */
static inline int bind_addr(int family, int type, const char *addr,
			    unsigned short port, int flags)
{
	int fd = bind_new(family, type, addr, port, flags);

	if (fd < 0)
		return -fd;
	close(fd);
	return 0;
}

/* Binds a new socket to the wildcard address and @port: 0 or errno. */
static inline int bind_port(int family, int type, unsigned short port)
{
	return bind_addr(family, type, family == AF_INET ? "0.0.0.0" : "::",
			 port, 0);
}

/* The local port of @fd (host order), or -errno. */
static inline int local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return -errno;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -EAFNOSUPPORT;
}

/* Closes @fd with a reset: no TIME_WAIT keeps its port. */
static inline void close_reset(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

/* Brings up "lo" in the current network namespace; returns 0 or -errno. */
static inline int set_lo_up(void)
{
	struct ifreq ifr = {};
	int fd, ret = 0;

	/* Any socket takes device ioctls; AF_UNIX works in every case. */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr)) {
		ret = -errno;
	} else if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr))
			ret = -errno;
	}
	close(fd);
	return ret;
}

/* Writes @text to the file @path (e.g. a sysctl); returns 0 or -errno. */
static inline int write_text(const char *path, const char *text)
{
	int fd, ret;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = write_all(fd, text, strlen(text));
	if (close(fd) && !ret)
		ret = -errno;
	return ret;
}

/* Sets the automatic port selection range of the current netns. */
static inline int set_port_range(unsigned int low, unsigned int high)
{
	char text[32];

	snprintf(text, sizeof(text), "%u %u\n", low, high);
	return write_text(KPR_PORT_RANGE, text);
}

#endif /* KPR_COMMON_H */
