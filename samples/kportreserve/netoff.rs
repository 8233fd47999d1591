// SPDX-License-Identifier: GPL-2.0

//! `netoff`: runs a program without network access.
//!
//! ```text
//! netoff [--] PROGRAM [ARGS...]
//! ```
//!
//! It calls `prctl(PR_SET_NETWORK, PR_NETWORK_OFF)`, which kportreserve implements, and then
//! executes PROGRAM, which with everything it starts can no longer open new network
//! communication (local `AF_UNIX` and `AF_NETLINK` sockets still work). No exec of PROGRAM or
//! its descendants can gain privileges (no_new_privs is set too).
//!
//! Build: `rustc --edition 2021 -O -C target-feature=+crt-static netoff.rs`.

use std::{
    env,
    ffi::OsString,
    io,
    os::unix::process::CommandExt,
    process::{
        self,
        Command, //
    },
};

const PR_SET_NETWORK: i32 = 82;
const PR_GET_NETWORK: i32 = 83;
const PR_NETWORK_OFF: u64 = 1;
const LSM_LIST: &str = "/sys/kernel/security/lsm";

extern "C" {
    fn prctl(option: i32, ...) -> i32;
}

fn usage() -> ! {
    eprintln!(
        "Usage: netoff [--] PROGRAM [ARGS...]\n\
         Runs PROGRAM with new network access disabled (kportreserve disablenetwork).\n\
         PROGRAM and every process it starts cannot create network sockets, bind, connect,\n\
         listen or send to an address; AF_UNIX and AF_NETLINK stay usable. The setting\n\
         cannot be undone, and exec can no longer grant privileges (no_new_privs)."
    );
    process::exit(2);
}

/// Explains why `PR_SET_NETWORK` is not available.
fn why_unsupported() -> String {
    match std::fs::read_to_string(LSM_LIST) {
        Ok(list) if list.split(',').any(|l| l.trim() == "kportreserve") => {
            "kportreserve is enabled but refused the request".into()
        }
        Ok(list) => format!(
            "the kportreserve LSM is not enabled (active LSMs: {}); \
             add it to the lsm= boot parameter or CONFIG_LSM",
            list.trim()
        ),
        Err(_) => "this kernel lacks kportreserve (no securityfs LSM list to check)".into(),
    }
}

fn main() {
    let mut args: Vec<OsString> = env::args_os().skip(1).collect();
    match args.first().and_then(|a| a.to_str()) {
        None => usage(),
        Some("-h") | Some("--help") => usage(),
        Some("--") => {
            args.remove(0);
            if args.is_empty() {
                usage();
            }
        }
        Some(a) if a.starts_with('-') => {
            eprintln!("netoff: unknown option {a}");
            usage();
        }
        Some(_) => {}
    }

    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { prctl(PR_SET_NETWORK, PR_NETWORK_OFF, 0u64, 0u64, 0u64) };
    if rc != 0 {
        let err = io::Error::last_os_error();
        eprintln!(
            "netoff: cannot disable network access: {err}: {}",
            why_unsupported()
        );
        process::exit(126);
    }
    // SAFETY: As above.
    let flags = unsafe { prctl(PR_GET_NETWORK, 0u64, 0u64, 0u64, 0u64) };
    if flags < 0 || flags as u64 & PR_NETWORK_OFF == 0 {
        eprintln!("netoff: network access is still enabled; refusing to run the program");
        process::exit(126);
    }

    let err = Command::new(&args[0]).args(&args[1..]).exec();
    eprintln!("netoff: cannot run {}: {err}", args[0].to_string_lossy());
    process::exit(if err.kind() == io::ErrorKind::NotFound {
        127
    } else {
        126
    });
}
