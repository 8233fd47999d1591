// SPDX-License-Identifier: GPL-2.0-only

//! Every bound of kportreserve, in one place.
//!
//! Like [`crate::grammar`], this file is shared with the `kportreservectl` tool: it depends
//! on `core` only.

/// The longest program path in a rule, in bytes (`PATH_MAX` less the NUL).
pub(crate) const MAX_PATH: usize = 4095;

/// The longest policy line, in bytes: a range, a protocol, a command word and a path.
pub(crate) const MAX_LINE: usize = MAX_PATH + 64;

/// The most rules a policy may hold.
pub(crate) const MAX_RULES: usize = 65536;

/// The largest boot policy file, in bytes: 65,536 rules of 256 bytes.
pub(crate) const MAX_BOOT_POLICY: usize = 16 << 20;

/// The number of port numbers; ports are 1 to `NR_PORTS - 1`.
pub(crate) const NR_PORTS: usize = 65536;

/// The name of the program in a rule that reserves ports for kernel sockets only.
pub(crate) const KERNEL_PROGRAM: &[u8] = b"<kernel>";
