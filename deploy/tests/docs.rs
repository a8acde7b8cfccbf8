//! The operator documentation is complete: every long flag and environment
//! variable of every subcommand of `dataflow`, `api` and `simulator` (their
//! real `--help` pages) and every TAGFLOW_* variable the scripts read appear
//! in docs/configuration.md; the other operator pages exist and are linked
//! from the README. (That they say what the code does: `doc_claims.rs`.)

use std::collections::BTreeSet;

use anyhow::{Result, ensure};
use deploy::markdown::has_heading;
use deploy::{help, repo};

fn configuration() -> String {
    repo::read("docs/configuration.md").expect("docs/configuration.md")
}

/// Missing `--flag`s and variables of one binary's help pages.
fn undocumented(binary: &str) -> Result<Vec<String>> {
    let path =
        testkit::workspace_binary(binary, &format!("TAGFLOW_{}_BIN", binary.to_ascii_uppercase()));
    let docs = configuration();
    let mut missing = Vec::new();
    let pages = help::all_pages(&path)?;
    ensure!(!pages.is_empty(), "{binary}: no help");
    for page in pages {
        let place = format!("{binary} {}", page.command.join(" "));
        for flag in page.long_flags() {
            // Flags are written `--flag` in the docs, followed by a non-flag character.
            let documented = docs.match_indices(&flag).any(|(i, _)| {
                docs[i + flag.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '-'))
            });
            if !documented {
                missing.push(format!("{place}: {flag}"));
            }
        }
        for variable in page.env_vars() {
            if !docs.contains(&variable) {
                missing.push(format!("{place}: {variable}"));
            }
        }
        for sub in page.subcommands() {
            let full = format!("{} {sub}", place.trim_end());
            if !docs.contains(&full) {
                missing.push(format!("subcommand `{full}`"));
            }
        }
    }
    Ok(missing)
}

#[test]
fn every_dataflow_flag_is_documented() -> Result<()> {
    let missing = undocumented("dataflow")?;
    ensure!(missing.is_empty(), "not in docs/configuration.md:\n{}", missing.join("\n"));
    Ok(())
}

#[test]
fn every_api_flag_is_documented() -> Result<()> {
    let missing = undocumented("api")?;
    ensure!(missing.is_empty(), "not in docs/configuration.md:\n{}", missing.join("\n"));
    Ok(())
}

#[test]
fn every_simulator_flag_is_documented() -> Result<()> {
    let missing = undocumented("simulator")?;
    ensure!(missing.is_empty(), "not in docs/configuration.md:\n{}", missing.join("\n"));
    Ok(())
}

/// TAGFLOW_* variables read by scripts/ (and by the compose topic initialiser).
#[test]
fn every_script_variable_is_documented() -> Result<()> {
    let docs = configuration();
    let mut variables = BTreeSet::new();
    let mut files = vec![repo::path("deploy/kafka/create-topics.sh")];
    for dir in ["scripts", "scripts/lib", "scripts/kafka"] {
        for entry in std::fs::read_dir(repo::path(dir))? {
            let path = entry?.path();
            if path.is_file() {
                files.push(path);
            }
        }
    }
    for file in files {
        let text = std::fs::read_to_string(&file)?;
        for (i, _) in text.match_indices("TAGFLOW_") {
            let name: String = text[i..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            // `_TAGFLOW_…` are internal guards of sourced libraries, not settings.
            if !text[..i].ends_with('_') && name.len() > "TAGFLOW_".len() {
                variables.insert(name);
            }
        }
    }
    ensure!(variables.len() >= 8, "only {variables:?}");
    let missing: Vec<&String> = variables.iter().filter(|v| !docs.contains(v.as_str())).collect();
    ensure!(missing.is_empty(), "script variables not in docs/configuration.md: {missing:?}");
    Ok(())
}

#[test]
fn operator_pages_exist_and_are_linked_from_the_readme() -> Result<()> {
    let readme = repo::read("README.md")?;
    for page in ["architecture", "operations", "configuration", "troubleshooting"] {
        let path = format!("docs/{page}.md");
        let text = repo::read(&path)?;
        ensure!(text.lines().count() > 40, "{path} is too short to be useful");
        ensure!(readme.contains(&format!("({path})")), "README does not link {path}");
    }
    // Every alert has a troubleshooting section its annotation links to.
    let troubleshooting = repo::read("docs/troubleshooting.md")?;
    let alerts = repo::read("deploy/prometheus/alerts.yml")?;
    for (i, _) in alerts.match_indices("docs/troubleshooting.md#") {
        let anchor: String = alerts[i + "docs/troubleshooting.md#".len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        ensure!(
            has_heading(&troubleshooting, &anchor),
            "docs/troubleshooting.md has no heading for #{anchor}"
        );
    }
    Ok(())
}

/// Every relative link of the operator pages points at a file that exists
/// and, with `#anchor`, at a heading of that file.
#[test]
fn operator_pages_links_resolve() -> Result<()> {
    let mut checked = 0;
    let mut broken = Vec::new();
    for page in ["architecture", "operations", "configuration", "troubleshooting"] {
        let text = repo::read(&format!("docs/{page}.md"))?;
        for (i, _) in text.match_indices("](") {
            let target: String = text[i + 2..].chars().take_while(|c| *c != ')').collect();
            if target.starts_with("http") || target.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let path = if file.is_empty() {
                repo::path(&format!("docs/{page}.md"))
            } else {
                repo::path("docs").join(file)
            };
            if !path.exists() {
                broken.push(format!("docs/{page}.md: {target} (no such file)"));
                continue;
            }
            if !anchor.is_empty() {
                let linked = std::fs::read_to_string(&path)?;
                if !has_heading(&linked, anchor) {
                    broken.push(format!("docs/{page}.md: {target} (no such heading)"));
                }
            }
            checked += 1;
        }
    }
    ensure!(checked >= 15, "only {checked} links found");
    ensure!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    Ok(())
}
