//! Splits policy source into tokens.
//!
//! The lexer never fails on a byte it does not know: it reports a [`ParseError`] at the
//! byte offset where the problem starts.

use super::ParseError;

/// One token of policy source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// An identifier or keyword, as written (`[A-Za-z_][A-Za-z0-9_]*`).
    Ident(String),
    /// A string literal, quotes removed and `''` unescaped.
    Str(String),
    /// An integer literal that fits in an `i64`.
    Int(i64),
    /// Any other number literal, as written.
    Decimal(String),
    /// `=` or `==`.
    Eq,
    /// `!=` or `<>`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `!`.
    Bang,
    /// `&&`.
    AndAnd,
    /// `||`.
    OrOr,
    /// `(`.
    LParen,
    /// `)`.
    RParen,
    /// `,`.
    Comma,
    /// `.`.
    Dot,
    /// The end of the input.
    Eof,
}

impl Tok {
    /// How the token is named in error messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Str(_) => "a string".to_owned(),
            Tok::Int(_) | Tok::Decimal(_) => "a number".to_owned(),
            Tok::Eq => "`=`".to_owned(),
            Tok::Ne => "`!=`".to_owned(),
            Tok::Lt => "`<`".to_owned(),
            Tok::Le => "`<=`".to_owned(),
            Tok::Gt => "`>`".to_owned(),
            Tok::Ge => "`>=`".to_owned(),
            Tok::Bang => "`!`".to_owned(),
            Tok::AndAnd => "`&&`".to_owned(),
            Tok::OrOr => "`||`".to_owned(),
            Tok::LParen => "`(`".to_owned(),
            Tok::RParen => "`)`".to_owned(),
            Tok::Comma => "`,`".to_owned(),
            Tok::Dot => "`.`".to_owned(),
            Tok::Eof => "the end of the policy".to_owned(),
        }
    }
}

/// A token and the byte offset where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) pos: usize,
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_continue(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `s` is an identifier of the policy language: `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(is_ident_start) && chars.all(is_ident_continue)
}

/// Splits `src` into tokens, ending with [`Tok::Eof`].
pub(crate) fn lex(src: &str) -> Result<Vec<Token>, ParseError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut chars = src.char_indices().peekable();
    let err = |pos: usize, msg: String| Err(ParseError::new(src, pos, msg));
    while let Some(&(pos, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let next_is = |b: u8| bytes.get(pos + 1) == Some(&b);
        let (tok, len) = match c {
            '(' => (Tok::LParen, 1),
            ')' => (Tok::RParen, 1),
            ',' => (Tok::Comma, 1),
            '.' => (Tok::Dot, 1),
            '=' if next_is(b'=') => (Tok::Eq, 2),
            '=' => (Tok::Eq, 1),
            '!' if next_is(b'=') => (Tok::Ne, 2),
            '!' => (Tok::Bang, 1),
            '<' if next_is(b'>') => (Tok::Ne, 2),
            '<' if next_is(b'=') => (Tok::Le, 2),
            '<' => (Tok::Lt, 1),
            '>' if next_is(b'=') => (Tok::Ge, 2),
            '>' => (Tok::Gt, 1),
            '&' if next_is(b'&') => (Tok::AndAnd, 2),
            '|' if next_is(b'|') => (Tok::OrOr, 2),
            '&' => return err(pos, "unexpected `&` (did you mean `&&`?)".to_owned()),
            '|' => return err(pos, "unexpected `|` (did you mean `||`?)".to_owned()),
            '\'' => {
                let (s, len) = lex_string(src, pos)?;
                (Tok::Str(s), len)
            }
            '"' => {
                return err(
                    pos,
                    "unexpected `\"`: strings use single quotes ('text'), and column names \
                     are written without quotes"
                        .to_owned(),
                );
            }
            '-' | '0'..='9' => lex_number(src, pos)?,
            c if is_ident_start(c) => {
                let len = src[pos..].find(|c: char| !is_ident_continue(c)).unwrap_or(src.len() - pos);
                (Tok::Ident(src[pos..pos + len].to_owned()), len)
            }
            c => return err(pos, format!("unexpected character `{}`", c.escape_debug())),
        };
        out.push(Token { tok, pos });
        // Every token is ASCII-delimited, so `pos + len` is a char boundary.
        while chars.peek().is_some_and(|&(p, _)| p < pos + len) {
            chars.next();
        }
    }
    out.push(Token { tok: Tok::Eof, pos: src.len() });
    Ok(out)
}

/// A string literal starting at the quote at `start`: its value and its length in bytes.
fn lex_string(src: &str, start: usize) -> Result<(String, usize), ParseError> {
    let mut value = String::new();
    let mut iter = src[start + 1..].char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        match c {
            '\'' if iter.peek().is_some_and(|&(_, c)| c == '\'') => {
                iter.next();
                value.push('\'');
            }
            '\'' => return Ok((value, i + 2)),
            '\0' => {
                return Err(ParseError::new(
                    src,
                    start + 1 + i,
                    "a string may not contain a NUL character".to_owned(),
                ));
            }
            c => value.push(c),
        }
    }
    Err(ParseError::new(src, start, "unterminated string (missing closing `'`)".to_owned()))
}

/// A number starting at `start` (`-`? digits (`.` digits)?): its token and length.
fn lex_number(src: &str, start: usize) -> Result<(Tok, usize), ParseError> {
    let bytes = src.as_bytes();
    let digits_from = |i: usize| bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    let mut end = start;
    if bytes[end] == b'-' {
        end += 1;
    }
    let int_digits = digits_from(end);
    if int_digits == 0 {
        return Err(ParseError::new(
            src,
            start,
            "unexpected `-` (only a number may start with `-`)".to_owned(),
        ));
    }
    end += int_digits;
    let mut is_decimal = false;
    if bytes.get(end) == Some(&b'.') {
        let frac = digits_from(end + 1);
        if frac == 0 {
            return Err(ParseError::new(src, end, "a decimal point must be followed by digits".to_owned()));
        }
        end += 1 + frac;
        is_decimal = true;
    }
    if bytes.get(end).is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.') {
        return Err(ParseError::new(src, start, "invalid number".to_owned()));
    }
    let text = &src[start..end];
    let tok = match (is_decimal, text.parse::<i64>()) {
        (false, Ok(i)) => Tok::Int(i),
        _ => Tok::Decimal(text.to_owned()),
    };
    Ok((tok, end - start))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        lex(src).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn symbols_and_words() {
        assert_eq!(
            toks("a==b != <> <= >= < > ! && || ( ) , . ="),
            vec![
                Tok::Ident("a".into()),
                Tok::Eq,
                Tok::Ident("b".into()),
                Tok::Ne,
                Tok::Ne,
                Tok::Le,
                Tok::Ge,
                Tok::Lt,
                Tok::Gt,
                Tok::Bang,
                Tok::AndAnd,
                Tok::OrOr,
                Tok::LParen,
                Tok::RParen,
                Tok::Comma,
                Tok::Dot,
                Tok::Eq,
                Tok::Eof
            ]
        );
    }

    #[test]
    fn literals() {
        assert_eq!(
            toks("'it''s' 'é' -3 0 1.50 -0.5 99999999999999999999"),
            vec![
                Tok::Str("it's".into()),
                Tok::Str("é".into()),
                Tok::Int(-3),
                Tok::Int(0),
                Tok::Decimal("1.50".into()),
                Tok::Decimal("-0.5".into()),
                Tok::Decimal("99999999999999999999".into()),
                Tok::Eof
            ]
        );
        assert_eq!(toks("''"), vec![Tok::Str(String::new()), Tok::Eof]);
    }

    #[test]
    fn positions_are_byte_offsets() {
        let t = lex("é = 'x'").unwrap_err();
        assert_eq!(t.position, 0);
        let t = lex("'é' $").unwrap_err();
        assert_eq!((t.position, t.column), (5, 5));
    }

    #[test]
    fn errors() {
        for (src, pos, msg) in [
            ("a = 'abc", 4, "unterminated string"),
            ("a = 1.", 5, "decimal point"),
            ("a = 1x", 4, "invalid number"),
            ("a = -x", 4, "unexpected `-`"),
            ("a & b", 2, "`&&`"),
            ("a | b", 2, "`||`"),
            ("\"a\" = 1", 0, "single quotes"),
            ("a = '\0'", 5, "NUL"),
            ("a = 1.2.3", 4, "invalid number"),
        ] {
            let e = lex(src).unwrap_err();
            assert_eq!(e.position, pos, "{src}");
            assert!(e.message.contains(msg), "{src}: {}", e.message);
        }
    }
}
