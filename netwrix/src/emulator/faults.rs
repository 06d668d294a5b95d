//! Injected faults: the failures a real server shows (errors, garbage, slowness, dropped
//! connections), on demand, so the client's retry and error paths can be tested.
//!
//! Faults come two ways: queued ([`Emulator::inject`](super::Emulator::inject), or a
//! `--fault` without a schedule), each taken by the next enum or search request; or
//! scheduled for the whole run (`every=N:` or `random=P:`). The `--fault` grammar is
//! [`FAULT_GRAMMAR`], parsed by [`FaultSpec::parse`].

use crate::errorlist::ErrorList;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

/// One failure to inject. Faults are queued; each enum or search request takes the
/// next one (write requests never do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and an empty body.
    Status(u16),
    /// Answer with this status and this ErrorList, in the request's format.
    Errors(u16, ErrorList),
    /// Answer 200 with the page that would have been served, cut off in the middle of an element.
    MalformedBody,
    /// Wait this long, then serve the request normally.
    Delay(Duration),
    /// Send the 200's headers (with the full `Content-Length`) and half the page, then
    /// close the connection.
    Reset,
}

/// When a `--fault` strikes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    /// Queued at start: the next request(s) get it.
    Queued,
    /// Every N-th enum/search request of the run (counted from 1).
    Every(u64),
    /// Each enum/search request with this probability.
    Random(f64),
}

/// A parsed `--fault` option: which fault, how many times in a row, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpec {
    pub fault: Fault,
    /// How many requests in a row get the fault each time it strikes (`xN`, default 1).
    pub times: u32,
    pub schedule: Schedule,
}

/// The `--fault` grammar, for help texts and errors.
pub const FAULT_GRAMMAR: &str = "\
SPEC := [WHEN:]FAULT[xN]   (xN: N requests in a row get it; default 1)
WHEN := every=N            every N-th enum/search request of the run (N >= 2)
      | random=P           each enum/search request with probability P (0 < P <= 1)
        (without WHEN the fault is queued: the next request(s) get it, once)
FAULT := STATUS            that HTTP status with an empty body, e.g. 503, 500, 429
       | STATUS-empty      the same, spelled out (500-empty)
       | 500-error         500 with a ServerError ErrorList (SQL Server cannot be contacted)
       | bad-mark          400 with an InputError ErrorList: the mark is no longer accepted
       | malformed         200 with the page cut off mid-element
       | reset             200 headers and half the page, then the connection is closed
       | delay=DURATION    wait (e.g. 2s, 500ms, 1m), then answer normally
examples: 503x3   every=7:503   every=10:reset   random=0.05:500-error   delay=2s";

/// A `--fault` that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid --fault {spec:?}: {why}\n{FAULT_GRAMMAR}")]
pub struct FaultSpecError {
    pub spec: String,
    pub why: String,
}

/// The description of the `500-error` fault (spec §5's ServerError example).
pub const SERVER_ERROR_TEXT: &str = "0x80040C0A SQL Server cannot be contacted, connection is lost \
(0x80004005 [DBNETLIB][ConnectionOpen (Connect())] SQL Server does not exist or access denied.)";

/// The description of the `bad-mark` fault.
pub const BAD_MARK_TEXT: &str =
    "Invalid continuation mark specified. Error details: the continuation mark is no longer valid";

impl FaultSpec {
    /// Parses one `--fault` value (see [`FAULT_GRAMMAR`]).
    pub fn parse(text: &str) -> Result<FaultSpec, FaultSpecError> {
        let err = |why: &str| FaultSpecError { spec: text.to_string(), why: why.to_string() };
        let spec = text.trim();
        let (schedule, rest) = match spec.split_once(':') {
            Some((when, rest)) => {
                let (key, value) = when.split_once('=').ok_or_else(|| err("WHEN is every=N or random=P"))?;
                let schedule = match key.trim().to_ascii_lowercase().as_str() {
                    "every" => match value.trim().parse::<u64>() {
                        Ok(n) if n >= 2 => Schedule::Every(n),
                        _ => return Err(err("every=N needs a whole number N of at least 2")),
                    },
                    "random" => match value.trim().parse::<f64>() {
                        Ok(p) if p > 0.0 && p <= 1.0 => Schedule::Random(p),
                        _ => return Err(err("random=P needs a probability 0 < P <= 1")),
                    },
                    _ => return Err(err("WHEN is every=N or random=P")),
                };
                (schedule, rest.trim())
            }
            None => (Schedule::Queued, spec),
        };
        let (body, times) = match rest.rsplit_once(['x', 'X']) {
            Some((body, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                let n: u32 = n.parse().map_err(|_| err("xN is too large"))?;
                if n == 0 {
                    return Err(err("x0 would never inject anything"));
                }
                (body, n)
            }
            _ => (rest, 1),
        };
        let lower = body.trim().to_ascii_lowercase();
        let fault = match lower.as_str() {
            "malformed" => Fault::MalformedBody,
            "reset" => Fault::Reset,
            "bad-mark" => Fault::Errors(400, ErrorList::one("InputError", BAD_MARK_TEXT)),
            "500-error" => Fault::Errors(500, ErrorList::one("ServerError", SERVER_ERROR_TEXT)),
            other => {
                if let Some(d) = other.strip_prefix("delay=") {
                    Fault::Delay(parse_duration(d).ok_or_else(|| err("delay=DURATION: e.g. 2s, 500ms, 1m"))?)
                } else {
                    let code = other.strip_suffix("-empty").unwrap_or(other);
                    match code.parse::<u16>() {
                        Ok(c) if (100..=599).contains(&c) => Fault::Status(c),
                        _ => return Err(err("unknown FAULT")),
                    }
                }
            }
        };
        Ok(FaultSpec { fault, times, schedule })
    }
}

/// `500ms`, `2s`, `1m`, or a bare number of seconds.
fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: f64 = number.parse().ok()?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" | "min" => n * 60.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(secs).ok()
}

/// The queue of faults waiting for a request, and the schedules that add to it.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    queue: Mutex<VecDeque<Fault>>,
    schedules: Mutex<Vec<FaultSpec>>,
}

impl FaultQueue {
    pub(crate) fn push(&self, fault: Fault) {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).push_back(fault);
    }

    pub(crate) fn apply(&self, spec: &FaultSpec) {
        match spec.schedule {
            Schedule::Queued => {
                for _ in 0..spec.times {
                    self.push(spec.fault.clone());
                }
            }
            _ => self.schedules.lock().unwrap_or_else(|e| e.into_inner()).push(spec.clone()),
        }
    }

    /// The fault for enum/search request number `n` (counted from 1), if any.
    pub(crate) fn take(&self, n: u64) -> Option<Fault> {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(fault) = queue.pop_front() {
            return Some(fault);
        }
        let schedules = self.schedules.lock().unwrap_or_else(|e| e.into_inner());
        let spec = schedules.iter().find(|s| match s.schedule {
            Schedule::Every(every) => n.is_multiple_of(every),
            Schedule::Random(p) => rand::random::<f64>() < p,
            Schedule::Queued => false,
        })?;
        for _ in 1..spec.times {
            queue.push_back(spec.fault.clone());
        }
        Some(spec.fault.clone())
    }
}

/// Cuts an encoded page inside an element: a few bytes after the last `<` (XML) or
/// inside the last string (JSON) before the middle of the body, so no decoder can accept it.
pub(crate) fn truncate_mid_element(body: &mut Vec<u8>) {
    let half = body.len() / 2;
    let cut = body[..half]
        .iter()
        .rposition(|&b| b == b'<' || b == b'"')
        .map(|i| (i + 3).min(body.len().saturating_sub(1)))
        .unwrap_or(half);
    let mut cut = cut.max(1).min(body.len().saturating_sub(1));
    // Stay on a character boundary: the body is still valid UTF-8, only incomplete.
    while cut > 0 && (body[cut] & 0xC0) == 0x80 {
        cut -= 1;
    }
    body.truncate(cut);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_cuts_inside_a_tag() {
        let mut b =
            b"<?xml version=\"1.0\"?><List><ContinuationMark>abc</ContinuationMark><R><Who>\xc3\xbc</Who></R></List>"
                .to_vec();
        let len = b.len();
        truncate_mid_element(&mut b);
        assert!(b.len() < len && !b.is_empty());
        assert!(std::str::from_utf8(&b).is_ok());
        let q = FaultQueue::default();
        q.push(Fault::Status(503));
        q.push(Fault::MalformedBody);
        assert_eq!(q.take(1), Some(Fault::Status(503)));
        assert_eq!(q.take(2), Some(Fault::MalformedBody));
        assert_eq!(q.take(3), None);
    }

    #[test]
    fn the_fault_grammar() {
        let p = |s: &str| FaultSpec::parse(s).unwrap();
        assert_eq!(p("503x3"), FaultSpec { fault: Fault::Status(503), times: 3, schedule: Schedule::Queued });
        assert_eq!(p("500-empty").fault, Fault::Status(500));
        assert_eq!(p("delay=2s").fault, Fault::Delay(Duration::from_secs(2)));
        assert_eq!(p("delay=250ms").fault, Fault::Delay(Duration::from_millis(250)));
        assert_eq!(p("malformed").fault, Fault::MalformedBody);
        assert_eq!(p("RESET").fault, Fault::Reset);
        assert_eq!(p("every=7:503").schedule, Schedule::Every(7));
        assert_eq!(p("random=0.5:500-error").schedule, Schedule::Random(0.5));
        assert!(matches!(p("500-error").fault, Fault::Errors(500, _)));
        assert!(matches!(p("bad-mark").fault, Fault::Errors(400, _)));
        assert_eq!(p("every=10:reset x2").times, 2);
        for bad in
            ["", "teapot", "every=1:503", "every=x:503", "random=2:503", "sometimes=3:503", "503x0", "delay=soon", "99"]
        {
            let e = FaultSpec::parse(bad).unwrap_err();
            assert!(e.to_string().contains("SPEC :="), "{e}");
        }
    }

    #[test]
    fn schedules_strike_on_their_requests_and_bursts_follow() {
        let q = FaultQueue::default();
        q.apply(&FaultSpec::parse("every=3:503x2").unwrap());
        q.apply(&FaultSpec::parse("malformed").unwrap());
        let got: Vec<Option<Fault>> = (1..=7).map(|n| q.take(n)).collect();
        assert_eq!(
            got,
            vec![
                Some(Fault::MalformedBody),
                None,
                Some(Fault::Status(503)),
                Some(Fault::Status(503)),
                None,
                Some(Fault::Status(503)),
                Some(Fault::Status(503)),
            ]
        );
    }
}
