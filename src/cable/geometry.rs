//! Sections cut into segments, and the tree of nodes the cable equation
//! is solved on, laid out as NEURON lays it out (Hines & Carnevale 1997;
//! the NEURON book, ch. 5):
//! - a section of length L cut into `nseg` segments has a node at the
//!   center of each, with the segment's lateral area pi d L / nseg (no end
//!   caps) and its membrane;
//! - its 1 end is a node of zero area (where children attach at 1, and
//!   where `V(sec, at = 1)` is read); the root section's 0 end likewise;
//! - a child attached at `x` of its parent joins the parent's node at x:
//!   the 0 or 1 end node, or the center of the segment containing x;
//! - neighbouring nodes are joined by the axial resistance of the
//!   cylinder between them: Ra dx / (pi d^2 / 4) between two centers, half
//!   that from a center to an end.
//!
//! Nodes are numbered parents first (a parent section is declared before
//! its children), which is the order the Hines elimination needs.
//! Everything is SI: meters, ohm meters, farads per square meter.

/// A section with its settings evaluated.
#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    pub name: String,
    pub length: f64,
    pub diameter: f64,
    /// (parent section, position along it in [0, 1]); `None` for the root.
    pub parent: Option<(usize, f64)>,
    pub nseg: usize,
    /// Index of its membrane (region).
    pub membrane: usize,
    /// 3-D points as (arc length from the 0 end, diameter), m; empty for a
    /// cylinder of `diameter`. Areas and axial resistances are then
    /// integrated over the frusta between points, as NEURON does.
    pub points: Vec<(f64, f64)>,
}

impl Section {
    /// The radius at arc length `s` (linear between 3-D points).
    fn radius(&self, s: f64) -> f64 {
        if self.points.len() < 2 {
            return self.diameter / 2.0;
        }
        let k = self.points.partition_point(|p| p.0 <= s).clamp(1, self.points.len() - 1);
        let ((s0, d0), (s1, d1)) = (self.points[k - 1], self.points[k]);
        let w = if s1 > s0 { ((s - s0) / (s1 - s0)).clamp(0.0, 1.0) } else { 0.0 };
        (d0 + w * (d1 - d0)) / 2.0
    }

    /// The pieces of [a, b] between 3-D points: (length, r at a, r at b).
    fn pieces(&self, a: f64, b: f64) -> Vec<(f64, f64, f64)> {
        let mut cuts = vec![a];
        cuts.extend(self.points.iter().map(|p| p.0).filter(|&s| s > a && s < b));
        cuts.push(b);
        cuts.windows(2).map(|w| (w[1] - w[0], self.radius(w[0]), self.radius(w[1]))).collect()
    }

    /// Lateral area of [a, b]: the frusta's pi (r1 + r2) sqrt((r2 - r1)^2 + l^2).
    pub fn area(&self, a: f64, b: f64) -> f64 {
        let pi = std::f64::consts::PI;
        self.pieces(a, b).iter().map(|&(l, r1, r2)| pi * (r1 + r2) * ((r2 - r1).powi(2) + l * l).sqrt()).sum()
    }

    /// Axial resistance of [a, b] with resistivity `ra`: the frusta's
    /// ra l / (pi r1 r2).
    pub fn resistance(&self, a: f64, b: f64, ra: f64) -> f64 {
        self.pieces(a, b).iter().map(|&(l, r1, r2)| ra * l / (std::f64::consts::PI * r1 * r2)).sum()
    }
}

/// The nodes of a cell.
#[derive(Clone, Debug)]
pub struct Tree {
    pub sections: Vec<Section>,
    /// Parent node; `usize::MAX` for the root node.
    pub parent: Vec<usize>,
    /// Axial conductance to the parent node, S.
    pub g: Vec<f64>,
    /// Membrane area, m^2 (zero at section ends).
    pub area: Vec<f64>,
    /// The membrane of a node with area.
    pub membrane: Vec<Option<usize>>,
    /// Per node: (section, position of the node along it).
    pub at: Vec<(usize, f64)>,
    /// Per section: its first center node, its 1-end node, and the node its
    /// 0 end is joined to.
    first: Vec<usize>,
    end1: Vec<usize>,
    attach0: Vec<usize>,
}

/// NEURON's d_lambda rule: the odd number of segments that makes each at
/// most `d_lambda` of the AC length constant at 100 Hz,
/// lambda_f = sqrt(d / (4 pi f Ra cm)).
pub fn d_lambda_nseg(length: f64, diameter: f64, ra: f64, cm: f64, d_lambda: f64) -> usize {
    let lambda = lambda_ac(diameter, ra, cm);
    let n = ((length / (d_lambda * lambda) + 0.9) / 2.0).floor();
    if n.is_finite() && n >= 0.0 {
        (n as usize).min(1 << 24) * 2 + 1
    } else {
        1
    }
}

/// The AC length constant at 100 Hz, m.
pub fn lambda_ac(diameter: f64, ra: f64, cm: f64) -> f64 {
    (diameter / (4.0 * std::f64::consts::PI * 100.0 * ra * cm)).sqrt()
}

impl Tree {
    /// The tree of `sections` (each parent before its children; checked by
    /// the caller) with axial resistivity `ra` per section.
    pub fn build(sections: Vec<Section>, ra: &[f64]) -> Tree {
        let mut t = Tree {
            parent: Vec::new(),
            g: Vec::new(),
            area: Vec::new(),
            membrane: Vec::new(),
            at: Vec::new(),
            first: Vec::new(),
            end1: Vec::new(),
            attach0: Vec::new(),
            sections: Vec::new(),
        };
        for (s, sec) in sections.iter().enumerate() {
            let join = match sec.parent {
                None => t.push(usize::MAX, 0.0, 0.0, None, (s, 0.0)),
                Some((p, x)) => t.node_at(p, x),
            };
            t.attach0.push(join);
            let n = sec.nseg.max(1);
            let dx = sec.length / n as f64;
            let center = |k: usize| (k as f64 + 0.5) * dx;
            let mut prev = join;
            for k in 0..n {
                let from = if k == 0 { 0.0 } else { center(k - 1) };
                let r = sec.resistance(from, center(k), ra[s]);
                let area = sec.area(k as f64 * dx, (k + 1) as f64 * dx);
                let x = (k as f64 + 0.5) / n as f64;
                let node = t.push(prev, 1.0 / r, area, Some(sec.membrane), (s, x));
                if k == 0 {
                    t.first.push(node);
                }
                prev = node;
            }
            let end = t.push(prev, 1.0 / sec.resistance(center(n - 1), sec.length, ra[s]), 0.0, None, (s, 1.0));
            t.end1.push(end);
        }
        t.sections = sections;
        t
    }

    fn push(&mut self, parent: usize, g: f64, area: f64, membrane: Option<usize>, at: (usize, f64)) -> usize {
        self.parent.push(parent);
        self.g.push(g);
        self.area.push(area);
        self.membrane.push(membrane);
        self.at.push(at);
        self.parent.len() - 1
    }

    pub fn len(&self) -> usize {
        self.parent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }

    /// The node at position `x` of section `s` (built already): its 0 or 1
    /// end, else the center of the segment containing x.
    pub fn node_at(&self, s: usize, x: f64) -> usize {
        if x <= 0.0 {
            return self.attach0[s];
        }
        if x >= 1.0 {
            return self.end1[s];
        }
        let n = self.end1[s] - self.first[s];
        self.first[s] + ((x * n as f64).floor() as usize).min(n - 1)
    }

    /// `copies` copies of this tree interleaved (a forest: each copy's root
    /// has no parent), for a population of identical cells: node i of copy
    /// k is node `i * copies + k`, so parents still come first and the
    /// Hines elimination meets the same node of every copy in a row,
    /// independent operations the processor overlaps (one cell alone is a
    /// chain of dependent divisions). Sections and locations stay those of
    /// one copy.
    pub fn replicate(&self, copies: usize) -> Tree {
        let c = copies.max(1);
        let spread = |v: &[f64]| v.iter().flat_map(|&x| std::iter::repeat_n(x, c)).collect::<Vec<f64>>();
        let mut t = self.clone();
        t.parent = self
            .parent
            .iter()
            .flat_map(|&p| (0..c).map(move |k| if p == usize::MAX { p } else { p * c + k }))
            .collect();
        t.g = spread(&self.g);
        t.area = spread(&self.area);
        t.membrane = self.membrane.iter().flat_map(|&m| std::iter::repeat_n(m, c)).collect();
        t.at = self.at.iter().flat_map(|&a| std::iter::repeat_n(a, c)).collect();
        t
    }

    /// Path distance along the sections from the middle of the root
    /// section (the soma's center, NEURON's usual origin) to node `node`,
    /// m.
    pub fn distance(&self, node: usize) -> f64 {
        let (s, x) = self.at[node];
        self.distance_at(s, x)
    }

    /// [`Tree::distance`] of position `x` of section `s`.
    pub fn distance_at(&self, s: usize, x: f64) -> f64 {
        // up the tree, a loop (the depth is the user's)
        let (mut s, mut x, mut total) = (s, x, 0.0);
        loop {
            let sec = &self.sections[s];
            match sec.parent {
                None => return total + (x - 0.5).abs() * sec.length,
                Some((p, xp)) => {
                    total += x * sec.length;
                    (s, x) = (p, xp);
                }
            }
        }
    }

    /// The diameter of node `node`'s section at the node, m.
    pub fn diameter(&self, node: usize) -> f64 {
        let (s, x) = self.at[node];
        let sec = &self.sections[s];
        2.0 * sec.radius(x * sec.length)
    }

    /// Total membrane area, m^2.
    pub fn total_area(&self) -> f64 {
        self.area.iter().sum()
    }

    /// Nodes with membrane (compartments).
    pub fn compartments(&self) -> usize {
        self.membrane.iter().filter(|m| m.is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn d_lambda_matches_neuron_for_a_thin_dendrite() {
        // d = 1 um, Ra = 100 ohm cm, cm = 1 uF/cm^2: lambda_100 = 281.5 um
        let l = lambda_ac(1e-6, 1.0, 0.01);
        assert!((l * 1e6 - 282.09).abs() < 0.01, "{}", l * 1e6);
        // 1000 um at d_lambda = 0.1: 1000 / 28.2 = 35.4 -> int((35.4 + 0.9) / 2) * 2 + 1 = 37
        assert_eq!(d_lambda_nseg(1e-3, 1e-6, 1.0, 0.01, 0.1), 37);
        assert_eq!(d_lambda_nseg(1e-6, 1e-6, 1.0, 0.01, 0.1), 1);
    }

    #[test]
    fn a_ball_and_stick_has_neurons_nodes() {
        let soma = Section {
            name: "soma".into(),
            length: 20e-6,
            diameter: 20e-6,
            parent: None,
            nseg: 1,
            membrane: 0,
            points: vec![],
        };
        let dend = Section {
            name: "dend".into(),
            length: 100e-6,
            diameter: 2e-6,
            parent: Some((0, 1.0)),
            nseg: 4,
            membrane: 1,
            points: vec![],
        };
        let t = Tree::build(vec![soma, dend], &[1.0, 1.0]);
        // soma: 0 end, center, 1 end; dend: 4 centers, 1 end
        assert_eq!(t.len(), 8);
        assert_eq!(t.compartments(), 5);
        assert_eq!(t.parent[3], 2, "the dendrite joins the soma's 1 end");
        assert_eq!(t.node_at(1, 0.3), 4);
        assert_eq!(t.node_at(1, 0.0), 2);
        assert_eq!(t.node_at(0, 0.5), 1);
        // half a segment of dendrite: 1 ohm m * 12.5 um / (pi 1 um^2)
        let r = 12.5e-6 / (std::f64::consts::PI * 1e-12);
        assert!((1.0 / t.g[3] / r - 1.0).abs() < 1e-12);
        let area = std::f64::consts::PI * (20e-6 * 20e-6 + 2e-6 * 100e-6);
        assert!((t.total_area() / area - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_tapered_section_integrates_its_frusta() {
        // a cone from d = 4 um to 2 um over 100 um, given as 3-D points
        let cone = Section {
            name: "c".into(),
            length: 100e-6,
            diameter: 3e-6,
            parent: None,
            nseg: 1,
            membrane: 0,
            points: vec![(0.0, 4e-6), (50e-6, 3e-6), (100e-6, 2e-6)],
        };
        let pi = std::f64::consts::PI;
        let slant = ((1e-6f64).powi(2) + (100e-6f64).powi(2)).sqrt();
        assert!((cone.area(0.0, 100e-6) / (pi * 3e-6 * slant) - 1.0).abs() < 1e-12);
        // resistance of a cone: ra l / (pi r1 r2), whatever the cuts
        let r = cone.resistance(0.0, 100e-6, 1.0);
        assert!((r / (100e-6 / (pi * 2e-6 * 1e-6)) - 1.0).abs() < 1e-12);
        assert!((cone.resistance(0.0, 30e-6, 1.0) + cone.resistance(30e-6, 100e-6, 1.0) - r).abs() < 1e-9 * r);
    }
}
