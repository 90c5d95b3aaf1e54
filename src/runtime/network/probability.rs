//! Connection by probability, drawn on several threads: each pair (i, j)
//! independently with probability p (no self-connections within a
//! population), source by source from one stream, one draw per pair.
//!
//! The stream is a counter and the draw of pair (i, j) is at a known place
//! in it (the pairs before it), so contiguous ranges of sources are drawn
//! each on its own thread, and a process of several draws only the pairs
//! onto its own targets: the synapses are the same whatever the split. Two
//! passes over the same draws (one counts each row, one writes it into
//! its place), so the targets are held once, at their size. When asked,
//! each synapse comes with its key: the place of its pair's draw in the
//! stream, the same in any part.

use super::connect::on_threads;
use crate::runtime::spikegen::SplitMix64;

/// The rows by probability `p` of `na` sources onto `nb` targets (within
/// one population when `recurrent`), only the synapses onto `lo..hi`
/// (all: `(0, usize::MAX)`), on up to `threads` threads, from `rng` at the
/// start of the connection's draws: (offsets, targets), and with `keys`
/// each synapse's key.
pub(super) fn draw(
    rng: &SplitMix64,
    (na, nb): (usize, usize),
    (recurrent, p): (bool, f64),
    (lo, hi): (usize, usize),
    (threads, keys): (usize, bool),
) -> (Vec<usize>, Vec<u32>, Option<Vec<u64>>) {
    let (lo, hi) = (lo.min(nb), hi.min(nb));
    let parts = threads.clamp(1, na.max(1));
    let bounds: Vec<(usize, usize)> = (0..parts).map(|t| (na * t / parts, na * (t + 1) / parts)).collect();
    // the pairs before (i, j): whole rows, then row i's before j
    let r = usize::from(recurrent);
    let place = move |i: usize, j: usize| (i * (nb - r.min(nb)) + j - usize::from(recurrent && i < j)) as u64;
    // source i's draws onto lo..hi, in order, as (target, connected)
    let row = |i: usize, f: &mut dyn FnMut(usize)| {
        let mut at = rng.clone();
        at.skip(place(i, lo));
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
    let mut keyed = vec![0u64; if keys { offsets[na] } else { 0 }];
    // each range of sources writes its own rows, one after the other
    let (mut rest, mut rest_keys) = (targets.as_mut_slice(), keyed.as_mut_slice());
    let mut slices = Vec::with_capacity(parts);
    for &(a, b) in &bounds {
        let n = offsets[b] - offsets[a];
        let (mine, after) = std::mem::take(&mut rest).split_at_mut(n);
        let (my_keys, keys_after) = std::mem::take(&mut rest_keys).split_at_mut(if keys { n } else { 0 });
        slices.push(((a, b), mine, my_keys));
        (rest, rest_keys) = (after, keys_after);
    }
    on_threads(slices, |_, ((a, b), mine, my_keys): ((usize, usize), &mut [u32], &mut [u64])| {
        let mut q = 0;
        for i in a..b {
            row(i, &mut |j| {
                mine[q] = j as u32;
                if keys {
                    my_keys[q] = place(i, j);
                }
                q += 1;
            });
        }
    });
    (offsets, targets, keys.then_some(keyed))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows as one stream draws them, every pair in order: each
    /// synapse as (target, its draw's place in the stream).
    fn expected(
        rng: &SplitMix64,
        (na, nb): (usize, usize),
        recurrent: bool,
        p: f64,
        keep: (usize, usize),
    ) -> Vec<Vec<(u32, u64)>> {
        let mut rng = rng.clone();
        let mut rows = vec![Vec::new(); na];
        let mut place = 0;
        for (i, row) in rows.iter_mut().enumerate() {
            for j in 0..nb {
                if recurrent && i == j {
                    continue;
                }
                if 1.0 - rng.next_open01() < p && (keep.0..keep.1).contains(&j) {
                    row.push((j as u32, place));
                }
                place += 1;
            }
        }
        rows
    }

    /// Any number of threads, for all targets or a process's part of
    /// them, gives the rows of one stream drawn pair by pair, each synapse
    /// keyed by its pair's draw.
    #[test]
    fn ranges_of_sources_on_threads_draw_the_rows_of_one_stream() {
        let rng = SplitMix64::new(11);
        for (shape, recurrent) in [((300, 300), true), ((200, 450), false), ((1, 1), true)] {
            for keep in [(0, usize::MAX), (0, 120), (77, 250), (299, 300)] {
                let want = expected(&rng, shape, recurrent, 0.1, keep);
                for threads in [1, 2, 3, 7] {
                    for keys in [false, true] {
                        let (offsets, targets, keyed) = draw(&rng, shape, (recurrent, 0.1), keep, (threads, keys));
                        let rows: Vec<Vec<(u32, u64)>> = offsets
                            .windows(2)
                            .map(|w| (w[0]..w[1]).map(|q| (targets[q], keyed.as_ref().map_or(0, |k| k[q]))).collect())
                            .collect();
                        let want: Vec<Vec<(u32, u64)>> = want
                            .iter()
                            .map(|row| row.iter().map(|&(j, key)| (j, if keys { key } else { 0 })).collect())
                            .collect();
                        assert_eq!(rows, want, "{shape:?}, recurrent {recurrent}, keep {keep:?}, {threads} threads");
                    }
                }
            }
        }
    }
}
