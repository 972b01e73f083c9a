use std::fs;

use super::*;
use crate::tune::Want;

fn catalog_with(files: &[(&str, &str)]) -> (tempfile::TempDir, Catalog) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        fs::write(dir.path().join(format!("{name}.yaml")), text).unwrap();
    }
    let catalog = Catalog::new(dir.path());
    (dir, catalog)
}

fn error_of(result: anyhow::Result<Profile>) -> String {
    let e = result.expect_err("the profile should be rejected");
    assert_eq!(crate::exit::code_for(&e), crate::exit::USAGE, "{e:#}");
    format!("{e:#}")
}

#[test]
fn every_builtin_profile_loads_and_every_key_has_a_reason() {
    let catalog = Catalog::new("/nonexistent");
    for (name, _) in BUILTIN {
        let profile = catalog.load(name).unwrap();
        for (key, entry) in &profile.sysctl {
            let reason = entry.reason.as_deref().unwrap_or("");
            assert!(reason.len() > 10, "{name}: {key} has no reason");
        }
        for (limit, entry) in &profile.ulimits {
            assert!(
                entry.reason.is_some(),
                "{name}: ulimit {limit} has no reason"
            );
        }
    }
}

#[test]
fn every_file_in_profiles_dir_is_built_in() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/profiles");
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        assert!(
            BUILTIN.iter().any(|(n, _)| *n == stem),
            "{} is not listed in BUILTIN",
            path.display()
        );
    }
}

#[test]
fn includes_resolve_depth_first_and_later_wins() {
    let (_dir, catalog) = catalog_with(&[
        ("a", "sysctl: {net.core.somaxconn: 1, vm.swappiness: 1}"),
        ("b", "include: [a]\nsysctl: {net.core.somaxconn: 2}"),
        ("c", "include: [b]\nsysctl: {vm.swappiness: 3}"),
    ]);
    let p = catalog.load("c").unwrap();
    let somaxconn = SysctlKey::parse("net.core.somaxconn").unwrap();
    let swappiness = SysctlKey::parse("vm.swappiness").unwrap();
    assert_eq!(p.sysctl[&somaxconn].value.to_string(), "2");
    assert_eq!(p.sysctl[&somaxconn].from, "b");
    assert_eq!(p.sysctl[&swappiness].value.to_string(), "3");
    assert_eq!(p.resolved_from, ["a", "b", "c"]);
}

#[test]
fn latency_profile_inherits_the_base() {
    let p = Catalog::new("/nonexistent")
        .load("latency-profile")
        .unwrap();
    let key = SysctlKey::parse("net.core.somaxconn").unwrap();
    assert_eq!(p.sysctl[&key].from, "api-base");
    assert_eq!(p.resolved_from, ["api-base", "latency-profile"]);
    assert_eq!(p.ulimits[&Resource::Nofile].soft, Want::AtLeast(1048576));
}

#[test]
fn include_cycles_are_rejected_with_the_path() {
    let (_dir, catalog) = catalog_with(&[("a", "include: [b]"), ("b", "include: [a]")]);
    let msg = error_of(catalog.load("a"));
    assert!(msg.contains("cycle: a -> b -> a"), "{msg}");
}

#[test]
fn a_missing_include_names_the_profile_and_the_include() {
    let (_dir, catalog) = catalog_with(&[("a", "include: [nowhere]")]);
    let msg = error_of(catalog.load("a"));
    assert!(msg.contains("include \"nowhere\""), "{msg}");
    assert!(msg.contains("no profile named \"nowhere\""), "{msg}");
}

#[test]
fn unknown_sections_and_fields_report_line_and_column() {
    let (_dir, catalog) = catalog_with(&[
        (
            "section",
            "description: x\nsysctls:\n  net.core.somaxconn: 1\n",
        ),
        (
            "field",
            "sysctl:\n  net.core.somaxconn:\n    value: 1\n    reasn: typo\n",
        ),
    ]);
    let msg = error_of(catalog.load("section"));
    assert!(
        msg.contains("unknown field `sysctls`") && msg.contains("line 2"),
        "{msg}"
    );
    let msg = error_of(catalog.load("field"));
    assert!(
        msg.contains("unknown field `reasn`") && msg.contains("line 3"),
        "{msg}"
    );
}

#[test]
fn traversal_keys_wrong_types_and_bad_yaml_are_rejected() {
    let (_dir, catalog) = catalog_with(&[
        ("traversal", "sysctl:\n  net/../../etc: 1\n"),
        ("float", "sysctl:\n  vm.swappiness: 0.5\n"),
        ("map", "sysctl:\n  vm.swappiness: {value: {a: 1}}\n"),
        ("bound", "sysctl:\n  vm.swappiness: \">=lots\"\n"),
        ("limit", "ulimits:\n  nofile: many\n"),
        ("resource", "ulimits:\n  fds: 10\n"),
        ("yaml", "sysctl: [unclosed\n"),
    ]);
    for (name, expect) in [
        ("traversal", "invalid sysctl name \"net/../../etc\""),
        ("float", "not an integer"),
        ("map", "line 2"),
        ("bound", "must be an integer"),
        ("limit", "not a limit"),
        ("resource", "fds"),
        ("yaml", "line"),
    ] {
        let msg = error_of(catalog.load(name));
        assert!(msg.contains(expect), "{name}: {msg}");
        assert!(
            msg.contains(&format!("{name}.yaml")),
            "{name}: no file in {msg}"
        );
    }
}

#[test]
fn short_and_long_forms_mean_the_same() {
    let (_dir, catalog) = catalog_with(&[(
        "forms",
        "sysctl:\n  net.ipv4.tcp_rmem: [4096, 87380, \">=16777216\"]\n  net.ipv4.tcp_wmem: \"4096 65536 16777216\"\n  net.ipv4.tcp_syncookies: {value: true, optional: true}\nulimits:\n  nproc: {soft: 1024, hard: unlimited}\n  nofile: \">=4096\"\n",
    )]);
    let p = catalog.load("forms").unwrap();
    let key = |k| SysctlKey::parse(k).unwrap();
    assert_eq!(
        p.sysctl[&key("net.ipv4.tcp_rmem")].value.to_string(),
        "4096 87380 >=16777216"
    );
    assert_eq!(p.sysctl[&key("net.ipv4.tcp_wmem")].value.fields.len(), 3);
    let cookies = &p.sysctl[&key("net.ipv4.tcp_syncookies")];
    assert!(cookies.optional);
    assert_eq!(cookies.value.to_string(), "1");
    assert_eq!(
        p.ulimits[&Resource::Nproc].desired().to_string(),
        "1024 unlimited"
    );
    assert_eq!(p.ulimits[&Resource::Nofile].hard, Want::AtLeast(4096));
}

#[test]
fn a_user_profile_may_include_a_builtin_by_name() {
    let (_dir, catalog) = catalog_with(&[(
        "mine",
        "include: [latency-profile]\nsysctl:\n  net.core.somaxconn: 8192\n",
    )]);
    let p = catalog.load("mine").unwrap();
    assert_eq!(p.resolved_from, ["api-base", "latency-profile", "mine"]);
    let listed: Vec<String> = catalog
        .list()
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert!(
        listed.contains(&"mine".to_string()) && listed.contains(&"latency-profile".to_string())
    );
}

#[test]
fn a_child_drops_inherited_sysctls_and_limits() {
    let (_dir, catalog) = catalog_with(&[
        (
            "base",
            "sysctl: {vm.swappiness: 1, net.core.busy_poll: 50}\nulimits: {nofile: 4096, nproc: 100}",
        ),
        (
            "child",
            "include: [base]\nsysctl:\n  net.core.busy_poll: {drop: true, reason: no busy polling here}\nulimits:\n  nproc: {drop: true}\n",
        ),
        (
            "twice",
            "sysctl:\n  vm.swappiness: {drop: true, value: 1}\n",
        ),
        ("false", "sysctl:\n  vm.swappiness: {drop: false}\n"),
    ]);
    let p = catalog.load("child").unwrap();
    let key = |k| SysctlKey::parse(k).unwrap();
    assert!(!p.sysctl.contains_key(&key("net.core.busy_poll")));
    assert!(p.sysctl.contains_key(&key("vm.swappiness")));
    assert!(!p.ulimits.contains_key(&Resource::Nproc));
    assert!(p.ulimits.contains_key(&Resource::Nofile));
    assert!(error_of(catalog.load("twice")).contains("cannot also give a value"));
    assert!(error_of(catalog.load("false")).contains("drop: false means nothing"));
}

#[test]
fn text_fields_are_one_line_and_folded_blocks_lose_their_final_newline() {
    let (_dir, catalog) = catalog_with(&[
        (
            "folded",
            "description: >\n  two words\nsysctl:\n  vm.swappiness:\n    value: 1\n    reason: >-\n      long reason\n      on two lines\n",
        ),
        (
            "literal",
            "sysctl:\n  vm.swappiness:\n    value: 1\n    reason: |\n      line one\n      line two\n",
        ),
        ("tab", "description: \"a\\tb\"\n"),
    ]);
    let p = catalog.load("folded").unwrap();
    assert_eq!(p.description, "two words");
    let reason = p.sysctl[&SysctlKey::parse("vm.swappiness").unwrap()]
        .reason
        .clone()
        .unwrap();
    assert_eq!(reason, "long reason on two lines");
    let msg = error_of(catalog.load("literal"));
    assert!(
        msg.contains("control character") && msg.contains("line 4"),
        "{msg}"
    );
    assert!(error_of(catalog.load("tab")).contains("'\\t'"));
}

#[test]
fn names_and_includes_are_checked_where_they_stand() {
    for (name, ok) in [
        ("latency-profile", true),
        ("api_v2.1", true),
        ("", false),
        (".hidden", false),
        ("-flag", false),
        ("a/b", false),
        ("a b", false),
        (&"x".repeat(65), false),
    ] {
        assert_eq!(schema::bad_name(name).is_none(), ok, "{name:?}");
    }
    for (include, ok) in [
        ("api-base", true),
        ("./x.yaml", true),
        ("./sub/x.yml", true),
        ("./x", false),
        ("../x.yaml", false),
        ("./a/../x.yaml", false),
        ("/etc/x.yaml", false),
        ("sub/x.yaml", false),
        (".//x.yaml", false),
    ] {
        assert_eq!(schema::bad_include(include).is_none(), ok, "{include:?}");
    }
}

#[test]
fn the_prescan_bounds_nesting_before_the_parser_sees_it() {
    assert!(prescan("sysctl:\n  a: [1, 2, {b: c}]\n").is_ok());
    let flows = format!("a: {}", "[".repeat(limits::FLOW_MAX + 1));
    assert!(prescan(&flows).unwrap_err().contains("flow collections"));
    let dashes = format!("a:\n  {}1\n", "- ".repeat(limits::DEPTH_MAX));
    assert!(prescan(&dashes).unwrap_err().contains("line 2"));
    let mut indented = String::new();
    for i in 0..=limits::DEPTH_MAX {
        indented.push_str(&format!("{}k{i}:\n", " ".repeat(i)));
    }
    assert!(prescan(&indented).is_err());
    // Comments and blank lines do not count.
    assert!(prescan("a: 1\n        # deep comment\n\nb: 2\n").is_ok());
}

#[test]
fn drop_is_not_a_field_of_network_entries() {
    let (_dir, catalog) =
        catalog_with(&[("net", "network:\n  congestion_control: {drop: true}\n")]);
    let msg = error_of(catalog.load("net"));
    assert!(msg.contains("unknown field `drop`"), "{msg}");
}

#[test]
fn a_bad_user_file_is_left_out_of_the_list_with_a_reason() {
    let (dir, catalog) = catalog_with(&[("good", "description: fine\n"), ("bad", "sysctl: [\n")]);
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.yaml")).unwrap();
    let (list, problems) = catalog.list_checked();
    let names: Vec<&str> = list.iter().map(|s| s.name.as_str()).collect();
    assert!(
        names.contains(&"good") && names.contains(&"api-base"),
        "{names:?}"
    );
    assert!(!names.contains(&"bad"));
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems.iter().any(|p| p.contains("bad.yaml")));
    assert!(
        problems
            .iter()
            .any(|p| p.contains("zero.yaml") && p.contains("symbolic link"))
    );
}

#[test]
fn a_files_conditions_reach_only_its_own_settings() {
    let (_dir, catalog) = catalog_with(&[
        (
            "base",
            "sysctl: {vm.swappiness: 10}\ncpu:\n  governor: performance\n",
        ),
        (
            "metal",
            "include: [base]\nwhen: {virtualization: none}\nsysctl:\n  kernel.nmi_watchdog: 0\n  kernel.timer_migration: {value: 0, when: {cpus: \">=4\"}}\ncpu:\n  when: {numa_nodes: \">1\"}\n  max_idle_latency_us: 10\n",
        ),
    ]);
    let p = catalog.load("metal").unwrap();
    let when = |e: &SysctlEntry| yaml_serde::to_string(&e.when).unwrap();
    let key = |k: &str| SysctlKey::parse(k).unwrap();
    assert!(
        p.sysctl[&key("vm.swappiness")].when.is_empty(),
        "included: no condition"
    );
    assert_eq!(
        when(&p.sysctl[&key("kernel.nmi_watchdog")]).trim(),
        "virtualization: none"
    );
    let both = when(&p.sysctl[&key("kernel.timer_migration")]);
    assert!(
        both.contains("cpus: '>=4'") && both.contains("virtualization: none"),
        "{both}"
    );
    assert!(p.cpu.governor.as_ref().unwrap().when.is_empty());
    let idle = when(p.cpu.max_idle_latency_us.as_ref().unwrap());
    assert!(
        idle.contains("numa_nodes") && idle.contains("virtualization"),
        "{idle}"
    );
    assert!(p.has_conditions());
    assert!(!catalog.load("base").unwrap().has_conditions());
}

#[test]
fn cpu_settings_merge_field_by_field_and_drop_like_sysctls() {
    let (_dir, catalog) = catalog_with(&[
        (
            "base",
            "cpu:\n  cpus: \"0-3\"\n  governor: performance\n  max_idle_latency_us: 10\n",
        ),
        (
            "child",
            "include: [base]\ncpu:\n  governor: schedutil\n  max_idle_latency_us: {drop: true}\n",
        ),
        ("orphan", "cpu:\n  governor: {drop: true}\n"),
    ]);
    let p = catalog.load("child").unwrap();
    assert_eq!(
        p.cpu.governor.as_ref().unwrap().value.to_string(),
        "schedutil"
    );
    assert_eq!(p.cpu.governor.as_ref().unwrap().from, "child");
    assert!(p.cpu.max_idle_latency_us.is_none());
    assert_eq!(
        p.cpu.cpus.as_deref(),
        Some("0-3"),
        "the CPU set is inherited"
    );
    let e = error_of(catalog.load("orphan"));
    assert!(
        e.contains("cpu governor: drop: true, but no included profile sets it"),
        "{e}"
    );
}

#[test]
fn new_sections_refuse_what_no_kernel_takes_with_the_place_and_the_fix() {
    let (_dir, catalog) = catalog_with(&[
        (
            "path",
            "sysfs:\n  /sys/kernel/mm/transparent_hugepage/enabled: never\n",
        ),
        (
            "word",
            "sysfs:\n  transparent_hugepage/enabled: sometimes\n",
        ),
        ("nap", "sysfs:\n  net/eth0/napi_defer_hard_irqs: -1\n"),
        ("lat", "cpu:\n  max_idle_latency_us: soon\n"),
        ("gov", "cpu:\n  governor: \"perf ormance\"\n"),
        ("cpus", "cpu:\n  cpus: \"0-x\"\n  governor: performance\n"),
        ("listen", "sysctl:\n  net.core.somaxconn: listeners\n"),
        (
            "when",
            "sysctl:\n  vm.swappiness: {value: 10, when: {virtualisation: none}}\n",
        ),
        ("cpukey", "cpu:\n  frequency: 3000000\n"),
    ]);
    for (name, expect) in [
        ("path", "not a sysfs setting hostperf knows"),
        ("word", "is not one of always, madvise, never"),
        ("nap", "not a whole number"),
        ("lat", "is not a latency"),
        ("gov", "not a single word"),
        ("cpus", "cpus:"),
        (
            "listen",
            "`listeners` is a value only net.ipv4.ip_local_reserved_ports takes",
        ),
        ("when", "unknown field `virtualisation`"),
        ("cpukey", "unknown field `frequency`"),
    ] {
        let e = error_of(catalog.load(name));
        assert!(e.contains(expect), "{name}: {e}");
    }
}

#[test]
fn compose_builds_one_profile_from_layers() {
    let catalog = Catalog::new("/nonexistent");
    let p = catalog
        .compose(
            "recommended",
            &["latency-profile".to_string(), "nat-node".to_string()],
        )
        .unwrap();
    assert_eq!(p.name, "recommended");
    assert!(p.resolved_from.contains(&"nat-node".to_string()));
    assert!(
        p.sysctl
            .contains_key(&SysctlKey::parse("net.ipv4.neigh.default.gc_thresh3").unwrap())
    );
    let one = catalog
        .compose("recommended", &["latency-profile".to_string()])
        .unwrap();
    assert_eq!(one.name, "latency-profile");
    assert!(
        catalog
            .compose("recommended", &["../x".to_string(), "y".to_string()])
            .is_err()
    );
}
