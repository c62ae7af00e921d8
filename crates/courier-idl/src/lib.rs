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
//! - [`glue`]: a program version's client and dispatcher, shared with courier-macros.
//! - [`diagnostic`]: errors rendered as `file:line:col` with the line and a caret.

pub mod ast;
pub mod check;
pub mod diagnostic;
pub mod glue;
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
    /// The constants of `%#define` lines seen so far.
    defines: std::collections::HashMap<String, i64>,
}

impl Source {
    /// Reads `path`, splicing in each `#include "name"` (relative to the including file,
    /// each file at most once).
    pub fn load(path: &Path) -> Result<Source, Error> {
        let mut source = Source { text: String::new(), segments: Vec::new(), defines: Default::default() };
        let mut seen = Vec::new();
        source.splice(path, &mut seen, 0)?;
        Ok(source)
    }

    /// A source from text in memory, named `name` in diagnostics.
    pub fn from_text(name: &str, text: &str) -> Source {
        Source {
            text: text.to_owned(),
            segments: vec![(0, text.len(), name.to_owned(), std::sync::Arc::new(text.to_owned()), 0)],
            defines: Default::default(),
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
        let mut conditions = Conditions::default();
        for line in text.split_inclusive('\n') {
            let dir = path.parent().unwrap_or(Path::new("."));
            if !conditions.active_after(line) {
                // Inside a branch cpp would drop: blank the line, keep the line count.
                self.push(&name, &text, offset, offset);
                self.text.push('\n');
            } else if let Some(file) = included_file(line, dir) {
                // The include line itself is blanked (kept as a newline).
                self.push(&name, &text, offset, offset);
                self.splice(&file, seen, depth + 1)?;
                self.text.push('\n');
            } else if let Some((define, value)) =
                self.constant_define(line).filter(|(define, _)| !declares_const(&text, define))
            {
                // `%#define NAME 1024` gives C a constant the file then uses: so does Rust.
                self.push(&name, &text, offset, offset);
                self.text.push_str(&format!("const {define} = {value};\n"));
                self.defines.insert(define, value);
            } else {
                self.push(&name, &text, offset, offset + line.len());
            }
            offset += line.len();
        }
        Ok(())
    }

    /// A pass-through `%#define NAME a + b - c` whose terms are numbers or earlier such
    /// defines: the name and its value. Anything else (macros with arguments, casts,
    /// C expressions) is C's business and stays ignored.
    fn constant_define(&self, line: &str) -> Option<(String, i64)> {
        let rest = line.trim_start().strip_prefix('%')?.trim_start().strip_prefix('#')?.trim_start();
        let rest = rest.strip_prefix("define")?;
        let mut words = rest.split_whitespace();
        let name = words.next()?;
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || name.starts_with(|c: char| c.is_ascii_digit())
        {
            return None;
        }
        let expr: String = words.collect();
        let term = |t: &str| -> Option<i64> {
            if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                i64::from_str_radix(hex, 16).ok()
            } else if t.starts_with(|c: char| c.is_ascii_digit()) {
                t.parse().ok()
            } else {
                self.defines.get(t).copied()
            }
        };
        let mut total: i64 = 0;
        let mut sign = 1;
        let mut current = String::new();
        for c in expr.chars().chain(std::iter::once('+')) {
            if c == '+' || c == '-' {
                total = total.checked_add(sign * term(&current)?)?;
                sign = if c == '+' { 1 } else { -1 };
                current.clear();
            } else {
                current.push(c);
            }
        }
        Some((name.to_owned(), total))
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

/// Whether `text` has a `const NAME = …;` line of its own for `name` (then a C
/// `%#define` of the same name is only its copy for C).
fn declares_const(text: &str, name: &str) -> bool {
    text.lines().any(|l| {
        let mut words = l.split(|c: char| c.is_whitespace() || c == '=').filter(|w| !w.is_empty());
        words.next() == Some("const") && words.next() == Some(name)
    })
}

/// The conditional-compilation state of one file, as rpcgen's cpp run sees it when it
/// writes the header (the types): `RPC_HDR` is defined (as 1) and nothing else is, so
/// `#ifdef RPC_HDR` and `#if RPC_HDR` are taken, other `#ifdef`s are not, `#ifndef` is
/// unless it names `RPC_HDR`, and `#if` is taken for a non-zero number.
#[derive(Default)]
struct Conditions {
    /// For each open `#if`: whether its current branch is taken, and whether any was.
    stack: Vec<(bool, bool)>,
}

impl Conditions {
    /// Takes in a line; whether the line is part of the text.
    fn active_after(&mut self, line: &str) -> bool {
        let directive = line.trim_start().strip_prefix('#').map(str::trim_start);
        let Some(directive) = directive else { return self.active() };
        let word = directive.split(|c: char| !c.is_ascii_alphanumeric()).next().unwrap_or("");
        let arg = directive[word.len()..].trim();
        match word {
            "ifdef" | "ifndef" | "if" => {
                let defined = arg == "RPC_HDR";
                let taken = match word {
                    "ifdef" => defined,
                    "ifndef" => !defined,
                    _ => defined || arg.parse::<i64>().is_ok_and(|n| n != 0),
                };
                self.stack.push((taken, taken));
            }
            "elif" => {
                if let Some(top) = self.stack.last_mut() {
                    top.0 = false;
                }
            }
            "else" => {
                if let Some(top) = self.stack.last_mut() {
                    *top = (!top.1, true);
                }
            }
            "endif" => {
                self.stack.pop();
            }
            _ => return self.active(),
        }
        false
    }

    fn active(&self) -> bool {
        self.stack.iter().all(|(taken, _)| *taken)
    }
}

/// The `.x` file a line includes: `#include "name.x"`, or a C pass-through include of a
/// header that rpcgen makes from a `.x` file beside this one (`%#include <rpcsvc/nis.h>`
/// when `nis.x` is here), whose types the file uses.
fn included_file(line: &str, dir: &Path) -> Option<PathBuf> {
    let line = line.trim_start();
    let (pass_through, rest) = match line.strip_prefix('%') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, line),
    };
    let rest = rest.strip_prefix('#')?.trim_start().strip_prefix("include")?.trim();
    let (open, close) = if rest.starts_with('<') { ('<', '>') } else { ('"', '"') };
    let name = rest.strip_prefix(open)?.split(close).next()?;
    if !pass_through {
        return Some(dir.join(name));
    }
    let stem = Path::new(name).file_stem()?;
    let sibling = dir.join(stem).with_extension("x");
    (Path::new(name).extension().is_some_and(|e| e == "h") && sibling.is_file()).then_some(sibling)
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
        .map(rustfmt)
        .map_err(|diagnostics| Error::Invalid { count: diagnostics.len(), rendered: source.render(&diagnostics) })
}

/// Lays code out exactly as rustfmt (default style) does, when rustfmt is installed —
/// it is wherever cargo is, as a rustup component — so that generated code passes
/// `rustfmt --check`. Without rustfmt the generator's own layout stays.
fn rustfmt(code: String) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let rustfmt = std::env::var_os("RUSTFMT").unwrap_or_else(|| "rustfmt".into());
    let child = Command::new(rustfmt)
        .args(["--edition", "2021", "--emit", "stdout", "--quiet"])
        // Away from any project's rustfmt.toml: the default style.
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else { return code };
    let written = child.stdin.take().is_some_and(|mut stdin| stdin.write_all(code.as_bytes()).is_ok());
    match child.wait_with_output() {
        Ok(out) if written && out.status.success() && !out.stdout.is_empty() => {
            String::from_utf8(out.stdout).unwrap_or(code)
        }
        _ => code,
    }
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
