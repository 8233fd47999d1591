// SPDX-License-Identifier: GPL-2.0-only

//! The socket hooks: port reservation, and the network checks of disablenetwork.

use crate::{
    audit,
    grammar::Mode,
    identity,
    limits::KERNEL_PROGRAM,
    netoff,
    policy::{
        self,
        Counters,
        Program,
        Proto,
        POLICY, //
    },
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
    sync::rcu, //
};

/// The port space of an inet socket of `protocol`, if reservations apply to it.
fn inet_proto(protocol: u16) -> Option<Proto> {
    match u32::from(protocol) {
        // MPTCP and SMC bind TCP ports (SMC through its TCP "clcsock").
        bindings::IPPROTO_TCP | bindings::IPPROTO_MPTCP | bindings::IPPROTO_SMC => Some(Proto::Tcp),
        bindings::IPPROTO_UDP => Some(Proto::Udp),
        _ => None,
    }
}

/// The port space and the port that a `bind()` of `sock` to `addr` takes through a kernel
/// socket of the protocol's own: MPTCP (a TCP subflow), SMC in both forms (a TCP "clcsock") and
/// `AF_RXRPC` (a UDP transport). `inet_bind_port` sees only that kernel socket, so the user's
/// socket is checked here. A TCP or UDP socket's own bind is checked once, by `inet_bind_port`,
/// with the port it really takes; raw sockets take no port.
///
/// Not for plain TCP and UDP sockets (see [`socket_bind`]).
fn bind_target(sk: &Sock, protocol: u32, addr: &SockAddr<'_>) -> Option<(Proto, u16)> {
    match u32::from(sk.family()) {
        bindings::AF_INET | bindings::AF_INET6 => match protocol {
            bindings::IPPROTO_MPTCP | bindings::IPPROTO_SMC => {
                Some((Proto::Tcp, addr.inet_port()?))
            }
            _ => None,
        },
        bindings::AF_SMC => Some((Proto::Tcp, addr.inet_port()?)),
        bindings::AF_RXRPC => Some((Proto::Udp, addr.rxrpc_transport_port()?)),
        _ => None,
    }
}

/// `bind()`: refuses a reserved port to every program that the rules do not name, for the
/// protocols that bind through a kernel socket (see [`bind_target`]).
///
/// Inline, and a few tests in the common case: a plain TCP or UDP socket of a task with
/// network access.
#[inline]
pub(crate) fn socket_bind(
    cx: &mut Context<'_, KPortReserve>,
    sock: &Socket,
    addr: &SockAddr<'_>,
) -> Result {
    netoff::socket_use(netoff::is_off(cx), sock).inspect_err(audit::network_denied("bind"))?;
    let sk = sock.sk();
    let protocol = u32::from(sk.protocol());
    // Plain TCP and UDP first: `inet_bind_port` checks the port that they really take. No other
    // family that matters here has these protocol numbers (SMC's are 0 and 1, rxrpc's are the
    // transport's family, 2 or 10).
    if protocol == bindings::IPPROTO_TCP || protocol == bindings::IPPROTO_UDP || sk.is_kernel() {
        return Ok(());
    }
    socket_bind_other(cx, sk, protocol, *addr)
}

/// The rest of [`socket_bind`], out of line: MPTCP, SMC, rxrpc and the other protocols.
#[inline(never)]
fn socket_bind_other(
    cx: &Context<'_, KPortReserve>,
    sk: &Sock,
    protocol: u32,
    addr: SockAddr<'_>,
) -> Result {
    match bind_target(sk, protocol, &addr) {
        // Port 0 asks for automatic selection, which skips reserved ports (see
        // `inet_port_reserved`).
        None | Some((_, 0)) => Ok(()),
        Some((proto, port)) => check_port(cx, sk, proto, port),
    }
}

/// The port that an inet bind really takes, for user and kernel sockets: this sees a port that
/// a cgroup BPF program rewrote, `bpf_bind()`, and the kernel sockets that SMC, rxrpc, UDP
/// tunnels and in-kernel servers bind.
///
/// The common case, a port that no rule reserves for either protocol, is one bit test, before
/// the socket is looked at; the rest is out of line, so that the common case saves no register.
#[inline]
pub(crate) fn inet_bind_port(cx: &mut Context<'_, KPortReserve>, sk: &Sock, port: u16) -> Result {
    if !policy::maybe_reserved_any(port) {
        return Ok(());
    }
    inet_bind_reserved(cx, sk, port)
}

/// The rest of [`inet_bind_port`], out of line: `port` may be reserved for a protocol.
#[inline(never)]
fn inet_bind_reserved(cx: &Context<'_, KPortReserve>, sk: &Sock, port: u16) -> Result {
    match inet_proto(sk.protocol()) {
        Some(proto) => check_port(cx, sk, proto, port),
        None => Ok(()),
    }
}

/// Checks that the current task may bind `sk` to `port` of `proto`.
///
/// A user socket gets a reserved port if the task runs a program that a rule for the port
/// names, with the effective user and group IDs that the rule names, if it names any;
/// otherwise `EACCES`. A kernel socket gets it if a `<kernel>` rule covers the port, or if the
/// task on whose behalf the kernel binds (SMC, rxrpc) may have it. It is refused with
/// `EACCES`, or with `EADDRINUSE` for a kernel socket bound by a kernel thread, so that the
/// kernel's own port pickers (SUNRPC's reserved source ports, bound from a workqueue) try
/// another port, as they do for a port in use. In permissive mode, a bind that would be refused
/// is logged and let through, for user and kernel sockets alike.
///
/// Never sleeps: it may be called from a BPF program (`bpf_bind()`).
#[inline]
fn check_port(cx: &Context<'_, KPortReserve>, sk: &Sock, proto: Proto, port: u16) -> Result {
    // The hot path: one bit test, no lock, no allocation.
    if !policy::maybe_reserved(proto, port) {
        return Ok(());
    }
    check_reserved(cx, sk, proto, port)
}

/// The slow path of [`check_port`], out of line: `port` may be reserved.
#[inline(never)]
fn check_reserved(cx: &Context<'_, KPortReserve>, sk: &Sock, proto: Proto, port: u16) -> Result {
    let permissive = {
        let guard = rcu::read_lock();
        let Some(policy) = POLICY.get(&guard) else {
            return Ok(());
        };
        if !policy.is_reserved(proto, port) {
            return Ok(());
        }
        // Rules are about the host's port space: other network namespaces have their own.
        if !sk.in_init_net() {
            return Ok(());
        }
        // The slow path: reserved. Who may have it is two binary searches per program.
        let ids = lsm::current_init_ns_ids();
        let kernel = sk.is_kernel();
        let cred = cx.cred();
        let allowed = (kernel && policy.allows(KERNEL_PROGRAM, ids, proto, port))
            || identity::owns(cred, |program| policy.allows(program, ids, proto, port));
        if allowed {
            // The rules that let it through count it.
            policy.for_each_covering(Some(proto), port, |rule, counters| {
                let admits = match &rule.program {
                    Program::Kernel => kernel,
                    Program::Path(path) => {
                        rule.who.admits(ids.0, ids.1)
                            && identity::owns(cred, |p| p == path.as_bytes())
                    }
                };
                if admits {
                    Counters::inc(&counters.allowed);
                }
            });
            return Ok(());
        }
        // Every rule that reserves the port counts the denial.
        policy.for_each_covering(Some(proto), port, |_, counters| {
            Counters::inc(&counters.denied);
        });
        // A kernel thread's bind is the kernel's own port picker (SUNRPC's reserved ports): it
        // is steered to another port in either mode, so that the port stays free for its
        // owner, as automatic selection does.
        policy.mode() == Mode::Permissive && !(kernel && lsm::current_is_kthread())
    };
    log_denial(proto, port, permissive);
    if permissive {
        return Ok(());
    }
    Err(if sk.is_kernel() && lsm::current_is_kthread() {
        EADDRINUSE
    } else {
        EACCES
    })
}

/// Logs a bind that no rule lets through: refused, or let through in permissive mode.
#[cold]
fn log_denial(proto: Proto, port: u16, permissive: bool) {
    audit::port_denied("bind", proto, port, permissive);
}

/// Automatic port selection (bind to port 0, `connect()`, `listen()` or `sendmsg()` on an
/// unbound socket) never picks a reserved port in the initial network namespace, for anyone:
/// owners bind their ports explicitly. This holds in permissive mode too: passing over a port
/// refuses nothing to anyone, and keeps the port free for its owner.
///
/// Called for every candidate port of a selection, in atomic context: the common case is one bit
/// test, with no lock and no allocation. A reserved port counts as skipped in the first rule,
/// in canonical order, that covers it, of either protocol (the hook does not know the
/// protocol): two binary searches, as a selection may pass over thousands of reserved ports
/// under the bind hash's lock.
#[inline]
pub(crate) fn inet_port_reserved(net: &lsm::Net, port: u16) -> bool {
    policy::maybe_reserved_any(port) && port_reserved(net, port)
}

/// The slow path of [`inet_port_reserved`], out of line: `port` may be reserved.
#[inline(never)]
fn port_reserved(net: &lsm::Net, port: u16) -> bool {
    if !net.is_init() {
        return false;
    }
    let guard = rcu::read_lock();
    let Some(policy) = POLICY.get(&guard) else {
        return false;
    };
    if !policy.is_reserved_any(port) {
        return false;
    }
    if let Some(counters) = policy.first_covering(port) {
        Counters::inc(&counters.skipped);
    }
    true
}
