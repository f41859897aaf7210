//! `get_current_time` and `parse_relative_time`: timestamps for System Log queries.
//!
//! Everything is computed in UTC from an explicit `now`; the machine's time zone (`TZ`) is never
//! consulted, so "yesterday" is the same instant on a laptop in Los Angeles and a pod in UTC.
//! (The original appended `Z` to local time, which was wrong everywhere but UTC.) Day words
//! ("today", "yesterday", "last monday") mean 00:00 UTC of that day.

use chrono::{
    DateTime, Datelike, Days, Months, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat,
    TimeDelta, Utc, Weekday,
};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::args::{lenient_number, required};
use super::output::{ToolFailure, ToolResult, success};
use crate::server::OktaToolServer;

/// The forms `parse_relative_time` understands, for error messages and the tool description.
pub const ACCEPTED_TIME_FORMS: &str = "now, today, yesterday, tomorrow (00:00 UTC), \
\"2 hours ago\", \"30 minutes ago\", \"3 weeks ago\", \"2h ago\", \"in 3 days\", \
\"5 days from now\", \"last 24 hours\", \"last monday\", \"next friday\", \"2026-01-05\", \
\"2026-01-05 10:00\", \"2026-01-05T10:00:00Z\", \"2026-01-05T10:00:00+02:00\" \
(UTC unless an offset is given)";

/// A time expression that could not be turned into an instant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelativeTimeError {
    /// Not one of the accepted forms.
    #[error("cannot read {0:?} as a time; accepted forms: {ACCEPTED_TIME_FORMS}")]
    Unknown(String),
    /// A valid form whose result is outside the representable dates.
    #[error("{0:?} is outside the supported range of dates")]
    OutOfRange(String),
}

/// Formats an instant as ISO 8601 UTC with `Z`, to the second: `2026-01-05T10:00:00Z`.
pub fn format_utc(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Turns `expr` into an instant, relative to `now`. Pure: no clock, no time zone.
pub fn parse_relative_time(
    expr: &str,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, RelativeTimeError> {
    let trimmed = expr.trim();
    if let Some(time) = parse_absolute(trimmed) {
        return Ok(time);
    }
    let unknown = || RelativeTimeError::Unknown(trimmed.to_string());
    let out_of_range = || RelativeTimeError::OutOfRange(trimmed.to_string());
    let lower = trimmed.to_ascii_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    let midnight = now.date_naive().and_time(NaiveTime::MIN).and_utc();
    let shift_days = |days: i64| {
        let magnitude = Days::new(days.unsigned_abs());
        if days < 0 {
            midnight.checked_sub_days(magnitude)
        } else {
            midnight.checked_add_days(magnitude)
        }
        .ok_or_else(out_of_range)
    };
    let today = i64::from(now.weekday().num_days_from_monday());
    let shift = |amount: &str, unit_word: &str, direction: i64| {
        let (Some(amount), Some(unit)) = (parse_amount(amount), unit(unit_word)) else {
            return Err(unknown());
        };
        apply(now, amount, unit, direction).ok_or_else(out_of_range)
    };
    let shift_compact = |compact: &str, direction: i64| {
        let (amount, unit_word) = split_compact(compact).ok_or_else(unknown)?;
        shift(amount, unit_word, direction)
    };
    match words.as_slice() {
        ["now"] | ["right", "now"] => Ok(now),
        ["today"] => Ok(midnight),
        ["yesterday"] => shift_days(-1),
        ["tomorrow"] => shift_days(1),
        ["last", day] if weekday(day).is_some() => {
            let target = weekday(day).map_or(0, |d| i64::from(d.num_days_from_monday()));
            let back = (today - target).rem_euclid(7);
            shift_days(-if back == 0 { 7 } else { back })
        }
        ["next", day] if weekday(day).is_some() => {
            let target = weekday(day).map_or(0, |d| i64::from(d.num_days_from_monday()));
            let ahead = (target - today).rem_euclid(7);
            shift_days(if ahead == 0 { 7 } else { ahead })
        }
        [amount, unit, "ago"] | ["last" | "past", amount, unit] => shift(amount, unit, -1),
        ["in", amount, unit] | [amount, unit, "from", "now"] => shift(amount, unit, 1),
        [compact, "ago"] => shift_compact(compact, -1),
        ["in", compact] => shift_compact(compact, 1),
        ["last" | "past", unit] => shift("1", unit, -1),
        _ => Err(unknown()),
    }
}

/// Moves `now` by `amount` `unit`s in `direction` (±1); `None` on overflow.
fn apply(now: DateTime<Utc>, amount: u64, unit: Unit, direction: i64) -> Option<DateTime<Utc>> {
    match unit {
        Unit::Seconds(factor) => {
            let seconds = i64::try_from(amount).ok()?.checked_mul(factor)?;
            now.checked_add_signed(TimeDelta::try_seconds(seconds.checked_mul(direction)?)?)
        }
        Unit::Months(factor) => {
            let months = Months::new(u32::try_from(amount).ok()?.checked_mul(factor)?);
            if direction < 0 {
                now.checked_sub_months(months)
            } else {
                now.checked_add_months(months)
            }
        }
    }
}

enum Unit {
    Seconds(i64),
    Months(u32),
}

fn unit(word: &str) -> Option<Unit> {
    Some(match word {
        "s" | "sec" | "secs" | "second" | "seconds" => Unit::Seconds(1),
        "m" | "min" | "mins" | "minute" | "minutes" => Unit::Seconds(60),
        "h" | "hr" | "hrs" | "hour" | "hours" => Unit::Seconds(3_600),
        "d" | "day" | "days" => Unit::Seconds(86_400),
        "w" | "wk" | "wks" | "week" | "weeks" => Unit::Seconds(604_800),
        "mo" | "mon" | "month" | "months" => Unit::Months(1),
        "y" | "yr" | "yrs" | "year" | "years" => Unit::Months(12),
        _ => return None,
    })
}

fn parse_amount(word: &str) -> Option<u64> {
    match word {
        "a" | "an" | "one" => Some(1),
        digits if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            digits.parse().ok()
        }
        _ => None,
    }
}

/// `"2h"` → `("2", "h")`.
fn split_compact(word: &str) -> Option<(&str, &str)> {
    let split = word.find(|c: char| !c.is_ascii_digit())?;
    (split > 0).then(|| word.split_at(split))
}

fn weekday(word: &str) -> Option<Weekday> {
    Some(match word {
        "mon" | "monday" => Weekday::Mon,
        "tue" | "tues" | "tuesday" => Weekday::Tue,
        "wed" | "wednesday" => Weekday::Wed,
        "thu" | "thur" | "thurs" | "thursday" => Weekday::Thu,
        "fri" | "friday" => Weekday::Fri,
        "sat" | "saturday" => Weekday::Sat,
        "sun" | "sunday" => Weekday::Sun,
        _ => return None,
    })
}

/// ISO 8601 / RFC 3339 forms, a bare date (00:00 UTC), and Unix seconds or milliseconds.
fn parse_absolute(text: &str) -> Option<DateTime<Utc>> {
    let upper = text.to_ascii_uppercase();
    if let Ok(time) = DateTime::parse_from_rfc3339(&upper) {
        return Some(time.to_utc());
    }
    const WITH_OFFSET: [&str; 4] = [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%d %H:%M%:z",
    ];
    for format in WITH_OFFSET {
        if let Ok(time) = DateTime::parse_from_str(&upper, format) {
            return Some(time.to_utc());
        }
    }
    let naive = upper
        .strip_suffix(" UTC")
        .or_else(|| upper.strip_suffix('Z'))
        .unwrap_or(&upper)
        .trim_end();
    const NAIVE: [&str; 4] = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ];
    for format in NAIVE {
        if let Ok(time) = NaiveDateTime::parse_from_str(naive, format) {
            return Some(time.and_utc());
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(naive, "%Y-%m-%d") {
        return Some(date.and_time(NaiveTime::MIN).and_utc());
    }
    if naive.len() >= 9 && naive.bytes().all(|b| b.is_ascii_digit()) {
        let number: i64 = naive.parse().ok()?;
        return if naive.len() >= 13 {
            DateTime::from_timestamp_millis(number)
        } else {
            DateTime::from_timestamp(number, 0)
        };
    }
    None
}

/// Arguments of `get_current_time`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default)]
pub struct GetCurrentTimeArgs {
    /// Hours to add to the current time (negative to subtract), e.g. `-24` for this time
    /// yesterday. Default 0.
    #[serde(deserialize_with = "lenient_number")]
    pub buffer_hours: Option<f64>,
}

/// Arguments of `parse_relative_time`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ParseRelativeTimeArgs {
    /// The expression to convert, e.g. `2 hours ago`, `yesterday`, `last monday`,
    /// `in 3 days`, `2026-01-05 10:00`. Times without an offset are UTC.
    #[schemars(required)]
    pub time_expression: Option<String>,
}

/// Largest `buffer_hours`: ten years either way.
const MAX_BUFFER_HOURS: f64 = 87_600.0;

#[tool_router(router = time_tools, vis = "pub(crate)")]
impl OktaToolServer {
    #[tool(
        name = "get_current_time",
        description = "Current date and time in UTC as ISO 8601 with Z (e.g. 2026-01-05T10:00:00Z), \
                       optionally shifted by buffer_hours. Use it to build since/until for \
                       get_okta_event_logs.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub(crate) async fn get_current_time(
        &self,
        Parameters(args): Parameters<GetCurrentTimeArgs>,
    ) -> ToolResult {
        let hours = args.buffer_hours.unwrap_or(0.0);
        if !(-MAX_BUFFER_HOURS..=MAX_BUFFER_HOURS).contains(&hours) {
            return Err(ToolFailure::invalid(format!(
                "buffer_hours must be between -{MAX_BUFFER_HOURS} and {MAX_BUFFER_HOURS} (got {hours})"
            )));
        }
        let shift = TimeDelta::try_seconds((hours * 3600.0).round() as i64).unwrap_or_default();
        let time = format_utc(Utc::now() + shift);
        Ok(success(
            json!({ "time": time, "buffer_hours": hours }),
            time.clone(),
        ))
    }

    #[tool(
        name = "parse_relative_time",
        description = "Convert a natural-language or ISO time expression to ISO 8601 UTC with Z, \
                       e.g. '2 hours ago', 'yesterday', 'last monday', 'in 3 days', \
                       '2026-01-05 10:00'. Day words mean 00:00 UTC of that day. Use the result \
                       as since/until for get_okta_event_logs.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub(crate) async fn parse_relative_time(
        &self,
        Parameters(args): Parameters<ParseRelativeTimeArgs>,
    ) -> ToolResult {
        let expr = required(
            "time_expression",
            &args.time_expression,
            &format!("pass one of: {ACCEPTED_TIME_FORMS}"),
        )?;
        let time = parse_relative_time(expr, Utc::now())
            .map_err(|e| ToolFailure::invalid(e.to_string()))?;
        let time = format_utc(time);
        Ok(success(
            json!({ "time": time, "time_expression": expr }),
            format!("{expr} = {time}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn parse(expr: &str, now: &str) -> String {
        format_utc(parse_relative_time(expr, at(now)).unwrap())
    }

    // 2026-01-05 is a Monday.
    const MONDAY_NOON: &str = "2026-01-05T12:34:56Z";

    #[test]
    fn relative_amounts() {
        let n = MONDAY_NOON;
        assert_eq!(parse("now", n), "2026-01-05T12:34:56Z");
        assert_eq!(parse("2 hours ago", n), "2026-01-05T10:34:56Z");
        assert_eq!(parse("30 minutes ago", n), "2026-01-05T12:04:56Z");
        assert_eq!(parse("3 weeks ago", n), "2025-12-15T12:34:56Z");
        assert_eq!(parse("in 3 days", n), "2026-01-08T12:34:56Z");
        assert_eq!(parse("5 days from now", n), "2026-01-10T12:34:56Z");
        assert_eq!(parse("an hour ago", n), "2026-01-05T11:34:56Z");
        assert_eq!(parse("2h ago", n), "2026-01-05T10:34:56Z");
        assert_eq!(parse("in 90s", n), "2026-01-05T12:36:26Z");
        assert_eq!(parse("1 month ago", n), "2025-12-05T12:34:56Z");
        assert_eq!(parse("2 years ago", n), "2024-01-05T12:34:56Z");
        assert_eq!(parse("last 24 hours", n), "2026-01-04T12:34:56Z");
        assert_eq!(parse("past week", n), "2025-12-29T12:34:56Z");
        assert_eq!(parse("  2   Hours   AGO ", n), "2026-01-05T10:34:56Z");
    }

    #[test]
    fn day_words_are_midnight_utc() {
        let n = MONDAY_NOON;
        assert_eq!(parse("today", n), "2026-01-05T00:00:00Z");
        assert_eq!(parse("yesterday", n), "2026-01-04T00:00:00Z");
        assert_eq!(parse("tomorrow", n), "2026-01-06T00:00:00Z");
        assert_eq!(parse("last friday", n), "2026-01-02T00:00:00Z");
        assert_eq!(parse("next friday", n), "2026-01-09T00:00:00Z");
        assert_eq!(parse("next tue", n), "2026-01-06T00:00:00Z");
        assert_eq!(parse("last sunday", n), "2026-01-04T00:00:00Z");
    }

    #[test]
    fn last_and_next_weekday_on_that_weekday_mean_a_week_away() {
        assert_eq!(parse("last monday", MONDAY_NOON), "2025-12-29T00:00:00Z");
        assert_eq!(parse("next monday", MONDAY_NOON), "2026-01-12T00:00:00Z");
    }

    #[test]
    fn utc_not_the_machines_zone() {
        // 03:00 UTC on Tuesday 6 January is still Monday evening in Los Angeles; the answers
        // are by the UTC day all the same.
        let n = "2026-01-06T03:00:00Z";
        assert_eq!(parse("today", n), "2026-01-06T00:00:00Z");
        assert_eq!(parse("yesterday", n), "2026-01-05T00:00:00Z");
        assert_eq!(parse("last monday", n), "2026-01-05T00:00:00Z");
        assert_eq!(parse("2026-01-05 10:00", n), "2026-01-05T10:00:00Z");
        // An explicit offset is converted, not ignored.
        assert_eq!(
            parse("2026-01-05T10:00:00-08:00", n),
            "2026-01-05T18:00:00Z"
        );
    }

    #[test]
    fn absolute_forms() {
        let n = MONDAY_NOON;
        assert_eq!(parse("2026-01-05", n), "2026-01-05T00:00:00Z");
        assert_eq!(parse("2026-01-05T10:00:00Z", n), "2026-01-05T10:00:00Z");
        assert_eq!(parse("2026-01-05t10:00:00z", n), "2026-01-05T10:00:00Z");
        assert_eq!(parse("2026-01-05T10:00:00.123Z", n), "2026-01-05T10:00:00Z");
        assert_eq!(parse("2026-01-05T10:00:00", n), "2026-01-05T10:00:00Z");
        assert_eq!(parse("2026-01-05 10:00", n), "2026-01-05T10:00:00Z");
        assert_eq!(parse("2026-01-05 10:00:30 UTC", n), "2026-01-05T10:00:30Z");
        assert_eq!(parse("2026-01-05T10:00Z", n), "2026-01-05T10:00:00Z");
        assert_eq!(parse("2026-01-05 12:00+02:00", n), "2026-01-05T10:00:00Z");
        assert_eq!(parse("1767607200", n), "2026-01-05T10:00:00Z");
        assert_eq!(parse("1767607200000", n), "2026-01-05T10:00:00Z");
    }

    #[test]
    fn unknown_expressions_list_the_accepted_forms() {
        for bad in [
            "",
            "soon",
            "3 dayz ago",
            "last blursday",
            "2026-13-45",
            "in",
            "ago",
        ] {
            let err = parse_relative_time(bad, at(MONDAY_NOON)).unwrap_err();
            assert!(
                matches!(err, RelativeTimeError::Unknown(_)),
                "{bad:?}: {err:?}"
            );
            assert!(err.to_string().contains("2 hours ago"), "{bad:?}");
        }
        let err = parse_relative_time("99999999999 years ago", at(MONDAY_NOON)).unwrap_err();
        assert!(matches!(err, RelativeTimeError::OutOfRange(_)), "{err:?}");
        let err = parse_relative_time("999999999999999 seconds ago", at(MONDAY_NOON)).unwrap_err();
        assert!(matches!(err, RelativeTimeError::OutOfRange(_)), "{err:?}");
    }
}
