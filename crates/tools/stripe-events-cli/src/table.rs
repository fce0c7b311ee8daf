//! Plain text tables: aligned columns, no borders, readable in a terminal and in CI logs.
//!
//! Tables of ids ([`Table::fitted`]: replay rows, billing state) fit in [`max_width`] columns
//! (the binary sets 100 unless `--wide`): the widest columns are narrowed and their long cells
//! shortened in the middle (`evt_1NG8…V0wSDbT`), so an id keeps its prefix and its tail.
//! Per-type summaries (audit, migrate status) are never shortened: an event type cut in the
//! middle is worse than a wide line.

use std::sync::atomic::{AtomicUsize, Ordering};

/// 0: no limit (the library default).
static MAX_WIDTH: AtomicUsize = AtomicUsize::new(0);

/// Every table rendered from now on fits in `width` columns (`None`: no limit).
pub fn set_max_width(width: Option<usize>) {
    MAX_WIDTH.store(width.unwrap_or(0), Ordering::Relaxed);
}

/// The limit set by [`set_max_width`].
pub fn max_width() -> Option<usize> {
    Some(MAX_WIDTH.load(Ordering::Relaxed)).filter(|w| *w > 0)
}

/// The narrowest a column is made when fitting.
const MIN_COLUMN: usize = 8;
const GAP: usize = 2;

/// How a column of a [`Table::fitted_with`] table gives way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Never shortened (outcomes, family names).
    Keep,
    /// Shortened in the middle, down to this width (ids, event types).
    Middle(usize),
    /// Shortened from the left, keeping the end, down to this width (file paths).
    Tail(usize),
}

pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    fit: Option<Vec<Fit>>,
}

/// `text` in at most `width` characters, keeping its end (`…invoice-paid.json`).
pub fn shorten_head(text: &str, width: usize) -> String {
    let n = text.chars().count();
    if n <= width {
        return text.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::from("…");
    out.extend(text.chars().skip(n - (width - 1)));
    out
}

/// `text` in at most `width` characters, shortened in the middle with `…`.
pub fn shorten(text: &str, width: usize) -> String {
    let n = text.chars().count();
    if n <= width {
        return text.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let keep = width - 1;
    let head = keep.div_ceil(2);
    let tail = keep - head;
    let chars: Vec<char> = text.chars().collect();
    let mut out: String = chars[..head].iter().collect();
    out.push('…');
    out.extend(&chars[n - tail..]);
    out
}

impl Table {
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
            fit: None,
        }
    }

    /// Rendered within [`max_width`], any column shortened in the middle.
    pub fn fitted(self) -> Table {
        let all = vec![Fit::Middle(MIN_COLUMN); self.headers.len()];
        self.fitted_with(&all)
    }

    /// Rendered within [`max_width`], each column giving way as `fits` says (missing: Keep).
    pub fn fitted_with(mut self, fits: &[Fit]) -> Table {
        self.fit = Some(fits.to_vec());
        self
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Rendered within [`max_width`] if [`Table::fitted`], else in full.
    pub fn render(&self) -> String {
        self.render_within(if self.fit.is_some() {
            max_width()
        } else {
            None
        })
    }

    /// Rendered within `max` columns (`None`: every cell in full).
    pub fn render_within(&self, max: Option<usize>) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if i < widths.len() {
                    widths[i] = widths[i].max(cell.chars().count());
                }
            }
        }
        let fits: Vec<Fit> = (0..widths.len())
            .map(|i| {
                self.fit
                    .as_ref()
                    .and_then(|f| f.get(i).copied())
                    .unwrap_or(Fit::Middle(MIN_COLUMN))
            })
            .collect();
        let floor = |f: Fit| match f {
            Fit::Keep => usize::MAX,
            Fit::Middle(m) | Fit::Tail(m) => m.max(1),
        };
        if let Some(max) = max {
            let total = |w: &[usize]| w.iter().sum::<usize>() + GAP * w.len().saturating_sub(1);
            // Narrow the column with the most room above its floor, one character at a time.
            while total(&widths) > max {
                let Some((i, _)) = widths
                    .iter()
                    .enumerate()
                    .filter(|(i, w)| **w > floor(fits[*i]))
                    .max_by_key(|(i, w)| **w - floor(fits[*i]))
                else {
                    break;
                };
                widths[i] -= 1;
            }
        }
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let w = widths.get(i).copied().unwrap_or(0);
                    let cell = match fits.get(i) {
                        Some(Fit::Tail(_)) => shorten_head(c, w),
                        _ => shorten(c, w),
                    };
                    format!("{cell:<w$}")
                })
                .collect();
            padded.join("  ").trim_end().to_owned()
        };
        let mut out = vec![line(&self.headers)];
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        out.push(line(&rule));
        out.extend(self.rows.iter().map(|r| line(r)));
        out.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_tables_fit_and_keep_both_ends_of_ids() {
        let mut t = Table::new(&["source", "event", "type", "rule(s)", "outcome"]);
        t.row(vec![
            "partner-snapshot/customer-subscription-updated.json".into(),
            "evt_1NG8Du2eZvKYlo2CrV0wSDbT".into(),
            "customer.subscription.updated".into(),
            "partner_subscription_events,webhook_subscription_events".into(),
            "applied".into(),
        ]);
        let fitted = t.render_within(Some(100));
        assert!(fitted.lines().all(|l| l.chars().count() <= 100), "{fitted}");
        assert!(fitted.contains('…'));
        assert!(fitted.contains("applied"));
        let wide = t.render_within(None);
        assert!(wide.contains("evt_1NG8Du2eZvKYlo2CrV0wSDbT"));
        assert!(wide.lines().any(|l| l.chars().count() > 100));
        assert_eq!(shorten("evt_1234567890", 9), "evt_…7890");
        assert_eq!(shorten("short", 9), "short");
        assert_eq!(
            shorten_head("partner-snapshot/invoice-paid.json", 13),
            "…ce-paid.json"
        );

        let mut kept = Table::new(&["source", "outcome"]).fitted_with(&[Fit::Tail(10), Fit::Keep]);
        kept.row(vec![
            "a/".repeat(60) + "invoice-paid.json",
            "failed_permanent".into(),
        ]);
        let out = kept.render_within(Some(40));
        assert!(
            out.contains("failed_permanent") && out.contains("…"),
            "{out}"
        );
        assert!(out.lines().all(|l| l.chars().count() <= 40), "{out}");
    }
}
