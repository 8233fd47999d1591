// SPDX-License-Identifier: GPL-2.0-only

//! Who may control whom: `ptrace()` and the accesses that give the same control.
//!
//! A task without network access must not control one that has it (disablenetwork), and only
//! a task that runs the same program may control a port owner (port identities).

use crate::{
    identity,
    netoff, //
    KPortReserve,
};
use kernel::{
    bindings,
    lsm::Context,
    prelude::*,
    task::Task, //
};

/// `ptrace()` attach and the other accesses that give control over `child` (`mode` has
/// `PTRACE_MODE_ATTACH`): `/proc/PID/mem`, `process_vm_readv()`/`writev()`, `pidfd_getfd()`.
/// Read-only accesses (`/proc/PID/fd`, `environ`, which `ss -p` and `lsof` use) give no way to
/// make `child` do anything and are not restricted.
pub(crate) fn access_check(cx: &mut Context<'_, KPortReserve>, child: &Task, mode: u32) -> Result {
    if mode & bindings::PTRACE_MODE_ATTACH == 0 {
        return Ok(());
    }
    let tracer = cx.cred();
    if netoff::may_trace(netoff::is_off(cx), netoff::task_is_off(cx, child))
        && cx.with_task_cred(child, |tracee| identity::may_control(tracer, tracee))
    {
        Ok(())
    } else {
        Err(EPERM)
    }
}

/// `PTRACE_TRACEME`: the parent becomes the tracer.
pub(crate) fn traceme(cx: &mut Context<'_, KPortReserve>, parent: &Task) -> Result {
    let tracee = cx.cred();
    if netoff::may_trace(netoff::task_is_off(cx, parent), netoff::is_off(cx))
        && cx.with_task_cred(parent, |tracer| identity::may_control(tracer, tracee))
    {
        Ok(())
    } else {
        Err(EPERM)
    }
}
