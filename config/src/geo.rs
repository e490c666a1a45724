//! Great-circle distance, the one piece of geometry routing needs.

/// Mean Earth radius in kilometres (IUGG).
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Great-circle distance in kilometres between two points given in degrees
/// (haversine formula, spherical Earth; error under 0.5%).
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nyc_to_la_is_about_3936_km() {
        let d = haversine_km(40.7128, -74.0060, 34.0522, -118.2437);
        assert!((d - 3936.0).abs() / 3936.0 < 0.01, "got {d}");
    }

    #[test]
    fn zero_symmetric_and_antipodal() {
        assert_eq!(haversine_km(10.0, 20.0, 10.0, 20.0), 0.0);
        let a = haversine_km(48.85, 2.35, 51.51, -0.13);
        let b = haversine_km(51.51, -0.13, 48.85, 2.35);
        assert!((a - b).abs() < 1e-9);
        assert!((a - 343.0).abs() < 5.0, "Paris-London got {a}");
        let half = haversine_km(0.0, 0.0, 0.0, 180.0);
        assert!((half - std::f64::consts::PI * EARTH_RADIUS_KM).abs() < 1e-6);
    }
}
