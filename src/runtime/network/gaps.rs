//! Targets stored as gaps: the distance from one target to the next in a
//! row (or in a worker's part of it), one or two bytes each. A gap of the
//! largest value (255, 65,535) moves on by that much without a synapse; a
//! larger gap is written as several. Rows are in increasing target order
//! as every rule but a file draws them, so a target every 10 neurons
//! (Brunel's model A, 12,500 neurons) takes one byte instead of two, and
//! one every 800 (a million neurons) two bytes instead of four.

use super::connect::Shared;

/// A gap between targets, of one or two bytes.
pub(super) trait Gap: Copy + Eq + Send + Sync {
    /// The largest gap: moves on without a synapse.
    const SKIP: Self;
    fn at(self) -> usize;
    /// A gap below `SKIP`.
    fn of(gap: usize) -> Self;
}

impl Gap for u8 {
    const SKIP: u8 = u8::MAX;
    fn at(self) -> usize {
        usize::from(self)
    }
    fn of(gap: usize) -> u8 {
        gap as u8
    }
}

impl Gap for u16 {
    const SKIP: u16 = u16::MAX;
    fn at(self) -> usize {
        usize::from(self)
    }
    fn of(gap: usize) -> u16 {
        gap as u16
    }
}

/// Gaps written over the words of the targets they were made from (no
/// second copy while a connection is packed), then shrunk to fit.
pub(super) struct Packed<T> {
    words: Vec<u32>,
    len: usize,
    gap: std::marker::PhantomData<T>,
}

impl<T: Gap> Packed<T> {
    pub fn gaps(&self) -> &[T] {
        // SAFETY: `Gap` is for u8 and u16 alone (aligned within a u32, any
        // bits a value), and `pack` wrote `len` of them into `words`
        unsafe { std::slice::from_raw_parts(self.words.as_ptr().cast::<T>(), self.len) }
    }
}

/// Adds `weight` to `acc[j]` for each target j, the targets given by
/// their gaps from `acc`'s start.
///
/// # Safety
/// Every target is within the accumulator, and no other thread touches
/// it.
#[inline]
pub(super) unsafe fn add_gaps<T: Gap>(acc: *mut f64, gaps: &[T], weight: f64) {
    let mut j = 0;
    for &g in gaps {
        j += g.at();
        if g != T::SKIP {
            // SAFETY: the caller's
            unsafe { *acc.add(j) += weight };
        }
    }
}

/// Worker `k`'s part of row `i` (of `workers`): row i is
/// `offsets[i]..offsets[i + 1]`, and a worker's part past the first starts
/// `cuts[i * (workers - 1) + k - 1]` after the row's start.
#[inline]
pub(super) fn part((offsets, cuts): (&[usize], &[u32]), workers: usize, i: usize, k: usize) -> std::ops::Range<usize> {
    let (lo, hi) = (offsets[i], offsets[i + 1]);
    let at = |k: usize| {
        if k == 0 {
            lo
        } else if k == workers {
            hi
        } else {
            lo + cuts[i * (workers - 1) + k - 1] as usize
        }
    };
    at(k)..at(k + 1)
}

/// Each worker's part of each row: (row, worker, its synapses), in the
/// order they are stored.
pub(super) fn segments<'a>(
    offsets: &'a [usize],
    cuts: &'a [u32],
    workers: usize,
) -> impl Iterator<Item = (usize, usize, std::ops::Range<usize>)> + 'a {
    (0..offsets.len().saturating_sub(1))
        .flat_map(move |i| (0..workers).map(move |k| (i, k, part((offsets, cuts), workers, i, k))))
}

/// Hands on the gap `gap` as gaps of type `T`: `SKIP`s, then one below it.
#[inline]
fn split_gap<T: Gap>(mut gap: usize, mut put: impl FnMut(T)) {
    while gap >= T::SKIP.at() {
        put(T::SKIP);
        gap -= T::SKIP.at();
    }
    put(T::of(gap));
}

/// Whether targets may be stored as gaps (`NEUROC_NO_GAPS` keeps them as
/// indices, for comparison).
pub(super) fn wanted() -> bool {
    std::env::var_os("NEUROC_NO_GAPS").is_none()
}

/// How many gaps of type `T` the targets take, when every worker's part
/// of every row is in increasing order from its chunk's start and the gaps
/// can be written over the targets as they are read (`None` otherwise).
pub(super) fn fit<T: Gap>(targets: &[u32], (offsets, cuts): (&[usize], &[u32]), bases: &[usize]) -> Option<usize> {
    let skip = T::SKIP.at();
    let per_word = 4 / size_of::<T>();
    let mut written = 0;
    for (_, k, range) in segments(offsets, cuts, bases.len()) {
        let mut at = bases[k];
        for q in range {
            let j = targets[q] as usize;
            let gap = j.checked_sub(at)?;
            written += gap / skip + 1;
            // the gaps so far end before the next target to be read
            if written > (q + 1) * per_word {
                return None;
            }
            at = j;
        }
    }
    Some(written)
}

/// The targets as gaps of type `T`, written over their own storage
/// (`fit` said they can be); `offsets` and `cuts` become positions among
/// the gaps.
pub(super) fn pack<T: Gap>(
    mut words: Vec<u32>,
    (offsets, cuts): (&mut [usize], &mut [u32]),
    bases: &[usize],
) -> Packed<T> {
    let workers = bases.len();
    let (mut at_gaps, mut cuts_gaps) = (vec![0], Vec::with_capacity(cuts.len()));
    let base = words.as_mut_ptr();
    let out = base.cast::<T>();
    let mut len = 0;
    for (i, k, range) in segments(offsets, cuts, workers) {
        if k > 0 {
            cuts_gaps.push(u32::try_from(len - at_gaps[i]).unwrap_or(u32::MAX));
        }
        let mut at = bases[k];
        for q in range {
            // SAFETY: q < words.len(), and `fit` checked that the gaps
            // written so far end before word q + 1 (u8 and u16 are
            // aligned within it)
            let j = unsafe { *base.add(q) } as usize;
            split_gap::<T>(j - at, |g| {
                // SAFETY: as above
                unsafe { out.add(len).write(g) };
                len += 1;
            });
            at = j;
        }
        if k + 1 == workers {
            at_gaps.push(len);
        }
    }
    offsets.copy_from_slice(&at_gaps[..offsets.len()]);
    cuts.copy_from_slice(&cuts_gaps);
    let mut packed = Packed { words, len, gap: std::marker::PhantomData };
    packed.trim();
    packed
}

impl<T: Gap> Packed<T> {
    /// Room for `len` gaps, zero (on huge pages where it is large).
    pub fn zeroed(len: usize) -> Packed<T> {
        let words = vec![0; (len * size_of::<T>()).div_ceil(4)];
        super::pages::huge(&words);
        Packed { words, len, gap: std::marker::PhantomData }
    }

    fn gaps_mut(&mut self) -> &mut [T] {
        // SAFETY: as `gaps`, and `words` holds at least `len` of them
        unsafe { std::slice::from_raw_parts_mut(self.words.as_mut_ptr().cast::<T>(), self.len) }
    }

    /// Writes the gap from `at` to `j` (`at <= j`) at `cursor`, moving it on.
    pub fn put(&mut self, cursor: &mut usize, at: usize, j: usize) {
        let gaps = self.gaps_mut();
        split_gap::<T>(j - at, |g| {
            gaps[*cursor] = g;
            *cursor += 1;
        });
    }

    /// Where threads that fill parts of the gaps apart write them
    /// ([`put_at`]).
    pub fn shared(&mut self) -> Shared<T> {
        Shared::new(self.gaps_mut())
    }
}

/// [`Packed::put`] through [`Shared`].
///
/// # Safety
/// No other thread writes the positions from `cursor` that the gap takes.
#[inline]
pub(super) unsafe fn put_at<T: Gap>(out: Shared<T>, cursor: &mut usize, at: usize, j: usize) {
    split_gap::<T>(j - at, |g| {
        // SAFETY: the caller's
        unsafe { out.write(*cursor, g) };
        *cursor += 1;
    });
}

impl<T: Gap> Packed<T> {
    /// Gives back the words beyond the gaps.
    fn trim(&mut self) {
        self.words.truncate((self.len * size_of::<T>()).div_ceil(4));
        self.words.shrink_to_fit();
    }

    /// How many gaps the one from `at` to `j` takes.
    pub fn units(at: usize, j: usize) -> usize {
        (j - at) / T::SKIP.at() + 1
    }

    /// Rows of gaps from `from` (row i is `offsets[i]..offsets[i + 1]`),
    /// rewritten in place so that each worker's part of a row starts from
    /// the first neuron of its chunk (`chunks`: contiguous, from 0);
    /// `offsets` stay rows' positions, and the cuts (per row and worker
    /// past the first, where its part starts after the row's) are
    /// returned. A part's first gap only shrinks, so the writing never
    /// overtakes the reading.
    pub fn rebase(&mut self, offsets: &mut [usize], from: usize, chunks: &[(usize, usize)]) -> Vec<u32> {
        let workers = chunks.len().max(1);
        let rows = offsets.len().saturating_sub(1);
        let owner = |j: usize| chunks.partition_point(|&(_, b)| b <= j).min(workers - 1);
        let base = |k: usize| chunks.get(k).map_or(0, |c| c.0);
        let mut cuts = Vec::with_capacity(rows * (workers - 1));
        let mut write = 0;
        let mut read = offsets.first().copied().unwrap_or(0);
        for i in 0..rows {
            let end = offsets[i + 1];
            let start = write;
            offsets[i] = start;
            let (mut j, mut k, mut at) = (from, 0, base(0));
            for r in read..end {
                let g = self.gaps()[r];
                j += g.at();
                if g == T::SKIP {
                    continue;
                }
                while k < owner(j) {
                    k += 1;
                    cuts.push(u32::try_from(write - start).unwrap_or(u32::MAX));
                    at = base(k);
                }
                self.put(&mut write, at, j);
                at = j;
            }
            while k + 1 < workers {
                k += 1;
                cuts.push(u32::try_from(write - start).unwrap_or(u32::MAX));
            }
            read = end;
        }
        if let Some(last) = offsets.last_mut() {
            *last = write;
        }
        self.len = write;
        self.trim();
        cuts
    }
}

/// Gaps of one or of two bytes.
pub(super) enum Stream {
    One(Packed<u8>),
    Two(Packed<u16>),
}

impl Stream {
    pub fn bytes(&self) -> usize {
        match self {
            Stream::One(p) => p.len,
            Stream::Two(p) => p.len * 2,
        }
    }

    /// Adds `weight` to `acc[j]` for each target j of the gaps at
    /// `range`, from `acc`'s start.
    ///
    /// # Safety
    /// As [`add_gaps`].
    #[inline]
    pub unsafe fn deliver(&self, acc: *mut f64, range: std::ops::Range<usize>, weight: f64) {
        // SAFETY: the caller's
        match self {
            Stream::One(p) => unsafe { add_gaps(acc, &p.gaps()[range], weight) },
            Stream::Two(p) => unsafe { add_gaps(acc, &p.gaps()[range], weight) },
        }
    }

    /// Rewrites the rows by worker (see [`Packed::rebase`]).
    pub fn rebase(&mut self, offsets: &mut [usize], from: usize, chunks: &[(usize, usize)]) -> Vec<u32> {
        match self {
            Stream::One(p) => p.rebase(offsets, from, chunks),
            Stream::Two(p) => p.rebase(offsets, from, chunks),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::spikegen::SplitMix64;

    /// Rows drawn as gaps from `from` (as fixed in-degree draws them),
    /// rebased onto chunks, give every worker its own targets in order.
    fn rebased<T: Gap>(count: usize, workers: usize, widest: usize, from: usize, seed: u64) {
        let mut rng = SplitMix64::new(seed);
        let rows: Vec<Vec<usize>> = (0..30)
            .map(|_| {
                let mut row = Vec::new();
                let mut j = from + (rng.next_u64() as usize) % widest;
                while j < count {
                    row.push(j);
                    j += (rng.next_u64() as usize) % widest * usize::from(!rng.next_u64().is_multiple_of(4));
                }
                row
            })
            .collect();
        let mut offsets = vec![0];
        for row in &rows {
            let mut at = from;
            offsets.push(
                offsets.last().unwrap()
                    + row.iter().map(|&j| Packed::<T>::units(std::mem::replace(&mut at, j), j)).sum::<usize>(),
            );
        }
        let mut packed = Packed::<T>::zeroed(*offsets.last().unwrap());
        let mut cursor = 0;
        for row in &rows {
            let mut at = from;
            for &j in row {
                packed.put(&mut cursor, at, j);
                at = j;
            }
        }
        let size = count.div_ceil(workers);
        let chunks: Vec<(usize, usize)> =
            (0..workers).map(|k| ((k * size).min(count), ((k + 1) * size).min(count))).collect();
        let bases: Vec<usize> = chunks.iter().map(|c| c.0).collect();
        let cuts = packed.rebase(&mut offsets, from, &chunks);
        for (i, k, range) in segments(&offsets, &cuts, workers) {
            let mut acc = vec![0.0; count];
            // SAFETY: the targets are below count
            unsafe { add_gaps(acc.as_mut_ptr().add(bases[k]), &packed.gaps()[range], 1.0) };
            let mut expected = vec![0.0; count];
            for &j in rows[i].iter().filter(|&&j| (chunks[k].0..chunks[k].1).contains(&j)) {
                expected[j] += 1.0;
            }
            assert_eq!(acc, expected, "row {i}, worker {k}");
        }
    }

    #[test]
    fn rows_of_gaps_rebased_onto_workers_deliver_their_targets() {
        rebased::<u8>(12_500, 1, 20, 0, 1);
        rebased::<u8>(12_500, 3, 20, 0, 2);
        rebased::<u8>(5_000, 4, 700, 0, 3); // several gaps of 255
        rebased::<u16>(300_000, 2, 3_000, 0, 4);
        rebased::<u16>(400_000, 3, 150_000, 0, 5); // several gaps of 65,535
        rebased::<u8>(12_500, 2, 30, 6_250, 6); // a process's part, from its first neuron
    }
}
