//! `compress` and `correct` stream a file one basket at a time: their peak resident memory,
//! as `refloat bench` reports it, does not grow with the file, while a step that reads each
//! branch whole (`read-whole`, the baseline measured in the same run) does. Files of real
//! values from the held-out file, 0.2 M and 2 M values (`refloat bench` defaults to 10 M).

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::process::Command;

#[test]
fn compress_and_correct_memory_does_not_grow_with_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let o = Command::new(env!("CARGO_BIN_EXE_refloat"))
        .arg("bench")
        .arg(common::root_file(common::HELD_OUT))
        .args(["--repeat", "1", "--memory-values", "2000000", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(text.contains("peak resident memory"), "{text}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let memory = &report["memory"];
    let payload = memory["payload_bytes"].as_f64().unwrap();
    assert_eq!(payload, 8e6, "2 M values of 4 bytes");
    let row = |prefix: &str| {
        memory["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["step"].as_str().unwrap().starts_with(prefix))
            .unwrap_or_else(|| panic!("no row {prefix}: {memory}"))
            .clone()
    };
    let grew = |r: &serde_json::Value| {
        let p = &r["peak_rss_bytes"];
        p[1].as_f64().unwrap() - p[0].as_f64().unwrap()
    };
    // The baseline holds one whole branch (half the payload): the measurement sees it.
    let baseline = row("read-whole");
    assert!(grew(&baseline) > 0.3 * payload, "{baseline}");
    // A streaming step keeps a few bytes per basket written (the basket index ROOT stores
    // with each branch), not the values: its growth stays a small fraction of the baseline's.
    for step in ["compress", "correct"] {
        let r = row(step);
        assert_eq!(r["values"][1].as_u64().unwrap(), 2_000_000);
        assert!(
            grew(&r) < 0.25 * grew(&baseline),
            "{step}: peak memory grew by {} bytes for {payload} more bytes of floats \
             (reading whole branches grew by {}): {r}",
            grew(&r),
            grew(&baseline)
        );
    }
}
