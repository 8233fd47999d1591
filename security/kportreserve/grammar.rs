// SPDX-License-Identifier: GPL-2.0-only

//! The text form of the policy: the lines that the policy file takes and shows.
//!
//! A policy line is one of:
//!
//! ```text
//! PORTS[/PROTO] PROGRAM          add a rule
//! delete PORTS[/PROTO] PROGRAM   remove that rule
//! clear                          remove every rule
//! lock                           refuse every later change until reboot
//! # comment                      (as are blank lines)
//! ```
//!
//! `PORTS` is a port or a range `FIRST-LAST` of ports from 1 to 65535; `PROTO` is `tcp` or
//! `udp` (both when absent); `PROGRAM` is an absolute, normalised path or `<kernel>`.
//!
//! A path is a string of bytes. In its text form, `\ooo` (a backslash and exactly three octal
//! digits, `\001` to `\377`) stands for one byte, so that a path can hold any byte but NUL:
//! the text that the policy file shows escapes the bytes up to `0x20` (controls and space),
//! `0x7f` and the backslash, and writes every other byte, including bytes from `0x80` up, as
//! it is. Written back, it gives the same path, byte for byte.
//!
//! Parsing allocates nothing but the growth of the caller's buffer for a decoded path, which
//! a caller reuses from line to line: a policy load costs no allocation per line.

use crate::limits::{
    KERNEL_PROGRAM,
    MAX_LINE,
    MAX_PATH, //
};
use kernel::{
    alloc::KVec,
    prelude::*, //
};

/// The longest policy line, in bytes, with its path escaped: [`MAX_LINE`] with 3 more bytes
/// for each byte of the longest path, which can all be escapes (`\ooo`, 4 bytes).
///
/// Every line that reading the policy file shows (or `delete` before it) fits.
pub(crate) const MAX_TEXT_LINE: usize = MAX_LINE + 3 * MAX_PATH;

/// The protocols of a rule, as a bit set of `1 << Proto`.
pub(crate) const PROTO_TCP: u8 = 1;
/// See [`PROTO_TCP`].
pub(crate) const PROTO_UDP: u8 = 2;
/// Both protocols: a rule without a `/tcp` or `/udp` suffix.
pub(crate) const PROTO_ALL: u8 = PROTO_TCP | PROTO_UDP;

/// A rule as a line states it. Its program is `<kernel>`, or the path that [`parse_line`] left
/// in the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Spec {
    pub(crate) first: u16,
    pub(crate) last: u16,
    pub(crate) protos: u8,
    /// The program is `<kernel>`.
    pub(crate) kernel: bool,
    /// The [`hash`] of the program's bytes (the path, or `<kernel>`), for the caller's tables.
    pub(crate) hash: u32,
}

/// One parsed policy line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Line {
    Add(Spec),
    Delete(Spec),
    Clear,
    Lock,
}

/// Why a policy line was refused; printed in the kernel log.
pub(crate) type ParseError = &'static str;

/// The [`ParseError`] of a line that could not be decoded for want of memory, not for its
/// text: the write fails with `ENOMEM`, not `EINVAL`.
pub(crate) const OUT_OF_MEMORY: ParseError = "out of memory";

/// True for a path byte that the text form writes as an escape, `\ooo`: the controls, space,
/// DEL and the backslash itself.
pub(crate) fn is_escaped(b: u8) -> bool {
    b <= b' ' || b == 0x7f || b == b'\\'
}

/// Passes the text form of `path` to `out`, in pieces: runs of bytes that stand for
/// themselves, and escapes.
pub(crate) fn escape_path(path: &[u8], out: &mut impl FnMut(&[u8])) {
    let mut rest = path;
    while let Some(i) = rest.iter().position(|&b| is_escaped(b)) {
        let (run, tail) = rest.split_at(i);
        if !run.is_empty() {
            out(run);
        }
        if let Some((&b, tail)) = tail.split_first() {
            out(&[
                b'\\',
                b'0' + (b >> 6),
                b'0' + ((b >> 3) & 7),
                b'0' + (b & 7),
            ]);
            rest = tail;
        }
    }
    if !rest.is_empty() {
        out(rest);
    }
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn parse_port(s: &[u8]) -> core::result::Result<u16, ParseError> {
    if s.is_empty() || s.len() > 5 || !s.iter().all(u8::is_ascii_digit) {
        return Err("a port is a decimal number");
    }
    if s.len() > 1 && s[0] == b'0' {
        return Err("a port has no leading zeros");
    }
    let v = s.iter().fold(0u32, |v, &d| v * 10 + u32::from(d - b'0'));
    match u16::try_from(v) {
        Ok(0) => Err("port 0 cannot be reserved"),
        Ok(p) => Ok(p),
        Err(_) => Err("a port is at most 65535"),
    }
}

fn parse_ports(s: &[u8]) -> core::result::Result<(u16, u16, u8), ParseError> {
    let (range, protos) = match s.iter().position(|&b| b == b'/') {
        None => (s, PROTO_ALL),
        Some(i) => (
            &s[..i],
            match &s[i + 1..] {
                b"tcp" => PROTO_TCP,
                b"udp" => PROTO_UDP,
                _ => return Err("the protocol is tcp or udp"),
            },
        ),
    };
    let (first, last) = match range.iter().position(|&b| b == b'-') {
        None => {
            let p = parse_port(range)?;
            (p, p)
        }
        Some(i) => (parse_port(&range[..i])?, parse_port(&range[i + 1..])?),
    };
    if first > last {
        return Err("a port range goes from low to high");
    }
    Ok((first, last, protos))
}

/// FNV-1a, of a decoded path: [`Spec::hash`].
pub(crate) fn hash(bytes: &[u8]) -> u32 {
    bytes.iter().fold(FNV_BASIS, |h, &b| fnv(h, b))
}

const FNV_BASIS: u32 = 0x811c_9dc5;

#[inline]
fn fnv(h: u32, b: u8) -> u32 {
    (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
}

/// Decodes a program path into `out` and checks it, in one pass over its text (see the
/// module documentation). Returns the [`hash`] of the decoded path.
fn parse_path(s: &[u8], out: &mut KVec<u8>) -> core::result::Result<u32, ParseError> {
    out.clear();
    // The path is never longer than its text.
    out.reserve(s.len(), GFP_KERNEL)
        .map_err(|_| OUT_OF_MEMORY)?;
    let mut h = FNV_BASIS;
    // The length of the current component, and whether it is all dots.
    let (mut comp, mut dots) = (0usize, true);
    // Checks one decoded byte, which goes at `at` in the path.
    let mut check = |b: u8, at: usize| -> core::result::Result<(), ParseError> {
        if at == 0 && b != b'/' {
            return Err("the program is an absolute path or <kernel>");
        }
        if b == b'/' {
            // The component that this slash ends: none before the first slash.
            if at > 0 && (comp == 0 || (dots && comp <= 2)) {
                return Err("the program path is not normalised (//, /./ or /../)");
            }
            comp = 0;
            dots = true;
        } else {
            comp += 1;
            dots &= b == b'.';
        }
        h = fnv(h, b);
        Ok(())
    };
    let mut rest = s;
    loop {
        // A run of bytes that stand for themselves, checked, then copied at once.
        let mut n = 0;
        while let Some(&b) = rest.get(n) {
            if b == b'\\' || b < 0x20 || b == 0x7f {
                break;
            }
            check(b, out.len() + n)?;
            n += 1;
        }
        out.extend_from_slice(&rest[..n], GFP_KERNEL)
            .map_err(|_| OUT_OF_MEMORY)?;
        let Some((&c, tail)) = rest[n..].split_first() else {
            break;
        };
        if c != b'\\' {
            return Err("the program path has a control character (escape it: \\ooo)");
        }
        let digits = match tail.get(..3) {
            Some(d) if d.iter().all(|d| (b'0'..=b'7').contains(d)) => d,
            _ => return Err("a backslash starts an escape of 3 octal digits, \\ooo"),
        };
        let value = digits
            .iter()
            .fold(0u32, |v, &d| v * 8 + u32::from(d - b'0'));
        let b = match u8::try_from(value) {
            Ok(0) => return Err("\\000 (NUL) cannot be in a path"),
            Ok(b) => b,
            Err(_) => return Err("an escape is \\001 to \\377"),
        };
        check(b, out.len())?;
        out.push(b, GFP_KERNEL).map_err(|_| OUT_OF_MEMORY)?;
        rest = tail.get(3..).unwrap_or(&[]);
    }
    if out.is_empty() {
        return Err("the program is an absolute path or <kernel>");
    }
    if out.len() > MAX_PATH {
        return Err("the program path is too long");
    }
    if out.len() > 1 && comp == 0 {
        return Err("the program path ends with /");
    }
    // The last component: `/` alone has an empty one.
    if comp == 0 || (dots && comp <= 2) {
        return Err("the program path is not normalised (//, /./ or /../)");
    }
    Ok(h)
}

/// Parses one line (without its newline). Returns `None` for a blank or comment line. The path
/// of a rule's program is decoded into `path`, whose allocation the caller may reuse.
pub(crate) fn parse_line(
    line: &[u8],
    path: &mut KVec<u8>,
) -> core::result::Result<Option<Line>, ParseError> {
    if line.len() > MAX_TEXT_LINE {
        return Err("the line is too long");
    }
    if line.contains(&0) {
        return Err("the line has a NUL byte");
    }
    // The words, up to a comment, in one pass.
    let mut words: [&[u8]; 4] = [&[]; 4];
    let mut n = 0;
    let mut i = 0;
    while i < line.len() {
        if is_blank(line[i]) {
            i += 1;
            continue;
        }
        if line[i] == b'#' {
            break;
        }
        let start = i;
        while i < line.len() && !is_blank(line[i]) {
            i += 1;
        }
        if n == words.len() {
            return Err("trailing garbage");
        }
        words[n] = &line[start..i];
        n += 1;
    }
    let mut spec = |ports: &[u8], program: &[u8]| -> core::result::Result<Spec, ParseError> {
        let (first, last, protos) = parse_ports(ports)?;
        let kernel = program == KERNEL_PROGRAM;
        let hash = if kernel {
            hash(KERNEL_PROGRAM)
        } else {
            parse_path(program, path)?
        };
        Ok(Spec {
            first,
            last,
            protos,
            kernel,
            hash,
        })
    };
    match (n, words[0]) {
        (0, _) => Ok(None),
        (1, b"clear") => Ok(Some(Line::Clear)),
        (1, b"lock") => Ok(Some(Line::Lock)),
        (3, b"delete") => Ok(Some(Line::Delete(spec(words[1], words[2])?))),
        (2, w) if w.first().is_some_and(u8::is_ascii_digit) => {
            Ok(Some(Line::Add(spec(words[0], words[1])?)))
        }
        (1, w) if w.first().is_some_and(u8::is_ascii_digit) => Err("the program is missing"),
        (_, w) if w.first().is_some_and(u8::is_ascii_digit) => Err("trailing garbage"),
        _ => Err("unknown command"),
    }
}
