// SPDX-License-Identifier: GPL-2.0

//! Policies as text, through the kernel's grammar: a policy file as a transaction would apply
//! it, and the policy in force as the policy file reads back.

use crate::grammar::{
    parse_line,
    parse_line_ref,
    Line,
    Mode,
    OutOfMemory,
    ParseError,
    PathBuf,
    RuleText,
    Spec,
    Who,
    PROTO_TCP,
    PROTO_UDP, //
};
use crate::limits::{
    KERNEL_PROGRAM,
    MAX_RULES, //
};
use std::collections::BTreeSet;

/// A `Vec<u8>` is the tool's path buffer.
impl PathBuf for Vec<u8> {
    fn bytes(&self) -> &[u8] {
        self
    }

    fn clear(&mut self) {
        Vec::clear(self);
    }

    fn reserve(&mut self, additional: usize) -> Result<(), OutOfMemory> {
        self.try_reserve(additional).map_err(|_| OutOfMemory)
    }

    fn extend(&mut self, bytes: &[u8]) -> Result<(), OutOfMemory> {
        self.try_reserve(bytes.len()).map_err(|_| OutOfMemory)?;
        self.extend_from_slice(bytes);
        Ok(())
    }
}

/// A transport protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub(crate) const BOTH: [Proto; 2] = [Proto::Tcp, Proto::Udp];

    /// The bit of the protocol in a rule's protocols.
    pub(crate) fn bit(self) -> u8 {
        match self {
            Proto::Tcp => PROTO_TCP,
            Proto::Udp => PROTO_UDP,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// One rule, ordered as the kernel orders them: by ports, protocols, program, then qualifiers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Rule {
    pub(crate) first: u16,
    pub(crate) last: u16,
    pub(crate) protos: u8,
    /// The program's bytes: its path, or `<kernel>`.
    pub(crate) program: Vec<u8>,
    /// Whether the program is `<kernel>`.
    pub(crate) kernel: bool,
    /// The `user=UID` and `group=GID` qualifiers.
    pub(crate) who: Who,
}

impl Rule {
    pub(crate) fn from_spec(spec: &Spec, path: &[u8]) -> Self {
        Rule {
            first: spec.first,
            last: spec.last,
            protos: spec.protos,
            program: if spec.kernel {
                KERNEL_PROGRAM.to_vec()
            } else {
                path.to_vec()
            },
            kernel: spec.kernel,
            who: spec.who,
        }
    }

    /// True if the rule covers `port` of `proto`.
    pub(crate) fn covers(&self, proto: Proto, port: u16) -> bool {
        self.protos & proto.bit() != 0 && (self.first..=self.last).contains(&port)
    }

    /// The rule's line, as the kernel shows it (without a newline), with the kernel's own
    /// formatting code.
    pub(crate) fn text(&self) -> Vec<u8> {
        let mut v = Vec::new();
        RuleText {
            first: self.first,
            last: self.last,
            protos: self.protos,
            path: (!self.kernel).then_some(&self.program[..]),
            who: self.who,
        }
        .write(&mut |piece: &[u8]| v.extend_from_slice(piece));
        v
    }

    /// The program as text: its path escaped as in the policy file, or `<kernel>`, with the
    /// rule's qualifiers.
    pub(crate) fn program_text(&self) -> String {
        let text = self.text();
        let at = text.iter().position(|&b| b == b' ').map_or(0, |i| i + 1);
        String::from_utf8_lossy(&text[at..]).into_owned()
    }

    /// True if a process with effective IDs `uid` and `gid` (`None`: unknown) is one that the
    /// rule's qualifiers admit.
    pub(crate) fn admits(&self, uid: Option<u32>, gid: Option<u32>) -> bool {
        self.who.user.is_none_or(|u| uid == Some(u))
            && self.who.group.is_none_or(|g| gid == Some(g))
    }
}

/// One line of the policy file as it reads back, in the order of a diff: the mode, the rules,
/// then `lock`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Entry {
    /// `mode permissive`; enforcing, the mode after `clear`, has no line.
    Mode(Mode),
    /// A line that this build of the grammar does not know (from a newer kernel).
    Other(Vec<u8>),
    Rule(Rule),
    Lock,
}

impl Entry {
    pub(crate) fn text(&self) -> Vec<u8> {
        match self {
            Entry::Mode(m) => format!("mode {}", m.name()).into_bytes(),
            Entry::Other(l) => l.clone(),
            Entry::Rule(r) => r.text(),
            Entry::Lock => b"lock".to_vec(),
        }
    }
}

/// A policy: what the policy file shows, or what a transaction would make of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Policy {
    pub(crate) rules: BTreeSet<Rule>,
    pub(crate) mode: Mode,
    /// Lines that this build of the grammar does not know, as they are.
    pub(crate) other: BTreeSet<Vec<u8>>,
    pub(crate) locked: bool,
}

impl Policy {
    /// Every line, in diff order.
    pub(crate) fn entries(&self) -> BTreeSet<Entry> {
        let mut s: BTreeSet<Entry> = self.other.iter().cloned().map(Entry::Other).collect();
        if self.mode == Mode::Permissive {
            s.insert(Entry::Mode(self.mode));
        }
        s.extend(self.rules.iter().cloned().map(Entry::Rule));
        if self.locked {
            s.insert(Entry::Lock);
        }
        s
    }

    /// The mode, as the policy file names it.
    pub(crate) fn mode(&self) -> &'static str {
        self.mode.name()
    }

    /// The rules that cover `port` of `proto`.
    pub(crate) fn covering(&self, proto: Proto, port: u16) -> impl Iterator<Item = &Rule> {
        self.rules.iter().filter(move |r| r.covers(proto, port))
    }
}

/// Why a line of a policy file would fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LineError {
    /// The grammar refuses it (`EINVAL`, or `ENOMEM`).
    Parse(ParseError),
    /// A `delete` of a rule that is not there (`ENOENT`).
    NoSuchRule,
    /// One rule too many (`ENOSPC`).
    TooManyRules,
}

impl LineError {
    pub(crate) fn reason(self) -> &'static str {
        match self {
            LineError::Parse(e) => e.reason(),
            LineError::NoSuchRule => "no such rule",
            LineError::TooManyRules => "too many rules",
        }
    }
}

/// A transaction, as the kernel runs it, on a copy of the policy.
pub(crate) struct Txn {
    pub(crate) policy: Policy,
    path: Vec<u8>,
}

impl Txn {
    pub(crate) fn new(policy: Policy) -> Self {
        Txn {
            policy,
            path: Vec::new(),
        }
    }

    /// Applies one line (without its newline), or says why the kernel would refuse it.
    pub(crate) fn line(&mut self, line: &[u8]) -> Result<(), LineError> {
        // As the kernel parses a transaction's lines.
        let (cmd, program) = match parse_line_ref(line, &mut self.path) {
            Ok(None) => return Ok(()),
            Ok(Some(cmd)) => cmd,
            Err(e) => return Err(LineError::Parse(e)),
        };
        let p = &mut self.policy;
        match cmd {
            Line::Add(spec) => {
                let r = Rule::from_spec(&spec, program);
                if !p.rules.contains(&r) && p.rules.len() >= MAX_RULES {
                    return Err(LineError::TooManyRules);
                }
                p.rules.insert(r);
            }
            Line::Delete(spec) => {
                if !p.rules.remove(&Rule::from_spec(&spec, program)) {
                    return Err(LineError::NoSuchRule);
                }
            }
            Line::Clear => {
                p.rules.clear();
                p.other.clear();
                p.mode = Mode::Enforcing;
            }
            Line::Mode(m) => p.mode = m,
            Line::Lock => p.locked = true,
        }
        Ok(())
    }
}

/// The lines of `text`, numbered from 1, without their newlines; like the kernel, the last
/// line may lack its newline.
pub(crate) fn lines(text: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    let empty = text.is_empty();
    text.split(|&b| b == b'\n')
        .filter(move |_| !empty)
        .enumerate()
        .map(|(i, l)| (i + 1, l))
}

/// A line of `text` that a transaction refuses: its number, the line and why.
pub(crate) struct Refused<'a> {
    pub(crate) line: usize,
    pub(crate) text: &'a [u8],
    pub(crate) error: LineError,
}

/// Checks `text` as a transaction that starts from an empty policy (as `load` runs it): every
/// line that the kernel would refuse, and the policy that it makes if there is none.
pub(crate) fn check(text: &[u8]) -> (Policy, Vec<Refused<'_>>) {
    let mut txn = Txn::new(Policy::default());
    let mut refused = Vec::new();
    for (n, l) in lines(text) {
        if let Err(error) = txn.line(l) {
            refused.push(Refused {
                line: n,
                text: l,
                error,
            });
        }
    }
    (txn.policy, refused)
}

/// Reads the policy file's text through the grammar; a line that it does not know (from a
/// newer kernel) is kept as it is.
pub(crate) fn read_back(text: &[u8]) -> Policy {
    let mut policy = Policy::default();
    let mut path = Vec::new();
    for (_, l) in lines(text) {
        match parse_line(l, &mut path) {
            Ok(Some(Line::Add(spec))) => {
                policy.rules.insert(Rule::from_spec(&spec, &path));
            }
            Ok(Some(Line::Mode(m))) => policy.mode = m,
            Ok(Some(Line::Lock)) => policy.locked = true,
            Ok(None) => {}
            _ => {
                policy.other.insert(l.to_vec());
            }
        }
    }
    policy
}
