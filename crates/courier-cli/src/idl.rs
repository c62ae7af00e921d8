//! `courier idl`: the RPC-language compiler on the command line — `check` a `.x` file,
//! `gen` the Rust module for it, `fmt` it canonically, or print its `wire` form (remote
//! object programs with their object key and status spelled out, for rpcgen).

use std::path::PathBuf;
use std::process::ExitCode;

use courier_idl::Source;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Check a .x file; print every error with its place; exit 1 if there are any.
    Check {
        /// The .x file.
        file: PathBuf,
    },
    /// Print the Rust module generated from a .x file (as `courier_idl::compile` writes it).
    Gen {
        /// The .x file.
        file: PathBuf,
    },
    /// Print a .x file in canonical form.
    Fmt {
        /// The .x file.
        file: PathBuf,
    },
    /// Print a .x file as its calls travel: programs annotated @objects with the object
    /// key first and a status-led reply, the .x to give rpcgen for a C client.
    Wire {
        /// The .x file.
        file: PathBuf,
    },
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    let result = match &command {
        Command::Check { file } => Source::load(file).and_then(|s| courier_idl::check_source(&s)).map(|model| {
            let defs = model.spec.definitions.len();
            println!("{}: ok ({defs} definitions)", file.display());
        }),
        Command::Gen { file } => courier_idl::generate_file(file).map(|code| print!("{code}")),
        Command::Fmt { file } => reprint(file, courier_idl::print::print),
        Command::Wire { file } => reprint(file, courier_idl::print::print_wire),
    };
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Parses a .x file and prints it back with `printer`.
fn reprint(
    file: &std::path::Path,
    printer: fn(&courier_idl::ast::Specification) -> String,
) -> Result<(), courier_idl::Error> {
    let source = Source::load(file)?;
    let spec = courier_idl::parser::parse(&source.text).map_err(|diagnostics| courier_idl::Error::Invalid {
        count: diagnostics.len(),
        rendered: source.render(&diagnostics),
    })?;
    print!("{}", printer(&spec));
    Ok(())
}
