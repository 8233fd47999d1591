// SPDX-License-Identifier: GPL-2.0

#include <linux/cred.h>
#include <linux/sched.h>
#include <net/sock.h>

__rust_helper const struct cred *rust_helper_current_cred(void)
{
	return current_cred();
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

__rust_helper const struct net *rust_helper_lsm_sk_net(const struct sock *sk)
{
	return sock_net(sk);
}

__rust_helper bool rust_helper_lsm_net_is_init(const struct net *net)
{
	return net_eq(net, &init_net);
}
