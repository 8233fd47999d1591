// SPDX-License-Identifier: GPL-2.0

//! Reading a whole file for the kernel's own use: a policy, firmware, a certificate.
//!
//! C headers: [`include/linux/kernel_read_file.h`](srctree/include/linux/kernel_read_file.h)

use crate::{
    bindings,
    prelude::*, //
};
use core::{
    ops::Deref,
    ptr::NonNull, //
};

/// What the kernel reads a file for; security modules (IMA, LoadPin) decide by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadingId {
    /// A security policy (`READING_POLICY`).
    Policy,
}

impl ReadingId {
    fn as_raw(self) -> bindings::kernel_read_file_id {
        match self {
            ReadingId::Policy => bindings::kernel_read_file_id_READING_POLICY,
        }
    }
}

/// The contents of a file, read by [`read_from_init_root`].
///
/// # Invariants
///
/// `ptr` points to `len` initialised bytes in a `vmalloc()` allocation that the contents own.
pub struct Contents {
    ptr: NonNull<u8>,
    len: usize,
}

impl Deref for Contents {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: By the type invariants, `ptr` points to `len` initialised bytes, owned.
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Contents {
    fn drop(&mut self) {
        // SAFETY: By the type invariants, `ptr` is a `vmalloc()` allocation that we own, which
        // `kvfree()` frees.
        unsafe { bindings::kvfree(self.ptr.as_ptr().cast()) };
    }
}

// SAFETY: The contents are plain bytes that the value owns.
unsafe impl Send for Contents {}
// SAFETY: The contents are never written after the read.
unsafe impl Sync for Contents {}

/// Reads the whole regular file at the absolute path `name`, resolved from the root of the
/// first user-space process (pid 1's root, as set by the initramfs' `switch_root`), with the
/// current task's credentials, as the firmware loader reads firmware
/// (`kernel_read_file_from_path_initns()`).
///
/// The file is opened read-only; nobody may write it during the read (writers get `ETXTBSY`),
/// and the security modules see the read as one of `id` (`security_kernel_read_file()`,
/// `security_kernel_post_read_file()`).
///
/// # Examples
///
/// ```
/// use kernel::fs::kernel_read_file::{read_from_init_root, ReadingId};
///
/// let r = read_from_init_root(c"/no/such/file", 4096, ReadingId::Policy);
/// assert_eq!(r.err(), Some(ENOENT));
/// ```
///
/// # Errors
///
/// `ENOENT` and the other errors of opening the file; `EINVAL` if it is empty or not a regular
/// file; `EFBIG` if it is longer than `max` bytes; `ETXTBSY` if it is open for writing; `ENOMEM`;
/// `EIO` if it changed size during the read; or a security module's refusal.
///
/// # Context
///
/// Process context: it sleeps.
pub fn read_from_init_root(name: &CStr, max: usize, id: ReadingId) -> Result<Contents> {
    let mut buf: *mut c_void = core::ptr::null_mut();
    // SAFETY: `name` is a valid C string; `buf` is NULL, so the function allocates the buffer
    // with `vmalloc()` and stores it in `buf` on success only; the size is not wanted.
    let n = unsafe {
        bindings::kernel_read_file_from_path_initns(
            name.as_char_ptr(),
            0,
            &mut buf,
            max,
            core::ptr::null_mut(),
            id.as_raw(),
        )
    };
    let len = usize::try_from(n).map_err(|_| Error::from_errno(n as i32))?;
    let ptr = NonNull::new(buf.cast::<u8>()).ok_or(EINVAL)?;
    // INVARIANT: On success, `buf` holds the whole file, `n` bytes, in a `vmalloc()`
    // allocation that the caller owns.
    Ok(Contents { ptr, len })
}
