// SPDX-License-Identifier: GPL-2.0-only

//! The boot policy: loaded when pid 1 execs, before the first user-space program runs.
//!
//! At the first `execve()` by pid 1 (`/init` of an initramfs, or `/sbin/init`), before the
//! program is loaded, kportreserve loads, in one transaction, the policy file
//! (`/etc/kportreserve/policy`, or the path of `kportreserve.policy_file=`) and then the lines
//! of `kportreserve.policy=` on the kernel command line, separated by `;`. It is the same
//! transaction as a write to the policy file: all of it or nothing, a `lock` line locks, and
//! every refused line is logged with its number. No user-space program can bind a port
//! before that exec: pid 1 is the first, and the kernel's own helpers that may run earlier
//! (`modprobe`) are the kernel's, from the same initramfs.
//!
//! The file is read from pid 1's root with pid 1's credentials (the kernel's), whole, with
//! writers kept out during the read. A missing file is not an error (there is no boot policy);
//! an unreadable or malformed one loads nothing, and says so in the kernel log.
//!
//! An initramfs that lacks the file may `switch_root` into a root file system that has it: so,
//! until the file has been found once (or a policy was written through securityfs), each later
//! exec by pid 1 looks for it again, in the new root, and loads it alone. After any later exec
//! by pid 1, the program paths of the policy in force are resolved again from pid 1's new root
//! (see [`crate::identity::Hints`]).

use crate::{
    audit::Source,
    fs::{
        refresh_hints,
        Txn, //
    },
    limits::MAX_BOOT_POLICY,
};
use kernel::{
    alloc::KVec,
    cmdline,
    fs::kernel_read_file::{
        read_from_init_root,
        ReadingId, //
    },
    prelude::*,
    sync::atomic::{
        AtomicFlag,
        Relaxed, //
    },
};

/// The policy file, unless `kportreserve.policy_file=` names another.
const DEFAULT_FILE: &CStr = c"/etc/kportreserve/policy";

/// What separates two lines in `kportreserve.policy=`. A path with a `;` writes it `\073`.
const SEPARATOR: u8 = b';';

/// Set at the first exec by pid 1.
static FIRST_EXEC_DONE: AtomicFlag = AtomicFlag::new(false);

/// Set once the policy file was found (loaded or not), or a policy was written through
/// securityfs: no exec by pid 1 looks for the file after that.
static FILE_DONE: AtomicFlag = AtomicFlag::new(false);

/// Tells that a policy was written through securityfs: the boot policy file must not replace
/// or extend it at a later exec by pid 1.
pub(crate) fn policy_written() {
    FILE_DONE.store(true, Relaxed);
}

/// Splits the value of `kportreserve.policy=` into its lines.
fn cmdline_lines(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == SEPARATOR)
}

/// The path of the policy file, with its NUL.
fn file_path() -> Result<KVec<u8>> {
    let mut path = KVec::new();
    match cmdline::param(c"kportreserve.policy_file")? {
        Some(p) => {
            if p.first() != Some(&b'/') {
                pr_err!("boot policy: kportreserve.policy_file= is not an absolute path\n");
                return Err(EINVAL);
            }
            path.extend_from_slice(&p, GFP_KERNEL)?;
            path.push(0, GFP_KERNEL)?;
        }
        None => path.extend_from_slice(DEFAULT_FILE.to_bytes_with_nul(), GFP_KERNEL)?,
    }
    Ok(path)
}

/// Reads the policy file: `None` if there is none.
fn read_file(path: &CStr) -> Result<Option<impl core::ops::Deref<Target = [u8]>>> {
    match read_from_init_root(path, MAX_BOOT_POLICY, ReadingId::Policy) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e == ENOENT => {
            pr_info!("boot policy: no file {}\n", path.to_str().unwrap_or("?"));
            Ok(None)
        }
        Err(e) => {
            pr_err!(
                "boot policy: cannot read {}: error {}; nothing was loaded\n",
                path.to_str().unwrap_or("?"),
                e.to_errno()
            );
            Err(e)
        }
    }
}

/// Loads `file` (the text of the policy file) and then the lines of `line` (the value of
/// `kportreserve.policy=`), in one transaction.
fn load(file: Option<&[u8]>, line: Option<&[u8]>) -> Result {
    let mut txn = Txn::begin(Source::Boot).inspect_err(|&e| {
        let why = if e == EPERM {
            "locked"
        } else {
            "being written"
        };
        pr_err!("boot policy: the policy is {}; nothing was loaded\n", why);
    })?;
    // A failure dooms the transaction; the commit reports it.
    if let Some(text) = file {
        let _ = txn.part("file").and_then(|()| txn.feed(text));
    }
    if let Some(value) = line {
        let _ = txn.part("kportreserve.policy=");
        for l in cmdline_lines(value) {
            let _ = txn.feed(l).and_then(|()| txn.feed(b"\n"));
        }
    }
    txn.commit().inspect_err(|&e| {
        pr_err!(
            "boot policy: not loaded (error {}); nothing was changed\n",
            e.to_errno()
        );
    })
}

/// Called at every exec by pid 1, before the new program's credentials are computed: loads
/// the boot policy (see the module documentation).
///
/// # Context
///
/// Process context: it reads files.
pub(crate) fn exec_by_init() {
    let first = !FIRST_EXEC_DONE.xchg(true, Relaxed);
    let line = if first {
        cmdline::param(c"kportreserve.policy").unwrap_or_else(|e| {
            pr_err!(
                "boot policy: cannot read the command line: error {}\n",
                e.to_errno()
            );
            None
        })
    } else {
        None
    };
    let mut loaded = false;
    if !FILE_DONE.load(Relaxed) {
        let path = match file_path() {
            Ok(p) => p,
            Err(_) => {
                FILE_DONE.store(true, Relaxed);
                return;
            }
        };
        let Ok(path) = CStr::from_bytes_with_nul(&path) else {
            pr_err!("boot policy: kportreserve.policy_file= is not a path\n");
            FILE_DONE.store(true, Relaxed);
            return;
        };
        match read_file(path) {
            Ok(Some(text)) => {
                FILE_DONE.store(true, Relaxed);
                if load(Some(&*text), line.as_deref()).is_ok() {
                    let and = if line.is_some() {
                        " and kportreserve.policy="
                    } else {
                        ""
                    };
                    pr_info!(
                        "boot policy: loaded {}{}\n",
                        path.to_str().unwrap_or("?"),
                        and
                    );
                }
                loaded = true;
            }
            Ok(None) => {}
            Err(_) => {
                // Found, but unreadable: nothing is loaded, the command line's lines neither.
                FILE_DONE.store(true, Relaxed);
                return;
            }
        }
    }
    if !loaded {
        if let Some(line) = line.as_deref() {
            if load(None, Some(line)).is_ok() {
                pr_info!("boot policy: loaded kportreserve.policy=\n");
            }
            loaded = true;
        }
    }
    if !first && !loaded {
        // pid 1 may have a new root (`switch_root`): the program paths resolve there now.
        if let Err(e) = refresh_hints() {
            pr_err!(
                "cannot resolve the program paths again after pid 1's exec: error {}\n",
                e.to_errno()
            );
        }
    }
}

#[cfg(CONFIG_SECURITY_KPORTRESERVE_KUNIT_TEST)]
#[kunit_tests(kportreserve_boot)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_split() -> Result {
        let mut it = cmdline_lines(b"10000/tcp /bin/srv;8080 /a\\073b;;lock");
        assert_eq!(it.next(), Some(&b"10000/tcp /bin/srv"[..]));
        assert_eq!(it.next(), Some(&b"8080 /a\\073b"[..]));
        assert_eq!(it.next(), Some(&b""[..]));
        assert_eq!(it.next(), Some(&b"lock"[..]));
        assert_eq!(it.next(), None);
        Ok(())
    }
}
