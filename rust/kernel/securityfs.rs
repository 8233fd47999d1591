// SPDX-License-Identifier: GPL-2.0

//! securityfs, the pseudo file system under `/sys/kernel/security` where LSMs publish their
//! interfaces.
//!
//! C header: [`include/linux/security.h`](srctree/include/linux/security.h)

use crate::{
    alloc::{
        KBox,
        KVVec, //
    },
    error::from_err_ptr,
    prelude::*,
    seq_file::SeqFile,
    str::CStr,
    sync::{
        new_mutex,
        Mutex, //
    },
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};
use core::pin::Pin;

/// The largest buffer that one `write(2)` to a securityfs file may pass.
pub const MAX_WRITE: usize = 1 << 20;

/// The operations of a securityfs file.
///
/// Reads are served through `seq_file` from [`FileOps::show`]. Opening the file for writing
/// creates a [`FileOps::Writer`] with [`FileOps::open_write`], which receives every `write(2)`
/// through that open file and is handed to [`FileOps::release_write`] when the last reference
/// to the open file goes away, so that a writer can treat everything written through one open
/// file as one transaction (the way the IMA policy file does).
pub trait FileOps: Sync + 'static {
    /// The state of one open file that was opened for writing.
    type Writer: Send + Unpin;

    /// Prints the contents of the file.
    fn show(&self, m: &SeqFile) -> Result;

    /// Called when the file is opened for writing; an error fails the `open(2)`.
    fn open_write(&self) -> Result<Self::Writer>;

    /// Handles one `write(2)` of `data`; on success the whole buffer counts as written.
    fn write(&self, w: &mut Self::Writer, data: &[u8]) -> Result;

    /// Called once when a file opened for writing is released (last `close(2)`).
    fn release_write(&self, w: Self::Writer);
}

/// A securityfs directory, removed when dropped unless [`Dir::keep`] was called.
///
/// # Invariants
///
/// `dentry` was returned by `securityfs_create_dir` and has not been removed.
pub struct Dir {
    dentry: *mut bindings::dentry,
}

// SAFETY: A securityfs dentry may be used and removed from any thread.
unsafe impl Send for Dir {}
// SAFETY: `&Dir` only allows creating children, which the VFS serialises.
unsafe impl Sync for Dir {}

impl Dir {
    /// Creates the directory `name` in the securityfs root.
    pub fn new(name: &CStr) -> Result<Self> {
        // SAFETY: `name` is a valid C string; a null parent means the securityfs root.
        let dentry = from_err_ptr(unsafe {
            bindings::securityfs_create_dir(name.as_char_ptr(), core::ptr::null_mut())
        })?;
        // INVARIANT: `securityfs_create_dir` succeeded.
        Ok(Self { dentry })
    }

    /// Creates the file `name` in this directory with permission bits `mode`.
    ///
    /// `ops` serves every open file. The file is removed when the returned [`File`] is dropped.
    pub fn create_file<T: FileOps>(
        &self,
        name: &CStr,
        mode: u16,
        ops: &'static T,
    ) -> Result<File<T>> {
        let data: *const T = ops;
        // SAFETY:
        // * `name` is a valid C string and `self.dentry` a live securityfs directory (type
        //   invariants).
        // * `data` points to a `T` that lives forever, as `Self::fops::<T>()` requires.
        let dentry = from_err_ptr(unsafe {
            bindings::securityfs_create_file(
                name.as_char_ptr(),
                bindings::S_IFREG as u16 | mode,
                self.dentry,
                data.cast_mut().cast(),
                &OpenFile::<T>::FOPS,
            )
        })?;
        // INVARIANT: `securityfs_create_file` succeeded.
        Ok(File {
            dentry,
            _ops: core::marker::PhantomData,
        })
    }

    /// Keeps the directory for the lifetime of the kernel, as built-in LSMs do.
    pub fn keep(self) {
        core::mem::forget(self);
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        // SAFETY: By the type invariants, `dentry` is a live securityfs dentry.
        unsafe { bindings::securityfs_remove(self.dentry) };
    }
}

/// A securityfs file served by a [`FileOps`].
///
/// # Invariants
///
/// `dentry` was returned by `securityfs_create_file` and has not been removed.
pub struct File<T: FileOps> {
    dentry: *mut bindings::dentry,
    _ops: core::marker::PhantomData<&'static T>,
}

// SAFETY: A securityfs dentry may be used and removed from any thread.
unsafe impl<T: FileOps> Send for File<T> {}
// SAFETY: `&File` offers no operations.
unsafe impl<T: FileOps> Sync for File<T> {}

impl<T: FileOps> File<T> {
    /// Keeps the file for the lifetime of the kernel, as built-in LSMs do.
    pub fn keep(self) {
        core::mem::forget(self);
    }
}

impl<T: FileOps> Drop for File<T> {
    fn drop(&mut self) {
        // SAFETY: By the type invariants, `dentry` is live.
        unsafe { bindings::securityfs_remove(self.dentry) };
    }
}

/// The state of one open file: the `seq_file`'s private data.
#[pin_data]
struct OpenFile<T: FileOps> {
    ops: &'static T,
    #[pin]
    writer: Mutex<Option<T::Writer>>,
}

impl<T: FileOps> OpenFile<T> {
    const FOPS: bindings::file_operations = bindings::file_operations {
        open: Some(Self::open),
        read: Some(bindings::seq_read),
        llseek: Some(bindings::seq_lseek),
        release: Some(Self::release),
        write: Some(Self::write),
        ..pin_init::zeroed()
    };

    fn new(ops: &'static T, writable: bool) -> Result<Pin<KBox<Self>>> {
        let writer = if writable {
            Some(ops.open_write()?)
        } else {
            None
        };
        KBox::pin_init(
            try_pin_init!(Self {
                ops,
                writer <- new_mutex!(writer),
            }),
            GFP_KERNEL,
        )
    }

    /// Opens the file as a `single_open` seq_file over a new [`OpenFile`].
    ///
    /// # Safety
    ///
    /// `inode` and `file` come from the VFS for an inode created by [`Dir::create_file`].
    unsafe extern "C" fn open(inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
        // SAFETY: The inode's private data is the `&'static T` given to `create_file`.
        let ops = unsafe { &*(*inode).i_private.cast::<T>() };
        // SAFETY: `file` is live during open.
        let acc = unsafe { (*file).f_flags } & bindings::O_ACCMODE;
        let writable = acc == bindings::O_WRONLY || acc == bindings::O_RDWR;
        let this = match Self::new(ops, writable) {
            Ok(this) => this,
            Err(e) => return e.to_errno(),
        };
        // SAFETY: The `OpenFile` is pinned and never moved; `release` turns it back into a
        // box.
        let data = KBox::into_raw(unsafe { Pin::into_inner_unchecked(this) });
        // SAFETY: `file` is being opened; `Self::show` expects `seq->private` to be `data`.
        let ret = unsafe { bindings::single_open(file, Some(Self::show), data.cast()) };
        if ret != 0 {
            // SAFETY: `data` came from `KBox::into_raw` above and was not handed out.
            let this = unsafe { KBox::from_raw(data) };
            this.finish();
        }
        ret
    }

    fn finish(&self) {
        let w = self.writer.lock().take();
        if let Some(w) = w {
            self.ops.release_write(w);
        }
    }

    /// # Safety
    ///
    /// `file` was opened by [`Self::open`].
    unsafe fn from_file<'a>(file: *mut bindings::file) -> &'a Self {
        // SAFETY: `Self::open` made `private_data` a seq_file whose private data is a live
        // `OpenFile<T>` until `release`.
        unsafe {
            &*(*(*file).private_data.cast::<bindings::seq_file>())
                .private
                .cast::<Self>()
        }
    }

    /// Prints the file through [`FileOps::show`].
    ///
    /// # Safety
    ///
    /// `seq` is a live seq_file whose private data is an `OpenFile<T>`.
    unsafe extern "C" fn show(seq: *mut bindings::seq_file, _: *mut c_void) -> c_int {
        // SAFETY: By the safety requirements, `private` points to a live `OpenFile<T>`.
        let this = unsafe { &*(*seq).private.cast::<Self>() };
        // SAFETY: `seq` is live and only used by this thread during `show`.
        let m = unsafe { SeqFile::from_raw(seq) };
        match this.ops.show(m) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// Copies the user buffer and passes it to [`FileOps::write`].
    ///
    /// # Safety
    ///
    /// `file` was opened by [`Self::open`]; `buf` is a user pointer.
    unsafe extern "C" fn write(
        file: *mut bindings::file,
        buf: *const c_char,
        count: usize,
        _ppos: *mut bindings::loff_t,
    ) -> isize {
        // SAFETY: By the safety requirements.
        let this = unsafe { Self::from_file(file) };
        match this.write_buf(UserPtr::from_ptr(buf.cast_mut().cast()), count) {
            // `count` is at most `MAX_WRITE`, so it fits.
            Ok(()) => count as isize,
            Err(e) => e.to_errno() as isize,
        }
    }

    fn write_buf(&self, buf: UserPtr, count: usize) -> Result {
        if count > MAX_WRITE {
            return Err(EFBIG);
        }
        let mut data = KVVec::new();
        UserSlice::new(buf, count).read_all(&mut data, GFP_KERNEL)?;
        let mut guard = self.writer.lock();
        let w = Option::as_mut(&mut *guard).ok_or(EBADF)?;
        self.ops.write(w, &data)
    }

    /// Releases the [`OpenFile`] and the seq_file.
    ///
    /// # Safety
    ///
    /// `file` was opened by [`Self::open`] and this is its last reference.
    unsafe extern "C" fn release(inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
        // SAFETY: By the safety requirements, the private data came from `KBox::into_raw` in
        // `open` and nothing else uses it any more.
        let this = unsafe {
            KBox::from_raw(
                (*(*file).private_data.cast::<bindings::seq_file>())
                    .private
                    .cast::<Self>(),
            )
        };
        this.finish();
        // SAFETY: `file` was opened with `single_open`.
        unsafe { bindings::single_release(inode, file) }
    }
}
