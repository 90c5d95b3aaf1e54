//! Faults: a lane whose scheme cannot give a trustworthy step stores a NaN
//! with a payload naming why, in the states of the block that failed. The
//! runtimes find non-finite states (every 1000 steps and at the end),
//! replay the neuron on the kernel interpreter to find the first step and
//! state, and read the payload there to say what failed (E0403) instead of
//! "diverged". Selects and stores move bits unchanged in both back ends,
//! so the payload survives to memory; arithmetic on it afterwards may not
//! keep it, which is why only the first non-finite value is read.

/// Newton's iterations of an implicit block did not converge.
pub const IMPLICIT: f64 = f64::from_bits(0x7ff8_0000_0000_0403);
/// A kinetic scheme's rates times the step exceed the bound its
/// propagator was built for.
pub const KINETIC: f64 = f64::from_bits(0x7ff8_0000_0000_0405);
/// rk45 did not reach the end of the step in its sub-steps.
pub const ADAPTIVE: f64 = f64::from_bits(0x7ff8_0000_0000_0406);

/// What a fault value means, if `x` is one.
pub fn describe(x: f64) -> Option<&'static str> {
    match x.to_bits() {
        b if b == IMPLICIT.to_bits() => Some("Newton's iterations of the implicit method did not converge"),
        b if b == KINETIC.to_bits() => Some(
            "the kinetic scheme's fastest outflow rate times the step exceeds what the kernel's propagator was built for",
        ),
        b if b == ADAPTIVE.to_bits() => Some("rk45 did not reach the end of the step within its sub-steps"),
        _ => None,
    }
}
