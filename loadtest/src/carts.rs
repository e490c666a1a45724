//! Carts: a share of orders go through a cart first (a hold, a cart
//! reservation with an expiry, `POST /v1/holds`, then the order naming it
//! after a checkout delay: it takes the held units); on top of the orders,
//! abandoned carts hold the same lines and are never ordered, so their
//! holds expire. The order stream is the same with carts or without.
//! [`CartSpec`] is what `--cart-share`, `--cart-abandon`, `--cart-ttl-s`
//! and `--cart-checkout-ms` say; [`CartDecider`] draws each arrival's fate
//! from the run's seed, three draws per arrival whatever the outcome, so
//! the stream of decisions is the same whatever the core's speed.

use std::time::Duration;

use orch_runtime::dto::{HoldInput, PlaceOrder};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Default `--cart-share`: orders that go through a cart first.
pub const CART_SHARE_DEFAULT: f64 = 0.3;
/// Default `--cart-abandon`: the share of all carts that are abandoned
/// (their hold expires); abandoned carts come on top of the orders.
pub const CART_ABANDON_DEFAULT: f64 = 0.2;
/// Default `--cart-ttl-s`: short enough that abandoned carts expire within
/// a CI run.
pub const CART_TTL_S_DEFAULT: u32 = 5;
/// Default `--cart-checkout-ms`: the longest checkout delay (drawn
/// uniformly from 0 to it per cart).
pub const CART_CHECKOUT_MS_DEFAULT: u64 = 1500;

/// How carts are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CartSpec {
    /// Share of orders that go through a cart first (0 disables carts).
    pub share: f64,
    /// Share of all carts that are abandoned (on top of the orders).
    pub abandon: f64,
    /// The hold's TTL, s.
    pub ttl_s: u32,
    /// Longest checkout delay.
    pub checkout_max: Duration,
}

impl Default for CartSpec {
    fn default() -> Self {
        CartSpec {
            share: CART_SHARE_DEFAULT,
            abandon: CART_ABANDON_DEFAULT,
            ttl_s: CART_TTL_S_DEFAULT,
            checkout_max: Duration::from_millis(CART_CHECKOUT_MS_DEFAULT),
        }
    }
}

impl CartSpec {
    /// No carts.
    pub fn off() -> CartSpec {
        CartSpec {
            share: 0.0,
            ..CartSpec::default()
        }
    }

    /// Abandoned carts per order: `share × abandon / (1 − abandon)`, so
    /// that `abandon` of all carts are abandoned.
    pub fn abandoned_per_order(&self) -> f64 {
        self.share * self.abandon / (1.0 - self.abandon)
    }

    /// Whether any arrival goes through a cart.
    pub fn enabled(&self) -> bool {
        self.share > 0.0
    }

    /// Errors name the option.
    pub fn check(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.share) {
            return Err(format!("--cart-share: must be 0 to 1, got {}", self.share));
        }
        if !(0.0..1.0).contains(&self.abandon) || self.abandoned_per_order() > 1.0 {
            return Err(format!(
                "--cart-abandon: must be 0 to under 1, and at most one abandoned cart per order \
                 (share x abandon / (1 - abandon) <= 1), got {} with --cart-share {}",
                self.abandon, self.share
            ));
        }
        if !(1..=3600).contains(&self.ttl_s) {
            return Err(format!(
                "--cart-ttl-s: must be 1 to 3600, got {}",
                self.ttl_s
            ));
        }
        // Half the TTL at most: a converting cart checks out while its hold
        // is still active, with room for the core's answer under load.
        if self.checkout_max.as_secs_f64() * 2.0 > f64::from(self.ttl_s) {
            return Err(format!(
                "--cart-checkout-ms: must be at most half of --cart-ttl-s ({} ms), got {}",
                u64::from(self.ttl_s) * 500,
                self.checkout_max.as_millis()
            ));
        }
        Ok(())
    }
}

/// What one arrival does besides its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CartDecision {
    /// The order goes through a cart: it holds, then checks out this long
    /// after the hold's answer (`None`: it orders straight away).
    pub checkout: Option<Duration>,
    /// An abandoned cart comes with it: a hold of the same lines that no
    /// order names.
    pub abandoned_cart: bool,
}

impl CartDecision {
    /// No cart at all.
    pub const DIRECT: CartDecision = CartDecision {
        checkout: None,
        abandoned_cart: false,
    };
}

/// Draws each arrival's [`CartDecision`] from the run's seed.
#[derive(Debug, Clone)]
pub struct CartDecider {
    spec: CartSpec,
    rng: ChaCha8Rng,
}

impl CartDecider {
    /// A decider for `spec`, seeded from the run's seed.
    pub fn new(spec: CartSpec, seed: u64) -> CartDecider {
        CartDecider {
            spec,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0xCA27),
        }
    }

    /// The next arrival's fate (always three draws).
    pub fn decide(&mut self) -> CartDecision {
        let cart: f64 = self.rng.random();
        let abandon: f64 = self.rng.random();
        let delay: f64 = self.rng.random();
        CartDecision {
            checkout: (cart < self.spec.share).then(|| self.spec.checkout_max.mul_f64(delay)),
            abandoned_cart: abandon < self.spec.abandoned_per_order(),
        }
    }
}

/// The hold id of an order's cart (`abandoned`: the abandoned cart that
/// came with it).
pub fn hold_id_of(order_id: &str, abandoned: bool) -> String {
    if abandoned {
        format!("{order_id}-abandoned")
    } else {
        format!("{order_id}-cart")
    }
}

/// The hold a cart creates for `o`: its lines, ship-to and service level.
pub fn hold_input(o: &PlaceOrder, abandoned: bool, ttl_s: u32) -> HoldInput {
    HoldInput {
        hold_id: hold_id_of(&o.order_id, abandoned),
        ship_to: o.ship_to,
        service_level: Some(o.service_level.clone()),
        ttl_s: Some(i64::from(ttl_s)),
        lines: o.lines.clone(),
        allow_partial: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draws(spec: CartSpec, seed: u64, n: usize) -> Vec<CartDecision> {
        let mut d = CartDecider::new(spec, seed);
        (0..n).map(|_| d.decide()).collect()
    }

    #[test]
    fn shares_are_drawn_as_asked_and_the_same_for_one_seed() {
        let spec = CartSpec::default();
        let a = draws(spec, 7, 20_000);
        assert_eq!(a, draws(spec, 7, 20_000), "same seed, same decisions");
        assert_ne!(a, draws(spec, 8, 20_000), "another seed, others");
        let converting = a.iter().filter(|d| d.checkout.is_some()).count() as f64;
        let abandoned = a.iter().filter(|d| d.abandoned_cart).count() as f64;
        assert!(
            (converting / 20_000.0 - 0.3).abs() < 0.02,
            "carts {converting}"
        );
        assert!(
            (abandoned / (converting + abandoned) - 0.2).abs() < 0.03,
            "abandoned {abandoned} of all carts"
        );
        for d in &a {
            if let Some(after) = d.checkout {
                assert!(after <= spec.checkout_max);
            }
        }
    }

    #[test]
    fn zero_share_disables_carts_and_extremes_hold() {
        assert!(draws(CartSpec::off(), 1, 1000)
            .iter()
            .all(|d| *d == CartDecision::DIRECT));
        let all = CartSpec {
            share: 1.0,
            abandon: 0.5,
            ..CartSpec::default()
        };
        assert!(draws(all, 1, 1000)
            .iter()
            .all(|d| d.checkout.is_some() && d.abandoned_cart));
        let none_abandoned = CartSpec {
            share: 1.0,
            abandon: 0.0,
            ..CartSpec::default()
        };
        assert!(draws(none_abandoned, 1, 1000)
            .iter()
            .all(|d| d.checkout.is_some() && !d.abandoned_cart));
    }

    #[test]
    fn bad_options_are_refused_naming_the_option() {
        let bad = |s: CartSpec, name: &str| {
            let e = s.check().unwrap_err();
            assert!(e.starts_with(name), "{e}");
        };
        bad(
            CartSpec {
                share: 1.5,
                ..CartSpec::default()
            },
            "--cart-share",
        );
        bad(
            CartSpec {
                abandon: -0.1,
                ..CartSpec::default()
            },
            "--cart-abandon",
        );
        bad(
            CartSpec {
                share: 1.0,
                abandon: 0.6,
                ..CartSpec::default()
            },
            "--cart-abandon",
        );
        bad(
            CartSpec {
                ttl_s: 0,
                ..CartSpec::default()
            },
            "--cart-ttl-s",
        );
        bad(
            CartSpec {
                checkout_max: Duration::from_secs(3),
                ..CartSpec::default()
            },
            "--cart-checkout-ms",
        );
        assert!(CartSpec::default().check().is_ok());
        assert!(CartSpec::off().check().is_ok());
    }
}
