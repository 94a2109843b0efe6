//! The PNG chart of a `compare` run: one panel per headline metric, one bar
//! per device, `switchd` in its own colour, each bar labelled with its
//! median and whiskered from the minimum to the maximum repetition.
//!
//! Drawn with `plotters`' bitmap backend and its pure-Rust text renderer
//! (`ab_glyph`), so building needs no system libraries; the renderer needs a
//! TrueType font at run time, taken from the usual system locations (Debian's
//! `fonts-dejavu-core` provides one). Without a font the chart is left out
//! and the run says why; the tables and files are written regardless.

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;
use std::path::Path;
use std::sync::OnceLock;

/// One bar: a device's median with its min–max range.
pub(crate) struct Bar {
    pub device: String,
    pub med: f64,
    pub min: f64,
    pub max: f64,
}

/// One panel: a metric over the devices measured.
pub(crate) struct Panel {
    pub title: String,
    pub unit: String,
    pub bars: Vec<Bar>,
}

const FONT_PATHS: [&str; 5] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
];

/// Registers a system font as "sans-serif" once; the error names the
/// places looked at.
fn font() -> Result<(), String> {
    static FONT: OnceLock<Result<(), String>> = OnceLock::new();
    FONT.get_or_init(|| {
        for p in FONT_PATHS {
            if let Ok(bytes) = std::fs::read(p) {
                // The font lives as long as the process: plotters keeps a
                // reference to it in a global table.
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return Ok(());
                }
            }
        }
        Err(format!(
            "no TrueType font found (looked in {}; install fonts-dejavu-core)",
            FONT_PATHS.join(", ")
        ))
    })
    .clone()
}

/// Colour of a device's bars: switchd stands out, baselines in greys and
/// blues.
fn colour(device: &str) -> RGBColor {
    match device {
        d if d.starts_with("switchd") => RGBColor(214, 96, 38),
        "veth" => RGBColor(170, 170, 170),
        "linux-bridge" => RGBColor(120, 120, 120),
        "ovs-afpacket" => RGBColor(66, 110, 180),
        "ovs-afpacket-tso" => RGBColor(110, 160, 220),
        "ovs-afxdp" => RGBColor(30, 60, 120),
        _ => RGBColor(90, 150, 90),
    }
}

/// Draws `panels` (those with at least one bar) into a PNG at `path`.
pub(crate) fn draw(path: &Path, title: &str, panels: &[Panel]) -> Result<(), String> {
    font()?;
    let panels: Vec<&Panel> = panels.iter().filter(|p| !p.bars.is_empty()).collect();
    if panels.is_empty() {
        return Err("nothing measured to chart".into());
    }
    let cols = 2usize;
    let rows = panels.len().div_ceil(cols);
    let (w, h) = (1400u32, 90 + 380 * u32::try_from(rows).unwrap_or(1));
    let root = BitMapBackend::new(path, (w, h)).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| format!("chart: {e}");
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let root = root
        .titled(title, ("sans-serif", 22))
        .map_err(|e| err(&e))?;
    let areas = root.split_evenly((rows, cols));
    for (area, panel) in areas.iter().zip(panels) {
        let n = panel.bars.len();
        let top = panel
            .bars
            .iter()
            .map(|b| b.max.max(b.med))
            .fold(0.0f64, f64::max)
            .max(1e-9)
            * 1.18;
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, ("sans-serif", 17))
            .margin(10)
            .x_label_area_size(34)
            .y_label_area_size(62)
            // A segmented range 0..m has m + 1 segments (a lone bar gets
            // an empty neighbour: a range 0..0 has no width).
            .build_cartesian_2d((0..(n - 1).max(1)).into_segmented(), 0f64..top)
            .map_err(|e| err(&e))?;
        let names: Vec<String> = panel.bars.iter().map(|b| b.device.clone()).collect();
        let label_size = x_label_size(area.dim_in_pixel().0, &names);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .max_light_lines(2)
            .x_labels(n)
            .x_label_style(("sans-serif", label_size))
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => names.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .y_desc(panel.unit.as_str())
            // Set apart from the bar names, which may be shrunk.
            .axis_desc_style(("sans-serif", 14))
            .y_label_style(("sans-serif", 12))
            .draw()
            .map_err(|e| err(&e))?;
        chart
            .draw_series(panel.bars.iter().enumerate().map(|(i, b)| {
                let mut r = Rectangle::new(
                    [
                        (SegmentValue::Exact(i), 0.0),
                        (SegmentValue::Exact(i + 1), b.med),
                    ],
                    colour(&b.device).filled(),
                );
                r.set_margin(0, 0, 14, 14);
                r
            }))
            .map_err(|e| err(&e))?;
        chart
            .draw_series(
                panel
                    .bars
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| b.max > b.min)
                    .map(|(i, b)| {
                        PathElement::new(
                            vec![
                                (SegmentValue::CenterOf(i), b.min),
                                (SegmentValue::CenterOf(i), b.max),
                            ],
                            BLACK.stroke_width(2),
                        )
                    }),
            )
            .map_err(|e| err(&e))?;
        chart
            .draw_series(panel.bars.iter().enumerate().map(|(i, b)| {
                Text::new(
                    label(b.med),
                    (SegmentValue::CenterOf(i), b.max.max(b.med) + top * 0.02),
                    TextStyle::from(("sans-serif", 13).into_font())
                        .color(&BLACK)
                        .pos(Pos::new(HPos::Center, VPos::Bottom)),
                )
            }))
            .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// A bar's value with as many digits as its size needs.
/// Font size for the bar names under a panel `width` pixels wide: 13
/// unless the longest name would run into its neighbours (a sans-serif
/// character is about 0.55 of the size wide), never below 8.
fn x_label_size(width: u32, names: &[String]) -> u32 {
    let n = u32::try_from(names.len()).unwrap_or(1).max(1);
    // The plot leaves out the y label area and the margins.
    let per_bar = width.saturating_sub(62 + 20) / n;
    let longest = names.iter().map(|s| s.chars().count()).max().unwrap_or(1);
    let longest = u32::try_from(longest).unwrap_or(u32::MAX).max(1);
    // 92 % of the bar's width over 0.55 of a size per character.
    (per_bar.saturating_mul(92) / longest.saturating_mul(55)).clamp(8, 13)
}

fn label(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_names_shrink_to_fit_their_bars_within_bounds() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // Few short names keep the full size.
        assert_eq!(x_label_size(700, &names(&["ovs-afpacket", "switchd"])), 13);
        // Eight bars with long names shrink, so neighbours do not touch.
        let eight = names(&[
            "veth",
            "linux-bridge",
            "ovs-afpacket",
            "ovs-afpacket-tso",
            "ovs-afxdp",
            "switchd",
            "switchd-afxdp",
            "switchd-busypoll",
        ]);
        let size = x_label_size(700, &eight);
        assert!(size < 13);
        let per_bar = f64::from((700 - 82) / 8);
        assert!(0.55 * f64::from(size) * 16.0 <= per_bar);
        // Never unreadably small, whatever the names.
        assert_eq!(x_label_size(100, &eight), 8);
        assert_eq!(x_label_size(700, &[]), 13);
    }

    #[test]
    fn a_chart_of_two_panels_is_written_as_a_png() {
        if font().is_err() {
            eprintln!("no system font here; the chart is not drawn");
            return;
        }
        let dir = std::env::temp_dir().join(format!("compare-chart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let p = dir.join("chart.png");
        let bar = |d: &str, v: f64| Bar {
            device: d.into(),
            med: v,
            min: v * 0.9,
            max: v * 1.1,
        };
        let panels = [
            Panel {
                title: "UDP64".into(),
                unit: "Mpps".into(),
                bars: vec![bar("ovs-afpacket", 0.2), bar("switchd", 0.3)],
            },
            Panel {
                title: "flow-mod".into(),
                unit: "k flows/s".into(),
                bars: vec![bar("switchd", 200.0)],
            },
            Panel {
                title: "empty".into(),
                unit: "".into(),
                bars: vec![],
            },
        ];
        draw(&p, "test", &panels).expect("draw");
        let bytes = std::fs::read(&p).expect("png");
        assert_eq!(&bytes[1..4], b"PNG");
        if std::env::var_os("COMPARE_KEEP_CHART").is_none() {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
