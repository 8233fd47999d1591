// SPDX-License-Identifier: GPL-2.0

//! Linux Security Modules written in Rust.
//!
//! An LSM implements [`Hooks`] and declares itself with [`define_lsm!`](crate::define_lsm),
//! which emits the `struct lsm_info` in `.lsm_info.init`, the hook list in
//! `.data..ro_after_init`, the blob sizes and an init function that registers the hooks. The
//! hooks receive safe views of their arguments ([`Socket`], [`Sock`], [`SockAddr`], [`Binprm`],
//! [`Task`]) and a [`Context`], through which alone they reach their per-credential state.
//!
//! C header: [`include/linux/lsm_hooks.h`](srctree/include/linux/lsm_hooks.h)

use crate::sync::atomic::{
    Atomic,
    Relaxed, //
};
use crate::{
    bindings,
    error::VTABLE_DEFAULT_ERROR,
    fs::File,
    prelude::*,
    str::CStr,
    sync::rcu,
    task::Task,
    types::Opaque, //
};
use core::marker::PhantomData;

#[doc(hidden)]
pub use bindings::{
    lsm_blob_sizes,
    lsm_info,
    lsm_order_LSM_ORDER_MUTABLE,
    security_add_hooks,
    security_hook_list,
    security_list_options,
    static_calls_table, //
};

/// LSM identifiers from `include/uapi/linux/lsm.h`.
pub mod id {
    /// kportreserve.
    pub const KPORTRESERVE: u64 = crate::bindings::LSM_ID_KPORTRESERVE as u64;
}

/// The name and number of an LSM (`struct lsm_id`).
#[repr(transparent)]
pub struct Id(bindings::lsm_id);

// SAFETY: `lsm_id` only holds a pointer to a `'static` C string and a number; it is never
// mutated.
unsafe impl Sync for Id {}

impl Id {
    /// Creates an LSM id with the given name and number (see [`id`]).
    #[expect(
        clippy::disallowed_methods,
        reason = "`as_char_ptr` cannot be called in a const fn"
    )]
    pub const fn new(name: &'static CStr, id: u64) -> Self {
        Self(bindings::lsm_id {
            name: name.as_ptr().cast(),
            id,
        })
    }

    /// Returns the C `struct lsm_id`.
    pub const fn as_ptr(&self) -> *const bindings::lsm_id {
        &self.0
    }
}

/// Per-credential state of an LSM, kept in the credential's security blob.
///
/// The blob is zeroed when a credential is allocated (so the all-zero value must be valid and
/// need no drop, as [`Zeroable`] says), cloned from the old credential when a new one is
/// prepared (`cred_prepare`, `cred_transfer`), and dropped when the credential is freed
/// (`cred_free`). The state is thus inherited across `fork()`, `exec()` and every credential
/// change.
///
/// # Context
///
/// `clone` may be called in atomic context and must not sleep or allocate with `GFP_KERNEL`;
/// `drop` may run from an RCU callback in softirq context and must not sleep either (dropping an
/// [`Arc`](crate::sync::Arc) or a `KBox` is fine).
pub trait CredBlob: Zeroable + Clone + Send + Sync + 'static {}

impl CredBlob for () {}

/// A word of per-task flags of an LSM, kept in the task's security blob.
///
/// It is zero for the first task; a new task (process or thread) starts with
/// [`Hooks::task_flags_on_fork`] of its creator's flags or'ed with those of its creator's
/// thread group leader (so flags set on a leader reach every thread, also one being created
/// at that moment). Unlike the credential, other tasks may
/// read it, and the task may change it at any time, so its bits are set atomically.
#[repr(transparent)]
pub struct TaskFlags(Atomic<u32>);

// SAFETY: `Atomic<u32>` has the layout of a `u32`, for which all zeroes is a valid value.
unsafe impl Zeroable for TaskFlags {}

impl TaskFlags {
    /// The flags.
    #[inline]
    pub fn get(&self) -> u32 {
        self.0.load(Relaxed)
    }

    /// Sets the flags in `bits`; nothing clears them.
    #[inline]
    pub fn set(&self, bits: u32) {
        let mut old = self.get();
        while old & bits != bits {
            match self.0.cmpxchg(old, old | bits, Relaxed) {
                Ok(_) => break,
                Err(cur) => old = cur,
            }
        }
    }
}

/// The hooks of an LSM.
///
/// [`define_lsm!`](crate::define_lsm) registers the hooks that it lists; each of those must be
/// implemented (the default bodies fail the build when they are used).
pub trait Hooks: Sized + 'static {
    /// The LSM's per-credential state.
    type Cred: CredBlob;

    /// `socket_create`: may the current task create a socket? `kern` is true for kernel
    /// sockets.
    fn socket_create(
        _cx: &mut Context<'_, Self>,
        _family: i32,
        _kind: i32,
        _protocol: i32,
        _kern: bool,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `socket_bind`: may the current task bind `sock` to `addr`?
    fn socket_bind(_cx: &mut Context<'_, Self>, _sock: &Socket, _addr: &SockAddr<'_>) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `socket_connect`: may the current task connect `sock` to `addr`?
    fn socket_connect(_cx: &mut Context<'_, Self>, _sock: &Socket, _addr: &SockAddr<'_>) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `socket_listen`: may the current task listen on `sock`?
    fn socket_listen(_cx: &mut Context<'_, Self>, _sock: &Socket) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `inet_port_reserved`: must automatic port selection skip `port` in `net`?
    ///
    /// # Context
    ///
    /// Atomic: called with spinlocks held, for each candidate port.
    fn inet_port_reserved(_net: &Net, _port: u16) -> bool {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `inet_bind_port`: may `sk` take the explicit local `port` (never 0)?
    ///
    /// Called where an inet bind takes its port: for user and kernel sockets alike, with the
    /// port that a cgroup BPF program may have rewritten.
    ///
    /// # Context
    ///
    /// May be atomic (`bpf_bind()` runs inside a BPF program): must not sleep.
    fn inet_bind_port(_cx: &mut Context<'_, Self>, _sk: &Sock, _port: u16) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `socket_sendmsg`: may the current task send on `sock`, to `addr` if one is given?
    fn socket_sendmsg(
        _cx: &mut Context<'_, Self>,
        _sock: &Socket,
        _addr: Option<&SockAddr<'_>>,
        _flags: u32,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `tun_dev_create`: may the current task create a tun/tap device?
    ///
    /// # Context
    ///
    /// Called with the RTNL mutex held.
    fn tun_dev_create(_cx: &mut Context<'_, Self>) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `tun_dev_open`: may the current task attach to an existing tun/tap device
    /// (`TUNSETIFF`)?
    ///
    /// # Context
    ///
    /// Called with the RTNL mutex held.
    fn tun_dev_open(_cx: &mut Context<'_, Self>) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `tun_dev_attach_queue`: may the current task attach a queue to a tun/tap device
    /// (`TUNSETQUEUE` with `IFF_ATTACH_QUEUE`)?
    ///
    /// # Context
    ///
    /// Called with the RTNL mutex held.
    fn tun_dev_attach_queue(_cx: &mut Context<'_, Self>) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `sctp_bind_connect`: may the current task bind or connect the SCTP socket `sk` to the
    /// addresses in `addr` (`optname` is `SCTP_SOCKOPT_BINDX_ADD`, `SCTP_SOCKOPT_CONNECTX`,
    /// `SCTP_PRIMARY_ADDR`, `SCTP_SET_PEER_PRIMARY_ADDR`, `SCTP_PARAM_*` or
    /// `SCTP_SENDMSG_CONNECT`)?
    fn sctp_bind_connect(
        _cx: &mut Context<'_, Self>,
        _sk: &Sock,
        _optname: i32,
        _addr: &SockAddr<'_>,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `key_alloc`: may a key be allocated for a task with credential `cred` (the requester of
    /// `request_key()`, or the caller of `add_key()`)?
    #[cfg(CONFIG_KEYS)]
    fn key_alloc(_cx: &mut Context<'_, Self>, _key: &Key, _cred: &Self::Cred) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `task_prctl`: handles `option` if it belongs to this LSM.
    ///
    /// Returns `None` for options that are not this LSM's, so that others may handle them.
    fn task_prctl(
        _cx: &mut Context<'_, Self>,
        _option: i32,
        _args: [usize; 4],
    ) -> Option<Result<i32>> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `bprm_creds_for_exec`: called once per `execve()` with the file it names.
    fn bprm_creds_for_exec(_cx: &mut Context<'_, Self>, _bprm: &mut Binprm<'_, Self>) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `bprm_creds_from_file`: called with the final binary (the interpreter for scripts), from
    /// `begin_new_exec()` before its point of no return: an error fails the `execve()`.
    fn bprm_creds_from_file(
        _cx: &mut Context<'_, Self>,
        _bprm: &mut Binprm<'_, Self>,
        _file: &File,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `ptrace_access_check`: may the current task access `child` in `mode` (`PTRACE_MODE_*`)?
    ///
    /// Besides `ptrace()`, this guards `/proc/PID/mem`, `process_vm_writev()`, `pidfd_getfd()`
    /// and the other ways of inspecting or controlling another task.
    ///
    /// # Context
    ///
    /// Atomic: called with the child's task lock held.
    fn ptrace_access_check(_cx: &mut Context<'_, Self>, _child: &Task, _mode: u32) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `ptrace_traceme`: may `parent` trace the current task?
    ///
    /// # Context
    ///
    /// Atomic: called with `tasklist_lock` held.
    fn ptrace_traceme(_cx: &mut Context<'_, Self>, _parent: &Task) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// The [`TaskFlags`] of a task that the current task creates, from the current task's.
    fn task_flags_on_fork(flags: u32) -> u32 {
        flags
    }

    /// `uring_sqpoll`: may the current task create an io_uring with a polling thread
    /// (`IORING_SETUP_SQPOLL`), which submits with the creator's credentials of that moment?
    fn uring_sqpoll(_cx: &mut Context<'_, Self>) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `uring_override_creds`: may an io_uring request of the current task run with `new`?
    fn uring_override_creds(_cx: &mut Context<'_, Self>, _new: &Self::Cred) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// Where the LSM framework put an LSM's blobs. Implemented by [`define_lsm!`](crate::define_lsm).
///
/// # Safety
///
/// `blob_sizes` returns the `lsm_blob_sizes` that was registered in the LSM's `lsm_info`, with
/// `lbs_cred` requested as `size_of::<Self::Cred>()` and `lbs_task` as
/// `size_of::<TaskFlags>()`.
#[doc(hidden)]
pub unsafe trait Declared: Hooks {
    /// The blob sizes, rewritten to offsets by the framework at boot.
    fn blob_sizes() -> *const bindings::lsm_blob_sizes;
}

/// Returns where `T`'s flags are in the security blob of `task`.
///
/// # Safety
///
/// `task` is a live task and `T`'s hooks are registered (the offsets are final).
#[inline]
unsafe fn task_flags_ptr<T: Declared>(task: *const bindings::task_struct) -> *mut TaskFlags {
    // SAFETY: `blob_sizes` points to the registered sizes, rewritten at boot and read-only after.
    let off = unsafe { (*T::blob_sizes()).lbs_task } as usize;
    // SAFETY: `task` is live (safety requirements); the framework allocated its blob with room
    // for the flags at `off`, since `T` asked for them.
    unsafe { (*task).security.cast::<u8>().add(off).cast() }
}

/// Returns where `T`'s state is in the security blob of `cred`.
///
/// # Safety
///
/// `cred` is a live credential.
#[inline]
unsafe fn cred_blob_ptr<T: Declared>(cred: *const bindings::cred) -> *mut T::Cred {
    // SAFETY: `blob_sizes` points to the registered sizes, rewritten at boot and read-only after.
    let off = unsafe { (*T::blob_sizes()).lbs_cred } as usize;
    // SAFETY: `cred` is live (safety requirements); the framework allocated its blob with room
    // for `T::Cred` at `off`.
    unsafe { (*cred).security.cast::<u8>().add(off).cast() }
}

/// The context of a running hook of the LSM `T`: the proof that `T` is registered and enabled,
/// and the only way to reach `T`'s per-credential state.
///
/// The framework turns the blob sizes that an LSM asks for into offsets only when the LSM is
/// enabled, so the blob accessors are sound only inside the hooks of an enabled LSM. A context
/// is created by the adapters of [`define_lsm!`](crate::define_lsm) alone, for the duration of
/// one hook call on the current task, and cannot be sent to another thread.
///
/// # Invariants
///
/// `T`'s hooks are registered, so `T::blob_sizes()` holds offsets; the context lives on the stack
/// of a hook call on the current task.
pub struct Context<'a, T: Hooks> {
    _p: PhantomData<(&'a (), *mut T)>,
}

impl<T: Declared> Context<'_, T> {
    /// # Safety
    ///
    /// Called only by an adapter of a hook of `T` that the framework called.
    #[inline]
    unsafe fn new() -> Self {
        // INVARIANT: By the safety requirements.
        Self { _p: PhantomData }
    }

    /// The LSM's state in the current task's subjective credential.
    ///
    /// The reference is valid while the context is borrowed: the current credential is only
    /// replaced by the task itself, and [`Context::commit_cred`] needs the context mutably.
    #[inline]
    pub fn cred(&self) -> &T::Cred {
        // SAFETY: The current task's credential is live while the task runs, and stays so while
        // `self` is borrowed (see above).
        let cred = unsafe { bindings::current_cred() };
        // SAFETY: `cred` is live, and by the type invariants the offsets are final; its blob was
        // zeroed or cloned, so it holds a valid `T::Cred`, never changed once committed.
        unsafe { &*cred_blob_ptr::<T>(cred) }
    }

    /// The LSM's flags of the current task.
    #[inline]
    pub fn task_flags(&self) -> &TaskFlags {
        // SAFETY: The current task is live while it runs; by the type invariants the offsets are
        // final.
        unsafe { &*task_flags_ptr::<T>(bindings::get_current()) }
    }

    /// The LSM's flags of the leader of the current task's thread group, which the whole
    /// process shares.
    #[inline]
    pub fn leader_task_flags(&self) -> &TaskFlags {
        // SAFETY: The current task is live. Its `group_leader` changes only when the current
        // task itself execs, and the leader is released only after every other thread of the
        // group, so it outlives this borrow of the current task's context.
        unsafe { &*task_flags_ptr::<T>((*bindings::get_current()).group_leader) }
    }

    /// The LSM's flags of `task` and of the leader of its thread group, or'ed (only its own
    /// for a task that was already released).
    pub fn group_task_flags_of(&self, task: &Task) -> u32 {
        let _guard = rcu::read_lock();
        // SAFETY: `task` is live. The helper returns its leader only while `task` is not yet
        // released (`pid_alive()`), and a released leader is freed only after an RCU grace
        // period that starts after that, so it stays live inside this RCU read-side critical
        // section; otherwise it returns `task`. The offsets are final (type invariants).
        unsafe {
            let leader = bindings::lsm_task_group_leader(task.as_ptr());
            (*task_flags_ptr::<T>(task.as_ptr())).get() | (*task_flags_ptr::<T>(leader)).get()
        }
    }

    /// Calls `f` with the LSM's state in `task`'s objective credential (`real_cred`), read under
    /// RCU.
    ///
    /// # Context
    ///
    /// `f` runs in an RCU read-side critical section: it must not sleep.
    pub fn with_task_cred<R>(&self, task: &Task, f: impl FnOnce(&T::Cred) -> R) -> R {
        let _guard = rcu::read_lock();
        // SAFETY: `task` is live; `rcu_dereference()` of its `real_cred` is valid inside the RCU
        // read-side critical section, which outlives the use below.
        let cred = unsafe { bindings::lsm_task_real_cred(task.as_ptr()) };
        // SAFETY: As in `cred`; the credential stays live until the guard is dropped.
        f(unsafe { &*cred_blob_ptr::<T>(cred) })
    }

    /// Changes the LSM's state of the current task: prepares new credentials, lets `f` modify
    /// the blob and commits them, or discards them if `f` fails.
    ///
    /// # Context
    ///
    /// Process context, no locks held: it allocates and may sleep.
    pub fn commit_cred(&mut self, f: impl FnOnce(&mut T::Cred) -> Result) -> Result {
        // SAFETY: Called in process context.
        let new = unsafe { bindings::prepare_creds() };
        if new.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: `new` is a fresh credential that only this thread sees until it is committed,
        // with a blob cloned by `cred_prepare`.
        let blob = unsafe { &mut *cred_blob_ptr::<T>(new) };
        match f(blob) {
            Ok(()) => {
                // SAFETY: `new` came from `prepare_creds` and was not committed before; this
                // consumes our reference.
                unsafe { bindings::commit_creds(new) };
                Ok(())
            }
            Err(e) => {
                // SAFETY: As above; `abort_creds` drops the unused credential.
                unsafe { bindings::abort_creds(new) };
                Err(e)
            }
        }
    }
}

/// Returns true if the current thread is ptracing another task.
///
/// Tracees come and go concurrently (a child may call `PTRACE_TRACEME`, a tracee may exit), so
/// the result is a snapshot; only the thread itself attaches to a task that did not ask for it
/// (`PTRACE_ATTACH`, `PTRACE_SEIZE`).
pub fn current_is_tracing() -> bool {
    // SAFETY: Reads the current task's own list head, as `list_empty_careful()` allows without
    // the lock.
    unsafe { bindings::lsm_current_is_tracing() }
}

/// Returns true if a thread of the current process is ptracing another task (a snapshot, see
/// [`current_is_tracing`]).
pub fn current_group_is_tracing() -> bool {
    // SAFETY: The helper walks the current thread group under RCU.
    unsafe { bindings::lsm_current_group_is_tracing() }
}

/// Sets `no_new_privs` on every thread of the current process, as seccomp's TSYNC does.
pub fn set_current_group_no_new_privs() {
    // SAFETY: The helper walks the current thread group under RCU; the flag is an atomic bit.
    unsafe { bindings::lsm_current_group_set_no_new_privs() };
}

/// Runs `f` with the current process's `cred_guard_mutex` held, which `execve()` of any of
/// its threads holds from `check_unsafe_exec()` to its end, so that `f` sees no exec half
/// done (seccomp's TSYNC takes it for the same reason).
///
/// # Errors
///
/// `EINTR` if a fatal signal arrives while waiting for the mutex.
///
/// # Context
///
/// Process context, no locks held: it may sleep.
pub fn with_current_cred_guard<R>(f: impl FnOnce() -> R) -> Result<R> {
    // SAFETY: Process context (see above).
    crate::error::to_result(unsafe { bindings::lsm_lock_current_cred_guard() })?;
    let r = f();
    // SAFETY: Taken above by this thread.
    unsafe { bindings::lsm_unlock_current_cred_guard() };
    Ok(r)
}

/// The effective user and group IDs of the current task's subjective credential, as the initial
/// user namespace sees them: `(euid, egid)`.
///
/// Every ID maps into the initial user namespace, so neither is ever `(uid_t)-1`. The
/// credential of a task in a user namespace is seen as the host sees it, which its namespace
/// cannot change.
#[inline]
pub fn current_init_ns_ids() -> (u32, u32) {
    let (mut uid, mut gid) = (0, 0);
    // SAFETY: The current task's subjective credential is live while it runs, and its IDs are
    // never changed once it is committed; the helper writes the two IDs and nothing else.
    unsafe { bindings::lsm_current_init_ns_ids(&mut uid, &mut gid) };
    (uid, gid)
}

/// Returns true if the current task is a kernel thread (`PF_KTHREAD`), e.g. a workqueue worker.
pub fn current_is_kthread() -> bool {
    // SAFETY: Reads the current task's own flags.
    unsafe { bindings::lsm_current_is_kthread() }
}

/// Sets `no_new_privs` on the current task: its `execve()` calls never grant privileges again.
pub fn set_current_no_new_privs() {
    // SAFETY: The current task may always set its own no_new_privs flag.
    unsafe { bindings::task_set_no_new_privs(bindings::get_current()) };
}

/// Returns true if the current task has `cap` in the initial user namespace (`capable()`),
/// and marks the task as having used it.
pub fn capable(cap: u32) -> bool {
    // SAFETY: `capable` has no preconditions.
    unsafe { bindings::capable(cap as c_int) }
}

/// A network socket (`struct sock`) as an LSM hook sees it.
///
/// # Invariants
///
/// References only come from `Sock::from_raw`, for a live `struct sock`.
#[repr(transparent)]
pub struct Sock(Opaque<bindings::sock>);

// The fields of `struct sock` that `Sock` reads must be where the C compiler put them. A
// member that bindgen misses (an anonymous tagged struct, as `socket_lock_t` had) shifts
// every field after it, in some configurations only: fail the build instead.
const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<bindings::sock>() == bindings::SOCK_SIZE);
    assert!(offset_of!(bindings::sock, sk_type) == bindings::SOCK_SK_TYPE);
    assert!(offset_of!(bindings::sock, sk_protocol) == bindings::SOCK_SK_PROTOCOL);
};

impl Sock {
    /// # Safety
    ///
    /// `ptr` is a live `struct sock` for the duration of `'a`.
    #[inline]
    unsafe fn from_raw<'a>(ptr: *const bindings::sock) -> &'a Self {
        // SAFETY: `Sock` is a transparent wrapper; the caller guarantees liveness.
        unsafe { &*ptr.cast() }
    }

    #[inline]
    fn as_ptr(&self) -> *const bindings::sock {
        self.0.get()
    }

    /// The address family (`AF_*`).
    ///
    /// It is read once, as `READ_ONCE()` does: `setsockopt(IPV6_ADDRFORM)` may change it
    /// concurrently from `AF_INET6` to `AF_INET`.
    #[inline]
    pub fn family(&self) -> u16 {
        // SAFETY: The socket is live (type invariants).
        unsafe { bindings::lsm_sk_family(self.as_ptr()) }
    }

    /// The socket type (`SOCK_STREAM`, `SOCK_DGRAM`, ...), fixed at creation.
    #[inline]
    pub fn kind(&self) -> u16 {
        // SAFETY: The socket is live (type invariants); `sk_type` never changes after creation.
        unsafe { (*self.as_ptr()).sk_type }
    }

    /// The protocol (`IPPROTO_TCP`, ...), fixed at creation.
    #[inline]
    pub fn protocol(&self) -> u16 {
        // SAFETY: The socket is live (type invariants); `sk_protocol` never changes after
        // creation.
        unsafe { (*self.as_ptr()).sk_protocol }
    }

    /// True for a socket created by the kernel for its own use (`sock_create_kern()`).
    #[inline]
    pub fn is_kernel(&self) -> bool {
        // SAFETY: The socket is live (type invariants); the bit is set at creation.
        unsafe { (*self.as_ptr()).sk_kern_sock() != 0 }
    }

    /// True if the socket belongs to the initial network namespace.
    #[inline]
    pub fn in_init_net(&self) -> bool {
        // SAFETY: The socket is live (type invariants) and holds a reference on its namespace.
        unsafe { bindings::lsm_net_is_init(bindings::lsm_sk_net(self.as_ptr())) }
    }

    /// The local port in host order for an inet socket; 0 while it is unbound.
    #[inline]
    pub fn local_port(&self) -> u16 {
        // SAFETY: The socket is live (type invariants).
        unsafe { bindings::lsm_sk_local_port(self.as_ptr()) }
    }
}

/// A network namespace (`struct net`) as an LSM hook sees it.
///
/// # Invariants
///
/// References only come from `Net::from_raw`, for a live namespace.
#[repr(transparent)]
pub struct Net(Opaque<bindings::net>);

impl Net {
    /// # Safety
    ///
    /// `ptr` is a live network namespace, which stays live for `'a`.
    #[inline]
    unsafe fn from_raw<'a>(ptr: *const bindings::net) -> &'a Self {
        // SAFETY: `Net` is a transparent wrapper; the caller guarantees liveness.
        unsafe { &*ptr.cast() }
    }

    /// True for the initial network namespace, `init_net`.
    #[inline]
    pub fn is_init(&self) -> bool {
        // SAFETY: The namespace is live (type invariants).
        unsafe { bindings::lsm_net_is_init(self.0.get()) }
    }
}

/// A socket (`struct socket`) as an LSM hook sees it.
///
/// # Invariants
///
/// References only come from `Socket::from_raw`, for a live socket with a `sk`.
#[repr(transparent)]
pub struct Socket(Opaque<bindings::socket>);

impl Socket {
    /// # Safety
    ///
    /// `ptr` is a live socket with a `sk` for the duration of `'a`.
    #[inline]
    unsafe fn from_raw<'a>(ptr: *mut bindings::socket) -> &'a Self {
        // SAFETY: `Socket` is a transparent wrapper; the caller guarantees liveness.
        unsafe { &*ptr.cast() }
    }

    /// The network socket.
    #[inline]
    pub fn sk(&self) -> &Sock {
        // SAFETY: By the type invariants, the socket is live and has a `sk`, which lives as long
        // as the socket.
        unsafe { Sock::from_raw((*self.0.get()).sk) }
    }

    /// The address family (`AF_*`); see [`Sock::family`].
    #[inline]
    pub fn family(&self) -> u16 {
        self.sk().family()
    }

    /// True for a kernel socket; see [`Sock::is_kernel`].
    #[inline]
    pub fn is_kernel(&self) -> bool {
        self.sk().is_kernel()
    }
}

/// A key being allocated (`struct key`), as the `key_alloc` hook sees it.
///
/// # Invariants
///
/// References only come from `Key::from_raw`, for a live key with a type.
#[cfg(CONFIG_KEYS)]
#[repr(transparent)]
pub struct Key(Opaque<bindings::key>);

#[cfg(CONFIG_KEYS)]
impl Key {
    /// # Safety
    ///
    /// `ptr` is a live key with a type for the duration of `'a`.
    unsafe fn from_raw<'a>(ptr: *const bindings::key) -> &'a Self {
        // SAFETY: `Key` is a transparent wrapper; the caller guarantees liveness.
        unsafe { &*ptr.cast() }
    }

    /// The name of the key's type (`"user"`, `"dns_resolver"`, ...).
    pub fn type_name(&self) -> &CStr {
        // SAFETY: By the type invariants, the key is live with a type, whose name is a static C
        // string (key types are registered statically or by modules that outlive their keys).
        unsafe { CStr::from_char_ptr(bindings::lsm_key_type_name(self.0.get())) }
    }
}

/// A socket address passed to `bind()`, `connect()` or `sendmsg()`, as the kernel copied it.
///
/// # Examples
///
/// ```
/// use kernel::lsm::SockAddr;
///
/// // A `struct sockaddr_in` for 127.0.0.1 port 10000: the family in host order, then the
/// // port in network order.
/// let family = (kernel::bindings::AF_INET as u16).to_ne_bytes();
/// let raw = [family[0], family[1], 0x27, 0x10, 127, 0, 0, 1];
/// let addr = SockAddr::from_bytes(&raw);
/// assert_eq!(addr.family(), Some(kernel::bindings::AF_INET as u16));
/// assert_eq!(addr.inet_port(), Some(10000));
/// // Too short to hold a port.
/// assert_eq!(SockAddr::from_bytes(&raw[..3]).inet_port(), None);
/// assert_eq!(SockAddr::from_bytes(&[]).family(), None);
/// ```
///
/// # Invariants
///
/// Unless `ptr` is null or `len <= 0`, `ptr` is valid for reads of `len` bytes for `'a`.
#[derive(Clone, Copy)]
pub struct SockAddr<'a> {
    ptr: *const u8,
    len: c_int,
    _p: PhantomData<&'a [u8]>,
}

impl<'a> SockAddr<'a> {
    /// # Safety
    ///
    /// Unless `ptr` is null or `len <= 0`, `ptr` is valid for reads of `len` bytes for `'a`.
    ///
    /// Nothing is checked or read here: most hooks never look at the address, and the adapters
    /// run on every `bind()`, `connect()` and send with an address.
    #[inline]
    unsafe fn from_raw(ptr: *const c_void, len: c_int) -> Self {
        // INVARIANT: By the safety requirements.
        Self {
            ptr: ptr.cast(),
            len,
            _p: PhantomData,
        }
    }

    /// Wraps raw address bytes, for tests.
    #[inline]
    pub fn from_bytes(bytes: &'a [u8]) -> Self {
        // INVARIANT: `bytes` is valid for `'a`; a longer slice than `c_int` allows is cut short.
        Self {
            ptr: bytes.as_ptr(),
            len: c_int::try_from(bytes.len()).unwrap_or(c_int::MAX),
            _p: PhantomData,
        }
    }

    /// The address, as bytes.
    #[inline]
    fn bytes(&self) -> &'a [u8] {
        match usize::try_from(self.len) {
            Ok(len) if len > 0 && !self.ptr.is_null() => {
                // SAFETY: By the type invariants.
                unsafe { core::slice::from_raw_parts(self.ptr, len) }
            }
            _ => &[],
        }
    }

    /// The address family, if the address is long enough to have one.
    #[inline]
    pub fn family(&self) -> Option<u16> {
        let b = self.bytes();
        Some(u16::from_ne_bytes([*b.first()?, *b.get(1)?]))
    }

    /// The port (host order) of a `sockaddr_in` or `sockaddr_in6` layout, which both keep it
    /// in bytes 2 and 3; `None` if the address is too short.
    #[inline]
    pub fn inet_port(&self) -> Option<u16> {
        let b = self.bytes();
        Some(u16::from_be_bytes([*b.get(2)?, *b.get(3)?]))
    }

    /// The port (host order) of the transport address in a `struct sockaddr_rxrpc`, where an
    /// `AF_RXRPC` socket names the UDP port it binds; `None` if the address is too short.
    #[inline]
    pub fn rxrpc_transport_port(&self) -> Option<u16> {
        let at = core::mem::offset_of!(bindings::sockaddr_rxrpc, transport) + 2;
        let b = self.bytes();
        Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
    }

    /// The length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.bytes().len()
    }

    /// True for an empty address.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.bytes().is_empty()
    }
}

/// An exec in progress (`struct linux_binprm`), with the LSM state of its new credential.
///
/// # Invariants
///
/// `ptr` points to the `linux_binprm` of an exec in progress on the current thread, live for
/// `'a`, with `file` and `cred` set; the new credential is not visible to other threads yet.
pub struct Binprm<'a, T: Hooks> {
    ptr: *mut bindings::linux_binprm,
    _p: PhantomData<(&'a mut bindings::linux_binprm, T)>,
}

impl<T: Declared> Binprm<'_, T> {
    /// The file being executed (`bprm->file`): the file that `execve()` names in
    /// `bprm_creds_for_exec`.
    pub fn file(&self) -> &File {
        // SAFETY: `ptr` is a live binprm whose `file` is open and referenced during the hooks;
        // nobody uses `fdget_pos` on it.
        unsafe { File::from_raw_file((*self.ptr).file) }
    }

    /// True if the exec runs under conditions in which it must not raise privileges, as a
    /// set-user-ID exec would not: the task is being ptraced (`LSM_UNSAFE_PTRACE`), or shares
    /// its file system state with another process (`LSM_UNSAFE_SHARE`), which could then change
    /// its root or working directory.
    pub fn is_unsafe(&self) -> bool {
        let unsafe_mask = (bindings::LSM_UNSAFE_PTRACE | bindings::LSM_UNSAFE_SHARE) as c_int;
        // SAFETY: `ptr` is live; `unsafe` was computed before the LSM hooks run.
        unsafe { (*self.ptr).unsafe_ & unsafe_mask != 0 }
    }

    /// True if the exec runs an interpreter (a `#!` script or a `binfmt_misc` handler), so that
    /// `bprm_creds_from_file` sees another file than `bprm_creds_for_exec`.
    pub fn is_interpreted(&self) -> bool {
        // SAFETY: `ptr` is live; `interp` starts as `filename` and is replaced by
        // `bprm_change_interp()` only.
        unsafe { (*self.ptr).interp != (*self.ptr).filename }
    }

    /// True if a seccomp filter of the exec'ing task has a user-space notification listener,
    /// whose holder answers the task's system calls and can install file descriptors into it.
    pub fn has_seccomp_listener(&self) -> bool {
        // SAFETY: Called on the exec'ing thread, in process context.
        unsafe { bindings::lsm_current_has_seccomp_listener() }
    }

    /// True if the exec'ing task sees the file system as pid 1 does (the initial user and mount
    /// namespaces, pid 1's root), so that the files the exec loads besides `file()` (the ELF
    /// interpreter, libraries, a script's interpreter, `binfmt_misc` handlers) are the host's.
    pub fn has_host_view(&self) -> bool {
        // SAFETY: Called on the exec'ing thread, in process context.
        unsafe { bindings::lsm_current_has_host_view() }
    }

    /// Makes the exec compute the new program's privileges as under `no_new_privs`: the
    /// capability module then grants no file capabilities. (Setting `no_new_privs` on the task
    /// in a `bprm_creds_for_exec` hook comes too late for that, `check_unsafe_exec()` ran.)
    pub fn set_no_new_privs(&mut self) {
        // SAFETY: `ptr` is live and private to the exec'ing thread.
        unsafe { bindings::lsm_bprm_set_nnp_unsafe(self.ptr) };
    }

    /// Makes the new program run as a set-user-ID program runs: in secure-execution mode
    /// (`AT_SECURE`: the dynamic loader ignores `LD_PRELOAD`, `LD_LIBRARY_PATH` and the like,
    /// and the parent cannot set a death signal), not dumpable (no core dumps, and only
    /// `CAP_SYS_PTRACE` may read its `/proc/PID` files), and without the personality flags
    /// that weaken it (`ADDR_NO_RANDOMIZE`, `READ_IMPLIES_EXEC`, ...).
    pub fn set_privileged(&mut self) {
        // SAFETY: `ptr` is live and private to the exec'ing thread.
        unsafe { bindings::lsm_bprm_set_privileged(self.ptr) };
    }

    /// The LSM state of the credential that the exec will install.
    pub fn cred_mut(&mut self) -> &mut T::Cred {
        // SAFETY: `bprm->cred` is private to the exec'ing thread until it is committed, and the
        // offsets are final (a `Binprm` only exists inside a hook).
        unsafe { &mut *cred_blob_ptr::<T>((*self.ptr).cred) }
    }
}

#[inline]
fn ret(r: Result) -> c_int {
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// The C callbacks that [`define_lsm!`](crate::define_lsm) registers; each turns its arguments
/// into safe views.
#[doc(hidden)]
pub mod adapters {
    use super::*;

    /// Runs `f` with a new [`Context`].
    ///
    /// # Safety
    ///
    /// Called by an adapter of a hook of `T` that the framework called.
    #[inline]
    unsafe fn with_cx<T: Declared, R>(f: impl FnOnce(&mut Context<'_, T>) -> R) -> R {
        // SAFETY: By the safety requirements.
        let mut cx = unsafe { Context::new() };
        f(&mut cx)
    }

    /// # Safety
    ///
    /// Called by the LSM framework.
    pub unsafe extern "C" fn socket_create<T: Declared>(
        family: c_int,
        kind: c_int,
        protocol: c_int,
        kern: c_int,
    ) -> c_int {
        // SAFETY: Called by the framework.
        ret(unsafe {
            with_cx::<T, _>(|cx| T::socket_create(cx, family, kind, protocol, kern != 0))
        })
    }

    /// Calls `hook` with a context and safe views of a socket and an address.
    ///
    /// # Safety
    ///
    /// Called by an adapter of a hook of `T` that the framework called; `sock` is a live socket
    /// and `address` is valid for reads of `addrlen` bytes, for the duration of the call.
    #[inline]
    unsafe fn sock_addr_hook<T: Declared>(
        sock: *mut bindings::socket,
        address: *mut bindings::sockaddr,
        addrlen: c_int,
        hook: impl FnOnce(&mut Context<'_, T>, &Socket, &SockAddr<'_>) -> Result,
    ) -> c_int {
        // SAFETY: By the safety requirements.
        let (sock, addr) = unsafe {
            (
                Socket::from_raw(sock),
                SockAddr::from_raw(address.cast(), addrlen),
            )
        };
        // SAFETY: By the safety requirements.
        ret(unsafe { with_cx(|cx| hook(cx, sock, &addr)) })
    }

    /// # Safety
    ///
    /// Called by the LSM framework with a live socket and an address of `addrlen` bytes.
    pub unsafe extern "C" fn socket_bind<T: Declared>(
        sock: *mut bindings::socket,
        address: *mut bindings::sockaddr,
        addrlen: c_int,
    ) -> c_int {
        // SAFETY: By the safety requirements.
        unsafe { sock_addr_hook::<T>(sock, address, addrlen, T::socket_bind) }
    }

    /// # Safety
    ///
    /// Called by the LSM framework with a live socket and an address of `addrlen` bytes.
    pub unsafe extern "C" fn socket_connect<T: Declared>(
        sock: *mut bindings::socket,
        address: *mut bindings::sockaddr,
        addrlen: c_int,
    ) -> c_int {
        // SAFETY: By the safety requirements.
        unsafe { sock_addr_hook::<T>(sock, address, addrlen, T::socket_connect) }
    }

    /// # Safety
    ///
    /// Called by the LSM framework with a live socket.
    pub unsafe extern "C" fn socket_listen<T: Declared>(
        sock: *mut bindings::socket,
        _backlog: c_int,
    ) -> c_int {
        // SAFETY: By the safety requirements.
        let sock = unsafe { Socket::from_raw(sock) };
        // SAFETY: Called by the framework.
        ret(unsafe { with_cx::<T, _>(|cx| T::socket_listen(cx, sock)) })
    }

    /// # Safety
    ///
    /// Called by the LSM framework with a live network namespace.
    pub unsafe extern "C" fn inet_port_reserved<T: Declared>(
        net: *const bindings::net,
        port: c_ushort,
    ) -> c_int {
        // SAFETY: `net` is live during the hook.
        let net = unsafe { Net::from_raw(net) };
        c_int::from(T::inet_port_reserved(net, port))
    }

    /// # Safety
    ///
    /// Called by the LSM framework with a live `struct sock`.
    pub unsafe extern "C" fn inet_bind_port<T: Declared>(
        sk: *mut bindings::sock,
        port: c_ushort,
    ) -> c_int {
        // SAFETY: By the safety requirements.
        let sk = unsafe { Sock::from_raw(sk) };
        // SAFETY: Called by the framework.
        ret(unsafe { with_cx::<T, _>(|cx| T::inet_bind_port(cx, sk, port)) })
    }

    /// # Safety
    ///
    /// Called by the LSM framework with a live socket and message header.
    pub unsafe extern "C" fn socket_sendmsg<T: Declared>(
        sock: *mut bindings::socket,
        msg: *mut bindings::msghdr,
        _size: c_int,
    ) -> c_int {
        // SAFETY: By the safety requirements, `msg` is live; `msg_name` is null or a kernel
        // copy of `msg_namelen` bytes.
        let (sock, name, flags) = unsafe {
            (
                Socket::from_raw(sock),
                SockAddr::from_raw((*msg).msg_name, (*msg).msg_namelen),
                (*msg).msg_flags,
            )
        };
        let addr = if name.is_empty() { None } else { Some(&name) };
        // SAFETY: Called by the framework.
        ret(unsafe { with_cx::<T, _>(|cx| T::socket_sendmsg(cx, sock, addr, flags)) })
    }

    /// # Safety
    ///
    /// Called by the LSM framework.
    pub unsafe extern "C" fn tun_dev_create<T: Declared>() -> c_int {
        // SAFETY: Called by the framework.
        ret(unsafe { with_cx::<T, _>(|cx| T::tun_dev_create(cx)) })
    }

    /// # Safety
    ///
    /// Called by the LSM framework.
    pub unsafe extern "C" fn tun_dev_open<T: Declared>(_security: *mut c_void) -> c_int {
        // SAFETY: Called by the framework.
        ret(unsafe { with_cx::<T, _>(|cx| T::tun_dev_open(cx)) })
    }

    /// # Safety
    ///
    /// Called by the LSM framework.
    pub unsafe extern "C" fn tun_dev_attach_queue<T: Declared>(_security: *mut c_void) -> c_int {
        // SAFETY: Called by the framework.
        ret(unsafe { with_cx::<T, _>(|cx| T::tun_dev_attach_queue(cx)) })
    }

    /// # Safety
    ///
    /// Called by the LSM framework with a live `struct sock` and `addrlen` bytes of addresses.
    pub unsafe extern "C" fn sctp_bind_connect<T: Declared>(
        sk: *mut bindings::sock,
        optname: c_int,
        address: *mut bindings::sockaddr,
        addrlen: c_int,
    ) -> c_int {
        // SAFETY: By the safety requirements.
        let (sk, addr) = unsafe {
            (
                Sock::from_raw(sk),
                SockAddr::from_raw(address.cast(), addrlen),
            )
        };
        // SAFETY: Called by the framework.
        ret(unsafe { with_cx::<T, _>(|cx| T::sctp_bind_connect(cx, sk, optname, &addr)) })
    }

    /// # Safety
    ///
    /// Called by the LSM framework with a live key and credential.
    #[cfg(CONFIG_KEYS)]
    pub unsafe extern "C" fn key_alloc<T: Declared>(
        key: *mut bindings::key,
        cred: *const bindings::cred,
        _flags: c_ulong,
    ) -> c_int {
        // SAFETY: `key` is live, with its type set, during the hook.
        let key = unsafe { Key::from_raw(key) };
        // SAFETY: `cred` is live during the hook, with final offsets since the framework calls
        // our hook; its blob holds a valid `T::Cred`.
        let blob = unsafe { &*cred_blob_ptr::<T>(cred) };
        // SAFETY: Called by the framework.
        ret(unsafe { with_cx(|cx| T::key_alloc(cx, key, blob)) })
    }

    /// # Safety
    ///
    /// Called by the LSM framework.
    pub unsafe extern "C" fn task_prctl<T: Declared>(
        option: c_int,
        arg2: c_ulong,
        arg3: c_ulong,
        arg4: c_ulong,
        arg5: c_ulong,
    ) -> c_int {
        let args = [arg2, arg3, arg4, arg5];
        // SAFETY: Called by the framework.
        match unsafe { with_cx::<T, _>(|cx| T::task_prctl(cx, option, args)) } {
            None => ENOSYS.to_errno(),
            Some(Ok(v)) => v,
            Some(Err(e)) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by the LSM framework with a live binprm.
    pub unsafe extern "C" fn bprm_creds_for_exec<T: Declared>(
        bprm: *mut bindings::linux_binprm,
    ) -> c_int {
        let mut b = Binprm::<T> {
            ptr: bprm,
            _p: PhantomData,
        };
        // SAFETY: Called by the framework.
        ret(unsafe { with_cx(|cx| T::bprm_creds_for_exec(cx, &mut b)) })
    }

    /// # Safety
    ///
    /// Called by the LSM framework with a live binprm and file.
    pub unsafe extern "C" fn bprm_creds_from_file<T: Declared>(
        bprm: *mut bindings::linux_binprm,
        file: *const bindings::file,
    ) -> c_int {
        let mut b = Binprm::<T> {
            ptr: bprm,
            _p: PhantomData,
        };
        // SAFETY: `file` is `bprm->file` or `bprm->executable`, open and referenced for the
        // duration of the hook; nobody uses `fdget_pos` on it.
        let file = unsafe { File::from_raw_file(file) };
        // SAFETY: Called by the framework.
        ret(unsafe { with_cx(|cx| T::bprm_creds_from_file(cx, &mut b, file)) })
    }

    /// # Safety
    ///
    /// Called by the LSM framework with a live task.
    pub unsafe extern "C" fn ptrace_access_check<T: Declared>(
        child: *mut bindings::task_struct,
        mode: c_uint,
    ) -> c_int {
        // SAFETY: `Task` is a transparent wrapper and `child` is live during the hook.
        let child = unsafe { &*child.cast::<Task>() };
        // SAFETY: Called by the framework.
        ret(unsafe { with_cx::<T, _>(|cx| T::ptrace_access_check(cx, child, mode)) })
    }

    /// # Safety
    ///
    /// Called by the LSM framework with a live task.
    pub unsafe extern "C" fn ptrace_traceme<T: Declared>(
        parent: *mut bindings::task_struct,
    ) -> c_int {
        // SAFETY: `Task` is a transparent wrapper and `parent` is live during the hook.
        let parent = unsafe { &*parent.cast::<Task>() };
        // SAFETY: Called by the framework.
        ret(unsafe { with_cx::<T, _>(|cx| T::ptrace_traceme(cx, parent)) })
    }

    /// # Safety
    ///
    /// Called by the LSM framework.
    pub unsafe extern "C" fn uring_sqpoll<T: Declared>() -> c_int {
        // SAFETY: Called by the framework.
        ret(unsafe { with_cx::<T, _>(|cx| T::uring_sqpoll(cx)) })
    }

    /// # Safety
    ///
    /// Called by the LSM framework with a new task whose blob is zeroed, from its creator.
    pub unsafe extern "C" fn task_alloc<T: Declared>(
        task: *mut bindings::task_struct,
        _clone_flags: u64,
    ) -> c_int {
        // SAFETY: The current task and `task` are live, and the offsets are final since the
        // framework calls our hook; nobody else sees `task`'s blob yet.
        unsafe {
            let cur = bindings::get_current();
            let flags = (*task_flags_ptr::<T>(cur)).get()
                | (*task_flags_ptr::<T>((*cur).group_leader)).get();
            (*task_flags_ptr::<T>(task)).set(T::task_flags_on_fork(flags));
        }
        0
    }

    /// # Safety
    ///
    /// Called by the LSM framework with a live credential.
    pub unsafe extern "C" fn uring_override_creds<T: Declared>(
        new: *const bindings::cred,
    ) -> c_int {
        // SAFETY: `new` is live during the hook; its blob holds a valid `T::Cred`, and the
        // offsets are final since the framework calls our hook.
        let blob = unsafe { &*cred_blob_ptr::<T>(new) };
        // SAFETY: Called by the framework.
        ret(unsafe { with_cx(|cx| T::uring_override_creds(cx, blob)) })
    }

    /// # Safety
    ///
    /// Called by the LSM framework with a new credential and the one it is prepared from.
    pub unsafe extern "C" fn cred_prepare<T: Declared>(
        new: *mut bindings::cred,
        old: *const bindings::cred,
        _gfp: bindings::gfp_t,
    ) -> c_int {
        // SAFETY: Both are live with final offsets; `new` is not visible to others yet and its
        // blob is zeroed, so overwriting it drops nothing.
        unsafe { cred_blob_ptr::<T>(new).write((*cred_blob_ptr::<T>(old)).clone()) };
        0
    }

    /// # Safety
    ///
    /// Called by the LSM framework with a new credential and the one it is prepared from.
    pub unsafe extern "C" fn cred_transfer<T: Declared>(
        new: *mut bindings::cred,
        old: *const bindings::cred,
    ) {
        // SAFETY: As in `cred_prepare`: `new` comes from `cred_alloc_blank()`, zeroed.
        unsafe { cred_blob_ptr::<T>(new).write((*cred_blob_ptr::<T>(old)).clone()) };
    }

    /// # Safety
    ///
    /// Called by the LSM framework with a credential that is being freed.
    pub unsafe extern "C" fn cred_free<T: Declared>(cred: *mut bindings::cred) {
        // SAFETY: The framework calls this once, for a credential with a blob, which holds a
        // valid `T::Cred` (zeroed, or written by `cred_prepare` or `cred_transfer`) that nothing
        // uses any more.
        unsafe { core::ptr::drop_in_place(cred_blob_ptr::<T>(cred)) };
    }
}

/// Declares a built-in LSM.
///
/// `type` implements [`Hooks`]; `hooks` lists the hooks to register, each of which must be
/// implemented. A hook that exists only in some configurations takes a `#[cfg(...)]` attribute
/// in the list. `init` runs from `security_init()`; `initcall_fs` runs as an `fs_initcall`,
/// after securityfs is up. The blob hooks (`cred_prepare`, `cred_transfer`, `cred_free`,
/// `task_alloc`) are always registered.
///
/// ```ignore
/// kernel::define_lsm! {
///     type: MyLsm,
///     name: c"mylsm",
///     id: kernel::lsm::id::KPORTRESERVE,
///     hooks: [socket_bind],
///     init: my_init,
///     initcall_fs: my_fs_init,
/// }
/// ```
#[macro_export]
macro_rules! define_lsm {
    (
        type: $t:ty,
        name: $name:expr,
        id: $id:expr,
        hooks: [$($(#[$hm:meta])* $hook:ident),* $(,)?],
        init: $init:path,
        initcall_fs: $fs:path $(,)?
    ) => {
        const _: () = {
            use $crate::lsm as __lsm;

            static __LSM_ID: __lsm::Id = __lsm::Id::new($name, $id);

            #[link_section = ".data..ro_after_init"]
            static mut __LSM_BLOBS: __lsm::lsm_blob_sizes = __lsm::lsm_blob_sizes {
                lbs_cred: ::core::mem::size_of::<<$t as __lsm::Hooks>::Cred>() as u32,
                lbs_task: ::core::mem::size_of::<__lsm::TaskFlags>() as u32,
                ..::pin_init::zeroed()
            };

            // SAFETY: `__LSM_BLOBS` is the `blobs` of `__LSM_INFO` and `lbs_cred` is the size of
            // the `Cred` type.
            unsafe impl __lsm::Declared for $t {
                fn blob_sizes() -> *const __lsm::lsm_blob_sizes {
                    &raw const __LSM_BLOBS
                }
            }

            const __N: usize = [
                $($(#[$hm])* stringify!($hook),)*
                "cred_prepare",
                "cred_transfer",
                "cred_free",
                "task_alloc",
            ]
            .len();

            #[link_section = ".data..ro_after_init"]
            static mut __LSM_HOOKS: [__lsm::security_hook_list; __N] = [
                $($(#[$hm])* $crate::__lsm_hook!($hook, $t),)*
                $crate::__lsm_hook!(cred_prepare, $t),
                $crate::__lsm_hook!(cred_transfer, $t),
                $crate::__lsm_hook!(cred_free, $t),
                $crate::__lsm_hook!(task_alloc, $t),
            ];

            #[link_section = ".init.text"]
            unsafe extern "C" fn __lsm_init() -> ::core::ffi::c_int {
                // SAFETY: Runs once from `security_init()`, before any hook can run; the hook
                // list and id are statics that live forever.
                unsafe {
                    __lsm::security_add_hooks(
                        (&raw mut __LSM_HOOKS).cast(),
                        __N as ::core::ffi::c_int,
                        __LSM_ID.as_ptr(),
                    )
                };
                match $init() {
                    Ok(()) => 0,
                    Err(e) => e.to_errno(),
                }
            }

            extern "C" fn __lsm_initcall_fs() -> ::core::ffi::c_int {
                match $fs() {
                    Ok(()) => 0,
                    Err(e) => e.to_errno(),
                }
            }

            #[used(compiler)]
            #[link_section = ".lsm_info.init"]
            static mut __LSM_INFO: __lsm::lsm_info = __lsm::lsm_info {
                id: __LSM_ID.as_ptr(),
                order: __lsm::lsm_order_LSM_ORDER_MUTABLE,
                blobs: &raw mut __LSM_BLOBS,
                init: Some(__lsm_init),
                initcall_fs: Some(__lsm_initcall_fs),
                ..::pin_init::zeroed()
            };
        };
    };
}

/// One `security_hook_list` entry of [`define_lsm!`](crate::define_lsm).
#[doc(hidden)]
#[macro_export]
macro_rules! __lsm_hook {
    ($hook:ident, $t:ty) => {
        $crate::lsm::security_hook_list {
            // SAFETY: Only the address of the hook's static call slots is taken; the table is
            // packed, so no reference is formed.
            scalls: unsafe { (&raw mut $crate::lsm::static_calls_table.$hook).cast() },
            hook: $crate::lsm::security_list_options {
                $hook: Some($crate::lsm::adapters::$hook::<$t>),
            },
            lsmid: ::core::ptr::null(),
        }
    };
}

/// Returns true if a message may be printed now, `printk_ratelimit()` style.
pub fn printk_ratelimit() -> bool {
    // SAFETY: The argument is a static C string.
    unsafe { bindings::__printk_ratelimit(c"lsm".as_char_ptr()) != 0 }
}

/// The command name (`comm`) of the current task, NUL-padded.
///
/// Another thread may rename the task at the same time (`prctl(PR_SET_NAME)`, writing
/// `/proc/PID/comm`); the name is copied the way `get_task_comm()` copies it, so the result is a
/// possibly torn but always NUL-terminated name, as C LSMs print it.
pub fn current_comm() -> [u8; 16] {
    let mut buf = [0u8; 16];
    // SAFETY: The current task is live and `buf` is writable for its length.
    unsafe { bindings::lsm_current_comm(buf.as_mut_ptr().cast(), buf.len()) };
    buf
}

/// Writes the path of the current task's executable into the end of `buf` and returns it.
///
/// Returns `None` for kernel threads and when the path does not fit.
///
/// # Context
///
/// Process context.
pub fn current_exe_path(buf: &mut [u8]) -> Option<&[u8]> {
    let len = c_int::try_from(buf.len()).ok()?;
    // SAFETY: The current task is live.
    let file = unsafe { bindings::get_task_exe_file(bindings::get_current()) };
    if file.is_null() {
        return None;
    }
    // SAFETY: `file` is a referenced file and `buf` is writable for `len` bytes.
    let p = unsafe {
        bindings::d_path(
            &(*file).__bindgen_anon_1.f_path,
            buf.as_mut_ptr().cast(),
            len,
        )
    };
    // SAFETY: Drops the reference from `get_task_exe_file`.
    unsafe { bindings::fput(file) };
    if crate::error::from_err_ptr(p).is_err() {
        return None;
    }
    let start = (p as usize).checked_sub(buf.as_ptr() as usize)?;
    let path = buf.get(start..)?;
    let end = path.iter().position(|&b| b == 0)?;
    path.get(..end)
}
