//! Fixed in-degree, drawn on several threads: each target gets exactly k
//! sources, drawn uniformly with replacement (no self-connections within a
//! population), target by target from one stream, and the synapses are
//! stored by source, each source's targets in increasing order.
//!
//! The stream is a counter, and target j's draws start after k draws per
//! target before it and the draws a self-connection rejected (a quick scan
//! counts those; without self-connections a jump reaches it). So the
//! targets are drawn in contiguous parts, each from its own place in the
//! stream and on its own thread, and the synapses are the same whatever
//! the number of parts: part t holds the rows' synapses onto its targets,
//! which follow those of the parts before it in every row.
//!
//! Two passes over the same draws, so that nothing but the result is ever
//! held: one sizes each part of each row, one writes it there. The rows
//! are written as gaps ([`super::gaps`], each row's from the first target
//! kept) when that is smaller than indices, else as indices, and then,
//! when asked, with each synapse's key: the place in the stream of the
//! draw that made it, which names it the same way in any part
//! ([`super::connect`] draws its weight and delay by it).
//!
//! Each draw updates its source's row, and a million rows lie far beyond
//! the caches: each part draws a few synapses ahead of the one it stores,
//! fetching the rows (and where they write) meanwhile ([`Job::ahead`]).

use super::connect::Drawn;
use super::connect::{on_threads, Shared};
use super::gaps::{put_at, Gap, Packed, Stream};
use crate::runtime::spikegen::SplitMix64;

/// A connection drawn by fixed in-degree.
#[derive(Clone, Copy, Debug)]
pub(super) struct Shape {
    /// Source and target neurons.
    pub na: usize,
    pub nb: usize,
    /// Sources per target.
    pub k: usize,
    /// Within one population: no self-connections.
    pub recurrent: bool,
}

/// No target yet, in a part of a row.
const NONE: u32 = u32::MAX;

impl Shape {
    /// Whether the targets draw at all (a population of one neuron has no
    /// source but itself).
    fn draws(&self) -> bool {
        self.na > usize::from(self.recurrent)
    }

    /// A draw's source (before rejecting a self-connection).
    #[inline]
    fn source(&self, rng: &mut SplitMix64) -> usize {
        ((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * self.na as f64) as usize
    }

    /// Each synapse onto targets `a..b` as (source, target, the stream just
    /// after its draw), from `rng` at the start of target a's draws.
    #[inline]
    pub fn each(&self, rng: &mut SplitMix64, (a, b): (usize, usize), mut f: impl FnMut(usize, usize, &SplitMix64)) {
        if !self.draws() {
            return;
        }
        for j in a..b {
            let mut got = 0;
            while got < self.k {
                let i = self.source(rng);
                if self.recurrent && i == j {
                    continue;
                }
                f(i.min(self.na - 1), j, rng);
                got += 1;
            }
        }
    }

    /// The stream at the start of each target of `starts` (increasing),
    /// from the stream at target 0's.
    fn seek(&self, rng: &SplitMix64, starts: &[usize]) -> Vec<SplitMix64> {
        let mut at = rng.clone();
        let mut from = 0;
        let mut out = Vec::with_capacity(starts.len());
        for &to in starts {
            if self.draws() && self.recurrent {
                // the draws each target takes: k, and one more per rejection
                for j in from..to {
                    let mut got = 0;
                    while got < self.k {
                        got += usize::from(self.source(&mut at) != j);
                    }
                }
            } else if self.draws() {
                at.skip(((to - from) * self.k) as u64);
            }
            from = to;
            out.push(at.clone());
        }
        out
    }
}

/// How [`draw`] writes the rows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Form {
    /// As gaps when that is smaller, else as indices.
    Gaps,
    /// As indices.
    Indices,
    /// As indices, with each synapse's key.
    Keyed,
}

/// A connection's rows by fixed in-degree onto targets `lo..hi` (all:
/// `(0, usize::MAX)`), on up to `threads` threads, from `rng` at the start
/// of the connection's draws: (offsets, targets) as indices, or as `form`
/// asks the offsets among the gaps and the gaps, or the synapses' keys.
pub(super) fn draw(
    rng: &SplitMix64,
    shape: Shape,
    (lo, hi): (usize, usize),
    form: Form,
    threads: usize,
) -> (Vec<usize>, Vec<u32>, Option<Drawn>, Option<Vec<u64>>) {
    let (lo, hi) = (lo.min(shape.nb), hi.min(shape.nb));
    let parts = threads.clamp(1, (hi - lo).max(1));
    let bounds: Vec<(usize, usize)> =
        (0..parts).map(|t| (lo + (hi - lo) * t / parts, lo + (hi - lo) * (t + 1) / parts)).collect();
    let starts = shape.seek(rng, &bounds.iter().map(|b| b.0).collect::<Vec<_>>());
    let job = Job { shape, bounds: &bounds, starts: &starts, origin: rng };
    let synapses = if shape.draws() { (hi - lo) * shape.k } else { 0 };
    let index_bytes = synapses * if shape.nb <= 1 << 16 { 2 } else { 4 };
    if form == Form::Gaps {
        // one byte when a source's targets are on average less than 128
        // neurons apart (about na / k: each reaches about k nb / na of the
        // nb targets), else two
        let drawn = if shape.na < 128 * shape.k {
            job.gaps::<u8>(lo, index_bytes).map(|(o, g)| (o, Stream::One(g)))
        } else {
            job.gaps::<u16>(lo, index_bytes).map(|(o, g)| (o, Stream::Two(g)))
        };
        if let Some((offsets, stream)) = drawn {
            return (offsets, Vec::new(), Some(Drawn { stream, from: lo, synapses }), None);
        }
    }
    let (offsets, targets, keys) = job.indices(synapses, form == Form::Keyed);
    (offsets, targets, None, keys)
}

/// The targets split into parts, each drawn from its place in the stream.
struct Job<'a> {
    shape: Shape,
    bounds: &'a [(usize, usize)],
    starts: &'a [SplitMix64],
    /// The stream at the connection's first draw.
    origin: &'a SplitMix64,
}

/// Part t's share of row i as gaps, sized by the first pass: its gaps
/// after its first target (then where it writes them), its first target
/// (then the target its first gap is from) and its last. One struct per
/// row, so that a synapse touches one cache line of them, not three (the
/// rows of a million neurons are far beyond the caches).
#[derive(Clone, Copy)]
struct Share {
    units: usize,
    first: u32,
    last: u32,
}

/// No share of a row yet.
const EMPTY: Share = Share { units: 0, first: NONE, last: 0 };

/// Where part t writes the rest of row i, and the target its next gap is
/// from (one struct per row, as [`Share`]).
#[derive(Clone, Copy)]
struct Cursor {
    at: usize,
    from: u32,
}

impl Job<'_> {
    /// Part t's synapses, as [`Self::keyed`], each handed to `f` a few
    /// draws after its source's row of `rows` was fetched, and `near` told
    /// its source half as many draws before: the rows of a million sources
    /// lie far beyond the caches, and this way several are on their way at
    /// once (`near` fetches what the row, by then in the cache, points to).
    #[inline]
    fn ahead<R>(
        &self,
        t: usize,
        rows: &mut [R],
        near: impl Fn(&[R], usize),
        mut f: impl FnMut(&mut [R], usize, usize, u64),
    ) {
        const AHEAD: usize = 32;
        let mut ring = [(0usize, 0usize, 0u64); AHEAD];
        let mut n = 0usize;
        self.keyed(t, |i, j, key| {
            fetch(rows.as_ptr().wrapping_add(i));
            if n >= AHEAD / 2 {
                near(rows, ring[(n - AHEAD / 2) % AHEAD].0);
            }
            let slot = &mut ring[n % AHEAD];
            if n >= AHEAD {
                f(rows, slot.0, slot.1, slot.2);
            }
            *slot = (i, j, key);
            n += 1;
        });
        for q in n.saturating_sub(AHEAD)..n {
            let (i, j, key) = ring[q % AHEAD];
            f(rows, i, j, key);
        }
    }

    /// Part t's synapses, as (source, target, key): the key counts the
    /// connection's draws before the one that made the synapse.
    #[inline]
    fn keyed(&self, t: usize, mut f: impl FnMut(usize, usize, u64)) {
        self.shape
            .each(&mut self.starts[t].clone(), self.bounds[t], |i, j, at| f(i, j, at.draws_since(self.origin) - 1));
    }

    /// The rows as gaps of type `T` from `lo`, when they take fewer than
    /// `than` bytes: (offsets among the gaps, gaps).
    fn gaps<T: Gap>(&self, lo: usize, than: usize) -> Option<(Vec<usize>, Packed<T>)> {
        let na = self.shape.na;
        let sizes = on_threads(vec![(); self.bounds.len()], |t, ()| {
            let mut s = super::pages::filled(na, EMPTY);
            self.ahead(
                t,
                &mut s,
                |_, _| {},
                |s, i, j, _| {
                    let row = &mut s[i];
                    if row.first == NONE {
                        row.first = j as u32;
                    } else {
                        row.units += Packed::<T>::units(row.last as usize, j);
                    }
                    row.last = j as u32;
                },
            );
            s
        });
        // each row's parts in order: part t's first gap is from the last
        // target of the parts before it (or from `lo`); it writes from
        // where the parts before it end
        let mut offsets = Vec::with_capacity(na + 1);
        offsets.push(0);
        let mut cursors: Vec<Vec<Cursor>> =
            sizes.iter().map(|_| super::pages::filled(na, Cursor { at: 0, from: 0 })).collect();
        for i in 0..na {
            let (mut at, mut from) = (offsets[i], lo);
            for (s, c) in sizes.iter().zip(cursors.iter_mut()) {
                let share = s[i];
                if share.first == NONE {
                    continue;
                }
                c[i] = Cursor { at, from: from as u32 };
                at += Packed::<T>::units(from, share.first as usize) + share.units;
                from = share.last as usize;
            }
            offsets.push(at);
        }
        drop(sizes);
        if offsets[na] * size_of::<T>() >= than {
            return None;
        }
        let mut packed = Packed::<T>::zeroed(offsets[na]);
        let out = packed.shared();
        on_threads(cursors, |t, mut cursor: Vec<Cursor>| {
            // the row's cursor is in the cache by then: fetch where it writes
            let near = |c: &[Cursor], i: usize| fetch(out.at(c[i].at));
            self.ahead(t, &mut cursor, near, |cursor, i, j, _| {
                let c = &mut cursor[i];
                // SAFETY: part t's share of row i is its own, sized by the
                // first pass over the same draws
                unsafe { put_at(out, &mut c.at, c.from as usize, j) };
                c.from = j as u32;
            });
        });
        Some((offsets, packed))
    }

    /// The rows as indices: (offsets, targets) of `synapses` in all, and
    /// with `keys` each synapse's key.
    fn indices(&self, synapses: usize, keys: bool) -> (Vec<usize>, Vec<u32>, Option<Vec<u64>>) {
        let na = self.shape.na;
        let mut counts = on_threads(vec![(); self.bounds.len()], |t, ()| {
            let mut count = super::pages::filled(na, 0usize);
            self.ahead(t, &mut count, |_, _| {}, |count, i, _, _| count[i] += 1);
            count
        });
        let mut offsets = Vec::with_capacity(na + 1);
        offsets.push(0);
        for i in 0..na {
            let mut at = offsets[i];
            for count in counts.iter_mut() {
                (count[i], at) = (at, at + count[i]);
            }
            offsets.push(at);
        }
        debug_assert_eq!(offsets[na], synapses, "every target has its k sources");
        let mut targets = vec![0u32; offsets[na]];
        super::pages::huge(&targets);
        let mut keyed = if keys { vec![0u64; offsets[na]] } else { Vec::new() };
        let (out, key_out) = (Shared::new(&mut targets), Shared::new(&mut keyed));
        on_threads(counts, |t, mut cursor: Vec<usize>| {
            // the row's cursor is in the cache by then: fetch where it writes
            let near = |c: &[usize], i: usize| {
                fetch(out.at(c[i]));
                if keys {
                    fetch(key_out.at(c[i]));
                }
            };
            self.ahead(t, &mut cursor, near, |cursor, i, j, key| {
                // SAFETY (both): part t's share of row i is its own, sized
                // by the first pass over the same draws
                unsafe { out.write(cursor[i], j as u32) };
                if keys {
                    unsafe { key_out.write(cursor[i], key) };
                }
                cursor[i] += 1;
            });
        });
        (offsets, targets, keys.then_some(keyed))
    }
}

/// Asks the CPU to bring `at`'s cache line closer (a hint: nothing is
/// read, and nothing happens off x86-64).
#[inline(always)]
fn fetch<T>(at: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch reads nothing and cannot fault, whatever the address
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(at.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each row of (offsets, gaps from `from`) as its targets.
    fn decode<T: Gap>(offsets: &[usize], gaps: &[T], from: usize) -> Vec<Vec<usize>> {
        offsets
            .windows(2)
            .map(|w| {
                let mut j = from;
                let mut row = Vec::new();
                for &g in &gaps[w[0]..w[1]] {
                    j += g.at();
                    if g != T::SKIP {
                        row.push(j);
                    }
                }
                row
            })
            .collect()
    }

    /// The rows as one stream draws them, target by target, then sorted
    /// by source (keeping the targets' order).
    fn expected(shape: Shape, seed: u64, (lo, hi): (usize, usize)) -> Vec<Vec<usize>> {
        let mut rows = vec![Vec::new(); shape.na];
        shape.each(&mut SplitMix64::new(seed), (0, shape.nb), |i, j, _| {
            if (lo..hi).contains(&j) {
                rows[i].push(j);
            }
        });
        rows
    }

    type Rows = (Vec<usize>, Vec<u32>, Option<Drawn>, Option<Vec<u64>>);

    fn rows_of(drawn: Rows) -> (Vec<Vec<usize>>, &'static str) {
        match drawn {
            (offsets, _, Some(Drawn { stream: Stream::One(g), from, .. }), _) => {
                (decode(&offsets, g.gaps(), from), "one byte")
            }
            (offsets, _, Some(Drawn { stream: Stream::Two(g), from, .. }), _) => {
                (decode(&offsets, g.gaps(), from), "two bytes")
            }
            (offsets, targets, None, _) => (
                offsets.windows(2).map(|w| targets[w[0]..w[1]].iter().map(|&j| j as usize).collect()).collect(),
                "indices",
            ),
        }
    }

    /// Any number of threads, as gaps or as indices, for all targets or a
    /// process's part of them, gives the rows of one stream drawn in order.
    #[test]
    fn parts_on_threads_draw_the_rows_of_one_stream() {
        let cases = [
            // self-connections rejected, one-byte gaps
            (Shape { na: 400, nb: 400, k: 40, recurrent: true }, (0, usize::MAX), "one byte"),
            // sources far apart: two-byte gaps, with escapes past 65,535
            (Shape { na: 60_000, nb: 200_000, k: 2, recurrent: false }, (0, usize::MAX), "two bytes"),
            // a process's part, and a one-neuron population
            (Shape { na: 500, nb: 500, k: 25, recurrent: true }, (120, 377), "one byte"),
            (Shape { na: 1, nb: 1, k: 3, recurrent: true }, (0, usize::MAX), "indices"),
        ];
        for (shape, keep, form) in cases {
            let want = expected(shape, 7, keep);
            for threads in [1, 2, 3, 5] {
                for gaps in [Form::Gaps, Form::Indices] {
                    let (rows, got) = rows_of(draw(&SplitMix64::new(7), shape, keep, gaps, threads));
                    assert_eq!(
                        got,
                        if gaps == Form::Gaps { form } else { "indices" },
                        "{shape:?} on {threads} threads"
                    );
                    assert_eq!(rows, want, "{shape:?} on {threads} threads, {gaps:?}");
                }
            }
        }
    }

    /// Each synapse's key is the place of its draw in the stream, the same
    /// whatever part drew it: drawing from there gives its source again.
    #[test]
    fn a_synapses_key_is_the_place_of_its_draw() {
        let shape = Shape { na: 300, nb: 300, k: 20, recurrent: true };
        let origin = SplitMix64::new(5);
        let (offsets, targets, _, keys) = draw(&origin, shape, (0, usize::MAX), Form::Keyed, 1);
        let keys = keys.expect("keys asked for"); // ok: a test
        let mut all: Vec<u64> = keys.clone();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), keys.len(), "one key per synapse");
        for i in 0..shape.na {
            for q in offsets[i]..offsets[i + 1] {
                let mut at = origin.clone();
                at.skip(keys[q]);
                assert_eq!(shape.source(&mut at), i, "synapse {q} onto {}", targets[q]);
            }
        }
        // a process's part, on threads: the same keys for the same synapses
        for (keep, threads) in [((0, usize::MAX), 3), ((40, 217), 1), ((40, 217), 4)] {
            let (o, t, _, k) = draw(&origin, shape, keep, Form::Keyed, threads);
            let k = k.expect("keys asked for"); // ok: a test
            for i in 0..shape.na {
                let mine: Vec<(u32, u64)> = (o[i]..o[i + 1]).map(|q| (t[q], k[q])).collect();
                let whole: Vec<(u32, u64)> = (offsets[i]..offsets[i + 1])
                    .map(|q| (targets[q], keys[q]))
                    .filter(|&(j, _)| (keep.0..keep.1).contains(&(j as usize)))
                    .collect();
                assert_eq!(mine, whole, "row {i}, keep {keep:?}, {threads} threads");
            }
        }
    }

    #[test]
    fn seeking_a_target_lands_where_drawing_up_to_it_ends() {
        for recurrent in [true, false] {
            let shape = Shape { na: 50, nb: 50, k: 30, recurrent };
            let mut rng = SplitMix64::new(3);
            let mut at = vec![rng.clone()];
            for j in 0..shape.nb {
                shape.each(&mut rng, (j, j + 1), |_, _, _| {});
                at.push(rng.clone());
            }
            let starts = [0, 1, 17, 49, 50];
            let sought = shape.seek(&SplitMix64::new(3), &starts);
            for (s, r) in starts.iter().zip(&sought) {
                assert_eq!(r.clone().next_u64(), at[*s].clone().next_u64(), "target {s}, recurrent {recurrent}");
            }
        }
    }
}
