//! A record's `When` as epoch milliseconds (CEF `rt`, LEEF `devTime`, HEC `time`), parsed by hand for
//! the RFC 3339 shapes Netwrix writes and by chrono for anything else: chrono's parser
//! was the largest cost of encoding a record.

use netwrix::ActivityRecord;

/// `When` in epoch milliseconds, exactly `record.when_utc().map(|t| t.timestamp_millis())`
/// (CEF `rt`, LEEF `devTime`, HEC `time`), without chrono for the shape servers send:
/// `YYYY-MM-DDTHH:MM:SS`, up to nine fraction digits, then `Z` or `±HH:MM`. Anything
/// else, and every value the fast parser is not sure of, goes to chrono.
pub(crate) fn when_millis(record: &ActivityRecord) -> Option<i64> {
    rfc3339_millis(record.when.trim().as_bytes()).or_else(|| record.when_utc().map(|t| t.timestamp_millis()))
}

/// The fast parser of [`when_millis`]: `None` means "ask chrono", not "invalid".
fn rfc3339_millis(s: &[u8]) -> Option<i64> {
    let &[y0, y1, y2, y3, b'-', mo0, mo1, b'-', d0, d1, b'T', h0, h1, b':', mi0, mi1, b':', s0, s1, ref rest @ ..] = s
    else {
        return None;
    };
    let digit = |b: u8| {
        let d = b.wrapping_sub(b'0');
        (d < 10).then_some(i64::from(d))
    };
    let two = |a: u8, b: u8| Some(digit(a)? * 10 + digit(b)?);
    let year = two(y0, y1)? * 100 + two(y2, y3)?;
    let (month, day) = (two(mo0, mo1)?, two(d0, d1)?);
    let (hour, minute, second) = (two(h0, h1)?, two(mi0, mi1)?, two(s0, s1)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    // A leap second (60) is chrono's to handle.
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let (mut millis, mut rest) = (0, rest);
    if let [b'.', fraction @ ..] = rest {
        let n = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 || n > 9 {
            return None;
        }
        for i in 0..3 {
            millis = millis * 10 + fraction.get(i).filter(|_| i < n).and_then(|&b| digit(b)).unwrap_or(0);
        }
        rest = &fraction[n..];
    }
    let offset_minutes = match rest {
        [b'Z'] => 0,
        &[sign @ (b'+' | b'-'), oh0, oh1, b':', om0, om1] => {
            let (oh, om) = (two(oh0, oh1)?, two(om0, om1)?);
            if oh > 23 || om > 59 {
                return None;
            }
            if sign == b'+' {
                oh * 60 + om
            } else {
                -(oh * 60 + om)
            }
        }
        _ => return None,
    };
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1000 + millis)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (the well-known
/// era/day-of-era computation: years counted from March so leap days come last).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `when_millis` must equal: chrono's reading of `When`.
    fn chrono_millis(when: &str) -> Option<i64> {
        ActivityRecord { when: when.into(), ..Default::default() }.when_utc().map(|t| t.timestamp_millis())
    }

    #[test]
    fn the_fast_when_parser_agrees_with_chrono_on_edges() {
        for when in [
            "2024-06-01T12:00:00Z",
            "2024-06-01T12:00:00.123Z",
            "2024-06-01T12:00:00.1Z",
            "2024-06-01T12:00:00.123456789+05:30",
            "2024-06-01T12:00:00.1234567891Z",
            "2024-02-29T23:59:59-23:59",
            "2023-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2000-02-29T00:00:00Z",
            "0000-01-01T00:00:00Z",
            "1969-12-31T23:59:59.999Z",
            "9999-12-31T23:59:60Z",
            "2024-06-01t12:00:00z",
            "2024-06-01 12:00:00Z",
            "  2024-06-01T12:00:00Z\n",
            "2024-06-01T12:00:00",
            "2024-06-01T12:00:00.Z",
            "2024-06-01T24:00:00Z",
            "2024-06-01T12:00:00+24:00",
            "2024-13-01T12:00:00Z",
            "yesterday",
            "",
        ] {
            let record = ActivityRecord { when: when.into(), ..Default::default() };
            assert_eq!(when_millis(&record), chrono_millis(when), "{when:?}");
        }
        assert_eq!(rfc3339_millis(b"2024-06-01T12:00:00.123Z"), Some(1_717_243_200_123));
    }

    proptest::proptest! {
        #[test]
        fn the_fast_when_parser_agrees_with_chrono(
            (y, mo, d, h, mi, sec) in (0u32..10_000, 0u32..14, 0u32..33, 0u32..26, 0u32..61, 0u32..62),
            fraction in proptest::option::of("[0-9]{0,11}"),
            zone in "Z|z|[+-][0-2][0-9]:[0-6][0-9]|[+-][0-9]{4}|",
            separator in "[Tt ]",
        ) {
            let fraction = fraction.map(|f| format!(".{f}")).unwrap_or_default();
            let when = format!("{y:04}-{mo:02}-{d:02}{separator}{h:02}:{mi:02}:{sec:02}{fraction}{zone}");
            let record = ActivityRecord { when: when.clone().into(), ..Default::default() };
            proptest::prop_assert_eq!(when_millis(&record), chrono_millis(&when), "{:?}", when);
        }
    }
}
