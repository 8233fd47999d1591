// SPDX-License-Identifier: GPL-2.0-only

//! The per-credential state: the network flags and the port identity of the running program.

use crate::identity::Owner;
use kernel::{lsm::CredBlob, prelude::*, sync::Arc};

/// kportreserve's part of every credential.
///
/// It is cloned into every new credential, so it follows the task across `fork()`, `clone()`,
/// `execve()` and uid changes, and io_uring requests run with the submitter's copy. An
/// `execve()` replaces `owner` (see [`crate::identity`]).
#[derive(Clone, Zeroable)]
pub(crate) struct KprCred {
    /// `PR_NETWORK_*` flags; `PR_NETWORK_OFF` is never cleared once set.
    pub(crate) network: u32,
    /// The rule paths that named the program at its `execve()`; `None` for almost every task.
    pub(crate) owner: Option<Arc<Owner>>,
}

impl CredBlob for KprCred {}

impl KprCred {
    /// True if the task gave up new network access.
    #[inline]
    pub(crate) fn network_off(&self) -> bool {
        self.network & kernel::bindings::PR_NETWORK_OFF != 0
    }
}
