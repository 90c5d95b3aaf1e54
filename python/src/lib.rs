//! `import neuroc`: the library API ([`neuroc::Experiment`]) from Python.
//!
//! ```python
//! import neuroc
//! m = neuroc.load("examples/hodgkin_huxley.neuro")
//! r = m.run(duration="50 ms", set={"I_amp": "8 uA/cm^2"}, record=["V"])
//! t, v = r["V"]["t_ms"], r["V"]["V_mV"]          # NumPy arrays
//! r.units("V")                                    # {"t_ms": "ms", "V_mV": "mV"}
//! ```
//!
//! A model compiles once, at `load`; each `run` starts from the file's own
//! `simulate` settings, changed by the keyword arguments, and releases the
//! GIL while it runs: other Python threads go on, and runs of different
//! `Model`s (load the file once per thread) go at once; runs of one
//! `Model` take turns. Errors in the model or the settings raise
//! `neuroc.NeurocError`, whose message is the rendered diagnostic, as the
//! command line prints it.

use numpy::{IntoPyArray, PyArray1};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::Mutex;

pyo3::create_exception!(
    neuroc,
    NeurocError,
    PyException,
    "A model or setting neuroc refuses: the message is the rendered diagnostic (error code, source span, help)."
);

fn error(e: neuroc::Error) -> PyErr {
    NeurocError::new_err(e.render())
}

/// A compiled `.neuro` file, ready to run.
#[pyclass(module = "neuroc")]
struct Model {
    experiment: Mutex<neuroc::Experiment>,
    name: String,
}

/// A setting's value: a string with its unit (`"8 uA/cm^2"`) or a plain
/// number (for dimensionless parameters, seeds and counts: a number is
/// never given a unit).
fn setting(value: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = value.extract::<String>() {
        return Ok(s);
    }
    if let Ok(n) = value.extract::<i64>() {
        return Ok(n.to_string());
    }
    if let Ok(x) = value.extract::<f64>() {
        // a literal the language reads back exactly
        return Ok(format!("{x:e}"));
    }
    Err(NeurocError::new_err(format!(
        "a setting is a string with its unit (\"8 uA/cm^2\") or a number, not {}",
        value.get_type().name()?
    )))
}

#[pymethods]
impl Model {
    /// The models the file defines (neurons, networks, brains, ...).
    #[getter]
    fn models(&self) -> Vec<String> {
        let e = self.experiment.lock().unwrap_or_else(|e| e.into_inner());
        e.compiled().models.iter().map(|m| m.name.clone()).collect()
    }

    /// The compiler's warnings, rendered.
    #[getter]
    fn warnings(&self) -> String {
        let e = self.experiment.lock().unwrap_or_else(|e| e.into_inner());
        let list: Vec<_> = e.warnings().into_iter().cloned().collect();
        e.render(&list)
    }

    /// Runs the model and returns its recordings.
    ///
    /// Every argument is optional and overrides the file's `simulate`
    /// block for this run only: `model` (which one to run), `duration`,
    /// `dt`, `seed`, `sample` (strings with units: `"1 s"`, `"0.01 ms"`),
    /// `set` (a dict of parameter to value: `{"I_amp": "8 uA/cm^2"}`),
    /// `record` (a list of what to record, as `record` in the file),
    /// `neurons` (a population's size) and `threads`.
    #[pyo3(signature = (*, model=None, duration=None, dt=None, seed=None, sample=None, set=None, record=None, neurons=None, threads=None))]
    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        py: Python<'_>,
        model: Option<String>,
        duration: Option<String>,
        dt: Option<String>,
        seed: Option<&Bound<'_, PyAny>>,
        sample: Option<String>,
        set: Option<&Bound<'_, PyDict>>,
        record: Option<Vec<String>>,
        neurons: Option<&Bound<'_, PyAny>>,
        threads: Option<usize>,
    ) -> PyResult<Results> {
        let mut settings = Vec::new();
        if let Some(set) = set {
            for (k, v) in set.iter() {
                settings.push((k.extract::<String>()?, setting(&v)?));
            }
        }
        let seed = seed.map(setting).transpose()?;
        let neurons = neurons.map(setting).transpose()?;
        let (results, summary) = py
            .detach(|| {
                let mut e = self.experiment.lock().unwrap_or_else(|e| e.into_inner());
                e.clear_settings();
                if let Some(m) = &model {
                    e.model(m);
                }
                if let Some(d) = &duration {
                    e.duration(d);
                }
                if let Some(d) = &dt {
                    e.dt(d);
                }
                if let Some(s) = &seed {
                    e.seed(s);
                }
                if let Some(s) = &sample {
                    e.sample(s);
                }
                if let Some(n) = &neurons {
                    e.neurons(n);
                }
                if let Some(t) = threads {
                    e.threads(&t.to_string());
                }
                for (k, v) in &settings {
                    e.set(k, v);
                }
                for r in record.iter().flatten() {
                    e.record(r);
                }
                e.run()
            })
            .map_err(error)?;
        Ok(Results { results, summary: summary.line, model: summary.model })
    }

    fn __repr__(&self) -> String {
        format!("<neuroc.Model {} ({})>", self.name, self.models().join(", "))
    }
}

/// What a run recorded: tables by name (`r["V"]` is a dict of column to
/// NumPy array, in the columns' display units, as in the CSV files), their
/// units (`r.units("V")`), the spikes as two arrays (`r.spikes`), and the
/// run's summary line.
#[pyclass(module = "neuroc")]
struct Results {
    results: neuroc::Results,
    summary: String,
    model: String,
}

impl Results {
    fn find(&self, name: &str) -> PyResult<&neuroc::output::ResultTable> {
        self.results.table(name).ok_or_else(|| {
            let names: Vec<&str> = self.results.tables.iter().map(|t| t.name.as_str()).collect();
            pyo3::exceptions::PyKeyError::new_err(format!("no table `{name}`; this run recorded: {}", names.join(", ")))
        })
    }
}

#[pymethods]
impl Results {
    /// The tables' names, as the files' (`V` for `V.csv`).
    #[getter]
    fn tables(&self) -> Vec<String> {
        self.results.tables.iter().map(|t| t.name.clone()).collect()
    }

    /// One line saying what ran and how long it took.
    #[getter]
    fn summary(&self) -> String {
        self.summary.clone()
    }

    /// The model that ran.
    #[getter]
    fn model(&self) -> String {
        self.model.clone()
    }

    /// A table as a dict of column header (`t_ms`, `V_mV`) to a NumPy
    /// array of its values in the column's display unit.
    fn __getitem__<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyDict>> {
        let t = self.find(name)?;
        let out = PyDict::new(py);
        for (k, c) in t.columns.iter().enumerate() {
            out.set_item(&c.header, t.data.column(k).to_vec().into_pyarray(py))?;
        }
        Ok(out)
    }

    fn __contains__(&self, name: &str) -> bool {
        self.results.table(name).is_some()
    }

    fn __len__(&self) -> usize {
        self.results.tables.len()
    }

    fn keys(&self) -> Vec<String> {
        self.tables()
    }

    /// A table's columns and their display units (`""` for plain numbers
    /// and indices), as a dict in column order.
    fn units<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for c in &self.find(name)?.columns {
            out.set_item(&c.header, &c.unit)?;
        }
        Ok(out)
    }

    /// One column in SI units (`r.si("V", "V")`: volts).
    fn si<'py>(&self, py: Python<'py>, table: &str, column: &str) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let t = self.find(table)?;
        let values = t
            .column_si(column)
            .ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(format!("no column `{column}` in `{table}`")))?;
        Ok(values.to_vec().into_pyarray(py))
    }

    /// The spikes as (neurons, times in ms): two NumPy arrays, step by
    /// step (within a step, by neuron), empty when the run recorded none.
    #[getter]
    fn spikes<'py>(&self, py: Python<'py>) -> (Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<f64>>) {
        let (n, t): (Vec<i64>, Vec<f64>) = self.results.spikes().into_iter().map(|(n, t)| (n as i64, t)).unzip();
        (n.into_pyarray(py), t.into_pyarray(py))
    }

    fn __repr__(&self) -> String {
        format!("<neuroc.Results of {}: {}>", self.model, self.tables().join(", "))
    }
}

/// Reads and compiles a `.neuro` file; raises `NeurocError` with the
/// rendered diagnostics when it has errors.
#[pyfunction]
fn load(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Model> {
    let name = path.display().to_string();
    let experiment = py.detach(|| neuroc::Experiment::load(&path)).map_err(error)?;
    Ok(Model { experiment: Mutex::new(experiment), name })
}

/// Compiles `.neuro` source text (imports resolve in the standard
/// library).
#[pyfunction]
#[pyo3(signature = (source, name="<string>"))]
fn compile(py: Python<'_>, source: &str, name: &str) -> PyResult<Model> {
    let experiment = py.detach(|| neuroc::Experiment::from_source(name, source, None)).map_err(error)?;
    Ok(Model { experiment: Mutex::new(experiment), name: name.to_string() })
}

/// neuroc: load a `.neuro` model (`neuroc.load(path)` or
/// `neuroc.compile(text)`), run it (`Model.run(duration=..., set={...},
/// record=[...])`) and get NumPy arrays (`Results`); errors raise
/// `neuroc.NeurocError` with the rendered diagnostic.
#[pymodule]
#[pyo3(name = "neuroc")]
fn neuroc_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(compile, m)?)?;
    m.add_class::<Model>()?;
    m.add_class::<Results>()?;
    m.add("NeurocError", m.py().get_type::<NeurocError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
