//! The registry of diagnostic codes. Codes never change meaning once
//! published; `docs/errors.md` documents each with a minimal example.
//!
//! Stages: E01xx syntax, E02xx names and structure, E03xx units, E04xx
//! schemes, E05xx runtime configuration, E07xx NMODL import; W for
//! warnings.

macro_rules! codes {
    ($($variant:ident = $code:literal, $title:literal;)*) => {
        /// A stable diagnostic code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Code { $($variant),* }

        impl Code {
            /// Every code, in registry order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The code as printed: `E0301`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code),* }
            }

            /// A short title of what the code means.
            pub fn title(self) -> &'static str {
                match self { $(Code::$variant => $title),* }
            }
        }
    };
}

codes! {
    Syntax = "E0101", "syntax error";
    TooDeep = "E0102", "expression nested too deeply";
    BadNumber = "E0103", "number literal out of range";
    UnknownName = "E0201", "unknown name";
    Duplicate = "E0202", "duplicate definition";
    UnknownModel = "E0203", "unknown model";
    ImportNotFound = "E0204", "imported file not found";
    Cycle = "E0205", "cyclic definition";
    Arity = "E0206", "wrong number of arguments";
    UnknownFunction = "E0207", "unknown function";
    OdeNotState = "E0208", "ODE for something that is not a state";
    AssignNotState = "E0209", "assignment to something that is not a state";
    NoInitialValue = "E0210", "state without an initial value";
    BadGate = "E0211", "gate needs alpha/beta or inf/tau";
    WrongKind = "E0212", "model of the wrong kind";
    DuplicateOde = "E0213", "state with two ODEs";
    NotHere = "E0214", "not allowed in this kind of model";
    MissingAmbient = "E0215", "host model lacks a required symbol";
    BadDensity = "E0216", "incomplete or malformed density model";
    BadField = "E0217", "malformed neural field";
    BadTable = "E0218", "malformed rate table";
    DataFile = "E0219", "data file missing or unreadable";
    BadCoupling = "E0220", "coupling the connectome cannot compute";
    Ion = "E0221", "ion concentration or current without a source";
    DimensionMismatch = "E0301", "dimension mismatch";
    UnknownUnit = "E0302", "unknown unit";
    NeedsDimensionless = "E0303", "argument must be dimensionless";
    OdeDimension = "E0304", "ODE right side has the wrong dimension";
    NonConstantExponent = "E0305", "exponent of a dimensioned base must be a constant";
    BadExponent = "E0306", "exponent is not a small rational";
    ValueDimension = "E0307", "value has the wrong dimension";
    GateDimension = "E0308", "gate rate has the wrong dimension";
    NotBoolean = "E0309", "condition expected";
    BooleanAsNumber = "E0310", "truth value used as a number";
    CurrentDimension = "E0311", "channel currents disagree in dimension";
    DivisionByZero = "E0312", "division by a constant zero";
    UnknownMethod = "E0401", "unknown integration method";
    SchemeNotApplicable = "E0402", "integration method does not apply";
    SolverFailed = "E0403", "implicit solver did not converge";
    NotInKernel = "E0404", "model cannot run as a fused kernel";
    NotSimulatedYet = "E0501", "model kind not simulated yet";
    NoModel = "E0502", "no model to simulate";
    BadSetting = "E0503", "bad simulation setting";
    UnknownOverride = "E0504", "unknown name in --set";
    UnknownRecord = "E0505", "unknown variable to record";
    NumericalBlowUp = "E0506", "simulation diverged";
    NoFixedPoint = "E0510", "no fixed point found";
    SingularJacobian = "E0511", "singular Jacobian at a fixed point";
    NotAnalyzable = "E0512", "model cannot be analyzed";
    NoSensitivity = "E0513", "sensitivities cannot be derived";
    BadData = "E0514", "data cannot be fitted";
    NmodlSyntax = "E0701", "NMODL syntax neuroc does not read";
    NmodlUnsupported = "E0702", "NMODL construct that cannot be imported";
    NmodlName = "E0703", "NMODL name or unit without a meaning";
    Internal = "E0999", "internal compiler error";
    StateNeverChanges = "W0201", "state never changes";
    UnitShadowsName = "W0301", "a unit hides a declared name";
    TableRangeLeft = "W0401", "a rate table's argument left its range";
    StateGrewHuge = "W0501", "a state grew past 1e100";
    NoItems = "W0101", "file defines nothing";
}
