// SPDX-License-Identifier: GPL-2.0-only

//! The per-credential state: the network flags and the identity of the running program.

use kernel::{
    lsm::{
        Binprm,
        CredBlob,
        FileId, //
    },
    prelude::*,
};

/// kportreserve's part of every credential.
///
/// It is copied into every new credential, so it follows the task across `fork()`, `clone()`,
/// `execve()` and uid changes, and io_uring requests run with the submitter's copy.
#[derive(Clone, Copy, Zeroable)]
#[repr(C)]
pub(crate) struct KprCred {
    /// `PR_NETWORK_*` flags; `PR_NETWORK_OFF` is never cleared once set.
    pub(crate) network: u32,
    /// The binary that the last `execve()` ran (`/proc/self/exe`; the interpreter of a script).
    pub(crate) exe: FileId,
    /// The file that the last `execve()` named (the script itself, for a script).
    pub(crate) script: FileId,
}

impl CredBlob for KprCred {}

impl KprCred {
    /// True if the task gave up new network access.
    #[inline]
    pub(crate) fn network_off(&self) -> bool {
        self.network & kernel::bindings::PR_NETWORK_OFF != 0
    }

    /// True if the task runs the program whose file is `id`.
    pub(crate) fn runs(&self, id: &FileId) -> bool {
        id.valid != 0 && (self.exe == *id || self.script == *id)
    }
}

/// Records the file that `execve()` names.
pub(crate) fn bprm_creds_for_exec(bprm: &mut Binprm<'_, crate::KPortReserve>) -> Result {
    let id = bprm.file_id();
    let c = bprm.cred_mut();
    c.script = id;
    c.exe = id;
    Ok(())
}

/// Records the binary that is finally mapped (the interpreter of a script).
pub(crate) fn bprm_creds_from_file(bprm: &mut Binprm<'_, crate::KPortReserve>) -> Result {
    let id = bprm.file_id();
    bprm.cred_mut().exe = id;
    Ok(())
}
