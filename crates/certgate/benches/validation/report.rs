//! The figures of one run: a table for people, JSON for machines.

use serde_json::{json, Value};

use crate::format::human_bytes;
use crate::measure::Throughput;

/// One measured figure.
pub(crate) enum Figure {
    /// Operations per second, from a throughput measurement.
    Rate {
        unit: &'static str,
        throughput: Throughput,
    },
    /// Nanoseconds per operation, from a throughput measurement (for sub-microsecond work,
    /// where a rate is harder to read than a latency).
    Latency {
        throughput: Throughput,
    },
    /// A one-off duration, repeated: sorted samples in seconds.
    Seconds {
        samples: Vec<f64>,
    },
    Bytes(u64),
    Factor(f64),
}

pub(crate) struct Row {
    /// Stable key for the JSON output.
    pub(crate) id: String,
    pub(crate) label: String,
    pub(crate) figure: Figure,
}

/// A comparison against a target from the brief.
pub(crate) struct Check {
    pub(crate) id: String,
    pub(crate) label: String,
    pub(crate) measured: f64,
    pub(crate) target: Target,
}

#[derive(Clone, Copy)]
pub(crate) enum Target {
    AtLeast(f64),
    AtMost(f64),
    /// Reported for context; no target was set.
    None,
}

impl Check {
    fn met(&self) -> Option<bool> {
        match self.target {
            Target::AtLeast(t) => Some(self.measured >= t),
            Target::AtMost(t) => Some(self.measured <= t),
            Target::None => None,
        }
    }
}

#[derive(Default)]
pub(crate) struct Report {
    sections: Vec<(String, Vec<Row>)>,
    checks: Vec<Check>,
    context: Vec<(String, Value)>,
}

impl Report {
    pub(crate) fn section(&mut self, title: &str) {
        eprintln!("{title}");
        self.sections.push((title.to_owned(), Vec::new()));
    }

    pub(crate) fn row(&mut self, id: &str, label: &str, figure: Figure) {
        if self.sections.is_empty() {
            self.section("");
        }
        let row = Row {
            id: id.to_owned(),
            label: label.to_owned(),
            figure,
        };
        eprintln!("{}", format_row(&row));
        if let Some((_, rows)) = self.sections.last_mut() {
            rows.push(row);
        }
    }

    pub(crate) fn check(&mut self, id: &str, label: &str, measured: f64, target: Target) {
        self.checks.push(Check {
            id: id.to_owned(),
            label: label.to_owned(),
            measured,
            target,
        });
    }

    pub(crate) fn context(&mut self, key: &str, value: Value) {
        self.context.push((key.to_owned(), value));
    }

    /// Looks up a throughput row by id (for ratios between rows).
    pub(crate) fn rate(&self, id: &str) -> Option<f64> {
        self.sections
            .iter()
            .flat_map(|(_, rows)| rows)
            .find(|row| row.id == id)
            .and_then(|row| match &row.figure {
                Figure::Rate { throughput, .. } | Figure::Latency { throughput } => {
                    Some(throughput.per_second())
                }
                _ => None,
            })
    }

    /// The whole table, printed at the end so it is not interleaved with progress lines.
    pub(crate) fn print(&self) {
        println!();
        println!("{:=<100}", "");
        for (title, rows) in &self.sections {
            println!("{title}");
            for row in rows {
                println!("{}", format_row(row));
            }
            println!();
        }
        println!("Targets");
        for check in &self.checks {
            let (target, verdict) = match (check.target, check.met()) {
                (Target::AtLeast(t), Some(met)) => (format!(">= {t}"), verdict(met)),
                (Target::AtMost(t), Some(met)) => (format!("<= {t}"), verdict(met)),
                _ => ("-".to_owned(), "info"),
            };
            println!(
                "  {:<66} {:>10.3}  {:>9}  {}",
                check.label, check.measured, target, verdict
            );
        }
        println!("{:=<100}", "");
    }

    pub(crate) fn to_json(&self) -> Value {
        let context: serde_json::Map<String, Value> = self.context.iter().cloned().collect();
        let figures: Vec<Value> = self
            .sections
            .iter()
            .flat_map(|(title, rows)| rows.iter().map(move |row| row_json(title, row)))
            .collect();
        let checks: Vec<Value> = self
            .checks
            .iter()
            .map(|check| {
                let (kind, target) = match check.target {
                    Target::AtLeast(t) => ("at_least", Some(t)),
                    Target::AtMost(t) => ("at_most", Some(t)),
                    Target::None => ("none", None),
                };
                json!({
                    "id": check.id,
                    "label": check.label,
                    "measured": check.measured,
                    "target_kind": kind,
                    "target": target,
                    "met": check.met(),
                })
            })
            .collect();
        json!({ "context": context, "figures": figures, "checks": checks })
    }
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "MISSED"
    }
}

fn format_row(row: &Row) -> String {
    let text = match &row.figure {
        Figure::Rate { unit, throughput } => format!(
            "{:>12.0} {unit:<15} {:>10} /op  (samples {:.0}..{:.0}/s)",
            throughput.per_second(),
            human_ns(throughput.median_ns),
            1e9 / throughput.worst_ns,
            1e9 / throughput.best_ns,
        ),
        Figure::Latency { throughput } => format!(
            "{:>12} per op          (samples {}..{})",
            human_ns(throughput.median_ns),
            human_ns(throughput.best_ns),
            human_ns(throughput.worst_ns),
        ),
        Figure::Seconds { samples } => format!(
            "{:>12} median          (best {}, worst {}, n={})",
            human_ns(crate::measure::median(samples) * 1e9),
            human_ns(samples[0] * 1e9),
            human_ns(samples[samples.len() - 1] * 1e9),
            samples.len()
        ),
        Figure::Bytes(bytes) => format!("{:>12} ({bytes} bytes)", human_bytes(*bytes)),
        Figure::Factor(x) => format!("{x:>12.3}x"),
    };
    format!("  {:<58} {text}", row.label)
}

fn row_json(section: &str, row: &Row) -> Value {
    let mut value = json!({ "id": row.id, "section": section, "label": row.label });
    let fields = match &row.figure {
        Figure::Rate { unit, throughput } => json!({
            "kind": "rate",
            "unit": unit,
            "per_second": throughput.per_second(),
            "ns_per_op_median": throughput.median_ns,
            "ns_per_op_best": throughput.best_ns,
            "ns_per_op_worst": throughput.worst_ns,
            "operations": throughput.operations,
        }),
        Figure::Latency { throughput } => json!({
            "kind": "latency",
            "ns_per_op_median": throughput.median_ns,
            "ns_per_op_best": throughput.best_ns,
            "ns_per_op_worst": throughput.worst_ns,
            "operations": throughput.operations,
        }),
        Figure::Seconds { samples } => json!({
            "kind": "seconds",
            "median": crate::measure::median(samples),
            "best": samples[0],
            "worst": samples[samples.len() - 1],
            "samples": samples,
        }),
        Figure::Bytes(bytes) => json!({ "kind": "bytes", "bytes": bytes }),
        Figure::Factor(x) => json!({ "kind": "factor", "value": x }),
    };
    if let (Some(target), Value::Object(extra)) = (value.as_object_mut(), fields) {
        target.extend(extra);
    }
    value
}

fn human_ns(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.3} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}
