//! Alerts reach a person: every rule of deploy/prometheus/alerts.yml links
//! its playbook section and has a severity; the Alertmanager configuration
//! rendered from deploy/alertmanager routes warnings to the webhook and
//! critical alerts to the webhook and email; and a rule that fires in a real
//! Prometheus arrives, through a real Alertmanager, at an HTTP receiver and
//! an SMTP receiver run by the test. Needs Debian's `prometheus` and
//! `prometheus-alertmanager` (`scripts/install-deps --prometheus`).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use deploy::markdown::has_heading;
use deploy::monitoring::{self, amtool, render_alertmanager_config};
use deploy::receivers::{SmtpReceiver, WebhookReceiver};
use deploy::{repo, yaml};
use serde_json::{Value, json};

const RUNBOOK_BASE: &str = "https://runbooks.tagflow.test/";
const EMAIL_TO: &str = "oncall@tagflow.test";

/// (alert, its rule) for every rule of alerts.yml.
fn rules() -> Result<Vec<(String, Value)>> {
    let file = yaml::load(&repo::path("deploy/prometheus/alerts.yml"))?;
    let mut rules = Vec::new();
    for group in file["groups"].as_array().context("groups")? {
        for rule in group["rules"].as_array().context("rules")? {
            let name = rule["alert"].as_str().context("alert")?.to_owned();
            rules.push((name, rule.clone()));
        }
    }
    ensure!(rules.len() >= 7, "only {} rules", rules.len());
    Ok(rules)
}

/// The variables of a full setup: webhook, and email through `smtp`.
fn full_env<'a>(webhook: &'a str, smtp: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("TAGFLOW_ALERT_WEBHOOK_URL", webhook),
        ("TAGFLOW_ALERT_EMAIL_TO", EMAIL_TO),
        ("TAGFLOW_ALERT_EMAIL_FROM", "alertmanager@tagflow.test"),
        ("TAGFLOW_ALERT_SMTP_SMARTHOST", smtp),
        ("TAGFLOW_ALERT_SMTP_REQUIRE_TLS", "false"),
        ("TAGFLOW_RUNBOOK_BASE_URL", RUNBOOK_BASE),
    ]
}

#[test]
fn every_rule_links_its_playbook_section_and_has_a_severity() -> Result<()> {
    let playbook = repo::read("docs/troubleshooting.md")?;
    for (name, rule) in rules()? {
        let url = rule["annotations"]["runbook_url"]
            .as_str()
            .with_context(|| format!("{name} has no runbook_url annotation"))?;
        let anchor = url.strip_prefix("docs/troubleshooting.md#").with_context(|| {
            format!("{name}: runbook_url {url} is not a troubleshooting section")
        })?;
        ensure!(has_heading(&playbook, anchor), "{name}: docs/troubleshooting.md has no #{anchor}");
        // The section names the alert it is the playbook of.
        let section = playbook
            .split("\n## ")
            .find(|s| deploy::markdown::slug(s.lines().next().unwrap_or_default()) == anchor)
            .context("section")?;
        ensure!(section.contains(&name), "{name}: section #{anchor} does not mention it");
        let severity = rule["labels"]["severity"].as_str().unwrap_or_default();
        ensure!(["warning", "critical"].contains(&severity), "{name}: severity {severity:?}");
    }
    Ok(())
}

/// Routing by severity, as Alertmanager's own `amtool` resolves it, and the
/// receivers each variable brings in or leaves out.
#[test]
fn severity_routes_to_the_webhook_and_email() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("alertmanager.yml");
    let config_arg = format!("--config.file={}", config.display());
    render_alertmanager_config(&full_env("http://127.0.0.1:1/hook", "127.0.0.1:2"), &config)?;
    amtool(&["check-config", &config.to_string_lossy()])?;
    for (name, rule) in rules()? {
        let severity = rule["labels"]["severity"].as_str().context("severity")?;
        let alertname = format!("alertname={name}");
        let routed = amtool(&[
            "config",
            "routes",
            "test",
            &config_arg,
            &format!("severity={severity}"),
            &alertname,
        ])?;
        ensure!(routed.trim() == severity, "{name} ({severity}) goes to {routed}");
    }
    let rendered = yaml::load(&config)?;
    let receiver = |name: &str| -> Result<Value> {
        let all = rendered["receivers"].as_array().context("receivers")?;
        all.iter().find(|r| r["name"] == name).cloned().with_context(|| format!("no {name}"))
    };
    let (warning, critical) = (receiver("warning")?, receiver("critical")?);
    ensure!(warning["webhook_configs"][0]["url"] == "http://127.0.0.1:1/hook", "{warning}");
    ensure!(warning["email_configs"].is_null(), "warnings are not emailed: {warning}");
    ensure!(critical["webhook_configs"][0]["url"] == "http://127.0.0.1:1/hook", "{critical}");
    ensure!(critical["email_configs"][0]["to"] == EMAIL_TO, "{critical}");
    ensure!(critical["email_configs"][0]["smarthost"] == "127.0.0.1:2", "{critical}");

    // Nothing set: still a valid configuration, with receivers that notify nobody.
    render_alertmanager_config(&[], &config)?;
    amtool(&["check-config", &config.to_string_lossy()])?;
    let bare = yaml::load(&config)?;
    for receiver in bare["receivers"].as_array().context("receivers")? {
        ensure!(receiver.as_object().is_some_and(|r| r.len() == 1), "{receiver}");
    }
    // Email without a server: refused, naming the missing variable.
    let refused = render_alertmanager_config(&[("TAGFLOW_ALERT_EMAIL_TO", EMAIL_TO)], &config);
    let message =
        format!("{:#}", refused.err().context("rendered without TAGFLOW_ALERT_EMAIL_FROM")?);
    ensure!(message.contains("TAGFLOW_ALERT_EMAIL_FROM is not set"), "{message}");
    Ok(())
}

/// alerts.yml with every rule's `for` set to 0 s, so that a test need not
/// wait out the real durations (`promtool test rules` covers those).
fn rules_firing_at_once(dir: &Path) -> Result<std::path::PathBuf> {
    let mut file = yaml::load(&repo::path("deploy/prometheus/alerts.yml"))?;
    for group in file["groups"].as_array_mut().context("groups")? {
        for rule in group["rules"].as_array_mut().context("rules")? {
            rule["for"] = json!("0s");
        }
    }
    let path = dir.join("alerts.yml");
    std::fs::write(&path, serde_json::to_string_pretty(&file)?)?;
    Ok(path)
}

/// Waits up to `limit` for an entry of `entries()` that contains `needle`.
fn wait_for(limit: Duration, needle: &str, entries: impl Fn() -> Vec<String>) -> Option<String> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = entries().into_iter().find(|e| e.contains(needle)) {
            return Some(found);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The job and API targets point at ports nothing listens on, so
/// TagflowTargetDown (critical) fires in a real Prometheus; a real
/// Alertmanager, configured by render-config from the environment, posts it
/// to the webhook and mails it, with the link to its playbook section.
#[test]
fn a_firing_rule_reaches_the_webhook_and_email_through_a_real_alertmanager() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let webhook = WebhookReceiver::start()?;
    let smtp = SmtpReceiver::start()?;
    let hook_url = webhook.url("/alerts");
    let smtp_addr = smtp.addr();
    let mut env = full_env(&hook_url, &smtp_addr);
    env.extend([("TAGFLOW_ALERT_GROUP_WAIT", "1s"), ("TAGFLOW_ALERT_GROUP_INTERVAL", "1s")]);
    let am_config = dir.path().join("alertmanager.yml");
    render_alertmanager_config(&env, &am_config)?;
    let alertmanager =
        monitoring::start_alertmanager(&am_config, dir.path(), testkit::free_port())?;

    let rules = rules_firing_at_once(dir.path())?;
    let mut config = monitoring::local_prometheus_config(Some(&rules))?;
    for scrape in config["scrape_configs"].as_array_mut().context("scrape_configs")? {
        let dead = format!("127.0.0.1:{}", testkit::free_port());
        scrape["static_configs"] = json!([{"targets": [dead]}]);
    }
    config["alerting"]["alertmanagers"][0]["static_configs"] =
        json!([{"targets": [alertmanager.addr]}]);
    let prometheus = monitoring::start_prometheus(&config, dir.path(), testkit::free_port())?;

    let limit = Duration::from_secs(60);
    let Some(posted) = wait_for(limit, "TagflowTargetDown", || webhook.bodies()) else {
        bail!(
            "no webhook notification in {limit:?}; got {:?}\nalertmanager:\n{}\nprometheus:\n{}",
            webhook.bodies(),
            alertmanager.process.output(),
            prometheus.process.output()
        );
    };
    let notification: Value = serde_json::from_str(&posted)?;
    ensure!(notification["receiver"] == "critical", "{notification:#}");
    ensure!(notification["status"] == "firing", "{notification:#}");
    let alert = &notification["alerts"][0];
    ensure!(alert["labels"]["alertname"] == "TagflowTargetDown", "{alert:#}");
    ensure!(alert["labels"]["severity"] == "critical", "{alert:#}");
    ensure!(
        alert["annotations"]["runbook_url"] == "docs/troubleshooting.md#target-down",
        "{alert:#}"
    );

    let Some(mail) = wait_for(limit, "TagflowTargetDown", || smtp.messages()) else {
        bail!(
            "no email in {limit:?}; got {:?}\n{}",
            smtp.messages(),
            alertmanager.process.output()
        );
    };
    ensure!(mail.contains(&format!("RCPT TO:<{EMAIL_TO}>")), "{mail}");
    ensure!(mail.contains("Subject: [FIRING] TagflowTargetDown (critical)"), "{mail}");
    let link = format!("Playbook: {RUNBOOK_BASE}docs/troubleshooting.md#target-down");
    ensure!(mail.contains(&link), "no {link:?} in\n{mail}");
    Ok(())
}

/// compose's `alertmanager` service passes on every variable the template
/// reads, and nothing else; Prometheus (compose and local) sends its alerts
/// to the Alertmanager of that setup.
#[test]
fn compose_passes_every_variable_the_template_reads() -> Result<()> {
    let template = repo::read("deploy/alertmanager/alertmanager.yml.tmpl")?;
    let mut read = std::collections::BTreeSet::new();
    for (i, _) in template.match_indices("${") {
        let name: String = template[i + 2..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        read.insert(name);
    }
    for line in template.lines().filter_map(|l| l.trim_start().strip_prefix("#if ")) {
        read.insert(line.trim().to_owned());
    }
    ensure!(read.len() >= 8, "{read:?}");
    let compose = deploy::compose::load()?;
    let service = &deploy::compose::services(&compose)["alertmanager"];
    let given: std::collections::BTreeSet<String> =
        deploy::compose::environment(service).into_keys().collect();
    ensure!(given == read, "compose gives {given:?}, the template reads {read:?}");
    let configuration = repo::read("docs/configuration.md")?;
    for name in &read {
        ensure!(configuration.contains(name.as_str()), "{name} is not in docs/configuration.md");
    }

    for (file, target) in [
        ("deploy/prometheus/prometheus.yml", "alertmanager:9093"),
        ("deploy/prometheus/prometheus-local.yml", "127.0.0.1:9193"),
    ] {
        let config = yaml::load(&repo::path(file))?;
        let targets = &config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"];
        ensure!(*targets == json!([target]), "{file}: alerts go to {targets}");
    }
    let stack = repo::read("scripts/lib/stack-monitoring.sh")?;
    ensure!(
        stack.contains("ALERTMANAGER_PORT=\"${TAGFLOW_ALERTMANAGER_PORT:-9193}\""),
        "scripts/stack's Alertmanager port"
    );
    ensure!(
        deploy::compose::published(service) == [(9193, 9093)],
        "compose publishes Alertmanager on {:?}",
        deploy::compose::published(service)
    );
    Ok(())
}
