//! `THREATS.md` names, for every threat, the tests that prove it is stopped. This fails when a
//! named test no longer exists (renamed, moved or deleted) or a threat names no test.

use std::collections::BTreeSet;

use okta_mcp_tests::harness::workspace_root;

/// Every `path::test_name` reference in `text`, in backticks.
fn references(text: &str) -> Vec<(String, String)> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|quoted| {
            let (path, name) = quoted.split_once("::")?;
            let is_test_name = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            (path.ends_with(".rs") && is_test_name).then(|| (path.to_owned(), name.to_owned()))
        })
        .collect()
}

/// Whether `source` defines a test function `name` (a `#[test]` or `#[tokio::test]` right above).
fn defines_test(source: &str, name: &str) -> bool {
    let lines: Vec<&str> = source.lines().collect();
    lines.iter().enumerate().any(|(i, line)| {
        let line = line.trim_start();
        let defines = [format!("fn {name}("), format!("async fn {name}(")]
            .iter()
            .any(|d| line.starts_with(d.as_str()));
        // The attributes and doc comments right above it include a test attribute.
        defines
            && lines[..i]
                .iter()
                .rev()
                .map(|above| above.trim_start())
                .take_while(|above| above.starts_with("#[") || above.starts_with("//"))
                .any(|above| above.starts_with("#[") && above.contains("test"))
    })
}

#[test]
fn every_threat_names_tests_that_exist() {
    let root = workspace_root();
    let threats = std::fs::read_to_string(root.join("THREATS.md")).expect("THREATS.md");
    let mut missing = Vec::new();
    let mut rows = 0;
    let mut named = BTreeSet::new();
    for line in threats.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.split('|').collect();
        if cells.len() < 5 || line.starts_with("|---") || cells[1].trim() == "threat" {
            continue;
        }
        rows += 1;
        let tests = references(cells[3]);
        if tests.is_empty() {
            missing.push(format!("no test named for: {}", cells[1].trim()));
        }
        for (path, name) in tests {
            match std::fs::read_to_string(root.join(&path)) {
                Ok(source) if defines_test(&source, &name) => {
                    named.insert(format!("{path}::{name}"));
                }
                Ok(_) => missing.push(format!("{path} has no test {name}")),
                Err(error) => missing.push(format!("{path}: {error}")),
            }
        }
    }
    assert!(rows >= 20, "only {rows} threats in THREATS.md");
    assert!(missing.is_empty(), "THREATS.md:\n{}", missing.join("\n"));
    eprintln!("{rows} threats, {} tests named", named.len());
}

#[test]
fn the_check_itself_notices_a_missing_test() {
    let source = "#[tokio::test]\nasync fn real_one() {}\nfn helper() {}\n";
    assert!(defines_test(source, "real_one"));
    assert!(!defines_test(source, "helper"), "not a test");
    assert!(!defines_test(source, "gone"));
    assert_eq!(
        references("a `tests/tests/x.rs::real_one`; `not a ref`, `a.rs::Bad`"),
        vec![("tests/tests/x.rs".to_owned(), "real_one".to_owned())]
    );
}
