//! A [`Report`] for people (aligned text, states in their units, rates in
//! 1/s, frequencies in Hz) and for programs (JSON, SI).

use super::{BrainReport, Critical, Quantity, RateReport, Report, C64};
use crate::units::format_number;
use serde_json::{json, Value};
use std::fmt::Write;

fn num(v: f64) -> String {
    if v.is_finite() && v != 0.0 && (v.abs() < 1e-4 || v.abs() >= 1e7) {
        format!("{v:.6e}")
    } else {
        format_number((v * 1e9).round() / 1e9)
    }
}

fn complex(z: C64) -> String {
    if z.im == 0.0 {
        format!("{} /s", num(z.re))
    } else {
        let sign = if z.im < 0.0 { '-' } else { '+' };
        format!("{} {sign} {}i /s", num(z.re), num(z.im.abs()))
    }
}

fn value(q: &Quantity, si: f64) -> String {
    if q.unit == "1" || q.unit.is_empty() {
        num(si / q.scale)
    } else {
        format!("{} {}", num(si / q.scale), q.unit)
    }
}

fn state_list(states: &[Quantity], x: &[f64]) -> String {
    states.iter().zip(x).map(|(q, v)| format!("{} = {}", q.name, value(q, *v))).collect::<Vec<_>>().join(", ")
}

fn z_json(z: C64) -> Value {
    json!([z.re, z.im])
}

impl Report {
    /// The report as aligned text.
    pub fn text(&self) -> String {
        match self {
            Report::Rate(r) => rate_text(r),
            Report::Brain(b) => brain_text(b),
        }
    }

    /// The report as JSON (SI values; eigenvalues as [re, im] in 1/s).
    pub fn json(&self) -> Value {
        match self {
            Report::Rate(r) => rate_json(r),
            Report::Brain(b) => brain_json(b),
        }
    }
}

fn rate_text(r: &RateReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}: {} fixed point(s)", r.model, r.fixed_points.len());
    for (k, fp) in r.fixed_points.iter().enumerate() {
        let _ = writeln!(s, "  [{k}] {}\n      {}", fp.kind, state_list(&r.states, &fp.x));
        for z in &fp.eigenvalues {
            let _ = writeln!(s, "      λ = {}", complex(*z));
        }
    }
    if let Some(c) = &r.continuation {
        let p = &c.param;
        let _ = writeln!(
            s,
            "continuation in {} from {} to {} ({} values): {} branch(es)",
            p.name,
            value(p, c.range.0),
            value(p, c.range.1),
            c.range.2,
            c.branches.len()
        );
        for (b, br) in c.branches.iter().enumerate() {
            let (first, last) = (&br.points[0], &br.points[br.points.len() - 1]);
            let end = br.end.map_or(String::new(), |e| format!(", ends (fold) near {} = {}", p.name, value(p, e)));
            let _ = writeln!(s, "  branch {b}: {} = {} .. {}{end}", p.name, value(p, first.p), value(p, last.p));
        }
        for x in &c.crossings {
            let what = if x.hopf { "Hopf" } else { "real eigenvalue (fold or branch point)" };
            let dir = if x.gains_stability { "gains" } else { "loses" };
            let freq = x.frequency.map_or(String::new(), |f| format!(", frequency at onset {} Hz", num(f)));
            let _ = writeln!(
                s,
                "  {what} at {} = {} on branch {} ({dir} stability), λ = {}{freq}\n      {}",
                p.name,
                value(p, x.p),
                x.branch,
                complex(x.eigenvalue),
                state_list(&r.states, &x.x)
            );
        }
    }
    for n in &r.notes {
        let _ = writeln!(s, "note: {n}");
    }
    s
}

fn rate_json(r: &RateReport) -> Value {
    let fps: Vec<Value> = r
        .fixed_points
        .iter()
        .map(|fp| json!({"states": fp.x, "type": fp.kind, "eigenvalues": fp.eigenvalues.iter().map(|z| z_json(*z)).collect::<Vec<_>>()}))
        .collect();
    let cont = r.continuation.as_ref().map(|c| {
        json!({
            "parameter": c.param.name,
            "from": c.range.0, "to": c.range.1, "values": c.range.2,
            "branches": c.branches.iter().map(|b| json!({
                "end": b.end,
                "points": b.points.iter().map(|p| json!({
                    "p": p.p, "states": p.x, "type": p.kind, "rightmost": z_json(p.rightmost),
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "crossings": c.crossings.iter().map(|x| json!({
                "branch": x.branch, "p": x.p, "type": if x.hopf { "hopf" } else { "real" },
                "eigenvalue": z_json(x.eigenvalue), "frequency_hz": x.frequency, "states": x.x,
                "gains_stability": x.gains_stability,
            })).collect::<Vec<_>>(),
        })
    });
    json!({
        "model": r.model, "kind": "rate",
        "states": r.states.iter().map(|q| &q.name).collect::<Vec<_>>(),
        "fixed_points": fps, "continuation": cont, "notes": r.notes,
    })
}

fn critical_text(s: &mut String, b: &BrainReport, c: &Critical) {
    let Some((q, _)) = &b.coupling else { return };
    let what = if c.hopf { "Hopf" } else { "real eigenvalue (fold or branch point)" };
    let _ = writeln!(s, "critical coupling {}_c = {} ({what}), λ = {}", q.name, value(q, c.k), complex(c.eigenvalue));
    if let Some(f) = c.frequency {
        let _ = writeln!(s, "  frequency at onset {} Hz", num(f));
    }
    if let (Some(m), Some(mu)) = (c.mode, c.mu) {
        let _ = writeln!(s, "  mode {m} goes unstable (μ = {})", complex(mu).trim_end_matches(" /s"));
    }
    if let Some(o) = c.overlap {
        let _ = writeln!(s, "  overlap of the critical eigenvector with the leading mode of C: {}", num(o));
    }
}

fn brain_text(b: &BrainReport) -> String {
    let mut s = String::new();
    let d = b.states.len();
    let _ = writeln!(s, "{}: {} nodes of {}, {} states", b.model, b.n, b.node, b.n * d);
    if let Some((q, k)) = &b.coupling {
        let _ = writeln!(s, "coupling {} = {}", q.name, value(q, *k));
    }
    let homog = if b.homogeneous { "homogeneous" } else { "heterogeneous" };
    let _ = writeln!(s, "fixed point ({homog}): {}", b.fixed_point.kind);
    let shown = b.n.min(8);
    for i in 0..shown {
        let _ = writeln!(s, "  node {i:>3}: {}", state_list(&b.states, &b.fixed_point.x[i * d..(i + 1) * d]));
    }
    if shown < b.n {
        let _ = writeln!(s, "  ... ({} more nodes)", b.n - shown);
    }
    let _ = writeln!(s, "full Jacobian ({} x {}, delays ignored), rightmost eigenvalues:", b.n * d, b.n * d);
    for z in b.fixed_point.eigenvalues.iter().take(6) {
        let _ = writeln!(s, "  λ = {}", complex(*z));
    }
    for (k, t) in b.delays.iter().enumerate() {
        let _ = writeln!(s, "sum {k}: delay {} ms", num(t * 1e3));
    }
    let _ = writeln!(s, "modes of C (μ, rightmost root along the mode):");
    for (k, m) in b.modes.iter().enumerate().take(12) {
        let mu = complex(m.mu);
        let root = m
            .rightmost
            .map_or("-".into(), |z| format!("{}  {}", complex(z), if z.re < 0.0 { "stable" } else { "unstable" }));
        let _ = writeln!(s, "  {k:>3}  μ = {:<28} {root}", mu.trim_end_matches(" /s"));
    }
    if b.modes.len() > 12 {
        let _ = writeln!(s, "  ... ({} more modes)", b.modes.len() - 12);
    }
    match (&b.critical, &b.coupling, b.scan) {
        (Some(c), _, _) => critical_text(&mut s, b, c),
        (None, Some((q, _)), Some((from, to, _))) => {
            let _ = writeln!(s, "no loss of stability for {} in [{}, {}]", q.name, value(q, from), value(q, to));
        }
        _ => {}
    }
    for n in &b.notes {
        let _ = writeln!(s, "note: {n}");
    }
    s
}

fn brain_json(b: &BrainReport) -> Value {
    let d = b.states.len();
    let crit = b.critical.as_ref().map(|c| {
        json!({
            "k": c.k, "type": if c.hopf { "hopf" } else { "real" }, "eigenvalue": z_json(c.eigenvalue),
            "frequency_hz": c.frequency, "mode": c.mode, "mu": c.mu.map(z_json),
            "overlap_with_leading_mode": c.overlap, "pattern": c.pattern,
            "fixed_point": c.x.chunks(d.max(1)).collect::<Vec<_>>(),
        })
    });
    json!({
        "model": b.model, "kind": "brain", "node": b.node, "nodes": b.n,
        "states": b.states.iter().map(|q| &q.name).collect::<Vec<_>>(),
        "coupling": b.coupling.as_ref().map(|(q, k)| json!({"name": q.name, "value": k})),
        "fixed_point": {
            "states": b.fixed_point.x.chunks(d.max(1)).collect::<Vec<_>>(),
            "type": b.fixed_point.kind, "homogeneous": b.homogeneous,
            "eigenvalues": b.fixed_point.eigenvalues.iter().map(|z| z_json(*z)).collect::<Vec<_>>(),
        },
        "delays_s": b.delays,
        "modes": b.modes.iter().map(|m| json!({"mu": z_json(m.mu), "rightmost": m.rightmost.map(z_json)})).collect::<Vec<_>>(),
        "leading_mode": b.leading,
        "scan": b.scan.map(|(a, c, n)| json!({"from": a, "to": c, "values": n})),
        "critical": crit,
        "notes": b.notes,
    })
}
