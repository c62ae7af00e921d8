//! The lexer: turns the text of a `.x` file into tokens of the RPC language (RFC 5531 §12,
//! RFC 4506 §6).
//!
//! Besides splitting words, numbers and punctuation, it deals with everything the grammar
//! does not see:
//!
//! - whitespace, `/* … */` and `//` comments are skipped, but the comment written just
//!   above a token (first on its line, no blank line in between) becomes that token's
//!   documentation; a comment that follows a token on the same line documents nothing;
//! - lines starting with `%` (rpcgen's pass-through to C) and preprocessor lines starting
//!   with `#` are skipped, with their `\`-newline continuation lines as the C
//!   preprocessor that rpcgen runs first would splice them (glibc's `nis.x` continues a
//!   `%#define` that way), except `#include "file"`, which is recorded for the loader;
//! - a `"…"` string literal is a token, for rpcgen's string constants
//!   (`const HEXMODULUS = "d4a0…";` in `key_prot.x`);
//! - an integer literal's value is computed here (decimal, `0x` hexadecimal, or octal
//!   with a leading `0`); a leading `-` is a token of its own, applied by the parser.
//!
//! The lexer never stops at an error: a stray character, a malformed or out-of-range
//! number, or an unterminated comment becomes a [`Diagnostic`] and lexing goes on, so the
//! parser can still report its own mistakes. Deciding what the tokens mean is left to
//! [`crate::parser`].

use std::fmt;

use crate::ast::Span;
use crate::diagnostic::Diagnostic;

/// How many diagnostics one file may produce: past this many, more would only repeat
/// the same confusion and, on hostile input, grow with its size.
pub const MAX_DIAGNOSTICS: usize = 100;

/// The largest magnitude an integer literal may have: `i64::MIN` is written
/// `-9223372036854775808`, so the lexer accepts one more than `i64::MAX` and the parser
/// rejects it unless a `-` stands before it.
pub const MAX_MAGNITUDE: u64 = i64::MAX.unsigned_abs() + 1;

/// One token with its place and the comment written just above it.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// What the token is.
    pub kind: TokenKind,
    /// Where it stands. The end-of-file token has an empty span just after the last
    /// token, so a diagnostic about a missing end points at the end of the text.
    pub span: Span,
    /// The comment just above the token, without its comment markers.
    pub doc: Option<String>,
}

/// The kinds of token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    /// A string literal: the text between the quotes as written, C escapes not
    /// interpreted. Only rpcgen's string constants use them.
    Str(String),
    /// A name that is not a keyword: letters, digits and `_`, not starting with a digit.
    Ident(String),
    /// A reserved word.
    Keyword(Keyword),
    /// An integer literal's magnitude, at most [`MAX_MAGNITUDE`]. A malformed or
    /// out-of-range literal has been reported and stands here as 0.
    Number(u64),
    /// Punctuation.
    Punct(Punct),
    /// The end of the text; always the last token.
    Eof,
}

/// The reserved words of the RPC language (RFC 4506 §6.4 and RFC 5531 §12.2). They cannot
/// name anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Keyword {
    /// `bool`
    Bool,
    /// `case`
    Case,
    /// `const`
    Const,
    /// `default`
    Default,
    /// `double`
    Double,
    /// `enum`
    Enum,
    /// `float`
    Float,
    /// `hyper`
    Hyper,
    /// `int`
    Int,
    /// `opaque`
    Opaque,
    /// `program`
    Program,
    /// `quadruple`
    Quadruple,
    /// `string`
    String,
    /// `struct`
    Struct,
    /// `switch`
    Switch,
    /// `typedef`
    Typedef,
    /// `union`
    Union,
    /// `unsigned`
    Unsigned,
    /// `version`
    Version,
    /// `void`
    Void,
}

impl Keyword {
    /// Every keyword, for lookups.
    const ALL: [Keyword; 20] = [
        Keyword::Bool,
        Keyword::Case,
        Keyword::Const,
        Keyword::Default,
        Keyword::Double,
        Keyword::Enum,
        Keyword::Float,
        Keyword::Hyper,
        Keyword::Int,
        Keyword::Opaque,
        Keyword::Program,
        Keyword::Quadruple,
        Keyword::String,
        Keyword::Struct,
        Keyword::Switch,
        Keyword::Typedef,
        Keyword::Union,
        Keyword::Unsigned,
        Keyword::Version,
        Keyword::Void,
    ];

    /// The keyword spelled `word`, if it is one.
    pub fn from_word(word: &str) -> Option<Keyword> {
        Keyword::ALL.into_iter().find(|k| k.as_str() == word)
    }

    /// How the keyword is written.
    pub fn as_str(self) -> &'static str {
        match self {
            Keyword::Bool => "bool",
            Keyword::Case => "case",
            Keyword::Const => "const",
            Keyword::Default => "default",
            Keyword::Double => "double",
            Keyword::Enum => "enum",
            Keyword::Float => "float",
            Keyword::Hyper => "hyper",
            Keyword::Int => "int",
            Keyword::Opaque => "opaque",
            Keyword::Program => "program",
            Keyword::Quadruple => "quadruple",
            Keyword::String => "string",
            Keyword::Struct => "struct",
            Keyword::Switch => "switch",
            Keyword::Typedef => "typedef",
            Keyword::Union => "union",
            Keyword::Unsigned => "unsigned",
            Keyword::Version => "version",
            Keyword::Void => "void",
        }
    }
}

/// The punctuation of the RPC language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Punct {
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `<`
    LAngle,
    /// `>`
    RAngle,
    /// `;`
    Semi,
    /// `,`
    Comma,
    /// `=`
    Equals,
    /// `:`
    Colon,
    /// `*`
    Star,
    /// `-`, only before an integer literal.
    Minus,
}

impl Punct {
    /// The punctuation written as `c`, if any.
    fn from_byte(c: u8) -> Option<Punct> {
        Some(match c {
            b'{' => Punct::LBrace,
            b'}' => Punct::RBrace,
            b'(' => Punct::LParen,
            b')' => Punct::RParen,
            b'[' => Punct::LBracket,
            b']' => Punct::RBracket,
            b'<' => Punct::LAngle,
            b'>' => Punct::RAngle,
            b';' => Punct::Semi,
            b',' => Punct::Comma,
            b'=' => Punct::Equals,
            b':' => Punct::Colon,
            b'*' => Punct::Star,
            b'-' => Punct::Minus,
            _ => return None,
        })
    }

    /// How the punctuation is written.
    pub fn as_str(self) -> &'static str {
        match self {
            Punct::LBrace => "{",
            Punct::RBrace => "}",
            Punct::LParen => "(",
            Punct::RParen => ")",
            Punct::LBracket => "[",
            Punct::RBracket => "]",
            Punct::LAngle => "<",
            Punct::RAngle => ">",
            Punct::Semi => ";",
            Punct::Comma => ",",
            Punct::Equals => "=",
            Punct::Colon => ":",
            Punct::Star => "*",
            Punct::Minus => "-",
        }
    }
}

impl fmt::Display for TokenKind {
    /// How diagnostics name the token: its text in backticks, or "end of file".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenKind::Ident(name) => write!(f, "`{name}`"),
            TokenKind::Str(text) => write!(f, "`\"{text}\"`"),
            TokenKind::Keyword(k) => write!(f, "`{}`", k.as_str()),
            TokenKind::Number(n) => write!(f, "`{n}`"),
            TokenKind::Punct(p) => write!(f, "`{}`", p.as_str()),
            TokenKind::Eof => f.write_str("end of file"),
        }
    }
}

/// What the lexer makes of a whole file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Lexed {
    /// The tokens, ending with [`TokenKind::Eof`].
    pub tokens: Vec<Token>,
    /// The files named by `#include "…"` lines, each with the span of its quoted name.
    pub includes: Vec<(String, Span)>,
    /// What was wrong, in source order; more than [`MAX_DIAGNOSTICS`] means that some
    /// were left out.
    pub diagnostics: Vec<Diagnostic>,
    /// Whether an unterminated comment swallowed the end of the file; the parser then
    /// keeps quiet about what it finds missing at the end.
    pub truncated: bool,
}

/// Splits `source` into tokens. Never fails: problems are collected in
/// [`Lexed::diagnostics`].
pub fn lex(source: &str) -> Lexed {
    let mut lexer = Lexer { source, pos: 0, out: Lexed::default(), line_blank: true, newlines: 0, pending: None };
    lexer.run();
    let end = lexer.out.tokens.last().map_or(0, |t| t.span.end);
    lexer.out.tokens.push(Token { kind: TokenKind::Eof, span: Span { start: end, end }, doc: None });
    lexer.out
}

/// A comment waiting for the token it documents.
struct PendingDoc {
    text: String,
    /// Whether it came from `//` lines, which merge with a `//` line just below.
    line_comment: bool,
}

struct Lexer<'a> {
    source: &'a str,
    pos: usize,
    out: Lexed,
    /// Whether only whitespace stands between the start of the line and `pos`.
    line_blank: bool,
    /// Newlines seen since the last comment or token; two mean a blank line.
    newlines: usize,
    pending: Option<PendingDoc>,
}

impl Lexer<'_> {
    fn run(&mut self) {
        let bytes = self.source.as_bytes();
        while let Some(&c) = bytes.get(self.pos) {
            let start = self.pos;
            match c {
                b'\n' => {
                    self.pos += 1;
                    self.line_blank = true;
                    self.newlines += 1;
                    if self.newlines >= 2 {
                        // A blank line separates a comment from what follows.
                        self.pending = None;
                    }
                }
                b' ' | b'\t' | b'\r' | 0x0b | 0x0c => self.pos += 1,
                b'%' | b'#' if self.line_blank => {
                    let end = self.logical_line_end(start);
                    if c == b'#' {
                        self.directive(start, end);
                    }
                    self.pos = end;
                    self.pending = None;
                    self.line_blank = false;
                }
                b'/' if bytes.get(start + 1) == Some(&b'*') => self.block_comment(start),
                b'/' if bytes.get(start + 1) == Some(&b'/') => self.line_comment(start),
                b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                    let end = self.word_end(start);
                    let word = &self.source[start..end];
                    let kind = match Keyword::from_word(word) {
                        Some(k) => TokenKind::Keyword(k),
                        None => TokenKind::Ident(word.to_owned()),
                    };
                    self.push(kind, start, end);
                }
                b'"' => self.string(start),
                b'0'..=b'9' => {
                    let end = self.word_end(start);
                    let value = self.number(start, end);
                    self.push(TokenKind::Number(value), start, end);
                }
                _ => match Punct::from_byte(c) {
                    Some(p) => self.push(TokenKind::Punct(p), start, start + 1),
                    None => {
                        let ch = self.source[start..].chars().next().unwrap_or('\u{fffd}');
                        let end = start + ch.len_utf8().max(1);
                        self.error(start, end, format!("unexpected character `{}`", ch.escape_debug()));
                        self.pos = end;
                        self.line_blank = false;
                    }
                },
            }
        }
    }

    fn push(&mut self, kind: TokenKind, start: usize, end: usize) {
        // An empty or decorative comment (`/*****/`) documents nothing.
        let doc = self.pending.take().map(|p| p.text).filter(|text| !text.is_empty());
        self.out.tokens.push(Token { kind, span: Span { start, end }, doc });
        self.pos = end;
        self.line_blank = false;
        self.newlines = 0;
    }

    fn error(&mut self, start: usize, end: usize, message: String) {
        self.report(Diagnostic::new(Span { start, end }, message));
    }

    /// Records a diagnostic, up to one more than [`MAX_DIAGNOSTICS`] (to tell that some
    /// were left out).
    fn report(&mut self, diagnostic: Diagnostic) {
        if self.out.diagnostics.len() <= MAX_DIAGNOSTICS {
            self.out.diagnostics.push(diagnostic);
        }
    }

    /// The end of the line starting at `start`, continued over `\`-newlines.
    fn logical_line_end(&self, start: usize) -> usize {
        let mut end = start;
        loop {
            let Some(n) = self.source[end..].find('\n') else { return self.source.len() };
            let line_end = end + n;
            if !self.source[start..line_end].trim_end_matches('\r').ends_with('\\') {
                return line_end;
            }
            end = line_end + 1;
        }
    }

    /// A string literal starting with the `"` at `start`; it must end on the same line.
    fn string(&mut self, start: usize) {
        let rest = &self.source[start + 1..];
        match rest.find(['"', '\n']) {
            Some(n) if rest.as_bytes().get(n) == Some(&b'"') => {
                let text = rest[..n].to_owned();
                self.push(TokenKind::Str(text), start, start + 1 + n + 1);
            }
            found => {
                // Reported, and taken to end with the line so the parser goes on.
                let end = found.map_or(self.source.len(), |n| start + 1 + n);
                self.error(start, end, "unterminated string: expected a closing `\"` on the same line".to_owned());
                let text = self.source[start + 1..end].trim_end().to_owned();
                self.push(TokenKind::Str(text), start, end);
            }
        }
    }

    /// The end of the run of letters, digits and `_` starting at `start`.
    fn word_end(&self, start: usize) -> usize {
        self.source[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(self.source.len(), |n| start + n)
    }

    /// The value of the integer literal `source[start..end]`, or 0 after a diagnostic.
    fn number(&mut self, start: usize, end: usize) -> u64 {
        let text = &self.source[start..end];
        let (digits, radix, what) = if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            (hex, 16, " (hexadecimal)")
        } else if text.len() > 1 && text.starts_with('0') {
            (&text[1..], 8, " (a leading `0` makes it octal)")
        } else {
            (text, 10, "")
        };
        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            self.error(start, end, format!("invalid integer literal `{text}`{what}"));
            return 0;
        }
        match u64::from_str_radix(digits, radix) {
            Ok(value) if value <= MAX_MAGNITUDE => value,
            _ => {
                self.report(out_of_range(text, Span { start, end }));
                0
            }
        }
    }

    fn block_comment(&mut self, start: usize) {
        let first_on_line = self.line_blank;
        let Some(close) = self.source[start + 2..].find("*/") else {
            self.error(start, start + 2, "unterminated comment: this `/*` has no closing `*/`".to_owned());
            self.out.truncated = true;
            self.pos = self.source.len();
            return;
        };
        let end = start + 2 + close + 2;
        let text = clean_block(&self.source[start + 2..end - 2]);
        self.comment(text, false, first_on_line);
        self.pos = end;
    }

    fn line_comment(&mut self, start: usize) {
        let first_on_line = self.line_blank;
        let end = self.source[start..].find('\n').map_or(self.source.len(), |n| start + n);
        let body = self.source[start + 2..end].trim_start_matches(['/', '!']);
        self.comment(body.trim().to_owned(), true, first_on_line);
        self.pos = end;
    }

    /// Records a comment as the documentation of the next token, if it stands above it.
    fn comment(&mut self, text: String, line_comment: bool, first_on_line: bool) {
        self.newlines = 0;
        self.line_blank = false;
        if !first_on_line {
            // A comment after a token on the same line talks about that token.
            self.pending = None;
            return;
        }
        self.pending = match self.pending.take() {
            Some(mut above) if line_comment && above.line_comment => {
                if !(above.text.is_empty() || text.is_empty()) {
                    above.text.push('\n');
                }
                above.text.push_str(&text);
                Some(above)
            }
            _ => Some(PendingDoc { text, line_comment }),
        };
    }

    /// A preprocessor line `source[start..end]`: records `#include "file"`, ignores the rest.
    fn directive(&mut self, start: usize, end: usize) {
        let line = &self.source[start..end];
        let after_hash = line[1..].trim_start();
        let Some(rest) = after_hash.strip_prefix("include") else { return };
        let rest_trimmed = rest.trim_start();
        if !rest_trimmed.starts_with('"') {
            // `#include <file.h>` concerns the C compiler only.
            return;
        }
        let quote = end - rest_trimmed.len();
        match rest_trimmed[1..].find('"') {
            Some(len) => {
                let name = rest_trimmed[1..1 + len].to_owned();
                self.out.includes.push((name, Span { start: quote, end: quote + len + 2 }));
            }
            None => self.error(quote, end, "unterminated file name in `#include`: expected a closing `\"`".to_owned()),
        }
    }
}

/// The diagnostic for an integer literal too large for the 64-bit values of the syntax tree.
pub fn out_of_range(text: &str, span: Span) -> Diagnostic {
    Diagnostic::new(
        span,
        format!("integer literal `{text}` is out of range: constants must fit in a 64-bit signed integer"),
    )
}

/// The text of a block comment without its decorations: each line trimmed and stripped of
/// a leading `*`, empty lines at either end dropped.
fn clean_block(inner: &str) -> String {
    let lines: Vec<&str> = inner
        .lines()
        .map(|line| {
            let line = line.trim();
            line.trim_start_matches('*').trim()
        })
        .collect();
    let first = lines.iter().position(|l| !l.is_empty());
    let last = lines.iter().rposition(|l| !l.is_empty());
    match (first, last) {
        (Some(first), Some(last)) => lines[first..=last].join("\n"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<TokenKind> {
        let lexed = lex(source);
        assert_eq!(lexed.diagnostics, vec![], "{source}");
        lexed.tokens.into_iter().map(|t| t.kind).collect()
    }

    fn ident(name: &str) -> TokenKind {
        TokenKind::Ident(name.to_owned())
    }

    #[test]
    fn words_numbers_and_punctuation_become_tokens() {
        assert_eq!(
            kinds("const _A1 = -0x1F;"),
            vec![
                TokenKind::Keyword(Keyword::Const),
                ident("_A1"),
                TokenKind::Punct(Punct::Equals),
                TokenKind::Punct(Punct::Minus),
                TokenKind::Number(31),
                TokenKind::Punct(Punct::Semi),
                TokenKind::Eof,
            ]
        );
        let all = kinds("{ } ( ) [ ] < > ; , = : * -");
        assert_eq!(all.len(), 15);
    }

    #[test]
    fn numbers_are_decimal_hex_or_octal() {
        assert_eq!(kinds("10 0x10 0X1f 010 0")[..5], [10, 16, 31, 8, 0].map(TokenKind::Number));
        assert_eq!(kinds("9223372036854775808")[0], TokenKind::Number(MAX_MAGNITUDE));
    }

    #[test]
    fn malformed_and_huge_numbers_are_reported_with_their_span() {
        let lexed = lex("a 09 0x 12ab 18446744073709551616 9223372036854775809");
        let messages: Vec<_> = lexed.diagnostics.iter().map(|d| (d.span.start, d.message.as_str())).collect();
        assert_eq!(
            messages,
            vec![
                (2, "invalid integer literal `09` (a leading `0` makes it octal)"),
                (5, "invalid integer literal `0x` (hexadecimal)"),
                (8, "invalid integer literal `12ab`"),
                (13, "integer literal `18446744073709551616` is out of range: constants must fit in a 64-bit signed integer"),
                (34, "integer literal `9223372036854775809` is out of range: constants must fit in a 64-bit signed integer"),
            ]
        );
        // Each bad literal still stands as a number, so the parser does not stumble too.
        assert_eq!(lexed.tokens.len(), 7);
    }

    #[test]
    fn spans_are_byte_offsets() {
        let lexed = lex("  int\tx ;");
        let spans: Vec<_> = lexed.tokens.iter().map(|t| (t.span.start, t.span.end)).collect();
        assert_eq!(spans, vec![(2, 5), (6, 7), (8, 9), (9, 9)]);
    }

    #[test]
    fn comments_directives_and_pass_through_lines_are_skipped() {
        let source = "%#include <x.h>\n  #ifdef RPC_HDR\n/* a */ int // b\n#endif\nx";
        assert_eq!(kinds(source), vec![TokenKind::Keyword(Keyword::Int), ident("x"), TokenKind::Eof]);
    }

    #[test]
    fn directive_lines_continue_over_backslash_newlines() {
        let source = "%#define D ((A +\\\n\t B) << 16)\n#define E \\\r\n  F\nint";
        assert_eq!(kinds(source), vec![TokenKind::Keyword(Keyword::Int), TokenKind::Eof]);
    }

    #[test]
    fn string_literals_end_on_their_line() {
        assert_eq!(kinds("= \"d4a0\";")[1], TokenKind::Str("d4a0".to_owned()));
        let lexed = lex("const S = \"open\nint");
        assert_eq!(lexed.diagnostics.len(), 1);
        assert_eq!(lexed.diagnostics[0].span, Span { start: 10, end: 15 });
        assert_eq!(lexed.tokens[3].kind, TokenKind::Str("open".to_owned()));
        assert_eq!(lexed.tokens.len(), 6);
    }

    #[test]
    fn include_lines_are_recorded_with_the_span_of_the_name() {
        let source = "#include <rpc/types.h>\n# include \"nis_object.x\"\nint";
        let lexed = lex(source);
        assert_eq!(lexed.includes.len(), 1);
        let (name, span) = &lexed.includes[0];
        assert_eq!(name, "nis_object.x");
        assert_eq!(&source[span.start..span.end], "\"nis_object.x\"");
        assert_eq!(lex("#include \"oops\n").diagnostics.len(), 1);
    }

    #[test]
    fn the_comment_just_above_a_token_is_its_doc() {
        let source = "/*\n * The answer.\n *\n * Really.\n */\nconst";
        assert_eq!(lex(source).tokens[0].doc.as_deref(), Some("The answer.\n\nReally."));
        assert_eq!(lex("// one\n// two\nint").tokens[0].doc.as_deref(), Some("one\ntwo"));
        assert_eq!(lex("/** old */\n/* new */ int").tokens[0].doc.as_deref(), Some("new"));
    }

    #[test]
    fn trailing_comments_and_comments_above_a_blank_line_document_nothing() {
        let lexed = lex("int a; /* about a */\nint b;");
        assert_eq!(lexed.tokens[3].doc, None);
        assert_eq!(lex("/* file header */\n\nconst").tokens[0].doc, None);
        assert_eq!(lex("/* header */\n#ifdef X\nconst").tokens[0].doc, None);
        assert_eq!(lex("/*******/\nconst").tokens[0].doc, None);
    }

    #[test]
    fn an_unterminated_comment_is_reported_at_its_opening() {
        let lexed = lex("int x;\n/* never closed\nint y;");
        assert!(lexed.truncated);
        assert_eq!(lexed.diagnostics.len(), 1);
        assert_eq!(lexed.diagnostics[0].span, Span { start: 7, end: 9 });
        assert_eq!(lexed.tokens.len(), 4);
    }

    #[test]
    fn stray_characters_are_reported_and_skipped() {
        let lexed = lex("int @ x é;");
        let messages: Vec<_> = lexed.diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(messages, vec!["unexpected character `@`", "unexpected character `é`"]);
        assert_eq!(lexed.diagnostics[1].span, Span { start: 8, end: 10 });
        assert_eq!(lexed.tokens.len(), 4);
    }

    #[test]
    fn the_end_of_file_token_stands_after_the_last_token() {
        let lexed = lex("int x\n\n/* trailing */\n");
        assert_eq!(lexed.tokens[2].span, Span { start: 5, end: 5 });
        assert_eq!(lex("").tokens, vec![Token { kind: TokenKind::Eof, span: Span::default(), doc: None }]);
    }
}
