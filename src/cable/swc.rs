//! SWC morphologies (Cannon et al. 1998; the NeuroMorpho.Org standard):
//! one point per line, `id type x y z radius parent` (micrometers; parent
//! -1 for the root; `#` comments). Types: 1 soma, 2 axon, 3 basal
//! dendrite, 4 apical dendrite, others custom.
//!
//! How the points become sections (stated in docs/language.md, and
//! checked against NEURON's own 3-D geometry on the same sections in
//! tests/cable.rs):
//! - the soma: a single soma point, or the NeuroMorpho three-point soma
//!   (a soma point with two soma children), is a cylinder as long as it is
//!   wide, 2r by 2r, whose lateral area is the sphere's, 4 pi r^2; more
//!   soma points are a section of their own along those points;
//! - every other section is a maximal unbranched run of points of one
//!   type; a section starts at the root's children, after a branch point,
//!   and where the type changes. Its 3-D points are its parent point (where
//!   the parent is not the soma) and its own;
//! - a section whose parent point is in the soma attaches at the soma's
//!   middle (0.5); any other at its parent section's end (1);
//! - names: `soma`, then `dend_K` (basal), `apic_K` (apical), `axon_K`,
//!   `typeT_K`, numbered in file order from 0.

use super::geometry::Section;

/// What the region names of a section's type are.
pub fn type_name(t: i64) -> String {
    match t {
        1 => "soma".into(),
        2 => "axon".into(),
        3 => "dend".into(),
        4 => "apic".into(),
        t => format!("type{t}"),
    }
}

/// A section read from SWC: its name, type, parent (section, at), and its
/// 3-D points as (arc length from its start, diameter), meters.
#[derive(Clone, Debug, PartialEq)]
pub struct SwcSection {
    pub name: String,
    pub kind: String,
    pub parent: Option<(usize, f64)>,
    pub points: Vec<(f64, f64)>,
}

/// Parses SWC text into sections, parents first. Errors name the line.
pub fn read(text: &str) -> Result<Vec<SwcSection>, String> {
    struct P {
        kind: i64,
        xyz: [f64; 3],
        r: f64,
        parent: Option<usize>,
    }
    let mut pts: Vec<P> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for (ln, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let bad = |what: &str| format!("line {}: {what}", ln + 1);
        if f.len() != 7 {
            return Err(bad("expected 7 fields: id type x y z radius parent"));
        }
        let num = |s: &str| s.parse::<f64>().ok().filter(|x| x.is_finite());
        let int = |s: &str| s.parse::<i64>().ok();
        let (Some(id), Some(kind), Some(parent)) = (int(f[0]), int(f[1]), int(f[6])) else {
            return Err(bad("id, type and parent must be whole numbers"));
        };
        let (Some(x), Some(y), Some(z), Some(r)) = (num(f[2]), num(f[3]), num(f[4]), num(f[5])) else {
            return Err(bad("x, y, z and radius must be finite numbers"));
        };
        if r <= 0.0 {
            return Err(bad("the radius must be positive"));
        }
        let parent = if parent < 0 {
            if !pts.is_empty() {
                return Err(bad("a second root (parent -1): one cell is one tree"));
            }
            None
        } else {
            match index.get(&parent) {
                Some(&p) => Some(p),
                None => return Err(bad(&format!("parent {parent} is not a point listed before this one"))),
            }
        };
        if index.insert(id, pts.len()).is_some() {
            return Err(bad(&format!("point {id} listed twice")));
        }
        pts.push(P { kind, xyz: [x * 1e-6, y * 1e-6, z * 1e-6], r: r * 1e-6, parent });
    }
    if pts.is_empty() {
        return Err("no points".into());
    }
    let n = pts.len();
    let mut children = vec![Vec::new(); n];
    for (i, p) in pts.iter().enumerate() {
        if let Some(q) = p.parent {
            children[q].push(i);
        }
    }
    let dist = |a: usize, b: usize| {
        let (p, q) = (&pts[a].xyz, &pts[b].xyz);
        ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2)).sqrt()
    };
    let mut out: Vec<SwcSection> = Vec::new();
    let mut section_of = vec![usize::MAX; n];
    let mut counts = std::collections::HashMap::new();
    let root_is_soma = pts[0].kind == 1;
    // the soma: the soma points joined to the root through soma points (a
    // soma-typed point elsewhere starts a section of its own)
    let mut soma_pts = Vec::new();
    if root_is_soma {
        let mut stack = vec![0];
        while let Some(i) = stack.pop() {
            soma_pts.push(i);
            stack.extend(children[i].iter().filter(|&&c| pts[c].kind == 1));
        }
        soma_pts.sort_unstable();
    }
    // the soma
    if root_is_soma {
        let simple = soma_pts.len() == 1
            || (soma_pts.len() == 3 && children[0].iter().filter(|&&c| pts[c].kind == 1).count() == 2);
        let points = if simple {
            let d = 2.0 * pts[0].r;
            vec![(0.0, d), (d, d)]
        } else {
            // soma points along their parent links from the root
            let mut chain = vec![0];
            let mut at = 0;
            while let Some(&c) = children[at].iter().find(|&&c| pts[c].kind == 1) {
                chain.push(c);
                at = c;
            }
            let mut arc = 0.0;
            chain.windows(2).fold(vec![(0.0, 2.0 * pts[0].r)], |mut v, w| {
                arc += dist(w[0], w[1]);
                v.push((arc, 2.0 * pts[w[1]].r));
                v
            })
        };
        // soma points all at one place: a cylinder as long as it is wide
        let points = if points.last().is_some_and(|p| p.0 > 0.0) {
            points
        } else {
            let d = 2.0 * pts[0].r;
            vec![(0.0, d), (d, d)]
        };
        out.push(SwcSection { name: "soma".into(), kind: "soma".into(), parent: None, points });
        for &i in &soma_pts {
            section_of[i] = 0;
        }
    }
    // every other section, in file order of its first point
    for i in 0..n {
        if section_of[i] != usize::MAX {
            continue;
        }
        let starts = match pts[i].parent {
            None => true,
            Some(q) => section_of[q] == 0 && root_is_soma || children[q].len() > 1 || pts[q].kind != pts[i].kind,
        };
        if !starts {
            continue;
        }
        let kind = type_name(pts[i].kind);
        let k = counts.entry(kind.clone()).or_insert(0usize);
        let name = format!("{kind}_{k}");
        *k += 1;
        let (parent, mut points, mut arc, mut last) = match pts[i].parent {
            None => (None, vec![(0.0, 2.0 * pts[i].r)], 0.0, i),
            Some(q) if root_is_soma && section_of[q] == 0 => (Some((0, 0.5)), vec![(0.0, 2.0 * pts[i].r)], 0.0, i),
            Some(q) => {
                let l = dist(q, i);
                (Some((section_of[q], 1.0)), vec![(0.0, 2.0 * pts[q].r), (l, 2.0 * pts[i].r)], l, i)
            }
        };
        let s = out.len();
        section_of[i] = s;
        // follow the run while it neither branches nor changes type
        while children[last].len() == 1 && pts[children[last][0]].kind == pts[i].kind {
            let c = children[last][0];
            arc += dist(last, c);
            points.push((arc, 2.0 * pts[c].r));
            section_of[c] = s;
            last = c;
        }
        if arc <= 0.0 {
            // a single point: a cylinder as long as it is wide
            let d = 2.0 * pts[i].r;
            points = vec![(0.0, d), (d, d)];
        }
        out.push(SwcSection { name, kind, parent, points });
    }
    Ok(out)
}

/// The sections of a morphology as the cable needs them: membrane per
/// section from `membrane_of(name, kind)`, segments from `nseg_of(length,
/// mean diameter)`.
pub fn sections(
    swc: &[SwcSection],
    mut membrane_of: impl FnMut(&str, &str) -> Option<usize>,
    mut nseg_of: impl FnMut(f64, f64, usize) -> usize,
) -> Result<Vec<Section>, String> {
    swc.iter()
        .map(|s| {
            let length = s.points.last().map_or(0.0, |p| p.0);
            let mean_d = s.points.iter().map(|p| p.1).sum::<f64>() / s.points.len().max(1) as f64;
            let membrane = membrane_of(&s.name, &s.kind).ok_or_else(|| s.name.clone())?;
            Ok(Section {
                name: s.name.clone(),
                length,
                diameter: mean_d,
                parent: s.parent,
                nseg: nseg_of(length, mean_d, membrane),
                membrane,
                points: s.points.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_three_point_soma_with_a_branching_dendrite() {
        let text = "# soma (NeuroMorpho three points), a dendrite that branches\n\
            1 1 0 0 0 10 -1\n2 1 0 -10 0 10 1\n3 1 0 10 0 10 1\n\
            4 3 10 0 0 1 1\n5 3 20 0 0 1 4\n6 3 30 0 0 1 5\n\
            7 3 40 5 0 0.5 6\n8 3 40 -5 0 0.5 6\n9 2 -10 0 0 0.5 1\n";
        let s = read(text).unwrap();
        let names: Vec<&str> = s.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["soma", "dend_0", "dend_1", "dend_2", "axon_0"]);
        let d = 2.0 * 10.0 * 1e-6;
        assert_eq!(s[0].points, vec![(0.0, d), (d, d)]);
        // dend_0: points 4, 5, 6 from the soma's middle, 20 um long
        assert_eq!(s[1].parent, Some((0, 0.5)));
        assert!((s[1].points.last().unwrap().0 - 20e-6).abs() < 1e-18);
        // dend_1 starts at the branch point 6
        assert_eq!(s[2].parent, Some((1, 1.0)));
        assert!((s[2].points[1].0 - (125e-12f64).sqrt()).abs() < 1e-15);
        assert!(read("1 1 0 0 0 5 -1\n2 3 1 0 0 1 7\n").unwrap_err().contains("line 2"));
        assert!(read("1 1 0 0 0 -5 -1\n").unwrap_err().contains("radius"));
        assert!(read("1 1 0 0 0 5 -1\n2 3 1 0 0 1 -1\n").unwrap_err().contains("second root"));
        // soma points at one place, and a soma-typed point inside a dendrite
        let s = read("1 1 0 0 0 5 -1\n2 1 0 0 0 5 1\n3 3 10 0 0 1 1\n4 1 20 0 0 1 3\n5 3 30 0 0 1 4\n").unwrap();
        assert!(s[0].points.last().unwrap().0 > 0.0, "{:?}", s[0]);
        let names: Vec<&str> = s.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["soma", "dend_0", "soma_0", "dend_1"]);
        assert_eq!(s[2].parent, Some((1, 1.0)));
    }
}
