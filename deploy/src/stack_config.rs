//! What `scripts/stack` configures, read from its shell libraries
//! (`scripts/lib/*.sh`), so compose.yaml can be compared with it.

use anyhow::Context;

/// A shell variable of a repository script: `NAME=value` or `NAME=(a b c)`,
/// as words (quotes removed; a trailing `# comment` ignored).
///
/// # Errors
/// When the file cannot be read or does not assign `name`.
pub fn words(file: &str, name: &str) -> anyhow::Result<Vec<String>> {
    let text = crate::repo::read(file)?;
    let prefix = format!("{name}=");
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .with_context(|| format!("{name}= not found in {file}"))?;
    let value = line.split(" #").next().unwrap_or(line).trim();
    let value = value.trim_start_matches('(').trim_end_matches(')');
    Ok(value.split_whitespace().map(|s| s.trim_matches('"').to_owned()).collect())
}

/// A shell variable's value as one string (words joined by spaces).
///
/// # Errors
/// As [`words`].
pub fn scalar(file: &str, name: &str) -> anyhow::Result<String> {
    Ok(words(file, name)?.join(" "))
}

/// The value of `key=value` in the broker configuration scripts/stack
/// writes (`scripts/lib/stack-kafka.sh`), e.g. `min.insync.replicas`.
///
/// # Errors
/// When the script cannot be read or does not set `key`.
pub fn broker_property(key: &str) -> anyhow::Result<String> {
    let text = crate::repo::read("scripts/lib/stack-kafka.sh")?;
    let prefix = format!("{key}=");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(str::to_owned)
        .with_context(|| format!("scripts/lib/stack-kafka.sh does not set {key}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_stack_s_topics_and_ports() {
        let topics = words("scripts/lib/stack-kafka.sh", "TOPICS").expect("TOPICS");
        assert!(topics.contains(&"view-events".to_owned()), "{topics:?}");
        assert_eq!(scalar("scripts/lib/stack-redis.sh", "REDIS_PORT").expect("port"), "6379");
        assert_eq!(broker_property("min.insync.replicas").expect("min ISR"), "2");
        assert!(words("scripts/lib/stack-kafka.sh", "NO_SUCH_VARIABLE").is_err());
    }
}
