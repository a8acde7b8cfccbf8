//! The dashboard in headless Chromium (Debian's `chromium`): served by the
//! real server on a free port over a seeded Redis database, it must render
//! the top-10 product and tag charts from the leaderboards (in the DOM, and
//! painted, in a screenshot), the interest tags, a user lookup with profile
//! and recommendations, and the job-health panel (the job unreachable, and
//! the figures of a stand-in for its `/metrics`).

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::process::Command;

use common::*;
use model::Product;
use serde_json::json;
use testkit::redis_database;

fn chromium() -> &'static str {
    for candidate in ["chromium", "chromium-browser"] {
        if Command::new(candidate).arg("--version").output().is_ok_and(|o| o.status.success()) {
            return candidate;
        }
    }
    panic!("chromium is not installed: run `scripts/install-deps --browser` (scripts/test does)");
}

fn seed(redis: &str) {
    let mut conn = redis_conn(redis);
    let products: Vec<Product> = (0..6)
        .map(|i| Product {
            product_id: format!("p{i}"),
            name: format!("Trail shoe {i}"),
            price: 50.0 + f64::from(i),
            tags: vec!["shoes".into(), if i % 2 == 0 { "nike".into() } else { "adidas".into() }],
        })
        .collect();
    simulator::catalog::load_into_redis(&mut conn, &products).unwrap();
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
    for i in 0..6 {
        redis::cmd("HSET")
            .arg("hot:pageview_counts")
            .arg(format!("{today}:p{i}"))
            .arg(10 * (i + 1))
            .query::<()>(&mut conn)
            .unwrap();
    }
    let profile = json!({"userId": "u1", "tagScores": {"shoes": 9, "nike": 5}, "topTags": ["shoes", "nike"],
        "eventCounts": {"view": 4, "add_to_cart": 0, "purchase": 1}, "lastEventAt": 1_795_647_600_000_i64});
    redis::cmd("HSET")
        .arg("user-profiles")
        .arg("u1")
        .arg(profile.to_string())
        .query::<()>(&mut conn)
        .unwrap();
    redis::cmd("HSET")
        .arg("user:profile:u1")
        .arg(&["shoes", "9", "nike", "5"])
        .query::<()>(&mut conn)
        .unwrap();
    // The job's leaderboards of today: 4 of the 6 products, 3 tags.
    let mut products = redis::cmd("ZADD");
    products.arg(format!("top:products:{today}"));
    for i in 2..6 {
        products.arg(10 * (i + 1)).arg(format!("p{i}"));
    }
    products.query::<()>(&mut conn).unwrap();
    redis::cmd("ZADD")
        .arg(format!("top:tags:{today}"))
        .arg(&["210", "shoes", "120", "nike", "90", "adidas"])
        .query::<()>(&mut conn)
        .unwrap();
    let e = event("e1", "u1", "p0", "view", 1_795_647_600_000, &["shoes", "nike"]);
    redis::cmd("RPUSH").arg("events").arg(e.to_string()).query::<()>(&mut conn).unwrap();
}

/// What headless Chromium gives for the page at `path` with `args` (the
/// page's URL last), the page served by the real server over `state`.
async fn chromium_on(state: api::AppState, path: &str, args: &[&str]) -> std::process::Output {
    let browser = chromium();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(api::serve(listener, state, async move {
        let _ = stopped.await;
    }));

    let url = format!("http://{addr}{path}");
    let profile_dir = tempfile::tempdir().unwrap();
    let user_data = format!("--user-data-dir={}", profile_dir.path().display());
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    // coreutils `timeout` bounds the browser; the server keeps serving meanwhile.
    let output = tokio::task::spawn_blocking(move || {
        Command::new("timeout")
            .args([
                "60",
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--lang=en-US",
            ])
            .arg(user_data)
            .arg("--virtual-time-budget=8000")
            .args(args)
            .arg(url)
            .output()
    })
    .await
    .unwrap()
    .expect("chromium ran");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    output
}

/// The page at `path` as headless Chromium renders it (its DOM).
async fn render(state: api::AppState, path: &str) -> String {
    let output = chromium_on(state, path, &["--dump-dom"]).await;
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The element with `id` in `dom`, up to the end of its `tag`.
fn element<'a>(dom: &'a str, id: &str, tag: &str) -> &'a str {
    let start = dom.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id} in\n{dom}"));
    let rest = &dom[start..];
    &rest[..rest.find(&format!("</{tag}>")).unwrap()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_renders_a_chart_and_a_user_lookup() {
    let redis = redis_database();
    seed(&redis);
    // No job runs: its metrics are at a closed port.
    let state = api::AppState::connect(config(&redis, None)).await.unwrap();
    let dom = render(state, "/?user=u1").await;

    let products = element(&dom, "uv-chart", "svg");
    assert_eq!(products.matches("class=\"bar\"").count(), 4, "product bars in\n{products}");
    assert!(products.contains("Trail shoe 5"), "chart labels in\n{products}");
    assert!(!products.contains("Trail shoe 1"), "p1 is on no leaderboard:\n{products}");
    assert!(
        element(&dom, "uv-source", "div").contains("live leaderboard"),
        "the chart's source in\n{dom}"
    );
    let tags = element(&dom, "tag-chart", "svg");
    assert_eq!(tags.matches("class=\"bar\"").count(), 3, "tag bars in\n{tags}");
    let order: Vec<usize> = [">shoes<", ">nike<", ">adidas<"]
        .iter()
        .map(|label| tags.find(label).unwrap_or_else(|| panic!("{label} in\n{tags}")))
        .collect();
    assert!(order.is_sorted(), "tags by weight, highest first:\n{tags}");
    assert!(tags.contains(">210<"), "weights in\n{tags}");
    assert!(dom.contains("u1: view 4 · add_to_cart 0 · purchase 1"), "profile in\n{dom}");
    let rows = dom.matches("class=\"rec\"").count();
    assert_eq!(rows, 6, "recommendation rows in\n{dom}");
    assert!(dom.contains("shoes, nike"), "matched tags in\n{dom}");
    assert!(
        dom.contains("<li>shoes<span class=\"n\">1 users</span></li>"),
        "interest tags in\n{dom}"
    );
    assert!(dom.contains(">job unreachable<"), "job-health panel in\n{dom}");
}

/// Pixels of `png` within 24 of `rgb` in every channel.
fn pixels_of(png: &[u8], rgb: [u8; 3]) -> usize {
    let mut reader = png::Decoder::new(std::io::Cursor::new(png)).read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut buffer).unwrap();
    let channels = frame.color_type.samples();
    assert!(channels >= 3, "an RGB screenshot: {:?}", frame.color_type);
    buffer[..frame.buffer_size()]
        .chunks_exact(channels)
        .filter(|px| px[..3].iter().zip(rgb).all(|(&a, b)| a.abs_diff(b) <= 24))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_screenshot_shows_both_leaderboard_charts_painted() {
    let redis = redis_database();
    seed(&redis);
    let state = api::AppState::connect(config(&redis, None)).await.unwrap();
    // In cargo's per-target temporary directory, left for a person to look
    // at when the test fails.
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    let screenshot = format!("--screenshot={}", file.display());
    chromium_on(state, "/", &[&screenshot, "--window-size=1280,1400", "--hide-scrollbars"]).await;
    let png = std::fs::read(&file).unwrap();
    // The bars' fills (dashboard.css): products #2f6fdf, tags #e07b2f. A
    // bar is at least 4 px high and up to 380 units wide: the 3 tag bars
    // (widths 380, 217, 163 of 640 units) cover thousands of pixels, the
    // products' 4 more; the page has no other large area of either colour.
    let blue = pixels_of(&png, [0x2f, 0x6f, 0xdf]);
    let orange = pixels_of(&png, [0xe0, 0x7b, 0x2f]);
    assert!(blue > 5_000, "{blue} product-bar pixels in {}", file.display());
    assert!(orange > 5_000, "{orange} tag-bar pixels in {}", file.display());
}

const JOB_METRICS: &str = r#"# TYPE tagflow_consumer_lag gauge
tagflow_consumer_lag{topic="t-view-events",partition="0"} 1200
tagflow_consumer_lag{topic="t-view-events",partition="1"} 34
tagflow_consumer_lag{topic="t-purchase-events",partition="0"} 0
# TYPE tagflow_state_memory_bytes gauge
tagflow_state_memory_bytes{table="profiles"} 1536
# TYPE tagflow_checkpoint_size_bytes gauge
tagflow_checkpoint_size_bytes 3145728
# TYPE tagflow_checkpoint_last_completed_id gauge
tagflow_checkpoint_last_completed_id 7
"#;

/// The stand-in's text with `dead` dead letters and a checkpoint `age` seconds old.
fn job_metrics(dead: u32, age: f64) -> String {
    let now = jiff::Timestamp::now().as_millisecond() as f64 / 1000.0;
    format!(
        "{JOB_METRICS}# TYPE tagflow_dead_lettered_total counter\n\
         tagflow_dead_lettered_total{{reason=\"invalid_json\"}} {dead}\n\
         # TYPE tagflow_checkpoint_last_completed_timestamp_seconds gauge\n\
         tagflow_checkpoint_last_completed_timestamp_seconds {}\n",
        now - age
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_health_panel_shows_the_jobs_figures() {
    let stand_in = MetricsStandIn::start(&job_metrics(3, 600.0)).await;
    let mut cfg = config(&redis_database(), None);
    cfg.dataflow_metrics = stand_in.url.clone();
    let state = api::AppState::connect(cfg).await.unwrap();
    // A first sample with 3 dead letters, then the job reports 12.
    let first = get(&api::app(state.clone()), "/api/job-health").await;
    assert_eq!(first.status, axum::http::StatusCode::OK, "{}", first.text);
    stand_in.set(&job_metrics(12, 600.0));

    let dom = render(state, "/").await;
    let panel = &dom[dom.find("id=\"job-card\"").unwrap()..];
    let panel = &panel[..panel.find("</section>").unwrap()];
    assert!(panel.contains(">running<"), "job status in\n{panel}");
    assert!(panel.contains("t-view-events: 1,234"), "lag in\n{panel}");
    assert!(panel.contains("t-purchase-events: 0"), "lag in\n{panel}");
    assert!(panel.contains("#7, 10 min ago"), "checkpoint in\n{panel}");
    assert!(panel.contains("9 in the last "), "dead letters in\n{panel}");
    assert!(panel.contains("(history &lt; 1 h)"), "dead letters in\n{panel}");
    assert!(panel.contains("3.0 MiB checkpointed · 1.5 KiB cached in memory"), "state in\n{panel}");
    // A database without leaderboards (a job with --leaderboards off): the
    // product chart falls back to the unique-visitor counts.
    assert!(
        element(&dom, "uv-source", "div").contains("the job keeps no leaderboard"),
        "the chart's source in\n{dom}"
    );
}
