//! verify's load as the day-2 tests run it (200 req/s, JSON report, for as long as the test
//! needs), and reading its report: how many requests were answered 2xx, and how many were
//! not (any other class: 4xx, 5xx, transport errors, timeouts).

/// verify's arguments for the load a restart runs under, for `secs` seconds.
pub fn load_args(secs: u64) -> Vec<String> {
    let mut args: Vec<String> = LOAD_ARGS.iter().map(|a| a.to_string()).collect();
    args.extend(["--duration".to_string(), format!("{secs}s")]);
    args
}

const LOAD_ARGS: &[&str] = &["--rate", "200", "--warmup", "1s", "--format", "json"];

/// (answered 2xx, every other outcome) from `verify --format json`'s `load.by_class`.
pub fn answered(v: &serde_json::Value) -> (u64, u64) {
    let mut ok = 0;
    let mut failed = 0;
    for pair in v["load"]["by_class"].as_array().expect("a load ran") {
        let n = pair[1].as_u64().unwrap();
        if pair[0] == "ok2xx" {
            ok += n;
        } else {
            failed += n;
        }
    }
    (ok, failed)
}
