//! The finite-volume Fokker-Planck solver: grid, Scharfetter-Gummel fluxes,
//! implicit steps with tridiagonal solves, reinjection through a delay line,
//! and the exact stationary solution of the discrete operator.
//!
//! Cell i lies between faces x_i and x_{i+1}; p_i is the mean density in it.
//! The flux through interior face j is
//!
//! ```text
//! J_j = a_j p_{j-1} - b_j p_j,   a_j = (D/δ) B(-Pe),  b_j = (D/δ) B(Pe),  Pe = A δ / D
//! ```
//!
//! with A, D the drift and diffusion at the face, δ the distance between the
//! two cell centres and B(z) = z / (e^z - 1) the Bernoulli function. It is
//! exact for constant A and D between the centres, tends to upwinding when
//! drift dominates (|Pe| large) and to central differences when diffusion
//! does, and keeps the scheme positive for any Péclet number. The lower face
//! reflects (J_0 = 0); the threshold face absorbs: p = 0 half a cell above
//! the last centre, so J_N = a_N p_{N-1}, and J_N is the firing rate.

/// Cell faces of a one-dimensional grid, lowest first.
#[derive(Clone, Debug)]
pub struct Grid {
    pub faces: Vec<f64>,
}

impl Grid {
    /// `cells` cells on [lo, hi]; with `grading` g > 1 the widths shrink
    /// geometrically toward `hi`, the last cell g times narrower than the
    /// first (the density has its steepest gradient at the threshold).
    pub fn new(lo: f64, hi: f64, cells: usize, grading: f64) -> Grid {
        let n = cells.max(1);
        let q = if n > 1 { grading.recip().powf(1.0 / (n - 1) as f64) } else { 1.0 };
        let widths: Vec<f64> = (0..n).map(|i| q.powi(i as i32)).collect();
        let total: f64 = widths.iter().sum();
        let mut faces = Vec::with_capacity(n + 1);
        let mut x = lo;
        faces.push(lo);
        for w in &widths[..n - 1] {
            x += (hi - lo) * w / total;
            faces.push(x);
        }
        faces.push(hi);
        Grid { faces }
    }

    pub fn cells(&self) -> usize {
        self.faces.len() - 1
    }

    pub fn width(&self, i: usize) -> f64 {
        self.faces[i + 1] - self.faces[i]
    }

    pub fn center(&self, i: usize) -> f64 {
        0.5 * (self.faces[i] + self.faces[i + 1])
    }

    /// The distance a face's flux is taken over: between the centres on
    /// either side, or from the last centre to the threshold face.
    fn spacing(&self, face: usize) -> f64 {
        let n = self.cells();
        if face == n {
            0.5 * self.width(n - 1)
        } else {
            self.center(face) - self.center(face - 1)
        }
    }

    /// The two cells a point is shared between (linear weights on the
    /// centres), as (cell, weight) pairs: how reinjected mass is placed.
    pub fn share(&self, x: f64) -> [(usize, f64); 2] {
        let n = self.cells();
        if x <= self.center(0) {
            return [(0, 1.0), (0, 0.0)];
        }
        if x >= self.center(n - 1) {
            return [(n - 1, 1.0), (n - 1, 0.0)];
        }
        let i = self.faces.partition_point(|&f| f <= x).saturating_sub(1).min(n - 1);
        let i = if x < self.center(i) { i - 1 } else { i };
        let w = (self.center(i + 1) - x) / (self.center(i + 1) - self.center(i));
        [(i, w), (i + 1, 1.0 - w)]
    }
}

/// B(z) = z / (e^z - 1), B(0) = 1.
pub fn bernoulli(z: f64) -> f64 {
    if z.abs() < 1e-8 {
        1.0 - 0.5 * z
    } else {
        z / z.exp_m1()
    }
}

/// The face coefficients of the fluxes `J_j = a_j p_{j-1} - b_j p_j`
/// (index j over faces 0..=N; a_0 = b_0 = b_N = 0).
#[derive(Clone, Debug, PartialEq)]
pub struct Fluxes {
    pub a: Vec<f64>,
    pub b: Vec<f64>,
}

impl Fluxes {
    /// From the drift and diffusion at every face (D > 0).
    pub fn scharfetter_gummel(grid: &Grid, drift: &[f64], diffusion: &[f64]) -> Fluxes {
        let n = grid.cells();
        let mut a = vec![0.0; n + 1];
        let mut b = vec![0.0; n + 1];
        for j in 1..=n {
            let delta = grid.spacing(j);
            let (aj, dj) = (drift[j], diffusion[j]);
            let pe = aj * delta / dj;
            a[j] = dj / delta * bernoulli(-pe);
            if j < n {
                b[j] = dj / delta * bernoulli(pe);
            }
        }
        Fluxes { a, b }
    }

    /// The smallest and largest cell Péclet number `A δ / D` over the faces.
    pub fn peclet_range(grid: &Grid, drift: &[f64], diffusion: &[f64]) -> (f64, f64) {
        (1..=grid.cells())
            .map(|j| drift[j] * grid.spacing(j) / diffusion[j])
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| (lo.min(x), hi.max(x)))
    }
}

/// The time discretization: theta = 1 (backward Euler) or 1/2 (Crank-Nicolson).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    BackwardEuler,
    CrankNicolson,
}

impl Scheme {
    pub fn parse(s: &str) -> Option<Scheme> {
        match s {
            "backward_euler" | "implicit" => Some(Scheme::BackwardEuler),
            "crank_nicolson" | "trapezoidal" => Some(Scheme::CrankNicolson),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Scheme::BackwardEuler => "backward_euler",
            Scheme::CrankNicolson => "crank_nicolson",
        }
    }

    fn theta(self) -> f64 {
        match self {
            Scheme::BackwardEuler => 1.0,
            Scheme::CrankNicolson => 0.5,
        }
    }
}

/// The stationary density of the discrete operator with instantaneous
/// reinjection at `reset`, scaled so that density mass plus the refractory
/// mass `rate * t_ref` is 1. Returns (p, rate). Exact for the discrete
/// system: the flux is 0 below the reset cells and `rate` above, and each
/// face's flux equation is solved for the density below it.
pub fn stationary(grid: &Grid, f: &Fluxes, reset: f64, t_ref: f64) -> Option<(Vec<f64>, f64)> {
    let n = grid.cells();
    let mut source = vec![0.0; n];
    for (i, w) in grid.share(reset) {
        source[i] += w;
    }
    let mut p = vec![0.0; n];
    // unnormalized: rate 1 at the threshold; rescaled when p grows huge
    let mut scale = 1.0;
    let mut flux = 1.0;
    p[n - 1] = flux / f.a[n];
    for j in (1..n).rev() {
        flux -= source[j] * scale; // J_j = J_{j+1} - S_j
        let flux_j = flux.max(0.0);
        p[j - 1] = (flux_j + f.b[j] * p[j]) / f.a[j];
        // one cell multiplies p by up to e^|Pe|: rescale well before overflow
        if p[j - 1] > 1e150 {
            for x in &mut p[j - 1..] {
                *x *= 1e-150;
            }
            scale *= 1e-150;
            flux *= 1e-150;
        }
    }
    let mass: f64 = p.iter().enumerate().map(|(i, x)| x * grid.width(i)).sum();
    let c = 1.0 / (mass + scale * t_ref);
    if !(c.is_finite() && c > 0.0) || p.iter().any(|x| !x.is_finite()) {
        return None;
    }
    for x in &mut p {
        *x *= c;
    }
    Some((p, scale * c))
}

/// Time stepping of one density: `(I - θ dt M) p' = (I + (1-θ) dt M) p + s`,
/// where M is the flux divergence and s the mass released from refractoriness.
pub struct Solver {
    pub grid: Grid,
    scheme: Scheme,
    dt: f64,
    cur: Fluxes,
    /// The previous step's coefficients, while they differ from `cur`.
    prev: Option<Fluxes>,
    /// Thomas factors of the left-hand side for `cur`.
    upper: Vec<f64>,
    lower: Vec<f64>,
    inv_denom: Vec<f64>,
    factored_theta: f64,
    pub p: Vec<f64>,
    rhs: Vec<f64>,
    /// Mass waiting out its refractory period, by release step (ring buffer).
    pending: Vec<f64>,
    head: usize,
    /// Release after `delay` steps, a fraction `frac` one step later.
    delay: usize,
    frac: f64,
    reset: [(usize, f64); 2],
    /// Backward-Euler steps still to take before Crank-Nicolson (they damp
    /// the non-smooth start, Rannacher's remedy).
    startup: usize,
}

impl Solver {
    pub fn new(grid: Grid, fluxes: Fluxes, dt: f64, scheme: Scheme, reset: f64, t_ref: f64) -> Solver {
        let n = grid.cells();
        let steps = t_ref / dt;
        let (delay, frac) = if steps < 1.0 { (1, 0.0) } else { (steps.floor() as usize, steps - steps.floor()) };
        let reset = grid.share(reset);
        let mut s = Solver {
            grid,
            scheme,
            dt,
            cur: fluxes,
            prev: None,
            upper: vec![0.0; n],
            lower: vec![0.0; n],
            inv_denom: vec![0.0; n],
            factored_theta: f64::NAN,
            p: vec![0.0; n],
            rhs: vec![0.0; n],
            pending: vec![0.0; delay + 2],
            head: 0,
            delay,
            frac,
            reset,
            startup: 0,
        };
        s.factor(scheme.theta());
        s
    }

    /// All mass at `x`: a population released at one potential.
    pub fn start_at(&mut self, x: f64) {
        self.p.iter_mut().for_each(|v| *v = 0.0);
        self.pending.iter_mut().for_each(|v| *v = 0.0);
        for (i, w) in self.grid.share(x) {
            self.p[i] += w / self.grid.width(i);
        }
        self.startup = 2;
    }

    /// The stationary state of the current coefficients, refractory queue
    /// included: a fixed point of `step`. Returns its rate.
    pub fn start_stationary(&mut self, reset: f64) -> Option<f64> {
        let t_ref = (self.delay as f64 + self.frac) * self.dt;
        let (p, rate) = stationary(&self.grid, &self.cur, reset, t_ref)?;
        self.p = p;
        self.pending.iter_mut().for_each(|v| *v = 0.0);
        let len = self.pending.len();
        for k in 0..self.delay {
            self.pending[(self.head + k) % len] = rate * self.dt;
        }
        self.pending[(self.head + self.delay) % len] = rate * self.dt * self.frac;
        self.startup = 0;
        Some(rate)
    }

    /// New coefficients for the coming step (e.g. the input changed).
    pub fn set_fluxes(&mut self, f: Fluxes) {
        if f != self.cur {
            let old = std::mem::replace(&mut self.cur, f);
            self.prev.get_or_insert(old);
            self.factored_theta = f64::NAN;
        }
    }

    pub fn fluxes(&self) -> &Fluxes {
        &self.cur
    }

    fn factor(&mut self, theta: f64) {
        let n = self.grid.cells();
        let (a, b) = (&self.cur.a, &self.cur.b);
        let k = theta * self.dt;
        let mut c_prev = 0.0;
        for i in 0..n {
            let h = self.grid.width(i);
            let lower = -k * a[i] / h;
            let diag = 1.0 + k * (b[i] + a[i + 1]) / h;
            let upper = if i + 1 < n { -k * b[i + 1] / h } else { 0.0 };
            let denom = diag - lower * c_prev;
            self.inv_denom[i] = 1.0 / denom;
            self.upper[i] = upper * self.inv_denom[i];
            self.lower[i] = lower;
            c_prev = self.upper[i];
        }
        self.factored_theta = theta;
    }

    /// One step; returns the mass that crossed the threshold during it
    /// divided by dt (the rate averaged over the step).
    pub fn step(&mut self) -> f64 {
        let n = self.grid.cells();
        let theta = if self.startup > 0 { 1.0 } else { self.scheme.theta() };
        self.startup = self.startup.saturating_sub(1);
        if theta != self.factored_theta {
            self.factor(theta);
        }
        // explicit part with the previous coefficients
        let old = self.prev.take();
        let f = old.as_ref().unwrap_or(&self.cur);
        let k = (1.0 - theta) * self.dt;
        let p = &self.p;
        for i in 0..n {
            let mut r = p[i];
            if k > 0.0 {
                let inflow = f.a[i] * if i > 0 { p[i - 1] } else { 0.0 } - f.b[i] * p[i];
                let outflow = f.a[i + 1] * p[i] - if i + 1 < n { f.b[i + 1] * p[i + 1] } else { 0.0 };
                r += k * (inflow - outflow) / self.grid.width(i);
            }
            self.rhs[i] = r;
        }
        let explicit_out = (1.0 - theta) * f.a[n] * p[n - 1];
        // release what finished its refractory period
        let len = self.pending.len();
        let released = std::mem::take(&mut self.pending[self.head]);
        self.head = (self.head + 1) % len;
        for (i, w) in self.reset {
            self.rhs[i] += w * released / self.grid.width(i);
        }
        // Thomas solve
        let x = &mut self.p;
        let mut prev = 0.0;
        for (((xi, r), l), inv) in x.iter_mut().zip(&self.rhs).zip(&self.lower).zip(&self.inv_denom) {
            *xi = (r - l * prev) * inv;
            prev = *xi;
        }
        for i in (0..n - 1).rev() {
            x[i] -= self.upper[i] * x[i + 1];
        }
        let out = self.dt * (explicit_out + theta * self.cur.a[n] * x[n - 1]);
        // refractory: released `delay` steps later (`frac` of it one more)
        let slot = (self.head + self.delay - 1) % len;
        self.pending[slot] += out * (1.0 - self.frac);
        self.pending[(slot + 1) % len] += out * self.frac;
        out / self.dt
    }

    /// (mass in the density, mass in refractoriness).
    pub fn mass(&self) -> (f64, f64) {
        let m = self.p.iter().enumerate().map(|(i, x)| x * self.grid.width(i)).sum();
        (m, self.pending.iter().sum())
    }

    /// The instantaneous threshold flux of the current density.
    pub fn flux_out(&self) -> f64 {
        let n = self.grid.cells();
        self.cur.a[n] * self.p[n - 1]
    }
}
