//! The `neuroc` command line; see `neuroc --help`.

fn main() {
    std::process::exit(neuroc_cli::main());
}

#[path = "cli/mod.rs"]
mod neuroc_cli;
