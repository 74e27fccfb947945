//! The REST engine end to end, in process through `RestService::handle`: one table of
//! cases run on SQLite (in-memory platform), on PostgreSQL (`EASBASE_PG_URL`, default
//! `host=127.0.0.1 user=postgres dbname=postgres`) and on MariaDB / MySQL
//! (`EASBASE_MYSQL_URL`, default `mysql://root@127.0.0.1:3306`), which must give the same
//! results (or, where an engine cannot, refuse with `EB203` naming it).

use bytes::Bytes;
use easbase_core::db::Db;
use easbase_core::project::{CreateProject, Platform, PlatformConfig};
use easbase_core::schema::Schema;
use easbase_rest::{RestConfig, RestService};
use http::{HeaderMap, Method, Request, StatusCode};
use serde_json::{Value, json};

const A: &str = "a0000000-0000-4000-8000-00000000000a";
const B: &str = "b0000000-0000-4000-8000-00000000000b";

fn schema() -> Schema {
    Schema::from_json(
        r#"{ "tables": [
          { "name": "products", "columns": [
              { "name": "id", "type": "integer", "primary": true },
              { "name": "name", "type": "text", "required": true },
              { "name": "price", "type": "decimal" },
              { "name": "in_stock", "type": "boolean" },
              { "name": "meta", "type": "jsonb" },
              { "name": "category", "type": "text" } ],
            "policies": {
              "select": [ { "roles": ["anon", "authenticated"], "using": "id > 0" } ],
              "insert": [ { "roles": ["authenticated"], "check": "id > 0" } ],
              "update": [ { "roles": ["authenticated"], "using": "id > 0" } ],
              "delete": [ { "roles": ["authenticated"], "using": "id > 0" } ] } },
          { "name": "notes", "columns": [
              { "name": "id", "type": "identity", "primary": true },
              { "name": "owner_id", "type": "uuid", "default": "auth.uid" },
              { "name": "title", "type": "text", "required": true },
              { "name": "published", "type": "boolean", "required": true, "default": false } ],
            "policies": {
              "select": [
                { "roles": ["anon", "authenticated"], "using": "published = true" },
                { "roles": ["authenticated"], "using": "owner_id = auth.uid" } ],
              "insert": "owner_id = auth.uid",
              "update": "owner_id = auth.uid",
              "delete": "owner_id = auth.uid" } },
          { "name": "reviews", "columns": [
              { "name": "id", "type": "integer", "primary": true },
              { "name": "product_id", "type": "integer", "required": true, "references": "products.id" },
              { "name": "stars", "type": "integer", "required": true },
              { "name": "verified", "type": "boolean" } ],
            "policies": { "select": [ { "roles": ["anon", "authenticated"], "using": "stars > 0" } ] } },
          { "name": "tags", "columns": [
              { "name": "id", "type": "integer", "primary": true },
              { "name": "label", "type": "text", "required": true } ],
            "policies": { "select": [ { "roles": ["anon", "authenticated"], "using": "id > 0" } ] } },
          { "name": "product_tags", "primary_key": ["product_id", "tag_id"], "columns": [
              { "name": "product_id", "type": "integer", "required": true, "references": "products.id" },
              { "name": "tag_id", "type": "integer", "required": true, "references": "tags.id" },
              { "name": "hidden", "type": "boolean", "required": true, "default": false } ],
            "policies": { "select": [ { "roles": ["anon", "authenticated"], "using": "hidden = false" } ] } },
          { "name": "secrets", "columns": [ { "name": "id", "type": "integer", "primary": true } ] },
          { "name": "events", "columns": [
              { "name": "id", "type": "integer", "primary": true },
              { "name": "at", "type": "timestamptz" },
              { "name": "local", "type": "timestamp" } ],
            "policies": { "select": [ { "roles": ["anon"], "using": "id > 0" } ] } },
          { "name": "labels", "columns": [
              { "name": "id", "type": "uuid", "primary": true, "default": "gen_random_uuid()" },
              { "name": "name", "type": "text", "required": true } ],
            "policies": { "insert": [ { "roles": ["authenticated"], "check": "name <> 'bad'" } ],
                          "select": [ { "roles": ["authenticated"], "using": "true" } ] } },
          { "name": "singletons", "columns": [
              { "name": "id", "type": "integer", "primary": true, "default": 1 },
              { "name": "note", "type": "text" } ] },
          { "name": "members", "columns": [
              { "name": "id", "type": "uuid", "primary": true, "default": "auth.uid" },
              { "name": "username", "type": "text", "required": true } ],
            "policies": { "select": [ { "roles": ["anon", "authenticated"], "using": "true" } ],
                          "insert": [ { "roles": ["authenticated"], "check": "id = auth.uid" } ] } }
        ] }"#,
    )
    .unwrap()
}

/// Who sends a request.
#[derive(Clone, Copy)]
enum Who {
    Anon,
    Service,
    User(&'static str),
    NoKey,
    BadKey,
}

struct Env {
    svc: RestService,
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    platform: Platform,
    publishable: String,
    secret: String,
    jwt_secret: String,
    /// Whether the project runs on PostgreSQL (some features are PostgreSQL-only).
    pg: bool,
    /// The engine's name as `EB203` refusals give it.
    engine: &'static str,
    /// PostgreSQL: the platform schema to drop at the end.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pg_schema: Option<String>,
}

struct Res {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Res {
    fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
    fn ids(&self) -> Vec<i64> {
        self.body
            .as_array()
            .unwrap_or_else(|| panic!("not an array: {}", self.body))
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect()
    }
}

impl Env {
    async fn new(platform: Platform, pg_schema: Option<String>, config: RestConfig) -> Env {
        let engine = match platform.db().dialect() {
            easbase_core::schema::Dialect::Postgres => "PostgreSQL",
            easbase_core::schema::Dialect::Sqlite => "SQLite",
            easbase_core::schema::Dialect::Mysql => "MySQL/MariaDB",
        };
        let created = platform
            .create_project("owner", "Shop", CreateProject { schema: Some(schema()), ..Default::default() })
            .await
            .unwrap();
        let keys = created.keys.clone().unwrap();
        let jwt_secret = platform.jwt_secret(&created.project.id).await.unwrap();
        Env {
            svc: RestService::new(platform.clone(), config),
            platform,
            publishable: keys.publishable.secret,
            secret: keys.secret.secret,
            jwt_secret,
            pg: pg_schema.is_some(),
            engine,
            pg_schema,
        }
    }

    /// The same project behind a service with another configuration.
    fn with_config(&self, config: RestConfig) -> Env {
        Env {
            svc: RestService::new(self.platform.clone(), config),
            platform: self.platform.clone(),
            publishable: self.publishable.clone(),
            secret: self.secret.clone(),
            jwt_secret: self.jwt_secret.clone(),
            pg: self.pg,
            engine: self.engine,
            pg_schema: None,
        }
    }

    fn token(&self, sub: &str) -> String {
        let claims =
            json!({ "sub": sub, "role": "authenticated", "aud": "authenticated", "exp": 4_000_000_000u64 });
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(self.jwt_secret.as_bytes()),
        )
        .unwrap()
    }

    async fn send(&self, who: Who, method: Method, uri: &str, body: &str, headers: &[(&str, &str)]) -> Res {
        // Percent-encode what a URI cannot carry as is, as a client would.
        let uri: String = uri
            .chars()
            .map(|c| match c {
                ' ' => "%20".to_owned(),
                '"' => "%22".to_owned(),
                '\'' => "%27".to_owned(),
                '{' => "%7B".to_owned(),
                '}' => "%7D".to_owned(),
                '>' => "%3E".to_owned(),
                '<' => "%3C".to_owned(),
                '^' => "%5E".to_owned(),
                '|' => "%7C".to_owned(),
                '[' => "%5B".to_owned(),
                ']' => "%5D".to_owned(),
                '\\' => "%5C".to_owned(),
                c => c.to_string(),
            })
            .collect();
        let mut b = Request::builder().method(method).uri(format!("http://h{uri}"));
        match who {
            Who::Anon => b = b.header("apikey", &self.publishable),
            Who::Service => b = b.header("apikey", &self.secret),
            Who::User(uid) => {
                b = b
                    .header("apikey", &self.publishable)
                    .header("authorization", format!("Bearer {}", self.token(uid)))
            }
            Who::NoKey => {}
            Who::BadKey => b = b.header("apikey", "eb_pk_notakeyatall"),
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let res = self.svc.handle(b.body(Bytes::from(body.to_owned())).unwrap()).await;
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Res { status, headers, body }
    }

    /// A GET with raw credentials.
    async fn get_as(&self, apikey: Option<&str>, bearer: Option<&str>, uri: &str) -> Res {
        let mut b = Request::builder().uri(uri);
        if let Some(k) = apikey {
            b = b.header("apikey", k);
        }
        if let Some(t) = bearer {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        let res = self.svc.handle(b.body(Bytes::new()).unwrap()).await;
        let status = res.status();
        let headers = res.headers().clone();
        let body = serde_json::from_slice(res.body()).unwrap_or(Value::Null);
        Res { status, headers, body }
    }

    async fn get(&self, who: Who, uri: &str) -> Res {
        self.send(who, Method::GET, uri, "", &[]).await
    }
}

const REPR: (&str, &str) = ("prefer", "return=representation");
const COUNT: (&str, &str) = ("prefer", "count=exact");

async fn seed_products(env: &Env) {
    let rows = r#"[
        {"id": 1, "name": "apple", "price": 1.5, "in_stock": true, "meta": {"c": "red"}, "category": "fruit"},
        {"id": 2, "name": "banana", "price": 0.25, "in_stock": false, "meta": null, "category": "fruit"},
        {"id": 3, "name": "carrot", "price": 0.75, "in_stock": true, "meta": [1, 2], "category": "veg"},
        {"id": 4, "name": "Durian", "price": 12, "in_stock": null, "meta": null, "category": "fruit"},
        {"id": 5, "name": "eggplant", "price": null, "in_stock": false, "meta": null, "category": "veg"}
    ]"#;
    let r = env.send(Who::Service, Method::POST, "/products", rows, &[REPR]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.ids(), [1, 2, 3, 4, 5]);
}

/// Reads: select, filters, order, ranges, counts, types, single objects.
async fn reads(env: &Env) {
    seed_products(env).await;
    let r = env.get(Who::Anon, "/products?select=id,label:name&order=id.asc").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-range"), "0-4/*");
    assert_eq!(r.body[0], json!({"id": 1, "label": "apple"}));

    // Types: numbers, booleans (0/1 on SQLite), JSON embedded, nulls.
    let r = env.get(Who::Anon, "/products?id=eq.1").await;
    assert_eq!(
        r.body,
        json!([{"id": 1, "name": "apple", "price": 1.5, "in_stock": true, "meta": {"c": "red"}, "category": "fruit"}])
    );
    assert_eq!(env.get(Who::Anon, "/products?id=eq.3&select=meta").await.body, json!([{"meta": [1, 2]}]));

    let cases: &[(&str, &[i64])] = &[
        ("name=eq.apple", &[1]),
        ("name=neq.apple", &[2, 3, 4, 5]),
        ("price=gt.0.5", &[1, 3, 4]),
        ("price=gte.0.75", &[1, 3, 4]),
        ("price=lt.1", &[2, 3]),
        ("price=lte.0.25", &[2]),
        ("in_stock=is.true", &[1, 3]),
        ("in_stock=is.false", &[2, 5]),
        ("in_stock=is.null", &[4]),
        ("price=not.is.null", &[1, 2, 3, 4]),
        ("in_stock=eq.true", &[1, 3]),
        ("id=in.(1,3,99)", &[1, 3]),
        ("id=not.in.(1,3)", &[2, 4, 5]),
        ("name=like.*an*", &[2, 4, 5]),
        ("name=like.d*", &[]),
        ("name=ilike.d*", &[4]),
        ("name=not.ilike.*a*", &[]),
        ("id=not.eq.1", &[2, 3, 4, 5]),
        ("or=(id.eq.1,name.eq.carrot)", &[1, 3]),
        ("or=(and(in_stock.is.true,price.lt.1),id.eq.5)", &[3, 5]),
        ("not.or=(id.lt.3,id.gt.4)", &[3, 4]),
        ("category=eq.fruit&price=gt.1", &[1, 4]),
        ("and=(category.eq.veg,or(id.eq.3,id.eq.4))", &[3]),
        ("name=eq.x' or '1'='1", &[]),
        ("name=eq(any).{apple,carrot}", &[1, 3]),
        ("id=gt(all).{1,3}", &[4, 5]),
        ("name=like(any).{a*,*t}", &[1, 3, 5]),
        ("name=ilike(all).{*a*,*n*}", &[2, 4, 5]),
        ("id=eq(any).{}", &[]),
        ("id=not.eq(any).{1,2}", &[3, 4, 5]),
        ("in_stock=isdistinct.true", &[2, 4, 5]),
        ("price=not.isdistinct.0.25", &[2]),
    ];
    for (q, want) in cases {
        let r = env.get(Who::Anon, &format!("/products?select=id&order=id&{q}")).await;
        assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.body);
        assert_eq!(r.ids(), *want, "{q}");
    }

    let orders: &[(&str, &[i64])] = &[
        ("price.desc", &[5, 4, 1, 3, 2]),
        ("price.desc.nullslast", &[4, 1, 3, 2, 5]),
        ("price.asc", &[2, 3, 1, 4, 5]),
        ("price.asc.nullsfirst", &[5, 2, 3, 1, 4]),
        ("category.desc,id.desc", &[5, 3, 4, 2, 1]),
    ];
    for (o, want) in orders {
        let r = env.get(Who::Anon, &format!("/products?select=id&order={o}")).await;
        assert_eq!(r.ids(), *want, "order={o}");
    }

    // Ranges and counts.
    let r =
        env.send(Who::Anon, Method::GET, "/products?select=id&order=id&limit=2&offset=1", "", &[COUNT]).await;
    assert_eq!((r.status, r.header("content-range")), (StatusCode::PARTIAL_CONTENT, "1-2/5"));
    assert_eq!(r.ids(), [2, 3]);
    let r = env
        .send(Who::Anon, Method::GET, "/products?select=id&order=id", "", &[COUNT, ("range", "0-1")])
        .await;
    assert_eq!((r.status, r.header("content-range")), (StatusCode::PARTIAL_CONTENT, "0-1/5"));
    let r = env.send(Who::Anon, Method::GET, "/products?select=id&limit=10", "", &[COUNT]).await;
    assert_eq!((r.status, r.header("content-range")), (StatusCode::OK, "0-4/5"));
    let r = env.send(Who::Anon, Method::GET, "/products?select=id&offset=10", "", &[COUNT]).await;
    assert_eq!((r.status, r.code()), (StatusCode::RANGE_NOT_SATISFIABLE, "PGRST103"));
    let r = env.send(Who::Anon, Method::GET, "/products?id=eq.99", "", &[COUNT]).await;
    assert_eq!((r.status, r.header("content-range"), r.body.clone()), (StatusCode::OK, "*/0", json!([])));
    let r = env.get(Who::Anon, "/products?id=eq.99").await;
    assert_eq!(r.header("content-range"), "*/*");

    // Single object.
    let object = ("accept", "application/vnd.pgrst.object+json");
    let r = env.send(Who::Anon, Method::GET, "/products?select=id,name&id=eq.2", "", &[object]).await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::OK, json!({"id": 2, "name": "banana"})));
    let r = env.send(Who::Anon, Method::GET, "/products?select=id", "", &[object]).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_ACCEPTABLE, "PGRST116"));
    assert_eq!(r.body["details"], "The result contains 5 rows");
    let r = env.send(Who::Anon, Method::GET, "/products?id=eq.99", "", &[object]).await;
    assert_eq!(r.body["details"], "The result contains 0 rows");

    // The row route: one object; 404 when there is no such row or a policy hides it.
    let r = env.get(Who::Anon, "/products/3?select=name").await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::OK, json!({"name": "carrot"})));
    for uri in ["/products/99", "/products/-1"] {
        let r = env.get(Who::Anon, uri).await;
        assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "PGRST116"), "{uri}: {}", r.body);
        assert_eq!(r.body["details"], "The result contains 0 rows");
        assert_eq!(r.body["message"], "JSON object requested, multiple (or no) rows returned");
    }
    let r = env.send(Who::Service, Method::POST, "/products", r#"{"id": -1, "name": "hidden"}"#, &[]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = env.get(Who::Anon, "/products/-1").await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "PGRST116"), "the policy hides it");
    assert_eq!(env.get(Who::Service, "/products/-1?select=id").await.body, json!({"id": -1}));
    let r = env.send(Who::Anon, Method::GET, "/products/3?select=id", "", &[("accept", "text/csv")]).await;
    assert_eq!(r.body, json!("id\n3"));
    let r = env.send(Who::Service, Method::DELETE, "/products/-1", "", &[]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);

    // CSV.
    let r = env
        .send(
            Who::Anon,
            Method::GET,
            "/products?select=id,name&order=id&limit=2",
            "",
            &[("accept", "text/csv")],
        )
        .await;
    assert_eq!(r.body, json!("id,name\n1,apple\n2,banana"));
}

/// Embedded resources through foreign keys, both directions, under the child's policies.
async fn embedding(env: &Env) {
    seed_products(env).await;
    let reviews = r#"[
        {"id": 1, "product_id": 1, "stars": 5, "verified": true},
        {"id": 2, "product_id": 1, "stars": 3, "verified": false},
        {"id": 3, "product_id": 2, "stars": 0, "verified": null},
        {"id": 4, "product_id": 3, "stars": 4, "verified": true}
    ]"#;
    let r = env.send(Who::Service, Method::POST, "/reviews", reviews, &[]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // One-to-many: an array, the child's policy applied (stars = 0 is hidden from anon).
    let r = env.get(Who::Anon, "/products?select=id,reviews(stars,ok:verified)&id=lte.3&order=id").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body,
        json!([
            {"id": 1, "reviews": [{"stars": 5, "ok": true}, {"stars": 3, "ok": false}]},
            {"id": 2, "reviews": []},
            {"id": 3, "reviews": [{"stars": 4, "ok": true}]}
        ])
    );
    let r = env.get(Who::Service, "/products?select=id,reviews(id)&id=eq.2").await;
    assert_eq!(r.body, json!([{"id": 2, "reviews": [{"id": 3}]}]));
    // Many-to-one: an object, with an alias; types as at the top level.
    let r = env.get(Who::Anon, "/reviews?select=id,product:products(name,price,meta)&order=id").await;
    assert_eq!(
        r.body,
        json!([
            {"id": 1, "product": {"name": "apple", "price": 1.5, "meta": {"c": "red"}}},
            {"id": 2, "product": {"name": "apple", "price": 1.5, "meta": {"c": "red"}}},
            {"id": 4, "product": {"name": "carrot", "price": 0.75, "meta": [1, 2]}}
        ])
    );
    // !inner drops parents without a visible child, in the rows and in the count.
    let r = env
        .send(Who::Anon, Method::GET, "/products?select=id,reviews!inner(id)&order=id", "", &[COUNT])
        .await;
    assert_eq!((r.ids(), r.header("content-range")), (vec![1, 3], "0-1/2"));
    // Filters, order and limits on the embedded resource; with !inner they filter parents.
    let r = env
        .get(
            Who::Anon,
            "/products?select=id,reviews(stars)&reviews.stars=lt.5&reviews.order=stars.asc&id=lte.2&order=id",
        )
        .await;
    assert_eq!(r.body, json!([{"id": 1, "reviews": [{"stars": 3}]}, {"id": 2, "reviews": []}]));
    let r = env.get(Who::Anon, "/products?select=id,r:reviews(id)&r.order=id.desc&r.limit=1&id=eq.1").await;
    assert_eq!(r.body, json!([{"id": 1, "r": [{"id": 2}]}]));
    let r = env
        .get(
            Who::Anon,
            "/products?select=id,reviews!inner(id)&reviews.or=(verified.is.false,stars.eq.4)&order=id",
        )
        .await;
    assert_eq!(r.body, json!([{"id": 1, "reviews": [{"id": 2}]}, {"id": 3, "reviews": [{"id": 4}]}]));
    // Many-to-many through a junction table, under the junction's policy (hidden links).
    let tags = r#"[{"id": 1, "label": "sweet"}, {"id": 2, "label": "green"}, {"id": 3, "label": "rare"}]"#;
    assert_eq!(env.send(Who::Service, Method::POST, "/tags", tags, &[]).await.status, StatusCode::CREATED);
    let links = r#"[{"product_id": 1, "tag_id": 1, "hidden": false}, {"product_id": 1, "tag_id": 3, "hidden": true},
        {"product_id": 3, "tag_id": 2, "hidden": false}, {"product_id": 4, "tag_id": 1, "hidden": false}]"#;
    let r = env.send(Who::Service, Method::POST, "/product_tags", links, &[]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = env.get(Who::Anon, "/products?select=id,tags(label)&id=lte.3&order=id").await;
    assert_eq!(
        r.body,
        json!([{"id": 1, "tags": [{"label": "sweet"}]}, {"id": 2, "tags": []}, {"id": 3, "tags": [{"label": "green"}]}])
    );
    let r = env.get(Who::Service, "/tags?select=label,products!inner(id)&order=id").await;
    assert_eq!(
        r.body,
        json!([{"label": "sweet", "products": [{"id": 1}, {"id": 4}]}, {"label": "green", "products": [{"id": 3}]},
               {"label": "rare", "products": [{"id": 1}]}])
    );
    // A hint by the foreign key's column.
    let r = env.get(Who::Anon, "/reviews?select=id,products!product_id(id)&id=eq.4").await;
    assert_eq!(r.body, json!([{"id": 4, "products": {"id": 3}}]));
}

async fn seed_reviews_and_tags(env: &Env) {
    let reviews = r#"[
        {"id": 1, "product_id": 1, "stars": 5, "verified": true},
        {"id": 2, "product_id": 1, "stars": 3, "verified": false},
        {"id": 3, "product_id": 2, "stars": 0, "verified": null},
        {"id": 4, "product_id": 3, "stars": 4, "verified": true}
    ]"#;
    let r = env.send(Who::Service, Method::POST, "/reviews", reviews, &[]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let tags = r#"[{"id": 1, "label": "sweet"}, {"id": 2, "label": "green"}, {"id": 3, "label": "rare"}]"#;
    assert_eq!(env.send(Who::Service, Method::POST, "/tags", tags, &[]).await.status, StatusCode::CREATED);
    let links = r#"[{"product_id": 1, "tag_id": 1, "hidden": false}, {"product_id": 1, "tag_id": 3, "hidden": true},
        {"product_id": 3, "tag_id": 2, "hidden": false}, {"product_id": 4, "tag_id": 1, "hidden": false}]"#;
    let r = env.send(Who::Service, Method::POST, "/product_tags", links, &[]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

/// Nested embeds (filters, orders, windows and `!inner` at any level, each table under its
/// own policies), spreads, related orders, and embeds in the answer of a write.
async fn nesting(env: &Env) {
    seed_products(env).await;
    seed_reviews_and_tags(env).await;
    let anon = Who::Anon;
    // Two levels down, through a to-one then a many-to-many; anon sees neither the 0-star
    // review nor the hidden tag link.
    let r = env.get(anon, "/reviews?select=id,products(name,tags(label))&order=id").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body,
        json!([
            {"id": 1, "products": {"name": "apple", "tags": [{"label": "sweet"}]}},
            {"id": 2, "products": {"name": "apple", "tags": [{"label": "sweet"}]}},
            {"id": 4, "products": {"name": "carrot", "tags": [{"label": "green"}]}}
        ])
    );
    // Three levels, with a filter, an order and a limit on the deepest one.
    let r = env
        .get(
            anon,
            "/products?select=id,reviews(id,p:products(id,reviews(stars)))&id=eq.1\
             &reviews.p.reviews.stars=gt.1&reviews.p.reviews.order=stars.asc&reviews.p.reviews.limit=1",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let deep = json!({"id": 1, "reviews": [{"stars": 3}]});
    assert_eq!(r.body, json!([{"id": 1, "reviews": [{"id": 1, "p": deep}, {"id": 2, "p": deep}]}]));
    // `!inner` below the root drops the embedded rows without a match, not the parents.
    let r = env
        .get(
            anon,
            "/products?select=id,reviews(id,products!inner(id,tags!inner(label)))&id=lte.3&order=id\
             &reviews.products.tags.label=eq.green",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body,
        json!([
            {"id": 1, "reviews": []},
            {"id": 2, "reviews": []},
            {"id": 3, "reviews": [{"id": 4, "products": {"id": 3, "tags": [{"label": "green"}]}}]}
        ])
    );
    // An `or` on a nested embed.
    let r = env
        .get(anon, "/reviews?select=id,products(tags(id))&id=eq.1&products.tags.or=(id.eq.2,label.eq.sweet)")
        .await;
    assert_eq!(r.body, json!([{"id": 1, "products": {"tags": [{"id": 1}]}}]));
    // Spreads: a to-one embed's keys merged into the parent, nulls when nothing relates.
    let r = env.get(anon, "/reviews?select=id,...products(product:name,price)&order=id").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body,
        json!([
            {"id": 1, "product": "apple", "price": 1.5},
            {"id": 2, "product": "apple", "price": 1.5},
            {"id": 4, "product": "carrot", "price": 0.75}
        ])
    );
    let r = env.get(anon, "/reviews?select=id,...products(name,tags(label))&id=eq.4").await;
    assert_eq!(r.body, json!([{"id": 4, "name": "carrot", "tags": [{"label": "green"}]}]));
    let r = env.get(anon, "/reviews?select=id,...products(name)&id=eq.1&products.name=eq.nope").await;
    assert_eq!(r.body, json!([{"id": 1, "name": null}]));
    // Related orders: by a to-one embed's column (nulls placed as for a column).
    let r = env.get(anon, "/reviews?select=id,products(name)&order=products(name).desc,id.desc").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.ids(), [4, 2, 1]);
    let r = env
        .get(anon, "/reviews?select=id,p:products(name)&p.name=eq.carrot&order=p(name).asc.nullsfirst,id")
        .await;
    assert_eq!(r.ids(), [1, 2, 4]);
    let r = env
        .get(
            anon,
            "/products?select=id,reviews(id,products(name))&id=eq.1&reviews.order=products(name),id.desc",
        )
        .await;
    assert_eq!(r.body[0]["reviews"][0]["id"], 2, "{}", r.body);
    // `rel=not.is.null` keeps rows with a related row (under the embed's filters),
    // `rel=is.null` those without one (an anti-join).
    let related: &[(&str, &[i64])] = &[
        ("reviews=not.is.null", &[1, 3]),
        ("reviews=is.null", &[2, 4, 5]),
        ("reviews=not.is.null&reviews.stars=gt.4", &[1]),
        ("reviews=is.null&reviews.stars=gt.4", &[2, 3, 4, 5]),
    ];
    for (q, want) in related {
        let r = env
            .send(anon, Method::GET, &format!("/products?select=id,reviews(id)&order=id&{q}"), "", &[COUNT])
            .await;
        assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.body);
        assert_eq!(r.ids(), *want, "{q}");
        assert_eq!(r.header("content-range"), format!("0-{}/{}", want.len() - 1, want.len()), "{q}");
    }
    let r = env.get(anon, "/products?select=id,reviews(id)&reviews=eq.1").await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "PGRST120"), "{}", r.body);
    let r = env
        .send(
            Who::User(A),
            Method::PATCH,
            "/products?select=id,reviews(id)&reviews=is.null&id=eq.5",
            r#"{"name": "x"}"#,
            &[],
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "EB200"), "{}", r.body);
    // Refusals, in PostgREST's words.
    let r = env.get(anon, "/products?select=id,...reviews(stars)").await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "PGRST119"));
    assert_eq!(r.body["message"], "A spread operation on 'reviews' is not possible");
    assert_eq!(
        r.body["details"],
        "'products' and 'reviews' do not form a many-to-one or one-to-one relationship"
    );
    let r = env.get(anon, "/products?select=id,reviews(id)&order=reviews(stars)").await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "PGRST118"));
    assert_eq!(r.body["message"], "A related order on 'reviews' is not possible");
    let r = env.get(anon, "/reviews?select=id&order=products(name)").await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "PGRST108"));
    let r = env.get(anon, "/products?select=id,reviews(id,products(id))&reviews.nope.id=eq.1").await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "PGRST108"));
    assert_eq!(r.body["message"], "'nope' is not an embedded resource in this request");
    let r = env.get(anon, "/products?select=id,reviews(id,products(nope))").await;
    assert_eq!(
        (r.status, r.body["message"].clone()),
        (StatusCode::BAD_REQUEST, json!("column products.nope does not exist"))
    );
    let r = env.get(anon, "/products?select=id,reviews(id,notes(id))").await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "PGRST200"));
    let deep = format!("/products?select=id{}", ",reviews(id,products(id".repeat(5) + &"))".repeat(5));
    let r = env.get(anon, &deep).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "EB100"), "{}", r.body);

    // Embeds in the answer of writes, read in the same statement.
    let service = Who::Service;
    let r = env
        .send(
            service,
            Method::POST,
            "/reviews?select=id,product:products(name,tags(label))",
            r#"{"id": 10, "product_id": 3, "stars": 2}"#,
            &[REPR],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body, json!([{"id": 10, "product": {"name": "carrot", "tags": [{"label": "green"}]}}]));
    let r = env
        .send(
            service,
            Method::PATCH,
            "/reviews?id=eq.10&select=id,stars,...products(name,reviews(id))&products.reviews.order=id.desc",
            r#"{"product_id": 1}"#,
            &[REPR, ("accept", "application/vnd.pgrst.object+json")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["name"], "apple");
    assert_eq!(r.body["stars"], 2);
    assert!(r.body["reviews"].as_array().is_some_and(|a| a.len() >= 2), "{}", r.body);
    let user = Who::User(A);
    let r = env
        .send(
            user,
            Method::POST,
            "/products?select=id,reviews(id),tags(id)",
            r#"{"id": 30, "name": "kiwi"}"#,
            &[REPR],
        )
        .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (StatusCode::CREATED, json!([{"id": 30, "reviews": [], "tags": []}]))
    );
    let r = env
        .send(
            user,
            Method::PATCH,
            "/products?id=eq.1&select=id,reviews(stars)",
            r#"{"category": "pome"}"#,
            &[REPR],
        )
        .await;
    assert_eq!(
        r.body,
        json!([{"id": 1, "reviews": [{"stars": 5}, {"stars": 3}, {"stars": 2}]}]),
        "{}",
        r.body
    );
    let r =
        env.send(service, Method::DELETE, "/reviews?id=eq.10&select=id,products(name)", "", &[REPR]).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (StatusCode::OK, json!([{"id": 10, "products": {"name": "apple"}}]))
    );
    // `!inner` in the answer of a write drops rows of the answer, not of the write.
    let r = env
        .send(
            service,
            Method::PATCH,
            "/reviews?id=in.(1,4)&select=id,stars,products!inner(id)&products.id=eq.1",
            r#"{"stars": 2}"#,
            &[REPR],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body, json!([{"id": 1, "stars": 2, "products": {"id": 1}}]));
    let r = env.get(service, "/reviews?id=in.(1,4)&select=stars&order=id").await;
    assert_eq!(r.body, json!([{"stars": 2}, {"stars": 2}]));
    let rows = r#"[{"id": 20, "product_id": 1, "stars": 1}, {"id": 21, "product_id": 3, "stars": 1},
        {"id": 22, "product_id": 3, "stars": 2}]"#;
    let r = env
        .send(
            service,
            Method::POST,
            "/reviews?select=id,products!inner(name)&products.name=eq.carrot",
            rows,
            &[REPR],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(
        r.body,
        json!([{"id": 21, "products": {"name": "carrot"}}, {"id": 22, "products": {"name": "carrot"}}])
    );
    // An upsert's answer keeps the updated rows and the inserted ones, in payload order.
    let rows = r#"[{"id": 23, "product_id": 1, "stars": 4}, {"id": 20, "product_id": 1, "stars": 3},
        {"id": 21, "product_id": 3, "stars": 3}]"#;
    let r = env
        .send(
            service,
            Method::POST,
            "/reviews?select=id,stars,p:products!inner(id)&p.id=eq.1",
            rows,
            &[REPR, ("prefer", "resolution=merge-duplicates")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(
        r.body,
        json!([{"id": 23, "stars": 4, "p": {"id": 1}}, {"id": 20, "stars": 3, "p": {"id": 1}}])
    );
    let r = env.get(service, "/reviews?id=in.(20,21,22,23)&select=id,stars&order=id").await;
    assert_eq!(
        r.body,
        json!([{"id": 20, "stars": 3}, {"id": 21, "stars": 3}, {"id": 22, "stars": 2}, {"id": 23, "stars": 4}])
    );
    let r = env
        .send(
            service,
            Method::DELETE,
            "/reviews?id=in.(20,21,22,23)&select=id,products!inner(id)&products.id=eq.3",
            "",
            &[REPR],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // A delete's rows come in the table's order (PostgreSQL: physical).
    let mut deleted = r.body.as_array().cloned().unwrap_or_default();
    deleted.sort_by_key(|row| row["id"].as_i64());
    assert_eq!(deleted, [json!({"id": 21, "products": {"id": 3}}), json!({"id": 22, "products": {"id": 3}})]);
    let r = env.get(service, "/reviews?id=in.(20,21,22,23)&select=id").await;
    assert_eq!(r.body, json!([]));
    let r = env
        .send(
            service,
            Method::PATCH,
            "/reviews?id=eq.1&select=id,products!inner(id)&products.id=eq.3",
            r#"{"stars": 5}"#,
            &[REPR, ("accept", "application/vnd.pgrst.object+json")],
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_ACCEPTABLE, "PGRST116"), "{}", r.body);
    // The write answered as one object answers no row: it rolled back.
    let r = env.get(service, "/reviews?id=eq.1&select=stars").await;
    assert_eq!(r.body, json!([{"stars": 2}]));
    let r = env
        .send(
            service,
            Method::PATCH,
            "/reviews?id=eq.1&select=id,stars,products!inner(id)&products.id=eq.1",
            r#"{"stars": 5}"#,
            &[REPR, ("accept", "application/vnd.pgrst.object+json")],
        )
        .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (StatusCode::OK, json!({"id": 1, "stars": 5, "products": {"id": 1}}))
    );
    let r = env
        .send(
            service,
            Method::DELETE,
            "/reviews?id=in.(1,2)&select=id,products!inner(id)&products.id=eq.1",
            "",
            &[REPR, ("accept", "application/vnd.pgrst.object+json")],
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_ACCEPTABLE, "PGRST116"), "{}", r.body);
    let r = env.get(service, "/reviews?id=in.(1,2)&select=id&order=id").await;
    assert_eq!(r.ids(), [1, 2]);
    let r = env
        .send(
            service,
            Method::PATCH,
            "/reviews?id=eq.1&select=id,products(id)&nope.id=eq.1",
            r#"{"stars": 5}"#,
            &[],
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "PGRST108"));
}

/// JSON paths and casts in `select=`, filters and orders.
async fn json_and_casts(env: &Env) {
    seed_products(env).await;
    seed_reviews_and_tags(env).await;
    let anon = Who::Anon;
    let cases: &[(&str, Value)] = &[
        ("select=id,meta->>c&id=eq.1", json!([{"id": 1, "c": "red"}])),
        ("select=id,meta->c&id=eq.1", json!([{"id": 1, "c": "red"}])),
        ("select=meta->0&id=eq.3", json!([{"meta": 1}])),
        ("select=last:meta->-1&id=eq.3", json!([{"last": 2}])),
        ("select=meta->>1&id=eq.3", json!([{"meta": "2"}])),
        ("select=meta->c->>d&id=eq.1", json!([{"d": null}])),
        ("select=meta->x&id=eq.1", json!([{"x": null}])),
        ("select=id::text,name&id=eq.1", json!([{"id": "1", "name": "apple"}])),
        ("select=in_stock::text&id=in.(1,2)&order=id", json!([{"in_stock": "true"}, {"in_stock": "false"}])),
        ("select=id::bigint,n:name::text&id=eq.2", json!([{"id": 2, "n": "banana"}])),
        ("select=meta->>c::text&id=eq.1", json!([{"c": "red"}])),
        ("select=id,products(c:meta->>c)&id=eq.1", json!([])),
    ];
    for (q, want) in &cases[..cases.len() - 1] {
        let r = env.get(anon, &format!("/products?{q}")).await;
        assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.body);
        assert_eq!(&r.body, want, "{q}");
    }
    let r = env.get(anon, "/reviews?select=id,products(c:meta->>c,id::text)&id=eq.1").await;
    assert_eq!(r.body, json!([{"id": 1, "products": {"c": "red", "id": "1"}}]), "{}", r.body);
    let filters: &[(&str, &[i64])] = &[
        ("meta->>c=eq.red", &[1]),
        ("meta->c=eq.\"red\"", &[1]),
        ("meta->0=eq.1", &[3]),
        ("meta->>0=in.(1,5)", &[3]),
        ("meta->>c=like.r*", &[1]),
        ("meta->>c=is.null", &[2, 3, 4, 5]),
        ("meta->>c=neq.red", &[]),
        ("or=(meta->>c.eq.red,meta->>1.eq.2)", &[1, 3]),
    ];
    for (q, want) in filters {
        let r = env.get(anon, &format!("/products?select=id&order=id&{q}")).await;
        assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.body);
        assert_eq!(r.ids(), *want, "{q}");
    }
    let r = env.get(anon, "/products?select=id&order=meta->>c.asc.nullsfirst,id").await;
    assert_eq!(r.ids(), [2, 3, 4, 5, 1]);
    let r = env.get(anon, "/products?select=id&order=meta->0.desc.nullslast,id&id=in.(1,3)").await;
    assert_eq!(r.ids(), [3, 1]);
    let r = env
        .send(
            Who::Service,
            Method::POST,
            "/products?select=id,c:meta->>c,id::text",
            r#"{"id": 40, "name": "x", "meta": {"c": "blue"}}"#,
            &[REPR],
        )
        .await;
    assert_eq!(r.body, json!([{"id": "40", "c": "blue"}]), "{}", r.body);
    // Refusals.
    let r = env.get(anon, "/products?select=id::money").await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "EB202"));
    assert_eq!(r.body["message"], "Casting to 'money' is not supported");
    let r = env.get(anon, "/products?select=name->>a").await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "42883"));
    let r = env.get(anon, "/products?name->>a=eq.1").await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "42883"));
    let r = env.get(anon, "/products?meta->a=eq.{").await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "22P02"));
    // `->` values compare as jsonb: kinds ordered null < string < number < boolean <
    // array < object, numbers as numbers within their kind.
    let rows = r#"[
        {"id": 50, "name": "n5", "meta": {"n": 5}}, {"id": 51, "name": "n20", "meta": {"n": 20}},
        {"id": 52, "name": "s30", "meta": {"n": "30"}}, {"id": 53, "name": "t", "meta": {"n": true}},
        {"id": 54, "name": "null", "meta": {"n": null}}, {"id": 55, "name": "arr", "meta": {"n": [1]}},
        {"id": 56, "name": "n2.5", "meta": {"n": 2.5}}, {"id": 57, "name": "none", "meta": {"m": 1}}
    ]"#;
    let r = env.send(Who::Service, Method::POST, "/products", rows, &[]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let json_filters: &[(&str, &[i64])] = &[
        ("meta->n=gt.10", &[51, 53, 55]),
        ("meta->n=lt.10", &[50, 52, 54, 56]),
        ("meta->n=gte.\"3\"", &[50, 51, 52, 53, 55, 56]),
        ("meta->n=lt.\"4\"", &[52, 54]),
        ("meta->n=eq.20.0", &[51]),
        ("meta->n=neq.20", &[50, 52, 53, 54, 55, 56]),
        ("meta->n=lte.null", &[54]),
        ("meta->n=gt.false", &[53, 55]),
        ("meta->n=lte.2.5", &[52, 54, 56]),
        ("meta->n=not.gt.10", &[50, 52, 54, 56]),
        ("meta->n=in.(5,20.0)", &[50, 51]),
        ("meta->n=gt(any).{100,true}", &[53, 55]),
        ("meta->n=eq.[1]", &[55]),
    ];
    for (q, want) in json_filters {
        let r = env.get(anon, &format!("/products?select=id&order=id&id=gte.50&{q}")).await;
        assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.body);
        assert_eq!(r.ids(), *want, "{q}");
    }
    // Ordering by an array or object: jsonb's size-first order, PostgreSQL only.
    let r = env.get(anon, "/products?select=id&order=id&id=gte.50&meta->n=gt.[0]").await;
    if env.pg {
        assert_eq!(r.ids(), [55], "{}", r.body);
    } else {
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "EB203"), "{}", r.body);
        assert_eq!(
            r.body["message"],
            format!(
                "the operator gt on a JSON value (->) and an array or object is not supported on {}",
                env.engine
            )
        );
    }
    let r = env.get(anon, "/products?select=price::text&id=eq.1").await;
    if env.pg {
        assert_eq!(r.body, json!([{"price": "1.5"}]));
    } else {
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "EB203"), "{}", r.body);
        assert_eq!(r.body["message"], format!("casting decimal to text is not supported on {}", env.engine));
    }
    let r = env.get(anon, "/products?select=name::integer&id=eq.1").await;
    if env.pg {
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "22P02"), "{}", r.body);
    } else {
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "EB203"), "{}", r.body);
    }
}

/// Aggregates in `select=`, grouped by the other selected columns.
async fn aggregates(env: &Env) {
    seed_products(env).await;
    let anon = Who::Anon;
    let cases: &[(&str, Value)] = &[
        ("select=count()", json!([{"count": 5}])),
        ("select=count()&category=eq.veg", json!([{"count": 2}])),
        ("select=rows:count()::text", json!([{"rows": "5"}])),
        (
            "select=category,count()&order=category",
            json!([{"category": "fruit", "count": 3}, {"category": "veg", "count": 2}]),
        ),
        (
            "select=category,n:id.count(),total:id.sum(),top:name.max(),low:id.min()&order=category.desc",
            json!([
                {"category": "veg", "n": 2, "total": 8, "top": "eggplant", "low": 3},
                {"category": "fruit", "n": 3, "total": 7, "top": "banana", "low": 1}
            ]),
        ),
        ("select=id.avg()&id=in.(1,2,3,4,5)", json!([{"avg": 3.0}])),
        (
            "select=in_stock,count()&order=in_stock.nullsfirst",
            json!([
            {"in_stock": null, "count": 1}, {"in_stock": false, "count": 2}, {"in_stock": true, "count": 2}]),
        ),
    ];
    for (q, want) in cases {
        let r = env.get(anon, &format!("/products?{q}")).await;
        assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.body);
        assert_eq!(&r.body, want, "{q}");
    }
    let r =
        env.send(anon, Method::GET, "/products?select=category,count()&order=category", "", &[COUNT]).await;
    assert_eq!(r.header("content-range"), "0-1/2");
    let r = env.get(anon, "/products?select=price.sum()").await;
    // MySQL sums decimals exactly; SQLite does not.
    if env.engine != "SQLite" {
        assert_eq!(r.body, json!([{"sum": 14.5}]));
    } else {
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "EB203"), "{}", r.body);
    }
    let r = env.get(anon, "/products?select=category,count()&order=id").await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "42803"), "{}", r.body);
    let r = env.get(anon, "/products?select=name.sum()").await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "42883"), "{}", r.body);
    // Embedded resources group the rows too (by each row's embedded JSON).
    seed_reviews_and_tags(env).await;
    let sorted = |r: Res| {
        let mut rows = r.body.as_array().cloned().unwrap_or_else(|| panic!("not an array: {}", r.body));
        rows.sort_by_key(|row| row.to_string());
        rows
    };
    let r = env.get(anon, "/products?select=count(),reviews(id)").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        sorted(r),
        [
            json!({"count": 1, "reviews": [{"id": 1}, {"id": 2}]}),
            json!({"count": 1, "reviews": [{"id": 4}]}),
            json!({"count": 3, "reviews": []})
        ]
    );
    let r = env
        .get(anon, "/reviews?select=product_id,total:stars.sum(),products(category)&order=product_id")
        .await;
    assert_eq!(
        r.body,
        json!([
            {"product_id": 1, "total": 8, "products": {"category": "fruit"}},
            {"product_id": 3, "total": 4, "products": {"category": "veg"}}
        ]),
        "{}",
        r.body
    );
    let r = env
        .send(Who::Service, Method::GET, "/reviews?select=n:count(),products(category)", "", &[COUNT])
        .await;
    assert_eq!(r.header("content-range"), "0-1/2", "{}", r.body);
    assert_eq!(
        sorted(r),
        [
            json!({"n": 1, "products": {"category": "veg"}}),
            json!({"n": 3, "products": {"category": "fruit"}})
        ]
    );
    let r = env.get(anon, "/reviews?select=count(),products!inner(id)&products.category=eq.veg").await;
    assert_eq!(r.body, json!([{"count": 1, "products": {"id": 3}}]), "{}", r.body);
    let r = env.get(anon, "/reviews?select=count(),products(id)&order=products(id)").await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "42803"), "{}", r.body);

    // Aggregates inside embedded resources, grouped by the embed's other columns, each
    // embed under its own policies (anon does not see the 0-star review of product 2).
    let cases: &[(Who, &str, Value)] = &[
        (
            anon,
            "/products?select=id,reviews(stars.sum(),count())&id=lte.3&order=id",
            json!([
                {"id": 1, "reviews": [{"sum": 8, "count": 2}]},
                {"id": 2, "reviews": [{"sum": null, "count": 0}]},
                {"id": 3, "reviews": [{"sum": 4, "count": 1}]}
            ]),
        ),
        (
            anon,
            "/products?select=id,reviews(verified,count())&id=lte.3&order=id",
            json!([
                {"id": 1, "reviews": [{"verified": false, "count": 1}, {"verified": true, "count": 1}]},
                {"id": 2, "reviews": []},
                {"id": 3, "reviews": [{"verified": true, "count": 1}]}
            ]),
        ),
        (
            Who::Service,
            "/products?select=id,r:reviews(verified,total:stars.sum(),top:stars.max())&id=lte.2&order=id&r.order=verified.desc",
            json!([
                {"id": 1, "r": [{"verified": true, "total": 5, "top": 5}, {"verified": false, "total": 3, "top": 3}]},
                {"id": 2, "r": [{"verified": null, "total": 0, "top": 0}]}
            ]),
        ),
        (
            Who::Service,
            "/products?select=id,reviews(product_id,n:count())&id=eq.1&reviews.stars=gt.3",
            json!([{"id": 1, "reviews": [{"product_id": 1, "n": 1}]}]),
        ),
        (
            anon,
            "/reviews?select=id,products(price.max(),count())&id=eq.1",
            json!([{"id": 1, "products": {"max": 1.5, "count": 1}}]),
        ),
        (anon, "/reviews?select=products(count())&id=eq.4", json!([{"products": {"count": 1}}])),
        (anon, "/products?select=id,tags(count())&id=eq.1", json!([{"id": 1, "tags": [{"count": 1}]}])),
        (
            anon,
            "/products?select=id,reviews(verified,c:count()::text)&id=eq.1&reviews.limit=1",
            json!([{"id": 1, "reviews": [{"verified": false, "c": "1"}]}]),
        ),
    ];
    for (who, q, want) in cases {
        let r = env.get(*who, q).await;
        assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.body);
        assert_eq!(&r.body, want, "{q}");
    }
    let r = env.get(anon, "/products?select=id,reviews(verified,count())&reviews.order=stars").await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "42803"), "{}", r.body);
    assert_eq!(
        r.body["message"],
        "column \"reviews.stars\" must appear in the GROUP BY clause or be used in an aggregate function"
    );
    // A spread's columns group and aggregate with the rows of the read itself.
    let r = env.get(anon, "/reviews?select=...products(category,n:id.count(),top:id.max())").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        sorted(r),
        [json!({"category": "fruit", "n": 2, "top": 1}), json!({"category": "veg", "n": 1, "top": 3})]
    );
    let r = env
        .get(anon, "/reviews?select=...products(category,n:id.count())&order=products(category).desc")
        .await;
    assert_eq!(r.body, json!([{"category": "veg", "n": 1}, {"category": "fruit", "n": 2}]), "{}", r.body);
    let r = env.get(anon, "/reviews?select=...products(category,n:id.count())&order=products(name)").await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "42803"), "{}", r.body);
    let r = env.get(anon, "/reviews?select=stars.sum(),...products(category)").await;
    assert_eq!(sorted(r), [json!({"sum": 8, "category": "fruit"}), json!({"sum": 4, "category": "veg"})]);
    let r =
        env.get(Who::Service, "/reviews?select=count(),...products(top:price.max(),low:price.min())").await;
    assert_eq!(r.body, json!([{"count": 4, "top": 1.5, "low": 0.25}]), "{}", r.body);
    // A spread's aggregates below an embed aggregate that embed's rows.
    let r = env
        .get(anon, "/products?select=id,reviews(verified,...products(category,top:price.max()))&id=eq.1")
        .await;
    assert_eq!(
        r.body,
        json!([{"id": 1, "reviews": [
            {"verified": false, "category": "fruit", "top": 1.5},
            {"verified": true, "category": "fruit", "top": 1.5}
        ]}]),
        "{}",
        r.body
    );
    let r =
        env.get(anon, "/tags?select=label,product_tags(...products(n:count(),top:id.max()))&order=id").await;
    assert_eq!(
        r.body,
        json!([
            {"label": "sweet", "product_tags": [{"n": 2, "top": 4}]},
            {"label": "green", "product_tags": [{"n": 1, "top": 3}]},
            {"label": "rare", "product_tags": [{"n": 0, "top": null}]}
        ]),
        "{}",
        r.body
    );
    let r = env
        .send(
            Who::Service,
            Method::PATCH,
            "/reviews?id=eq.1&select=id,...products(price.max())",
            r#"{"stars": 5}"#,
            &[REPR],
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "EB200"), "{}", r.body);
    assert_eq!(r.body["message"], "aggregates in the answer of a write is not supported yet");
    // Embeds below a grouped embed group its rows too.
    let r =
        env.get(anon, "/products?select=id,reviews(n:count(),products(category))&id=in.(1,2)&order=id").await;
    assert_eq!(
        r.body,
        json!([{"id": 1, "reviews": [{"n": 2, "products": {"category": "fruit"}}]}, {"id": 2, "reviews": []}]),
        "{}",
        r.body
    );
    let r = env.get(anon, "/tags?select=label,products(n:count(),reviews(stars))&id=eq.1").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut groups = r.body[0]["products"].as_array().cloned().unwrap_or_default();
    groups.sort_by_key(|g| g.to_string());
    assert_eq!(
        groups,
        [json!({"n": 1, "reviews": []}), json!({"n": 1, "reviews": [{"stars": 5}, {"stars": 3}]})],
        "{}",
        r.body
    );
    let r = env.get(anon, "/products?select=c:meta->>c,count()&order=meta->>c").await;
    assert_eq!(r.body, json!([{"c": "red", "count": 1}, {"c": null, "count": 4}]), "{}", r.body);
    let r = env.get(anon, "/reviews?select=id,products(c:meta->>c,count())&id=eq.1").await;
    assert_eq!(r.body, json!([{"id": 1, "products": {"c": "red", "count": 1}}]), "{}", r.body);
    let r = env
        .get(
            Who::Service,
            "/tags?select=label,products(c:meta->>c,count())&order=id&products.order=meta->>c.desc",
        )
        .await;
    assert_eq!(
        r.body,
        json!([
            {"label": "sweet", "products": [{"c": null, "count": 1}, {"c": "red", "count": 1}]},
            {"label": "green", "products": [{"c": null, "count": 1}]},
            {"label": "rare", "products": [{"c": "red", "count": 1}]}
        ]),
        "{}",
        r.body
    );
    let r = env.get(anon, "/products?select=id,reviews(stars.sum())&id=eq.1").await;
    assert_eq!(r.body, json!([{"id": 1, "reviews": [{"sum": 8}]}]), "{}", r.body);
}

/// Operators beyond comparisons: regular expressions, containment, full-text search, and
/// the range operators no column can take.
async fn operators(env: &Env) {
    seed_products(env).await;
    let anon = Who::Anon;
    let cases: &[(&str, &[i64])] = &[
        ("name=match.^[a-c]", &[1, 2, 3]),
        ("name=imatch.^d", &[4]),
        ("name=match.^d", &[]),
        ("name=not.match.an", &[1, 3]),
        ("name=match(any).{^a,^c}", &[1, 3]),
        ("name=imatch(all).{a,n}", &[2, 4, 5]),
        ("or=(name.match.^b,name.imatch.PLANT$)", &[2, 5]),
        ("meta->>c=match.^r", &[1]),
    ];
    for (q, want) in cases {
        let r = env.get(anon, &format!("/products?select=id&order=id&{q}")).await;
        assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.body);
        assert_eq!(r.ids(), *want, "{q}");
    }
    let r = env.get(anon, "/products?id=match.1").await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "42883"));
    assert_eq!(r.body["message"], "operator does not exist: integer ~ unknown");
    let r = env.get(anon, "/products?name=match.(").await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "2201B"), "{}", r.body);
    let r = env.get(anon, &format!("/products?name=match.{}", "a".repeat(2000))).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "EB100"));
    for q in ["id=sl.(1,2)", "id=sr.(1,2)", "id=nxr.(1,2)", "id=nxl.(1,2)", "id=adj.(1,2)", "meta=ov.{1}"] {
        let r = env.get(anon, &format!("/products?{q}")).await;
        assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "42883"), "{q}");
    }
    let pg_only: &[(&str, &[i64])] = &[
        ("meta=cs.{\"c\":\"red\"}", &[1]),
        ("meta=cs.[1]", &[3]),
        ("meta=cd.{\"c\":\"red\",\"d\":1}", &[1]),
        ("meta=not.cs.[2]", &[1]),
        ("name=fts.apple", &[1]),
        ("name=fts(english).apples", &[1]),
        ("name=plfts(simple).carrot", &[3]),
        ("name=phfts(english).banana", &[2]),
        ("name=wfts(simple).apple or banana", &[1, 2]),
        ("name=not.fts.apple", &[2, 3, 4, 5]),
    ];
    for (q, want) in pg_only {
        let r = env.get(anon, &format!("/products?select=id&order=id&{q}")).await;
        if env.pg {
            assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.body);
            assert_eq!(r.ids(), *want, "{q}");
        } else {
            assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "EB203"), "{q}: {}", r.body);
            assert!(
                r.body["message"].as_str().unwrap().ends_with(&format!("is not supported on {}", env.engine)),
                "{}",
                r.body
            );
        }
    }
    let r = env.get(anon, "/products?name=fts(nope).apple").await;
    if env.pg {
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "42704"), "{}", r.body);
    }
    let r = env.get(anon, "/products?id=fts.apple").await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "42883"));
}

/// `count=planned|estimated`, limited PATCH / DELETE, strict `max-affected`.
async fn limits_and_counts(env: &Env) {
    seed_products(env).await;
    let anon = Who::Anon;
    let range_total = |r: &Res| r.header("content-range").rsplit('/').next().unwrap_or("").to_owned();
    for kind in ["planned", "estimated"] {
        let prefer = format!("count={kind}");
        let r = env.send(anon, Method::GET, "/products?select=id&order=id", "", &[("prefer", &prefer)]).await;
        assert_eq!(r.ids(), [1, 2, 3, 4, 5]);
        if env.pg && kind == "planned" {
            // The planner's estimate: a number, not necessarily the exact one.
            assert_eq!(r.header("preference-applied"), "count=planned");
            assert!(range_total(&r).parse::<u64>().is_ok(), "{}", r.header("content-range"));
        } else {
            // SQLite counts exactly; estimated without a row cap is exact.
            assert_eq!((r.header("preference-applied"), r.header("content-range")), ("count=exact", "0-4/5"));
        }
    }
    // With a row cap, `estimated` is exact up to it and planned past it.
    let capped = env.with_config(RestConfig { max_rows: Some(2), ..config() });
    let est = ("prefer", "count=estimated");
    let r = capped.send(anon, Method::GET, "/products?select=id&id=lte.2", "", &[est]).await;
    let applied = if env.pg { "count=estimated" } else { "count=exact" };
    assert_eq!((r.header("content-range"), r.header("preference-applied")), ("0-1/2", applied));
    let r = capped.send(anon, Method::GET, "/products?select=id&order=id", "", &[est]).await;
    assert_eq!(r.ids(), [1, 2]);
    if env.pg {
        assert!(range_total(&r).parse::<u64>().is_ok(), "{}", r.header("content-range"));
    } else {
        assert_eq!(r.header("content-range"), "0-1/5");
    }

    // Limited writes change only their window (in `order`, else by primary key).
    let user = Who::User(A);
    let r = env
        .send(
            user,
            Method::PATCH,
            "/products?category=eq.fruit&order=id.desc&limit=1",
            r#"{"category": "x"}"#,
            &[REPR],
        )
        .await;
    assert_eq!((r.status, r.ids()), (StatusCode::OK, vec![4]), "{}", r.body);
    let r = env
        .send(
            user,
            Method::DELETE,
            "/products?id=gt.0&order=price.desc.nullslast&limit=2&offset=1",
            "",
            &[REPR],
        )
        .await;
    let mut ids = r.ids();
    ids.sort_unstable();
    assert_eq!((r.status, ids), (StatusCode::OK, vec![1, 3]), "{}", r.body);
    let r = env.send(user, Method::DELETE, "/products?id=gt.0&limit=1", "", &[REPR]).await;
    assert_eq!(r.ids(), [2]);
    let r = env.get(anon, "/products?select=id&order=id").await;
    assert_eq!(r.ids(), [4, 5]);

    // `missing=default` with `columns=`: left-out keys take the column's default (the
    // payload's order kept when rows leave out different keys).
    let body = r#"[{"title": "d1"}, {"title": "d2", "published": true}, {"title": "d3"}]"#;
    let prefer = ("prefer", "missing=default, return=representation");
    let r = env
        .send(
            user,
            Method::POST,
            "/notes?columns=title,published&select=title,published,owner_id",
            body,
            &[prefer],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(
        r.body,
        json!([{"title": "d1", "published": false, "owner_id": A}, {"title": "d2", "published": true, "owner_id": A},
               {"title": "d3", "published": false, "owner_id": A}])
    );
    // Under the insert policy still: another user's row is refused, nothing is left.
    let body_b = format!(r#"[{{"title": "e1"}}, {{"title": "e2", "owner_id": "{B}"}}]"#);
    let r = env
        .send(user, Method::POST, "/notes?columns=title,owner_id", &body_b, &[("prefer", "missing=default")])
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "42501"), "{}", r.body);
    let r = env.send(Who::Service, Method::GET, "/notes?select=title&title=like.e*", "", &[]).await;
    assert_eq!(r.body, json!([]));
    let r = env
        .send(
            user,
            Method::POST,
            "/notes?columns=title,owner_id&select=owner_id",
            r#"[{"title": "e3"}]"#,
            &[("prefer", "missing=default, return=representation")],
        )
        .await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::CREATED, json!([{"owner_id": A}])), "{}", r.body);
    // A bulk insert answers in the payload's order.
    let r = env
        .send(
            Who::Service,
            Method::POST,
            "/products?select=id",
            r#"[{"id": 52, "name": "z"}, {"id": 50, "name": "x"}, {"id": 51, "name": "y"}]"#,
            &[REPR],
        )
        .await;
    assert_eq!((r.status, r.ids()), (StatusCode::CREATED, vec![52, 50, 51]), "{}", r.body);
    let r = env.send(Who::Service, Method::DELETE, "/products?id=gte.50", "", &[]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = env.send(user, Method::POST, "/notes?columns=title,published", body, &[REPR]).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "23502"), "without missing=default: null");

    // Strict max-affected: more rows roll back with PGRST124; lenient ignores it.
    let strict = ("prefer", "handling=strict, max-affected=1");
    let r = env.send(user, Method::PATCH, "/products?id=gt.0", r#"{"category": "y"}"#, &[strict]).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "PGRST124"), "{}", r.body);
    assert_eq!(r.body["message"], "Query result exceeds max-affected preference constraint");
    let details = if env.pg { "The query affects 2 rows" } else { "The query affects more than 1 rows" };
    assert_eq!(r.body["details"], details);
    assert_eq!(env.get(anon, "/products?select=id&category=eq.y").await.body, json!([]));
    let r = env.send(user, Method::DELETE, "/products?id=gt.0", "", &[strict, REPR]).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "PGRST124"), "{}", r.body);
    let r = env.send(user, Method::PATCH, "/products?id=eq.4", r#"{"category": "y"}"#, &[strict]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    // Nothing to change: an empty answer (not a row of nulls), `*/0`.
    let r = env
        .send(
            user,
            Method::PATCH,
            "/products?id=eq.999",
            r#"{"category": "y"}"#,
            &[("prefer", "handling=strict, max-affected=1, return=representation")],
        )
        .await;
    assert_eq!((r.status, r.body.clone(), r.header("content-range")), (StatusCode::OK, json!([]), "*/0"));
    let lenient = ("prefer", "max-affected=1");
    let r = env.send(user, Method::PATCH, "/products?id=gt.0", r#"{"category": "z"}"#, &[lenient]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(env.get(anon, "/products?select=id&category=eq.z&order=id").await.ids(), [4, 5]);
}

/// Writes with representation, conflicts, constraint errors, upserts.
async fn writes(env: &Env) {
    seed_products(env).await;
    let user = Who::User(A);
    let r = env
        .send(user, Method::PATCH, "/products?id=eq.2", r#"{"price": 0.3, "in_stock": true}"#, &[REPR])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body[0]["price"], json!(0.3));
    assert_eq!(r.body[0]["in_stock"], json!(true));
    let r = env.send(user, Method::PATCH, "/products/4", r#"{"name": "durian"}"#, &[]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(env.get(Who::Anon, "/products/4?select=name").await.body, json!({"name": "durian"}));
    // Writes through the row route answer one object, 404 for no such row.
    let r =
        env.send(user, Method::PATCH, "/products/4?select=id,name", r#"{"name": "Durian"}"#, &[REPR]).await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::OK, json!({"id": 4, "name": "Durian"})));
    let r = env.send(user, Method::PATCH, "/products/99", r#"{"name": "x"}"#, &[REPR]).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "PGRST116"), "{}", r.body);
    let r = env.send(user, Method::PATCH, "/products/99", r#"{"name": "x"}"#, &[]).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "PGRST116"), "{}", r.body);
    let r = env.send(user, Method::DELETE, "/products/99", "", &[]).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "PGRST116"), "{}", r.body);

    // A write answered as one object must change exactly one row, or it rolls back.
    let object = ("accept", "application/vnd.pgrst.object+json");
    let r =
        env.send(user, Method::PATCH, "/products?id=lte.2", r#"{"category": "x"}"#, &[object, REPR]).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_ACCEPTABLE, "PGRST116"), "{}", r.body);
    let r = env.send(user, Method::DELETE, "/products?id=gt.0", "", &[object]).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_ACCEPTABLE, "PGRST116"), "{}", r.body);
    let r = env.send(user, Method::PATCH, "/products?id=eq.99", r#"{"category": "x"}"#, &[object]).await;
    assert_eq!(
        (r.status, r.body["details"].clone()),
        (StatusCode::NOT_ACCEPTABLE, json!("The result contains 0 rows"))
    );
    let r = env.send(Who::Anon, Method::GET, "/products?select=id&category=eq.x", "", &[COUNT]).await;
    assert_eq!(r.header("content-range"), "*/0");
    let r = env.send(Who::Anon, Method::GET, "/products?select=id", "", &[COUNT]).await;
    assert_eq!(r.header("content-range"), "0-4/5");
    let r =
        env.send(user, Method::PATCH, "/products?id=eq.3", r#"{"category": "root"}"#, &[object, REPR]).await;
    assert_eq!((r.status, r.body["category"].clone()), (StatusCode::OK, json!("root")), "{}", r.body);
    let r = env.send(user, Method::PATCH, "/products?id=eq.3", r#"{"category": "veg"}"#, &[object]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r =
        env.send(user, Method::POST, "/products", r#"{"id": 20, "name": "single"}"#, &[object, REPR]).await;
    assert_eq!((r.status, r.body["name"].clone()), (StatusCode::CREATED, json!("single")), "{}", r.body);
    let r = env.send(user, Method::DELETE, "/products?id=eq.20", "", &[object, REPR]).await;
    assert_eq!((r.status, r.body["id"].clone()), (StatusCode::OK, json!(20)), "{}", r.body);

    let r = env.send(user, Method::DELETE, "/products?id=eq.5", "", &[REPR]).await;
    assert_eq!((r.status, r.ids()), (StatusCode::OK, vec![5]));
    let r = env.send(user, Method::DELETE, "/products?id=eq.5", "", &[]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = env.send(Who::Anon, Method::GET, "/products?select=id", "", &[COUNT]).await;
    assert_eq!(r.header("content-range"), "0-3/4");

    let r = env.send(user, Method::POST, "/products", r#"{"id": 6, "name": "fig"}"#, &[]).await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::CREATED, Value::Null));
    let headers_only = ("prefer", "return=headers-only");
    let r = env.send(user, Method::POST, "/products", r#"{"id": 7, "name": "grape"}"#, &[headers_only]).await;
    assert_eq!((r.status, r.header("location")), (StatusCode::CREATED, "/products?id=eq.7"));
    assert_eq!(r.header("preference-applied"), "return=headers-only");
    // HEAD: the headers of a GET, no body.
    let r = env.send(Who::Anon, Method::HEAD, "/products?select=id", "", &[COUNT]).await;
    assert_eq!((r.status, r.header("content-range"), r.body.clone()), (StatusCode::OK, "0-5/6", Value::Null));
    assert_eq!(r.header("preference-applied"), "count=exact");
    let r = env.send(user, Method::POST, "/products", r#"{"id": 1, "name": "dup"}"#, &[]).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "23505"), "{}", r.body);
    let r = env.send(user, Method::POST, "/products", r#"{"id": 9}"#, &[]).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "23502"), "{}", r.body);
    // A failed bulk insert leaves nothing behind.
    let r = env
        .send(user, Method::POST, "/products", r#"[{"id": 10, "name": "x"}, {"id": 1, "name": "dup"}]"#, &[])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(env.get(Who::Anon, "/products?id=eq.10").await.body, json!([]));
    // columns= picks keys; missing ones are null.
    let r = env
        .send(
            user,
            Method::POST,
            "/products?columns=id,name",
            r#"[{"id": 11, "name": "kiwi", "price": 9}, {"id": 12, "name": "lime"}]"#,
            &[REPR],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body[0]["price"], Value::Null);

    // The host's limits: a row cap on reads, unfiltered writes allowed.
    let host = RestService::new(
        env.platform.clone(),
        RestConfig { max_rows: Some(2), allow_unfiltered_writes: true, ..config() },
    );
    let req = |method: Method, uri: &str| {
        Request::builder().method(method).uri(uri).header("apikey", &env.secret).body(Bytes::new()).unwrap()
    };
    let res = host.handle(req(Method::GET, "/products?select=id&order=id")).await;
    assert_eq!(res.headers()["content-range"], "0-1/*");
    let res = host
        .handle(req(Method::PATCH, "/products").map(|_| Bytes::from_static(br#"{"category": "all"}"#)))
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let r = env.send(Who::Anon, Method::GET, "/products?select=id&category=neq.all", "", &[COUNT]).await;
    assert_eq!(r.header("content-range"), "*/0");

    // Upserts.
    let merge = ("prefer", "return=representation,resolution=merge-duplicates");
    let r =
        env.send(Who::Service, Method::POST, "/products", r#"{"id": 1, "name": "APPLE"}"#, &[merge]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body[0]["name"], "APPLE");
    assert_eq!(r.body[0]["price"], json!(1.5));
    let ignore = ("prefer", "resolution=ignore-duplicates");
    let r =
        env.send(Who::Service, Method::POST, "/products", r#"{"id": 1, "name": "nope"}"#, &[ignore]).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(env.get(Who::Anon, "/products/1?select=name").await.body, json!({"name": "APPLE"}));
    // A PATCH that sets nothing (`{}`, `[]`, `[{}]`) updates nothing, filtered or not.
    for body in ["{}", "[]", "[{}]"] {
        let r = env.send(Who::Service, Method::PATCH, "/products", body, &[]).await;
        assert_eq!((r.status, r.body.clone()), (StatusCode::NO_CONTENT, Value::Null), "{body}");
        let r = env.send(Who::Service, Method::PATCH, "/products?id=eq.1&select=id", body, &[REPR]).await;
        assert_eq!((r.status, r.body.clone()), (StatusCode::OK, json!([])), "{body}");
    }
    assert_eq!(env.get(Who::Anon, "/products/1?select=name").await.body, json!({"name": "APPLE"}));
    // An array body updates with its first object, as PostgREST does.
    let body = r#"[{"name": "first"}, {"name": "second"}]"#;
    let r = env.send(Who::Service, Method::PATCH, "/products?id=eq.1&select=id,name", body, &[REPR]).await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::OK, json!([{"id": 1, "name": "first"}])));
}

/// Row policies: users see and change only their rows; anon sees only published ones.
async fn policies(env: &Env) {
    let (a, b) = (Who::User(A), Who::User(B));
    let post = |who, body: &'static str| env.send(who, Method::POST, "/notes", body, &[REPR]);
    let r = post(a, r#"{"title": "a1"}"#).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body[0]["owner_id"], A);
    let a1 = r.body[0]["id"].as_i64().unwrap();
    let r = post(a, r#"{"title": "a2", "published": true}"#).await;
    let a2 = r.body[0]["id"].as_i64().unwrap();
    let r = post(b, r#"{"title": "b1"}"#).await;
    let b1 = r.body[0]["id"].as_i64().unwrap();

    // Writing a row as someone else, or as anon, breaks the insert policy.
    let r =
        env.send(a, Method::POST, "/notes", &format!(r#"{{"title": "x", "owner_id": "{B}"}}"#), &[]).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "42501"), "{}", r.body);
    let r = env.send(Who::Anon, Method::POST, "/notes", r#"{"title": "anon"}"#, &[]).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "42501"), "{}", r.body);

    let ids = |who| async move { env.get(who, "/notes?select=id&order=id").await.ids() };
    assert_eq!(ids(Who::Anon).await, [a2]);
    assert_eq!(ids(a).await, [a1, a2]);
    assert_eq!(ids(b).await, [a2, b1]);
    assert_eq!(ids(Who::Service).await, [a1, a2, b1]);
    let r = env.send(Who::Anon, Method::GET, "/notes?select=id", "", &[COUNT]).await;
    assert_eq!(r.header("content-range"), "0-0/1");

    // B cannot change or delete A's rows: nothing matches.
    let r =
        env.send(b, Method::PATCH, &format!("/notes?id=eq.{a1}"), r#"{"title": "hacked"}"#, &[REPR]).await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::OK, json!([])));
    let r = env.send(b, Method::DELETE, &format!("/notes?id=eq.{a2}"), "", &[REPR]).await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::OK, json!([])));
    // B cannot give its row away (the update's check).
    let r = env
        .send(b, Method::PATCH, &format!("/notes?id=eq.{b1}"), &format!(r#"{{"owner_id": "{A}"}}"#), &[])
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "42501"), "{}", r.body);
    let r = env.get(Who::Service, "/notes?select=title,owner_id&order=id").await;
    assert_eq!(
        r.body,
        json!([{"title": "a1", "owner_id": A}, {"title": "a2", "owner_id": A}, {"title": "b1", "owner_id": B}])
    );
    // A changes and deletes its own.
    let r = env.send(a, Method::PATCH, &format!("/notes?id=eq.{a1}"), r#"{"title": "a1!"}"#, &[REPR]).await;
    assert_eq!(r.body[0]["title"], "a1!");
    let r = env.send(a, Method::DELETE, &format!("/notes?id=eq.{a1}"), "", &[REPR]).await;
    assert_eq!(r.ids(), [a1]);
    assert_eq!(ids(Who::Service).await, [a2, b1]);

    // Upserts: B cannot take A's row over through a conflict; A merges into its own.
    let merge = ("prefer", "return=representation,resolution=merge-duplicates");
    let body = format!(r#"{{"id": {a2}, "title": "mine"}}"#);
    let r = env.send(b, Method::POST, "/notes", &body, &[merge]).await;
    assert_eq!(r.code(), "42501", "{}", r.body);
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let body = format!(r#"[{{"id": {a2}, "title": "a2 merged"}}, {{"id": 1000, "title": "a3"}}]"#);
    let r = env.send(a, Method::POST, "/notes", &body, &[merge]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = env.get(Who::Service, "/notes?select=id,title,owner_id&order=id").await;
    assert_eq!(
        r.body,
        json!([{"id": a2, "title": "a2 merged", "owner_id": A}, {"id": b1, "title": "b1", "owner_id": B},
               {"id": 1000, "title": "a3", "owner_id": A}])
    );
    // B's merge that would move its row to A breaks the update's check.
    let body = format!(r#"{{"id": {b1}, "title": "b1", "owner_id": "{A}"}}"#);
    let r = env.send(b, Method::POST, "/notes", &body, &[merge]).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "42501"), "{}", r.body);

    // PUT by key: A replaces its row; B cannot replace A's; the key must match.
    let put = |who, uri: String, body: String| async move {
        env.send(who, Method::PUT, &uri, &body, &[REPR]).await
    };
    let row = format!(r#"{{"id": {a2}, "owner_id": "{A}", "title": "put", "published": false}}"#);
    let r = put(a, format!("/notes?id=eq.{a2}"), row.clone()).await;
    assert_eq!((r.status, r.body[0]["title"].clone()), (StatusCode::OK, json!("put")), "{}", r.body);
    let r = put(b, format!("/notes/{a2}"), row.clone()).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "42501"), "{}", r.body);
    let r = put(a, "/notes?id=eq.999".to_owned(), row.clone()).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "PGRST115"));
    let r = put(a, format!("/notes?title=eq.x&id=eq.{a2}"), row.clone()).await;
    assert_eq!((r.status, r.code()), (StatusCode::METHOD_NOT_ALLOWED, "PGRST105"));
    let r = put(a, format!("/notes/{a2}"), format!(r#"{{"id": {a2}, "title": "partial"}}"#)).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "PGRST102"));
    let new_row = format!(r#"{{"id": 2000, "owner_id": "{A}", "title": "new by put", "published": true}}"#);
    let r = put(a, "/notes/2000".to_owned(), new_row).await;
    assert_eq!((r.status, r.body["title"].clone()), (StatusCode::OK, json!("new by put")), "{}", r.body);
    assert_eq!(ids(Who::Anon).await, [2000]);
}

/// Repeated reads reuse the statements built for their shape (`sql::cache`) with each
/// request's own values and user: the answers are those of a fresh build.
async fn templates(env: &Env) {
    seed_products(env).await;
    let before = env.svc.template_stats();
    for id in [1, 2, 3, 4, 5, 1] {
        let r = env.get(Who::Anon, &format!("/products?select=id,name&id=eq.{id}")).await;
        assert_eq!(r.ids(), [id], "{}", r.body);
    }
    for (name, id) in [("apple", 1), ("carrot", 3), ("nothing", 0)] {
        let r = env.get(Who::Anon, &format!("/products?select=id&name=eq.{name}")).await;
        let want: Vec<i64> = if id == 0 { vec![] } else { vec![id] };
        assert_eq!(r.ids(), want, "{}", r.body);
    }
    // A list's length is part of the shape.
    for (list, want) in
        [("1,3", vec![1, 3]), ("2,5", vec![2, 5]), ("1,2,4", vec![1, 2, 4]), ("4,5", vec![4, 5])]
    {
        let r = env.get(Who::Anon, &format!("/products?select=id&id=in.({list})&order=id")).await;
        assert_eq!(r.ids(), want, "{list}: {}", r.body);
    }
    // Numbers, booleans and NULLs are part of the shape, not slots: still right.
    for (filter, want) in [
        ("price=gt.1", vec![1, 4]),
        ("price=gt.0.5", vec![1, 3, 4]),
        ("in_stock=is.true", vec![1, 3]),
        ("in_stock=eq.false", vec![2, 5]),
        ("id=neq.3&category=eq.veg", vec![5]),
        ("id=neq.5&category=eq.veg", vec![3]),
    ] {
        let r = env.get(Who::Anon, &format!("/products?select=id&{filter}&order=id")).await;
        assert_eq!(r.ids(), want, "{filter}: {}", r.body);
    }
    // Values that look like SQL or a sentinel are values.
    // (Percent-encoded: `' or 1=1 --`, a control character, `%`.)
    for name in ["%27%20or%201%3D1%20--", "%01eb-slot-0-0", "%25"] {
        let r = env.get(Who::Anon, &format!("/products?select=id&name=eq.{name}")).await;
        assert_eq!(r.ids(), Vec::<i64>::new(), "{name}: {}", r.body);
    }
    // A wrong type is still refused by the plan.
    let r = env.get(Who::Anon, "/products?select=id&id=eq.abc").await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "22P02"), "{}", r.body);
    let after = env.svc.template_stats();
    assert!(after.hits >= before.hits + 9, "{before:?} → {after:?}");

    // The same shape for two users: each sees only what the policies give them.
    let (a, b) = (Who::User(A), Who::User(B));
    let post = |who, title: &'static str| async move {
        let r = env.send(who, Method::POST, "/notes", &format!(r#"{{"title": "{title}"}}"#), &[REPR]).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body[0]["id"].as_i64().unwrap()
    };
    let (a1, b1) = (post(a, "a1").await, post(b, "b1").await);
    for _ in 0..2 {
        for (who, id, want) in
            [(a, a1, vec![a1]), (b, a1, vec![]), (b, b1, vec![b1]), (a, b1, vec![]), (Who::Anon, a1, vec![])]
        {
            let r = env.get(who, &format!("/notes?select=id&id=eq.{id}")).await;
            assert_eq!(r.ids(), want, "{}", r.body);
        }
    }
}

/// A written row is checked against the insert policy wherever its key falls: below the
/// largest key too (SQLite's rowid order must not hide it).
async fn insert_check_any_key(env: &Env) {
    seed_products(env).await;
    let user = Who::User(A);
    for body in
        [r#"{"id": -5, "name": "below"}"#, r#"[{"id": 6, "name": "ok"}, {"id": -6, "name": "below"}]"#]
    {
        let r = env.send(user, Method::POST, "/products", body, &[]).await;
        assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "42501"), "{body}: {}", r.body);
    }
    let upsert = ("prefer", "resolution=merge-duplicates");
    let r = env.send(user, Method::POST, "/products", r#"{"id": -7, "name": "below"}"#, &[upsert]).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "42501"), "{}", r.body);
    let r = env.send(Who::Service, Method::GET, "/products?select=id&id=lt.1", "", &[]).await;
    assert_eq!(r.body, json!([]));
}

/// Every refusal, with its status and code.
async fn refusals(env: &Env) {
    seed_products(env).await;
    let anon = Who::Anon;
    let r = env.get(anon, "/nope").await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "PGRST205"));
    assert_eq!(r.body["message"], "Could not find the table 'public.nope' in the schema cache");
    let r = env.get(anon, "/secrets").await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "PGRST205"));
    for q in ["select=id,nope", "nope=eq.1", "order=nope.desc", "or=(id.eq.1,nope.eq.2)"] {
        let r = env.get(anon, &format!("/products?{q}")).await;
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "42703"), "{q}");
        assert_eq!(r.body["message"], "column products.nope does not exist", "{q}");
    }
    let r = env.send(Who::User(A), Method::POST, "/products", r#"{"id": 7, "nope": 1}"#, &[]).await;
    assert_eq!(
        (r.status, r.body["message"].clone()),
        (StatusCode::BAD_REQUEST, json!("column products.nope does not exist"))
    );
    let r = env.get(anon, "/products?id=eq.abc").await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "22P02"));
    assert_eq!(r.body["message"], r#"invalid input syntax for type integer: "abc""#);
    let r = env.send(anon, Method::GET, "/products", "", &[("accept-profile", "private")]).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_ACCEPTABLE, "PGRST106"));
    let r =
        env.send(anon, Method::GET, "/products?select=id&id=eq.1", "", &[("accept-profile", "public")]).await;
    assert_eq!(r.body, json!([{"id": 1}]));
    let r = env.get(anon, "/products?id=like.1*").await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "42883"));
    let r = env.get(anon, "/products/abc").await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "22P02"));
    let r = env.send(Who::User(A), Method::POST, "/products", r#"{"id": "x1", "name": "y"}"#, &[]).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "22P02"));
    let r = env.send(Who::User(A), Method::POST, "/products", r#"{"id": 7, "name": "#, &[]).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "PGRST102"));
    let r = env.get(Who::NoKey, "/products").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = env.get(Who::BadKey, "/products").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = env.send(Who::User(A), Method::DELETE, "/products", "", &[]).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "21000"));
    let r = env.send(Who::User(A), Method::PATCH, "/products", r#"{"name": "all"}"#, &[]).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "21000"));
    let big = format!(r#"{{"id": 8, "name": "{}"}}"#, "x".repeat(1024 * 1024));
    let r = env.send(Who::User(A), Method::POST, "/products", &big, &[]).await;
    assert_eq!((r.status, r.code()), (StatusCode::PAYLOAD_TOO_LARGE, "EB101"));
    let r = env.get(anon, "/products?select=id,notes(id)").await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "PGRST200"));
    assert_eq!(
        r.body["message"],
        "Could not find a relationship between 'products' and 'notes' in the schema cache"
    );
    let r = env.get(anon, "/products?select=id,reviews(nope)").await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "42703"));
    let r = env.get(anon, "/products?select=id,reviews(id)&rev.stars=gt.1").await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "PGRST108"));
    let r = env.get(anon, "/products?select=id,reviews(id)&reviews.nope=gt.1").await;
    assert_eq!(
        (r.status, r.body["message"].clone()),
        (StatusCode::BAD_REQUEST, json!("column reviews.nope does not exist"))
    );
    let r = env.get(anon, "/products?select=id,secrets(id)").await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "PGRST200"));
    let r = env.get(anon, "/products?id=eq(any).{1,x}").await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "22P02"));
    let r = env.get(anon, "/products?meta=cs.{1}").await;
    assert_eq!(
        (r.status, r.body["message"].clone()),
        (StatusCode::BAD_REQUEST, json!(r#"invalid input syntax for type json: "{1}""#))
    );
    // OPTIONS: the allowed methods, for tables that exist.
    let r = env.send(anon, Method::OPTIONS, "/products", "", &[]).await;
    assert_eq!((r.status, r.header("allow")), (StatusCode::OK, "OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE"));
    let r = env.send(anon, Method::OPTIONS, "/rpc/add", "", &[]).await;
    assert_eq!((r.status, r.header("allow")), (StatusCode::OK, "OPTIONS,GET,HEAD,POST"));
    let r = env.send(anon, Method::OPTIONS, "/secrets", "", &[]).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "PGRST205"));
    // Injection through a column name is refused; through a value it is only a value.
    for q in [
        "select=name;drop table products",
        "select=id&\"id;delete from products\"=eq.1",
        "order=id;drop table products",
    ] {
        let r = env.get(anon, &format!("/products?{q}")).await;
        assert!(r.status.is_client_error(), "{q}: {}", r.status);
    }
    // Odd input never reaches a 500.
    for q in [
        "limit=99999999999999999999",
        "limit=9223372036854775807&offset=9223372036854775807",
        "offset=18446744073709551615",
        "id=eq.99999999999999999999",
        "id=gt.-9223372036854775808",
        "price=eq.1e400",
        "price=eq.NaN",
        "in_stock=eq.maybe",
        "meta=eq.{",
        "name=eq.%00",
        "name=like.[*",
        "select=",
        "order=id.desc.nullsfirst,name.asc,price",
        "id=in.()",
        "or=()",
        "and=(id.eq.1)",
        "not.and=(id.eq.1,not.or(id.eq.2))",
        "id=is.nonsense",
        "name=is.null&name=not.is.null",
    ] {
        let r = env.get(anon, &format!("/products?{q}")).await;
        assert!(r.status.as_u16() < 500, "{q}: {} {}", r.status, r.body);
    }
    let r = env.get(anon, "/products?name=eq.';delete from products;--").await;
    assert_eq!(r.body, json!([]));
    let r = env.send(anon, Method::GET, "/products?select=id", "", &[COUNT]).await;
    assert_eq!(r.header("content-range"), "0-4/5");
}

/// Projects are isolated; keys and tokens of another project, expired or forged tokens
/// and paused projects are refused.
async fn isolation(env: &Env) {
    seed_products(env).await;
    let other = env
        .platform
        .create_project("owner", "Other", CreateProject { schema: Some(schema()), ..Default::default() })
        .await
        .unwrap();
    let other_keys = other.keys.unwrap();
    let other_key = other_keys.publishable.secret.as_str();
    // The other project's key reaches the other project's (empty) table only.
    let r = env.get_as(Some(other_key), None, "/products?select=id").await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::OK, json!([])));
    // A user token of this project with the other project's key: signed by the wrong secret.
    let token = env.token(A);
    let r = env.get_as(Some(other_key), Some(&token), "/products").await;
    assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "PGRST301"), "{}", r.body);
    // Forged and expired tokens.
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({ "sub": A, "role": "service_role", "aud": "authenticated", "exp": 4_000_000_000u64 }),
        &jsonwebtoken::EncodingKey::from_secret(b"not the project's secret at all, 32+ bytes"),
    )
    .unwrap();
    let r = env.get_as(Some(&env.publishable), Some(&forged), "/products").await;
    assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "PGRST301"), "{}", r.body);
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({ "sub": A, "role": "authenticated", "aud": "authenticated", "exp": 1_000_000_000u64 }),
        &jsonwebtoken::EncodingKey::from_secret(env.jwt_secret.as_bytes()),
    )
    .unwrap();
    let r = env.get_as(Some(&env.publishable), Some(&expired), "/products").await;
    assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "PGRST303"), "{}", r.body);
    // A token without a key does not name the project.
    let r = env.get_as(None, Some(&token), "/products").await;
    assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "EB300"), "{}", r.body);
    // A paused project does not serve.
    env.platform.pause_project(&other.project.id).await.unwrap();
    let r = env.get_as(Some(other_key), None, "/products").await;
    assert_eq!((r.status, r.code()), (StatusCode::SERVICE_UNAVAILABLE, "EB302"), "{}", r.body);
    // This project still serves.
    let r = env.send(Who::Anon, Method::GET, "/products?select=id", "", &[COUNT]).await;
    assert_eq!(r.header("content-range"), "0-4/5");
}

/// The tower service: a bounded body read, Infallible errors as responses.
async fn tower(env: &Env) {
    use http_body_util::{BodyExt, Full};
    use tower_service::Service;
    let mut svc = env.svc.clone();
    let big = Bytes::from(vec![b' '; 2 * 1024 * 1024]);
    let req = Request::builder()
        .method(Method::POST)
        .uri("/products")
        .header("apikey", &env.secret)
        .body(Full::new(big))
        .unwrap();
    let res = svc.call(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let req = Request::builder()
        .uri("/products?select=id&id=eq.1")
        .header("apikey", &env.secret)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let res = svc.call(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), json!([]));
}

fn config() -> RestConfig {
    use easbase_core::db::BuildStmt;
    use easbase_rest::rpc::{Functions, RpcError, RpcOutput};
    use sea_query::{Alias, Expr, ExprTrait, IntoTableRef, Query};
    let mut functions = Functions::default();
    functions
        .register("add", |call| async move {
            let n = |k: &str| call.arg(k).and_then(|v| v.as_f64().or_else(|| v.as_str()?.parse().ok()));
            match (n("a"), n("b")) {
                (Some(a), Some(b)) => Ok(RpcOutput::Scalar(json!(a + b))),
                _ => Err(RpcError::invalid_argument("a and b must be numbers").with_hint("add?a=1&b=2")),
            }
        })
        .register("whoami", |call| async move {
            let mut o = serde_json::Map::new();
            o.insert("role".into(), json!(format!("{:?}", call.ctx.role())));
            o.insert("sub".into(), json!(call.ctx.uid()));
            Ok(RpcOutput::Object(o))
        })
        .register("echo", |call| async move { Ok(RpcOutput::Object(call.args)) })
        .register("nothing", |_call| async move { Ok(RpcOutput::Void) })
        .register("fail", |_call| async move { Err(RpcError::raise("it failed").with_details("on purpose")) })
        // Rows read in the request's scope: RLS on PostgreSQL hides ids <= 0.
        .register("cheap", |call| async move {
            let s = &call.session;
            let table = match s.pg_schema() {
                Some(schema) => (Alias::new(schema.as_str()), Alias::new("products")).into_table_ref(),
                None => Alias::new("products").into_table_ref(),
            };
            let max = call.arg("max").and_then(|v| v.as_str()?.parse::<f64>().ok()).unwrap_or(100.0);
            let q = Query::select()
                .columns([Alias::new("id"), Alias::new("name"), Alias::new("category")])
                .from(table)
                .and_where(Expr::col(Alias::new("price")).lt(max))
                .and_where(Expr::col(Alias::new("id")).gt(0))
                .to_owned()
                .build_for(s.dialect());
            let results = s.run(vec![q]).await?;
            let rows = results[0]
                .rows
                .iter()
                .map(|r| {
                    let mut o = serde_json::Map::new();
                    o.insert("id".into(), json!(r.cells[0].as_i64()));
                    o.insert("name".into(), json!(r.cells[1].as_str()));
                    o.insert("category".into(), json!(r.cells[2].as_str()));
                    o
                })
                .collect();
            Ok(RpcOutput::Rows(rows))
        })
        .register("rename_first", |call| async move {
            let s = &call.session;
            let table = match s.pg_schema() {
                Some(schema) => (Alias::new(schema.as_str()), Alias::new("products")).into_table_ref(),
                None => Alias::new("products").into_table_ref(),
            };
            let q = Query::update()
                .table(table)
                .values([(Alias::new("name"), Expr::val("renamed"))])
                .and_where(Expr::col(Alias::new("id")).eq(1))
                .to_owned()
                .build_for(s.dialect());
            let done = s.run(vec![q]).await?;
            Ok(RpcOutput::Scalar(json!(done[0].affected)))
        });
    RestConfig { hidden_tables: vec!["secrets".into()], functions, ..RestConfig::default() }
}

/// `/rpc/{name}`: host functions, their arguments, results shaped like tables, errors.
async fn rpc(env: &Env) {
    seed_products(env).await;
    let anon = Who::Anon;
    let r = env.get(anon, "/rpc/add?a=1&b=2.5").await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::OK, json!(3.5)), "{}", r.body);
    let r = env.send(anon, Method::POST, "/rpc/add", r#"{"a": 2, "b": 3}"#, &[]).await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::OK, json!(5.0)));
    let r = env.get(anon, "/rpc/add?a=x").await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "22023"));
    assert_eq!(r.body["hint"], "add?a=1&b=2");
    let r = env.get(Who::User(A), "/rpc/whoami").await;
    assert_eq!(r.body, json!({"role": "Authenticated", "sub": A}));
    let r = env
        .send(anon, Method::POST, "/rpc/echo", r#"[{"x": 1}]"#, &[("prefer", "params=single-object")])
        .await;
    assert_eq!(r.body, json!({"": [{"x": 1}]}));
    let r = env.get(anon, "/rpc/echo?tag=a&tag=b&id=eq.1").await;
    assert_eq!(r.body, json!({"tag": ["a", "b"]}), "filters are not arguments");
    let r = env.send(anon, Method::POST, "/rpc/nothing", "", &[]).await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::NO_CONTENT, Value::Null));
    let r = env.get(anon, "/rpc/fail").await;
    assert_eq!(
        r.body,
        json!({"code": "P0001", "message": "it failed", "details": "on purpose", "hint": null})
    );
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Rows: filters, order, ranges, counts, select and the single-object media type.
    let cases: &[(&str, &[i64])] = &[
        ("", &[1, 2, 3]),
        ("max=1", &[2, 3]),
        ("category=eq.fruit", &[1, 2]),
        ("name=like.*a*&order=name.desc", &[3, 2, 1]),
        ("or=(id.eq.1,name.imatch.^C)", &[1, 3]),
        ("id=not.in.(1,2)", &[3]),
        ("order=category.desc,id.desc", &[3, 2, 1]),
        ("order=id&offset=1&limit=1", &[2]),
        ("id=gt(any).{2,9}", &[3]),
    ];
    for (q, want) in cases {
        let max = if q.starts_with("max=") { "" } else { "max=2&" };
        let order = if q.contains("order=") { "" } else { "&order=id" };
        let r = env.get(anon, &format!("/rpc/cheap?{max}{q}{order}")).await;
        assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.body);
        assert_eq!(r.ids(), *want, "{q}");
    }
    let r =
        env.send(anon, Method::GET, "/rpc/cheap?max=2&select=n:name&order=id&limit=1", "", &[COUNT]).await;
    assert_eq!((r.status, r.header("content-range")), (StatusCode::PARTIAL_CONTENT, "0-0/3"));
    assert_eq!(r.body, json!([{"n": "apple"}]));
    let object = ("accept", "application/vnd.pgrst.object+json");
    let r = env.send(anon, Method::GET, "/rpc/cheap?max=2&id=eq.2&select=name", "", &[object]).await;
    assert_eq!(r.body, json!({"name": "banana"}));
    let r = env.send(anon, Method::GET, "/rpc/cheap?max=2", "", &[object]).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_ACCEPTABLE, "PGRST116"));
    let r = env.get(anon, "/rpc/cheap?nope=eq.1").await;
    assert_eq!(
        (r.status, r.body["message"].clone()),
        (StatusCode::BAD_REQUEST, json!("column cheap.nope does not exist"))
    );
    let r = env.get(anon, "/rpc/cheap?id=eq.x").await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "22P02"));
    let r = env.get(anon, "/rpc/cheap?select=id,reviews(id)").await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "EB200"));
    // Writes: POST runs read-write; GET is read-only (405 as PostgREST answers).
    let r = env.get(Who::User(A), "/rpc/rename_first").await;
    assert_eq!((r.status, r.code()), (StatusCode::METHOD_NOT_ALLOWED, "25006"), "{}", r.body);
    let r = env.send(Who::User(A), Method::POST, "/rpc/rename_first", "{}", &[]).await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::OK, json!(1)), "{}", r.body);
    assert_eq!(env.get(anon, "/products/1?select=name").await.body, json!({"name": "renamed"}));
    // Unknown functions and methods.
    let r = env.get(anon, "/rpc/nope?a=1").await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "PGRST202"));
    assert_eq!(r.body["message"], "Could not find the function public.nope(a) in the schema cache");
    let r = env.send(anon, Method::PATCH, "/rpc/add", "{}", &[]).await;
    assert_eq!((r.status, r.code()), (StatusCode::METHOD_NOT_ALLOWED, "PGRST101"));
    let r = env.get(Who::NoKey, "/rpc/add?a=1&b=2").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// `GET /`: the OpenAPI document of the exposed tables, the project's REST URL its server.
async fn openapi(env: &Env) {
    let r = env.get(Who::Anon, "/").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.header("content-type"), "application/openapi+json; charset=utf-8");
    assert_eq!(r.body["openapi"], "3.1.0");
    let project = env.platform.projects(None).await.unwrap().remove(0);
    assert_eq!(r.body["info"]["title"], "Shop");
    assert_eq!(r.body["servers"][0]["url"], format!("{}/rest/v1", project.api_url));
    let paths = r.body["paths"].as_object().unwrap();
    for path in ["/products", "/products/{id}", "/notes", "/product_tags"] {
        assert!(paths.contains_key(path), "{path}: {:?}", paths.keys());
    }
    // The hidden table leaves nothing behind.
    assert!(!r.body.to_string().contains("secrets"), "{}", r.body);
    assert!(r.body["components"]["schemas"]["products"].is_object());
    assert!(r.body["components"]["parameters"]["rowFilter.products.name"].is_object());
    let accept = |v: &'static str| [("accept", v)];
    let r = env.send(Who::Anon, Method::GET, "/", "", &accept("application/openapi+json")).await;
    assert_eq!((r.status, r.body["openapi"].clone()), (StatusCode::OK, json!("3.1.0")));
    let r = env.send(Who::Anon, Method::HEAD, "/", "", &[]).await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::OK, Value::Null));
    let r = env.send(Who::Anon, Method::GET, "/", "", &accept("text/csv")).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_ACCEPTABLE, "PGRST107"));
    let r = env.send(Who::Anon, Method::GET, "/products", "", &accept("application/openapi+json")).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_ACCEPTABLE, "PGRST107"));
    let r = env.send(Who::Anon, Method::GET, "/", "", &[("accept-profile", "private")]).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_ACCEPTABLE, "PGRST106"));
    let r = env.send(Who::Anon, Method::POST, "/", "{}", &[]).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{}", r.body);
    let r = env.get(Who::NoKey, "/").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// `timestamptz` values given with any offset are the same instants (MySQL stores UTC,
/// SQLite one UTC text form), rendered as PostgreSQL does: `T`, trimmed fraction, `+00:00`.
async fn times(env: &Env) {
    let rows = r#"[{"id": 1, "at": "2024-05-01T12:30:00+02:00", "local": "2024-05-01 12:30:00"},
                   {"id": 2, "at": "2024-05-01T10:00:00.5Z", "local": "2024-05-01T09:00:00.25"},
                   {"id": 3, "at": null, "local": null}]"#;
    let r = env.send(Who::Service, Method::POST, "/events?select=id,at", rows, &[REPR]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body[0], json!({"id": 1, "at": "2024-05-01T10:30:00+00:00"}));
    let r = env.get(Who::Anon, "/events?order=id").await;
    assert_eq!(
        r.body,
        json!([
            {"id": 1, "at": "2024-05-01T10:30:00+00:00", "local": "2024-05-01T12:30:00"},
            {"id": 2, "at": "2024-05-01T10:00:00.5+00:00", "local": "2024-05-01T09:00:00.25"},
            {"id": 3, "at": null, "local": null}
        ])
    );
    let cases: &[(&str, &[i64])] = &[
        ("at=eq.2024-05-01T12:30:00%2B02:00", &[1]),
        ("at=eq.2024-05-01T10:30:00Z", &[1]),
        ("at=gt.2024-05-01T10:15:00Z", &[1]),
        ("at=lt.2024-05-01T06:00:01-04:00", &[2]),
        ("order=at.desc.nullslast", &[1, 2, 3]),
        ("order=local", &[2, 1, 3]),
    ];
    for (q, want) in cases {
        let r = env.get(Who::Anon, &format!("/events?select=id&{q}")).await;
        assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.body);
        assert_eq!(r.ids(), *want, "{q}");
    }
    let r = env
        .send(
            Who::Service,
            Method::PATCH,
            "/events?id=eq.3&select=at",
            r#"{"at": "2024-12-31T23:30:00-01:00"}"#,
            &[REPR],
        )
        .await;
    assert_eq!(r.body, json!([{"at": "2025-01-01T00:30:00+00:00"}]), "{}", r.body);
    // Text that is no date-time: PostgreSQL fails to read it; MySQL would match nothing,
    // so EasBase refuses what is not ISO 8601 there.
    let r = env.get(Who::Anon, "/events?select=id,at&at=eq.not a time").await;
    let code = if env.pg { "22007" } else { "EB203" };
    // (SQLite would compare it as text.)
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, code), "{}", r.body);
    let r = env.send(Who::Service, Method::POST, "/events", r#"{"id": 9, "at": "soon"}"#, &[]).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, code), "{}", r.body);
}

/// Keys the database generates (`gen_random_uuid()`) are in the answer of the insert, in
/// the payload's order, and the insert policy still applies.
async fn generated_keys(env: &Env) {
    let user = Who::User(A);
    let body = r#"[{"name": "b"}, {"name": "a"}, {"name": "c"}]"#;
    let r = env.send(user, Method::POST, "/labels", body, &[REPR]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let rows = r.body.as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["b", "a", "c"]);
    let ids: std::collections::HashSet<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3, "{}", r.body);
    assert!(ids.iter().all(|id| id.len() == 36 && id.matches('-').count() == 4), "{}", r.body);
    let one = rows[1]["id"].as_str().unwrap();
    let r = env.get(user, &format!("/labels/{one}?select=name")).await;
    assert_eq!(r.body, json!({"name": "a"}));
    let r = env.send(user, Method::POST, "/labels", r#"[{"name": "ok"}, {"name": "bad"}]"#, &[]).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "42501"), "{}", r.body);
    let r = env
        .send(user, Method::POST, "/labels", r#"{"name": "d"}"#, &[("prefer", "return=headers-only")])
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(r.header("location").starts_with("/labels?id=eq."), "{}", r.header("location"));
    let r = env.send(user, Method::GET, "/labels?select=name&order=name", "", &[COUNT]).await;
    assert_eq!(r.body, json!([{"name": "a"}, {"name": "b"}, {"name": "c"}, {"name": "d"}]));
}

/// Inserts whose rows leave out their key are answered on every engine (MySQL, without
/// `RETURNING`, finds them again by the keys it knows before inserting), or refused as
/// PostgreSQL refuses them.
async fn insert_keys(env: &Env) {
    let service = Who::Service;
    // A key with a literal default.
    let r = env.send(service, Method::POST, "/singletons", r#"{"note": "a"}"#, &[REPR]).await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::CREATED, json!([{"id": 1, "note": "a"}])));
    let r = env.send(service, Method::POST, "/singletons", r#"{"note": "b"}"#, &[REPR]).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "23505"), "{}", r.body);
    let r = env.send(service, Method::DELETE, "/singletons?id=eq.1", "", &[]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    // Rows that give their key and rows that take the default, in the payload's order.
    let rows = r#"[{"id": 3, "note": "c"}, {"note": "d"}, {"id": 2, "note": "e"}]"#;
    let missing = ("prefer", "missing=default, return=representation");
    let r = env.send(service, Method::POST, "/singletons?columns=id,note", rows, &[missing]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body, json!([{"id": 3, "note": "c"}, {"id": 1, "note": "d"}, {"id": 2, "note": "e"}]));
    // Without `missing=default` a left-out key is null: PostgreSQL's not-null violation.
    let rows = r#"[{"id": 4, "note": "f"}, {"note": "g"}]"#;
    let r = env.send(service, Method::POST, "/singletons?columns=id,note", rows, &[REPR]).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "23502"), "{}", r.body);
    let r = env.send(service, Method::POST, "/products", r#"{"name": "nokey"}"#, &[REPR]).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "23502"), "{}", r.body);
    let r = env.get(service, "/singletons?select=id&order=id").await;
    assert_eq!(r.ids(), [1, 2, 3]);
    // uuid keys: given ones and drawn ones mixed.
    let c = "c0000000-0000-4000-8000-00000000000c";
    let rows = format!(r#"[{{"id": "{c}", "name": "x"}}, {{"name": "y"}}]"#);
    let r = env.send(Who::User(A), Method::POST, "/labels?columns=id,name", &rows, &[missing]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!((r.body[0]["id"].as_str(), r.body[0]["name"].as_str()), (Some(c), Some("x")), "{}", r.body);
    let drawn = r.body[1]["id"].as_str().unwrap_or_default();
    assert!(drawn.len() == 36 && drawn != c && r.body[1]["name"] == "y", "{}", r.body);
    // A key whose default is the request's user.
    let r = env.send(Who::User(A), Method::POST, "/members", r#"{"username": "alice"}"#, &[REPR]).await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::CREATED, json!([{"id": A, "username": "alice"}])));
    let body = format!(r#"{{"id": "{c}", "username": "mallory"}}"#);
    let r = env.send(Who::User(B), Method::POST, "/members", &body, &[REPR]).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "42501"), "{}", r.body);
    let r = env
        .send(
            Who::User(B),
            Method::POST,
            "/members?columns=id,username",
            r#"[{"username": "bob"}]"#,
            &[("prefer", "missing=default, return=representation")],
        )
        .await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::CREATED, json!([{"id": B, "username": "bob"}])));
}

/// What axum's `nest_service` (and tower in general) asks of a service, checked at compile
/// time.
#[test]
fn the_service_is_mountable() {
    fn mountable<S>()
    where
        S: tower_service::Service<Request<http_body_util::Full<Bytes>>, Error = std::convert::Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        S::Response: Send + 'static,
    {
    }
    mountable::<RestService>();
}

async fn sqlite_env() -> Env {
    let db = Db::open_sqlite(easbase_core::db::SqliteConfig::in_memory()).unwrap();
    let platform = Platform::open(db, PlatformConfig::new("http://api.test"), Vec::new()).await.unwrap();
    Env::new(platform, None, config()).await
}

mod sqlite {
    use super::*;

    #[tokio::test]
    async fn sqlite_reads() {
        reads(&sqlite_env().await).await;
    }
    #[tokio::test]
    async fn sqlite_embedding() {
        embedding(&sqlite_env().await).await;
    }
    #[tokio::test]
    async fn sqlite_isolation() {
        isolation(&sqlite_env().await).await;
    }
    #[tokio::test]
    async fn sqlite_writes() {
        writes(&sqlite_env().await).await;
    }
    #[tokio::test]
    async fn sqlite_policies() {
        policies(&sqlite_env().await).await;
    }
    #[tokio::test]
    async fn sqlite_templates() {
        templates(&sqlite_env().await).await;
    }
    #[tokio::test]
    async fn sqlite_refusals() {
        refusals(&sqlite_env().await).await;
    }
    #[tokio::test]
    async fn sqlite_nesting() {
        nesting(&sqlite_env().await).await;
    }
    #[tokio::test]
    async fn sqlite_json_and_casts() {
        json_and_casts(&sqlite_env().await).await;
    }
    #[tokio::test]
    async fn sqlite_operators() {
        operators(&sqlite_env().await).await;
    }
    #[tokio::test]
    async fn sqlite_rpc() {
        rpc(&sqlite_env().await).await;
    }
    #[tokio::test]
    async fn sqlite_limits_and_counts() {
        limits_and_counts(&sqlite_env().await).await;
    }
    #[tokio::test]
    async fn sqlite_insert_check_any_key() {
        insert_check_any_key(&sqlite_env().await).await;
    }
    #[tokio::test]
    async fn sqlite_aggregates() {
        aggregates(&sqlite_env().await).await;
    }
    #[tokio::test]
    async fn sqlite_openapi() {
        openapi(&sqlite_env().await).await;
    }
    #[tokio::test]
    async fn sqlite_times() {
        times(&sqlite_env().await).await;
    }
    #[tokio::test]
    async fn sqlite_generated_keys() {
        generated_keys(&sqlite_env().await).await;
    }
    #[tokio::test]
    async fn sqlite_insert_keys() {
        insert_keys(&sqlite_env().await).await;
    }
    #[tokio::test]
    async fn sqlite_tower() {
        tower(&sqlite_env().await).await;
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;

    fn pg_url() -> String {
        std::env::var("EASBASE_PG_URL")
            .unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=postgres".into())
    }

    async fn pg_env() -> Env {
        use easbase_core::db::PgConfig;
        let db = Db::connect_postgres(PgConfig::new(pg_url())).await.unwrap_or_else(|e| {
            panic!(
                "cannot reach PostgreSQL at {} ({e}); start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start, or set EASBASE_PG_URL",
                pg_url()
            )
        });
        let schema = format!("t_rest_{}", uuid::Uuid::new_v4().simple());
        let mut platform_config = PlatformConfig::new("http://api.test");
        platform_config.platform_schema = easbase_core::schema::Ident::new(schema.clone()).unwrap();
        let platform = Platform::open(db, platform_config, Vec::new()).await.unwrap();
        // Drop the platform schema if the project cannot be made, then fail.
        match tokio::spawn(Env::new(platform.clone(), Some(schema.clone()), config())).await {
            Ok(env) => env,
            Err(e) => {
                platform.db().execute_script(&[format!("DROP SCHEMA {schema} CASCADE")]).await.unwrap();
                std::panic::resume_unwind(e.into_panic())
            }
        }
    }

    async fn run<F>(env: Env, f: impl FnOnce(&'static Env) -> F + Send + 'static)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let env: &'static Env = Box::leak(Box::new(env));
        let outcome = tokio::spawn(async move { f(env).await }).await;
        // Clean up even when the suite failed, then report the failure.
        cleanup(env).await;
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    }

    async fn cleanup(env: &'static Env) {
        if let Some(schema) = &env.pg_schema {
            for p in env.platform.projects(None).await.unwrap() {
                env.platform.delete_project(&p.id, &p.slug).await.unwrap();
            }
            env.platform.db().execute_script(&[format!("DROP SCHEMA {schema} CASCADE")]).await.unwrap();
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn postgres_reads() {
        run(pg_env().await, reads).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn postgres_embedding() {
        run(pg_env().await, embedding).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn postgres_isolation() {
        run(pg_env().await, isolation).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn postgres_writes() {
        run(pg_env().await, writes).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn postgres_policies() {
        run(pg_env().await, policies).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn postgres_templates() {
        run(pg_env().await, templates).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn postgres_refusals() {
        run(pg_env().await, refusals).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn postgres_nesting() {
        run(pg_env().await, nesting).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn postgres_json_and_casts() {
        run(pg_env().await, json_and_casts).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn postgres_operators() {
        run(pg_env().await, operators).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn postgres_rpc() {
        run(pg_env().await, rpc).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn postgres_limits_and_counts() {
        run(pg_env().await, limits_and_counts).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn postgres_insert_check_any_key() {
        run(pg_env().await, insert_check_any_key).await;
    }
    /// The database's own functions in the project's schema, at `/rpc`.
    async fn pg_functions(env: &'static Env) {
        seed_products(env).await;
        let project = env.platform.projects(None).await.unwrap().remove(0);
        let pdb = env.platform.project_db(&project.id).await.unwrap();
        let s = pdb.pg_schema().unwrap().as_str().to_owned();
        env.platform
            .db()
            .execute_script(&[
                format!("CREATE FUNCTION {s}.add_them(a integer, b integer DEFAULT 10) RETURNS integer LANGUAGE sql AS 'SELECT a + b'"),
                format!("CREATE FUNCTION {s}.cheap_db(max_price numeric) RETURNS SETOF {s}.products LANGUAGE sql STABLE AS 'SELECT * FROM {s}.products WHERE price < max_price'"),
                format!("CREATE FUNCTION {s}.boom() RETURNS void LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'kaboom'; END$$"),
                format!("CREATE FUNCTION {s}.noop() RETURNS void LANGUAGE plpgsql AS $$BEGIN END$$"),
                format!("CREATE FUNCTION {s}.shout(t text) RETURNS json LANGUAGE sql AS $$SELECT json_build_object('up', upper(t))$$"),
            ])
            .await
            .unwrap();
        let anon = Who::Anon;
        let r = env.get(anon, "/rpc/add_them?a=1&b=2").await;
        assert_eq!((r.status, r.body.clone()), (StatusCode::OK, json!(3)), "{}", r.body);
        let r = env.send(anon, Method::POST, "/rpc/add_them", r#"{"a": 5}"#, &[]).await;
        assert_eq!(r.body, json!(15));
        let r = env.get(anon, "/rpc/cheap_db?max_price=1&select=id,name&order=id.desc").await;
        assert_eq!(r.body, json!([{"id": 3, "name": "carrot"}, {"id": 2, "name": "banana"}]), "{}", r.body);
        let r = env
            .send(
                anon,
                Method::GET,
                "/rpc/cheap_db?max_price=100&category=eq.fruit&order=id&limit=1",
                "",
                &[COUNT],
            )
            .await;
        assert_eq!((r.ids(), r.header("content-range")), (vec![1], "0-0/3"));
        let r = env.get(anon, "/rpc/boom").await;
        assert_eq!(
            (r.status, r.code(), r.body["message"].clone()),
            (StatusCode::BAD_REQUEST, "P0001", json!("kaboom"))
        );
        let r = env.send(anon, Method::POST, "/rpc/noop", "", &[]).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        let r = env.get(anon, "/rpc/shout?t=hi").await;
        assert_eq!(r.body, json!({"up": "HI"}));
        let r = env.get(anon, "/rpc/add_them?x=1").await;
        assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "PGRST202"));
        let r = env.get(anon, "/rpc/add_them?a=x").await;
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "22P02"), "{}", r.body);
        // A host function of the same name wins.
        let r = env.get(anon, "/rpc/add?a=1&b=1").await;
        assert_eq!(r.body, json!(2.0));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn postgres_functions() {
        run(pg_env().await, pg_functions).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn postgres_aggregates() {
        run(pg_env().await, aggregates).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn postgres_openapi() {
        run(pg_env().await, openapi).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn postgres_times() {
        run(pg_env().await, times).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn postgres_generated_keys() {
        run(pg_env().await, generated_keys).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn postgres_insert_keys() {
        run(pg_env().await, insert_keys).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn postgres_tower() {
        run(pg_env().await, tower).await;
    }
}

#[cfg(feature = "mysql")]
mod mysql {
    use super::*;
    use easbase_core::db::MyConfig;

    fn mysql_url() -> String {
        std::env::var("EASBASE_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
    }

    async fn server() -> Db {
        Db::connect_mysql(MyConfig::new(mysql_url()).pool_size(1)).await.unwrap_or_else(|e| {
            panic!(
                "cannot reach MariaDB/MySQL at {} ({e}); start it: start-stop-daemon --start --oknodo \
                 --background --exec /usr/sbin/mariadbd, or set EASBASE_MYSQL_URL",
                mysql_url()
            )
        })
    }

    /// A platform on a fresh database `t_rest_<random>` (its projects: databases `p_<id>`).
    async fn my_env() -> (Env, String) {
        let name = format!("t_rest_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        server().await.execute_script(&[format!("create database {name}")]).await.unwrap();
        let url = format!("{}/{name}", mysql_url().trim_end_matches('/'));
        let db = Db::connect_mysql(MyConfig::new(url).pool_size(4)).await.unwrap();
        let platform = Platform::open(db, PlatformConfig::new("http://api.test"), Vec::new()).await.unwrap();
        match tokio::spawn(Env::new(platform, None, config())).await {
            Ok(env) => (env, name),
            Err(e) => {
                server().await.execute_script(&[format!("drop database {name}")]).await.unwrap();
                std::panic::resume_unwind(e.into_panic())
            }
        }
    }

    async fn run<F>(f: impl FnOnce(&'static Env) -> F + Send + 'static)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let (env, name) = my_env().await;
        let env: &'static Env = Box::leak(Box::new(env));
        let outcome = tokio::spawn(async move { f(env).await }).await;
        // Clean up even when the suite failed, then report the failure.
        for p in env.platform.projects(None).await.unwrap() {
            env.platform.delete_project(&p.id, &p.slug).await.unwrap();
        }
        server().await.execute_script(&[format!("drop database {name}")]).await.unwrap();
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn mysql_reads() {
        run(reads).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn mysql_embedding() {
        run(embedding).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn mysql_isolation() {
        run(isolation).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn mysql_writes() {
        run(writes).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn mysql_policies() {
        run(policies).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn mysql_templates() {
        run(templates).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn mysql_refusals() {
        run(refusals).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn mysql_nesting() {
        run(nesting).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn mysql_json_and_casts() {
        run(json_and_casts).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn mysql_operators() {
        run(operators).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn mysql_rpc() {
        run(rpc).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn mysql_limits_and_counts() {
        run(limits_and_counts).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn mysql_insert_check_any_key() {
        run(insert_check_any_key).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn mysql_aggregates() {
        run(aggregates).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn mysql_openapi() {
        run(openapi).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn mysql_times() {
        run(times).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn mysql_generated_keys() {
        run(generated_keys).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn mysql_insert_keys() {
        run(insert_keys).await;
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn mysql_tower() {
        run(tower).await;
    }
}
