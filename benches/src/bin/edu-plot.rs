// SPDX-License-Identifier: GPL-2.0

//! Draws the benchmark charts as SVG from the tables the benchmarks write (tab-separated, one
//! header line), with plotters.
//!
//! ```text
//! edu-plot bars TITLE Y-LABEL IN.tsv OUT.svg
//!     IN: group, series, value[, note]: one bar per row, bars of one group side by side, one
//!     colour per series; the note (e.g. a ratio to the floor) is written above the bar. The
//!     value axis is logarithmic.
//! edu-plot cdf TITLE X-LABEL IN.tsv OUT.svg
//!     IN: series, value: one sample per row; one cumulative distribution per series, on a
//!     logarithmic value axis.
//! ```

use std::collections::BTreeMap;
use std::error::Error;
use std::process::ExitCode;

use plotters::prelude::*;

type Res<T> = Result<T, Box<dyn Error>>;

const USAGE: &str = "usage: edu-plot bars TITLE Y-LABEL IN.tsv OUT.svg\n       \
                     edu-plot cdf TITLE X-LABEL IN.tsv OUT.svg";

/// The rows of a tab-separated file after its header line.
fn rows(path: &str) -> Res<Vec<Vec<String>>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    Ok(text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect())
}

/// The first-seen order of the values of column `col`.
fn order(rows: &[Vec<String>], col: usize) -> Vec<String> {
    let mut seen = Vec::new();
    for r in rows {
        if !seen.contains(&r[col]) {
            seen.push(r[col].clone());
        }
    }
    seen
}

fn number(s: &str, path: &str) -> Res<f64> {
    s.trim()
        .parse()
        .map_err(|_| format!("{path}: not a number: {s:?}").into())
}

/// A grouped bar chart: see the module documentation.
fn bars(title: &str, ylabel: &str, input: &str, output: &str) -> Res<()> {
    let rows = rows(input)?;
    if rows.iter().any(|r| r.len() < 3) {
        return Err(format!("{input}: a row has fewer than 3 columns").into());
    }
    let groups = order(&rows, 0);
    let series = order(&rows, 1);
    let (mut max, mut min) = (0f64, f64::MAX);
    let mut bars = Vec::new();
    for r in &rows {
        let v = number(&r[2], input)?;
        if v <= 0.0 {
            return Err(
                format!("{input}: {v} is not positive (the value axis is logarithmic)").into(),
            );
        }
        max = max.max(v);
        min = min.min(v);
        let g = groups.iter().position(|g| *g == r[0]).unwrap_or(0);
        let s = series.iter().position(|s| *s == r[1]).unwrap_or(0);
        bars.push((g, s, v, r.get(3).cloned().unwrap_or_default()));
    }
    if bars.is_empty() {
        return Err(format!("{input}: no rows").into());
    }
    let base = min / 2.0;
    // Each group is one unit wide on the x axis; its bars share 80% of it.
    let width = 0.8 / series.len() as f64;
    // Group labels are written downwards below their bars: long names need height, not width.
    let longest = groups.iter().map(|g| g.len()).max().unwrap_or(0) as u32;
    let label_area = 30 + 7 * longest;
    let root = SVGBackend::new(output, (960, 470 + label_area)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(label_area)
        .y_label_area_size(70)
        // Logarithmic: the variants differ by two orders of magnitude.
        .build_cartesian_2d(0f64..groups.len() as f64, (base..max * 2.0).log_scale())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .y_desc(ylabel)
        .y_label_formatter(&|y| format!("{y}"))
        // The group names are drawn below, written downwards: long names need height, not width.
        .x_labels(0)
        .draw()?;
    let down = ("sans-serif", 13)
        .into_font()
        .transform(FontTransform::Rotate90);
    for (i, name) in groups.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(i as f64 + 0.5, base));
        root.draw(&Text::new(name.as_str(), (x + 6, y + 8), down.clone()))?;
    }
    for (s, name) in series.iter().enumerate() {
        let colour = Palette99::pick(s).filled();
        let mine: Vec<_> = bars.iter().filter(|b| b.1 == s).collect();
        chart
            .draw_series(mine.iter().map(|&&(g, s, v, _)| {
                let x0 = g as f64 + 0.1 + s as f64 * width;
                Rectangle::new([(x0, base), (x0 + width * 0.95, v)], colour)
            }))?
            .label(name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour));
        chart.draw_series(mine.iter().filter(|b| !b.3.is_empty()).map(
            |&&(g, s, v, ref note)| {
                let x = g as f64 + 0.1 + s as f64 * width;
                Text::new(note.clone(), (x, v * 1.12), ("sans-serif", 12))
            },
        ))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Cumulative distributions: see the module documentation.
fn cdf(title: &str, xlabel: &str, input: &str, output: &str) -> Res<()> {
    let rows = rows(input)?;
    let mut samples: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    let names = order(&rows, 0);
    for r in &rows {
        if r.len() < 2 {
            return Err(format!("{input}: a row has fewer than 2 columns").into());
        }
        let v = number(&r[1], input)?;
        let s = names.iter().position(|n| *n == r[0]).unwrap_or(0);
        samples.entry(s).or_default().push(v.max(1e-3));
    }
    if samples.is_empty() {
        return Err(format!("{input}: no samples").into());
    }
    let lo = samples.values().flatten().copied().fold(f64::MAX, f64::min);
    let hi = samples.values().flatten().copied().fold(0f64, f64::max);
    let root = SVGBackend::new(output, (960, 540)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(60)
        .build_cartesian_2d((lo * 0.9..hi * 1.1).log_scale(), 0f64..1f64)?;
    chart
        .configure_mesh()
        .x_desc(xlabel)
        .x_labels(12)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .light_line_style(WHITE)
        .y_desc("fraction of calls at or below")
        .draw()?;
    for (s, v) in samples.iter_mut() {
        v.sort_by(f64::total_cmp);
        let n = v.len() as f64;
        let colour = Palette99::pick(*s).stroke_width(2);
        chart
            .draw_series(LineSeries::new(
                v.iter().enumerate().map(|(i, &x)| (x, (i + 1) as f64 / n)),
                colour,
            ))?
            .label(names[*s].clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], colour));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["bars", title, label, input, output] => bars(title, label, input, output),
        ["cdf", title, label, input, output] => cdf(title, label, input, output),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("edu-plot: {e}");
            ExitCode::FAILURE
        }
    }
}
