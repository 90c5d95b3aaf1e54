//! Connection by probability, drawn on several threads: each pair (i, j)
//! independently with probability p (no self-connections within a
//! population), source by source from one stream, one draw per pair.
//!
//! The stream is a counter and the draw of pair (i, j) is at a known place
//! in it (the pairs before it), so contiguous ranges of sources are drawn
//! each on its own thread, and a process of several draws only the pairs
//! onto its own targets: the synapses are the same whatever the split. Two
//! passes over the same draws (one counts each row, one writes it into
//! its place), so the targets are held once, at their size.

use super::connect::on_threads;
use crate::runtime::spikegen::SplitMix64;

/// The rows by probability `p` of `na` sources onto `nb` targets (within
/// one population when `recurrent`), only the synapses onto `lo..hi`
/// (all: `(0, usize::MAX)`), on up to `threads` threads, from `rng` at the
/// start of the connection's draws: (offsets, targets).
pub(super) fn draw(
    rng: &SplitMix64,
    (na, nb): (usize, usize),
    (recurrent, p): (bool, f64),
    (lo, hi): (usize, usize),
    threads: usize,
) -> (Vec<usize>, Vec<u32>) {
    let (lo, hi) = (lo.min(nb), hi.min(nb));
    let parts = threads.clamp(1, na.max(1));
    let bounds: Vec<(usize, usize)> = (0..parts).map(|t| (na * t / parts, na * (t + 1) / parts)).collect();
    // source i's draws onto lo..hi, in order, as (target, connected)
    let row = |i: usize, f: &mut dyn FnMut(usize)| {
        let r = usize::from(recurrent);
        let mut at = rng.clone();
        // the pairs before: whole rows, then this row's before lo
        at.skip((i * (nb - r.min(nb)) + lo - usize::from(recurrent && i < lo)) as u64);
        for j in lo..hi {
            if recurrent && i == j {
                continue;
            }
            if 1.0 - at.next_open01() < p {
                f(j);
            }
        }
    };
    let counts = on_threads(bounds.clone(), |_, (a, b)| {
        (a..b)
            .map(|i| {
                let mut n = 0;
                row(i, &mut |_| n += 1);
                n
            })
            .collect::<Vec<usize>>()
    });
    let mut offsets = Vec::with_capacity(na + 1);
    offsets.push(0);
    for n in counts.iter().flatten() {
        offsets.push(offsets[offsets.len() - 1] + n);
    }
    let mut targets = vec![0u32; offsets[na]];
    super::pages::huge(&targets);
    // each range of sources writes its own rows, one after the other
    let mut rest = targets.as_mut_slice();
    let mut slices = Vec::with_capacity(parts);
    for &(a, b) in &bounds {
        let (mine, after) = std::mem::take(&mut rest).split_at_mut(offsets[b] - offsets[a]);
        slices.push(((a, b), mine));
        rest = after;
    }
    on_threads(slices, |_, ((a, b), mine): ((usize, usize), &mut [u32])| {
        let mut q = 0;
        for i in a..b {
            row(i, &mut |j| {
                mine[q] = j as u32;
                q += 1;
            });
        }
    });
    (offsets, targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows as one stream draws them: every pair in order.
    fn expected(
        rng: &SplitMix64,
        (na, nb): (usize, usize),
        recurrent: bool,
        p: f64,
        keep: (usize, usize),
    ) -> Vec<Vec<u32>> {
        let mut rng = rng.clone();
        let mut rows = vec![Vec::new(); na];
        for (i, row) in rows.iter_mut().enumerate() {
            for j in 0..nb {
                if recurrent && i == j {
                    continue;
                }
                if 1.0 - rng.next_open01() < p && (keep.0..keep.1).contains(&j) {
                    row.push(j as u32);
                }
            }
        }
        rows
    }

    /// Any number of threads, for all targets or a process's part of
    /// them, gives the rows of one stream drawn pair by pair.
    #[test]
    fn ranges_of_sources_on_threads_draw_the_rows_of_one_stream() {
        let rng = SplitMix64::new(11);
        for (shape, recurrent) in [((300, 300), true), ((200, 450), false), ((1, 1), true)] {
            for keep in [(0, usize::MAX), (0, 120), (77, 250), (299, 300)] {
                let want = expected(&rng, shape, recurrent, 0.1, keep);
                for threads in [1, 2, 3, 7] {
                    let (offsets, targets) = draw(&rng, shape, (recurrent, 0.1), keep, threads);
                    let rows: Vec<Vec<u32>> = offsets.windows(2).map(|w| targets[w[0]..w[1]].to_vec()).collect();
                    assert_eq!(rows, want, "{shape:?}, recurrent {recurrent}, keep {keep:?}, {threads} threads");
                }
            }
        }
    }
}
