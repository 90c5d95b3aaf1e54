//! `run.json`: what a run in an output folder was and how it ended.
//!
//! ```json
//! { "neuroc": "0.1.0", "status": "completed", "pid": 4242,
//!   "started": "2026-12-04T17:00:00Z", "finished": "2026-12-04T17:00:03Z",
//!   "t_reached_ms": 200, "error": null,
//!   "run": { "model": "Squid", "kind": "neuron", "source": {...}, "settings": {...}, ... },
//!   "files": [ { "name": "V.csv", "rows": 20001, "columns": ["t_ms", "V_mV"] } ] }
//! ```
//!
//! `status` is `running` while the run goes (a manifest left `running` by a
//! process that no longer exists is a run that was killed), then
//! `completed`, `interrupted` (Ctrl-C: the files hold everything up to
//! `t_reached_ms`), or `failed` (`error` says why; the files, if any, end
//! where the run failed). `files` lists what this run wrote; the next run
//! into the folder replaces or removes exactly those, and nothing else.

use serde_json::{json, Map, Value};
use std::path::Path;

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Running,
    Completed,
    Interrupted,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Interrupted => "interrupted",
            Status::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        [Status::Running, Status::Completed, Status::Interrupted, Status::Failed].into_iter().find(|x| x.as_str() == s)
    }
}

/// The manifest's file name in an output folder.
pub const NAME: &str = "run.json";

/// The files a manifest lists, when `dir` holds a readable one: only plain
/// names of entries in the folder itself (a manifest cannot make a run
/// touch anything elsewhere). A symlink named `run.json` is not followed.
pub fn listed_files(dir: &Path) -> Vec<String> {
    let Some(v) = read(dir) else { return vec![] };
    v.get("files")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|f| f.get("name").and_then(Value::as_str))
        .filter(|n| plain_name(n))
        .map(str::to_string)
        .collect()
}

/// The manifest in `dir`, parsed, if it is a regular file that parses.
pub fn read(dir: &Path) -> Option<Value> {
    let path = dir.join(NAME);
    let meta = std::fs::symlink_metadata(&path).ok()?;
    if !meta.is_file() || meta.len() > 64 << 20 {
        return None;
    }
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// A name of an entry directly in a folder: no separators, not `.` or
/// `..`, not hidden.
pub fn plain_name(n: &str) -> bool {
    !n.is_empty() && !n.starts_with('.') && !n.contains(['/', '\\', '\0'])
}

/// The manifest's JSON, given the run's own description.
pub fn document(
    run: &Value,
    status: Status,
    started: &str,
    end: Option<(&str, f64)>,
    error: Option<&str>,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("neuroc".into(), json!(env!("CARGO_PKG_VERSION")));
    m.insert("status".into(), json!(status.as_str()));
    m.insert("pid".into(), json!(std::process::id()));
    m.insert("started".into(), json!(started));
    m.insert("finished".into(), end.map_or(Value::Null, |(f, _)| json!(f)));
    m.insert("t_reached_ms".into(), end.map_or(Value::Null, |(_, t)| json!(t)));
    m.insert("error".into(), error.map_or(Value::Null, |e| json!(e)));
    m.insert("run".into(), run.clone());
    m
}

/// The current time in UTC as `YYYY-MM-DDThh:mm:ssZ`.
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    utc(secs)
}

/// Seconds since 1970 in UTC as `YYYY-MM-DDThh:mm:ssZ` (the civil calendar
/// from a day count, as in Hinnant's `civil_from_days`).
pub fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_dates() {
        assert_eq!(super::utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::utc(1_796_400_000 + 3661), "2026-12-04T17:01:01Z");
    }

    #[test]
    fn names_stay_in_the_folder() {
        for bad in ["", "..", "../x", "a/b", ".hidden", "/etc/passwd"] {
            assert!(!super::plain_name(bad), "{bad}");
        }
        assert!(super::plain_name("V.csv"));
    }
}
