//! `courier idl`: the RPC-language compiler on the command line — `check` a `.x` file,
//! `gen` the Rust module for it, `fmt` it canonically.

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
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    let result = match &command {
        Command::Check { file } => Source::load(file).and_then(|s| courier_idl::check_source(&s)).map(|model| {
            let defs = model.spec.definitions.len();
            println!("{}: ok ({defs} definitions)", file.display());
        }),
        Command::Gen { file } => courier_idl::generate_file(file).map(|code| print!("{code}")),
        Command::Fmt { file } => Source::load(file).and_then(|source| {
            let spec = courier_idl::parser::parse(&source.text).map_err(|diagnostics| courier_idl::Error::Invalid {
                count: diagnostics.len(),
                rendered: source.render(&diagnostics),
            })?;
            print!("{}", courier_idl::print::print(&spec));
            Ok(())
        }),
    };
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
