//! c10k's soak mode: samples of the load (round trips per second, p99) and of the server process
//! (resident memory, open descriptors, read from `/proc`), written as CSV and drawn as an SVG
//! chart with plotters.

use plotters::prelude::*;
use std::io::Write;
use std::path::Path;

/// One sample.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Seconds since the soak started.
    pub at_secs: f64,
    /// `baseline` (server up, no connections), `load`, or `after` (connections closed).
    pub phase: &'static str,
    pub round_trips_per_sec: f64,
    pub p99_ms: f64,
    pub rss_mib: f64,
    pub fds: usize,
}

/// The server's resident memory (MiB) and open descriptors, from `/proc/<pid>`.
pub fn process_usage(pid: u32) -> std::io::Result<(f64, usize)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss_kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .ok_or_else(|| std::io::Error::other("no VmRSS in /proc/<pid>/status"))?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))?.count();
    Ok((rss_kib / 1024.0, fds))
}

/// Writes the samples as CSV.
pub fn write_csv(path: &Path, samples: &[Sample]) -> std::io::Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(file, "seconds,phase,round_trips_per_sec,p99_ms,server_rss_mib,server_fds")?;
    for s in samples {
        writeln!(
            file,
            "{:.1},{},{:.0},{:.3},{:.2},{}",
            s.at_secs, s.phase, s.round_trips_per_sec, s.p99_ms, s.rss_mib, s.fds
        )?;
    }
    file.flush()
}

/// Draws the samples: the load (round trips per second and p99) above, the server (resident
/// memory and open descriptors) below, each over time.
pub fn draw_svg(path: &Path, samples: &[Sample], title: &str) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (1000, 700)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", 20))?;
    let (upper, lower) = root.split_vertically(340);
    let end = samples.last().map_or(1.0, |s| s.at_secs).max(1.0);
    let load: Vec<&Sample> = samples.iter().filter(|s| s.phase == "load").collect();
    let max =
        |f: fn(&Sample) -> f64, of: &[&Sample]| of.iter().map(|s| f(s)).fold(0.0, f64::max) * 1.15 + 1e-9;

    let mut chart = ChartBuilder::on(&upper)
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .right_y_label_area_size(60)
        .build_cartesian_2d(0.0..end, 0.0..max(|s| s.round_trips_per_sec, &load))?
        .set_secondary_coord(0.0..end, 0.0..max(|s| s.p99_ms, &load));
    chart
        .configure_mesh()
        .x_desc("seconds")
        .y_desc("round trips/s")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    chart.configure_secondary_axes().y_desc("p99 (ms)").y_label_formatter(&|v| format!("{v:.0}")).draw()?;
    chart
        .draw_series(LineSeries::new(load.iter().map(|s| (s.at_secs, s.round_trips_per_sec)), &BLUE))?
        .label("round trips/s")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLUE));
    chart
        .draw_secondary_series(LineSeries::new(load.iter().map(|s| (s.at_secs, s.p99_ms)), &RED))?
        .label("p99 latency")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], RED));
    chart.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.8)).draw()?;

    let all: Vec<&Sample> = samples.iter().collect();
    let mut chart = ChartBuilder::on(&lower)
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .right_y_label_area_size(60)
        .build_cartesian_2d(0.0..end, 0.0..max(|s| s.rss_mib, &all))?
        .set_secondary_coord(0.0..end, 0.0..max(|s| s.fds as f64, &all));
    chart
        .configure_mesh()
        .x_desc("seconds")
        .y_desc("server RSS (MiB)")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    chart
        .configure_secondary_axes()
        .y_desc("server open fds")
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    chart
        .draw_series(LineSeries::new(all.iter().map(|s| (s.at_secs, s.rss_mib)), &GREEN))?
        .label("server RSS")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], GREEN));
    chart
        .draw_secondary_series(LineSeries::new(all.iter().map(|s| (s.at_secs, s.fds as f64)), &MAGENTA))?
        .label("server open fds")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], MAGENTA));
    chart.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.8)).draw()?;
    root.present()?;
    Ok(())
}

/// How the server's memory and descriptors behaved.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// Mean resident memory over the load after the warm-up (the first tenth of it), MiB.
    pub rss_mean_mib: f64,
    /// The largest deviation from that mean, in percent.
    pub rss_deviation_pct: f64,
    pub fds_baseline: usize,
    pub fds_peak: usize,
    /// The last sample after the connections closed.
    pub fds_after: usize,
}

pub fn verdict(samples: &[Sample]) -> Verdict {
    let load: Vec<&Sample> = samples.iter().filter(|s| s.phase == "load").collect();
    let warmed: Vec<&Sample> = load.iter().skip(load.len() / 10).copied().collect();
    let mean = warmed.iter().map(|s| s.rss_mib).sum::<f64>() / warmed.len().max(1) as f64;
    let deviation = warmed.iter().map(|s| ((s.rss_mib - mean) / mean).abs() * 100.0).fold(0.0, f64::max);
    let fds_of = |phase: &'static str| samples.iter().filter(move |s| s.phase == phase).map(|s| s.fds);
    Verdict {
        rss_mean_mib: mean,
        rss_deviation_pct: deviation,
        fds_baseline: fds_of("baseline").next().unwrap_or(0),
        fds_peak: fds_of("load").max().unwrap_or(0),
        fds_after: fds_of("after").next_back().unwrap_or(0),
    }
}
