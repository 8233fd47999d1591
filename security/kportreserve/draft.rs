// SPDX-License-Identifier: GPL-2.0-only

//! The policy that a transaction builds: the policy in force, unchanged and shared, with the
//! rules that the transaction deleted from it and the rules that it added.
//!
//! Nothing is copied when a transaction starts, and nothing when it clears the policy. Each
//! line costs O(log n), so a load of n rules in any order costs O(n log n), and the snapshot
//! that the transaction publishes is built in one pass over the rules, merged in order.

use crate::{
    limits::MAX_RULES,
    policy::{
        Policy,
        Program,
        Rule, //
    },
};
use kernel::{
    alloc::KVVec,
    prelude::*,
    rbtree::RBTree,
    sync::Arc, //
};

/// A policy being changed by a transaction.
pub(crate) struct Draft {
    /// The policy that the transaction started from, never modified; `None` once cleared.
    base: Option<Arc<Policy>>,
    /// One bit per rule of `base`: deleted. Empty until the first delete.
    deleted: KVVec<u64>,
    /// The number of bits set in `deleted`.
    n_deleted: usize,
    /// The rules that are not in `base`, in order.
    added: RBTree<Rule, ()>,
    /// The number of rules in `added`.
    n_added: usize,
    /// The program of the last rule that was added, so that the rules of a policy that names a
    /// program many times share one copy of its path.
    last: Option<Program>,
}

impl Draft {
    /// A draft of `base`, or of an empty policy.
    pub(crate) fn new(base: Option<Arc<Policy>>) -> Self {
        Self {
            base,
            deleted: KVVec::new(),
            n_deleted: 0,
            added: RBTree::new(),
            n_added: 0,
            last: None,
        }
    }

    /// The number of rules.
    pub(crate) fn len(&self) -> usize {
        self.base.as_ref().map_or(0, |b| b.rules().len()) - self.n_deleted + self.n_added
    }

    /// The index of `rule` in `base`, if it is there.
    fn in_base(&self, rule: &Rule) -> Option<usize> {
        self.base.as_ref()?.find(rule)
    }

    fn is_deleted(&self, i: usize) -> bool {
        self.deleted
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    fn toggle_deleted(&mut self, i: usize) -> Result {
        if self.deleted.is_empty() {
            let words = self
                .base
                .as_ref()
                .map_or(0, |b| b.rules().len())
                .div_ceil(64);
            self.deleted.resize(words, 0, GFP_KERNEL)?;
        }
        let w = self.deleted.get_mut(i / 64).ok_or(EINVAL)?;
        *w ^= 1 << (i % 64);
        Ok(())
    }

    /// Adds `rule`; adding a rule that is already there changes nothing. Fails with `ENOSPC`
    /// if the policy is full.
    pub(crate) fn add(&mut self, mut rule: Rule) -> Result {
        if let Some(last) = &self.last {
            if *last == rule.program {
                rule.program = last.clone();
            }
        }
        if let Some(i) = self.in_base(&rule) {
            if self.is_deleted(i) {
                if self.len() >= MAX_RULES {
                    return Err(ENOSPC);
                }
                self.toggle_deleted(i)?;
                self.n_deleted -= 1;
            }
            return Ok(());
        }
        if self.added.get(&rule).is_some() {
            return Ok(());
        }
        if self.len() >= MAX_RULES {
            return Err(ENOSPC);
        }
        self.last = Some(rule.program.clone());
        self.added.try_create_and_insert(rule, (), GFP_KERNEL)?;
        self.n_added += 1;
        Ok(())
    }

    /// Removes `rule`. Fails with `ENOENT` if there is no such rule.
    pub(crate) fn delete(&mut self, rule: &Rule) -> Result {
        if self.added.remove(rule).is_some() {
            self.n_added -= 1;
            return Ok(());
        }
        match self.in_base(rule) {
            Some(i) if !self.is_deleted(i) => {
                self.toggle_deleted(i)?;
                self.n_deleted += 1;
                Ok(())
            }
            _ => Err(ENOENT),
        }
    }

    /// Removes every rule.
    pub(crate) fn clear(&mut self) {
        *self = Self::new(None);
    }

    /// The snapshot of the draft's rules, merged in order in one pass.
    pub(crate) fn build(self) -> Result<Policy> {
        let mut rules = KVVec::with_capacity(self.len(), GFP_KERNEL)?;
        let base = self.base.as_deref().map_or(&[][..], Policy::rules);
        let mut kept = base
            .iter()
            .enumerate()
            .filter(|&(i, _)| !self.is_deleted(i))
            .map(|(_, r)| r)
            .peekable();
        let mut added = self.added.keys().peekable();
        loop {
            let next = match (kept.peek(), added.peek()) {
                (Some(&k), Some(&a)) if k < a => kept.next(),
                (Some(_), Some(_)) | (None, Some(_)) => added.next(),
                (Some(_), None) => kept.next(),
                (None, None) => break,
            };
            if let Some(r) = next {
                rules.push(r.clone(), GFP_KERNEL)?;
            }
        }
        Policy::from_rules(rules)
    }
}
