//! courier-idl: the ONC RPC language — rpcgen for Rust.
//!
//! Reads `.x` files (RFC 5531 §12 and RFC 4506 §6, with the rpcgen extensions real files
//! use), checks them, and generates Rust: types that encode exactly as rpcgen's C code
//! encodes them, and for each program version a typed async client, a service trait and
//! the dispatcher that serves it with courier. It also prints a canonical `.x`.
//!
//! From a `build.rs`, the way tonic-build is used:
//!
//! ```no_run
//! // build.rs
//! courier_idl::compile("proto/filerw.x").unwrap();
//! // src/lib.rs: include!(concat!(env!("OUT_DIR"), "/filerw.rs"));
//! ```
//!
//! # Layout
//! - [`ast`]: the syntax tree, with source spans and doc comments.
//! - [`lexer`], [`parser`]: text to tree, with every error located.
//! - [`check`]: names, values and types resolved and verified.
//! - [`rust`]: the Rust code generator.
//! - [`diagnostic`]: errors rendered as `file:line:col` with the line and a caret.

pub mod ast;
pub mod check;
pub mod diagnostic;
pub mod lexer;
pub mod parser;
pub mod print;
pub mod rust;

use std::fmt;
use std::path::{Path, PathBuf};

use diagnostic::Diagnostic;

/// Why a `.x` file could not be compiled.
#[derive(Debug)]
pub enum Error {
    /// A file could not be read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The specification has errors; `rendered` holds every diagnostic, rendered.
    Invalid {
        /// How many errors.
        count: usize,
        /// The diagnostics, rendered against their sources.
        rendered: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Invalid { count, rendered } => {
                write!(f, "{rendered}{count} error{}", if *count == 1 { "" } else { "s" })
            }
        }
    }
}

impl std::error::Error for Error {}

/// A `.x` file with its `#include "…"` files spliced in, and a map back from offsets in
/// the whole text to each file, so diagnostics point into the file they are about.
#[derive(Debug, Clone)]
pub struct Source {
    /// The text, includes expanded.
    pub text: String,
    /// Pieces of `text`: where each starts in `text`, its file's name and text, and where
    /// it starts in that file.
    segments: Vec<(usize, usize, String, std::sync::Arc<String>, usize)>,
}

impl Source {
    /// Reads `path`, splicing in each `#include "name"` (relative to the including file,
    /// each file at most once).
    pub fn load(path: &Path) -> Result<Source, Error> {
        let mut source = Source { text: String::new(), segments: Vec::new() };
        let mut seen = Vec::new();
        source.splice(path, &mut seen, 0)?;
        Ok(source)
    }

    /// A source from text in memory, named `name` in diagnostics.
    pub fn from_text(name: &str, text: &str) -> Source {
        Source {
            text: text.to_owned(),
            segments: vec![(0, text.len(), name.to_owned(), std::sync::Arc::new(text.to_owned()), 0)],
        }
    }

    fn splice(&mut self, path: &Path, seen: &mut Vec<PathBuf>, depth: usize) -> Result<(), Error> {
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_owned());
        if seen.contains(&canonical) || depth > 16 {
            return Ok(());
        }
        seen.push(canonical);
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
        let text = std::sync::Arc::new(text);
        let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let trimmed = line.trim_start();
            let include = trimmed
                .strip_prefix('#')
                .map(str::trim_start)
                .and_then(|rest| rest.strip_prefix("include"))
                .map(str::trim)
                .and_then(|rest| rest.strip_prefix('"'))
                .and_then(|rest| rest.split('"').next());
            match include {
                Some(file) => {
                    // The #include line itself is blanked (kept as a newline).
                    self.push(&name, &text, offset, offset);
                    let dir = path.parent().unwrap_or(Path::new("."));
                    self.splice(&dir.join(file), seen, depth + 1)?;
                    self.text.push('\n');
                }
                None => self.push(&name, &text, offset, offset + line.len()),
            }
            offset += line.len();
        }
        Ok(())
    }

    fn push(&mut self, name: &str, file_text: &std::sync::Arc<String>, start: usize, end: usize) {
        let at = self.text.len();
        self.text.push_str(&file_text[start..end]);
        match self.segments.last_mut() {
            Some(last)
                if Some(&last.2) == Some(&name.to_owned()) && last.1 == at && last.4 + (last.1 - last.0) == start =>
            {
                last.1 = self.text.len();
            }
            _ => self.segments.push((at, self.text.len(), name.to_owned(), file_text.clone(), start)),
        }
    }

    /// Renders diagnostics, each against the file its place is in.
    pub fn render(&self, diagnostics: &[Diagnostic]) -> String {
        diagnostics
            .iter()
            .map(|d| {
                let (name, text, span) = self.locate(d.span);
                let mut local = Diagnostic::new(span, d.message.clone());
                if let Some((note_span, note)) = &d.note {
                    let (note_name, _, note_local) = self.locate(*note_span);
                    if note_name == name {
                        local = local.with_note(note_local, note.clone());
                    }
                }
                local.render(name, text)
            })
            .collect()
    }

    fn locate(&self, span: ast::Span) -> (&str, &str, ast::Span) {
        let seg =
            self.segments.iter().find(|s| span.start >= s.0 && span.start < s.1.max(s.0 + 1)).or(self.segments.last());
        match seg {
            Some((start, _, name, text, file_start)) => {
                let shift = |o: usize| o.saturating_sub(*start) + file_start;
                (name, text, ast::Span { start: shift(span.start), end: shift(span.end.max(span.start)) })
            }
            None => ("<input>", "", span),
        }
    }
}

/// Parses and checks a source.
pub fn check_source(source: &Source) -> Result<check::Model, Error> {
    let invalid = |diagnostics: Vec<Diagnostic>| Error::Invalid {
        count: diagnostics.len(),
        rendered: source.render(&diagnostics),
    };
    let spec = parser::parse(&source.text).map_err(invalid)?;
    check::check(&spec).map_err(invalid)
}

/// Generates the Rust module for a `.x` file (its includes spliced in).
pub fn generate_file(path: &Path) -> Result<String, Error> {
    let source = Source::load(path)?;
    let model = check_source(&source)?;
    let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    rust::generate(&model, &name)
        .map_err(|diagnostics| Error::Invalid { count: diagnostics.len(), rendered: source.render(&diagnostics) })
}

/// For `build.rs`: compiles `path` into `$OUT_DIR/<stem>.rs`, to be included with
/// `include!(concat!(env!("OUT_DIR"), "/<stem>.rs"))`, and tells cargo to rerun when the
/// file changes.
pub fn compile(path: impl AsRef<Path>) -> Result<PathBuf, Error> {
    let path = path.as_ref();
    println!("cargo:rerun-if-changed={}", path.display());
    let out_dir = std::env::var_os("OUT_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    compile_to(path, &out_dir)
}

/// Compiles `path` into `<out_dir>/<stem>.rs` and returns that path.
pub fn compile_to(path: &Path, out_dir: &Path) -> Result<PathBuf, Error> {
    let code = generate_file(path)?;
    let stem = path.file_stem().map_or_else(|| "idl".to_owned(), |s| s.to_string_lossy().into_owned());
    let out = out_dir.join(format!("{stem}.rs"));
    std::fs::write(&out, code).map_err(|source| Error::Io { path: out.clone(), source })?;
    Ok(out)
}
