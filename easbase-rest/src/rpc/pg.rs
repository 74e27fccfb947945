//! PostgreSQL: the database's own functions in the project's schema at `/rpc/{name}`, as
//! PostgREST calls them: found in `pg_proc` (the overload whose input parameters take the
//! given arguments, by name), then called with named arguments (`f(a => CAST($1 AS
//! integer))`), both under the request's role and claims (read-only for GET). A
//! set-returning function's rows come back as [`RpcOutput::Rows`] (filtered, ordered and
//! windowed like a host function's), a scalar as [`RpcOutput::Scalar`], a composite as
//! [`RpcOutput::Object`], `void` as [`RpcOutput::Void`].
//!
//! Only the function's name (a validated identifier), its schema, its parameter names
//! (quoted, quotes doubled) and the parameter types the catalog gives (checked to be plain
//! type names) are spliced into SQL; every argument is bound.

use easbase_core::context::RequestContext;
use easbase_core::db::Stmt;
use easbase_core::project::ProjectDb;
use easbase_schema::ddl::quote_ident;
use easbase_schema::{Dialect, Ident};
use serde_json::{Map, Value as Json};

use crate::error::RestError;
use crate::rpc::RpcOutput;

/// One overload, as `pg_proc` describes it.
#[derive(Debug)]
struct Proc {
    /// Input parameter names and types, in order.
    params: Vec<(String, String)>,
    /// How many trailing input parameters have defaults.
    defaults: usize,
    /// `RETURNS SETOF` / `TABLE`.
    set: bool,
    /// The return type's name.
    returns: String,
}

const LOOKUP: &str = r#"SELECT json_build_object(
  'names', p.proargnames, 'modes', p.proargmodes, 'ndefaults', p.pronargdefaults, 'set', p.proretset,
  'ret', format_type(p.prorettype, NULL),
  'types', (SELECT coalesce(json_agg(format_type(t, NULL) ORDER BY i), '[]') FROM unnest(p.proargtypes) WITH ORDINALITY AS a(t, i))
)::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = $1 AND p.proname = $2 AND p.prokind = 'f'"#;

/// A type name from the catalog (`format_type(oid, NULL)`: no modifiers), safe to splice:
/// words, dots, `[]` and double-quoted names of letters, digits and `_` (`integer`,
/// `character varying`, `timestamp with time zone`, `text[]`, `"MyType"`, `public.t`) —
/// never a parenthesis, a comma or a quote inside a quoted name.
fn is_type_name(s: &str) -> bool {
    let plain = |part: &str| part.chars().all(|c| c.is_ascii_alphanumeric() || " _.[]".contains(c));
    let quoted = |part: &str| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let parts: Vec<&str> = s.split('"').collect();
    let last = parts.len() - 1;
    // Between two quoted names there is always something (`"a"."b"`): an empty plain part
    // inside would be an escaped quote (`"a""b"`).
    !s.is_empty()
        && parts.len() % 2 == 1
        && parts.iter().enumerate().all(|(i, part)| match i % 2 {
            0 => plain(part) && (!part.is_empty() || i == 0 || i == last),
            _ => quoted(part),
        })
}

fn parse(text: &str) -> Option<Proc> {
    let v: Json = serde_json::from_str(text).ok()?;
    let types: Vec<String> =
        v["types"].as_array()?.iter().map(|t| t.as_str().map(str::to_owned)).collect::<Option<_>>()?;
    let names: Vec<String> = match &v["names"] {
        Json::Array(a) => a.iter().map(|n| n.as_str().unwrap_or("").to_owned()).collect(),
        _ => Vec::new(),
    };
    // Input parameters: modes `i`, `b`, `v` (all inputs when modes are null).
    let inputs: Vec<String> = match &v["modes"] {
        Json::Array(modes) => names
            .iter()
            .zip(modes)
            .filter(|(_, m)| matches!(m.as_str(), Some("i" | "b" | "v")))
            .map(|(n, _)| n.clone())
            .collect(),
        _ => names.into_iter().take(types.len()).collect(),
    };
    if inputs.len() != types.len() || !types.iter().all(|t| is_type_name(t)) {
        return None;
    }
    Some(Proc {
        params: inputs.into_iter().zip(types).collect(),
        defaults: usize::try_from(v["ndefaults"].as_u64()?).ok()?,
        set: v["set"].as_bool()?,
        returns: v["ret"].as_str()?.to_owned(),
    })
}

/// An argument as the text PostgreSQL parses into the parameter's type.
fn arg_text(v: &Json) -> Option<String> {
    match v {
        Json::Null => None,
        Json::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Calls the database function `name` of the project's schema, if there is one taking
/// `args`; `Ok(None)` when there is none (the caller answers 404 `PGRST202`).
pub(crate) async fn call(
    name: &str,
    args: &Map<String, Json>,
    read_only: bool,
    pdb: &ProjectDb,
    ctx: &RequestContext,
) -> Result<Option<RpcOutput>, RestError> {
    let (Some(schema), Ok(fname)) = (pdb.pg_schema(), Ident::new(name.to_owned())) else {
        return Ok(None);
    };
    let authenticated = ctx.role() == easbase_schema::Role::Authenticated;
    let map = |e: easbase_core::Error| RestError::from_core(&e, authenticated);
    let scope = pdb.scope(ctx, true).map_err(map)?;
    let lookup =
        Stmt::new(LOOKUP, sea_query::Values(vec![schema.as_str().to_owned().into(), name.to_owned().into()]));
    let found = pdb.db().transaction(&scope, vec![lookup]).await.map_err(map)?;
    let procs: Vec<Proc> = found
        .first()
        .map(|r| r.rows.iter().filter_map(|row| row.cells.first()?.as_str().and_then(parse)).collect())
        .unwrap_or_default();
    // The overload that takes exactly these arguments by name (defaults may be left out).
    let fits = |p: &Proc| {
        let required = p.params.len() - p.defaults.min(p.params.len());
        args.keys().all(|k| p.params.iter().any(|(n, _)| n == k))
            && p.params[..required].iter().all(|(n, _)| args.contains_key(n))
    };
    let candidates: Vec<&Proc> = procs.iter().filter(|p| fits(p)).collect();
    let proc = match candidates.as_slice() {
        [] => return Ok(None),
        [one] => *one,
        _ => return Err(RestError::AmbiguousFunction { name: name.to_owned() }),
    };
    let mut placeholders = Vec::new();
    let mut values = Vec::new();
    for (n, ty) in &proc.params {
        if let Some(v) = args.get(n) {
            values.push(sea_query::Value::String(arg_text(v)));
            placeholders.push(format!(
                "{} => CAST(${} AS {ty})",
                quote_ident(Dialect::Postgres, n),
                values.len()
            ));
        }
    }
    let call = format!(
        "{}.{}({})",
        quote_ident(Dialect::Postgres, schema.as_str()),
        quote_ident(Dialect::Postgres, fname.as_str()),
        placeholders.join(", ")
    );
    let sql = if proc.set {
        format!(r#"SELECT coalesce(json_agg("_eb_f"), '[]')::text FROM {call} AS "_eb_f""#)
    } else {
        format!("SELECT to_json({call})::text")
    };
    let scope = pdb.scope(ctx, read_only).map_err(map)?;
    let results =
        pdb.db().transaction(&scope, vec![Stmt::new(sql, sea_query::Values(values))]).await.map_err(map)?;
    if proc.returns == "void" {
        return Ok(Some(RpcOutput::Void));
    }
    let text = results
        .first()
        .and_then(|r| r.rows.first())
        .and_then(|row| row.cells.first())
        .and_then(|c| c.as_str());
    let value: Json = text.and_then(|t| serde_json::from_str(t).ok()).unwrap_or(Json::Null);
    Ok(Some(match value {
        Json::Array(items) if proc.set && items.iter().all(Json::is_object) => RpcOutput::Rows(
            items.into_iter().filter_map(|i| if let Json::Object(o) = i { Some(o) } else { None }).collect(),
        ),
        Json::Object(o) => RpcOutput::Object(o),
        other => RpcOutput::Scalar(other),
    }))
}

#[cfg(test)]
mod tests {
    use super::is_type_name;

    #[test]
    fn only_plain_type_names_are_spliced() {
        for ok in
            ["integer", "character varying", "timestamp with time zone", "text[]", "\"MyType\"", "public.t"]
        {
            assert!(is_type_name(ok), "{ok}");
        }
        for bad in ["", "integer) , (select 1", "\"a\"\"b\"", "\"x", "numeric(10,2)", "text; drop", "\"a b\""]
        {
            assert!(!is_type_name(bad), "{bad}");
        }
    }
}
