//! The quickstart: compile the seed's `products` table and print its SQL for each dialect.
//!
//! ```text
//! cargo run -p example-quickstart
//! ```
//!
//! It reads `examples/quickstart/products.json` (or the file given as the first argument),
//! validates it, and prints the DDL for PostgreSQL (with row-level security), SQLite and
//! MySQL. No database server is needed.

use easbase_schema::{Dialect, Schema, ddl};

const PRODUCTS: &str = include_str!("../products.json");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let schema = match std::env::args().nth(1) {
        Some(path) => Schema::from_path(path)?,
        None => Schema::from_json(PRODUCTS)?,
    };
    let valid = match schema.validate() {
        Ok(v) => v,
        Err(errors) => {
            eprintln!("{errors}");
            std::process::exit(1);
        }
    };
    for dialect in Dialect::ALL {
        println!("-- {dialect}");
        match ddl::generate(&valid, dialect, &ddl::DdlOptions::default()) {
            Ok(ddl) => println!("{}", ddl.to_sql()),
            Err(errors) => println!(
                "-- not representable on {dialect}:\n-- {}\n",
                errors.to_string().replace('\n', "\n-- ")
            ),
        }
    }
    Ok(())
}
