mod common;

#[test]
fn flat_data_loads() {
    let all = common::all_flat();
    assert!(all.len() > 100, "{} branches", all.len());
    let total: usize = all.iter().map(|(_, v)| v.len()).sum();
    assert!(total > 10_000, "{total} values");
}
