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
fn parse_path(s: &[u8], out: &mut impl PathBuf) -> Result<u32, ParseError> {
    out.clear();
    // The path is never longer than its text.
    out.reserve(s.len())?;
    let mut h = FNV_BASIS;
    // The length of the current component, and whether it is all dots.
    let (mut comp, mut dots) = (0usize, true);
    // Checks one decoded byte, which goes at `at` in the path.
    let mut check = |b: u8, at: usize| -> Result<(), ParseError> {
        if at == 0 && b != b'/' {
            return Err(ParseError::NotAbsolute);
        }
        if b == b'/' {
            // The component that this slash ends: none before the first slash.
            if at > 0 && (comp == 0 || (dots && comp <= 2)) {
                return Err(ParseError::NotNormalised);
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
            check(b, out.bytes().len() + n)?;
            n += 1;
        }
        out.extend(&rest[..n])?;
        let Some((&c, tail)) = rest[n..].split_first() else {
            break;
        };
        if c != b'\\' {
            return Err(ParseError::ControlCharacter);
        }
        let digits = match tail.get(..3) {
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
        check(b, out.bytes().len())?;
        out.extend(&[b])?;
        rest = tail.get(3..).unwrap_or(&[]);
    }
    let len = out.bytes().len();
    if len == 0 {
        return Err(ParseError::NotAbsolute);
    }
    if len > MAX_PATH {
        return Err(ParseError::PathTooLong);
    }
    if len > 1 && comp == 0 {
        return Err(ParseError::TrailingSlash);
    }
    // The last component: `/` alone has an empty one.
    if comp == 0 || (dots && comp <= 2) {
        return Err(ParseError::NotNormalised);
    }
    Ok(h)
}

/// Parses one line (without its newline). Returns `None` for a blank or comment line. The path
/// of a rule's program is decoded into `path`, whose allocation the caller may reuse.
pub(crate) fn parse_line(line: &[u8], path: &mut impl PathBuf) -> Result<Option<Line>, ParseError> {
    if line.len() > MAX_TEXT_LINE {
        return Err(ParseError::LineTooLong);
    }
    if line.contains(&0) {
        return Err(ParseError::NulByte);
    }
    // The words, up to a comment, in one pass.
    let mut words: [&[u8]; 6] = [&[]; 6];
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
            return Err(ParseError::TrailingGarbage);
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
