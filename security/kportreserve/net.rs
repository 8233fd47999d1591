// SPDX-License-Identifier: GPL-2.0-only

//! The socket hooks: port reservation, and the network checks of disablenetwork.

use crate::{
    cred::KprCred,
    netoff,
    policy::{
        Proto,
        POLICY, //
    },
    KPortReserve, //
};
use kernel::{
    bindings,
    lsm::{
        self,
        FileId,
        SockAddr, //
        Socket,
    },
    prelude::*,
    sync::rcu, //
};

/// The protocol whose port space `sock` binds in, if reservations apply to it.
fn proto_of(sock: &Socket) -> Option<Proto> {
    match u32::from(sock.family()) {
        bindings::AF_INET | bindings::AF_INET6 => {}
        _ => return None,
    }
    match u32::from(sock.protocol()) {
        bindings::IPPROTO_TCP | bindings::IPPROTO_MPTCP => Some(Proto::Tcp),
        bindings::IPPROTO_UDP => Some(Proto::Udp),
        _ => None,
    }
}

/// `bind()`: refuses a reserved port to every program that the rules do not name.
pub(crate) fn socket_bind(sock: &Socket, addr: &SockAddr<'_>) -> Result {
    let cred = lsm::current_cred::<KPortReserve>();
    netoff::socket_use(&cred, sock)?;
    match addr.inet_port() {
        // Port 0 asks for automatic selection, which skips reserved ports (see
        // `inet_port_reserved`).
        None | Some(0) => Ok(()),
        Some(port) => check_port(&cred, sock, port),
    }
}

/// Checks an explicit bind of `sock` to `port` by the current task.
fn check_port(cred: &KprCred, sock: &Socket, port: u16) -> Result {
    let Some(proto) = proto_of(sock) else {
        return Ok(());
    };
    // The hot path: one RCU-protected bit test, no allocation, no lock.
    let policy = {
        let guard = rcu::read_lock();
        match POLICY.get(&guard) {
            Some(p) if p.is_reserved(proto, port) => p.clone(),
            _ => return Ok(()),
        }
    };
    // Rules are about the host's port space: other network namespaces have their own.
    if !sock.in_init_net() || sock.is_kernel() {
        return Ok(());
    }
    // The slow path, outside the RCU section because path lookups may sleep: the port is
    // reserved, so the task must run a program that a rule names, as the rule's path
    // resolves now (a package upgrade may have replaced the file).
    for rule in policy.rules_for(proto, port) {
        if let Some(path) = rule.program.path() {
            if FileId::lookup(path).is_ok_and(|id| cred.runs(&id)) {
                return Ok(());
            }
        }
    }
    log_denial(proto, port);
    Err(EACCES)
}

fn log_denial(proto: Proto, port: u16) {
    if !lsm::printk_ratelimit() {
        return;
    }
    let comm = lsm::current_comm();
    let comm = comm.split(|&b| b == 0).next().unwrap_or(&[]);
    let mut buf = [0u8; 256];
    let exe = lsm::current_exe_path(&mut buf).unwrap_or(b"?");
    let proto = match proto {
        Proto::Tcp => "tcp",
        Proto::Udp => "udp",
    };
    pr_notice!(
        "denied bind to reserved port {}/{} for pid={} comm={} exe={}\n",
        port,
        proto,
        kernel::current!().pid(),
        BStr(comm),
        BStr(exe)
    );
}

/// Prints bytes as text, with non-printable bytes escaped.
struct BStr<'a>(&'a [u8]);

impl kernel::fmt::Display for BStr<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for &b in self.0 {
            if b.is_ascii_graphic() {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

/// Automatic port selection (bind to port 0, `connect()`, `listen()` or `sendmsg()` on an
/// unbound socket) never picks a reserved port in the initial network namespace, for anyone:
/// owners bind their ports explicitly.
pub(crate) fn inet_port_reserved(init_net: bool, port: u16) -> bool {
    if !init_net {
        return false;
    }
    let guard = rcu::read_lock();
    POLICY.get(&guard).is_some_and(|p| p.is_reserved_any(port))
}
