// SPDX-License-Identifier: GPL-2.0-only

//! Port identities: which rules name the program a task runs.
//!
//! A task gets its identity at `execve()`, the way a set-user-ID program gets its privileges:
//! the exec'd file (and, for a script, its interpreter) is compared with what each program path
//! of the policy resolves to, from the host's root, at that moment. The paths that name it
//! become the task's identity, kept in its credential, and the exec runs with `AT_SECURE`. A
//! rule then lets a task bind its ports if the task's identity holds the rule's path.
//!
//! Deciding at exec, and only there, is what keeps an identity from being borrowed:
//!
//! - paths resolve from the root of pid 1, never the caller's root, working directory or mount
//!   namespace, so `chroot()` and mounts in a private namespace cannot change what a rule
//!   names;
//! - files are compared as inode objects, pinned on both sides during the comparison, so inode
//!   numbers that repeat (overlayfs layers, btrfs subvolumes, deleted files) do not collide;
//! - an exec under ptrace, under a seccomp filter whose listener another process holds, or
//!   sharing its `fs_struct` with another process, gets no identity, as it would get no
//!   set-user-ID privileges;
//! - an exec outside the host's view of the file system (another user or mount namespace, or
//!   another root than pid 1's) gets no identity: the ELF interpreter, the libraries and a
//!   script's interpreter would come from the caller's files;
//! - the new program runs as a set-user-ID program runs: in secure-execution mode, so the
//!   dynamic loader ignores `LD_PRELOAD` and the like, and not dumpable;
//! - a task without the same identity cannot ptrace the owner, nor write its memory
//!   (`/proc/PID/mem`, `process_vm_writev()`), nor take its file descriptors (`pidfd_getfd()`).

use crate::{
    cred::KprCred,
    policy::{Program, POLICY},
    KPortReserve,
};
use kernel::{
    alloc::KVec,
    fs::{File, Path},
    lsm::{Binprm, Context},
    prelude::*,
    sync::{rcu, Arc},
};

/// The identity of a task: the program paths of the policy that named its program when it
/// was exec'd (several if a symlink and its target, or two hard links, are both named).
pub(crate) struct Owner {
    /// The paths, without a NUL.
    paths: KVec<KVec<u8>>,
}

impl Owner {
    /// True if the identity holds `path`.
    fn has(&self, path: &[u8]) -> bool {
        self.paths.iter().any(|p| p.as_slice() == path)
    }

    /// True if the identity holds every path of `other`.
    fn covers(&self, other: &Owner) -> bool {
        other.paths.iter().all(|p| self.has(p))
    }
}

/// True if a task with credential `cred` runs the program that `program` names.
///
/// This is the check of every reserved bind: a comparison of strings, with no path walk, so it
/// may run in atomic context.
pub(crate) fn runs(cred: &KprCred, program: &Program) -> bool {
    match (program.path(), &cred.owner) {
        (Some(path), Some(owner)) => owner.has(path.to_bytes()),
        _ => false,
    }
}

/// Adds to `paths` every program path of the policy that resolves to `file` now.
fn add_paths_naming(file: &File, paths: &mut KVec<KVec<u8>>) -> Result {
    // Hold the snapshot, not the RCU read lock: path walks sleep.
    let policy = {
        let guard = rcu::read_lock();
        match POLICY.get(&guard) {
            Some(p) => p.clone(),
            None => return Ok(()),
        }
    };
    for path in policy.programs() {
        let bytes = path.to_bytes();
        if paths.iter().any(|p| p.as_slice() == bytes) {
            continue;
        }
        // A path that does not resolve (not installed, not searchable) names nothing.
        if Path::lookup_from_init_root(path).is_ok_and(|p| p.is_file(file)) {
            let mut v = KVec::with_capacity(bytes.len(), GFP_KERNEL)?;
            v.extend_from_slice(bytes, GFP_KERNEL)?;
            paths.push(v, GFP_KERNEL)?;
        }
    }
    Ok(())
}

/// True if the exec may give an identity: nobody else controls the task or chooses the files
/// it loads.
fn may_get_identity(bprm: &Binprm<'_, KPortReserve>) -> bool {
    !bprm.is_unsafe() && bprm.has_host_view() && !bprm.has_seccomp_listener()
}

/// Makes `paths` the identity of the credential that the exec installs.
fn grant(bprm: &mut Binprm<'_, KPortReserve>, paths: KVec<KVec<u8>>) -> Result {
    if paths.is_empty() {
        return Ok(());
    }
    let owner = Arc::new(Owner { paths }, GFP_KERNEL)?;
    bprm.cred_mut().owner = Some(owner);
    // Nobody else's code inside an owner: the dynamic loader ignores LD_PRELOAD and the like.
    bprm.set_privileged();
    Ok(())
}

/// `execve()` of a file: the identity of the file that `execve()` names (a script, for a
/// script).
pub(crate) fn bprm_creds_for_exec(
    _cx: &mut Context<'_, KPortReserve>,
    bprm: &mut Binprm<'_, KPortReserve>,
) -> Result {
    // A new program starts with no identity of its own.
    bprm.cred_mut().owner = None;
    if !may_get_identity(bprm) {
        return Ok(());
    }
    let mut paths = KVec::new();
    add_paths_naming(bprm.file(), &mut paths)?;
    grant(bprm, paths)
}

/// The binary that is finally mapped: for a script, its interpreter, which may be named too.
///
/// This runs before the point of no return of `execve()`: running out of memory fails the
/// exec.
pub(crate) fn bprm_creds_from_file(
    _cx: &mut Context<'_, KPortReserve>,
    bprm: &mut Binprm<'_, KPortReserve>,
    file: &File,
) -> Result {
    if !bprm.is_interpreted() || !may_get_identity(bprm) {
        return Ok(());
    }
    let mut paths = KVec::new();
    if let Some(owner) = &bprm.cred_mut().owner {
        for p in owner.paths.iter() {
            let mut v = KVec::with_capacity(p.len(), GFP_KERNEL)?;
            v.extend_from_slice(p, GFP_KERNEL)?;
            paths.push(v, GFP_KERNEL)?;
        }
    }
    let known = paths.len();
    add_paths_naming(file, &mut paths)?;
    if paths.len() == known {
        return Ok(());
    }
    grant(bprm, paths)
}

/// May a task with `tracer` credentials control one with `tracee` credentials? Only a task
/// that runs the same program may control an owner.
pub(crate) fn may_control(tracer: &KprCred, tracee: &KprCred) -> bool {
    match (&tracee.owner, &tracer.owner) {
        (None, _) => true,
        (Some(t), Some(o)) => Arc::ptr_eq(t, o) || o.covers(t),
        (Some(_), None) => false,
    }
}

#[cfg(CONFIG_SECURITY_KPORTRESERVE_KUNIT_TEST)]
#[kunit_tests(kportreserve_identity)]
mod tests {
    use super::*;

    fn owner(paths: &[&[u8]]) -> Result<KprCred> {
        let mut v = KVec::new();
        for p in paths {
            let mut s = KVec::new();
            s.extend_from_slice(p, GFP_KERNEL)?;
            v.push(s, GFP_KERNEL)?;
        }
        Ok(KprCred {
            network: 0,
            owner: Some(Arc::new(Owner { paths: v }, GFP_KERNEL)?),
        })
    }

    #[test]
    fn control() -> Result {
        let none: KprCred = Zeroable::zeroed();
        let a = owner(&[b"/usr/sbin/a"])?;
        let a2 = owner(&[b"/usr/sbin/a"])?;
        let ab = owner(&[b"/usr/sbin/a", b"/usr/sbin/b"])?;
        let b = owner(&[b"/usr/sbin/b"])?;
        // Anybody controls a task that owns nothing.
        assert!(may_control(&none, &none));
        assert!(may_control(&a, &none));
        // Only the same program controls an owner.
        assert!(!may_control(&none, &a));
        assert!(!may_control(&b, &a));
        assert!(may_control(&a, &a));
        assert!(may_control(&a2, &a));
        assert!(may_control(&ab, &a));
        assert!(!may_control(&a, &ab));
        Ok(())
    }
}
