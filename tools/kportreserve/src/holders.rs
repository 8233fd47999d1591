// SPDX-License-Identifier: GPL-2.0

//! Who holds a port: the sockets of `/proc/net/{tcp,tcp6,udp,udp6}`, and the processes whose
//! file descriptors refer to them (`/proc/PID/fd`), with their program (`/proc/PID/exe`).
//!
//! `/proc/net` shows the sockets of the reader's network namespace only.

use crate::text::Proto;
use std::{
    collections::HashMap,
    fs,
    net::{
        Ipv4Addr,
        Ipv6Addr, //
    },
    os::unix::ffi::OsStrExt,
    path::Path,
};

/// A socket bound to a local port.
#[derive(Clone, Debug)]
pub(crate) struct Socket {
    pub(crate) proto: Proto,
    pub(crate) addr: String,
    pub(crate) port: u16,
    pub(crate) state: &'static str,
    pub(crate) inode: u64,
}

/// A process that has a socket open.
#[derive(Clone, Debug)]
pub(crate) struct Process {
    pub(crate) pid: u32,
    pub(crate) comm: String,
    /// The program, as `/proc/PID/exe` shows it (without a ` (deleted)` suffix).
    pub(crate) exe: Option<Vec<u8>>,
    /// The effective user and group IDs.
    pub(crate) uid: Option<u32>,
    pub(crate) gid: Option<u32>,
}

fn tcp_state(s: u8) -> &'static str {
    match s {
        0x01 => "ESTAB",
        0x02 => "SYN-SENT",
        0x03 => "SYN-RECV",
        0x04 => "FIN-WAIT-1",
        0x05 => "FIN-WAIT-2",
        0x06 => "TIME-WAIT",
        0x07 => "CLOSE",
        0x08 => "CLOSE-WAIT",
        0x09 => "LAST-ACK",
        0x0a => "LISTEN",
        0x0b => "CLOSING",
        _ => "UNKNOWN",
    }
}

/// An address of `/proc/net/*`: 8 or 32 hex digits, each group of 8 a 32-bit word in the
/// byte order of the machine.
fn parse_addr(hex: &str) -> Option<String> {
    let mut bytes = Vec::new();
    for i in (0..hex.len()).step_by(8) {
        let w = u32::from_str_radix(hex.get(i..i + 8)?, 16).ok()?;
        bytes.extend_from_slice(&w.to_ne_bytes());
    }
    match bytes.len() {
        4 => Some(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string()),
        16 => {
            let a: [u8; 16] = bytes.try_into().ok()?;
            Some(format!("[{}]", Ipv6Addr::from(a)))
        }
        _ => None,
    }
}

/// The sockets of one `/proc/net` table.
fn parse_table(text: &str, proto: Proto) -> Vec<Socket> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (addr, port) = f.get(1)?.split_once(':')?;
            let state = u8::from_str_radix(f.get(3)?, 16).ok()?;
            Some(Socket {
                proto,
                addr: parse_addr(addr)?,
                port: u16::from_str_radix(port, 16).ok()?,
                state: match proto {
                    Proto::Tcp => tcp_state(state),
                    // UDP: 1 is connected, 7 unconnected.
                    Proto::Udp if state == 0x01 => "ESTAB",
                    Proto::Udp => "UNCONN",
                },
                inode: f.get(9)?.parse().ok()?,
            })
        })
        .collect()
}

/// Every socket bound to a local port, of `protos`.
pub(crate) fn sockets(protos: &[Proto]) -> Vec<Socket> {
    let mut v = Vec::new();
    for &proto in protos {
        for v6 in ["", "6"] {
            let file = format!("/proc/net/{}{}", proto.name(), v6);
            if let Ok(text) = fs::read_to_string(&file) {
                v.extend(parse_table(&text, proto));
            }
        }
    }
    v.retain(|s| s.port != 0);
    v
}

/// The processes that have each of `inodes` open, by socket inode.
pub(crate) fn processes(inodes: &[u64]) -> HashMap<u64, Vec<Process>> {
    let mut found: HashMap<u64, Vec<Process>> = HashMap::new();
    if inodes.is_empty() {
        return found;
    }
    let Ok(dir) = fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let mut mine: Vec<u64> = fds
            .flatten()
            .filter_map(|fd| {
                let link = fs::read_link(fd.path()).ok()?;
                let s = link.to_str()?;
                s.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
            })
            .filter(|i| inodes.contains(i))
            .collect();
        mine.sort_unstable();
        mine.dedup();
        if mine.is_empty() {
            continue;
        }
        let p = process(pid, &entry.path());
        for i in mine {
            found.entry(i).or_default().push(p.clone());
        }
    }
    found
}

fn process(pid: u32, dir: &Path) -> Process {
    let comm = fs::read_to_string(dir.join("comm"))
        .map(|c| c.trim_end().to_string())
        .unwrap_or_default();
    let exe = fs::read_link(dir.join("exe")).ok().map(|p| {
        let b = p.as_os_str().as_bytes();
        b.strip_suffix(b" (deleted)").unwrap_or(b).to_vec()
    });
    let status = fs::read_to_string(dir.join("status")).unwrap_or_default();
    // The second of the four IDs is the effective one.
    let id = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    Process {
        pid,
        comm,
        exe,
        uid: id("Uid:"),
        gid: id("Gid:"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_tables() {
        let tcp = concat!(
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt",
            "   uid  timeout inode\n",
            "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000",
            "     0        0 12345 1 0000000000000000 100 0 0 10 0\n",
        );
        let s = parse_table(tcp, Proto::Tcp);
        assert_eq!(s.len(), 1);
        assert_eq!(
            (s[0].addr.as_str(), s[0].port, s[0].state, s[0].inode),
            ("127.0.0.1", 8080, "LISTEN", 12345)
        );
        let udp6 = concat!(
            "  sl  local_address                         remote_address",
            "                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout",
            " inode ref pointer drops\n",
            "  1: 00000000000000000000000001000000:0035 00000000000000000000000000000000:0000",
            " 07 00000000:00000000 00:00000000 00000000     0        0 999 2 0000000000000000 0\n",
        );
        let s = parse_table(udp6, Proto::Udp);
        assert_eq!(
            (s[0].addr.as_str(), s[0].port, s[0].state, s[0].inode),
            ("[::1]", 53, "UNCONN", 999)
        );
    }
}
