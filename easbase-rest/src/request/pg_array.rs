//! Postgres array literals (`{a,"b,c",NULL}`), as sent after `cs.`, `cd.`, `ov.` on array
//! columns and after `eq(any).` and the other quantified operators.

/// Parses a one-dimensional Postgres array literal into its elements; `None` is an
/// unquoted `NULL` (any case).
///
/// Elements are separated by commas; double quotes protect commas, braces and spaces;
/// a backslash escapes the next character (inside or outside quotes); unquoted elements
/// lose their surrounding whitespace. Nested arrays are refused.
///
/// # Errors
/// A sentence saying what is wrong, when the text is not such a literal.
///
/// ```
/// use easbase_rest::request::parse_array_literal;
/// assert_eq!(
///     parse_array_literal(r#"{a, "b,c" ,NULL,"NULL",d\,e}"#).unwrap(),
///     vec![Some("a".into()), Some("b,c".into()), None, Some("NULL".into()), Some("d,e".into())],
/// );
/// assert_eq!(parse_array_literal("{}").unwrap(), vec![]);
/// assert!(parse_array_literal("{a,{b}}").is_err());
/// ```
pub fn parse_array_literal(src: &str) -> Result<Vec<Option<String>>, String> {
    let inner = src
        .trim()
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .ok_or_else(|| "an array literal starts with { and ends with }".to_owned())?;
    let mut elements = Vec::new();
    if inner.trim().is_empty() {
        return Ok(elements);
    }
    let mut chars = inner.chars().peekable();
    loop {
        // One element.
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut text = String::new();
        let mut quoted = false;
        let mut pending_ws = String::new();
        loop {
            match chars.peek().copied() {
                None | Some(',') => break,
                Some('"') if !quoted && text.is_empty() => {
                    chars.next();
                    quoted = true;
                    loop {
                        match chars.next() {
                            None => return Err("unterminated quoted element".to_owned()),
                            Some('"') => break,
                            Some('\\') => match chars.next() {
                                Some(c) => text.push(c),
                                None => return Err("backslash at the end".to_owned()),
                            },
                            Some(c) => text.push(c),
                        }
                    }
                    while chars.next_if(|c| c.is_whitespace()).is_some() {}
                    if !matches!(chars.peek(), None | Some(',')) {
                        return Err("text after a quoted element".to_owned());
                    }
                }
                Some('{' | '}') => return Err("nested arrays are not supported".to_owned()),
                Some('"') => return Err("a quote inside an unquoted element".to_owned()),
                Some('\\') => {
                    chars.next();
                    match chars.next() {
                        Some(c) => {
                            text.push_str(&pending_ws);
                            pending_ws.clear();
                            text.push(c);
                        }
                        None => return Err("backslash at the end".to_owned()),
                    }
                }
                Some(c) if c.is_whitespace() => {
                    chars.next();
                    pending_ws.push(c);
                }
                Some(c) => {
                    chars.next();
                    text.push_str(&pending_ws);
                    pending_ws.clear();
                    text.push(c);
                }
            }
        }
        if !quoted && text.is_empty() {
            return Err("an empty element (quote it: \"\")".to_owned());
        }
        if !quoted && text.eq_ignore_ascii_case("null") {
            elements.push(None);
        } else {
            elements.push(Some(text));
        }
        if chars.next().is_none() {
            return Ok(elements);
        }
    }
}
