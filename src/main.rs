//! The `neuroc` command line; see `neuroc --help`.

fn main() {
    let code = {
        // under `mpirun` (the `mpi` feature): MPI runs until this block ends
        #[cfg(feature = "mpi")]
        let _mpi = neuroc::runtime::network::ranks::initialize();
        neuroc_cli::main()
    };
    std::process::exit(code);
}

#[path = "cli/mod.rs"]
mod neuroc_cli;
