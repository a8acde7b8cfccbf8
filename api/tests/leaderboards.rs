//! The leaderboard routes and the recommendations' use of the leaderboards,
//! in process over the real Redis (a database of the test's own) holding
//! `top:*` sorted sets as the dataflow job writes them.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use axum::http::StatusCode;
use common::*;
use model::Product;
use serde_json::{Value, json};
use testkit::redis_database;

const DAY: &str = "2026-11-20";

fn product(id: &str, tags: &[&str]) -> Product {
    Product {
        product_id: id.into(),
        name: format!("Product {id}"),
        price: 5.0,
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
    }
}

fn zadd(conn: &mut redis::Connection, key: &str, members: &[(&str, u64)]) {
    let mut cmd = redis::cmd("ZADD");
    cmd.arg(key);
    for (member, score) in members {
        cmd.arg(*score).arg(*member);
    }
    cmd.query::<()>(conn).unwrap();
}

/// The `field` of every entry of the array `list` of `reply`.
fn column<'a>(reply: &'a Value, list: &str, field: &str) -> Vec<&'a str> {
    reply[list].as_array().unwrap().iter().map(|m| m[field].as_str().unwrap()).collect()
}

#[tokio::test]
async fn boards_are_served_best_first_with_ties_by_id_and_bad_queries_get_400() {
    let redis = redis_database();
    let mut conn = redis_conn(&redis);
    simulator::catalog::load_into_redis(&mut conn, &[product("p1", &["shoes"])]).unwrap();
    // Redis orders equal scores by member descending in a reverse range:
    // the route must put p1 before p3 itself.
    zadd(&mut conn, &format!("top:products:{DAY}"), &[("p3", 5), ("p2", 9), ("p1", 5), ("p0", 1)]);
    zadd(&mut conn, &format!("top:tags:{DAY}"), &[("hats", 7), ("shoes", 12), ("books", 7)]);
    zadd(&mut conn, &format!("top:tag-products:{DAY}:shoes"), &[("p1", 5), ("p2", 9)]);
    let (_state, app) = app(config(&redis, None)).await;

    let reply = get(&app, &format!("/api/leaderboards/products?date={DAY}&limit=3")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["date"], DAY);
    assert_eq!(column(&reply.json, "products", "productId"), ["p2", "p1", "p3"]);
    assert_eq!(reply.json["products"][0]["uv"], 9);
    assert_eq!(reply.json["products"][1]["name"], "Product p1", "named from the catalog");
    assert!(reply.json["products"][0].get("name").is_none(), "p2 is not in the catalog");
    assert!(reply.json.get("tag").is_none());

    let reply = get(&app, &format!("/api/leaderboards/tags?date={DAY}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(column(&reply.json, "tags", "tag"), ["shoes", "books", "hats"]);
    assert_eq!(reply.json["tags"][1]["weight"], 7);

    let reply = get(&app, &format!("/api/leaderboards/tags/shoes/products?date={DAY}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["tag"], "shoes");
    assert_eq!(column(&reply.json, "products", "productId"), ["p2", "p1"]);

    let empty = get(&app, "/api/leaderboards/tags/never/products?date=2026-11-21").await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.text);
    assert_eq!(empty.json["products"], json!([]), "a board nobody filled is empty, not 404");

    for uri in [
        "/api/leaderboards/products?date=2026-13-01",
        "/api/leaderboards/products?date=yesterday",
        "/api/leaderboards/tags?limit=0",
        "/api/leaderboards/tags?limit=1001",
        "/api/leaderboards/tags/%01/products",
    ] {
        let reply = get(&app, uri).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri}: {}", reply.text);
        assert!(reply.json["error"]["code"].is_string(), "{uri}: {}", reply.text);
    }
    let reply = get(&app, "/api/leaderboards/tags?limit=many").await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "bad_request");
}

#[tokio::test]
async fn recommendations_take_todays_popularity_from_the_leaderboards() {
    let redis = redis_database();
    let mut conn = redis_conn(&redis);
    let catalog = [product("p1", &["shoes"]), product("p2", &["shoes"]), product("p3", &["hats"])];
    simulator::catalog::load_into_redis(&mut conn, &catalog).unwrap();
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
    let profile = json!({"userId": "u1", "tagScores": {"shoes": 5},
        "topTags": ["shoes"], "eventCounts": {"view": 5, "add_to_cart": 0, "purchase": 0},
        "lastEventAt": 1_795_647_600_000_i64});
    hset(&mut conn, "user-profiles", "u1", profile.to_string());
    // Without leaderboards (the job runs with --leaderboards off) the API
    // reads hot:pageview_counts: p1 is today's most visited shoe.
    for (p, uv) in [("p1", 30), ("p2", 20), ("p3", 10)] {
        hset(&mut conn, "hot:pageview_counts", &format!("{today}:{p}"), uv);
    }
    let (state, app) = app(config(&redis, None)).await;
    let reply = get(&app, "/api/recommendations/u1?limit=3").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(column(&reply.json, "items", "productId"), ["p1", "p2", "p3"]);
    assert_eq!(reply.json["items"][0]["uvToday"], 30);

    // With the day's boards, they are the source: here they rank p2 first
    // (a board written after the hash), p1 is on no board (so it counts 0)
    // and p3 is on the day's product board only.
    zadd(&mut conn, &format!("top:products:{today}"), &[("p2", 40), ("p3", 12)]);
    zadd(&mut conn, &format!("top:tag-products:{today}:shoes"), &[("p2", 40)]);
    state.refresh(false).await.unwrap();
    let reply = get(&app, "/api/recommendations/u1?limit=3").await;
    assert_eq!(column(&reply.json, "items", "productId"), ["p2", "p1", "p3"]);
    let uv: Vec<u64> = reply.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["uvToday"].as_u64().unwrap())
        .collect();
    assert_eq!(uv, [40, 0, 12]);

    let cold = get(&app, "/api/recommendations/stranger?limit=2").await;
    assert_eq!(cold.json["strategy"], "popular");
    assert_eq!(column(&cold.json, "items", "productId"), ["p2", "p3"]);
}
