//! Code generation: from a [`Kernel`](crate::kernel::Kernel) to machine code.
//! Two back ends share the functions' construction: [`jit`], Cranelift in
//! process, and [`object`], the same functions in an object file for
//! `neuroc build`. (The two evaluators
//! that run without generating code are elsewhere: `ir::eval` walks IR
//! expressions, the reference runtime's arithmetic; `kernel::interp` runs a
//! kernel instruction by instruction, the JIT's bit-for-bit oracle.)

pub mod jit;
pub mod object;
