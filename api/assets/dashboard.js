// tagflow dashboard: polls the API's JSON endpoints and draws with SVG.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
const rates = [];

async function getJson(path, options) {
  const response = await fetch(path, options);
  const body = await response.json();
  if (!response.ok) {
    const message = body && body.error ? body.error.message : response.statusText;
    throw new Error(message);
  }
  return body;
}

function el(tag, attrs, text) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function setStatus(text, ok) {
  const status = $("status");
  status.textContent = text;
  status.style.color = ok ? "#9fe0a9" : "#ffb4ab";
}

async function pollStats() {
  try {
    const stats = await getJson("/api/stats");
    const rate = stats.eventsPerSecond;
    $("rate").textContent = rate === null ? "–" : rate.toFixed(rate < 10 ? 1 : 0);
    $("total").textContent = stats.eventsTotal.toLocaleString();
    $("uv-day").textContent = stats.popularityDay ? "(" + stats.popularityDay + ")" : "";
    if (rate !== null) rates.push(rate);
    if (rates.length > 120) rates.shift();
    drawSpark();
    setStatus("live · " + stats.catalogProducts + " products in catalog", true);
  } catch (err) {
    setStatus("API unreachable: " + err.message, false);
  }
}

function drawSpark() {
  const svg = $("rate-chart");
  svg.replaceChildren();
  if (rates.length < 2) return;
  const max = Math.max(1, ...rates);
  const points = rates.map((r, i) => `${(i / (rates.length - 1)) * 300},${58 - (r / max) * 56}`).join(" ");
  svg.appendChild(el("svg:polyline", { points, fill: "none", stroke: "#2f6fdf", "stroke-width": "2" }));
}

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return (i === 0 ? String(n) : n.toFixed(1)) + " " + units[i];
}

function duration(seconds) {
  if (seconds < 90) return Math.round(seconds) + " s";
  if (seconds < 5400) return Math.round(seconds / 60) + " min";
  return (seconds / 3600).toFixed(1) + " h";
}

async function pollJob() {
  const status = $("job-status");
  try {
    const job = await getJson("/api/job-health");
    status.textContent = "running";
    status.className = "small ok";
    $("job-lag").replaceChildren(...(job.consumerLag.length === 0
      ? [el("span", { class: "muted" }, "no partitions assigned yet")]
      : job.consumerLag.map((t) => el("span", { class: "topic" }, `${t.topic}: ${t.lag.toLocaleString()}`))));
    $("job-checkpoint").textContent = job.lastCheckpointId === null
      ? `none yet (job started ${duration(job.lastCheckpointAgeSeconds)} ago)`
      : `#${job.lastCheckpointId}, ${duration(job.lastCheckpointAgeSeconds)} ago`;
    const window = job.deadLettersWindowSeconds;
    $("job-dead-letters").textContent = job.deadLettersLastHour.toLocaleString() +
      (window >= 3600 ? " in the last hour" : ` in the last ${duration(window)} (history < 1 h)`);
    $("job-state").textContent = (job.stateBytes === null ? "no checkpoint yet" : bytes(job.stateBytes) + " checkpointed") +
      " · " + bytes(job.stateMemoryBytes) + " cached in memory";
  } catch (err) {
    status.textContent = "job unreachable";
    status.className = "small down";
    status.title = err.message;
    for (const id of ["job-lag", "job-checkpoint", "job-dead-letters", "job-state"]) $(id).textContent = "–";
  }
}

// Today's top products: the job's live leaderboard; a job running with
// --leaderboards off keeps none, and then the counts of /api/uv-data.
async function pollUv() {
  try {
    const board = await getJson("/api/leaderboards/products?limit=10");
    let products = board.products;
    let source = "live leaderboard of the dataflow job";
    if (products.length === 0) {
      products = (await getJson("/api/uv-data?limit=10")).products;
      source = "unique-visitor counts (the job keeps no leaderboard)";
    }
    $("uv-source").textContent = "top 10 · " + source;
    drawBars("uv-chart", products.map((p) => ({ label: p.name || p.productId, value: p.uv, id: p.productId })),
      "no visitors recorded today yet");
  } catch (err) {
    drawBars("uv-chart", [], "", "unique visitors unavailable: " + err.message);
  }
}

async function pollBoardTags() {
  try {
    const board = await getJson("/api/leaderboards/tags?limit=10");
    drawBars("tag-chart", board.tags.map((t) => ({ label: t.tag, value: t.weight, id: t.tag })),
      "no tagged events today yet (or the job keeps no leaderboards)");
  } catch (err) {
    drawBars("tag-chart", [], "", "tag leaderboard unavailable: " + err.message);
  }
}

// A horizontal bar chart of `rows` ({label, value, id}) into the SVG `id`.
function drawBars(id, rows, emptyText, problem) {
  const svg = $(id);
  svg.replaceChildren();
  if (rows.length === 0) {
    svg.appendChild(el("svg:text", { x: 10, y: 30, class: problem ? "empty error" : "empty" }, problem || emptyText));
    return;
  }
  const max = Math.max(1, ...rows.map((r) => r.value));
  const rowHeight = 300 / rows.length;
  rows.forEach((r, i) => {
    const y = 10 + i * rowHeight;
    const width = Math.max(2, (r.value / max) * 380);
    const label = r.label.length > 28 ? r.label.slice(0, 27) + "…" : r.label;
    svg.appendChild(el("svg:text", { x: 0, y: y + rowHeight * 0.6 }, label));
    svg.appendChild(el("svg:rect", { class: "bar", x: 200, y: y + 2, width, height: Math.max(4, rowHeight - 6), "data-id": r.id }));
    svg.appendChild(el("svg:text", { x: 206 + width, y: y + rowHeight * 0.6 }, r.value.toLocaleString()));
  });
}

async function pollTags() {
  try {
    const recent = await getJson("/api/user-behavior?limit=200");
    const users = [...new Set(recent.events.map((e) => e.userId))].slice(0, 200);
    if (users.length === 0) {
      $("tags").replaceChildren(el("li", {}, "no events yet"));
      return;
    }
    const batch = await getJson("/api/user-profiles", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ userIds: users }),
    });
    const counts = new Map();
    for (const profile of batch.profiles) {
      for (const tag of profile.topTags) counts.set(tag, (counts.get(tag) || 0) + 1);
    }
    const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 10);
    $("tag-users").textContent = users.length;
    $("tags").replaceChildren(...ranked.map(([tag, n]) => {
      const li = el("li", {}, tag);
      li.appendChild(el("span", { class: "n" }, `${n} users`));
      return li;
    }));
  } catch (err) {
    $("tags").replaceChildren(el("li", { class: "error" }, err.message));
  }
}

async function lookup(user) {
  $("lookup-error").textContent = "";
  try {
    const [profile, recs] = await Promise.all([
      getJson("/api/user-profile/" + encodeURIComponent(user)),
      getJson("/api/recommendations/" + encodeURIComponent(user) + "?limit=10"),
    ]);
    const counts = ["view", "add_to_cart", "purchase"].map((k) => `${k} ${profile.eventCounts[k] || 0}`).join(" · ");
    const box = $("profile");
    box.replaceChildren();
    box.appendChild(el("div", { id: "profile-user" }, `${profile.userId}: ${counts}`));
    const tags = el("div", { id: "profile-tags" });
    for (const tag of profile.topTags) tags.appendChild(el("span", { class: "tag" }, `${tag} ${profile.tagScores[tag]}`));
    if (profile.topTags.length === 0) tags.appendChild(el("span", { class: "muted" }, "no interests yet (cold user): popular products below"));
    box.appendChild(tags);
    const body = $("recs").querySelector("tbody");
    body.replaceChildren(...recs.items.map((item, i) => {
      const tr = el("tr", { class: "rec" });
      tr.appendChild(el("td", {}, String(i + 1)));
      tr.appendChild(el("td", {}, `${item.name} (${item.productId})`));
      tr.appendChild(el("td", {}, item.price.toFixed(2)));
      tr.appendChild(el("td", {}, item.matchedTags.join(", ") || "popular"));
      tr.appendChild(el("td", {}, String(item.uvToday)));
      return tr;
    }));
    $("recs").hidden = false;
  } catch (err) {
    $("lookup-error").textContent = err.message;
  }
}

$("lookup").addEventListener("submit", (event) => {
  event.preventDefault();
  const user = $("user").value.trim();
  if (user) {
    history.replaceState(null, "", "?user=" + encodeURIComponent(user));
    lookup(user);
  }
});

const initialUser = new URLSearchParams(location.search).get("user");
if (initialUser) {
  $("user").value = initialUser;
  lookup(initialUser);
}
pollStats();
pollUv();
pollBoardTags();
pollTags();
pollJob();
setInterval(pollStats, 1000);
setInterval(pollJob, 5000);
setInterval(pollUv, 3000);
setInterval(pollBoardTags, 3000);
setInterval(pollTags, 5000);
