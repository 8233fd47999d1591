// SPDX-License-Identifier: GPL-2.0-only

//! Audit records: every denial, policy load, `lock` and mode change.
//!
//! With `CONFIG_AUDIT`, each is one record of the audit trail, whose fields follow those of the
//! other security modules (`lsm=`, `op=`, `pid=`, `comm=`, `exe=`, `res=`):
//!
//! ```text
//! type=1427 (KPORTRESERVE_ACCESS)  lsm=kportreserve op=bind proto=tcp port=10000
//!     reason=reserved owner="/usr/sbin/srv" pid=42 comm="nc" exe="/usr/bin/nc"
//!     permissive=0 res=0
//! type=1427 (KPORTRESERVE_ACCESS)  lsm=kportreserve op=socket_create reason=network_off
//!     pid=43 comm="curl" exe="/usr/bin/curl" permissive=0 res=0
//! type=1403 (MAC_POLICY_LOAD)      lsm=kportreserve op=load source=securityfs rules=12
//!     pid=44 comm="sh" exe="/bin/busybox" auid=0 ses=1 res=1
//! type=1404 (MAC_STATUS)           lsm=kportreserve op=lock pid=44 comm="sh"
//!     exe="/bin/busybox" auid=0 ses=1 res=1
//! ```
//!
//! A record that audit cannot take (no `CONFIG_AUDIT`, or `audit=0` at boot) becomes a
//! rate-limited line in the kernel log instead, as before audit support.

use crate::{
    fs::Shown,
    policy::{
        Proto,
        POLICY, //
    },
};
use core::fmt::Write;
use kernel::{
    audit::{
        self,
        Record, //
    },
    lsm,
    prelude::*,
    sync::rcu, //
};

/// Why an operation was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reason {
    /// The port is reserved, and no rule for it names the program.
    Reserved,
    /// The task gave up network access (`PR_SET_NETWORK`).
    NetworkOff,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Reserved => "reserved",
            Reason::NetworkOff => "network_off",
        }
    }
}

fn proto_str(proto: Proto) -> &'static str {
    match proto {
        Proto::Tcp => "tcp",
        Proto::Udp => "udp",
    }
}

/// The command name of the current task, without its NUL padding, and the path of its
/// executable (into `buf`), as the records show them.
fn task_names(buf: &mut [u8]) -> ([u8; 16], usize, Option<&[u8]>) {
    let comm = lsm::current_comm();
    let len = comm.iter().position(|&b| b == 0).unwrap_or(comm.len());
    (comm, len, lsm::current_exe_path(buf))
}

/// Appends ` pid=%d comm=%s exe=%s` for the current task.
fn task_fields(r: &mut Record) {
    let mut buf = [0u8; 256];
    let (comm, len, exe) = task_names(&mut buf);
    let _ = write!(r, " pid={} comm=", kernel::current!().pid());
    r.untrusted(comm.get(..len).unwrap_or(&[]));
    let _ = write!(r, " exe=");
    match exe {
        Some(exe) => r.untrusted(exe),
        None => {
            let _ = write!(r, "?");
        }
    }
}

/// The program of the first rule, in canonical order, that reserves `port` of `proto`, passed
/// to `f`; nothing if there is none (any more).
fn with_owner(proto: Proto, port: u16, f: impl FnOnce(&[u8])) {
    let guard = rcu::read_lock();
    let Some(policy) = POLICY.get(&guard) else {
        return;
    };
    let bit = 1u8 << proto as u8;
    // Rules are sorted by their first port: the ones that may cover `port` come first.
    let end = policy.rules().partition_point(|r| r.first <= port);
    let rule = policy.rules()[..end]
        .iter()
        .find(|r| r.last >= port && r.protos & bit != 0);
    if let Some(rule) = rule {
        f(rule.program.as_bytes());
    }
}

/// Reports that the current task was refused `port` of `proto` (`op` is the hook: `bind`).
///
/// `permissive` tells that the bind went ahead all the same (see the permissive mode).
///
/// # Context
///
/// Any context: it takes no lock but RCU, and allocates atomically.
#[cold]
pub(crate) fn port_denied(op: &str, proto: Proto, port: u16, permissive: bool) {
    let Some(mut r) = Record::start(audit::KPORTRESERVE_ACCESS, GFP_ATOMIC) else {
        log_port_denied(proto, port, permissive);
        return;
    };
    let _ = write!(
        r,
        "lsm=kportreserve op={op} proto={} port={port} reason={}",
        proto_str(proto),
        Reason::Reserved.as_str()
    );
    let _ = write!(r, " owner=");
    let mut named = false;
    with_owner(proto, port, |program| {
        r.untrusted(program);
        named = true;
    });
    if !named {
        let _ = write!(r, "?");
    }
    task_fields(&mut r);
    let _ = write!(
        r,
        " permissive={} res={}",
        u8::from(permissive),
        u8::from(permissive)
    );
}

/// The log line of a refused port when audit takes no record.
fn log_port_denied(proto: Proto, port: u16, permissive: bool) {
    if !lsm::printk_ratelimit() {
        return;
    }
    let mut buf = [0u8; 256];
    let (comm, len, exe) = task_names(&mut buf);
    pr_notice!(
        "denied bind to reserved port {}/{} for pid={} comm={} exe={} permissive={}\n",
        port,
        proto_str(proto),
        kernel::current!().pid(),
        Shown(comm.get(..len).unwrap_or(&[])),
        Shown(exe.unwrap_or(b"?")),
        u8::from(permissive)
    );
}

/// Reports that the current task, which gave up network access, was refused `op` (the hook:
/// `socket_create`, `connect`, ...).
///
/// # Context
///
/// Any context.
///
/// The closure only calls the record's code, out of line: a hook's `inspect_err()` with it
/// stays inline, and its common case, no error, one test.
#[inline]
pub(crate) fn network_denied(op: &'static str) -> impl FnOnce(&Error) {
    move |_| log_network_denied(op)
}

/// The record of [`network_denied`].
#[cold]
#[inline(never)]
fn log_network_denied(op: &'static str) {
    let Some(mut r) = Record::start(audit::KPORTRESERVE_ACCESS, GFP_ATOMIC) else {
        if lsm::printk_ratelimit() {
            pr_notice!(
                "denied {} without network access for pid={}\n",
                op,
                kernel::current!().pid()
            );
        }
        return;
    };
    let _ = write!(
        r,
        "lsm=kportreserve op={op} reason={}",
        Reason::NetworkOff.as_str()
    );
    task_fields(&mut r);
    let _ = write!(r, " permissive=0 res=0");
}

/// Where a policy transaction came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// A write to `/sys/kernel/security/kportreserve/policy`.
    Securityfs,
    /// The boot policy: the policy file and `kportreserve.policy=`, loaded at pid 1's exec.
    Boot,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Securityfs => "securityfs",
            Source::Boot => "boot",
        }
    }
}

/// Starts a record of a configuration change: ` lsm=kportreserve op=OP`, then what the caller
/// writes, then the task and `res=`.
fn change(kind: u32, op: &str, fields: impl FnOnce(&mut Record), ok: bool) {
    let Some(mut r) = Record::start(kind, GFP_KERNEL) else {
        return;
    };
    let _ = write!(r, "lsm=kportreserve op={op}");
    fields(&mut r);
    task_fields(&mut r);
    r.session();
    let _ = write!(r, " res={}", u8::from(ok));
}

/// Reports a policy transaction from `source`: committed with `rules` rules in force, or
/// refused with `err` (then nothing changed).
///
/// The kernel log has its own line for each of these (`policy loaded: ...`), so nothing more
/// is logged without audit.
pub(crate) fn policy_load(source: Source, rules: Result<usize>) {
    change(
        audit::MAC_POLICY_LOAD,
        "load",
        |r| {
            let _ = write!(r, " source={}", source.as_str());
            match rules {
                Ok(n) => {
                    let _ = write!(r, " rules={n}");
                }
                Err(e) => {
                    let _ = write!(r, " errno={}", e.to_errno());
                }
            }
        },
        rules.is_ok(),
    );
}

/// Reports a change of the policy's status: `op` is `lock`, or `mode` with `fields` such as
/// ` enforcing=0 old_enforcing=1` (written first, each with a leading space).
///
/// # Context
///
/// Process context.
pub(crate) fn policy_change(op: &str, fields: core::fmt::Arguments<'_>) {
    change(
        audit::MAC_STATUS,
        op,
        |r| {
            let _ = r.write_fmt(fields);
        },
        true,
    );
}
