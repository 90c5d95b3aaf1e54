//! A network spread over processes (MPI ranks, with the `mpi` feature):
//! each rank steps a contiguous block of every population, the blocks
//! the threads of one process would take (`step::chunks` with one chunk
//! per rank), holding the synapses onto it, and once per minimum delay
//! the ranks exchange the spikes of the steps since the last exchange
//! (`MPI_Allgatherv`), so that each holds every spike in the order one
//! process gives them: every rank delivers them onto its own targets
//! and records them, and rank 0 writes the output. Results are bit for
//! bit those of one process (`tests/mpi.rs`).
//!
//! Without the feature, or outside `mpirun`, [`Ranks::world`] is `None`
//! and nothing here runs.

/// This process's place among the ranks.
#[derive(Clone, Copy, Debug)]
pub struct Ranks {
    pub rank: usize,
    pub size: usize,
}

/// Starts MPI when the process runs under a launcher (`mpirun` sets
/// `OMPI_COMM_WORLD_SIZE` or `PMI_SIZE`); the handle finalizes it when
/// dropped, so keep it for the life of `main`.
#[cfg(feature = "mpi")]
pub fn initialize() -> Option<mpi::environment::Universe> {
    let launched = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"].iter().any(|v| std::env::var_os(v).is_some());
    if launched && !mpi::environment::is_initialized() {
        mpi::initialize()
    } else {
        None
    }
}

/// This process's rank (0 without MPI).
pub fn rank() -> usize {
    Ranks::world().map_or(0, |r| r.rank)
}

#[cfg(feature = "mpi")]
mod world {
    use super::Ranks;
    use mpi::collective::SystemOperation;
    use mpi::datatype::PartitionMut;
    use mpi::topology::{Communicator, SimpleCommunicator};
    use mpi::traits::CommunicatorCollectives;

    impl Ranks {
        /// The world's ranks, when MPI runs with more than one process.
        pub fn world() -> Option<Ranks> {
            if !mpi::environment::is_initialized() || mpi::environment::is_finalized() {
                return None;
            }
            let w = SimpleCommunicator::world();
            (w.size() > 1).then(|| Ranks { rank: w.rank() as usize, size: w.size() as usize })
        }

        /// Every rank's `mine`, in rank order.
        pub fn gather(&self, mine: &[f64]) -> Vec<Vec<f64>> {
            let w = SimpleCommunicator::world();
            let mut counts = vec![0i32; self.size];
            w.all_gather_into(&(mine.len() as i32), &mut counts[..]);
            let displs: Vec<i32> = counts.iter().scan(0, |at, &c| Some(std::mem::replace(at, *at + c))).collect();
            let total = counts.iter().map(|&c| c as usize).sum();
            let mut all = vec![0.0f64; total];
            {
                let mut part = PartitionMut::new(&mut all[..], &counts[..], &displs[..]);
                w.all_gather_varcount_into(mine, &mut part);
            }
            counts.iter().zip(&displs).map(|(&c, &d)| all[d as usize..(d + c) as usize].to_vec()).collect()
        }

        /// Whether any rank says yes.
        pub fn any(&self, yes: bool) -> bool {
            let w = SimpleCommunicator::world();
            let mut out = 0i32;
            w.all_reduce_into(&i32::from(yes), &mut out, SystemOperation::max());
            out != 0
        }

        /// `values` summed over the ranks, in place.
        pub fn sum(&self, values: &mut [f64]) {
            let w = SimpleCommunicator::world();
            let mine = values.to_vec();
            w.all_reduce_into(&mine[..], values, SystemOperation::sum());
        }
    }
}

#[cfg(not(feature = "mpi"))]
impl Ranks {
    /// Without the `mpi` feature: one process.
    pub fn world() -> Option<Ranks> {
        None
    }

    pub fn gather(&self, mine: &[f64]) -> Vec<Vec<f64>> {
        vec![mine.to_vec()]
    }

    pub fn any(&self, yes: bool) -> bool {
        yes
    }

    pub fn sum(&self, _values: &mut [f64]) {}
}
