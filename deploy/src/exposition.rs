//! The Prometheus text exposition format, read just enough to know which
//! series names a `/metrics` page offers and with which labels.

use std::collections::{BTreeMap, BTreeSet};

/// What one scrape offers.
#[derive(Debug, Default, Clone)]
pub struct Exposition {
    /// Series name → label names seen on its samples.
    pub samples: BTreeMap<String, BTreeSet<String>>,
    /// Family name → type, from `# TYPE` lines.
    pub families: BTreeMap<String, String>,
}

impl Exposition {
    /// Parses a scrape.
    pub fn parse(text: &str) -> Self {
        let mut out = Self::default();
        for line in text.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut parts = rest.split_whitespace();
                if let (Some(name), Some(kind)) = (parts.next(), parts.next()) {
                    out.families.insert(name.to_owned(), kind.to_owned());
                }
                continue;
            }
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            let name = &line[..end];
            let labels = if line[end..].starts_with('{') {
                label_names(&line[end..])
            } else {
                BTreeSet::new()
            };
            out.samples.entry(name.to_owned()).or_default().extend(labels);
        }
        out
    }

    /// Every series name a query may use: those with samples, plus those a
    /// declared family produces even before its first sample (a labelled
    /// family shows only `# TYPE` until a label set is used).
    pub fn series_names(&self) -> BTreeSet<String> {
        let mut names: BTreeSet<String> = self.samples.keys().cloned().collect();
        for (family, kind) in &self.families {
            match kind.as_str() {
                "counter" if family.ends_with("_total") => {
                    names.insert(family.clone());
                }
                "counter" => {
                    names.insert(format!("{family}_total"));
                }
                "histogram" => {
                    for suffix in ["_bucket", "_sum", "_count"] {
                        names.insert(format!("{family}{suffix}"));
                    }
                }
                "summary" => {
                    for suffix in ["", "_sum", "_count"] {
                        names.insert(format!("{family}{suffix}"));
                    }
                }
                "info" => {
                    names.insert(format!("{family}_info"));
                }
                _ => {
                    names.insert(family.clone());
                }
            }
        }
        names
    }

    /// Merges another scrape into this one.
    pub fn extend(&mut self, other: Exposition) {
        for (name, labels) in other.samples {
            self.samples.entry(name).or_default().extend(labels);
        }
        self.families.extend(other.families);
    }
}

/// The label names of `{a="x",b="y\"z"}` (the text from the brace on).
fn label_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut chars = text.chars().skip(1).peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let name: String = chars.by_ref().take_while(|c| *c != '=' && *c != '}').collect();
        if name.trim().is_empty() {
            break;
        }
        names.insert(name.trim().to_owned());
        // The quoted value, with backslash escapes.
        if chars.next() != Some('"') {
            break;
        }
        let mut escaped = false;
        for c in chars.by_ref() {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => break,
                _ => {}
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"# HELP tagflow_events_consumed Events read from Kafka.
# TYPE tagflow_events_consumed counter
tagflow_events_consumed_total{topic="view-events",partition="0"} 3
# TYPE tagflow_dead_lettered counter
# TYPE tagflow_epoch_seconds histogram
tagflow_epoch_seconds_bucket{le="0.5",operator="pro\"files"} 1
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 123
"#;

    #[test]
    fn samples_and_families() {
        let page = Exposition::parse(PAGE);
        assert_eq!(
            page.samples["tagflow_events_consumed_total"],
            BTreeSet::from(["topic".to_owned(), "partition".to_owned()])
        );
        assert_eq!(
            page.samples["tagflow_epoch_seconds_bucket"],
            BTreeSet::from(["le".to_owned(), "operator".to_owned()])
        );
        let names = page.series_names();
        for name in [
            "tagflow_events_consumed_total",
            "tagflow_dead_lettered_total",
            "tagflow_epoch_seconds_count",
            "process_resident_memory_bytes",
        ] {
            assert!(names.contains(name), "{name} missing from {names:?}");
        }
        assert!(!names.contains("tagflow_dead_lettered"));
    }
}
