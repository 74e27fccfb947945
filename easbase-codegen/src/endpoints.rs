//! The endpoint listing a dashboard shows for a schema: per table, in the order the
//! schema declares them, `list`, `create`, `read`, `update` and `delete` with their
//! method and path (`create: POST /rest/v1/products`).

use std::fmt;

use easbase_schema::{TableDef, ValidSchema};

/// What an endpoint does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Read the rows that match filters (`GET /products`).
    List,
    /// Insert one row or several (`POST /products`).
    Create,
    /// Read one row by its key.
    Read,
    /// Change one row by its key.
    Update,
    /// Delete one row by its key.
    Delete,
}

impl Action {
    /// Every action, in listing order.
    pub const ALL: [Action; 5] = [Action::List, Action::Create, Action::Read, Action::Update, Action::Delete];

    /// `list`, `create`, `read`, `update`, `delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::List => "list",
            Action::Create => "create",
            Action::Read => "read",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }

    /// The HTTP method.
    pub fn method(self) -> &'static str {
        match self {
            Action::List | Action::Read => "GET",
            Action::Create => "POST",
            Action::Update => "PATCH",
            Action::Delete => "DELETE",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One endpoint of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The table.
    pub table: String,
    /// What it does.
    pub action: Action,
    /// The HTTP method (`GET`, `POST`, `PATCH`, `DELETE`).
    pub method: &'static str,
    /// The path under `base_path`, with `{column}` placeholders for a key: `/rest/v1/products/{id}`,
    /// or for a composite key its filters: `/rest/v1/order_items?order_id=eq.{order_id}&product_id=eq.{product_id}`.
    pub path: String,
}

impl fmt::Display for Endpoint {
    /// `create: POST /rest/v1/products`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} {}", self.action, self.method, self.path)
    }
}

/// The endpoints of every table of `schema`, mounted at `base_path` (`/rest/v1`, or a
/// full URL such as `http://127.0.0.1:8080/rest/v1`).
///
/// ```
/// let schema = easbase_schema::Schema::from_json(r#"{ "tables": [ { "name": "products", "columns": [
///     { "name": "id", "type": "uuid", "primary": true } ] } ] }"#)?.validate()?;
/// let lines: Vec<String> =
///     easbase_codegen::endpoints::listing(&schema, "/rest/v1/").iter().map(|e| e.to_string()).collect();
/// assert_eq!(lines, [
///     "list: GET /rest/v1/products",
///     "create: POST /rest/v1/products",
///     "read: GET /rest/v1/products/{id}",
///     "update: PATCH /rest/v1/products/{id}",
///     "delete: DELETE /rest/v1/products/{id}",
/// ]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn listing(schema: &ValidSchema, base_path: &str) -> Vec<Endpoint> {
    let base = base_path.trim_end_matches('/');
    let mut out = Vec::new();
    for table in declared_order(schema) {
        let collection = format!("{base}/{}", table.name.as_str());
        let one = row_path(&collection, table);
        for action in Action::ALL {
            let path = match action {
                Action::List | Action::Create => collection.clone(),
                Action::Read | Action::Update | Action::Delete => one.clone(),
            };
            out.push(Endpoint {
                table: table.name.as_str().to_owned(),
                action,
                method: action.method(),
                path,
            });
        }
    }
    out
}

/// The listing as text, one endpoint a line.
pub fn to_text(endpoints: &[Endpoint]) -> String {
    endpoints.iter().map(|e| format!("{e}\n")).collect()
}

/// The tables in the order the description lists them (`tables()` is dependency order).
fn declared_order(schema: &ValidSchema) -> Vec<&TableDef> {
    schema.source().tables.iter().filter_map(|t| schema.table(&t.name)).collect()
}

fn row_path(collection: &str, table: &TableDef) -> String {
    match table.primary_key.as_slice() {
        [one] => format!("{collection}/{{{}}}", one.as_str()),
        cols => {
            let filters: Vec<String> = cols.iter().map(|c| format!("{0}=eq.{{{0}}}", c.as_str())).collect();
            format!("{collection}?{}", filters.join("&"))
        }
    }
}
