// SPDX-License-Identifier: GPL-2.0

//! An owned pointer published to RCU readers.
//!
//! C header: [`include/linux/rcupdate.h`](srctree/include/linux/rcupdate.h)

use crate::{
    alloc::KBox,
    sync::{
        atomic::{
            Acquire,
            Atomic,
            Full, //
        },
        rcu,
    },
};
use core::{
    marker::PhantomData,
    ptr, //
};

/// A [`KBox<T>`] that RCU readers dereference without locks while a writer replaces it.
///
/// This is the `rcu_dereference()` / `rcu_assign_pointer()` / `synchronize_rcu()` pattern: a
/// reader holds an [`rcu::Guard`] and gets a shared reference that stays valid for as long as
/// the guard; a writer swaps in a new value and frees the old one only after a grace period,
/// when no reader can still see it.
///
/// Writers that need read-modify-write semantics must serialise among themselves; concurrent
/// [`RcuBox::replace`] calls are memory-safe but one may undo the other.
///
/// # Invariants
///
/// `ptr` is either null or a pointer obtained from [`KBox::into_raw`] that this object owns.
/// A value that was unpublished is only dropped after an RCU grace period.
///
/// # Examples
///
/// ```
/// use kernel::sync::{rcu, RcuBox};
///
/// let cfg: RcuBox<u32> = RcuBox::new();
/// assert!(cfg.get(&rcu::read_lock()).is_none());
/// cfg.replace(Some(KBox::new(42, GFP_KERNEL)?));
/// assert_eq!(cfg.get(&rcu::read_lock()), Some(&42));
/// cfg.replace(None);
/// assert!(cfg.get(&rcu::read_lock()).is_none());
/// # Ok::<(), Error>(())
/// ```
pub struct RcuBox<T> {
    ptr: Atomic<*mut T>,
    _owns: PhantomData<(KBox<T>, *mut T)>,
}

// SAFETY: An `RcuBox<T>` owns a `KBox<T>`, which may be sent to another thread if `T: Send`.
unsafe impl<T: Send> Send for RcuBox<T> {}

// SAFETY: A shared `RcuBox<T>` hands out `&T` to any thread (needs `T: Sync`) and lets any
// thread drop the previous value in `replace` (needs `T: Send`).
unsafe impl<T: Send + Sync> Sync for RcuBox<T> {}

impl<T> RcuBox<T> {
    /// Creates an empty [`RcuBox`]; usable in a `static`.
    pub const fn new() -> Self {
        // INVARIANT: Null is allowed.
        Self {
            ptr: Atomic::new(ptr::null_mut()),
            _owns: PhantomData,
        }
    }

    /// Returns the published value, valid for as long as the RCU read lock is held.
    #[inline]
    pub fn get<'a>(&'a self, _guard: &'a rcu::Guard) -> Option<&'a T> {
        let p = self.ptr.load(Acquire);
        // SAFETY: By the type invariants, `p` is null or points to a live `T` that is freed
        // only after a grace period; `_guard` proves that the caller is inside an RCU read-side
        // critical section that lasts for at least `'a`. The acquire load pairs with the full
        // barrier in `replace`, so the pointee is fully initialised.
        unsafe { p.as_ref() }
    }

    /// Publishes `new` (or nothing) and frees the previous value after a grace period.
    ///
    /// # Context
    ///
    /// Process context; sleeps in [`rcu::synchronize_rcu`] when there was a previous value.
    pub fn replace(&self, new: Option<KBox<T>>) {
        let new = new.map_or(ptr::null_mut(), KBox::into_raw);
        // INVARIANT: `new` is null or comes from `KBox::into_raw`; it is owned from now on.
        let old = self.ptr.xchg(new, Full);
        if !old.is_null() {
            rcu::synchronize_rcu();
            // SAFETY: `old` came from `KBox::into_raw` (type invariants) and was unpublished by
            // the exchange above; after the grace period no reader can still hold it.
            drop(unsafe { KBox::from_raw(old) });
        }
    }
}

impl<T> Default for RcuBox<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Drop for RcuBox<T> {
    fn drop(&mut self) {
        let p = *self.ptr.get_mut();
        if !p.is_null() {
            // SAFETY: `&mut self` means that no reader holds a reference from `get` any more
            // (they borrow `self`), and `p` is owned by the type invariants.
            drop(unsafe { KBox::from_raw(p) });
        }
    }
}
