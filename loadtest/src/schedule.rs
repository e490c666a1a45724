//! The arrival schedule of an open-model run: the target rate at every
//! instant (ramp, hold, fall back, doorbuster spike) and each order's
//! intended start time.
//!
//! Arrivals are evenly spaced at the instantaneous rate (the next order is
//! due `1 / rate(t)` after the last): bursts come from the profile, not from
//! random jitter, so two runs offer exactly the same load. Nothing here
//! looks at the system under test.
//!
//! Doorbuster scaling: WORKLOAD.md's 60 s window (10 s spike) is for runs
//! of `reference_run_s` (300 s) or longer; a shorter run scales both by
//! `duration / reference_run_s`, so a 20 s run gets a 4 s window at 6 s
//! with a 0.67 s spike at 3× the rate.

use std::time::Duration;

use crate::profile::Profile;

/// Where the doorbuster falls in a run, in seconds from the start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DoorbusterWindow {
    /// Start of the window.
    pub start_s: f64,
    /// End of the window.
    pub end_s: f64,
    /// End of the rate spike (from `start_s`).
    pub spike_end_s: f64,
    /// Rate multiplier during the spike.
    pub spike_factor: f64,
    /// Share of lines that go to the hot SKUs in the window.
    pub hot_line_share: f64,
}

/// The target rate over a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// Orders per second at the hold.
    pub peak_rate: f64,
    /// Length of the run.
    pub duration_s: f64,
    ramp_up_s: f64,
    ramp_down_s: f64,
    floor: f64,
    /// The doorbuster, if the profile has one.
    pub doorbuster: Option<DoorbusterWindow>,
    /// Overload: (end of the high phase in s, its rate multiplier).
    pub overload: Option<(f64, f64)>,
}

impl Schedule {
    /// The schedule of `profile` at `peak_rate` orders/s for `duration`.
    pub fn new(profile: &Profile, peak_rate: f64, duration: Duration) -> Schedule {
        let duration_s = duration.as_secs_f64();
        let doorbuster = profile.active_doorbuster().map(|d| {
            let scale = (duration_s / d.reference_run_s).min(1.0);
            let start_s = d.start_fraction * duration_s;
            let end_s = (start_s + d.window_s * scale).min(duration_s);
            DoorbusterWindow {
                start_s,
                end_s,
                spike_end_s: (start_s + d.spike_s * scale).min(end_s),
                spike_factor: d.spike_factor,
                hot_line_share: d.hot_line_share,
            }
        });
        Schedule {
            peak_rate,
            duration_s,
            ramp_up_s: profile.ramp_up_fraction * duration_s,
            ramp_down_s: profile.ramp_down_fraction * duration_s,
            floor: profile.floor_fraction,
            doorbuster,
            overload: profile
                .overload
                .as_ref()
                .map(|o| (o.high_fraction * duration_s, o.factor)),
        }
    }

    /// Target orders per second at `t` seconds (0 outside the run).
    pub fn rate_at(&self, t: f64) -> f64 {
        if !(0.0..self.duration_s).contains(&t) {
            return 0.0;
        }
        let up = if self.ramp_up_s > 0.0 && t < self.ramp_up_s {
            self.floor + (1.0 - self.floor) * t / self.ramp_up_s
        } else {
            1.0
        };
        let left = self.duration_s - t;
        let down = if self.ramp_down_s > 0.0 && left < self.ramp_down_s {
            self.floor + (1.0 - self.floor) * left / self.ramp_down_s
        } else {
            1.0
        };
        let spike = match &self.doorbuster {
            Some(d) if (d.start_s..d.spike_end_s).contains(&t) => d.spike_factor,
            _ => 1.0,
        };
        let high = match self.overload {
            Some((end_s, factor)) if t < end_s => factor,
            _ => 1.0,
        };
        self.peak_rate * up.min(down) * spike * high
    }

    /// Whether `t` falls in the doorbuster window.
    pub fn in_doorbuster(&self, t: f64) -> bool {
        self.doorbuster
            .as_ref()
            .is_some_and(|d| (d.start_s..d.end_s).contains(&t))
    }

    /// Expected orders between `from` and `to` seconds (numeric integral).
    pub fn expected_orders(&self, from: f64, to: f64) -> f64 {
        let steps = 1000;
        let h = (to - from) / steps as f64;
        (0..steps)
            .map(|i| self.rate_at(from + (i as f64 + 0.5) * h) * h)
            .sum()
    }

    /// Each order's intended start, in seconds from the start of the run.
    pub fn arrivals(&self) -> Arrivals<'_> {
        Arrivals {
            schedule: self,
            next_s: 0.0,
        }
    }
}

/// Intended start times, in order.
#[derive(Debug, Clone)]
pub struct Arrivals<'a> {
    schedule: &'a Schedule,
    next_s: f64,
}

impl Iterator for Arrivals<'_> {
    type Item = f64;

    fn next(&mut self) -> Option<f64> {
        // A rate below 0.01/s (never in a sane profile) would stall the run:
        // step over it.
        loop {
            let t = self.next_s;
            // 1e-9 s of slack: the sum of 1/rate steps drifts in the last bits.
            if t >= self.schedule.duration_s - 1e-9 {
                return None;
            }
            let r = self.schedule.rate_at(t);
            if r < 0.01 {
                self.next_s += 0.01;
                continue;
            }
            self.next_s = t + 1.0 / r;
            return Some(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bf1(d: u64) -> Schedule {
        Schedule::new(&Profile::bf1(), 100.0, Duration::from_secs(d))
    }

    #[test]
    fn ramp_hold_fall_back() {
        let s = bf1(100);
        assert!((s.rate_at(0.0) - 10.0).abs() < 1e-9, "starts at 10%");
        assert!((s.rate_at(10.0) - 55.0).abs() < 1e-9, "halfway up the ramp");
        assert!((s.rate_at(20.0) - 100.0).abs() < 1e-9, "peak after 20%");
        assert!((s.rate_at(60.0) - 100.0).abs() < 1e-9, "hold");
        assert!((s.rate_at(95.0) - 55.0).abs() < 1e-9, "falling back");
        assert_eq!(s.rate_at(100.0), 0.0);
        assert_eq!(s.rate_at(-1.0), 0.0);
    }

    #[test]
    fn doorbuster_shape_scales_with_the_run() {
        let s = bf1(20);
        let d = s.doorbuster.unwrap();
        assert!((d.start_s - 6.0).abs() < 1e-9);
        assert!((d.end_s - 10.0).abs() < 1e-9, "60 s × 20/300 = 4 s");
        assert!((d.spike_end_s - (6.0 + 10.0 * 20.0 / 300.0)).abs() < 1e-9);
        assert!((s.rate_at(6.1) - 300.0).abs() < 1e-9, "×3 in the spike");
        assert!(
            (s.rate_at(7.0) - 100.0).abs() < 1e-9,
            "back to peak after it"
        );
        assert!(s.in_doorbuster(9.9) && !s.in_doorbuster(10.0) && !s.in_doorbuster(5.9));
        let long = bf1(3600).doorbuster.unwrap();
        assert!(
            (long.end_s - long.start_s - 60.0).abs() < 1e-9,
            "60 s in long runs"
        );
        assert!((long.spike_end_s - long.start_s - 10.0).abs() < 1e-9);
        assert!(
            Schedule::new(&Profile::steady(), 5.0, Duration::from_secs(9))
                .doorbuster
                .is_none()
        );
    }

    #[test]
    fn overload_is_three_times_then_the_rate() {
        let s = Schedule::new(&Profile::overload(), 100.0, Duration::from_secs(120));
        assert!((s.rate_at(0.0) - 300.0).abs() < 1e-9);
        assert!((s.rate_at(59.9) - 300.0).abs() < 1e-9);
        assert!((s.rate_at(60.0) - 100.0).abs() < 1e-9);
        assert!((s.rate_at(119.9) - 100.0).abs() < 1e-9);
        let n = s.arrivals().count() as f64;
        assert!((n - 24_000.0).abs() < 10.0, "{n}");
    }

    #[test]
    fn arrivals_follow_the_rate() {
        let s = bf1(20);
        let times: Vec<f64> = s.arrivals().collect();
        let expected = s.expected_orders(0.0, 20.0);
        assert!(
            (times.len() as f64 - expected).abs() / expected < 0.02,
            "{} vs {expected}",
            times.len()
        );
        assert!(times.windows(2).all(|w| w[0] < w[1]));
        let in_spike = times.iter().filter(|t| (6.0..6.5).contains(*t)).count();
        let in_hold = times.iter().filter(|t| (12.0..12.5).contains(*t)).count();
        assert!((in_spike as f64 / in_hold as f64 - 3.0).abs() < 0.2);
        let steady = Schedule::new(&Profile::steady(), 50.0, Duration::from_secs(10));
        assert_eq!(steady.arrivals().count(), 500);
    }
}
