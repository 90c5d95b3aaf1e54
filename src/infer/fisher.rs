//! The Fisher information (to come).
