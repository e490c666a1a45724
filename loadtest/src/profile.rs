//! Load profiles: the shape of a run (ramp, hold, fall back) and its
//! doorbuster, built in (`bf-1`, `steady`, `doorbuster`) or read from a TOML
//! file. A profile holds fractions and factors only; the peak rate and the
//! duration come from the command line.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The doorbuster of WORKLOAD.md: a few hot SKUs take a share of all lines
/// for a while, with far less stock than demand, and the arrival rate spikes
/// at its start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DoorbusterSpec {
    /// False switches it off (a TOML profile cannot write "none").
    pub enabled: bool,
    /// When it starts, as a fraction of the run (0.3).
    pub start_fraction: f64,
    /// Its length in a run of `reference_run_s` or longer (60 s).
    pub window_s: f64,
    /// Runs shorter than this scale the window (and the spike) down in
    /// proportion (300 s: a 20 s run gets a 4 s doorbuster).
    pub reference_run_s: f64,
    /// The spike at its start, in the same reference seconds (10 s).
    pub spike_s: f64,
    /// Arrival rate multiplier during the spike (3).
    pub spike_factor: f64,
    /// How many hot SKUs (10).
    pub hot_skus: usize,
    /// Share of all lines that go to the hot SKUs during the window (0.3).
    pub hot_line_share: f64,
    /// Starting stock of the hot SKUs, as a share of their expected demand
    /// in the window (0.25).
    pub stock_share: f64,
    /// Replenishment received during the window, as a share of the expected
    /// demand (0.10), in three receipts per hot SKU.
    pub receipt_share: f64,
}

impl Default for DoorbusterSpec {
    fn default() -> Self {
        DoorbusterSpec {
            enabled: true,
            start_fraction: 0.3,
            window_s: 60.0,
            reference_run_s: 300.0,
            spike_s: 10.0,
            spike_factor: 3.0,
            hot_skus: 10,
            hot_line_share: 0.3,
            stock_share: 0.25,
            receipt_share: 0.10,
        }
    }
}

/// The overload profile's shape: `factor` times the rate for the first
/// `high_fraction` of the run, then the rate itself (WORKLOAD.md: 3× for
/// 60 s, then 60 s, in a 120 s run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OverloadSpec {
    /// Rate multiplier of the high phase (3).
    pub factor: f64,
    /// Share of the run at the high rate (0.5).
    pub high_fraction: f64,
}

impl Default for OverloadSpec {
    fn default() -> Self {
        OverloadSpec {
            factor: 3.0,
            high_fraction: 0.5,
        }
    }
}

/// The shape of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Profile {
    /// Name shown in reports.
    pub name: String,
    /// Fraction of the run spent ramping up from `floor_fraction` (0.2).
    pub ramp_up_fraction: f64,
    /// Fraction of the run at its end spent falling back (0.1).
    pub ramp_down_fraction: f64,
    /// Rate at the start of the ramp and the end of the fall, as a fraction
    /// of the peak (0.1).
    pub floor_fraction: f64,
    /// The doorbuster, if any.
    pub doorbuster: Option<DoorbusterSpec>,
    /// The overload phase, if any.
    pub overload: Option<OverloadSpec>,
}

impl Profile {
    /// The doorbuster when there is one and it is enabled.
    pub fn active_doorbuster(&self) -> Option<&DoorbusterSpec> {
        self.doorbuster.as_ref().filter(|d| d.enabled)
    }
}

impl Default for Profile {
    fn default() -> Self {
        Profile::bf1()
    }
}

impl Profile {
    /// BF-1: ramp 10% → 100% over the first 20%, hold, fall back over the
    /// last 10%; doorbuster at 30%.
    pub fn bf1() -> Profile {
        Profile {
            name: "bf-1".into(),
            ramp_up_fraction: 0.2,
            ramp_down_fraction: 0.1,
            floor_fraction: 0.1,
            doorbuster: Some(DoorbusterSpec::default()),
            overload: None,
        }
    }

    /// The peak rate from start to end, no doorbuster (for knees and soak runs).
    pub fn steady() -> Profile {
        Profile {
            name: "steady".into(),
            ramp_up_fraction: 0.0,
            ramp_down_fraction: 0.0,
            floor_fraction: 1.0,
            doorbuster: None,
            overload: None,
        }
    }

    /// Three times the rate for the first half of the run, then the rate
    /// (run it for 120 s: 60 s + 60 s).
    pub fn overload() -> Profile {
        Profile {
            name: "overload".into(),
            overload: Some(OverloadSpec::default()),
            ..Profile::steady()
        }
    }

    /// The peak rate from start to end with the BF-1 doorbuster at 30%.
    pub fn doorbuster() -> Profile {
        Profile {
            name: "doorbuster".into(),
            doorbuster: Some(DoorbusterSpec::default()),
            ..Profile::steady()
        }
    }

    /// A built-in profile by name, or a TOML file by path.
    pub fn resolve(name_or_path: &str) -> Result<Profile, String> {
        match name_or_path {
            "bf-1" | "bf1" => Ok(Profile::bf1()),
            "steady" => Ok(Profile::steady()),
            "doorbuster" => Ok(Profile::doorbuster()),
            "overload" => Ok(Profile::overload()),
            other if other.ends_with(".toml") || Path::new(other).is_file() => {
                Profile::from_file(Path::new(other))
            }
            other => Err(format!(
                "--profile: '{other}' is neither bf-1, steady, doorbuster, overload nor a TOML file"
            )),
        }
    }

    /// Reads a custom profile; missing keys take the BF-1 values.
    pub fn from_file(path: &Path) -> Result<Profile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read the profile: {e}", path.display()))?;
        let mut p = Profile::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if p.name.is_empty() || p.name == "bf-1" {
            p.name = path
                .file_stem()
                .map_or("custom".into(), |s| s.to_string_lossy().into_owned());
        }
        Ok(p)
    }

    /// Parses and checks a profile from TOML text.
    pub fn from_toml(text: &str) -> Result<Profile, String> {
        let p: Profile = toml::from_str(text).map_err(|e| e.to_string())?;
        p.check()?;
        Ok(p)
    }

    /// Checks the fractions and factors; the error names the key.
    pub fn check(&self) -> Result<(), String> {
        let frac = |k: &str, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(format!("{k}: must be 0 to 1, got {v}"))
            }
        };
        frac("ramp_up_fraction", self.ramp_up_fraction)?;
        frac("ramp_down_fraction", self.ramp_down_fraction)?;
        frac("floor_fraction", self.floor_fraction)?;
        if self.ramp_up_fraction + self.ramp_down_fraction > 1.0 {
            return Err("ramp_up_fraction + ramp_down_fraction: must be at most 1".into());
        }
        if let Some(o) = &self.overload {
            frac("overload.high_fraction", o.high_fraction)?;
            if !(o.factor >= 1.0 && o.factor <= 100.0) {
                return Err(format!(
                    "overload.factor: must be 1 to 100, got {}",
                    o.factor
                ));
            }
        }
        if let Some(d) = &self.doorbuster {
            frac("doorbuster.start_fraction", d.start_fraction)?;
            frac("doorbuster.hot_line_share", d.hot_line_share)?;
            if !(d.window_s > 0.0 && d.reference_run_s > 0.0) {
                return Err("doorbuster.window_s and reference_run_s: must be > 0".into());
            }
            if !(0.0..=d.window_s).contains(&d.spike_s) {
                return Err("doorbuster.spike_s: must be 0 to window_s".into());
            }
            if !(d.spike_factor >= 1.0 && d.spike_factor <= 100.0) {
                return Err("doorbuster.spike_factor: must be 1 to 100".into());
            }
            if d.hot_skus == 0 || d.hot_skus > 1000 {
                return Err("doorbuster.hot_skus: must be 1 to 1000".into());
            }
            if !(d.stock_share >= 0.0 && d.receipt_share >= 0.0) {
                return Err("doorbuster.stock_share, receipt_share: must be >= 0".into());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_resolve_and_check() {
        for n in ["bf-1", "steady", "doorbuster", "overload"] {
            let p = Profile::resolve(n).unwrap();
            p.check().unwrap();
            assert_eq!(p.name, n);
        }
        assert!(Profile::resolve("nope").is_err());
    }

    #[test]
    fn custom_toml_fills_defaults_and_names_bad_keys() {
        let p = Profile::from_toml(
            "name = \"mini\"\nramp_up_fraction = 0.5\n[doorbuster]\nspike_factor = 2.0\n",
        )
        .unwrap();
        assert_eq!(p.ramp_up_fraction, 0.5);
        assert_eq!(p.doorbuster.as_ref().unwrap().spike_factor, 2.0);
        assert_eq!(p.doorbuster.as_ref().unwrap().hot_skus, 10);
        let e = Profile::from_toml("floor_fraction = 2.0").unwrap_err();
        assert!(e.contains("floor_fraction"), "{e}");
        assert!(Profile::from_toml("bogus = 1").is_err());
    }
}
