//! The vocabulary of a parsed query string: select trees, filters, logic trees, order
//! terms and ranges. Names are raw strings here (intent only); the plan stage checks them
//! against the schema.

/// Where a filter, order, limit or logic tree applies: empty for the root relation,
/// `["cities"]` for `cities.name=eq.x`, `["cities", "streets"]` one level deeper.
pub type EmbedPath = Vec<String>;

/// A column, possibly followed by a JSON path: `data->a->>0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The column name as written (quotes removed).
    pub name: String,
    /// `->` / `->>` steps after the column, in order; empty for a plain column.
    pub json_path: Vec<JsonStep>,
}

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JsonStep {
    /// `->` (JSON result) or `->>` (text result).
    pub arrow: JsonArrow,
    /// The key or array index after the arrow.
    pub operand: JsonOperand,
}

/// The two JSON arrows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JsonArrow {
    /// `->`: the result stays JSON.
    Json,
    /// `->>`: the result is text.
    Text,
}

/// What a JSON arrow selects.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JsonOperand {
    /// An object key: `->name`, `->"a b"`.
    Key(String),
    /// An array index: `->0`, `->-1` (from the end).
    Index(i64),
}

/// One item of `select=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectItem {
    /// `*`: every column.
    Star,
    /// A column or JSON path, optionally aliased, cast or aggregated:
    /// `alias:data->a::text`, `amount.sum()`, `count()`.
    Field {
        /// The column (for `count()` alone: `*`).
        field: Field,
        /// `alias:` before the column.
        alias: Option<String>,
        /// `::type` after the column (before any aggregate).
        cast: Option<String>,
        /// `.sum()`, `.avg()`, `.count()`, `.max()`, `.min()`, or `count()` alone.
        aggregate: Option<Aggregate>,
        /// `::type` after the aggregate.
        aggregate_cast: Option<String>,
    },
    /// An embedded resource: `alias:relation!hint!inner(...)`.
    Relation {
        /// The related table, view, or foreign-key / column name used as a hint.
        name: String,
        /// `alias:` before the relation: the key it gets in the result.
        alias: Option<String>,
        /// `!hint`: a foreign key or column name that picks one relationship.
        hint: Option<String>,
        /// `!inner` / `!left`.
        join: Option<JoinType>,
        /// The selection inside the parentheses.
        children: Vec<SelectItem>,
    },
    /// A spread embed: `...relation!hint(...)`, its columns merged into the parent.
    Spread {
        /// The related table or view.
        name: String,
        /// `!hint`.
        hint: Option<String>,
        /// `!inner` / `!left`.
        join: Option<JoinType>,
        /// The selection inside the parentheses.
        children: Vec<SelectItem>,
    },
}

/// Aggregate functions of `select=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Aggregate {
    /// `count()`.
    Count,
    /// `sum()`.
    Sum,
    /// `avg()`.
    Avg,
    /// `max()`.
    Max,
    /// `min()`.
    Min,
}

/// How an embedded resource is joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinType {
    /// `!left` (the default): parents without children are kept.
    Left,
    /// `!inner`: parents without matching children are dropped.
    Inner,
}

/// A horizontal filter from the query string: `cities.name=not.eq.Oslo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The embedded resource it applies to (empty: the root).
    pub path: EmbedPath,
    /// The column (with JSON path) it tests.
    pub field: Field,
    /// The operator and value.
    pub expr: OpExpr,
}

/// An operator expression, possibly negated: `not.in.(1,2)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpExpr {
    /// `not.` prefix.
    pub negated: bool,
    /// The operation.
    pub operation: Operation,
}

/// The operation of a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// A binary operator with one value, e.g. `eq.5`, `like(any).{a*,b*}`, `cs.{1,2}`.
    ///
    /// The value is kept as sent: for `cs`/`cd`/`ov` it may be a Postgres array literal,
    /// JSON or a range, which only the column's type decides (see
    /// [`parse_array_literal`](crate::request::parse_array_literal)). With a
    /// quantifier the value has been checked to be an array literal.
    Op {
        /// The operator.
        op: Operator,
        /// `(any)` / `(all)`: compare with any / all elements of an array literal value.
        quantifier: Option<Quantifier>,
        /// The value as sent (percent-decoded).
        value: String,
    },
    /// `in.(a,"b,c")`: the list's elements, quotes and escapes removed.
    In(Vec<String>),
    /// `is.null`, `is.true`, …
    Is(IsValue),
    /// `isdistinct.value`: `IS DISTINCT FROM`.
    IsDistinct(String),
    /// Full-text search: `fts(english).word`, `plfts.a b`, `phfts`, `wfts`.
    Fts {
        /// Which `to_tsquery` flavour.
        op: FtsOperator,
        /// The text-search configuration in parentheses.
        language: Option<String>,
        /// The query text.
        value: String,
    },
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `eq`: `=`.
    Eq,
    /// `neq`: `<>`.
    Neq,
    /// `gt`: `>`.
    Gt,
    /// `gte`: `>=`.
    Gte,
    /// `lt`: `<`.
    Lt,
    /// `lte`: `<=`.
    Lte,
    /// `like` (`*` stands for `%`).
    Like,
    /// `ilike` (`*` stands for `%`).
    ILike,
    /// `match`: POSIX regular expression `~`.
    Match,
    /// `imatch`: case-insensitive `~*`.
    IMatch,
    /// `cs`: contains `@>`.
    Contains,
    /// `cd`: contained in `<@`.
    ContainedIn,
    /// `ov`: overlaps `&&`.
    Overlap,
    /// `sl`: strictly left of `<<`.
    StrictlyLeft,
    /// `sr`: strictly right of `>>`.
    StrictlyRight,
    /// `nxr`: does not extend to the right of `&<`.
    NotExtendsRight,
    /// `nxl`: does not extend to the left of `&>`.
    NotExtendsLeft,
    /// `adj`: adjacent to `-|-`.
    Adjacent,
}

impl Operator {
    /// Whether `(any)` / `(all)` may follow the operator (PostgREST allows it on
    /// `eq gt gte lt lte like ilike match imatch`).
    pub fn quantifiable(self) -> bool {
        matches!(
            self,
            Self::Eq
                | Self::Gt
                | Self::Gte
                | Self::Lt
                | Self::Lte
                | Self::Like
                | Self::ILike
                | Self::Match
                | Self::IMatch
        )
    }

    /// The operator as written in the query string (`eq`, `cs`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Neq => "neq",
            Self::Gt => "gt",
            Self::Gte => "gte",
            Self::Lt => "lt",
            Self::Lte => "lte",
            Self::Like => "like",
            Self::ILike => "ilike",
            Self::Match => "match",
            Self::IMatch => "imatch",
            Self::Contains => "cs",
            Self::ContainedIn => "cd",
            Self::Overlap => "ov",
            Self::StrictlyLeft => "sl",
            Self::StrictlyRight => "sr",
            Self::NotExtendsRight => "nxr",
            Self::NotExtendsLeft => "nxl",
            Self::Adjacent => "adj",
        }
    }

    pub(crate) fn from_word(word: &str) -> Option<Self> {
        Some(match word {
            "eq" => Self::Eq,
            "neq" => Self::Neq,
            "gt" => Self::Gt,
            "gte" => Self::Gte,
            "lt" => Self::Lt,
            "lte" => Self::Lte,
            "like" => Self::Like,
            "ilike" => Self::ILike,
            "match" => Self::Match,
            "imatch" => Self::IMatch,
            "cs" => Self::Contains,
            "cd" => Self::ContainedIn,
            "ov" => Self::Overlap,
            "sl" => Self::StrictlyLeft,
            "sr" => Self::StrictlyRight,
            "nxr" => Self::NotExtendsRight,
            "nxl" => Self::NotExtendsLeft,
            "adj" => Self::Adjacent,
            _ => return None,
        })
    }
}

/// `(any)` / `(all)` after an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantifier {
    /// `(any)`: true when any element matches.
    Any,
    /// `(all)`: true when all elements match.
    All,
}

/// The value of `is.`; case-insensitive in the query string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IsValue {
    /// `is.null`.
    Null,
    /// `is.not_null`.
    NotNull,
    /// `is.true`.
    True,
    /// `is.false`.
    False,
    /// `is.unknown`.
    Unknown,
}

/// Full-text search operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FtsOperator {
    /// `fts`: `to_tsquery`.
    Fts,
    /// `plfts`: `plainto_tsquery`.
    Plain,
    /// `phfts`: `phraseto_tsquery`.
    Phrase,
    /// `wfts`: `websearch_to_tsquery`.
    Websearch,
}

/// `or=(…)`, `and=(…)`, `not.or=(…)`, `cities.or=(…)`: a logic tree and where it applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logic {
    /// The embedded resource it applies to (empty: the root).
    pub path: EmbedPath,
    /// The tree (its root is the `and`/`or` of the parameter name).
    pub tree: LogicTree,
}

/// A node of a logic tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogicTree {
    /// `and(…)` / `or(…)`, possibly `not.`-negated.
    Expr {
        /// `not.` prefix.
        negated: bool,
        /// `and` or `or`.
        op: LogicOperator,
        /// The operands (at least one).
        children: Vec<LogicTree>,
    },
    /// A leaf condition: `age.gte.18`.
    Condition {
        /// The column tested.
        field: Field,
        /// The operator and value.
        expr: OpExpr,
    },
}

/// `and` / `or`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogicOperator {
    /// All operands hold.
    And,
    /// Any operand holds.
    Or,
}

/// `order=…` or `cities.order=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// The embedded resource it applies to (empty: the root).
    pub path: EmbedPath,
    /// The terms, most significant first.
    pub terms: Vec<OrderTerm>,
}

/// One term of `order=`: `name.desc.nullslast` or `country(name).asc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderTerm {
    /// For `relation(column)`: the embedded (to-one) relation whose column orders the parent.
    pub relation: Option<String>,
    /// The column (with JSON path).
    pub field: Field,
    /// `.asc` / `.desc`; `None`: the database default (ascending).
    pub direction: Option<Direction>,
    /// `.nullsfirst` / `.nullslast`; `None`: the database default.
    pub nulls: Option<Nulls>,
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `.asc`.
    Asc,
    /// `.desc`.
    Desc,
}

/// Position of nulls in a sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nulls {
    /// `.nullsfirst`.
    First,
    /// `.nullslast`.
    Last,
}

/// A window of rows: `offset` rows skipped, then at most `limit` rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Range {
    /// Rows to skip.
    pub offset: u64,
    /// Rows to return at most; `None`: all.
    pub limit: Option<u64>,
}

impl Range {
    /// Every row: no offset, no limit.
    pub const ALL: Range = Range { offset: 0, limit: None };
}

/// `cities.limit=…` / `cities.offset=…`: the window of an embedded resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedRange {
    /// The embedded resource (never empty).
    pub path: EmbedPath,
    /// Its window.
    pub range: Range,
}
