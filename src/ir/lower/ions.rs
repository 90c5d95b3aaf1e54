//! Ions shared by the channels of one neuron: the concentrations inside
//! and outside (`ca_i`, `ca_o`) and the ion's current (`i_ca`, the sum of
//! the currents of the channels that say `ion ca`).
//!
//! A channel reads these names without declaring them, as it reads `V`.
//! A concentration comes from the one place that declares it: the neuron
//! (`parameter ca_o = 2 mM`, or a state with its own equation), or one
//! channel in `use` (a calcium pool's `state ca_i`, or a derived value).
//! Nothing supplies a default: a concentration nobody declares is E0221,
//! and so is one declared twice, one that is not a concentration, or a
//! current of an ion no channel carries.

use super::*;

/// What an ion name stands for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum IonPart {
    /// `ca_i`: the concentration inside.
    Inside,
    /// `ca_o`: the concentration outside.
    Outside,
    /// `i_ca`: the sum of the ion's currents.
    Current,
}

/// Splits `ca_i`, `ca_o` and `i_ca` into the part and the ion (letters and
/// digits, starting with a letter).
pub(super) fn ion_part(n: &str) -> Option<(IonPart, &str)> {
    let ion_like =
        |s: &str| s.starts_with(|c: char| c.is_ascii_alphabetic()) && s.chars().all(|c| c.is_ascii_alphanumeric());
    if let Some(ion) = n.strip_prefix("i_").filter(|s| ion_like(s)) {
        return Some((IonPart::Current, ion));
    }
    if let Some(ion) = n.strip_suffix("_i").filter(|s| ion_like(s)) {
        return Some((IonPart::Inside, ion));
    }
    n.strip_suffix("_o").filter(|s| ion_like(s)).map(|ion| (IonPart::Outside, ion))
}

fn concentration() -> Dim {
    Dim::from_ints([-3, 0, 0, 0, 0, 1, 0])
}

fn ion_words(ion: &str) -> String {
    let name = match ion {
        "ca" => "calcium",
        "na" => "sodium",
        "k" => "potassium",
        "cl" => "chloride",
        "mg" => "magnesium",
        _ => return format!("the ion `{ion}`"),
    };
    name.to_string()
}

/// One `ion` statement of a channel.
#[derive(Clone, Debug)]
pub(super) struct IonDecl {
    pub ion: String,
    /// The currents it names; `None`: every current of the channel.
    pub currents: Option<Vec<ast::Ident>>,
    pub span: Span,
}

impl<'a> Lower<'a> {
    /// `ion ca` or `ion na: ina` in a channel.
    pub(super) fn declare_ion(
        &mut self,
        space: usize,
        model: &ast::Model,
        ion: &ast::Ident,
        currents: Option<&[ast::Ident]>,
    ) {
        if model.kind != ast::ModelKind::Channel {
            self.err(
                Diagnostic::error(
                    Code::Ion,
                    format!("`ion` belongs in a channel, not in a `{}`", model.kind.keyword()),
                )
                .at(ion.span, "not in a channel")
                .help("`ion ca` in a channel says that its currents are carried by calcium; they sum into `i_ca`"),
            );
            return;
        }
        if ion_part(&format!("i_{}", ion.name)).is_none() {
            self.err(
                Diagnostic::error(Code::Ion, format!("`{}` cannot name an ion", ion.name))
                    .at(ion.span, "letters and digits only")
                    .help("name the ion as NEURON does: `ca`, `na`, `k`, `cl`"),
            );
            return;
        }
        let decl = IonDecl { ion: ion.name.clone(), currents: currents.map(<[_]>::to_vec), span: ion.span };
        self.spaces[space].ions.push(decl);
    }

    /// Checks a channel's `ion` statements once its names are known: each
    /// names currents of the channel, each current has at most one ion, and
    /// an `ion` without a list is the channel's only one.
    pub(super) fn check_ions(&mut self, space: usize) {
        let decls = self.spaces[space].ions.clone();
        if decls.len() > 1 {
            if let Some(bare) = decls.iter().find(|d| d.currents.is_none()) {
                self.err(
                    Diagnostic::error(
                        Code::Ion,
                        format!(
                            "`ion {}` gives every current to {}, but the channel has other `ion` statements",
                            bare.ion,
                            ion_words(&bare.ion)
                        ),
                    )
                    .at(bare.span, "every current")
                    .help(format!("name the currents each ion carries: `ion {}: i1, i2`", bare.ion)),
                );
                self.spaces[space].ions.clear();
                return;
            }
        }
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut bad = false;
        for d in &decls {
            for c in d.currents.iter().flatten() {
                if !self.spaces[space].currents.contains(&c.name) {
                    self.err(
                        Diagnostic::error(Code::Ion, format!("`{}` is not a current of this channel", c.name))
                            .at(c.span, "no `current` of this name")
                            .help(format!(
                                "an `ion` statement names the channel's currents: `current {} = ...`",
                                c.name
                            )),
                    );
                    bad = true;
                } else if let Some(first) = seen.insert(c.name.clone(), d.ion.clone()) {
                    self.err(
                        Diagnostic::error(
                            Code::Ion,
                            format!("`{}` is given to two ions, `{first}` and `{}`", c.name, d.ion),
                        )
                        .at(c.span, "a second ion")
                        .help("a current is carried by one ion"),
                    );
                    bad = true;
                }
            }
        }
        if bad {
            self.spaces[space].ions.clear();
        }
    }

    /// The ion that carries current `name` of channel `space`, if any.
    fn ion_of(&self, space: usize, name: &str) -> Option<&str> {
        self.spaces[space]
            .ions
            .iter()
            .find(|d| d.currents.as_ref().is_none_or(|cs| cs.iter().any(|c| c.name == name)))
            .map(|d| d.ion.as_str())
    }

    /// The variable an ion name stands for, when `n` is one and nothing in
    /// `space` declares it: `None` when it is not an ion name here (the
    /// caller reports an unknown name), `Some(None)` when it is but has no
    /// source (reported here).
    pub(super) fn ion_symbol(&mut self, space: usize, n: &str, span: Span) -> Option<Option<Var>> {
        let (part, ion) = ion_part(n)?;
        let root = self.root.map(|r| r.kind);
        if root == Some(ast::ModelKind::Channel) && space == 0 {
            // a channel checked alone: stand-ins, as its `V` of 0 mV
            // (dimension, display unit and its SI scale, value in that unit)
            let (dim, unit, value) = match part {
                IonPart::Current => (Dim::from_ints([-2, 0, 0, 1, 0, 0, 0]), ("mA/cm^2", 10.0), 0.0),
                _ => (concentration(), ("mM", 1.0), 1.0),
            };
            return Some(Some(Var::Param(self.stand_in(n, dim, unit, value, span))));
        }
        if root != Some(ast::ModelKind::Neuron) || (space == 0 && self.m.channels.is_empty()) {
            return None;
        }
        if part == IonPart::Current {
            return Some(self.ion_current(ion, span).map(Var::Value));
        }
        // who declares it: the neuron, and the channels in use
        let sources: Vec<usize> = (0..self.spaces.len())
            .filter(|&sp| {
                matches!(
                    self.spaces[sp].entries.get(n).map(|e| e.decl),
                    Some(Decl::Param { .. } | Decl::State { .. } | Decl::Value { .. })
                )
            })
            .collect();
        let which = if part == IonPart::Inside { "inside" } else { "outside" };
        let what = format!("the {} concentration {which} the cell", ion_words(ion));
        match sources.as_slice() {
            [] => {
                self.err(
                    Diagnostic::error(Code::Ion, format!("`{n}` ({what}) is read, but nothing declares it"))
                        .at(span, "read here")
                        .help(if part == IonPart::Inside {
                            format!(
                                "declare it in the neuron (`parameter {n} = 50 nM`), or use a channel that computes \
                                 it (a pool with `state {n}`)"
                            )
                        } else {
                            format!("declare it in the neuron: `parameter {n} = 2 mM`")
                        }),
                );
                Some(None)
            }
            [sp] => {
                let sp = *sp;
                let Some(var) = self.force(sp, n) else { return Some(None) };
                let dim = match var {
                    Var::Param(i) => Some(self.m.params[i].dim),
                    Var::State(i) => self.ensure_state_dim(i),
                    Var::Value(i) => Some(self.m.values[i].dim),
                    _ => None,
                };
                if let Some(d) = dim.filter(|d| *d != concentration()) {
                    let at = self.spaces[sp].entries.get(n).map_or(span, |e| e.span);
                    self.err(
                        Diagnostic::error(
                            Code::Ion,
                            format!("`{n}` is {what}, a concentration, but here it is {}", quantity_desc(&d)),
                        )
                        .at(at, units::pretty(&d))
                        .with_label(span, "read as a concentration here")
                        .help(format!("give it in mM, uM or nM: `{n} = 2 mM`")),
                    );
                    return Some(None);
                }
                Some(Some(var))
            }
            many => {
                let names: Vec<String> = many
                    .iter()
                    .map(|&sp| match sp {
                        0 => "the neuron".to_string(),
                        _ => format!("channel `{}`", self.spaces[sp].prefix.trim_end_matches('.')),
                    })
                    .collect();
                let spans: Vec<Span> =
                    many.iter().filter_map(|&sp| self.spaces[sp].entries.get(n).map(|e| e.span)).collect();
                let mut d =
                    Diagnostic::error(Code::Ion, format!("`{n}` ({what}) is declared by {}", names.join(" and ")))
                        .at(span, "which one is read here?");
                for s in spans {
                    d = d.with_label(s, "declared here");
                }
                self.err(d.help("keep one: a concentration has one source"));
                Some(None)
            }
        }
    }

    /// A parameter standing in for an ion name in a channel checked alone.
    fn stand_in(&mut self, n: &str, dim: Dim, (unit, scale): (&str, f64), value: f64, span: Span) -> usize {
        if let Some(i) = self.m.param(n) {
            return i;
        }
        let v = self.m.arena.add(NodeKind::Const(value * scale), Ty::Num(dim), span);
        self.m.params.push(Param {
            name: n.into(),
            value: v,
            dim,
            unit: Some(UnitHint { text: unit.into(), scale }),
            span,
        });
        self.m.params.len() - 1
    }

    /// `i_ca`: the sum of the currents of the channels that say `ion ca`.
    pub(super) fn ion_current(&mut self, ion: &str, span: Span) -> Option<usize> {
        match self.ion_currents.get(ion) {
            Some(Slot::Done(i)) => return Some(*i),
            Some(Slot::Failed) => return None,
            Some(Slot::Busy) => {
                // a current that depends on itself through a concentration
                // (a pool's derived `ca_i` read by the channel it sums)
                self.err(
                    Diagnostic::error(Code::Cycle, format!("`i_{ion}` is defined in terms of itself"))
                        .at(span, "read while it is being summed")
                        .help(format!(
                            "make the concentration the currents read a state (`state {ion}_i` with its equation), \
                             not a value computed from `i_{ion}`"
                        )),
                );
                self.ion_currents.insert(ion.to_string(), Slot::Failed);
                return None;
            }
            _ => {}
        }
        self.ion_currents.insert(ion.to_string(), Slot::Busy);
        let mut sum: Option<(ExprId, Dim)> = None;
        let mut failed = false;
        for sp in 1..self.spaces.len() {
            let carried: Vec<String> =
                self.spaces[sp].currents.iter().filter(|c| self.ion_of(sp, c) == Some(ion)).cloned().collect();
            for c in carried {
                let Some(Var::Value(i)) = self.force(sp, &c) else {
                    failed = true;
                    continue;
                };
                let dim = self.m.values[i].dim;
                let var = self.m.arena.add(NodeKind::Var(Var::Value(i)), Ty::Num(dim), span);
                sum = Some(match sum {
                    None => (var, dim),
                    // the dimensions agree: `currents` checks them (E0311)
                    Some((s, d)) => (self.m.arena.add(NodeKind::Bin(ast::BinOp::Add, s, var), Ty::Num(d), span), d),
                });
            }
        }
        let name = format!("i_{ion}");
        let Some((expr, dim)) = sum else {
            if !failed {
                self.err(
                    Diagnostic::error(
                        Code::Ion,
                        format!("`{name}` ({} current) is read, but no channel in use carries it", ion_words(ion)),
                    )
                    .at(span, "read here")
                    .help(format!("say `ion {ion}` in the channels whose currents are {} currents", ion_words(ion))),
                );
            }
            self.ion_currents.insert(ion.to_string(), Slot::Failed);
            return None;
        };
        self.m.values.push(Value { name, kind: ValueKind::Current, expr, dim, unit: None, span });
        let i = self.m.values.len() - 1;
        self.ion_currents.insert(ion.to_string(), Slot::Done(i));
        Some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ion_names_split_into_their_part_and_ion() {
        assert_eq!(ion_part("ca_i"), Some((IonPart::Inside, "ca")));
        assert_eq!(ion_part("k_o"), Some((IonPart::Outside, "k")));
        assert_eq!(ion_part("i_na"), Some((IonPart::Current, "na")));
        for not in ["V", "ca", "_i", "i_", "x_y_i", "i_2ca", "i_ca_i"] {
            assert!(ion_part(not).is_none(), "{not}");
        }
    }
}
