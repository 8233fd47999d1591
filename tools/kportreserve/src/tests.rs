// SPDX-License-Identifier: GPL-2.0

//! Host tests of the kernel's grammar (`security/kportreserve/grammar.rs`, compiled in as it
//! is) and of the tool. The property tests run `PROPTEST_CASES` cases each (256 unless set;
//! `make check` sets it to fit its time box).

use crate::grammar::{
    hash,
    parse_line,
    parse_line_ref,
    Line,
    Mode,
    ParseError,
    RuleText,
    Spec,
    Who,
    MAX_TEXT_LINE,
    PROTO_ALL,
    PROTO_TCP,
    PROTO_UDP, //
};
use crate::limits::{
    KERNEL_PROGRAM,
    MAX_PATH,
    MAX_RULES, //
};
use crate::text::{
    self,
    LineError,
    Policy,
    Rule,
    Txn, //
};
use proptest::prelude::*;
use proptest::test_runner::Config;

fn config() -> Config {
    Config {
        // A failure prints its input; nothing is written into the source tree.
        failure_persistence: None,
        ..Config::default()
    }
}

fn parse(line: &[u8]) -> Result<Option<Line>, ParseError> {
    parse_line(line, &mut Vec::new())
}

/// The text of a rule, through the kernel's formatting code.
fn render(first: u16, last: u16, protos: u8, path: Option<&[u8]>, who: Who) -> Vec<u8> {
    let mut v = Vec::new();
    RuleText {
        first,
        last,
        protos,
        path,
        who,
    }
    .write(&mut |p: &[u8]| v.extend_from_slice(p));
    v
}

/// The line that reads back for the rule of an add line.
fn canonical(line: &[u8]) -> Option<Vec<u8>> {
    let mut path = Vec::new();
    match parse_line(line, &mut path) {
        Ok(Some(Line::Add(s))) => Some(render(
            s.first,
            s.last,
            s.protos,
            (!s.kernel).then_some(&path[..]),
            s.who,
        )),
        _ => None,
    }
}

// --- An independent model of the grammar, written from the admin guide. ---

/// A user and a group qualifier.
type Ids = (Option<u32>, Option<u32>);

#[derive(Debug, PartialEq, Eq)]
enum ModelLine {
    Add(u16, u16, u8, Option<Vec<u8>>, Ids),
    Delete(u16, u16, u8, Option<Vec<u8>>, Ids),
    Clear,
    Lock,
    Permissive(bool),
}

/// `user=UID` and `group=GID`, each at most once: decimal, no leading zero, not `(uid_t)-1`.
fn model_ids(words: &[&[u8]]) -> Option<Ids> {
    let mut ids: Ids = (None, None);
    for w in words {
        let w = std::str::from_utf8(w).ok()?;
        let (slot, v) = if let Some(v) = w.strip_prefix("user=") {
            (&mut ids.0, v)
        } else {
            (&mut ids.1, w.strip_prefix("group=")?)
        };
        if slot.is_some()
            || v.is_empty()
            || !v.bytes().all(|b| b.is_ascii_digit())
            || (v.len() > 1 && v.starts_with('0'))
        {
            return None;
        }
        let id: u64 = v.parse().ok()?;
        if id >= u64::from(u32::MAX) {
            return None;
        }
        *slot = Some(id as u32);
    }
    Some(ids)
}

/// A rule in the model: first and last port, protocols, program (`None`: `<kernel>`) and
/// qualifiers.
type ModelRule = (u16, u16, u8, Option<Vec<u8>>, Ids);

/// A rule's words: ports, program, qualifiers (none for `<kernel>`).
fn model_rule(words: &[&[u8]]) -> Option<ModelRule> {
    let [ports, prog, quals @ ..] = words else {
        return None;
    };
    let (a, b, p) = model_ports(ports)?;
    let prog = model_program(prog)?;
    let ids = model_ids(quals)?;
    if prog.is_none() && ids != (None, None) {
        return None;
    }
    Some((a, b, p, prog, ids))
}

fn model_port(s: &[u8]) -> Option<u16> {
    let s = std::str::from_utf8(s).ok()?;
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    let v: u64 = s.parse().ok()?;
    (1..=65535).contains(&v).then_some(v as u16)
}

fn model_ports(s: &[u8]) -> Option<(u16, u16, u8)> {
    let (range, protos) = match s.iter().position(|&b| b == b'/') {
        None => (s, PROTO_ALL),
        Some(i) => (
            &s[..i],
            match &s[i + 1..] {
                b"tcp" => PROTO_TCP,
                b"udp" => PROTO_UDP,
                _ => return None,
            },
        ),
    };
    let (a, b) = match range.iter().position(|&b| b == b'-') {
        None => (range, range),
        Some(i) => (&range[..i], &range[i + 1..]),
    };
    let (a, b) = (model_port(a)?, model_port(b)?);
    (a <= b).then_some((a, b, protos))
}

fn model_program(s: &[u8]) -> Option<Option<Vec<u8>>> {
    if s == b"<kernel>" {
        return Some(None);
    }
    let mut path = Vec::new();
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'\\' => {
                let d = s.get(i + 1..i + 4)?;
                if !d.iter().all(|c| (b'0'..=b'7').contains(c)) {
                    return None;
                }
                let v = d.iter().fold(0u32, |v, &c| v * 8 + u32::from(c - b'0'));
                if v == 0 || v > 255 {
                    return None;
                }
                path.push(v as u8);
                i += 4;
            }
            c if c < 0x20 || c == 0x7f => return None,
            c => {
                path.push(c);
                i += 1;
            }
        }
    }
    let rest = path.strip_prefix(b"/")?;
    if path.len() > MAX_PATH
        || rest
            .split(|&b| b == b'/')
            .any(|c| c.is_empty() || c == b"." || c == b"..")
    {
        return None;
    }
    Some(Some(path))
}

fn model(line: &[u8]) -> Option<Option<ModelLine>> {
    if line.len() > MAX_TEXT_LINE || line.contains(&0) {
        return None;
    }
    let mut words: Vec<&[u8]> = line
        .split(|&b| b == b' ' || b == b'\t')
        .filter(|w| !w.is_empty())
        .collect();
    if let Some(i) = words.iter().position(|w| w.starts_with(b"#")) {
        words.truncate(i);
    }
    let starts_digit = |w: &[u8]| w.first().is_some_and(u8::is_ascii_digit);
    Some(match words.as_slice() {
        [] => None,
        [w] if *w == b"clear" => Some(ModelLine::Clear),
        [w] if *w == b"lock" => Some(ModelLine::Lock),
        [m, w] if *m == b"mode" && *w == b"permissive" => Some(ModelLine::Permissive(true)),
        [m, w] if *m == b"mode" && *w == b"enforcing" => Some(ModelLine::Permissive(false)),
        [d, rule @ ..] if *d == b"delete" => {
            let (a, b, p, prog, ids) = model_rule(rule)?;
            Some(ModelLine::Delete(a, b, p, prog, ids))
        }
        [ports, ..] if starts_digit(ports) => {
            let (a, b, p, prog, ids) = model_rule(&words)?;
            Some(ModelLine::Add(a, b, p, prog, ids))
        }
        _ => return None,
    })
}

fn ids(who: Who) -> Ids {
    (who.user, who.group)
}

/// The grammar's answer, in the model's terms.
fn grammar(line: &[u8]) -> Option<Option<ModelLine>> {
    let mut path = Vec::new();
    let r = parse_line(line, &mut path).ok()?;
    let prog = |s: &Spec| {
        assert_eq!(s.hash, hash(if s.kernel { KERNEL_PROGRAM } else { &path }));
        (!s.kernel).then(|| path.clone())
    };
    Some(r.map(|l| match l {
        Line::Add(s) => ModelLine::Add(s.first, s.last, s.protos, prog(&s), ids(s.who)),
        Line::Delete(s) => ModelLine::Delete(s.first, s.last, s.protos, prog(&s), ids(s.who)),
        Line::Clear => ModelLine::Clear,
        Line::Lock => ModelLine::Lock,
        Line::Mode(m) => ModelLine::Permissive(m == Mode::Permissive),
    }))
}

// --- Generators. ---

/// Words that are, or are close to, the words of a policy line.
fn word() -> impl Strategy<Value = Vec<u8>> {
    let fixed: Vec<&'static [u8]> = vec![
        b"delete",
        b"clear",
        b"lock",
        b"add",
        b"#",
        b"#c",
        b"<kernel>",
        b"<kern>",
        b"0",
        b"1",
        b"80",
        b"65535",
        b"65536",
        b"99999",
        b"010",
        b"1-2",
        b"2-1",
        b"1-",
        b"-1",
        b"1-2-3",
        b"80/tcp",
        b"80/udp",
        b"80/TCP",
        b"80/",
        b"1-65535/udp",
        b"/",
        b"/a",
        b"/a/b",
        b"//a",
        b"/a/",
        b"/a/./b",
        b"/a/../b",
        b"/..",
        b"/...",
        b"/.a",
        b"a/b",
        b"/a#b",
        b"/a\\040b",
        b"/a\\134",
        b"/\\000",
        b"/\\400",
        b"/a\\",
        b"/a\\04",
        b"/a\\8",
        b"\\057a",
        b"/caf\xc3\xa9",
        b"/\xff\xfe",
        b"/a\x01",
        b"/a\x7f",
        b"/a\0b",
        b"mode",
        b"permissive",
        b"enforcing",
        b"user=33",
        b"user=0",
        b"group=33",
        b"user=033",
        b"user=4294967294",
        b"user=4294967295",
        b"group=",
        b"uid=1",
    ];
    prop_oneof![
        4 => prop::sample::select(fixed).prop_map(<[u8]>::to_vec),
        // A path of random components, some escaped.
        2 => prop::collection::vec(component(), 1..4).prop_map(|cs| {
            let mut v = Vec::new();
            for c in cs {
                v.push(b'/');
                v.extend_from_slice(&c);
            }
            v
        }),
        // A port or a range.
        2 => (0u32..70000, 0u32..70000, 0usize..4).prop_map(|(a, b, p)| {
            let proto = ["", "/tcp", "/udp", "/sctp"][p];
            if a % 3 == 0 {
                format!("{a}{proto}").into_bytes()
            } else {
                format!("{a}-{b}{proto}").into_bytes()
            }
        }),
        1 => prop::collection::vec(any::<u8>(), 0..12),
    ]
}

/// A path component in its text form: raw bytes and escapes.
fn component() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            6 => prop::sample::select(b"abcxyz.-_#%".to_vec()).prop_map(|b| vec![b]),
            1 => (0x80u8..=0xff).prop_map(|b| vec![b]),
            2 => (0u32..0o777).prop_map(|v| format!("\\{v:03o}").into_bytes()),
            1 => Just(b".".to_vec()),
        ],
        0..6,
    )
    .prop_map(|v| v.concat())
}

/// A blank between words.
fn blank() -> impl Strategy<Value = &'static [u8]> {
    prop::sample::select(vec![&b" "[..], b"\t", b"  ", b" \t "])
}

/// A port word: a port or a range, and a protocol, mostly valid.
fn ports() -> impl Strategy<Value = Vec<u8>> {
    let port = prop_oneof![
        8 => (1u32..=65535).prop_map(|p| p.to_string()),
        1 => (0u32..70000).prop_map(|p| p.to_string()),
        2 => prop::sample::select(vec!["0", "00", "01", "65536", "99999", "", "+1", "1x"])
            .prop_map(str::to_string),
    ];
    (
        port.clone(),
        prop::option::of(port),
        prop::sample::select(vec!["", "", "/tcp", "/udp", "/", "/TCP", "/sctp"]),
    )
        .prop_map(|(a, b, proto)| match b {
            Some(b) => format!("{a}-{b}{proto}").into_bytes(),
            None => format!("{a}{proto}").into_bytes(),
        })
}

/// Lines that are mostly rules, some of them valid, or a few words of any kind.
fn line() -> impl Strategy<Value = Vec<u8>> {
    let rule = (
        any::<bool>(),
        ports(),
        prop_oneof![8 => word(), 1 => Just(b"<kernel>".to_vec())],
        blank(),
        prop::option::weighted(0.3, word()),
    )
        .prop_map(|(delete, ports, program, sep, tail)| {
            let mut v = Vec::new();
            if delete {
                v.extend_from_slice(b"delete ");
            }
            v.extend_from_slice(&ports);
            v.extend_from_slice(sep);
            v.extend_from_slice(&program);
            if let Some(t) = tail {
                v.extend_from_slice(sep);
                v.extend_from_slice(&t);
            }
            v
        });
    prop_oneof![3 => rule, 2 => words()]
}

/// Lines of a few words with blanks between them.
fn words() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec((word(), blank()), 0..6),
        any::<bool>(),
    )
        .prop_map(|(ws, lead)| {
            let mut v = Vec::new();
            if lead {
                v.push(b' ');
            }
            for (w, sep) in ws {
                v.extend_from_slice(&w);
                v.extend_from_slice(sep);
            }
            v
        })
}

/// A valid rule: its ports, protocols and program (a decoded path, or `<kernel>`).
fn rule() -> impl Strategy<Value = ModelRule> {
    (
        1u16..=65535,
        0u16..=200,
        prop::sample::select(vec![PROTO_TCP, PROTO_UDP, PROTO_ALL]),
        prop::option::weighted(
            0.9,
            prop::collection::vec(
                prop::collection::vec(1u8..=255, 1..8).prop_filter_map("no / in a name", |c| {
                    (!c.contains(&b'/') && c != b"." && c != b"..").then_some(c)
                }),
                1..5,
            ),
        ),
        prop::option::weighted(0.3, 0u32..u32::MAX),
        prop::option::weighted(0.3, 0u32..u32::MAX),
    )
        .prop_map(|(first, span, protos, comps, user, group)| {
            let last = first.saturating_add(span);
            let path = comps.map(|cs| {
                let mut p = Vec::new();
                for c in cs {
                    p.push(b'/');
                    p.extend_from_slice(&c);
                }
                p
            });
            // A `<kernel>` rule takes no qualifier.
            let ids = if path.is_some() {
                (user, group)
            } else {
                (None, None)
            };
            (first, last, protos, path, ids)
        })
}

proptest! {
    #![proptest_config(config())]

    /// Any bytes: no panic, and a rule that parses reads back to itself.
    #[test]
    fn any_bytes(line in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse(&line);
        if let Some(c) = canonical(&line) {
            prop_assert_eq!(canonical(&c), Some(c.clone()));
        }
    }

    /// Lines made of policy words: the grammar agrees with the model, and every rule it takes
    /// reads back to the same rule, in a text that is its own canonical form.
    #[test]
    fn agrees_with_model(line in line()) {
        let g = grammar(&line);
        // The transactions' parser gives the same line, and the program's bytes.
        let mut path = Vec::new();
        let r = parse_line(&line, &mut path);
        let mut other = Vec::new();
        match (r, parse_line_ref(&line, &mut other)) {
            (Ok(Some(a)), Ok(Some((b, bytes)))) => {
                prop_assert_eq!(a, b);
                if let Line::Add(s) | Line::Delete(s) = a {
                    let want: &[u8] = if s.kernel { KERNEL_PROGRAM } else { &path };
                    prop_assert_eq!(bytes, want);
                }
            }
            (Ok(None), Ok(None)) => {}
            (Err(a), Err(b)) => prop_assert_eq!(a, b),
            (a, b) => prop_assert!(false, "{:?} but {:?}", a, b),
        }
        prop_assert_eq!(&g, &model(&line), "line {:?}", String::from_utf8_lossy(&line));
        if let Some(Some(ModelLine::Add(..))) = g {
            let c = canonical(&line).unwrap();
            prop_assert_eq!(grammar(&c), g);
            prop_assert_eq!(canonical(&c), Some(c));
        }
    }

    /// A rule written out by the kernel's code parses back to the same rule.
    #[test]
    fn round_trip(r in rule()) {
        let (first, last, protos, path, ids) = r;
        let who = Who { user: ids.0, group: ids.1 };
        let text = render(first, last, protos, path.as_deref(), who);
        prop_assert!(text.len() <= MAX_TEXT_LINE);
        prop_assert!(!text[..text.len() - 1].contains(&b'\n'));
        let add = ModelLine::Add(first, last, protos, path.clone(), ids);
        prop_assert_eq!(grammar(&text), Some(Some(add)));
        let mut delete = b"delete ".to_vec();
        delete.extend_from_slice(&text);
        let delete_line = ModelLine::Delete(first, last, protos, path, ids);
        prop_assert_eq!(grammar(&delete), Some(Some(delete_line)));
    }
}

/// The read-back forms of the kernel's KUnit test `escaped_round_trip`, byte for byte.
#[test]
fn kernel_read_back_forms() {
    let cases: &[(&[u8], &[u8])] = &[
        (b"1 /opt/caf\xc3\xa9/srv", b"1 /opt/caf\xc3\xa9/srv"),
        (b"1 /a/\\377\\200", b"1 /a/\xff\x80"),
        (b"1 /opt/my\\040server", b"1 /opt/my\\040server"),
        (b"1 /a\\011b", b"1 /a\\011b"),
        (b"1 /a\\134b\\134", b"1 /a\\134b\\134"),
        (b"1 /a\\001\\012\\037\\177", b"1 /a\\001\\012\\037\\177"),
        (b"1 /\\141\\057b#", b"1 /a/b#"),
        (b"1-2/udp \\057x", b"1-2/udp /x"),
        (b"  10000\t/usr/sbin/server  # c", b"10000 /usr/sbin/server"),
        (b"53-53/udp <kernel>", b"53/udp <kernel>"),
        (b"65534-65535/tcp /a", b"65534-65535/tcp /a"),
        (b"80/tcp /a group=33  user=0", b"80/tcp /a user=0 group=33"),
        (b"80 /a group=4294967294", b"80 /a group=4294967294"),
    ];
    for &(input, out) in cases {
        assert_eq!(canonical(input).as_deref(), Some(out));
    }
    for line in [
        &b"0 /x"[..],
        b"10000 /a//b",
        b"1 /a\\000",
        b"delete 1",
        b"mode Permissive",
        b"mode permissive now",
        b"1 <kernel> user=0",
        b"1 /a user=1 user=1",
        b"1 /a user=4294967295",
    ] {
        assert!(parse(line).is_err());
    }
    assert_eq!(
        parse(b"mode permissive"),
        Ok(Some(Line::Mode(Mode::Permissive)))
    );
    assert_eq!(
        parse(b"10000 /a\\").unwrap_err().reason(),
        "a backslash starts an escape of 3 octal digits, \\ooo"
    );
}

/// The longest lines.
#[test]
fn limits() {
    let mut long = b"65534-65535/tcp /".to_vec();
    for _ in 1..MAX_PATH {
        long.extend_from_slice(b"\\040");
    }
    assert!(long.len() <= MAX_TEXT_LINE);
    assert_eq!(canonical(&long).as_deref(), Some(&long[..]));
    long.extend_from_slice(b"\\040");
    assert_eq!(parse(&long), Err(ParseError::PathTooLong));
    long.resize(MAX_TEXT_LINE + 1, b'a');
    assert_eq!(parse(&long), Err(ParseError::LineTooLong));
}

/// A policy file as `load` runs it: from nothing, `delete` of a missing rule and one rule too
/// many fail, with their line numbers.
#[test]
fn check_file() {
    let (p, refused) =
        text::check(b"# x\n10 /a\n\n10/tcp /b\ndelete 10 /a\ndelete 10 /a\n1 /a//b\n");
    let got: Vec<(usize, LineError)> = refused.iter().map(|r| (r.line, r.error)).collect();
    assert_eq!(
        got,
        [
            (6, LineError::NoSuchRule),
            (7, LineError::Parse(ParseError::NotNormalised))
        ]
    );
    assert_eq!(p.rules.len(), 1);
    // No newline at the end: the last line still counts.
    let (p, refused) = text::check(b"1 /a\nlock");
    assert!(refused.is_empty() && p.locked && p.rules.len() == 1);

    let mut txn = Txn::new(Policy::default());
    for port in 1..=MAX_RULES {
        let l = format!("{} /a", port.min(65535) + usize::from(port > 65535));
        let r = txn.line(l.as_bytes());
        if port <= 65535 {
            assert_eq!(r, Ok(()));
        }
    }
    assert_eq!(txn.line(b"1-2 /a"), Ok(()));
    assert_eq!(txn.line(b"1-3 /a"), Err(LineError::TooManyRules));
    // A rule that is there is no new rule.
    assert_eq!(txn.line(b"1-2 /a"), Ok(()));
}

/// The policy file's read-back: the mode, qualifiers, and a line that this grammar does not
/// know (from a newer kernel), kept as it is.
#[test]
fn read_back_forms() {
    let p =
        text::read_back(b"mode permissive\n80/tcp /a user=33 group=33\n81 /b\nnew thing\nlock\n");
    assert_eq!(p.mode(), "permissive");
    assert!(p.locked);
    let rules: Vec<&Rule> = p.rules.iter().collect();
    assert_eq!(rules[0].text(), b"80/tcp /a user=33 group=33");
    assert!(rules[0].admits(Some(33), Some(33)) && !rules[0].admits(Some(33), Some(0)));
    assert!(!rules[0].admits(None, None) && rules[1].admits(None, None));
    assert!(p.other.contains(&b"new thing"[..]));
    assert_eq!(text::read_back(b"1 /a\n").mode(), "enforcing");
    // A transaction: the last mode line wins, and `clear` enforces.
    let (p, refused) = text::check(b"mode permissive\n1 /a user=1\n1 /a\n");
    assert!(refused.is_empty() && p.mode() == "permissive" && p.rules.len() == 2);
    let (p, _) = text::check(b"mode permissive\nclear\n");
    assert_eq!(p.mode(), "enforcing");
    let (_, refused) = text::check(b"1 /a\ndelete 1 /a user=1\n");
    assert_eq!(refused[0].error, LineError::NoSuchRule);
}

#[test]
fn diff_mode() {
    let old = text::read_back(b"mode permissive\n1 /a\n");
    let new = text::read_back(b"1 /a user=1\n");
    let mut out = Vec::new();
    crate::print_diff(&mut out, &old, &new).unwrap();
    assert_eq!(out, b"-mode permissive\n-1 /a\n+1 /a user=1\n");
}

#[test]
fn diff() {
    let old = text::read_back(b"1 /a\n2 /b\n");
    let new = text::read_back(b"2 /b\n3 <kernel>\nlock\n");
    let mut out = Vec::new();
    crate::print_diff(&mut out, &old, &new).unwrap();
    assert_eq!(out, b"-1 /a\n+3 <kernel>\n+lock\n");
}
