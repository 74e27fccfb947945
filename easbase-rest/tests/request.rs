//! Data-driven tests of the request stage: real postgrest-js requests → `ApiRequest`,
//! every refusal → status + code + message, and no input ever panics.
//!
//! A case is written as an HTTP request: `METHOD /path?query`, header lines, a blank line,
//! the body. The rendering shows each part of the intent on its own line; strings are
//! quoted as Rust does, so decoding is visible. Regenerate with `UPDATE_EXPECT=1`.

use easbase_rest::RestError;
use easbase_rest::request::*;
use expect_test::{Expect, expect};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------
// Harness

fn run(spec: &str, limits: &RequestLimits) -> Result<ApiRequest, RestError> {
    let spec = spec.trim_start_matches('\n');
    let (head, body) = spec.split_once("\n\n").unwrap_or((spec, ""));
    let mut lines = head.lines();
    let request_line = lines.next().expect("a request line");
    let (method, target) = request_line.split_once(' ').expect("METHOD /path");
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let mut headers = HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(':').expect("Name: value");
        headers.append(
            HeaderName::from_bytes(name.trim().as_bytes()).expect("header name"),
            HeaderValue::from_str(value.trim()).expect("header value"),
        );
    }
    let method = Method::from_bytes(method.as_bytes()).expect("method");
    api_request(&method, path, query, &headers, body.trim_end_matches('\n').as_bytes(), limits)
}

fn check(spec: &str, expect: Expect) {
    check_with(spec, &RequestLimits::default(), expect);
}

fn check_with(spec: &str, limits: &RequestLimits, expect: Expect) {
    let actual = match run(spec, limits) {
        Ok(req) => render(&req),
        Err(e) => render_error(&e),
    };
    expect.assert_eq(&actual);
}

fn render_error(e: &RestError) -> String {
    let mut out = format!("error {} {}\nmessage: {}\n", e.status().as_u16(), e.code(), e.message());
    if let Some(d) = e.details() {
        out += &format!("details: {d}\n");
    }
    if let Some(h) = e.hint() {
        out += &format!("hint: {h}\n");
    }
    out
}

/// A name as is when it is a plain identifier, else quoted.
fn n(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_') {
        s.to_owned()
    } else {
        format!("{s:?}")
    }
}

fn field(f: &Field) -> String {
    let mut out = n(&f.name);
    for step in &f.json_path {
        out += match step.arrow {
            JsonArrow::Json => "->",
            JsonArrow::Text => "->>",
        };
        match &step.operand {
            JsonOperand::Key(k) => out += &n(k),
            JsonOperand::Index(i) => out += &format!("[{i}]"),
        }
    }
    out
}

fn select(items: &[SelectItem]) -> String {
    items.iter().map(select_item).collect::<Vec<_>>().join(", ")
}

fn embed_params(hint: &Option<String>, join: &Option<JoinType>) -> String {
    let mut out = String::new();
    if let Some(h) = hint {
        out += &format!("!{}", n(h));
    }
    match join {
        Some(JoinType::Inner) => out += "!inner",
        Some(JoinType::Left) => out += "!left",
        None => {}
    }
    out
}

fn select_item(item: &SelectItem) -> String {
    match item {
        SelectItem::Star => "*".to_owned(),
        SelectItem::Field { field: f, alias, cast, aggregate, aggregate_cast } => {
            let mut out = alias.as_deref().map(|a| format!("{}:", n(a))).unwrap_or_default();
            out += &field(f);
            if let Some(c) = cast {
                out += &format!("::{}", n(c));
            }
            if let Some(a) = aggregate {
                out += &format!(".{}()", format!("{a:?}").to_lowercase());
            }
            if let Some(c) = aggregate_cast {
                out += &format!("::{}", n(c));
            }
            out
        }
        SelectItem::Relation { name, alias, hint, join, children } => format!(
            "{}{}{}({})",
            alias.as_deref().map(|a| format!("{}:", n(a))).unwrap_or_default(),
            n(name),
            embed_params(hint, join),
            select(children)
        ),
        SelectItem::Spread { name, hint, join, children } => {
            format!("...{}{}({})", n(name), embed_params(hint, join), select(children))
        }
    }
}

fn path(p: &[String]) -> String {
    p.iter().map(|s| format!("{}.", n(s))).collect()
}

fn op_expr(e: &OpExpr) -> String {
    let not = if e.negated { "not " } else { "" };
    let op = match &e.operation {
        Operation::Op { op, quantifier, value } => {
            let q = match quantifier {
                Some(Quantifier::Any) => "(any)",
                Some(Quantifier::All) => "(all)",
                None => "",
            };
            format!("{}{q} {value:?}", op.as_str())
        }
        Operation::In(values) => format!("in {values:?}"),
        Operation::Is(v) => format!("is {}", format!("{v:?}").to_lowercase()),
        Operation::IsDistinct(v) => format!("isdistinct {v:?}"),
        Operation::Fts { op, language, value } => format!(
            "{}{} {value:?}",
            match op {
                FtsOperator::Fts => "fts",
                FtsOperator::Plain => "plfts",
                FtsOperator::Phrase => "phfts",
                FtsOperator::Websearch => "wfts",
            },
            language.as_deref().map(|l| format!("({l})")).unwrap_or_default()
        ),
    };
    format!("{not}{op}")
}

fn logic(t: &LogicTree) -> String {
    match t {
        LogicTree::Condition { field: f, expr } => format!("{} {}", field(f), op_expr(expr)),
        LogicTree::Expr { negated, op, children } => format!(
            "{}{}({})",
            if *negated { "not." } else { "" },
            format!("{op:?}").to_lowercase(),
            children.iter().map(logic).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn order_term(t: &OrderTerm) -> String {
    let mut out = match &t.relation {
        Some(r) => format!("{}({})", n(r), field(&t.field)),
        None => field(&t.field),
    };
    if let Some(d) = t.direction {
        out += &format!(" {}", format!("{d:?}").to_lowercase());
    }
    if let Some(nl) = t.nulls {
        out += &format!(" nulls{}", format!("{nl:?}").to_lowercase());
    }
    out
}

fn range(r: &Range) -> String {
    match r.limit {
        Some(l) => format!("offset {} limit {l}", r.offset),
        None => format!("offset {}", r.offset),
    }
}

fn render(r: &ApiRequest) -> String {
    let target = match &r.target {
        Target::Root => "/".to_owned(),
        Target::Relation { name, key: None } => format!("relation {name:?}"),
        Target::Relation { name, key: Some(ByKey(k)) } => format!("relation {name:?} key {k:?}"),
        Target::Function { name } => format!("function {name:?}"),
    };
    let mut out = format!("{:?} {target}\n", r.action);
    if let Some(p) = &r.profile {
        out += &format!("profile: {p:?}\n");
    }
    out += &format!("select: {}\n", select(&r.query.select));
    for f in &r.query.filters {
        out += &format!("filter: {}{} {}\n", path(&f.path), field(&f.field), op_expr(&f.expr));
    }
    for l in &r.query.logic {
        out += &format!("logic: {}{}\n", path(&l.path), logic(&l.tree));
    }
    for o in &r.query.order {
        let terms = o.terms.iter().map(order_term).collect::<Vec<_>>().join(", ");
        out += &format!("order: {}{terms}\n", path(&o.path));
    }
    if r.range != Range::ALL {
        out += &format!("range: {}\n", range(&r.range));
    }
    for e in &r.query.embedded_ranges {
        out += &format!("range: {}{}\n", path(&e.path), range(&e.range));
    }
    if let Some(c) = &r.query.columns {
        out += &format!("columns: {c:?}\n");
    }
    if let Some(c) = &r.query.on_conflict {
        out += &format!("on_conflict: {c:?}\n");
    }
    for (k, v) in &r.query.args {
        out += &format!("arg: {k:?} = {v:?}\n");
    }
    let p = &r.preferences;
    let mut prefs = Vec::new();
    if let Some(v) = p.resolution {
        prefs.push(format!("resolution={v:?}"));
    }
    if let Some(v) = p.representation {
        prefs.push(format!("return={v:?}"));
    }
    if let Some(v) = p.count {
        prefs.push(format!("count={v:?}"));
    }
    if let Some(v) = p.missing {
        prefs.push(format!("missing={v:?}"));
    }
    if let Some(v) = p.handling {
        prefs.push(format!("handling={v:?}"));
    }
    if let Some(v) = p.transaction {
        prefs.push(format!("tx={v:?}"));
    }
    if let Some(v) = &p.timezone {
        prefs.push(format!("timezone={v}"));
    }
    if let Some(v) = p.max_affected {
        prefs.push(format!("max-affected={v}"));
    }
    if p.single_object_params {
        prefs.push("params=single-object".to_owned());
    }
    if !p.invalid.is_empty() {
        prefs.push(format!("invalid={:?}", p.invalid));
    }
    if !prefs.is_empty() {
        out += &format!("prefer: {}\n", prefs.join(" "));
    }
    if r.accept != MediaType::Json {
        out += &format!("accept: {:?}\n", r.accept);
    }
    if let Some(payload) = &r.payload {
        let body = match payload {
            Payload::Object(o) => serde_json::Value::Object(o.clone()).to_string(),
            Payload::Array(rows) => {
                serde_json::Value::Array(rows.iter().cloned().map(serde_json::Value::Object).collect())
                    .to_string()
            }
            Payload::Raw { content_type, bytes } => {
                format!("raw {} {:?}", content_type.as_str(), String::from_utf8_lossy(bytes))
            }
        };
        out += &format!("payload ({}): {body}\n", r.content_type.as_str());
        out += &format!("columns used: {:?}\n", r.columns);
    }
    out
}

// ---------------------------------------------------------------------------------------
// What postgrest-js sends (URLSearchParams encoding: `,` → %2C, `(` → %28, space → +, …)

#[test]
fn select_embed_filter_order_range() {
    // supabase.from('countries').select('id, name, cities(id, name)').eq('id', 1)
    //   .order('name', { ascending: false }).range(0, 9)
    check(
        "GET /countries?select=id%2Cname%2Ccities%28id%2Cname%29&id=eq.1&order=name.desc&offset=0&limit=10",
        expect![[r#"
            Read { headers_only: false } relation "countries"
            select: id, name, cities(id, name)
            filter: id eq "1"
            order: name desc
            range: offset 0 limit 10
        "#]],
    );
}

#[test]
fn select_shapes() {
    check(
        "GET /countries",
        expect![[r#"
            Read { headers_only: false } relation "countries"
            select: *
        "#]],
    );
    check(
        "GET /countries?select=",
        expect![[r#"
            Read { headers_only: false } relation "countries"
            select: 
        "#]],
    );
    // .select('id, name:full_name, data->address->>city, tags->0, id::text')
    check(
        "GET /users?select=id%2Cname%3Afull_name%2Cdata-%3Eaddress-%3E%3Ecity%2Ctags-%3E0%2Cid%3A%3Atext",
        expect![[r#"
            Read { headers_only: false } relation "users"
            select: id, name:full_name, data->address->>city, tags->[0], id::text
        "#]],
    );
    // aggregates: .select('count(), total:amount.sum(), avg_price:price::numeric.avg()::int')
    check(
        "GET /orders?select=count%28%29%2Ctotal%3Aamount.sum%28%29%2Cavg_price%3Aprice%3A%3Anumeric.avg%28%29%3A%3Aint%2Ccustomer_id",
        expect![[r#"
            Read { headers_only: false } relation "orders"
            select: "*".count(), total:amount.sum(), avg_price:price::numeric.avg()::int, customer_id
        "#]],
    );
    // hints, inner joins, aliases and nesting: .select('*, author:users!posts_author_id_fkey(name), comments!inner(id, user:users(name))')
    check(
        "GET /posts?select=*%2Cauthor%3Ausers%21posts_author_id_fkey%28name%29%2Ccomments%21inner%28id%2Cuser%3Ausers%28name%29%29",
        expect![[r#"
            Read { headers_only: false } relation "posts"
            select: *, author:users!posts_author_id_fkey(name), comments!inner(id, user:users(name))
        "#]],
    );
    // hint and join type in either order, spread, quoted names with spaces (kept by postgrest-js)
    check(
        r#"GET /albums?select=title%2C...artists%21inner%21fk_artist%28name%29%2Cx%3Ausers%21left%28*%29%2C%22my+col%22"#,
        expect![[r#"
            Read { headers_only: false } relation "albums"
            select: title, ...artists!fk_artist!inner(name), x:users!left(*), "my col"
        "#]],
    );
    // the same JSON key vs index distinction PostgREST makes; quoted JSON keys
    check(
        r#"GET /t?select=data-%3E%22a.b%22-%3E-1%2Cdata-%3E%3Ex-y%2Cfirst-name"#,
        expect![[r#"
            Read { headers_only: false } relation "t"
            select: data->"a.b"->[-1], data->>"x-y", "first-name"
        "#]],
    );
}

#[test]
fn filters_of_every_operator() {
    // .eq .neq .gt .gte .lt .lte .like .ilike .match .imatch .is .in .isdistinct
    check(
        "GET /t?a=eq.1&b=neq.x&c=gt.2&d=gte.3&e=lt.4&f=lte.5&g=like.*abc*&h=ilike.%25al%25&i=match.%5Ea&j=imatch.%5EA&k=is.null&l=in.%281%2C2%29&m=isdistinct.z",
        expect![[r#"
            Read { headers_only: false } relation "t"
            select: *
            filter: a eq "1"
            filter: b neq "x"
            filter: c gt "2"
            filter: d gte "3"
            filter: e lt "4"
            filter: f lte "5"
            filter: g like "*abc*"
            filter: h ilike "%al%"
            filter: i match "^a"
            filter: j imatch "^A"
            filter: k is null
            filter: l in ["1", "2"]
            filter: m isdistinct "z"
        "#]],
    );
    // ranges and arrays: .contains .containedBy .overlaps .rangeGt .rangeGte .rangeLt .rangeLte .rangeAdjacent
    check(
        "GET /reservations?tags=cs.%7Bis%3Aopen%2Cpriority%3Alow%7D&address=cs.%7B%22postcode%22%3A90210%7D&c=cd.%7B1%2C2%7D&during=ov.%5B2000-01-01%2C2000-01-02%29&r1=sr.%5B2000-01-02+08%3A30%2C+2000-01-02+09%3A30%29&r2=nxl.%5B1%2C2%29&r3=sl.%281%2C2%5D&r4=nxr.%5B1%2C2%5D&r5=adj.%5B1%2C2%29",
        expect![[r#"
            Read { headers_only: false } relation "reservations"
            select: *
            filter: tags cs "{is:open,priority:low}"
            filter: address cs "{\"postcode\":90210}"
            filter: c cd "{1,2}"
            filter: during ov "[2000-01-01,2000-01-02)"
            filter: r1 sr "[2000-01-02 08:30, 2000-01-02 09:30)"
            filter: r2 nxl "[1,2)"
            filter: r3 sl "(1,2]"
            filter: r4 nxr "[1,2]"
            filter: r5 adj "[1,2)"
        "#]],
    );
    // .not('name', 'is', null), .is('done', false), is is case-insensitive, is.not_null, is.unknown
    check(
        "GET /t?name=not.is.null&done=is.false&x=is.NULL&y=is.not_null&z=is.unknown&w=not.eq.3",
        expect![[r#"
            Read { headers_only: false } relation "t"
            select: *
            filter: name not is null
            filter: done is false
            filter: x is null
            filter: y is notnull
            filter: z is unknown
            filter: w not eq "3"
        "#]],
    );
    // .textSearch('content', "'eggs' & 'ham'", { config: 'english' }), type plain/phrase/websearch
    check(
        "GET /texts?content=fts%28english%29.%27eggs%27+%26+%27ham%27&a=plfts.fat+cat&b=phfts%28french%29.le+chat&c=wfts.eggs+-ham",
        expect![[r#"
            Read { headers_only: false } relation "texts"
            select: *
            filter: content fts(english) "'eggs' & 'ham'"
            filter: a plfts "fat cat"
            filter: b phfts(french) "le chat"
            filter: c wfts "eggs -ham"
        "#]],
    );
    // .likeAnyOf('name', ['%a%', '%b%']), .ilikeAllOf, eq(any), gt(all)
    check(
        "GET /t?name=like%28any%29.%7B%25a%25%2C%25b%25%7D&n2=ilike%28all%29.%7Bx*%2C*y%7D&id=eq%28any%29.%7B1%2C2%2C3%7D&v=not.gt%28all%29.%7B1%2C%222%22%7D",
        expect![[r#"
            Read { headers_only: false } relation "t"
            select: *
            filter: name like(any) "{%a%,%b%}"
            filter: n2 ilike(all) "{x*,*y}"
            filter: id eq(any) "{1,2,3}"
            filter: v not gt(all) "{1,\"2\"}"
        "#]],
    );
    // .match({ id: 2, name: 'Albania' }) and JSON-path filters
    check(
        "GET /countries?id=eq.2&name=eq.Albania&data-%3Ea-%3E%3Eb=eq.x&tags-%3E0=eq.1",
        expect![[r#"
            Read { headers_only: false } relation "countries"
            select: *
            filter: id eq "2"
            filter: name eq "Albania"
            filter: data->a->>b eq "x"
            filter: tags->[0] eq "1"
        "#]],
    );
}

#[test]
fn in_lists_and_quoting() {
    // .in('name', ['Rio de Janeiro', 'a,b', 'c(d)']): postgrest-js quotes values with , ( )
    check(
        "GET /cities?name=in.%28Rio+de+Janeiro%2C%22a%2Cb%22%2C%22c%28d%29%22%29",
        expect![[r#"
            Read { headers_only: false } relation "cities"
            select: *
            filter: name in ["Rio de Janeiro", "a,b", "c(d)"]
        "#]],
    );
    // .filter('name', 'in', '("Han","Yoda")'), backslash escapes, empty list, quotes mid-value are data
    check(
        r#"GET /t?name=in.%28%22Han%22%2C%22Yoda%22%29&q=in.(%22a%5C%22b%22,%22c%5C%5Cd%22)&e=in.()&m=in.(ab%22c,d)"#,
        expect![[r#"
            Read { headers_only: false } relation "t"
            select: *
            filter: name in ["Han", "Yoda"]
            filter: q in ["a\"b", "c\\d"]
            filter: e in []
            filter: m in ["ab\"c", "d"]
        "#]],
    );
    // An unterminated quote is data, as in PostgREST (its quoted-element parser backtracks).
    check(
        r#"GET /t?id=in.("a,b)"#,
        expect![[r#"
            Read { headers_only: false } relation "t"
            select: *
            filter: id in ["\"a", "b"]
        "#]],
    );
    // Top-level scalar values take the rest verbatim: quotes and commas are data.
    check(
        r#"GET /t?a=eq.%22quoted%22&b=eq.a,b&c=eq.x.y.z&d=eq."#,
        expect![[r#"
            Read { headers_only: false } relation "t"
            select: *
            filter: a eq "\"quoted\""
            filter: b eq "a,b"
            filter: c eq "x.y.z"
            filter: d eq ""
        "#]],
    );
}

#[test]
fn logic_trees() {
    // .or('id.eq.2,name.eq.Algeria')
    check(
        "GET /countries?or=%28id.eq.2%2Cname.eq.Algeria%29",
        expect![[r#"
            Read { headers_only: false } relation "countries"
            select: *
            logic: or(id eq "2", name eq "Algeria")
        "#]],
    );
    // .or('id.gt.3,and(id.eq.1,name.eq.Afghanistan)')
    check(
        "GET /countries?or=%28id.gt.3%2Cand%28id.eq.1%2Cname.eq.Afghanistan%29%29",
        expect![[r#"
            Read { headers_only: false } relation "countries"
            select: *
            logic: or(id gt "3", and(id eq "1", name eq "Afghanistan"))
        "#]],
    );
    // .or('name.eq.Oslo', { referencedTable: 'cities' }), not.or, and=, nested not.and
    check(
        "GET /countries?select=name%2Ccities%28name%29&cities.or=%28name.eq.Oslo%2Cname.eq.Bergen%29&not.or=(a.eq.1,b.eq.2)&and=(c.gte.1,not.and(d.is.null,e.in.(1,2)))&cities.not.and=(x.eq.1)",
        expect![[r#"
            Read { headers_only: false } relation "countries"
            select: name, cities(name)
            logic: cities.or(name eq "Oslo", name eq "Bergen")
            logic: not.or(a eq "1", b eq "2")
            logic: and(c gte "1", not.and(d is null, e in ["1", "2"]))
            logic: cities.not.and(x eq "1")
        "#]],
    );
    // values inside trees: quoted (commas, parens), pg arrays, fts languages, quantifiers, JSON paths
    check(
        r#"GET /t?or=(name.eq."a,b",tags.cs.{x,y},title.fts(english).cat,id.eq(any).{1,2},data->a->>b.eq.1,q.like."(x)",n.not.is.null)"#,
        expect![[r#"
            Read { headers_only: false } relation "t"
            select: *
            logic: or(name eq "a,b", tags cs "{x,y}", title fts(english) "cat", id eq(any) "{1,2}", data->a->>b eq "1", q like "(x)", n not is null)
        "#]],
    );
    // a column literally named "and" is a condition, not a sub-tree
    check(
        "GET /t?or=(and.eq.1,or.is.true)",
        expect![[r#"
            Read { headers_only: false } relation "t"
            select: *
            logic: or(and eq "1", or is true)
        "#]],
    );
}

#[test]
fn order_and_embedded_modifiers() {
    // .order('created_at', { ascending: false, nullsFirst: false }).order('id'),
    // .order('name', { referencedTable: 'cities', ascending: false }), .limit(1, { referencedTable: 'cities' })
    check(
        "GET /countries?select=name%2Ccities%28name%29&order=created_at.desc.nullslast%2Cid.asc&cities.order=name.desc&cities.limit=1&cities.offset=2",
        expect![[r#"
            Read { headers_only: false } relation "countries"
            select: name, cities(name)
            order: created_at desc nullslast, id asc
            order: cities.name desc
            range: cities.offset 2 limit 1
        "#]],
    );
    // order by a to-one relation's column, JSON paths, nulls without a direction, bare columns
    check(
        "GET /cities?select=*%2Ccountry%3Acountries%28name%29&order=countries(name).desc,data->a->>b.asc,x.nullsfirst,y",
        expect![[r#"
            Read { headers_only: false } relation "cities"
            select: *, country:countries(name)
            order: countries(name) desc, data->a->>b asc, x nullsfirst, y
        "#]],
    );
    // embedded filters on a path two levels deep
    check(
        "GET /a?select=*,b(*,c(*))&b.c.id=eq.1&b.c.limit=5",
        expect![[r#"
            Read { headers_only: false } relation "a"
            select: *, b(*, c(*))
            filter: b.c.id eq "1"
            range: b.c.offset 0 limit 5
        "#]],
    );
}

#[test]
fn ranges() {
    // limit/offset, Range header, and their intersection
    check(
        "GET /t?limit=0",
        expect![[r#"
            Read { headers_only: false } relation "t"
            select: *
            range: offset 0 limit 0
        "#]],
    );
    check(
        "GET /t\nRange: 0-24\nRange-Unit: items",
        expect![[r#"
            Read { headers_only: false } relation "t"
            select: *
            range: offset 0 limit 25
        "#]],
    );
    check(
        "GET /t?offset=5\nRange: 10-",
        expect![[r#"
            Read { headers_only: false } relation "t"
            select: *
            range: offset 10
        "#]],
    );
    check(
        "GET /t?limit=3\nRange: 1-10",
        expect![[r#"
            Read { headers_only: false } relation "t"
            select: *
            range: offset 1 limit 2
        "#]],
    );
    // Range headers that are not `from-to` are ignored, as PostgREST does; Range is GET-only.
    check(
        "GET /t\nRange: items=0-9",
        expect![[r#"
            Read { headers_only: false } relation "t"
            select: *
        "#]],
    );
    check(
        "DELETE /t?id=gt.1\nRange: 5-2",
        expect![[r#"
            Delete relation "t"
            select: *
            filter: id gt "1"
        "#]],
    );
    // The last limit wins, as in PostgREST.
    check(
        "GET /t?limit=5&limit=7&offset=1",
        expect![[r#"
            Read { headers_only: false } relation "t"
            select: *
            range: offset 1 limit 7
        "#]],
    );
}

#[test]
fn preferences_accept_and_profiles() {
    // .select('*', { count: 'exact', head: true })
    check(
        "HEAD /countries?select=*\nPrefer: count=exact",
        expect![[r#"
            Read { headers_only: true } relation "countries"
            select: *
            prefer: count=Exact
        "#]],
    );
    // .single(), .csv(), nulls=stripped, q-values, */*
    check(
        "GET /t?id=eq.1\nAccept: application/vnd.pgrst.object+json",
        expect![[r#"
            Read { headers_only: false } relation "t"
            select: *
            filter: id eq "1"
            accept: SingleObject { strip_nulls: false }
        "#]],
    );
    check(
        "GET /t\nAccept: text/csv",
        expect![[r#"
            Read { headers_only: false } relation "t"
            select: *
            accept: Csv
        "#]],
    );
    check(
        "GET /t\nAccept: text/html;q=0.9, application/vnd.pgrst.object+json; nulls=stripped, */*;q=0.1",
        expect![[r#"
            Read { headers_only: false } relation "t"
            select: *
            accept: SingleObject { strip_nulls: true }
        "#]],
    );
    check(
        "GET /t\nAccept: text/html, */*;q=0.8",
        expect![[r#"
            Read { headers_only: false } relation "t"
            select: *
        "#]],
    );
    // several Prefer headers, spaces, first value wins, unknown ignored under lenient
    check(
        "POST /t\nPrefer: return=representation,  count=planned , tx=rollback\nPrefer: return=minimal, missing=default, max-affected=10, timezone=Europe/Oslo, frobnicate, handling=lenient\n\n{\"a\":1}",
        expect![[r#"
            Create relation "t"
            select: *
            prefer: return=Full count=Planned missing=Default handling=Lenient tx=Rollback timezone=Europe/Oslo max-affected=10 invalid=["frobnicate"]
            payload (application/json): {"a":1}
            columns used: ["a"]
        "#]],
    );
    // Accept-Profile for reads, Content-Profile for writes
    check(
        "GET /t\nAccept-Profile: tenant_a\nContent-Profile: ignored",
        expect![[r#"
            Read { headers_only: false } relation "t"
            profile: "tenant_a"
            select: *
        "#]],
    );
    check(
        "DELETE /t?id=eq.1\nAccept-Profile: ignored\nContent-Profile: tenant_b",
        expect![[r#"
            Delete relation "t"
            profile: "tenant_b"
            select: *
            filter: id eq "1"
        "#]],
    );
}

#[test]
fn writes() {
    // supabase.from('countries').insert({ id: 1, name: 'Denmark' }) (empty Prefer, as postgrest-js sends)
    check(
        "POST /countries\nPrefer: \nContent-Type: application/json\n\n{\"id\": 1, \"name\": \"Denmark\"}",
        expect![[r#"
            Create relation "countries"
            select: *
            payload (application/json): {"id":1,"name":"Denmark"}
            columns used: ["id", "name"]
        "#]],
    );
    // .insert([{ id: 1, name: 'a' }, { id: 2 }], { defaultToNull: false }).select()
    check(
        "POST /countries?columns=%22id%22%2C%22name%22&select=*\nPrefer: missing=default,return=representation\n\n[{\"id\":1,\"name\":\"a\"},{\"id\":2}]",
        expect![[r#"
            Create relation "countries"
            select: *
            columns: ["id", "name"]
            prefer: return=Full missing=Default
            payload (application/json): [{"id":1,"name":"a"},{"id":2}]
            columns used: ["id", "name"]
        "#]],
    );
    // .upsert({ id: 1, name: 'x' }, { onConflict: 'id' })
    check(
        "POST /countries?on_conflict=id&columns=%22id%22%2C%22name%22\nPrefer: resolution=merge-duplicates\n\n{\"id\":1,\"name\":\"x\"}",
        expect![[r#"
            Create relation "countries"
            select: *
            columns: ["id", "name"]
            on_conflict: ["id"]
            prefer: resolution=MergeDuplicates
            payload (application/json): {"id":1,"name":"x"}
            columns used: ["id", "name"]
        "#]],
    );
    // .update({ name: 'Australia' }).eq('id', 1).select()
    check(
        "PATCH /countries?id=eq.1&select=*\nPrefer: return=representation\n\n{\"name\":\"Australia\"}",
        expect![[r#"
            Update relation "countries"
            select: *
            filter: id eq "1"
            prefer: return=Full
            payload (application/json): {"name":"Australia"}
            columns used: ["name"]
        "#]],
    );
    // .delete().in('id', [1, 2])
    check(
        "DELETE /countries?id=in.%281%2C2%29\n\nbody is ignored",
        expect![[r#"
            Delete relation "countries"
            select: *
            filter: id in ["1", "2"]
        "#]],
    );
    // PUT upsert by key filter; an empty array is an empty bulk
    check(
        "PUT /countries?id=eq.1\n\n{\"id\":1,\"name\":\"x\"}",
        expect![[r#"
            Upsert relation "countries"
            select: *
            filter: id eq "1"
            payload (application/json): {"id":1,"name":"x"}
            columns used: ["id", "name"]
        "#]],
    );
    check(
        "POST /countries\n\n[]",
        expect![[r#"
            Create relation "countries"
            select: *
            payload (application/json): []
            columns used: []
        "#]],
    );
    // CSV and form bodies
    check(
        "POST /people\nContent-Type: text/csv; charset=utf-8\n\nname,age,note\r\n\"Doe, Jane\",30,NULL\r\nJohn,,\"said \"\"hi\"\"\"\r\n",
        expect![[r#"
            Create relation "people"
            select: *
            payload (text/csv): [{"age":"30","name":"Doe, Jane","note":null},{"age":"","name":"John","note":"said \"hi\""}]
            columns used: ["age", "name", "note"]
        "#]],
    );
    check(
        "POST /people\nContent-Type: application/x-www-form-urlencoded\n\nname=Jane+Doe&city=S%C3%A3o+Paulo",
        expect![[r#"
            Create relation "people"
            select: *
            payload (application/x-www-form-urlencoded): {"city":"São Paulo","name":"Jane Doe"}
            columns used: ["city", "name"]
        "#]],
    );
}

#[test]
fn functions() {
    // supabase.rpc('add', { a: 1, b: 2 })
    check(
        "POST /rpc/add\n\n{\"a\":1,\"b\":2}",
        expect![[r#"
            Call { read_only: false, headers_only: false } function "add"
            select: *
            payload (application/json): {"a":1,"b":2}
            columns used: ["a", "b"]
        "#]],
    );
    // supabase.rpc('list', { ids: [1, 2], q: 'x y' }, { get: true }).gt('score', 5).order('score')
    check(
        "GET /rpc/list?ids=%7B1%2C2%7D&q=x+y&score=gt.5&order=score.asc&limit=3",
        expect![[r#"
            Call { read_only: true, headers_only: false } function "list"
            select: *
            filter: score gt "5"
            order: score asc
            range: offset 0 limit 3
            arg: "ids" = "{1,2}"
            arg: "q" = "x y"
        "#]],
    );
    // variadic repeats are kept; HEAD; an empty POST body means no arguments; raw text body
    check(
        "HEAD /rpc/f?v=1&v=2\nPrefer: count=exact",
        expect![[r#"
            Call { read_only: true, headers_only: true } function "f"
            select: *
            arg: "v" = "1"
            arg: "v" = "2"
            prefer: count=Exact
        "#]],
    );
    check(
        "POST /rpc/now",
        expect![[r#"
            Call { read_only: false, headers_only: false } function "now"
            select: *
            payload (application/json): {}
            columns used: []
        "#]],
    );
    check(
        "POST /rpc/upper\nContent-Type: text/plain\nPrefer: params=single-object\n\nhello",
        expect![[r#"
            Call { read_only: false, headers_only: false } function "upper"
            select: *
            prefer: params=single-object
            payload (text/plain): raw text/plain "hello"
            columns used: []
        "#]],
    );
}

#[test]
fn routes() {
    check(
        "GET /products/42?select=id%2Cname",
        expect![[r#"
            Read { headers_only: false } relation "products" key "42"
            select: id, name
        "#]],
    );
    check(
        "PATCH /products/a%2Fb\n\n{\"name\":\"x\"}",
        expect![[r#"
            Update relation "products" key "a/b"
            select: *
            payload (application/json): {"name":"x"}
            columns used: ["name"]
        "#]],
    );
    check(
        "DELETE /products/42",
        expect![[r#"
            Delete relation "products" key "42"
            select: *
        "#]],
    );
    check(
        "OPTIONS /products",
        expect![[r#"
            Info relation "products"
            select: *
        "#]],
    );
    check(
        "OPTIONS /rpc/f",
        expect![[r#"
            Info function "f"
            select: *
        "#]],
    );
    check(
        "GET /",
        expect![[r#"
            Read { headers_only: false } /
            select: *
        "#]],
    );
    check(
        "GET /my%20table/",
        expect![[r#"
            Read { headers_only: false } relation "my table"
            select: *
        "#]],
    );
}

// ---------------------------------------------------------------------------------------
// Refusals: status, code and a message naming what was wrong

#[test]
fn refusals_query_string() {
    check(
        "GET /t?id=foo.1",
        expect![[r#"
            error 400 PGRST100
            message: "failed to parse filter (foo.1)" (line 1, column 1)
            details: unexpected "foo" expecting "not" or operator (eq, gt, ...)
        "#]],
    );
    check(
        "GET /t?id=1",
        expect![[r#"
            error 400 PGRST100
            message: "failed to parse filter (1)" (line 1, column 1)
            details: unexpected "1" expecting "not" or operator (eq, gt, ...)
        "#]],
    );
    check(
        "GET /t?id=not.foo.1",
        expect![[r#"
            error 400 PGRST100
            message: "failed to parse filter (not.foo.1)" (line 1, column 5)
            details: unexpected "foo" expecting "not" or operator (eq, gt, ...)
        "#]],
    );
    check(
        "GET /t?id=eq",
        expect![[r#"
            error 400 PGRST100
            message: "failed to parse filter (eq)" (line 1, column 3)
            details: unexpected end of input expecting delimiter (.)
        "#]],
    );
    check(
        "GET /t?id=is.maybe",
        expect![[r#"
            error 400 PGRST100
            message: "failed to parse filter (is.maybe)" (line 1, column 4)
            details: unexpected "maybe" expecting null or trilean value (null, not_null, true, false, unknown)
        "#]],
    );
    check(
        "GET /t?id=neq(any).{1}",
        expect![[r#"
            error 400 PGRST100
            message: "failed to parse filter (neq(any).{1})" (line 1, column 4)
            details: unexpected "(" expecting delimiter (.)
        "#]],
    );
    check(
        "GET /t?id=eq(some).{1}",
        expect![[r#"
            error 400 PGRST100
            message: "failed to parse filter (eq(some).{1})" (line 1, column 3)
            details: unexpected "(" expecting "(any)" or "(all)"
        "#]],
    );
    check(
        "GET /t?id=eq(any).1,2",
        expect![[r#"
            error 400 PGRST100
            message: "failed to parse filter (eq(any).1,2)" (line 1, column 9)
            details: unexpected "1" expecting an array literal like {a,b} after (any)/(all) (an array literal starts with { and ends with })
        "#]],
    );
    check(
        "GET /t?title=fts(english.cat",
        expect![[r#"
            error 400 PGRST100
            message: "failed to parse filter (fts(english.cat)" (line 1, column 12)
            details: unexpected "." expecting ")"
        "#]],
    );
    check(
        "GET /t?=eq.1",
        expect![[r#"
            error 400 PGRST100
            message: "failed to parse tree path ()" (line 1, column 1)
            details: unexpected end of input expecting field name (* or [a..z0..9_$])
        "#]],
    );
    check(
        "GET /t?a=eq.%FF",
        expect![[r#"
            error 400 PGRST100
            message: "failed to parse query parameter"
            details: "eq.%FF" is not UTF-8 once percent-decoded
        "#]],
    );
}

#[test]
fn refusals_in_lists() {
    check(
        "GET /t?id=in.(1,2",
        expect![[r#"
            error 400 PGRST100
            message: "failed to parse filter (in.(1,2)" (line 1, column 8)
            details: unexpected end of input expecting "," or ")"
        "#]],
    );
    check(
        "GET /t?id=in.1,2",
        expect![[r#"
            error 400 PGRST100
            message: "failed to parse filter (in.1,2)" (line 1, column 4)
            details: unexpected "1" expecting "("
        "#]],
    );
    check(
        "GET /t?id=in.(1,2)x",
        expect![[r#"
            error 400 PGRST100
            message: "failed to parse filter (in.(1,2)x)" (line 1, column 9)
            details: unexpected "x" expecting end of input
        "#]],
    );
}

#[test]
fn refusals_parentheses() {
    check(
        "GET /t?select=a,b(c",
        expect![[r#"
            error 400 PGRST100
            message: "failed to parse select parameter (a,b(c)" (line 1, column 6)
            details: unexpected end of input expecting "," or ")"
        "#]],
    );
    check(
        "GET /t?select=a)",
        expect![[r#"
            error 400 PGRST100
            message: "failed to parse select parameter (a))" (line 1, column 2)
            details: unexpected ")" expecting "," or end of input
        "#]],
    );
    check(
        "GET /t?select=name!hint",
        expect![[r#"
            error 400 PGRST100
            message: "failed to parse select parameter (name!hint)" (line 1, column 5)
            details: unexpected "!" expecting "->", "::", ".", "(", ",", ")" or end of input
        "#]],
    );
    check(
        "GET /t?select=amount.median()",
        expect![[r#"
            error 400 PGRST100
            message: "failed to parse select parameter (amount.median())" (line 1, column 8)
            details: unexpected "median" expecting aggregate (sum, avg, count, max, min)
        "#]],
    );
    check(
        "GET /t?or=(a.eq.1",
        expect![[r#"
            error 400 PGRST100
            message: "failed to parse logic tree ((a.eq.1)" (line 1, column 8)
            details: unexpected end of input expecting "," or ")"
        "#]],
    );
    check(
        "GET /t?or=a.eq.1",
        expect![[r#"
            error 400 PGRST100
            message: "failed to parse logic tree (a.eq.1)" (line 1, column 1)
            details: unexpected "a" expecting "("
        "#]],
    );
    check(
        "GET /t?or=(a.eq.1))",
        expect![[r#"
            error 400 PGRST100
            message: "failed to parse logic tree ((a.eq.1)))" (line 1, column 9)
            details: unexpected ")" expecting end of input
        "#]],
    );
    check(
        "GET /t?or=()",
        expect![[r#"
            error 400 PGRST100
            message: "failed to parse logic tree (())" (line 1, column 2)
            details: unexpected ")" expecting field name (* or [a..z0..9_$]), negation operator (not) or logic operator (and, or)
        "#]],
    );
    check(
        "GET /t?or=(a.xor.1)",
        expect![[r#"
            error 400 PGRST100
            message: "failed to parse logic tree ((a.xor.1))" (line 1, column 4)
            details: unexpected "xor" expecting "not" or operator (eq, gt, ...)
        "#]],
    );
}

#[test]
fn refusals_order_and_ranges() {
    check(
        "GET /t?order=name.up",
        expect![[r#"
            error 400 PGRST100
            message: "failed to parse order (name.up)" (line 1, column 6)
            details: unexpected "up" expecting "asc", "desc", "nullsfirst" or "nullslast"
        "#]],
    );
    check(
        "GET /t?order=name.desc.nullsmiddle",
        expect![[r#"
            error 400 PGRST100
            message: "failed to parse order (name.desc.nullsmiddle)" (line 1, column 11)
            details: unexpected "nullsmiddle" expecting "nullsfirst" or "nullslast"
        "#]],
    );
    check(
        "GET /t?order=clients(name,id)",
        expect![[r#"
            error 400 PGRST100
            message: "failed to parse order (clients(name,id))" (line 1, column 13)
            details: unexpected "," expecting ")"
        "#]],
    );
    check(
        "GET /t?limit=-1",
        expect![[r#"
            error 416 PGRST103
            message: Requested range not satisfiable
            details: Limit should be greater than or equal to zero.
        "#]],
    );
    check(
        "GET /t?cities.limit=-5",
        expect![[r#"
            error 416 PGRST103
            message: Requested range not satisfiable
            details: Limit should be greater than or equal to zero.
        "#]],
    );
    check(
        "GET /t?offset=abc",
        expect![[r#"
            error 400 PGRST100
            message: "failed to parse offset (abc)" (line 1, column 1)
            details: unexpected "a" expecting a non-negative integer (in offset=abc)
        "#]],
    );
    check(
        "GET /t?offset=-2",
        expect![[r#"
            error 400 PGRST100
            message: "failed to parse offset (-2)" (line 1, column 1)
            details: unexpected "-" expecting a non-negative integer (in offset=-2)
        "#]],
    );
    check(
        "GET /t?limit=ten",
        expect![[r#"
            error 400 PGRST100
            message: "failed to parse limit (ten)" (line 1, column 1)
            details: unexpected "t" expecting a non-negative integer (in limit=ten)
        "#]],
    );
    check(
        "GET /t?limit=99999999999999999999999",
        expect![[r#"
            error 400 PGRST100
            message: "failed to parse limit (99999999999999999999999)" (line 1, column 24)
            details: limit=99999999999999999999999 is too large for a row count
        "#]],
    );
    check(
        "GET /t\nRange: 5-2",
        expect![[r#"
            error 416 PGRST103
            message: Requested range not satisfiable
            details: The lower boundary must be lower than or equal to the upper boundary in the Range header.
        "#]],
    );
    check(
        "GET /t?offset=5\nRange: 0-1",
        expect![[r#"
            error 416 PGRST103
            message: Requested range not satisfiable
            details: The Range header and the limit/offset parameters select no rows in common.
        "#]],
    );
    // PostgREST allows `offset=0` on PUT (it selects every row) but no other window.
    check(
        "PUT /t?id=eq.1&offset=0\n\n{\"id\":1}",
        expect![[r#"
            Upsert relation "t"
            select: *
            filter: id eq "1"
            payload (application/json): {"id":1}
            columns used: ["id"]
        "#]],
    );
    check(
        "PUT /t?id=eq.1&limit=1\n\n{\"id\":1}",
        expect![[r#"
            error 400 PGRST114
            message: limit/offset querystring parameters are not allowed for PUT
        "#]],
    );
}

#[test]
fn refusals_bodies() {
    check(
        "POST /t\n\n{\"a\": 1,}",
        expect![[r#"
            error 400 PGRST102
            message: Empty or invalid json
            details: trailing comma at line 1 column 9
        "#]],
    );
    check(
        "POST /t",
        expect![[r#"
            error 400 PGRST102
            message: Empty or invalid json
            details: EOF while parsing a value at line 1 column 0
        "#]],
    );
    check(
        "POST /t\n\n[{\"a\":1},{\"b\":2}]",
        expect![[r#"
            error 400 PGRST102
            message: All object keys must match
            details: object 1 has the keys (b) but object 0 has (a); send columns= to allow this
        "#]],
    );
    check(
        "POST /t\n\n[{\"a\":1},2]",
        expect![[r#"
            error 400 PGRST102
            message: All object keys must match
            details: element 1 of the array is a number, not an object
        "#]],
    );
    check(
        "POST /t\n\n42",
        expect![[r#"
            error 400 PGRST102
            message: Empty or invalid json
            details: the body is a number; send an object or an array of objects
        "#]],
    );
    check(
        "POST /t\nContent-Type: text/plain\n\nhello",
        expect![[r#"
            error 400 PGRST102
            message: Content-Type not acceptable: text/plain
        "#]],
    );
    check(
        "POST /t\nContent-Type: text/csv\n\na,b\n1\n",
        expect![[r#"
            error 400 PGRST102
            message: All lines must have same number of fields
            details: line 2 has 1 fields, the header has 2
        "#]],
    );
    check(
        "POST /t\nContent-Type: text/csv\n\na,b\n\"1,2\n",
        expect![[r#"
            error 400 PGRST102
            message: Invalid CSV
            details: unterminated quoted field in record 2
        "#]],
    );
    let small = RequestLimits { max_body_bytes: 8, ..RequestLimits::default() };
    check_with(
        "POST /t\n\n{\"name\":\"too long\"}",
        &small,
        expect![[r#"
            error 413 EB101
            message: Request body of 19 bytes is larger than the limit max_body_bytes (8)
            hint: Send fewer rows per request.
        "#]],
    );
}

#[test]
fn refusals_methods_paths_headers() {
    check(
        "PATCH /rpc/f",
        expect![[r#"
            error 405 PGRST101
            message: Cannot use the PATCH method on RPC
        "#]],
    );
    check(
        "TRACE /t",
        expect![[r#"
            error 405 PGRST117
            message: Unsupported HTTP method: TRACE
        "#]],
    );
    check(
        "POST /t/42\n\n{}",
        expect![[r#"
            error 405 PGRST117
            message: Unsupported HTTP method: POST
            details: POST creates rows on /{table}, not on a row's route /{table}/{key}
        "#]],
    );
    check(
        "GET /a/b/c",
        expect![[r#"
            error 404 PGRST125
            message: Invalid path specified in request URL
        "#]],
    );
    check(
        "GET /a//b",
        expect![[r#"
            error 404 PGRST125
            message: Invalid path specified in request URL
        "#]],
    );
    check(
        "GET /t\nAccept: text/html, image/png;q=0.5",
        expect![[r#"
            error 406 PGRST107
            message: None of these media types are available: text/html, image/png
        "#]],
    );
    check(
        "GET /t\nAccept: application/geo+json",
        expect![[r#"
            error 406 PGRST107
            message: None of these media types are available: application/geo+json
        "#]],
    );
    check(
        "GET /t\nAccept: application/json;q=0",
        expect![[r#"
            error 406 PGRST107
            message: None of these media types are available: application/json
        "#]],
    );
    check(
        "GET /t\nPrefer: handling=strict, count=exact, return=everything, colour=blue",
        expect![[r#"
            error 400 PGRST122
            message: Invalid preferences given with handling=strict
            details: Invalid preferences: return=everything, colour=blue
        "#]],
    );
    check(
        "GET /t\nPrefer: handling=strict, count=exact, max-affected=5",
        expect![[r#"
            Read { headers_only: false } relation "t"
            select: *
            prefer: count=Exact handling=Strict max-affected=5
        "#]],
    );
}

#[test]
fn refusals_limits() {
    let tight = RequestLimits {
        max_filters: 3,
        max_embed_depth: 2,
        max_logic_depth: 2,
        max_query_len: 200,
        max_in_values: 3,
        ..RequestLimits::default()
    };
    check_with(
        "GET /t?a=eq.1&b=eq.2&or=(c.eq.3,d.eq.4)",
        &tight,
        expect![[r#"
            error 400 EB100
            message: 4 or more filters is more than the limit max_filters (3)
            hint: The host sets max_filters in RequestLimits; split the request or ask for a higher limit.
        "#]],
    );
    check_with(
        "GET /t?select=a(b(c(d)))",
        &tight,
        expect![[r#"
            error 400 EB100
            message: Embedding 3 levels deep is more than the limit max_embed_depth (2)
            hint: The host sets max_embed_depth in RequestLimits; split the request or ask for a higher limit.
        "#]],
    );
    check_with(
        "GET /t?or=(a.eq.1,and(b.eq.1,or(c.eq.1)))",
        &tight,
        expect![[r#"
            error 400 EB100
            message: Nesting and/or 3 levels deep is more than the limit max_logic_depth (2)
            hint: The host sets max_logic_depth in RequestLimits; split the request or ask for a higher limit.
        "#]],
    );
    check_with(
        "GET /t?id=in.(1,2,3,4)",
        &tight,
        expect![[r#"
            error 400 EB100
            message: A list of 4 or more values is more than the limit max_in_values (3)
            hint: The host sets max_in_values in RequestLimits; split the request or ask for a higher limit.
        "#]],
    );
    check_with(
        &format!("GET /t?select={}", "a,".repeat(150)),
        &tight,
        expect![[r#"
            error 400 EB100
            message: A query string of 307 bytes is more than the limit max_query_len (200)
            hint: The host sets max_query_len in RequestLimits; split the request or ask for a higher limit.
        "#]],
    );
}

#[test]
fn refusals_unreadable_headers() {
    let mut headers = HeaderMap::new();
    headers.insert("accept-profile", HeaderValue::from_bytes(b"caf\xe9").unwrap());
    let err = api_request(&Method::GET, "/t", None, &headers, b"", &RequestLimits::default()).unwrap_err();
    expect![[r#"
        error 400 EB102
        message: The Accept-Profile header is not valid
        details: it is not UTF-8
    "#]]
    .assert_eq(&render_error(&err));

    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_bytes(b"application/js\xf6n").unwrap());
    let err = api_request(&Method::POST, "/t", None, &headers, b"{}", &RequestLimits::default()).unwrap_err();
    expect![[r#"
        error 400 EB102
        message: The Content-Type header is not valid
        details: it contains characters other than visible ASCII
    "#]]
    .assert_eq(&render_error(&err));
}

// ---------------------------------------------------------------------------------------
// Error bodies

#[test]
fn error_body_shape() {
    let err = run("GET /t?id=1", &RequestLimits::default()).unwrap_err();
    expect![[r#"
        {
          "code": "PGRST100",
          "details": "unexpected \"1\" expecting \"not\" or operator (eq, gt, ...)",
          "hint": null,
          "message": "\"failed to parse filter (1)\" (line 1, column 1)"
        }"#]]
    .assert_eq(&serde_json::to_string_pretty(&err.to_body()).unwrap());
}

#[test]
fn array_literals() {
    assert_eq!(
        parse_array_literal(r#"{ a b , "c,d" , NULL, null ,"NULL", e\}f }"#).unwrap(),
        vec![Some("a b".into()), Some("c,d".into()), None, None, Some("NULL".into()), Some("e}f".into())]
    );
    assert_eq!(parse_array_literal(r#"{""}"#).unwrap(), vec![Some(String::new())]);
    for bad in ["", "a,b", "{a,,b}", "{\"a}", "{a\"b}", "{{1,2},{3}}", "{\"a\"b}", "{a\\"] {
        assert!(parse_array_literal(bad).is_err(), "{bad:?} should be refused");
    }
}

// ---------------------------------------------------------------------------------------
// Bombs and no-panic properties

fn big_limits() -> RequestLimits {
    RequestLimits {
        max_query_len: 4 * 1024 * 1024,
        max_body_bytes: 4 * 1024 * 1024,
        ..RequestLimits::default()
    }
}

#[test]
fn depth_bombs_are_refused_without_overflow() {
    let limits = big_limits();
    let n = 50_000;
    let select = format!("select={}a{}", "a(".repeat(n), ")".repeat(n));
    let err = api_request(&Method::GET, "/t", Some(&select), &HeaderMap::new(), b"", &limits).unwrap_err();
    assert_eq!((err.code(), err.status().as_u16()), ("EB100", 400));
    assert!(err.message().contains("max_embed_depth"), "{}", err.message());

    let or = format!("or={}a.eq.1{}", "(".repeat(n), ")".repeat(n));
    let err = api_request(&Method::GET, "/t", Some(&or), &HeaderMap::new(), b"", &limits).unwrap_err();
    assert_eq!(err.code(), "PGRST100", "{}", err.message());

    let or = format!("or=({}a.eq.1{}", "or(".repeat(n), ")".repeat(n + 1));
    let err = api_request(&Method::GET, "/t", Some(&or), &HeaderMap::new(), b"", &limits).unwrap_err();
    assert_eq!(err.code(), "EB100");
    assert!(err.message().contains("max_logic_depth"), "{}", err.message());

    // Even a host that raises the depth limits absurdly is protected by the hard cap of 64.
    let reckless = RequestLimits { max_embed_depth: usize::MAX, max_logic_depth: usize::MAX, ..big_limits() };
    let err = api_request(&Method::GET, "/t", Some(&select), &HeaderMap::new(), b"", &reckless).unwrap_err();
    assert!(err.message().contains("(64)"), "{}", err.message());

    // With the default limits the same strings are refused for their length.
    let err =
        api_request(&Method::GET, "/t", Some(&select), &HeaderMap::new(), b"", &RequestLimits::default())
            .unwrap_err();
    assert!(err.message().contains("max_query_len"), "{}", err.message());

    // Deeply nested JSON stops at serde_json's recursion limit.
    let body = format!("{}{}", "[".repeat(n), "]".repeat(n));
    let err =
        api_request(&Method::POST, "/t", None, &HeaderMap::new(), body.as_bytes(), &limits).unwrap_err();
    assert_eq!(err.code(), "PGRST102");

    // Huge flat inputs are linear.
    let wide = format!("select={}", "a,".repeat(400_000) + "a");
    assert!(api_request(&Method::GET, "/t", Some(&wide), &HeaderMap::new(), b"", &limits).is_ok());
}

fn method() -> impl Strategy<Value = Method> {
    prop::sample::select(vec![
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
        Method::TRACE,
    ])
}

fn path_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/t".to_owned()),
        Just("/rpc/f".to_owned()),
        Just("/t/1".to_owned()),
        Just("/".to_owned()),
        "[/a-z%0-9.]{0,12}",
    ]
}

/// Query strings built from the dialect's own punctuation, so the parsers go deep.
fn query_strategy() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("select".to_owned()),
        Just("order".to_owned()),
        Just("or".to_owned()),
        Just("not.and".to_owned()),
        Just("limit".to_owned()),
        Just("offset".to_owned()),
        Just("columns".to_owned()),
        Just("on_conflict".to_owned()),
        Just("a.b.limit".to_owned()),
        "[a-z.>\\-]{0,8}",
    ];
    let value = "[a-z0-9().,:!*\"\\\\{}\\[\\]>\\- %+_&=é]{0,40}";
    prop::collection::vec((key, value), 0..6)
        .prop_map(|pairs| pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&"))
}

fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[a-z/+*.;=, 0-9\\-]{0,40}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..40),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn no_query_string_panics(m in method(), p in path_strategy(), q in query_strategy()) {
        if let Err(e) = api_request(&m, &p, Some(&q), &HeaderMap::new(), b"{}", &RequestLimits::default()) {
            prop_assert!(e.status().is_client_error(), "{e:?}");
        }
    }

    #[test]
    fn no_arbitrary_string_panics(m in method(), p in any::<String>(), q in any::<String>()) {
        if let Err(e) = api_request(&m, &p, Some(&q), &HeaderMap::new(), b"", &RequestLimits::default()) {
            prop_assert!(e.status().is_client_error(), "{e:?}");
        }
    }

    #[test]
    fn no_header_panics(
        m in method(),
        prefer in header_value(),
        accept in header_value(),
        range in header_value(),
        content_type in header_value(),
        profile in header_value(),
    ) {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("prefer", prefer),
            ("accept", accept),
            ("range", range),
            ("content-type", content_type),
            ("accept-profile", profile.clone()),
            ("content-profile", profile),
        ] {
            if let Ok(v) = HeaderValue::from_bytes(&value) {
                headers.append(name, v);
            }
        }
        if let Err(e) = api_request(&m, "/t", Some("limit=5"), &headers, b"{\"a\":1}", &RequestLimits::default()) {
            prop_assert!(e.status().is_client_error(), "{e:?}");
        }
    }

    #[test]
    fn no_body_panics(
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            "[\\[\\]{}\",:a-z0-9 \\n\\r]{0,200}".prop_map(String::into_bytes),
        ],
        ct in prop::sample::select(vec!["application/json", "text/csv", "application/x-www-form-urlencoded", "text/plain", "image/png"]),
        rpc in any::<bool>(),
    ) {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static(ct));
        let path = if rpc { "/rpc/f" } else { "/t" };
        if let Err(e) = api_request(&Method::POST, path, None, &headers, &body, &RequestLimits::default()) {
            prop_assert!(e.status().is_client_error(), "{e:?}");
        }
    }

    #[test]
    fn array_literals_never_panic(s in "[{}\",\\\\a-z NUL]{0,40}") {
        let _ = parse_array_literal(&s);
    }
}
