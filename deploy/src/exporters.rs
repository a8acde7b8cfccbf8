//! The documented metrics of the Redis and Kafka exporters
//! (`deploy/grafana/exporter-metrics.txt`), which cannot be scraped here.

use std::collections::{BTreeMap, BTreeSet};

/// Metric name → its labels (besides `job` and `instance`), from the text
/// format of `exporter-metrics.txt`: `name label,label` per line, `#`
/// comments.
pub fn parse(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let mut parts = line.split_whitespace();
            let name = parts.next().unwrap_or_default().to_owned();
            let labels = parts
                .next()
                .map(|l| l.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect())
                .unwrap_or_default();
            (name, labels)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_labels() {
        let metrics = parse("# comment\nredis_up\nkafka_topic_partitions topic\nx a,b\n");
        assert_eq!(metrics.len(), 3);
        assert!(metrics["redis_up"].is_empty());
        assert_eq!(metrics["x"], BTreeSet::from(["a".to_owned(), "b".to_owned()]));
    }
}
