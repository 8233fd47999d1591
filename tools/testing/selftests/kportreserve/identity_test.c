// SPDX-License-Identifier: GPL-2.0
/*
 * kportreserve: attacks on the identity of the program that owns a port.
 *
 * The identity of a task is decided when it calls execve(): the file that it
 * runs must then be the very file that a rule's path resolves to from the
 * root of the host (pid 1), not from the caller's root, working directory or
 * mount namespace.  Each test runs an attack, which must fail, and the real
 * owner, which must still get its port:
 *
 * - a mount namespace of an unprivileged user with a tmpfs or a bind mount
 *   over the directory of a rule's program, and a chroot holding a copy at
 *   the rule's path;
 * - an overlayfs file whose inode number is the owner's;
 * - the real owner started where the file system is not as pid 1 sees it: in
 *   a user namespace, a mount namespace or a chroot;
 * - an owner that starts traced, sharing its root and working directory
 *   (CLONE_FS) or under a seccomp filter with a listener, or that is traced,
 *   read or written by another program while it runs (it is exec'd like a
 *   setuid program: AT_SECURE=1, not dumpable, personality flags cleared);
 * - the socket types that bind TCP or UDP ports without being TCP or UDP
 *   sockets: SMC and the UDP transport of AF_RXRPC; raw sockets, whose port
 *   field is no port;
 * - a cgroup BPF program that rewrites the port of a bind().
 *
 * The programs are kpr_bind, built next to this test, and copies of it.
 * Ports 32100-32399.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stddef.h>
#include <sys/auxv.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/statfs.h>
#include <sys/uio.h>

#include "kselftest_harness.h"
#include "common.h"

/* After <netinet/in.h> (in common.h), which they then leave alone. */
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/rxrpc.h>
#include <linux/seccomp.h>

#ifndef AF_SMC
#define AF_SMC 43
#endif
#ifndef AF_RXRPC
#define AF_RXRPC 33
#endif
#ifndef IPPROTO_SMC
#define IPPROTO_SMC 256
#endif
/* The protocols of AF_SMC sockets (net/smc/smc.h). */
#define SMCPROTO_SMC 0
#define SMCPROTO_SMC6 1

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#ifndef __NR_pidfd_getfd
#define __NR_pidfd_getfd 438
#endif

/* Paths in the temporary directory. */
#define KPR_NAME_LEN 256

#define KPR_YAMA_SCOPE "/proc/sys/kernel/yama/ptrace_scope"
#define KPR_CGROUP_ROOT "/sys/fs/cgroup"

/* What every test of this file sets up, and what it must undo. */
struct env {
	char kpr_bind[PATH_MAX];	/* the helper next to this test */
	char dir[64];			/* a temporary directory */
	char copy[PATH_MAX];		/* dir/kpr_bind: no rule names it */
	char mounts[4][PATH_MAX];	/* mounted by the test, in order */
	int nr_mounts;
	char cgroup[PATH_MAX];		/* a cgroup created by the test */
	char yama[16];			/* the saved ptrace_scope */
};

static void env_setup(struct __test_metadata *const _metadata,
		      struct env *env)
{
	if (!policy_ready(_metadata))
		return;
	ASSERT_EQ(0, set_lo_up());
	helper_setup(_metadata, env->kpr_bind, env->dir, env->copy);
}

static void env_teardown(struct env *env)
{
	write_policy("clear\n");
	if (env->cgroup[0])
		rmdir(env->cgroup);
	while (env->nr_mounts > 0)
		umount2(env->mounts[--env->nr_mounts], MNT_DETACH);
	if (env->yama[0])
		write_text(KPR_YAMA_SCOPE, env->yama);
	remove_tree(env->dir);
}

/* mount(2) in the initial mount namespace, undone by the teardown. */
static int env_mount(struct env *env, const char *src, const char *target,
		     const char *type, const char *data)
{
	if (env->nr_mounts == ARRAY_SIZE(env->mounts))
		return -ENOSPC;
	if (mount(src, target, type, 0, data))
		return -errno;
	snprintf(env->mounts[env->nr_mounts++], PATH_MAX, "%s", target);
	return 0;
}

/* @dir/@name in @buf, of KPR_NAME_LEN bytes at least. */
static char *path_in(const struct env *env, const char *name, char *buf)
{
	snprintf(buf, KPR_NAME_LEN, "%s/%s", env->dir, name);
	return buf;
}

/* run_bind() to 127.0.0.1:@port over TCP. */
static int run_srv(const char *prog, uid_t uid, unsigned short port)
{
	return run_bind(prog, uid, "inet", "tcp", "127.0.0.1", port, NULL,
			NULL);
}

/*
 * Runs @prog to bind 127.0.0.1:@port over TCP from a process that may have
 * no /dev/null (a chroot): forks, executes and waits.  Its standard output
 * must already go elsewhere.  Returns wait_exit().
 */
static int exec_srv(const char *prog, unsigned short port)
{
	char portstr[8];
	char *const argv[] = {
		(char *)prog, "inet", "tcp", "127.0.0.1", portstr, NULL,
	};
	pid_t pid;

	snprintf(portstr, sizeof(portstr), "%u", port);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execv(prog, argv);
		_exit(KPR_EXIT_EXEC);
	}
	return wait_exit(pid);
}

/* Sends the standard output of this process to /dev/null. */
static int quiet_stdout(void)
{
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (dup2(fd, 1) < 0) {
		close(fd);
		return -errno;
	}
	close(fd);
	return 0;
}

/* Memory shared with the test children, for their results. */
static void *shared_mem(struct __test_metadata *const _metadata, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, p);
	return p;
}

/* Mount namespaces, chroot and overlayfs: the path that a rule names. */

FIXTURE(paths) {
	struct env env;
};

FIXTURE_SETUP(paths)
{
	env_setup(_metadata, &self->env);
}

FIXTURE_TEARDOWN_PARENT(paths)
{
	env_teardown(&self->env);
}

/*
 * Makes the calling process, of user KPR_UID, root of a new user namespace
 * with a private mount namespace.  Returns 0, KPR_EXIT_SKIP without user
 * namespaces, or KPR_EXIT_SETUP.
 */
static int enter_userns(void)
{
	/* Dumpable again after setresuid(), to own /proc/self/uid_map. */
	if (become_user(KPR_UID, KPR_GID) ||
	    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
		return KPR_EXIT_SETUP;
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS)) {
		fprintf(stderr, "# unshare(CLONE_NEWUSER): %s\n",
			strerror(errno));
		return KPR_EXIT_SKIP;
	}
	if (write_text("/proc/self/setgroups", "deny") ||
	    write_text("/proc/self/uid_map", "0 1000 1") ||
	    write_text("/proc/self/gid_map", "0 1000 1") ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		fprintf(stderr, "# user namespace set-up: %s\n",
			strerror(errno));
		return KPR_EXIT_SETUP;
	}
	return 0;
}

struct userns_req {
	const char *kpr_bind;
	const char *over;	/* the directory that gets mounted over */
	const char *from;	/* bind-mounted over it; NULL: a tmpfs */
	char prog[PATH_MAX];	/* over/srv, what the rule names */
	unsigned short port;
};

static int userns_fn(void *arg)
{
	const struct userns_req *r = arg;
	char src[PATH_MAX];
	int ret;

	ret = enter_userns();
	if (ret)
		return ret;
	if (r->from) {
		/* The copy is the user's own, in a directory of the user. */
		snprintf(src, sizeof(src), "%s/srv", r->from);
		if (copy_file(r->kpr_bind, src, 0755) ||
		    mount(r->from, r->over, NULL, MS_BIND, NULL))
			return KPR_EXIT_SETUP;
	} else if (mount("tmpfs", r->over, "tmpfs", 0, "mode=0755") ||
		   copy_file(r->kpr_bind, r->prog, 0755)) {
		return KPR_EXIT_SETUP;
	}
	if (quiet_stdout())
		return KPR_EXIT_SETUP;
	return exec_srv(r->prog, r->port);
}

/*
 * An unprivileged user mounts a tmpfs over the directory of a program that
 * is not installed, and runs a copy of kpr_bind at the rule's path there.
 */
TEST_F(paths, userns_tmpfs_over_rule_dir)
{
	struct userns_req *r = shared_mem(_metadata, sizeof(*r));
	char over[KPR_NAME_LEN];
	int ret;

	r->kpr_bind = self->env.kpr_bind;
	r->over = path_in(&self->env, "absent", over);
	r->port = 32100;
	snprintf(r->prog, sizeof(r->prog), "%s/srv", over);
	ASSERT_EQ(0, mkdir(over, 0755));
	ASSERT_EQ(0, policy_printf("%u %s\n", r->port, r->prog));

	ret = run_in_child(KPR_SAME_UID, userns_fn, r);
	if (ret == KPR_EXIT_SKIP)
		SKIP(return, "no user namespaces");
	EXPECT_EQ(EACCES, ret);

	/* The real program, once installed, gets the port. */
	ASSERT_EQ(0, copy_file(self->env.kpr_bind, r->prog, 0755));
	EXPECT_EQ(0, run_srv(r->prog, KPR_SAME_UID, r->port));
	EXPECT_EQ(0, run_srv(r->prog, KPR_UID, r->port));
	EXPECT_EQ(EACCES, run_srv(self->env.copy, KPR_SAME_UID, r->port));
}

/*
 * An unprivileged user bind-mounts a directory of its own, with a copy of
 * kpr_bind, over the directory of an installed owner.
 */
TEST_F(paths, userns_bind_mount_over_owner_dir)
{
	struct userns_req *r = shared_mem(_metadata, sizeof(*r));
	char over[KPR_NAME_LEN], from[KPR_NAME_LEN];
	int ret;

	r->kpr_bind = self->env.kpr_bind;
	r->over = path_in(&self->env, "installed", over);
	r->from = path_in(&self->env, "mine", from);
	r->port = 32110;
	snprintf(r->prog, sizeof(r->prog), "%s/srv", over);
	ASSERT_EQ(0, mkdir(over, 0755));
	ASSERT_EQ(0, mkdir(from, 0755));
	ASSERT_EQ(0, chown(from, KPR_UID, KPR_GID));
	ASSERT_EQ(0, copy_file(self->env.kpr_bind, r->prog, 0755));
	ASSERT_EQ(0, policy_printf("%u %s\n", r->port, r->prog));

	ret = run_in_child(KPR_SAME_UID, userns_fn, r);
	if (ret == KPR_EXIT_SKIP)
		SKIP(return, "no user namespaces");
	EXPECT_EQ(EACCES, ret);

	/* The owner, run normally, gets the port. */
	EXPECT_EQ(0, run_srv(r->prog, KPR_SAME_UID, r->port));
	EXPECT_EQ(0, run_srv(r->prog, KPR_UID, r->port));
}

struct chroot_req {
	char root[KPR_NAME_LEN];	/* the new root */
	const char *prog;	/* the rule's path, also inside the chroot */
	unsigned short port;
};

static int chroot_fn(void *arg)
{
	const struct chroot_req *r = arg;

	if (quiet_stdout() || chroot(r->root) || chdir("/"))
		return KPR_EXIT_SETUP;
	return exec_srv(r->prog, r->port);
}

/* Root in a chroot that holds a copy of kpr_bind at the rule's path. */
TEST_F(paths, chroot_copy_at_rule_path)
{
	struct chroot_req *r = shared_mem(_metadata, sizeof(*r));
	char srv[KPR_NAME_LEN], fake[PATH_MAX];

	r->prog = path_in(&self->env, "srv", srv);
	r->port = 32120;
	ASSERT_EQ(0, copy_file(self->env.kpr_bind, srv, 0755));
	/* root/tmp/kpr-XXXXXX/srv: the rule's path, seen from the chroot. */
	path_in(&self->env, "root", r->root);
	ASSERT_EQ(0, mkdir(r->root, 0755));
	snprintf(fake, sizeof(fake), "%s/tmp", r->root);
	ASSERT_EQ(0, mkdir(fake, 0755));
	snprintf(fake, sizeof(fake), "%s%s", r->root, self->env.dir);
	ASSERT_EQ(0, mkdir(fake, 0755));
	snprintf(fake, sizeof(fake), "%s%s", r->root, srv);
	ASSERT_EQ(0, copy_file(self->env.kpr_bind, fake, 0755));
	ASSERT_EQ(0, policy_printf("%u %s\n", r->port, srv));

	EXPECT_EQ(EACCES, run_in_child(KPR_SAME_UID, chroot_fn, r));
	/* The owner, outside the chroot, gets the port. */
	EXPECT_EQ(0, run_srv(srv, KPR_SAME_UID, r->port));
}

/* Writes the content of @src over the existing file @dst, mode 0755. */
static int fill_file(const char *src, const char *dst)
{
	char buf[65536];
	int in, out, ret = 0;
	ssize_t n;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	out = open(dst, O_WRONLY | O_TRUNC | O_CLOEXEC);
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
	if (!ret && fchmod(out, 0755))
		ret = -errno;
	if (close(out) && !ret)
		ret = -errno;
	close(in);
	return ret;
}

/* How many files the overlay test creates to find an inode number. */
#define OVL_TRIES 1000
/* Files in the lower layer before the owner: its inode number is higher. */
#define OVL_LOWER_FILES 20

/*
 * Without xino, overlayfs shows the inode numbers of its layers as they are:
 * with the lower and the upper layer on two file systems, a new file in the
 * merged directory can get the inode number of the owner in the lower layer.
 */
TEST_F(paths, overlay_inode_number_collision)
{
	const unsigned short port = 32130;
	char lower[KPR_NAME_LEN], upper[KPR_NAME_LEN], merged[KPR_NAME_LEN];
	char srv[PATH_MAX], path[PATH_MAX], opts[PATH_MAX];
	struct stat owner, st;
	int i, fd, err;

	path_in(&self->env, "lower", lower);
	path_in(&self->env, "upper", upper);
	path_in(&self->env, "merged", merged);
	ASSERT_EQ(0, mkdir(lower, 0755));
	ASSERT_EQ(0, mkdir(upper, 0755));
	ASSERT_EQ(0, mkdir(merged, 0755));
	ASSERT_EQ(0, env_mount(&self->env, "tmpfs", lower, "tmpfs",
			       "mode=0755"));
	ASSERT_EQ(0, env_mount(&self->env, "tmpfs", upper, "tmpfs",
			       "mode=0755"));
	for (i = 0; i < OVL_LOWER_FILES; i++) {
		snprintf(path, sizeof(path), "%s/f%d", lower, i);
		ASSERT_EQ(0, write_new_file(path, "", 0644));
	}
	snprintf(path, sizeof(path), "%s/srv", lower);
	ASSERT_EQ(0, copy_file(self->env.kpr_bind, path, 0755));
	snprintf(path, sizeof(path), "%s/u", upper);
	ASSERT_EQ(0, mkdir(path, 0755));
	snprintf(path, sizeof(path), "%s/w", upper);
	ASSERT_EQ(0, mkdir(path, 0755));
	snprintf(opts, sizeof(opts),
		 "lowerdir=%s,upperdir=%s/u,workdir=%s/w,xino=off", lower,
		 upper, upper);
	err = env_mount(&self->env, "overlay", merged, "overlay", opts);
	if (err == -ENODEV)
		SKIP(return, "no overlayfs");
	ASSERT_EQ(0, err)
	{
		TH_LOG("mount overlay %s: %s", opts, strerror(-err));
	}

	snprintf(srv, sizeof(srv), "%s/srv", merged);
	ASSERT_EQ(0, stat(srv, &owner));
	ASSERT_EQ(0, policy_printf("%u %s\n", port, srv));
	EXPECT_EQ(0, run_srv(srv, KPR_SAME_UID, port));

	/* New files go to the upper layer, with its inode numbers. */
	for (i = 0; i < OVL_TRIES; i++) {
		snprintf(path, sizeof(path), "%s/c%d", merged, i);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, fstat(fd, &st));
		close(fd);
		if (st.st_ino == owner.st_ino)
			break;
	}
	if (i == OVL_TRIES)
		SKIP(return, "no file of %d got inode number %lu", OVL_TRIES,
		     (unsigned long)owner.st_ino);
	TH_LOG("%s: inode %lu, device %lx; %s: device %lx", path,
	       (unsigned long)st.st_ino, (unsigned long)st.st_dev, srv,
	       (unsigned long)owner.st_dev);
	ASSERT_EQ(0, fill_file(self->env.kpr_bind, path));

	EXPECT_EQ(EACCES, run_srv(path, KPR_SAME_UID, port));
	EXPECT_EQ(EACCES, run_srv(path, KPR_UID, port));
	/* The owner, through the merged directory, gets the port. */
	EXPECT_EQ(0, run_srv(srv, KPR_SAME_UID, port));
	EXPECT_EQ(0, run_srv(srv, KPR_UID, port));
}

/* The file system as pid 1 sees it: namespaces and chroot. */

FIXTURE(host_view) {
	struct env env;
};

/* Where the owner is started from. */
enum view_how {
	VIEW_USERNS,	/* after unshare(CLONE_NEWUSER) only */
	VIEW_MNTNS,	/* after unshare(CLONE_NEWNS) */
	VIEW_CHROOT,	/* in a chroot */
};

FIXTURE_VARIANT(host_view) {
	enum view_how how;
	bool by_fd;	/* execveat() of a descriptor opened before, else by path */
	uid_t uid;	/* who starts the owner */
	unsigned short port;
};

/* clang-format off */
FIXTURE_VARIANT_ADD(host_view, userns_path_user) {
	/* clang-format on */
	.how = VIEW_USERNS, .by_fd = false, .uid = KPR_UID, .port = 32300,
};

/* clang-format off */
FIXTURE_VARIANT_ADD(host_view, userns_fd_user) {
	/* clang-format on */
	.how = VIEW_USERNS, .by_fd = true, .uid = KPR_UID, .port = 32301,
};

/* clang-format off */
FIXTURE_VARIANT_ADD(host_view, userns_path_root) {
	/* clang-format on */
	.how = VIEW_USERNS, .by_fd = false, .uid = KPR_SAME_UID, .port = 32302,
};

/* clang-format off */
FIXTURE_VARIANT_ADD(host_view, mntns_path_root) {
	/* clang-format on */
	.how = VIEW_MNTNS, .by_fd = false, .uid = KPR_SAME_UID, .port = 32303,
};

/* clang-format off */
FIXTURE_VARIANT_ADD(host_view, mntns_fd_root) {
	/* clang-format on */
	.how = VIEW_MNTNS, .by_fd = true, .uid = KPR_SAME_UID, .port = 32304,
};

/* clang-format off */
FIXTURE_VARIANT_ADD(host_view, chroot_path_root) {
	/* clang-format on */
	.how = VIEW_CHROOT, .by_fd = false, .uid = KPR_SAME_UID, .port = 32305,
};

/* clang-format off */
FIXTURE_VARIANT_ADD(host_view, chroot_fd_root) {
	/* clang-format on */
	.how = VIEW_CHROOT, .by_fd = true, .uid = KPR_SAME_UID, .port = 32306,
};

FIXTURE_SETUP(host_view)
{
	env_setup(_metadata, &self->env);
}

FIXTURE_TEARDOWN_PARENT(host_view)
{
	env_teardown(&self->env);
}

/*
 * Runs @prog, or the file open as @fd if @prog is NULL, to bind
 * 127.0.0.1:@port over TCP: forks, executes and waits.  Its standard output
 * must already go elsewhere.  Returns wait_exit().
 */
static int exec_owner(const char *prog, int fd, unsigned short port)
{
	char portstr[8];
	char *const argv[] = {
		"kpr_bind", "inet", "tcp", "127.0.0.1", portstr, NULL,
	};
	pid_t pid;

	snprintf(portstr, sizeof(portstr), "%u", port);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (prog)
			execv(prog, argv);
		else
			syscall(__NR_execveat, fd, "", argv, environ,
				AT_EMPTY_PATH);
		_exit(KPR_EXIT_EXEC);
	}
	return wait_exit(pid);
}

struct view_req {
	const char *prog;	/* the owner, as the host sees it */
	const char *root;	/* the chroot */
	const char *inner;	/* the owner, as the chroot sees it */
	enum view_how how;
	bool by_fd;
	bool enter;		/* false: started the same way, on the host */
	unsigned short port;
};

static int view_fn(void *arg)
{
	const struct view_req *r = arg;
	const char *prog = r->prog;
	int fd = -1;

	if (quiet_stdout())
		return KPR_EXIT_SETUP;
	if (r->by_fd) {
		/* The very file, opened on the host. */
		fd = open(r->prog, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return KPR_EXIT_SETUP;
		prog = NULL;
	}
	if (!r->enter)
		return exec_owner(prog, fd, r->port);
	switch (r->how) {
	case VIEW_USERNS:
		if (unshare(CLONE_NEWUSER)) {
			fprintf(stderr, "# unshare(CLONE_NEWUSER): %s\n",
				strerror(errno));
			return KPR_EXIT_SKIP;
		}
		break;
	case VIEW_MNTNS:
		if (unshare(CLONE_NEWNS))
			return KPR_EXIT_SETUP;
		break;
	case VIEW_CHROOT:
		if (chroot(r->root) || chdir("/"))
			return KPR_EXIT_SETUP;
		if (prog)
			prog = r->inner;
		break;
	}
	return exec_owner(prog, fd, r->port);
}

/*
 * The real owner, not a copy, started in a user namespace (without a mount
 * namespace), in a mount namespace, or in a chroot, by its path or by a
 * descriptor opened before: the files that its exec loads besides it (ELF
 * interpreter, libraries) would be the caller's.  It gets no port there, and
 * gets it when started the same way on the host.
 */
TEST_F(host_view, exec_owner)
{
	struct view_req r = {
		.how = variant->how,
		.by_fd = variant->by_fd,
		.port = variant->port,
	};
	char srv[KPR_NAME_LEN], root[KPR_NAME_LEN];
	int ret;

	r.prog = path_in(&self->env, "srv", srv);
	ASSERT_EQ(0, copy_file(self->env.kpr_bind, srv, 0755));
	if (r.by_fd) {
		/* An empty chroot: the owner cannot be reached by a path. */
		r.root = path_in(&self->env, "empty", root);
		ASSERT_EQ(0, mkdir(root, 0755));
	} else {
		/* The owner is /srv in the chroot. */
		r.root = self->env.dir;
		r.inner = "/srv";
	}
	ASSERT_EQ(0, policy_printf("%u %s\n", r.port, srv));

	/* Control: the same start on the host. */
	EXPECT_EQ(0, run_in_child(variant->uid, view_fn, &r));

	r.enter = true;
	ret = run_in_child(variant->uid, view_fn, &r);
	if (ret == KPR_EXIT_SKIP)
		SKIP(return, "no user namespaces");
	EXPECT_EQ(EACCES, ret);

	/* Nothing was left behind. */
	r.enter = false;
	EXPECT_EQ(0, run_in_child(variant->uid, view_fn, &r));
	EXPECT_EQ(0, run_srv(srv, KPR_SAME_UID, r.port));
}

/* The owner of a port runs like a setuid program: no one may tamper. */

FIXTURE(tamper) {
	struct env env;
};

FIXTURE_SETUP(tamper)
{
	env_setup(_metadata, &self->env);
}

FIXTURE_TEARDOWN_PARENT(tamper)
{
	env_teardown(&self->env);
}

/* Runs @prog as @uid with the "secure" option: getauxval(AT_SECURE). */
static int secure_of(struct __test_metadata *const _metadata,
		     const char *prog, uid_t uid, unsigned short port)
{
	char portstr[8], line[32];
	char *const argv[] = {
		(char *)prog, "inet", "tcp", "127.0.0.1", portstr, "secure",
		NULL,
	};
	int ret;

	snprintf(portstr, sizeof(portstr), "%u", port);
	ret = run_output(uid, false, prog, argv, line, sizeof(line));
	EXPECT_EQ(0, ret)
	{
		TH_LOG("%s as uid %d: exit code %d", prog, (int)uid, ret);
	}
	if (strncmp(line, "secure=", 7))
		return -1;
	return atoi(line + 7);
}

/* A named owner is exec'd with AT_SECURE=1; other programs are not. */
TEST_F(tamper, at_secure)
{
	const unsigned short port = 32140;
	char srv[PATH_MAX];

	path_in(&self->env, "srv", srv);
	ASSERT_EQ(0, copy_file(self->env.kpr_bind, srv, 0755));
	ASSERT_EQ(0, policy_printf("%u %s\n", port, srv));

	EXPECT_EQ(1, secure_of(_metadata, srv, KPR_UID, port));
	EXPECT_EQ(1, secure_of(_metadata, srv, KPR_SAME_UID, port));
	/* The same binary, not named. */
	EXPECT_EQ(0, secure_of(_metadata, self->env.copy, KPR_UID, port + 1));
	EXPECT_EQ(0, secure_of(_metadata, self->env.copy, KPR_SAME_UID,
			       port + 1));
	/* Nor is this test, run by root. */
	EXPECT_EQ(0UL, getauxval(AT_SECURE));
}

struct traced_req {
	const char *prog;
	unsigned short port;
};

/* Runs the owner under ptrace, as a debugger does: it starts traced. */
static int traced_fn(void *arg)
{
	const struct traced_req *r = arg;
	char portstr[8];
	char *const argv[] = {
		(char *)r->prog, "inet", "tcp", "127.0.0.1", portstr, NULL,
	};
	int status, sig;
	pid_t pid;

	snprintf(portstr, sizeof(portstr), "%u", r->port);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return KPR_EXIT_SETUP;
	if (pid == 0) {
		if (quiet_stdout() || ptrace(PTRACE_TRACEME, 0, NULL, NULL))
			_exit(KPR_EXIT_SETUP);
		execv(r->prog, argv);
		_exit(KPR_EXIT_EXEC);
	}
	for (;;) {
		if (waitpid(pid, &status, 0) < 0)
			return KPR_EXIT_SETUP;
		if (WIFEXITED(status))
			return WEXITSTATUS(status);
		if (WIFSIGNALED(status))
			return 128 + WTERMSIG(status);
		/* The stop after execve() is a SIGTRAP: not passed on. */
		sig = WSTOPSIG(status) == SIGTRAP ? 0 : WSTOPSIG(status);
		if (ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig))
			return KPR_EXIT_SETUP;
	}
}

/* An owner exec'd under ptrace does not get its port. */
TEST_F(tamper, traced_owner)
{
	struct traced_req r = { .port = 32150 };
	char srv[PATH_MAX];

	r.prog = path_in(&self->env, "srv", srv);
	ASSERT_EQ(0, copy_file(self->env.kpr_bind, srv, 0755));
	ASSERT_EQ(0, policy_printf("%u %s\n", r.port, srv));

	EXPECT_EQ(EACCES, run_in_child(KPR_SAME_UID, traced_fn, &r));
	EXPECT_EQ(EACCES, run_in_child(KPR_UID, traced_fn, &r));
	/* The same without ptrace. */
	EXPECT_EQ(0, run_srv(srv, KPR_SAME_UID, r.port));
	EXPECT_EQ(0, run_srv(srv, KPR_UID, r.port));
}

/* Runs @prog as @uid with the "traceme" option: 0 or its errno. */
static int traceme_of(struct __test_metadata *const _metadata,
		      const char *prog, uid_t uid, unsigned short port)
{
	char portstr[8], line[32];
	char *const argv[] = {
		(char *)prog, "inet", "tcp", "127.0.0.1", portstr, "traceme",
		NULL,
	};
	int ret;

	snprintf(portstr, sizeof(portstr), "%u", port);
	ret = run_output(uid, false, prog, argv, line, sizeof(line));
	EXPECT_EQ(0, ret)
	{
		TH_LOG("%s: exit code %d", prog, ret);
	}
	if (strncmp(line, "traceme=", 8))
		return -1;
	return atoi(line + 8);
}

/* An owner may not make a program that owns nothing its tracer. */
TEST_F(tamper, owner_traceme)
{
	const unsigned short port = 32170;
	char srv[PATH_MAX];
	int err;

	path_in(&self->env, "srv", srv);
	ASSERT_EQ(0, copy_file(self->env.kpr_bind, srv, 0755));
	ASSERT_EQ(0, policy_printf("%u %s\n", port, srv));

	/* Control: a program that owns no port. */
	EXPECT_EQ(0, traceme_of(_metadata, self->env.copy, KPR_UID, port + 1));
	EXPECT_EQ(0, traceme_of(_metadata, self->env.copy, KPR_SAME_UID,
				port + 1));
	err = traceme_of(_metadata, srv, KPR_UID, port);
	EXPECT_TRUE(err == EPERM || err == EACCES)
	{
		TH_LOG("PTRACE_TRACEME by the owner: %s (%d)",
		       err ? strerror(err) : "not refused", err);
	}
	err = traceme_of(_metadata, srv, KPR_SAME_UID, port);
	EXPECT_TRUE(err == EPERM || err == EACCES)
	{
		TH_LOG("PTRACE_TRACEME by the owner: %s (%d)",
		       err ? strerror(err) : "not refused", err);
	}
}

struct shared_fs_req {
	const char *prog;
	unsigned short port;
	bool share;	/* CLONE_FS */
};

/* Runs the owner from a child that shares its fs_struct with this one. */
static int shared_fs_fn(void *arg)
{
	const struct shared_fs_req *r = arg;
	unsigned long flags = SIGCHLD | (r->share ? CLONE_FS : 0);
	char portstr[8];
	char *const argv[] = {
		(char *)r->prog, "inet", "tcp", "127.0.0.1", portstr, NULL,
	};
	pid_t pid;

	snprintf(portstr, sizeof(portstr), "%u", r->port);
	if (quiet_stdout())
		return KPR_EXIT_SETUP;
	fflush(NULL);
	/* Like fork(), with the root and working directory shared. */
	pid = syscall(SYS_clone, flags, NULL, NULL, NULL, 0);
	if (pid < 0)
		return KPR_EXIT_SETUP;
	if (pid == 0) {
		execv(r->prog, argv);
		_exit(KPR_EXIT_EXEC);
	}
	return wait_exit(pid);
}

/*
 * The root and working directory of an owner that shares them (CLONE_FS)
 * could be changed under it by another program: no port for it.
 */
TEST_F(tamper, shared_fs_owner)
{
	struct shared_fs_req r = { .port = 32180 };
	char srv[PATH_MAX];

	r.prog = path_in(&self->env, "srv", srv);
	ASSERT_EQ(0, copy_file(self->env.kpr_bind, srv, 0755));
	ASSERT_EQ(0, policy_printf("%u %s\n", r.port, srv));

	r.share = true;
	EXPECT_EQ(EACCES, run_in_child(KPR_SAME_UID, shared_fs_fn, &r));
	EXPECT_EQ(EACCES, run_in_child(KPR_UID, shared_fs_fn, &r));
	/* The same without CLONE_FS. */
	r.share = false;
	EXPECT_EQ(0, run_in_child(KPR_SAME_UID, shared_fs_fn, &r));
	EXPECT_EQ(0, run_in_child(KPR_UID, shared_fs_fn, &r));
}

/* The ways to reach into a running process, in struct tamper_req. */
enum {
	TAMPER_ATTACH,
	TAMPER_SEIZE,
	TAMPER_MEM,
	TAMPER_VM_WRITEV,
	TAMPER_GETFD,
	TAMPER_NR,
};

static const char *const tamper_name[TAMPER_NR] = {
	[TAMPER_ATTACH] = "PTRACE_ATTACH",
	[TAMPER_SEIZE] = "PTRACE_SEIZE",
	[TAMPER_MEM] = "open(/proc/PID/mem, O_RDWR) and pwrite()",
	[TAMPER_VM_WRITEV] = "process_vm_writev()",
	[TAMPER_GETFD] = "pidfd_getfd()",
};

struct tamper_req {
	pid_t pid;		/* the target */
	unsigned long addr;	/* a buffer of the target, to write to */
	int res[TAMPER_NR];	/* 0 or the errno of each way */
};

static int tamper_attach(pid_t pid)
{
	int status;

	if (ptrace(PTRACE_ATTACH, pid, NULL, NULL))
		return errno;
	/* Let it go again, as it was. */
	if (waitpid(pid, &status, __WALL) < 0 ||
	    ptrace(PTRACE_DETACH, pid, NULL, NULL))
		return 1000 + errno;
	return 0;
}

static int tamper_mem(pid_t pid, unsigned long addr)
{
	char path[64];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (pwrite(fd, "kpr", 3, addr) != 3)
		ret = 1000 + errno;
	close(fd);
	return ret;
}

static int tamper_vm_writev(pid_t pid, unsigned long addr)
{
	struct iovec local = { .iov_base = "kpr", .iov_len = 3 };
	struct iovec remote = { .iov_base = (void *)addr, .iov_len = 3 };

	return process_vm_writev(pid, &local, 1, &remote, 1, 0) == 3 ? 0 :
									errno;
}

static int tamper_getfd(pid_t pid)
{
	int pidfd, fd;

	pidfd = syscall(__NR_pidfd_open, pid, 0);
	if (pidfd < 0)
		return 1000 + errno;
	/* Its standard input. */
	fd = syscall(__NR_pidfd_getfd, pidfd, 0, 0);
	close(pidfd);
	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static int tamper_fn(void *arg)
{
	struct tamper_req *r = arg;

	r->res[TAMPER_ATTACH] = tamper_attach(r->pid);
	r->res[TAMPER_MEM] = tamper_mem(r->pid, r->addr);
	r->res[TAMPER_VM_WRITEV] = tamper_vm_writev(r->pid, r->addr);
	r->res[TAMPER_GETFD] = tamper_getfd(r->pid);
	/* Last: the tracer's exit detaches it. */
	r->res[TAMPER_SEIZE] = ptrace(PTRACE_SEIZE, r->pid, NULL, NULL) ?
			       errno : 0;
	return 0;
}

/*
 * True if process_vm_writev() is built in (CONFIG_CROSS_MEMORY_ATTACH): pid
 * 0 is no process, so it then fails with ESRCH.
 */
static bool have_vm_writev(void)
{
	struct iovec iov = { .iov_base = "kpr", .iov_len = 3 };

	return process_vm_writev(0, &iov, 1, &iov, 1, 0) < 0 &&
	       errno == ESRCH;
}

/*
 * Starts @prog as KPR_UID to hold 127.0.0.1:@port, then tries every way to
 * reach into it, as @uid: each way must work (@works) or be refused.  The
 * ways in the bit mask @missing are not built in, and not checked.
 */
static void tamper_test(struct __test_metadata *const _metadata,
			const char *prog, unsigned short port, uid_t uid,
			bool works, unsigned int missing)
{
	struct tamper_req *r = shared_mem(_metadata, sizeof(*r));
	const char *who = uid == KPR_SAME_UID ? "root" : "the user";
	char portstr[8], line[64];
	char *const argv[] = {
		(char *)prog, "inet", "tcp", "127.0.0.1", portstr, "addr",
		"hold", NULL,
	};
	struct kpr_proc target;
	int i, res;

	snprintf(portstr, sizeof(portstr), "%u", port);
	ASSERT_LT(0, spawn(&target, KPR_UID, false, prog, argv));
	ASSERT_LT(0, proc_read_line(&target, line, sizeof(line)));
	ASSERT_EQ(0, strncmp(line, "addr=", 5));
	r->addr = strtoul(line + 5, NULL, 16);
	ASSERT_LT(0, proc_read_line(&target, line, sizeof(line)))
	{
		TH_LOG("%s could not bind port %u: exit code %d", prog, port,
		       proc_finish(&target));
	}
	ASSERT_EQ(port, atoi(line));

	r->pid = target.pid;
	EXPECT_EQ(0, run_in_child(uid, tamper_fn, r));
	for (i = 0; i < TAMPER_NR; i++) {
		res = r->res[i];
		if (missing & (1U << i))
			continue;
		if (works) {
			EXPECT_EQ(0, res)
			{
				TH_LOG("%s, %s on %s: %s (%d)", who,
				       tamper_name[i], prog,
				       strerror(res % 1000), res);
			}
		} else {
			EXPECT_TRUE(res == EPERM || res == EACCES)
			{
				TH_LOG("%s, %s on %s: %s (%d)", who,
				       tamper_name[i], prog,
				       res ? strerror(res % 1000) :
					     "not refused", res);
			}
		}
	}
	/* Still alive, and it still holds its port. */
	EXPECT_EQ(0, proc_finish(&target));
	munmap(r, sizeof(*r));
}

/*
 * ptrace, /proc/PID/mem, process_vm_writev() and pidfd_getfd() on a running
 * owner are refused to other programs, of the same user or root; they work
 * on a program that owns no port.
 */
TEST_F(tamper, running_owner)
{
	const unsigned short port = 32160;
	unsigned int missing = 0;
	char srv[PATH_MAX], *scope;

	path_in(&self->env, "srv", srv);
	ASSERT_EQ(0, copy_file(self->env.kpr_bind, srv, 0755));
	/* Yama's scope 1 would refuse the user even the control. */
	scope = read_file(KPR_YAMA_SCOPE);
	if (scope) {
		snprintf(self->env.yama, sizeof(self->env.yama), "%s", scope);
		free(scope);
		ASSERT_EQ(0, write_text(KPR_YAMA_SCOPE, "0\n"));
	}
	ASSERT_EQ(0, policy_printf("%u %s\n", port, srv));
	if (!have_vm_writev()) {
		TH_LOG("process_vm_writev() is not built in: not checked");
		missing |= 1U << TAMPER_VM_WRITEV;
	}

	/* Control: a program that owns no port. */
	tamper_test(_metadata, self->env.copy, port + 1, KPR_UID, true,
		    missing);
	tamper_test(_metadata, self->env.copy, port + 1, KPR_SAME_UID, true,
		    missing);

	tamper_test(_metadata, srv, port, KPR_UID, false, missing);
	tamper_test(_metadata, srv, port, KPR_SAME_UID, false, missing);
}

struct seccomp_req {
	const char *prog;
	unsigned short port;
	bool listener;	/* SECCOMP_FILTER_FLAG_NEW_LISTENER */
};

/*
 * Sets no_new_privs, installs a seccomp filter and runs the owner.  With a
 * listener, the filter reports vhangup(), which no one calls, to it; without
 * one, it allows every system call, as the filter of a systemd service with
 * NoNewPrivileges= may.  The listener stays open here, in the owner's parent,
 * until the owner ends.
 */
static int seccomp_fn(void *arg)
{
	const struct seccomp_req *r = arg;
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_vhangup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = r->listener ? ARRAY_SIZE(insns) : 1,
		.filter = r->listener ? insns : &insns[ARRAY_SIZE(insns) - 1],
	};
	int ret, fd;

	if (quiet_stdout() || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return KPR_EXIT_SETUP;
	fd = syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER,
		     r->listener ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0, &prog);
	if (fd < 0) {
		fprintf(stderr, "# seccomp(SECCOMP_SET_MODE_FILTER): %s\n",
			strerror(errno));
		return KPR_EXIT_SKIP;
	}
	ret = exec_srv(r->prog, r->port);
	if (r->listener)
		close(fd);
	return ret;
}

/*
 * The holder of a seccomp listener answers the system calls of the filtered
 * task and can install descriptors into it: an owner started under one gets
 * no port.  no_new_privs and a filter without a listener do not matter.
 */
TEST_F(tamper, seccomp_listener)
{
	struct seccomp_req r = { .port = 32310 };
	char srv[PATH_MAX];
	int ret;

	r.prog = path_in(&self->env, "srv", srv);
	ASSERT_EQ(0, copy_file(self->env.kpr_bind, srv, 0755));
	ASSERT_EQ(0, policy_printf("%u %s\n", r.port, srv));

	/* Control: no_new_privs and a filter without a listener. */
	ret = run_in_child(KPR_UID, seccomp_fn, &r);
	if (ret == KPR_EXIT_SKIP)
		SKIP(return, "no seccomp filters (CONFIG_SECCOMP_FILTER)");
	EXPECT_EQ(0, ret);
	EXPECT_EQ(0, run_in_child(KPR_SAME_UID, seccomp_fn, &r));

	r.listener = true;
	EXPECT_EQ(EACCES, run_in_child(KPR_UID, seccomp_fn, &r));
	EXPECT_EQ(EACCES, run_in_child(KPR_SAME_UID, seccomp_fn, &r));

	/* The same owner, started as usual. */
	EXPECT_EQ(0, run_srv(srv, KPR_UID, r.port));
	EXPECT_EQ(0, run_srv(srv, KPR_SAME_UID, r.port));
}

/*
 * Runs @prog as @uid with the option @opt, which prints "@opt=N" first:
 * returns N (decimal, or hexadecimal after "0x"), or -1.
 */
static long option_of(struct __test_metadata *const _metadata,
		      const char *prog, uid_t uid, unsigned short port,
		      const char *opt)
{
	char portstr[8], line[64];
	char *const argv[] = {
		(char *)prog, "inet", "tcp", "127.0.0.1", portstr, (char *)opt,
		NULL,
	};
	size_t len = strlen(opt);
	int ret;

	snprintf(portstr, sizeof(portstr), "%u", port);
	ret = run_output(uid, false, prog, argv, line, sizeof(line));
	EXPECT_EQ(0, ret)
	{
		TH_LOG("%s %s as uid %d: exit code %d", prog, opt, (int)uid,
		       ret);
	}
	if (strncmp(line, opt, len) || line[len] != '=')
		return -1;
	return strtol(line + len + 1, NULL, 0);
}

/* A named owner is not dumpable; the same binary, not named, is. */
TEST_F(tamper, not_dumpable)
{
	const unsigned short port = 32320;
	char srv[PATH_MAX];

	path_in(&self->env, "srv", srv);
	ASSERT_EQ(0, copy_file(self->env.kpr_bind, srv, 0755));
	ASSERT_EQ(0, policy_printf("%u %s\n", port, srv));

	EXPECT_EQ(0, option_of(_metadata, srv, KPR_UID, port, "dumpable"));
	EXPECT_EQ(0, option_of(_metadata, srv, KPR_SAME_UID, port,
			       "dumpable"));
	EXPECT_EQ(1, option_of(_metadata, self->env.copy, KPR_UID, port + 1,
			       "dumpable"));
	EXPECT_EQ(1, option_of(_metadata, self->env.copy, KPR_SAME_UID,
			       port + 1, "dumpable"));
}

/* Opens /proc/PID/environ of the pid at @arg: 0 or the errno. */
static int open_environ_fn(void *arg)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/environ", *(pid_t *)arg);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

/*
 * Starts @prog as KPR_UID to hold 127.0.0.1:@port, then opens its
 * /proc/PID/environ as KPR_UID, which must give @user_res, and as root
 * (CAP_SYS_PTRACE: ps and lsof), which must work.
 */
static void environ_test(struct __test_metadata *const _metadata,
			 const char *prog, unsigned short port, int user_res)
{
	char portstr[8], line[64];
	char *const argv[] = {
		(char *)prog, "inet", "tcp", "127.0.0.1", portstr, "hold", NULL,
	};
	struct kpr_proc target;
	int res;

	snprintf(portstr, sizeof(portstr), "%u", port);
	ASSERT_LT(0, spawn(&target, KPR_UID, false, prog, argv));
	ASSERT_LT(0, proc_read_line(&target, line, sizeof(line)))
	{
		TH_LOG("%s could not bind port %u: exit code %d", prog, port,
		       proc_finish(&target));
	}
	ASSERT_EQ(port, atoi(line));

	res = run_in_child(KPR_UID, open_environ_fn, &target.pid);
	EXPECT_EQ(user_res, res)
	{
		TH_LOG("the user opening /proc/%d/environ of %s: %s (%d)",
		       target.pid, prog, res ? strerror(res) : "allowed", res);
	}
	EXPECT_EQ(0, run_in_child(KPR_SAME_UID, open_environ_fn, &target.pid));
	EXPECT_EQ(0, proc_finish(&target));
}

/*
 * Not dumpable, an owner keeps its /proc/PID files from the other tasks of
 * its user; they read those of a program that owns no port.
 */
TEST_F(tamper, environ_of_owner)
{
	const unsigned short port = 32330;
	char srv[PATH_MAX];

	path_in(&self->env, "srv", srv);
	ASSERT_EQ(0, copy_file(self->env.kpr_bind, srv, 0755));
	ASSERT_EQ(0, policy_printf("%u %s\n", port, srv));

	/* Control: a program that owns no port. */
	environ_test(_metadata, self->env.copy, port + 1, 0);
	environ_test(_metadata, srv, port, EACCES);
}

/*
 * The personality flags that weaken a program, such as ADDR_NO_RANDOMIZE
 * that its parent set, are cleared for an owner as for a setuid program.
 */
TEST_F(tamper, personality_cleared)
{
	const unsigned short port = 32340;
	long owner_user, owner_root, copy_user, copy_root;
	char srv[PATH_MAX];
	int old;

	path_in(&self->env, "srv", srv);
	ASSERT_EQ(0, copy_file(self->env.kpr_bind, srv, 0755));
	ASSERT_EQ(0, policy_printf("%u %s\n", port, srv));

	old = personality(0xffffffff);
	ASSERT_NE(-1, old);
	ASSERT_NE(-1, personality(old | ADDR_NO_RANDOMIZE));
	owner_user = option_of(_metadata, srv, KPR_UID, port, "personality");
	owner_root = option_of(_metadata, srv, KPR_SAME_UID, port,
			       "personality");
	copy_user = option_of(_metadata, self->env.copy, KPR_UID, port + 1,
			      "personality");
	copy_root = option_of(_metadata, self->env.copy, KPR_SAME_UID,
			      port + 1, "personality");
	ASSERT_NE(-1, personality(old));

	TH_LOG("personality: owner 0x%lx, 0x%lx; not named 0x%lx, 0x%lx",
	       owner_user, owner_root, copy_user, copy_root);
	EXPECT_LE(0, owner_user);
	EXPECT_EQ(0, owner_user & ADDR_NO_RANDOMIZE);
	EXPECT_LE(0, owner_root);
	EXPECT_EQ(0, owner_root & ADDR_NO_RANDOMIZE);
	EXPECT_LE(0, copy_user);
	EXPECT_NE(0, copy_user & ADDR_NO_RANDOMIZE);
	EXPECT_LE(0, copy_root);
	EXPECT_NE(0, copy_root & ADDR_NO_RANDOMIZE);
}

/* Sockets that bind TCP or UDP ports without being TCP or UDP sockets. */

FIXTURE(proto) {
	struct env env;
};

FIXTURE_SETUP(proto)
{
	env_setup(_metadata, &self->env);
}

FIXTURE_TEARDOWN_PARENT(proto)
{
	env_teardown(&self->env);
}

/* A kind of socket that takes a TCP or UDP port. */
struct sock_kind {
	int family;		/* of socket() */
	int type;
	int protocol;
	int addr_family;	/* of the address or of the transport */
	const char *addr;
	const char *fam;	/* FAMILY of kpr_bind */
	const char *kind;	/* TYPE of kpr_bind */
	const char *proto;	/* the protocol of the port: tcp or udp */
	const char *other;	/* the other one */
};

static const struct sock_kind tcp_ipv4 = {
	.family = AF_INET, .type = SOCK_STREAM, .protocol = 0,
	.addr_family = AF_INET, .addr = "127.0.0.1",
	.fam = "inet", .kind = "tcp", .proto = "tcp", .other = "udp",
};

static const struct sock_kind af_smc_ipv4 = {
	.family = AF_SMC, .type = SOCK_STREAM, .protocol = SMCPROTO_SMC,
	.addr_family = AF_INET, .addr = "127.0.0.1",
	.fam = "inet", .kind = "smc", .proto = "tcp", .other = "udp",
};

static const struct sock_kind af_smc_ipv6 = {
	.family = AF_SMC, .type = SOCK_STREAM, .protocol = SMCPROTO_SMC6,
	.addr_family = AF_INET6, .addr = "::1",
	.fam = "inet6", .kind = "smc", .proto = "tcp", .other = "udp",
};

static const struct sock_kind ipproto_smc_ipv4 = {
	.family = AF_INET, .type = SOCK_STREAM, .protocol = IPPROTO_SMC,
	.addr_family = AF_INET, .addr = "127.0.0.1",
	.fam = "inet", .kind = "smc-inet", .proto = "tcp", .other = "udp",
};

static const struct sock_kind ipproto_smc_ipv6 = {
	.family = AF_INET6, .type = SOCK_STREAM, .protocol = IPPROTO_SMC,
	.addr_family = AF_INET6, .addr = "::1",
	.fam = "inet6", .kind = "smc-inet", .proto = "tcp", .other = "udp",
};

static const struct sock_kind rxrpc_ipv4 = {
	.family = AF_RXRPC, .type = SOCK_DGRAM, .protocol = AF_INET,
	.addr_family = AF_INET, .addr = "127.0.0.1",
	.fam = "inet", .kind = "rxrpc", .proto = "udp", .other = "tcp",
};

static const struct sock_kind rxrpc_ipv6 = {
	.family = AF_RXRPC, .type = SOCK_DGRAM, .protocol = AF_INET6,
	.addr_family = AF_INET6, .addr = "::1",
	.fam = "inet6", .kind = "rxrpc", .proto = "udp", .other = "tcp",
};

/* True if the kernel has sockets of kind @k; else @err is why not. */
static bool have_kind(const struct sock_kind *k, int *err)
{
	int fd = socket(k->family, k->type | SOCK_CLOEXEC, k->protocol);

	if (fd < 0) {
		*err = errno;
		return errno != EAFNOSUPPORT && errno != EPROTONOSUPPORT;
	}
	close(fd);
	return true;
}

/*
 * Binds a new socket of kind @k to @port (and listens, for a stream socket);
 * returns the socket or -errno.
 */
static int kind_bind(const struct sock_kind *k, unsigned short port)
{
	struct sockaddr_rxrpc srx = {};
	struct sockaddr *sa;
	struct kpr_addr a;
	socklen_t len;
	int fd, err;

	err = make_addr(k->addr_family, k->addr, port, &a);
	if (err)
		return err;
	sa = (struct sockaddr *)&a.ss;
	len = a.len;
	if (k->family == AF_RXRPC) {
		srx.srx_family = AF_RXRPC;
		srx.transport_type = SOCK_DGRAM;
		srx.transport_len = a.len;
		memcpy(&srx.transport, &a.ss, a.len);
		sa = (struct sockaddr *)&srx;
		len = sizeof(srx);
	}
	fd = socket(k->family, k->type | SOCK_CLOEXEC, k->protocol);
	if (fd < 0)
		return -errno;
	if (bind(fd, sa, len) || (k->type == SOCK_STREAM && listen(fd, 16))) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Runs @prog to bind a socket of kind @k to @port. */
static int kind_run(const struct sock_kind *k, const char *prog,
		    unsigned short port)
{
	return run_bind(prog, KPR_SAME_UID, k->fam, k->kind, k->addr, port,
			"listen", NULL);
}

FIXTURE_VARIANT(proto) {
	const struct sock_kind *k;
	unsigned short port;	/* port, port + 1 and port + 2 are used */
};

/* clang-format off */
FIXTURE_VARIANT_ADD(proto, af_smc_ipv4) {
	/* clang-format on */
	.k = &af_smc_ipv4, .port = 32200,
};

/* clang-format off */
FIXTURE_VARIANT_ADD(proto, af_smc_ipv6) {
	/* clang-format on */
	.k = &af_smc_ipv6, .port = 32210,
};

/* clang-format off */
FIXTURE_VARIANT_ADD(proto, ipproto_smc_ipv4) {
	/* clang-format on */
	.k = &ipproto_smc_ipv4, .port = 32220,
};

/* clang-format off */
FIXTURE_VARIANT_ADD(proto, ipproto_smc_ipv6) {
	/* clang-format on */
	.k = &ipproto_smc_ipv6, .port = 32230,
};

/* clang-format off */
FIXTURE_VARIANT_ADD(proto, rxrpc_ipv4) {
	/* clang-format on */
	.k = &rxrpc_ipv4, .port = 32240,
};

/* clang-format off */
FIXTURE_VARIANT_ADD(proto, rxrpc_ipv6) {
	/* clang-format on */
	.k = &rxrpc_ipv6, .port = 32250,
};

struct kind_req {
	const struct sock_kind *k;
	unsigned short port;
};

static int kind_bind_fn(void *arg)
{
	const struct kind_req *r = arg;
	int fd = kind_bind(r->k, r->port);

	if (fd < 0)
		return -fd;
	close(fd);
	return 0;
}

/*
 * SMC sockets (AF_SMC, and AF_INET/AF_INET6 with IPPROTO_SMC) bind the TCP
 * port of their TCP socket; AF_RXRPC sockets bind the UDP port of their
 * transport.  Both are checked like TCP and UDP sockets.
 */
TEST_F(proto, reserved_port)
{
	const struct sock_kind *k = variant->k;
	const unsigned short port = variant->port;
	struct kind_req req = { .k = k, .port = port };
	char srv[PATH_MAX], portstr[8], line[32];
	char *const argv[] = {
		srv, (char *)k->fam, (char *)k->kind, (char *)k->addr, portstr,
		"hold", NULL,
	};
	struct kpr_proc owner;
	int fd, err = 0;

	if (!have_kind(k, &err))
		SKIP(return, "no %s socket: %s", k->kind, strerror(err));
	ASSERT_EQ(0, err)
	{
		TH_LOG("socket() of %s: %s", k->kind, strerror(err));
	}

	path_in(&self->env, "srv", srv);
	ASSERT_EQ(0, copy_file(self->env.kpr_bind, srv, 0755));
	ASSERT_EQ(0, policy_printf("%u-%u/%s %s\n%u/%s %s\n", port, port + 1,
				   k->proto, srv, port + 2, k->other, srv));

	/* Control: reserved for the other protocol only. */
	fd = kind_bind(k, port + 2);
	EXPECT_LE(0, fd)
	{
		TH_LOG("bind to port %u: %s", port + 2, strerror(-fd));
	}
	if (fd >= 0)
		close(fd);

	fd = kind_bind(k, port);
	EXPECT_EQ(-EACCES, fd);
	if (fd >= 0)
		close(fd);
	EXPECT_EQ(EACCES, run_in_child(KPR_UID, kind_bind_fn, &req));
	EXPECT_EQ(EACCES, kind_run(k, self->env.copy, port));
	/* The owner. */
	EXPECT_EQ(0, kind_run(k, srv, port));

	/* While the owner holds port + 1, no one may join it. */
	snprintf(portstr, sizeof(portstr), "%u", port + 1);
	ASSERT_LT(0, spawn(&owner, KPR_SAME_UID, false, srv, argv));
	ASSERT_LT(0, proc_read_line(&owner, line, sizeof(line)))
	{
		TH_LOG("the owner could not bind port %u: exit code %d",
		       port + 1, proc_finish(&owner));
	}
	ASSERT_EQ(port + 1, atoi(line));
	fd = kind_bind(k, port + 1);
	EXPECT_GT(0, fd);
	if (fd >= 0)
		close(fd);
	else
		EXPECT_EQ(-EACCES, fd);
	EXPECT_EQ(0, proc_finish(&owner));
}

/* Raw sockets: their "port" is no port. */

FIXTURE(raw) {
	struct env env;
};

FIXTURE_SETUP(raw)
{
	env_setup(_metadata, &self->env);
}

FIXTURE_TEARDOWN_PARENT(raw)
{
	env_teardown(&self->env);
}

/*
 * Binds a new raw socket of @family and @protocol to @addr, whose port field
 * is @port: returns 0 or the errno of the failure.
 */
static int raw_bind(int family, int protocol, const char *addr,
		    unsigned short port)
{
	struct kpr_addr a;
	int fd, err;

	err = make_addr(family, addr, port, &a);
	if (err)
		return -err;
	fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, protocol);
	if (fd < 0)
		return 1000 + errno;
	err = bind(fd, (struct sockaddr *)&a.ss, a.len) ? errno : 0;
	close(fd);
	return err;
}

/*
 * A raw socket ignores the port of the address it binds: with the number of
 * a reserved port there, its bind() works for any program.
 */
TEST_F(raw, port_field_ignored)
{
	const unsigned short port = 32350;
	char srv[PATH_MAX];

	path_in(&self->env, "srv", srv);
	ASSERT_EQ(0, copy_file(self->env.kpr_bind, srv, 0755));
	ASSERT_EQ(0, policy_printf("%u %s\n", port, srv));

	/* Control: reserved for UDP and TCP. */
	EXPECT_EQ(EACCES, bind_addr(AF_INET, SOCK_DGRAM, "127.0.0.1", port, 0));
	EXPECT_EQ(EACCES, bind_addr(AF_INET, SOCK_STREAM, "127.0.0.1", port,
				    0));
	EXPECT_EQ(EACCES, bind_addr(AF_INET6, SOCK_DGRAM, "::1", port, 0));

	EXPECT_EQ(0, raw_bind(AF_INET, IPPROTO_UDP, "127.0.0.1", port));
	EXPECT_EQ(0, raw_bind(AF_INET, IPPROTO_TCP, "127.0.0.1", port));
	EXPECT_EQ(0, raw_bind(AF_INET6, IPPROTO_UDP, "::1", port));
	EXPECT_EQ(0, raw_bind(AF_INET6, IPPROTO_TCP, "::1", port));
}

/* A cgroup BPF program that changes the port of bind(). */

FIXTURE(cgroup_bpf) {
	struct env env;
};

/*
 * The socket that binds: the program runs on its own TCP or UDP socket for
 * SMC and RxRPC, which the kernel binds with kernel_bind().
 */
FIXTURE_VARIANT(cgroup_bpf) {
	const struct sock_kind *k;
	unsigned short port;	/* reserved; port + 1 is asked for */
};

/* clang-format off */
FIXTURE_VARIANT_ADD(cgroup_bpf, tcp) {
	/* clang-format on */
	.k = &tcp_ipv4, .port = 32260,
};

/* clang-format off */
FIXTURE_VARIANT_ADD(cgroup_bpf, af_smc) {
	/* clang-format on */
	.k = &af_smc_ipv4, .port = 32270,
};

/* clang-format off */
FIXTURE_VARIANT_ADD(cgroup_bpf, ipproto_smc) {
	/* clang-format on */
	.k = &ipproto_smc_ipv4, .port = 32280,
};

/* clang-format off */
FIXTURE_VARIANT_ADD(cgroup_bpf, rxrpc) {
	/* clang-format on */
	.k = &rxrpc_ipv4, .port = 32290,
};

FIXTURE_SETUP(cgroup_bpf)
{
	env_setup(_metadata, &self->env);
}

FIXTURE_TEARDOWN_PARENT(cgroup_bpf)
{
	env_teardown(&self->env);
}

static int sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

/*
 * Loads a BPF_CGROUP_INET4_BIND program that sets the port of every bind()
 * to @port; returns its descriptor or -errno (the verifier's log in @log).
 */
static int load_port_rewrite(unsigned short port, char *log, size_t size)
{
	const struct bpf_insn insns[] = {
		/* r2 = htons(port) */
		{
			.code = BPF_ALU64 | BPF_MOV | BPF_K,
			.dst_reg = BPF_REG_2,
			.imm = htons(port),
		},
		/* ctx->user_port = r2 */
		{
			.code = BPF_STX | BPF_W | BPF_MEM,
			.dst_reg = BPF_REG_1,
			.src_reg = BPF_REG_2,
			.off = offsetof(struct bpf_sock_addr, user_port),
		},
		/* return 1: go on with the bind() */
		{
			.code = BPF_ALU64 | BPF_MOV | BPF_K,
			.dst_reg = BPF_REG_0,
			.imm = 1,
		},
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr attr = {};
	int fd;

	attr.prog_type = BPF_PROG_TYPE_CGROUP_SOCK_ADDR;
	attr.expected_attach_type = BPF_CGROUP_INET4_BIND;
	attr.insns = (unsigned long)insns;
	attr.insn_cnt = ARRAY_SIZE(insns);
	attr.license = (unsigned long)"GPL";
	attr.log_buf = (unsigned long)log;
	attr.log_size = size;
	attr.log_level = 1;
	log[0] = '\0';
	fd = sys_bpf(BPF_PROG_LOAD, &attr);
	return fd < 0 ? -errno : fd;
}

struct cgroup_req {
	char procs[PATH_MAX];	/* cgroup.procs of the cgroup */
	const struct sock_kind *k;
	const char *prog;	/* NULL: the test itself binds */
	unsigned short port;	/* the port to bind */
	unsigned short reserved;	/* where the BPF program moves it */
	bool moved;		/* the socket got the reserved port */
	char line[32];		/* what prog printed */
};

/*
 * True if the socket @fd, of kind @k, holds port @port: AF_RXRPC has no
 * getsockname(), but a UDP socket cannot take the port then.
 */
static bool holds_port(const struct sock_kind *k, int fd, unsigned short port)
{
	if (k->family == AF_RXRPC)
		return bind_addr(AF_INET, SOCK_DGRAM, k->addr, port, 0) ==
		       EADDRINUSE;
	return local_port(fd) == port;
}

/* Joins the cgroup, then binds port itself or by running prog. */
static int cgroup_bind_fn(void *arg)
{
	struct cgroup_req *r = arg;
	char portstr[8];
	char *const argv[] = {
		(char *)r->prog, (char *)r->k->fam, (char *)r->k->kind,
		(char *)r->k->addr, portstr, "listen", NULL,
	};
	int fd;

	if (write_text(r->procs, "0\n"))
		return KPR_EXIT_SETUP;
	if (r->prog) {
		snprintf(portstr, sizeof(portstr), "%u", r->port);
		return run_output(KPR_SAME_UID, false, r->prog, argv, r->line,
				  sizeof(r->line));
	}
	fd = kind_bind(r->k, r->port);
	if (fd < 0)
		return -fd;
	r->moved = holds_port(r->k, fd, r->reserved);
	close(fd);
	return 0;
}

/* The cgroup2 hierarchy, mounted in the test directory if needed. */
static int cgroup2_root(struct env *env, char *buf)
{
	struct statfs sfs;
	int err;

	if (!statfs(KPR_CGROUP_ROOT, &sfs) &&
	    sfs.f_type == CGROUP2_SUPER_MAGIC) {
		snprintf(buf, KPR_NAME_LEN, "%s", KPR_CGROUP_ROOT);
		return 0;
	}
	path_in(env, "cgroup2", buf);
	if (mkdir(buf, 0755))
		return -errno;
	err = env_mount(env, "cgroup2", buf, "cgroup2", NULL);
	return err;
}

/*
 * A cgroup BPF program may change the port of a bind() after the LSM hook
 * ran: the port that the socket finally gets is checked.
 */
TEST_F(cgroup_bpf, bind_port_rewrite)
{
	const struct sock_kind *k = variant->k;
	struct cgroup_req *r = shared_mem(_metadata, sizeof(*r));
	union bpf_attr attr = {};
	char root[KPR_NAME_LEN], srv[KPR_NAME_LEN], log[4096];
	int err = 0, cg, prog, fd, ret, i;

	if (!have_kind(k, &err))
		SKIP(return, "no %s socket: %s", k->kind, strerror(err));
	err = cgroup2_root(&self->env, root);
	if (err == -ENODEV)
		SKIP(return, "no cgroup2");
	ASSERT_EQ(0, err)
	{
		TH_LOG("cgroup2: %s", strerror(-err));
	}
	snprintf(self->env.cgroup, sizeof(self->env.cgroup), "%s/kpr-%d",
		 root, getpid());
	ASSERT_EQ(0, mkdir(self->env.cgroup, 0755));
	snprintf(r->procs, sizeof(r->procs), "%s/kpr-%d/cgroup.procs", root,
		 getpid());
	r->k = k;
	r->reserved = variant->port;
	r->port = variant->port + 1;

	prog = load_port_rewrite(r->reserved, log, sizeof(log));
	ASSERT_LE(0, prog)
	{
		TH_LOG("BPF_PROG_LOAD: %s\n%s", strerror(-prog), log);
	}
	cg = open(self->env.cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, cg);
	attr.target_fd = cg;
	attr.attach_bpf_fd = prog;
	attr.attach_type = BPF_CGROUP_INET4_BIND;
	ASSERT_EQ(0, sys_bpf(BPF_PROG_ATTACH, &attr))
	{
		TH_LOG("BPF_PROG_ATTACH: %s", strerror(errno));
	}

	/* Control: without a rule, the program moves the bind() over. */
	EXPECT_EQ(0, run_in_child(KPR_SAME_UID, cgroup_bind_fn, r));
	EXPECT_TRUE(r->moved);

	path_in(&self->env, "srv", srv);
	ASSERT_EQ(0, copy_file(self->env.kpr_bind, srv, 0755));
	ASSERT_EQ(0, policy_printf("%u/%s %s\n", r->reserved, k->proto, srv));
	r->moved = false;
	EXPECT_EQ(EACCES, run_in_child(KPR_SAME_UID, cgroup_bind_fn, r));
	EXPECT_FALSE(r->moved);
	r->prog = self->env.copy;
	EXPECT_EQ(EACCES, run_in_child(KPR_SAME_UID, cgroup_bind_fn, r));
	/* Outside the cgroup, the port asked is not reserved. */
	fd = kind_bind(k, r->port);
	EXPECT_LE(0, fd)
	{
		TH_LOG("bind to port %u: %s", r->port, strerror(-fd));
	}
	if (fd >= 0)
		close(fd);

	/*
	 * The owner in that cgroup gets its port.  RxRPC releases the UDP
	 * socket of the control above asynchronously: wait for the port.
	 */
	r->prog = srv;
	for (i = 0; i < 50; i++) {
		r->line[0] = '\0';
		ret = run_in_child(KPR_SAME_UID, cgroup_bind_fn, r);
		if (ret != EADDRINUSE)
			break;
		usleep(100000);
	}
	EXPECT_EQ(0, ret);
	/* What kpr_bind prints for RxRPC is the port it asked for. */
	if (k->family != AF_RXRPC)
		EXPECT_EQ(r->reserved, atoi(r->line));

	EXPECT_EQ(0, sys_bpf(BPF_PROG_DETACH, &attr));
	close(cg);
	close(prog);
}

TEST_HARNESS_MAIN
