// SPDX-License-Identifier: GPL-2.0

#include <linux/cred.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/string.h>
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
