//! Identical cells side by side, as a run or a network population holds
//! them: one cell's nodes, membranes and synapse sites, and per cell its
//! clamps' amplitudes. Blocks of consecutive cells step alone (cells
//! interact only through spikes), one block per thread.

use super::geometry::Tree;
use super::sim::{Clamp, Engine, Membrane, Scheme, Setup, Site};
use std::borrow::Cow;

/// A population of identical cells.
#[derive(Clone, Debug)]
pub struct Cells {
    /// One cell's nodes.
    pub tree: Tree,
    /// Per region.
    pub membranes: Vec<Membrane>,
    pub region_names: Vec<String>,
    pub sites: Vec<Site>,
    pub site_names: Vec<String>,
    pub scheme: Scheme,
    pub engine: Engine,
    /// The clamps of one cell, each with its amplitude in every cell.
    pub clamps: Vec<(Clamp, Vec<f64>)>,
    pub count: usize,
    /// Spike detection: the node (in one cell) and the threshold.
    pub detect: Option<(usize, f64)>,
}

impl Cells {
    /// The setup of the block of cells `c0..c1` (a forest of their trees,
    /// interleaved node by node): its clamps, its spike detectors, and V
    /// at `probes` (nodes of one cell) of its first cell.
    pub fn block(&self, (c0, c1): (usize, usize), dt: f64, duration: f64, probes: &[usize]) -> Setup<'_> {
        let count = c1 - c0;
        Setup {
            tree: Cow::Owned(self.tree.replicate(count)),
            cells: count,
            membranes: &self.membranes,
            sites: &self.sites,
            scheme: self.scheme,
            engine: self.engine,
            dt,
            duration,
            clamps: self
                .clamps
                .iter()
                .flat_map(|(cl, amps)| {
                    (c0..c1).map(move |cell| Clamp {
                        node: cl.node * count + (cell - c0),
                        amplitude: amps[cell],
                        ..*cl
                    })
                })
                .collect(),
            probes: probes.iter().map(|p| p * count).collect(),
            sample_every: (duration / dt).round().max(1.0) as usize,
            detect: self.detect.map(|(node, level)| ((c0..c1).map(|k| node * count + (k - c0)).collect(), level)),
        }
    }

    /// Where node `node` of the block of cells `c0..c1` is: (section
    /// name, position, cell).
    pub fn place(&self, node: usize, (c0, c1): (usize, usize)) -> (String, f64, usize) {
        let count = (c1 - c0).max(1);
        let (s, x) = self.tree.at[(node / count).min(self.tree.len() - 1)];
        (self.tree.sections[s].name.clone(), x, c0 + node % count)
    }

    /// The name of membrane `k` in [`super::sim::Failure::Kernel`]: a
    /// region, or past them a synapse site.
    pub fn membrane_name(&self, k: usize) -> String {
        match self.region_names.get(k) {
            Some(r) => format!("region `{r}`"),
            None => {
                format!("synapse `{}`", self.site_names.get(k - self.region_names.len()).map_or("?", String::as_str))
            }
        }
    }

    /// What went wrong in the block of cells `c0..c1`, in words.
    pub fn describe(&self, f: &super::sim::Failure, range: (usize, usize), dt: f64) -> String {
        use super::sim::Failure;
        let at = |node: usize| {
            let (section, x, cell) = self.place(node, range);
            format!("{section}({}) of cell {cell}", crate::units::format_number(x))
        };
        let when = |step: usize| crate::units::format_number(step as f64 * dt * 1e3);
        match f {
            Failure::Diverged { node, step } => {
                format!("V at {} stopped being finite at t = {} ms", at(*node), when(*step))
            }
            Failure::Scheme { node, step, why } => {
                format!("the channels at {} failed at t = {} ms: {why}", at(*node), when(*step))
            }
            Failure::Kernel { membrane, why } => {
                format!("the membrane of {} cannot be a kernel: {why}", self.membrane_name(*membrane))
            }
        }
    }

    /// Compartments in all the cells.
    pub fn compartments(&self) -> usize {
        self.tree.compartments() * self.count
    }
}
