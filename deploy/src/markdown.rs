//! Markdown headings and the anchors links use for them (`file.md#anchor`).

/// GitHub's anchor of a Markdown heading line (`## Target down` →
/// `target-down`).
pub fn slug(heading: &str) -> String {
    heading
        .trim_start_matches('#')
        .trim()
        .to_ascii_lowercase()
        .chars()
        .filter_map(|c| match c {
            'a'..='z' | '0'..='9' | '-' | '_' => Some(c),
            ' ' => Some('-'),
            _ => None,
        })
        .collect()
}

/// Whether `text` has a heading whose anchor is `anchor`.
pub fn has_heading(text: &str, anchor: &str) -> bool {
    text.lines().filter(|l| l.starts_with('#')).any(|l| slug(l) == anchor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors() {
        assert_eq!(slug("## Growing from one box to N"), "growing-from-one-box-to-n");
        assert_eq!(slug("### `dataflow run`"), "dataflow-run");
        assert!(has_heading("# T\n\n## Target down\n", "target-down"));
        assert!(!has_heading("# T\n", "target-down"));
    }
}
