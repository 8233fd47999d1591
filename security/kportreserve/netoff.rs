// SPDX-License-Identifier: GPL-2.0-only

//! disablenetwork: `prctl(PR_SET_NETWORK, PR_NETWORK_OFF)` and the checks it turns on.

use crate::{
    cred::KprCred,
    KPortReserve, //
};
use kernel::{
    bindings,
    lsm::{
        self,
        Binprm,
        Context,
        Sock,
        SockAddr, //
        Socket,
    },
    prelude::*,
    sync::atomic::{
        AtomicFlag,
        Full,
        Relaxed, //
    },
    task::Task, //
};

/// True for the address families that stay usable with network access off: they reach only
/// this machine. `AF_UNIX` is local IPC; `AF_NETLINK` talks to the kernel and to local
/// processes (and libc needs it, e.g. for `getaddrinfo()`). Every other family, including
/// ones added to the kernel later, counts as network.
pub(crate) fn family_is_local(family: u32) -> bool {
    matches!(family, bindings::AF_UNIX | bindings::AF_NETLINK)
}

/// The flags of `PR_SET_NETWORK` that are defined.
const NETWORK_ALL_FLAGS: usize = (bindings::PR_NETWORK_OFF | bindings::PR_NETWORK_TSYNC) as usize;

/// A [`lsm::TaskFlags`] bit: `PR_NETWORK_OFF | PR_NETWORK_TSYNC` was set for the process. It
/// is set on the thread group leader, whose flags every check reads along with the task's own,
/// and copied into the flags of every task created afterwards.
pub(crate) const TASK_NETWORK_OFF: u32 = 2;

/// Set, for good, before the first task gives up network access. Until then, the common case,
/// [`is_off`] answers with one load instead of reading the task's credential and flags.
static EVER_OFF: AtomicFlag = AtomicFlag::new(false);

/// True if the current task has no network access: its credential says so, or its process
/// gave it up for all its threads.
///
/// Every network hook asks first: the common case is inline, and one load.
#[inline]
pub(crate) fn is_off(cx: &Context<'_, KPortReserve>) -> bool {
    EVER_OFF.load(Relaxed) && task_gave_up_network(cx)
}

/// The rest of [`is_off`], out of line: some task gave up network access.
#[inline(never)]
fn task_gave_up_network(cx: &Context<'_, KPortReserve>) -> bool {
    cx.cred().network_off()
        || (cx.task_flags().get() | cx.leader_task_flags().get()) & TASK_NETWORK_OFF != 0
}

/// True if `task` has no network access (see [`is_off`]).
pub(crate) fn task_is_off(cx: &Context<'_, KPortReserve>, task: &Task) -> bool {
    cx.with_task_cred(task, KprCred::network_off)
        || cx.group_task_flags_of(task) & TASK_NETWORK_OFF != 0
}

/// The flags of the credential after `PR_SET_NETWORK` with `args` when the task has `cur`
/// (`PR_NETWORK_OFF` or 0), and whether all threads are asked for (`PR_NETWORK_TSYNC`).
pub(crate) fn set_network(cur: u32, args: [usize; 4]) -> Result<(u32, bool)> {
    let [flags, a3, a4, a5] = args;
    if a3 != 0 || a4 != 0 || a5 != 0 || flags & !NETWORK_ALL_FLAGS != 0 {
        return Err(EINVAL);
    }
    // The flags fit in u32: they are a subset of NETWORK_ALL_FLAGS.
    let flags = flags as u32;
    let off = flags & bindings::PR_NETWORK_OFF;
    let tsync = flags & bindings::PR_NETWORK_TSYNC != 0;
    if tsync && off == 0 {
        // TSYNC says for whom, OFF says what.
        return Err(EINVAL);
    }
    if cur & !off != 0 {
        // Clearing PR_NETWORK_OFF: the flag is one-way.
        return Err(EPERM);
    }
    Ok((cur | off, tsync))
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
            Ok(if is_off(cx) {
                bindings::PR_NETWORK_OFF as i32
            } else {
                0
            })
        }),
        _ => None,
    }
}

fn prctl_set(cx: &mut Context<'_, KPortReserve>, args: [usize; 4]) -> Result<i32> {
    let tsync = set_network(0, args).is_ok_and(|(_, tsync)| tsync);
    if tsync {
        // No exec of another thread may be half done: it would make a new process of its
        // thread, unmarked, after the checks below.
        return lsm::with_current_cred_guard(|| prctl_set_locked(cx, args))?;
    }
    prctl_set_locked(cx, args)
}

fn prctl_set_locked(cx: &mut Context<'_, KPortReserve>, args: [usize; 4]) -> Result<i32> {
    let off = is_off(cx);
    let (new, tsync) = set_network(if off { bindings::PR_NETWORK_OFF } else { 0 }, args)?;
    let group_off = cx.leader_task_flags().get() & TASK_NETWORK_OFF != 0;
    if new == 0 || (off && (!tsync || group_off)) {
        // Nothing changes.
        return Ok(0);
    }
    // A tracer controls its tracees, and the checks of disablenetwork happen when a tracer
    // attaches: a task that already traces another would keep a way to the network. With
    // TSYNC, no thread of the process may trace: all threads or none.
    if lsm::current_is_tracing() || (tsync && lsm::current_group_is_tracing()) {
        return Err(EBUSY);
    }
    // Neither while an io_uring polling thread may submit for it with its old credentials.
    if (cx.task_flags().get() | cx.leader_task_flags().get()) & TASK_SQPOLL != 0 {
        return Err(EBUSY);
    }
    // Before any task is off: a full barrier orders it before the credential and the flags.
    EVER_OFF.xchg(true, Full);
    if !cx.cred().network_off() {
        cx.commit_cred(|c| {
            c.network = new;
            Ok(())
        })?;
    }
    // Exec must never grant privileges to a task without network access: set no_new_privs
    // along with the flag, as Landlock does for its own sandboxes, and on every thread with
    // TSYNC, as seccomp does. Nothing can fail from here on.
    lsm::set_current_no_new_privs();
    if tsync {
        lsm::set_current_group_no_new_privs();
        cx.task_flags().set(TASK_NETWORK_OFF);
        cx.leader_task_flags().set(TASK_NETWORK_OFF);
    }
    Ok(0)
}

/// `execve()` by a task without network access. A thread of a process that gave up its
/// network for all threads becomes the leader of its new thread group, so it takes the mark
/// into its own task flags. And the exec computes privileges as under no_new_privs, whatever
/// the task's own flag says: a thread created while `PR_NETWORK_TSYNC` was being set may lack
/// it, and setting it now comes too late for this exec.
pub(crate) fn bprm_creds_for_exec(
    cx: &mut Context<'_, KPortReserve>,
    bprm: &mut Binprm<'_, KPortReserve>,
) {
    if !is_off(cx) {
        return;
    }
    if cx.leader_task_flags().get() & TASK_NETWORK_OFF != 0 {
        cx.task_flags().set(TASK_NETWORK_OFF);
    }
    lsm::set_current_no_new_privs();
    bprm.set_no_new_privs();
}

/// `socket()`: network families are refused.
pub(crate) fn socket_create(off: bool, family: i32, kern: bool) -> Result {
    if kern || !off {
        return Ok(());
    }
    match u32::try_from(family) {
        Ok(f) if family_is_local(f) => Ok(()),
        _ => Err(EACCES),
    }
}

/// `bind()`, `connect()` and `listen()` on a network socket the task already had.
#[inline]
pub(crate) fn socket_use(off: bool, sock: &Socket) -> Result {
    if !off || sock.is_kernel() || family_is_local(sock.family().into()) {
        return Ok(());
    }
    Err(EACCES)
}

/// `sendmsg()` with a destination address, or with `MSG_FASTOPEN`, on a network socket.
pub(crate) fn socket_sendmsg(
    off: bool,
    sock: &Socket,
    addr: Option<&SockAddr<'_>>,
    flags: u32,
) -> Result {
    if addr.is_none() && flags & bindings::MSG_FASTOPEN == 0 {
        return Ok(());
    }
    socket_use(off, sock)
}

/// May a tracer with network access `!tracer_off` trace a tracee with `!tracee_off`? A task
/// without network access must not control one that has it.
pub(crate) fn may_trace(tracer_off: bool, tracee_off: bool) -> bool {
    !tracer_off || tracee_off
}

/// tun/tap: creating a device, attaching to an existing one (`TUNSETIFF`) or attaching a queue
/// (`TUNSETQUEUE`) opens a way to send raw packets; a task without network access gets none.
/// A tun file that was attached before the flag keeps working, like a connected socket.
pub(crate) fn tun_dev_use(off: bool) -> Result {
    if off {
        Err(EACCES)
    } else {
        Ok(())
    }
}

/// The `sctp_bind_connect` options that the task asks for (`include/uapi/linux/sctp.h`). The
/// hook also runs for a peer's address changes (`SCTP_PARAM_ADD_IP`, `SCTP_PARAM_SET_PRIMARY`),
/// in softirq or in whatever task processes the socket's backlog: those are not the task's
/// doing and are not checked.
const SCTP_USER_OPTNAMES: [i32; 7] = [
    5,   // SCTP_SET_PEER_PRIMARY_ADDR
    6,   // SCTP_PRIMARY_ADDR
    100, // SCTP_SOCKOPT_BINDX_ADD
    107, // SCTP_SOCKOPT_CONNECTX_OLD
    110, // SCTP_SOCKOPT_CONNECTX
    111, // SCTP_SOCKOPT_CONNECTX3
    126, // SCTP_SENDMSG_CONNECT
];

/// True if `sctp_bind_connect` was called for an option of the task (see
/// [`SCTP_USER_OPTNAMES`]), not for a peer's request.
pub(crate) fn sctp_is_user_option(optname: i32) -> bool {
    SCTP_USER_OPTNAMES.contains(&optname)
}

/// SCTP's own ways to bind and connect (`sctp_bindx()`, `sctp_connectx()`, the primary-address
/// options and the implicit connect of `sendmsg()`), which do not pass the socket hooks.
pub(crate) fn sctp_bind_connect(off: bool, sk: &Sock) -> Result {
    if !off || sk.is_kernel() {
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
/// network for a task without network access.
pub(crate) fn key_alloc(off: bool, type_name: &[u8]) -> Result {
    if off && NETWORK_KEY_TYPES.contains(&type_name) {
        return Err(EACCES);
    }
    Ok(())
}

/// A [`lsm::TaskFlags`] bit: the task, a thread of its process, or the task it was forked
/// from, created an io_uring with a polling thread (`IORING_SETUP_SQPOLL`). That thread
/// submits the ring's requests with the credentials its creator had then, whoever writes them
/// into the ring, so a task that may reach such a ring cannot give up its network access
/// (`EBUSY`).
pub(crate) const TASK_SQPOLL: u32 = 1;

/// `IORING_SETUP_SQPOLL`: remember that the task made a polling thread.
pub(crate) fn uring_sqpoll(cx: &mut Context<'_, KPortReserve>) -> Result {
    // The ring's fd is shared with the other threads: mark the process too.
    cx.task_flags().set(TASK_SQPOLL);
    cx.leader_task_flags().set(TASK_SQPOLL);
    Ok(())
}

/// io_uring personalities: a request may not run with credentials that have network access
/// if its submitter has none.
pub(crate) fn uring_override_creds(cx: &mut Context<'_, KPortReserve>, new: &KprCred) -> Result {
    if is_off(cx) && !new.network_off() {
        return Err(EACCES);
    }
    Ok(())
}

#[cfg(CONFIG_SECURITY_KPORTRESERVE_KUNIT_TEST)]
#[kunit_tests(kportreserve_netoff)]
mod tests {
    use super::*;

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
        let inet = bindings::AF_INET as i32;
        assert_eq!(socket_create(true, inet, false), Err(EACCES));
        assert_eq!(socket_create(true, -1, false), Err(EACCES));
        assert_eq!(socket_create(true, bindings::AF_UNIX as i32, false), Ok(()));
        assert_eq!(socket_create(true, inet, true), Ok(()));
        assert_eq!(
            socket_create(false, bindings::AF_INET6 as i32, false),
            Ok(())
        );
    }

    #[test]
    fn flag_transitions() {
        let off = bindings::PR_NETWORK_OFF as usize;
        let tsync = bindings::PR_NETWORK_TSYNC as usize;
        let offu = off as u32;
        assert_eq!(set_network(0, [0, 0, 0, 0]), Ok((0, false)));
        assert_eq!(set_network(0, [off, 0, 0, 0]), Ok((offu, false)));
        assert_eq!(set_network(0, [off | tsync, 0, 0, 0]), Ok((offu, true)));
        assert_eq!(set_network(offu, [off, 0, 0, 0]), Ok((offu, false)));
        assert_eq!(set_network(offu, [off | tsync, 0, 0, 0]), Ok((offu, true)));
        assert_eq!(set_network(offu, [0, 0, 0, 0]), Err(EPERM));
        // TSYNC alone says for whom, not what.
        assert_eq!(set_network(0, [tsync, 0, 0, 0]), Err(EINVAL));
        assert_eq!(set_network(0, [4, 0, 0, 0]), Err(EINVAL));
        assert_eq!(set_network(0, [usize::MAX, 0, 0, 0]), Err(EINVAL));
        for i in 1..4 {
            let mut a = [off, 0, 0, 0];
            a[i] = 1;
            assert_eq!(set_network(0, a), Err(EINVAL));
        }
        // Argument errors win over the one-way rule.
        assert_eq!(set_network(offu, [0, 1, 0, 0]), Err(EINVAL));
    }

    #[test]
    fn other_channels() {
        assert_eq!(tun_dev_use(false), Ok(()));
        assert_eq!(tun_dev_use(true), Err(EACCES));
        for t in NETWORK_KEY_TYPES {
            assert_eq!(key_alloc(false, t), Ok(()));
            assert_eq!(key_alloc(true, t), Err(EACCES));
        }
        for t in [
            &b"user"[..],
            b"logon",
            b"keyring",
            b"dns_resolve",
            b"dns_resolver2",
        ] {
            assert_eq!(key_alloc(true, t), Ok(()));
        }
    }

    #[test]
    fn ptrace_decisions() {
        assert!(may_trace(false, false));
        assert!(may_trace(false, true));
        assert!(may_trace(true, true));
        assert!(!may_trace(true, false));
    }
}
