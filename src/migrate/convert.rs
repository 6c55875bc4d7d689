//! Converting one SQLite value to a typed PostgreSQL value, exactly or not at all.
//! A value that cannot be held exactly is a [`Problem`] (the caller quarantines it);
//! JSON text that isn't JSON is kept as a JSON string of the original and noted.

use std::borrow::Cow;

use rusqlite::types::ValueRef;

use super::json::check_json;

/// The PostgreSQL types a dashboard column can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Int8,
    Float8,
    Bool,
    Text,
    Timestamptz,
    Jsonb,
    /// Exact decimals (integers too large for a double beside reals).
    Numeric,
    Bytea,
}

impl Kind {
    pub fn sql(self) -> &'static str {
        match self {
            Kind::Int8 => "bigint",
            Kind::Float8 => "double precision",
            Kind::Bool => "boolean",
            Kind::Text => "text",
            Kind::Timestamptz => "timestamp with time zone",
            Kind::Jsonb => "jsonb",
            Kind::Numeric => "numeric",
            Kind::Bytea => "bytea",
        }
    }

    /// From PostgreSQL's `format_type` name.
    pub fn from_sql(name: &str) -> Option<Kind> {
        Some(match name {
            "bigint" | "integer" | "smallint" => Kind::Int8,
            "double precision" => Kind::Float8,
            "boolean" => Kind::Bool,
            "text" => Kind::Text,
            "timestamp with time zone" => Kind::Timestamptz,
            "jsonb" => Kind::Jsonb,
            "numeric" => Kind::Numeric,
            "bytea" => Kind::Bytea,
            _ => return None,
        })
    }
}

/// A converted value, ready for binary COPY and for hashing. Text borrows the source
/// row's bytes when they are already what PostgreSQL receives (no copy per cell).
#[derive(Debug, Clone, PartialEq)]
pub enum Out<'a> {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(Cow<'a, str>),
    /// Microseconds since 2000-01-01 00:00:00 UTC.
    Ts(i64),
    Json(String),
    /// An exact decimal: optional '-', digits, and a power of ten (`digits × 10^exp`).
    Dec(String, i64),
    Bytes(Vec<u8>),
}

/// Why a value cannot be held exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem(pub String);

/// A remark on a value that was kept (reported, not quarantined).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    /// JSON column holding text that is not JSON: kept as a JSON string of that text.
    JsonKeptAsString,
}

/// Seconds between 1970-01-01 and 2000-01-01.
const PG_EPOCH_OFFSET_S: i64 = 946_684_800;
/// PostgreSQL's timestamptz range: 4713 BC .. 294276 AD; we accept years 1..=9999.
const MIN_MICROS: i64 = -63_082_281_600_000_000; // 0001-01-01 in PG micros
const MAX_MICROS: i64 = 252_455_615_999_999_999; // 9999-12-31 23:59:59.999999

/// Like [`convert`], for a column that inference widened: numbers are also accepted as
/// their exact text (a REAL as its shortest round-trip form).
pub fn convert_widened(kind: Kind, v: ValueRef<'_>) -> Result<(Out<'_>, Option<Note>), Problem> {
    match (kind, v) {
        (Kind::Text, ValueRef::Real(f)) => Ok((Out::Text(format!("{f:?}").into()), None)),
        (Kind::Bytea, ValueRef::Integer(i)) => Ok((Out::Bytes(i.to_string().into_bytes()), None)),
        (Kind::Bytea, ValueRef::Real(f)) => Ok((Out::Bytes(format!("{f:?}").into_bytes()), None)),
        _ => convert(kind, v),
    }
}

/// A value of a timestamp column whose integers are epoch milliseconds.
pub fn convert_epoch_ms(v: ValueRef<'_>) -> Result<(Out<'_>, Option<Note>), Problem> {
    match v {
        ValueRef::Integer(ms) => epoch_micros(ms as i128 * 1_000).map(|t| (Out::Ts(t), None)),
        _ => convert(Kind::Timestamptz, v),
    }
}

/// The exact decimal value of a double (every finite double is a finite decimal).
pub fn exact_decimal(f: f64) -> Result<Out<'static>, Problem> {
    if !f.is_finite() {
        return Err(Problem(format!("{f} has no exact decimal value")));
    }
    let s = format!("{:.1100}", f.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let frac = frac.trim_end_matches('0');
    let (neg, digits, exp) =
        super::numeric::normalize_decimal(f < 0.0, int.as_bytes(), frac.as_bytes(), 0);
    Ok(Out::Dec(
        format!("{}{}", if neg { "-" } else { "" }, digits),
        exp,
    ))
}

pub fn convert(kind: Kind, v: ValueRef<'_>) -> Result<(Out<'_>, Option<Note>), Problem> {
    if let ValueRef::Null = v {
        return Ok((Out::Null, None));
    }
    match kind {
        Kind::Numeric => to_numeric(v),
        Kind::Bytea => match v {
            ValueRef::Blob(b) | ValueRef::Text(b) => plain(Out::Bytes(b.to_vec())),
            ValueRef::Integer(_) | ValueRef::Real(_) => {
                Err(Problem("a number where bytes were expected".into()))
            }
            ValueRef::Null => unreachable!(),
        },
        Kind::Text => match v {
            ValueRef::Text(b) => plain(Out::Text(text(b)?.into())),
            ValueRef::Integer(i) => plain(Out::Text(i.to_string().into())),
            ValueRef::Real(_) => Err(Problem("a REAL where text was expected".into())),
            ValueRef::Blob(_) => Err(Problem("a BLOB where text was expected".into())),
            ValueRef::Null => unreachable!(),
        },
        Kind::Int8 => match v {
            ValueRef::Integer(i) => plain(Out::Int(i)),
            ValueRef::Real(f) if f.fract() == 0.0 && (-9.2e18..9.2e18).contains(&f) => {
                plain(Out::Int(f as i64))
            }
            ValueRef::Real(f) => Err(Problem(format!("{f} is not an integer"))),
            ValueRef::Text(b) => Err(Problem(format!("text {} is not an integer", shown(b)))),
            ValueRef::Blob(_) => Err(Problem("a BLOB where an integer was expected".into())),
            ValueRef::Null => unreachable!(),
        },
        Kind::Float8 => match v {
            ValueRef::Real(f) => plain(Out::Float(f)),
            ValueRef::Integer(i) if i.unsigned_abs() <= 1 << 53 => plain(Out::Float(i as f64)),
            ValueRef::Integer(i) => Err(Problem(format!("{i} is not exact as a double"))),
            ValueRef::Text(b) => Err(Problem(format!("text {} is not a number", shown(b)))),
            ValueRef::Blob(_) => Err(Problem("a BLOB where a number was expected".into())),
            ValueRef::Null => unreachable!(),
        },
        Kind::Bool => match v {
            ValueRef::Integer(0) => plain(Out::Bool(false)),
            ValueRef::Integer(1) => plain(Out::Bool(true)),
            ValueRef::Integer(i) => Err(Problem(format!("{i} is not a boolean (0 or 1)"))),
            ValueRef::Real(f) => Err(Problem(format!("{f} is not a boolean (0 or 1)"))),
            ValueRef::Text(b) => match std::str::from_utf8(b).ok().and_then(text_bool) {
                Some(v) => plain(Out::Bool(v)),
                None => Err(Problem(format!(
                    "text {} is not a boolean (true/false, t/f, yes/no, 1/0)",
                    shown(b)
                ))),
            },
            ValueRef::Blob(_) => Err(Problem("a BLOB where a boolean was expected".into())),
            ValueRef::Null => unreachable!(),
        },
        Kind::Timestamptz => to_timestamp(v),
        Kind::Jsonb => to_json(v),
    }
}

/// A boolean word as SQLite databases store them: `true`/`false`, `t`/`f`, `yes`/`no`,
/// `1`/`0`, in any case (nothing else, not even with spaces around).
pub fn text_bool(t: &str) -> Option<bool> {
    match t.to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "1" => Some(true),
        "false" | "f" | "no" | "0" => Some(false),
        _ => None,
    }
}

/// A number as an exact decimal (a REAL by its exact binary value).
fn to_numeric(v: ValueRef<'_>) -> Result<(Out<'_>, Option<Note>), Problem> {
    match v {
        ValueRef::Integer(i) => {
            let (neg, digits, exp) = super::numeric::normalize_decimal(
                i < 0,
                i.unsigned_abs().to_string().as_bytes(),
                b"",
                0,
            );
            plain(Out::Dec(
                format!("{}{}", if neg { "-" } else { "" }, digits),
                exp,
            ))
        }
        ValueRef::Real(f) => exact_decimal(f).map(|o| (o, None)),
        ValueRef::Text(b) => Err(Problem(format!("text {} is not a number", shown(b)))),
        ValueRef::Blob(_) => Err(Problem("a BLOB where a number was expected".into())),
        ValueRef::Null => unreachable!(),
    }
}

/// Text in any accepted timestamp form, or epoch seconds (integer or exact REAL).
fn to_timestamp(v: ValueRef<'_>) -> Result<(Out<'_>, Option<Note>), Problem> {
    match v {
        ValueRef::Text(b) => {
            let s = text(b)?;
            parse_timestamp(s).map(|t| (Out::Ts(t), None))
        }
        ValueRef::Integer(secs) => {
            epoch_micros(secs as i128 * 1_000_000).map(|t| (Out::Ts(t), None))
        }
        ValueRef::Real(f) => {
            let micros = (f * 1e6).round();
            if !micros.is_finite() || micros / 1e6 != f {
                return Err(Problem(format!(
                    "epoch {f} is not exact to the microsecond"
                )));
            }
            epoch_micros(micros as i128).map(|t| (Out::Ts(t), None))
        }
        ValueRef::Blob(_) => Err(Problem("a BLOB where a timestamp was expected".into())),
        ValueRef::Null => unreachable!(),
    }
}

/// Text that is JSON as it is, other text kept as a JSON string (and noted), numbers as JSON numbers.
fn to_json(v: ValueRef<'_>) -> Result<(Out<'_>, Option<Note>), Problem> {
    match v {
        ValueRef::Text(b) => {
            let s = text(b)?;
            match check_json(s) {
                Ok(()) => plain(Out::Json(s.to_string())),
                Err(_) => Ok((
                    Out::Json(serde_json::to_string(s).expect("a string serializes")),
                    Some(Note::JsonKeptAsString),
                )),
            }
        }
        ValueRef::Integer(i) => plain(Out::Json(i.to_string())),
        ValueRef::Real(f) if f.is_finite() => plain(Out::Json(format!("{f:?}"))),
        ValueRef::Real(f) => Err(Problem(format!("{f} has no JSON form"))),
        ValueRef::Blob(_) => Err(Problem("a BLOB where JSON was expected".into())),
        ValueRef::Null => unreachable!(),
    }
}

/// A converted value with nothing to note.
fn plain(o: Out<'_>) -> Result<(Out<'_>, Option<Note>), Problem> {
    Ok((o, None))
}

/// SQLite text as a PostgreSQL text value: valid UTF-8 without NUL, or a problem.
fn text(b: &[u8]) -> Result<&str, Problem> {
    let s = std::str::from_utf8(b)
        .map_err(|e| Problem(format!("not valid UTF-8 (byte {})", e.valid_up_to())))?;
    if s.contains('\0') {
        return Err(Problem(
            "contains a NUL character, which PostgreSQL text cannot hold".into(),
        ));
    }
    Ok(s)
}

fn shown(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let cut: String = s.chars().take(40).collect();
    format!("{cut:?}")
}

fn epoch_micros(unix_micros: i128) -> Result<i64, Problem> {
    let pg = unix_micros - PG_EPOCH_OFFSET_S as i128 * 1_000_000;
    if pg < MIN_MICROS as i128 || pg > MAX_MICROS as i128 {
        return Err(Problem("timestamp out of range (years 1 to 9999)".into()));
    }
    Ok(pg as i64)
}

/// ISO 8601 / SQLite date text → microseconds since 2000-01-01 UTC. Accepts
/// `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS[.ffffff]]` with a space or `T`, and an optional
/// `Z` or `±HH:MM`/`±HHMM` offset; text without an offset is UTC (SQLite's
/// CURRENT_TIMESTAMP is UTC). More than microsecond precision is refused, not rounded.
pub fn parse_timestamp(s: &str) -> Result<i64, Problem> {
    let bad = || Problem(format!("{s:?} is not a timestamp"));
    let b = s.trim().as_bytes();
    let num = |from: usize, len: usize| -> Result<u32, Problem> {
        let part = b.get(from..from + len).ok_or_else(bad)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        Ok(part.iter().fold(0u32, |n, d| n * 10 + (d - b'0') as u32))
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let date = chrono::NaiveDate::from_ymd_opt(y as i32, mo, d).ok_or_else(bad)?;
    let (mut h, mut mi, mut sec, mut micros) = (0, 0, 0, 0u32);
    let mut i = 10;
    if i < b.len() && (b[i] == b' ' || b[i] == b'T') {
        h = num(i + 1, 2)?;
        if b.get(i + 3) != Some(&b':') {
            return Err(bad());
        }
        mi = num(i + 4, 2)?;
        i += 6;
        if b.get(i) == Some(&b':') {
            sec = num(i + 1, 2)?;
            i += 3;
            if b.get(i) == Some(&b'.') {
                let start = i + 1;
                let mut end = start;
                while end < b.len() && b[end].is_ascii_digit() {
                    end += 1;
                }
                let digits = &b[start..end];
                if digits.is_empty() {
                    return Err(bad());
                }
                let significant = digits.iter().rposition(|d| *d != b'0').map_or(0, |p| p + 1);
                if significant > 6 {
                    return Err(Problem(format!(
                        "{s:?} has more than microsecond precision"
                    )));
                }
                for k in 0..6 {
                    micros = micros * 10 + digits.get(k).map_or(0, |d| (d - b'0') as u32);
                }
                i = end;
            }
        }
    }
    let mut offset_s: i64 = 0;
    match b.get(i) {
        None => {}
        Some(b'Z' | b'z') if i + 1 == b.len() => {}
        Some(sign @ (b'+' | b'-')) => {
            let oh = num(i + 1, 2)?;
            let om = match b.get(i + 3) {
                Some(b':') => num(i + 4, 2)?,
                Some(_) => num(i + 3, 2)?,
                None => 0,
            };
            let used = match b.get(i + 3) {
                Some(b':') => 6,
                Some(_) => 5,
                None => 3,
            };
            if i + used != b.len() || oh > 23 || om > 59 {
                return Err(bad());
            }
            offset_s = (oh * 3600 + om * 60) as i64 * if *sign == b'+' { 1 } else { -1 };
        }
        _ => return Err(bad()),
    }
    let time = chrono::NaiveTime::from_hms_micro_opt(h, mi, sec, micros).ok_or_else(bad)?;
    let unix =
        date.and_time(time).and_utc().timestamp_micros() as i128 - offset_s as i128 * 1_000_000;
    epoch_micros(unix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> i64 {
        parse_timestamp(s).unwrap()
    }

    #[test]
    fn timestamps() {
        let base = ts("2024-01-02 03:04:05");
        assert_eq!(base, ts("2024-01-02T03:04:05Z"));
        assert_eq!(base, ts("2024-01-02T04:04:05+01:00"));
        assert_eq!(base, ts("2024-01-02T02:04:05-0100"));
        assert_eq!(base + 500_000, ts("2024-01-02 03:04:05.5"));
        assert_eq!(base + 123_456, ts("2024-01-02 03:04:05.123456000"));
        assert_eq!(ts("2000-01-01"), 0);
        assert_eq!(ts("2000-01-01 00:01"), 60_000_000);
        for bad in [
            "",
            "yesterday",
            "2024-13-01",
            "2024-02-30 00:00:00",
            "2024-01-02 25:00:00",
            "2024-01-02 03:04:05.1234567",
            "2024-01-02 03:04:05 UTC",
            "2024/01/02",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn values() {
        use ValueRef::*;
        assert_eq!(
            convert(Kind::Timestamptz, Integer(946_684_800)).unwrap().0,
            Out::Ts(0)
        );
        assert_eq!(
            convert(Kind::Timestamptz, Real(946_684_800.25)).unwrap().0,
            Out::Ts(250_000)
        );
        assert!(convert(Kind::Timestamptz, Real(946_684_800.1234567)).is_err());
        assert_eq!(
            convert_epoch_ms(Integer(946_684_800_250)).unwrap().0,
            Out::Ts(250_000)
        );
        assert_eq!(convert(Kind::Bool, Integer(1)).unwrap().0, Out::Bool(true));
        assert!(convert(Kind::Bool, Integer(2)).is_err());
        assert_eq!(
            convert(Kind::Bool, Text(b"YES")).unwrap().0,
            Out::Bool(true)
        );
        assert_eq!(convert(Kind::Bool, Text(b"f")).unwrap().0, Out::Bool(false));
        assert!(convert(Kind::Bool, Text(b" true")).is_err());
        assert!(convert(Kind::Float8, Text(b"n/a")).is_err());
        assert_eq!(
            convert(Kind::Float8, Integer(3)).unwrap().0,
            Out::Float(3.0)
        );
        assert!(convert(Kind::Float8, Integer((1 << 53) + 1)).is_err());
        assert!(convert(Kind::Int8, Real(1.5)).is_err());
        assert!(convert(Kind::Text, Text(b"caf\xe9")).is_err());
        assert!(convert(Kind::Text, Text(b"a\0b")).is_err());
        assert!(convert(Kind::Text, Blob(b"x")).is_err());
        let (j, note) = convert(Kind::Jsonb, Text(b"{broken")).unwrap();
        assert_eq!(j, Out::Json("\"{broken\"".into()));
        assert_eq!(note, Some(Note::JsonKeptAsString));
        let (j, note) = convert(Kind::Jsonb, Text(br#"{"a": 1}"#)).unwrap();
        assert_eq!((j, note), (Out::Json(r#"{"a": 1}"#.into()), None));
        assert_eq!(convert(Kind::Jsonb, Null).unwrap().0, Out::Null);
    }
}
