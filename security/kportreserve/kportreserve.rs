// SPDX-License-Identifier: GPL-2.0-only

//! kportreserve: reserves local ports for given programs, and lets a task give up new network
//! access (disablenetwork).
//!
//! See `Documentation/admin-guide/LSM/kportreserve.rst` and
//! `Documentation/userspace-api/kportreserve.rst`.

use kernel::{
    lsm::{
        self,
        Binprm,
        SockAddr, //
        Socket,
    },
    prelude::*,
    task::Task, //
};

mod cred;
mod fs;
mod limits;
mod net;
mod netoff;
mod policy;

const __LOG_PREFIX: &[u8] = b"kportreserve\0";

/// The LSM.
pub(crate) struct KPortReserve;

impl lsm::Hooks for KPortReserve {
    type Cred = cred::KprCred;

    fn socket_create(family: i32, _kind: i32, _protocol: i32, kern: bool) -> Result {
        netoff::socket_create(&lsm::current_cred::<Self>(), family, kern)
    }

    fn socket_bind(sock: &Socket, addr: &SockAddr<'_>) -> Result {
        net::socket_bind(sock, addr)
    }

    fn socket_connect(sock: &Socket, _addr: &SockAddr<'_>) -> Result {
        netoff::socket_use(&lsm::current_cred::<Self>(), sock)
    }

    fn socket_listen(sock: &Socket) -> Result {
        netoff::socket_use(&lsm::current_cred::<Self>(), sock)
    }

    fn inet_port_reserved(init_net: bool, port: u16) -> bool {
        net::inet_port_reserved(init_net, port)
    }

    fn socket_sendmsg(sock: &Socket, addr: Option<&SockAddr<'_>>, flags: u32) -> Result {
        netoff::socket_sendmsg(&lsm::current_cred::<Self>(), sock, addr, flags)
    }

    fn task_prctl(option: i32, args: [usize; 4]) -> Option<Result<i32>> {
        netoff::task_prctl(option, args)
    }

    fn bprm_creds_for_exec(bprm: &mut Binprm<'_, Self>) -> Result {
        cred::bprm_creds_for_exec(bprm)
    }

    fn bprm_creds_from_file(bprm: &mut Binprm<'_, Self>) -> Result {
        cred::bprm_creds_from_file(bprm)
    }

    fn ptrace_access_check(child: &Task, mode: u32) -> Result {
        netoff::ptrace_access_check(child, mode)
    }

    fn ptrace_traceme(parent: &Task) -> Result {
        netoff::ptrace_traceme(parent)
    }

    fn uring_override_creds(new: &cred::KprCred) -> Result {
        netoff::uring_override_creds(new)
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
        socket_sendmsg,
        task_prctl,
        bprm_creds_for_exec,
        bprm_creds_from_file,
        ptrace_access_check,
        ptrace_traceme,
        uring_override_creds,
    ],
    init: init,
    initcall_fs: fs::init,
}

fn init() -> Result {
    pr_info!("Up and running.\n");
    Ok(())
}
