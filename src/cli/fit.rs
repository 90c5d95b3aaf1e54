//! `neuroc fit FILE --data CSV --fit P1,P2 --to STATE`: parameters fitted
//! to a trace, printed with their intervals; `-o DIR` also writes the
//! trace beside the model (`fit.csv`) and the estimate (`fit.json`).

use std::fmt::Write as _;
use std::path::Path;

pub(super) struct Args<'a> {
    pub data: &'a Path,
    pub params: &'a str,
    pub observe: &'a str,
    pub model: Option<&'a str>,
    pub set: &'a [String],
    pub duration: Option<&'a str>,
    pub dt: Option<&'a str>,
    pub starts: usize,
    pub range: f64,
    pub output: Option<&'a Path>,
}

pub(super) fn fit(path: &Path, a: &Args) -> i32 {
    let mut exp = match super::load(path, a.model, a.set, a.duration) {
        Ok(e) => e,
        Err(code) => return code,
    };
    if let Some(d) = a.dt {
        exp.dt(d);
    }
    let (p, f) = match exp.fit(a.params, a.observe, a.data, a.starts.max(1), a.range) {
        Ok(x) => x,
        Err(e) => {
            e.eprint();
            return if e.is_io() { 2 } else { 1 };
        }
    };
    print!("{}", f.text(&p));
    let Some(dir) = a.output else { return 0 };
    let (_, (unit, scale)) = p.units();
    let name = p.observed();
    let data = std::fs::read_to_string(a.data).unwrap_or_default();
    let Ok(values) = neuroc::infer::fit::read_csv(&data, &p) else { return 2 };
    let mut csv = format!("t_ms,data_{unit},model_{unit},residual_{unit}\n").replace('/', "_per_");
    for k in 0..values.t.len() {
        let _ = writeln!(
            csv,
            "{},{},{},{}",
            values.t[k] * 1e3,
            values.y[k] / scale,
            f.model[k] / scale,
            f.residuals[k] / scale
        );
    }
    let json = serde_json::to_string_pretty(&f.json(&p)).unwrap_or_default() + "\n";
    let written = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(dir.join("fit.csv"), csv))
        .and_then(|()| std::fs::write(dir.join("fit.json"), json));
    match written.map_err(|e| e.to_string()).and_then(|()| neuroc::plot::plot_dir(dir)) {
        Ok(plots) => {
            println!(
                "wrote {}, {} and {} plots ({name}: data, model, residual)",
                dir.join("fit.csv").display(),
                dir.join("fit.json").display(),
                plots.len()
            );
            0
        }
        Err(e) => {
            eprintln!("error: cannot write in `{}`: {e}", dir.display());
            2
        }
    }
}
