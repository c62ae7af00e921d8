//! Diagnostics: what is wrong with a `.x` file and where, rendered the way a good
//! compiler renders them — `file:line:column`, the offending line, a caret under the
//! place, and what was expected.

use crate::ast::Span;

/// One problem found in a specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where the problem is.
    pub span: Span,
    /// What is wrong, as a sentence without a final period ("expected `;`, found `}`").
    pub message: String,
    /// More context, such as where a duplicate name was first defined.
    pub note: Option<(Span, String)>,
}

impl Diagnostic {
    /// A diagnostic at `span`.
    pub fn new(span: Span, message: impl Into<String>) -> Self {
        Diagnostic { span, message: message.into(), note: None }
    }

    /// Adds a note pointing at another place.
    pub fn with_note(mut self, span: Span, note: impl Into<String>) -> Self {
        self.note = Some((span, note.into()));
        self
    }

    /// Renders the diagnostic against the source it came from:
    ///
    /// ```text
    /// filerw.x:3:17: error: expected `;`, found `}`
    ///     |
    ///   3 |     int count }
    ///     |               ^
    /// ```
    pub fn render(&self, file: &str, source: &str) -> String {
        let mut out = render_one(file, source, self.span, "error", &self.message);
        if let Some((span, note)) = &self.note {
            out.push_str(&render_one(file, source, *span, "note", note));
        }
        out
    }
}

/// The 1-based line and column (in characters) of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..floor_char_boundary(source, offset)];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn render_one(file: &str, source: &str, span: Span, level: &str, message: &str) -> String {
    let (line, col) = line_col(source, span.start);
    let text = source.lines().nth(line - 1).unwrap_or("");
    let width = line.to_string().len();
    let start = floor_char_boundary(source, span.start.min(source.len()));
    let end = floor_char_boundary(source, span.end.min(source.len())).max(start);
    let carets = source[start..end].split('\n').next().map_or(1, |s| s.chars().count()).max(1);
    format!(
        "{file}:{line}:{col}: {level}: {message}\n{pad} |\n{line} | {text}\n{pad} | {space}{marks}\n",
        pad = " ".repeat(width),
        space = " ".repeat(col - 1),
        marks = "^".repeat(carets),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diagnostic_points_at_its_line_and_column() {
        let source = "const A = 1;\nstruct s {\n    int count }\n";
        let at = source.find('}').unwrap();
        let d = Diagnostic::new(Span { start: at, end: at + 1 }, "expected `;`, found `}`");
        assert_eq!(
            d.render("t.x", source),
            "t.x:3:15: error: expected `;`, found `}`\n  |\n3 |     int count }\n  |               ^\n"
        );
        assert_eq!(line_col(source, 0), (1, 1));
    }
}
