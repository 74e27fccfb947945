//! Step 6: an app integrates over real HTTP, as supabase-js would: the catalogue is
//! filled with the secret key, two shoppers sign up and sign in, one creates, reads,
//! updates and deletes her orders, and the other can neither see nor change them.

use easbase_cli::client::{Client, Response};
use serde_json::{Value, json};

use crate::report::{Failure, expect, expect_status, line};

/// The project's keys.
pub(crate) struct Keys<'a> {
    pub(crate) publishable: &'a str,
    pub(crate) secret: &'a str,
}

/// A signed-in shopper.
struct Shopper {
    name: &'static str,
    id: String,
    token: String,
}

const PASSWORD_ALICE: &str = "alice-correct-horse-battery";
const PASSWORD_BOB: &str = "bob-staple-gun-orbit";

/// Runs the integration; the first expectation that does not hold stops it.
pub(crate) async fn run(client: &Client, keys: &Keys<'_>) -> Result<(), Failure> {
    line("the shop fills its catalogue (secret key, server side):");
    let products = json!([
        { "name": "Mechanical keyboard", "price": 89.90, "stock": 12 },
        { "name": "Wireless mouse", "price": 24.50, "stock": 40 },
        { "name": "27\" monitor", "price": 219.00, "stock": 5 }
    ]);
    let res = client
        .post("/rest/v1/products")
        .apikey(keys.secret)
        .prefer("return=representation")
        .json(&products)
        .send()
        .await?;
    let created = expect_status("POST /rest/v1/products", &res, &[201])?;
    let ids: Vec<i64> = rows(&created).iter().filter_map(|p| p["id"].as_i64()).collect();
    expect(ids.len() == 3, format!("3 products created, got {created}"))?;
    let anon = client
        .post("/rest/v1/products")
        .apikey(keys.publishable)
        .json(&json!({ "name": "Free lunch", "price": 0 }))
        .send()
        .await?;
    expect_status("POST /rest/v1/products with the publishable key is refused", &anon, &[401, 403])?;
    let res =
        client.get("/rest/v1/products?select=name,price&order=id").apikey(keys.publishable).send().await?;
    let listed = expect_status("GET /rest/v1/products (anyone may read the catalogue)", &res, &[200])?;
    expect(rows(&listed).len() == 3, "anonymous visitors see the 3 products")?;

    println!();
    line("Alice signs up and signs in (email + password):");
    let alice = shopper(client, keys, "alice", "alice@shop.example", PASSWORD_ALICE).await?;
    let wrong = client
        .post("/auth/v1/token?grant_type=password")
        .apikey(keys.publishable)
        .json(&json!({ "email": "alice@shop.example", "password": "not her password" }))
        .send()
        .await?;
    expect_status("POST /auth/v1/token with a wrong password is refused", &wrong, &[400])?;

    println!();
    line("Alice creates, reads, updates and deletes her rows:");
    let me = send(
        client,
        keys,
        &alice,
        "POST",
        "/rest/v1/customers",
        Some(json!({
            "full_name": "Alice Martin", "shipping_address": "12 Rue des Lilas, Lyon"
        })),
    )
    .await?;
    let me = expect_status("POST /rest/v1/customers (her customer row)", &me, &[201])?;
    expect(rows(&me)[0]["id"] == alice.id.as_str(), "the customer row's id is Alice's user id (auth.uid)")?;
    let orders = json!([
        { "product_id": ids[0], "quantity": 1 },
        { "product_id": ids[1], "quantity": 2 }
    ]);
    let res = send(client, keys, &alice, "POST", "/rest/v1/orders", Some(orders)).await?;
    let placed = expect_status("POST /rest/v1/orders (two orders)", &res, &[201])?;
    let order_ids: Vec<i64> = rows(&placed).iter().filter_map(|o| o["id"].as_i64()).collect();
    expect(order_ids.len() == 2, "two orders placed")?;
    expect(
        rows(&placed).iter().all(|o| o["customer_id"] == alice.id.as_str() && o["status"] == "pending"),
        "orders belong to Alice and start as pending",
    )?;
    let (first, second) = (order_ids[0], order_ids[1]);
    let path = "/rest/v1/orders?select=id,quantity,status,product:products(name,price)&order=id";
    let res = send(client, keys, &alice, "GET", path, None).await?;
    let mine = expect_status("GET /rest/v1/orders with each order's product", &res, &[200])?;
    expect(
        rows(&mine).len() == 2 && rows(&mine)[0]["product"]["name"] == "Mechanical keyboard",
        format!("Alice reads her 2 orders with their products, got {mine}"),
    )?;
    let res = send(
        client,
        keys,
        &alice,
        "PATCH",
        &format!("/rest/v1/orders?id=eq.{first}"),
        Some(json!({ "quantity": 3, "status": "paid" })),
    )
    .await?;
    let updated =
        expect_status(&format!("PATCH /rest/v1/orders?id=eq.{first} (quantity 3, paid)"), &res, &[200])?;
    expect(rows(&updated).len() == 1 && rows(&updated)[0]["quantity"] == 3, "the order was updated")?;
    let res = send(client, keys, &alice, "DELETE", &format!("/rest/v1/orders?id=eq.{second}"), None).await?;
    let deleted = expect_status(&format!("DELETE /rest/v1/orders?id=eq.{second}"), &res, &[200])?;
    expect(rows(&deleted).len() == 1, "one order deleted")?;
    let res = send(
        client,
        keys,
        &alice,
        "POST",
        "/rest/v1/orders",
        Some(json!({ "product_id": ids[2], "quantity": 0 })),
    )
    .await?;
    let refused = expect_status("POST /rest/v1/orders with quantity 0 breaks the check", &res, &[400])?;
    expect(refused["code"] == "23514", format!("a check violation (23514), got {refused}"))?;

    println!();
    line("Bob signs up: Alice's orders are not his to see or change:");
    let bob = shopper(client, keys, "bob", "bob@shop.example", PASSWORD_BOB).await?;
    let res = send(client, keys, &bob, "GET", "/rest/v1/orders", None).await?;
    let seen = expect_status("GET /rest/v1/orders as Bob", &res, &[200])?;
    expect(rows(&seen).is_empty(), format!("Bob sees none of Alice's orders, got {seen}"))?;
    let res = send(client, keys, &bob, "GET", "/rest/v1/customers", None).await?;
    let seen = expect_status("GET /rest/v1/customers as Bob", &res, &[200])?;
    expect(rows(&seen).is_empty(), format!("Bob does not see Alice's address, got {seen}"))?;
    let path = format!("/rest/v1/orders?id=eq.{first}");
    let res = send(client, keys, &bob, "PATCH", &path, Some(json!({ "quantity": 99 }))).await?;
    let changed = expect_status(&format!("PATCH {path} as Bob changes nothing"), &res, &[200])?;
    expect(rows(&changed).is_empty(), format!("Bob's update touched no row, got {changed}"))?;
    let res = send(client, keys, &bob, "DELETE", &path, None).await?;
    let gone = expect_status(&format!("DELETE {path} as Bob deletes nothing"), &res, &[200])?;
    expect(rows(&gone).is_empty(), format!("Bob's delete touched no row, got {gone}"))?;
    let res = send(
        client,
        keys,
        &bob,
        "POST",
        "/rest/v1/orders",
        Some(json!({ "customer_id": alice.id, "product_id": ids[0], "quantity": 5 })),
    )
    .await?;
    expect_status("POST /rest/v1/orders in Alice's name as Bob is refused", &res, &[403])?;
    let res = client.get("/rest/v1/orders").apikey(keys.publishable).send().await?;
    let seen = expect_status("GET /rest/v1/orders without signing in", &res, &[200])?;
    expect(rows(&seen).is_empty(), "anonymous visitors see no orders")?;

    println!();
    line("Alice checks her order is intact (by its key, /orders/{id}):");
    let path = format!("/rest/v1/orders/{first}?select=quantity,status");
    let res = send(client, keys, &alice, "GET", &path, None).await?;
    let intact = expect_status(&format!("GET {path} as Alice"), &res, &[200])?;
    expect(intact == json!({ "quantity": 3, "status": "paid" }), format!("unchanged by Bob, got {intact}"))?;
    let res = send(client, keys, &bob, "GET", &path, None).await?;
    // The row route answers one object, or 404 when the row is not the caller's to see.
    let seen = expect_status(&format!("GET {path} as Bob"), &res, &[404])?;
    expect(seen["code"] == "PGRST116", format!("Bob cannot read it by its key either, got {seen}"))?;
    Ok(())
}

/// Signs a shopper up, then in.
async fn shopper(
    client: &Client,
    keys: &Keys<'_>,
    name: &'static str,
    email: &str,
    password: &str,
) -> Result<Shopper, Failure> {
    let body = json!({ "email": email, "password": password });
    let res = client.post("/auth/v1/signup").apikey(keys.publishable).json(&body).send().await?;
    let signed_up = expect_status(&format!("POST /auth/v1/signup ({email})"), &res, &[200])?;
    let res =
        client.post("/auth/v1/token?grant_type=password").apikey(keys.publishable).json(&body).send().await?;
    let session = expect_status(&format!("POST /auth/v1/token?grant_type=password ({email})"), &res, &[200])?;
    let id = session["user"]["id"].as_str().ok_or("a session names its user")?.to_owned();
    expect(signed_up["user"]["id"] == id.as_str(), "sign-in finds the user who signed up")?;
    let token = session["access_token"].as_str().ok_or("a session has an access token")?.to_owned();
    Ok(Shopper { name, id, token })
}

/// A REST call as a signed-in shopper (`return=representation` on writes).
async fn send(
    client: &Client,
    keys: &Keys<'_>,
    who: &Shopper,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<Response, Failure> {
    let method: easbase_cli::client::Method =
        method.parse().map_err(|_| Failure(format!("{} used a bad method {method}", who.name)))?;
    let mut call = client.request(method, path).apikey(keys.publishable).bearer(&who.token);
    if let Some(body) = body {
        call = call.prefer("return=representation").json(&body);
    } else {
        call = call.prefer("return=representation");
    }
    Ok(call.send().await?)
}

/// The rows of an array body (empty for anything else).
fn rows(body: &Value) -> &[Value] {
    body.as_array().map_or(&[], Vec::as_slice)
}
