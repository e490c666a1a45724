//! `chart.svg`: per-second rates above (offered, achieved = acknowledged,
//! goodput = acknowledged within the objective, and dropped + shed), place
//! latency p50 and p99 below (ms, by the second of acknowledgment, so both
//! panels share their x axis).

use std::path::Path;

use plotters::prelude::*;

use crate::report::Report;

/// Draws the chart of a report into `path`.
pub fn write(path: &Path, r: &Report) -> Result<(), String> {
    let err = |e: String| format!("{}: {e}", path.display());
    let root = SVGBackend::new(path, (960, 640)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let (top, bottom) = root.split_vertically(320);
    let s = &r.series;
    let x_max = (s.len().max(2)) as u64;
    let c = &r.config;
    let title = format!(
        "{} · peak {}/s · {} s · scale {} · {} cores · durability {} · {}",
        c.profile, c.peak_rate, c.duration_s, c.scale, c.cores, c.durability, c.mode
    );
    let rate_max = s
        .iter()
        .map(|p| p.offered.max(p.achieved))
        .max()
        .unwrap_or(1)
        .max(1) as f64
        * 1.1;
    let mut chart = ChartBuilder::on(&top)
        .caption(&title, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0u64..x_max, 0f64..rate_max)
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc("seconds")
        .y_desc("orders / s")
        .draw()
        .map_err(|e| err(e.to_string()))?;
    chart
        .draw_series(LineSeries::new(
            s.iter().map(|p| (p.second, p.offered as f64)),
            BLUE.stroke_width(2),
        ))
        .map_err(|e| err(e.to_string()))?
        .label("offered (target)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
    chart
        .draw_series(LineSeries::new(
            s.iter().map(|p| (p.second, p.achieved as f64)),
            GREEN.stroke_width(2),
        ))
        .map_err(|e| err(e.to_string()))?
        .label("achieved (acknowledged)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], GREEN));
    let good = RGBColor(0, 150, 150);
    chart
        .draw_series(LineSeries::new(
            s.iter().map(|p| (p.second, p.goodput as f64)),
            good.stroke_width(2),
        ))
        .map_err(|e| err(e.to_string()))?
        .label(format!("goodput (within {} ms)", c.slo_ms))
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], good));
    if s.iter().any(|p| p.dropped + p.shed > 0) {
        chart
            .draw_series(LineSeries::new(
                s.iter().map(|p| (p.second, (p.dropped + p.shed) as f64)),
                MAGENTA.stroke_width(1),
            ))
            .map_err(|e| err(e.to_string()))?
            .label("dropped + shed")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], MAGENTA));
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| err(e.to_string()))?;

    let lat_max = s.iter().map(|p| p.place_p99_ms).fold(1.0f64, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(&bottom)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0u64..x_max, 0f64..lat_max)
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc("seconds (when the orders were acknowledged)")
        .y_desc("place latency, ms")
        .draw()
        .map_err(|e| err(e.to_string()))?;
    chart
        .draw_series(LineSeries::new(
            s.iter().map(|p| (p.second, p.place_p50_ms)),
            BLACK.stroke_width(2),
        ))
        .map_err(|e| err(e.to_string()))?
        .label("p50")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
    chart
        .draw_series(LineSeries::new(
            s.iter().map(|p| (p.second, p.place_p99_ms)),
            RED.stroke_width(2),
        ))
        .map_err(|e| err(e.to_string()))?
        .label("p99")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    if let Some(d) = &r.doorbuster {
        let (a, b) = (d.start_s as u64, d.end_s.ceil() as u64);
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(a, 0.0), (b.max(a + 1), lat_max)],
                RGBColor(255, 165, 0).mix(0.15).filled(),
            )))
            .map_err(|e| err(e.to_string()))?
            .label("doorbuster")
            .legend(|(x, y)| {
                Rectangle::new(
                    [(x, y - 5), (x + 20, y + 5)],
                    RGBColor(255, 165, 0).mix(0.3).filled(),
                )
            });
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| err(e.to_string()))?;
    root.present().map_err(|e| err(e.to_string()))
}
