//! Column defaults as PostgreSQL prints them (`pg_get_expr`), read back into
//! [`DefaultValue`]s.
//!
//! Recognised: `now()` and the other spellings of the transaction's start time
//! (`CURRENT_TIMESTAMP`, `CURRENT_DATE`, …), `gen_random_uuid()` (and the
//! `uuid-ossp` extension's `uuid_generate_v4()`), the `auth.uid` expression EasBase's
//! DDL writes (and Supabase's `auth.uid()` function), and constants: numbers, booleans,
//! strings with any casts (`'x'::text`, `'pending'::app.order_status`, `'-1'::integer`),
//! JSON text for `json` / `jsonb` columns and one-dimensional array text (`'{a,b}'`).
//! Anything else is SQL EasBase cannot describe: the caller lists it as a warning.

use serde_json::Value;

use crate::model::{ColumnType, DefaultValue};

/// What a default expression reads back as.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Default {
    /// A default EasBase describes.
    Value(DefaultValue),
    /// `NULL`: the same as no default.
    Null,
    /// SQL EasBase cannot describe.
    Unknown,
}

/// Reads back the default `expr` (as `pg_get_expr` prints it) of a column of type `ty`.
pub(crate) fn read_default(expr: &str, ty: &ColumnType) -> Default {
    let expr = expr.trim();
    if let Some(f) = function_default(expr) {
        return Default::Value(f);
    }
    let Some((lit, _casts)) = constant(expr) else { return Default::Unknown };
    match lit {
        Lit::Bare(word) if word.eq_ignore_ascii_case("null") => Default::Null,
        lit => literal(&lit, ty).map_or(Default::Unknown, |v| Default::Value(DefaultValue::Literal(v))),
    }
}

fn function_default(expr: &str) -> Option<DefaultValue> {
    let lower = expr.to_ascii_lowercase();
    // Strip a schema qualification of a function call (`public.uuid_generate_v4()`).
    let unqualified = match lower.split_once('.') {
        Some((schema, rest)) if rest.ends_with("()") && is_word(schema) => rest,
        _ => lower.as_str(),
    };
    match unqualified {
        "now()"
        | "current_timestamp"
        | "current_date"
        | "current_time"
        | "localtimestamp"
        | "localtime"
        | "transaction_timestamp()" => return Some(DefaultValue::Now),
        "gen_random_uuid()" | "uuid_generate_v4()" => return Some(DefaultValue::GenRandomUuid),
        _ => {}
    }
    if lower == "auth.uid()" {
        return Some(DefaultValue::AuthUid);
    }
    // EasBase's own `auth.uid` default, in any of the forms PostgreSQL prints it:
    // `((NULLIF(current_setting('request.jwt.claims'::text, true), ''::text))::jsonb ->> 'sub'::text)`
    // (before the user id setting), or that inside
    // `COALESCE(NULLIF(current_setting('request.jwt.claim.sub'::text, true), ''::text), …)`,
    // with a trailing `::uuid` (or `::character varying`) on columns of those types.
    let squeezed: String = lower.chars().filter(|c| !c.is_whitespace() && *c != '(' && *c != ')').collect();
    let squeezed = squeezed.replace("::text", "");
    let first = format!("coalescenullifcurrent_setting'{}',true,'',", crate::policy::CLAIM_SUB_SETTING);
    let squeezed = squeezed.strip_prefix(&first).unwrap_or(&squeezed);
    let core = format!("nullifcurrent_setting'{}',true,''::jsonb->>'sub'", crate::policy::CLAIMS_SETTING);
    let rest = squeezed.strip_prefix(&core)?;
    matches!(rest, "" | "::uuid" | "::charactervarying").then_some(DefaultValue::AuthUid)
}

fn is_word(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A constant: a quoted string, or a bare token (number, `true`, `NULL`).
#[derive(Debug, Clone, PartialEq)]
enum Lit {
    Quoted(String),
    Bare(String),
}

/// Splits `'text'::type::type` / `42` / `(-1)` / `true` into the constant and its casts.
/// `None` when the expression is anything more (an operator, a call, …).
fn constant(expr: &str) -> Option<(Lit, Vec<String>)> {
    let mut s = expr.trim();
    // `(-1)` and similar: one pair of enclosing parentheses.
    if let Some(inner) = s.strip_prefix('(').and_then(|r| r.strip_suffix(')'))
        && !inner.contains(['(', ')'])
    {
        s = inner.trim();
    }
    let (lit, rest) = if let Some(body) = s.strip_prefix('\'') {
        let mut text = String::new();
        let mut chars = body.char_indices().peekable();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                if matches!(chars.peek(), Some((_, '\''))) {
                    chars.next();
                    text.push('\'');
                } else {
                    end = Some(i + 1);
                    break;
                }
            } else {
                text.push(c);
            }
        }
        (Lit::Quoted(text), &body[end?..])
    } else {
        let end = s.find("::").unwrap_or(s.len());
        let word = s[..end].trim();
        let ok = !word.is_empty()
            && word.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_'));
        if !ok {
            return None;
        }
        (Lit::Bare(word.to_owned()), &s[end..])
    };
    let mut casts = Vec::new();
    for part in rest.split("::").skip(1) {
        let ok = !part.trim().is_empty()
            && part.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ' ' | '"' | '(' | ')' | ',' | '[' | ']')
            });
        if !ok {
            return None;
        }
        casts.push(part.trim().to_owned());
    }
    if !rest.is_empty() && casts.is_empty() {
        return None;
    }
    Some((lit, casts))
}

/// The JSON value of a constant for a column of type `ty`, if it has one.
fn literal(lit: &Lit, ty: &ColumnType) -> Option<Value> {
    let text = match lit {
        Lit::Quoted(t) | Lit::Bare(t) => t.as_str(),
    };
    match ty {
        ColumnType::Boolean => match text.to_ascii_lowercase().as_str() {
            "true" | "t" => Some(Value::Bool(true)),
            "false" | "f" => Some(Value::Bool(false)),
            _ => None,
        },
        t if t.is_numeric() => number(text),
        ColumnType::Json | ColumnType::Jsonb => match lit {
            Lit::Quoted(t) => serde_json::from_str(t).ok(),
            Lit::Bare(_) => None,
        },
        ColumnType::Array(inner) => match lit {
            Lit::Quoted(t) => array(t, inner),
            Lit::Bare(_) => None,
        },
        ColumnType::Bytes | ColumnType::Identity => None,
        t if t.is_textual() => match lit {
            Lit::Quoted(t) => Some(Value::String(t.clone())),
            Lit::Bare(_) => None,
        },
        _ => None,
    }
}

fn number(text: &str) -> Option<Value> {
    if let Ok(i) = text.parse::<i64>() {
        return Some(Value::from(i));
    }
    // Finite decimals only (not `NaN`, `Infinity`).
    let n: serde_json::Number = serde_json::from_str(text).ok()?;
    Some(Value::Number(n))
}

/// `{a,"b c",NULL}` (PostgreSQL's array text, one dimension) as a JSON array.
fn array(text: &str, inner: &ColumnType) -> Option<Value> {
    let body = text.trim().strip_prefix('{')?.strip_suffix('}')?;
    let mut items = Vec::new();
    if body.trim().is_empty() {
        return Some(Value::Array(items));
    }
    let mut chars = body.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let item = if chars.peek() == Some(&'"') {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next()? {
                    '\\' => s.push(chars.next()?),
                    '"' => break,
                    c => s.push(c),
                }
            }
            literal(&Lit::Quoted(s), inner)?
        } else {
            let mut s = String::new();
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                if matches!(c, '{' | '}' | '"' | '\\') {
                    return None; // nested arrays and escapes outside quotes: not read back
                }
                s.push(c);
                chars.next();
            }
            let s = s.trim();
            if s.eq_ignore_ascii_case("null") {
                Value::Null
            } else {
                literal(&Lit::Quoted(s.to_owned()), inner)?
            }
        };
        items.push(item);
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            None => break,
            Some(',') => {}
            Some(_) => return None,
        }
    }
    Some(Value::Array(items))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(expr: &str, ty: &str) -> Default {
        read_default(expr, &ty.parse().unwrap())
    }

    fn lit(v: Value) -> Default {
        Default::Value(DefaultValue::Literal(v))
    }

    #[test]
    fn functions() {
        assert_eq!(read("now()", "timestamptz"), Default::Value(DefaultValue::Now));
        assert_eq!(read("CURRENT_TIMESTAMP", "timestamptz"), Default::Value(DefaultValue::Now));
        assert_eq!(read("CURRENT_DATE", "date"), Default::Value(DefaultValue::Now));
        assert_eq!(read("gen_random_uuid()", "uuid"), Default::Value(DefaultValue::GenRandomUuid));
        assert_eq!(read("public.uuid_generate_v4()", "uuid"), Default::Value(DefaultValue::GenRandomUuid));
        assert_eq!(
            read(
                "(((NULLIF(current_setting('request.jwt.claims'::text, true), ''::text))::jsonb ->> 'sub'::text))::uuid",
                "uuid"
            ),
            Default::Value(DefaultValue::AuthUid)
        );
        assert_eq!(
            read(
                "((NULLIF(current_setting('request.jwt.claims'::text, true), ''::text))::jsonb ->> 'sub'::text)",
                "text"
            ),
            Default::Value(DefaultValue::AuthUid)
        );
        // As PostgreSQL prints the default made since the user id setting.
        assert_eq!(
            read(
                "(COALESCE(NULLIF(current_setting('request.jwt.claim.sub'::text, true), ''::text), \
                 ((NULLIF(current_setting('request.jwt.claims'::text, true), ''::text))::jsonb ->> 'sub'::text)))::uuid",
                "uuid"
            ),
            Default::Value(DefaultValue::AuthUid)
        );
        assert_eq!(
            read(
                "COALESCE(NULLIF(current_setting('request.jwt.claim.sub'::text, true), ''::text), \
                 ((NULLIF(current_setting('request.jwt.claims'::text, true), ''::text))::jsonb ->> 'sub'::text))",
                "text"
            ),
            Default::Value(DefaultValue::AuthUid)
        );
        assert_eq!(
            read(
                "COALESCE(NULLIF(current_setting('request.jwt.claim.sub'::text, true), ''::text), \
                 ((NULLIF(current_setting('request.jwt.claims'::text, true), ''::text))::jsonb ->> 'org'::text))",
                "text"
            ),
            Default::Unknown
        );
        assert_eq!(read("auth.uid()", "uuid"), Default::Value(DefaultValue::AuthUid));
        assert_eq!(
            read(
                "((NULLIF(current_setting('request.jwt.claims'::text, true), ''::text))::jsonb ->> 'org'::text)",
                "text"
            ),
            Default::Unknown
        );
        assert_eq!(read("random()", "double"), Default::Unknown);
        assert_eq!(read("nextval('s'::regclass)", "integer"), Default::Unknown);
    }

    #[test]
    fn constants() {
        assert_eq!(read("'-1'::integer", "integer"), lit(json!(-1)));
        assert_eq!(read("(-1)", "integer"), lit(json!(-1)));
        assert_eq!(read("'-1.50'::numeric", "decimal(10,2)"), lit(json!(-1.5)));
        assert_eq!(read("2.5", "decimal"), lit(json!(2.5)));
        assert_eq!(read("'10000000000'::bigint", "bigint"), lit(json!(10_000_000_000_i64)));
        assert_eq!(read("'NaN'::double precision", "double"), Default::Unknown);
        assert_eq!(read("false", "boolean"), lit(json!(false)));
        assert_eq!(read("'it''s'::app.st", "st"), lit(json!("it's")));
        assert_eq!(read("'x'::text", "text"), lit(json!("x")));
        assert_eq!(read("'y'::character varying", "varchar(5)"), lit(json!("y")));
        assert_eq!(read("'2024-01-01'::date", "date"), lit(json!("2024-01-01")));
        assert_eq!(read("'{\"x\": 1}'::jsonb", "jsonb"), lit(json!({ "x": 1 })));
        assert_eq!(read("'{}'::text[]", "text[]"), lit(json!([])));
        assert_eq!(
            read("'{a,\"b c\",NULL}'::character varying[]", "varchar(9)[]"),
            lit(json!(["a", "b c", null]))
        );
        assert_eq!(read("'{1,2}'::integer[]", "integer[]"), lit(json!([1, 2])));
        assert_eq!(read("'{{1},{2}}'::integer[]", "integer[]"), Default::Unknown);
        assert_eq!(read("ARRAY[1, 2]", "integer[]"), Default::Unknown);
        assert_eq!(read("'a'::text || 'b'::text", "text"), Default::Unknown);
        assert_eq!(read("'\\x00'::bytea", "bytes"), Default::Unknown);
        assert_eq!(read("NULL::text", "text"), Default::Null);
        assert_eq!(read("1", "text"), Default::Unknown);
    }
}
