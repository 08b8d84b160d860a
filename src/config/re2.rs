//! `expect` patterns in Go's RE2 syntax, as blackbox_exporter compiles them with Go's `regexp`,
//! rewritten where the `regex` crate reads the same text differently, then compiled.
//!
//! Differences handled (Go `regexp/syntax` documentation versus `regex` crate documentation):
//! - `\d \s \w \b` and their negations are ASCII-only in Go, Unicode-aware in Rust;
//! - `\Q...\E` quotes a literal in Go and is unknown to Rust;
//! - `\0`, `\12`, `\123` are octal escapes in Go;
//! - `\<`, `\>`, `\_`, `\ ` are plain characters in Go, word assertions or errors in Rust;
//! - a `{` that does not start `{n}`, `{n,}` or `{n,m}` is a literal in Go, an error in Rust;
//! - inside `[...]`, `[`, `&&` and `~~` are literals in Go but nested classes and set operations
//!   in Rust.
//!
//! A repeated anchor such as blackbox's own `^+OK` needs no rewrite: both engines read it as
//! "the anchor, one or more times", so it means `^OK`.

use std::iter::Peekable;
use std::str::Chars;

/// Compiles a Go RE2 pattern into an equivalent [`regex::Regex`].
///
/// # Errors
/// A one-line description of the syntax error (the `regex` crate's own text, without its
/// multi-line caret drawing).
pub fn compile(pattern: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(&translate(pattern)).map_err(|err| match err {
        regex::Error::Syntax(text) => text
            .lines()
            .rev()
            .find_map(|line| line.strip_prefix("error: "))
            .unwrap_or(text.as_str())
            .to_string(),
        other => other.to_string(),
    })
}

/// Rewrites a Go RE2 pattern into `regex` crate syntax with the same meaning. Syntax errors
/// are passed through unchanged so the compiler reports them.
pub fn translate(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => escape_outside(&mut chars, &mut out),
            '[' => class(&mut chars, &mut out),
            '{' if !starts_repetition(&chars) => out.push_str("\\{"),
            '}' => out.push_str("\\}"),
            '{' => copy_repetition(&mut chars, &mut out),
            other => out.push(other),
        }
    }
    out
}

/// Whether the text after a `{` is `n}`, `n,}` or `n,m}` (Go's `parseRepeat`).
fn starts_repetition(chars: &Peekable<Chars<'_>>) -> bool {
    let rest: String = chars.clone().take_while(|c| *c != '}').collect();
    if chars.clone().nth(rest.chars().count()) != Some('}') {
        return false;
    }
    let (min, max) = match rest.split_once(',') {
        Some((min, max)) => (min, Some(max)),
        None => (rest.as_str(), None),
    };
    let is_number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    is_number(min)
        && match max {
            Some(max) => max.is_empty() || is_number(max),
            None => true,
        }
}

/// Copies a counted repetition whose `{` was consumed, through its `}`.
fn copy_repetition(chars: &mut Peekable<Chars<'_>>, out: &mut String) {
    out.push('{');
    for c in chars.by_ref() {
        out.push(c);
        if c == '}' {
            break;
        }
    }
}

/// Rewrites one escape outside a character class; the `\` was consumed.
fn escape_outside(chars: &mut Peekable<Chars<'_>>, out: &mut String) {
    let Some(c) = chars.next() else {
        out.push('\\');
        return;
    };
    match c {
        'd' => out.push_str("[0-9]"),
        'D' => out.push_str("[^0-9]"),
        's' => out.push_str("[\\t\\n\\f\\r ]"),
        'S' => out.push_str("[^\\t\\n\\f\\r ]"),
        'w' => out.push_str("[0-9A-Za-z_]"),
        'W' => out.push_str("[^0-9A-Za-z_]"),
        'b' => out.push_str("(?-u:\\b)"),
        'B' => out.push_str("(?-u:\\B)"),
        'Q' => quoted_literal(chars, out),
        _ => escape_common(c, chars, out),
    }
}

/// Rewrites the escapes that mean the same inside and outside a class; `c` follows the `\`.
fn escape_common(c: char, chars: &mut Peekable<Chars<'_>>, out: &mut String) {
    match c {
        '0'..='7' => octal(c, chars, out),
        'p' | 'P' | 'x' => {
            out.push('\\');
            out.push(c);
            if chars.peek() == Some(&'{') {
                for inner in chars.by_ref() {
                    out.push(inner);
                    if inner == '}' {
                        break;
                    }
                }
            }
        }
        c if c.is_ascii_punctuation() || c == ' ' => {
            if regex_syntax_meta(c) {
                out.push('\\');
            }
            out.push(c);
        }
        other => {
            out.push('\\');
            out.push(other);
        }
    }
}

/// Characters the `regex` crate requires or allows to be escaped with their literal meaning.
fn regex_syntax_meta(c: char) -> bool {
    "\\.+*?()|[]{}^$#&-~".contains(c)
}

/// Go's octal escapes: `\0` to `\377`; a lone `\1`..`\7` is a back-reference, which both engines
/// reject, so it is left as written.
fn octal(first: char, chars: &mut Peekable<Chars<'_>>, out: &mut String) {
    let is_octal = |c: &char| ('0'..='7').contains(c);
    if first != '0' && !chars.peek().is_some_and(is_octal) {
        out.push('\\');
        out.push(first);
        return;
    }
    let mut value = first.to_digit(8).unwrap_or(0);
    for _ in 0..2 {
        match chars
            .peek()
            .filter(|c| is_octal(c))
            .and_then(|c| c.to_digit(8))
        {
            Some(digit) => {
                value = value * 8 + digit;
                chars.next();
            }
            None => break,
        }
    }
    out.push_str(&format!("\\x{{{value:X}}}"));
}

/// `\Q...\E` (or to the end): the text in between, escaped.
fn quoted_literal(chars: &mut Peekable<Chars<'_>>, out: &mut String) {
    let mut literal = String::new();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek() == Some(&'E') {
            chars.next();
            break;
        }
        literal.push(c);
    }
    out.push_str(&regex::escape(&literal));
}

/// Rewrites a character class whose `[` was consumed, through its closing `]`.
fn class(chars: &mut Peekable<Chars<'_>>, out: &mut String) {
    out.push('[');
    if chars.peek() == Some(&'^') {
        chars.next();
        out.push('^');
    }
    // A `]` right after `[` or `[^` is a literal in both engines; escape it to be plain.
    if chars.peek() == Some(&']') {
        chars.next();
        out.push_str("\\]");
    }
    while let Some(c) = chars.next() {
        match c {
            ']' => {
                out.push(']');
                return;
            }
            '[' if chars.peek() == Some(&':') => posix_class(chars, out),
            '[' | '&' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\\' => escape_in_class(chars, out),
            other => out.push(other),
        }
    }
}

/// Copies `[:name:]` (the `[` was consumed) if it is complete; otherwise escapes the `[`.
fn posix_class(chars: &mut Peekable<Chars<'_>>, out: &mut String) {
    let ahead: String = chars.clone().take(16).collect();
    match ahead.find(":]").filter(|end| *end > 1) {
        Some(end) => {
            out.push('[');
            for _ in 0..end + 2 {
                if let Some(c) = chars.next() {
                    out.push(c);
                }
            }
        }
        None => out.push_str("\\["),
    }
}

/// Rewrites one escape inside a character class; the `\` was consumed.
fn escape_in_class(chars: &mut Peekable<Chars<'_>>, out: &mut String) {
    let Some(c) = chars.next() else {
        out.push('\\');
        return;
    };
    match c {
        'd' => out.push_str("0-9"),
        'D' => out.push_str("[^0-9]"),
        's' => out.push_str("\\t\\n\\f\\r "),
        'S' => out.push_str("[^\\t\\n\\f\\r ]"),
        'w' => out.push_str("0-9A-Za-z_"),
        'W' => out.push_str("[^0-9A-Za-z_]"),
        _ => escape_common(c, chars, out),
    }
}
