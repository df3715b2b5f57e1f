//! Per-pod behaviour of the simulated kubelet, chosen by pod annotations (copied from the template).
//!
//! | annotation | value | effect |
//! |---|---|---|
//! | [`START_DELAY_ANNOTATION`] `capstan.dev/start-delay` | duration, e.g. `"2s"` | time from scheduling to Running (default [`DEFAULT_START_DELAY_MS`]) |
//! | [`NEVER_READY_ANNOTATION`] `capstan.dev/never-ready` | `"true"` | containers run but never become ready |
//! | [`FAIL_READINESS_AFTER_ANNOTATION`] `capstan.dev/fail-readiness-after` | duration | readiness fails this long after the container started (it is not restarted, I.61) |
//! | [`CRASH_AFTER_ANNOTATION`] `capstan.dev/crash-after` | duration | the container exits this long after each start and restarts with CrashLoopBackOff (I.62) |
//!
//! Durations are Go-style: a sequence of `<number><unit>` with units `ms`, `s`, `m`, `h` (`"1m30s"`,
//! `"1.5s"`, `"250ms"`). A malformed value is ignored with a warning.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::SignedDuration;

use crate::util::annotation;

/// Annotation: delay from scheduling to Running.
pub const START_DELAY_ANNOTATION: &str = "capstan.dev/start-delay";
/// Annotation: `"true"` keeps the pod from ever becoming Ready.
pub const NEVER_READY_ANNOTATION: &str = "capstan.dev/never-ready";
/// Annotation: readiness fails this long after the container started.
pub const FAIL_READINESS_AFTER_ANNOTATION: &str = "capstan.dev/fail-readiness-after";
/// Annotation: the container crashes this long after each start.
pub const CRASH_AFTER_ANNOTATION: &str = "capstan.dev/crash-after";
/// Default delay from scheduling to Running and Ready, in milliseconds ("Ready within about a second").
pub const DEFAULT_START_DELAY_MS: i64 = 1000;

/// How one simulated pod behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Behaviour {
    /// Delay from scheduling to Running.
    pub start_delay: SignedDuration,
    /// Containers never become ready.
    pub never_ready: bool,
    /// Readiness fails this long after each container start.
    pub fail_readiness_after: Option<SignedDuration>,
    /// The container crashes this long after each start.
    pub crash_after: Option<SignedDuration>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            start_delay: SignedDuration::from_millis(DEFAULT_START_DELAY_MS),
            never_ready: false,
            fail_readiness_after: None,
            crash_after: None,
        }
    }
}

impl Behaviour {
    /// Reads the behaviour from the pod's annotations; `default_start_delay` applies when the pod has
    /// no start-delay annotation.
    pub fn of(pod: &Pod, default_start_delay: SignedDuration) -> Behaviour {
        let dur = |key: &str| {
            let raw = annotation(&pod.metadata, key)?;
            match parse_duration(raw) {
                Some(d) => Some(d),
                None => {
                    tracing::warn!(annotation = key, value = raw, "ignoring malformed duration annotation");
                    None
                }
            }
        };
        Behaviour {
            start_delay: dur(START_DELAY_ANNOTATION).unwrap_or(default_start_delay),
            never_ready: annotation(&pod.metadata, NEVER_READY_ANNOTATION).is_some_and(|v| v.trim() == "true"),
            fail_readiness_after: dur(FAIL_READINESS_AFTER_ANNOTATION),
            crash_after: dur(CRASH_AFTER_ANNOTATION),
        }
    }
}

/// Parses a Go-style non-negative duration (`"2s"`, `"1m30s"`, `"1.5s"`, `"250ms"`, `"0"`).
pub fn parse_duration(text: &str) -> Option<SignedDuration> {
    let s = text.trim();
    if s == "0" {
        return Some(SignedDuration::ZERO);
    }
    let mut rest = s;
    let mut total_ms = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let value: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let (unit_ms, unit_len) = if rest.starts_with("ms") {
            (1.0, 2)
        } else if rest.starts_with('s') {
            (1000.0, 1)
        } else if rest.starts_with('m') {
            (60_000.0, 1)
        } else if rest.starts_with('h') {
            (3_600_000.0, 1)
        } else {
            return None;
        };
        rest = &rest[unit_len..];
        total_ms += value * unit_ms;
    }
    // ok: bounded well inside i64 for any duration a test or demo would use; larger values saturate.
    (total_ms.is_finite() && total_ms < 1e15).then(|| SignedDuration::from_millis(total_ms.round() as i64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::set_annotation;
    use crate::util::testing::pod;

    #[test]
    fn durations_parse_go_style() {
        assert_eq!(parse_duration("2s"), Some(SignedDuration::from_secs(2)));
        assert_eq!(parse_duration("1m30s"), Some(SignedDuration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Some(SignedDuration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Some(SignedDuration::from_millis(250)));
        assert_eq!(parse_duration("1h"), Some(SignedDuration::from_secs(3600)));
        assert_eq!(parse_duration("0"), Some(SignedDuration::ZERO));
        for bad in ["", "s", "2", "2x", "-1s", "1..2s"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn behaviour_comes_from_annotations_with_defaults() {
        let mut p = pod("a", "Pending", None);
        assert_eq!(Behaviour::of(&p, SignedDuration::from_secs(1)), Behaviour::default());
        set_annotation(&mut p.metadata, START_DELAY_ANNOTATION, "3s");
        set_annotation(&mut p.metadata, NEVER_READY_ANNOTATION, "true");
        set_annotation(&mut p.metadata, FAIL_READINESS_AFTER_ANNOTATION, "bogus");
        set_annotation(&mut p.metadata, CRASH_AFTER_ANNOTATION, "20s");
        let b = Behaviour::of(&p, SignedDuration::from_secs(1));
        assert_eq!(b.start_delay, SignedDuration::from_secs(3));
        assert!(b.never_ready);
        assert_eq!(b.fail_readiness_after, None, "malformed values are ignored");
        assert_eq!(b.crash_after, Some(SignedDuration::from_secs(20)));
    }
}
