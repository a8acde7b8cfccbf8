//! Serving a registry in the format the scraper asks for, as the
//! Prometheus client libraries do: OpenMetrics text
//! (`application/openmetrics-text; version=1.0.0`) when the `Accept` header
//! allows it, else the Prometheus text format
//! (`text/plain; version=0.0.4`), derived from the OpenMetrics rendering:
//! counters' `# HELP`/`# TYPE` lines name the `_total` series, `unknown`
//! becomes `untyped`, and `# UNIT`, `# EOF` and exemplars are left out.

use prometheus_client::registry::Registry;

/// The `Content-Type` of OpenMetrics text.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The `Content-Type` of the Prometheus text format.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Whether an `Accept` header value allows OpenMetrics text (with a
/// non-zero quality).
pub fn accepts_openmetrics(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("");
        let quality = parts
            .filter_map(|p| p.strip_prefix("q="))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        media.eq_ignore_ascii_case("application/openmetrics-text") && quality > 0.0
    })
}

/// `registry` rendered for a scraper that sent `accept`: the content type
/// and the body.
pub fn render(registry: &Registry, accept: Option<&str>) -> (&'static str, String) {
    let mut openmetrics = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut openmetrics, registry);
    if accept.is_some_and(accepts_openmetrics) {
        (OPENMETRICS, openmetrics)
    } else {
        (PROMETHEUS_TEXT, to_prometheus_text(&openmetrics))
    }
}

/// The Prometheus text format (0.0.4) of an OpenMetrics text rendering.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    let mut help: Option<&str> = None;
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            help = Some(rest);
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "untyped"));
            let (name, kind) = match kind {
                "counter" => (format!("{name}_total"), "counter"),
                "unknown" => (name.to_owned(), "untyped"),
                "info" => (format!("{name}_info"), "gauge"),
                "stateset" => (name.to_owned(), "gauge"),
                "gaugehistogram" => (name.to_owned(), "histogram"),
                other => (name.to_owned(), other),
            };
            if let Some(help) = help.take() {
                let text = help.split_once(' ').map_or("", |(_, text)| text);
                out.push_str(&format!("# HELP {name} {text}\n"));
            }
            out.push_str(&format!("# TYPE {name} {kind}\n"));
        } else if !line.starts_with('#') && !line.is_empty() {
            // (`# UNIT` and `# EOF` are left out with every other comment.)
            // Exemplars (` # {…} value`) have no place in 0.0.4.
            out.push_str(line.split_once(" # ").map_or(line, |(sample, _)| sample));
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_like_the_client_libraries() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert!(accepts_openmetrics(prometheus));
        assert!(!accepts_openmetrics("text/plain"));
        assert!(!accepts_openmetrics("*/*"));
        assert!(!accepts_openmetrics("application/openmetrics-text;q=0"));
    }

    #[test]
    fn converts_counters_and_drops_openmetrics_only_lines() {
        let om = "# HELP requests Requests.\n# TYPE requests counter\nrequests_total{a=\"1\"} 3 # {trace=\"x\"} 1.0\n# HELP up Up.\n# TYPE up gauge\n# UNIT up seconds\nup 1\n# EOF\n";
        assert_eq!(
            to_prometheus_text(om),
            "# HELP requests_total Requests.\n# TYPE requests_total counter\nrequests_total{a=\"1\"} 3\n# HELP up Up.\n# TYPE up gauge\nup 1\n"
        );
    }
}
