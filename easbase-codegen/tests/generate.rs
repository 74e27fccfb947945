//! Snapshots of every generator on the e-commerce fixture (`UPDATE_EXPECT=1` rewrites
//! them), determinism, and the rules the outputs follow.

use easbase_codegen::openapi::{self, OpenApiOptions};
use easbase_codegen::{Options, endpoints, sdk, typescript};
use easbase_schema::{Schema, ValidSchema};
use expect_test::expect_file;

fn shop() -> ValidSchema {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/shop.json");
    Schema::from_path(path).unwrap().validate().unwrap()
}

fn schema(json: &str) -> ValidSchema {
    Schema::from_json(json).unwrap().validate().unwrap()
}

#[test]
fn database_types_snapshot() {
    expect_file!["snapshots/shop.database.types.ts"]
        .assert_eq(&typescript::database_types(&shop(), &Options::default()));
}

#[test]
fn sdk_snapshot() {
    expect_file!["snapshots/shop.sdk.ts"].assert_eq(&sdk::typescript(&shop(), &Options::default()));
}

#[test]
fn openapi_snapshot() {
    let mut options = OpenApiOptions::new("Shop", "2.1.0");
    options.server_url = "http://127.0.0.1:8080/rest/v1".into();
    options.description = Some("The shop's REST API".into());
    expect_file!["snapshots/shop.openapi.json"]
        .assert_eq(&openapi::to_json(&openapi::document(&shop(), &options)));
}

#[test]
fn endpoints_snapshot() {
    expect_file!["snapshots/shop.endpoints.txt"]
        .assert_eq(&endpoints::to_text(&endpoints::listing(&shop(), "/rest/v1/")));
}

#[test]
fn every_output_is_deterministic() {
    // Parsed twice and with the tables in another order: the same bytes.
    let a = shop();
    let mut reversed = a.source().clone();
    reversed.tables.reverse();
    reversed.enums.reverse();
    let b = reversed.validate().unwrap();
    let o = Options::default();
    assert_eq!(typescript::database_types(&a, &o), typescript::database_types(&shop(), &o));
    assert_eq!(typescript::database_types(&a, &o), typescript::database_types(&b, &o));
    assert_eq!(sdk::typescript(&a, &o), sdk::typescript(&b, &o));
    let oo = OpenApiOptions::default();
    assert_eq!(
        openapi::to_json(&openapi::document(&a, &oo)),
        openapi::to_json(&openapi::document(&shop(), &oo))
    );
    assert!(
        openapi::document(&a, &oo) == openapi::document(&b, &oo),
        "the OpenAPI document depends on the order"
    );
}

#[test]
fn insert_and_update_optionality() {
    let ts = typescript::database_types(&shop(), &Options::default());
    let insert = section(&ts, "      products: {", "        Insert: {");
    // Required without default: required; default, nullable, identity: optional.
    for line in ["sku: string", "name: string", "id?: number", "price?: number", "tags?: string[] | null"] {
        assert!(insert.contains(&format!("          {line}\n")), "{line} in {insert}");
    }
    let update = section(&ts, "      products: {", "        Update: {");
    assert!(update.lines().skip(1).take_while(|l| *l != "        }").all(|l| l.contains("?:")), "{update}");
    let row = section(&ts, "      orders: {", "        Row: {");
    assert!(row.contains("          note: string | null\n"), "{row}");
    assert!(row.contains("          status: Database[\"public\"][\"Enums\"][\"order_status\"]\n"), "{row}");
}

#[test]
fn relationships_name_the_constraints_and_one_to_one() {
    let ts = typescript::database_types(&shop(), &Options::default());
    let orders = section(&ts, "      orders: {", "        Relationships: [");
    assert!(orders.contains("foreignKeyName: \"orders_customer_id_fkey\""), "{orders}");
    assert!(orders.contains("isOneToOne: false"), "{orders}");
    assert!(orders.contains("referencedRelation: \"customers\""), "{orders}");
    assert!(orders.contains("referencedColumns: [\"id\"]"), "{orders}");
    // invoices.order_id is the primary key: one invoice per order.
    let invoices = section(&ts, "      invoices: {", "        Relationships: [");
    assert!(invoices.contains("isOneToOne: true"), "{invoices}");
    let customers = section(&ts, "      customers: {", "        Relationships:");
    assert!(customers.starts_with("        Relationships: []"), "{customers}");
}

#[test]
fn an_empty_schema_still_gives_valid_shapes() {
    let empty = schema(r#"{ "tables": [] }"#);
    let ts = typescript::database_types(&empty, &Options::default());
    assert!(ts.contains("    Tables: {\n      [_ in never]: never\n    }"), "{ts}");
    assert!(ts.contains("    Enums: {},\n"), "{ts}");
    let module = sdk::typescript(&empty, &Options::default());
    assert!(module.contains("export type PrimaryKeys = {\n  [_ in never]: never\n}"), "{module}");
    assert!(endpoints::listing(&empty, "/rest/v1").is_empty());
    assert_eq!(openapi::document(&empty, &OpenApiOptions::default())["paths"], serde_json::json!({}));
}

#[test]
fn options_change_what_they_say() {
    let mut o = Options::default();
    o.postgrest_version = "13".into();
    o.sdk_package = "./easbase-sdk.js".into();
    let module = sdk::typescript(&shop(), &o);
    assert!(module.contains("PostgrestVersion: \"13\""));
    assert!(module.contains("from \"./easbase-sdk.js\""));
}

#[test]
fn sdk_keys_are_typed_per_table() {
    let module = sdk::typescript(&shop(), &Options::default());
    assert!(module.contains("  order_items: { order_id: string; product_id: number }\n"), "{module}");
    assert!(module.contains("  products: number\n"), "{module}");
    assert!(module.contains("  order_items: [\"order_id\", \"product_id\"],\n"), "{module}");
    assert!(module.contains("export type OrderItemsInsert = TablesInsert<\"order_items\">"), "{module}");
}

#[test]
fn sdk_leaves_out_short_names_that_two_tables_share() {
    let s = schema(
        r#"{ "tables": [
          { "name": "a_b", "columns": [ { "name": "id", "type": "integer", "primary": true } ] },
          { "name": "aB", "columns": [ { "name": "id", "type": "integer", "primary": true } ] },
          { "name": "line_items", "columns": [ { "name": "id", "type": "integer", "primary": true } ] } ] }"#,
    );
    let module = sdk::typescript(&s, &Options::default());
    assert!(!module.contains("export type ABRow"), "{module}");
    assert!(module.contains("// `a_b`: no short type names"), "{module}");
    assert!(module.contains("export type LineItemsRow"), "{module}");
}

#[test]
fn sdk_usage_comment_uses_a_real_table() {
    let module = sdk::typescript(&shop(), &Options::default());
    assert!(
        module.contains("//   const rows = await backend.customers.findAll({ limit: 10 })\n"),
        "{module}"
    );
    // A table named like a client member is reached with table(name).
    let s = schema(
        r#"{ "tables": [ { "name": "auth", "columns": [ { "name": "id", "type": "integer", "primary": true } ] } ] }"#,
    );
    let module = sdk::typescript(&s, &Options::default());
    assert!(module.contains(r#"await backend.table("auth").findAll("#), "{module}");
}

#[test]
fn openapi_describes_each_table() {
    let doc = openapi::document(&shop(), &OpenApiOptions::default());
    let products = &doc["components"]["schemas"]["products"];
    assert_eq!(products["properties"]["sku"], serde_json::json!({ "type": "string", "maxLength": 32 }));
    assert_eq!(products["properties"]["tags"]["type"], serde_json::json!(["array", "null"]));
    assert_eq!(products["properties"]["id"]["format"], "int64");
    let insert = &doc["components"]["schemas"]["products.insert"];
    assert_eq!(insert["required"], serde_json::json!(["sku", "name"]));
    assert_eq!(insert["additionalProperties"], false);
    assert_eq!(insert["properties"]["price"]["default"], 0);
    let status = &doc["components"]["schemas"]["orders"]["properties"]["status"];
    assert_eq!(status["enum"][3], "it's \"cancelled\"");
    assert_eq!(doc["components"]["schemas"]["orders"]["properties"]["placed_at"]["format"], "date-time");
    // Composite keys have no /{table}/{key} route; one-column keys do, named after the column.
    assert!(doc["paths"].get("/order_items/{order_id}").is_none());
    assert!(doc["paths"]["/order_items"]["patch"].is_object());
    assert_eq!(doc["paths"]["/invoices/{order_id}"]["parameters"][0]["in"], "path");
    // Every table's columns can be filtered.
    let get = &doc["paths"]["/orders"]["get"]["parameters"];
    assert!(
        get.as_array()
            .unwrap()
            .iter()
            .any(|p| p["$ref"] == "#/components/parameters/rowFilter.orders.status")
    );
    assert_eq!(doc["components"]["securitySchemes"]["apikey"]["name"], "apikey");
    assert_eq!(doc["servers"][0]["url"], "/rest/v1");
}

#[test]
fn openapi_has_no_filter_for_a_column_named_like_a_reserved_parameter() {
    let s = schema(
        r#"{ "tables": [ { "name": "t", "columns": [
          { "name": "id", "type": "integer", "primary": true },
          { "name": "columns", "type": "text" }, { "name": "on_conflict", "type": "text" } ] } ] }"#,
    );
    let doc = openapi::document(&s, &OpenApiOptions::default());
    let names: Vec<&str> = doc["paths"]["/t"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["$ref"].as_str()?.strip_prefix("#/components/parameters/rowFilter."))
        .collect();
    assert_eq!(names, ["t.id"]);
    assert!(doc["components"]["parameters"].get("rowFilter.t.columns").is_none());
    // The columns are still in the row's schema.
    assert!(doc["components"]["schemas"]["t"]["properties"]["on_conflict"].is_object());
}

#[test]
fn openapi_operation_ids_are_unique() {
    let doc = openapi::document(&shop(), &OpenApiOptions::default());
    let mut ids = Vec::new();
    for (_, item) in doc["paths"].as_object().unwrap() {
        for (_, op) in item.as_object().unwrap() {
            if let Some(id) = op.get("operationId") {
                ids.push(id.as_str().unwrap().to_owned());
            }
        }
    }
    let count = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), count);
    assert_eq!(count, 5 * 4 + 4 * 4);
}

#[test]
fn endpoints_for_composite_keys_use_filters() {
    let list = endpoints::listing(&shop(), "http://localhost:8080/rest/v1");
    let items: Vec<String> =
        list.iter().filter(|e| e.table == "order_items").map(ToString::to_string).collect();
    assert_eq!(
        items[3],
        "update: PATCH http://localhost:8080/rest/v1/order_items?order_id=eq.{order_id}&product_id=eq.{product_id}"
    );
    // In the order the file declares them.
    let tables: Vec<&str> = list.iter().step_by(5).map(|e| e.table.as_str()).collect();
    assert_eq!(tables, ["customers", "products", "orders", "order_items", "invoices"]);
}

/// From the line `start` to the end of the block that opens at `inner` after it.
fn section<'a>(text: &'a str, start: &str, inner: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("no {start}"));
    let rest = &text[from..];
    let at = rest.find(inner).unwrap_or_else(|| panic!("no {inner} after {start}"));
    let rest = &rest[at..];
    let end = rest.find("\n        }\n").or_else(|| rest.find("\n        ]\n")).unwrap_or(rest.len());
    &rest[..end + 1]
}
