//! # easbase-codegen: what a client needs, generated from a schema
//!
//! Pure, deterministic functions from a [`ValidSchema`](easbase_schema::ValidSchema)
//! (the same schema gives the same bytes, so the output can be committed and diffed):
//!
//! | function | output | command |
//! |---|---|---|
//! | [`typescript::database_types`] | the `Database` type in the shape `supabase gen types typescript` prints | `easbase gen types` |
//! | [`sdk::typescript`] | a module for `@easbase/sdk` (`sdk/js`): the types, each table's key, `createEasBase()` | `easbase gen sdk` |
//! | [`openapi::document`] | an OpenAPI 3.1 document of the REST API (PostgREST dialect) | `easbase gen openapi` |
//! | [`endpoints::listing`] | the endpoint list a dashboard shows (`create: POST /rest/v1/products`) | `easbase gen endpoints` |
//!
//! ## A tour
//!
//! ```
//! use easbase_codegen::{Options, endpoints, openapi, sdk, typescript};
//!
//! let schema = easbase_schema::Schema::from_json(r#"{
//!   "enums": [ { "name": "order_status", "values": ["pending", "paid"] } ],
//!   "tables": [
//!     { "name": "customers", "columns": [
//!         { "name": "id", "type": "uuid", "primary": true, "default": "gen_random_uuid()" },
//!         { "name": "email", "type": "varchar(320)", "required": true, "unique": true } ] },
//!     { "name": "orders", "columns": [
//!         { "name": "id", "type": "identity", "primary": true },
//!         { "name": "customer_id", "type": "uuid", "required": true, "references": "customers.id" },
//!         { "name": "status", "type": "order_status", "required": true, "default": "pending" } ] } ] }"#)?
//!     .validate()?;
//!
//! // 1. TypeScript types for supabase-js: `createClient<Database>(url, key)`.
//! let types = typescript::database_types(&schema, &Options::default());
//! assert!(types.contains(r#"status: Database["public"]["Enums"]["order_status"]"#));
//! assert!(types.contains(r#"foreignKeyName: "orders_customer_id_fkey""#));
//!
//! // 2. The @easbase/sdk module: `createEasBase({ url, apiKey }).orders.findById(1)`.
//! let module = sdk::typescript(&schema, &Options::default());
//! assert!(module.contains("export function createEasBase(options: ClientOptions): Backend"));
//!
//! // 3. OpenAPI 3.1, printed with sorted keys.
//! let doc = openapi::document(&schema, &openapi::OpenApiOptions::new("Shop", "1.0.0"));
//! assert!(openapi::to_json(&doc).starts_with("{\n  \"components\": {"));
//!
//! // 4. What a dashboard lists.
//! let list = endpoints::listing(&schema, "/rest/v1");
//! assert_eq!(list[1].to_string(), "create: POST /rest/v1/customers");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Choices
//! - Types follow `supabase gen types` exactly where it has a rule: tables and columns
//!   sorted by name; numeric types are `number`, dates, uuids and `bytea` are `string`,
//!   json is `Json`; an insert may leave out a nullable column, a column with a default and
//!   an identity; a foreign key is one-to-one when its columns are the table's primary key
//!   or a unique constraint. Comments of the schema become JSDoc.
//! - The SDK's accessors are generic code in `@easbase/sdk`, typed from `Database`; the
//!   generated module adds only what the types cannot say: each table's primary key.
//! - The OpenAPI document describes EasBase's own routes (`/{table}/{key}` for one-column
//!   keys) and PostgREST's dialect; paths are relative to the server URL (`/rest/v1`).

#![forbid(unsafe_code)]

pub mod endpoints;
pub mod openapi;
pub mod sdk;
mod ts;
pub mod typescript;

/// Options of the TypeScript outputs ([`typescript::database_types`], [`sdk::typescript`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// `__InternalSupabase.PostgrestVersion`: which PostgREST features supabase-js types
    /// (default `"12"`: EasBase does not enforce `max-affected`, which `"13"` would offer).
    pub postgrest_version: String,
    /// The package the SDK module imports (default `@easbase/sdk`).
    pub sdk_package: String,
}

impl Default for Options {
    fn default() -> Self {
        Self { postgrest_version: "12".to_owned(), sdk_package: "@easbase/sdk".to_owned() }
    }
}
