//! An OpenAPI 3.1 document of the REST API an EasBase host serves for a schema, in
//! PostgREST's dialect: per table `GET` (with `select`, `order`, `limit`, `offset`,
//! `or` / `and` and one filter parameter per column), `POST`, `PATCH` and `DELETE` on
//! `/{table}`, and `GET`, `PUT`, `PATCH`, `DELETE` on `/{table}/{key}` for tables with a
//! one-column primary key; `Prefer` and `Range` headers; the `apikey` header and a bearer
//! JWT as security schemes; one JSON Schema per table for rows, inserts and updates.
//!
//! Paths are relative to the server URL, which includes the mount point (`/rest/v1`).
//! [`to_json`] prints a document with its keys sorted, the same bytes whatever map
//! `serde_json` was built with.

use easbase_schema::{ColumnDef, ColumnType, DefaultValue, TableDef, ValidSchema};
use serde_json::{Map, Value, json};

use crate::ts::insert_optional;

/// What the document says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenApiOptions {
    /// `info.title`.
    pub title: String,
    /// `info.version`: the version of the API (of the schema), not of EasBase.
    pub version: String,
    /// `servers[0].url`: where the REST API is mounted, e.g.
    /// `https://api.example.com/rest/v1` (default `/rest/v1`, relative to the document).
    pub server_url: String,
    /// `info.description`, when given.
    pub description: Option<String>,
}

impl Default for OpenApiOptions {
    fn default() -> Self {
        Self {
            title: "EasBase REST API".to_owned(),
            version: "1.0.0".to_owned(),
            server_url: "/rest/v1".to_owned(),
            description: None,
        }
    }
}

impl OpenApiOptions {
    /// Options with this title and version, served under `/rest/v1`.
    pub fn new(title: impl Into<String>, version: impl Into<String>) -> Self {
        Self { title: title.into(), version: version.into(), ..Self::default() }
    }
}

/// The name of the error body's schema in `components.schemas` (a dot, so no table's).
const ERROR: &str = "easbase.error";

/// The OpenAPI 3.1 document for `schema`.
///
/// ```
/// use easbase_codegen::openapi::{self, OpenApiOptions};
///
/// let schema = easbase_schema::Schema::from_json(r#"{ "tables": [ { "name": "products", "columns": [
///     { "name": "id", "type": "uuid", "primary": true, "default": "gen_random_uuid()" },
///     { "name": "name", "type": "varchar(80)", "required": true } ] } ] }"#)?.validate()?;
/// let doc = openapi::document(&schema, &OpenApiOptions::new("Shop", "1.2.0"));
/// assert_eq!(doc["openapi"], "3.1.0");
/// assert!(doc["paths"]["/products"]["get"].is_object());
/// assert!(doc["paths"]["/products/{id}"]["patch"].is_object());
/// assert_eq!(doc["components"]["schemas"]["products"]["properties"]["name"]["maxLength"], 80);
/// assert_eq!(doc["components"]["schemas"]["products.insert"]["required"], serde_json::json!(["name"]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn document(schema: &ValidSchema, options: &OpenApiOptions) -> Value {
    let mut info = json!({ "title": options.title, "version": options.version });
    if let Some(d) = &options.description {
        info["description"] = json!(d);
    }
    let mut paths = Map::new();
    let mut schemas = Map::new();
    let mut parameters = common_parameters();
    let mut tags = Vec::new();
    for table in crate::ts::sorted_tables(schema) {
        let name = table.name.as_str();
        let mut tag = json!({ "name": name });
        if let Some(c) = &table.comment {
            tag["description"] = json!(c);
        }
        tags.push(tag);
        schemas.insert(name.to_owned(), row_schema(schema, table));
        schemas.insert(format!("{name}.insert"), write_schema(schema, table, true));
        schemas.insert(format!("{name}.update"), write_schema(schema, table, false));
        for column in filterable(table) {
            parameters.insert(filter_param_name(name, column), filter_param(column));
        }
        paths.insert(format!("/{name}"), collection_path(table));
        if let [pk] = table.primary_key.as_slice()
            && let Some(column) = table.column(pk.as_str())
        {
            paths.insert(format!("/{name}/{{{}}}", pk.as_str()), key_path(schema, table, column));
        }
    }
    schemas.insert(ERROR.to_owned(), error_schema());
    json!({
        "openapi": "3.1.0",
        "info": info,
        "servers": [ { "url": options.server_url } ],
        "security": [ { "apikey": [], "bearer": [] }, { "apikey": [] } ],
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": schemas,
            "parameters": parameters,
            "headers": {
                "Content-Range": {
                    "description": "The rows answered and the total when counted: `0-24/3573`, `0-24/*`, `*/0`.",
                    "schema": { "type": "string" }
                },
                "Location": {
                    "description": "The new row's route, by its primary key (`return=headers-only`).",
                    "schema": { "type": "string" }
                }
            },
            "responses": {
                "error": {
                    "description": "An error in PostgREST's shape: 400 bad request or value, 401/403 \
                        not allowed, 404 unknown table, 406 not one row, 409 conflict, 416 bad range.",
                    "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{ERROR}") } } }
                }
            },
            "securitySchemes": {
                "apikey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "apikey",
                    "description": "The project's publishable key (`eb_pk_…`, role anon) or secret key \
                        (`eb_sk_…`, role service, bypasses row policies: servers only)."
                },
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A user's access token from `/auth/v1`: the request runs as that user \
                        (role authenticated), under the tables' row policies."
                }
            }
        }
    })
}

/// `document` as pretty JSON with every object's keys sorted: deterministic byte for
/// byte, whatever map type `serde_json` was built with.
pub fn to_json(document: &Value) -> String {
    let mut text = serde_json::to_string_pretty(&sorted(document)).unwrap_or_default();
    text.push('\n');
    text
}

fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&map[k]))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

fn reference(kind: &str, name: &str) -> Value {
    json!({ "$ref": format!("#/components/{kind}/{name}") })
}

fn filter_param_name(table: &str, column: &ColumnDef) -> String {
    format!("rowFilter.{table}.{}", column.name.as_str())
}

fn common_parameters() -> Map<String, Value> {
    let query = |name: &str, description: &str, schema: Value| json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema });
    let header = |name: &str, description: &str, schema: Value| json!({ "name": name, "in": "header", "required": false, "description": description, "schema": schema });
    let mut p = Map::new();
    p.insert(
        "select".into(),
        query(
            "select",
            "The columns to answer with: `*`, `id,name`, `alias:column`, embedded tables through \
             foreign keys (`orders(id,status)`, `customer:customers!inner(email)`).",
            json!({ "type": "string", "default": "*" }),
        ),
    );
    p.insert(
        "order".into(),
        query(
            "order",
            "The sort order: `column.asc|desc.nullsfirst|nullslast`, comma-separated.",
            json!({ "type": "string" }),
        ),
    );
    p.insert(
        "limit".into(),
        query("limit", "At most this many rows.", json!({ "type": "integer", "minimum": 0 })),
    );
    p.insert(
        "offset".into(),
        query("offset", "Skip this many rows.", json!({ "type": "integer", "minimum": 0 })),
    );
    p.insert(
        "or".into(),
        query(
            "or",
            "Any of these filters: `(price.lt.10,name.ilike.*chair*)`; nests with `and(…)`.",
            json!({ "type": "string" }),
        ),
    );
    p.insert(
        "and".into(),
        query("and", "All of these filters: `(price.gte.10,price.lt.20)`.", json!({ "type": "string" })),
    );
    p.insert(
        "columns".into(),
        query(
            "columns",
            "The body's keys to insert (`name,price`); others are ignored.",
            json!({ "type": "string" }),
        ),
    );
    p.insert(
        "on_conflict".into(),
        query(
            "on_conflict",
            "The unique columns an upsert (`Prefer: resolution=…`) matches on; the primary key by default.",
            json!({ "type": "string" }),
        ),
    );
    p.insert(
        "range".into(),
        header(
            "Range",
            "A window of the rows, 0-based and inclusive: `0-24` (with `Range-Unit: items`).",
            json!({ "type": "string", "pattern": "^\\d+-\\d*$" }),
        ),
    );
    p.insert(
        "rangeUnit".into(),
        header("Range-Unit", "The unit of `Range`.", json!({ "type": "string", "default": "items" })),
    );
    p.insert(
        "preferRead".into(),
        header(
            "Prefer",
            "Count the rows: the total is in `Content-Range`.",
            json!({ "type": "string", "enum": ["count=exact", "count=planned", "count=estimated"] }),
        ),
    );
    p.insert(
        "preferWrite".into(),
        header(
            "Prefer",
            "Comma-separated: `return=minimal|headers-only|representation`, `count=exact`, and for \
             POST `resolution=merge-duplicates|ignore-duplicates` (upsert) and `missing=default`.",
            json!({ "type": "string" }),
        ),
    );
    p
}

/// One query parameter per column: PostgREST's `column=op.value` filters.
fn filter_param(column: &ColumnDef) -> Value {
    let name = column.name.as_str();
    json!({
        "name": name,
        "in": "query",
        "required": false,
        "description": format!(
            "Filter on `{name}` ({}): `eq.value`, `neq`, `gt`, `gte`, `lt`, `lte`, `like`, `ilike`, \
             `in.(a,b)`, `is.null|true|false`, `isdistinct`; `not.` negates.",
            column.ty
        ),
        "schema": { "type": "string" }
    })
}

/// Query parameters the dialect reads itself: a column with one of these names cannot be
/// filtered as `name=op.value`, so it gets no filter parameter.
const RESERVED_PARAMS: [&str; 8] =
    ["select", "order", "limit", "offset", "or", "and", "columns", "on_conflict"];

/// The columns that can be filtered by a query parameter of their name.
fn filterable(table: &TableDef) -> impl Iterator<Item = &ColumnDef> {
    table.columns.iter().filter(|c| !RESERVED_PARAMS.contains(&c.name.as_str()))
}

fn filter_refs(table: &TableDef) -> Vec<Value> {
    filterable(table).map(|c| reference("parameters", &filter_param_name(table.name.as_str(), c))).collect()
}

fn rows_content(table: &TableDef) -> Value {
    let array = json!({ "type": "array", "items": reference("schemas", table.name.as_str()) });
    json!({
        "application/json": { "schema": array },
        "application/vnd.pgrst.object+json": { "schema": reference("schemas", table.name.as_str()) },
        "text/csv": { "schema": { "type": "string" } }
    })
}

fn read_responses(table: &TableDef) -> Value {
    json!({
        "200": {
            "description": "The rows.",
            "headers": { "Content-Range": reference("headers", "Content-Range") },
            "content": rows_content(table)
        },
        "206": {
            "description": "Part of the rows (a window of a counted total).",
            "headers": { "Content-Range": reference("headers", "Content-Range") },
            "content": rows_content(table)
        },
        "4XX": reference("responses", "error")
    })
}

fn write_responses(table: &TableDef, ok: &str) -> Value {
    json!({
        ok: {
            "description": "The rows written (`Prefer: return=representation`).",
            "content": rows_content(table)
        },
        "204": { "description": "Done (`return=minimal`, the default)." },
        "4XX": reference("responses", "error")
    })
}

/// One row by its key: the row as an object, 404 when there is none (or the caller may not
/// see it).
fn one_row_content(table: &TableDef) -> Value {
    json!({
        "application/json": { "schema": reference("schemas", table.name.as_str()) },
        "text/csv": { "schema": { "type": "string" } }
    })
}

fn key_responses(table: &TableDef, ok: &str, with_minimal: bool) -> Value {
    let mut responses = json!({
        ok: { "description": "The row, as one object.", "content": one_row_content(table) },
        "404": {
            "description": "No such row, or the caller may not see it (`PGRST116`).",
            "content": { "application/json": { "schema": reference("schemas", ERROR) } }
        },
        "4XX": reference("responses", "error")
    });
    if with_minimal {
        responses["204"] = json!({ "description": "Done (`return=minimal`, the default)." });
    }
    responses
}

fn body(schema_name: &str, many: bool) -> Value {
    let one = reference("schemas", schema_name);
    let schema =
        if many { json!({ "oneOf": [one.clone(), { "type": "array", "items": one }] }) } else { one };
    json!({ "required": true, "content": { "application/json": { "schema": schema } } })
}

fn collection_path(table: &TableDef) -> Value {
    let name = table.name.as_str();
    let p = |n: &str| reference("parameters", n);
    let mut read_params = vec![p("select"), p("order"), p("limit"), p("offset"), p("or"), p("and")];
    read_params.extend(filter_refs(table));
    read_params.extend([p("range"), p("rangeUnit"), p("preferRead")]);
    let mut filtered_write = vec![p("select"), p("or"), p("and")];
    filtered_write.extend(filter_refs(table));
    filtered_write.push(p("preferWrite"));
    json!({
        "get": {
            "operationId": format!("{name}.list"),
            "tags": [name],
            "summary": format!("List `{name}` rows"),
            "description": "The rows the caller may see that match the filters, in order, one page.",
            "parameters": read_params,
            "responses": read_responses(table)
        },
        "post": {
            "operationId": format!("{name}.create"),
            "tags": [name],
            "summary": format!("Create `{name}` rows"),
            "description": "Inserts one object or an array of objects in one statement; an upsert with \
                `Prefer: resolution=…`.",
            "parameters": [p("select"), p("columns"), p("on_conflict"), p("preferWrite")],
            "requestBody": body(&format!("{name}.insert"), true),
            "responses": {
                "201": {
                    "description": "Created; the rows with `Prefer: return=representation`.",
                    "headers": { "Location": reference("headers", "Location") },
                    "content": rows_content(table)
                },
                "204": { "description": "Created (`return=minimal`)." },
                "4XX": reference("responses", "error")
            }
        },
        "patch": {
            "operationId": format!("{name}.update"),
            "tags": [name],
            "summary": format!("Update the `{name}` rows that match the filters"),
            "description": "A filter is required unless the host allows unfiltered writes.",
            "parameters": filtered_write.clone(),
            "requestBody": body(&format!("{name}.update"), false),
            "responses": write_responses(table, "200")
        },
        "delete": {
            "operationId": format!("{name}.delete"),
            "tags": [name],
            "summary": format!("Delete the `{name}` rows that match the filters"),
            "description": "A filter is required unless the host allows unfiltered writes.",
            "parameters": filtered_write,
            "responses": write_responses(table, "200")
        }
    })
}

fn key_path(schema: &ValidSchema, table: &TableDef, key: &ColumnDef) -> Value {
    let name = table.name.as_str();
    let p = |n: &str| reference("parameters", n);
    let key_param = json!({
        "name": key.name.as_str(),
        "in": "path",
        "required": true,
        "description": format!("The row's primary key (`{}`).", key.name.as_str()),
        "schema": column_schema(schema, key, false)
    });
    json!({
        "parameters": [key_param],
        "get": {
            "operationId": format!("{name}.get"),
            "tags": [name],
            "summary": format!("Read one `{name}` row by its key"),
            "description": "The row as one object; 404 when there is no such row (or the caller may \
                not see it).",
            "parameters": [p("select")],
            "responses": key_responses(table, "200", false)
        },
        "put": {
            "operationId": format!("{name}.replace"),
            "tags": [name],
            "summary": format!("Insert or replace one `{name}` row by its key"),
            "parameters": [p("select"), p("preferWrite")],
            "requestBody": body(&format!("{name}.insert"), false),
            "responses": key_responses(table, "200", true)
        },
        "patch": {
            "operationId": format!("{name}.updateByKey"),
            "tags": [name],
            "summary": format!("Update one `{name}` row by its key"),
            "parameters": [p("select"), p("preferWrite")],
            "requestBody": body(&format!("{name}.update"), false),
            "responses": key_responses(table, "200", true)
        },
        "delete": {
            "operationId": format!("{name}.deleteByKey"),
            "tags": [name],
            "summary": format!("Delete one `{name}` row by its key"),
            "parameters": [p("select"), p("preferWrite")],
            "responses": key_responses(table, "200", true)
        }
    })
}

fn error_schema() -> Value {
    let text = json!({ "type": ["string", "null"] });
    json!({
        "type": "object",
        "description": "PostgREST's error body.",
        "properties": {
            "code": { "type": "string", "description": "`PGRST…`, a PostgreSQL SQLSTATE (`23505`), or `EB…`." },
            "message": { "type": "string" },
            "details": text,
            "hint": text
        },
        "required": ["code", "message", "details", "hint"]
    })
}

/// A row as the host answers it: every column.
fn row_schema(schema: &ValidSchema, table: &TableDef) -> Value {
    let mut properties = Map::new();
    for column in &table.columns {
        properties.insert(column.name.as_str().to_owned(), column_schema(schema, column, column.nullable));
    }
    let required: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    let mut out = json!({ "type": "object", "properties": properties, "required": required });
    if let Some(c) = &table.comment {
        out["description"] = json!(c);
    }
    out
}

/// What a POST (`insert`) or PATCH (`!insert`) body may hold: known columns only.
fn write_schema(schema: &ValidSchema, table: &TableDef, insert: bool) -> Value {
    let mut properties = Map::new();
    for column in &table.columns {
        properties.insert(column.name.as_str().to_owned(), column_schema(schema, column, column.nullable));
    }
    let mut out = json!({ "type": "object", "properties": properties, "additionalProperties": false });
    if insert {
        let required: Vec<&str> =
            table.columns.iter().filter(|c| !insert_optional(c)).map(|c| c.name.as_str()).collect();
        out["required"] = json!(required);
    }
    out
}

/// The JSON Schema of a column's values, as the host writes them in JSON.
fn column_schema(schema: &ValidSchema, column: &ColumnDef, nullable: bool) -> Value {
    let mut out = type_schema(schema, &column.ty);
    if nullable {
        if let Some(Value::String(t)) = out.get("type").cloned() {
            out["type"] = json!([t, "null"]);
        }
        if let Some(Value::Array(values)) = out.get_mut("enum") {
            values.push(Value::Null);
        }
    }
    let mut notes: Vec<String> = Vec::new();
    if let Some(Value::String(d)) = out.get("description") {
        notes.push(format!("{d}."));
    }
    if let Some(c) = &column.comment {
        notes.push(c.clone());
    }
    match &column.default {
        Some(DefaultValue::Literal(v)) => out["default"] = v.clone(),
        Some(DefaultValue::Now) => notes.push("Defaults to the current time.".to_owned()),
        Some(DefaultValue::GenRandomUuid) => notes.push("Defaults to a random UUID.".to_owned()),
        Some(DefaultValue::AuthUid) => notes.push("Defaults to the requesting user's id.".to_owned()),
        None => {}
    }
    if column.ty == ColumnType::Identity {
        notes.push("Generated by the database.".to_owned());
    }
    if column.auto_update {
        notes.push("Set by the database on every update.".to_owned());
    }
    if !notes.is_empty() {
        out["description"] = json!(notes.join(" "));
    }
    out
}

fn type_schema(schema: &ValidSchema, ty: &ColumnType) -> Value {
    match ty {
        ColumnType::Uuid => json!({ "type": "string", "format": "uuid" }),
        ColumnType::Text => json!({ "type": "string" }),
        ColumnType::Varchar(n) => json!({ "type": "string", "maxLength": n }),
        ColumnType::SmallInt => json!({ "type": "integer", "minimum": i16::MIN, "maximum": i16::MAX }),
        ColumnType::Integer => json!({ "type": "integer", "format": "int32" }),
        ColumnType::BigInt | ColumnType::Identity => json!({ "type": "integer", "format": "int64" }),
        ColumnType::Decimal(None) => json!({ "type": "number" }),
        ColumnType::Decimal(Some((p, s))) => {
            json!({ "type": "number", "description": format!("decimal({p},{s}): up to {p} digits, {s} after the point") })
        }
        ColumnType::Real => json!({ "type": "number", "format": "float" }),
        ColumnType::Double => json!({ "type": "number", "format": "double" }),
        ColumnType::Boolean => json!({ "type": "boolean" }),
        ColumnType::Date => json!({ "type": "string", "format": "date" }),
        ColumnType::Time => json!({ "type": "string", "pattern": "^\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?$" }),
        ColumnType::Timestamp => json!({
            "type": "string",
            "pattern": "^\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?$"
        }),
        ColumnType::Timestamptz => json!({ "type": "string", "format": "date-time" }),
        ColumnType::Json | ColumnType::Jsonb => json!({}),
        ColumnType::Bytes => json!({ "type": "string", "pattern": "^\\\\x([0-9a-fA-F]{2})*$" }),
        ColumnType::Array(inner) => json!({ "type": "array", "items": type_schema(schema, inner) }),
        ColumnType::Named(name) => match schema.enum_def(name) {
            Some(e) => json!({ "type": "string", "enum": e.values }),
            None => json!({}),
        },
        _ => json!({}),
    }
}
