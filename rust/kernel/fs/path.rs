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

    /// Returns the key of the inode that `self` leads to.
    pub fn inode_key(&self) -> InodeKey {
        InodeKey(self.inode() as usize)
    }

    /// Calls `f` with the name of the last component of `self`: the name of its dentry, which
    /// for a symbolic link that was followed or a bind-mounted file is the name of the target.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::fs::Path;
    ///
    /// let dev = Path::lookup_from_init_root(c"/dev")?;
    /// assert!(dev.with_name(|name| name == b"dev"));
    /// assert!(Path::lookup_from_init_root(c"/")?.with_name(|name| name == b"/"));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn with_name<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        // SAFETY: By the type invariants, the dentry is referenced for the duration of the call.
        unsafe { with_dentry_name(self.0.dentry, f) }
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

/// Calls `f` with the name of the dentry through which `file` was opened: the last component of
/// the path that opened it (for a hard link, that link's own name).
pub fn with_file_name<R>(file: &File, f: impl FnOnce(&[u8]) -> R) -> R {
    // SAFETY: `file` is a live file: its `f_path` is set at open, never changes, and holds a
    // reference to the dentry for as long as the file lives.
    unsafe { with_dentry_name((*file.as_ptr()).__bindgen_anon_1.f_path.dentry, f) }
}

/// Calls `f` with a stable copy of the name of `dentry`, which a concurrent rename cannot
/// change or free.
///
/// # Safety
///
/// `dentry` is a live dentry that stays referenced for the duration of the call.
unsafe fn with_dentry_name<R>(dentry: *mut bindings::dentry, f: impl FnOnce(&[u8]) -> R) -> R {
    let mut snap = MaybeUninit::<bindings::name_snapshot>::uninit();
    let snap = snap.as_mut_ptr();
    // SAFETY: `dentry` is live (safety requirements) and `snap` is writable. A short name is
    // copied into `*snap` itself, which stays in place until it is released below.
    unsafe { bindings::take_dentry_name_snapshot(snap, dentry) };
    // SAFETY: `take_dentry_name_snapshot` initialised `*snap`: `name.name` points to
    // `name.len` bytes that stay valid until the snapshot is released.
    let name = unsafe {
        core::slice::from_raw_parts(
            (*snap).name.name,
            (*snap).name.__bindgen_anon_1.__bindgen_anon_1.len as usize,
        )
    };
    // `f` cannot keep `name`: its lifetime ends with the call.
    let r = f(name);
    // SAFETY: `*snap` was taken above and is released once.
    unsafe { bindings::release_dentry_name_snapshot(snap) };
    r
}

/// A value that tells live inodes apart: their address.
///
/// Two files whose keys are taken while both are pinned are the same inode if and only if the
/// keys are equal. Once an inode is freed, its key may come back for another one, so a key kept
/// beyond the lifetime of its inode can only be a hint, to be checked again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct InodeKey(usize);

impl InodeKey {
    /// Returns the key of the inode of `file`.
    pub fn of_file(file: &File) -> Self {
        // SAFETY: `file` is a live file, whose `f_inode` is set at open and never changes.
        Self(unsafe { (*file.as_ptr()).f_inode } as usize)
    }
}

impl Drop for Path {
    fn drop(&mut self) {
        // SAFETY: By the type invariants, `self.0` holds references; they are dropped once.
        unsafe { bindings::path_put(&self.0) };
    }
}
