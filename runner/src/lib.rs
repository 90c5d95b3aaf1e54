//! The runtime of a runner that `neuroc build` makes: the object file's
//! `main` calls [`neuroc_runner_main`] with the kernel registry and the
//! bundle it carries; what follows is `neuroc run`'s command line.

// neuroc's own command line, of which a runner uses `run` and its flags
#[allow(dead_code)]
#[path = "../../src/cli/mod.rs"]
mod cli;

/// Runs the model a runner was built from; returns the exit code.
///
/// # Safety
/// `registry` and `bundle` (of `len` bytes) must be the data `neuroc
/// build` wrote into the runner's object file.
#[no_mangle]
pub unsafe extern "C" fn neuroc_runner_main(registry: *const u64, bundle: *const u8, len: usize) -> i32 {
    if registry.is_null() || bundle.is_null() {
        eprintln!("error: this runner carries no model");
        return 2;
    }
    // SAFETY: the caller passes the bundle neuroc build linked in, `len` bytes.
    let bundle = unsafe { std::slice::from_raw_parts(bundle, len) };
    unsafe { cli::runner_main(registry, bundle) }
}
