// SPDX-License-Identifier: GPL-2.0

//! kportreservectl: checks, loads, shows and explains kportreserve policies.
//!
//! Policy lines are parsed and printed by the kernel's own code: `grammar.rs` and `limits.rs`
//! of `security/kportreserve/` are compiled in, as they are, so the tool and the kernel
//! cannot disagree on what a line means or how a rule reads back. See "kportreservectl" in
//! `Documentation/admin-guide/LSM/kportreserve.rst`.

// The kernel's files: the tool uses part of them.
#[allow(dead_code)]
#[path = "../../../security/kportreserve/grammar.rs"]
mod grammar;
#[allow(dead_code)]
#[path = "../../../security/kportreserve/limits.rs"]
mod limits;

mod holders;
#[cfg(test)]
mod tests;
mod text;

use clap::{
    Parser,
    Subcommand, //
};
use std::{
    collections::BTreeSet,
    fs,
    io::{
        self,
        Read,
        Write, //
    },
    path::{
        Path,
        PathBuf, //
    },
    process::ExitCode,
};
use text::{
    Entry,
    Policy,
    Proto,
    Rule, //
};

const PROG: &str = "kportreservectl";

/// Check, load, show and explain kportreserve policies.
#[derive(Parser)]
#[command(name = PROG, version, about, disable_help_subcommand = true)]
struct Cli {
    /// The kportreserve directory of securityfs.
    #[arg(
        long,
        value_name = "DIR",
        env = "KPORTRESERVE_DIR",
        default_value = "/sys/kernel/security/kportreserve"
    )]
    dir: PathBuf,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Check a policy file offline, as `load` would apply it; print every error.
    Check {
        /// The policy file ("-" for standard input).
        file: PathBuf,
    },
    /// Replace the policy in force with a policy file, in one transaction; print the diff.
    Load {
        /// The policy file ("-" for standard input).
        file: PathBuf,
        /// Print the diff, but change nothing.
        #[arg(short = 'n', long)]
        dry_run: bool,
        /// Do not print the diff.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Print the policy in force, as the policy file shows it.
    Show,
    /// Which programs may bind a port, and who holds it now.
    Explain {
        /// PORT, PORT/tcp or PORT/udp.
        port: String,
    },
    /// Print the counters of each rule.
    Stats,
    /// Print the mode, the lock, the number of rules and the reserved ports that a program
    /// other than their owner holds.
    Status,
}

/// A failure, printed on standard error after the program's name.
struct Failure(String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

type Result<T = ()> = std::result::Result<T, Failure>;

fn fail<T>(msg: impl Into<String>) -> Result<T> {
    Err(Failure(msg.into()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let dir = cli.dir.as_path();
    let r = match cli.cmd {
        Cmd::Check { file } => check(&file),
        Cmd::Load {
            file,
            dry_run,
            quiet,
        } => load(dir, &file, dry_run, quiet),
        Cmd::Show => show(dir),
        Cmd::Explain { port } => explain(dir, &port),
        Cmd::Stats => stats(dir),
        Cmd::Status => status(dir),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(msg)) => {
            // Lost output (a closed pipe) is no news.
            let _ = io::stdout().flush();
            eprintln!("{PROG}: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// Reads a file, or standard input for "-".
fn read_input(file: &Path) -> Result<Vec<u8>> {
    let mut v = Vec::new();
    if file.as_os_str() == "-" {
        io::stdin()
            .read_to_end(&mut v)
            .map_err(|e| Failure(format!("standard input: {e}")))?;
    } else {
        v = fs::read(file).map_err(|e| Failure(format!("{}: {e}", file.display())))?;
    }
    Ok(v)
}

fn policy_file(dir: &Path) -> PathBuf {
    dir.join("policy")
}

/// The policy file's text.
fn read_policy_text(dir: &Path) -> Result<Vec<u8>> {
    let p = policy_file(dir);
    fs::read(&p).map_err(|e| {
        let hint = match e.kind() {
            io::ErrorKind::NotFound => " (is kportreserve enabled, and securityfs mounted?)",
            io::ErrorKind::PermissionDenied => " (it is root's only)",
            _ => "",
        };
        Failure(format!("{}: {e}{hint}", p.display()))
    })
}

fn read_policy(dir: &Path) -> Result<Policy> {
    Ok(text::read_back(&read_policy_text(dir)?))
}

/// A line of the policy, as text for a terminal: bytes that are not UTF-8 as `\ooo`.
fn shown(line: &[u8]) -> String {
    let mut s = String::new();
    for chunk in line.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                s.push_str(&format!("\\{:03o}", u32::from(c)));
            } else {
                s.push(c);
            }
        }
        for b in chunk.invalid() {
            s.push_str(&format!("\\{b:03o}"));
        }
    }
    s
}

/// Checks `bytes`, from `name`: prints every refused line, fails if there is one.
fn check_text(name: &str, bytes: &[u8], loading: bool) -> Result<Policy> {
    let (policy, refused) = text::check(bytes);
    if refused.is_empty() {
        return Ok(policy);
    }
    for r in &refused {
        eprintln!(
            "{PROG}: {name}:{}: {}: \"{}\"",
            r.line,
            r.error.reason(),
            shown(r.text)
        );
    }
    fail(format!(
        "{name}: {} bad line{}{}",
        refused.len(),
        if refused.len() == 1 { "" } else { "s" },
        if loading { "; nothing was changed" } else { "" }
    ))
}

fn input_name(file: &Path) -> String {
    if file.as_os_str() == "-" {
        "<stdin>".to_string()
    } else {
        file.display().to_string()
    }
}

fn check(file: &Path) -> Result {
    let bytes = read_input(file)?;
    check_text(&input_name(file), &bytes, false).map(|_| ())
}

/// Prints the lines that `old` has and `new` lacks (`-`) and the reverse (`+`).
fn print_diff(out: &mut impl Write, old: &Policy, new: &Policy) -> io::Result<()> {
    let (old, new) = (old.entries(), new.entries());
    let all: BTreeSet<&Entry> = old.iter().chain(new.iter()).collect();
    for e in all {
        let sign = match (old.contains(e), new.contains(e)) {
            (true, false) => b'-',
            (false, true) => b'+',
            _ => continue,
        };
        out.write_all(&[sign])?;
        out.write_all(&e.text())?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// The largest `write(2)` of a load: the kernel refuses writes over 1 MiB.
const WRITE_PIECE: usize = 256 * 1024;

fn load(dir: &Path, file: &Path, dry_run: bool, quiet: bool) -> Result {
    let bytes = read_input(file)?;
    let new = check_text(&input_name(file), &bytes, true)?;
    let old = read_policy(dir)?;
    if old.locked && !dry_run {
        return fail("the policy is locked until reboot; nothing was changed");
    }
    if !dry_run {
        // One transaction: `clear`, then the file, through one open file.
        let mut txn = b"clear\n".to_vec();
        txn.extend_from_slice(&bytes);
        if !txn.ends_with(b"\n") {
            // Every line is checked by a write, none only at close.
            txn.push(b'\n');
        }
        let p = policy_file(dir);
        let what = |e: io::Error| Failure(format!("{}: {e}; nothing was changed", p.display()));
        let mut f = fs::OpenOptions::new().write(true).open(&p).map_err(what)?;
        for piece in txn.chunks(WRITE_PIECE) {
            f.write_all(piece).map_err(|e| {
                Failure(format!(
                    "{}: {e}; nothing was changed (the kernel log names the line)",
                    p.display()
                ))
            })?;
        }
        // The transaction commits at close.
        drop(f);
        let now = read_policy(dir)?;
        if now != new {
            return fail(format!(
                "{}: the policy in force is not the file's (see the kernel log)",
                p.display()
            ));
        }
    }
    if !quiet {
        let mut out = io::stdout().lock();
        print_diff(&mut out, &old, &new)?;
        out.flush()?;
    }
    Ok(())
}

fn show(dir: &Path) -> Result {
    let text = read_policy_text(dir)?;
    let mut out = io::stdout().lock();
    // Each rule through the kernel's grammar and formatting: the output is the policy file's,
    // byte for byte, or the kernel and the tool disagree.
    for (_, l) in text::lines(&text) {
        let policy = text::read_back(l);
        match policy.rules.first() {
            Some(r) if policy.rules.len() == 1 => out.write_all(&r.text())?,
            _ => out.write_all(l)?,
        }
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// Parses `PORT[/PROTO]`.
fn parse_port(s: &str) -> Result<(u16, Vec<Proto>)> {
    let (port, proto) = match s.split_once('/') {
        Some((p, proto)) => (p, Some(proto)),
        None => (s, None),
    };
    let port: u16 = match port.parse() {
        Ok(p) if p > 0 => p,
        _ => return fail(format!("{s}: a port is a number from 1 to 65535")),
    };
    let protos = match proto {
        None => Proto::BOTH.to_vec(),
        Some("tcp") => vec![Proto::Tcp],
        Some("udp") => vec![Proto::Udp],
        Some(_) => return fail(format!("{s}: the protocol is tcp or udp")),
    };
    Ok((port, protos))
}

/// True if `p` may bind `port` of `proto` under `policy`: the port is not reserved, or a rule
/// reserves it for the program (and its user and group, if the rule names them).
fn allowed(policy: &Policy, proto: Proto, port: u16, p: &holders::Process) -> bool {
    let mut rules = policy.covering(proto, port).peekable();
    if rules.peek().is_none() {
        return true;
    }
    rules.any(|r| !r.kernel && p.exe.as_deref() == Some(&r.program[..]) && r.admits(p.uid, p.gid))
}

/// One holder of a port, for a terminal.
fn holder_text(p: &holders::Process) -> String {
    format!(
        "pid {} ({}) {}",
        p.pid,
        p.comm,
        p.exe.as_deref().map_or("?".to_string(), shown)
    )
}

fn explain(dir: &Path, arg: &str) -> Result {
    let (port, protos) = parse_port(arg)?;
    let policy = read_policy(dir)?;
    let socks: Vec<holders::Socket> = holders::sockets(&protos)
        .into_iter()
        .filter(|s| s.port == port)
        .collect();
    let inodes: Vec<u64> = socks.iter().map(|s| s.inode).filter(|&i| i != 0).collect();
    let procs = holders::processes(&inodes);
    let mut out = io::stdout().lock();
    for proto in protos {
        let rules: Vec<&Rule> = policy.covering(proto, port).collect();
        if rules.is_empty() {
            writeln!(
                out,
                "{port}/{}: not reserved: any program may bind it",
                proto.name()
            )?;
        } else {
            writeln!(out, "{port}/{}: reserved", proto.name())?;
            for r in &rules {
                let mut who = r.program_text();
                if r.kernel {
                    who.push_str(" (kernel sockets)");
                }
                writeln!(
                    out,
                    "  may bind: {who}  (rule: {})",
                    String::from_utf8_lossy(&r.text())
                )?;
            }
        }
        let mut held = false;
        for s in socks.iter().filter(|s| s.proto == proto) {
            held = true;
            let ps = procs.get(&s.inode).map_or(&[][..], Vec::as_slice);
            if ps.is_empty() {
                writeln!(
                    out,
                    "  held by:  no process found (a kernel socket, or another PID namespace)  {}:{} {}",
                    s.addr, s.port, s.state
                )?;
            }
            for p in ps {
                let verdict = if rules.is_empty() {
                    ""
                } else if allowed(&policy, proto, port, p) {
                    "  owner"
                } else {
                    "  NOT the owner"
                };
                writeln!(
                    out,
                    "  held by:  {}  {}:{} {}{verdict}",
                    holder_text(p),
                    s.addr,
                    s.port,
                    s.state
                )?;
            }
        }
        if !held {
            writeln!(out, "  held by:  nobody")?;
        }
    }
    out.flush()?;
    Ok(())
}

fn stats(dir: &Path) -> Result {
    let p = dir.join("stats");
    let text = match fs::read(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound && dir.join("policy").exists() => {
            return fail(format!(
                "{}: this kernel keeps no counters (it has no stats file)",
                p.display()
            ));
        }
        Err(e) => return fail(format!("{}: {e}", p.display())),
    };
    let mut out = io::stdout().lock();
    let mut header = false;
    for (_, l) in text::lines(&text) {
        // RULE key=N key=N ...: the counters are the last words.
        let words: Vec<&[u8]> = l.split(|&b| b == b' ').collect();
        let k = words
            .iter()
            .rposition(|w| !w.contains(&b'='))
            .map_or(0, |i| i + 1);
        let counters: Vec<(String, String)> = words[k..]
            .iter()
            .filter_map(|w| {
                let s = std::str::from_utf8(w).ok()?;
                let (a, b) = s.split_once('=')?;
                Some((a.to_uppercase(), b.to_string()))
            })
            .collect();
        let rule = words[..k].join(&b' ');
        if !header {
            for (key, _) in &counters {
                write!(out, "{key:>10} ")?;
            }
            writeln!(out, " RULE")?;
            header = true;
        }
        for (_, v) in &counters {
            write!(out, "{v:>10} ")?;
        }
        out.write_all(b" ")?;
        out.write_all(&rule)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

fn status(dir: &Path) -> Result {
    let policy = read_policy(dir)?;
    let programs: BTreeSet<&[u8]> = policy.rules.iter().map(|r| &r.program[..]).collect();
    let mut out = io::stdout().lock();
    writeln!(out, "mode:     {}", policy.mode())?;
    writeln!(
        out,
        "locked:   {}",
        if policy.locked {
            "yes, until reboot"
        } else {
            "no"
        }
    )?;
    writeln!(out, "rules:    {}", policy.rules.len())?;
    writeln!(out, "programs: {}", programs.len())?;
    writeln!(
        out,
        "stats:    {}",
        if dir.join("stats").exists() {
            "yes"
        } else {
            "no (this kernel keeps no counters)"
        }
    )?;
    // Reserved ports that a process other than their owner holds.
    let socks: Vec<holders::Socket> = holders::sockets(&Proto::BOTH)
        .into_iter()
        .filter(|s| policy.covering(s.proto, s.port).next().is_some())
        .collect();
    let inodes: Vec<u64> = socks.iter().map(|s| s.inode).filter(|&i| i != 0).collect();
    let procs = holders::processes(&inodes);
    let mut intruders = Vec::new();
    for s in &socks {
        for p in procs.get(&s.inode).map_or(&[][..], Vec::as_slice) {
            if !allowed(&policy, s.proto, s.port, p) {
                let owners: Vec<String> = policy
                    .covering(s.proto, s.port)
                    .map(Rule::program_text)
                    .collect();
                intruders.push(format!(
                    "  {}/{} {}:{} {}  held by {}, reserved for {}",
                    s.port,
                    s.proto.name(),
                    s.addr,
                    s.port,
                    s.state,
                    holder_text(p),
                    owners.join(", ")
                ));
            }
        }
    }
    intruders.sort();
    intruders.dedup();
    if intruders.is_empty() {
        writeln!(out, "held by a program that is not their owner: none")?;
    } else {
        writeln!(
            out,
            "held by a program that is not their owner: {}",
            intruders.len()
        )?;
        for l in intruders {
            writeln!(out, "{l}")?;
        }
    }
    out.flush()?;
    Ok(())
}
