//! Code generation: from a [`Kernel`](crate::kernel::Kernel) to machine code.
//! Today one back end, [`jit`]: Cranelift, in process. (The two evaluators
//! that run without generating code are elsewhere: `ir::eval` walks IR
//! expressions, the reference runtime's arithmetic; `kernel::interp` runs a
//! kernel instruction by instruction, the JIT's bit-for-bit oracle.)

pub mod jit;
