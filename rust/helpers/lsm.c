// SPDX-License-Identifier: GPL-2.0

#include <linux/binfmts.h>
#include <linux/cred.h>
#include <linux/fs_struct.h>
#include <linux/key.h>
#include <linux/key-type.h>
#include <linux/mnt_namespace.h>
#include <linux/nsproxy.h>
#include <linux/path.h>
#include <linux/personality.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/seccomp.h>
#include <linux/string.h>
#include <linux/user_namespace.h>
#include <net/sock.h>

__rust_helper const struct cred *rust_helper_current_cred(void)
{
	return current_cred();
}

/* The caller holds rcu_read_lock(). */
__rust_helper const struct cred *
rust_helper_lsm_task_real_cred(const struct task_struct *task)
{
	return __task_cred(task);
}

/*
 * The effective user and group IDs of the current subjective credential, as
 * the initial user namespace sees them.
 */
__rust_helper void rust_helper_lsm_current_init_ns_ids(u32 *uid, u32 *gid)
{
	const struct cred *cred = current_cred();

	*uid = from_kuid(&init_user_ns, cred->euid);
	*gid = from_kgid(&init_user_ns, cred->egid);
}

/* get_task_comm() for a buffer whose size is only known at run time. */
__rust_helper void rust_helper_lsm_current_comm(char *buf, size_t len)
{
	strscpy_pad(buf, current->comm, len);
}

__rust_helper void rust_helper_task_set_no_new_privs(struct task_struct *p)
{
	task_set_no_new_privs(p);
}

/* sk_num is a macro for the local port of an inet socket, in host order. */
__rust_helper u16 rust_helper_lsm_sk_local_port(const struct sock *sk)
{
	return sk->sk_num;
}

/* IPV6_ADDRFORM may change the family under us, as Landlock notes. */
__rust_helper u16 rust_helper_lsm_sk_family(const struct sock *sk)
{
	return READ_ONCE(sk->sk_family);
}

__rust_helper const struct net *rust_helper_lsm_sk_net(const struct sock *sk)
{
	return sock_net(sk);
}

__rust_helper bool rust_helper_lsm_net_is_init(const struct net *net)
{
	return net_eq(net, &init_net);
}

/* current->ptraced changes under tasklist_lock, which only the task itself extends. */
__rust_helper bool rust_helper_lsm_current_is_tracing(void)
{
	return !list_empty_careful(&current->ptraced);
}

#ifdef CONFIG_KEYS
/* key->type sits in an anonymous struct of an anonymous union. */
__rust_helper const char *rust_helper_lsm_key_type_name(const struct key *key)
{
	return key->type->name;
}
#endif

/*
 * True if the current task sees the file system as pid 1 does: in the initial
 * user and mount namespaces, with pid 1's root.  Otherwise the files that an
 * execve() loads after the one it names (the ELF interpreter, libraries, a
 * script's interpreter, binfmt_misc handlers) are the caller's choice.
 */
__rust_helper bool rust_helper_lsm_current_has_host_view(void)
{
	struct path root;
	bool ret;

	if (current_user_ns() != &init_user_ns ||
	    current->nsproxy->mnt_ns != &init_mnt_ns || !userspace_init_fs)
		return false;
	get_fs_root(userspace_init_fs, &root);
	read_seqlock_excl(&current->fs->seq);
	ret = path_equal(&current->fs->root, &root);
	read_sequnlock_excl(&current->fs->seq);
	path_put(&root);
	return ret;
}

__rust_helper bool rust_helper_lsm_current_has_seccomp_listener(void)
{
	return seccomp_current_has_listener();
}

/* What a set-user-ID exec does besides changing ids (see commoncap.c). */
__rust_helper void rust_helper_lsm_bprm_set_privileged(struct linux_binprm *bprm)
{
	bprm->secureexec = 1;
	bprm->interp_flags |= BINPRM_FLAGS_ENFORCE_NONDUMP;
	bprm->per_clear |= PER_CLEAR_ON_SETID;
}

/*
 * The caller holds rcu_read_lock().  A task that was released (after
 * de_thread() or exit_group()) may point to a leader that is already freed:
 * return the task itself then.  A live task's leader is freed only after an
 * RCU grace period that starts after the task is unhashed.
 */
__rust_helper const struct task_struct *
rust_helper_lsm_task_group_leader(const struct task_struct *task)
{
	return pid_alive(task) ? READ_ONCE(task->group_leader) : task;
}

/* Serialises with execve() of the other threads, as seccomp's TSYNC does. */
__rust_helper int rust_helper_lsm_lock_current_cred_guard(void)
{
	return mutex_lock_killable(&current->signal->cred_guard_mutex);
}

__rust_helper void rust_helper_lsm_unlock_current_cred_guard(void)
{
	mutex_unlock(&current->signal->cred_guard_mutex);
}

/* Makes the exec compute its privileges as under no_new_privs (commoncap reads this). */
__rust_helper void rust_helper_lsm_bprm_set_nnp_unsafe(struct linux_binprm *bprm)
{
	bprm->unsafe |= LSM_UNSAFE_NO_NEW_PRIVS;
}

/* True if a thread of the current process is ptracing another task. */
__rust_helper bool rust_helper_lsm_current_group_is_tracing(void)
{
	struct task_struct *t;
	bool ret = false;

	rcu_read_lock();
	for_each_thread(current, t) {
		if (!list_empty_careful(&t->ptraced)) {
			ret = true;
			break;
		}
	}
	rcu_read_unlock();
	return ret;
}

/* As seccomp's SECCOMP_FILTER_FLAG_TSYNC does for every thread. */
__rust_helper void rust_helper_lsm_current_group_set_no_new_privs(void)
{
	struct task_struct *t;

	rcu_read_lock();
	for_each_thread(current, t)
		task_set_no_new_privs(t);
	rcu_read_unlock();
}

__rust_helper bool rust_helper_lsm_current_is_kthread(void)
{
	return current->flags & PF_KTHREAD;
}
