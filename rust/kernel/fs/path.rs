// SPDX-License-Identifier: GPL-2.0

//! Locations in the file system tree.
//!
//! C header: [`include/linux/path.h`](srctree/include/linux/path.h)

use crate::{
    bindings,
    error::to_result,
    fs::File,
    prelude::*,
    str::CStr, //
};
use core::mem::MaybeUninit;

/// A counted reference to a location in the file system tree (`struct path`): a mount and a
/// dentry on it.
///
/// # Invariants
///
/// `self.0` holds a reference to its `mnt` and to its positive `dentry`, dropped by `Drop`.
pub struct Path(bindings::path);

impl Path {
    /// Resolves the absolute path `name` from the root of the first user-space process, following
    /// symbolic links but not "magic" links (`/proc/self/exe`, `/proc/PID/fd/N`), which resolve
    /// differently for each caller.
    ///
    /// That root is the one the kernel's own user-space helpers use (`userspace_init_fs`): the
    /// root of pid 1 in the initial mount namespace, as set by the initramfs' `switch_root`. The
    /// caller's root, working directory and mount namespace play no part, so `chroot()`, private
    /// mount namespaces and user namespaces cannot change what `name` resolves to. Permission
    /// to search the directories on the way is checked against the caller's credentials.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::fs::Path;
    ///
    /// let root = Path::lookup_from_init_root(c"/")?;
    /// let dot = Path::lookup_from_init_root(c"/.")?;
    /// assert!(root.same_inode(&dot));
    /// assert_eq!(Path::lookup_from_init_root(c"/no/such/file").err(), Some(ENOENT));
    /// // `..` cannot climb above that root.
    /// assert!(Path::lookup_from_init_root(c"/..")?.same_inode(&root));
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `EINVAL` if `name` is not absolute, or any error of the path walk (`ENOENT`, `EACCES`,
    /// `ELOOP`, ...).
    ///
    /// # Context
    ///
    /// Process context: it may sleep.
    pub fn lookup_from_init_root(name: &CStr) -> Result<Self> {
        if name.to_bytes().first() != Some(&b'/') {
            return Err(EINVAL);
        }
        // SAFETY: `userspace_init_fs` is written once, by pid 1 before it runs any initcall or
        // user-space code, and never freed (it holds a reference for the global pointer).
        let fs = unsafe { bindings::userspace_init_fs };
        if fs.is_null() {
            return Err(ENOENT);
        }
        let mut root = MaybeUninit::<bindings::path>::uninit();
        // SAFETY: `fs` is live (see above) and `root` is writable.
        unsafe { bindings::get_fs_root(fs, root.as_mut_ptr()) };
        // SAFETY: `get_fs_root` initialised `root` with a reference.
        let root = Self(unsafe { root.assume_init() });
        let mut found = MaybeUninit::<bindings::path>::uninit();
        // SAFETY: `root` is a referenced path for the duration of the call, `name` a valid C
        // string and `found` writable.
        to_result(unsafe {
            bindings::vfs_path_lookup(
                root.0.dentry,
                root.0.mnt,
                name.as_char_ptr(),
                bindings::LOOKUP_FOLLOW | bindings::LOOKUP_NO_MAGICLINKS,
                found.as_mut_ptr(),
            )
        })?;
        // INVARIANT: On success, `vfs_path_lookup` returns a referenced path to a positive dentry.
        // SAFETY: `vfs_path_lookup` succeeded, so it initialised `found`.
        Ok(Self(unsafe { found.assume_init() }))
    }

    fn inode(&self) -> *const bindings::inode {
        // SAFETY: By the type invariants, the dentry is referenced, so it can be read; its inode
        // does not change while it is positive and referenced.
        unsafe { (*self.0.dentry).d_inode }
    }

    /// Returns true if `self` and `other` lead to the same inode (hard links, bind mounts).
    pub fn same_inode(&self, other: &Path) -> bool {
        self.inode() == other.inode()
    }

    /// Returns true if `file` is an open file of the inode that `self` leads to.
    ///
    /// The inodes are compared as objects, not by number: inode numbers repeat across the layers
    /// of an overlay file system, btrfs subvolumes and deleted files, but two live inodes never
    /// share an address, and both are pinned here by the references of `self` and `file`.
    pub fn is_file(&self, file: &File) -> bool {
        // SAFETY: `file` is a live file, whose `f_inode` is set at open and never changes.
        self.inode() == unsafe { (*file.as_ptr()).f_inode }.cast_const()
    }
}

impl Drop for Path {
    fn drop(&mut self) {
        // SAFETY: By the type invariants, `self.0` holds references; they are dropped once.
        unsafe { bindings::path_put(&self.0) };
    }
}
