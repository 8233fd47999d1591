// SPDX-License-Identifier: GPL-2.0-only

//! The text form of the policy: the lines that the policy file takes and shows.
//!
//! A policy line is one of:
//!
//! ```text
//! PORTS[/PROTO] PROGRAM [user=UID] [group=GID]          add a rule
//! delete PORTS[/PROTO] PROGRAM [user=UID] [group=GID]   remove that rule
//! clear                                                 remove every rule, enforce
//! mode enforcing|permissive                             deny, or only log, what rules refuse
//! lock                                                  refuse every later change until reboot
//! # comment                                             (as are blank lines)
//! ```
//!
//! `PORTS` is a port or a range `FIRST-LAST` of ports from 1 to 65535; `PROTO` is `tcp` or
//! `udp` (both when absent); `PROGRAM` is an absolute, normalised path or `<kernel>`. `UID` and
//! `GID` are decimal IDs of the initial user namespace, 0 to 4294967294, each at most once, in
//! either order (the canonical form has `user=` first); a `<kernel>` rule takes neither.
//!
//! A path is a string of bytes. In its text form, `\ooo` (a backslash and exactly three octal
//! digits, `\001` to `\377`) stands for one byte, so that a path can hold any byte but NUL:
//! the text that the policy file shows escapes the bytes up to `0x20` (controls and space),
//! `0x7f` and the backslash, and writes every other byte, including bytes from `0x80` up, as
//! it is. Written back, it gives the same path, byte for byte.
//!
//! Parsing allocates nothing but the growth of the caller's buffer for a decoded path, which
//! a caller reuses from line to line: a policy load costs no allocation per line.
//!
//! This file is shared, as it is, with the `kportreservectl` tool (`tools/kportreserve/`),
//! which checks and shows policies with the very grammar of the kernel: it depends on `core`
//! and [`crate::limits`] only. The caller's buffer is a [`PathBuf`], the kernel's `KVec<u8>`
//! or a `Vec<u8>`, and a refused line is a [`ParseError`], which the kernel maps to an errno.

use crate::limits::{
    KERNEL_PROGRAM,
    MAX_LINE,
    MAX_PATH, //
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

/// Whom a rule is for besides its program: a user and a group, or anyone (`None`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Who {
    /// The effective user ID, in the initial user namespace.
    pub(crate) user: Option<u32>,
    /// The effective group ID, in the initial user namespace.
    pub(crate) group: Option<u32>,
}

impl Who {
    /// Anyone who runs the program: no qualifier.
    pub(crate) const ANY: Who = Who {
        user: None,
        group: None,
    };

    /// True if a task whose effective IDs are `uid` and `gid` is one of these.
    #[inline]
    pub(crate) fn admits(&self, uid: u32, gid: u32) -> bool {
        self.user.is_none_or(|u| u == uid) && self.group.is_none_or(|g| g == gid)
    }

    /// The qualifier as one integer, for hashing; `u32::MAX`, which is no valid ID, for none.
    pub(crate) fn key(&self) -> u64 {
        (u64::from(self.user.unwrap_or(u32::MAX)) << 32) | u64::from(self.group.unwrap_or(u32::MAX))
    }
}

/// The global mode: whether what the rules refuse is refused, or only logged and counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Mode {
    /// What the rules refuse is refused: the mode of an empty policy.
    #[default]
    Enforcing,
    /// What the rules refuse is logged and counted, and let through.
    Permissive,
}

impl Mode {
    /// The mode's word in a `mode` line.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Mode::Enforcing => "enforcing",
            Mode::Permissive => "permissive",
        }
    }
}

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
    /// The user and group qualifiers, if any.
    pub(crate) who: Who,
}

/// One parsed policy line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Line {
    Add(Spec),
    Delete(Spec),
    Clear,
    Lock,
    Mode(Mode),
}

/// The buffer that [`parse_line`] decodes a program path into: a growable vector of bytes
/// whose growth may fail.
pub(crate) trait PathBuf {
    /// The bytes.
    fn bytes(&self) -> &[u8];
    /// Empties it, keeping its allocation.
    fn clear(&mut self);
    /// Makes room for `additional` more bytes.
    fn reserve(&mut self, additional: usize) -> Result<(), OutOfMemory>;
    /// Appends `bytes`.
    fn extend(&mut self, bytes: &[u8]) -> Result<(), OutOfMemory>;
}

/// A [`PathBuf`] could not grow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OutOfMemory;

/// Why a policy line was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// The path could not be decoded for want of memory, not for its text: the kernel fails
    /// the write with `ENOMEM`. Every other error is `EINVAL`.
    OutOfMemory,
    LineTooLong,
    NulByte,
    TrailingGarbage,
    UnknownCommand,
    MissingProgram,
    PortNotDecimal,
    PortLeadingZero,
    PortZero,
    PortTooHigh,
    RangeReversed,
    BadProtocol,
    NotAbsolute,
    NotNormalised,
    PathTooLong,
    TrailingSlash,
    ControlCharacter,
    BadEscape,
    EscapedNul,
    EscapeTooHigh,
    IdNotDecimal,
    IdLeadingZero,
    IdTooHigh,
    BadQualifier,
    QualifierTwice,
    KernelQualified,
    BadMode,
    ModeWords,
    DeleteWithoutRule,
}

impl ParseError {
    /// What is wrong, as the kernel log says it.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Self::OutOfMemory => "out of memory",
            Self::LineTooLong => "the line is too long",
            Self::NulByte => "the line has a NUL byte",
            Self::TrailingGarbage => "trailing garbage",
            Self::UnknownCommand => "unknown command",
            Self::MissingProgram => "the program is missing",
            Self::PortNotDecimal => "a port is a decimal number",
            Self::PortLeadingZero => "a port has no leading zeros",
            Self::PortZero => "port 0 cannot be reserved",
            Self::PortTooHigh => "a port is at most 65535",
            Self::RangeReversed => "a port range goes from low to high",
            Self::BadProtocol => "the protocol is tcp or udp",
            Self::NotAbsolute => "the program is an absolute path or <kernel>",
            Self::NotNormalised => "the program path is not normalised (//, /./ or /../)",
            Self::PathTooLong => "the program path is too long",
            Self::TrailingSlash => "the program path ends with /",
            Self::ControlCharacter => "the program path has a control character (escape it: \\ooo)",
            Self::BadEscape => "a backslash starts an escape of 3 octal digits, \\ooo",
            Self::EscapedNul => "\\000 (NUL) cannot be in a path",
            Self::EscapeTooHigh => "an escape is \\001 to \\377",
            Self::IdNotDecimal => "a user or group is a decimal ID",
            Self::IdLeadingZero => "an ID has no leading zeros",
            Self::IdTooHigh => "an ID is at most 4294967294",
            Self::BadQualifier => "trailing garbage (a qualifier is user=UID or group=GID)",
            Self::QualifierTwice => "a qualifier is given twice",
            Self::KernelQualified => "a <kernel> rule takes no user or group",
            Self::BadMode => "the mode is enforcing or permissive",
            Self::ModeWords => "mode takes one word: enforcing or permissive",
            Self::DeleteWithoutRule => "delete takes a rule",
        }
    }
}

impl From<OutOfMemory> for ParseError {
    fn from(_: OutOfMemory) -> Self {
        Self::OutOfMemory
    }
}

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

/// The text of a rule, as reading the policy file shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RuleText<'a> {
    pub(crate) first: u16,
    pub(crate) last: u16,
    pub(crate) protos: u8,
    /// The program's path, or `None` for `<kernel>`.
    pub(crate) path: Option<&'a [u8]>,
    /// The user and group qualifiers.
    pub(crate) who: Who,
}

impl RuleText<'_> {
    /// Passes the rule in its canonical text form, the line that reading the policy file
    /// shows (without its newline), to `out`, in a few pieces: the ports with a space, the
    /// program, then the qualifiers, ` user=UID` before ` group=GID`. [`parse_line`] gives the
    /// same rule back.
    pub(crate) fn write(&self, out: &mut impl FnMut(&[u8])) {
        // The longest form is "65534-65535/tcp " (16 bytes).
        let mut buf = [0u8; 16];
        let mut n = put_decimal(&mut buf, 0, self.first);
        if self.last != self.first {
            n = put(&mut buf, n, b"-");
            n = put_decimal(&mut buf, n, self.last);
        }
        n = match self.protos {
            PROTO_TCP => put(&mut buf, n, b"/tcp"),
            PROTO_UDP => put(&mut buf, n, b"/udp"),
            _ => n,
        };
        n = put(&mut buf, n, b" ");
        out(buf.get(..n).unwrap_or(&buf));
        match self.path {
            None => out(KERNEL_PROGRAM),
            Some(path) => escape_path(path, out),
        }
        if self.who == Who::ANY {
            return;
        }
        // The longest form is " user=4294967294 group=4294967294" (33 bytes).
        let mut buf = [0u8; 33];
        let mut n = 0;
        if let Some(uid) = self.who.user {
            n = put(&mut buf, n, b" user=");
            n = put_decimal(&mut buf, n, uid);
        }
        if let Some(gid) = self.who.group {
            n = put(&mut buf, n, b" group=");
            n = put_decimal(&mut buf, n, gid);
        }
        out(buf.get(..n).unwrap_or(&buf));
    }
}

/// Copies `bytes` into `buf` at `at`, as far as they fit; returns where they end.
fn put(buf: &mut [u8], at: usize, bytes: &[u8]) -> usize {
    let end = (at + bytes.len()).min(buf.len());
    if let (Some(dst), Some(src)) = (buf.get_mut(at..end), bytes.get(..end.saturating_sub(at))) {
        dst.copy_from_slice(src);
    }
    end
}

/// Writes `v` in decimal into `buf` at `at`, as [`put`].
fn put_decimal(buf: &mut [u8], at: usize, v: impl Into<u32>) -> usize {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    let mut v = v.into();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    put(buf, at, &digits[i..])
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Where the word that starts at `i` in `line` ends: the index of the first blank or NUL from
/// `i`, or the length of the line. It looks at 8 bytes at a time.
fn word_end(line: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = ONES << 7;
    // The high bit of each byte of `x` that is zero; exact for the lowest one, as a borrow only
    // sets the bits above a zero byte.
    let zeros = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    while let Some(w) = line.get(i..i + 8) {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        let x = u64::from_le_bytes(b);
        let stop = zeros(x ^ (ONES * u64::from(b' '))) | zeros(x ^ (ONES * u64::from(b'\t')));
        let stop = stop | zeros(x);
        if stop != 0 {
            return i + (stop.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = line.get(i) {
        if is_blank(b) || b == 0 {
            break;
        }
        i += 1;
    }
    i
}

fn parse_port(s: &[u8]) -> Result<u16, ParseError> {
    if s.is_empty() || s.len() > 5 || !s.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::PortNotDecimal);
    }
    if s.len() > 1 && s[0] == b'0' {
        return Err(ParseError::PortLeadingZero);
    }
    let v = s.iter().fold(0u32, |v, &d| v * 10 + u32::from(d - b'0'));
    match u16::try_from(v) {
        Ok(0) => Err(ParseError::PortZero),
        Ok(p) => Ok(p),
        Err(_) => Err(ParseError::PortTooHigh),
    }
}

fn parse_ports(s: &[u8]) -> Result<(u16, u16, u8), ParseError> {
    let (range, protos) = match s.iter().position(|&b| b == b'/') {
        None => (s, PROTO_ALL),
        Some(i) => (
            &s[..i],
            match &s[i + 1..] {
                b"tcp" => PROTO_TCP,
                b"udp" => PROTO_UDP,
                _ => return Err(ParseError::BadProtocol),
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
        return Err(ParseError::RangeReversed);
    }
    Ok((first, last, protos))
}

/// Parses the value of a `user=` or `group=` qualifier: a decimal ID, not `(uid_t)-1`.
fn parse_id(s: &[u8]) -> Result<u32, ParseError> {
    if s.is_empty() || s.len() > 10 || !s.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::IdNotDecimal);
    }
    if s.len() > 1 && s[0] == b'0' {
        return Err(ParseError::IdLeadingZero);
    }
    let v = s.iter().fold(0u64, |v, &d| v * 10 + u64::from(d - b'0'));
    match u32::try_from(v) {
        Ok(id) if id != u32::MAX => Ok(id),
        _ => Err(ParseError::IdTooHigh),
    }
}

/// Parses the qualifiers that follow a rule's program.
fn parse_who(words: &[&[u8]]) -> Result<Who, ParseError> {
    let mut who = Who::ANY;
    for w in words {
        let (slot, value) = if let Some(v) = w.strip_prefix(b"user=") {
            (&mut who.user, v)
        } else if let Some(v) = w.strip_prefix(b"group=") {
            (&mut who.group, v)
        } else {
            return Err(ParseError::BadQualifier);
        };
        if slot.is_some() {
            return Err(ParseError::QualifierTwice);
        }
        *slot = Some(parse_id(value)?);
    }
    Ok(who)
}

/// The hash of a program's bytes (a decoded path, or `<kernel>`): [`Spec::hash`], for the
/// caller's tables. It takes 8 bytes at a time, then mixes every bit into the low ones, which
/// the tables use: paths that differ in their last bytes only are common.
pub(crate) fn hash(bytes: &[u8]) -> u32 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(b)).wrapping_mul(K);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        let mut b = [0u8; 8];
        b[..tail.len()].copy_from_slice(tail);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(b)).wrapping_mul(K);
    }
    h ^= h >> 32;
    h = h.wrapping_mul(0xd6e8_feb8_6659_fd93);
    (h ^ (h >> 32)) as u32
}

/// What a byte of a path's text is to [`parse_path`]: a byte that stands for itself and needs
/// no check.
const PLAIN: u8 = 0;
/// See [`PLAIN`]; a dot comes right after [`PLAIN`], for [`parse_plain_rule`].
const DOT: u8 = 1;
/// See [`PLAIN`].
const SLASH: u8 = 2;
/// A backslash, which starts an escape; see [`PLAIN`].
const ESCAPE: u8 = 3;
/// A control byte or DEL, which a path's text must escape; see [`PLAIN`].
const CONTROL: u8 = 4;
/// A space, which ends a word: never in the text of a path; see [`PLAIN`].
const SPACE: u8 = 5;

/// The class of each byte of a path's text.
static CLASS: [u8; 256] = {
    let mut t = [PLAIN; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = CONTROL;
        b += 1;
    }
    t[0x7f] = CONTROL;
    t[b' ' as usize] = SPACE;
    t[b'/' as usize] = SLASH;
    t[b'.' as usize] = DOT;
    t[b'\\' as usize] = ESCAPE;
    t
};

/// Decodes a program path into `out` and checks it, in one pass over its text (see the
/// module documentation). Returns the [`hash`] of the decoded path.
///
/// The common bytes, plain bytes, dots and slashes, take a few instructions each; runs of bytes
/// that stand for themselves are copied at once.
fn parse_path(s: &[u8], out: &mut impl PathBuf) -> Result<u32, ParseError> {
    out.clear();
    // The path is never longer than its text.
    out.reserve(s.len())?;
    // A path starts with a slash, itself or escaped.
    match s.first().map(|&b| CLASS[usize::from(b)]) {
        Some(SLASH | ESCAPE) => {}
        Some(CONTROL) => return Err(ParseError::ControlCharacter),
        _ => return Err(ParseError::NotAbsolute),
    }
    // The text before `run` is decoded into `out`, `flushed` bytes; the rest stands for itself.
    let (mut run, mut flushed) = (0usize, 0usize);
    // Where the current component starts in the decoded path, and whether it is all dots.
    let (mut comp_start, mut dots) = (0usize, true);
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        let (class, at) = match CLASS[usize::from(b)] {
            PLAIN => {
                dots = false;
                i += 1;
                continue;
            }
            DOT => {
                i += 1;
                continue;
            }
            SLASH => {
                i += 1;
                (SLASH, flushed + (i - 1 - run))
            }
            ESCAPE => {
                let digits = match s.get(i + 1..i + 4) {
                    Some(d) if d.iter().all(|d| (b'0'..=b'7').contains(d)) => d,
                    _ => return Err(ParseError::BadEscape),
                };
                let value = digits
                    .iter()
                    .fold(0u32, |v, &d| v * 8 + u32::from(d - b'0'));
                let b = match u8::try_from(value) {
                    Ok(0) => return Err(ParseError::EscapedNul),
                    Ok(b) => b,
                    Err(_) => return Err(ParseError::EscapeTooHigh),
                };
                out.extend(&s[run..i])?;
                out.extend(&[b])?;
                flushed += i - run + 1;
                i += 4;
                run = i;
                let class = match b {
                    b'/' => SLASH,
                    b'.' => DOT,
                    _ => PLAIN,
                };
                (class, flushed - 1)
            }
            // A control byte; a space never gets here, as it ends a word.
            _ => return Err(ParseError::ControlCharacter),
        };
        // A byte that the escape stood for, or a slash: it is at `at` in the decoded path.
        match class {
            SLASH => {
                // The component that this slash ends: none before the first slash.
                let comp = at - comp_start;
                if at > 0 && (comp == 0 || (dots && comp <= 2)) {
                    return Err(ParseError::NotNormalised);
                }
                comp_start = at + 1;
                dots = true;
            }
            _ if at == 0 => return Err(ParseError::NotAbsolute),
            PLAIN => dots = false,
            _ => {}
        }
    }
    out.extend(&s[run..])?;
    let path = out.bytes();
    if path.len() > MAX_PATH {
        return Err(ParseError::PathTooLong);
    }
    let comp = path.len() - comp_start;
    if path.len() > 1 && comp == 0 {
        return Err(ParseError::TrailingSlash);
    }
    // The last component: `/` alone has an empty one.
    if comp == 0 || (dots && comp <= 2) {
        return Err(ParseError::NotNormalised);
    }
    Ok(hash(path))
}

/// A port of 1 to 65535 at `i` in `line`, without a leading zero, and where it ends; `None` for
/// anything else.
#[inline]
fn plain_port(line: &[u8], mut i: usize) -> Option<(u16, usize)> {
    let start = i;
    let mut v = 0u32;
    while let Some(&d) = line.get(i) {
        if !d.is_ascii_digit() || i - start == 5 {
            break;
        }
        v = v * 10 + u32::from(d - b'0');
        i += 1;
    }
    match line.get(start) {
        Some(b'1'..=b'9') if !line.get(i).is_some_and(u8::is_ascii_digit) => {
            Some((u16::try_from(v).ok()?, i))
        }
        _ => None,
    }
}

/// The most common line, `PORTS[/PROTO] PATH` with one or more blanks between them, a path of
/// bytes that need no escape, and nothing after it, parsed in one pass: the rule it adds, and
/// its path, the end of the line. `None` for any other line, and for any error, which
/// [`parse_line`] then finds as for every other line: this takes exactly the lines that it
/// would take, as they are.
#[inline]
fn parse_plain_rule(line: &[u8]) -> Option<(Spec, &[u8])> {
    if line.len() > MAX_TEXT_LINE {
        return None;
    }
    let (first, i) = plain_port(line, 0)?;
    let (last, i) = match line.get(i) {
        Some(b'-') => plain_port(line, i + 1)?,
        _ => (first, i),
    };
    if first > last {
        return None;
    }
    let (protos, mut i) = match (line.get(i), line.get(i + 1..i + 4)) {
        (Some(b'/'), Some(b"tcp")) => (PROTO_TCP, i + 4),
        (Some(b'/'), Some(b"udp")) => (PROTO_UDP, i + 4),
        (Some(b'/'), _) => return None,
        _ => (PROTO_ALL, i),
    };
    if !line.get(i).copied().is_some_and(is_blank) {
        return None;
    }
    while line.get(i).copied().is_some_and(is_blank) {
        i += 1;
    }
    // The path: a slash, then plain bytes, dots and slashes to the end of the line, with the
    // checks of `parse_path`.
    let text = line.get(i..)?;
    if text.first() != Some(&b'/') || text.len() > MAX_PATH {
        return None;
    }
    let mut i = 1;
    loop {
        // A component: plain bytes and dots, in a tight loop.
        let start = i;
        let rest = &text[start..];
        i += rest
            .iter()
            .position(|&b| CLASS[usize::from(b)] > DOT)
            .unwrap_or(rest.len());
        let comp = &text[start..i];
        if comp.is_empty() || (comp.len() <= 2 && comp.iter().all(|&b| b == b'.')) {
            return None;
        }
        match text.get(i) {
            None => break,
            Some(b'/') => i += 1,
            // An escape, a control byte (a tab, a NUL) or a space.
            Some(_) => return None,
        }
    }
    let spec = Spec {
        first,
        last,
        protos,
        kernel: false,
        hash: hash(text),
        who: Who::ANY,
    };
    Some((spec, text))
}

/// Parses one line (without its newline). Returns `None` for a blank or comment line. The path
/// of a rule's program is decoded into `path`, whose allocation the caller may reuse.
pub(crate) fn parse_line(line: &[u8], path: &mut impl PathBuf) -> Result<Option<Line>, ParseError> {
    if let Some((spec, text)) = parse_plain_rule(line) {
        path.clear();
        path.extend(text)?;
        return Ok(Some(Line::Add(spec)));
    }
    parse_any_line(line, path)
}

/// [`parse_line`], but with the bytes of the program of a rule, borrowed: from `line` itself
/// when its path needs no decoding, which saves a copy, else from `path`; `<kernel>` for the
/// kernel's rules, and nothing for other lines.
pub(crate) fn parse_line_ref<'a>(
    line: &'a [u8],
    path: &'a mut impl PathBuf,
) -> Result<Option<(Line, &'a [u8])>, ParseError> {
    if let Some((spec, text)) = parse_plain_rule(line) {
        return Ok(Some((Line::Add(spec), text)));
    }
    let cmd = parse_any_line(line, path)?;
    let path: &'a _ = path;
    Ok(cmd.map(|cmd| {
        let bytes = match cmd {
            Line::Add(s) | Line::Delete(s) if s.kernel => KERNEL_PROGRAM,
            Line::Add(_) | Line::Delete(_) => path.bytes(),
            _ => &[],
        };
        (cmd, bytes)
    }))
}

/// [`parse_line`] for any line: one pass over the line splits it into words and finds a NUL
/// byte; only a comment is scanned apart, for a NUL.
fn parse_any_line(line: &[u8], path: &mut impl PathBuf) -> Result<Option<Line>, ParseError> {
    if line.len() > MAX_TEXT_LINE {
        return Err(ParseError::LineTooLong);
    }
    // The words, up to a comment.
    let mut words: [&[u8]; 6] = [&[]; 6];
    let mut n = 0;
    let mut i = 0;
    while let Some(&b) = line.get(i) {
        if is_blank(b) {
            i += 1;
            continue;
        }
        if b == b'#' {
            if line[i..].contains(&0) {
                return Err(ParseError::NulByte);
            }
            break;
        }
        let start = i;
        i = word_end(line, i);
        if line.get(i) == Some(&0) {
            return Err(ParseError::NulByte);
        }
        if n == words.len() {
            return Err(if line[i..].contains(&0) {
                ParseError::NulByte
            } else {
                ParseError::TrailingGarbage
            });
        }
        words[n] = &line[start..i];
        n += 1;
    }
    // A rule: its ports, its program and its qualifiers.
    let mut spec = |rule: &[&[u8]]| -> Result<Spec, ParseError> {
        let [ports, program, quals @ ..] = rule else {
            return Err(ParseError::MissingProgram);
        };
        let (first, last, protos) = parse_ports(ports)?;
        let kernel = *program == KERNEL_PROGRAM;
        let hash = if kernel {
            hash(KERNEL_PROGRAM)
        } else {
            parse_path(program, path)?
        };
        let who = parse_who(quals)?;
        if kernel && who != Who::ANY {
            return Err(ParseError::KernelQualified);
        }
        Ok(Spec {
            first,
            last,
            protos,
            kernel,
            hash,
            who,
        })
    };
    match (n, words[0]) {
        (0, _) => Ok(None),
        (1, b"clear") => Ok(Some(Line::Clear)),
        (1, b"lock") => Ok(Some(Line::Lock)),
        (2, b"mode") => match words[1] {
            b"enforcing" => Ok(Some(Line::Mode(Mode::Enforcing))),
            b"permissive" => Ok(Some(Line::Mode(Mode::Permissive))),
            _ => Err(ParseError::BadMode),
        },
        (_, b"mode") => Err(ParseError::ModeWords),
        (2.., b"delete") => Ok(Some(Line::Delete(spec(&words[1..n])?))),
        (1, b"delete") => Err(ParseError::DeleteWithoutRule),
        (_, w) if w.first().is_some_and(u8::is_ascii_digit) => {
            Ok(Some(Line::Add(spec(&words[..n])?)))
        }
        _ => Err(ParseError::UnknownCommand),
    }
}
