//! The progress bar every kind of run draws.

/// A progress bar for every kind of run, shown once a run has taken a
/// second (on stderr, and only when it is a terminal: indicatif hides it
/// otherwise), advanced from the simulated time the run has reached as
/// the runtimes poll `Out::stop` (every step).
pub(super) struct Progress {
    start: std::time::Instant,
    duration: f64,
    polls: std::cell::Cell<u32>,
    bar: std::cell::RefCell<Option<indicatif::ProgressBar>>,
}

impl Progress {
    pub(super) fn new(duration: f64) -> Progress {
        Progress { start: std::time::Instant::now(), duration, polls: 0.into(), bar: None.into() }
    }

    /// Called at every poll: every 1024th looks at the clock.
    pub(super) fn tick(&self, t: f64) {
        let n = self.polls.get().wrapping_add(1);
        self.polls.set(n);
        if !n.is_multiple_of(1024) {
            return;
        }
        let mut bar = self.bar.borrow_mut();
        if bar.is_none() {
            if self.start.elapsed().as_secs_f64() < 1.0 {
                return;
            }
            let b = indicatif::ProgressBar::with_draw_target(Some(1000), indicatif::ProgressDrawTarget::stderr())
                .with_elapsed(self.start.elapsed());
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {percent}% of the simulated time, eta {eta}",
            ) {
                b.set_style(style);
            }
            *bar = Some(b);
        }
        if let Some(b) = bar.as_ref() {
            let done = (t / self.duration.max(f64::MIN_POSITIVE)).clamp(0.0, 1.0);
            b.set_position((done * 1000.0) as u64);
        }
    }

    pub(super) fn finish(self) {
        if let Some(b) = self.bar.into_inner() {
            b.finish_and_clear();
        }
    }
}
