// SPDX-License-Identifier: GPL-2.0-only

//! kportreserve: reserves local ports for given programs, and lets a task give up new network
//! access (disablenetwork).
//!
//! See `Documentation/admin-guide/LSM/kportreserve.rst` and
//! `Documentation/userspace-api/kportreserve.rst`.

use kernel::{
    fs::File,
    lsm::{
        self,
        Binprm,
        Context,
        Sock,
        SockAddr, //
        Socket,
    },
    prelude::*,
    task::Task, //
};

mod audit;
mod boot;
mod cred;
mod draft;
mod fs;
mod grammar;
mod identity;
mod limits;
mod net;
mod netoff;
mod policy;
mod ptrace;

const __LOG_PREFIX: &[u8] = b"kportreserve\0";

/// The LSM.
pub(crate) struct KPortReserve;

type Cx<'a> = Context<'a, KPortReserve>;

impl lsm::Hooks for KPortReserve {
    // The socket hooks run on every socket(), bind(), connect() and send with an address, and
    // their common case is a test or two: `#[inline]` lets the compiler fold each into the
    // adapter that the LSM framework calls, one call fewer per hook.
    type Cred = cred::KprCred;

    #[inline]
    fn socket_create(
        cx: &mut Cx<'_>,
        family: i32,
        _kind: i32,
        _protocol: i32,
        kern: bool,
    ) -> Result {
        netoff::socket_create(netoff::is_off(cx), family, kern)
            .inspect_err(audit::network_denied("socket_create"))
    }

    #[inline]
    fn socket_bind(cx: &mut Cx<'_>, sock: &Socket, addr: &SockAddr<'_>) -> Result {
        net::socket_bind(cx, sock, addr)
    }

    #[inline]
    fn socket_connect(cx: &mut Cx<'_>, sock: &Socket, _addr: &SockAddr<'_>) -> Result {
        netoff::socket_use(netoff::is_off(cx), sock).inspect_err(audit::network_denied("connect"))
    }

    #[inline]
    fn socket_listen(cx: &mut Cx<'_>, sock: &Socket) -> Result {
        netoff::socket_use(netoff::is_off(cx), sock).inspect_err(audit::network_denied("listen"))
    }

    #[inline]
    fn inet_port_reserved(net: &lsm::Net, port: u16) -> bool {
        net::inet_port_reserved(net, port)
    }

    #[inline]
    fn inet_bind_port(cx: &mut Cx<'_>, sk: &Sock, port: u16) -> Result {
        net::inet_bind_port(cx, sk, port)
    }

    #[inline]
    fn socket_sendmsg(
        cx: &mut Cx<'_>,
        sock: &Socket,
        addr: Option<&SockAddr<'_>>,
        flags: u32,
    ) -> Result {
        netoff::socket_sendmsg(netoff::is_off(cx), sock, addr, flags)
            .inspect_err(audit::network_denied("sendmsg"))
    }

    fn tun_dev_create(cx: &mut Cx<'_>) -> Result {
        netoff::tun_dev_use(netoff::is_off(cx)).inspect_err(audit::network_denied("tun"))
    }

    fn tun_dev_open(cx: &mut Cx<'_>) -> Result {
        netoff::tun_dev_use(netoff::is_off(cx)).inspect_err(audit::network_denied("tun"))
    }

    fn tun_dev_attach_queue(cx: &mut Cx<'_>) -> Result {
        netoff::tun_dev_use(netoff::is_off(cx)).inspect_err(audit::network_denied("tun"))
    }

    fn sctp_bind_connect(cx: &mut Cx<'_>, sk: &Sock, optname: i32, _addr: &SockAddr<'_>) -> Result {
        // A peer's address changes run in softirq, with an unrelated current task.
        if !netoff::sctp_is_user_option(optname) {
            return Ok(());
        }
        netoff::sctp_bind_connect(netoff::is_off(cx), sk)
            .inspect_err(audit::network_denied("sctp_bind_connect"))
    }

    #[cfg(CONFIG_KEYS)]
    fn key_alloc(cx: &mut Cx<'_>, key: &lsm::Key, cred: &cred::KprCred) -> Result {
        let off = cred.network_off() || netoff::is_off(cx);
        netoff::key_alloc(off, key.type_name().to_bytes())
            .inspect_err(audit::network_denied("key_alloc"))
    }

    fn task_prctl(cx: &mut Cx<'_>, option: i32, args: [usize; 4]) -> Option<Result<i32>> {
        netoff::task_prctl(cx, option, args)
    }

    fn bprm_creds_for_exec(cx: &mut Cx<'_>, bprm: &mut Binprm<'_, Self>) -> Result {
        // The boot policy is in force before pid 1's program, the first, runs.
        if kernel::current!().tgid() == 1 {
            boot::exec_by_init();
        }
        netoff::bprm_creds_for_exec(cx, bprm);
        identity::bprm_creds_for_exec(cx, bprm)
    }

    fn bprm_creds_from_file(cx: &mut Cx<'_>, bprm: &mut Binprm<'_, Self>, file: &File) -> Result {
        identity::bprm_creds_from_file(cx, bprm, file)
    }

    fn ptrace_access_check(cx: &mut Cx<'_>, child: &Task, mode: u32) -> Result {
        ptrace::access_check(cx, child, mode)
    }

    fn ptrace_traceme(cx: &mut Cx<'_>, parent: &Task) -> Result {
        ptrace::traceme(cx, parent)
    }

    fn uring_sqpoll(cx: &mut Cx<'_>) -> Result {
        netoff::uring_sqpoll(cx)
    }

    fn uring_override_creds(cx: &mut Cx<'_>, new: &cred::KprCred) -> Result {
        netoff::uring_override_creds(cx, new)
            .inspect_err(audit::network_denied("uring_override_creds"))
    }
}

kernel::define_lsm! {
    type: KPortReserve,
    name: c"kportreserve",
    id: lsm::id::KPORTRESERVE,
    hooks: [
        socket_create,
        socket_bind,
        socket_connect,
        socket_listen,
        inet_port_reserved,
        inet_bind_port,
        socket_sendmsg,
        tun_dev_create,
        tun_dev_open,
        tun_dev_attach_queue,
        sctp_bind_connect,
        #[cfg(CONFIG_KEYS)]
        key_alloc,
        task_prctl,
        bprm_creds_for_exec,
        bprm_creds_from_file,
        ptrace_access_check,
        ptrace_traceme,
        #[cfg(CONFIG_IO_URING)]
        uring_sqpoll,
        #[cfg(CONFIG_IO_URING)]
        uring_override_creds,
    ],
    init: init,
    initcall_fs: fs::init,
}

fn init() -> Result {
    pr_info!("Up and running.\n");
    Ok(())
}
