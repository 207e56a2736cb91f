//! Clock helpers and the timestamp formats Entra and Graph print.

use time::OffsetDateTime;
use time::macros::format_description;

/// Seconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// `now + secs`, saturating (lifetimes come from configuration, times from tokens).
pub(crate) fn after(now: i64, secs: u64) -> i64 {
    now.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// `2017-05-01 22:43:20Z`, as in Entra error bodies.
pub(crate) fn entra_timestamp() -> String {
    OffsetDateTime::now_utc()
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second]Z"
        ))
        .unwrap_or_default()
}

/// `2026-11-25T06:00:00`, as in Graph's `innerError.date`.
pub(crate) fn graph_date() -> String {
    OffsetDateTime::now_utc()
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]"
        ))
        .unwrap_or_default()
}
