// SPDX-License-Identifier: GPL-2.0

//! Audit records.
//!
//! A [`Record`] is one record of the audit trail: it goes to `auditd` when a daemon listens, and
//! to the kernel log (`audit: type=... audit(...): ...`) when none does. Without
//! `CONFIG_AUDIT`, [`Record::start`] always returns `None`, and callers log another way.
//!
//! C headers: [`include/linux/audit.h`](srctree/include/linux/audit.h)

use crate::{
    alloc::Flags,
    fmt::{
        self,
        Write, //
    },
    prelude::*, //
};

#[cfg(CONFIG_AUDIT)]
use crate::bindings;
#[cfg(CONFIG_AUDIT)]
use core::ptr::NonNull;

/// The record type of a policy load (`AUDIT_MAC_POLICY_LOAD`).
pub const MAC_POLICY_LOAD: u32 = 1403;
/// The record type of a change of a security module's status (`AUDIT_MAC_STATUS`).
pub const MAC_STATUS: u32 = 1404;
/// The record type of a kportreserve denial (`AUDIT_KPORTRESERVE_ACCESS`).
pub const KPORTRESERVE_ACCESS: u32 = 1427;

#[cfg(CONFIG_AUDIT)]
const _: () = {
    assert!(MAC_POLICY_LOAD == bindings::AUDIT_MAC_POLICY_LOAD);
    assert!(MAC_STATUS == bindings::AUDIT_MAC_STATUS);
    assert!(KPORTRESERVE_ACCESS == bindings::AUDIT_KPORTRESERVE_ACCESS);
};

/// An audit record being written; it is emitted when dropped.
///
/// Text is appended with `write!` (fields the kernel chooses) and [`Record::untrusted`]
/// (strings that user space chooses: command names, paths).
///
/// # Examples
///
/// ```
/// use core::fmt::Write;
/// use kernel::audit::{self, Record};
///
/// // Writes `lsm=example op=doctest name=61206E616D65 auid=... ses=...`.
/// if let Some(mut r) = Record::start(audit::MAC_STATUS, GFP_KERNEL) {
///     let _ = write!(r, "lsm=example op=doctest name=");
///     r.untrusted(b"a name");
///     r.session();
/// }
/// ```
///
/// # Invariants
///
/// With `CONFIG_AUDIT`, `buf` is a buffer that `audit_log_start()` returned and that was not
/// passed to `audit_log_end()` yet.
pub struct Record {
    #[cfg(CONFIG_AUDIT)]
    buf: NonNull<bindings::audit_buffer>,
    /// Without `CONFIG_AUDIT`, no record is ever started.
    #[cfg(not(CONFIG_AUDIT))]
    _never: core::convert::Infallible,
}

impl Record {
    /// Starts a record of type `kind` in the audit context of the current task.
    ///
    /// Returns `None` when there is no record to write: audit is not built in or was turned off
    /// at boot (`audit=0`), the type is filtered out, or the record could not be allocated
    /// (it is then counted as lost).
    ///
    /// # Context
    ///
    /// Any context, if `flags` does not allow sleeping.
    #[inline]
    pub fn start(kind: u32, flags: Flags) -> Option<Self> {
        #[cfg(CONFIG_AUDIT)]
        {
            let kind = c_int::try_from(kind).ok()?;
            // SAFETY: `audit_context()` is the current task's context (or NULL), which
            // `audit_log_start()` accepts in any context that `flags` allow.
            let buf = unsafe {
                bindings::audit_log_start(bindings::audit_context(), flags.as_raw(), kind)
            };
            // INVARIANT: A non-NULL buffer from `audit_log_start()` is ours until
            // `audit_log_end()`.
            NonNull::new(buf).map(|buf| Self { buf })
        }
        #[cfg(not(CONFIG_AUDIT))]
        {
            let _ = (kind, flags);
            None
        }
    }

    /// Appends `s`, a string that user space may choose, as audit does: quoted if it holds no
    /// quote, space or control character, else as hexadecimal digits (`comm=6120...`).
    pub fn untrusted(&mut self, s: &[u8]) {
        #[cfg(CONFIG_AUDIT)]
        {
            // SAFETY: `self.buf` is a live buffer (type invariant) and `s` is readable for its
            // length.
            unsafe {
                bindings::audit_log_n_untrustedstring(self.buf.as_ptr(), s.as_ptr().cast(), s.len())
            };
        }
        #[cfg(not(CONFIG_AUDIT))]
        let _ = s;
    }

    /// Appends the login user id and session of the current task, ` auid=%u ses=%u`, as every
    /// record of a configuration change carries them.
    pub fn session(&mut self) {
        #[cfg(CONFIG_AUDIT)]
        {
            // SAFETY: The current task is live; these read its audit fields and the initial
            // user namespace, which is never freed.
            let (auid, ses) = unsafe {
                let task = crate::task::Task::current_raw();
                (
                    bindings::from_kuid(
                        &raw mut bindings::init_user_ns,
                        bindings::audit_get_loginuid(task),
                    ),
                    bindings::audit_get_sessionid(task),
                )
            };
            let _ = write!(self, " auid={auid} ses={ses}");
        }
    }
}

impl fmt::Write for Record {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        #[cfg(CONFIG_AUDIT)]
        {
            // The precision of `%.*s` is an `int`: write long strings in pieces.
            for piece in s.as_bytes().chunks(c_int::MAX as usize) {
                // SAFETY: `self.buf` is a live buffer (type invariant); the format takes an
                // `int` and a pointer to that many readable bytes.
                unsafe {
                    bindings::audit_log_format(
                        self.buf.as_ptr(),
                        c"%.*s".as_char_ptr(),
                        piece.len() as c_int,
                        piece.as_ptr(),
                    )
                };
            }
            Ok(())
        }
        #[cfg(not(CONFIG_AUDIT))]
        {
            let _ = s;
            Ok(())
        }
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        #[cfg(CONFIG_AUDIT)]
        {
            // SAFETY: `self.buf` is live (type invariant) and ends here, once.
            unsafe { bindings::audit_log_end(self.buf.as_ptr()) };
        }
    }
}
