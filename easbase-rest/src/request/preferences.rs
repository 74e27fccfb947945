//! `Prefer` headers (RFC 7240) → [`Preferences`], as PostgREST reads them: any number of
//! headers, comma-separated, surrounding spaces ignored, the first value of each
//! preference wins; unknown ones are kept in `invalid` and refused only under
//! `handling=strict` (PGRST122).

use http::HeaderMap;

use crate::error::RestError;

/// What the client prefers, from its `Prefer` headers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Preferences {
    /// `resolution=merge-duplicates|ignore-duplicates`: an insert becomes an upsert.
    pub resolution: Option<Resolution>,
    /// `return=minimal|headers-only|representation`.
    pub representation: Option<Representation>,
    /// `count=exact|planned|estimated`.
    pub count: Option<Count>,
    /// `missing=default|null`: what columns absent from a row of the body get.
    pub missing: Option<Missing>,
    /// `handling=lenient|strict`.
    pub handling: Option<Handling>,
    /// `tx=commit|rollback` (honoured only where the host allows it).
    pub transaction: Option<Transaction>,
    /// `timezone=Area/City` (checked against the database's names by the plan stage).
    pub timezone: Option<String>,
    /// `max-affected=N`: refuse a mutation affecting more rows (with `handling=strict`).
    pub max_affected: Option<u64>,
    /// `params=single-object`: pass the whole JSON body as one argument (deprecated).
    pub single_object_params: bool,
    /// Preferences not understood, as sent.
    pub invalid: Vec<String>,
}

/// `resolution=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// `merge-duplicates`: update the existing row.
    MergeDuplicates,
    /// `ignore-duplicates`: keep the existing row.
    IgnoreDuplicates,
}

/// `return=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Representation {
    /// `minimal`: no body.
    Minimal,
    /// `headers-only`: no body, but a `Location` header.
    HeadersOnly,
    /// `representation`: the affected rows.
    Full,
}

/// `count=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Count {
    /// `exact`: `count(*)`.
    Exact,
    /// `planned`: the planner's estimate.
    Planned,
    /// `estimated`: exact up to a threshold, planned above it.
    Estimated,
}

/// `missing=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// `default`: the column's default.
    Default,
    /// `null`: NULL (PostgREST's behaviour without the preference).
    Null,
}

/// `handling=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handling {
    /// `lenient` (the default): unknown preferences are ignored.
    Lenient,
    /// `strict`: unknown preferences are an error.
    Strict,
}

/// `tx=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transaction {
    /// `commit`.
    Commit,
    /// `rollback`: run, answer, then roll back.
    Rollback,
}

impl Preferences {
    /// Reads every `Prefer` header.
    ///
    /// # Errors
    /// `PGRST122` when `handling=strict` is preferred and a preference is unknown.
    ///
    /// ```
    /// use easbase_rest::request::{Preferences, Representation, Count};
    /// let mut headers = http::HeaderMap::new();
    /// headers.append("prefer", "return=representation, count=exact".parse().unwrap());
    /// headers.append("prefer", "return=minimal, frobnicate".parse().unwrap());
    /// let prefs = Preferences::from_headers(&headers).unwrap();
    /// assert_eq!(prefs.representation, Some(Representation::Full)); // the first one wins
    /// assert_eq!(prefs.count, Some(Count::Exact));
    /// assert_eq!(prefs.invalid, vec!["frobnicate".to_owned()]);
    /// ```
    pub fn from_headers(headers: &HeaderMap) -> Result<Preferences, RestError> {
        let mut p = Preferences::default();
        for value in headers.get_all(http::header::HeaderName::from_static("prefer")) {
            let text = String::from_utf8_lossy(value.as_bytes());
            for token in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                p.apply(token);
            }
        }
        if p.handling == Some(Handling::Strict) && !p.invalid.is_empty() {
            return Err(RestError::InvalidPreferences { invalid: p.invalid });
        }
        Ok(p)
    }

    fn apply(&mut self, token: &str) {
        fn first<T>(slot: &mut Option<T>, v: T) {
            if slot.is_none() {
                *slot = Some(v);
            }
        }
        match token {
            "resolution=merge-duplicates" => first(&mut self.resolution, Resolution::MergeDuplicates),
            "resolution=ignore-duplicates" => first(&mut self.resolution, Resolution::IgnoreDuplicates),
            "return=minimal" => first(&mut self.representation, Representation::Minimal),
            "return=headers-only" => first(&mut self.representation, Representation::HeadersOnly),
            "return=representation" => first(&mut self.representation, Representation::Full),
            "count=exact" => first(&mut self.count, Count::Exact),
            "count=planned" => first(&mut self.count, Count::Planned),
            "count=estimated" => first(&mut self.count, Count::Estimated),
            "missing=default" => first(&mut self.missing, Missing::Default),
            "missing=null" => first(&mut self.missing, Missing::Null),
            "handling=lenient" => first(&mut self.handling, Handling::Lenient),
            "handling=strict" => first(&mut self.handling, Handling::Strict),
            "tx=commit" => first(&mut self.transaction, Transaction::Commit),
            "tx=rollback" => first(&mut self.transaction, Transaction::Rollback),
            "params=single-object" => self.single_object_params = true,
            _ => {
                if let Some(tz) = token.strip_prefix("timezone=").filter(|tz| !tz.is_empty()) {
                    first(&mut self.timezone, tz.to_owned());
                } else if let Some(n) =
                    token.strip_prefix("max-affected=").and_then(|n| n.parse::<u64>().ok())
                {
                    first(&mut self.max_affected, n);
                } else {
                    self.invalid.push(token.to_owned());
                }
            }
        }
    }
}
