//! The end of a kernel step: refractory holds and events.
//!
//! Input: the new states the blocks computed. Output: the held states
//! selected back to their old values while `t < refractory_until`, each
//! event's fire mask and time (tested on the new state, timed by linear
//! interpolation of its level), its assignments selected into the new
//! states, and the new `refractory_until`.

use super::blocks::Start;
use super::builder::{Builder, Frame};
use super::{Cmp, Inst, KEvent, Unsupported, Val};
use crate::ir::{Action, Event, Trigger};
use crate::syntax::ast::Direction;

/// The refractory state: its value at the start of the step (state
/// `ref_slot`) and the mask "still holding".
#[derive(Clone, Copy)]
pub(super) struct Hold {
    pub until: Val,
    pub holding: Val,
}

/// Whether some event starts a refractory period.
pub(super) fn starts_refractory(e: &Event) -> bool {
    e.actions.iter().any(|a| matches!(a, Action::Refractory { .. }))
}

/// Held states keep their old values while `t < refractory_until`.
pub(super) fn hold(b: &mut Builder, s: &Start, new: &mut [Val], ref_slot: usize) -> Hold {
    let m = b.m;
    let until = b.push(Inst::State(ref_slot as u32));
    let holding = b.push_raw(Inst::Cmp(Cmp::Lt, s.t0, until));
    for e in m.events.iter().filter(|e| starts_refractory(e)) {
        for a in &e.actions {
            if let Action::Assign { state, held: true, .. } = a {
                // held at the value before this step's input (input to a
                // held state during the refractory period is discarded)
                new[*state] = b.push_raw(Inst::Select(holding, s.raw_old[*state], new[*state]));
            }
        }
    }
    Hold { until, holding }
}

/// The events, tested on the new state; returns them and the new value of
/// `refractory_until` (when the model has one).
pub(super) fn emit_events(
    b: &mut Builder,
    s: &Start,
    new: &mut [Val],
    hold: Option<Hold>,
) -> Result<(Vec<KEvent>, Option<Val>), Unsupported> {
    let mut events = Vec::new();
    let m = b.m;
    let mut ref_value = hold.map(|h| h.until);
    // the id of the frame of the new states, as they are now
    let mut now = b.frame_id();
    for e in &m.events {
        let fired = {
            let env_new = Frame::new(now, new, s.t_next);
            match &e.trigger {
                Trigger::Crossing { level, direction } => crossing(b, s, &env_new, *level, *direction)?,
                Trigger::Condition { cond, level } => condition(b, s, &env_new, *cond, *level, hold)?,
                Trigger::Hazard { cond } => {
                    // this step's draw against the hazard at the step's start
                    let mut fire = b.expr(*cond, &s.env_start())?;
                    if let Some(h) = hold {
                        let free = b.push_raw(Inst::Not(h.holding));
                        fire = b.push_raw(Inst::And(fire, free));
                    }
                    (fire, None)
                }
                Trigger::Spike { .. } => continue,
            }
        };
        let (fire, level) = fired;
        let time = match level {
            Some((l0, l1)) => interpolate(b, s, l0, l1),
            None => s.t_next,
        };
        let mut emits = false;
        for a in &e.actions {
            match a {
                Action::Assign { state, value, .. } => {
                    let v = b.expr(*value, &Frame::new(now, new, s.t_next))?;
                    new[*state] = b.push_raw(Inst::Select(fire, v, new[*state]));
                    now = b.frame_id();
                }
                Action::Refractory { duration, .. } => {
                    let d = b.expr(*duration, &Frame::new(now, new, s.t_next))?;
                    let until = b.bin(Inst::Add, time, d);
                    let prev = ref_value.unwrap_or(s.t0);
                    ref_value = Some(b.push_raw(Inst::Select(fire, until, prev)));
                }
                Action::Emit { .. } => emits = true,
                Action::Output { .. } => {}
            }
        }
        events.push(KEvent { fire, time, emits });
    }
    Ok((events, ref_value))
}

type Fired = (Val, Option<(Val, Val)>);

/// A crossing of `level` through zero: the fire mask and the level at the
/// start and the end of the step.
fn crossing(
    b: &mut Builder,
    s: &Start,
    env_new: &Frame,
    level: crate::ir::ExprId,
    direction: Direction,
) -> Result<Fired, Unsupported> {
    let l0 = b.expr(level, &s.env_start())?;
    b.exact.insert(l0);
    let l1 = b.expr(level, env_new)?;
    let zero = b.konst(0.0);
    let fire = match direction {
        // A level that ran away to NaN within the step (an
        // exponential upstroke) counts as crossed: not(l1 < 0).
        Direction::Upward => {
            let a = b.push_raw(Inst::Cmp(Cmp::Lt, l0, zero));
            let below = b.push_raw(Inst::Cmp(Cmp::Lt, l1, zero));
            let c = b.push_raw(Inst::Not(below));
            b.push_raw(Inst::And(a, c))
        }
        Direction::Downward => {
            let a = b.push_raw(Inst::Cmp(Cmp::Gt, l0, zero));
            let above = b.push_raw(Inst::Cmp(Cmp::Gt, l1, zero));
            let c = b.push_raw(Inst::Not(above));
            b.push_raw(Inst::And(a, c))
        }
    };
    Ok((fire, Some((l0, l1))))
}

/// A condition becoming true (muted while holding), with its level when
/// it has one.
fn condition(
    b: &mut Builder,
    s: &Start,
    env_new: &Frame,
    cond: crate::ir::ExprId,
    level: Option<crate::ir::ExprId>,
    hold: Option<Hold>,
) -> Result<Fired, Unsupported> {
    let c0 = b.expr(cond, &s.env_start())?;
    b.exact.insert(c0);
    let mut c1 = b.expr(cond, env_new)?;
    let lv = match level {
        Some(l) => {
            let l0 = b.expr(l, &s.env_start())?;
            b.exact.insert(l0);
            Some((l0, b.expr(l, env_new)?))
        }
        None => None,
    };
    if let Some((_, l1)) = lv {
        // a level that ran away to NaN within the step counts as crossed:
        // x >= y (or x <= y) with the level x - y (or y - x) becomes one
        // comparison, not (x < y), which is the same for every input
        // (x - y is NaN only where either is NaN or both are the same
        // infinity, where x >= y holds)
        let unordered = match (b.insts[c1 as usize], b.insts[l1 as usize]) {
            (Inst::Cmp(Cmp::Ge, x, y), Inst::Sub(p, q)) if (p, q) == (x, y) || (p, q) == (y, x) => {
                Some(Inst::Cmp(Cmp::NotLt, x, y))
            }
            (Inst::Cmp(Cmp::Le, x, y), Inst::Sub(p, q)) if (p, q) == (x, y) || (p, q) == (y, x) => {
                Some(Inst::Cmp(Cmp::NotGt, x, y))
            }
            _ => None,
        };
        c1 = match unordered {
            Some(inst) => b.push_raw(inst),
            None => {
                let nan = b.push_raw(Inst::Cmp(Cmp::Ne, l1, l1));
                b.push_raw(Inst::Or(c1, nan))
            }
        };
    }
    let not0 = b.push_raw(Inst::Not(c0));
    let mut fire = b.push_raw(Inst::And(not0, c1));
    if let Some(h) = hold {
        let free = b.push_raw(Inst::Not(h.holding));
        fire = b.push_raw(Inst::And(fire, free));
    }
    Ok((fire, lv))
}

/// t_event = t0 + dt * l0 / (l0 - l1), clamped to the step.
fn interpolate(b: &mut Builder, s: &Start, l0: Val, l1: Val) -> Val {
    let d = b.bin(Inst::Sub, l0, l1);
    let frac = b.bin(Inst::Div, l0, d);
    let zero = b.konst(0.0);
    let one = b.konst(1.0);
    let lo = b.bin(Inst::Max, frac, zero);
    let fr = b.bin(Inst::Min, lo, one);
    // no interpolation through a NaN level: the end of the step
    let bad = b.push_raw(Inst::Cmp(Cmp::Ne, fr, fr));
    let fr = b.push_raw(Inst::Select(bad, one, fr));
    let off = b.bin(Inst::Mul, fr, s.dtv);
    b.bin(Inst::Add, s.t0, off)
}
