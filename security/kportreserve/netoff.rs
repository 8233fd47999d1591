// SPDX-License-Identifier: GPL-2.0-only

//! disablenetwork: `prctl(PR_SET_NETWORK, PR_NETWORK_OFF)` and the checks it turns on.

use crate::{
    cred::KprCred,
    limits::NETWORK_ALL_FLAGS,
    KPortReserve, //
};
use kernel::{
    bindings,
    lsm::{
        self,
        Context,
        Sock,
        SockAddr, //
        Socket,
    },
    prelude::*,
    task::Task, //
};

/// True for the address families that stay usable with network access off: they reach only
/// this machine. `AF_UNIX` is local IPC; `AF_NETLINK` talks to the kernel and to local
/// processes (and libc needs it, e.g. for `getaddrinfo()`). Every other family, including
/// ones added to the kernel later, counts as network.
pub(crate) fn family_is_local(family: u32) -> bool {
    matches!(family, bindings::AF_UNIX | bindings::AF_NETLINK)
}

/// The new flags for `PR_SET_NETWORK` with `flags` when the task has `cur`.
pub(crate) fn set_network(cur: u32, args: [usize; 4]) -> Result<u32> {
    let [flags, a3, a4, a5] = args;
    if a3 != 0 || a4 != 0 || a5 != 0 || flags & !NETWORK_ALL_FLAGS != 0 {
        return Err(EINVAL);
    }
    // The flags fit in u32: they are a subset of NETWORK_ALL_FLAGS.
    let flags = flags as u32;
    if cur & !flags != 0 {
        // Clearing PR_NETWORK_OFF: the flag is one-way.
        return Err(EPERM);
    }
    Ok(cur | flags)
}

/// Handles `PR_SET_NETWORK` and `PR_GET_NETWORK`; `None` for every other option.
pub(crate) fn task_prctl(
    cx: &mut Context<'_, KPortReserve>,
    option: i32,
    args: [usize; 4],
) -> Option<Result<i32>> {
    match u32::try_from(option).ok()? {
        bindings::PR_SET_NETWORK => Some(prctl_set(cx, args)),
        bindings::PR_GET_NETWORK => Some(if args.iter().any(|&a| a != 0) {
            Err(EINVAL)
        } else {
            // The flags are a small bit set.
            Ok(cx.cred().network as i32)
        }),
        _ => None,
    }
}

fn prctl_set(cx: &mut Context<'_, KPortReserve>, args: [usize; 4]) -> Result<i32> {
    let cur = cx.cred().network;
    let new = set_network(cur, args)?;
    if new != cur {
        // A tracer controls its tracees, and the checks of disablenetwork happen when a tracer
        // attaches: a task that already traces another would keep a way to the network.
        if lsm::current_is_tracing() {
            return Err(EBUSY);
        }
        // Exec must never grant privileges to a task without network access: set
        // no_new_privs along with the flag, as Landlock does for its own sandboxes.
        cx.commit_cred(|c| {
            c.network = new;
            Ok(())
        })?;
        lsm::set_current_no_new_privs();
    }
    Ok(0)
}

/// `socket()`: network families are refused.
pub(crate) fn socket_create(cred: &KprCred, family: i32, kern: bool) -> Result {
    if kern || !cred.network_off() {
        return Ok(());
    }
    match u32::try_from(family) {
        Ok(f) if family_is_local(f) => Ok(()),
        _ => Err(EACCES),
    }
}

/// `bind()`, `connect()` and `listen()` on a network socket the task already had.
pub(crate) fn socket_use(cred: &KprCred, sock: &Socket) -> Result {
    if !cred.network_off() || sock.is_kernel() || family_is_local(sock.family().into()) {
        return Ok(());
    }
    Err(EACCES)
}

/// `sendmsg()` with a destination address, or with `MSG_FASTOPEN`, on a network socket.
pub(crate) fn socket_sendmsg(
    cred: &KprCred,
    sock: &Socket,
    addr: Option<&SockAddr<'_>>,
    flags: u32,
) -> Result {
    if addr.is_none() && flags & bindings::MSG_FASTOPEN == 0 {
        return Ok(());
    }
    socket_use(cred, sock)
}

/// May a task with `tracer` credentials trace one with `tracee` credentials? A task without
/// network access must not control one that has it.
pub(crate) fn may_trace(tracer: &KprCred, tracee: &KprCred) -> bool {
    !tracer.network_off() || tracee.network_off()
}

/// `ptrace()` attach, and the other accesses that give control over `child` (`mode` has
/// `PTRACE_MODE_ATTACH`, e.g. writing `/proc/PID/mem`). Read-only accesses such as
/// `/proc/PID/environ` give no way to make `child` use the network and are not restricted.
pub(crate) fn ptrace_access_check(
    cx: &mut Context<'_, KPortReserve>,
    child: &Task,
    mode: u32,
) -> Result {
    if mode & bindings::PTRACE_MODE_ATTACH == 0 {
        return Ok(());
    }
    let tracer = cx.cred();
    if cx.with_task_cred(child, |tracee| may_trace(tracer, tracee)) {
        Ok(())
    } else {
        Err(EPERM)
    }
}

/// `PTRACE_TRACEME`: the parent becomes the tracer.
pub(crate) fn ptrace_traceme(cx: &mut Context<'_, KPortReserve>, parent: &Task) -> Result {
    let tracee = cx.cred();
    if cx.with_task_cred(parent, |tracer| may_trace(tracer, tracee)) {
        Ok(())
    } else {
        Err(EPERM)
    }
}

/// tun/tap: creating a device, attaching to an existing one (`TUNSETIFF`) or attaching a queue
/// (`TUNSETQUEUE`) opens a way to send raw packets; a task without network access gets none.
/// A tun file that was attached before the flag keeps working, like a connected socket.
pub(crate) fn tun_dev_use(cred: &KprCred) -> Result {
    if cred.network_off() {
        Err(EACCES)
    } else {
        Ok(())
    }
}

/// SCTP's own ways to bind and connect (`sctp_bindx()`, `sctp_connectx()`, the primary-address
/// options and the implicit connect of `sendmsg()`), which do not pass the socket hooks.
pub(crate) fn sctp_bind_connect(cred: &KprCred, sk: &Sock) -> Result {
    if !cred.network_off() || sk.is_kernel() {
        return Ok(());
    }
    Err(EACCES)
}

/// The types of keys whose construction (`request_key()`) starts an upcall that reaches the
/// network on the task's behalf: DNS (`dns_resolver`), Kerberos tickets (`cifs.spnego`),
/// identity mapping through winbind or LDAP (`cifs.idmap`, `id_resolver`, `id_legacy`).
pub(crate) const NETWORK_KEY_TYPES: [&[u8]; 5] = [
    b"dns_resolver",
    b"cifs.spnego",
    b"cifs.idmap",
    b"id_resolver",
    b"id_legacy",
];

/// `request_key()` and `add_key()`: no key of a type that exists to look things up over the
/// network for a task without network access (`cred` is the requester's credential).
pub(crate) fn key_alloc(cred: &KprCred, type_name: &[u8]) -> Result {
    if cred.network_off() && NETWORK_KEY_TYPES.contains(&type_name) {
        return Err(EACCES);
    }
    Ok(())
}

/// io_uring personalities: a request may not run with credentials that have network access
/// if its submitter has none.
pub(crate) fn uring_override_creds(cx: &mut Context<'_, KPortReserve>, new: &KprCred) -> Result {
    if cx.cred().network_off() && !new.network_off() {
        return Err(EACCES);
    }
    Ok(())
}

#[cfg(CONFIG_SECURITY_KPORTRESERVE_KUNIT_TEST)]
#[kunit_tests(kportreserve_netoff)]
mod tests {
    use super::*;

    fn cred(network: u32) -> KprCred {
        KprCred {
            network,
            ..Zeroable::zeroed()
        }
    }

    #[test]
    fn families() {
        assert!(family_is_local(bindings::AF_UNIX));
        assert!(family_is_local(bindings::AF_NETLINK));
        for f in [
            bindings::AF_INET,
            bindings::AF_INET6,
            bindings::AF_PACKET,
            bindings::AF_VSOCK,
            bindings::AF_UNSPEC,
            bindings::AF_MAX,
            1000,
        ] {
            assert!(!family_is_local(f));
        }
        let off = cred(bindings::PR_NETWORK_OFF);
        assert_eq!(
            socket_create(&off, bindings::AF_INET as i32, false),
            Err(EACCES)
        );
        assert_eq!(socket_create(&off, -1, false), Err(EACCES));
        assert_eq!(socket_create(&off, bindings::AF_UNIX as i32, false), Ok(()));
        assert_eq!(socket_create(&off, bindings::AF_INET as i32, true), Ok(()));
        assert_eq!(
            socket_create(&cred(0), bindings::AF_INET6 as i32, false),
            Ok(())
        );
    }

    #[test]
    fn flag_transitions() {
        let off = bindings::PR_NETWORK_OFF as usize;
        assert_eq!(set_network(0, [0, 0, 0, 0]), Ok(0));
        assert_eq!(set_network(0, [off, 0, 0, 0]), Ok(off as u32));
        assert_eq!(set_network(off as u32, [off, 0, 0, 0]), Ok(off as u32));
        assert_eq!(set_network(off as u32, [0, 0, 0, 0]), Err(EPERM));
        assert_eq!(set_network(0, [2, 0, 0, 0]), Err(EINVAL));
        assert_eq!(set_network(0, [usize::MAX, 0, 0, 0]), Err(EINVAL));
        for i in 1..4 {
            let mut a = [off, 0, 0, 0];
            a[i] = 1;
            assert_eq!(set_network(0, a), Err(EINVAL));
        }
        // Argument errors win over the one-way rule.
        assert_eq!(set_network(off as u32, [0, 1, 0, 0]), Err(EINVAL));
    }

    #[test]
    fn other_channels() {
        let (on, off) = (cred(0), cred(bindings::PR_NETWORK_OFF));
        assert_eq!(tun_dev_use(&on), Ok(()));
        assert_eq!(tun_dev_use(&off), Err(EACCES));
        for t in NETWORK_KEY_TYPES {
            assert_eq!(key_alloc(&on, t), Ok(()));
            assert_eq!(key_alloc(&off, t), Err(EACCES));
        }
        for t in [
            &b"user"[..],
            b"logon",
            b"keyring",
            b"dns_resolve",
            b"dns_resolver2",
        ] {
            assert_eq!(key_alloc(&off, t), Ok(()));
        }
    }

    #[test]
    fn ptrace_decisions() {
        let (on, off) = (cred(0), cred(bindings::PR_NETWORK_OFF));
        assert!(may_trace(&on, &on));
        assert!(may_trace(&on, &off));
        assert!(may_trace(&off, &off));
        assert!(!may_trace(&off, &on));
    }
}
