//! Reading a binary's `--help` pages: every subcommand, long flag and
//! environment variable it documents.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

/// One `--help` page.
#[derive(Debug, Clone)]
pub struct HelpPage {
    /// The subcommand path (empty for the binary itself), e.g. `["checkpoints", "list"]`.
    pub command: Vec<String>,
    /// The page's text.
    pub text: String,
}

impl HelpPage {
    /// `--flag` names (without `--help`/`--version`, which clap adds everywhere).
    pub fn long_flags(&self) -> BTreeSet<String> {
        self.options_section()
            .lines()
            .filter_map(|line| {
                let line = line.trim_start();
                // "-w, --workers <WORKERS>" or "--brokers <BROKERS>"
                let line = line
                    .strip_prefix('-')
                    .filter(|l| !l.starts_with('-'))
                    .map_or(line, |l| l.split_once(", ").map_or(line, |(_, rest)| rest));
                let flag = line.strip_prefix("--")?;
                let name: String =
                    flag.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
                (!name.is_empty() && name != "help" && name != "version")
                    .then(|| format!("--{name}"))
            })
            .collect()
    }

    /// Environment variables named in `[env: NAME=...]`.
    pub fn env_vars(&self) -> BTreeSet<String> {
        self.text
            .split("[env: ")
            .skip(1)
            .filter_map(|rest| rest.split(['=', ']']).next())
            .map(str::to_owned)
            .collect()
    }

    /// Names listed under `Commands:` (without `help`).
    pub fn subcommands(&self) -> Vec<String> {
        let Some((_, rest)) = self.text.split_once("\nCommands:\n") else { return Vec::new() };
        rest.lines()
            .take_while(|l| l.starts_with("  "))
            .filter_map(|l| l.split_whitespace().next())
            .filter(|name| *name != "help")
            .map(str::to_owned)
            .collect()
    }

    fn options_section(&self) -> &str {
        self.text.split_once("\nOptions:\n").map_or("", |(_, rest)| rest)
    }
}

/// The `--help` page of `binary` and of every subcommand under it.
///
/// # Errors
/// When the binary cannot run or a help page is not printed successfully.
pub fn all_pages(binary: &Path) -> anyhow::Result<Vec<HelpPage>> {
    let mut pages = Vec::new();
    let mut queue = vec![Vec::<String>::new()];
    while let Some(command) = queue.pop() {
        let output =
            Command::new(binary).args(&command).arg("--help").output().with_context(|| {
                format!("running {} {} --help", binary.display(), command.join(" "))
            })?;
        if !output.status.success() {
            bail!(
                "{} {} --help failed: {}",
                binary.display(),
                command.join(" "),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let page = HelpPage { command, text: String::from_utf8_lossy(&output.stdout).into_owned() };
        for sub in page.subcommands() {
            let mut next = page.command.clone();
            next.push(sub);
            queue.push(next);
        }
        pages.push(page);
    }
    pages.sort_by(|a, b| a.command.cmp(&b.command));
    Ok(pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "Run it\n\nUsage: dataflow run [OPTIONS]\n\nCommands:\n  list  List them\n  help  Print help\n\nOptions:\n      --brokers <BROKERS>\n          Kafka [env: TAGFLOW_BROKERS=] [default: x]\n  -w, --workers <WORKERS>\n          Workers [env: TAGFLOW_WORKERS=]\n      --until-caught-up\n          Stop\n  -h, --help\n          Print help\n";

    #[test]
    fn flags_envs_and_subcommands() {
        let page = HelpPage { command: vec!["run".into()], text: PAGE.into() };
        assert_eq!(
            page.long_flags(),
            BTreeSet::from(["--brokers".into(), "--workers".into(), "--until-caught-up".into()])
        );
        assert_eq!(
            page.env_vars(),
            BTreeSet::from(["TAGFLOW_BROKERS".into(), "TAGFLOW_WORKERS".into()])
        );
        assert_eq!(page.subcommands(), vec!["list".to_owned()]);
    }
}
