//! Which metrics and labels a PromQL expression refers to.
//!
//! A small lexer, not a parser: it skips strings, numbers, durations, range
//! and subquery brackets, functions, aggregation operators, keywords and
//! Grafana variables (`$__rate_interval`), and reports the remaining
//! identifiers as metric names, with the label names used in `{...}`
//! matchers and in `by (...)` / `without (...)` / `on (...)` / `ignoring
//! (...)` / `group_left (...)` / `group_right (...)` clauses.

use std::collections::BTreeSet;

/// What an expression refers to.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct References {
    /// Metric (series) names.
    pub metrics: BTreeSet<String>,
    /// `(metric, label)` of each label matcher; metric is `None` for a bare
    /// `{label="..."}` selector.
    pub matchers: Vec<(Option<String>, String)>,
    /// Labels named in grouping and vector-matching clauses.
    pub grouping: BTreeSet<String>,
}

const AGGREGATIONS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];
const KEYWORDS: &[&str] = &["and", "or", "unless", "atan2", "bool", "offset", "inf", "nan"];
const GROUPING: &[&str] = &["by", "without", "on", "ignoring", "group_left", "group_right"];

/// The metrics and labels `expr` refers to.
pub fn references(expr: &str) -> References {
    let chars: Vec<char> = expr.chars().collect();
    let mut refs = References::default();
    let mut last_metric: Option<String> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = skip_string(&chars, i);
        } else if c == '[' {
            i = skip_until(&chars, i, ']');
        } else if c == '{' {
            let end = skip_until(&chars, i, '}');
            let body: String = chars[i + 1..end.saturating_sub(1).max(i + 1)].iter().collect();
            for label in matcher_labels(&body) {
                refs.matchers.push((last_metric.clone(), label));
            }
            i = end;
        } else if c == '$' {
            // A Grafana variable: $name, ${name}, $__rate_interval.
            i += 1;
            if chars.get(i) == Some(&'{') {
                i = skip_until(&chars, i, '}');
            } else {
                while i < chars.len() && is_ident(chars[i]) {
                    i += 1;
                }
            }
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if is_ident_start(c) {
            let start = i;
            while i < chars.len() && is_ident(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = next_non_space(&chars, i);
            let lower = word.to_ascii_lowercase();
            if GROUPING.contains(&lower.as_str()) {
                last_metric = None;
                if next.map(|n| chars[n]) == Some('(') {
                    let Some(open) = next else { continue };
                    let end = skip_until(&chars, open, ')');
                    let body: String =
                        chars[open + 1..end.saturating_sub(1).max(open + 1)].iter().collect();
                    refs.grouping.extend(
                        body.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned),
                    );
                    i = end;
                }
            } else if AGGREGATIONS.contains(&lower.as_str())
                || KEYWORDS.contains(&lower.as_str())
                || next.map(|n| chars[n]) == Some('(')
            {
                last_metric = None;
            } else {
                refs.metrics.insert(word.clone());
                last_metric = Some(word);
            }
        } else {
            if !c.is_whitespace() {
                last_metric = None;
            }
            i += 1;
        }
    }
    refs
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

fn next_non_space(chars: &[char], mut i: usize) -> Option<usize> {
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    (i < chars.len()).then_some(i)
}

/// Index after the string literal starting at `start`.
fn skip_string(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() {
        if chars[i] == '\\' && quote != '`' {
            i += 2;
            continue;
        }
        if chars[i] == quote {
            return i + 1;
        }
        i += 1;
    }
    i
}

/// Index after the `close` that ends the bracket opened at `start`, skipping
/// strings inside.
fn skip_until(chars: &[char], start: usize, close: char) -> usize {
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '"' | '\'' | '`' => i = skip_string(chars, i),
            c if c == close => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// Label names of the matchers inside `{...}`.
fn matcher_labels(body: &str) -> Vec<String> {
    let chars: Vec<char> = body.chars().collect();
    let mut labels = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '"' || chars[i] == '\'' || chars[i] == '`' {
            i = skip_string(&chars, i);
        } else if is_ident_start(chars[i]) {
            let start = i;
            while i < chars.len() && is_ident(chars[i]) {
                i += 1;
            }
            labels.push(chars[start..i].iter().collect());
        } else {
            i += 1;
        }
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn histogram_quantile_with_grouping() {
        let refs = references(
            "histogram_quantile(0.95, sum by (route, le) (rate(http_request_duration_ms_bucket{job=\"tagflow-api\", status=~\"5..\"}[$__rate_interval])))",
        );
        assert_eq!(refs.metrics, set(&["http_request_duration_ms_bucket"]));
        assert_eq!(refs.grouping, set(&["route", "le"]));
        assert_eq!(
            refs.matchers,
            vec![
                (Some("http_request_duration_ms_bucket".to_owned()), "job".to_owned()),
                (Some("http_request_duration_ms_bucket".to_owned()), "status".to_owned())
            ]
        );
    }

    #[test]
    fn binary_operators_keywords_and_offsets() {
        let refs = references(
            "time() - tagflow_checkpoint_last_completed_timestamp_seconds offset 5m > 3 * tagflow_checkpoint_interval_seconds and on (instance) up == 1 unless absent(foo_bar)",
        );
        assert_eq!(
            refs.metrics,
            set(&[
                "tagflow_checkpoint_last_completed_timestamp_seconds",
                "tagflow_checkpoint_interval_seconds",
                "up",
                "foo_bar"
            ])
        );
        assert_eq!(refs.grouping, set(&["instance"]));
    }

    #[test]
    fn aggregation_with_trailing_by_and_subquery() {
        let refs = references(
            "deriv(sum(tagflow_consumer_lag) by (topic)[2m:15s]) > 1e3 and sum without (partition) (tagflow_consumer_lag) > 0x10",
        );
        assert_eq!(refs.metrics, set(&["tagflow_consumer_lag"]));
        assert_eq!(refs.grouping, set(&["topic", "partition"]));
    }

    #[test]
    fn strings_are_not_metrics() {
        let refs = references(r#"label_replace(up, "dst", "a b", "src", "(.*)") or vector(1)"#);
        assert_eq!(refs.metrics, set(&["up"]));
    }
}
