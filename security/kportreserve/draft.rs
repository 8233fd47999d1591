// SPDX-License-Identifier: GPL-2.0-only

//! The policy that a transaction builds: the policy in force, unchanged and shared, with the
//! rules that the transaction deleted from it and the rules that it added.
//!
//! Nothing is copied when a transaction starts, and nothing when it clears the policy. A line
//! allocates nothing, but for a program that the transaction has not seen yet: added rules are
//! appended to a vector, with their program as an index into a table of programs, and sorted
//! once, when something needs them in order (a `delete`, the limit of rules, the commit). So a
//! load of n rules costs O(n log n), in any order, and the snapshot that the transaction
//! publishes is merged in one pass.

use crate::{
    grammar::{
        Mode,
        Spec,
        Who, //
    },
    limits::{
        KERNEL_PROGRAM,
        MAX_RULES,
        NR_PORTS, //
    },
    policy::{
        PathName,
        Policy,
        Program,
        Rule, //
    },
};
use core::cmp::Ordering;
use kernel::{
    alloc::KVVec,
    prelude::*,
    sync::Arc, //
};

/// A rule that the transaction added; its program (with its qualifier) is an index into
/// [`Draft::programs`].
#[derive(Clone, Copy)]
struct Added {
    first: u16,
    last: u16,
    protos: u8,
    /// Deleted again by the transaction.
    dead: bool,
    program: u32,
}

/// A filler for a vector of [`Added`] before it is written.
const DEAD: Added = Added {
    first: 0,
    last: 0,
    protos: 0,
    dead: true,
    program: 0,
};

/// A policy being changed by a transaction.
pub(crate) struct Draft {
    /// The policy that the transaction started from, never modified; `None` once cleared.
    base: Option<Arc<Policy>>,
    /// The policy in force when the transaction started, also once cleared: a program that it
    /// names is shared with it, so that a reload keeps the same paths (see [`Draft::intern`]).
    origin: Option<Arc<Policy>>,
    /// One bit per rule of `base`: deleted. Empty until the first delete.
    deleted: KVVec<u64>,
    /// The number of bits set in `deleted`.
    n_deleted: usize,
    /// The programs that the transaction's lines named, each once with each qualifier. A
    /// program of `base` is shared with it, so that each program keeps one copy of its path.
    programs: KVVec<(Program, Who)>,
    /// The [`hash`](crate::grammar::hash) of the bytes of each program of `programs`, compared
    /// before the bytes.
    hashes: KVVec<u32>,
    /// A hash table of `programs`, by their bytes and qualifiers: an index plus one, or 0 for a
    /// free slot. Its size is a power of two, at least twice the number of programs.
    slots: KVVec<u32>,
    /// The program that the last line named.
    last: u32,
    /// The rank of each program in the order of their bytes, for [`Draft::tidy`].
    rank: KVVec<u32>,
    /// The rules that are not in `base`; when `tidy`, in order and without duplicates.
    added: KVVec<Added>,
    tidy: bool,
    /// The number of entries of `added` that are dead.
    n_dead: usize,
    /// The mode of the policy that the transaction builds.
    mode: Mode,
}

/// The number of added rules from which a counting sort by first port, which costs O(n + the
/// number of ports), beats a comparison sort.
const COUNTING_SORT_MIN: usize = 4096;

/// Sorts `added` by first port with a counting sort, then each run of one first port by `key`.
fn sort_by_first_port(
    added: KVVec<Added>,
    key: impl Fn(&Added) -> u64 + Copy,
) -> Result<KVVec<Added>> {
    let mut start = KVVec::with_capacity(NR_PORTS + 1, GFP_KERNEL)?;
    start.resize(NR_PORTS + 1, 0usize, GFP_KERNEL)?;
    for a in added.iter() {
        start[usize::from(a.first) + 1] += 1;
    }
    for p in 1..start.len() {
        start[p] += start[p - 1];
    }
    let mut sorted = KVVec::with_capacity(added.len(), GFP_KERNEL)?;
    sorted.resize(added.len(), DEAD, GFP_KERNEL)?;
    let mut next = KVVec::with_capacity(start.len(), GFP_KERNEL)?;
    next.extend_from_slice(&start, GFP_KERNEL)?;
    for &a in added.iter() {
        let at = &mut next[usize::from(a.first)];
        sorted[*at] = a;
        *at += 1;
    }
    for w in start.windows(2) {
        if w[1] - w[0] > 1 {
            sorted[w[0]..w[1]].sort_unstable_by_key(key);
        }
    }
    Ok(sorted)
}

impl Draft {
    /// A draft of `base`, or of an empty policy.
    pub(crate) fn new(base: Option<Arc<Policy>>) -> Self {
        Self {
            mode: base.as_deref().map_or(Mode::Enforcing, Policy::mode),
            origin: base.clone(),
            base,
            deleted: KVVec::new(),
            n_deleted: 0,
            programs: KVVec::new(),
            hashes: KVVec::new(),
            slots: KVVec::new(),
            last: 0,
            rank: KVVec::new(),
            added: KVVec::new(),
            tidy: true,
            n_dead: 0,
        }
    }

    fn base_rules(&self) -> &[Rule] {
        self.base.as_deref().map_or(&[], Policy::rules)
    }

    /// The number of rules, but a rule that was added more than once counts that many times
    /// until the next [`Draft::tidy`].
    fn len_at_most(&self) -> usize {
        self.base_rules().len() - self.n_deleted + self.added.len() - self.n_dead
    }

    /// The number of rules.
    pub(crate) fn len(&mut self) -> Result<usize> {
        self.tidy()?;
        Ok(self.len_at_most())
    }

    /// The bytes and the qualifier of program `i`.
    fn program_key(&self, i: u32) -> (&[u8], Who) {
        self.programs
            .get(i as usize)
            .map_or((&[][..], Who::ANY), |(p, w)| (p.as_bytes(), *w))
    }

    /// The slot of a hash table of programs where to look for `h` with qualifier `who` first.
    fn first_slot(h: u32, who: Who) -> usize {
        (h ^ (who.key() as u32).wrapping_mul(0x9e37_79b9) ^ (who.key() >> 32) as u32) as usize
    }

    /// The index of the program with `bytes` and qualifier `who`, whose
    /// [`hash`](crate::grammar::hash) is `h`, in
    /// [`Draft::programs`], if there is one.
    fn lookup(&self, bytes: &[u8], who: Who, h: u32) -> Option<u32> {
        let mask = self.slots.len().checked_sub(1)?;
        let mut i = Self::first_slot(h, who) & mask;
        loop {
            match self.slots[i] {
                0 => return None,
                s if self.hashes.get(s as usize - 1) == Some(&h)
                    && self.program_key(s - 1) == (bytes, who) =>
                {
                    return Some(s - 1)
                }
                _ => i = (i + 1) & mask,
            }
        }
    }

    fn insert_slot(slots: &mut [u32], h: u32, who: Who, index: u32) {
        let mask = slots.len() - 1;
        let mut i = Self::first_slot(h, who) & mask;
        while slots[i] != 0 {
            i = (i + 1) & mask;
        }
        slots[i] = index + 1;
    }

    /// The index of the program of `spec` (`path` for a path), added to the table if new.
    fn intern(&mut self, spec: &Spec, path: &[u8]) -> Result<u32> {
        let bytes = if spec.kernel { KERNEL_PROGRAM } else { path };
        // Policies tend to list the rules of a program together.
        if self.hashes.get(self.last as usize) == Some(&spec.hash)
            && self.program_key(self.last) == (bytes, spec.who)
        {
            return Ok(self.last);
        }
        if let Some(i) = self.lookup(bytes, spec.who, spec.hash) {
            self.last = i;
            return Ok(i);
        }
        // A program of the policy in force keeps its path: the same `Arc`, which the rules and
        // the identities of running owners share, and which makes a reload cheap to compare
        // (see `crate::policy::Carry`).
        let program = match self.origin.as_ref().and_then(|b| b.find_program(bytes)) {
            Some(p) => p.clone(),
            None if spec.kernel => Program::Kernel,
            None => Program::Path(PathName::new(path)?),
        };
        let index = u32::try_from(self.programs.len()).map_err(|_| ENOSPC)?;
        if 2 * (self.programs.len() + 1) > self.slots.len() {
            let size = (4 * (self.programs.len() + 1)).next_power_of_two();
            let mut slots = KVVec::with_capacity(size, GFP_KERNEL)?;
            slots.resize(size, 0, GFP_KERNEL)?;
            for (i, ((_, w), &h)) in self.programs.iter().zip(self.hashes.iter()).enumerate() {
                Self::insert_slot(&mut slots, h, *w, i as u32);
            }
            self.slots = slots;
        }
        self.hashes.reserve(1, GFP_KERNEL)?;
        self.programs.push((program, spec.who), GFP_KERNEL)?;
        // Cannot fail: reserved above, so that both vectors grow or neither.
        let _ = self.hashes.push_within_capacity(spec.hash);
        Self::insert_slot(&mut self.slots, spec.hash, spec.who, index);
        self.last = index;
        Ok(index)
    }

    /// Orders a rule of `base` against a rule that the transaction added.
    fn cmp_base(&self, r: &Rule, a: &Added) -> Ordering {
        (r.first, r.last, r.protos)
            .cmp(&(a.first, a.last, a.protos))
            .then_with(|| match self.programs.get(a.program as usize) {
                Some((p, w)) => r.program.cmp_bytes(p).then_with(|| r.who.cmp(w)),
                None => Ordering::Less,
            })
    }

    /// The index of the rule of `base` equal to `a`, if there is one.
    fn in_base(&self, a: &Added) -> Option<usize> {
        self.base_rules()
            .binary_search_by(|r| self.cmp_base(r, a))
            .ok()
    }

    /// Orders two added rules, once [`Draft::tidy`] ranked the programs.
    fn cmp_ranked(&self, a: &Added, b: &Added) -> Ordering {
        let rank = |p: u32| self.rank.get(p as usize).copied().unwrap_or(u32::MAX);
        (a.first, a.last, a.protos, rank(a.program)).cmp(&(
            b.first,
            b.last,
            b.protos,
            rank(b.program),
        ))
    }

    /// Orders two added rules, by the bytes of their programs.
    fn cmp_added(&self, a: &Added, b: &Added) -> Ordering {
        (a.first, a.last, a.protos)
            .cmp(&(b.first, b.last, b.protos))
            .then_with(|| {
                self.program_key(a.program)
                    .cmp(&self.program_key(b.program))
            })
    }

    fn is_deleted(&self, i: usize) -> bool {
        self.deleted
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    fn toggle_deleted(&mut self, i: usize) -> Result {
        if self.deleted.is_empty() {
            let words = self.base_rules().len().div_ceil(64);
            self.deleted.resize(words, 0, GFP_KERNEL)?;
        }
        let w = self.deleted.get_mut(i / 64).ok_or(EINVAL)?;
        *w ^= 1 << (i % 64);
        Ok(())
    }

    /// Sorts the added rules and drops duplicates and dead ones: O(k log k) for k of them. A
    /// tidy vector may hold dead rules, each once: a delete only marks them.
    fn tidy(&mut self) -> Result {
        if self.tidy {
            return Ok(());
        }
        // Rank the programs in the order of their bytes, then qualifiers.
        let mut order = KVVec::with_capacity(self.programs.len(), GFP_KERNEL)?;
        for i in 0..self.programs.len() as u32 {
            order.push(i, GFP_KERNEL)?;
        }
        order.sort_unstable_by(|&a, &b| self.program_key(a).cmp(&self.program_key(b)));
        let mut rank = KVVec::with_capacity(self.programs.len(), GFP_KERNEL)?;
        rank.resize(self.programs.len(), 0, GFP_KERNEL)?;
        for (r, &i) in order.iter().enumerate() {
            rank[i as usize] = r as u32;
        }
        self.rank = rank;

        // Live before dead among equal rules, then keep the first of each.
        let mut added = core::mem::take(&mut self.added);
        let rank = &self.rank;
        // The rest of the order of `cmp_ranked`, after the first port, in one integer.
        let key = |a: &Added| {
            let r = rank
                .get(a.program as usize)
                .copied()
                .unwrap_or(u32::MAX >> 3);
            (u64::from(a.last) << 32)
                | (u64::from(a.protos) << 30)
                | (u64::from(r) << 1)
                | u64::from(a.dead)
        };
        if added.len() < COUNTING_SORT_MIN {
            added.sort_unstable_by_key(|a| (a.first, key(a)));
        } else {
            added = sort_by_first_port(added, key)?;
        }
        let mut kept = 0;
        for i in 0..added.len() {
            let a = added[i];
            let same = i > 0 && self.cmp_ranked(&added[i - 1], &a) == Ordering::Equal;
            if !same && !a.dead {
                added[kept] = a;
                kept += 1;
            }
        }
        added.truncate(kept);
        self.added = added;
        self.tidy = true;
        self.n_dead = 0;
        Ok(())
    }

    /// The index in `added` of the rule equal to `a`, live or dead, once tidy.
    fn find_added(&self, a: &Added) -> Option<usize> {
        self.added.binary_search_by(|b| self.cmp_added(b, a)).ok()
    }

    /// Adds the rule that `spec` and `path` state; adding a rule that is already there changes
    /// nothing. Fails with `ENOSPC` if the policy is full.
    pub(crate) fn add(&mut self, spec: &Spec, path: &[u8]) -> Result {
        let a = Added {
            first: spec.first,
            last: spec.last,
            protos: spec.protos,
            dead: false,
            program: self.intern(spec, path)?,
        };
        if let Some(i) = self.in_base(&a) {
            if self.is_deleted(i) {
                if self.len()? >= MAX_RULES {
                    return Err(ENOSPC);
                }
                self.toggle_deleted(i)?;
                self.n_deleted -= 1;
            }
            return Ok(());
        }
        if self.len_at_most() >= MAX_RULES {
            // Exactly, then: the rule may already be there.
            self.tidy()?;
            let found = self.find_added(&a);
            if found.is_some_and(|i| !self.added[i].dead) {
                return Ok(());
            }
            if self.len_at_most() >= MAX_RULES {
                return Err(ENOSPC);
            }
            if let Some(i) = found {
                self.added[i].dead = false;
                self.n_dead -= 1;
                return Ok(());
            }
        }
        // Rules written in canonical order keep the vector tidy: no sort at all.
        if self.tidy {
            if let Some(last) = self.added.last() {
                match self.cmp_added(last, &a) {
                    Ordering::Less => {}
                    Ordering::Equal => {
                        if last.dead {
                            if let Some(last) = self.added.last_mut() {
                                last.dead = false;
                            }
                            self.n_dead -= 1;
                        }
                        return Ok(());
                    }
                    Ordering::Greater => self.tidy = false,
                }
            }
        }
        crate::policy::push(&mut self.added, a)?;
        Ok(())
    }

    /// Removes the rule that `spec` and `path` state. Fails with `ENOENT` if there is no such
    /// rule.
    pub(crate) fn delete(&mut self, spec: &Spec, path: &[u8]) -> Result {
        let bytes = if spec.kernel { KERNEL_PROGRAM } else { path };
        // No added rule names a program that no line named.
        let Some(program) = self.lookup(bytes, spec.who, spec.hash) else {
            return self.delete_from_base(spec, bytes);
        };
        let a = Added {
            first: spec.first,
            last: spec.last,
            protos: spec.protos,
            dead: false,
            program,
        };
        self.tidy()?;
        if let Some(i) = self.find_added(&a) {
            if self.added[i].dead {
                // It is not in `base` either: added rules never are.
                return Err(ENOENT);
            }
            self.added[i].dead = true;
            self.n_dead += 1;
            return Ok(());
        }
        self.delete_from_base(spec, bytes)
    }

    fn delete_from_base(&mut self, spec: &Spec, bytes: &[u8]) -> Result {
        let found = self.base_rules().binary_search_by(|r| {
            (r.first, r.last, r.protos)
                .cmp(&(spec.first, spec.last, spec.protos))
                .then_with(|| r.program.as_bytes().cmp(bytes))
                .then_with(|| r.who.cmp(&spec.who))
        });
        match found {
            Ok(i) if !self.is_deleted(i) => {
                self.toggle_deleted(i)?;
                self.n_deleted += 1;
                Ok(())
            }
            _ => Err(ENOENT),
        }
    }

    /// Sets the mode of the policy.
    pub(crate) fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
    }

    /// Removes every rule, and goes back to the mode of an empty policy: enforcing.
    pub(crate) fn clear(&mut self) {
        self.mode = Mode::Enforcing;
        self.base = None;
        self.deleted.clear();
        self.n_deleted = 0;
        self.added.clear();
        self.tidy = true;
        self.n_dead = 0;
    }

    /// The snapshot of the draft's rules, merged in order in one pass, in the draft's mode.
    pub(crate) fn build(mut self) -> Result<Policy> {
        self.tidy()?;
        let mut rules = KVVec::with_capacity(self.len_at_most(), GFP_KERNEL)?;
        let base = self.base_rules();
        let mut kept = base
            .iter()
            .enumerate()
            .filter(|&(i, _)| !self.is_deleted(i))
            .map(|(_, r)| r)
            .peekable();
        let mut added = self.added.iter().filter(|a| !a.dead).peekable();
        loop {
            let take_base = match (kept.peek(), added.peek()) {
                (Some(r), Some(a)) => self.cmp_base(r, a) == Ordering::Less,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let rule = if take_base {
                kept.next().cloned()
            } else {
                added.next().and_then(|a| {
                    let (program, who) = self.programs.get(a.program as usize)?;
                    Some(Rule {
                        first: a.first,
                        last: a.last,
                        protos: a.protos,
                        program: program.clone(),
                        who: *who,
                    })
                })
            };
            if let Some(r) = rule {
                crate::policy::push(&mut rules, r)?;
            }
        }
        let mut policy = Policy::from_rules(rules)?;
        policy.set_mode(self.mode);
        Ok(policy)
    }
}
