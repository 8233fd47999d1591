// SPDX-License-Identifier: GPL-2.0

//! securityfs, the pseudo file system under `/sys/kernel/security` where LSMs publish their
//! interfaces.
//!
//! C headers: [`include/linux/security.h`](srctree/include/linux/security.h),
//! [`include/linux/seq_file.h`](srctree/include/linux/seq_file.h)

use crate::{
    alloc::{
        KBox,
        KVVec, //
    },
    error::from_err_ptr,
    fmt,
    prelude::*,
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
use core::{
    marker::PhantomData,
    pin::Pin,
    ptr::NonNull, //
};

/// The most that one `write(2)` to a securityfs file takes: a longer write is short, and
/// writes the first `MAX_WRITE` bytes (as a pipe or a socket may), which `write(2)` loops in
/// user space (stdio, Python's buffered files, shells) handle by writing the rest.
pub const MAX_WRITE: usize = 1 << 20;

/// The operations of a securityfs file.
///
/// Reads are served through `seq_file`, one record (typically a line) at a time: a read from
/// the start of the file takes a [`FileOps::Snapshot`] with [`FileOps::snapshot`], and
/// [`FileOps::show`] prints its records one by one. A read that goes on where the previous
/// one through the same open file ended goes on from the same snapshot, so a reader that
/// reads in small pieces still sees one consistent state. A read from any other offset is
/// replayed by `seq_file` from the start, so it takes a new snapshot. The snapshot is dropped
/// when the file is released or a new one is taken.
///
/// Opening the file for writing creates a [`FileOps::Writer`] with [`FileOps::open_write`],
/// which receives every `write(2)` through that open file and is handed to
/// [`FileOps::release_write`] when the last reference to the open file goes away, so that a
/// writer can treat everything written through one open file as one transaction (the way the
/// IMA policy file does).
pub trait FileOps: Sync + 'static {
    /// A consistent view of the contents of the file, from which its records are printed.
    type Snapshot: Send + Unpin;

    /// The state of one open file that was opened for writing.
    type Writer: Send + Unpin;

    /// Takes a snapshot of the contents, for a read from the start of the file.
    ///
    /// An error fails the `read(2)`.
    fn snapshot(&self) -> Result<Self::Snapshot>;

    /// The number of records in `snap`.
    fn records(&self, snap: &Self::Snapshot) -> usize;

    /// Prints record `index` of `snap`, where `index` is less than [`FileOps::records`].
    ///
    /// An error fails the `read(2)`.
    fn show(&self, snap: &Self::Snapshot, index: usize, out: &mut SeqOut<'_>) -> Result;

    /// Called when the file is opened for writing; an error fails the `open(2)`.
    fn open_write(&self) -> Result<Self::Writer>;

    /// Handles one `write(2)` of `data`, at most [`MAX_WRITE`] bytes; on success the whole of
    /// `data` counts as written.
    fn write(&self, w: &mut Self::Writer, data: &[u8]) -> Result;

    /// Called once when a file opened for writing is released (last `close(2)`).
    fn release_write(&self, w: Self::Writer);
}

/// The output of [`FileOps::show`]: the buffer of a `seq_file`.
///
/// Writes cannot fail: when a record does not fit, `seq_file` discards it, grows its buffer and
/// asks for the record again.
///
/// # Invariants
///
/// `seq` points to a live `seq_file` that only the current thread uses for the lifetime `'a`.
pub struct SeqOut<'a> {
    seq: NonNull<bindings::seq_file>,
    _seq: PhantomData<&'a mut bindings::seq_file>,
}

impl SeqOut<'_> {
    /// Appends `data` to the record.
    #[inline]
    pub fn write(&mut self, data: &[u8]) {
        // SAFETY: By the type invariants, `seq` is live and only used by this thread; `data` is
        // valid for reads of `data.len()` bytes. An overflow is recorded in the `seq_file`,
        // which handles it, so the result is not needed.
        unsafe { bindings::seq_write(self.seq.as_ptr(), data.as_ptr().cast(), data.len()) };
    }
}

impl fmt::Write for SeqOut<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write(s.as_bytes());
        Ok(())
    }
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
    /// The snapshot that reads print from; `None` until the first read.
    #[pin]
    snapshot: Mutex<Option<T::Snapshot>>,
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

    const SEQ_OPS: bindings::seq_operations = bindings::seq_operations {
        start: Some(Self::seq_start),
        next: Some(Self::seq_next),
        stop: Some(Self::seq_stop),
        show: Some(Self::seq_show),
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
                snapshot <- new_mutex!(None),
                writer <- new_mutex!(writer),
            }),
            GFP_KERNEL,
        )
    }

    /// Opens the file as a seq_file over a new [`OpenFile`].
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
        // SAFETY: `file` is being opened and its private data is not set yet; `SEQ_OPS` is a
        // constant, so it lives as long as the file.
        let ret = unsafe { bindings::seq_open(file, &Self::SEQ_OPS) };
        if ret != 0 {
            // SAFETY: `data` came from `KBox::into_raw` above and was not handed out.
            let this = unsafe { KBox::from_raw(data) };
            this.finish();
            return ret;
        }
        // SAFETY: `seq_open` succeeded, so `private_data` is the new seq_file, which nothing
        // else uses yet. The callbacks of `SEQ_OPS` and `from_file` expect `private` to be
        // `data`.
        unsafe { (*(*file).private_data.cast::<bindings::seq_file>()).private = data.cast() };
        0
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

    /// # Safety
    ///
    /// `seq` is a live seq_file of a file opened by [`Self::open`].
    unsafe fn from_seq<'a>(seq: *mut bindings::seq_file) -> &'a Self {
        // SAFETY: `Self::open` made `private` point to an `OpenFile<T>`, which lives until
        // `release`, after the last seq_file operation.
        unsafe { &*(*seq).private.cast::<Self>() }
    }

    /// The iterator value of the record at `pos` if `snap` has such a record, null otherwise.
    ///
    /// The value is the record's index plus one: never null, and never an `ERR_PTR()` either,
    /// as an index that comes from a non-negative `loff_t` is below 2^63. seq_file only passes it
    /// back to [`Self::seq_next`], [`Self::seq_show`] and [`Self::seq_stop`].
    fn record(&self, snap: &T::Snapshot, pos: bindings::loff_t) -> *mut c_void {
        match usize::try_from(pos) {
            Ok(index) if index < self.ops.records(snap) => {
                core::ptr::without_provenance_mut(index + 1)
            }
            _ => core::ptr::null_mut(),
        }
    }

    /// Starts a read at record `*pos`; a read from record 0 takes a new snapshot.
    ///
    /// # Safety
    ///
    /// `seq` is a live seq_file of a file opened by [`Self::open`], and `pos` is valid for
    /// reads.
    unsafe extern "C" fn seq_start(
        seq: *mut bindings::seq_file,
        pos: *mut bindings::loff_t,
    ) -> *mut c_void {
        // SAFETY: By the safety requirements.
        let (this, pos) = unsafe { (Self::from_seq(seq), *pos) };
        let mut snap = this.snapshot.lock();
        if pos == 0 || snap.is_none() {
            // Drop the old snapshot first, so that no reader holds two.
            *snap = None;
            match this.ops.snapshot() {
                Ok(s) => *snap = Some(s),
                Err(e) => return e.to_ptr(),
            }
        }
        match &*snap {
            Some(s) => this.record(s, pos),
            None => core::ptr::null_mut(),
        }
    }

    /// Moves on to record `*pos + 1`.
    ///
    /// # Safety
    ///
    /// `seq` is a live seq_file of a file opened by [`Self::open`], and `pos` is valid for
    /// reads and writes.
    unsafe extern "C" fn seq_next(
        seq: *mut bindings::seq_file,
        _v: *mut c_void,
        pos: *mut bindings::loff_t,
    ) -> *mut c_void {
        // SAFETY: By the safety requirements.
        let this = unsafe { Self::from_seq(seq) };
        // SAFETY: By the safety requirements; seq_file requires the position to advance, also
        // at the end.
        let pos = unsafe {
            *pos = (*pos).saturating_add(1);
            *pos
        };
        match &*this.snapshot.lock() {
            Some(s) => this.record(s, pos),
            None => core::ptr::null_mut(),
        }
    }

    /// Ends a read; the snapshot stays for the next read through the same open file.
    extern "C" fn seq_stop(_seq: *mut bindings::seq_file, _v: *mut c_void) {}

    /// Prints a record through [`FileOps::show`].
    ///
    /// # Safety
    ///
    /// `seq` is a live seq_file of a file opened by [`Self::open`], used only by this thread
    /// during the call, and `v` was returned by [`Self::seq_start`] or [`Self::seq_next`].
    unsafe extern "C" fn seq_show(seq: *mut bindings::seq_file, v: *mut c_void) -> c_int {
        let Some(seq) = NonNull::new(seq) else {
            return EINVAL.to_errno();
        };
        // SAFETY: By the safety requirements.
        let this = unsafe { Self::from_seq(seq.as_ptr()) };
        // INVARIANT: By the safety requirements, `seq` is live and only used by this thread
        // until `show` returns.
        let mut out = SeqOut {
            seq,
            _seq: PhantomData,
        };
        let index = v.addr().wrapping_sub(1);
        let r = match &*this.snapshot.lock() {
            Some(s) if index < this.ops.records(s) => this.ops.show(s, index, &mut out),
            _ => Err(EINVAL),
        };
        match r {
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
        // A longer write is short.
        let count = count.min(MAX_WRITE);
        match this.write_buf(UserPtr::from_ptr(buf.cast_mut().cast()), count) {
            // `count` is at most `MAX_WRITE`, so it fits.
            Ok(()) => count as isize,
            Err(e) => e.to_errno() as isize,
        }
    }

    fn write_buf(&self, buf: UserPtr, count: usize) -> Result {
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
        drop(this);
        // SAFETY: `file` was opened with `seq_open`.
        unsafe { bindings::seq_release(inode, file) }
    }
}
