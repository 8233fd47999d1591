// SPDX-License-Identifier: GPL-2.0-only

//! The port reservation policy: its rules, and the snapshot that the hooks consult.
//!
//! See [`crate::grammar`] for the text form of a rule, and [`crate::draft`] for how a
//! transaction builds a new snapshot.

use crate::identity::Hints;
use crate::{
    grammar::{
        Mode,
        RuleText,
        Spec,
        Who,
        PROTO_TCP,
        PROTO_UDP, //
    },
    limits::{
        KERNEL_PROGRAM,
        NR_PORTS, //
    },
};
use core::{
    cmp::Ordering,
    fmt, //
};
use kernel::{
    alloc::{
        KVVec,
        KVec, //
    },
    prelude::*,
    sync::{
        atomic::{
            Atomic,
            Relaxed,
            Release, //
        },
        Arc,
        RcuBox, //
    },
};

/// The policy in force; `None` until the first policy write. Only [`publish`] changes it.
pub(crate) static POLICY: RcuBox<Arc<Policy>> = RcuBox::new();

const WORDS_PER_PROTO: usize = NR_PORTS / 64;

/// The plane of [`RESERVED`] for a port reserved for either protocol.
const ANY: usize = 2;

/// A superset of the ports that the policy in force reserves, one bit per port, in three planes
/// of [`WORDS_PER_PROTO`] words: TCP, UDP and either (for automatic port selection, which does
/// not know the protocol: one load instead of two).
///
/// The hooks test it before anything else, so that a bind or an automatic port selection that
/// involves no reserved port, the common case, takes no lock and reads no snapshot: one load.
/// When a bit is set, the snapshot has the answer. [`publish`] keeps the bit of a port set
/// whenever a snapshot that a hook may still read reserves the port.
static RESERVED: [Atomic<u64>; 3 * WORDS_PER_PROTO] =
    [const { Atomic::new(0) }; 3 * WORDS_PER_PROTO];

/// True if `port` of `proto` may be reserved: if not, it is not. No lock, no allocation.
#[inline]
pub(crate) fn maybe_reserved(proto: Proto, port: u16) -> bool {
    maybe_reserved_in(proto as usize, port)
}

/// True if `port` may be reserved for either protocol (see [`maybe_reserved`]).
#[inline]
pub(crate) fn maybe_reserved_any(port: u16) -> bool {
    maybe_reserved_in(ANY, port)
}

#[inline]
fn maybe_reserved_in(plane: usize, port: u16) -> bool {
    let i = plane * WORDS_PER_PROTO + usize::from(port) / 64;
    RESERVED
        .get(i)
        .is_some_and(|w| w.load(Relaxed) & (1 << (port % 64)) != 0)
}

/// Makes `policy` the policy in force.
///
/// The bits of its reserved ports are set in [`RESERVED`] before it is published, and the bits
/// that only the old policy had are cleared once no hook can read the old policy any more.
///
/// # Context
///
/// Process context: it sleeps until the readers of the old policy are done. Only the one
/// writer of the policy calls it.
pub(crate) fn publish(policy: Arc<Policy>) -> Result {
    let boxed = KBox::new(policy.clone(), GFP_KERNEL)?;
    let map = |i: usize| policy.map.get(i).copied().unwrap_or(0);
    let word = |i: usize| match i.checked_sub(ANY * WORDS_PER_PROTO) {
        Some(j) => map(j) | map(WORDS_PER_PROTO + j),
        None => map(i),
    };
    // The one writer: nobody else stores to `RESERVED` meanwhile.
    for (i, w) in RESERVED.iter().enumerate() {
        w.store(w.load(Relaxed) | word(i), Relaxed);
    }
    // Publishes with a release store, after the new bits, then waits for a grace period: no
    // hook reads the old snapshot after this.
    POLICY.replace(Some(boxed));
    for (i, w) in RESERVED.iter().enumerate() {
        w.store(word(i), Release);
    }
    Ok(())
}

/// A transport protocol whose ports a rule covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Proto {
    /// TCP (and MPTCP, which binds TCP ports).
    Tcp = 0,
    /// UDP.
    Udp = 1,
}

// The protocol bits of a rule are `1 << Proto`.
const _: () = assert!(PROTO_TCP == 1 << Proto::Tcp as u8 && PROTO_UDP == 1 << Proto::Udp as u8);

/// A program path, as bytes that end with a NUL.
///
/// Every rule that names a program, and the identity of every task that runs it, share one.
pub(crate) struct PathName(KVec<u8>);

impl PathName {
    /// A new, shared copy of `path` (without a NUL).
    pub(crate) fn new(path: &[u8]) -> Result<Arc<Self>> {
        let mut v = KVec::with_capacity(path.len() + 1, GFP_KERNEL)?;
        v.extend_from_slice(path, GFP_KERNEL)?;
        v.push(0, GFP_KERNEL)?;
        Ok(Arc::new(Self(v), GFP_KERNEL)?)
    }

    /// The path, without its NUL.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.0.get(..self.0.len() - 1).unwrap_or(&[])
    }

    /// The path as a C string.
    pub(crate) fn as_c_str(&self) -> Option<&CStr> {
        CStr::from_bytes_with_nul(&self.0).ok()
    }
}

/// Who a rule reserves its ports for.
#[derive(Clone)]
pub(crate) enum Program {
    /// Kernel sockets only: `<kernel>`.
    Kernel,
    /// The program at this path.
    Path(Arc<PathName>),
}

impl Program {
    /// The program as the policy names it: the path, or `<kernel>`.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Program::Kernel => KERNEL_PROGRAM,
            Program::Path(p) => p.as_bytes(),
        }
    }

    /// The path, for a `Path`.
    pub(crate) fn path(&self) -> Option<&Arc<PathName>> {
        match self {
            Program::Kernel => None,
            Program::Path(p) => Some(p),
        }
    }

    /// Orders programs by their bytes; rules of one program usually share its path, which
    /// then compares equal without reading it.
    pub(crate) fn cmp_bytes(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Program::Path(a), Program::Path(b)) if Arc::ptr_eq(a, b) => Ordering::Equal,
            _ => self.as_bytes().cmp(other.as_bytes()),
        }
    }
}

impl PartialEq for Program {
    fn eq(&self, other: &Self) -> bool {
        self.cmp_bytes(other) == Ordering::Equal
    }
}

impl Eq for Program {}

impl fmt::Debug for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", kernel::str::BStr::from_bytes(self.as_bytes()))
    }
}

/// One rule: ports `first..=last` of the protocols in `protos` are reserved for `program`, when
/// run by `who`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rule {
    pub(crate) first: u16,
    pub(crate) last: u16,
    pub(crate) protos: u8,
    pub(crate) program: Program,
    pub(crate) who: Who,
}

impl Rule {
    /// [`Ord::cmp`], but without comparing the bytes of a path that both rules share (the same
    /// [`PathName`]): as a reload shares them (see [`crate::draft::Draft`]).
    #[inline]
    fn cmp_shared(&self, other: &Self) -> Ordering {
        (self.first, self.last, self.protos)
            .cmp(&(other.first, other.last, other.protos))
            .then_with(|| match (&self.program, &other.program) {
                (Program::Path(a), Program::Path(b)) if Arc::ptr_eq(a, b) => Ordering::Equal,
                (a, b) => a.cmp_bytes(b),
            })
            .then_with(|| self.who.cmp(&other.who))
    }
}

/// Rules are kept in this order: by ports, protocols, program, then qualifiers (a rule without
/// one first).
impl Ord for Rule {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.first, self.last, self.protos)
            .cmp(&(other.first, other.last, other.protos))
            .then_with(|| self.program.cmp_bytes(&other.program))
            .then_with(|| self.who.cmp(&other.who))
    }
}

impl PartialOrd for Rule {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Rule {
    /// The rule that `spec` states, with its own copy of `path` (see [`crate::grammar`]).
    pub(crate) fn from_spec(spec: &Spec, path: &[u8]) -> Result<Self> {
        Ok(Rule {
            first: spec.first,
            last: spec.last,
            protos: spec.protos,
            program: if spec.kernel {
                Program::Kernel
            } else {
                Program::Path(PathName::new(path)?)
            },
            who: spec.who,
        })
    }

    /// True if the rule covers `port` of `proto`.
    #[inline]
    pub(crate) fn covers(&self, proto: Proto, port: u16) -> bool {
        self.protos & (1 << proto as u8) != 0 && (self.first..=self.last).contains(&port)
    }

    /// Passes the rule in its canonical text form, the line that reading the policy file
    /// shows (without its newline), to `out`, in a few pieces (see [`RuleText::write`]).
    pub(crate) fn write_text(&self, mut out: impl FnMut(&[u8])) {
        RuleText {
            first: self.first,
            last: self.last,
            protos: self.protos,
            path: self.program.path().map(|p| p.as_bytes()),
            who: self.who,
        }
        .write(&mut out);
    }
}

/// Prints a rule in its canonical form (see [`Rule::write_text`]), except that bytes that are
/// not UTF-8 are escaped too (`\ooo`), as a formatter carries UTF-8 only. Both forms parse
/// back to the same rule.
impl kernel::fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut r = Ok(());
        self.write_text(|piece| {
            for chunk in piece.utf8_chunks() {
                if r.is_ok() {
                    r = f.write_str(chunk.valid());
                }
                for &b in chunk.invalid() {
                    if r.is_ok() {
                        r = write!(f, "\\{b:03o}");
                    }
                }
            }
        });
        r
    }
}

/// One parsed policy line.
#[derive(Debug, PartialEq, Eq)]
struct Span {
    first: u16,
    last: u16,
}

/// A program that rules name, with one qualifier, and where its ports are in
/// [`Policy::spans`]: a program that rules name with several qualifiers is named several times.
struct Named {
    program: Program,
    who: Who,
    /// Its TCP spans are `spans[at[0]..at[1]]`, its UDP spans `spans[at[1]..at[2]]`.
    at: [u32; 3],
}

/// A policy snapshot: the rules, a bitmap of the reserved ports of each protocol, and for each
/// program that rules name, the ports it may bind.
///
/// A snapshot is never modified once published; a writer builds a new one (see
/// [`crate::draft`]).
///
/// Memory: 32 bytes per rule, plus at most 8 bytes per rule for the ports of its program
/// ([`Span`]s), plus 24 bytes of counters and 2 bytes of [`Policy::reach`] per rule, plus 56
/// bytes and the path once per program and qualifier, plus the two bitmaps (16 KiB).
pub(crate) struct Policy {
    /// The rules, in canonical order, without duplicates.
    rules: KVVec<Rule>,
    /// The counters of each rule, by its index in `rules`.
    counters: KVVec<Counters>,
    /// 1 once a counter may have counted (set before the count), else 0: a policy that never
    /// counted has nothing to carry over (see [`Carry`]).
    counted: Atomic<i32>,
    /// For each rule, the highest last port of it and the rules before it: the rules that
    /// cover a port end before the first rule whose first port is higher, and start after the
    /// last rule whose `reach` is lower.
    reach: KVVec<u16>,
    /// What happens to a bind that no rule lets through.
    mode: Mode,
    /// One bit per port and protocol: reserved or not.
    map: KVVec<u64>,
    /// The programs that rules name, each once, in the order of their bytes.
    named: KVVec<Named>,
    /// For each program and protocol, the ports its rules cover, merged into sorted, disjoint
    /// spans.
    spans: KVVec<Span>,
    /// Which program paths an exec resolves.
    hints: Hints,
}

impl Policy {
    /// An empty policy.
    pub(crate) fn new() -> Self {
        Self {
            rules: KVVec::new(),
            counters: KVVec::new(),
            counted: Atomic::new(0),
            reach: KVVec::new(),
            mode: Mode::Enforcing,
            map: KVVec::new(),
            named: KVVec::new(),
            spans: KVVec::new(),
            hints: Hints::new(),
        }
    }

    /// Builds a snapshot from `rules`, which are in canonical order, without duplicates.
    ///
    /// It takes O(n log n) time for n rules, and makes the rules of each program share one
    /// copy of its path.
    pub(crate) fn from_rules(mut rules: KVVec<Rule>) -> Result<Self> {
        // A rule for each port is 65536 rules: the offsets fit in `u32`.
        if rules.len() > u32::MAX as usize / 2 {
            return Err(EINVAL);
        }
        let mut map = KVVec::with_capacity(2 * WORDS_PER_PROTO, GFP_KERNEL)?;
        map.resize(2 * WORDS_PER_PROTO, 0, GFP_KERNEL)?;
        for r in rules.iter() {
            for proto in [Proto::Tcp, Proto::Udp] {
                if r.protos & (1 << proto as u8) != 0 {
                    let base = proto as usize * WORDS_PER_PROTO;
                    set_bits(&mut map[base..base + WORDS_PER_PROTO], r.first, r.last);
                }
            }
        }

        let mut counters = KVVec::with_capacity(rules.len(), GFP_KERNEL)?;
        let mut reach = KVVec::with_capacity(rules.len(), GFP_KERNEL)?;
        let mut high = 0;
        for r in rules.iter() {
            push(&mut counters, Counters::new())?;
            high = high.max(r.last);
            push(&mut reach, high)?;
        }

        // The rules grouped by program and qualifier. Rules of one program share its path (see
        // `crate::draft`), so group them by its address first, then order the groups by bytes;
        // in a group, the rules stay in canonical order, so by first port.
        // A counting sort: O(n), and stable, so each group stays in canonical order.
        let key = |r: &Rule| {
            (
                r.program.path().map_or(0, |p| Arc::as_ptr(p) as usize),
                r.who.key(),
            )
        };
        let mut ids = AddressIds::new();
        let mut group_of = KVVec::with_capacity(rules.len(), GFP_KERNEL)?;
        let mut counts: KVVec<usize> = KVVec::new();
        for r in rules.iter() {
            let g = ids.id(key(r))?;
            if g == counts.len() {
                counts.push(0, GFP_KERNEL)?;
            }
            counts[g] += 1;
            push(&mut group_of, g)?;
        }
        let mut groups: KVVec<(usize, usize)> = KVVec::with_capacity(counts.len(), GFP_KERNEL)?;
        let mut start = 0;
        for &c in counts.iter() {
            groups.push((start, start + c), GFP_KERNEL)?;
            start += c;
        }
        let mut order = KVVec::with_capacity(rules.len(), GFP_KERNEL)?;
        order.resize(rules.len(), 0, GFP_KERNEL)?;
        let mut next: KVVec<usize> = KVVec::with_capacity(groups.len(), GFP_KERNEL)?;
        for g in groups.iter() {
            next.push(g.0, GFP_KERNEL)?;
        }
        for (i, &g) in group_of.iter().enumerate() {
            order[next[g]] = i;
            next[g] += 1;
        }
        let bytes = |g: &(usize, usize)| {
            let r = &rules[order[g.0]];
            (r.program.as_bytes(), r.who)
        };
        groups.sort_unstable_by(|a, b| bytes(a).cmp(&bytes(b)));
        if groups.windows(2).any(|w| bytes(&w[0]) == bytes(&w[1])) {
            // Two copies of one path: group by bytes instead.
            order.sort_unstable_by(|&a, &b| {
                rules[a]
                    .program
                    .cmp_bytes(&rules[b].program)
                    .then(rules[a].who.cmp(&rules[b].who))
                    .then(a.cmp(&b))
            });
            groups.clear();
            let mut start = 0;
            while start < order.len() {
                let (p, w) = (&rules[order[start]].program, rules[order[start]].who);
                let end = order[start..]
                    .iter()
                    .position(|&i| rules[i].program != *p || rules[i].who != w)
                    .map_or(order.len(), |n| start + n);
                groups.push((start, end), GFP_KERNEL)?;
                start = end;
            }
        }

        let mut named = KVVec::with_capacity(groups.len(), GFP_KERNEL)?;
        let mut spans = KVVec::with_capacity(rules.len(), GFP_KERNEL)?;
        for &(start, end) in groups.iter() {
            let group = &order[start..end];
            let program = rules[group[0]].program.clone();
            let who = rules[group[0]].who;
            let mut at = [0u32; 3];
            at[0] = spans.len() as u32;
            for (k, proto) in [Proto::Tcp, Proto::Udp].into_iter().enumerate() {
                let mut cur: Option<Span> = None;
                for &i in group {
                    let r = &rules[i];
                    if r.protos & (1 << proto as u8) == 0 {
                        continue;
                    }
                    cur = match cur {
                        // Overlapping or adjacent: one span.
                        Some(s) if u32::from(r.first) <= u32::from(s.last) + 1 => Some(Span {
                            first: s.first,
                            last: s.last.max(r.last),
                        }),
                        prev => {
                            if let Some(s) = prev {
                                push(&mut spans, s)?;
                            }
                            Some(Span {
                                first: r.first,
                                last: r.last,
                            })
                        }
                    };
                }
                if let Some(s) = cur {
                    push(&mut spans, s)?;
                }
                at[k + 1] = spans.len() as u32;
            }
            named.push(Named { program, who, at }, GFP_KERNEL)?;
        }
        // One copy of each path for all the rules that name it; usually they share it already.
        for (n, &(start, end)) in named.iter().zip(groups.iter()) {
            for &i in &order[start..end] {
                let shared = match (&rules[i].program, &n.program) {
                    (Program::Path(a), Program::Path(b)) => Arc::ptr_eq(a, b),
                    _ => true,
                };
                if !shared {
                    rules[i].program = n.program.clone();
                }
            }
        }
        Ok(Self {
            rules,
            counters,
            counted: Atomic::new(0),
            reach,
            mode: Mode::Enforcing,
            map,
            named,
            spans,
            hints: Hints::new(),
        })
    }

    /// True if `port` of `proto` is reserved. This is the hot path: one bit test.
    #[inline]
    pub(crate) fn is_reserved(&self, proto: Proto, port: u16) -> bool {
        let i = proto as usize * WORDS_PER_PROTO + usize::from(port) / 64;
        self.map.get(i).is_some_and(|w| w & (1 << (port % 64)) != 0)
    }

    /// True if `port` is reserved for either protocol.
    #[inline]
    pub(crate) fn is_reserved_any(&self, port: u16) -> bool {
        self.is_reserved(Proto::Tcp, port) || self.is_reserved(Proto::Udp, port)
    }

    /// True if a rule reserves `port` of `proto` for `program`, a path or `<kernel>`, run with
    /// the effective user and group IDs `uid` and `gid`.
    ///
    /// Two binary searches, by program and by port, and one more search by port for each other
    /// qualifier that rules give the program: O(log n), whatever the number of rules, with no
    /// allocation and no lock, so it may run in atomic context.
    pub(crate) fn allows(
        &self,
        program: &[u8],
        (uid, gid): (u32, u32),
        proto: Proto,
        port: u16,
    ) -> bool {
        let lo = self
            .named
            .partition_point(|n| n.program.as_bytes() < program);
        let k = proto as usize;
        self.named[lo..]
            .iter()
            .take_while(|n| n.program.as_bytes() == program)
            .filter(|n| n.who.admits(uid, gid))
            .any(|n| {
                let spans = self
                    .spans
                    .get(n.at[k] as usize..n.at[k + 1] as usize)
                    .unwrap_or(&[]);
                let j = spans.partition_point(|s| s.first <= port);
                j > 0 && spans[j - 1].last >= port
            })
    }

    /// The range of the rules that may cover `port`: from the first one that covers it (of
    /// either protocol) to the last one that starts at or before it. Two binary searches.
    fn covering_range(&self, port: u16) -> core::ops::Range<usize> {
        let end = self.rules.partition_point(|r| r.first <= port);
        // The first rule whose running maximum of last ports reaches `port` is the first one
        // that covers it: it starts at or before `port`, and raised the maximum to `port` or
        // more.
        let start = self.reach[..end].partition_point(|&high| high < port);
        // Before any count changes: see `Carry`.
        if start < end && self.counted.load(Relaxed) == 0 {
            self.counted.store(1, Relaxed);
        }
        start..end
    }

    /// The counters of the first rule, in canonical order, that covers `port` of either
    /// protocol, if any: O(log n), for the automatic port selection, which runs for each
    /// candidate port under the bind hash's lock.
    pub(crate) fn first_covering(&self, port: u16) -> Option<&Counters> {
        let range = self.covering_range(port);
        self.counters.get(range.start).filter(|_| !range.is_empty())
    }

    /// Calls `f` with each rule that covers `port` of `proto` (of either protocol if `None`),
    /// and its counters, among the first [`COUNTED_MAX`] rules from the first one that covers
    /// it.
    ///
    /// Two binary searches, then a walk over the rules that start at or before `port` from the
    /// first one that covers it: the rules that cover the port, plus the rules between them
    /// that end before it. A rule with a wide range early in the order puts every later rule in
    /// the walk, so the walk is bounded: O(log n) in all cases. Only a bind to a reserved port
    /// calls it.
    pub(crate) fn for_each_covering(
        &self,
        proto: Option<Proto>,
        port: u16,
        mut f: impl FnMut(&Rule, &Counters),
    ) {
        let range = self.covering_range(port);
        let covered = |r: &Rule| match proto {
            Some(proto) => r.covers(proto, port),
            None => r.last >= port,
        };
        for (r, c) in self.rules[range.clone()]
            .iter()
            .zip(&self.counters[range])
            .take(COUNTED_MAX)
        {
            if covered(r) {
                f(r, c);
            }
        }
    }

    /// Adds `counts` to the counters of rule `i` (see [`Carry`]).
    fn add_counts(&self, i: usize, counts: [u64; 3]) {
        if counts == [0; 3] {
            return;
        }
        // The next load carries them over in turn.
        self.counted.store(1, Relaxed);
        if let Some(c) = self.counters.get(i) {
            c.add(counts);
        }
    }

    /// The counters of each rule, by its index in [`Policy::rules`].
    pub(crate) fn counters(&self) -> &[Counters] {
        &self.counters
    }

    /// The mode of the policy.
    #[inline]
    pub(crate) fn mode(&self) -> Mode {
        self.mode
    }

    /// Sets the mode, before the policy is published.
    pub(crate) fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
    }

    /// The program that rules name with `bytes` (a path, or `<kernel>`), if there is one.
    pub(crate) fn find_program(&self, bytes: &[u8]) -> Option<&Program> {
        let i = self
            .named
            .binary_search_by(|n| n.program.as_bytes().cmp(bytes))
            .ok()?;
        Some(&self.named[i].program)
    }

    /// The rules, in canonical order.
    pub(crate) fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The program paths that rules name, each once, with their index for
    /// [`Policy::program`].
    pub(crate) fn programs(&self) -> impl Iterator<Item = (usize, &Arc<PathName>)> {
        self.named
            .iter()
            .enumerate()
            .filter_map(|(i, n)| Some((i, n.program.path()?)))
    }

    /// The program path of index `i` (see [`Policy::programs`]).
    pub(crate) fn program(&self, i: usize) -> Option<&Arc<PathName>> {
        self.named.get(i)?.program.path()
    }

    /// The hints of the exec'd file's identity: which paths to resolve.
    pub(crate) fn hints(&self) -> &Hints {
        &self.hints
    }

    /// Resolves the program paths once, for [`Policy::hints`], before the policy is published.
    pub(crate) fn resolve_hints(&mut self) -> Result {
        self.hints = Hints::resolve(self)?;
        Ok(())
    }
}

/// The counters of a rule, readable in the `stats` file.
///
/// They are plain atomics, not per-CPU counters: only a bind to a reserved port or an automatic
/// port selection that meets one (the slow paths) touches them, rarely and never in a loop over
/// many CPUs, so one relaxed atomic add costs less than per-CPU storage for every rule, and
/// the stats file reads one value per counter.
pub(crate) struct Counters {
    /// Binds that the rule let through.
    pub(crate) allowed: Atomic<u64>,
    /// Binds to a port of the rule that no rule let through: refused, or in permissive mode
    /// only logged.
    pub(crate) denied: Atomic<u64>,
    /// Candidate ports of the rule that an automatic port selection passed over.
    pub(crate) skipped: Atomic<u64>,
}

impl Counters {
    fn new() -> Self {
        Self {
            allowed: Atomic::new(0),
            denied: Atomic::new(0),
            skipped: Atomic::new(0),
        }
    }

    /// Adds one to `counter`.
    #[inline]
    pub(crate) fn inc(counter: &Atomic<u64>) {
        counter.add(1, Relaxed);
    }

    /// The three counts: allowed, denied and skipped.
    pub(crate) fn get(&self) -> [u64; 3] {
        [
            self.allowed.load(Relaxed),
            self.denied.load(Relaxed),
            self.skipped.load(Relaxed),
        ]
    }

    /// Adds `counts` (see [`Counters::get`]) to these counters.
    pub(crate) fn add(&self, counts: [u64; 3]) {
        // Most counts are zero: no atomic operation for them.
        for (c, n) in [&self.allowed, &self.denied, &self.skipped]
            .into_iter()
            .zip(counts)
        {
            if n != 0 {
                c.add(n, Relaxed);
            }
        }
    }
}

/// The counters that a new snapshot carries over from the policy that it replaces, for the rules
/// that both have: a rule that a transaction leaves in the policy, even one that it cleared and
/// added again (a reload), keeps counting from where it was. A rule that is new, or that changed
/// (other ports, program or qualifier), starts from zero.
///
/// The counts are copied into the new snapshot before it is published ([`Carry::new`]), then
/// what the old snapshot counted in between is added once no hook can read it any more
/// ([`Carry::finish`]): a reader of the stats never sees a count go down, and no event is lost.
pub(crate) struct Carry {
    old: Option<Arc<Policy>>,
    /// The index of each rule of the new snapshot that the old one has, in both.
    kept: KVVec<(u32, u32)>,
    /// The counts of the rules of `kept` when copied, in the same order; empty if the old
    /// snapshot had never counted.
    then: KVVec<[u64; 3]>,
}

impl Carry {
    /// Finds the rules that `new` and `old` both have, in one pass over both (they are in
    /// canonical order), and copies their counts into `new`, which is not published yet.
    ///
    /// A snapshot that never counted (most of them, and a policy that is reloaded at boot) has
    /// no count to copy: no counter is read.
    pub(crate) fn new(old: Option<Arc<Policy>>, new: &Policy) -> Result<Self> {
        let (mut kept, mut then) = (KVVec::new(), KVVec::new());
        if let Some(o) = old.as_deref() {
            let n = new.rules.len().min(o.rules.len());
            kept.reserve(n, GFP_KERNEL)?;
            let counted = o.counted.load(Relaxed) != 0;
            if counted {
                then.reserve(n, GFP_KERNEL)?;
            }
            let (mut i, mut j) = (0, 0);
            while let (Some(a), Some(b)) = (new.rules.get(i), o.rules.get(j)) {
                match a.cmp_shared(b) {
                    Ordering::Less => i += 1,
                    Ordering::Greater => j += 1,
                    Ordering::Equal => {
                        push(&mut kept, (i as u32, j as u32))?;
                        if counted {
                            let counts = o.counters[j].get();
                            new.add_counts(i, counts);
                            push(&mut then, counts)?;
                        }
                        i += 1;
                        j += 1;
                    }
                }
            }
        }
        Ok(Self { old, kept, then })
    }

    /// Adds to `new` what the old snapshot counted since [`Carry::new`], once `new` is
    /// published and no hook reads the old one any more (after an RCU grace period, which
    /// orders what the hooks wrote before this).
    pub(crate) fn finish(&self, new: &Policy) {
        let Some(old) = self.old.as_deref() else {
            return;
        };
        if old.counted.load(Relaxed) == 0 {
            return;
        }
        for (k, &(i, j)) in self.kept.iter().enumerate() {
            let Some(o) = old.counters.get(j as usize) else {
                continue;
            };
            let now = o.get();
            let then = self.then.get(k).copied().unwrap_or([0; 3]);
            new.add_counts(
                i as usize,
                [
                    now[0].wrapping_sub(then[0]),
                    now[1].wrapping_sub(then[1]),
                    now[2].wrapping_sub(then[2]),
                ],
            );
        }
    }
}

/// An address and a qualifier key, for [`AddressIds`].
type AddressKey = (usize, u64);

/// Numbers the distinct addresses (with qualifiers) it is given, 0, 1, 2, ..., in the order it
/// first sees them.
struct AddressIds {
    /// Open addressing: an address and its number plus one, or 0 for a free slot.
    slots: KVVec<(AddressKey, usize)>,
    n: usize,
    /// The last address and its number: rules of one program often come in a row.
    last: Option<(AddressKey, usize)>,
}

impl AddressIds {
    fn new() -> Self {
        Self {
            slots: KVVec::new(),
            n: 0,
            last: None,
        }
    }

    fn slot(slots: &[(AddressKey, usize)], addr: AddressKey) -> usize {
        let mask = slots.len() - 1;
        // Addresses are aligned: mix the bits before masking.
        let mixed = (addr.0 as u64 ^ addr.1.rotate_left(17)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut i = (mixed >> 32) as usize & mask;
        while slots[i].1 != 0 && slots[i].0 != addr {
            i = (i + 1) & mask;
        }
        i
    }

    /// The number of `addr`.
    fn id(&mut self, addr: AddressKey) -> Result<usize> {
        if let Some((a, id)) = self.last {
            if a == addr {
                return Ok(id);
            }
        }
        if 2 * (self.n + 1) > self.slots.len() {
            let size = (4 * (self.n + 1)).next_power_of_two();
            let mut slots = KVVec::with_capacity(size, GFP_KERNEL)?;
            slots.resize(size, ((0, 0), 0), GFP_KERNEL)?;
            for &(a, id) in self.slots.iter().filter(|s| s.1 != 0) {
                let i = Self::slot(&slots, a);
                slots[i] = (a, id);
            }
            self.slots = slots;
        }
        let i = Self::slot(&self.slots, addr);
        if self.slots[i].1 == 0 {
            self.n += 1;
            self.slots[i] = (addr, self.n);
        }
        let id = self.slots[i].1 - 1;
        self.last = Some((addr, id));
        Ok(id)
    }
}

/// The most rules that one bind walks to count itself: see [`Policy::for_each_covering`].
pub(crate) const COUNTED_MAX: usize = 16;

/// Pushes `v` onto `vec`: inline when `vec` has room, as when its capacity was reserved for a
/// loop over the rules.
#[inline(always)]
pub(crate) fn push<T>(vec: &mut KVVec<T>, v: T) -> Result {
    match vec.push_within_capacity(v) {
        Ok(()) => Ok(()),
        Err(e) => Ok(vec.push(e.0, GFP_KERNEL)?),
    }
}

/// Sets bits `first..=last` of `map`, a word at a time.
fn set_bits(map: &mut [u64], first: u16, last: u16) {
    let (first, last) = (usize::from(first), usize::from(last));
    for w in first / 64..=last / 64 {
        let lo = if w == first / 64 { first % 64 } else { 0 };
        let hi = if w == last / 64 { last % 64 } else { 63 };
        let mask = (u64::MAX >> (63 - hi)) & (u64::MAX << lo);
        if let Some(word) = map.get_mut(w) {
            *word |= mask;
        }
    }
}

#[cfg(CONFIG_SECURITY_KPORTRESERVE_KUNIT_TEST)]
#[kunit_tests(kportreserve_policy)]
mod tests {
    use super::*;
    use crate::{
        draft::Draft,
        grammar::{
            hash,
            is_escaped,
            parse_line,
            Line,
            Mode,
            ParseError,
            MAX_TEXT_LINE, //
            PROTO_ALL,
        },
        limits::MAX_PATH,
    };
    use kernel::str::CString;

    /// The IDs of root: a rule without qualifiers admits anyone.
    const ROOT: (u32, u32) = (0, 0);

    fn parse(line: &[u8]) -> core::result::Result<Option<Line>, ParseError> {
        parse_line(line, &mut KVec::new())
    }

    /// The rule of an add line, and its path.
    fn spec(line: &[u8]) -> Result<(Spec, KVec<u8>)> {
        let mut path = KVec::new();
        match parse_line(line, &mut path) {
            Ok(Some(Line::Add(s))) => {
                assert_eq!(s.hash, hash(if s.kernel { KERNEL_PROGRAM } else { &path }));
                Ok((s, path))
            }
            _ => Err(EINVAL),
        }
    }

    fn add(line: &str) -> Result<Rule> {
        add_bytes(line.as_bytes())
    }

    fn draft_add(d: &mut Draft, line: &str) -> Result {
        let (s, p) = spec(line.as_bytes())?;
        d.add(&s, &p)
    }

    fn draft_delete(d: &mut Draft, line: &str) -> Result {
        let (s, p) = spec(line.as_bytes())?;
        d.delete(&s, &p)
    }

    fn canonical(line: &str) -> Result<CString> {
        CString::try_from_fmt(fmt!("{}", add(line)?))
    }

    fn add_bytes(line: &[u8]) -> Result<Rule> {
        let (s, p) = spec(line)?;
        Rule::from_spec(&s, &p)
    }

    /// The line that the policy file shows for the rule of `line`.
    fn text(line: &[u8]) -> Result<KVec<u8>> {
        let mut v = KVec::new();
        let mut r = Ok(());
        add_bytes(line)?.write_text(|piece| {
            if r.is_ok() {
                r = v.extend_from_slice(piece, GFP_KERNEL);
            }
        });
        r?;
        Ok(v)
    }

    fn path(line: &[u8]) -> Result<KVec<u8>> {
        let mut v = KVec::new();
        v.extend_from_slice(
            add_bytes(line)?.program.path().ok_or(EINVAL)?.as_bytes(),
            GFP_KERNEL,
        )?;
        Ok(v)
    }

    #[test]
    fn valid_forms() -> Result {
        let r = add("10000 /usr/sbin/server")?;
        assert_eq!((r.first, r.last, r.protos), (10000, 10000, PROTO_ALL));
        assert_eq!(
            r.program.path().ok_or(EINVAL)?.as_bytes(),
            b"/usr/sbin/server"
        );
        let r = add("8000-8099/tcp /usr/sbin/nginx")?;
        assert_eq!((r.first, r.last, r.protos), (8000, 8099, PROTO_TCP));
        let r = add("111/udp <kernel>")?;
        assert_eq!(
            (r.first, r.last, r.protos, &r.program),
            (111, 111, PROTO_UDP, &Program::Kernel)
        );
        let r = add("  1-65535\t /a   # comment")?;
        assert_eq!((r.first, r.last), (1, 65535));
        assert_eq!(parse(b"clear"), Ok(Some(Line::Clear)));
        assert_eq!(parse(b"lock"), Ok(Some(Line::Lock)));
        assert_eq!(parse(b""), Ok(None));
        assert_eq!(parse(b"   "), Ok(None));
        assert_eq!(parse(b"# 10000 /x"), Ok(None));
        assert!(matches!(
            parse(b"delete 10000 /x"),
            Ok(Some(Line::Delete(_)))
        ));
        // A '#' inside a path is part of it.
        assert_eq!(
            add("1 /a#b")?.program.path().ok_or(EINVAL)?.as_bytes(),
            b"/a#b"
        );
        Ok(())
    }

    #[test]
    fn malformed_forms() -> Result {
        let bad: &[&[u8]] = &[
            b"0 /x",
            b"65536 /x",
            b"99999999 /x",
            b"-1 /x",
            b"+1 /x",
            b"010 /x",
            b"1x /x",
            b"0x10 /x",
            b"20-10 /x",
            b"10- /x",
            b"-10 /x",
            b"10-20-30 /x",
            b"10/sctp /x",
            b"10/TCP /x",
            b"10/ /x",
            b"10000",
            b"10000 relative/path",
            b"10000 ./x",
            b"10000 /a//b",
            b"10000 /a/./b",
            b"10000 /a/../b",
            b"10000 /a/",
            b"10000 /a/.",
            b"10000 /x extra",
            b"10000 /x\0/y",
            b"10000 <kern>",
            b"delete 10000",
            b"delete 10000 /x extra",
            b"clear now",
            b"lock 1",
            b"frobnicate",
            b"add 10000 /x",
        ];
        for line in bad {
            assert!(parse(line).is_err());
        }
        let mut long = KVec::new();
        long.extend_from_slice(b"1 /", GFP_KERNEL)?;
        long.resize(MAX_PATH + 10, b'a', GFP_KERNEL)?;
        assert!(parse(&long).is_err());
        long.resize(MAX_TEXT_LINE + 1, b'a', GFP_KERNEL)?;
        assert!(parse(&long).is_err());
        Ok(())
    }

    #[test]
    fn canonical_round_trip() -> Result {
        for (input, out) in [
            ("10000 /usr/sbin/server", "10000 /usr/sbin/server"),
            ("  10000\t/usr/sbin/server  # c", "10000 /usr/sbin/server"),
            (
                "8000-8099/tcp /usr/sbin/nginx",
                "8000-8099/tcp /usr/sbin/nginx",
            ),
            ("53-53/udp <kernel>", "53/udp <kernel>"),
        ] {
            let c = canonical(input)?;
            assert_eq!(c.to_bytes(), out.as_bytes());
            let again = canonical(out)?;
            assert_eq!(again.to_bytes(), out.as_bytes());
        }
        Ok(())
    }

    #[test]
    fn escaped_round_trip() -> Result {
        // Input, the line that reads back, and the path.
        let cases: &[(&[u8], &[u8], &[u8])] = &[
            // UTF-8 and bytes that are not UTF-8 stand for themselves.
            (
                b"1 /opt/caf\xc3\xa9/srv",
                b"1 /opt/caf\xc3\xa9/srv",
                b"/opt/caf\xc3\xa9/srv",
            ),
            (
                b"1 /a/\xff\xfe\x80",
                b"1 /a/\xff\xfe\x80",
                b"/a/\xff\xfe\x80",
            ),
            (b"1 /a/\\377\\200", b"1 /a/\xff\x80", b"/a/\xff\x80"),
            // Spaces, tabs, controls, DEL and backslashes are escaped.
            (
                b"1 /opt/my\\040server",
                b"1 /opt/my\\040server",
                b"/opt/my server",
            ),
            (b"1 /a\\011b", b"1 /a\\011b", b"/a\tb"),
            (b"1 /a\\134b\\134", b"1 /a\\134b\\134", b"/a\\b\\"),
            (
                b"1 /a\\001\\012\\037\\177",
                b"1 /a\\001\\012\\037\\177",
                b"/a\x01\n\x1f\x7f",
            ),
            // Needless escapes are decoded, and read back raw.
            (b"1 /\\141\\057b#", b"1 /a/b#", b"/a/b#"),
            (b"1-2/udp \\057x", b"1-2/udp /x", b"/x"),
        ];
        for &(input, out, p) in cases {
            assert_eq!(&path(input)?[..], p);
            assert_eq!(&text(input)?[..], out);
            assert_eq!(&text(out)?[..], out);
            assert_eq!(add_bytes(input)?, add_bytes(out)?);
        }

        // Every byte but NUL, escaped on input, round trips.
        for b in 1..=255u8 {
            let line = CString::try_from_fmt(fmt!("1 /x\\{:03o}y", b))?;
            assert_eq!(&path(line.to_bytes())?[..], &[b'/', b'x', b, b'y']);
            let shown = text(line.to_bytes())?;
            assert_eq!(shown.len(), if is_escaped(b) { 9 } else { 6 });
            assert_eq!(&path(&shown)?[..], &[b'/', b'x', b, b'y']);
            assert_eq!(&text(&shown)?[..], &shown[..]);
        }

        // Display escapes bytes that are not UTF-8 as well; that parses back too.
        assert_eq!(
            canonical("1 /a/\\377caf\u{e9}\\040")?.to_bytes(),
            b"1 /a/\\377caf\xc3\xa9\\040"
        );
        assert_eq!(
            add_bytes(b"1 /a/\\377caf\xc3\xa9\\040")?,
            add_bytes(b"1 /a/\xffcaf\xc3\xa9\\040")?
        );

        // The longest path, every byte escaped, is one line.
        let mut long = KVec::new();
        long.extend_from_slice(b"65534-65535/tcp /", GFP_KERNEL)?;
        for _ in 1..MAX_PATH {
            long.extend_from_slice(b"\\040", GFP_KERNEL)?;
        }
        assert!(long.len() <= MAX_TEXT_LINE);
        assert_eq!(path(&long)?.len(), MAX_PATH);
        assert_eq!(&text(&long)?[..], &long[..]);
        long.extend_from_slice(b"\\040", GFP_KERNEL)?;
        assert!(parse(&long).is_err());
        Ok(())
    }

    #[test]
    fn malformed_escapes() -> Result {
        let bad: &[&[u8]] = &[
            // Not three octal digits.
            b"1 /a\\",
            b"1 /a\\0",
            b"1 /a\\04",
            b"1 /a\\04/b",
            b"1 /a\\08a",
            b"1 /a\\x41",
            b"1 /a\\\\",
            b"1 /a\\\\134",
            b"1 /a\\ 040",
            // Out of range: NUL, and more than a byte.
            b"1 /a\\000",
            b"1 /a\\000b",
            b"1 /a\\400",
            b"1 /a\\777",
            // Raw control characters.
            b"1 /a\x01",
            b"1 /a\r",
            b"1 /a\x1b[0m",
            b"1 /a\x7f",
            // The decoded path is checked: /, /a/, /a/../b, relative, <kernel>.
            b"1 \\057",
            b"1 /a\\057",
            b"1 /a\\057..\\057b",
            b"1 /a\\057\\057b",
            b"1 \\141",
            b"1 \\074kernel>",
            b"delete 1 /a\\",
        ];
        for line in bad {
            assert!(parse(line).is_err());
        }
        Ok(())
    }

    #[test]
    fn table_lookup() -> Result {
        let mut d = Draft::new(None);
        for line in [
            "10000 /a",
            "10000 /b",
            "10000 /a",
            "8000-8099/tcp /n",
            "8100-8199/tcp /n",
            "60-130/udp <kernel>",
            "100-200/udp /o",
            "150-300 /o",
        ] {
            draft_add(&mut d, line)?;
        }
        assert_eq!(d.len()?, 7);
        let p = Arc::new(d.build()?, GFP_KERNEL)?;
        assert_eq!(p.rules().len(), 7);
        assert!(p.is_reserved(Proto::Tcp, 10000) && p.is_reserved(Proto::Udp, 10000));
        assert!(!p.is_reserved(Proto::Tcp, 9999) && !p.is_reserved(Proto::Tcp, 10001));
        assert!(p.is_reserved(Proto::Tcp, 8000) && p.is_reserved(Proto::Tcp, 8099));
        assert!(!p.is_reserved(Proto::Udp, 8000) && !p.is_reserved(Proto::Tcp, 8200));
        assert!(!p.is_reserved(Proto::Tcp, 7999));
        for port in [60, 63, 64, 127, 128, 130, 150, 200] {
            assert!(p.is_reserved(Proto::Udp, port));
        }
        assert!(!p.is_reserved(Proto::Udp, 59) && !p.is_reserved(Proto::Udp, 301));
        assert!(p.is_reserved_any(8050) && !p.is_reserved_any(1));

        // Who may bind what.
        assert!(
            p.allows(b"/a", ROOT, Proto::Tcp, 10000) && p.allows(b"/b", ROOT, Proto::Udp, 10000)
        );
        assert!(
            !p.allows(b"/a", ROOT, Proto::Tcp, 10001) && !p.allows(b"/c", ROOT, Proto::Tcp, 10000)
        );
        assert!(
            !p.allows(b"/a", ROOT, Proto::Tcp, 8000) && !p.allows(b"/n", ROOT, Proto::Udp, 8000)
        );
        for port in [8000, 8099, 8100, 8150, 8199] {
            assert!(p.allows(b"/n", ROOT, Proto::Tcp, port));
        }
        assert!(
            !p.allows(b"/n", ROOT, Proto::Tcp, 7999) && !p.allows(b"/n", ROOT, Proto::Tcp, 8200)
        );
        assert!(
            p.allows(KERNEL_PROGRAM, ROOT, Proto::Udp, 60)
                && !p.allows(KERNEL_PROGRAM, ROOT, Proto::Tcp, 60)
        );
        assert!(p.allows(b"/o", ROOT, Proto::Udp, 100) && p.allows(b"/o", ROOT, Proto::Udp, 300));
        assert!(p.allows(b"/o", ROOT, Proto::Tcp, 150) && !p.allows(b"/o", ROOT, Proto::Tcp, 149));
        assert!(!p.allows(b"/o", ROOT, Proto::Udp, 99) && !p.allows(b"/o", ROOT, Proto::Udp, 301));
        assert_eq!(p.programs().count(), 4);

        // Rules that name one program share its path.
        let paths = |p: &Policy, name: &[u8]| {
            let mut it = p.rules().iter().filter(|r| r.program.as_bytes() == name);
            let first = it.next().and_then(|r| r.program.path().cloned());
            it.all(|r| match (r.program.path(), &first) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            })
        };
        assert!(paths(&p, b"/n") && paths(&p, b"/o"));

        let mut q = Draft::new(Some(p.clone()));
        draft_delete(&mut q, "10000 /a")?;
        assert_eq!(draft_delete(&mut q, "10000 /a"), Err(ENOENT));
        assert_eq!(draft_delete(&mut q, "10000/tcp /b"), Err(ENOENT));
        let q = q.build()?;
        assert!(q.is_reserved(Proto::Tcp, 10000) && !q.allows(b"/a", ROOT, Proto::Tcp, 10000));
        let mut q = Draft::new(Some(Arc::new(q, GFP_KERNEL)?));
        draft_delete(&mut q, "10000 /b")?;
        let q = q.build()?;
        assert!(!q.is_reserved(Proto::Tcp, 10000));
        // The published snapshot is unchanged.
        assert!(p.is_reserved(Proto::Tcp, 10000) && p.allows(b"/a", ROOT, Proto::Tcp, 10000));
        let mut q = Draft::new(Some(p.clone()));
        q.clear();
        assert_eq!(q.len()?, 0);
        let q = q.build()?;
        assert!(!q.is_reserved(Proto::Tcp, 8000) && q.rules().is_empty());
        // An empty policy reserves nothing.
        assert!(!Policy::new().is_reserved(Proto::Tcp, 1));
        assert!(!Policy::new().allows(b"/a", ROOT, Proto::Tcp, 1));
        Ok(())
    }

    /// The user and group qualifiers: parsed in either order, shown in one, and part of the
    /// rule.
    #[test]
    fn qualified_forms() -> Result {
        for (input, out) in [
            ("8080/tcp /n user=33", "8080/tcp /n user=33"),
            ("8080/tcp /n group=33 user=0", "8080/tcp /n user=0 group=33"),
            ("8080 /n  group=4294967294 ", "8080 /n group=4294967294"),
            (
                "1-2 /n user=4294967294 group=0",
                "1-2 /n user=4294967294 group=0",
            ),
        ] {
            assert_eq!(canonical(input)?.to_bytes(), out.as_bytes());
            assert_eq!(canonical(out)?.to_bytes(), out.as_bytes());
        }
        let r = add("1 /n user=33")?;
        assert_eq!((r.who.user, r.who.group), (Some(33), None));
        assert!(r.who.admits(33, 0) && r.who.admits(33, 33) && !r.who.admits(0, 33));
        let r = add("1 /n group=33")?;
        assert!(r.who.admits(0, 33) && !r.who.admits(33, 0));
        assert!(Who::ANY.admits(0, 0) && Who::ANY.admits(1, 2));
        assert_ne!(add("1 /n user=33")?, add("1 /n")?);
        assert_ne!(add("1 /n user=33")?, add("1 /n group=33")?);
        assert!(matches!(
            parse(b"delete 1 /n user=1 group=2"),
            Ok(Some(Line::Delete(Spec {
                who: Who {
                    user: Some(1),
                    group: Some(2)
                },
                ..
            })))
        ));
        let bad: &[&[u8]] = &[
            b"1 /n user=",
            b"1 /n user=x",
            b"1 /n user=-1",
            b"1 /n user=+1",
            b"1 /n user=033",
            b"1 /n user=4294967295",
            b"1 /n user=99999999999",
            b"1 /n user=1 user=1",
            b"1 /n group=1 group=2",
            b"1 /n uid=1",
            b"1 /n User=1",
            b"1 /n user = 1",
            b"1 /n user=1 group=1 extra",
            b"1 <kernel> user=0",
            b"1 <kernel> group=0",
            b"delete 1 /n user=1 group=1 x",
            b"user=1 1 /n",
        ];
        for line in bad {
            assert!(parse(line).is_err());
        }
        Ok(())
    }

    /// The rules that count a bind or a skip: the first covering rule for a skip, and at
    /// most `COUNTED_MAX` rules from it for a bind, whatever the policy.
    #[test]
    fn counting_walk_is_bounded() -> Result {
        let mut d = Draft::new(None);
        draft_add(&mut d, "1-65535/tcp /wide")?;
        for port in 2..40 {
            let line = CString::try_from_fmt(fmt!("{port}/tcp /p{port}"))?;
            draft_add(&mut d, line.to_str()?)?;
        }
        draft_add(&mut d, "30/udp /u")?;
        let p = d.build()?;
        let index = |text: &str| -> Result<usize> {
            let r = add(text)?;
            p.rules().iter().position(|x| *x == r).ok_or(EINVAL)
        };
        // The first covering rule, for either protocol.
        let first = p.first_covering(30).ok_or(EINVAL)?;
        assert!(core::ptr::eq(
            first,
            &p.counters()[index("1-65535/tcp /wide")?]
        ));
        assert!(p.first_covering(30).is_some() && Policy::new().first_covering(30).is_none());
        // A bind's walk: the covering rules among the first COUNTED_MAX from the first one.
        let mut seen = KVec::new();
        p.for_each_covering(Some(Proto::Tcp), 10, |r, _| {
            let _ = seen.push(r.first, GFP_KERNEL);
        });
        assert_eq!(&seen[..], &[1, 10]);
        let mut n = 0;
        p.for_each_covering(Some(Proto::Tcp), 39, |_, _| n += 1);
        // Rule 39 is the 39th from the wide rule: past the bound, so only the wide one counts.
        assert_eq!(n, 1);
        assert!(COUNTED_MAX < 39);
        Ok(())
    }

    /// The mode lines, and the mode of what a draft builds.
    #[test]
    fn mode_lines() -> Result {
        assert_eq!(
            parse(b"mode permissive"),
            Ok(Some(Line::Mode(Mode::Permissive)))
        );
        assert_eq!(
            parse(b" mode\tenforcing # c"),
            Ok(Some(Line::Mode(Mode::Enforcing)))
        );
        for line in [
            &b"mode"[..],
            b"mode Permissive",
            b"mode permissive now",
            b"mode 1",
            b"permissive",
        ] {
            assert!(parse(line).is_err());
        }
        assert_eq!(Policy::new().mode(), Mode::Enforcing);
        let mut d = Draft::new(None);
        d.set_mode(Mode::Permissive);
        draft_add(&mut d, "1 /a")?;
        let p = Arc::new(d.build()?, GFP_KERNEL)?;
        assert_eq!(p.mode(), Mode::Permissive);
        // A transaction keeps the mode that it does not set.
        let mut d = Draft::new(Some(p.clone()));
        draft_add(&mut d, "2 /a")?;
        assert_eq!(d.build()?.mode(), Mode::Permissive);
        // `clear` goes back to enforcing; a later mode line wins.
        let mut d = Draft::new(Some(p.clone()));
        d.clear();
        assert_eq!(d.build()?.mode(), Mode::Enforcing);
        let mut d = Draft::new(Some(p));
        d.clear();
        d.set_mode(Mode::Permissive);
        assert_eq!(d.build()?.mode(), Mode::Permissive);
        Ok(())
    }

    /// Rules for one program and port with other qualifiers are kept apart: each admits its
    /// own user or group, and `delete` names the qualifier.
    #[test]
    fn qualified_lookup() -> Result {
        let mut d = Draft::new(None);
        for line in [
            "8080/tcp /n user=33",
            "8080/tcp /n user=34",
            "8081/tcp /n group=50",
            "8082/tcp /n user=33 group=50",
            "8083/tcp /n",
            "8084/tcp /m user=33",
        ] {
            draft_add(&mut d, line)?;
        }
        let p = Arc::new(d.build()?, GFP_KERNEL)?;
        assert_eq!(p.rules().len(), 6);
        assert!(p.allows(b"/n", (33, 0), Proto::Tcp, 8080));
        assert!(p.allows(b"/n", (34, 0), Proto::Tcp, 8080));
        assert!(!p.allows(b"/n", (35, 0), Proto::Tcp, 8080));
        assert!(!p.allows(b"/m", (33, 0), Proto::Tcp, 8080));
        assert!(p.allows(b"/n", (1, 50), Proto::Tcp, 8081));
        assert!(!p.allows(b"/n", (50, 1), Proto::Tcp, 8081));
        assert!(p.allows(b"/n", (33, 50), Proto::Tcp, 8082));
        assert!(!p.allows(b"/n", (33, 51), Proto::Tcp, 8082));
        assert!(!p.allows(b"/n", (34, 50), Proto::Tcp, 8082));
        assert!(p.allows(b"/n", (7, 7), Proto::Tcp, 8083));
        assert!(!p.allows(b"/n", (33, 0), Proto::Tcp, 8084));
        assert!(p.allows(b"/m", (33, 0), Proto::Tcp, 8084));
        assert!(!p.allows(b"/m", (34, 0), Proto::Tcp, 8084));
        // Deleting a rule takes its qualifier.
        let mut q = Draft::new(Some(p.clone()));
        assert_eq!(draft_delete(&mut q, "8080/tcp /n"), Err(ENOENT));
        assert_eq!(draft_delete(&mut q, "8080/tcp /n group=33"), Err(ENOENT));
        draft_delete(&mut q, "8080/tcp /n user=33")?;
        let q = q.build()?;
        assert!(!q.allows(b"/n", (33, 0), Proto::Tcp, 8080));
        assert!(q.allows(b"/n", (34, 0), Proto::Tcp, 8080));
        // Added and deleted in one transaction, with several qualifiers.
        let mut d = Draft::new(None);
        draft_add(&mut d, "1 /a user=1")?;
        draft_add(&mut d, "1 /a user=2")?;
        draft_add(&mut d, "1 /a")?;
        draft_delete(&mut d, "1 /a user=2")?;
        assert_eq!(draft_delete(&mut d, "1 /a user=2"), Err(ENOENT));
        assert_eq!(d.len()?, 2);
        let p = d.build()?;
        assert!(p.allows(b"/a", (1, 0), Proto::Tcp, 1));
        assert!(p.allows(b"/a", (2, 0), Proto::Tcp, 1));
        // Several copies of one path, with other qualifiers, in one snapshot.
        let mut rules = KVVec::new();
        for line in ["1 /a user=1", "2 /a user=2", "3 /a user=1", "4 /a"] {
            rules.push(add(line)?, GFP_KERNEL)?;
        }
        let p = Policy::from_rules(rules)?;
        assert!(p.allows(b"/a", (1, 0), Proto::Tcp, 1) && p.allows(b"/a", (1, 0), Proto::Tcp, 3));
        assert!(!p.allows(b"/a", (2, 0), Proto::Tcp, 1) && p.allows(b"/a", (2, 0), Proto::Tcp, 2));
        assert!(!p.allows(b"/a", (1, 0), Proto::Tcp, 2) && p.allows(b"/a", (5, 5), Proto::Tcp, 4));
        Ok(())
    }

    /// The rules that cover a port, and the counters that a new snapshot carries over.
    #[test]
    fn covering_and_counters() -> Result {
        let mut d = Draft::new(None);
        for line in [
            "1-100 /a",
            "5/tcp /b",
            "10-20/udp /c",
            "15 /d user=1",
            "30-40 /e",
        ] {
            draft_add(&mut d, line)?;
        }
        let p = Arc::new(d.build()?, GFP_KERNEL)?;
        let covering = |p: &Policy, proto: Option<Proto>, port: u16| {
            let mut n = 0;
            p.for_each_covering(proto, port, |r, c| {
                assert!(r.first <= port && port <= r.last);
                Counters::inc(&c.denied);
                n += 1;
            });
            n
        };
        assert_eq!(covering(&p, Some(Proto::Tcp), 5), 2);
        assert_eq!(covering(&p, Some(Proto::Udp), 5), 1);
        assert_eq!(covering(&p, Some(Proto::Tcp), 15), 2);
        assert_eq!(covering(&p, Some(Proto::Udp), 15), 3);
        assert_eq!(covering(&p, None, 15), 3);
        assert_eq!(covering(&p, Some(Proto::Tcp), 101), 0);
        assert_eq!(covering(&p, None, 35), 2);
        let denied = |p: &Policy, line: &str| -> Result<u64> {
            let r = add(line)?;
            let i = p.rules().iter().position(|x| *x == r).ok_or(ENOENT)?;
            Ok(p.counters()[i].get()[1])
        };
        assert_eq!(denied(&p, "1-100 /a")?, 6);
        assert_eq!(denied(&p, "15 /d user=1")?, 3);
        // A reload that clears and adds again keeps the counters of the rules that stay; a
        // rule that changed starts from zero.
        let mut d = Draft::new(Some(p.clone()));
        d.clear();
        for line in ["1-100 /a", "15 /d user=2", "30-40 /e", "50 /f"] {
            draft_add(&mut d, line)?;
        }
        let q = d.build()?;
        let carry = Carry::new(Some(p.clone()), &q)?;
        assert_eq!(denied(&q, "1-100 /a")?, 6);
        assert_eq!(denied(&q, "15 /d user=2")?, 0);
        assert_eq!(denied(&q, "30-40 /e")?, 1);
        // What the old snapshot counts until it is replaced is carried too.
        assert_eq!(covering(&p, Some(Proto::Tcp), 35), 2);
        assert_eq!(denied(&q, "30-40 /e")?, 1);
        carry.finish(&q);
        assert_eq!(denied(&q, "30-40 /e")?, 2);
        assert_eq!(denied(&q, "1-100 /a")?, 7);
        assert_eq!(denied(&q, "15 /d user=2")?, 0);
        assert_eq!(denied(&q, "50 /f")?, 0);
        // Counted twice, carried once: the old snapshot is unchanged.
        assert_eq!(denied(&p, "30-40 /e")?, 2);
        Ok(())
    }

    /// Rules that name one program through two copies of its path are one program.
    #[test]
    fn two_copies_of_a_path() -> Result {
        let mut rules = KVVec::new();
        for line in ["1 /a", "2 /b", "3 /a", "4 <kernel>", "5 /a"] {
            rules.push(add(line)?, GFP_KERNEL)?;
        }
        let p = Policy::from_rules(rules)?;
        assert_eq!(p.programs().count(), 2);
        for port in [1, 3, 5] {
            assert!(p.allows(b"/a", ROOT, Proto::Tcp, port));
        }
        assert!(!p.allows(b"/a", ROOT, Proto::Tcp, 2) && !p.allows(b"/a", ROOT, Proto::Tcp, 4));
        assert!(
            p.allows(b"/b", ROOT, Proto::Udp, 2) && p.allows(KERNEL_PROGRAM, ROOT, Proto::Udp, 4)
        );
        let shared = |a: &Rule, b: &Rule| match (a.program.path(), b.program.path()) {
            (Some(x), Some(y)) => Arc::ptr_eq(x, y),
            _ => false,
        };
        let r = p.rules();
        assert!(shared(&r[0], &r[2]) && shared(&r[0], &r[4]));
        Ok(())
    }

    /// A rule deleted and added again in one transaction is there, once.
    #[test]
    fn delete_then_add_again() -> Result {
        let mut d = Draft::new(None);
        draft_add(&mut d, "1 /a")?;
        draft_add(&mut d, "2 /a")?;
        draft_delete(&mut d, "2 /a")?;
        assert_eq!(draft_delete(&mut d, "2 /a"), Err(ENOENT));
        draft_add(&mut d, "2 /a")?;
        draft_add(&mut d, "2 /a")?;
        assert_eq!(d.len()?, 2);
        let p = Arc::new(d.build()?, GFP_KERNEL)?;
        assert_eq!(p.rules().len(), 2);
        assert!(p.allows(b"/a", ROOT, Proto::Udp, 2));

        let mut d = Draft::new(Some(p));
        draft_delete(&mut d, "1 /a")?;
        draft_add(&mut d, "1 /a")?;
        draft_add(&mut d, "3 /b")?;
        draft_delete(&mut d, "3 /b")?;
        draft_add(&mut d, "3 /b")?;
        assert_eq!(d.len()?, 3);
        let p = d.build()?;
        assert_eq!(p.rules().len(), 3);
        assert!(p.allows(b"/a", ROOT, Proto::Tcp, 1) && p.allows(b"/b", ROOT, Proto::Tcp, 3));
        Ok(())
    }

    /// A small xorshift generator, so that a failure can be replayed from its seed.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// The parser on random lines, made of the grammar's own pieces and of random bytes: it
    /// never panics, and every rule that it takes, written back in its canonical form, parses
    /// to the same rule and the same path, and is written the same way again.
    #[test]
    fn parser_random_lines() -> Result {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let pieces: [&[u8]; 18] = [
            b"1",
            b"80",
            b"65535",
            b"0",
            b"-",
            b"/tcp",
            b"/udp",
            b"/x",
            b" ",
            b"\t",
            b"/usr/sbin/srv",
            b"<kernel>",
            b"\\040",
            b"delete ",
            b"#",
            b"\\377",
            b" user=33",
            b" group=0",
        ];
        let (mut path, mut again) = (KVec::new(), KVec::new());
        let (mut taken, mut refused) = (0u32, 0u32);
        for _ in 0..20_000 {
            let mut line: KVec<u8> = KVec::new();
            if rng.below(2) == 0 {
                // Shaped like a rule, with a random piece or byte here and there.
                let port = |rng: &mut Rng| pieces[rng.below(3) as usize];
                if rng.below(4) == 0 {
                    line.extend_from_slice(b"delete ", GFP_KERNEL)?;
                }
                line.extend_from_slice(port(&mut rng), GFP_KERNEL)?;
                if rng.below(3) == 0 {
                    line.push(b'-', GFP_KERNEL)?;
                    line.extend_from_slice(port(&mut rng), GFP_KERNEL)?;
                }
                line.extend_from_slice(pieces[5 + rng.below(3) as usize], GFP_KERNEL)?;
                line.push(b' ', GFP_KERNEL)?;
                line.extend_from_slice(pieces[10 + rng.below(2) as usize], GFP_KERNEL)?;
            }
            for _ in 0..rng.below(if line.is_empty() { 8 } else { 2 }) {
                if rng.below(4) == 0 {
                    line.push(rng.below(256) as u8, GFP_KERNEL)?;
                } else {
                    let piece = pieces[rng.below(pieces.len() as u64) as usize];
                    line.extend_from_slice(piece, GFP_KERNEL)?;
                }
            }
            let spec = match parse_line(&line, &mut path) {
                Ok(Some(Line::Add(spec) | Line::Delete(spec))) => spec,
                Ok(_) => continue,
                Err(_) => {
                    refused += 1;
                    continue;
                }
            };
            taken += 1;
            let text = |path: &KVec<u8>| -> Result<KVec<u8>> {
                let mut out = KVec::new();
                let mut res = Ok(());
                RuleText {
                    first: spec.first,
                    last: spec.last,
                    protos: spec.protos,
                    path: (!spec.kernel).then_some(&path[..]),
                    who: spec.who,
                }
                .write(&mut |b: &[u8]| {
                    if res.is_ok() {
                        res = out.extend_from_slice(b, GFP_KERNEL);
                    }
                });
                res.map(|()| out).map_err(Into::into)
            };
            let canonical = text(&path)?;
            let back = parse_line(&canonical, &mut again);
            assert!(matches!(back, Ok(Some(Line::Add(_)))));
            if let Ok(Some(Line::Add(back))) = back {
                assert_eq!(back, spec);
                assert!(spec.kernel || again[..] == path[..]);
            }
            assert_eq!(text(&again)?[..], canonical[..]);
        }
        // Both sides were reached: the generator is not all refusals, nor all comments.
        assert!(taken > 100 && refused > 100);
        Ok(())
    }

    /// Random transactions against a model, a plain list of rules: every add, delete and clear
    /// gives the same result, and the snapshots agree with the model on every port.
    #[test]
    fn draft_matches_model() -> Result {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let names: [&[u8]; 4] = [b"/a", b"/b", b"/c/d", KERNEL_PROGRAM];
        let mut model: KVec<(u16, u16, u8, usize)> = KVec::new();
        let mut policy: Option<Arc<Policy>> = None;
        for txn in 0..60 {
            let mut d = Draft::new(policy.clone());
            // Every other transaction writes its ports in ascending order, as a sorted policy
            // file does, which keeps the added rules in order without sorting them.
            let mut next = 1u16;
            for _op in 0..30 {
                let first = if txn % 2 == 0 {
                    1 + rng.below(40) as u16
                } else {
                    next = (next + rng.below(2) as u16).min(40);
                    next
                };
                // The sorted transactions use few rules, so that lines repeat the last one.
                let few = txn % 2 == 1;
                let last = first + if few { 0 } else { rng.below(3) as u16 };
                let protos =
                    [PROTO_TCP, PROTO_UDP, PROTO_ALL][rng.below(if few { 1 } else { 3 }) as usize];
                let prog = rng.below(if few { 2 } else { names.len() as u64 }) as usize;
                let line = CString::try_from_fmt(fmt!(
                    "{}-{}{} {}",
                    first,
                    last,
                    match protos {
                        PROTO_TCP => "/tcp",
                        PROTO_UDP => "/udp",
                        _ => "",
                    },
                    kernel::str::BStr::from_bytes(names[prog])
                ))?;
                let line = core::str::from_utf8(line.to_bytes()).map_err(|_| EINVAL)?;
                let key = (first, last, protos, prog);
                let at = model.iter().position(|&m| m == key);
                match rng.below(10) {
                    0 => {
                        d.clear();
                        model.clear();
                    }
                    1..=3 => {
                        let r = draft_delete(&mut d, line);
                        match at {
                            Some(i) => {
                                assert_eq!(r, Ok(()));
                                model.remove(i).map_err(|_| EINVAL)?;
                            }
                            None => assert_eq!(r, Err(ENOENT)),
                        }
                    }
                    _ => {
                        draft_add(&mut d, line)?;
                        if at.is_none() {
                            model.push(key, GFP_KERNEL)?;
                        }
                    }
                }
                if rng.below(3) == 0 {
                    assert_eq!(d.len()?, model.len());
                }
            }
            let p = d.build()?;
            assert_eq!(p.rules().len(), model.len());
            assert!(p.rules().windows(2).all(|w| w[0] < w[1]));
            for port in 1..=45u16 {
                for proto in [Proto::Tcp, Proto::Udp] {
                    let covers = |&&(f, l, ps, _): &&(u16, u16, u8, usize)| {
                        ps & (1 << proto as u8) != 0 && (f..=l).contains(&port)
                    };
                    assert_eq!(p.is_reserved(proto, port), model.iter().any(|m| covers(&m)));
                    for (k, name) in names.iter().enumerate() {
                        assert_eq!(
                            p.allows(name, ROOT, proto, port),
                            model.iter().any(|m| covers(&m) && m.3 == k)
                        );
                    }
                    assert_eq!(
                        p.rules().iter().filter(|r| r.covers(proto, port)).count(),
                        model.iter().filter(|m| covers(m)).count()
                    );
                }
            }
            policy = Some(Arc::new(p, GFP_KERNEL)?);
        }
        Ok(())
    }
}
