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
    policy::{PathName, Policy, POLICY},
    KPortReserve,
};
use kernel::{
    alloc::{KVVec, KVec},
    fs::{
        path::{with_file_name, InodeKey},
        File, Path,
    },
    lsm::{Binprm, Context},
    prelude::*,
    sync::{rcu, Arc},
};

/// The identity of a task: the program paths of the policy that named its program when it
/// was exec'd (several if a symlink and its target, or two hard links, are both named).
pub(crate) struct Owner {
    /// The paths, shared with the policy that named them.
    paths: KVec<Arc<PathName>>,
}

impl Owner {
    /// True if the identity holds `path`.
    fn has(&self, path: &PathName) -> bool {
        self.paths.iter().any(|p| p.as_bytes() == path.as_bytes())
    }

    /// True if the identity holds every path of `other`.
    fn covers(&self, other: &Owner) -> bool {
        other.paths.iter().all(|p| self.has(p))
    }
}

/// True if a task with credential `cred` runs a program for which `allowed` holds, given
/// its path.
///
/// This is the check of every reserved bind: no path walk, no allocation and no lock, so it
/// may run in atomic context.
pub(crate) fn owns(cred: &KprCred, allowed: impl Fn(&[u8]) -> bool) -> bool {
    cred.owner
        .as_ref()
        .is_some_and(|o| o.paths.iter().any(|p| allowed(p.as_bytes())))
}

/// What the program paths of a policy resolved to when it was loaded: hints that pick, at an
/// exec, the few paths that could name the exec'd file, so that an exec costs a path walk per
/// candidate rather than one per program of the policy.
///
/// A path is a candidate for a file if its last component is the file's name (which covers a
/// program installed, upgraded or renamed into place after the load), if it resolved to the
/// file at the load (a hard link of another name), or if at the load it resolved to a file of
/// another name than its last component (a symbolic link, or a bind-mounted file), whose target
/// may have changed since. Hints only choose what to resolve: what names the file is decided by
/// resolving the candidates, as before.
pub(crate) struct Hints {
    /// The key of the inode that each path resolved to, and the path's index, by key.
    by_inode: KVVec<(InodeKey, u32)>,
    /// The index of every path, by its last component.
    by_name: KVVec<u32>,
    /// The paths that resolved to a file of another name.
    other_name: KVVec<u32>,
}

/// The last component of `path`.
fn last_component(path: &[u8]) -> &[u8] {
    path.rsplit(|&b| b == b'/').next().unwrap_or(path)
}

impl Hints {
    /// No hints, for a policy that names no program.
    pub(crate) fn new() -> Self {
        Self {
            by_inode: KVVec::new(),
            by_name: KVVec::new(),
            other_name: KVVec::new(),
        }
    }

    /// Resolves every program path of `policy` once, for the hints of that policy.
    ///
    /// # Context
    ///
    /// Process context (it walks paths); called when a policy is committed.
    pub(crate) fn resolve(policy: &Policy) -> Result<Self> {
        let mut h = Self::new();
        for (i, path) in policy.programs() {
            let i = u32::try_from(i).map_err(|_| EINVAL)?;
            h.by_name.push(i, GFP_KERNEL)?;
            let Some(found) = path
                .as_c_str()
                .and_then(|name| Path::lookup_from_init_root(name).ok())
            else {
                continue;
            };
            h.by_inode.push((found.inode_key(), i), GFP_KERNEL)?;
            if !found.with_name(|name| name == last_component(path.as_bytes())) {
                h.other_name.push(i, GFP_KERNEL)?;
            }
        }
        h.by_inode.sort_unstable();
        let name = |i: &u32| {
            policy
                .program(*i as usize)
                .map_or(&[][..], |p| last_component(p.as_bytes()))
        };
        h.by_name.sort_unstable_by(|a, b| name(a).cmp(name(b)));
        Ok(h)
    }

    /// The indexes of the paths of `policy` that could name `file`, sorted; an index may repeat.
    fn candidates(&self, policy: &Policy, file: &File) -> Result<KVec<u32>> {
        let mut c = KVec::new();
        let key = InodeKey::of_file(file);
        let lo = self.by_inode.partition_point(|&(k, _)| k < key);
        for &(_, i) in self.by_inode[lo..].iter().take_while(|&&(k, _)| k == key) {
            c.push(i, GFP_KERNEL)?;
        }
        let name = |i: u32| {
            policy
                .program(i as usize)
                .map_or(&[][..], |p| last_component(p.as_bytes()))
        };
        let (lo, hi) = with_file_name(file, |file_name| {
            let lo = self.by_name.partition_point(|&i| name(i) < file_name);
            let hi = self.by_name.partition_point(|&i| name(i) <= file_name);
            (lo, hi)
        });
        c.extend_from_slice(self.by_name.get(lo..hi).unwrap_or(&[]), GFP_KERNEL)?;
        c.extend_from_slice(&self.other_name, GFP_KERNEL)?;
        c.sort_unstable();
        Ok(c)
    }
}

/// Adds to `paths` every program path of the policy that resolves to `file` now.
fn add_paths_naming(file: &File, paths: &mut KVec<Arc<PathName>>) -> Result {
    // Hold the snapshot, not the RCU read lock: path walks sleep.
    let policy = {
        let guard = rcu::read_lock();
        match POLICY.get(&guard) {
            Some(p) => p.clone(),
            None => return Ok(()),
        }
    };
    let mut prev = None;
    for i in policy.hints().candidates(&policy, file)? {
        if prev.replace(i) == Some(i) {
            continue;
        }
        let Some(path) = policy.program(i as usize) else {
            continue;
        };
        if paths.iter().any(|p| p.as_bytes() == path.as_bytes()) {
            continue;
        }
        let Some(name) = path.as_c_str() else {
            continue;
        };
        // A path that does not resolve (not installed, not searchable) names nothing.
        if Path::lookup_from_init_root(name).is_ok_and(|p| p.is_file(file)) {
            paths.push(path.clone(), GFP_KERNEL)?;
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
fn grant(bprm: &mut Binprm<'_, KPortReserve>, paths: KVec<Arc<PathName>>) -> Result {
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
            paths.push(p.clone(), GFP_KERNEL)?;
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

    use crate::grammar::{parse_line, Line};

    fn owner(paths: &[&[u8]]) -> Result<KprCred> {
        let mut v = KVec::new();
        for p in paths {
            let mut line = KVec::new();
            line.extend_from_slice(b"1 ", GFP_KERNEL)?;
            line.extend_from_slice(p, GFP_KERNEL)?;
            let mut path = KVec::new();
            let Ok(Some(Line::Add(_))) = parse_line(&line, &mut path) else {
                return Err(EINVAL);
            };
            v.push(PathName::new(&path)?, GFP_KERNEL)?;
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
