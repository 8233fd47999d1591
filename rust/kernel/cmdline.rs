// SPDX-License-Identifier: GPL-2.0

//! The kernel command line.
//!
//! C headers: [`include/linux/init.h`](srctree/include/linux/init.h),
//! [`include/linux/string.h`](srctree/include/linux/string.h)

use crate::{
    alloc::KVec,
    bindings,
    prelude::*, //
};

/// True if `a` and `b` are the same parameter name, where `-` and `_` are the same character,
/// as the kernel's `parameq()` has it.
fn param_eq(a: &[u8], b: &[u8]) -> bool {
    let norm = |c: u8| if c == b'-' { b'_' } else { c };
    a.len() == b.len() && a.iter().zip(b).all(|(&x, &y)| norm(x) == norm(y))
}

/// Returns the value of the parameter `name` on the kernel command line (`name=value`), as
/// the kernel's own parser splits it (`next_arg()`): a value in double quotes may hold spaces,
/// and the quotes are not part of it. Parameters after `--` are init's, not the kernel's, and
/// are not looked at. If `name` is given several times, the last value counts, as for other
/// parameters.
///
/// Returns `None` if `name` is not on the command line, or has no `=value`.
///
/// # Examples
///
/// ```
/// assert!(kernel::cmdline::param(c"no.such.parameter_ever")?.is_none());
/// # Ok::<(), Error>(())
/// ```
///
/// # Errors
///
/// `ENOMEM` if the command line could not be copied.
pub fn param(name: &CStr) -> Result<Option<KVec<u8>>> {
    // SAFETY: `saved_command_line` is set once, before any initcall runs, and is never changed
    // or freed afterwards.
    let line = unsafe { bindings::saved_command_line };
    if line.is_null() {
        return Ok(None);
    }
    // SAFETY: `line` is a NUL-terminated string that lives for good (see above).
    let line = unsafe { CStr::from_char_ptr(line) };
    // `next_arg()` splits its argument in place: work on a copy.
    let mut copy = KVec::with_capacity(line.to_bytes_with_nul().len(), GFP_KERNEL)?;
    copy.extend_from_slice(line.to_bytes_with_nul(), GFP_KERNEL)?;
    let end = copy.as_mut_ptr_range().end;
    let mut found: Option<(usize, usize)> = None;
    // SAFETY: `copy` is a NUL-terminated string.
    let mut args = unsafe { bindings::skip_spaces(copy.as_mut_ptr().cast()) };
    // SAFETY: `args` always points into `copy` (at its NUL at the latest), which `next_arg()`
    // only ever splits with NULs; `param` and `val` point into `copy` too, to NUL-terminated
    // strings. The blocks of the loop rely on this too.
    while args.cast::<u8>() < end && unsafe { *args } != 0 {
        let mut p: *mut c_char = core::ptr::null_mut();
        let mut v: *mut c_char = core::ptr::null_mut();
        // SAFETY: See the loop's condition.
        args = unsafe { bindings::next_arg(args, &mut p, &mut v) };
        // SAFETY: See the loop's condition.
        let p = unsafe { CStr::from_char_ptr(p) };
        if v.is_null() {
            if p.to_bytes() == b"--" {
                break;
            }
            continue;
        }
        if param_eq(p.to_bytes(), name.to_bytes()) {
            // SAFETY: See the loop's condition.
            let len = unsafe { CStr::from_char_ptr(v) }.to_bytes().len();
            let start = (v as usize) - (copy.as_ptr() as usize);
            found = Some((start, len));
        }
    }
    let Some((start, len)) = found else {
        return Ok(None);
    };
    let mut value = KVec::with_capacity(len, GFP_KERNEL)?;
    value.extend_from_slice(copy.get(start..start + len).ok_or(EINVAL)?, GFP_KERNEL)?;
    Ok(Some(value))
}
