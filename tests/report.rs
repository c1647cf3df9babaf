//! The report. The shared scenarios (`common/report.rs`, also run by
//! `alloc_suite.rs`) look at `snapshot()`; the tests here need a registry
//! nothing else touches, or the process's exit, so each re-runs this binary
//! as a child process selecting one test.

mod common;

use common::child::{
    announce_site, in_a_fresh_process_with, is_child, run_child, sites_of, stderr_of,
};
use common::panics::{assert_mentions, panic_message};
use pointer_escapes::*;

common::report::tests!();

/// Without `PinAwareAlloc` the report says that frees are not guarded.
#[test]
fn report_says_frees_are_not_guarded_without_pin_aware_alloc() {
    let snap = snapshot();
    assert!(!snap.allocator_installed);
    assert!(snap
        .to_string()
        .contains("frees NOT guarded (PinAwareAlloc is not the global allocator)"));
    assert_eq!(snap.quarantined_blocks, 0);
    assert_eq!(snap.freed_while_pinned, 0);
}

/// Child: leaks a Pinner's pin (the pinner is forgotten) and an OwnedPin's
/// (dropped while C may hold it), printing both sites.
fn leak_a_pinner_and_an_owned_pin() {
    let leaked: &'static [u8; 32] = Box::leak(Box::new([0u8; 32]));
    let mut pinner = Pinner::new();
    let line = line!() + 1;
    pinner.pin(leaked);
    announce_site(file!(), line);
    std::mem::forget(pinner);

    let line = line!() + 1;
    let owned = OwnedPin::new(vec![0u8; 64]);
    announce_site(file!(), line);
    drop(owned);
}

/// `PINREPORT=1` prints the report at exit when pins are still live, naming
/// each leaked pin's kind and site.
#[test]
fn pinreport_prints_live_pins_at_exit() {
    if is_child("pinreport-leaks") {
        leak_a_pinner_and_an_owned_pin();
        return;
    }
    let out = run_child(
        "pinreport_prints_live_pins_at_exit",
        "pinreport-leaks",
        &[("PINREPORT", "1")],
    );
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "the child failed:\n{stderr}");
    assert_mentions(
        &stderr,
        &["pointer-escapes report: 2 live pin(s) in 2 entries; frees NOT guarded"],
    );
    let sites = sites_of(&out);
    assert_eq!(sites.len(), 2, "{sites:?}");
    for (site, kind) in sites.iter().zip(["Pinner", "OwnedPin"]) {
        let row = stderr
            .lines()
            .find(|l| l.contains(site.as_str()))
            .unwrap_or_else(|| panic!("no report row for {site}:\n{stderr}"));
        assert!(row.contains(kind), "{row}");
    }
}

/// `PINREPORT=1` with every pin released by exit prints no report.
#[test]
fn pinreport_is_silent_when_nothing_is_left_pinned() {
    if is_child("pinreport-clean") {
        let buf = vec![0u8; 16];
        let mut pinner = Pinner::new();
        pinner.pin_slice(&buf);
        drop(pinner);
        drop(OwnedPin::new(vec![1u8; 8]).into_inner());
        return;
    }
    let out = run_child(
        "pinreport_is_silent_when_nothing_is_left_pinned",
        "pinreport-clean",
        &[("PINREPORT", "1")],
    );
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "the child failed:\n{stderr}");
    assert!(!stderr.contains("pointer-escapes report"), "{stderr}");
}

/// Without `PINREPORT`, leaked pins print no report at exit.
#[test]
fn no_report_at_exit_without_pinreport() {
    if is_child("no-pinreport") {
        leak_a_pinner_and_an_owned_pin();
        return;
    }
    for setting in [None, Some("0")] {
        let env: Vec<(&str, &str)> = setting.map(|v| ("PINREPORT", v)).into_iter().collect();
        let out = run_child("no_report_at_exit_without_pinreport", "no-pinreport", &env);
        let stderr = stderr_of(&out);
        assert!(out.status.success(), "the child failed:\n{stderr}");
        assert!(
            !stderr.contains("pointer-escapes report"),
            "{setting:?}: {stderr}"
        );
    }
}

/// `assert_no_pins` in a process of its own: passes with no pins, panics
/// with the report naming a live pin's site, passes again once it is gone.
#[test]
fn assert_no_pins_names_what_is_still_pinned() {
    if !is_child("assert-no-pins") {
        let out = run_child(
            "assert_no_pins_names_what_is_still_pinned",
            "assert-no-pins",
            &[],
        );
        assert!(
            out.status.success(),
            "the child failed:\n{}",
            stderr_of(&out)
        );
        return;
    }
    assert_no_pins();
    assert!(snapshot().pins.is_empty());

    let buf = vec![0u8; 20];
    let mut pinner = Pinner::new();
    let pin_line = line!() + 1;
    pinner.pin_slice(&buf);
    // A closure, not the function itself: `#[track_caller]` sees through the
    // closure to this line, not through a function pointer.
    #[allow(clippy::redundant_closure)]
    let (line, msg) = (line!(), panic_message(|| assert_no_pins()));
    assert_mentions(
        &msg,
        &[
            &format!("assert_no_pins at {}:{line}:", file!()),
            "pins are still live (a Pinner or OwnedPin was leaked, or is still in scope)",
            "pointer-escapes report: 1 live pin(s) in 1 entry;",
            &format!("{}:{pin_line}:", file!()),
        ],
    );
    drop(pinner);
    assert_no_pins();
}

/// Child (`POINTER_ESCAPES_CHECK=0`, no exit report: a release build's
/// defaults): every kind of lasting pin made while no check runs and no
/// exit report will print is undated (`age` is `None`, shown as `-`); once
/// checks are on, new pins are dated and the undated ones stay undated.
fn pins_are_dated_once_checks_are_on() {
    assert_eq!(check_mode(), CheckMode::Off);
    let (a, b, c, d) = (vec![1u8; 16], vec![2u8; 16], [3u8; 8], vec![5u8; 16]);
    let iov = [std::io::IoSlice::new(&b)];
    let mut pinner = Pinner::new();
    pinner.pin_slice(&a);
    pinner.pin_referents(&iov);
    let owned = OwnedPin::new(vec![4u8; 32]);
    let undated_region = owned.region();
    with_pinned(&[Region::of(&c)], || {
        let snap = snapshot();
        let mine: Vec<&LivePin> = snap
            .pins
            .iter()
            .filter(|p| {
                [
                    Region::of_slice(&a),
                    Region::of_slice(&b),
                    Region::of(&c),
                    undated_region,
                ]
                .contains(&p.region)
            })
            .collect();
        assert_eq!(mine.len(), 4, "{snap}");
        assert!(snap
            .pins
            .iter()
            .any(|p| p.region == Region::of_slice(&iov[..])));
        assert!(mine.iter().all(|p| p.age.is_none()), "{snap}");
        let row = snap
            .to_string()
            .lines()
            .find(|l| l.contains(&format!("{:#x}", c.as_ptr() as usize)))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no row for the with_pinned pin:\n{snap}"));
        assert!(
            row.contains(" - "),
            "an undated pin's age shows as `-`: {row}"
        );
    });

    set_check_mode(CheckMode::Args);
    pinner.pin_slice(&d);
    let snap = snapshot();
    let age_of = |r: Region| snap.pins.iter().find(|p| p.region == r).map(|p| p.age);
    assert!(
        matches!(age_of(Region::of_slice(&d)), Some(Some(_))),
        "{snap}"
    );
    assert_eq!(age_of(Region::of_slice(&a)), Some(None), "{snap}");
    // Dated rows first (the oldest known age first), undated after.
    let first_undated = snap.pins.iter().position(|p| p.age.is_none());
    let last_dated = snap.pins.iter().rposition(|p| p.age.is_some());
    assert!(first_undated > last_dated, "{snap}");
    drop(owned);
}

/// With checks off and no exit report, pins skip the clock (their age
/// could not be read); turning checks on dates the pins made after.
#[test]
fn a_pin_is_dated_only_while_its_age_can_be_read() {
    in_a_fresh_process_with(
        "a_pin_is_dated_only_while_its_age_can_be_read",
        "ages-off",
        &[("POINTER_ESCAPES_CHECK", "0")],
        pins_are_dated_once_checks_are_on,
    );
}

/// With checks off but the exit report on, pins are dated: the report
/// shows their ages.
#[test]
fn a_pin_made_while_the_exit_report_is_on_is_dated() {
    in_a_fresh_process_with(
        "a_pin_made_while_the_exit_report_is_on_is_dated",
        "ages-report",
        &[
            ("POINTER_ESCAPES_CHECK", "0"),
            ("POINTER_ESCAPES_REPORT", "1"),
        ],
        || {
            assert_eq!(check_mode(), CheckMode::Off);
            let buf = vec![0u8; 16];
            let mut pinner = Pinner::new();
            pinner.pin_slice(&buf);
            let snap = snapshot();
            let mine = snap
                .pins
                .iter()
                .find(|p| p.region == Region::of_slice(&buf))
                .expect("the pin is listed");
            assert!(mine.age.is_some(), "{snap}");
        },
    );
}

/// Child (`POINTER_ESCAPES_CHECK=0`, `POINTER_ESCAPES_REPORT=1`): two
/// threads make the process's first pins at once; whichever sets the
/// exit report up, both pins are dated (found by a review: the other
/// thread once saw the report armed before it was known to be on).
fn pins_racing_the_report_set_up() {
    assert_eq!(check_mode(), CheckMode::Off);
    let bufs: Vec<Vec<u8>> = (0..2).map(|i| vec![i as u8; 16]).collect();
    let barrier = std::sync::Barrier::new(2);
    let pinners: Vec<Pinner<'_>> = std::thread::scope(|s| {
        let handles: Vec<_> = bufs
            .iter()
            .map(|b| {
                let barrier = &barrier;
                s.spawn(move || {
                    let mut p = Pinner::new();
                    barrier.wait();
                    p.pin_slice(b);
                    p
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let snap = snapshot();
    for b in &bufs {
        let row = snap
            .pins
            .iter()
            .find(|p| p.region == Region::of_slice(b))
            .expect("listed");
        assert!(
            row.age.is_some(),
            "undated with the exit report on:\n{snap}"
        );
    }
    drop(pinners);
}

/// A pin made while another thread sets the exit report up is dated: no
/// thread sees the report decided before it is known to be on. Run in 40
/// children with a long environment (the setting's `getenv` scans it, which
/// widens the window); 3 of 40 failed before the fix.
#[test]
fn a_pin_racing_the_exit_reports_set_up_is_dated() {
    if is_child("ages-race") {
        pins_racing_the_report_set_up();
        return;
    }
    let filler: Vec<(String, String)> = (0..20_000)
        .map(|i| (format!("POINTER_ESCAPES_TEST_FILL_{i}"), "x".to_string()))
        .collect();
    let mut env: Vec<(&str, &str)> = vec![
        ("POINTER_ESCAPES_CHECK", "0"),
        ("POINTER_ESCAPES_REPORT", "1"),
    ];
    env.extend(filler.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let mut failures = Vec::new();
    for _ in 0..40 {
        let out = run_child(
            "a_pin_racing_the_exit_reports_set_up_is_dated",
            "ages-race",
            &env,
        );
        if !out.status.success() {
            failures.push(stderr_of(&out));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 40 children failed; the first:\n{}",
        failures.len(),
        failures[0]
    );
}

/// A report row merging identical pins shows no age when any of them is
/// undated: that pin may be the oldest (found by a review: the row showed
/// the younger, dated pin's age).
#[test]
fn a_row_holding_an_undated_pin_shows_no_age() {
    in_a_fresh_process_with(
        "a_row_holding_an_undated_pin_shows_no_age",
        "ages-merge",
        &[("POINTER_ESCAPES_CHECK", "0")],
        || {
            assert_eq!(check_mode(), CheckMode::Off);
            let a = vec![7u8; 16];
            let mut pinner = Pinner::new();
            for round in 0..2 {
                if round == 1 {
                    set_check_mode(CheckMode::Args);
                }
                pinner.pin_slice(&a); // one site for both pins
            }
            let snap = snapshot();
            let row = snap
                .pins
                .iter()
                .find(|p| p.region == Region::of_slice(&a))
                .expect("listed");
            assert_eq!(row.count, 2, "{snap}");
            assert_eq!(row.age, None, "{snap}");
        },
    );
}
