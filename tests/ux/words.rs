//! Plain words: no name of a document the user does not have ("seed", "matrix row",
//! "fault line", "Admin desk") in help, docs or output; the build in scripts/run.sh shows.

use super::*;

const INTERNAL: [&str; 4] = ["seed", "matrix row", "fault line", "admin desk"];

fn assert_plain(what: &str, text: &str) {
    let lower = text.to_lowercase();
    for word in INTERNAL {
        assert!(
            !lower.contains(word),
            "{what} says {word:?}:\n{}",
            text.lines()
                .filter(|l| l.to_lowercase().contains(word))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

#[test]
fn help_and_docs_use_plain_words() {
    let commands = [
        "",
        "profiles",
        "plan",
        "apply",
        "check",
        "rollback",
        "show",
        "diagnose",
        "snapshot",
        "probe",
        "completions",
    ];
    for command in commands {
        let mut args: Vec<&str> = command.split_whitespace().collect();
        args.push("--help");
        let out = hostperf(&args);
        assert_eq!(code(&out), 0, "{args:?}");
        assert_plain(&format!("{args:?}"), &stdout(&out));
    }
    for doc in ["README.md", "docs/check.md", "docs/json.md"] {
        let text = std::fs::read_to_string(repo().join(doc)).unwrap();
        assert_plain(doc, &text);
    }
}

#[test]
fn run_sh_shows_the_build() {
    let script = std::fs::read_to_string(repo().join("scripts/run.sh")).unwrap();
    let build = script
        .lines()
        .find(|l| l.trim_start().starts_with("cargo build"))
        .unwrap();
    assert!(
        !build.contains("--quiet") && !build.contains(" -q"),
        "{build}"
    );
}
