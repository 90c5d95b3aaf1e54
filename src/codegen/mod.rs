//! Back ends. Today: the reference interpreter ([`interp`]), the oracle that
//! later back ends (the Cranelift JIT, native runners) are tested against.

pub mod interp;
pub mod jit;
