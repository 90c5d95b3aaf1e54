//! `neuroc build`: a model compiled once into a standalone executable.
//!
//! The build runs the experiment's set-up as `neuroc run` would (stopped
//! before its first step), recording every kernel the JIT is asked for
//! and every file the compiler and the set-up read ([`crate::vfs`]). The
//! kernels are compiled again by Cranelift's object back end
//! ([`crate::codegen::object`]) into an object file that also holds the
//! files (the *bundle*) and `main`; the system's C compiler driver links
//! it with the runtime library (`libneuroc_runner.a`, the `runner/`
//! crate: this library and the `run` command's flags).
//!
//! The runner, started, installs the bundle and the kernels, then runs
//! exactly what `neuroc run FILE` runs: the same settings, outputs and
//! numbers. A kernel that a setting changes (a parameter the model folds
//! in, `--dt`, `--method`) is not among the built ones; the runner
//! compiles it then, as `neuroc run` would, unless `--prebuilt-only`.
//!
//! `--emit obj` writes the kernels alone as exported functions with a C
//! header instead, for a C or C++ program to call.

use crate::api::{Error, Experiment};
use crate::codegen::{jit, object};
use crate::vfs::{self, Entry};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What to build.
#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    /// The model file.
    pub file: PathBuf,
    /// The executable (or, with `emit_object`, the object file) to write.
    pub output: PathBuf,
    /// Which `simulate` block or model (as `run --model`).
    pub model: Option<String>,
    /// Write an object file and a C header instead of an executable.
    pub emit_object: bool,
    /// The runtime library (default: `NEUROC_RUNTIME`, else
    /// `libneuroc_runner.a` beside the running program or one folder up).
    pub runtime: Option<PathBuf>,
}

/// What a build wrote.
#[derive(Clone, Debug)]
pub struct Built {
    /// The files written (the executable; or the object and the header).
    pub files: Vec<PathBuf>,
    /// How many kernels were compiled into it.
    pub kernels: usize,
    /// How many of the model's files the bundle carries.
    pub files_carried: usize,
    /// Seconds spent: set-up and recording, object code, linking.
    pub seconds: (f64, f64, f64),
}

/// The bundle's first bytes.
const MAGIC: &[u8; 8] = b"NEUROCB1";

/// A runner's bundle: the model's path as it was given, and the files.
#[derive(Clone, Debug, PartialEq)]
pub struct Bundle {
    /// The neuroc version that built it.
    pub version: String,
    /// The model file's path, as given to `neuroc build`.
    pub model: PathBuf,
    /// The `--model` given to the build, if any.
    pub model_name: Option<String>,
    /// [`jit::build_id`] of the build: the runtime must have the same.
    pub build_id: u64,
    /// The processor features the kernels were compiled for.
    pub features: Vec<String>,
    /// Every file (and directory, and canonical path) the build read.
    pub files: Vec<(PathBuf, Entry)>,
}

impl Bundle {
    pub fn encode(&self) -> Vec<u8> {
        fn put(out: &mut Vec<u8>, bytes: &[u8]) {
            out.extend((bytes.len() as u64).to_le_bytes());
            out.extend(bytes);
        }
        let path = |p: &Path| p.to_string_lossy().into_owned().into_bytes();
        let mut out = MAGIC.to_vec();
        put(&mut out, self.version.as_bytes());
        put(&mut out, &path(&self.model));
        put(&mut out, self.model_name.as_deref().unwrap_or("").as_bytes());
        out.extend(self.build_id.to_le_bytes());
        put(&mut out, self.features.join(",").as_bytes());
        out.extend((self.files.len() as u64).to_le_bytes());
        for (p, e) in &self.files {
            let (kind, body) = match e {
                Entry::File(b) => (0u8, b.clone()),
                Entry::Dir => (1, Vec::new()),
                Entry::Canonical(c) => (2, path(c)),
                Entry::Missing => (3, Vec::new()),
            };
            out.push(kind);
            put(&mut out, &path(p));
            put(&mut out, &body);
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Bundle, String> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(8)? != MAGIC {
            return Err(damaged());
        }
        let version = r.text()?;
        let model = PathBuf::from(r.text()?);
        let model_name = Some(r.text()?).filter(|s| !s.is_empty());
        let build_id = r.word()?;
        let features = r.text()?.split(',').filter(|f| !f.is_empty()).map(str::to_string).collect();
        let count = r.word()? as usize;
        let mut files = Vec::with_capacity(count.min(1 << 16));
        for _ in 0..count {
            let kind = r.take(1)?[0];
            let p = PathBuf::from(r.text()?);
            let e = match kind {
                0 => Entry::File(r.block()?.to_vec()),
                1 => {
                    r.block()?;
                    Entry::Dir
                }
                2 => Entry::Canonical(PathBuf::from(r.text()?)),
                3 => {
                    r.block()?;
                    Entry::Missing
                }
                _ => return Err(damaged()),
            };
            files.push((p, e));
        }
        Ok(Bundle { version, model, model_name, build_id, features, files })
    }
}

fn damaged() -> String {
    "the runner's bundle is damaged".to_string()
}

/// Reads a bundle: 8-byte little-endian words and length-prefixed blocks.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).ok_or_else(damaged)?;
        let s = self.bytes.get(self.at..end).ok_or_else(damaged)?;
        self.at = end;
        Ok(s)
    }
    fn word(&mut self) -> Result<u64, String> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(b.try_into().map_err(|_| damaged())?))
    }
    fn block(&mut self) -> Result<&'a [u8], String> {
        let n = usize::try_from(self.word()?).map_err(|_| damaged())?;
        self.take(n)
    }
    fn text(&mut self) -> Result<String, String> {
        String::from_utf8(self.block()?.to_vec()).map_err(|_| damaged())
    }
}

/// Builds a runner (or, with `emit_object`, an object file and header).
pub fn build(opts: &BuildOptions) -> Result<Built, Error> {
    // recording is process-wide: one build at a time
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let start = std::time::Instant::now();
    vfs::record(true);
    jit::record(true);
    let probe = probe(opts);
    let files = vfs::record(false);
    let kernels = jit::record(false);
    probe?;
    if kernels.is_empty() && opts.emit_object {
        return Err(Error::io(format!(
            "`{}` runs no compiled kernel (its schemes, a density's, a field's or a brain's, run in the runtime): \
             there is no object file to write; `neuroc build` without --emit makes a runner of it",
            opts.file.display()
        )));
    }
    let setup = start.elapsed().as_secs_f64();
    if opts.emit_object {
        return emit_object(opts, &kernels, setup);
    }
    let bundle = Bundle {
        version: env!("CARGO_PKG_VERSION").to_string(),
        model: opts.file.clone(),
        model_name: opts.model.clone(),
        build_id: jit::build_id(),
        features: jit::host_features().map_err(Error::io)?,
        files,
    };
    let t = std::time::Instant::now();
    let objects = vec![object::runner_object(&kernels, &bundle.encode()).map_err(Error::io)?];
    let code = t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    let runtime = runtime_library(opts.runtime.as_deref()).map_err(Error::io)?;
    link(&objects, &runtime, &opts.output).map_err(Error::io)?;
    Ok(Built {
        files: vec![opts.output.clone()],
        kernels: kernels.len(),
        files_carried: bundle.files.iter().filter(|(_, e)| matches!(e, Entry::File(_))).count(),
        seconds: (setup, code, t.elapsed().as_secs_f64()),
    })
}

/// Loads the model and sets the run up, stopped before its first step:
/// every kernel is compiled and every file read.
fn probe(opts: &BuildOptions) -> Result<(), Error> {
    let mut exp = Experiment::load(&opts.file)?;
    if let Some(m) = &opts.model {
        exp.model(m);
    }
    exp.progress(false);
    exp.stop_flag().store(true, std::sync::atomic::Ordering::Relaxed);
    exp.run().map(|_| ())
}

fn emit_object(opts: &BuildOptions, kernels: &[jit::Recorded], setup: f64) -> Result<Built, Error> {
    let t = std::time::Instant::now();
    let stem = opts.output.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
    let prefix: String =
        stem.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect::<String>().to_lowercase();
    let prefix = if prefix.starts_with(|c: char| c.is_ascii_digit()) { format!("m{prefix}") } else { prefix };
    let named: Vec<(String, &crate::kernel::Kernel)> =
        kernels.iter().enumerate().map(|(i, r)| (format!("{prefix}_kernel{i}"), &r.kernel)).collect();
    let bytes = object::library_object(&named, true).map_err(Error::io)?;
    let header_path = opts.output.with_extension("h");
    let write = |p: &Path, b: &[u8]| {
        std::fs::write(p, b).map_err(|e| Error::io(format!("cannot write `{}`: {e}", p.display())))
    };
    write(&opts.output, &bytes)?;
    write(&header_path, header(&opts.file, &prefix, &named).as_bytes())?;
    Ok(Built {
        files: vec![opts.output.clone(), header_path],
        kernels: kernels.len(),
        files_carried: 0,
        seconds: (setup, t.elapsed().as_secs_f64(), 0.0),
    })
}

/// The C header of an object file: each kernel's function, its state and
/// parameter arrays in order, and its time step.
fn header(model: &Path, prefix: &str, kernels: &[(String, &crate::kernel::Kernel)]) -> String {
    let guard = format!("{}_H", prefix.to_uppercase());
    let comment = [
        format!("Generated by neuroc {} from {}:", env!("CARGO_PKG_VERSION"), model.display()),
        "the model's kernels, compiled ahead of time.".into(),
        String::new(),
        "Each kernel advances neurons 0..n one time step, from t to t_next (seconds):".into(),
        "  states[s]  points at n doubles: state s of every neuron, in SI units (V in volts),".into(),
        "             read and overwritten;".into(),
        "  params[p]  points at n doubles: parameter array p (per-neuron parameters, derived".into(),
        "             propagator arrays, and each input port's summed weight this step);".into(),
        "  spike_idx, spike_t receive the neurons that fired and when (room for n entries".into(),
        "             per spiking event of the model); the return value is how many.".into(),
        "neuroc steps from t = k dt to (k + 1) dt. The functions are pure: several threads may".into(),
        "run them at once over disjoint neurons. Parameters not listed were folded into the code.".into(),
    ];
    let mut h = String::from("/*\n");
    for line in comment {
        h += &format!(" *{}{line}\n", if line.is_empty() { "" } else { " " });
    }
    h += &format!(" */\n#ifndef {guard}\n#define {guard}\n\n#include <stdint.h>\n\n");
    for (name, k) in kernels {
        let list =
            |xs: &[String]| xs.iter().map(|s| format!("\"{}\"", s.replace('"', ""))).collect::<Vec<_>>().join(", ");
        let upper = name.to_uppercase();
        h += &format!("/* {name}: time step {} s */\n", k.dt);
        h += &format!("#define {upper}_N_STATES {}\n#define {upper}_N_PARAMS {}\n", k.states.len(), k.params.len());
        h += &format!("#define {upper}_DT {:e}\n", k.dt);
        if !k.states.is_empty() {
            h += &format!("static const char *const {name}_states[] = {{{}}};\n", list(&k.states));
        }
        if !k.params.is_empty() {
            h += &format!("static const char *const {name}_params[] = {{{}}};\n", list(&k.params));
        }
        h += &format!(
            "int64_t {name}(double *const *states, const double *const *params, int64_t n, double t,\n\
             \x20   double t_next, int64_t *spike_idx, double *spike_t);\n\n"
        );
    }
    h += &format!("#endif /* {guard} */\n");
    h
}

/// Finds the runtime library.
fn runtime_library(given: Option<&Path>) -> Result<PathBuf, String> {
    const NAME: &str = "libneuroc_runner.a";
    if let Some(p) = given.map(Path::to_path_buf).or_else(|| std::env::var_os("NEUROC_RUNTIME").map(PathBuf::from)) {
        return if p.is_file() { Ok(p) } else { Err(format!("the runtime library `{}` does not exist", p.display())) };
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the running program: {e}"))?;
    let places: Vec<PathBuf> = exe.ancestors().skip(1).take(2).map(|d| d.join(NAME)).collect();
    places.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
        format!(
            "the runner's runtime library `{NAME}` is not beside neuroc (looked for {}); build it once with \
             `cargo build --release -p neuroc-runner`, or name it with NEUROC_RUNTIME",
            places.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" and ")
        )
    })
}

/// The system libraries a Rust static library needs (what `rustc --print
/// native-static-libs` lists for this target).
fn system_libraries() -> &'static [&'static str] {
    if cfg!(target_os = "macos") {
        &["-lSystem", "-lc", "-lm", "-liconv"]
    } else {
        &["-lgcc_s", "-lutil", "-lrt", "-lpthread", "-lm", "-ldl", "-lc"]
    }
}

/// Links the objects with the runtime into `out`, with the C compiler
/// driver (`CC`, else `cc`).
fn link(objects: &[Vec<u8>], runtime: &Path, out: &Path) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("neuroc-build-{}-{}", std::process::id(), unique()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot make `{}`: {e}", dir.display()))?;
    let mut paths = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        let p = dir.join(format!("kernels{i}.o"));
        std::fs::write(&p, o).map_err(|e| format!("cannot write `{}`: {e}", p.display()))?;
        paths.push(p);
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let mut cmd = Command::new(&cc);
    cmd.arg("-o").arg(out).args(&paths).arg(runtime).args(system_libraries());
    cmd.arg(if cfg!(target_os = "macos") { "-Wl,-dead_strip" } else { "-Wl,--gc-sections" });
    let result = cmd.output();
    let _ = std::fs::remove_dir_all(&dir);
    let output = result.map_err(|e| {
        format!("cannot start the linker `{cc}` ({e}); install a C compiler (gcc or clang), or name one with CC")
    })?;
    if !output.status.success() {
        let why = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = why.lines().rev().take(12).collect::<Vec<_>>().into_iter().rev().collect();
        return Err(format!("the linker `{cc}` failed:\n{}", tail.join("\n")));
    }
    Ok(())
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// What a runner knows once started.
#[derive(Clone, Debug)]
pub struct Started {
    pub bundle: Bundle,
    /// How many kernels the program carries.
    pub kernels: usize,
}

/// Starts a runner: installs its files and its kernels.
///
/// # Safety
/// `registry` must be the kernel registry `neuroc build` linked into this
/// program (see [`jit::install_prebuilt`]).
pub unsafe fn start(registry: *const u64, bundle: &[u8]) -> Result<Started, String> {
    let bundle = Bundle::decode(bundle)?;
    if bundle.version != env!("CARGO_PKG_VERSION") {
        return Err(format!(
            "this runner was built by neuroc {} but linked with runtime {}; build it again",
            bundle.version,
            env!("CARGO_PKG_VERSION")
        ));
    }
    if bundle.build_id != jit::build_id() {
        return Err(format!(
            "this runner's kernels were compiled by a different build of neuroc {} than its runtime library; \
             build it again with the neuroc that built libneuroc_runner.a",
            bundle.version
        ));
    }
    let here = jit::host_features()?;
    let lacking: Vec<&str> = bundle.features.iter().filter(|f| !here.contains(f)).map(String::as_str).collect();
    if !lacking.is_empty() {
        return Err(format!(
            "this runner was built for a processor with {} and this one lacks {}: build it again on this machine",
            bundle.features.join(", "),
            lacking.join(", ")
        ));
    }
    vfs::install(bundle.files.clone());
    let kernels = unsafe { jit::install_prebuilt(registry)? };
    Ok(Started { bundle, kernels })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_reads_back_as_written_and_damage_is_an_error() {
        let b = Bundle {
            version: "0.1.0".into(),
            model: "examples/x.neuro".into(),
            model_name: Some("sim".into()),
            build_id: 42,
            features: vec!["has_sse41".into(), "has_avx".into()],
            files: vec![
                ("examples/x.neuro".into(), Entry::File(b"neuron N {}".to_vec())),
                ("examples".into(), Entry::Dir),
                ("examples/x.neuro".into(), Entry::Canonical("/abs/examples/x.neuro".into())),
                ("examples/calcium.neuro".into(), Entry::Missing),
            ],
        };
        let bytes = b.encode();
        assert_eq!(Bundle::decode(&bytes).unwrap(), b);
        for cut in [0, 7, 8, 20, bytes.len() - 1] {
            assert!(Bundle::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert!(Bundle::decode(&bad).is_err());
    }
}
