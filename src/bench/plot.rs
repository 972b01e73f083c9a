//! Latency percentile plots, one per scenario, as SVG and PNG (plotters).
//!
//! HdrHistogram style: the x axis is the percentile on a "number of nines" scale (x =
//! 1 / (1 - q), so 90%, 99%, 99.9% are evenly spaced), the y axis latency in milliseconds on
//! a log scale. Each arm has its own colour; the baseline is dashed, the profile solid.
//! Text needs a TrueType font: the first of a few common system paths (DejaVu, Liberation,
//! Noto); without one no plot is drawn and the caller is told why.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::model::ScenarioReport;
use crate::report;

/// Where bench looks for a font, in order.
const FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/noto/NotoSans-Regular.ttf",
];

const WIDTH: u32 = 960;
const HEIGHT: u32 = 600;

/// Registers the first font found (once per process).
fn font() -> anyhow::Result<()> {
    static FONT: OnceLock<Result<(), String>> = OnceLock::new();
    FONT.get_or_init(|| {
        for path in FONTS {
            if let Ok(bytes) = std::fs::read(path) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return Ok(());
                }
            }
        }
        Err(format!(
            "no TrueType font found for the plot text (looked for {}); install fonts-dejavu-core",
            FONTS.join(", ")
        ))
    })
    .clone()
    .map_err(|e| anyhow!(e))
}

/// Writes DIR/NAME.svg and DIR/NAME.png for a scenario with results; returns the paths.
pub fn write(dir: &Path, s: &ScenarioReport) -> anyhow::Result<Vec<PathBuf>> {
    font()?;
    let series = series(s);
    if series.is_empty() {
        return Ok(Vec::new());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let svg_path = dir.join(format!("{}.svg", s.name));
    let png_path = dir.join(format!("{}.png", s.name));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, s, &series)?;
    }
    report::write_file(&svg_path, &svg)?;
    let mut pixels = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, s, &series)?;
    }
    let png = encode_png(&pixels)?;
    report::write_bytes(&png_path, &png)?;
    Ok(vec![svg_path, png_path])
}

struct Series {
    label: String,
    colour: RGBColor,
    dashed: bool,
    /// (x = 1 / (1 - q), ms)
    points: Vec<(f64, f64)>,
}

const PALETTE: &[RGBColor] = &[
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
];

fn series(s: &ScenarioReport) -> Vec<Series> {
    let mut out = Vec::new();
    for (i, arm) in s.arms.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        for (phase, run, dashed) in [
            ("baseline", &arm.baseline, true),
            ("profile", &arm.profile, false),
        ] {
            let Some(run) = run else { continue };
            let points: Vec<(f64, f64)> = run
                .curve
                .iter()
                .filter(|p| p[0] < 100.0)
                .map(|p| (1.0 / (1.0 - p[0] / 100.0), p[1].max(0.001)))
                .collect();
            if points.is_empty() {
                continue;
            }
            let label = if s.arms.len() > 1 {
                format!("{}: {phase}", arm.name)
            } else {
                phase.to_string()
            };
            out.push(Series {
                label,
                colour,
                dashed,
                points,
            });
        }
    }
    out
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    s: &ScenarioReport,
    series: &[Series],
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing the plot: {e}");
    root.fill(&WHITE).map_err(err)?;
    let x_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(10.0f64, f64::max)
        .max(10.0);
    let (y_min, y_max) = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold((f64::MAX, 0.0f64), |(lo, hi), y| (lo.min(y), hi.max(y)));
    let y_min = (y_min / 2.0).max(0.001);
    let y_max = (y_max * 2.0).max(y_min * 10.0);
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!("{}: latency by percentile (this machine)", s.name),
            ("sans-serif", 22),
        )
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d(
            (1.0f64..x_max).log_scale().with_key_points(nines(x_max)),
            (y_min..y_max).log_scale(),
        )
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency from due time (ms)")
        .x_label_formatter(&|x| percentile_label(*x))
        .y_label_formatter(&|y| format!("{y}"))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    for line in series {
        let style = ShapeStyle::from(&line.colour).stroke_width(2);
        let legend_style = style;
        if line.dashed {
            chart
                .draw_series(DashedLineSeries::new(
                    line.points.iter().copied(),
                    8,
                    5,
                    style,
                ))
                .map_err(err)?
                .label(line.label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 10, y)], legend_style));
        } else {
            chart
                .draw_series(LineSeries::new(line.points.iter().copied(), style))
                .map_err(err)?
                .label(line.label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], legend_style));
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font(("sans-serif", 14))
        .border_style(BLACK)
        .background_style(WHITE.mix(0.85))
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Axis ticks at 0%, 90%, 99%, 99.9%, ... up to `x_max`.
fn nines(x_max: f64) -> Vec<f64> {
    let mut ticks = vec![1.0];
    let mut x = 10.0;
    while x <= x_max * 1.0001 {
        ticks.push(x);
        x *= 10.0;
    }
    ticks
}

/// "0%", "90%", "99%", "99.9%" for x = 1 / (1 - q).
pub fn percentile_label(x: f64) -> String {
    let p = 100.0 * (1.0 - 1.0 / x.max(1.0));
    let mut digits = 0;
    while digits < 6 && ((p * 10f64.powi(digits)).round() - p * 10f64.powi(digits)).abs() > 1e-6 {
        digits += 1;
    }
    format!("{p:.*}%", digits as usize)
}

fn encode_png(rgb: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().context("encode PNG")?;
        writer.write_image_data(rgb).context("encode PNG")?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_labels_count_nines() {
        assert_eq!(percentile_label(1.0), "0%");
        assert_eq!(percentile_label(10.0), "90%");
        assert_eq!(percentile_label(100.0), "99%");
        assert_eq!(percentile_label(1000.0), "99.9%");
        assert_eq!(percentile_label(2.0), "50%");
    }
}
