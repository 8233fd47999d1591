// SPDX-License-Identifier: GPL-2.0-only

//! The securityfs interface: `/sys/kernel/security/kportreserve/policy` and `stats`.
//!
//! Everything written through one open file is one transaction (as with the IMA policy
//! file): each line is checked as it arrives, a bad line fails its `write(2)` and dooms the
//! transaction, and the new policy is published, all at once, when the file is closed.
//! Only one open file may write at a time, and none once the policy is locked.

use crate::{
    audit::{
        self,
        Source, //
    },
    draft::Draft,
    grammar::{
        parse_line_ref,
        Line,
        Mode,
        OutOfMemory,
        ParseError,
        PathBuf,
        MAX_TEXT_LINE, //
    },
    policy::{
        self,
        Carry,
        Policy,
        POLICY, //
    },
};
use core::fmt::Write as _;
use kernel::{
    alloc::KVec,
    bindings, fmt, lsm,
    prelude::*,
    securityfs::{
        Dir,
        FileOps,
        SeqOut, //
    },
    sync::{
        atomic::{
            Acquire,
            Atomic,
            Full,
            Release, //
        },
        rcu,
        Arc, //
    },
};

/// Who may write the policy: nobody is writing ([`IDLE`]), one open file is ([`WRITING`]), or
/// nobody ever will again ([`LOCKED`]).
///
/// One value, so that becoming the writer and finding the policy locked are one atomic step,
/// and only the writer locks the policy, when it commits: a transaction can only exist while
/// the policy is not locked, and none can publish after a lock.
static WRITER: Atomic<i32> = Atomic::new(IDLE);

/// See [`WRITER`].
const IDLE: i32 = 0;
/// See [`WRITER`].
const WRITING: i32 = 1;
/// See [`WRITER`]; set once a `lock` line was committed, until reboot.
const LOCKED: i32 = 2;

/// The policy file.
struct PolicyFile;

/// What a reader of the policy file prints: the policy in force when the read began.
pub(crate) struct PolicyView {
    policy: Option<Arc<Policy>>,
    /// Whether the policy is locked: then `policy` is the locked one.
    locked: bool,
}

impl PolicyView {
    fn rules(&self) -> usize {
        self.policy.as_ref().map_or(0, |p| p.rules().len())
    }

    /// Whether the policy is permissive: then its first line is `mode permissive`.
    fn permissive(&self) -> bool {
        self.policy
            .as_ref()
            .is_some_and(|p| p.mode() == Mode::Permissive)
    }
}

static POLICY_FILE: PolicyFile = PolicyFile;

/// The state of one transaction: a writing open file, or the boot policy.
pub(crate) struct Txn {
    /// Where the lines come from.
    source: Source,
    /// What the kernel log calls the lines of the boot policy being fed (see [`Txn::part`]).
    part: &'static str,
    /// The policy being built; `None` until the first command.
    staged: Option<Draft>,
    /// The start of a line whose end has not been written yet.
    partial: KVec<u8>,
    /// The decoded path of the last line, reused from line to line.
    path: KVec<u8>,
    /// The number of complete lines seen, for error messages.
    lines: usize,
    /// The error that doomed the transaction.
    failed: Option<Error>,
    /// A `lock` line was seen.
    lock: bool,
}

/// A policy line as the kernel log shows it: printable ASCII and spaces as they are, every
/// other byte (and the backslash) as an escape `\ooo`, as in a program path.
pub(crate) struct Shown<'a>(pub(crate) &'a [u8]);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for piece in self.0.split_inclusive(|&b| !is_shown(b)) {
            let (raw, escaped) = match piece.split_last() {
                Some((&b, raw)) if !is_shown(b) => (raw, Some(b)),
                _ => (piece, None),
            };
            // Printable ASCII is UTF-8.
            f.write_str(core::str::from_utf8(raw).map_err(|_| fmt::Error)?)?;
            if let Some(b) = escaped {
                write!(f, "\\{b:03o}")?;
            }
        }
        Ok(())
    }
}

/// True for a byte that the kernel log shows as it is.
fn is_shown(b: u8) -> bool {
    b == b' ' || (b.is_ascii_graphic() && b != b'\\')
}

fn log_line(source: Source, part: &str, n: usize, line: &[u8], why: &str) {
    let shown = line.get(..line.len().min(128)).unwrap_or(&[]);
    if source == Source::Boot {
        // Once per boot, and the admin must see it: not rate limited.
        pr_err!(
            "boot policy: {} line {}: {}: \"{}\"; nothing was loaded\n",
            part,
            n,
            why,
            Shown(shown)
        );
        return;
    }
    if !lsm::printk_ratelimit() {
        return;
    }
    pr_notice!(
        "policy line {}: {}: \"{}\"; nothing was changed\n",
        n,
        why,
        Shown(shown)
    );
}

/// The kernel's buffer for a decoded path.
impl PathBuf for KVec<u8> {
    fn bytes(&self) -> &[u8] {
        self
    }

    fn clear(&mut self) {
        KVec::clear(self);
    }

    fn reserve(&mut self, additional: usize) -> core::result::Result<(), OutOfMemory> {
        KVec::reserve(self, additional, GFP_KERNEL).map_err(|_| OutOfMemory)
    }

    fn extend(&mut self, bytes: &[u8]) -> core::result::Result<(), OutOfMemory> {
        self.extend_from_slice(bytes, GFP_KERNEL)
            .map_err(|_| OutOfMemory)
    }
}

/// The index of the first `\n` in `bytes`, found 8 bytes at a time, as `memchr()` does.
fn find_newline(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const NEWLINES: u64 = ONES * b'\n' as u64;
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        // A byte of `x` is zero where `w` has a newline; this sets its high bit.
        let x = u64::from_le_bytes(b) ^ NEWLINES;
        if x.wrapping_sub(ONES) & !x & HIGHS != 0 {
            break;
        }
        at += 8;
    }
    bytes[at..].iter().position(|&b| b == b'\n').map(|i| at + i)
}

/// The draft of a transaction, started at its first command.
fn staged(staged: &mut Option<Draft>) -> &mut Draft {
    staged.get_or_insert_with(|| {
        // A reference to the policy in force, not a copy: the draft records the changes.
        let guard = rcu::read_lock();
        Draft::new(POLICY.get(&guard).cloned())
    })
}

impl Txn {
    fn line(&mut self, line: &[u8]) -> Result {
        self.lines += 1;
        let n = self.lines;
        let (cmd, program) = match parse_line_ref(line, &mut self.path) {
            Ok(None) => return Ok(()),
            Ok(Some(cmd)) => cmd,
            Err(why) => {
                log_line(self.source, self.part, n, line, why.reason());
                return Err(if why == ParseError::OutOfMemory {
                    ENOMEM
                } else {
                    EINVAL
                });
            }
        };
        let r = match cmd {
            Line::Add(spec) => staged(&mut self.staged).add(&spec, program),
            Line::Delete(spec) => staged(&mut self.staged).delete(&spec, program),
            Line::Clear => {
                staged(&mut self.staged).clear();
                Ok(())
            }
            Line::Lock => {
                self.lock = true;
                Ok(())
            }
            Line::Mode(mode) => {
                staged(&mut self.staged).set_mode(mode);
                Ok(())
            }
        };
        if let Err(e) = r {
            let why = match e {
                e if e == ENOENT => "no such rule",
                e if e == ENOSPC => "too many rules",
                _ => "cannot apply",
            };
            log_line(self.source, self.part, n, line, why);
        }
        r
    }

    /// Starts the lines of `part` of the boot policy: the kernel log calls them `part`, and
    /// numbers them from 1. The last line of the previous part ends here.
    pub(crate) fn part(&mut self, part: &'static str) -> Result {
        self.end_line()?;
        self.part = part;
        self.lines = 0;
        Ok(())
    }

    /// Ends a last line that had no newline.
    fn end_line(&mut self) -> Result {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if !self.partial.is_empty() {
            let line = core::mem::take(&mut self.partial);
            let r = self.line(&line);
            if let Err(e) = r {
                self.failed = Some(e);
            }
            r?;
        }
        Ok(())
    }

    /// Feeds `data`, the next bytes of the transaction's text; a failure dooms the transaction.
    pub(crate) fn feed(&mut self, data: &[u8]) -> Result {
        let r = self.feed_lines(data);
        if let Err(e) = r {
            self.failed = Some(e);
        }
        r
    }

    fn feed_lines(&mut self, data: &[u8]) -> Result {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let mut rest = data;
        while let Some(i) = find_newline(rest) {
            let (head, tail) = rest.split_at(i);
            rest = tail.get(1..).unwrap_or(&[]);
            if self.partial.is_empty() {
                self.line(head)?;
            } else {
                self.partial.extend_from_slice(head, GFP_KERNEL)?;
                let line = core::mem::take(&mut self.partial);
                self.line(&line)?;
            }
        }
        if self.partial.len() + rest.len() > MAX_TEXT_LINE {
            log_line(
                self.source,
                self.part,
                self.lines + 1,
                &self.partial,
                "the line is too long",
            );
            return Err(EINVAL);
        }
        self.partial.extend_from_slice(rest, GFP_KERNEL)?;
        Ok(())
    }

    /// Publishes the policy that the transaction built, and locks it if a `lock` line was
    /// seen; all of it, or nothing if a line failed. Both are audited, as is a failure.
    pub(crate) fn commit(mut self) -> Result {
        // The last line had no newline: it ends at close.
        let r = self.end_line().and_then(|()| self.publish());
        let source = self.source;
        match r {
            // Nothing was written but comments: nothing to report.
            Ok(None) => {}
            Ok(Some(n)) => audit::policy_load(source, Ok(n)),
            Err(e) => audit::policy_load(source, Err(e)),
        }
        if r.is_ok() && self.lock {
            // This transaction holds the writer slot; it becomes the lock, for good.
            WRITER.store(LOCKED, Release);
            // The mode is frozen with the rules: the record says which.
            let mode = {
                let guard = rcu::read_lock();
                POLICY.get(&guard).map_or(Mode::Enforcing, |p| p.mode())
            };
            pr_info!("policy locked until reboot, {}\n", mode.name());
            audit::policy_change("lock", format_args!(" mode={}", mode.name()));
        }
        r.map(|_| ())
    }

    /// Publishes the staged policy; returns its number of rules, or `None` if nothing was
    /// staged.
    fn publish(&mut self) -> Result<Option<usize>> {
        let Some(draft) = self.staged.take() else {
            return Ok(None);
        };
        let mut p = draft.build()?;
        p.resolve_hints()?;
        let n = p.rules().len();
        let mode = p.mode();
        let old = publish_carrying(p)?;
        if self.source == Source::Securityfs {
            crate::boot::policy_written();
        }
        let mode_name = mode.name();
        pr_info!("policy loaded: {} rules, {}\n", n, mode_name);
        if old != mode {
            audit::policy_change("mode", format_args!(" mode={mode_name}"));
        }
        Ok(Some(n))
    }
}

impl Txn {
    /// Starts a transaction: becomes the one writer of the policy.
    ///
    /// # Errors
    ///
    /// `EPERM` if the policy is locked; `EBUSY` if another transaction is open.
    pub(crate) fn begin(source: Source) -> Result<Txn> {
        // One step: checking for the lock, then taking the slot, would let a lock be
        // committed in between, and this transaction publish after it.
        match WRITER.cmpxchg(IDLE, WRITING, Full) {
            Ok(_) => {}
            Err(LOCKED) => return Err(EPERM),
            Err(_) => return Err(EBUSY),
        }
        Ok(Txn {
            source,
            part: "",
            staged: None,
            partial: KVec::new(),
            path: KVec::new(),
            lines: 0,
            failed: None,
            lock: false,
        })
    }
}

impl Drop for Txn {
    fn drop(&mut self) {
        // Whether committed, failed or never used (open failed later), the writer is gone,
        // unless it locked the policy.
        let _ = WRITER.cmpxchg(WRITING, IDLE, Release);
    }
}

impl FileOps for PolicyFile {
    type Snapshot = PolicyView;
    type Writer = Txn;

    fn snapshot(&self) -> Result<PolicyView> {
        // The lock first: once it is set, the policy in force is the locked one.
        let locked = WRITER.load(Acquire) == LOCKED;
        // Only taking a reference needs RCU; the rules are printed outside of it.
        let policy = {
            let guard = rcu::read_lock();
            POLICY.get(&guard).cloned()
        };
        Ok(PolicyView { policy, locked })
    }

    fn records(&self, view: &PolicyView) -> usize {
        // A first line `mode permissive` if the policy is permissive (enforcing is the mode
        // that `clear` sets, so `clear` and what is read back give the same policy), one line
        // per rule, and a last line `lock` if the policy is locked.
        usize::from(view.permissive()) + view.rules() + usize::from(view.locked)
    }

    fn show(&self, view: &PolicyView, index: usize, out: &mut SeqOut<'_>) -> Result {
        let Some(index) = index.checked_sub(usize::from(view.permissive())) else {
            out.write(b"mode permissive\n");
            return Ok(());
        };
        match view.policy.as_ref().and_then(|p| p.rules().get(index)) {
            // The path as bytes, not through a formatter: it need not be UTF-8.
            Some(rule) => rule.write_text(|piece| out.write(piece)),
            None => out.write(b"lock"),
        }
        out.write(b"\n");
        Ok(())
    }

    fn open_write(&self) -> Result<Txn> {
        if !lsm::capable(bindings::CAP_MAC_ADMIN) {
            return Err(EPERM);
        }
        Txn::begin(Source::Securityfs)
    }

    fn write(&self, txn: &mut Txn, data: &[u8]) -> Result {
        txn.feed(data)
    }

    fn release_write(&self, txn: Txn) {
        // Errors were reported by `write` or, for an unterminated last line, logged.
        let _ = txn.commit();
    }
}

/// Publishes `p` in place of the policy in force, whose rules that `p` keeps keep counting (see
/// [`Carry`]); returns the mode of the policy that it replaced.
///
/// # Context
///
/// Process context, by the one writer of the policy.
fn publish_carrying(p: Policy) -> Result<Mode> {
    let old = {
        let guard = rcu::read_lock();
        POLICY.get(&guard).cloned()
    };
    let old_mode = old.as_deref().map_or(Mode::Enforcing, Policy::mode);
    let carry = Carry::new(old, &p)?;
    let p = Arc::new(p, GFP_KERNEL)?;
    policy::publish(p.clone())?;
    carry.finish(&p);
    Ok(old_mode)
}

/// Resolves the program paths of the policy in force again, from pid 1's root as it is now,
/// and publishes the same rules with the new results (see [`crate::identity::Hints`]).
///
/// pid 1 calls it when it execs again, which may be into another root (`switch_root`): paths
/// that resolved in the initramfs must now resolve in the real root.
///
/// # Errors
///
/// `EBUSY` if a transaction is open (its commit resolves the paths anyway), `ENOMEM`.
///
/// # Context
///
/// Process context: it walks paths and waits for an RCU grace period.
pub(crate) fn refresh_hints() -> Result {
    // The rules do not change, so a locked policy is refreshed too. Once locked, nobody takes
    // the writer slot again, and pid 1's execs, the only caller, are serialized by its
    // `cred_guard_mutex`: then this is the only publisher.
    let writer = match WRITER.cmpxchg(IDLE, WRITING, Full) {
        Ok(_) => true,
        Err(LOCKED) => false,
        Err(_) => return Err(EBUSY),
    };
    let r = (|| {
        let current = {
            let guard = rcu::read_lock();
            POLICY.get(&guard).cloned()
        };
        let Some(current) = current else {
            return Ok(());
        };
        let mut p = Draft::new(Some(current)).build()?;
        p.resolve_hints()?;
        publish_carrying(p).map(|_| ())
    })();
    if writer {
        let _ = WRITER.cmpxchg(WRITING, IDLE, Release);
    }
    r
}

/// The stats file: the counters of each rule of the policy in force.
struct StatsFile;

static STATS_FILE: StatsFile = StatsFile;

impl FileOps for StatsFile {
    type Snapshot = Option<Arc<Policy>>;
    type Writer = ();

    fn snapshot(&self) -> Result<Option<Arc<Policy>>> {
        let guard = rcu::read_lock();
        Ok(POLICY.get(&guard).cloned())
    }

    fn records(&self, policy: &Option<Arc<Policy>>) -> usize {
        policy.as_ref().map_or(0, |p| p.rules().len())
    }

    /// One line per rule, in the order of the policy file: the rule as the policy file shows it,
    /// then ` allowed=N denied=N skipped=N`.
    fn show(&self, policy: &Option<Arc<Policy>>, index: usize, out: &mut SeqOut<'_>) -> Result {
        let Some(p) = policy.as_ref() else {
            return Ok(());
        };
        let (Some(rule), Some(counters)) = (p.rules().get(index), p.counters().get(index)) else {
            return Ok(());
        };
        rule.write_text(|piece| out.write(piece));
        let [allowed, denied, skipped] = counters.get();
        // Writing to a `SeqOut` cannot fail.
        let _ = writeln!(out, " allowed={allowed} denied={denied} skipped={skipped}");
        Ok(())
    }

    fn open_write(&self) -> Result {
        Err(EPERM)
    }

    fn write(&self, _w: &mut (), _data: &[u8]) -> Result {
        Err(EPERM)
    }

    fn release_write(&self, _w: ()) {}
}

/// Creates `/sys/kernel/security/kportreserve/policy` (mode 0600, root only) and `stats` (mode
/// 0400: the counters tell as much about the policy as the policy itself).
pub(crate) fn init() -> Result {
    let dir = Dir::new(c"kportreserve")?;
    dir.create_file(c"policy", 0o600, &POLICY_FILE)?.keep();
    dir.create_file(c"stats", 0o400, &STATS_FILE)?.keep();
    dir.keep();
    Ok(())
}

#[cfg(CONFIG_SECURITY_KPORTRESERVE_KUNIT_TEST)]
#[kunit_tests(kportreserve_fs)]
mod tests {
    use super::*;
    use kernel::str::CString;

    /// `find_newline` finds what a byte-by-byte search finds, at every length and position,
    /// next to bytes that differ from a newline by one bit.
    #[test]
    fn newline_found_as_byte_by_byte() -> Result {
        for fill in [b'a', 0x0b, 0x08, 0x8a, 0x0a ^ 0x80, 0xff, 0x00] {
            let mut buf = [fill; 40];
            for len in 0..buf.len() {
                for at in 0..=len {
                    buf.fill(fill);
                    if at < len {
                        buf[at] = b'\n';
                    }
                    let bytes = &buf[..len];
                    assert_eq!(find_newline(bytes), bytes.iter().position(|&b| b == b'\n'));
                }
            }
        }
        Ok(())
    }

    #[test]
    fn logged_line_is_escaped() -> Result {
        let cases: &[(&[u8], &[u8])] = &[
            (b"delete 1 /no/such/rule", b"delete 1 /no/such/rule"),
            (
                b"1 /caf\xc3\xa9\t/x\\y\x1b[0m\x7f#",
                b"1 /caf\\303\\251\\011/x\\134y\\033[0m\\177#",
            ),
            (b"\xff", b"\\377"),
            (b"\x01\x02 ", b"\\001\\002 "),
            (b"", b""),
        ];
        for &(line, shown) in cases {
            let s = CString::try_from_fmt(fmt!("{}", Shown(line)))?;
            assert_eq!(s.to_bytes(), shown);
        }
        Ok(())
    }
}
